"""What the engine lends a channel for one run: clock, population, streams, bus, ledger, recorder.

Channels receive a :class:`ChannelContext`; they never reach into the simulation otherwise.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reachsim.engine.clock import Recurring, channel_priority

if TYPE_CHECKING:
    import simpy

    from reachsim.engine.bus import EventBus
    from reachsim.engine.ledger import Ledger
    from reachsim.engine.population import Population
    from reachsim.engine.recorder import Recorder
    from reachsim.engine.streams import Streams


#: From this many rows on, :meth:`ChannelContext.engagement_weights` checks whether they ascend (a pass over them,
#: cheaper than looking many rows up).
ASCENDING_CHECK_ROWS = 4096


@dataclass
class SegmentTable:
    """Per-segment constants as arrays indexed by segment code."""

    names: tuple[str, ...]
    engagement_multiplier: np.ndarray
    value_per_engagement: np.ndarray

    def __post_init__(self) -> None:
        self.multiplier32 = np.asarray(self.engagement_multiplier, dtype=np.float32)
        self.values = [float(v) for v in self.value_per_engagement]  # summed in Python: a few segments


@dataclass
class ChannelContext:
    """Everything the engine lends a channel for one run."""

    name: str
    index: int
    env: simpy.Environment
    population: Population
    segments: SegmentTable
    streams: Streams
    bus: EventBus
    ledger: Ledger
    recorder: Recorder
    horizon_days: int
    #: When the run ends: the horizon plus the run-out in which the audience's value is counted.
    end_days: float = 0.0
    #: True from the horizon on: paid acquisition and paid delivery stop for the run-out (organic activity,
    #: broadcasts, posts, pushes and fixed costs go on as they were).
    paid_stopped: bool = False

    def __post_init__(self) -> None:
        self._flows = self.recorder.sink(self.name)  # this channel's declared flows, by metric
        self._all_flows = self.recorder.sink("all")
        self._money: dict[str, int] = {}  # this channel's ledger keys, by category

    def rng(self, purpose: str) -> np.random.Generator:
        """The random stream ``"<channel name>/<purpose>"`` (same in every strategy that has this channel)."""
        return self.streams.generator(f"{self.name}/{purpose}")

    def every(
        self,
        action: Callable[[float], None],
        *,
        first: float,
        interval: Callable[[], float | None],
        slot: int,
    ) -> None:
        """Run ``action(now)`` at ``first`` and every ``interval()`` days after, in this channel's ``slot``."""
        Recurring(  # holds the channel's methods weakly: the schedule does not keep the channel alive
            self.env,
            action,
            first=first,
            interval=interval,
            priority=channel_priority(self.index, slot),
            until=max(self.end_days, self.horizon_days),
        )

    def flow(self, metric: str, amount: float) -> None:
        """Count ``amount`` of the declared flow (or a mean's sum) now."""
        series = self._flows.get(metric)
        t = self.env._now  # SimPy's clock without its property, which costs a Python call (flows are many)
        if series is None:  # undeclared, or money: the recorder says which
            self.recorder.flow(self.name, metric, t, amount)
            return
        if series.hours is None:  # most flows, by day only: Series.add's two usual cases, inline
            day = int(t)
            if 0 <= day < series.horizon_days:
                series.days[day] += float(amount)
                return
            if day >= series.horizon_days and series.after is not None:  # the run-out, once something came after
                series.after += float(amount)
                return
        series.add(t, amount)

    def flow_at(self, metric: str, times: np.ndarray, amounts: np.ndarray | None = None) -> None:
        """Count events at their own times (days; one each, or ``amounts``), e.g. a day's contacts at their
        arrival times: each lands in its own day and, for a metric declared by hour, its own hour of the day."""
        self.recorder.flow_at(self.name, metric, times, amounts)

    def cost(self, category: str, amount: float) -> None:
        """Book a cost now (the daily ``cost`` series is derived from the ledger)."""
        if amount:
            key = self._money.get(category)
            if key is None:
                key = self._money[category] = self.ledger.key(self.name, category)
            self.ledger.book(self.env._now, key, -float(amount))

    def value(self, category: str, amount: float) -> None:
        """Book a value now (the daily ``value`` series is derived from the ledger)."""
        if amount:
            key = self._money.get(category)
            if key is None:
                key = self._money[category] = self.ledger.key(self.name, category)
            self.ledger.book(self.env._now, key, float(amount))

    def reached(self, idx: np.ndarray) -> None:
        """Consumers exposed by this channel now: counts towards de-duplicated reach across channels."""
        self._all_flows["unique_reach"].add(self.env._now, self.population.mark_reached(idx))

    def engagement_weights(self, idx: np.ndarray, relevance_uplift: float) -> np.ndarray:
        """Engagement multiplier of consumers ``idx`` (float32): their segment's multiplier, times
        (1 + relevance_uplift) for those whose data the brand may use.

        Many rows in ascending order (a range of the market, in pieces) are runs of the population's classes: each
        class's multiplier repeated, the same float32 products without looking each row up."""
        idx = np.asarray(idx)
        multiplier, factor = self.segments.multiplier32, np.float32(1.0 + relevance_uplift)
        if (idx.size >= ASCENDING_CHECK_ROWS and idx[0] >= 0 and idx[-1] < self.population.size
                and bool((idx[1:] >= idx[:-1]).all())):
            classes = self.population.classes
            uplifted = multiplier * factor if relevance_uplift else multiplier
            each = [(uplifted if data else multiplier)[code] for code, data, _ in classes]
            ends = np.searchsorted(idx, [end for _, _, end in classes])
            return np.repeat(np.array(each, dtype=np.float32), np.diff(ends, prepend=0))
        weights = multiplier[self.population.segment[idx]]
        if relevance_uplift:
            np.multiply(weights, factor, out=weights, where=self.population.has_data[idx])
        return weights

    def engagement_value(self, idx: np.ndarray) -> float:
        """Value of one engagement by each of the consumers ``idx`` (a row may repeat), summed by segment."""
        return math.fsum(map(operator.mul, self.population.segment_counts(idx), self.segments.values))
