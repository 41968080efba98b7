"""The support channel: registration, the scenario contract and its validation, money in the ledger, declared
metrics through the run directory, and the links to marketing over the bus (contacts after engagements; Messenger
support chats opening the messaging window, which makes later broadcasts cheaper).

Statistical checks compare with closed forms within 4 standard errors.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from reachsim import run_experiment
from reachsim.channels import registry, topics
from reachsim.channels.support import METRICS, SupportChannel, SupportParams
from reachsim.engine.simulation import RunResult, Simulation
from reachsim.model.queueing import quantile
from reachsim.results.rundir import write_run_dir
from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.load import scenario_from_dict, with_overrides

ROOT = Path(__file__).resolve().parents[2]
Z = 4.0

#: The scenario example of the design document, verbatim: it must load, and run, with the channels registered.
DESIGN_EXAMPLE = """
name: Messenger push vs app vs page promotion
horizon_days: 730
seed: 7
replications: 20
discount_rate: 0.08          # annual
market:
  size: 200000
  segments:
    - {name: loyal,  share: 0.2, engagement_multiplier: 1.5, value_per_engagement: 0.50}
    - {name: casual, share: 0.8, engagement_multiplier: 1.0, value_per_engagement: 0.10}
baseline: page_only          # strategy the others are compared with
strategies:
  page_only:
    channels:
      - type: page
        initial_fans: 40000
        posts: {every_days: 1}
        organic_reach: 0.06                      # share of fans shown each post
        boost: {budget_per_post: 30, cpm: 9.0, target: market}
        engagement: {probability: 0.02}
        follow_probability: 0.01                 # engaged non-fan becomes a fan
      - type: support
        contacts_per_day: 300
        patience_minutes: 4
        service_level_seconds: 20
        phone: {agents: 8, handle_minutes: 6, cost_per_agent_hour: 28}
    timeline:
      - {day: 180, channel: page, set: {organic_reach: 0.02}}
  messenger_push:
    channels:
      - type: page
        initial_fans: 40000
        posts: {every_days: 1}
        organic_reach: 0.06
        engagement: {probability: 0.02}
        messenger_optin_probability: 0.05        # engaged person subscribes on Messenger
      - type: messenger
        initial_subscribers: 0
        acquisition:
          organic_per_day: 30
          paid: {budget_per_day: 100, cost_per_subscriber: 2.0}
          bass: {p: 0.01, q: 0.3, potential: 0.25}     # p, q per year; potential = share of market
        broadcasts: {every_days: 7}
        engagement:
          probability: 0.25
          novelty: {half_life_days: 120, floor: 0.3}
          fatigue: {half_life_days: 4, strength: 0.4}
        unsubscribe: {probability: 0.004, fatigue_strength: 1.0}
        pricing: {in_window: 0.0, outside_window: 0.0}  # per message; window = 24 h after a user action
        fixed_cost_per_month: 300
      - type: support
        contacts_per_day: 300
        patience_minutes: 4
        service_level_seconds: 20
        phone: {agents: 4, handle_minutes: 6, cost_per_agent_hour: 28}
        messenger: {share: 0.5, bot_containment: 0.35, bot_cost_per_contact: 0.10,
                    agents: 3, concurrency: 2, handle_minutes: 9, cost_per_agent_hour: 24}
    timeline:
      - {day: 365, channel: messenger, set: {pricing.outside_window: 0.01}}
  mobile_app:
    channels:
      - type: app
        build: {cost: 120000, days: 90}
        maintenance: {cost_per_year: 24000}
        os_updates: {every_days: 365, cost: 15000}
        acquisition: {organic_per_day: 20, paid: {budget_per_day: 150, cost_per_install: 3.0}}
        retention: {day_1: 0.26, day_30: 0.07}    # share still installed; Weibull through both points
        push: {optin: 0.5, every_days: 3, engagement: {probability: 0.05}, disable: {probability: 0.003}}
        home_screen: {impressions_per_day: 1.0, value_per_impression: 0.0005}
      - type: support
        contacts_per_day: 300
        patience_minutes: 4
        service_level_seconds: 20
        phone: {agents: 8, handle_minutes: 6, cost_per_agent_hour: 28}
"""


def support(**fields: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "support", "contacts_per_day": 200, "phone": {"agents": 3, "handle_minutes": 5}}
    channel.update(fields)
    return channel


def scenario(
    *channels: dict[str, Any],
    size: int = 5_000,
    horizon: int = 10,
    timeline: list[dict[str, Any]] | None = None,
    strategies: dict[str, Any] | None = None,
) -> Any:
    return scenario_from_dict(
        {
            "name": "support",
            "horizon_days": horizon,
            "seed": 5,
            "market": {"size": size},
            "strategies": strategies or {"s": {"channels": list(channels), "timeline": timeline or []}},
        }
    )


def run(sc: Any, strategy: str = "s", replication: int = 0) -> tuple[RunResult, Simulation]:
    sim = Simulation(sc, strategy, replication)
    return sim.run(), sim


def problems(*channels: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario(*channels, **kwargs)
    return [str(p) for p in info.value.problems]


# -- registration and the scenario contract -----------------------------------------------------------------------


def test_registered_as_builtin() -> None:
    assert registry.get("support") is SupportChannel
    assert registry.BUILTIN["support"] == "reachsim.channels.support:SupportChannel"
    assert SupportChannel.publishes == (topics.MESSENGER_USER_ACTION,)
    assert SupportChannel.consumes == (topics.ENGAGEMENT,)


def test_design_example_loads_and_runs() -> None:
    data = yaml.safe_load(DESIGN_EXAMPLE)
    available = registry.available()
    data["strategies"] = {  # the strategies whose channel types have landed
        name: strategy
        for name, strategy in data["strategies"].items()
        if all(ch["type"] in available for ch in strategy["channels"])
    }
    assert {"page_only", "messenger_push"} <= set(data["strategies"])
    sc = with_overrides(scenario_from_dict(data, name="DESIGN.md"), horizon_days=14, replications=1)
    entry = sc.strategies["messenger_push"].channels[2]
    assert (entry.contacts_per_day, entry.patience_minutes, entry.service_level_seconds) == (300, 4, 20)
    assert (entry.phone.agents, entry.phone.handle_minutes, entry.phone.cost_per_agent_hour) == (4, 6, 28)
    expected = {
        "share": 0.5,
        "bot_containment": 0.35,
        "bot_cost_per_contact": 0.10,
        "agents": 3,
        "concurrency": 2,
        "handle_minutes": 9,
        "cost_per_agent_hour": 24,
    }
    assert {key: getattr(entry.messenger, key) for key in expected} == expected
    for name in sc.strategies:
        result, _ = run(sc, name)
        contacts = result.series["support", "contacts"]
        assert abs(contacts.sum() - 300 * 14) < Z * math.sqrt(300 * 14), name
        answered, abandoned = result.series["support", "answered"], result.series["support", "abandoned"]
        bot = result.series["support", "bot_resolved"]
        np.testing.assert_array_equal(answered + abandoned + bot, contacts)
    assert run(sc, "messenger_push")[0].series["support", "bot_resolved"].sum() > 0


def test_defaults_and_routes() -> None:
    params = SupportParams.model_validate(support())
    assert params.patience_minutes is None and params.messenger is None and params.messenger_share == 0
    assert params.service_level_seconds == 20 and params.contacts_per_engagement == 0
    only_messenger = SupportParams.model_validate(
        support(phone=None, messenger={"share": 1.0, "bot_containment": 1.0, "handle_minutes": 5})
    )
    assert only_messenger.phone is None  # every contact on Messenger and resolved by the bot: no agents needed


def test_invalid_parameters_are_reported_at_their_path() -> None:
    at = "<scenario>: strategies.s.channels[0]."
    assert problems(support(phone=None)) == [
        at + "phone: contacts that do not come over Messenger call: give the phone queue (or messenger.share: 1)"
    ]
    assert problems(support(phone={"agents": [1, 2, 3], "handle_minutes": 5})) == [
        at + "phone.agents: give one number of agents per hour of the day: 24 numbers, not 3"
    ]
    assert problems(support(hour_profile=[1.0] * 23)) == [
        at + "hour_profile: give 24 weights, one per hour of the day, not 23"
    ]
    assert problems(support(weekday_profile=[1, 1, 1, 1, 1, 1, -1])) == [
        at + "weekday_profile: weights must be non-negative with a positive sum"
    ]
    assert problems(support(messenger={"share": 0.5, "handle_minutes": 5})) == [
        at + "messenger.agents: this queue gets contacts but has no agents in any hour"
    ]
    assert problems(support(contacts_per_day=1000, phone={"agents": 2, "handle_minutes": 6})) == [
        at + "phone.agents: 100 hours of work a day against 48 staffed hours: without patience_minutes nobody "
        "abandons and the queue would grow without bound; add agents or set patience_minutes"
    ]
    # With patience the overloaded queue is valid: callers abandon.
    scenario(support(contacts_per_day=1000, patience_minutes=3, phone={"agents": 2, "handle_minutes": 6}))
    typo = problems(support(phone={"agents": 3, "handle_minute": 5}))
    assert at + "phone.handle_minute: unknown key 'handle_minute' (did you mean 'handle_minutes'?)" in typo
    with pytest.raises(ScenarioError, match=r"timeline\[0\].set.phone.agents: .*no agents in any hour"):
        scenario(support(), timeline=[{"day": 3, "channel": "support", "set": {"phone.agents": 0}}])


# -- queues, staffing and money -----------------------------------------------------------------------------------


def test_money_is_booked_by_item() -> None:
    days, rate_phone, rate_chat, fee, telephony, reference = 12, 28.0, 24.0, 0.1, 0.02, 6.0
    hours = [2] * 8 + [6] * 10 + [3] * 6
    channel = support(
        contacts_per_day=400,
        patience_minutes=4,
        phone={
            "agents": hours,
            "handle_minutes": 6,
            "cost_per_agent_hour": rate_phone,
            "telephony_per_minute": telephony,
        },
        messenger={
            "share": 0.5,
            "bot_containment": 0.35,
            "bot_cost_per_contact": fee,
            "agents": 3,
            "concurrency": 2,
            "handle_minutes": 9,
            "cost_per_agent_hour": rate_chat,
        },
        all_phone_cost_per_contact=reference,
    )
    result, sim = run(scenario(channel, horizon=days))
    s = result.series
    totals = result.ledger_totals
    assert totals["support", "phone_agents"] == pytest.approx(-days * sum(hours) * rate_phone)
    assert totals["support", "chat_agents"] == pytest.approx(-days * 3 * 24 * rate_chat)
    assert totals["support", "bot"] == pytest.approx(-fee * s["support", "messenger_contacts"].sum())
    resolved = s["support", "answered"] + s["support", "bot_resolved"]
    np.testing.assert_array_equal(s["support", "resolved"], resolved)
    assert totals["support", "cost_avoided"] == pytest.approx(reference * resolved.sum())
    np.testing.assert_allclose(s["support", "value"], reference * resolved)
    # Telephony: every minute of every call, waiting and talking; the mean handle time is 6 minutes.
    calls = s["support", "phone_contacts"].sum()
    call_minutes = -totals["support", "telephony"] / telephony
    assert call_minutes > 6 * s["support", "phone_answered"].sum() - Z * 6 * math.sqrt(calls)
    # The declared spend is the ledger's cost, day by day; the costs per contact are ratios of flows.
    np.testing.assert_allclose(s["support", "spend"], s["support", "cost"], rtol=1e-12)
    np.testing.assert_allclose(
        s["support", "cost_per_contact"], s["support", "cost"] / s["support", "contacts"], rtol=1e-12
    )
    np.testing.assert_allclose(s["support", "cost_per_resolved"], s["support", "cost"] / resolved, rtol=1e-12)
    # Staffed minutes follow the hours; chat agents count once whatever their concurrency.
    np.testing.assert_allclose(s["support", "phone_staffed_minutes"], sum(hours) * 60)
    np.testing.assert_allclose(s["support", "chat_staffed_minutes"], 3 * 24 * 60)
    assert sim.channels[0]._free["phone"].size == max(hours)
    assert sim.channels[0]._free["chat"].size == 3 * 2


def test_abandoned_contacts_are_booked_at_their_price() -> None:
    """Each abandoned contact costs ``cost_per_abandoned_contact`` (ledger category 'abandoned'), day by day; the
    same contacts cost nothing more without it, and nothing else changes."""
    price, days = 7.5, 8
    base = support(
        contacts_per_day=900,
        patience_minutes=2,
        phone={"agents": 3, "handle_minutes": 6, "cost_per_agent_hour": 20},
        messenger={"share": 0.4, "bot_containment": 0.2, "agents": 1, "concurrency": 2, "handle_minutes": 8},
    )
    priced = {**base, "cost_per_abandoned_contact": price}
    free, _ = run(scenario(base, horizon=days))
    paid, _ = run(scenario(priced, horizon=days))
    abandoned = paid.series["support", "abandoned"]
    assert abandoned.sum() > 100  # short-staffed: the test has something to count
    np.testing.assert_array_equal(abandoned, free.series["support", "abandoned"])
    assert paid.ledger_totals["support", "abandoned"] == pytest.approx(-price * abandoned.sum(), rel=1e-12)
    assert ("support", "abandoned") not in free.ledger_totals
    np.testing.assert_allclose(
        paid.series["support", "cost"] - free.series["support", "cost"], price * abandoned, rtol=1e-12
    )
    np.testing.assert_allclose(paid.series["support", "spend"], paid.series["support", "cost"], rtol=1e-12)


def test_timeline_changes_staffing_from_its_day() -> None:
    channel = support(
        contacts_per_day=600, patience_minutes=3, phone={"agents": 6, "handle_minutes": 6, "cost_per_agent_hour": 10}
    )
    sc = scenario(
        channel,
        horizon=20,
        strategies={
            "steady": {"channels": [channel]},
            "cut": {"channels": [channel], "timeline": [{"day": 10, "channel": "support", "set": {"phone.agents": 3}}]},
        },
    )
    steady, _ = run(sc, "steady")
    cut, sim = run(sc, "cut")
    np.testing.assert_allclose(cut.series["support", "phone_staffed_minutes"], [6 * 1440] * 10 + [3 * 1440] * 10)
    np.testing.assert_allclose(cut.series["support", "cost"], [6 * 240] * 10 + [3 * 240] * 10)
    # Same contacts; the same queue until day 10, then half the agents and many more abandon.
    np.testing.assert_array_equal(steady.series["support", "contacts"], cut.series["support", "contacts"])
    np.testing.assert_array_equal(steady.series["support", "abandoned"][:10], cut.series["support", "abandoned"][:10])
    assert cut.series["support", "abandoned"][10:].sum() > 3 * steady.series["support", "abandoned"][10:].sum()
    assert sim.channels[0]._free["phone"].size == 3


def test_quantile_is_numpys() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 300):
        values = rng.exponential(size=n)
        for q in (0.1, 0.5, 0.9):
            assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), rel=1e-12)


def test_summary_and_run_directory_carry_the_support_metrics(tmp_path: Path) -> None:
    channel = support(
        contacts_per_day=300,
        patience_minutes=4,
        phone={"agents": 3, "handle_minutes": 6, "cost_per_agent_hour": 20},
        messenger={"share": 0.5, "bot_containment": 0.35, "agents": 2, "concurrency": 2, "handle_minutes": 9},
    )
    sc = scenario_from_dict(
        {
            "name": "support",
            "horizon_days": 15,
            "replications": 2,
            "seed": 3,
            "market": {"size": 3_000},
            "strategies": {"s": {"channels": [channel]}},
        }
    )
    result = run_experiment(sc)
    figures = result.summary()["strategies"]["s"]["channels"]["support"]
    per_run = result.channel_metrics("s")["support"]
    runs = result.runs["s"]
    # Means and ratios are not sums of daily values: ratio of totals and answered-weighted mean.
    for i, one in enumerate(runs):
        s = one.series
        assert per_run["service_level"][i] == pytest.approx(
            s["support", "within_target"].sum() / s["support", "queued"].sum()
        )
        weights = s["support", "answered"]
        assert per_run["mean_wait_s"][i] == pytest.approx((s["support", "mean_wait_s"] * weights).sum() / weights.sum())
        assert per_run["cost_per_contact"][i] == pytest.approx(
            s["support", "cost"].sum() / s["support", "contacts"].sum()
        )
        assert 0 < per_run["service_level"][i] < 1
    assert figures["mean_wait_s"]["mean"] < 600  # seconds, a mean over the horizon, not a sum of 15 daily means
    out = write_run_dir(result, tmp_path / "run")
    with open(out / "timeseries.csv", newline="", encoding="utf-8") as f:
        names = {row["metric"] for row in csv.DictReader(f) if row["channel"] == "support"}
    contract = {"contacts", "answered", "abandoned", "bot_resolved", "mean_wait_s", "service_level"}
    assert contract <= names and contract <= set(figures)
    assert {m.name for m in METRICS} <= names


# -- links to marketing over the bus ------------------------------------------------------------------------------


def test_marketing_engagements_bring_contacts_the_next_day() -> None:
    p, engaged, horizon = 0.05, 4_000, 30
    channel = support(contacts_per_day=0, contacts_per_engagement=p, patience_minutes=5)
    sim = Simulation(scenario(channel, size=engaged, horizon=horizon), "s", 0)

    def marketing():  # type: ignore[no-untyped-def]
        """Another channel's engagements: everyone engages at 15:00 every day but the last."""
        for day in range(horizon):
            yield sim.env.timeout(day + 0.625 - sim.env.now)
            sim.bus.publish(topics.ENGAGEMENT, idx=np.arange(engaged), t=sim.env.now, channel="page")

    sim.env.process(marketing())
    series = sim.run().series
    followers = series["support", "engagement_contacts"]
    np.testing.assert_array_equal(followers, series["support", "contacts"])
    assert followers[0] == 0  # the next day
    n = engaged * (horizon - 1)
    assert abs(followers.sum() - p * n) < Z * math.sqrt(n * p * (1 - p))
    assert series["support", "answered"].sum() + series["support", "abandoned"].sum() == followers.sum()


@pytest.mark.parametrize("window_hours", [24, 36])
def test_messenger_support_chats_make_later_broadcasts_cheaper(window_hours: int) -> None:
    """Every consumer subscribes; nobody engages (so only support chats open windows); broadcasts weekly at whole
    days; Messenger support contacts at λ_m a day fall on uniformly random consumers. A subscriber is in the window
    at a broadcast iff they had a Messenger contact in the previous w hours: probability 1 − exp(−λ_m·w/24/N).
    Support is listed first, so a contact published before its time would show up as a window at broadcasts
    earlier than the contact."""
    size, per_day, share, price, horizon = 20_000, 2_000, 0.5, 0.01, 71
    chats = support(
        contacts_per_day=per_day,
        patience_minutes=5,
        phone={"agents": 40, "handle_minutes": 5},
        messenger={"share": share, "bot_containment": 0.5, "agents": 20, "concurrency": 2, "handle_minutes": 9},
    )
    calls = support(contacts_per_day=per_day, patience_minutes=5, phone={"agents": 40, "handle_minutes": 5})
    messenger = {
        "type": "messenger",
        "initial_subscribers": size,
        "broadcasts": {"every_days": 7},
        "engagement": {"probability": 0.0},
        "pricing": {"in_window": 0.0, "outside_window": price, "window_hours": window_hours},
    }
    sc = scenario(
        size=size,
        horizon=horizon,
        strategies={"calls": {"channels": [calls, messenger]}, "chats": {"channels": [chats, messenger]}},
    )
    by_phone, _ = run(sc, "calls")
    by_chat, _ = run(sc, "chats")
    broadcasts = np.flatnonzero(by_chat.series["messenger", "deliveries"])
    assert broadcasts.tolist() == list(range(0, horizon, 7))
    in_window = by_chat.series["messenger", "in_window"][broadcasts[1:]].sum()  # day 0 has no earlier contacts
    q = 1 - math.exp(-per_day * share * window_hours / 24 / size)
    n = size * (broadcasts.size - 1)
    assert abs(in_window - n * q) < Z * math.sqrt(n * q * (1 - q)), (in_window, n * q)
    assert by_phone.series["messenger", "in_window"].sum() == 0
    # Each message in the window is free instead of `price`: the pushes cost that much less.
    paid_with_calls = -by_phone.ledger_totals["messenger", "messages"]  # costs are negative in the ledger
    paid_with_chats = -by_chat.ledger_totals["messenger", "messages"]
    assert paid_with_calls - paid_with_chats == pytest.approx(price * by_chat.series["messenger", "in_window"].sum())
    assert paid_with_chats < paid_with_calls


# -- by hour of the day, and days without contacts -----------------------------------------------------------------

#: Office hours: few contacts at night, most from 8 am to 6 pm.
OFFICE_HOURS = [0.2] * 7 + [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 1.0, 0.6, 0.4, 0.3, 0.2, 0.2]
#: Monday to Friday: nobody calls at the weekend (days 5 and 6 of each week).
WORKING_WEEK = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
HOURLY = ("contacts", "phone_contacts", "bot_resolved", "chat_contacts", "answered", "abandoned", "queued",
          "within_target")


@pytest.fixture(scope="module")
def office_hours(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Phone only against bot first, office-hours load on working days, 3 replications of 3 weeks, written as a
    run directory with its report."""
    from reachsim.report import render_report
    from tests.conftest import build_scenario

    phone = support(
        contacts_per_day=400,
        hour_profile=OFFICE_HOURS,
        weekday_profile=WORKING_WEEK,
        patience_minutes=4,
        phone={"agents": 4, "handle_minutes": 6, "cost_per_agent_hour": 30},
        all_phone_cost_per_contact=5.0,
    )
    bot = {**phone, "phone": {**phone["phone"], "agents": 2},
           "messenger": {"share": 0.5, "bot_containment": 0.3, "bot_cost_per_contact": 0.1, "agents": 1,
                         "concurrency": 2, "handle_minutes": 9}}
    sc = build_scenario({"phone_only": [phone], "bot_first": [bot]}, size=20_000, horizon=21, seed=4, replications=3)
    result = run_experiment(sc)
    folder = write_run_dir(result, tmp_path_factory.mktemp("office") / "run")
    render_report(folder)
    return result, folder


def test_hour_bins_add_up_to_the_daily_totals(office_hours: tuple[Any, Path]) -> None:
    """Each contact counts in its day and in the hour it arrived: over the run, a flow's 24 bins hold what its
    daily series holds, and the hourly mean wait and service level weigh back to the same totals."""
    result, _ = office_hours
    for run_ in (*result.runs["phone_only"], *result.runs["bot_first"]):
        daily, hourly = run_.series, run_.hours
        for metric in HOURLY:
            assert hourly["support", metric].sum() == pytest.approx(daily["support", metric].sum(), rel=1e-12)
        answered_h, answered_d = hourly["support", "answered"], daily["support", "answered"]
        waits_h = np.nansum(hourly["support", "mean_wait_s"] * answered_h)
        waits_d = np.nansum(daily["support", "mean_wait_s"] * answered_d)
        assert waits_h == pytest.approx(waits_d, rel=1e-9)
        assert np.nansum(hourly["support", "service_level"] * hourly["support", "queued"]) == pytest.approx(
            daily["support", "within_target"].sum(), rel=1e-9
        )
        assert hourly["support", "contacts"][:7].sum() < hourly["support", "contacts"][10:17].sum() / 5  # the profile
    phone_only = result.runs["phone_only"][0].hours
    assert phone_only["support", "bot_resolved"].sum() == 0 and phone_only["support", "chat_contacts"].sum() == 0


def test_a_day_without_contacts_has_no_mean_wait_or_service_level(office_hours: tuple[Any, Path]) -> None:
    """At the weekend nobody calls: the mean wait, its 90th percentile, the service level, the abandonment and the
    cost per contact have no value (NaN, an empty cell in timeseries.csv), never 0; the figures over the horizon
    are totals over totals, as if the weekends were not there."""
    from reachsim.results.rundata import read_run_dir
    from reachsim.results.store import identity, read_replication, replication_path

    result, folder = office_hours
    weekend = np.array([day % 7 >= 5 for day in range(21)])
    no_value = ("mean_wait_s", "p90_wait_s", "service_level", "abandonment", "cost_per_contact")
    per_run = result.channel_metrics("phone_only")["support"]
    for i, run_ in enumerate(result.runs["phone_only"]):
        s = run_.series
        assert np.all(s["support", "contacts"][weekend] == 0) and np.all(s["support", "contacts"][~weekend] > 0)
        for metric in no_value:
            assert np.isnan(s["support", metric][weekend]).all() and np.isfinite(s["support", metric][~weekend]).all()
        assert np.all(s["support", "cost"][weekend] > 0)  # agents are paid at the weekend all the same
        answered = s["support", "answered"]
        total = np.nansum(s["support", "mean_wait_s"] * answered) / answered.sum()
        assert per_run["mean_wait_s"][i] == pytest.approx(total, rel=1e-12)
        weekday_means = s["support", "mean_wait_s"][~weekend]
        assert per_run["mean_wait_s"][i] != pytest.approx(weekday_means.mean(), rel=1e-6)  # not a mean of means
        cost, contacts = s["support", "cost"].sum(), s["support", "contacts"].sum()
        assert per_run["cost_per_contact"][i] == pytest.approx(cost / contacts)
    # timeseries.csv: empty cells on the weekend, numbers on working days
    with (folder / "timeseries.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["strategy"] == "phone_only" and r["metric"] == "mean_wait_s"]
    assert [r["mean"] == r["p05"] == r["p95"] == "" for r in rows] == weekend.tolist()
    assert all(float(r["mean"]) > 0 for r in rows if r["mean"])
    # summary.json: a figure without a value in every replication is null (the chat queue of a phone-only run)
    summary = result.summary()["strategies"]
    assert summary["phone_only"]["channels"]["support"]["chat_mean_wait_s"] == {"mean": None, "p05": None,
                                                                                 "p95": None, "n": 0}
    assert summary["bot_first"]["channels"]["support"]["chat_mean_wait_s"]["mean"] > 0
    # the folder reads back (gaps as NaN), and the store keeps the NaNs, so a resumed run sums up the same
    band = read_run_dir(folder).band("phone_only", "support", "mean_wait_s")
    assert band is not None and np.isnan(band.mean[weekend]).all() and np.isfinite(band.mean[~weekend]).all()
    scenario = result.scenario
    stored = read_replication(replication_path(folder, 1), scenario, identity(scenario))["phone_only"]
    original = result.runs["phone_only"][1]
    for key, values in original.series.items():
        np.testing.assert_array_equal(stored.series[key], values)
    for key, values in original.hours.items():
        np.testing.assert_array_equal(stored.hours[key], values)


def test_the_report_charts_the_queues_over_the_day(office_hours: tuple[Any, Path]) -> None:
    """Wait and service level over the hour of the day, and contacts by route, in the report of a support run."""
    from reachsim.report.charts import _hourly_panels
    from reachsim.results.rundata import read_run_dir

    result, folder = office_hours
    assert (folder / "charts" / "hour_of_day.png").stat().st_size > 10_000
    assert 'id="chart-hour_of_day"' in (folder / "report.html").read_text(encoding="utf-8")
    data = read_run_dir(folder)
    panels = {title: set(members) for _, title, members, _ in _hourly_panels(data)}
    assert panels == {
        "support · contacts": {"contacts"},
        "support · mean wait": {"mean_wait_s"},
        "support · service level": {"service_level"},
        "support · abandonment": {"abandonment"},
        "support · contacts by route · phone_only": {"phone_contacts"},  # no bot, no chat: not drawn
        "support · contacts by route · bot_first": {"phone_contacts", "bot_resolved", "chat_contacts"},
    }
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    profile = summary["strategies"]["bot_first"]["hour_of_day"]["support"]["mean_wait_s"]
    assert len(profile["mean"]) == 24 and profile["mean"][12] > 0
    runs = result.runs["bot_first"]
    assert profile["mean"][12] == pytest.approx(np.mean([r.hours["support", "mean_wait_s"][12] for r in runs]))
    declared = summary["metrics"]["channels"]["bot_first"]["support"]
    assert declared["mean_wait_s"]["by_hour"] is True and "by_hour" not in declared["p90_wait_s"]


# -- every marketing channel's engagements bring contacts ------------------------------------------------------------

MESSENGER_PUSH = {"type": "messenger", "initial_subscribers": 8_000, "broadcasts": {"every_days": 2},
                  "engagement": {"probability": 0.1}}
PAGE_POSTS = {"type": "page", "initial_fans": 8_000, "posts": {"every_days": 1}, "organic_reach": 0.3,
              "engagement": {"probability": 0.05}, "boost": {"budget_per_post": 20, "cpm": 10.0, "target": "market"}}


@pytest.mark.parametrize("marketing", [MESSENGER_PUSH, PAGE_POSTS], ids=["messenger", "page"])
def test_engagements_with_messenger_and_page_bring_support_contacts(marketing: dict[str, Any]) -> None:
    """Each engagement (a broadcast or post engaged with; a person may engage with a post twice, once organically
    and once through a boost) is published once; each leads to a contact the next day with probability p, so the
    contacts that follow marketing are Binomial(engagements before the last day, p)."""
    from tests.conftest import build_scenario

    p, horizon = 0.05, 20
    channel = support(contacts_per_day=0, contacts_per_engagement=p, patience_minutes=5)
    sim = Simulation(build_scenario([marketing, channel], size=20_000, horizon=horizon, seed=9), "s", 0)
    published: list[int] = []
    sim.bus.subscribe(topics.ENGAGEMENT, lambda payload: published.append(int(np.asarray(payload["idx"]).size)))
    series = sim.run().series
    engagements = series[marketing["type"], "engagements"]
    assert sum(published) == engagements.sum() > 0  # one entry per engagement
    followers = series["support", "engagement_contacts"]
    np.testing.assert_array_equal(followers, series["support", "contacts"])
    n = engagements[:-1].sum()  # an engagement on the last day has its contact after the horizon
    assert abs(followers.sum() - p * n) < Z * math.sqrt(n * p * (1 - p)), (followers.sum(), p * n)
    assert topics.ENGAGEMENT in registry.available()[marketing["type"]].publishes
