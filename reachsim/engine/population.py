"""The consumers of the market as NumPy columns (struct of arrays), one row per consumer.

The population holds what every channel shares: each consumer's segment, whether the brand may use their data,
and whether any channel has reached them (for de-duplicated reach). Channels keep their own columns.
"""

from collections.abc import Iterator, Sequence

import numpy as np

#: Rows per piece of :meth:`Population.mark_reached`.
MARK_PIECE = 1 << 18
#: Up to this many rows :meth:`Population.mark_reached` marks them one by one.
FEW_MARKED = 16


def exact_counts(shares: Sequence[float], total: int) -> np.ndarray:
    """Split ``total`` by ``shares`` into integers summing to ``total`` (largest remainders, ties by order)."""
    raw = np.asarray(shares, dtype=float) * total
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


class Population:
    """The market's consumers, laid out by segment: each segment a contiguous range of rows, and within it the
    consumers whose data the brand may use last (an exact share of the segment).

    Consumers are exchangeable: every channel picks people uniformly at random, over the market or within a
    segment × usable-data class, so where a consumer sits carries no meaning and a random arrangement would add
    nothing but cost. The layout makes each class a contiguous range, so building the market is a few fills and
    a consumer's class needs no sort.
    """

    def __init__(self, size: int, segment_shares: Sequence[float], data_available: Sequence[float]) -> None:
        self.size = int(size)
        counts = exact_counts(segment_shares, self.size)
        self.segment = np.repeat(np.arange(counts.size, dtype=np.int16), counts)
        self._segment_ends = np.cumsum(counts).tolist()
        self.has_data = np.zeros(self.size, dtype=bool)
        ends = np.cumsum(counts)
        #: the classes (segment × usable data) in row order, each a range of rows: (segment, has data, end row)
        self.classes: list[tuple[int, bool, int]] = []
        for code, (end, count, share) in enumerate(zip(ends.tolist(), counts.tolist(), data_available, strict=True)):
            usable = end - round(share * count)
            self.has_data[usable:end] = True
            self.classes += [(code, False, usable), (code, True, end)]
        self.reached = np.zeros(self.size, dtype=bool)  # by any channel: zero pages, touched where people are

    def segment_counts(self, idx: np.ndarray) -> list[int]:
        """How many of ``idx`` (rows in any order; a repeated row counts each time) belong to each segment, as
        Python integers (their callers sum over a handful of segments in Python).

        Each segment is a range of rows, so this is one comparison per boundary between segments (a handful),
        cheaper than looking each row's segment up and counting."""
        counts, below = [], 0
        for end in self._segment_ends[:-1]:
            up_to = int(np.count_nonzero(idx < end))
            counts.append(up_to - below)
            below = up_to
        counts.append(int(idx.size) - below)
        return counts

    def mark_reached(self, idx: np.ndarray) -> int:
        """Record an exposure to any channel; return how many were reached for the first time.

        Applied in pieces, so that a whole-market first broadcast allocates no market-sized temporaries; a piece's
        count is its size less those reached before (three NumPy calls: a post's few thousand cost no more)."""
        if idx.size <= FEW_MARKED:  # row by row in Python: fewer than the three NumPy calls cost
            reached = memoryview(self.reached)  # Python bools: cheaper to index than the array
            fresh = [row for row in idx.tolist() if not reached[row]]  # all read before any is set, as below
            for row in fresh:
                reached[row] = True
            return len(fresh)
        if idx.size <= MARK_PIECE:
            count = idx.size - int(np.count_nonzero(self.reached[idx]))
            if count:
                self.reached[idx] = True
            return count
        count = 0
        for a in range(0, idx.size, MARK_PIECE):
            part = idx[a : a + MARK_PIECE]
            fresh = part[~self.reached[part]]
            self.reached[fresh] = True
            count += fresh.size
        return count

    def unique_reach(self) -> int:
        return int(np.count_nonzero(self.reached))


def sample_rows(mask: np.ndarray, count: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct rows drawn uniformly from the rows where ``mask`` is True (``count`` of them), sorted.

    When the rows are a fair share of the population, random row numbers are drawn and the first ``k``
    distinct ones that qualify are kept (a uniform k-subset), which avoids a pass over the whole mask;
    otherwise the qualifying rows are listed and chosen from.
    """
    k = min(int(k), int(count))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    size = mask.size
    share = count / size
    if share < 0.05 or k > 0.25 * count:
        return np.sort(rng.choice(np.flatnonzero(mask), size=k, replace=False))
    if k <= FEW_ROWS:  # the same draws and the same rows, kept in Python: a NumPy call costs more than a row
        kept: list[int] = []
        while len(kept) < k:
            draws = rng.integers(0, size, size=int((k - len(kept)) / share * 1.25) + 16)
            kept = list(dict.fromkeys(kept + draws[mask[draws]].tolist()))[:k]  # first occurrences, in order
        return np.array(sorted(kept), dtype=np.int64)
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < k:
        draws = rng.integers(0, size, size=int((k - chosen.size) / share * 1.25) + 16)
        candidates = np.concatenate([chosen, draws[mask[draws]]])
        _, first = np.unique(candidates, return_index=True)
        chosen = candidates[np.sort(first)][:k]
    return np.sort(chosen)


#: Up to this many rows :func:`sample_rows` keeps its draws in a Python list.
FEW_ROWS = 256


class UniformRows:
    """Uniform random rows of ``0 … size − 1`` drawn from ``rng`` a block at a time and handed out in order, for a
    caller that samples a few rows at a time (a Page's organic fans): a sample costs no NumPy call.

    The rows of a block are independent of everything that happened before they are handed out, so handing out
    the next ones is the same as drawing them then."""

    def __init__(self, rng: np.random.Generator, size: int, block: int = 1 << 12) -> None:
        self.rng, self.size, self.block = rng, int(size), int(block)
        self._rows: Iterator[int] = iter(())  # the rest of the current block, in order

    def sample(self, mask: np.ndarray, count: int, k: int) -> np.ndarray:
        """``k`` distinct rows drawn uniformly from the rows where ``mask`` is True (``count`` of them), in random
        order (a uniform ordered tuple: dealing them out in turn is a uniform deal)."""
        return self.sample_in_turn(mask, count, [k])

    def sample_in_turn(self, mask: np.ndarray, count: int, ks: Sequence[int]) -> np.ndarray:
        """Several samples in turn (a run of days), ``ks[i]`` rows each, concatenated: each as :meth:`sample` would
        draw it right after those before it had left ``mask``. So the rows do not depend on how samples are
        grouped into calls: a caller that names a run of days' people at once gets the rows it would have got day
        by day, the same random numbers going to the same rows.

        While the qualifying rows are a fair share of the population, uniform rows are taken in turn and the first
        distinct ones that qualify are kept, in the order they came: each is uniform among the qualifying rows not
        kept yet. Otherwise the qualifying rows not kept yet are listed and the sample chosen from them without
        replacement."""
        kept: dict[int, None] = {}  # insertion-ordered: every sample's rows, in turn
        rows = self._rows
        qualifies = memoryview(mask)  # a Python bool per row: cheaper to index than the array
        for k in ks:
            left = int(count) - len(kept)
            k = min(int(k), left)
            if k <= 0:
                continue
            if left < 0.05 * mask.size or k > min(0.25 * left, FEW_ROWS):
                listed = np.flatnonzero(mask)
                if kept:
                    listed = listed[~np.isin(listed, np.fromiter(kept, dtype=np.int64, count=len(kept)))]
                kept.update(dict.fromkeys(self.rng.choice(listed, size=k, replace=False).tolist()))
                continue
            want = len(kept) + k
            while True:  # the block's rows in turn until the sample is complete, a new block when one runs out
                for row in rows:
                    if qualifies[row]:
                        kept[row] = None
                        if len(kept) == want:
                            break
                else:
                    rows = self._rows = iter(self.rng.integers(0, self.size, size=self.block).tolist())
                    continue
                break
        return np.fromiter(kept, dtype=np.int64, count=len(kept))


#: Rows per piece of :func:`sorted_subset` (2 MiB of int64 indices).
SUBSET_PIECE = 1 << 18


def sorted_subset(rng: np.random.Generator, n: int, k: int, piece: int = SUBSET_PIECE) -> Iterator[np.ndarray]:
    """A uniformly random ``k``-subset of ``0 … n − 1``, ascending, yielded in pieces of the range.

    The range is cut into pieces of ``piece`` rows; how many of the ``k`` fall in each piece is one multivariate
    hypergeometric draw, and each piece then gets a uniform subset of that size. The union is a uniform
    ``k``-subset, and no more than one piece's worth of temporaries exists at a time, so choosing a whole market
    of subscribers costs no market-sized index arrays.
    """
    n, k = int(n), int(k)
    if not 0 <= k <= n:
        raise ValueError(f"cannot choose {k} of {n} rows")
    if k == 0:
        return
    starts = np.arange(0, n, piece, dtype=np.int64)
    sizes = np.minimum(starts + piece, n) - starts
    counts = rng.multivariate_hypergeometric(sizes, k) if starts.size > 1 else np.array([k])
    for start, size, count in zip(starts.tolist(), sizes.tolist(), counts.tolist(), strict=True):
        if count == size:
            yield np.arange(start, start + size, dtype=np.int64)
        elif count:
            chosen = rng.choice(size, size=count, replace=False, shuffle=False)
            chosen.sort()
            chosen += start
            yield chosen
