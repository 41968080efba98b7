"""Ordered events: how same-time events get a fixed, documented order, and the recurring activities that use it.

SimPy orders events by (time, priority, insertion). Insertion order depends on when each event was scheduled, so
two processes due at the same instant would run in an order that depends on their history. reachsim gives every
recurring activity its own priority instead:

* priority 0 (SimPy's URGENT): the day boundary — yesterday's stocks are recorded, then today's timeline changes
  are applied;
* priority 2 + 64·channel_index + slot: each channel's activities, channels in scenario order, and within a
  channel in the order of its slots (acquisition before broadcasts, and so on).

So at one instant: boundary, then channel 0's activities by slot, then channel 1's, ...
"""

from collections.abc import Callable

import simpy
from simpy.events import URGENT, Event

from reachsim.engine.weak import weak_parts

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


class Recurring(Event):
    """An activity that recurs: ``action(now)`` at ``first`` and then every ``interval()`` days, before ``until``.

    The n-th occurrence after the last change of period is at ``anchor + n·period`` (on the grid), not a running
    sum, so schedules such as three posts a week land exactly. ``interval`` is read after each call, so a timeline
    change of the period takes effect from the next occurrence; returning None stops the activity.

    One event re-arms itself after each occurrence (its callback runs the action and schedules the next one): no
    process, no generator and no new event per occurrence. Bound methods are held weakly
    (:mod:`reachsim.engine.weak`), their object looked up once per occurrence.
    """

    def __init__(
        self,
        env: simpy.Environment,
        action: Callable[[float], None],
        *,
        first: float,
        interval: Callable[[], float | None],
        priority: int,
        until: float,
    ) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        self._owner, ((self._action, self._action_bound), (self._interval, self._interval_bound)) = weak_parts(
            action, interval
        )
        self._name = getattr(action, "__qualname__", repr(action))
        self._priority = priority
        self._until = until
        self._anchor = snap(first)
        self._step: float | None = None  # the period, read at the first occurrence
        self._n = 0
        # the callbacks of each occurrence; dropped when the activity ends, so that no cycle outlives it
        self._again: list[Callable[[Event], None]] | None = None
        if self._anchor < until:
            self.callbacks = self._again = [self._occur]
            env.schedule(self, priority, _delay(self._anchor - env.now))

    def _occur(self, _: Event) -> None:
        env = self.env
        now = env._now  # SimPy's clock without its property (a Python call): read once per occurrence
        obj = None
        if self._owner is not None:
            obj = self._owner()
            if obj is None:
                raise ReferenceError(f"{self._name} was called after its object was discarded")
        # a method is called as its function with the object first: no bound method made per occurrence
        if self._step is None:
            self._step = self._interval(obj) if self._interval_bound else self._interval()
        if self._action_bound:
            self._action(obj, now)
        else:
            self._action(now)
        step = self._interval(obj) if self._interval_bound else self._interval()
        if step is None:
            self._again = None
            return
        if step != self._step:
            self._anchor, self._step, self._n = now, step, 0
        self._n += 1
        at = round((self._anchor + self._n * step) / GRID) * GRID  # snap(), inline: once per occurrence
        if at >= self._until:
            self._again = None
            return
        if at < now:
            _delay(at - now)  # raises: no activity is scheduled in the past
        self.callbacks = self._again
        env.schedule(self, self._priority, at - now)


def _delay(delay: float) -> float:
    if delay < 0:
        raise ValueError(f"negative delay {delay}: an activity cannot be scheduled in the past")
    return delay
