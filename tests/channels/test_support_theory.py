"""The support channel, run through the whole engine, against queueing theory.

Each day is one batch: the queues relax within minutes, so days are nearly independent, and a figure over the
horizon is compared with its closed form within 4 standard errors of the day-to-day spread (false-failure rate
~6e-5 per check). Day 0 starts with idle agents and is left out. Sizes are chosen so that a wrong model (a missing
factor, servers miscounted) lands far outside the tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from reachsim import run_experiment
from reachsim.channels import support as support_module
from reachsim.engine.simulation import Simulation
from reachsim.model.queueing import ErlangA, erlang_c, fcfs_queue, mmc_mean_wait, mmc_service_level
from tests.model.queue_reference import simpy_shift_queue

Z = 4.0
PER_HOUR = 90.0  # contacts per hour
HANDLE = 6.0  # minutes: μ = 10 per hour, offered load 9 Erlangs


def support(**fields: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "support", "contacts_per_day": PER_HOUR * 24}
    channel.update(fields)
    return channel


def run(scenario: Any, strategy: str = "s", replication: int = 0) -> dict[tuple[str, str], np.ndarray]:
    return Simulation(scenario, strategy, replication).run().series


def daily_ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio of totals over days 1…, and its standard error from the spread of the daily ratios."""
    num, den = num[1:], den[1:]
    daily = num / den
    return float(num.sum() / den.sum()), float(daily.std(ddof=1) / math.sqrt(daily.size))


def check(observed: tuple[float, float], expected: float, what: str) -> None:
    value, se = observed
    assert abs(value - expected) < Z * se, f"{what}: observed {value:.6g} ± {se:.2g} (SE), expected {expected:.6g}"


@pytest.mark.parametrize("agents", [12, 10])  # utilisation 0.75 and 0.9
def test_phone_queue_without_abandonment_is_erlang_c(scenario_factory, agents: int) -> None:
    lam, mu = PER_HOUR, 60.0 / HANDLE
    target = 20.0
    channel = support(service_level_seconds=target, phone={"agents": agents, "handle_minutes": HANDLE})
    series = run(scenario_factory([channel], size=50_000, horizon=80))
    s = {m: series["support", m] for m in ("answered", "within_target", "queued", "abandoned", "contacts")}
    assert s["abandoned"].sum() == 0 and np.array_equal(s["answered"], s["contacts"])
    wait_sums = series["support", "mean_wait_s"] * s["answered"]
    check(daily_ratio(wait_sums, s["answered"]), float(mmc_mean_wait(lam, mu, agents)) * 3600, "mean wait (s)")
    check(
        daily_ratio(s["within_target"], s["queued"]),
        float(mmc_service_level(lam, mu, agents, target / 3600)),
        "service level",
    )
    busy, staffed = series["support", "busy_agent_minutes"], series["support", "staffed_agent_minutes"]
    check(daily_ratio(busy, staffed), lam / (agents * mu), "occupancy")
    # P(wait): with a target of 0 s the service level is the share answered at once, 1 − C.
    at_once = run(scenario_factory([{**channel, "service_level_seconds": 0}], size=50_000, horizon=80))
    check(
        daily_ratio(at_once["support", "within_target"], at_once["support", "queued"]),
        1 - float(erlang_c(lam, mu, agents)),
        "share answered at once",
    )
    # The 90th percentile of waits, day by day (each day has ~2,000 answered contacts: its sample quantile is
    # nearly unbiased), weighted by answered.
    p90_sums = series["support", "p90_wait_s"] * s["answered"]
    check(
        daily_ratio(p90_sums, s["answered"]),
        ErlangA(lam, mu, agents).answered_wait_quantile(0.9) * 3600,
        "p90 wait (s)",
    )


@pytest.mark.parametrize(("agents", "patience"), [(9, 2.0), (8, 4.0)])  # loads 1.0 and 1.125 per agent
def test_phone_queue_with_patience_is_erlang_a(scenario_factory, agents: int, patience: float) -> None:
    lam, mu = PER_HOUR, 60.0 / HANDLE
    target = 20.0
    channel = support(
        patience_minutes=patience, service_level_seconds=target, phone={"agents": agents, "handle_minutes": HANDLE}
    )
    series = run(scenario_factory([channel], size=50_000, horizon=80))
    theory = ErlangA(lam, mu, agents, 60.0 / patience)
    s = {m: series["support", m] for m in ("answered", "within_target", "queued", "abandoned")}
    check(daily_ratio(s["abandoned"], s["queued"]), theory.p_abandon, "abandonment")
    wait_sums = series["support", "mean_wait_s"] * s["answered"]
    check(daily_ratio(wait_sums, s["answered"]), theory.mean_wait_answered * 3600, "mean wait of answered (s)")
    check(daily_ratio(s["within_target"], s["queued"]), theory.service_level(target / 3600), "service level")
    check(
        daily_ratio(series["support", "busy_agent_minutes"], series["support", "staffed_agent_minutes"]),
        theory.occupancy,
        "occupancy",
    )
    assert 0.02 < theory.p_abandon < 0.5  # the case has abandonment worth testing


def test_chat_agents_with_concurrency_are_c_times_k_servers(scenario_factory) -> None:
    """Assumption: a chat lasts handle_minutes whatever else its agent does, so an agent is k servers. On the same
    random numbers, 4 chat agents × 3 chats at once give exactly the waits of 12 phone agents; both match Erlang C
    with 12 servers."""
    chat = support(
        service_level_seconds=20,
        messenger={"share": 1.0, "bot_containment": 0.0, "agents": 4, "concurrency": 3, "handle_minutes": HANDLE},
    )
    phone = support(service_level_seconds=20, phone={"agents": 12, "handle_minutes": HANDLE})
    sc = scenario_factory({"chat": [chat], "phone": [phone]}, size=50_000, horizon=60)
    by_chat, by_phone = run(sc, "chat"), run(sc, "phone")
    for a, b in (
        ("chat_answered", "phone_answered"),
        ("chat_within_target", "phone_within_target"),
        ("chat_mean_wait_s", "phone_mean_wait_s"),
        ("chat_contacts", "phone_contacts"),
    ):
        np.testing.assert_allclose(by_chat["support", a], by_phone["support", b], rtol=1e-12, err_msg=a)
    assert by_chat["support", "phone_contacts"].sum() == 0
    answered = by_chat["support", "chat_answered"]
    check(
        daily_ratio(by_chat["support", "chat_mean_wait_s"] * answered, answered),
        float(mmc_mean_wait(PER_HOUR, 60 / HANDLE, 12)) * 3600,
        "chat mean wait (s)",
    )
    # Occupancy per agent: busy time counts 1/k per chat, so it is the servers' utilisation a/(c·k).
    check(
        daily_ratio(by_chat["support", "chat_busy_minutes"], by_chat["support", "chat_staffed_minutes"]),
        PER_HOUR / (60 / HANDLE) / 12,
        "chat occupancy",
    )


def test_routing_and_bot_containment_are_binomial(scenario_factory) -> None:
    share, containment = 0.4, 0.35
    channel = support(
        phone={"agents": 20, "handle_minutes": HANDLE},
        messenger={"share": share, "bot_containment": containment, "agents": 10, "concurrency": 2, "handle_minutes": 9},
    )
    s = run(scenario_factory([channel], size=50_000, horizon=40))
    contacts = s["support", "contacts"].sum()
    messenger = s["support", "messenger_contacts"].sum()
    bot = s["support", "bot_resolved"].sum()
    chat = s["support", "chat_contacts"].sum()
    assert abs(messenger - share * contacts) < Z * math.sqrt(contacts * share * (1 - share))
    assert abs(bot - containment * messenger) < Z * math.sqrt(messenger * containment * (1 - containment))
    # Escalated load: the rest of the Messenger contacts, (1 − c) of them, go to the chat agents.
    assert chat == messenger - bot
    assert s["support", "phone_contacts"].sum() == contacts - messenger


def test_contacts_are_poisson_per_day(scenario_factory) -> None:
    rate, days = 40.0, 2_000
    channel = support(contacts_per_day=rate, phone={"agents": 2, "handle_minutes": 5})
    counts = run(scenario_factory([channel], size=10_000, horizon=days))["support", "contacts"]
    assert abs(counts.mean() - rate) < Z * math.sqrt(rate / days)
    # Dispersion: a Poisson count's variance equals its mean (SE of the sample variance ≈ λ·√(2/(n−1))).
    assert abs(counts.var(ddof=1) - rate) < Z * rate * math.sqrt(2 / (days - 1))


def test_weekday_profile_scales_each_day(scenario_factory) -> None:
    rate, weeks = 60.0, 300
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.5, 0.4, 0.1])
    channel = support(contacts_per_day=rate, weekday_profile=weights.tolist(), phone={"agents": 2, "handle_minutes": 5})
    counts = run(scenario_factory([channel], size=10_000, horizon=7 * weeks))["support", "contacts"]
    expected = rate * weights / weights.mean()
    by_weekday = counts.reshape(weeks, 7).mean(axis=0)
    assert np.all(np.abs(by_weekday - expected) < Z * np.sqrt(expected / weeks)), (by_weekday, expected)


def test_the_channel_queue_is_the_reference_queue_over_midnights(scenario_factory, monkeypatch) -> None:
    """Every contact of every day, through the channel's fast path with hourly shifts and patience, gets the wait
    and outcome of the SimPy reference run on the whole horizon at once (so the carry-over at midnight is exact)."""
    calls: list[dict[str, Any]] = []

    def recording(arrivals, service, patience, free_at, *, staffing=None):  # type: ignore[no-untyped-def]
        out = fcfs_queue(arrivals, service, patience, free_at, staffing=staffing)
        calls.append(
            {
                "arrivals": np.array(arrivals),
                "service": np.array(service),
                "patience": np.array(patience),
                "out": out,
                "staffing": staffing,
            }
        )
        return out

    monkeypatch.setattr(support_module, "fcfs_queue", recording)
    staffing = [1] * 7 + [3, 5, 6, 6, 6, 5, 5, 6, 6, 5, 4, 3, 3, 2, 2, 1, 1]
    hours = [0.2] * 7 + [1, 2, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 1, 1, 0.6, 0.4, 0.3]
    channel = support(
        contacts_per_day=600,
        hour_profile=hours,
        patience_minutes=5,
        phone={"agents": staffing, "handle_minutes": HANDLE},
    )
    series = run(scenario_factory([channel], size=10_000, horizon=6))
    assert len(calls) == 6 and all(c["staffing"] == staffing for c in calls)
    arrivals = np.concatenate([c["arrivals"] for c in calls])
    waits, answered = simpy_shift_queue(
        arrivals,
        np.concatenate([c["service"] for c in calls]),
        np.concatenate([c["patience"] for c in calls]),
        staffing,
    )
    np.testing.assert_array_equal(np.concatenate([c["out"].answered for c in calls]), answered)
    np.testing.assert_allclose(np.concatenate([c["out"].waits for c in calls]), waits, rtol=1e-9, atol=1e-9)
    assert series["support", "abandoned"].sum() == (~answered).sum() > 0
    assert series["support", "answered"].sum() == answered.sum()


def test_a_contact_keeps_its_draws_whatever_the_route(scenario_factory) -> None:
    """Common random numbers: the same contacts (times, consumers, handle times, patience) in every strategy, so
    two staffing levels are compared on the same days."""
    lean = support(patience_minutes=3, phone={"agents": 9, "handle_minutes": HANDLE})
    rich = support(patience_minutes=3, phone={"agents": 11, "handle_minutes": HANDLE})
    sc = scenario_factory({"lean": [lean], "rich": [rich]}, size=20_000, horizon=20)
    a, b = run(sc, "lean"), run(sc, "rich")
    np.testing.assert_array_equal(a["support", "contacts"], b["support", "contacts"])
    assert a["support", "abandoned"].sum() > b["support", "abandoned"].sum()


def test_mean_wait_and_service_level_by_hour_follow_the_load(scenario_factory) -> None:
    """A load that steps between two levels over the day (hour_profile: 150 contacts an hour from midnight to noon,
    240 from noon to midnight; 5 agents, 1-minute calls: utilisation 0.5 and 0.8). The queue relaxes within
    minutes (about 1/(cμ(1 − √ρ)²) ≈ 18 min at 0.8), so from 3 hours into each level on it is in the steady state
    of that level, and the hourly mean wait and service level of those hours are Erlang C's for that level's rate:
    a step of about ten times in the mean wait. (The hours right after each step are in between: the evening's
    backlog drains after midnight, the queue builds after noon; they have no closed form and are not checked.)
    Batches are replications (each hour's run-wide figure); tolerance: Student t with R − 1 degrees of freedom at
    the two-sided 6e-5 of 4 normal SE."""
    from scipy import stats

    low, high, agents, mu, target, replications = 150.0, 240.0, 5, 60.0, 20.0, 16
    channel = support(
        contacts_per_day=12 * low + 12 * high,
        hour_profile=[low] * 12 + [high] * 12,
        service_level_seconds=target,
        phone={"agents": agents, "handle_minutes": 60.0 / mu},
    )
    result = run_experiment(scenario_factory([channel], size=50_000, horizon=15, seed=3, replications=replications))
    runs = result.runs["s"]
    wait = np.stack([r.hours["support", "mean_wait_s"] for r in runs])
    level = np.stack([r.hours["support", "service_level"] for r in runs])
    t = stats.t.ppf(1 - 3e-5, replications - 1)
    for rate, steady in ((low, np.arange(3, 12)), (high, np.arange(15, 24))):
        for observed, expected, what in (
            (wait, float(mmc_mean_wait(rate, mu, agents)) * 3600, "mean wait (s)"),
            (level, float(mmc_service_level(rate, mu, agents, target / 3600)), "service level"),
        ):
            per_run = observed[:, steady].mean(axis=1)  # each replication's steady hours
            se = per_run.std(ddof=1) / math.sqrt(replications)
            assert abs(per_run.mean() - expected) < t * se, (what, rate, per_run.mean(), se, expected)
    quiet, busy = float(mmc_mean_wait(low, mu, agents)) * 3600, float(mmc_mean_wait(high, mu, agents)) * 3600
    assert busy > 8 * quiet  # the shape: a step of about ten times
    mean_wait = wait.mean(axis=0)
    # summary.json carries the same profile, averaged over replications.
    profile = result.summary()["strategies"]["s"]["hour_of_day"]["support"]["mean_wait_s"]
    np.testing.assert_allclose(profile["mean"], mean_wait, rtol=1e-12)
