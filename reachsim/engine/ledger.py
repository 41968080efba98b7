"""The append-only money ledger: every cost and value entry of a run, by day, channel and category."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Ledger:
    horizon_days: int
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
        if not 0 <= t < self.horizon_days:
            raise ValueError(f"{channel}: ledger entry at day {t} is outside the horizon [0, {self.horizon_days})")
        self._days.append(float(t))
        self._channels.append(channel)
        self._categories.append(category)
        self._amounts.append(signed)

    def __len__(self) -> int:
        return len(self._amounts)

    def entries(self) -> list[tuple[float, str, str, float]]:
        """(day, channel, category, signed amount) in the order they were booked."""
        return list(zip(self._days, self._channels, self._categories, self._amounts, strict=True))

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
