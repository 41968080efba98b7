"""Scalars drawn ahead: one NumPy call for a block of a law's draws, handed out one at a time (a day's count, the
normal of a day's reach), so that a daily event costs no generator call.

Only for draws that depend on no state: drawn ahead or on the day, each is the same independent draw of its law.
The stream must be the draws' own (nothing else may draw from it), and a change of the law's parameters discards
what is left of the block drawn for the old ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class DrawnAhead:
    """Draws of ``draw(*params, size)`` (a bound generator method such as ``rng.poisson``) made ``block`` at a
    time and handed out in turn by :meth:`next`."""

    __slots__ = ("_block", "_draw", "_key", "_left")

    def __init__(self, draw: Callable[..., np.ndarray], block: int) -> None:
        self._draw = draw
        self._block = int(block)
        self._left: list[Any] = []
        self._key: Any = None

    def next(self, *params: Any) -> Any:
        """The next draw for the law's ``params`` (a block drawn for other parameters is discarded)."""
        left = self._left
        if not left or params != self._key:
            self._key = params
            left = self._left = self._draw(*params, self._block).tolist()
            left.reverse()
        return left.pop()
