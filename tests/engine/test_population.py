"""The market's segment column: exact counts, every arrangement equally likely (built in pieces)."""

from __future__ import annotations

import math

import numpy as np

from reachsim.engine.population import _arrange

Z = 4.0


def test_pieces_give_exact_counts_and_uniform_positions() -> None:
    counts = np.array([3, 10, 7])  # 20 rows in pieces of 6: the last piece is partial
    size, reps = int(counts.sum()), 6_000
    rng = np.random.default_rng(31)
    seen = np.zeros((counts.size, size))
    for _ in range(reps):
        column = _arrange(counts, rng, piece=6)
        assert (np.bincount(column, minlength=counts.size) == counts).all()
        seen[column, np.arange(size)] += 1
    for code, count in enumerate(counts):  # each position holds each code with probability count / size
        p = count / size
        assert np.all(np.abs(seen[code] - reps * p) <= Z * math.sqrt(reps * p * (1 - p))), (code, seen[code])
    # pairs of positions in different pieces are exchangeable with pairs in one piece: P(both code 0)
    both = np.zeros(2)
    rng = np.random.default_rng(32)
    for _ in range(reps):
        column = _arrange(counts, rng, piece=6)
        both += [column[0] == column[1] == 0, column[0] == column[19] == 0]
    p = 3 / 20 * 2 / 19
    assert np.all(np.abs(both - reps * p) <= Z * math.sqrt(reps * p * (1 - p))), both
