"""The app channel, run through the whole engine, against closed forms (docs/model/app.md).

Tolerances are 4 standard errors of the simulated quantity (false-failure rate ~6e-5 per check), never golden
numbers; money is held to the cent. Sizes are chosen so a wrong model (a missing factor, an off-by-one day) lands
far outside the tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from reachsim.channels import topics
from reachsim.core.problems import ScenarioWarning
from reachsim.engine.simulation import RunResult, Simulation
from reachsim.model.kernels import fatigue_stock_after, novelty_factor
from reachsim.model.retention import installed_base_constant_installs, weibull_from_two_points, weibull_survival

Z = 4.0
DAY_1, DAY_30 = 0.26, 0.07
SCALE, SHAPE = weibull_from_two_points(1.0, DAY_1, 30.0, DAY_30)


def app(**overrides: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "type": "app",
        "build": {"cost": 1_000, "days": 3},
        "retention": {"day_1": DAY_1, "day_30": DAY_30},
    }
    channel.update(overrides)
    return channel


def whole_market_on_launch(size: int) -> dict[str, Any]:
    """Paid installs buying the whole market on the launch day: one cohort, nobody left to acquire after."""
    return {"paid": {"budget_per_day": float(size), "cost_per_install": 1.0}}


def run(scenario: Any, strategy: str = "s", replication: int = 0) -> RunResult:
    return Simulation(scenario, strategy, replication).run()


def binomial_ok(observed: float, n: float, p: float) -> bool:
    return abs(observed - n * p) <= Z * math.sqrt(n * p * (1 - p)) + 1e-9


# -- retention ----------------------------------------------------------------------------------------------------


def test_one_cohort_survives_as_the_fitted_weibull(scenario_factory) -> None:
    n, launch = 40_000, 3
    sc = scenario_factory([app(acquisition=whole_market_on_launch(n))], size=n, horizon=400)
    series = run(sc).series
    assert series["app", "joined"][launch] == n and series["app", "joined"].sum() == n
    installed = series["app", "installed"]
    assert np.array_equal(installed, series["app", "audience"])
    assert not installed[:launch].any()
    assert installed[launch] == n  # age 0: every lifetime is at least 0
    for age in (1, 2, 7, 30, 90, 180, 365):
        s = float(weibull_survival(age, SCALE, SHAPE))
        assert binomial_ok(installed[launch + age], n, s), (age, installed[launch + age], n * s)
    # Everyone who left left for the retention curve (no pushes here).
    assert series["app", "uninstalls_retention"].sum() == series["app", "left"].sum() == n - installed[-1]


def test_constant_installs_give_a_times_the_daily_sum_of_survival(scenario_factory) -> None:
    """a installs a day from the launch L, at whole days; installed on day L + n − 1 (its end) = cohorts aged
    0 … n − 1, so E = a·Σ_{j<n} S(j): the unit-step left Riemann sum of a·∫₀ⁿ S(u) du."""
    a, launch, horizon, reps = 50, 10, 200, 20
    sc = scenario_factory(
        [app(build={"cost": 0, "days": launch}, acquisition={"paid": {"budget_per_day": a, "cost_per_install": 1}})],
        size=100_000,
        horizon=horizon,
        replications=reps,
    )
    installed = np.array([run(sc, replication=r).series["app", "installed"] for r in range(reps)])
    assert np.all(installed[:, :launch] == 0)
    for n in (1, 2, 10, 30, 100, 190):
        day = launch + n - 1
        expected = float(installed_base_constant_installs(a, n, SCALE, SHAPE))
        s = weibull_survival(np.arange(n), SCALE, SHAPE)
        se = math.sqrt(float(np.sum(a * s * (1 - s))) / reps)
        mean = installed[:, day].mean()
        assert abs(mean - expected) <= Z * se + 1e-9, (n, mean, expected, se)


# -- costs -----------------------------------------------------------------------------------------------------


COST_CASE = {
    "build": {"cost": 120_000, "days": 45},
    "maintenance": {"share_of_build_per_year": 0.2},
    "os_updates": {"every_days": 100, "cost": 15_000},
    "fees": {"store_per_month": 25, "hosting_per_month": 75.5},
    "acquisition": {"organic_per_day": 3, "paid": {"budget_per_day": 12, "cost_per_install": 4.0}},
}


def closed_form_costs(build: float, days: int, spread: bool, per_year: float, os_every: float, os_cost: float,
                      per_month: float, horizon: int) -> dict[str, float]:
    """Build on day 0 or cost/days a day over days 0 … days − 1 (those within the horizon); maintenance and
    fees at launch + k·365/12 (k = 0, 1, …) before the horizon; OS updates at launch + k·every (k = 1, 2, …)."""
    month = 365 / 12
    months = max(0, math.ceil((horizon - days) / month))
    os_updates = max(0, math.ceil((horizon - days) / os_every) - 1)
    return {
        "build": build / days * min(days, horizon) if spread and days else build,
        "maintenance": months * per_year / 12,
        "os_update": os_updates * os_cost,
        "fees": months * per_month,
    }


@pytest.mark.parametrize(("spread", "horizon"), [(False, 400), (True, 400), (True, 30), (False, 45)])
def test_costs_equal_the_closed_form_to_the_cent(scenario_factory, spread: bool, horizon: int) -> None:
    params = {**COST_CASE, "build": {**COST_CASE["build"], "spread": spread}}
    if horizon <= 45:
        with pytest.warns(ScenarioWarning, match=r"build\.days: the app launches on day 45, not before the horizon"):
            sc = scenario_factory([app(**params)], size=20_000, horizon=horizon)
    else:
        sc = scenario_factory([app(**params)], size=20_000, horizon=horizon)
    result = run(sc)
    expected = closed_form_costs(120_000, 45, spread, 0.2 * 120_000, 100, 15_000, 100.5, horizon)
    series = result.series
    for category, amount in expected.items():
        booked = -result.ledger_totals.get(("app", category), 0.0)
        assert booked == pytest.approx(amount, abs=0.005), category
        assert series["app", f"cost_{category}"].sum() == pytest.approx(amount, abs=0.005), category
    paid_installs = series["app", "joined_paid"].sum()
    assert -result.ledger_totals.get(("app", "acquisition"), 0.0) == pytest.approx(4.0 * paid_installs, abs=0.005)
    if horizon > 45:
        assert paid_installs == 3 * (horizon - 45)  # 12 / 4 a day from the launch
        assert expected["os_update"] == 3 * 15_000 and expected["maintenance"] == 12 * 2_000
    total = sum(expected.values()) + 4.0 * paid_installs
    assert series["app", "cost"].sum() == pytest.approx(total, abs=0.005)
    # Before the launch, only the build is paid for.
    before = series["app", "cost"][: min(45, horizon)]
    assert before.sum() == pytest.approx(expected["build"] if horizon <= 45 else 120_000, abs=0.005)
    if spread:
        assert np.allclose(before, 120_000 / 45)


def test_maintenance_per_year_and_share_of_build_agree(scenario_factory) -> None:
    by_share = app(build={"cost": 50_000, "days": 0}, maintenance={"share_of_build_per_year": 0.3})
    by_cost = app(build={"cost": 50_000, "days": 0}, maintenance={"cost_per_year": 15_000})
    sc = scenario_factory({"share": [by_share], "cost": [by_cost]}, size=1_000, horizon=366)
    a, b = run(sc, "share"), run(sc, "cost")
    assert np.array_equal(a.series["app", "cost_maintenance"], b.series["app", "cost_maintenance"])
    assert a.series["app", "cost_maintenance"].sum() == pytest.approx(13 * 15_000 / 12, abs=0.005)
    assert a.series["app", "cost_build"][0] == 50_000  # launched on day 0: built by then


# -- pushes -----------------------------------------------------------------------------------------------------


def test_push_engagements_are_binomial_and_published(scenario_factory) -> None:
    n, p, every, launch = 30_000, 0.1, 2, 3
    sc = scenario_factory(
        [
            app(
                acquisition=whole_market_on_launch(n),
                retention={"day_1": 0.95, "day_30": 0.9},
                push={"optin": 1.0, "every_days": every, "engagement": {"probability": p}},
            )
        ],
        size=n,
        horizon=60,
    )
    sim = Simulation(sc, "s", 0)
    published: list[int] = []
    sim.bus.subscribe(  # within the horizon (the run-out after it goes on publishing)
        topics.ENGAGEMENT, lambda payload: published.append(payload["idx"].size if payload["t"] < 60 else 0)
    )
    series = sim.run().series
    deliveries, engagements = series["app", "deliveries"], series["app", "engagements"]
    push_days = np.arange(launch, 60, every)
    # Every installed consumer allows pushes, none disables: each push reaches the whole installed base.
    assert np.array_equal(deliveries[push_days], series["app", "installed"][push_days])
    assert deliveries.sum() == deliveries[push_days].sum()
    d, e = deliveries.sum(), engagements.sum()
    assert binomial_ok(e, d, p), (e, d * p)
    assert series["app", "push_engagements"].sum() == e and sum(published) == e


def test_push_disable_without_fatigue_is_geometric_and_leaves_the_app_installed(scenario_factory) -> None:
    n, u, every, launch = 40_000, 0.02, 3, 3
    retention = {"day_1": 0.9, "day_30": 0.6}
    quiet = app(acquisition=whole_market_on_launch(n), retention=retention)
    pushed = {
        **quiet,
        "push": {"optin": 1.0, "every_days": every, "engagement": {"probability": 0.05}, "disable": {"probability": u}},
    }
    sc = scenario_factory({"pushed": [pushed], "quiet": [quiet]}, size=n, horizon=100)
    a, b = run(sc, "pushed"), run(sc, "quiet")
    # Same random numbers for installs and lifetimes: disabling pushes changes nothing about who has the app.
    for metric in ("installed", "left", "uninstalls_retention"):
        assert np.array_equal(a.series["app", metric], b.series["app", metric]), metric
    assert a.series["app", "uninstalls_push"].sum() == 0
    installed, reachable = a.series["app", "installed"], a.series["app", "push_reachable"]
    for k in (1, 5, 10, 20, 32):
        day = launch + every * (k - 1)  # the day of the k-th push, at its end
        # Still installed ⇒ received all k pushes, each kept independently with 1 − u.
        assert binomial_ok(reachable[day], installed[day], (1 - u) ** k), (k, reachable[day], installed[day])
    # Per push, each delivery disables with probability u.
    deliveries, disabled = a.series["app", "deliveries"].sum(), a.series["app", "push_disables"].sum()
    assert binomial_ok(disabled, deliveries, u), (disabled, deliveries * u)
    assert a.series["app", "push_optins"].sum() == n


def test_push_disable_and_uninstall_split_one_fatigued_hazard(scenario_factory) -> None:
    """Opt-outs per push ~ Binomial(deliveries, (u_d + u_u)(1 + fs·F_k)); of them, uninstalls ~ Binomial(outs,
    u_u/(u_d + u_u)). One cohort pushed every d days sees the same stock F_k = r(1 − r^k)/(1 − r) at push k."""
    n, optin, u_d, u_u, fs, every, h, launch, horizon = 50_000, 0.5, 0.004, 0.008, 1.5, 2, 6.0, 3, 63
    sc = scenario_factory(
        [
            app(
                acquisition=whole_market_on_launch(n),
                retention={"day_1": 0.95, "day_30": 0.9},
                push={
                    "optin": optin,
                    "every_days": every,
                    "engagement": {"probability": 0.05, "fatigue": {"half_life_days": h, "strength": 0.2}},
                    "disable": {"probability": u_d, "fatigue_strength": fs},
                    "uninstall": {"probability": u_u},
                },
            )
        ],
        size=n,
        horizon=horizon,
    )
    series = run(sc).series
    optins = series["app", "push_optins"].sum()
    assert binomial_ok(optins, n, optin)
    push_days = np.arange(launch, horizon, every)
    deliveries = series["app", "deliveries"][push_days]
    outs = series["app", "push_disables"][push_days] + series["app", "uninstalls_push"][push_days]
    q = (u_d + u_u) * (1 + fs * fatigue_stock_after(np.arange(push_days.size), every, h))
    expected, var = float(np.sum(deliveries * q)), float(np.sum(deliveries * q * (1 - q)))
    assert abs(outs.sum() - expected) <= Z * math.sqrt(var), (outs.sum(), expected)
    # Fatigue matters: without it the opt-outs would be far fewer.
    assert expected - float(np.sum(deliveries * (u_d + u_u))) > 10 * math.sqrt(var)
    gone = series["app", "uninstalls_push"].sum()
    assert binomial_ok(gone, outs.sum(), u_u / (u_d + u_u)), (gone, outs.sum())
    # Bookkeeping: whoever left the installed base left for one of the two causes.
    left = series["app", "left"].sum()
    assert left == gone + series["app", "uninstalls_retention"].sum() == n - series["app", "installed"][-1]


# -- home screen and sessions --------------------------------------------------------------------------------------


def test_home_screen_impressions_are_installed_days_times_the_rate(scenario_factory) -> None:
    rate, value = 1.7, 0.0005
    sc = scenario_factory(
        [
            app(
                acquisition={"organic_per_day": 40},
                home_screen={"impressions_per_day": rate, "value_per_impression": value},
            )
        ],
        size=20_000,
        horizon=120,
    )
    series = run(sc).series
    installed, impressions = series["app", "installed"], series["app", "brand_impressions"]
    np.testing.assert_allclose(impressions, installed * rate, rtol=1e-12)
    assert impressions.sum() == pytest.approx(installed.sum() * rate, rel=1e-12)
    np.testing.assert_allclose(series["app", "value_home_screen"], impressions * value, rtol=1e-12)
    np.testing.assert_allclose(series["app", "value"], impressions * value, rtol=1e-12)


def test_sessions_are_poisson_with_novelty_and_the_segment_multiplier(scenario_factory) -> None:
    n, r, h, floor, m, value, launch, horizon = 20_000, 0.4, 10.0, 0.2, 1.5, 0.2, 3, 80
    sc = scenario_factory(
        [
            app(
                acquisition=whole_market_on_launch(n),
                sessions={"per_day": r, "novelty": {"half_life_days": h, "floor": floor}},
            )
        ],
        size=n,
        horizon=horizon,
        segments=[{"name": "all", "share": 1.0, "engagement_multiplier": m, "value_per_engagement": value}],
    )
    series = run(sc).series
    installed, sessions = series["app", "installed"], series["app", "sessions"]
    days = np.arange(horizon)
    ages = np.maximum(days - launch, 0)
    mean = np.where(days >= launch, installed * r * m * novelty_factor(ages, h, floor), 0.0)
    assert not sessions[:launch].any()
    assert abs(sessions.sum() - mean.sum()) <= Z * math.sqrt(mean.sum()), (sessions.sum(), mean.sum())
    early, late = days < launch + 10, days >= launch + 40
    for window in (early, late):  # the novelty decay, not only the total
        assert abs(sessions[window].sum() - mean[window].sum()) <= Z * math.sqrt(mean[window].sum())
    assert np.array_equal(series["app", "engagements"], sessions)
    np.testing.assert_allclose(series["app", "value_engagement"], sessions * value, rtol=1e-12)
