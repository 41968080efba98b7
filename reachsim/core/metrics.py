"""Declared metrics: what a daily series means, said once, next to the channel that records it.

A channel (and the strategy level) declares each metric with a kind, a unit, a label and an optional group. The
recorder, the summaries, ``timeseries.csv``, the report's tables and units and its choice of charts all read the
declaration; nothing is guessed from a metric's name.

Kinds and how one run's daily values ``v_d`` summarise into one number:

========  =====================================================  ===============================================
kind      daily value                                            summary over the horizon
========  =====================================================  ===============================================
flow      events counted in [day, day + 1)                       total ``Σ v_d``
stock     level at the day's end                                 value on the last day
mean      mean of the day's values, weighted by a named flow     weighted mean ``Σ v_d·w_d / Σ w_d``
ratio     ``numerator_d / denominator_d`` of two named flows     ratio of totals ``Σ n_d / Σ d_d``
run       (no daily series: a figure of the whole run)           the figure itself
========  =====================================================  ===============================================

A ``mean`` metric is recorded as the *sum* of its values (one value per unit of its weight: the waits of the
contacts answered, say); the recorder divides by the weight's daily flow. A day without weight (nothing answered)
has no value: NaN in the arrays, an empty cell in timeseries.csv, null in JSON, a gap in a chart. Likewise a ratio
on a day whose denominator is 0. Over the horizon a mean is the total of its values over the total weight, never
an average of daily means.

**By hour of the day.** A flow, mean or ratio declared with ``by_hour=True`` also has a profile over the hour of
the day: 24 run-wide bins, hour ``h`` holding what was recorded at times ``t`` (days) with
``floor(24·(t − floor t)) = h`` within the horizon. A flow's bin is its total over the run, so the 24 bins add up to
the total of its daily series; a mean's bin is its sum in that hour over the weight in that hour (the weight must
be declared by hour too), a ratio's the ratio of its two flows' bins; an hour without weight has no value. This is
how a queue's mean wait and service level by hour of arrival are told, over a run of any length. Record events
at their own times with ``ctx.flow_at`` (a day's contacts at their arrival times); ``ctx.flow`` records at the
current time.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "HOURS_PER_DAY",
    "JOINED_BY_SOURCE",
    "UNITS",
    "Kind",
    "Metric",
    "daily_values",
    "flow",
    "hourly_values",
    "mean",
    "ratio",
    "run_figure",
    "stock",
    "unweighted",
]

#: Bins of a profile over the hour of the day.
HOURS_PER_DAY = 24

#: The group of a channel's "joined, by source" flows (one per source, labelled with the source's name); the
#: report stacks them in its "who joined" chart.
JOINED_BY_SOURCE = "joined, by source"

#: Units a metric may declare (the report formats numbers by unit).
UNITS = frozenset(
    {
        "people",  # consumers (audiences, reach, joins)
        "messages",  # deliveries, pushes, posts
        "impressions",  # paid or organic impressions, brand impressions
        "engagements",
        "contacts",  # support contacts
        "currency",  # money in the scenario's currency
        "seconds",
        "minutes",
        "days",
        "share",  # a fraction in [0, 1]
        "number",  # a dimensionless number (frequency, a ratio that is not a share)
    }
)


class Kind(enum.StrEnum):
    FLOW = "flow"
    STOCK = "stock"
    MEAN = "mean"
    RATIO = "ratio"
    RUN = "run"


@dataclass(frozen=True)
class Metric:
    """One declared metric. Build with :func:`flow`, :func:`stock`, :func:`mean`, :func:`ratio`, :func:`run_figure`."""

    name: str
    kind: Kind
    unit: str
    label: str
    group: str | None = None  # e.g. "joined, by source": the report charts a group together
    description: str = ""
    weight: str | None = None  # mean: the flow that weights it
    numerator: str | None = None  # ratio: two flows of the same channel
    denominator: str | None = None
    by_hour: bool = False  # also a profile over the hour of the day (flows, means and ratios)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"metric '{self.name}': unknown unit '{self.unit}'; units: {', '.join(sorted(UNITS))}")
        if (self.kind is Kind.MEAN) != (self.weight is not None):
            raise ValueError(f"metric '{self.name}': a weight is given for, and only for, a mean metric")
        if (self.kind is Kind.RATIO) != (self.numerator is not None and self.denominator is not None):
            raise ValueError(f"metric '{self.name}': numerator and denominator are given for, and only for, a ratio")
        if self.by_hour and self.kind not in (Kind.FLOW, Kind.MEAN, Kind.RATIO):
            raise ValueError(
                f"metric '{self.name}': only a flow, a mean or a ratio has a profile by hour of the day, not a "
                f"{self.kind}"
            )

    @property
    def daily(self) -> bool:
        """Whether the metric has a daily series (every kind but ``run``)."""
        return self.kind is not Kind.RUN

    @property
    def inputs(self) -> tuple[str, ...]:
        """The other metrics of the same channel this one is computed from."""
        if self.kind is Kind.MEAN:
            return (str(self.weight),)
        if self.kind is Kind.RATIO:
            return (str(self.numerator), str(self.denominator))
        return ()

    def summarise(self, series: Mapping[str, np.ndarray]) -> float:
        """One run's figure over the horizon from its channel's daily series (``series[name]`` for this one)."""
        if self.kind is Kind.FLOW:
            return float(series[self.name].sum())
        if self.kind is Kind.STOCK:
            return float(series[self.name][-1])
        if self.kind is Kind.MEAN:  # total of the values over the total weight (days without weight have none)
            weight = series[str(self.weight)]
            total = float(weight.sum())
            sums = np.where(weight != 0, series[self.name] * weight, 0.0)
            return float(sums.sum() / total) if total else float("nan")
        if self.kind is Kind.RATIO:
            den = float(series[str(self.denominator)].sum())
            return float(series[str(self.numerator)].sum()) / den if den else float("nan")
        raise ValueError(f"metric '{self.name}' is a whole-run figure: it has no daily series to summarise")

    def declaration(self) -> dict[str, Any]:
        """The declaration as plain data (summary.json carries it, so a run directory explains itself)."""
        return {
            k: (str(v) if isinstance(v, enum.Enum) else v)
            for k, v in asdict(self).items()
            if not (v is None or v is False or v == "")  # defaults left out: older declarations read the same
        }

    @classmethod
    def from_declaration(cls, data: Mapping[str, Any]) -> Metric:
        return cls(**{**data, "kind": Kind(data["kind"])})


def flow(
    name: str, unit: str, label: str, *, group: str | None = None, description: str = "", by_hour: bool = False
) -> Metric:
    """Events counted per day; summarised as the total. ``by_hour``: also counted by hour of the day."""
    return Metric(name, Kind.FLOW, unit, label, group, description, by_hour=by_hour)


def stock(name: str, unit: str, label: str, *, group: str | None = None, description: str = "") -> Metric:
    """A level read at each day's end; summarised as the last day's value."""
    return Metric(name, Kind.STOCK, unit, label, group, description)


def mean(
    name: str,
    unit: str,
    label: str,
    *,
    weight: str,
    group: str | None = None,
    description: str = "",
    by_hour: bool = False,
) -> Metric:
    """A daily mean weighted by the flow ``weight``; record the sum of the values, one per unit of weight.
    ``by_hour``: also by hour of the day (the weight must be too)."""
    return Metric(name, Kind.MEAN, unit, label, group, description, weight=weight, by_hour=by_hour)


def ratio(
    name: str,
    unit: str,
    label: str,
    *,
    numerator: str,
    denominator: str,
    group: str | None = None,
    description: str = "",
    by_hour: bool = False,
) -> Metric:
    """The ratio of two flows of the same channel, daily and over the horizon (ratio of totals). ``by_hour``: also
    by hour of the day (both flows must be too)."""
    return Metric(
        name, Kind.RATIO, unit, label, group, description, numerator=numerator, denominator=denominator,
        by_hour=by_hour,
    )


def run_figure(name: str, unit: str, label: str, *, group: str | None = None, description: str = "") -> Metric:
    """A figure of the whole run without a daily series (reach at frequency, say), returned by ``finish()``."""
    return Metric(name, Kind.RUN, unit, label, group, description)


def daily_values(metrics: tuple[Metric, ...], raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Published daily series from what was recorded: means divided by their weight, ratios computed (NaN where
    the weight or the denominator is 0)."""
    return _published(metrics, raw)


def hourly_values(metrics: tuple[Metric, ...], raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Published profiles by hour of the day (24 bins each) of the metrics declared ``by_hour``, from the run-wide
    sums recorded per hour: flows as they are, means divided by their weight's bins, ratios computed (NaN where
    the weight or the denominator is 0)."""
    return _published(tuple(m for m in metrics if m.by_hour), raw)


def unweighted(metric: Metric, series: Mapping[str, np.ndarray]) -> np.ndarray:
    """Where a published mean or ratio has no value because its weight or denominator is 0 (for any other kind:
    nowhere). Only there may it be NaN."""
    if metric.kind is Kind.MEAN:
        return np.asarray(series[str(metric.weight)]) == 0
    if metric.kind is Kind.RATIO:
        return np.asarray(series[str(metric.denominator)]) == 0
    return np.zeros(np.shape(series[metric.name]), dtype=bool)


def _published(metrics: tuple[Metric, ...], raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {m.name: raw[m.name] for m in metrics if m.kind in (Kind.FLOW, Kind.STOCK)}
    for m in metrics:
        if m.kind is Kind.MEAN:
            out[m.name] = _divide(raw[m.name], raw[str(m.weight)])
        elif m.kind is Kind.RATIO:
            out[m.name] = _divide(raw[str(m.numerator)], raw[str(m.denominator)])
    return out


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN (no value) where ``den`` is 0."""
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out
