"""Ordered timeouts: how same-time events get a fixed, documented order.

SimPy orders events by (time, priority, insertion). Insertion order depends on when each event was scheduled, so
two processes due at the same instant would run in an order that depends on their history. reachsim gives every
recurring activity its own priority instead:

* priority 0 (SimPy's URGENT): the day boundary — yesterday's stocks are recorded, then today's timeline changes
  are applied;
* priority 2 + 64·channel_index + slot: each channel's activities, channels in scenario order, and within a
  channel in the order of its slots (acquisition before broadcasts, and so on).

So at one instant: boundary, then channel 0's activities by slot, then channel 1's, ...
"""

from collections.abc import Callable, Generator

import simpy
from simpy.events import URGENT, Event

SLOTS_PER_CHANNEL = 64
BOUNDARY_PRIORITY = URGENT


class OrderedTimeout(Event):
    """A timeout with an explicit priority (SimPy's own ``Timeout`` always uses NORMAL)."""

    def __init__(self, env: simpy.Environment, delay: float, priority: int) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay)


def channel_priority(channel_index: int, slot: int) -> int:
    if not 0 <= slot < SLOTS_PER_CHANNEL:
        raise ValueError(f"slot must be in [0, {SLOTS_PER_CHANNEL})")
    return 2 + SLOTS_PER_CHANNEL * channel_index + slot


#: Recurring times are snapped to a grid of 2^-20 day (about 0.08 s). Grid times and their differences are exact
#: in floating point, so the n-th occurrence of a period never drifts, never slips past the horizon and never
#: falls a rounding error short of the day it belongs to.
GRID = 2.0**-20


def snap(t: float) -> float:
    return round(t / GRID) * GRID


def repeat(
    env: simpy.Environment,
    action: Callable[[float], None],
    *,
    first: float,
    interval: Callable[[], float | None],
    priority: int,
    until: float,
) -> Generator[Event, None, None]:
    """Process body: call ``action(now)`` at ``first`` and then every ``interval()`` days, before ``until``.

    The n-th occurrence after the last change of period is at ``anchor + n·period`` (on the grid), not a running
    sum, so schedules such as three posts a week land exactly. ``interval`` is read after each call, so a timeline
    change of the period takes effect from the next occurrence; returning None stops the activity.
    """
    anchor = snap(first)
    if anchor >= until:
        return
    yield OrderedTimeout(env, anchor - env.now, priority)
    step, n = interval(), 0
    while True:
        action(env.now)
        new_step = interval()
        if new_step is None:
            return
        if new_step != step:
            anchor, step, n = env.now, new_step, 0
        n += 1
        at = snap(anchor + n * step)
        if at >= until:
            return
        yield OrderedTimeout(env, at - env.now, priority)
