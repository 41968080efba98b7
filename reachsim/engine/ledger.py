"""The append-only money ledger: every cost and value entry of a run, by day, channel and category.

Entries of the run-out after the horizon (the audience's value, see docs/model/audience-value.md) are kept apart:
every total and daily series of the horizon ignores them; :meth:`Ledger.run_out_net` gives them.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Ledger:
    horizon_days: int
    run_out_days: int = 0
    #: (day, channel, category, signed amount: costs negative, values positive), in the order they were booked
    _rows: list[tuple[float, str, str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._end = self.horizon_days + self.run_out_days

    def cost(self, t: float, channel: str, category: str, amount: float) -> None:
        if amount:
            if not 0 <= t < self._end:
                self._outside(t, channel)
            self._rows.append((float(t), channel, category, -float(amount)))

    def value(self, t: float, channel: str, category: str, amount: float) -> None:
        if amount:
            if not 0 <= t < self._end:
                self._outside(t, channel)
            self._rows.append((float(t), channel, category, float(amount)))

    def _outside(self, t: float, channel: str) -> None:
        raise ValueError(f"{channel}: ledger entry at day {t} is outside the run [0, {self._end})")

    def __len__(self) -> int:
        return len(self._rows)

    def entries(self) -> list[tuple[float, str, str, float]]:
        """(day, channel, category, signed amount) within the horizon, in the order they were booked."""
        horizon = self.horizon_days
        return [row for row in self._rows if row[0] < horizon]

    def run_out_net(self, exclude: frozenset[str] = frozenset()) -> np.ndarray:
        """Net value (value − cost) per day of the run-out, days ``horizon_days`` … ``+ run_out_days − 1``, of
        every channel but those in ``exclude``."""
        net = np.zeros(self.run_out_days)
        for t, channel, _, amount in self._rows:
            if t >= self.horizon_days and channel not in exclude:
                net[int(t) - self.horizon_days] += amount
        return net

    def totals(self) -> dict[tuple[str, str], float]:
        """Signed total per (channel, category)."""
        out: dict[tuple[str, str], float] = {}
        for _, channel, category, amount in self.entries():
            out[channel, category] = out.get((channel, category), 0.0) + amount
        return out

    def daily(self, channel: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cost, value) per day, both non-negative, for one channel or all."""
        zeros = np.zeros(self.horizon_days)
        return self.dailies().get(channel, (zeros, zeros.copy()))

    def dailies(self) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
        """:meth:`daily` of all channels (under None) and of each channel that booked within the horizon, in one
        pass over the entries (each day's sums in the order of booking, as :meth:`daily` adds them)."""
        horizon = self.horizon_days
        sums: dict[str | None, tuple[list[float], list[float]]] = {None: ([0.0] * horizon, [0.0] * horizon)}
        every_cost, every_value = sums[None]
        for t, channel, _, amount in self._rows:
            if t >= horizon:
                continue
            mine = sums.get(channel)
            if mine is None:
                mine = sums[channel] = ([0.0] * horizon, [0.0] * horizon)
            day = int(t)
            if amount < 0:
                every_cost[day] -= amount
                mine[0][day] -= amount
            else:
                every_value[day] += amount
                mine[1][day] += amount
        return {key: (np.array(cost), np.array(value)) for key, (cost, value) in sums.items()}
