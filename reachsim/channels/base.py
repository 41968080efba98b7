"""The channel contract: what a channel plugin provides and what the engine gives it.

A channel is a class with

* ``type_name``: the ``type:`` that selects it in a scenario file;
* ``Params``: a pydantic model (subclass of :class:`ChannelParams`) with ``type: Literal[type_name]``;
* ``start()``: register its state columns and its recurring activities with the engine;
* ``audience()``: its audience now (subscribers, installs, fans; 0 for channels without one);
* optionally ``finish()`` for end-of-run metrics and ``check_strategy()`` for cross-channel validation.

Channels read ``self.params`` at every event, so a timeline entry (which replaces ``self.params``) takes effect
from the next event on. Channels never import each other; they talk over ``ctx.bus``.
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from reachsim.engine.clock import channel_priority, repeat
from reachsim.scenario.base import StrictModel

if TYPE_CHECKING:
    import simpy

    from reachsim.engine.bus import EventBus
    from reachsim.engine.ledger import Ledger
    from reachsim.engine.population import Population
    from reachsim.engine.recorder import Recorder
    from reachsim.engine.streams import Streams

#: Daily metrics every channel reports (zeros where they do not apply).
CHANNEL_METRICS = ("audience", "joined", "left", "deliveries", "reached", "engagements", "cost", "value")


class ChannelParams(StrictModel):
    """Fields every channel accepts."""

    type: str = Field(description="Channel type (selects the plugin).")
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$",
        description="Name of this channel within the strategy; defaults to its type. Timeline entries, "
        "inheritance and results refer to channels by this name.",
    )
    relevance_uplift: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="Relative engagement uplift from targeting data, applied only to consumers whose data is "
        "available (see segments' data_available): probability × (1 + uplift).",
    )

    @property
    def channel_name(self) -> str:
        return self.name or self.type


@dataclass
class SegmentTable:
    """Per-segment constants as arrays indexed by segment code."""

    names: tuple[str, ...]
    engagement_multiplier: np.ndarray
    value_per_engagement: np.ndarray


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
        self.env.process(
            repeat(
                self.env,
                action,
                first=first,
                interval=interval,
                priority=channel_priority(self.index, slot),
                until=self.horizon_days,
            )
        )

    def flow(self, metric: str, amount: float) -> None:
        self.recorder.flow(self.name, metric, self.env.now, amount)

    def cost(self, category: str, amount: float) -> None:
        """Book a cost now (the daily ``cost`` series is derived from the ledger)."""
        self.ledger.cost(self.env.now, self.name, category, amount)

    def value(self, category: str, amount: float) -> None:
        """Book a value now (the daily ``value`` series is derived from the ledger)."""
        self.ledger.value(self.env.now, self.name, category, amount)

    def reached(self, idx: np.ndarray) -> None:
        """Consumers exposed by this channel now: counts towards de-duplicated reach across channels."""
        self.recorder.flow("all", "unique_reach", self.env.now, self.population.mark_reached(idx, self.env.now))

    def engagement_weights(self, idx: np.ndarray, relevance_uplift: float) -> np.ndarray:
        """Engagement multiplier of consumers ``idx``: their segment's multiplier, times (1 + relevance_uplift)
        for those whose data the brand may use."""
        seg = self.segments.engagement_multiplier[self.population.segment[idx]]
        uplift = np.where(self.population.has_data[idx], 1.0 + relevance_uplift, 1.0)
        return (seg * uplift).astype(np.float32)


class Channel(ABC):
    type_name: ClassVar[str]
    Params: ClassVar[type[ChannelParams]]
    #: Extra daily metrics this channel reports besides CHANNEL_METRICS.
    extra_metrics: ClassVar[tuple[str, ...]] = ()
    #: Parameters a timeline may not change, with the reason (e.g. state kept relative to them).
    fixed_parameters: ClassVar[dict[str, str]] = {}

    def __init__(self, params: ChannelParams, ctx: ChannelContext) -> None:
        self.params = params
        self.ctx = ctx

    @property
    def name(self) -> str:
        return self.ctx.name

    @abstractmethod
    def start(self) -> None:
        """Create state columns, subscribe to the bus and schedule recurring activities."""

    def audience(self) -> float:
        return 0.0

    def exposures(self) -> np.ndarray | None:
        """Deliveries per consumer so far (population-indexed), for reach at frequency; None if not tracked."""
        return None

    def finish(self) -> dict[str, float]:
        """End-of-run metrics for the summary (totals come from the daily series; add others here)."""
        return {}

    @classmethod
    def check_strategy(cls, params: ChannelParams, others: Sequence[ChannelParams]) -> list[tuple[str, str]]:
        """Cross-channel checks at load time: a list of (field path within this channel, message)."""
        return []

    @classmethod
    def check_market(cls, params: ChannelParams, market: Any) -> list[tuple[str, str]]:
        """Checks against the scenario's market at load time (segment names, sizes): a list of (field path within
        this channel, message)."""
        return []

    def set_param(self, path: str, value: float) -> None:
        """Apply a timeline entry: a validated copy of the parameters with one numeric field changed."""
        self.params = with_path(self.params, path, value)


def with_path(params: StrictModel, path: str, value: Any) -> Any:
    """A copy of ``params`` with the dotted ``path`` set to ``value``, re-validated (bounds are enforced)."""
    head, _, rest = path.partition(".")
    fields = type(params).model_fields
    if head not in fields:
        from reachsim.scenario.errors import did_you_mean

        raise ValueError(f"unknown parameter '{head}'{did_you_mean(head, fields)}")
    if not rest and not _is_numeric(type(params).model_fields[head].annotation):
        raise ValueError(f"'{head}' is not a numeric parameter")
    if rest:
        inner = getattr(params, head)
        if inner is None:
            raise ValueError(f"'{head}' is not set for this channel; set it in the channel before changing it")
        new_value = with_path(inner, rest, value)
    else:
        new_value = value
    data = params.model_dump(exclude_unset=False, round_trip=True)
    data[head] = new_value.model_dump(round_trip=True) if isinstance(new_value, StrictModel) else new_value
    return type(params).model_validate(data)


def _is_numeric(annotation: Any) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args) and bool not in args
