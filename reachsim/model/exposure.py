"""Sparse exposures: organic sightings, paid impressions and the response of the people they reach.

The pure, vectorised pieces of the Page channel (docs/model/page.md). A Page post reaches a small share of the
market, so everything here works on index arrays of the people exposed, never on whole population columns.
Sampling functions take the generator to draw from and keep no state.

Semantics (DESIGN.md, "Semantics the tests rely on"):

* organic reach ``r``: each member of the audience independently sees the post with probability ``r``
  (:func:`organic_sightings`);
* paid impressions: ``budget / cpm × 1000`` impressions (:func:`boost_impressions`), each landing on a uniformly
  random member of the target, with replacement, so one person may receive several (:func:`uniform_impressions`);
* every impression is a delivery: the fatigue stock ``F`` of its recipient decays to the delivery's time, the
  delivery is engaged with probability ``min(1, p0·exp(−s·F))``, an opt-out (for those who can opt out) happens
  with probability ``min(1, u·(1 + fs·F))`` independently, and then ``F ← F + 1`` (:func:`respond`). Several
  impressions of one person at the same instant see ``F``, ``F + 1``, ``F + 2``, … in turn.

The closed forms the simulation is tested against are in :mod:`reachsim.model.reach`; the variance of the number
of people a boost reaches (the classical occupancy problem) is :func:`boost_unique_reach_variance`.
"""

from __future__ import annotations

import array
import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from reachsim.model.rawbits import has_raw64, words16

__all__ = [
    "Response",
    "bernoulli_positions",
    "boost_impressions",
    "boost_unique_reach_variance",
    "buy_impressions",
    "geometric_gaps",
    "organic_positions",
    "organic_sighting_count",
    "organic_sightings",
    "respond",
    "respond_once",
    "uniform_impressions",
]

IntArray = npt.NDArray[np.int64]
_EMPTY = np.empty(0, dtype=np.int64)

#: Below this success probability geometric gaps may approach 2^63 (numpy saturates them there), so they are capped
#: before they are summed; above it a gap is below 2^50 (its chance of more is (1 − r)^(2^50) ≈ 0).
_SATURATING_R = 1e-9
#: Geometric gaps by table look-up (:func:`geometric_gaps`) from this success probability up: below it, where the
#: table would be consulted in vain more often (an interval of 2^−12 spans 2^−12/r draws' values), numpy's.
_TABLE_R = 2.0**-6
#: The table has 2^12 entries (32 KiB, so that it stays in the fastest cache between posts); each draw's entry is
#: chosen by the top 12 bits of a 16-bit word, four words to a raw 64-bit draw.
_TABLE_BITS = 12
_TABLE_SIZE = 1 << _TABLE_BITS

#: Above this many impressions per member of the target, counting with ``bincount`` beats sorting.
_BINCOUNT_RATIO = 0.125
#: Targets up to this size have their impressions' positions sorted as int32.
_INT32_TARGET = np.iinfo(np.int32).max


def organic_sighting_count(rng: np.random.Generator, audience_size: int, r: float) -> int:
    """How many of ``audience_size`` people see one post when each does independently with probability ``r``:
    a Binomial(n, r) draw (0 and n exactly at r = 0 and 1, without drawing).

    Together with a uniformly random subset of that size this is the same distribution as one Bernoulli(r) per
    member (the members are exchangeable), which is what :func:`organic_sightings` does.
    """
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"organic reach r must be within [0, 1], got {r!r}")
    n = int(audience_size)
    if n <= 0 or r == 0.0:
        return 0
    if r == 1.0:
        return n
    return int(rng.binomial(n, r))


def organic_sightings(rng: np.random.Generator, audience: npt.ArrayLike, r: float) -> IntArray:
    """Members of ``audience`` (an index array) who see one post, each independently with probability ``r``.

    Drawn as the positions of the successes of ``n`` Bernoulli(r) trials (:func:`bernoulli_positions`), at a cost
    proportional to the number of sightings, not to the audience. Returned in the order of ``audience``
    (ascending if it is).
    """
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"organic reach r must be within [0, 1], got {r!r}")
    members = np.asarray(audience)
    return members[organic_positions(rng, members.size, r)].astype(np.int64, copy=False)


def organic_positions(rng: np.random.Generator, audience_size: int, r: float) -> IntArray:
    """Positions ``0 … audience_size − 1`` in an audience of the members who see one post, each independently
    with probability ``r``: ascending, at a cost proportional to the sightings (:func:`bernoulli_positions`)."""
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"organic reach r must be within [0, 1], got {r!r}")
    n = int(audience_size)
    if n <= 0 or r == 0.0:
        return _EMPTY
    if r == 1.0:
        return np.arange(n, dtype=np.int64)
    return bernoulli_positions(rng, n, r)


def bernoulli_positions(rng: np.random.Generator, n: int, r: float) -> IntArray:
    """Ascending positions of the successes among ``n`` independent Bernoulli(``r``) trials, ``0 < r < 1``.

    The gap from one success to the next is Geometric(r) (trials up to and including the next success), so the
    successes are the running sums of geometric gaps below ``n``: about ``n·r`` draws, however large ``n`` is.
    """
    if not 0.0 < r < 1.0:
        raise ValueError(f"r must be within (0, 1), got {r!r}")
    parts: list[IntArray] = []
    last = -1  # position of the last success so far
    while True:
        left = n - 1 - last
        mean = left * r
        size = int(mean + 4.0 * math.sqrt(mean) + 16)
        gaps = geometric_gaps(rng, r, size) if r >= _TABLE_R else rng.geometric(r, size=size)
        if r < _SATURATING_R:  # a gap past the trials ends them; tiny r saturates int64, which would wrap
            np.minimum(gaps, n + 1, out=gaps)
        gaps[0] += last
        positions = np.cumsum(gaps, out=gaps)
        if positions[-1] >= n:
            parts.append(positions[: np.searchsorted(positions, n)])
            break
        parts.append(positions)
        last = int(positions[-1])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def geometric_gaps(rng: np.random.Generator, r: float, size: int) -> IntArray:
    """``size`` independent Geometric(``r``) draws (trials up to and including the first success), by inversion.

    The draw is ``1 + floor(log(1 − U)/log(1 − r))`` for a uniform ``U``, so that P(draw > k) = P(1 − U ≤
    (1 − r)^k) = (1 − r)^k. ``U`` is chosen in two steps: first which of the 2^12 intervals ``[b, b + 1)·2^−12``
    it falls in (the top 12 bits of a 16-bit word, four words to a raw 64-bit draw of the generator), which
    settles the draw wherever the formula is constant on the interval (:func:`_inversion_table`); then, only in
    the few intervals where it is not (marked 0), its place within the interval, ``U = (b + W)·2^−12`` with a
    fresh ``W = rng.random()``, at which the formula is evaluated. ``U`` is uniform either way, so every draw is
    the formula's value at a uniform, at the cost of a small table look-up for most draws rather than a
    logarithm, and of a quarter of a raw draw rather than one.
    """
    if not has_raw64(rng):  # raw draws of fewer than 64 bits: the formula at rng.random()'s uniforms
        return _inversion(rng.random(size), r) + 1
    top = words16(rng, size) >> np.uint16(16 - _TABLE_BITS)
    gaps = _inversion_table(r).take(top)
    unsure = (gaps == 0).nonzero()[0]
    if unsure.size:
        # 1 − U = ((2^12 − 1 − b) + (1 − W))·2^−12: 1 − W is exact and above 0, so its logarithm is finite even
        # where b + W would round up to 2^12 (U = 1)
        u = (_TABLE_SIZE - 1 - top[unsure]).astype(np.float64)
        u += 1.0 - rng.random(unsure.size)
        np.log(u, out=u)
        u -= _TABLE_BITS * math.log(2.0)
        u /= math.log1p(-r)
        np.floor(u, out=u)
        if r < 2.0**-40:
            np.minimum(u, 2.0**62, out=u)  # capped for a tiny r, as in _inversion (else below 2^46 already)
        u += 1.0
        gaps[unsure] = u  # whole numbers: exact in int64
    return gaps


def _inversion(u: npt.NDArray[np.float64], r: float) -> IntArray:
    """``floor(log(1 − u)/log(1 − r))``: the failures before the first success, by inversion of uniforms
    ``u < 1``."""
    values = np.floor(np.log1p(-u) / math.log1p(-r))
    return np.minimum(values, 2.0**62).astype(np.int64)  # capped for a tiny r: past any number of trials


@functools.lru_cache(maxsize=16)
def _inversion_table(r: float) -> IntArray:
    """The draw ``1 +`` :func:`_inversion` on each interval ``[b, b + 1)·2^−12`` of the uniform, or 0 where it is
    not constant there (32 KiB).

    The formula is monotone in ``u``, so it is constant on an interval when it is equal at the interval's least
    and greatest doubles."""
    lowest = np.arange(_TABLE_SIZE, dtype=np.float64) / _TABLE_SIZE
    highest = np.nextafter((np.arange(_TABLE_SIZE, dtype=np.float64) + 1.0) / _TABLE_SIZE, 0.0)
    low, high = _inversion(lowest, r), _inversion(highest, r)
    table = np.where(low == high, low + 1, 0)
    table.flags.writeable = False
    return table


#: Impressions paid for but not yet whole: the fraction ``numerator / denominator`` (below 1) that
#: :func:`buy_impressions` carries from one purchase to the next.
Credit = tuple[int, int]
NO_CREDIT: Credit = (0, 1)


def buy_impressions(credit: Credit, budget: float, cpm: float) -> tuple[int, Credit]:
    """Whole impressions bought by ``budget`` at ``cpm`` (price per 1,000), with the fractional remainder carried.

    ``budget / cpm × 1000`` is rarely a whole number; the fraction is kept in ``credit`` (exact rational
    arithmetic on the given floats, so no rounding drifts over thousands of purchases) and delivered with a later
    one. Returns ``(impressions now, new credit)``; over any run the impressions delivered are
    ``floor(Σ budget_i / cpm_i × 1000)`` while the spend is ``Σ budget_i`` exactly. The credit is kept over a
    multiple of the price's denominator, so buying at one price costs an integer addition and a division (no
    Fraction a day); when the price changes it is brought to lowest terms first, so denominators do not pile up.
    """
    if budget < 0 or not math.isfinite(budget):
        raise ValueError(f"budget must be a finite number >= 0, got {budget!r}")
    if not cpm > 0 or not math.isfinite(cpm):
        raise ValueError(f"cpm must be a finite number > 0, got {cpm!r}")
    bought = _impressions_bought(budget, cpm)
    num, den = credit
    bought_num, bought_den = bought.numerator, bought.denominator
    if den != bought_den:
        common = math.gcd(num, den)
        num, den = num // common, den // common
        common = den * bought_den // math.gcd(den, bought_den)
        num, den = num * (common // den), common
    whole, num = divmod(num + bought_num * (den // bought_den), den)
    return whole, (num, den)


def boost_impressions(credit: Fraction, budget: float, cpm: float) -> tuple[int, Fraction]:
    """:func:`buy_impressions` with the credit as a :class:`~fractions.Fraction`."""
    whole, (num, den) = buy_impressions((credit.numerator, credit.denominator), budget, cpm)
    return whole, Fraction(num, den)


@functools.lru_cache(maxsize=64)
def _impressions_bought(budget: float, cpm: float) -> Fraction:
    """``budget / cpm × 1000`` exactly (cached: a run buys at the same few prices every day)."""
    return Fraction(budget) * 1000 / Fraction(cpm)


def uniform_impressions(
    rng: np.random.Generator, target_size: int, impressions: int, *, uniforms: npt.NDArray[np.float64] | None = None
) -> tuple[IntArray, IntArray]:
    """``impressions`` uniform draws with replacement over positions ``0 … target_size − 1``.

    Returns ``(positions, counts)``: the distinct positions hit, ascending, and how many impressions each got
    (counts sum to ``impressions``). Map positions to consumers with the target's index array.

    An impression's position is ``⌊U·T⌋`` for a uniform double ``U`` (``k/2^53``, ``k`` uniform), at a third of
    the cost of ``Generator.integers``: each position gets about ``2^53/T`` of the ``2^53`` values of ``U`` (the
    product is rounded, so a few values at a boundary may go to the next position), so its probability is ``1/T``
    within a few ``T/2^53`` relatively (10⁻¹⁰ for a market of 200,000), which no
    test of fewer than ~10²⁶ impressions could tell from exact; ``U·T`` rounds below ``T`` for every ``U < 1``.
    The ``i``-th impression depends on the ``i``-th uniform only, so a larger budget keeps where the first
    impressions land. ``uniforms``, if given, are those ``impressions`` uniforms (drawn ahead by the caller, the
    same numbers as ``rng.random(impressions)``); they are not changed.
    """
    target_size, impressions = int(target_size), int(impressions)
    if impressions < 0:
        raise ValueError(f"impressions must be >= 0, got {impressions}")
    if impressions == 0:
        return _EMPTY, _EMPTY
    if target_size <= 0:
        raise ValueError("impressions need a non-empty target")
    if uniforms is None:
        u = rng.random(impressions)
        u *= target_size
    else:
        if uniforms.shape != (impressions,):
            raise ValueError("uniforms must be one per impression")
        u = np.multiply(uniforms, target_size)
    if impressions > _BINCOUNT_RATIO * target_size:
        per_position = np.bincount(u.astype(np.int64), minlength=target_size)
        positions = np.flatnonzero(per_position)
        return positions.astype(np.int64, copy=False), per_position[positions].astype(np.int64)
    # as int32 where the target allows: a sort of 4-byte keys takes about two thirds of the time of 8-byte ones
    hits = u.astype(np.int32 if target_size <= _INT32_TARGET else np.int64)
    hits.sort()  # what np.unique does, without its overhead (at a few thousand impressions it costs as much)
    first = np.empty(impressions, dtype=bool)  # the first impression of each position
    first[0] = True
    np.not_equal(hits[1:], hits[:-1], out=first[1:])
    starts = first.nonzero()[0]
    counts = np.empty(starts.size, dtype=np.int64)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = impressions - starts[-1]
    return hits[starts].astype(np.int64, copy=False), counts


@dataclass(frozen=True, slots=True)
class Response:
    """What a set of exposed people did, row by row (rows as in the input of :func:`respond`)."""

    engagements: IntArray
    """Engagements per row (0 … count): every impression may be engaged with."""
    opted_out: npt.NDArray[np.bool_]
    """Rows that opted out during these deliveries (only rows allowed to)."""
    stock: npt.NDArray[np.float64]
    """Fatigue stock after the deliveries: the decayed stock plus the number of deliveries."""


def respond(
    rng: np.random.Generator,
    counts: npt.ArrayLike,
    stock: npt.ArrayLike,
    probability: npt.ArrayLike,
    *,
    strength: float,
    optout: float = 0.0,
    optout_fatigue_strength: float = 0.0,
    can_opt_out: npt.ArrayLike | None = None,
    stock_bound: float | None = None,
) -> Response:
    """Engagement and opt-out for people receiving ``counts`` deliveries each at one instant.

    ``stock`` is each row's fatigue stock decayed to now (before these deliveries), evaluated in its own floating
    precision (a float32 store in float32; integers as float64); ``probability`` the row's
    engagement probability before fatigue (base × segment × relevance × novelty). Delivery ``j`` (from 0) of a
    row sees the stock ``F + j``: it is engaged with probability ``min(1, probability·exp(−strength·(F + j)))``
    and, where ``can_opt_out``, the row opts out with probability ``min(1, optout·(1 + optout_fatigue_strength·
    (F + j)))``, independently of the engagement. Deliveries are processed in rounds (round ``j`` holds the rows
    with more than ``j`` deliveries, each round one :func:`respond_once`), so the work is proportional to the total
    deliveries; up to ``_FEW`` rows go delivery by delivery in Python floats instead, with the same rule (a post's
    few people with several deliveries). ``stock_bound``, if given, is at least every stock (see
    :func:`respond_once`).
    """
    c = np.asarray(counts, dtype=np.int64)
    f0 = _float_stock(stock)
    p0 = np.asarray(probability)
    if p0.shape != c.shape:
        p0 = np.broadcast_to(p0, c.shape)
    n = c.size
    if f0.shape != c.shape:
        raise ValueError("counts and stock must have the same shape")
    if strength < 0 or optout < 0 or optout > 1 or optout_fatigue_strength < 0:
        raise ValueError("strength and optout_fatigue_strength must be >= 0 and optout within [0, 1]")
    allowed = None if can_opt_out is None else np.asarray(can_opt_out, dtype=bool)
    engagements = np.zeros(n, dtype=np.int64)
    opted = np.zeros(n, dtype=bool)
    if n == 0:
        return Response(engagements, opted, f0.astype(np.float64))
    if n <= _FEW:  # a handful of rows (a post's people with several deliveries): delivery by delivery in Python
        return _respond_rows_few(rng, c, f0, p0, allowed, strength, optout, optout_fatigue_strength)
    low, rounds = int(c.min()), int(c.max())
    if low < 0:
        raise ValueError("counts must be >= 0")
    for j in range(rounds):
        if j < low:  # every row
            rows, f, p, a = None, f0 + j if j else f0, p0, allowed
        else:
            rows = (c > j).nonzero()[0]
            f, p, a = f0[rows] + j, p0[rows], None if allowed is None else allowed[rows]
        engaged, out = respond_once(
            rng, f, p, strength=strength, optout=optout, optout_fatigue_strength=optout_fatigue_strength,
            can_opt_out=a, stock_bound=None if stock_bound is None else _round_bound(stock_bound, j),
        )
        if rows is not None:
            engaged, out = rows[engaged], rows[out]
        engagements[engaged] += 1
        opted[out] = True
    return Response(engagements, opted, f0 + c)


def _respond_rows_few(
    rng: np.random.Generator, c: IntArray, f0: npt.NDArray[np.floating], p0: npt.NDArray[np.floating],
    allowed: npt.NDArray[np.bool_] | None, strength: float, optout: float, optout_fatigue_strength: float,
) -> Response:
    """:func:`respond` on a handful of rows, delivery by delivery in Python floats: one uniform per delivery (all
    drawn in one call, row by row), deciding engagement and opt-out as :func:`respond_once` does."""
    counts = c.tolist()
    if min(counts) < 0:
        raise ValueError("counts must be >= 0")
    us = rng.random(sum(counts)).tolist()
    n = len(counts)
    engagements = [0] * n
    opted = [False] * n
    can = [True] * n if allowed is None else allowed.tolist()
    # every delivery's stock F + j, in the stock's precision (exact in float64, then rounded once to float32 when
    # the stocks are float32, as the whole-array rounds compute it)
    stocks = [fi + j for fi, ci in zip(f0.tolist(), counts, strict=True) for j in range(ci)]
    if f0.dtype.char == "f":  # float32
        stocks = array.array("f", stocks).tolist()
    # every delivery's probability as respond_once computes it, in the stock's precision
    if strength:
        each = np.multiply(np.array(stocks, dtype=f0.dtype), np.asarray(-strength, dtype=f0.dtype))
        np.exp(each, out=each)
        each *= np.repeat(p0, counts)
        probabilities = each.tolist()
    else:
        probabilities = np.repeat(p0, counts).tolist()
    k = 0
    for i, (ci, ai) in enumerate(zip(counts, can, strict=True)):
        for _ in range(ci):
            u, f, p = us[k], stocks[k], probabilities[k]
            k += 1
            if u < p:
                engagements[i] += 1
            if optout and ai and _opts_out(u, p, f, optout, optout_fatigue_strength):
                opted[i] = True
    return Response(np.array(engagements, dtype=np.int64), np.array(opted, dtype=bool), f0 + c)


def _float_stock(stock: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """Stocks as given when they are floating point (a float32 store stays float32), else as float64."""
    f = np.asarray(stock)
    return f if f.dtype.kind == "f" else f.astype(np.float64)


def _round_bound(stock_bound: float, j: int) -> float:
    """A bound on round ``j``'s stocks ``F + j``: ``stock_bound + j`` widened by the rounding of adding ``j`` in
    the stock's precision (float32 rounds to within 2⁻²⁴ relative), so that no opt-out candidate is missed."""
    return (stock_bound + j) * (1.0 + 2.0**-22) if j else stock_bound


def respond_once(
    rng: np.random.Generator,
    stock: npt.ArrayLike,
    probability: npt.ArrayLike,
    *,
    strength: float,
    optout: float = 0.0,
    optout_fatigue_strength: float = 0.0,
    can_opt_out: npt.ArrayLike | None = None,
    stock_bound: float | None = None,
    uniforms: npt.NDArray[np.float64] | None = None,
) -> tuple[IntArray, IntArray]:
    """:func:`respond` for one delivery to each row: ``(engaged rows, opted-out rows)``, both ascending.

    The delivery to row ``i`` is engaged with probability ``p_i = min(1, probability_i·exp(−strength·F_i))`` and,
    where ``can_opt_out`` (everywhere when None), opts out with ``q_i = min(1, optout·(1 + optout_fatigue_strength
    ·F_i))``, independently. One uniform ``U`` per row (float64, 53 bits) decides both, as in
    :mod:`reachsim.model.broadcast`: engaged ⇔ ``U < p``; out ⇔ ``U < p·q`` when engaged, ``U ≥ 1 − (1 − p)·q``
    when not, so P(out) = q whatever the engagement. Every ``q`` is at most ``q_max`` (from ``stock_bound``, at
    least every stock, or else the largest stock, by the same float operations), so only rows with ``U < q_max``
    or ``U ≥ 1 − q_max`` are tested exactly: the work is a few whole-array operations, not one draw per candidate
    (and each ``np.flatnonzero`` is ``.nonzero()[0]``: at a few thousand rows a call costs as much as its work).
    ``uniforms``, if given, are the rows' ``U`` (drawn ahead by the caller, as ``rng.random(n)`` would give them).
    """
    f = _float_stock(stock)
    n = f.size
    if strength < 0 or optout < 0 or optout > 1 or optout_fatigue_strength < 0:
        raise ValueError("strength and optout_fatigue_strength must be >= 0 and optout within [0, 1]")
    if n == 0:
        return _EMPTY, _EMPTY
    if uniforms is None:
        u = rng.random(n)
    elif uniforms.shape == f.shape:
        u = uniforms
    else:
        raise ValueError("uniforms must be one per row")
    if strength:
        p = np.multiply(f, np.asarray(-strength, dtype=f.dtype))
        np.exp(p, out=p)
        p *= probability
    else:
        p = np.broadcast_to(np.asarray(probability), f.shape)
    if n <= _FEW:  # a handful of rows (a later round of respond): each tested in Python floats, with the same
        # outcomes (the same values, and the exact opt-out test decides wherever the candidates' would)
        return _respond_few(u, p, f, can_opt_out, optout, optout_fatigue_strength)
    engaged = (u < p).nonzero()[0]
    if optout == 0.0:
        return engaged, _EMPTY
    f_max = 0.0
    if optout_fatigue_strength:
        f_max = float(f.max()) if stock_bound is None else float(stock_bound)
    q_max = min(1.0, optout * (1.0 + optout_fatigue_strength * f_max))
    # An engaged row opts out only if U < p·q ≤ q_max, one not engaged only if U ≥ 1 − (1 − p)·q ≥ 1 − q_max.
    cand = ((u < q_max) | (u >= 1.0 - q_max)).nonzero()[0]
    if can_opt_out is not None:
        cand = cand[np.asarray(can_opt_out, dtype=bool)[cand]]
    if cand.size == 0:
        return engaged, _EMPTY
    if cand.size <= _FEW:  # the usual case: a handful of candidates, tested in Python floats (the same float64
        # operations in the same order as below, so the same outcomes), read one by one (a scalar read costs less
        # than a gather and a conversion when they are this few)
        outs = []
        for row in cand.tolist():
            uc, pc = float(u[row]), min(float(p[row]), 1.0)
            qc = min(1.0, optout * (1.0 + optout_fatigue_strength * float(f[row])))
            if (uc < pc * qc) if uc < pc else (uc >= 1.0 - (1.0 - pc) * qc):
                outs.append(row)
        return engaged, _rows(outs)
    uc = u[cand]
    pc = np.asarray(p[cand], dtype=np.float64)
    ec = uc < pc  # the engagement test again, on the same values
    np.minimum(pc, 1.0, out=pc)
    qc = np.minimum(1.0, optout * (1.0 + optout_fatigue_strength * f[cand].astype(np.float64)))
    out = np.where(ec, uc < pc * qc, uc >= 1.0 - (1.0 - pc) * qc)
    return engaged, cand[out]


#: Up to this many rows, or opt-out candidates, are tested one by one in Python: a NumPy call costs more than a row.
_FEW = 32


def _respond_few(
    u: np.ndarray, p: np.ndarray, f: np.ndarray, can_opt_out: npt.ArrayLike | None, optout: float,
    optout_fatigue_strength: float,
) -> tuple[IntArray, IntArray]:
    """:func:`respond_once` on a handful of rows, given their uniforms and engagement probabilities."""
    us, ps = u.tolist(), p.tolist()
    engaged = [i for i, (ui, pi) in enumerate(zip(us, ps, strict=True)) if ui < pi]
    outs: list[int] = []
    if optout:
        allowed = [True] * len(us) if can_opt_out is None else np.asarray(can_opt_out, dtype=bool).tolist()
        outs = [
            i for i, (ui, pi, fi, ai) in enumerate(zip(us, ps, f.tolist(), allowed, strict=True))
            if ai and _opts_out(ui, pi, fi, optout, optout_fatigue_strength)
        ]
    return _rows(engaged), _rows(outs)


def _rows(rows: list[int]) -> IntArray:
    return np.array(rows, dtype=np.int64) if rows else _EMPTY


def _opts_out(u: float, p: float, f: float, optout: float, optout_fatigue_strength: float) -> bool:
    """The exact opt-out test of one candidate of :func:`respond_once` (uniform ``u``, engagement probability ``p``
    before the cap, stock ``f``)."""
    q = min(1.0, optout * (1.0 + optout_fatigue_strength * f))
    if u < p:  # engaged
        return u < min(p, 1.0) * q
    return u >= 1.0 - (1.0 - min(p, 1.0)) * q


def boost_unique_reach_variance(impressions: npt.ArrayLike, target: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Variance of the number of people reached by ``I`` uniform impressions on ``T`` people (occupancy).

    With ``m_k = (1 − k/T)^I`` the probability that ``k`` given people are all missed,
    ``Var = T·m_1 + T(T − 1)·m_2 − T²·m_1²`` (the indicators of being missed are negatively correlated, so this is
    below the binomial ``T·p(1 − p)``). Evaluated in logs for large ``T``.
    """
    i = np.asarray(impressions, dtype=float)
    t = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        m1 = np.exp(i * np.log1p(-1.0 / t))
        m2 = np.exp(i * np.log1p(-2.0 / np.maximum(t, 2.0)))  # only used when T ≥ 2 (T(T − 1) = 0 below)
        out = t * m1 + t * (t - 1.0) * m2 - t * t * m1 * m1
    return np.maximum(np.where(t > 0, out, 0.0), 0.0)[()]
