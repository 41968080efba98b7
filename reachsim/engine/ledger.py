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
    _days: list[float] = field(default_factory=list)
    _channels: list[str] = field(default_factory=list)
    _categories: list[str] = field(default_factory=list)
    _amounts: list[float] = field(default_factory=list)  # costs negative, values positive

    def cost(self, t: float, channel: str, category: str, amount: float) -> None:
        if amount:
            self._append(t, channel, category, -float(amount))

    def value(self, t: float, channel: str, category: str, amount: float) -> None:
        if amount:
            self._append(t, channel, category, float(amount))

    def _append(self, t: float, channel: str, category: str, signed: float) -> None:
        end = self.horizon_days + self.run_out_days
        if not 0 <= t < end:
            raise ValueError(f"{channel}: ledger entry at day {t} is outside the run [0, {end})")
        self._days.append(float(t))
        self._channels.append(channel)
        self._categories.append(category)
        self._amounts.append(signed)

    def __len__(self) -> int:
        return len(self._amounts)

    def entries(self) -> list[tuple[float, str, str, float]]:
        """(day, channel, category, signed amount) within the horizon, in the order they were booked."""
        rows = zip(self._days, self._channels, self._categories, self._amounts, strict=True)
        return [row for row in rows if row[0] < self.horizon_days]

    def run_out_net(self, exclude: frozenset[str] = frozenset()) -> np.ndarray:
        """Net value (value − cost) per day of the run-out, days ``horizon_days`` … ``+ run_out_days − 1``, of
        every channel but those in ``exclude``."""
        net = np.zeros(self.run_out_days)
        for t, channel, amount in zip(self._days, self._channels, self._amounts, strict=True):
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
        cost = np.zeros(self.horizon_days)
        value = np.zeros(self.horizon_days)
        for t, ch, _, amount in self.entries():
            if channel is not None and ch != channel:
                continue
            day = int(t)
            if amount < 0:
                cost[day] -= amount
            else:
                value[day] += amount
        return cost, value
