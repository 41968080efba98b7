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
from reachsim.model.conversion import expected_conversions
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


# -- paid acquisition through impressions (reachsim.model.conversion) -------------------------------------------


def _impressions(budget, cpm, c, **more):
    return {"paid": {"budget_per_day": budget, "cpm": cpm, "conversion_probability": c, **more}}


def test_impressions_convert_t_times_1_minus_1_minus_c_over_t_to_the_i(scenario_factory):
    # One day of ads on a market of T with S subscribers: N = T − S non-members; I = budget / cpm × 1000.
    T, S, c, cpm, reps = 20_000, 5_000, 0.1, 10.0, 5
    N = T - S
    for budget in (1_000, 6_000):  # c·I/T = 0.5 and 3: the bend and the flat top of the curve
        impressions = budget / cpm * 1000
        sc = scenario_factory(
            [messenger(initial_subscribers=S, acquisition=_impressions(budget, cpm, c))], size=T, horizon=1
        )
        results = [run(sc, replication=r) for r in range(reps)]
        joined = np.array([r.series["messenger", "joined_paid"][0] for r in results])
        wasted = np.array([r.series["messenger", "wasted_impressions"][0] for r in results])
        share = expected_conversions(1, c, T, impressions)
        expected = N * share
        se = math.sqrt(N * share * (1 - share) / reps)
        assert abs(joined.mean() - expected) < Z * se, (budget, joined.mean(), expected, se)
        linear = c * impressions * N / T  # what the impressions on non-members would buy if nobody saturated
        assert linear - expected > 10 * se
        hit = S / T  # an impression lands on a subscriber: wasted, but paid
        assert abs(wasted.mean() - impressions * hit) < Z * math.sqrt(impressions * hit * (1 - hit) / reps)
        for r in results:
            assert r.series["messenger", "paid_impressions"][0] == impressions
            assert r.series["messenger", "paid_spend"][0] == budget
            assert r.ledger_totals["messenger", "acquisition"] == -budget


def test_impressions_convert_by_segment_multiplier_and_targeting_uplift(scenario_factory):
    T, c, u, cpm, budget, reps = 40_000, 0.2, 0.5, 5.0, 200.0, 5
    impressions = budget / cpm * 1000  # c·I/T = 0.2
    segments = [
        {"name": "loyal", "share": 0.25, "engagement_multiplier": 3.0, "data_available": 0.5},
        {"name": "casual", "share": 0.75, "engagement_multiplier": 1.0, "data_available": 0.2},
    ]
    for target, in_target in (("market", (0, 1)), (["loyal"], (0,))):
        sc = scenario_factory(
            [messenger(relevance_uplift=u, acquisition=_impressions(budget, cpm, c, target=target))],
            size=T,
            horizon=1,
            segments=segments,
        )
        sims = [Simulation(sc, "s", r) for r in range(reps)]
        population = sims[0].population
        size = sum(int(np.count_nonzero(population.segment == code)) for code in in_target)
        expected = variance = 0.0
        for code in in_target:
            multiplier = segments[code]["engagement_multiplier"]
            for data in (False, True):
                n = np.count_nonzero((population.segment == code) & (population.has_data == data))
                rate = min(1.0, c * multiplier * (1 + u if data else 1.0))  # capped at 1 for loyal with data
                share = expected_conversions(1, rate, size, impressions)
                expected += n * share
                variance += n * share * (1 - share)
        joined = np.array([sim.run().series["messenger", "joined_paid"][0] for sim in sims])
        se = math.sqrt(variance / reps)
        assert abs(joined.mean() - expected) < Z * se, (target, joined.mean(), expected, se)
        # without the multipliers and the uplift the count would be visibly lower
        assert expected - size * expected_conversions(1, c, size, impressions) > 10 * se


def test_impressions_deplete_the_pool_and_the_cost_per_acquired_person_rises(scenario_factory):
    # The same I impressions every day: each non-member stays out with (1 − π) a day, π = 1 − (1 − c/T)^I, so
    # E[acquired by day D] = T·(1 − (1 − π)^D); the expected cost per acquired person on day d, B / (T·π·(1 − π)^d),
    # rises as the pool empties.
    T, c, cpm, budget, days, reps = 10_000, 0.1, 10.0, 200.0, 30, 5
    impressions = budget / cpm * 1000
    sc = scenario_factory([messenger(acquisition=_impressions(budget, cpm, c))], size=T, horizon=days)
    joined = np.stack([run(sc, replication=r).series["messenger", "joined_paid"] for r in range(reps)])
    pi = expected_conversions(1, c, T, impressions)
    for d in (5, 30):
        share = 1 - (1 - pi) ** d
        observed = joined[:, :d].sum(axis=1).mean()
        assert abs(observed - T * share) < Z * math.sqrt(T * share * (1 - share) / reps), (d, observed, T * share)
    early = 5 * budget / joined[:, :5].sum(axis=1).mean()
    late = 5 * budget / joined[:, 20:25].sum(axis=1).mean()
    assert late > 20 * early  # (1 − π)^−20 ≈ 54 in expectation
