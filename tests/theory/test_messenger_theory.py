"""The Messenger channel, run through the whole engine, against closed forms.

Tolerances are 4 standard errors of the simulated quantity (false-failure rate ~6e-5 per check), never golden
numbers; sizes are chosen so a wrong model (e.g. a missing factor) lands far outside them.
"""

from __future__ import annotations

import math

import numpy as np

from reachsim.engine.simulation import Simulation
from reachsim.model.bass import bass_daily_adoption_probability, bass_expected_adopters
from reachsim.model.kernels import fatigue_steady_factor

Z = 4.0


def run(scenario, strategy="s", replication=0):
    return Simulation(scenario, strategy, replication).run()


def messenger(**overrides):
    channel = {"type": "messenger", "engagement": {"probability": 0.1}}
    channel.update(overrides)
    return channel


def test_constant_engagement_gives_s_p_k(scenario_factory):
    S, p, k = 40_000, 0.1, 10
    sc = scenario_factory(
        [messenger(initial_subscribers=S, broadcasts={"every_days": 7}, engagement={"probability": p})],
        size=S,
        horizon=7 * k,
    )
    series = run(sc).series
    assert series["messenger", "deliveries"].sum() == S * k
    engagements = series["messenger", "engagements"].sum()
    se = math.sqrt(S * k * p * (1 - p))
    assert abs(engagements - S * p * k) < Z * se, (engagements, S * p * k, se)


def test_unsubscribe_without_fatigue_leaves_s_times_1_minus_u_to_the_k(scenario_factory):
    S, u, k = 40_000, 0.02, 12
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=S,
                broadcasts={"every_days": 5},
                engagement={"probability": 0.0},
                unsubscribe={"probability": u},
            )
        ],
        size=S,
        horizon=5 * k,
    )
    series = run(sc).series
    survivors = series["messenger", "audience"][-1]
    expected = S * (1 - u) ** k
    share = (1 - u) ** k
    assert abs(survivors - expected) < Z * math.sqrt(S * share * (1 - share))
    assert series["messenger", "left"].sum() == S - survivors


def test_periodic_sends_reach_the_fatigue_steady_state(scenario_factory):
    S, base, d, h, s = 30_000, 0.3, 2.0, 3.0, 0.5
    k = 40
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=S,
                broadcasts={"every_days": d},
                engagement={"probability": base, "fatigue": {"half_life_days": h, "strength": s}},
            )
        ],
        size=S,
        horizon=int(d * k),
    )
    series = run(sc).series
    days = np.arange(int(d * k))
    late = days >= 40  # r^20 = 2^(-13): the stock is within 1e-4 of its steady state
    deliveries = series["messenger", "deliveries"][late].sum()
    engagements = series["messenger", "engagements"][late].sum()
    expected = base * fatigue_steady_factor(d, h, s)
    se = math.sqrt(expected * (1 - expected) / deliveries)
    assert abs(engagements / deliveries - expected) < Z * se
    # and far from the no-fatigue rate, so the check has power
    assert abs(base - expected) > 20 * se


def test_novelty_curve_of_one_cohort(scenario_factory):
    S, base, floor, h, every = 50_000, 0.4, 0.3, 10.0, 5
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=S,
                broadcasts={"every_days": every},
                engagement={"probability": base, "novelty": {"half_life_days": h, "floor": floor}},
            )
        ],
        size=S,
        horizon=60,
    )
    series = run(sc).series
    for day in range(0, 60, every):
        n = series["messenger", "deliveries"][day]
        rate = series["messenger", "engagements"][day] / n
        expected = base * (floor + (1 - floor) * 2 ** (-day / h))
        assert abs(rate - expected) < Z * math.sqrt(expected * (1 - expected) / n), (day, rate, expected)


def test_bass_acquisition_follows_m_f_t(scenario_factory):
    size, potential, p, q, horizon, reps = 100_000, 0.5, 0.3, 2.0, 730, 6
    M = int(potential * size)
    sc = scenario_factory(
        [messenger(acquisition={"bass": {"p": p, "q": q, "potential": potential}})],
        size=size,
        horizon=horizon,
    )
    cumulative = np.stack([np.cumsum(run(sc, replication=r).series["messenger", "joined"]) for r in range(reps)])
    # The simulation adopts in daily steps; its mean-field recursion differs from the ODE by O(1 day):
    # that difference is added to the tolerance, so the test still fails for a wrong hazard.
    discrete = np.empty(horizon)
    adopted = 0.0
    for day in range(horizon):
        adopted += (M - adopted) * bass_daily_adoption_probability(p, q, adopted, M)
        discrete[day] = adopted
    for day in (30, 90, 180, 365, 500, 729):
        expected = bass_expected_adopters(day + 1, p, q, M)
        F = expected / M
        se = max(cumulative[:, day].std(ddof=1), math.sqrt(M * F * (1 - F))) / math.sqrt(reps)
        bias = abs(discrete[day] - expected)
        assert abs(cumulative[:, day].mean() - expected) < Z * se + bias, (day, cumulative[:, day].mean(), expected)
        assert bias < 0.01 * M


def test_paid_acquisition_is_budget_over_cost_with_exact_spend(scenario_factory):
    sc = scenario_factory(
        [messenger(acquisition={"paid": {"budget_per_day": 100, "cost_per_subscriber": 2.5}})],
        size=10_000,
        horizon=30,
    )
    result = run(sc)
    assert np.all(result.series["messenger", "joined_paid"] == 40)
    assert result.ledger_totals["messenger", "acquisition"] == -30 * 40 * 2.5
    assert result.series["messenger", "cost"].sum() == 30 * 100


def test_messages_outside_the_window_are_charged_from_the_timeline_day(scenario_factory):
    S, price = 1_000, 0.01
    sc = scenario_factory(
        [messenger(initial_subscribers=S, broadcasts={"every_days": 2}, engagement={"probability": 0.0})],
        size=S,
        horizon=20,
        timeline=[{"day": 10, "channel": "messenger", "set": {"pricing.outside_window": price}}],
    )
    cost = run(sc).series["messenger", "cost"]
    assert cost[:10].sum() == 0
    assert math.isclose(cost[10:].sum(), 5 * S * price)  # broadcasts on days 10, 12, 14, 16, 18


def test_an_engagement_opens_the_window_for_the_next_message(scenario_factory):
    S, price = 1_000, 0.01
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=S,
                broadcasts={"every_days": 0.5},
                engagement={"probability": 1.0},
                pricing={"outside_window": price, "window_hours": 24},
            )
        ],
        size=S,
        horizon=5,
    )
    series = run(sc).series
    # only the first broadcast falls outside a window: every later one follows an engagement 12 h earlier
    assert math.isclose(series["messenger", "cost"].sum(), S * price)
    assert series["messenger", "in_window"].sum() == S * 9
