"""Same-time order and drift-free schedules."""

from __future__ import annotations

import collections
import gc
import itertools
import weakref

import pytest
import simpy

from reachsim.engine.clock import BOUNDARY_PRIORITY, OrderedTimeout, Recurring, channel_priority, snap
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


def test_a_change_of_period_counts_from_the_occurrence_that_read_it_and_none_stops():
    """Period 1 until the call at 3 reads 0.5: then 3 + n·0.5 on the grid; the call at 5 reads None: it stops."""
    env = simpy.Environment()
    times: list[float] = []

    def period() -> float | None:
        now = env.now
        return 1.0 if now < 3 else 0.5 if now < 5 else None

    Recurring(env, times.append, first=0.0, interval=period, priority=2, until=100)
    env.run(until=100)
    assert times == [0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0]


def test_a_period_off_the_grid_never_drifts_from_anchor_plus_n_periods():
    period = 1 / 3
    times = occurrences(period, 3000, first=0.7)
    expected = [snap(snap(0.7) + n * period) for n in range(len(times))]
    assert times == expected and times[-1] < 3000 <= snap(snap(0.7) + len(times) * period)


def test_same_time_recurring_activities_run_boundary_first_then_channels_in_order_then_slots():
    """As the timeouts above, for the recurring events that channels and the day boundary use, with different
    periods so that they meet at some instants only."""
    env = simpy.Environment()
    log: list[tuple[float, str]] = []
    started = [  # in the "wrong" order on purpose
        ("ch1-slot0", channel_priority(1, 0), 1.0),
        ("ch0-slot1", channel_priority(0, 1), 0.5),
        ("ch0-slot0", channel_priority(0, 0), 2.0),
        ("boundary", BOUNDARY_PRIORITY, 1.0),
    ]
    for name, priority, period in started:
        Recurring(env, lambda now, name=name: log.append((now, name)), first=0.0, interval=lambda p=period: p,
                  priority=priority, until=6.0)
    env.run(until=6.0)
    for t in (0.0, 2.0, 4.0):
        assert [name for now, name in log if now == t] == ["boundary", "ch0-slot0", "ch0-slot1", "ch1-slot0"]
    assert [name for now, name in log if now == 1.0] == ["boundary", "ch0-slot1", "ch1-slot0"]


class _Activity:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def act(self, now: float) -> None:
        self.calls.append(now)

    def period(self) -> float:
        return 1.0


def test_a_recurring_activity_does_not_keep_its_object_alive():
    env = simpy.Environment()
    activity = _Activity()
    Recurring(env, activity.act, first=0.0, interval=activity.period, priority=2, until=10)
    env.run(until=2.5)
    assert activity.calls == [0.0, 1.0, 2.0]
    watch = weakref.ref(activity)
    del activity
    assert watch() is None  # the schedule held it weakly
    with pytest.raises(ReferenceError, match=r"_Activity\.act was called after its object was discarded"):
        env.run(until=10)


@pytest.mark.parametrize("stop", ["until", "none"])
def test_a_finished_activity_is_freed_without_the_cyclic_collector(stop: str) -> None:
    enabled = gc.isenabled()
    gc.disable()
    try:
        env = simpy.Environment()
        reads = itertools.count()
        interval = (lambda: 1.0) if stop == "until" else (lambda: None if next(reads) >= 3 else 1.0)
        watch = weakref.ref(Recurring(env, lambda now: None, first=0.0, interval=interval, priority=2, until=5))
        env.run(until=10)
        del env, interval
        assert watch() is None
    finally:
        if enabled:
            gc.enable()


def test_an_activity_is_never_scheduled_in_the_past():
    env = simpy.Environment(initial_time=5.0)
    with pytest.raises(ValueError, match="negative delay"):
        Recurring(env, lambda now: None, first=4.0, interval=lambda: 1.0, priority=2, until=10)
    env = simpy.Environment()
    Recurring(env, lambda now: None, first=1.0, interval=lambda: -0.5, priority=2, until=10)
    with pytest.raises(ValueError, match="negative delay"):
        env.run(until=10)
