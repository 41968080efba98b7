"""The audience's value at the horizon: a run-out with paid acquisition and paid delivery stopped, against theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reachsim.engine.simulation import Simulation
from reachsim.experiments.runner import run_experiment
from reachsim.model.finance import discount_factors
from reachsim.scenario.load import scenario_from_dict, with_overrides

S, P, V = 4_000, 0.2, 0.5  # constant audience, engagement per delivery, value per engagement
HORIZON, RUN_OUT = 60, 90


def _scenario(*, rate: float = 0.0, run_out: int = RUN_OUT, replications: int = 1, paid: bool = False):
    acquisition = {"paid": {"budget_per_day": 50, "cost_per_subscriber": 1.0}} if paid else {}
    messenger = {
        "type": "messenger",
        "initial_subscribers": S,
        "acquisition": acquisition,
        "broadcasts": {"every_days": 7},
        "engagement": {"probability": P},
    }
    return scenario_from_dict({
        "name": "audience value",
        "horizon_days": HORIZON,
        "seed": 3,
        "replications": replications,
        "discount_rate": rate,
        "audience_value": {"run_out_days": run_out},
        "market": {"size": 20_000, "segments": [{"name": "all", "share": 1.0, "value_per_engagement": V}]},
        "strategies": {"push": {"channels": [messenger]}},
    })


def _broadcast_days() -> np.ndarray:
    days = np.arange(0, HORIZON + RUN_OUT, 7)
    return days[days >= HORIZON]


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_audience_value_is_the_discounted_value_of_the_run_out_broadcasts(rate: float) -> None:
    """No churn, constant engagement: each run-out broadcast engages Binomial(S, p) people worth V each."""
    replications = 8
    summary = run_experiment(_scenario(rate=rate, replications=replications)).summary()
    got = summary["strategies"]["push"]["metrics"]["audience_value_at_horizon"]["mean"]
    factors = np.asarray(discount_factors(_broadcast_days(), rate))
    expected = float(np.sum(factors)) * S * P * V
    se = V * math.sqrt(float(np.sum(factors**2)) * S * P * (1 - P) / replications)
    assert abs(got - expected) < 4 * se, (got, expected, se)
    npv = summary["strategies"]["push"]["metrics"]["npv"]["mean"]
    total = summary["strategies"]["push"]["metrics"]["npv_with_audience_value"]["mean"]
    assert total == pytest.approx(npv + got, rel=1e-12)


def test_the_run_out_keeps_the_totals_of_what_it_delivered() -> None:
    """Without churn every run-out broadcast reaches all S; engagements are Binomial(S·broadcasts, p)."""
    result = Simulation(_scenario(), "push", 0).run()
    broadcasts = _broadcast_days().size
    assert result.run_out_totals["messenger", "deliveries"] == S * broadcasts
    n = S * broadcasts
    assert abs(result.run_out_totals["messenger", "engagements"] - n * P) < 4 * math.sqrt(n * P * (1 - P))
    assert result.series["messenger", "deliveries"].sum() == S * math.ceil(HORIZON / 7)  # the horizon's own


def test_the_run_out_changes_nothing_within_the_horizon() -> None:
    with_run_out = run_experiment(_scenario(paid=True)).summary()["strategies"]["push"]
    without = run_experiment(_scenario(paid=True, run_out=0)).summary()["strategies"]["push"]
    for metric in ("total_cost", "total_value", "npv", "engagements", "unique_reach"):
        assert with_run_out["metrics"][metric] == without["metrics"][metric], metric
    assert with_run_out["channels"] == without["channels"]
    assert without["metrics"]["audience_value_at_horizon"]["mean"] == 0


def test_paid_acquisition_stops_at_the_horizon() -> None:
    scenario = with_overrides(_scenario(paid=True), name="paid only")
    data = scenario.model_dump(mode="python", round_trip=True)
    data["strategies"]["push"]["channels"][0]["broadcasts"] = None
    sim = Simulation(type(scenario).model_validate(data), "push", 0)
    result = sim.run()
    assert result.series["messenger", "joined_paid"].sum() == 50 * HORIZON  # paid for every day of the horizon
    assert not result.run_out_net.any()  # and nothing in the run-out: no acquisition cost, no broadcasts
    assert ("messenger", "joined_paid") not in result.run_out_totals
    assert sim.population.size == 20_000


def _design_like(run_out: int):
    app = {"type": "app", "build": {"cost": 1000, "days": 5}, "maintenance": {"cost_per_year": 365},
           "acquisition": {"organic_per_day": 0, "paid": {"budget_per_day": 30, "cost_per_install": 3.0}},
           "retention": {"day_1": 0.5, "day_30": 0.1}}
    support = {"type": "support", "contacts_per_day": 20, "phone": {"agents": 2, "handle_minutes": 5,
                                                                    "cost_per_agent_hour": 20}}
    return scenario_from_dict({
        "name": "run-out", "horizon_days": 30, "seed": 1, "replications": 1,
        "audience_value": {"run_out_days": run_out},
        "market": {"size": 5_000},
        "strategies": {"app": {"channels": [app]}, "support": {"channels": [support]}},
    })


def test_in_the_run_out_app_installs_are_not_bought_and_installs_still_leave() -> None:
    sim = Simulation(_design_like(60), "app", 0)
    result = sim.run()
    assert result.series["app", "joined_paid"].sum() == 10 * 25  # paid installs from launch (day 5) to day 29
    channel = sim.channels[0]
    # after 60 more days without paid installs, most of the 250 have uninstalled (S(60) ≈ 0.03)
    assert channel.audience() < 0.2 * 250
    # the run-out books maintenance and no acquisition: its net is the maintenance accrued, a cost every month
    assert result.run_out_net.sum() < 0
    assert result.run_out_net.sum() >= -365 / 12 * 3 - 1e-9


def test_a_support_queue_is_no_part_of_an_audience_value() -> None:
    result = Simulation(_design_like(60), "support", 0).run()
    assert result.series["support", "cost"].sum() > 0
    assert not result.run_out_net.any()


def test_a_channel_may_not_be_named_all() -> None:
    from reachsim.core.problems import ScenarioError

    data = _design_like(0).model_dump(mode="python", round_trip=True)
    data["strategies"]["support"]["channels"][0]["name"] = "all"
    with pytest.raises(ScenarioError, match="'all' is reserved"):
        scenario_from_dict(data)
