"""One Messenger broadcast to every active subscriber: the channel's hot path as a vectorised kernel.

Semantics (DESIGN.md, "Semantics the tests rely on"), for each delivery to subscriber ``i`` at time ``t``:

* fatigue stock ``F``: first ``F ← F·2^(−Δt/h_f)``; the delivery sees ``exp(−s·F)``; then ``F ← F + 1``;
* novelty factor ``floor + (1 − floor)·2^(−age/h_n)``, ``age = t − join_time_i``;
* engagement probability ``p_i = min(1, base·weight_i·novelty_i·exp(−s·F_i))``;
* opt-out probability ``q_i = min(1, u·(1 + fs·F_i))``, with the same decayed ``F`` (before the + 1);
  engagement is drawn first, then the opt-out, and the two are independent.

Representation. Every active subscriber receives every broadcast, so the state is kept "as of the last
broadcast" ``t_last``: between two broadcasts every stock decays by the same factor, and a broadcast needs
only the scalar decays ``r_f = 2^(−(t − t_last)/h_f)`` and ``r_n = 2^(−(t − t_novelty)/h_n)``. The columns
(struct of arrays, population-indexed, 17 bytes per row) are

* ``active: bool`` — subscribed now; inactive rows are skipped; their state is garbage until :meth:`join`;
* ``weight: float32`` — per-subscriber multiplier (segment × relevance); ``base`` stays a scalar argument;
* ``novelty: float32`` — ``2^(−(t_novelty − join_i)/h_n)``, above 1 for someone who joined after
  ``t_novelty``, which equals ``t_last`` except after a long silence (see :meth:`BroadcastColumns.join`);
* ``fatigue: float32`` — ``F`` as of ``t_last``, after that broadcast's + 1 (0 for a new subscriber);
* ``exposures: uint32`` — deliveries over the row's lifetime (kept across re-subscriptions), so
  ``exposures > 0`` says who was ever reached by the channel.

Randomness. One float32 uniform ``U`` per row decides both events exactly. Engagement is ``U < p``; the
opt-out uses the two ends of the same uniform::

    engaged and opts out       ⇔  U < p·q            (measure p·q, inside the engaged interval [0, p))
    not engaged and opts out   ⇔  U ≥ 1 − (1 − p)·q  (measure (1 − p)·q, inside [p, 1))

so P(engaged ∧ out) = p·q and P(not engaged ∧ out) = (1 − p)·q: the opt-out has probability q and is
independent of engagement. As ``q ≤ q_max`` (from a scalar bound on the stock), only rows with
``U < q_max`` or ``U ≥ 1 − q_max`` (about 2·q_max of them) are checked exactly. The uniforms are those of
``rng.random(n, dtype=np.float32)`` (multiples of 2^−24, which is the resolution of every probability), drawn
twice as fast through ``random_raw`` for the 64-bit bit generators (see :func:`_uniform_drawer`).

Results are deterministic for a given generator state, column state and ``block``; they may differ (in value,
not in distribution) between block sizes, because blocks without active rows draw nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_BLOCK", "BroadcastColumns", "BroadcastOutcome", "broadcast", "joiner_novelty"]

DEFAULT_BLOCK = 65536
"""Rows per block: 64k float32 scratch columns stay in the 2 MB L2 cache of the reference machine."""

_MAX_NOVELTY_EXPONENT = 64.0
"""A joiner's stored novelty is at most 2^this; beyond, the novelty column is re-based (float32: 2^128)."""

_F32 = np.float32
_IntArray = npt.NDArray[np.int64]


def _decay(dt: float, half_life: float) -> float:
    """``2^(−dt/half_life)`` as a Python float; exactly 1.0 when the half-life is infinite."""
    return 1.0 if math.isinf(half_life) else math.exp2(-dt / half_life)


def _check_half_life(name: str, value: float) -> float:
    value = float(value)
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{name} must be > 0 days (use math.inf for no decay), got {value!r}")
    return value


def _rows(idx: npt.ArrayLike) -> _IntArray:
    """Row indices from an index array (or list, or scalar) or a boolean mask over the population."""
    rows = np.asarray(idx)
    if rows.dtype == bool:
        return np.flatnonzero(rows)
    return rows.astype(np.int64, copy=False).ravel()


def joiner_novelty(t_join: npt.ArrayLike, t_ref: float, half_life: float) -> npt.NDArray[np.float32]:
    """Stored novelty of subscribers who join at ``t_join``, expressed as of the reference time ``t_ref``.

    Returns ``2^((t_join − t_ref)/half_life)`` as float32 (1 for an infinite half-life): at a later
    broadcast at ``t`` the kernel multiplies it by ``2^(−(t − t_ref)/half_life)``, giving
    ``2^(−(t − t_join)/half_life)``.
    """
    h = _check_half_life("novelty_half_life", half_life)
    tj = np.asarray(t_join, dtype=np.float64)
    if math.isinf(h):
        return np.ones(tj.shape, dtype=_F32)
    return np.exp2((tj - float(t_ref)) / h).astype(_F32)


@dataclass(frozen=True, slots=True)
class BroadcastOutcome:
    """What one broadcast did.

    ``engaged`` and ``opted_out`` are ascending int64 row indices; a row may be in both (engagement and
    opt-out are independent). Opted-out rows have already been set inactive. ``newly_reached`` counts active
    rows delivered to for the first time in their lifetime.
    """

    deliveries: int
    newly_reached: int
    engaged: _IntArray
    opted_out: _IntArray


class BroadcastColumns:
    """Messenger broadcast state of a population of ``size`` consumers, as of the last broadcast time.

    All rows start inactive with zero state. Subscribers enter only through :meth:`join` (which sets a valid
    state and records the row for ``newly_reached``) and leave through :meth:`leave` or the kernel's opt-out.
    ``weight`` of an active row may be rewritten directly; the other columns belong to the kernel.
    """

    __slots__ = (
        "_joined",
        "_scratch",
        "active",
        "exposures",
        "fatigue",
        "fatigue_bound",
        "novelty",
        "size",
        "t_last",
        "t_novelty",
        "weight",
    )

    def __init__(self, size: int, t0: float = 0.0) -> None:
        size = int(size)
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self.active = np.zeros(size, dtype=bool)
        self.weight = np.zeros(size, dtype=_F32)
        self.novelty = np.zeros(size, dtype=_F32)
        self.fatigue = np.zeros(size, dtype=_F32)
        self.exposures = np.zeros(size, dtype=np.uint32)
        # Time the fatigue column refers to: the last broadcast (or t0).
        self.t_last = float(t0)
        # Time the novelty column refers to: t_last, unless join() re-based it after a long gap.
        self.t_novelty = float(t0)
        # Upper bound on fatigue over active rows: F_max·r_f + 1 after each broadcast (joiners have 0).
        self.fatigue_bound = 0.0
        self._scratch: _Scratch | None = None
        self._joined: list[_IntArray] = []  # rows joined since the last broadcast, for ``newly_reached``

    def join(
        self,
        idx: npt.ArrayLike,
        t: float,
        *,
        novelty_half_life: float,
        weight: npt.ArrayLike = 1.0,
    ) -> None:
        """Subscribe rows ``idx`` at time ``t`` (new or returning subscribers): fresh novelty, no fatigue.

        ``idx`` is an index array or a boolean mask over the population. ``weight`` (scalar or one per row) is
        the subscriber's multiplier (segment × relevance); ``novelty_half_life`` must be the one
        the broadcasts use. ``exposures`` is kept, so a returning subscriber does not count as newly reached.
        If no broadcast happened for more than 64 novelty half-lives, the novelty column is first re-based to
        ``t`` (one pass) so that stored values stay within float32 range.
        """
        h = _check_half_life("novelty_half_life", novelty_half_life)
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"join time must be finite, got {t!r}")
        rows = _rows(idx)
        w = np.asarray(weight, dtype=np.float64)
        if w.ndim:
            w = w.reshape(-1)
        if not (np.isfinite(w).all() and (w >= 0).all()):
            raise ValueError(
                "weight must be finite and >= 0 (a multiplier of the base engagement probability)"
            )
        if not math.isinf(h) and (t - self.t_novelty) / h > _MAX_NOVELTY_EXPONENT:
            self.novelty *= _F32(_decay(t - self.t_novelty, h))
            self.t_novelty = t
        self.active[rows] = True
        self._joined.append(rows)
        self.weight[rows] = w
        self.novelty[rows] = joiner_novelty(t, self.t_novelty, h)
        self.fatigue[rows] = 0.0

    def leave(self, idx: npt.ArrayLike) -> None:
        """Unsubscribe rows ``idx`` (for reasons other than a broadcast's opt-out)."""
        self.active[_rows(idx)] = False

    def nbytes_per_row(self) -> int:
        """Bytes of state per consumer row (17: five columns); block scratch is in :meth:`scratch_nbytes`."""
        columns = (self.active, self.weight, self.novelty, self.fatigue, self.exposures)
        return sum(c.itemsize for c in columns)

    def scratch_nbytes(self) -> int:
        """Bytes of the per-block scratch buffers held (15 bytes × block rows once a broadcast has run)."""
        return 0 if self._scratch is None else self._scratch.nbytes

    def _take_newly_reached(self) -> int:
        """Rows joined since the last broadcast that are still active and were never delivered to; resets."""
        if not self._joined:
            return 0
        rows = np.unique(np.concatenate(self._joined))
        self._joined = []
        return int(np.count_nonzero(self.active[rows] & (self.exposures[rows] == 0)))

    def _buffers(self, block: int) -> _Scratch:
        n = min(block, self.size)
        if self._scratch is None or self._scratch.rows != n:
            self._scratch = _Scratch(n)
        return self._scratch


class _Scratch:
    """Preallocated per-block buffers, so a broadcast allocates nothing population-sized."""

    __slots__ = ("_full", "eng", "flag", "flag2", "prob", "rows", "uniform", "work")

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.uniform = np.empty(rows, dtype=_F32)
        self.prob = np.empty(rows, dtype=_F32)
        self.work = np.empty(rows, dtype=_F32)
        self.eng = np.empty(rows, dtype=bool)
        self.flag = np.empty(rows, dtype=bool)
        self.flag2 = np.empty(rows, dtype=bool)
        self._full = (self.uniform, self.prob, self.work, self.eng, self.flag, self.flag2)

    def views(self, n: int) -> tuple[np.ndarray, ...]:
        """The buffers cut to ``n`` rows: uniform, prob, work (float32), eng, flag, flag2 (bool)."""
        return self._full if n == self.rows else tuple(x[:n] for x in self._full)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._full)


def _check_probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")
    return value


def _check_non_negative(name: str, value: float) -> float:
    value = float(value)
    if not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def broadcast(
    cols: BroadcastColumns,
    t: float,
    *,
    base: float,
    floor: float,
    novelty_half_life: float,
    fatigue_half_life: float,
    strength: float,
    optout: float,
    optout_fatigue_strength: float,
    rng: np.random.Generator,
    block: int = DEFAULT_BLOCK,
) -> BroadcastOutcome:
    """Deliver one broadcast at time ``t`` to every active row of ``cols``, updating the columns in place.

    ``base`` is the per-delivery engagement probability before the row's ``weight``, novelty and fatigue;
    ``floor`` and ``novelty_half_life`` shape novelty, ``fatigue_half_life`` and ``strength`` fatigue;
    ``optout`` is the per-delivery opt-out probability ``u`` and ``optout_fatigue_strength`` its growth ``fs``
    with the stock. Half-lives may be ``math.inf`` (no decay). ``block`` rows are processed at a time.
    """
    base = _check_non_negative("base", base)
    floor = _check_probability("floor", floor)
    h_n = _check_half_life("novelty_half_life", novelty_half_life)
    h_f = _check_half_life("fatigue_half_life", fatigue_half_life)
    strength = _check_non_negative("strength", strength)
    u = _check_probability("optout", optout)
    fs = _check_non_negative("optout_fatigue_strength", optout_fatigue_strength)
    block = int(block)
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    t = float(t)
    if not t >= cols.t_last:
        raise ValueError(f"broadcast time {t!r} is before the last broadcast at {cols.t_last!r}")

    r_f = _decay(t - cols.t_last, h_f)
    r_n = _decay(t - cols.t_novelty, h_n)
    f_bound = cols.fatigue_bound * r_f  # bound on the decayed stock this broadcast sees
    # p = weight·(novelty·base·(1 − floor) + base·floor)·exp(−s·F)
    c_nov, c_floor, neg_s = _F32(base * (1.0 - floor)), _F32(base * floor), _F32(-strength)
    r_f32, r_n32, one = _F32(r_f), _F32(r_n), _F32(1.0)
    # Opt-out candidates: U < q_pre or U ≥ 1 − q_pre, with q_pre ≥ every row's q (widened a little so that
    # float32 rounding of the stock can never hide a candidate).
    q_pre = min(1.0, u * (1.0 + fs * f_bound) * (1.0 + 1e-4) + 2.0**-23)
    low, high = _F32(q_pre), _F32(1.0 - q_pre)

    newly = cols._take_newly_reached()
    draw = _uniform_drawer(rng)
    deliveries = 0
    engaged: list[_IntArray] = []
    cand_rows: list[_IntArray] = []
    cand_data: list[tuple[np.ndarray, ...]] = []
    buf = cols._buffers(block)
    for a in range(0, cols.size, block):
        b = min(a + block, cols.size)
        n = b - a
        act = cols.active[a:b]
        k = np.count_nonzero(act)
        if k == 0:
            continue
        deliveries += k
        full = k == n
        nov, fat, wt, expo = cols.novelty[a:b], cols.fatigue[a:b], cols.weight[a:b], cols.exposures[a:b]
        uni, prob, work, eng, flag, flag2 = buf.views(n)

        draw(uni)
        if r_n != 1.0:
            np.multiply(nov, r_n32, out=nov)
        if r_f != 1.0:
            np.multiply(fat, r_f32, out=fat)
        np.multiply(nov, c_nov, out=prob)
        np.add(prob, c_floor, out=prob)
        np.multiply(prob, wt, out=prob)
        if strength != 0.0:
            np.multiply(fat, neg_s, out=work)
            np.exp(work, out=work)
            np.multiply(prob, work, out=prob)
        np.less(uni, prob, out=eng)
        if not full:
            np.logical_and(eng, act, out=eng)
        rows = eng.nonzero()[0]
        if rows.size:
            rows += a
            engaged.append(rows)

        if u > 0.0:
            np.less(uni, low, out=flag)
            np.greater_equal(uni, high, out=flag2)
            np.logical_or(flag, flag2, out=flag)
            cand = flag.nonzero()[0]
            if not full:
                cand = cand[act[cand]]
            if cand.size:
                # What the exact test needs: U, p and the decayed F (before this delivery's + 1).
                cand_data.append((uni[cand], prob[cand], fat[cand]))
                cand += a
                cand_rows.append(cand)

        if full:
            np.add(expo, np.uint32(1), out=expo)
        else:
            np.add(expo, act, out=expo)
        np.add(fat, one, out=fat)

    opted = np.empty(0, dtype=np.int64)
    if cand_rows:
        rows_c = _concat(cand_rows)
        uc, pc, fc = (np.concatenate(parts) for parts in zip(*cand_data, strict=True))
        ec = uc < pc  # the engagement test again, on the same float32 values
        uc = uc.astype(np.float64)
        pc = np.minimum(pc, 1.0, dtype=np.float64)
        qc = np.minimum(u * (1.0 + fs * fc.astype(np.float64)), 1.0)
        # engaged: out iff U < p·q; not engaged: out iff U ≥ 1 − (1 − p)·q (see the module docstring)
        out = np.where(ec, uc < pc * qc, uc >= 1.0 - (1.0 - pc) * qc)
        opted = rows_c[out]
        cols.active[opted] = False

    cols.t_last = t
    cols.t_novelty = t
    cols.fatigue_bound = f_bound + 1.0 if deliveries else 0.0
    return BroadcastOutcome(
        deliveries=int(deliveries),
        newly_reached=int(newly),
        engaged=_concat(engaged),
        opted_out=opted,
    )


_RAW64 = (np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64, np.random.Philox)
"""Bit generators whose raw output is 64 uniform bits (MT19937's is 32 bits, so it is not listed)."""


def _uniform_drawer(rng: np.random.Generator):
    """A function filling a float32 buffer with uniforms on [0, 1), on the grid of 2^−24.

    For the 64-bit bit generators the values are exactly those of ``rng.random(n, dtype=np.float32)`` (the low
    then the high 32 bits of each raw draw, top 24 bits kept; on a little-endian machine), but taken from
    ``random_raw`` in bulk: about twice as fast as numpy's element-by-element float32 path. Other bit
    generators use ``rng.random``. Either way the generator's state advances by the draws consumed.
    """
    bit_generator = rng.bit_generator
    if type(bit_generator) not in _RAW64:

        def draw_random(out: npt.NDArray[np.float32]) -> None:
            rng.random(out.size, dtype=_F32, out=out)

        return draw_random

    scale = _F32(2.0**-24)

    def draw_raw(out: npt.NDArray[np.float32]) -> None:
        n = out.size
        bits = bit_generator.random_raw((n + 1) // 2).view(np.uint32)
        if n % 2:
            bits = bits[:n]
        np.right_shift(bits, np.uint32(8), out=bits)
        out[...] = bits.view(np.int32)  # < 2^24: converts exactly
        np.multiply(out, scale, out=out)

    return draw_raw


def _concat(parts: list[_IntArray]) -> _IntArray:
    if not parts:
        return np.empty(0, dtype=np.int64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
