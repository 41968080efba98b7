"""One run: one strategy of a scenario, one replication, from day 0 to the horizon.

setup (population, channels, processes) → run (SimPy orders every event) → finish (daily series, ledger,
end-of-run metrics). The engine knows no particular channel and imports none: the validated scenario hands it the
class of each channel (``scenario.channel_class(type)``, resolved through the registry by the scenario layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from reachsim.core.metrics import Metric, flow, run_figure, stock
from reachsim.core.paths import with_path
from reachsim.engine.bus import EventBus
from reachsim.engine.clock import BOUNDARY_PRIORITY, Recurring
from reachsim.engine.context import ChannelContext, SegmentTable
from reachsim.engine.ledger import Ledger
from reachsim.engine.population import Population
from reachsim.engine.recorder import Recorder
from reachsim.engine.streams import Streams

#: Exposure thresholds reported as reach at frequency (k+ reach).
FREQUENCY_THRESHOLDS = (1, 2, 3, 5, 10)
#: Strategy-level daily series (channel ``all``).
ALL_METRICS: tuple[Metric, ...] = (
    stock("unique_reach", "people", "unique reach",
          description="people reached at least once by any channel (de-duplicated), cumulative"),
    flow("engagements", "engagements", "engagements", description="engagements, all channels"),
    flow("cost", "currency", "cost", description="every cost in the ledger"),
    flow("value", "currency", "value", description="every value in the ledger"),
)
#: Reach at frequency: figures of the whole run, for each channel that counts exposures and for all channels.
FREQUENCY_METRICS: tuple[Metric, ...] = (
    *(
        run_figure(f"reach_{k}plus", "people", f"reached {k}+ times", group="reach at frequency",
                   description=f"people reached at least {k} time{'s' if k > 1 else ''}")
        for k in FREQUENCY_THRESHOLDS
    ),
    run_figure("average_frequency", "number", "average frequency", description="deliveries per person reached"),
)


@dataclass
class RunResult:
    """What one run returns: small, picklable, enough for every summary."""

    strategy: str
    replication: int
    series: dict[tuple[str, str], np.ndarray]
    final: dict[str, dict[str, float]] = field(default_factory=dict)  # channel → metric → value
    metrics: dict[str, tuple[Metric, ...]] = field(default_factory=dict)  # channel → its declared metrics
    ledger_totals: dict[tuple[str, str], float] = field(default_factory=dict)
    parameters: dict[str, float] = field(default_factory=dict)  # sampled uncertain parameters
    discount_rate: float | None = None  # the rate this replication's NPV uses (sampled when uncertain)
    run_out_net: np.ndarray = field(default_factory=lambda: np.zeros(0))  # net per day after the horizon
    #: Profiles by hour of the day (24 run-wide bins) of the metrics declared by hour (reachsim.core.metrics).
    hours: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    #: Flows' totals in the run-out after the horizon (deliveries, engagements, … of the audience's value).
    run_out_totals: dict[tuple[str, str], float] = field(default_factory=dict)


def build_segments(scenario: Any) -> SegmentTable:
    segs = scenario.market.segments
    return SegmentTable(
        names=tuple(s.name for s in segs),
        engagement_multiplier=np.array([s.engagement_multiplier for s in segs], dtype=np.float64),
        value_per_engagement=np.array([s.value_per_engagement for s in segs], dtype=np.float64),
    )


def build_population(scenario: Any) -> Population:
    """The market, identical in every strategy and replication (its layout carries no chance; see Population)."""
    segs = scenario.market.segments
    return Population(scenario.market.size, [s.share for s in segs], [s.data_available for s in segs])


def reach_at_frequency(exposures: np.ndarray) -> dict[str, float]:
    """k+ reach for the standard thresholds, and the average frequency among those reached."""
    out: dict[str, float] = {}
    for k in FREQUENCY_THRESHOLDS:
        out[f"reach_{k}plus"] = float(np.count_nonzero(exposures >= k))
    reached = out["reach_1plus"]
    out["average_frequency"] = float(exposures.sum(dtype=np.float64) / reached) if reached else 0.0
    return out


def _per_consumer(rows: list[np.ndarray], counts: list[np.ndarray], market: int | None = None) -> np.ndarray:
    """Deliveries per consumer exposed by any channel: the channels' counts added up by consumer, in no
    particular order, with zeros for consumers nobody exposed allowed (reach at frequency only counts them).

    The channel that exposed the most people is the base. If it exposed a fair share of the ``market`` (its size,
    when given), or the others exposed enough people to look up, every channel's counts are added into one column
    of the whole market (a scatter per channel: less than looking anyone up). Otherwise the others' consumers are
    merged among themselves (a few, usually) and then looked up in the base's sorted rows."""
    if not rows:
        return np.zeros(0, dtype=np.uint32)
    if len(rows) == 1:
        return counts[0]
    big = max(range(len(rows)), key=lambda i: rows[i].size)
    looked_up = sum(r.size for i, r in enumerate(rows) if i != big)
    if market is not None and (rows[big].size >= DENSE_BASE_SHARE * market
                               or looked_up >= DENSE_LOOKUP_SHARE * market):
        return _per_consumer_dense(rows, counts, market, big)
    base_rows = np.asarray(rows[big])
    base_counts = np.array(counts[big], dtype=np.uint64)  # a copy: the channel's counts stay as they are
    if base_rows.size > 1 and not bool((base_rows[1:] > base_rows[:-1]).all()):
        order = np.argsort(base_rows)
        base_rows, base_counts = base_rows[order], base_counts[order]
    others = [i for i in range(len(rows)) if i != big]
    other_rows = np.concatenate([rows[i] for i in others])
    other_counts = np.concatenate([counts[i] for i in others]).astype(np.uint64)
    if len(others) > 1:  # distinct rows among the other channels first
        other_rows, inverse = np.unique(other_rows, return_inverse=True)
        other_counts = np.bincount(inverse, weights=other_counts.astype(np.float64)).astype(np.uint64)
    if base_rows.size == 0:  # the largest channel exposed nobody: nor did the others
        return other_counts
    at = np.minimum(np.searchsorted(base_rows, other_rows), base_rows.size - 1)
    shared = base_rows[at] == other_rows
    base_counts[at[shared]] += other_counts[shared]  # distinct positions: the other rows are distinct
    return np.concatenate((base_counts, other_counts[~shared]))


#: Deliveries per consumer are added up in a column of the whole market from this share of it exposed by the largest
#: channel (its rows are copied, not looked up) ...
DENSE_BASE_SHARE = 0.25
#: ... or from this share exposed by the other channels, whose rows are looked up in the base's sorted rows: a look-up
#: costs about as much as 32 rows of the column (made, filled and counted for reach at frequency).
DENSE_LOOKUP_SHARE = 1 / 32


def _per_consumer_dense(rows: list[np.ndarray], counts: list[np.ndarray], market: int, big: int) -> np.ndarray:
    """:func:`_per_consumer` as a column of the whole market (each channel's rows are distinct: one scatter each),
    uint32 unless the sum of the channels' largest counts could overflow it. A channel may keep its counts in any
    numeric type (the contract asks only for non-negative counts): each is cast to the column's."""
    peak = sum(int(c.max()) for c in counts if c.size)
    out = np.zeros(market, dtype=np.uint32 if peak <= np.iinfo(np.uint32).max else np.uint64)
    out[rows[big]] = counts[big]
    for i, (r, c) in enumerate(zip(rows, counts, strict=True)):
        if i != big:
            out[r] += c.astype(out.dtype, copy=False)
    return out


class Simulation:
    def __init__(self, scenario: Any, strategy: str, replication: int) -> None:
        self.scenario = scenario
        self.strategy_name = strategy
        self.replication = replication
        self.horizon = int(scenario.horizon_days)
        audience_value = getattr(scenario, "audience_value", None)
        self.run_out = int(audience_value.run_out_days) if audience_value is not None else 0
        self.env = simpy.Environment()
        self.streams = Streams(scenario.seed, replication)
        self.population = build_population(scenario)
        self.bus = EventBus()
        self.ledger = Ledger(self.horizon, self.run_out)
        self.recorder = Recorder(self.horizon)
        self.recorder.declare("all", ALL_METRICS)
        segments = build_segments(scenario)
        strategy_spec = scenario.strategies[strategy]
        self.channels: list[Any] = []  # channel instances (reachsim.channels.base.Channel)
        for index, params in enumerate(strategy_spec.channels):
            cls = scenario.channel_class(params.type)
            ctx = ChannelContext(
                name=params.channel_name,
                index=index,
                env=self.env,
                population=self.population,
                segments=segments,
                streams=self.streams,
                bus=self.bus,
                ledger=self.ledger,
                recorder=self.recorder,
                horizon_days=self.horizon,
                end_days=self.horizon + self.run_out,
            )
            self.channels.append(cls(params, ctx))
        self.timeline: dict[int, list[tuple[str, str, float]]] = {}
        for entry in strategy_spec.timeline:
            for path, value in entry.set.items():
                self.timeline.setdefault(entry.day, []).append((entry.channel, path, value))

    def _boundary(self, now: float) -> None:
        """At each integer day after 0: record yesterday's stocks, then apply today's timeline entries
        (day 0's are applied before the channels start, so they shape the initial state too)."""
        day = int(now)
        self.recorder.end_of_day(day - 1)
        self._apply_timeline(day)

    def _apply_timeline(self, day: int, *, before_start: bool = False) -> None:
        """Day 0's entries are the parameters the channels start with (set before start(), no change hooks)."""
        entries = self.timeline.get(day)
        if not entries:
            return
        by_name = {ch.name: ch for ch in self.channels}
        for channel, path, value in entries:
            target = by_name[channel]
            if before_start:
                target.params = with_path(target.params, path, value)
            else:
                target.set_param(path, value)

    def run(self) -> RunResult:
        # days 1 … horizon − 1; the boundary's priority puts it before every channel's activity of the same time
        Recurring(
            self.env, self._boundary, first=1.0, interval=_one_day, priority=BOUNDARY_PRIORITY, until=self.horizon
        )
        self._apply_timeline(0, before_start=True)
        for ch in self.channels:
            self.recorder.declare(ch.name, ch.declared_metrics())
            self.recorder.stock(ch.name, "audience", ch.audience)
            ch.start()
        self.env.run(until=self.horizon)
        self.recorder.end_of_day(self.horizon - 1)
        final = self._figures_at_horizon()
        if self.run_out:  # the audience's value: everything goes on but what is paid for
            for ch in self.channels:
                ch.ctx.paid_stopped = True
            self.env.run(until=self.horizon + self.run_out)
        return self._finish(final)

    def _figures_at_horizon(self) -> dict[str, dict[str, float]]:
        """End-of-run figures (each channel's, reach at frequency) as they stand at the horizon."""
        rows: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        final: dict[str, dict[str, float]] = {}
        for ch in self.channels:
            metrics = ch.finish()
            exposed = ch.exposed()
            if exposed is not None:
                rows.append(np.asarray(exposed[0]))
                counts.append(np.asarray(exposed[1]))
                metrics.update(reach_at_frequency(counts[-1]))
            final[ch.name] = metrics
        final["all"] = reach_at_frequency(_per_consumer(rows, counts, self.population.size))
        return final

    def _finish(self, final: dict[str, dict[str, float]]) -> RunResult:
        # Derived series first (money from the ledger, strategy totals), so that declared means and ratios
        # computed from them see the final values.
        record = self.recorder.replace
        money = self.ledger.dailies()
        nothing = np.zeros(self.horizon)
        for name in ("all", *(ch.name for ch in self.channels)):  # the ledger is the single source of money
            cost, value = money.get(None if name == "all" else name, (nothing, nothing))
            record(name, "cost", cost)
            record(name, "value", value)
        raw = self.recorder.raw
        engagements = raw("all", "engagements") + sum(raw(ch.name, "engagements") for ch in self.channels)
        record("all", "engagements", engagements)
        record("all", "unique_reach", np.cumsum(raw("all", "unique_reach")))
        series = dict(self.recorder.series())
        metrics = {"all": (*ALL_METRICS, *FREQUENCY_METRICS)}
        metrics.update((ch.name, ch.declared_metrics()) for ch in self.channels)
        return RunResult(
            strategy=self.strategy_name,
            replication=self.replication,
            series=series,
            final=final,
            metrics=metrics,
            ledger_totals=self.ledger.totals(),
            hours=self.recorder.hours(),
            run_out_totals=self.recorder.after_horizon(),
            run_out_net=self.ledger.run_out_net(
                exclude=frozenset(ch.name for ch in self.channels if not getattr(ch, "owns_audience", True))
            ),
        )


def _one_day() -> float:
    return 1.0


def run_once(scenario: Any, strategy: str, replication: int) -> RunResult:
    return Simulation(scenario, strategy, replication).run()
