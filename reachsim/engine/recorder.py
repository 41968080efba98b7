"""The daily recorder: flows binned by day, stocks sampled at each day's end.

A flow recorded at time t counts in day ``floor(t)``, i.e. in [day, day + 1). A stock is a callable sampled by the
engine once per day, after every event of that day and before any event of the next.
"""

from collections.abc import Callable

import numpy as np


class Recorder:
    def __init__(self, horizon_days: int) -> None:
        self.horizon_days = horizon_days
        self._series: dict[tuple[str, str], np.ndarray] = {}
        self._stocks: list[tuple[str, str, Callable[[], float]]] = []

    def _array(self, channel: str, metric: str) -> np.ndarray:
        key = (channel, metric)
        arr = self._series.get(key)
        if arr is None:
            arr = self._series[key] = np.zeros(self.horizon_days)
        return arr

    def declare(self, channel: str, *metrics: str) -> None:
        """Make series exist (as zeros) even if nothing is recorded, so every run has the same columns."""
        for metric in metrics:
            self._array(channel, metric)

    def flow(self, channel: str, metric: str, t: float, amount: float) -> None:
        day = int(t)
        if 0 <= day < self.horizon_days:
            self._array(channel, metric)[day] += amount

    def stock(self, channel: str, metric: str, read: Callable[[], float]) -> None:
        self._array(channel, metric)
        self._stocks.append((channel, metric, read))

    def end_of_day(self, day: int) -> None:
        for channel, metric, read in self._stocks:
            self._series[channel, metric][day] = read()

    def series(self) -> dict[tuple[str, str], np.ndarray]:
        return self._series
