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
contacts answered, say); the recorder divides by the weight's daily flow. A day without weight has the value 0.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["JOINED_BY_SOURCE", "UNITS", "Kind", "Metric", "flow", "mean", "ratio", "run_figure", "stock"]

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

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"metric '{self.name}': unknown unit '{self.unit}'; units: {', '.join(sorted(UNITS))}")
        if (self.kind is Kind.MEAN) != (self.weight is not None):
            raise ValueError(f"metric '{self.name}': a weight is given for, and only for, a mean metric")
        if (self.kind is Kind.RATIO) != (self.numerator is not None and self.denominator is not None):
            raise ValueError(f"metric '{self.name}': numerator and denominator are given for, and only for, a ratio")

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
        if self.kind is Kind.MEAN:
            weight = series[str(self.weight)]
            total = float(weight.sum())
            return float((series[self.name] * weight).sum() / total) if total else float("nan")
        if self.kind is Kind.RATIO:
            den = float(series[str(self.denominator)].sum())
            return float(series[str(self.numerator)].sum()) / den if den else float("nan")
        raise ValueError(f"metric '{self.name}' is a whole-run figure: it has no daily series to summarise")

    def declaration(self) -> dict[str, Any]:
        """The declaration as plain data (summary.json carries it, so a run directory explains itself)."""
        return {k: (str(v) if isinstance(v, enum.Enum) else v) for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_declaration(cls, data: Mapping[str, Any]) -> Metric:
        return cls(**{**data, "kind": Kind(data["kind"])})


def flow(name: str, unit: str, label: str, *, group: str | None = None, description: str = "") -> Metric:
    """Events counted per day; summarised as the total."""
    return Metric(name, Kind.FLOW, unit, label, group, description)


def stock(name: str, unit: str, label: str, *, group: str | None = None, description: str = "") -> Metric:
    """A level read at each day's end; summarised as the last day's value."""
    return Metric(name, Kind.STOCK, unit, label, group, description)


def mean(
    name: str, unit: str, label: str, *, weight: str, group: str | None = None, description: str = ""
) -> Metric:
    """A daily mean weighted by the flow ``weight``; record the sum of the values, one per unit of weight."""
    return Metric(name, Kind.MEAN, unit, label, group, description, weight=weight)


def ratio(
    name: str,
    unit: str,
    label: str,
    *,
    numerator: str,
    denominator: str,
    group: str | None = None,
    description: str = "",
) -> Metric:
    """The ratio of two flows of the same channel, daily and over the horizon (ratio of totals)."""
    return Metric(name, Kind.RATIO, unit, label, group, description, numerator=numerator, denominator=denominator)


def run_figure(name: str, unit: str, label: str, *, group: str | None = None, description: str = "") -> Metric:
    """A figure of the whole run without a daily series (reach at frequency, say), returned by ``finish()``."""
    return Metric(name, Kind.RUN, unit, label, group, description)


def daily_values(metrics: tuple[Metric, ...], raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Published daily series from what was recorded: means divided by their weight, ratios computed."""
    out = {m.name: raw[m.name] for m in metrics if m.kind in (Kind.FLOW, Kind.STOCK)}
    for m in metrics:
        if m.kind is Kind.MEAN:
            out[m.name] = _divide(raw[m.name], raw[str(m.weight)])
        elif m.kind is Kind.RATIO:
            out[m.name] = _divide(raw[str(m.numerator)], raw[str(m.denominator)])
    return out


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out
