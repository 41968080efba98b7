"""The Messenger channel, run through the whole engine, against closed forms.

Tolerances are 4 standard errors of the simulated quantity (false-failure rate ~6e-5 per check), never golden
numbers; sizes are chosen so a wrong model (e.g. a missing factor) lands far outside them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from reachsim.engine.simulation import Simulation
from reachsim.model.bass import bass_daily_adoption_probability, bass_expected_adopters
from reachsim.model.kernels import fatigue_steady_factor, fatigue_stock_after

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
    size, potential, p, q, horizon, reps = 100_000, 0.5, 0.3, 2.0, 730, 30
    M = int(potential * size)
    sc = scenario_factory(
        [messenger(acquisition={"bass": {"p": p, "q": q, "potential": potential}})],
        size=size,
        horizon=horizon,
    )
    cumulative = np.stack([np.cumsum(run(sc, replication=r).series["messenger", "joined"]) for r in range(reps)])
    # The simulation adopts in daily steps; its mean-field recursion differs from the ODE by O(1 day): that
    # difference (under 1% of M, checked) is added to the tolerance, so the test still fails for a wrong hazard.
    discrete = np.empty(horizon)
    adopted = 0.0
    for day in range(horizon):
        adopted += (M - adopted) * bass_daily_adoption_probability(p, q, adopted, M)
        discrete[day] = adopted
    t_crit = stats.t.ppf(1 - 3.2e-5, reps - 1)  # the two-sided level of 4 standard errors, for R − 1 d.o.f.
    for day in (30, 90, 180, 365, 500, 729):
        expected = bass_expected_adopters(day + 1, p, q, M)
        se = cumulative[:, day].std(ddof=1) / math.sqrt(reps)
        bias = abs(discrete[day] - expected)
        assert bias < 0.01 * M
        assert abs(cumulative[:, day].mean() - expected) < t_crit * se + bias, (
            day,
            cumulative[:, day].mean(),
            expected,
        )


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


def _window_cost(scenario_factory, every_days, window_hours, horizon):
    S, price = 1_000, 0.01
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=S,
                broadcasts={"every_days": every_days},
                engagement={"probability": 1.0},
                pricing={"outside_window": price, "window_hours": window_hours},
            )
        ],
        size=S,
        horizon=horizon,
    )
    series = run(sc).series
    return series["messenger", "cost"].sum() / (S * price), series["messenger", "in_window"].sum() / S


def test_the_window_closes_exactly_after_its_length(scenario_factory):
    # every subscriber engages with every broadcast, so each one opens a window of window_hours
    assert _window_cost(scenario_factory, 1.0, 24, 10) == (10, 0)  # closed exactly when the next one comes
    assert _window_cost(scenario_factory, 1.0, 25, 10) == (1, 9)
    assert _window_cost(scenario_factory, 1.5, 36, 15) == (10, 0)
    assert _window_cost(scenario_factory, 1.5, 37, 15) == (1, 9)


def test_novelty_counts_from_each_subscribers_own_join_day(scenario_factory):
    N, base, floor, h = 30_000, 0.4, 0.2, 10.0
    sc = scenario_factory(
        [
            messenger(
                acquisition={"paid": {"budget_per_day": 0, "cost_per_subscriber": 1}},
                broadcasts={"every_days": 5},
                engagement={"probability": base, "novelty": {"half_life_days": h, "floor": floor}},
            )
        ],
        size=N,
        horizon=60,
        timeline=[  # one cohort of N joins on day 20, nobody else
            {"day": 20, "channel": "messenger", "set": {"acquisition.paid.budget_per_day": N}},
            {"day": 21, "channel": "messenger", "set": {"acquisition.paid.budget_per_day": 0}},
        ],
    )
    series = run(sc).series
    assert series["messenger", "joined"].sum() == N and series["messenger", "joined"][20] == N
    for day in range(25, 60, 5):
        n = series["messenger", "deliveries"][day]
        rate = series["messenger", "engagements"][day] / n
        expected = base * (floor + (1 - floor) * 2 ** (-(day - 20) / h))
        assert abs(rate - expected) < Z * math.sqrt(expected * (1 - expected) / n), (day, rate, expected)


def test_fatigue_raises_the_opt_out_hazard_with_the_stock_before_the_delivery(scenario_factory):
    S, u, fs, d, h, k = 40_000, 0.01, 2.0, 1.0, 2.0, 30
    sc = scenario_factory(
        [
            messenger(
                initial_subscribers=S,
                broadcasts={"every_days": d},
                engagement={"probability": 0.0, "fatigue": {"half_life_days": h, "strength": 0.0}},
                unsubscribe={"probability": u, "fatigue_strength": fs},
            )
        ],
        size=S,
        horizon=k,
    )
    survivors = run(sc).series["messenger", "audience"][-1]
    share = np.prod([1 - u * (1 + fs * fatigue_stock_after(j, d, h)) for j in range(k)])
    assert abs(survivors - S * share) < Z * math.sqrt(S * share * (1 - share))
    # the stock after the + 1 would give a visibly different count
    wrong = np.prod([1 - u * (1 + fs * (fatigue_stock_after(j, d, h) + 1)) for j in range(k)])
    assert abs(S * wrong - S * share) > 10 * math.sqrt(S * share * (1 - share))


def test_a_bigger_paid_budget_leaves_organic_sign_up_counts_paired(scenario_factory):
    def acquisition(budget):
        return messenger(
            acquisition={"organic_per_day": 30, "paid": {"budget_per_day": budget, "cost_per_subscriber": 1}}
        )

    sc = scenario_factory({"small": [acquisition(100)], "big": [acquisition(200)]}, size=50_000, horizon=60)
    small = Simulation(sc, "small", 0).run().series["messenger", "joined_organic"]
    big = Simulation(sc, "big", 0).run().series["messenger", "joined_organic"]
    assert np.array_equal(small, big)
