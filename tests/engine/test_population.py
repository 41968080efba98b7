"""The market's columns: exact segment counts and usable-data shares, laid out as contiguous classes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reachsim.channels.acquisition import NeverJoined
from reachsim.engine.population import Population, UniformRows, sample_rows


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


@pytest.mark.parametrize(("n", "k", "share"), [(400, 3, 0.9), (400, 40, 0.5), (2000, 300, 0.9)])
def test_sample_rows_is_a_uniform_subset_of_the_eligible(n: int, k: int, share: float) -> None:
    """Eligible rows (the first, a middle and the last) are each chosen with probability k/count and a pair with
    k(k − 1)/(count(count − 1)), within 4 standard errors; chosen rows are distinct, eligible and sorted (the list
    path up to FEW_ROWS rows, the array path above)."""
    rng = np.random.default_rng(5)
    draws = 4000
    mask = rng.random(n) < share
    count = int(mask.sum())
    assert k <= 0.25 * count  # the path that draws random rows and keeps the eligible
    eligible = np.flatnonzero(mask)
    watched = eligible[[0, count // 2, count - 1]]
    hits = np.zeros(3, dtype=np.int64)
    pair = 0
    for _ in range(draws):
        rows = sample_rows(mask, count, k, rng)
        assert rows.size == k and np.all(np.diff(rows) > 0) and mask[rows].all()
        seen = np.isin(watched, rows)
        hits += seen
        pair += int(seen[0] and seen[2])
    p = k / count
    assert np.all(np.abs(hits - draws * p) <= 4 * math.sqrt(draws * p * (1 - p)))
    p2 = p * (k - 1) / (count - 1)
    assert abs(pair - draws * p2) <= 4 * math.sqrt(draws * p2 * (1 - p2)) + 1e-9


def test_sample_rows_keeps_the_same_rows_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The list path keeps the rows the array path keeps, from the same draws."""
    import reachsim.engine.population as population

    mask = np.random.default_rng(6).random(10_000) < 0.4
    runs = []
    for few in (population.FEW_ROWS, 0):
        monkeypatch.setattr(population, "FEW_ROWS", few)
        rng = np.random.default_rng(7)
        runs.append([sample_rows(mask, int(mask.sum()), k, rng) for k in (1, 5, 50, 200) for _ in range(20)])
    for rows, again in zip(*runs, strict=True):
        np.testing.assert_array_equal(rows, again)


@pytest.mark.parametrize(("n", "k", "share"), [(400, 3, 0.9), (400, 40, 0.5)])
def test_uniform_rows_sample_a_uniform_subset_of_the_eligible(n: int, k: int, share: float) -> None:
    """UniformRows.sample, day after day from one stream of blocks while the eligible rows change: each watched
    eligible row (the first, a middle and the last) is chosen with probability k/count that day and the first and
    last together with k(k − 1)/(count(count − 1)); the rows come in random order, so the first row is first with
    probability 1/count and the first then the last lead with 1/(count(count − 1)); the totals are within 4
    standard errors of the sums of those probabilities. Chosen rows are distinct and eligible."""
    rng = np.random.default_rng(8)
    rows_of = UniformRows(np.random.default_rng(9), n, block=64)  # small blocks: many refills
    watched = [0, n // 2, n - 1]
    hits = np.zeros(3, dtype=np.int64)
    pair = lead = lead_two = 0
    p_one: list[float] = []
    p_two: list[float] = []
    p_lead: list[float] = []
    p_lead_two: list[float] = []
    for _ in range(4000):
        mask = rng.random(n) < share
        mask[watched] = True
        count = int(mask.sum())
        rows = rows_of.sample(mask, count, k)
        assert rows.size == k and np.unique(rows).size == k and mask[rows].all()
        seen = np.isin(watched, rows)
        hits += seen
        pair += int(seen[0] and seen[2])
        lead += int(rows[0] == watched[0])
        lead_two += int(rows[0] == watched[0] and rows[1] == watched[2])
        p_one.append(k / count)
        p_two.append(k * (k - 1) / (count * (count - 1)))
        p_lead.append(1 / count)
        p_lead_two.append(1 / (count * (count - 1)))
    cases = [*((int(h), p_one) for h in hits), (pair, p_two), (lead, p_lead), (lead_two, p_lead_two)]
    for observed, probabilities in cases:
        p = np.asarray(probabilities)
        assert abs(observed - p.sum()) <= 4 * math.sqrt(float((p * (1 - p)).sum())) + 1e-9


def test_uniform_rows_list_the_eligible_when_they_are_few() -> None:
    """Below 5 % eligible, or more rows wanted than a quarter of them, the rows are chosen from the list."""
    mask = np.zeros(1_000, dtype=bool)
    mask[[3, 500, 999]] = True
    rows = UniformRows(np.random.default_rng(1), mask.size).sample(mask, 3, 3)
    np.testing.assert_array_equal(np.sort(rows), [3, 500, 999])
    assert UniformRows(np.random.default_rng(1), mask.size).sample(mask, 3, 0).size == 0


@pytest.mark.parametrize("share", [0.9, 0.03])  # rows taken in turn, and listed (below 5 % eligible)
def test_uniform_rows_in_turn_are_the_samples_one_by_one(share: float) -> None:
    """Samples drawn in turn in one call are the rows of the same samples drawn one call each, every sample's rows
    leaving the mask before the next (as a day's fans stop being never-fans): with the same stream, the same rows in
    the same order, whichever path each sample takes (a large one is listed)."""
    n = 20_000
    mask = np.random.default_rng(3).random(n) < share
    ks = [5, 300, 0, 12, 80, 3]  # 300 is over FEW_ROWS: listed
    together = UniformRows(np.random.default_rng(4), n, block=64).sample_in_turn(mask, int(mask.sum()), ks)
    one_by_one = UniformRows(np.random.default_rng(4), n, block=64)
    left = mask.copy()
    parts = []
    for k in ks:
        rows = one_by_one.sample(left, int(left.sum()), k)
        left[rows] = False
        parts.append(rows)
    np.testing.assert_array_equal(together, np.concatenate(parts))
    assert np.unique(together).size == sum(ks) and mask[together].all()


def test_mark_reached_counts_the_first_reach_of_each_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether applied whole or in pieces, marking counts the rows not reached before, and marks them."""
    import reachsim.engine.population as population

    rng = np.random.default_rng(4)
    batches = [rng.choice(1_000, size=k, replace=False) for k in (10, 300, 600, 900)]
    for piece in (population.MARK_PIECE, 7):
        monkeypatch.setattr(population, "MARK_PIECE", piece)
        people = Population(1_000, [1.0], [0.5])
        reached = np.zeros(1_000, dtype=bool)
        for idx in batches:
            assert people.mark_reached(idx) == np.count_nonzero(~reached[idx])
            reached[idx] = True
            np.testing.assert_array_equal(people.reached, reached)
        assert people.unique_reach() == np.count_nonzero(reached)


def test_a_few_rows_marked_one_by_one_count_as_the_whole_array_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The row-by-row path for a few rows gives the count and the marks of the array path, repeated rows and rows
    reached before included (every row is read before any is marked, so a repeated new row counts each time)."""
    import reachsim.engine.population as population

    rng = np.random.default_rng(8)
    batches = [rng.integers(0, 50, size=k) for k in (1, 3, 16, 2, 9, 16, 5)]  # repeats and re-reaches likely
    results = []
    for few in (population.FEW_MARKED, 0):
        monkeypatch.setattr(population, "FEW_MARKED", few)
        people = Population(50, [1.0], [0.5])
        dtypes = [np.int32, np.int64] * 4
        counts = [people.mark_reached(idx.astype(dtype)) for idx, dtype in zip(batches, dtypes, strict=False)]
        results.append((counts, people.reached.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert any(np.unique(idx).size < idx.size for idx in batches)  # the case of repeats was met


@pytest.mark.parametrize("block", [7, 4096])
def test_uniform_rows_are_the_first_distinct_eligible_rows_of_the_stream(block: int) -> None:
    """Rows taken in turn are the first distinct eligible ones of the stream's blocks of uniform rows, in the order
    drawn, a block's rest carried over to the next call: the same rows however the blocks are walked."""
    n = 1_000
    mask = np.random.default_rng(5).random(n) < 0.7
    ks = [3, 1, 12, 7, 20, 2]
    sampler = UniformRows(np.random.default_rng(6), n, block=block)
    got = [sampler.sample(mask, int(mask.sum()), k).tolist() for k in ks]
    rng = np.random.default_rng(6)
    stream = iter(())
    expected = []
    for k in ks:
        kept: list[int] = []
        while len(kept) < k:
            row = next(stream, None)
            if row is None:
                stream = iter(rng.integers(0, n, size=block).tolist())
                continue
            if mask[row] and row not in kept:
                kept.append(row)
        expected.append(kept)
    assert got == expected
