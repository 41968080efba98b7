"""Market-sized arrays that cost nothing until written: each entry stored relative to its starting value.

A consumer-indexed column (who is a member, where a consumer sits in a pool) starts at one value for everyone
and changes only for the people an event touches. Stored as ``value − start``, a fresh column is a zeroed array,
which the operating system hands out without writing it: only the pages where entries change are ever touched,
so a column over ten million consumers costs what happens to the audience, not the market. Reads and writes take
an index array or a slice, like a NumPy array's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Filled", "Identity"]


class _Relative:
    def __init__(self, size: int, dtype: Any) -> None:
        self.stored = np.zeros(int(size), dtype=dtype)

    def _start(self, key: Any) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.stored[key] + self._start(key)

    def __setitem__(self, key: Any, values: Any) -> None:
        self.stored[key] = values - self._start(key)

    def __len__(self) -> int:
        return self.stored.size

    @property
    def size(self) -> int:
        return self.stored.size

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


class Filled(_Relative):
    """An integer array whose every entry starts at ``fill``."""

    def __init__(self, size: int, fill: int, dtype: Any = np.int64) -> None:
        super().__init__(size, dtype)
        self.fill = self.stored.dtype.type(fill)

    def _start(self, key: Any) -> Any:
        return self.fill


class Identity(_Relative):
    """An index array that starts as ``0, 1, …, size − 1`` (a permutation before anything moves)."""

    def _start(self, key: Any) -> Any:
        if isinstance(key, slice):
            return np.arange(*key.indices(self.stored.size), dtype=self.stored.dtype)
        key = np.asarray(key)
        return np.flatnonzero(key) if key.dtype == bool else key
