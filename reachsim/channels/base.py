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

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from reachsim.core.metrics import Metric, flow, stock
from reachsim.core.paths import with_path
from reachsim.core.strict import StrictModel
from reachsim.engine.context import ChannelContext, SegmentTable
from reachsim.engine.simulation import FREQUENCY_METRICS

__all__ = [
    "CHANNEL_METRICS",
    "FREQUENCY_METRICS",
    "STANDARD_METRICS",
    "Channel",
    "ChannelContext",
    "ChannelParams",
    "SegmentTable",
    "with_path",
]

#: Daily metrics every channel reports (zeros where they do not apply): the run-directory contract.
STANDARD_METRICS: tuple[Metric, ...] = (
    stock("audience", "people", "audience", description="members of the channel's owned audience at the day's end"),
    flow("joined", "people", "joined", description="people who joined the owned audience"),
    flow("left", "people", "left", description="people who left the owned audience (opt-out, unfollow, uninstall)"),
    flow("deliveries", "messages", "deliveries", description="messages, posts or impressions delivered"),
    flow("reached", "people", "reached", description="people exposed by the channel for the first time"),
    flow("engagements", "engagements", "engagements", description="deliveries engaged with"),
    flow("cost", "currency", "cost", description="every cost the channel booked in the ledger"),
    flow("value", "currency", "value", description="every value the channel booked in the ledger"),
)
#: Names of the standard metrics.
CHANNEL_METRICS = tuple(m.name for m in STANDARD_METRICS)


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

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str | None) -> str | None:
        if name == "all":
            raise ValueError("'all' is reserved for the strategy's totals; give the channel another name")
        return name

    @property
    def channel_name(self) -> str:
        return self.name or self.type


class Channel(ABC):
    type_name: ClassVar[str]
    Params: ClassVar[type[ChannelParams]]
    #: Metrics this channel records besides STANDARD_METRICS (and FREQUENCY_METRICS when it has exposures),
    #: each declared with its kind, unit and label (:mod:`reachsim.core.metrics`).
    metrics: ClassVar[tuple[Metric, ...]] = ()
    #: Bus topics this channel publishes and consumes (reachsim.channels.topics), declared for the report and
    #: the contract suite.
    publishes: ClassVar[tuple[str, ...]] = ()
    #: Whether the channel builds an owned audience. After the horizon (the run-out that values the audiences
    #: built) channels that do not — a support queue, say — go on as they were, but their money is not part of
    #: the audience's value.
    owns_audience: ClassVar[bool] = True
    consumes: ClassVar[tuple[str, ...]] = ()
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

    @classmethod
    def declared_metrics(cls) -> tuple[Metric, ...]:
        """Every metric of this channel: the standard ones, its own, and reach at frequency if it counts exposures."""
        frequency = FREQUENCY_METRICS if cls.exposures is not Channel.exposures else ()
        return (*STANDARD_METRICS, *cls.metrics, *frequency)

    def exposures(self) -> np.ndarray | None:
        """Deliveries per consumer so far (population-indexed), for reach at frequency; None if not tracked."""
        return None

    def exposed(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The consumers delivered to so far (distinct rows) and how many deliveries each had; None if not tracked.

        What the engine reads for reach at frequency. By default taken from :meth:`exposures`; a channel whose
        audience is a small share of the market overrides it, so that the end of a run costs what the audience
        does, not the market."""
        counts = self.exposures()
        if counts is None:
            return None
        counts = np.asarray(counts)
        rows = np.flatnonzero(counts)
        return rows, counts[rows]

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

    @classmethod
    def check_horizon(cls, params: ChannelParams, horizon_days: int) -> list[tuple[str, str]]:
        """Warnings at load time against the scenario's horizon (an activity that would start after it): a list
        of (field path within this channel, message). Unlike the checks above they do not stop the scenario."""
        return []

    def set_param(self, path: str, value: float) -> None:
        """Apply a timeline entry: a validated copy of the parameters with one numeric field changed."""
        self.params = with_path(self.params, path, value)
