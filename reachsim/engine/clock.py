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

    ``interval`` is read after each call so a timeline change of the period takes effect at the next occurrence;
    returning None stops the activity.
    """
    if first >= until:
        return
    yield OrderedTimeout(env, first - env.now, priority)
    while True:
        action(env.now)
        step = interval()
        if step is None or env.now + step >= until:
            return
        yield OrderedTimeout(env, step, priority)
