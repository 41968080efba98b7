"""The market's columns: exact segment counts and usable-data shares, laid out as contiguous classes."""

from __future__ import annotations

import numpy as np
import pytest

from reachsim.channels.acquisition import NeverJoined
from reachsim.engine.population import Population


@pytest.mark.parametrize("size", [1, 7, 1_000, 123_457])
def test_segments_and_usable_data_are_exact_and_contiguous(size: int) -> None:
    shares, data = [0.2, 0.5, 0.3], [0.0, 0.3, 1.0]
    population = Population(size, shares, data)
    counts = np.bincount(population.segment, minlength=3)
    assert counts.sum() == size and np.all(np.abs(counts - np.array(shares) * size) < 1)
    assert np.all(np.diff(population.segment) >= 0)  # each segment one range, in order
    for code, share in enumerate(data):
        usable = population.has_data[population.segment == code]
        assert usable.sum() == round(share * usable.size)
        assert np.all(np.diff(usable.astype(np.int8)) >= 0)  # within a segment, the usable ones last
    assert not population.reached.any()


def test_the_layout_makes_each_class_a_range_so_the_pool_needs_no_sort() -> None:
    population = Population(10_000, [0.25, 0.75], [0.4, 0.1])
    klass = population.segment * np.int16(2) + population.has_data
    pool = NeverJoined(population.size, klass, classes=4)
    assert not pool.rows.stored.any() and not pool.where.stored.any()  # the identity: nothing written
    for c in range(4):
        block = pool.rows[pool.start[c] : pool.start[c] + pool.length[c]]
        assert np.all(klass[block] == c)
    shuffled = np.random.default_rng(5).permutation(klass)  # any other order is sorted into classes
    pool = NeverJoined(population.size, shuffled, classes=4)
    rows = pool.rows[:]
    assert np.all(np.diff(shuffled[rows]) >= 0) and np.array_equal(pool.where[rows], np.arange(10_000))


@pytest.mark.parametrize("shares", [(1.0,), (0.2, 0.8), (0.1, 0.0, 0.3, 0.6)])
def test_segment_counts_are_the_counts_of_each_rows_segment(shares) -> None:
    population = Population(10_007, shares, [0.5] * len(shares))
    rng = np.random.default_rng(3)
    for k in (0, 1, 5_000):
        idx = rng.integers(0, population.size, size=k)  # repeats count each time
        expected = np.bincount(population.segment[idx], minlength=len(shares))
        np.testing.assert_array_equal(population.segment_counts(idx), expected)
