"""run_sweep: the response to a paid Messenger budget on common random numbers, and its marginal returns."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from reachsim.experiments.runner import run_experiment
from reachsim.experiments.sweep import SweepError, parse_values, plan_sweep, run_sweep
from reachsim.scenario.uncertainty import targets, with_values
from tests.sweep.conftest import BUDGET, HORIZON

VALUES = [5.0, 10.0, 20.0, 30.0]


def series_total(sweep: Any, index: int, strategy: str, channel: str, metric: str) -> np.ndarray:
    """Per replication: the total of a daily series at ``values[index]``."""
    return np.array([run.series[channel, metric].sum() for run in sweep.experiments[index].runs[strategy]])


# ---------------------------------------------------------------------------------------------------------
# The response curve
# ---------------------------------------------------------------------------------------------------------


def test_paid_signups_are_budget_times_days(budget_sweep: Any) -> None:
    assert budget_sweep.values == VALUES
    assert budget_sweep.varies_in == ("paid",)  # organic_only has no paid acquisition to vary
    assert budget_sweep.replications == 6
    for i, budget in enumerate(VALUES):
        joined_paid = series_total(budget_sweep, i, "paid", "messenger", "joined_paid")
        assert np.all(joined_paid == budget * HORIZON)  # budget / cost_per_subscriber (= 1) a day


def test_engagements_and_audience_rise_with_the_budget(budget_sweep: Any) -> None:
    engagements = [p["strategies"]["paid"]["engagements"]["mean"] for p in budget_sweep.points()]
    audience = [e.channel_metrics("paid")["messenger"]["audience"].mean() for e in budget_sweep.experiments]
    assert all(b > a for a, b in itertools.pairwise(engagements)), engagements
    assert all(b > a for a, b in itertools.pairwise(audience)), audience
    for step in budget_sweep.marginal():  # and each increase is clear: its 95% CI is above 0
        assert step["strategies"]["paid"]["engagements"]["ci95"][0] > 0
        assert step["strategies"]["paid"]["unique_reach"]["ci95"][0] > 0


def test_total_cost_is_exactly_linear_in_the_budget(budget_sweep: Any) -> None:
    """The only cost is acquisition, budget × days: each extra unit of daily budget costs `horizon` more, in
    every replication, so the paired interval has zero width."""
    for step in budget_sweep.marginal():
        cost = step["strategies"]["paid"]["total_cost"]
        assert cost["mean"] == HORIZON
        assert cost["ci95"] == [HORIZON, HORIZON]
    for point in budget_sweep.points():
        band = point["strategies"]["paid"]["total_cost"]
        assert band == {"mean": point["value"] * HORIZON, "p05": point["value"] * HORIZON,
                        "p95": point["value"] * HORIZON}


def test_a_strategy_without_the_parameter_is_unchanged(budget_sweep: Any) -> None:
    """CRN: organic_only runs the same scenario at every value, so its marginal effects are exactly 0."""
    for step in budget_sweep.marginal():
        for metric in ("npv", "total_cost", "engagements", "unique_reach"):
            assert step["strategies"]["organic_only"][metric] == {"mean": 0.0, "ci95": [0.0, 0.0]}


def test_best_value_is_the_highest_mean_npv(budget_sweep: Any) -> None:
    best = budget_sweep.best()
    for strategy in budget_sweep.strategies:
        npv = [p["strategies"][strategy]["npv"]["mean"] for p in budget_sweep.points()]
        assert best[strategy] == {"value": VALUES[int(np.argmax(npv))], "npv_mean": max(npv)}
    assert best["organic_only"]["value"] == VALUES[0]  # a tie everywhere: the lowest value


def test_each_point_is_the_experiment_at_that_value(sweep_scenario: Any, budget_sweep: Any) -> None:
    """A sweep point is exactly run_experiment on the scenario with the value set (same seed, replications)."""
    i = 2
    scenario = with_values(sweep_scenario, dict.fromkeys(targets(BUDGET, sweep_scenario)[1:], VALUES[i]))
    alone = run_experiment(scenario).summary()["strategies"]
    point = budget_sweep.points()[i]
    assert point["value"] == VALUES[i]
    for strategy in ("organic_only", "paid"):
        assert point["strategies"][strategy] == alone[strategy]["metrics"]


def test_market_caps_paid_signups(sweep_scenario: Any) -> None:
    """4,000 people: at 200 a day for 30 days paid acquisition runs out of people; what it cannot buy is not
    spent, so the cost is the subscribers bought, no longer budget × days."""
    sweep = run_sweep(sweep_scenario.model_copy(update={"replications": 2}), BUDGET, [100, 200])
    joined_paid = series_total(sweep, 1, "paid", "messenger", "joined_paid")
    joined_organic = series_total(sweep, 1, "paid", "messenger", "joined_organic")
    assert np.all(joined_paid == 4_000 - 100 - joined_organic)  # everyone ever subscribed
    assert np.all(joined_paid < 200 * HORIZON)
    cost = sweep.metrics(1, "paid")["total_cost"]
    assert np.array_equal(cost, joined_paid.astype(float))
    assert np.all(series_total(sweep, 0, "paid", "messenger", "joined_paid") == 100 * HORIZON)  # not capped yet
    assert sweep.marginal()[0]["strategies"]["paid"]["total_cost"]["mean"] < HORIZON


# ---------------------------------------------------------------------------------------------------------
# Common random numbers across values
# ---------------------------------------------------------------------------------------------------------


def test_replication_r_shares_random_numbers_across_values(budget_sweep: Any) -> None:
    """Replication r of every value draws the same organic sign-ups and the same uncertain inputs."""
    first = budget_sweep.experiments[0]
    for experiment in budget_sweep.experiments[1:]:
        for strategy in ("organic_only", "paid"):
            for r, (run, run0) in enumerate(zip(experiment.runs[strategy], first.runs[strategy], strict=True)):
                assert run.replication == run0.replication == r
                assert np.array_equal(run.series["messenger", "joined_organic"],
                                      run0.series["messenger", "joined_organic"])
                assert run.parameters == run0.parameters
    # ... and the replications themselves differ (the check above is not trivially true)
    organic = [r.series["messenger", "joined_organic"].sum() for r in first.runs["paid"]]
    assert len(set(organic)) > 1


def _unpaired_ci(after: np.ndarray, before: np.ndarray) -> tuple[float, float]:
    """Welch's 95% interval for the difference of two independent means: what the same runs would give
    without common random numbers."""
    n1, n2 = after.size, before.size
    v1, v2 = after.var(ddof=1) / n1, before.var(ddof=1) / n2
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(v1 + v2)
    diff = after.mean() - before.mean()
    return diff - half, diff + half


@pytest.mark.parametrize("metric", ["npv", "engagements"])
def test_paired_marginal_is_narrower_than_unpaired(budget_sweep: Any, metric: str) -> None:
    for i, step in enumerate(budget_sweep.marginal()):
        width = step["to"] - step["from"]
        lo, hi = step["strategies"]["paid"][metric]["ci95"]
        before, after = budget_sweep.metrics(i, "paid")[metric], budget_sweep.metrics(i + 1, "paid")[metric]
        ulo, uhi = _unpaired_ci(after, before)
        assert (lo + hi) / 2 == pytest.approx((ulo + uhi) / 2 / width)  # the same mean difference per unit
        assert hi - lo < 0.5 * (uhi - ulo) / width, (metric, i, hi - lo, (uhi - ulo) / width)


# ---------------------------------------------------------------------------------------------------------
# Values and paths
# ---------------------------------------------------------------------------------------------------------


def test_parse_values() -> None:
    assert parse_values("100,150,200") == [100.0, 150.0, 200.0]
    assert parse_values(" 0.5, 1 ,2e1") == [0.5, 1.0, 20.0]
    assert parse_values("100:200:5") == [100.0, 125.0, 150.0, 175.0, 200.0]
    assert parse_values("0:1:2") == [0.0, 1.0]
    assert parse_values("0.1:0.3:3") == pytest.approx([0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100", "at least 2 values"),
        ("100,100", "distinct and ascending"),
        ("200,100", "distinct and ascending"),
        ("1,x", "expected a number"),
        ("1,nan", "finite"),
        ("1:2", "START:STOP:N"),
        ("1:2:3:4", "START:STOP:N"),
        ("1:2:1", "at least 2"),
        ("1:2:two", "whole number"),
        ("2:1:3", "distinct and ascending"),
        ("1:1:3", "distinct and ascending"),
    ],
)
def test_parse_values_refuses(text: str, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        parse_values(text)


@pytest.mark.parametrize(
    ("path", "values", "message", "argument"),
    [
        (BUDGET.replace("day", "dya"), [1, 2], "did you mean 'budget_per_day'", "param"),
        ("channels.mesenger.initial_subscribers", [1, 2], "did you mean 'messenger'", "param"),
        ("markt.size", [1000, 2000], "did you mean 'market'", "param"),
        ("seed", [1, 2], "cannot be swept", "param"),
        ("baseline", [1, 2], "not a numeric parameter", "param"),
        ("channels.messenger.engagement.probability", [0.1, 0.2], "uncertain", "param"),
        (BUDGET, [-10, 10], r"budget_per_day = -10 is not allowed: .*greater than or equal to 0", "values"),
        ("channels.messenger.unsubscribe.probability", [0.5, 1.5], "= 1.5 is not allowed", "values"),
        ("channels.messenger.initial_subscribers", [100, 100.4], "rounds to 100", "values"),
    ],
)
def test_plan_refuses_before_running(sweep_scenario: Any, path: str, values: list[float], message: str,
                                     argument: str) -> None:
    with pytest.raises(SweepError, match=message) as info:
        plan_sweep(sweep_scenario, path, values)
    assert info.value.argument == argument
    assert "\n" not in str(info.value)


def test_absolute_path_and_whole_numbers(sweep_scenario: Any) -> None:
    plan = plan_sweep(sweep_scenario, "strategies.organic_only.channels[0].initial_subscribers", [99.6, 200.2])
    assert plan.values == (100.0, 200.0)  # a whole-number parameter takes the rounded values
    assert plan.varies_in == ("organic_only",)
    assert [s.strategies["organic_only"].channels[0].initial_subscribers for s in plan.scenarios] == [100, 200]
    assert [s.strategies["paid"].channels[0].initial_subscribers for s in plan.scenarios] == [100, 100]
    market = plan_sweep(sweep_scenario, "market.size", [3000, 5000])
    assert market.varies_in == ("organic_only", "paid")


def test_the_horizon_cannot_be_swept(sweep_scenario: Any) -> None:
    with pytest.raises(SweepError, match="the horizon"):
        plan_sweep(sweep_scenario, "horizon_days", [30, 60])
