"""Invariants of the Page channel over random parameters (Hypothesis), each run through the engine.

0 ≤ reach ≤ market; k+ reach non-increasing in k; more budget never lowers paid reach; the ledger is the sum of
the budgets and content costs; audience bookkeeping adds up; the same seed gives the same result.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reachsim.engine.simulation import FREQUENCY_THRESHOLDS, RunResult, Simulation
from reachsim.model.reach import boost_unique_reach_exact
from reachsim.scenario.load import scenario_from_dict

SEGMENTS = [{"name": "loyal", "share": 0.3, "engagement_multiplier": 2.0, "data_available": 0.5},
            {"name": "casual", "share": 0.7}]
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

probabilities = st.floats(min_value=0.0, max_value=1.0)
small_probabilities = st.floats(min_value=0.0, max_value=0.2)


@st.composite
def page_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "page",
        "initial_fans": draw(st.integers(0, 2_000)),
        "initial_fan_age_days": draw(st.floats(0, 400)),
        "organic_fans_per_day": draw(st.floats(0, 30)),
        "posts": draw(st.one_of(st.builds(lambda d: {"every_days": d}, st.floats(0.3, 5)),
                                st.builds(lambda n: {"per_week": n}, st.floats(0.5, 14)))),
        "organic_reach": draw(probabilities),
        "engagement": {
            "probability": draw(probabilities),
            "novelty": draw(st.none() | st.builds(lambda h, f: {"half_life_days": h, "floor": f},
                                                   st.floats(0.5, 100), probabilities)),
            "fatigue": draw(st.none() | st.builds(lambda h, s: {"half_life_days": h, "strength": s},
                                                   st.floats(0.5, 30), st.floats(0, 3))),
        },
        "follow_probability": draw(probabilities),
        "unfollow": {"probability": draw(small_probabilities), "fatigue_strength": draw(st.floats(0, 2))},
        "content_cost_per_post": draw(st.floats(0, 100)),
        "relevance_uplift": draw(st.floats(0, 3)),
    }
    if spec["engagement"]["fatigue"] is None:
        spec["unfollow"]["fatigue_strength"] = 0.0  # a fatigue-driven hazard needs a decaying stock
    if draw(st.booleans()):
        spec["boost"] = {
            "budget_per_post": draw(st.just(0.0) | st.floats(0.01, 50)),
            "cpm": draw(st.floats(1, 30)),
            "target": draw(st.sampled_from(["market", "fans", ["loyal"], ["casual", "loyal"]])),
        }
    return spec


def make(channels: list[dict[str, Any]], *, size: int, horizon: int, seed: int = 5) -> Any:
    return scenario_from_dict(
        {
            "name": "page properties",
            "horizon_days": horizon,
            "audience_value": {"run_out_days": 0},  # these tests read the state at the horizon
            "seed": seed,
            "market": {"size": size, "segments": SEGMENTS},
            "strategies": {"s": {"channels": channels}},
        }
    )


def run(sc: Any) -> tuple[RunResult, Simulation]:
    sim = Simulation(sc, "s", 0)
    return sim.run(), sim


@PROPERTY_SETTINGS
@given(spec=page_specs(), horizon=st.integers(1, 15))
def test_reach_audience_and_ledger_invariants(spec: dict[str, Any], horizon: int) -> None:
    size = 3_000
    result, sim = run(make([spec], size=size, horizon=horizon))
    series, channel = result.series, sim.channels[0]
    # 0 ≤ reach ≤ market, cumulative reach never falls, and it is the page's own first-time reach.
    unique = series["all", "unique_reach"]
    assert np.all(unique >= 0) and unique[-1] <= size and np.all(np.diff(unique) >= 0)
    assert unique[-1] == series["page", "reached"].sum() == np.count_nonzero(channel.exposures())
    # k+ reach is non-increasing in k; average frequency is exposures per person reached.
    final = result.final["page"]
    kplus = [final[f"reach_{k}plus"] for k in FREQUENCY_THRESHOLDS]
    assert all(a >= b for a, b in itertools.pairwise(kplus)) and kplus[0] <= size
    deliveries = series["page", "deliveries"].sum()
    assert deliveries == series["page", "impressions_organic"].sum() + series["page", "impressions_paid"].sum()
    assert deliveries == channel.exposures().sum()
    if kplus[0]:
        assert math.isclose(final["average_frequency"], deliveries / kplus[0]) and final["average_frequency"] >= 1
    assert np.all(series["page", "post_reach"] <= series["page", "deliveries"])
    # Audience bookkeeping: fans now = joined − left; never above the market; no one both fan and gone.
    audience = series["page", "audience"]
    assert audience[-1] == series["page", "joined"].sum() - series["page", "left"].sum() == channel.fan.sum()
    assert np.all((audience >= 0) & (audience <= size)) and not np.any(channel.fan & channel.left)
    assert series["page", "joined"].sum() == sum(series["page", f"joined_{s}"].sum()
                                                 for s in ("initial", "organic", "boost", "other"))
    # Ledger: every boost costs its budget exactly, every post its content cost.
    boost = result.ledger_totals.get(("page", "boost"), 0.0)
    budget = spec["boost"]["budget_per_post"] if "boost" in spec else 0.0
    boosted_posts = round(-boost / budget) if budget else 0
    assert math.isclose(-boost, boosted_posts * budget, abs_tol=1e-6)
    assert math.isclose(series["page", "boost_spend"].sum(), -boost, abs_tol=1e-6)
    if budget:
        owed = boosted_posts * Fraction(budget) * 1000 / Fraction(spec["boost"]["cpm"])
        assert series["page", "impressions_paid"].sum() == math.floor(owed)
    content, cost_per_post = -result.ledger_totals.get(("page", "content"), 0.0), spec["content_cost_per_post"]
    if cost_per_post:
        posts = round(content / cost_per_post)
        assert posts >= 1 and boosted_posts <= posts and math.isclose(content, posts * cost_per_post, rel_tol=1e-9)
    assert math.isclose(series["page", "cost"].sum(), -sum(result.ledger_totals.values()), abs_tol=1e-6)


@PROPERTY_SETTINGS
@given(
    size=st.integers(100, 20_000),
    cpm=st.floats(1, 30),
    budgets=st.tuples(st.floats(0, 200), st.floats(0, 200)).map(sorted),
    seed=st.integers(0, 2**16),
)
def test_more_budget_never_lowers_paid_reach(size: int, cpm: float, budgets: list[float], seed: int) -> None:
    """Same random numbers, bigger budget: the first impressions land where they did, more follow (pathwise)."""
    reached = []
    for budget in budgets:
        spec = {"type": "page", "organic_reach": 0.0, "engagement": {"probability": 0.0}, "posts": {"every_days": 1},
                "boost": {"budget_per_post": budget, "cpm": cpm, "target": "market"}}
        _, sim = run(make([spec], size=size, horizon=1, seed=seed))
        reached.append(sim.channels[0].exposures() > 0)
    assert np.all(reached[1] >= reached[0])  # every person reached by the smaller budget is reached by the bigger
    impressions = [math.floor(Fraction(b) * 1000 / Fraction(cpm)) for b in budgets]
    assert boost_unique_reach_exact(impressions[1], size) >= boost_unique_reach_exact(impressions[0], size)


@given(budget=st.floats(0, 1e4), extra=st.floats(0, 1e4), target=st.floats(1, 1e7), posts=st.integers(1, 1000))
def test_expected_paid_reach_grows_with_budget(budget: float, extra: float, target: float, posts: int) -> None:
    low = boost_unique_reach_exact(math.floor(posts * budget * 1000 / 9.0), target)
    high = boost_unique_reach_exact(math.floor(posts * (budget + extra) * 1000 / 9.0), target)
    assert 0 <= low <= high <= target * (1 + 1e-12)


@settings(max_examples=10, deadline=None)
@given(spec=page_specs(), seed=st.integers(0, 2**16))
def test_same_seed_same_result(spec: dict[str, Any], seed: int) -> None:
    sc = make([spec], size=2_000, horizon=8, seed=seed)
    first, _ = run(sc)
    second, _ = run(sc)
    assert first.final == second.final and first.ledger_totals == second.ledger_totals
    for key, values in first.series.items():
        np.testing.assert_array_equal(values, second.series[key])
