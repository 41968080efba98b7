"""The channel contract suite (reachsim.testing.check_channel) over every registered channel and the docs' plugin."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np
import pytest
from pydantic import Field

from reachsim.channels import registry
from reachsim.channels.base import Channel, ChannelParams
from reachsim.testing import check_channel

ROOT = Path(__file__).resolve().parents[1]

#: One example per channel type: a scenario entry that makes the channel deliver, engage, spend and draw random
#: numbers in a small market (2,000 consumers, 42 days). Whoever adds a channel adds its example here.
EXAMPLES: dict[str, dict[str, Any]] = {
    "app": {
        "build": {"cost": 5_000, "days": 5, "spread": True},
        "maintenance": {"share_of_build_per_year": 0.2},
        "os_updates": {"every_days": 14, "cost": 300},
        "fees": {"store_per_month": 10, "hosting_per_month": 40},
        "acquisition": {
            "organic_per_day": 4,
            "paid": {"budget_per_day": 10, "cost_per_install": 2.0},
            "bass": {"p": 0.5, "q": 2.0, "potential": 0.5},
        },
        "retention": {"day_1": 0.4, "day_30": 0.15, "more_points": [{"day": 7, "share": 0.25}]},
        "push": {
            "optin": 0.6,
            "every_days": 2,
            "engagement": {
                "probability": 0.2,
                "novelty": {"half_life_days": 10, "floor": 0.3},
                "fatigue": {"half_life_days": 4, "strength": 0.3},
            },
            "disable": {"probability": 0.01, "fatigue_strength": 1.0},
            "uninstall": {"probability": 0.005},
            "cost_per_message": 0.001,
        },
        "home_screen": {"impressions_per_day": 1.0, "value_per_impression": 0.001},
        "sessions": {"per_day": 0.3, "novelty": {"half_life_days": 7, "floor": 0.2}},
    },
    "messenger": {
        "initial_subscribers": 300,
        "acquisition": {
            "organic_per_day": 5,
            "paid": {"budget_per_day": 10, "cost_per_subscriber": 2.0},
            "bass": {"p": 0.5, "q": 2.0, "potential": 0.5},
        },
        "broadcasts": {"every_days": 3},
        "engagement": {
            "probability": 0.2,
            "novelty": {"half_life_days": 10, "floor": 0.3},
            "fatigue": {"half_life_days": 4, "strength": 0.3},
        },
        "unsubscribe": {"probability": 0.01, "fatigue_strength": 1.0},
        "pricing": {"in_window": 0.001, "outside_window": 0.01},
        "inbound_conversations_per_year": 12,
        "fixed_cost_per_month": 30,
    },
    # The keys of DESIGN.md's scenario contract.
    "page": {
        "initial_fans": 500,
        "posts": {"every_days": 1},
        "organic_reach": 0.06,
        "boost": {"budget_per_post": 3, "cpm": 9.0, "target": "market"},
        "engagement": {"probability": 0.02},
        "follow_probability": 0.01,
    },
    # Hourly staffing and profiles, both queues, patience, telephony, bot fees and the reference cost.
    "support": {
        "contacts_per_day": 300,
        "hour_profile": [1] * 8 + [3] * 10 + [2] * 6,
        "weekday_profile": [1, 1, 1, 1, 1, 0.5, 0.3],
        "patience_minutes": 4,
        "service_level_seconds": 20,
        "phone": {"agents": [1] * 8 + [6] * 10 + [3] * 6, "handle_minutes": 6, "handle_cv": 0.8,
                  "cost_per_agent_hour": 28, "telephony_per_minute": 0.02},
        "messenger": {"share": 0.5, "bot_containment": 0.35, "bot_cost_per_contact": 0.1, "agents": 3,
                      "concurrency": 2, "handle_minutes": 9, "cost_per_agent_hour": 24},
        "all_phone_cost_per_contact": 5.25,
    },
}

SMS_EXAMPLE = {"share_per_day": 0.05, "cost_per_message": 0.02, "engagement_probability": 0.1}


def load_docs_example() -> ModuleType:
    """docs/examples/sms_channel.py as a module (docs/ is not a package)."""
    path = ROOT / "docs" / "examples" / "sms_channel.py"
    spec = importlib.util.spec_from_file_location("reachsim_docs_sms_channel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic and dataclasses look a class's module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.parametrize("type_name", sorted({*registry.available(), "page"}))
def test_registered_channel_meets_the_contract(type_name: str) -> None:
    channels = registry.available()
    if type_name not in channels:
        pytest.skip(f"channel type '{type_name}' is not registered yet")
    if type_name not in EXAMPLES:
        pytest.fail(
            f"channel type '{type_name}' is registered but tests/test_contract.py has no example for it: add one "
            "to EXAMPLES (a small scenario entry that delivers, engages, spends and draws random numbers)"
        )
    check_channel(channels[type_name], EXAMPLES[type_name])


def test_docs_example_plugin_meets_the_contract() -> None:
    sms = load_docs_example()
    before = dict(registry.available())
    check_channel(sms.SmsChannel, SMS_EXAMPLE)
    assert registry.available() == before  # check_channel leaves the registry as it found it


def test_docs_example_plugin_runs_in_a_scenario() -> None:
    from reachsim import run_experiment
    from reachsim.scenario.load import scenario_from_dict

    sms = load_docs_example()
    registry.register(sms.SmsChannel)
    try:
        scenario = scenario_from_dict(
            {
                "name": "sms",
                "horizon_days": 20,
                "replications": 2,
                "market": {"size": 1_000},
                "strategies": {
                    "cheap": {"channels": [{"type": "sms", **SMS_EXAMPLE}]},
                    "dearer": {
                        "extends": "cheap",
                        "timeline": [{"day": 10, "channel": "sms", "set": {"cost_per_message": 0.04}}],
                    },
                },
            }
        )
        result = run_experiment(scenario)
    finally:
        registry.unregister("sms")
    assert "sms" not in registry.available()
    summary = result.summary()
    deliveries = summary["strategies"]["cheap"]["channels"]["sms"]["deliveries"]["mean"]
    assert 0.03 * 1_000 * 20 < deliveries < 0.07 * 1_000 * 20
    # Same random numbers in both strategies: the same messages and engagements, only dearer after day 10.
    comparison = summary["comparisons"]["dearer"]
    assert comparison["engagements"] == {"mean": 0.0, "ci95": [0.0, 0.0]}
    assert comparison["total_cost"]["ci95"][0] > 0


# -- the suite catches what it should -----------------------------------------------------------------------------


class GoodParams(ChannelParams):
    """A channel for the tests of the suite itself."""

    type: Literal["toy"] = Field(description="Channel type.")
    probability: float = Field(default=0.5, ge=0, le=1, description="Share of the market reached each day.")


class Toy(Channel):
    type_name: ClassVar[str] = "toy"
    Params: ClassVar[type[ChannelParams]] = GoodParams

    def start(self) -> None:
        self.rng = self.ctx.rng("daily")
        self.ctx.every(self.daily, first=0.0, interval=lambda: 1.0, slot=0)

    def draw(self, n: int) -> np.ndarray:
        return self.rng.random(n)

    def daily(self, t: float) -> None:
        idx = np.flatnonzero(self.draw(self.ctx.population.size) < self.params.probability)  # type: ignore[attr-defined]
        self.ctx.flow("deliveries", idx.size)
        self.ctx.reached(idx)
        self.ctx.cost("messages", 0.01 * idx.size)


def test_a_well_behaved_channel_passes() -> None:
    check_channel(Toy, {"probability": 0.1})
    assert "toy" not in registry.available()


def test_missing_description_is_reported() -> None:
    class UndocumentedParams(ChannelParams):
        """Toy."""

        type: Literal["toy"] = Field(description="Channel type.")
        probability: float = 0.5

    class Undocumented(Toy):
        Params = UndocumentedParams

    with pytest.raises(AssertionError, match=r"probability: add Field\(description"):
        check_channel(Undocumented, {})


def test_type_literal_must_match_type_name() -> None:
    class Renamed(Toy):
        type_name = "other"

    with pytest.raises(AssertionError, match=r"type: Literal\['other'\]"):
        check_channel(Renamed, {})


def test_global_random_state_is_reported() -> None:
    class Global(Toy):
        def draw(self, n: int) -> np.ndarray:
            return np.random.random(n)

    with pytest.raises(AssertionError, match="global random state"):
        check_channel(Global, {"probability": 0.1})


def test_streams_must_depend_on_the_replication() -> None:
    class Fixed(Toy):
        def start(self) -> None:
            super().start()
            self.rng.random()  # touches its stream, then draws from a generator of its own
            self.rng = np.random.default_rng(1)

    with pytest.raises(AssertionError, match="replications 0 and 1 gave identical results"):
        check_channel(Fixed, {"probability": 0.1})


def test_streams_are_named_after_the_channel() -> None:
    class Unnamed(Toy):
        def start(self) -> None:
            super().start()
            self.rng = self.ctx.streams.generator("daily")

    with pytest.raises(AssertionError, match=r"use ctx\.rng"):
        check_channel(Unnamed, {"probability": 0.1})


def test_money_outside_the_ledger_is_reported() -> None:
    class FlowCost(Toy):
        def daily(self, t: float) -> None:
            super().daily(t)
            self.ctx.flow("cost", 1.0)

    with pytest.raises(AssertionError, match=r"book money with ctx.cost\(\)"):
        check_channel(FlowCost, {"probability": 0.1})


def test_undeclared_metrics_are_reported() -> None:
    class Chatty(Toy):
        def daily(self, t: float) -> None:
            super().daily(t)
            self.ctx.flow("surprise", 1.0)

    with pytest.raises(AssertionError, match="records the metric 'surprise' but does not declare it"):
        check_channel(Chatty, {"probability": 0.1})


def test_an_invalid_example_is_reported() -> None:
    with pytest.raises(AssertionError, match="does not validate"):
        check_channel(Toy, {"probability": 2.0})
