"""Paid acquisition through impressions against closed forms and against impressions simulated one by one.

Tolerances are 4 standard errors (false-failure rate ~6e-5 per check), never golden numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reachsim.engine.simulation import Simulation
from reachsim.model.exposure import boost_unique_reach_variance
from reachsim.model.occupancy import draw_unique_reach, unique_reach_moments
from reachsim.model.reach import boost_unique_reach_exact

Z = 4.0


def messenger_with_impressions(budget: float, cpm: float, c: float, **more: object) -> dict[str, object]:
    paid = {"budget_per_day": budget, "cpm": cpm, "conversion_probability": c, **more}
    return {"type": "messenger", "engagement": {"probability": 0.1}, "acquisition": {"paid": paid}}


# -- the number of distinct people the day's impressions reach ------------------------------------------------


@pytest.mark.parametrize(("impressions", "target"), [(6_000, 200_000), (20_000, 20_000), (50, 60), (30_000, 5_000)])
def test_drawn_reach_has_the_occupancy_mean_and_variance(impressions, target):
    # I balls in T urns: E = T·(1 − (1 − 1/T)^I); the draw keeps the mean exactly and the variance up to the
    # rounding's ≤ 1/4
    n = 20_000
    rng = np.random.default_rng(7)
    draws = np.array([draw_unique_reach(rng, impressions, target) for _ in range(n)], dtype=float)
    mean = float(boost_unique_reach_exact(impressions, target))
    var = float(boost_unique_reach_variance(impressions, target))
    assert abs(draws.mean() - mean) < Z * math.sqrt((var + 0.25) / n), (draws.mean(), mean)
    # the sample variance of n near-normal draws has SE ≈ σ²·√(2/(n − 1))
    assert abs(draws.var(ddof=1) - var) < 0.25 + Z * (var + 0.25) * math.sqrt(2 / (n - 1)), (draws.var(), var)
    assert draws.min() >= 1 and draws.max() <= min(impressions, target)
    # the reach is visibly below the impressions where people are hit twice (not a copy of I)
    if impressions * impressions / target > 100:
        assert impressions - mean > 10 * math.sqrt(var / n)


@pytest.mark.parametrize(
    ("impressions", "target"), [(6_000, 200_000), (20_000, 20_000), (50, 60), (7, 2), (10**7, 10**7)]
)
def test_scalar_moments_are_the_closed_forms(impressions, target):
    mean, sd = unique_reach_moments(impressions, target)
    assert mean == pytest.approx(float(boost_unique_reach_exact(impressions, target)), rel=1e-12)
    assert sd * sd == pytest.approx(float(boost_unique_reach_variance(impressions, target)), rel=1e-9, abs=1e-9)


def test_drawn_reach_is_exact_at_the_edges():
    rng = np.random.default_rng(1)
    assert draw_unique_reach(rng, 0, 100) == 0
    assert draw_unique_reach(rng, 100, 0) == 0
    assert draw_unique_reach(rng, 1, 100) == 1
    assert draw_unique_reach(rng, 100, 1) == 1
    with pytest.raises(ValueError):
        draw_unique_reach(rng, -1, 10)


def test_paid_reach_and_frequency_follow_the_occupancy_closed_form(scenario_factory):
    # every day I = budget / cpm × 1000 impressions on the whole market of T, members or not
    T, budget, cpm, days = 20_000, 150.0, 10.0, 40
    impressions = budget / cpm * 1000  # I/T = 0.75: about a quarter of the impressions hit someone twice
    sc = scenario_factory([messenger_with_impressions(budget, cpm, 0.01)], size=T, horizon=days)
    result = Simulation(sc, "s", 0).run()
    reach = result.series["messenger", "paid_reach"]
    assert (result.series["messenger", "paid_impressions"] == impressions).all()
    mean = float(boost_unique_reach_exact(impressions, T))
    var = float(boost_unique_reach_variance(impressions, T))
    assert abs(reach.sum() - days * mean) < Z * math.sqrt(days * (var + 0.25)), (reach.sum(), days * mean)
    assert impressions * days - reach.sum() > 100 * math.sqrt(days * var)  # not the impressions themselves
    frequency = result.series["messenger", "paid_frequency"]
    np.testing.assert_allclose(frequency, impressions / reach)
    assert frequency.min() > 1 and frequency.max() < 2  # I/T = 0.75: a little over one impression per person


# -- the channel's conversions against impressions simulated one by one ------------------------------------------


def brute_force_conversions(rng: np.random.Generator, T: int, S: int, n_imp: int, c: float, reps: int) -> np.ndarray:
    """Conversions of one day, impression by impression: each lands on ``rng.integers(T)``; a person not yet in
    the audience (the first ``T − S`` rows, and nobody converted earlier that day) converts with probability c.
    Vectorised over replications, sequential over impressions."""
    member = np.zeros((reps, T), dtype=bool)
    member[:, T - S :] = True
    rows = np.arange(reps)
    for _ in range(n_imp):
        who = rng.integers(T, size=reps)
        converts = ~member[rows, who] & (rng.random(reps) < c)
        member[rows[converts], who[converts]] = True
    return member[:, : T - S].sum(axis=1)


def test_channel_conversions_match_impressions_simulated_one_by_one(scenario_factory):
    # a small market where the curve bends: c·I/T = 0.6 (I = n_imp), so people are hit (and converted) more than once
    T, S, c, cpm, budget = 200, 50, 0.4, 10.0, 3.0
    n_imp = int(budget / cpm * 1000)
    brute = brute_force_conversions(np.random.default_rng(11), T, S, n_imp, c, 20_000).astype(float)
    sc = scenario_factory(
        [{**messenger_with_impressions(budget, cpm, c), "initial_subscribers": S}], size=T, horizon=1
    )
    reps = 400
    channel = np.array([Simulation(sc, "s", r).run().series["messenger", "joined_paid"][0] for r in range(reps)])
    se = math.sqrt(brute.var(ddof=1) / brute.size + channel.var(ddof=1) / reps)
    assert abs(channel.mean() - brute.mean()) < Z * se, (channel.mean(), brute.mean(), se)
    # the comparison can tell: converting every non-member hit at least once would be far off
    hit_once = (T - S) * (1 - (1 - 1 / T) ** n_imp)
    assert abs(hit_once - brute.mean()) > 10 * se


def test_impressions_on_an_empty_target_reach_nobody(scenario_factory):
    # a target segment of no members (its share rounds to 0) with a budget buying one impression a day: the
    # impression is paid and wasted, and nobody is reached
    segments = [{"name": "most", "share": 0.99}, {"name": "rare", "share": 0.01}]
    sc = scenario_factory([messenger_with_impressions(0.0084, 8.4, 0.5, target=["rare"])], size=50, horizon=5,
                          segments=segments)
    result = Simulation(sc, "s", 0).run()
    assert result.series["messenger", "paid_impressions"][1:].tolist() == [1.0] * 4
    assert result.series["messenger", "paid_reach"].sum() == 0
