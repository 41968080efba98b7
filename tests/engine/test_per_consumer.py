"""Deliveries per consumer across channels (the strategy's reach at frequency): the merge of the channels'
exposures must count each consumer once with the sum of their deliveries, whatever the channels' sizes and order."""

from __future__ import annotations

import numpy as np
import pytest

from reachsim.engine.simulation import _per_consumer


def by_consumer(rows: list[np.ndarray], counts: list[np.ndarray]) -> dict[int, int]:
    """The same sum, one consumer at a time."""
    out: dict[int, int] = {}
    for r, c in zip(rows, counts, strict=True):
        for row, count in zip(r.tolist(), c.tolist(), strict=True):
            out[row] = out.get(row, 0) + count
    return out


@pytest.mark.parametrize("market", [None, 100, 1000])  # 100: summed in a column of the market, mostly
@pytest.mark.parametrize("seed", range(40))
def test_sums_each_consumers_deliveries_once(seed: int, market: int | None) -> None:
    rng = np.random.default_rng(seed)
    rows, counts = [], []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.integers(0, 80))
        r = rng.choice(100, n, replace=False).astype(np.int64)
        if rng.random() < 0.7:  # channels usually give their rows ascending; any order must do
            r.sort()
        rows.append(r)
        counts.append(rng.integers(1, 6, n).astype(np.uint32))
    expected = by_consumer(rows, counts)
    got = _per_consumer(rows, counts, market)
    assert sorted(got[got > 0].tolist()) == sorted(expected.values())  # zeros: consumers nobody exposed
    assert int(got.sum()) == sum(int(c.sum()) for c in counts)


@pytest.mark.parametrize("market", [None, 5])
def test_leaves_the_channels_counts_alone(market: int | None) -> None:
    rows = [np.array([0, 2, 4]), np.array([2, 3])]
    counts = [np.array([1, 1, 1], dtype=np.uint64), np.array([5, 5], dtype=np.uint32)]
    got = _per_consumer(rows, counts, market)
    assert sorted(got[got > 0].tolist()) == [1, 1, 5, 6]
    assert counts[0].tolist() == [1, 1, 1]


def test_counts_too_large_for_32_bits_are_summed_in_64() -> None:
    big = np.iinfo(np.uint32).max
    got = _per_consumer([np.array([0, 1]), np.array([1])], [np.array([big, 1], dtype=np.uint32),
                                                            np.array([big], dtype=np.uint32)], 2)
    assert got.tolist() == [big, big + 1]


def test_no_channel_exposed_anyone() -> None:
    empty = np.empty(0, dtype=np.int64)
    assert _per_consumer([empty, empty], [empty.astype(np.uint32)] * 2).size == 0
    assert _per_consumer([], []).size == 0
