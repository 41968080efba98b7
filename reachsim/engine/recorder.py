"""The daily recorder: flows binned by day, stocks sampled at each day's end, all by declaration.

A flow recorded at time t counts in day ``floor(t)``, i.e. in [day, day + 1), and, if it is declared by hour of the
day, in the run-wide bin of hour ``floor(24·(t − floor t))`` too. A stock is a callable sampled by the engine once
per day, after every event of that day and before any event of the next. A ``mean`` metric is recorded as the sum
of its values and published divided by its weight; a ``ratio`` is computed from its two flows; where the weight or
denominator is 0 they have no value, NaN (:mod:`reachsim.core.metrics`). Only declared metrics may be recorded.
"""

import math
from collections.abc import Callable, Iterable

import numpy as np

from reachsim.core.metrics import HOURS_PER_DAY, Kind, Metric, daily_values, hourly_values
from reachsim.engine.weak import weak_callable


class UndeclaredMetricError(KeyError):
    """A channel recorded a metric it did not declare."""

    def __str__(self) -> str:
        return str(self.args[0])


class MoneyFlowError(ValueError):
    """A channel recorded money as a flow: money is booked in the ledger, and its series derived from it."""


#: Series derived from the ledger at the end of a run; never recorded as flows.
MONEY = ("cost", "value")


class Series:
    """One recorded daily series while a run goes on: Python floats, added one event at a time.

    A list element and a float addition cost a fraction of a NumPy element's; each sum is the same float64 sum in
    the same order, so the published arrays are the same to the bit.
    """

    __slots__ = ("after", "days", "horizon_days", "hours", "key", "late")

    def __init__(
        self, horizon_days: int, by_hour: bool, key: tuple[str, str], late: dict[tuple[str, str], "Series"]
    ) -> None:
        self.horizon_days = horizon_days
        self.key = key
        self.late = late  # the recorder's series with something after the horizon, in the order it first came
        self.days = [0.0] * horizon_days
        self.hours = [0.0] * HOURS_PER_DAY if by_hour else None  # run-wide sums by hour of the day
        self.after: float | None = None  # the total after the horizon (the run-out), if anything came after it

    def add(self, t: float, amount: float) -> None:
        """``amount`` at time ``t`` (days)."""
        day = int(t)
        if 0 <= day < self.horizon_days:
            amount = float(amount)  # float64 whatever the type, as a NumPy element would add it
            self.days[day] += amount
            if self.hours is not None:
                self.hours[min(int((t - day) * HOURS_PER_DAY), HOURS_PER_DAY - 1)] += amount
        elif day >= self.horizon_days:
            self.add_after(amount)

    def add_after(self, amount: float) -> None:
        if self.after is None:
            self.late[self.key] = self
            self.after = 0.0
        self.after = self.after + float(amount)  # float64, as the days' sums


class Recorder:
    def __init__(self, horizon_days: int) -> None:
        self.horizon_days = horizon_days
        self._raw: dict[tuple[str, str], Series] = {}  # every daily series (money and stocks too)
        self._hours: dict[tuple[str, str], Series] = {}  # the series that have a profile by hour
        self._declared: dict[str, dict[str, Metric]] = {}
        self._stocks: list[tuple[list[float], Callable[[], float]]] = []
        # where a flow goes, for every declared series that is not money: by (channel, metric), and by channel
        self._flows: dict[tuple[str, str], Series] = {}
        self._sinks: dict[str, dict[str, Series]] = {}
        self._late: dict[tuple[str, str], Series] = {}  # flows with something after the horizon (the run-out)

    def declare(self, channel: str, metrics: Iterable[Metric]) -> None:
        """Make every declared daily series (and profile by hour) exist as zeros, so every run has the same
        columns."""
        declared = self._declared.setdefault(channel, {})
        metrics = tuple(metrics)
        for metric in metrics:
            if metric.name in declared:
                raise ValueError(f"channel '{channel}' declares the metric '{metric.name}' twice")
            declared[metric.name] = metric
            key = (channel, metric.name)
            if metric.kind in (Kind.FLOW, Kind.STOCK, Kind.MEAN):
                by_hour = metric.by_hour and metric.kind in (Kind.FLOW, Kind.MEAN)
                self._raw[key] = series = Series(self.horizon_days, by_hour, key, self._late)
                if by_hour:
                    self._hours[key] = series
                if metric.name not in MONEY:
                    self._flows[key] = self.sink(channel)[metric.name] = series
        for metric in metrics:
            if metric.by_hour:
                missing = [name for name in metric.inputs if not getattr(declared.get(name), "by_hour", False)]
                if missing:
                    raise ValueError(
                        f"channel '{channel}': metric '{metric.name}' is declared by hour of the day, so "
                        f"'{missing[0]}' it is computed from must be declared by hour too"
                    )

    def declared(self, channel: str) -> tuple[Metric, ...]:
        return tuple(self._declared.get(channel, {}).values())

    def sink(self, channel: str) -> dict[str, Series]:
        """The flows ``channel`` may record, by metric, filled in as it declares them: a channel's context looks
        its flows up here, one dictionary look-up per event (:meth:`flow` checks and explains a missing one)."""
        return self._sinks.setdefault(channel, {})

    def flow(self, channel: str, metric: str, t: float, amount: float) -> None:
        try:
            series = self._flows[channel, metric]
        except KeyError:
            _not_money(channel, metric)
            raise self._undeclared(channel, metric) from None
        series.add(t, amount)

    def flow_at(self, channel: str, metric: str, times: np.ndarray, amounts: np.ndarray | None = None) -> None:
        """Events at their own times (days): ``amounts`` (one each when None) binned by day and, for a metric
        declared by hour, by hour of the day. Times before day 0 are left out, times after the horizon count only in
        :meth:`after_horizon`."""
        _not_money(channel, metric)
        series = self._series(channel, metric)
        days_of = series.days
        times = np.asarray(times, dtype=float)
        if times.size == 0:
            return
        first, last = float(times.min()), float(times.max())
        weights = None if amounts is None else np.asarray(amounts, dtype=float)
        if last >= self.horizon_days:  # the run-out after the horizon: totals only
            after = times >= self.horizon_days
            total = float(np.count_nonzero(after) if weights is None else weights[after].sum())
            series.add_after(total)
        if last < 0 or first >= self.horizon_days:
            return
        if first >= 0 and last < self.horizon_days and math.floor(first) == math.floor(last):  # one day's events
            day = math.floor(first)
            days_of[day] += float(times.size if weights is None else weights.sum())
            within = times - day
        else:
            days = np.floor(times)
            inside = (days >= 0) & (days < self.horizon_days)
            times, days = times[inside], days[inside]
            weights = None if weights is None else weights[inside]
            added = np.bincount(days.astype(np.int64), weights=weights, minlength=self.horizon_days)
            days_of[:] = (np.array(days_of) + added).tolist()
            within = times - days
        if series.hours is not None:
            added = np.bincount(_hour_bins(within), weights=weights, minlength=HOURS_PER_DAY)
            series.hours[:] = (np.array(series.hours) + added).tolist()

    def stock(self, channel: str, metric: str, read: Callable[[], float]) -> None:
        self._stocks.append((self._series(channel, metric).days, weak_callable(read)))

    def raw(self, channel: str, metric: str) -> np.ndarray:
        """A recorded series as recorded (a mean's sums, before division): a new array."""
        return np.array(self._series(channel, metric).days)

    def replace(self, channel: str, metric: str, values: np.ndarray) -> None:
        """Set a whole recorded series at the end of a run (money from the ledger, cumulative reach)."""
        days = self._series(channel, metric).days
        days[:] = np.broadcast_to(np.asarray(values, dtype=float), (len(days),)).tolist()

    def end_of_day(self, day: int) -> None:
        for days, read in self._stocks:
            days[day] = float(read())

    def series(self) -> dict[tuple[str, str], np.ndarray]:
        """The published daily series of every declared metric, by (channel, metric), in declaration order."""
        out: dict[tuple[str, str], np.ndarray] = {}
        for channel, metrics in self._declared.items():
            names = [name for name in metrics if (channel, name) in self._raw]
            # one array per channel, a row per series: one conversion of Python floats rather than one per series
            rows = np.array([self._raw[channel, name].days for name in names], dtype=np.float64)
            raw = dict(zip(names, rows, strict=True))
            published = daily_values(tuple(metrics.values()), raw)
            for name, metric in metrics.items():
                if metric.daily:
                    out[channel, name] = published[name]
        return out

    def after_horizon(self) -> dict[tuple[str, str], float]:
        """Each flow's total after the horizon (the run-out in which the audience's value is counted), by
        (channel, metric); flows with nothing after it are left out."""
        return {key: series.after for key, series in self._late.items()}

    def hours(self) -> dict[tuple[str, str], np.ndarray]:
        """The published profiles by hour of the day (24 run-wide bins) of every metric declared by hour, by
        (channel, metric), in declaration order."""
        out: dict[tuple[str, str], np.ndarray] = {}
        for channel, metrics in self._declared.items():
            raw = {
                name: np.array(self._hours[channel, name].hours)
                for name in metrics
                if (channel, name) in self._hours
            }
            published = hourly_values(tuple(metrics.values()), raw)
            for name, metric in metrics.items():
                if metric.by_hour:
                    out[channel, name] = published[name]
        return out

    def _series(self, channel: str, metric: str) -> Series:
        try:
            return self._raw[channel, metric]
        except KeyError:
            raise self._undeclared(channel, metric) from None

    @staticmethod
    def _undeclared(channel: str, metric: str) -> UndeclaredMetricError:
        return UndeclaredMetricError(
            f"channel '{channel}' records the metric '{metric}' but does not declare it (Channel.metrics)"
        )


def _not_money(channel: str, metric: str) -> None:
    if metric in MONEY:
        raise MoneyFlowError(
            f"channel '{channel}' recorded '{metric}' with ctx.flow(); book money with ctx.{metric}() so that "
            "the ledger stays the single source of money (the series are derived from it)"
        )


def _hour_bins(within: np.ndarray) -> np.ndarray:
    """Hour bins of times within their day (fractions of a day in [0, 1))."""
    hours = (within * HOURS_PER_DAY).astype(np.int64)
    return np.minimum(hours, HOURS_PER_DAY - 1, out=hours)
