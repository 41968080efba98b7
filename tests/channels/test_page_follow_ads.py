"""Page follow ads against the closed forms of paid acquisition through impressions (reachsim.model.conversion).

Tolerances are 4 standard errors (false-failure rate ~6e-5 per check), never golden numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from reachsim.core.problems import ScenarioError
from reachsim.engine.simulation import Simulation
from reachsim.model.conversion import conversion_probability, expected_conversions
from reachsim.model.exposure import boost_unique_reach_variance
from reachsim.model.reach import boost_unique_reach_exact
from reachsim.scenario.load import scenario_from_dict

Z = 4.0


def page(**fields: Any) -> dict[str, Any]:
    """A page without posts, organic growth or engagement unless given."""
    return {"type": "page", "organic_reach": 0.0, "engagement": {"probability": 0.0}, **fields}


def ads(budget: float, cpm: float, c: float, **more: Any) -> dict[str, Any]:
    return {"budget_per_day": budget, "cpm": cpm, "conversion_probability": c, **more}


def scenario(*channels: dict[str, Any], size: int, horizon: int, segments: list[dict[str, Any]] | None = None,
             run_out: int = 0) -> Any:
    market: dict[str, Any] = {"size": size} if segments is None else {"size": size, "segments": segments}
    return scenario_from_dict({
        "name": "follow ads",
        "horizon_days": horizon,
        "audience_value": {"run_out_days": run_out},
        "seed": 5,
        "market": market,
        "strategies": {"s": {"channels": list(channels)}},
    })


def test_follow_ads_convert_non_fans_by_the_impression_closed_form() -> None:
    # one day of I impressions on a market of T with F fans: N = T − F non-fans each follow with 1 − (1 − c/T)^I
    T, F, c, cpm, reps = 20_000, 5_000, 0.1, 10.0, 5
    N = T - F
    for budget in (1_000, 6_000):  # c·I/T = 0.5 and 3: the bend and the flat top of the curve
        impressions = budget / cpm * 1000
        sc = scenario(page(initial_fans=F, follow_ads=ads(budget, cpm, c)), size=T, horizon=1)
        results = [Simulation(sc, "s", r).run() for r in range(reps)]
        joined = np.array([r.series["page", "joined_paid"][0] for r in results])
        wasted = np.array([r.series["page", "wasted_impressions"][0] for r in results])
        reach = np.array([r.series["page", "paid_reach"][0] for r in results])
        share = float(conversion_probability(c, T, impressions))
        se = math.sqrt(N * share * (1 - share) / reps)
        assert abs(joined.mean() - N * share) < Z * se, (budget, joined.mean(), N * share, se)
        assert c * impressions * N / T - N * share > 10 * se  # saturation: far below the linear count
        hit = F / T  # an impression on a fan is wasted, but paid
        assert abs(wasted.mean() - impressions * hit) < Z * math.sqrt(impressions * hit * (1 - hit) / reps)
        var = float(boost_unique_reach_variance(impressions, T))
        assert abs(reach.mean() - boost_unique_reach_exact(impressions, T)) < Z * math.sqrt((var + 0.25) / reps)
        for r in results:
            assert r.series["page", "paid_impressions"][0] == impressions
            assert r.series["page", "paid_spend"][0] == budget
            assert r.ledger_totals["page", "acquisition"] == -budget
            assert r.series["page", "audience"][0] == F + r.series["page", "joined_paid"][0]


def test_follow_ads_saturate_the_pool_day_after_day() -> None:
    # the same I every day: each of the n0 people converts by day D with 1 − (1 − π)^D, independently
    T, c, cpm, budget, days = 20_000, 0.05, 10.0, 200.0, 30
    impressions = budget / cpm * 1000
    sc = scenario(page(follow_ads=ads(budget, cpm, c)), size=T, horizon=days)
    result = Simulation(sc, "s", 0).run()
    joined = result.series["page", "joined_paid"]
    pi = float(conversion_probability(c, T, impressions))
    for day in (4, 29):
        share = 1 - (1 - pi) ** (day + 1)
        assert abs(joined[: day + 1].sum() - T * share) < Z * math.sqrt(T * share * (1 - share)), day
    cost = result.series["page", "cost_per_paid_join"]
    assert cost[20:].mean() > 1.2 * cost[:5].mean()  # the cost per paid follow rises as the pool empties


def test_follow_ads_target_segments_with_multiplier_and_uplift() -> None:
    T, c, u, cpm, budget, reps = 40_000, 0.2, 0.5, 5.0, 200.0, 5
    impressions = budget / cpm * 1000
    segments = [
        {"name": "loyal", "share": 0.25, "engagement_multiplier": 3.0, "data_available": 0.5},
        {"name": "casual", "share": 0.75, "engagement_multiplier": 1.0, "data_available": 0.2},
    ]
    sc = scenario(page(relevance_uplift=u, follow_ads=ads(budget, cpm, c, target=["loyal"])), size=T, horizon=1,
                  segments=segments)
    sims = [Simulation(sc, "s", r) for r in range(reps)]
    population = sims[0].population
    loyal = population.segment == 0
    size = int(loyal.sum())
    expected = variance = 0.0
    for data in (False, True):
        n = int(np.count_nonzero(loyal & (population.has_data == data)))
        rate = min(1.0, c * 3.0 * (1 + u if data else 1.0))  # capped at 1 with usable data
        p = float(conversion_probability(rate, size, impressions))
        expected += float(expected_conversions(n, rate, size, impressions))
        variance += n * p * (1 - p)
    runs = []
    for sim in sims:
        result = sim.run()
        runs.append(result.series["page", "joined_paid"][0])
        page_channel = sim.channels[0]
        assert not page_channel.fan[~loyal].any()  # nobody outside the target follows
    assert abs(np.mean(runs) - expected) < Z * math.sqrt(variance / reps), (np.mean(runs), expected)


def test_people_who_unfollowed_are_never_converted_and_their_impressions_are_wasted() -> None:
    # every fan sees the day-0 post and unfollows (hazard 1); from day 1 on nobody is left to convert
    T, budget, cpm = 5_000, 50.0, 10.0
    sc = scenario(
        page(initial_fans=T, organic_reach=1.0, posts={"every_days": 1000}, unfollow={"probability": 1.0},
             follow_ads=ads(budget, cpm, 1.0)),
        size=T, horizon=5,
    )
    result = Simulation(sc, "s", 0).run()
    assert result.series["page", "left"][0] == T
    assert result.series["page", "joined_paid"].sum() == 0
    assert (result.series["page", "wasted_impressions"] == budget / cpm * 1000).all()


def test_follow_ads_stop_in_the_run_out() -> None:
    sc = scenario(page(follow_ads=ads(30.0, 10.0, 0.01)), size=5_000, horizon=10, run_out=20)
    result = Simulation(sc, "s", 0).run()
    assert result.ledger_totals["page", "acquisition"] == -300.0
    assert not result.run_out_net.any()


def test_follow_ads_target_names_segments_with_did_you_mean() -> None:
    segments = [{"name": "loyal", "share": 0.2}, {"name": "casual", "share": 0.8}]
    with pytest.raises(ScenarioError) as info:
        scenario(page(follow_ads=ads(1, 5, 0.1, target=["loyl"])), size=1_000, horizon=1, segments=segments)
    assert "strategies.s.channels[0].follow_ads.target: no segment named 'loyl' (did you mean 'loyal'?)" in str(
        info.value
    )
    with pytest.raises(ScenarioError, match=r"follow_ads\.cpm"):
        scenario(page(follow_ads={"budget_per_day": 1, "conversion_probability": 0.1}), size=1_000, horizon=1)
