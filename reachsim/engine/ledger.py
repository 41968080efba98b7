"""The append-only money ledger: every cost and value entry of a run, by day, channel and category.

Entries of the run-out after the horizon (the audience's value, see docs/model/audience-value.md) are kept apart:
every total and daily series of the horizon ignores them; :meth:`Ledger.run_out_net` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Ledger:
    horizon_days: int
    run_out_days: int = 0

    def __post_init__(self) -> None:
        self._end = self.horizon_days + self.run_out_days
        #: every entry as three numbers, in the order they were booked: day, (channel, category) key, signed amount
        #: (costs negative, values positive); one flat list, so an entry is one append and the end of the run one
        #: NumPy array
        self._flat: list[float] = []
        self._keys: list[tuple[str, str]] = []  # (channel, category) by key
        self._codes: dict[tuple[str, str], int] = {}
        self._columns: _Book | None = None

    def key(self, channel: str, category: str) -> int:
        """The key of ``(channel, category)`` for :meth:`book` (a channel's context keeps its own)."""
        code = self._codes.get((channel, category))
        if code is None:
            code = self._codes[channel, category] = len(self._keys)
            self._keys.append((channel, category))
        return code

    def book(self, t: float, key: int, signed: float) -> None:
        """An entry at time ``t`` under ``key`` (:meth:`key`): a cost negative, a value positive, never 0."""
        if not 0 <= t < self._end:
            self._outside(t, self._keys[key][0])
        self._flat += (t, key, signed)

    def cost(self, t: float, channel: str, category: str, amount: float) -> None:
        if amount:
            self.book(t, self.key(channel, category), -float(amount))

    def value(self, t: float, channel: str, category: str, amount: float) -> None:
        if amount:
            self.book(t, self.key(channel, category), float(amount))

    def _outside(self, t: float, channel: str) -> None:
        raise ValueError(f"{channel}: ledger entry at day {t} is outside the run [0, {self._end})")

    def __len__(self) -> int:
        return len(self._flat) // 3

    def entries(self) -> list[tuple[float, str, str, float]]:
        """(day, channel, category, signed amount) within the horizon, in the order they were booked."""
        flat, keys, horizon = self._flat, self._keys, self.horizon_days
        return [
            (float(flat[i]), *keys[flat[i + 1]], flat[i + 2])  # type: ignore[misc]
            for i in range(0, len(flat), 3)
            if flat[i] < horizon
        ]

    def run_out_net(self, exclude: frozenset[str] = frozenset()) -> np.ndarray:
        """Net value (value − cost) per day of the run-out, days ``horizon_days`` … ``+ run_out_days − 1``, of
        every channel but those in ``exclude``."""
        book = self._book()
        after = ~book.inside
        if exclude:
            after &= ~np.isin(book.channel, [book.channels.index(c) for c in exclude if c in book.channels])
        net = np.bincount(book.day[after] - self.horizon_days, weights=book.amount[after], minlength=self.run_out_days)
        return net.astype(np.float64, copy=False)  # bincount of nothing is integer

    def totals(self) -> dict[tuple[str, str], float]:
        """Signed total per (channel, category) over the horizon, in the order each was first booked."""
        book = self._book()
        codes = book.key[book.inside]
        sums = np.bincount(codes, weights=book.amount[book.inside], minlength=len(book.keys)).tolist()
        _, first = np.unique(codes, return_index=True)
        return {book.keys[code]: sums[code] for code in codes[np.sort(first)].tolist()}

    def daily(self, channel: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cost, value) per day, both non-negative, for one channel or all."""
        zeros = np.zeros(self.horizon_days)
        return self.dailies().get(channel, (zeros, zeros.copy()))

    def dailies(self) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
        """:meth:`daily` of all channels (under None) and of each channel that booked within the horizon, in the
        order each first booked (each day's sums in the order of booking, as :meth:`daily` adds them)."""
        book = self._book()
        inside = book.inside
        costs = book.amount < 0  # as booked: a cost is negative, anything else is value
        cost, value = inside & costs, inside & ~costs
        channels = book.channel[inside]
        _, first = np.unique(channels, return_index=True)
        out: dict[str | None, tuple[np.ndarray, np.ndarray]] = {None: (self._days(book, cost), self._days(book, value))}
        for code in channels[np.sort(first)].tolist():
            mine = book.channel == code
            out[book.channels[code]] = (self._days(book, cost & mine), self._days(book, value & mine))
        return out

    def _days(self, book: _Book, rows: np.ndarray) -> np.ndarray:
        """Sum of |amount| of ``rows`` by day of the horizon, each day's in the order of booking (bincount adds its
        weights in order: the same float64 sums as a loop over the entries)."""
        days = np.bincount(book.day[rows], weights=np.abs(book.amount[rows]), minlength=self.horizon_days)
        return days.astype(np.float64, copy=False)  # bincount of nothing is integer

    def _book(self) -> _Book:
        """The entries as columns, made once after the last entry: the end-of-run sums are a few NumPy calls
        rather than a Python loop over thousands of entries each."""
        if self._columns is None or self._columns.size != len(self._flat):
            self._columns = _Book(self._flat, self._keys, self.horizon_days)
        return self._columns


class _Book:
    """The ledger's entries as columns: day, (channel, category) key, channel code, signed amount."""

    def __init__(self, flat: list[float], keys: list[tuple[str, str]], horizon_days: int) -> None:
        self.size = len(flat)
        entries = np.array(flat, dtype=np.float64).reshape(-1, 3)
        self.keys = list(keys)
        self.channels: list[str] = list(dict.fromkeys(channel for channel, _ in keys))
        self.key = entries[:, 1].astype(np.intp)
        channel_of_key = np.array([self.channels.index(channel) for channel, _ in keys], dtype=np.intp)
        self.channel = channel_of_key[self.key]
        time = entries[:, 0]
        self.day = time.astype(np.intp)
        self.inside = time < horizon_days
        self.amount = entries[:, 2]
