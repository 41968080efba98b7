"""Uncertain parameters: sampled once per replication, the same quantile in every strategy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reachsim.engine.streams import Streams
from reachsim.experiments.runner import run_experiment, run_task
from reachsim.model import distributions as d
from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.load import load_scenario, resolved_yaml, scenario_from_dict
from reachsim.scenario.uncertainty import sample

U = np.linspace(0.0005, 0.9995, 2000)


@pytest.mark.parametrize(
    ("ppf", "reference"),
    [
        (lambda u: d.uniform_ppf(u, 2, 5), stats.uniform(2, 3)),
        (lambda u: d.triangular_ppf(u, 1, 2, 6), stats.triang((2 - 1) / 5, loc=1, scale=5)),
        (lambda u: d.normal_ppf(u, 1, 2), stats.norm(1, 2)),
        (lambda u: d.normal_ppf(u, 0, 1, -0.5, 2), stats.truncnorm(-0.5, 2)),
        (lambda u: d.lognormal_ppf(u, 3, 0.4), stats.lognorm(0.4, scale=3)),
        (lambda u: d.beta_ppf(u, 0.2, 0.05), stats.beta(*d.beta_shape(0.2, 0.05))),
    ],
)
def test_quantile_functions_invert_the_distribution(ppf, reference):
    values = np.array([ppf(u) for u in U])
    np.testing.assert_allclose(reference.cdf(values), U, atol=1e-9)


def test_beta_shape_matches_the_moments():
    a, b = d.beta_shape(0.3, 0.1)
    dist = stats.beta(a, b)
    assert math.isclose(dist.mean(), 0.3) and math.isclose(dist.std(), 0.1)
    with pytest.raises(ValueError):
        d.beta_shape(0.5, 0.6)


def _scenario(replications=3, **uncertainty):
    channel = {
        "type": "messenger",
        "initial_subscribers": {"dist": "triangular", "low": 100, "mode": 300, "high": 500},
        "broadcasts": {"every_days": 7},
        "engagement": {"probability": {"dist": "uniform", "low": 0.1, "high": 0.3}},
    }
    data = {
        "name": "u",
        "horizon_days": 21,
        "replications": replications,
        "market": {"size": 1000},
        "strategies": {
            "a": {"channels": [channel]},
            "b": {"extends": "a", "channels": [{"type": "messenger", "broadcasts": {"every_days": 3}}]},
        },
        **uncertainty,
    }
    return scenario_from_dict(data)


def test_every_strategy_gets_the_same_values_in_a_replication():
    sc = _scenario()
    for rep in range(3):
        a, b = run_task(sc, "a", rep), run_task(sc, "b", rep)
        assert a.parameters == b.parameters
        assert set(a.parameters) == {
            "channels.messenger.initial_subscribers",
            "channels.messenger.engagement.probability",
        }
    assert run_task(sc, "a", 0).parameters != run_task(sc, "a", 1).parameters


def test_sampled_values_follow_the_distribution_over_replications():
    sc = _scenario()
    draws = np.array(
        [sample(sc, Streams(sc.seed, r))[1]["channels.messenger.engagement.probability"] for r in range(800)]
    )
    assert stats.kstest(draws, stats.uniform(0.1, 0.2).cdf).pvalue > 1e-4
    whole = [sample(sc, Streams(sc.seed, r))[0].strategies["a"].channels[0].initial_subscribers for r in range(50)]
    assert all(isinstance(x, int) and 100 <= x <= 500 for x in whole)


def test_the_sampled_value_is_the_one_that_runs():
    sc = _scenario()
    run = run_task(sc, "a", 2)
    assert run.series["messenger", "audience"][0] == run.parameters["channels.messenger.initial_subscribers"]


def test_inline_and_listed_forms_are_the_same_parameter():
    listed = _scenario(
        uncertainty=[{"path": "channels.messenger.unsubscribe.probability", "dist": "beta", "mean": 0.01, "sd": 0.005}]
    )
    key = "channels.messenger.unsubscribe.probability"
    values = [sample(listed, Streams(0, r))[1][key] for r in range(5)]
    data = listed.model_dump(mode="python")
    data["uncertainty"] = [u for u in data["uncertainty"] if u["path"] != key]
    for strategy in data["strategies"].values():
        strategy["channels"][0]["unsubscribe"]["probability"] = {"dist": "beta", "mean": 0.01, "sd": 0.005}
    inline = scenario_from_dict(data)
    assert [sample(inline, Streams(0, r))[1][key] for r in range(5)] == values


def test_the_resolved_scenario_loads_again_with_the_same_draws(tmp_path):
    sc = _scenario()
    path = tmp_path / "scenario.yaml"
    path.write_text(resolved_yaml(sc))
    again = load_scenario(path)
    assert [sample(again, Streams(0, r))[1] for r in range(3)] == [sample(sc, Streams(0, r))[1] for r in range(3)]


def test_summary_reports_each_parameter():
    summary = run_experiment(_scenario()).summary()
    band = summary["parameters"]["channels.messenger.engagement.probability"]
    assert 0.1 <= band["p05"] <= band["mean"] <= band["p95"] <= 0.3


BAD = """\
name: u
horizon_days: 30
market: {size: 100}
uncertainty:
  - {path: channels.mesenger.unsubscribe.probability, dist: uniform, low: 0.0, high: 0.02}
  - {path: channels.messenger.unsubscribe.probability, dist: normal, mean: 0.01, sd: 0.1}
  - {dist: uniform, low: 0, high: 1}
  - {path: channels.messenger.unsubscribe, dist: uniform, low: 0, high: 1}
strategies:
  a:
    channels:
      - type: messenger
        engagement: {probability: {dist: uniform, low: 0.5, high: 1.5}}
        initial_subscribers: {dist: triangle, low: 1, high: 2}
"""


def test_bad_distributions_are_reported_where_they_are_written(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert [str(p) for p in exc.value.problems] == [
        f"{path}:14: strategies.a.channels[0].initial_subscribers.dist: unknown uncertainty dist 'triangle' "
        "(did you mean 'triangular'?); available: uniform, triangular, normal, lognormal, beta"
    ]
    path.write_text(BAD.replace("triangle, low: 1,", "triangular, low: 1, mode: 1,"))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert [str(p).removeprefix(f"{path}:") for p in exc.value.problems] == [
        "5: uncertainty[0].path: no channel is named 'mesenger' in any strategy (did you mean 'messenger'?)",
        "6: uncertainty[1].dist: its range reaches -0.589781, which is not allowed "
        "(Input should be greater than or equal to 0)",
        "7: uncertainty[2].path: required key is missing (which parameter does this distribution vary?)",
        "8: uncertainty[3].path: 'strategies.a.channels[0].unsubscribe' is not a numeric parameter of this scenario",
        "13: strategies.a.channels[0].engagement.probability.dist: its range reaches 1.5, which is not allowed "
        "(Input should be less than or equal to 1)",
    ]


def test_sensitivity_ranks_the_input_that_drives_the_result():
    sc = _scenario(
        uncertainty=[
            {"path": "channels.messenger.fixed_cost_per_month", "dist": "uniform", "low": 100, "high": 10_000},
        ],
        replications=12,
    )
    summary = run_experiment(sc).summary()
    fee = summary["sensitivity"]["b"]["channels.messenger.fixed_cost_per_month"]
    assert fee["npv"] == pytest.approx(-1.0)  # the fee dominates cost: NPV falls with it, monotonically
    base = summary["sensitivity"]["a"]["channels.messenger.initial_subscribers"]
    assert base["unique_reach"] == pytest.approx(1.0)  # no acquisition: everyone reached is an initial subscriber
    assert "npv_vs_baseline" not in base  # the baseline is not compared with itself


def test_rank_correlations_and_t_quantiles_are_scipys_to_the_bit():
    """Spearman's rho, average ranks and Student's t quantiles are computed without importing scipy.stats (most of a
    second of every summary), and must stay what scipy.stats gives: on continuous values, on many ties, on values
    tied in one variable only, and undefined (None) where a variable is constant."""
    from reachsim.experiments.sensitivity import average_ranks, rank_correlation
    from reachsim.experiments.stats import t_quantile

    rng = np.random.default_rng(7)
    for case in range(600):
        n = int(rng.integers(3, 120))
        x = rng.normal(size=n) if case % 3 == 0 else rng.integers(0, 1 + case % 7, size=n).astype(float)
        y = x * rng.normal() + rng.normal(size=n) if case % 2 else rng.integers(0, 4, size=n).astype(float)
        assert np.array_equal(average_ranks(x), stats.rankdata(x))
        expected = None if np.ptp(x) == 0 or np.ptp(y) == 0 else float(stats.spearmanr(x, y).statistic)
        assert rank_correlation(x, y) == expected
    for df in (1, 2, 3, 9, 29, 99, 10_000):
        assert t_quantile(0.975, df) == float(stats.t.ppf(0.975, df))


@pytest.mark.parametrize("field", ["horizon_days", "seed", "replications"])
def test_fields_that_shape_the_experiment_cannot_be_uncertain(field):
    with pytest.raises(ScenarioError, match="shapes the whole experiment"):
        _scenario(uncertainty=[{"path": field, "dist": "uniform", "low": 10, "high": 20}])


def test_an_uncertain_timeline_value_is_the_same_draw_wherever_the_entry_stands():
    entry = {"day": 5, "channel": "messenger",
             "set": {"pricing.outside_window": {"dist": "uniform", "low": 0.0, "high": 0.1}}}
    other = {"day": 2, "channel": "messenger", "set": {"pricing.in_window": 0.0}}
    channel = {"type": "messenger", "engagement": {"probability": 0.1}}
    sc = scenario_from_dict({
        "name": "t", "horizon_days": 10, "market": {"size": 100},
        "strategies": {"a": {"channels": [channel], "timeline": [entry]},
                       "b": {"channels": [channel], "timeline": [other, entry]}},
    })
    sampled, values = sample(sc, Streams(0, 0))
    assert list(values) == ["timeline.messenger.day5.pricing.outside_window"]
    a = sampled.strategies["a"].timeline[0].set["pricing.outside_window"]
    b = sampled.strategies["b"].timeline[1].set["pricing.outside_window"]
    assert a == b == values["timeline.messenger.day5.pricing.outside_window"]


def test_an_uncertain_discount_rate_is_the_one_each_replications_npv_uses():
    channel = {"type": "messenger", "initial_subscribers": 100, "fixed_cost_per_month": 1000,
               "engagement": {"probability": 0.1}}

    def npv(rate):
        sc = scenario_from_dict({"name": "d", "horizon_days": 730, "replications": 6, "market": {"size": 500},
                                 "discount_rate": rate, "strategies": {"a": {"channels": [channel]}}})
        return run_experiment(sc).summary()

    uncertain = npv({"dist": "uniform", "low": 0.0, "high": 1.0})
    fixed = npv(0.5)
    assert uncertain["strategies"]["a"]["metrics"]["npv"] != fixed["strategies"]["a"]["metrics"]["npv"]
    assert uncertain["sensitivity"]["a"]["discount_rate"]["npv"] == pytest.approx(1.0)  # less discounted cost


def _problems(data):
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(data)
    return [str(p) for p in exc.value.problems]


def _base(**changes):
    channel = {"type": "messenger", "engagement": {"probability": 0.1}, "broadcasts": {"every_days": 7}}
    data = {"name": "u", "horizon_days": 30, "market": {"size": 100}, "strategies": {"a": {"channels": [channel]}}}
    data.update(changes)
    return data


def test_a_parameter_gets_one_distribution_only():
    data = _base(uncertainty=[
        {"path": "channels.messenger.engagement.probability", "dist": "uniform", "low": 0.1, "high": 0.2},
        {"path": "strategies.a.channels[0].engagement.probability", "dist": "uniform", "low": 0.3, "high": 0.4},
    ])
    assert _problems(data) == [
        "<scenario>: uncertainty[1].path: 'strategies.a.channels[0].engagement.probability' already has a "
        "distribution (uncertainty[0])"
    ]


def test_a_distribution_cannot_vary_another_distribution():
    data = _base(uncertainty=[
        {"path": "channels.messenger.engagement.probability", "dist": "uniform", "low": 0.1, "high": 0.2},
        {"path": "uncertainty[0].high", "dist": "uniform", "low": 0.3, "high": 0.4},
    ])
    assert any("shapes the whole experiment" in p for p in _problems(data))


def test_uncertain_values_get_the_cross_checks_of_a_loaded_file():
    bad_timeline = _base()
    bad_timeline["strategies"]["a"]["timeline"] = [
        {"day": 5, "channel": "messenger",
         "set": {"pricing.outside_window": {"dist": "uniform", "low": -0.01, "high": 0.03}}}]
    assert any("which is not allowed" in p for p in _problems(bad_timeline))
    too_many = _base(market={"size": {"dist": "uniform", "low": 50, "high": 500}})
    too_many["strategies"]["a"]["channels"][0]["initial_subscribers"] = 100
    assert any("market.size" in p and "which is not allowed" in p for p in _problems(too_many))


def test_a_child_strategy_replaces_its_parents_distribution_whole():
    data = _base()
    data["strategies"]["a"]["channels"][0]["engagement"]["probability"] = {"dist": "uniform", "low": 0.1, "high": 0.2}
    data["strategies"]["b"] = {"extends": "a", "channels": [
        {"type": "messenger", "engagement": {"probability": {"dist": "beta", "mean": 0.3, "sd": 0.05}}}]}
    sc = scenario_from_dict(data)
    kinds = {u.path: u.dist for u in sc.uncertainty}
    assert kinds == {"strategies.a.channels[0].engagement.probability": "uniform",
                     "strategies.b.channels[0].engagement.probability": "beta"}


def test_schedules_are_at_most_hourly():
    data = _base()
    data["strategies"]["a"]["channels"][0]["broadcasts"] = {"every_days": 1e-9}
    assert any("broadcasts.every_days" in p for p in _problems(data))


def test_two_strategies_with_different_distributions_on_one_parameter_report_both():
    """Each strategy's draws under its own key: neither overwrites the other."""
    channel = {"type": "messenger", "initial_subscribers": 200, "broadcasts": {"every_days": 7},
               "engagement": {"probability": 0.2}}
    data = {
        "name": "u",
        "horizon_days": 14,
        "replications": 6,
        "market": {"size": 1000},
        "strategies": {
            "low": {"channels": [{**channel, "engagement": {"probability": {"dist": "uniform", "low": 0.1,
                                                                             "high": 0.2}}}]},
            "high": {"channels": [{**channel, "engagement": {"probability": {"dist": "uniform", "low": 0.5,
                                                                              "high": 0.6}}}]},
        },
    }
    parameters = run_experiment(scenario_from_dict(data)).summary()["parameters"]
    low = parameters["strategies.low.channels.messenger.engagement.probability"]
    high = parameters["strategies.high.channels.messenger.engagement.probability"]
    assert 0.1 <= low["p05"] <= low["p95"] <= 0.2
    assert 0.5 <= high["p05"] <= high["p95"] <= 0.6
    assert "channels.messenger.engagement.probability" not in parameters
