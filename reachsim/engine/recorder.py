"""The daily recorder: flows binned by day, stocks sampled at each day's end, all by declaration.

A flow recorded at time t counts in day ``floor(t)``, i.e. in [day, day + 1). A stock is a callable sampled by the
engine once per day, after every event of that day and before any event of the next. A ``mean`` metric is recorded
as the sum of its values and published divided by its weight; a ``ratio`` is computed from its two flows
(:mod:`reachsim.core.metrics`). Only declared metrics may be recorded.
"""

from collections.abc import Callable, Iterable

import numpy as np

from reachsim.core.metrics import Kind, Metric, daily_values
from reachsim.engine.weak import weak_callable


class UndeclaredMetricError(KeyError):
    """A channel recorded a metric it did not declare."""

    def __str__(self) -> str:
        return str(self.args[0])


class MoneyFlowError(ValueError):
    """A channel recorded money as a flow: money is booked in the ledger, and its series derived from it."""


#: Series derived from the ledger at the end of a run; never recorded as flows.
MONEY = ("cost", "value")


class Recorder:
    def __init__(self, horizon_days: int) -> None:
        self.horizon_days = horizon_days
        self._raw: dict[tuple[str, str], np.ndarray] = {}
        self._declared: dict[str, dict[str, Metric]] = {}
        self._stocks: list[tuple[np.ndarray, Callable[[], float]]] = []

    def declare(self, channel: str, metrics: Iterable[Metric]) -> None:
        """Make every declared daily series exist (as zeros), so every run has the same columns."""
        declared = self._declared.setdefault(channel, {})
        for metric in metrics:
            if metric.name in declared:
                raise ValueError(f"channel '{channel}' declares the metric '{metric.name}' twice")
            declared[metric.name] = metric
            if metric.kind in (Kind.FLOW, Kind.STOCK, Kind.MEAN):
                self._raw[channel, metric.name] = np.zeros(self.horizon_days)

    def declared(self, channel: str) -> tuple[Metric, ...]:
        return tuple(self._declared.get(channel, {}).values())

    def flow(self, channel: str, metric: str, t: float, amount: float) -> None:
        if metric in MONEY:
            raise MoneyFlowError(
                f"channel '{channel}' recorded '{metric}' with ctx.flow(); book money with ctx.{metric}() so that "
                "the ledger stays the single source of money (the series are derived from it)"
            )
        day = int(t)
        if 0 <= day < self.horizon_days:
            self._series(channel, metric)[day] += amount

    def stock(self, channel: str, metric: str, read: Callable[[], float]) -> None:
        self._stocks.append((self._series(channel, metric), weak_callable(read)))

    def raw(self, channel: str, metric: str) -> np.ndarray:
        """A recorded series as recorded (a mean's sums, before division)."""
        return self._series(channel, metric)

    def replace(self, channel: str, metric: str, values: np.ndarray) -> None:
        """Set a whole recorded series at the end of a run (money from the ledger, cumulative reach)."""
        self._series(channel, metric)[:] = values

    def end_of_day(self, day: int) -> None:
        for series, read in self._stocks:
            series[day] = read()

    def series(self) -> dict[tuple[str, str], np.ndarray]:
        """The published daily series of every declared metric, by (channel, metric), in declaration order."""
        out: dict[tuple[str, str], np.ndarray] = {}
        for channel, metrics in self._declared.items():
            raw = {name: self._raw[channel, name] for name in metrics if (channel, name) in self._raw}
            published = daily_values(tuple(metrics.values()), raw)
            for name, metric in metrics.items():
                if metric.daily:
                    out[channel, name] = published[name]
        return out

    def _series(self, channel: str, metric: str) -> np.ndarray:
        try:
            return self._raw[channel, metric]
        except KeyError:
            raise UndeclaredMetricError(
                f"channel '{channel}' records the metric '{metric}' but does not declare it (Channel.metrics)"
            ) from None
