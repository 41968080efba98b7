"""Same-time order and drift-free schedules."""

from __future__ import annotations

import collections

import pytest
import simpy

from reachsim.engine.clock import BOUNDARY_PRIORITY, OrderedTimeout, Recurring, channel_priority
from reachsim.engine.simulation import Simulation


def occurrences(period, until, first=0.0):
    env = simpy.Environment()
    times: list[float] = []
    Recurring(env, times.append, first=first, interval=lambda: period, priority=2, until=until)
    env.run(until=until)
    return times


@pytest.mark.parametrize(("per_week", "weeks"), [(3, 4), (3, 12), (5, 3), (10, 2), (7, 52)])
def test_n_per_week_gives_exactly_n_per_week(per_week, weeks):
    times = occurrences(7 / per_week, 7 * weeks)
    assert len(times) == per_week * weeks
    per_week_seen = collections.Counter(int(t // 7) for t in times)
    assert set(per_week_seen.values()) == {per_week}


def test_a_tenth_of_a_day_lands_ten_times_in_each_day():
    counts = collections.Counter(int(t) for t in occurrences(0.1, 3))
    assert counts == {0: 10, 1: 10, 2: 10}


def test_nothing_runs_at_or_after_the_horizon():
    assert occurrences(7, 14) == [0.0, 7.0]
    assert occurrences(1, 5, first=5) == []


def test_same_time_events_run_boundary_first_then_channels_in_order_then_slots():
    env = simpy.Environment()
    log: list[str] = []

    def waiter(name, priority, delays):
        for delay in delays:
            yield OrderedTimeout(env, delay, priority)
            log.append(f"{name}@{env.now:g}")

    # started in the "wrong" order on purpose, with different scheduling histories
    env.process(waiter("ch1-slot0", channel_priority(1, 0), [2.0]))
    env.process(waiter("ch0-slot1", channel_priority(0, 1), [1.0, 1.0]))
    env.process(waiter("ch0-slot0", channel_priority(0, 0), [2.0]))
    env.process(waiter("boundary", BOUNDARY_PRIORITY, [0.5, 1.5]))
    env.run()
    at_two = [entry for entry in log if entry.endswith("@2")]
    assert at_two == ["boundary@2", "ch0-slot0@2", "ch0-slot1@2", "ch1-slot0@2"]


def test_day_zero_timeline_sets_what_channels_start_with(scenario_factory):
    messenger = {
        "type": "messenger",
        "initial_subscribers": 100,
        "broadcasts": {"every_days": 7, "first_day": 3},
        "engagement": {"probability": 0.5},
    }
    sc = scenario_factory(
        [messenger],
        size=1_000,
        horizon=10,
        timeline=[{"day": 0, "channel": "messenger", "set": {
            "initial_subscribers": 300, "broadcasts.first_day": 1, "relevance_uplift": 0.5}}],
    )
    series = Simulation(sc, "s", 0).run().series
    assert series["messenger", "audience"][0] == 300
    assert series["messenger", "deliveries"][1] == 300 and series["messenger", "deliveries"][3] == 0
