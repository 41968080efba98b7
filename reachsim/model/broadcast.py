"""One broadcast to every member of an owned audience: the delivery hot path as a vectorised kernel.

Channel-neutral: Messenger broadcasts and an app's push messages deliver through the same kernel. Semantics
(DESIGN.md, "Semantics the tests rely on"), for each delivery to member ``i`` at time ``t``:

* fatigue stock ``F``: first ``F ← F·2^(−Δt/h_f)``; the delivery sees ``exp(−s·F)``; then ``F ← F + 1``;
* novelty factor ``floor + (1 − floor)·2^(−age/h_n)``, ``age = t − join_time_i``;
* engagement probability ``p_i = min(1, base·weight_i·novelty_i·exp(−s·F_i))``;
* opt-out probability ``q_i = min(1, u·(1 + fs·F_i))``, with the same decayed ``F`` (before the + 1);
  engagement is drawn first, then the opt-out, and the two are independent.

Layout: audience-indexed. The state holds one dense *slot* per current member, slots ``0 … n − 1``, as a struct
of arrays, so a broadcast passes over exactly its ``n`` recipients: its time and memory follow the audience,
never the market. Per slot (20 bytes):

* ``row: int32`` — the member's population row;
* ``weight: float32`` — the member's multiplier (segment × relevance); ``base`` stays a scalar argument;
* ``novelty: float32`` — ``2^(−(t_novelty − join_i)/h_n)``, above 1 for someone who joined after ``t_novelty``,
  which equals ``t_last`` except after a long silence (see :meth:`BroadcastColumns.join`);
* ``fatigue: float32`` — ``F`` as of ``t_last``, after that broadcast's + 1 (0 for a new member);
* ``exposures: uint32`` — deliveries over the member's lifetime (kept across leaving and joining again);

plus the per-slot columns a channel adds (:meth:`BroadcastColumns.add_column`, e.g. the time of a Messenger
subscriber's latest window-opening action), which move with their slot. Every active member receives every
broadcast, so the state is kept "as of the last broadcast" ``t_last``: a broadcast needs only the scalar decays
``r_f = 2^(−(t − t_last)/h_f)`` and ``r_n = 2^(−(t − t_novelty)/h_n)``. One population-indexed int32 column,
``slot_of``, maps a consumer to a slot (−1: never a member, −2: left), so joins, leaves and lookups by consumer cost
O(people touched).

Members leave by swap-removal (the last slots fill the holes: O(leavers)). Joins append. Slots ``fresh … n − 1``
are members not delivered to since they joined; removals keep that split, so a broadcast finds the people it
reaches for the first time without a pass. Leavers' lifetime exposures are kept sparse (rows and counts).

Randomness. One float32 uniform ``U`` per delivery, in slot order, decides both events exactly. Engagement is
``U < p``; the opt-out uses the two ends of the same uniform::

    engaged and opts out       ⇔  U < p·q            (measure p·q, inside the engaged interval [0, p))
    not engaged and opts out   ⇔  U ≥ 1 − (1 − p)·q  (measure (1 − p)·q, inside [p, 1))

so P(engaged ∧ out) = p·q and P(not engaged ∧ out) = (1 − p)·q: the opt-out has probability q and is
independent of engagement. As ``q ≤ q_max`` (from a scalar bound on the stock), only rows with
``U < q_max`` or ``U ≥ 1 − q_max`` (about 2·q_max of them) are checked exactly. The uniforms are those of
``rng.random(n, dtype=np.float32)`` (multiples of 2^−24, which is the resolution of every probability), drawn
twice as fast through ``random_raw`` for the 64-bit bit generators (see :func:`_uniform_drawer`).

Results are deterministic for a given generator state, column state and ``block`` size (even block sizes draw the
same uniforms as any other even size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reachsim.model.rawbits import has_raw64
from reachsim.model.zeroed import Filled

__all__ = ["DEFAULT_BLOCK", "BroadcastColumns", "BroadcastOutcome", "broadcast", "joiner_novelty"]

DEFAULT_BLOCK = 65536
"""Slots per block: 64k float32 scratch columns stay in the 2 MB L2 cache of the reference machine."""

DENSE_SHARE = 1 / 3
"""Above this share of a block's rows below their probability before fatigue, picking them out for the fatigue
factor costs more than the factor for every row (measured on the reference machine)."""

JOIN_CHUNK = 1 << 18
"""Joins are applied in pieces of this many rows, so that a whole-market join has no market-sized temporaries."""

_MAX_NOVELTY_EXPONENT = 64.0
"""A joiner's stored novelty is at most 2^this; beyond, the novelty column is re-based (float32: 2^128)."""

NEVER_MEMBER = -1
"""``slot_of`` of a consumer who never was a member."""
LEFT = -2
"""``slot_of`` of a consumer who was a member and left."""

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


def _rows(idx: npt.ArrayLike) -> npt.NDArray[np.integer]:
    """Row indices from an index array (or list, or scalar) or a boolean mask over the population."""
    rows = np.asarray(idx)
    if rows.dtype == bool:
        return np.flatnonzero(rows)
    if rows.dtype.kind not in "iu":
        rows = rows.astype(np.int64)
    return rows.ravel()


def _checked_weight(weight: npt.ArrayLike, rows: int) -> np.ndarray:
    """Joiners' multipliers as an array (float32 if one per row): finite and >= 0."""
    w = np.asarray(weight, dtype=_F32 if np.ndim(weight) else np.float64)
    if w.ndim:
        w = w.reshape(-1)
        if w.size != rows:
            raise ValueError(f"{w.size} weights for {rows} rows")
    if not (np.minimum.reduce(w) >= 0 and math.isfinite(np.maximum.reduce(w))):  # NaN fails the first test
        raise ValueError("weight must be finite and >= 0 (a multiplier of the base engagement probability)")
    return w


def joiner_novelty(t_join: npt.ArrayLike, t_ref: float, half_life: float) -> npt.NDArray[np.float32]:
    """Stored novelty of members who join at ``t_join``, expressed as of the reference time ``t_ref``.

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
    """What one broadcast did, by population row.

    ``engaged`` and ``opted_out`` are row indices in slot order; a row may be in both (engagement and opt-out are
    independent). Opted-out members have already been removed. ``reached`` are the rows delivered to for the first
    time in their lifetime (``newly_reached`` of them).
    """

    deliveries: int
    reached: npt.NDArray[np.integer]
    engaged: npt.NDArray[np.integer]
    opted_out: npt.NDArray[np.integer]
    above: int = 0
    """Members whose ``count_above`` column was above its threshold before the delivery (0 if none was asked)."""

    @property
    def newly_reached(self) -> int:
        return int(self.reached.size)


class BroadcastColumns:
    """Delivery state of the members of an audience drawn from a population of ``size`` consumers.

    Members enter only through :meth:`join` and leave through :meth:`leave` or a broadcast's opt-out. The columns
    are arrays of the current capacity; their first :attr:`n` entries are the members (``cols.weight[:cols.n]``,
    or :meth:`column`). A member's ``weight`` may be rewritten directly; the other kernel columns belong to the
    kernel. Columns are reallocated as the audience grows: look them up on the object each time, never keep them.
    """

    __slots__ = (
        "_dense",
        "_extra",
        "_gone_exposures",
        "_gone_rows",
        "_scratch",
        "exposures",
        "fatigue",
        "fatigue_bound",
        "fresh",
        "n",
        "novelty",
        "row",
        "size",
        "slot_of",
        "t_last",
        "t_novelty",
        "weight",
    )

    def __init__(self, size: int, t0: float = 0.0, capacity: int = 0) -> None:
        size = int(size)
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self.n = 0  # members: slots 0 … n − 1
        self.fresh = 0  # slots fresh … n − 1 joined since the last broadcast and were not delivered to yet
        self.slot_of = Filled(size, NEVER_MEMBER, np.int32)  # market-sized, touched only where members are
        capacity = min(max(int(capacity), 0), size)
        self.row = np.empty(capacity, dtype=np.int32)
        self.weight = np.empty(capacity, dtype=_F32)
        self.novelty = np.empty(capacity, dtype=_F32)
        self.fatigue = np.empty(capacity, dtype=_F32)
        self.exposures = np.empty(capacity, dtype=np.uint32)
        self._extra: dict[str, tuple[np.ndarray, object]] = {}  # channel columns: (array, fill for joiners)
        # Time the fatigue column refers to: the last broadcast (or t0).
        self.t_last = float(t0)
        # Time the novelty column refers to: t_last, unless join() re-based it after a long gap.
        self.t_novelty = float(t0)
        # Upper bound on fatigue over members: F_max·r_f + 1 after each broadcast (joiners have 0).
        self.fatigue_bound = 0.0
        self._scratch: _Scratch | None = None
        # whether the last broadcast found many rows below their probability before fatigue (see broadcast())
        self._dense = False
        self._gone_rows: list[np.ndarray] = []  # members who left, and their lifetime exposures
        self._gone_exposures: list[np.ndarray] = []

    # -- layout ---------------------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return int(self.row.size)

    def _kernel_columns(self) -> tuple[str, ...]:
        return ("row", "weight", "novelty", "fatigue", "exposures")

    def add_column(self, name: str, dtype: npt.DTypeLike, fill: object) -> None:
        """A per-slot column for the channel (``fill`` for every joiner), moved with its slot on removals."""
        if name in self._extra or name in self._kernel_columns():
            raise ValueError(f"column '{name}' exists")
        array = np.empty(self.capacity, dtype=dtype)
        array[: self.n] = fill
        self._extra[name] = (array, fill)

    def column(self, name: str) -> np.ndarray:
        """The members' values of a kernel or channel column (a view of the first :attr:`n` slots)."""
        if name in self._extra:
            return self._extra[name][0][: self.n]
        if name not in self._kernel_columns():
            raise KeyError(name)
        return getattr(self, name)[: self.n]

    @property
    def members(self) -> npt.NDArray[np.int32]:
        """Population rows of the members, in slot order (a view)."""
        return self.row[: self.n]

    def _reserve(self, extra: int) -> None:
        """Room for ``extra`` more members (growing by half, never beyond the population)."""
        need = self.n + extra
        if need <= self.capacity:
            return
        new = min(self.size, max(need, self.capacity + self.capacity // 2, 1024))
        for name in self._kernel_columns():
            old = getattr(self, name)
            grown = np.empty(new, dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)
        for name, (old, fill) in self._extra.items():
            grown = np.empty(new, dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            self._extra[name] = (grown, fill)

    def nbytes_per_member(self) -> int:
        """Bytes of kernel state per member slot (20: five columns); channel columns and ``slot_of`` apart."""
        return sum(getattr(self, c).itemsize for c in self._kernel_columns())

    def scratch_nbytes(self) -> int:
        """Bytes of the per-block scratch buffers held (15 bytes × block slots once a broadcast has run)."""
        return 0 if self._scratch is None else self._scratch.nbytes

    def exposure_counts(self) -> npt.NDArray[np.uint32]:
        """Lifetime deliveries per consumer (population-indexed, a new array): members and those who left."""
        out = np.zeros(self.size, dtype=np.uint32)
        for rows, counts in zip(self._gone_rows, self._gone_exposures, strict=True):
            out[rows] = counts
        out[self.row[: self.n]] = self.exposures[: self.n]
        return out

    def exposed(self) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.uint32]]:
        """The rows delivered to at least once (members and those who left, distinct) and their lifetime
        deliveries: :meth:`exposure_counts` without the rows never delivered to, in work that follows the members."""
        members = (self.row[: self.n], self.exposures[: self.n])
        parts = [*zip(self._gone_rows, self._gone_exposures, strict=True), members]
        total = sum(r.size for r, _ in parts)
        rows, counts = np.empty(total, dtype=self.row.dtype), np.empty(total, dtype=self.exposures.dtype)
        k = 0
        for part_rows, part_counts in parts:  # in pieces: the outputs are the only audience-sized arrays
            for a in range(0, part_rows.size, JOIN_CHUNK):
                c = part_counts[a : a + JOIN_CHUNK]
                seen = c > 0
                m = int(np.count_nonzero(seen))
                rows[k : k + m] = part_rows[a : a + JOIN_CHUNK][seen]
                counts[k : k + m] = c[seen]
                k += m
        return rows[:k], counts[:k]

    # -- membership ---------------------------------------------------------------------------------------------
    def join(
        self,
        idx: npt.ArrayLike,
        t: float | npt.ArrayLike,
        *,
        novelty_half_life: float,
        weight: npt.ArrayLike = 1.0,
        new: bool = False,
    ) -> None:
        """Make rows ``idx`` members at time ``t`` (new, returning or current members): fresh novelty, no fatigue.

        ``idx`` is an index array or a boolean mask over the population. ``weight`` (scalar or one per row) is
        the member's multiplier (segment × relevance); ``novelty_half_life`` must be the one the broadcasts use.
        A current member who joins again has its state reset in place; lifetime ``exposures`` are kept, so a
        returning member does not count as newly reached. If no broadcast happened for more than 64 novelty
        half-lives, the novelty column is first re-based to ``t`` (one pass over the members) so that stored
        values stay within float32 range. ``new=True`` is the caller's promise that the rows are distinct and were
        never members (e.g. a channel that never re-acquires anyone): the membership checks are skipped, which
        matters for the many small joins of daily acquisition. With ``new=True``, ``t`` may also be one time per
        row (members acquired over several days and handed over together, each with the novelty of its own day).
        """
        h = _check_half_life("novelty_half_life", novelty_half_life)
        rows = _rows(idx)
        times = np.asarray(t, dtype=np.float64)
        if times.ndim:
            if not new:
                raise ValueError("one join time per row is for new members only (new=True)")
            times = times.reshape(-1)
            if times.size != rows.size:
                raise ValueError(f"{times.size} join times for {rows.size} rows")
            t = float(times.max()) if times.size else 0.0
            if not (times.size == 0 or (math.isfinite(float(times.min())) and math.isfinite(t))):
                raise ValueError("join times must be finite")
        else:
            t = float(times)
            if not math.isfinite(t):
                raise ValueError(f"join time must be finite, got {t!r}")
        if rows.size == 0:
            return
        w = _checked_weight(weight, rows.size)
        self._rebase_novelty(t, h)
        stored_novelty: np.ndarray | np.float32
        if times.ndim:
            stored_novelty = joiner_novelty(times, self.t_novelty, h)
        else:
            stored_novelty = _F32(1.0 if math.isinf(h) else math.exp2((t - self.t_novelty) / h))
        for a in range(0, rows.size, JOIN_CHUNK):
            part = rows[a : a + JOIN_CHUNK]
            part_w = w[a : a + JOIN_CHUNK] if w.ndim else w
            if new:
                part_novelty = stored_novelty[a : a + JOIN_CHUNK] if times.ndim else stored_novelty
                self._append(part, part_w, part_novelty)
            else:
                self._join_part(part, part_w, stored_novelty)

    def join_runs(
        self,
        idx: npt.ArrayLike,
        times: Sequence[float],
        counts: Sequence[int],
        *,
        novelty_half_life: float,
        weight: npt.ArrayLike = 1.0,
        vouched: bool = False,
    ) -> None:
        """:meth:`join` with ``new=True`` for rows ``idx`` who joined in runs: the first ``counts[0]`` at
        ``times[0]``, the next ``counts[1]`` at ``times[1]``, and so on (members acquired over several days and
        handed over together). The same state as one time per row, in fewer array operations: each run's novelty
        is computed once (with :func:`math.exp2`, which gives NumPy's values).

        ``vouched=True`` is the caller's guarantee, by construction, that ``idx`` is an int array of distinct rows
        that never were members, every run holds somebody at a finite time, and ``weight`` holds float32 values,
        one per row, finite and ``>= 0`` (people drawn out of a pool of those who never joined, weighted by
        validated multipliers): the checks that read the rows and the weights again are skipped (a weekly
        hand-over is a few hundred rows, where each check costs about as much as the work)."""
        h = _check_half_life("novelty_half_life", novelty_half_life)
        rows = idx if vouched else _rows(idx)
        if len(times) != len(counts) or sum(counts) != rows.size or min(counts, default=0) < 0:
            raise ValueError(f"runs of {list(counts)} people for {rows.size} rows")
        if rows.size == 0:
            return
        if vouched:  # (runs of somebody, at finite times)
            t = max(times)
        else:
            held = [tj for tj, n in zip(times, counts, strict=True) if n]  # a run of nobody joins nobody
            t = max(held)
            if not (math.isfinite(t) and math.isfinite(min(held))):
                raise ValueError("join times must be finite")
        w = weight if vouched else _checked_weight(weight, rows.size)
        self._rebase_novelty(t, h)
        novelty: np.ndarray | np.float32
        if math.isinf(h):
            novelty = _F32(1.0)
        else:
            ref = self.t_novelty
            novelty = np.array([math.exp2((tj - ref) / h) for tj in times], dtype=_F32).repeat(counts)
        self._append(rows, w, novelty, check=not vouched)  # type: ignore[arg-type]

    def _rebase_novelty(self, t: float, h: float) -> None:
        """Re-base the novelty column to ``t`` if a joiner at ``t`` would store more than 2^64 (see :meth:`join`)."""
        if not math.isinf(h) and (t - self.t_novelty) / h > _MAX_NOVELTY_EXPONENT:
            novelty = self.novelty[: self.n]
            np.multiply(novelty, _F32(_decay(t - self.t_novelty, h)), out=novelty)
            self.t_novelty = t

    def _join_part(self, rows: np.ndarray, w: np.ndarray, novelty: np.float32) -> None:
        if rows.min() < 0:
            raise IndexError("rows must be >= 0")
        slot = self.slot_of[rows]  # an IndexError for rows beyond the population
        if slot.max() >= 0:  # members joining again: reset in place
            current = slot >= 0
            at = slot[current]
            self.weight[at] = w[current] if w.ndim else w
            self.novelty[at] = novelty
            self.fatigue[at] = 0.0
            keep = ~current
            rows, slot = rows[keep], slot[keep]
            if w.ndim:
                w = w[keep]
        k = rows.size
        if k == 0:
            return
        self._reserve(k)
        n = self.n
        new = np.arange(n, n + k, dtype=np.int32)
        self.slot_of[rows] = new
        if k > 1 and not np.array_equal(self.slot_of[rows], new):  # a row given twice: keep its last entry
            last = self.slot_of[rows] == new
            self.slot_of[rows] = slot  # undo, then append the distinct rows
            rows, slot = rows[last], slot[last]
            if w.ndim:
                w = w[last]
            k = rows.size
            new = new[:k]
            self.slot_of[rows] = new
        self._fill_slots(rows, w, novelty, n)
        if slot.min() == LEFT:
            self._restore_exposures(rows, slot == LEFT, n)

    def _append(
        self, rows: np.ndarray, w: np.ndarray, novelty: np.ndarray | np.float32, check: bool = True
    ) -> None:
        """Append rows known to be distinct and never members, in any order. Checked (unless ``check`` is False:
        distinct by construction) by reading ``slot_of`` back: a row given twice holds only one of its two new
        slots (cheaper than sorting the rows)."""
        self._reserve(rows.size)
        n = self.n
        stored = self.slot_of.stored  # slot − NEVER_MEMBER, read and written directly: fewer NumPy calls
        new = np.arange(n - NEVER_MEMBER, n - NEVER_MEMBER + rows.size, dtype=stored.dtype)
        before = stored[rows] if check and rows.size > 1 else None
        stored[rows] = new
        if before is not None and not (stored[rows] == new).all():
            stored[rows] = before  # as they were (a repeated row gets its own value back either way)
            raise ValueError("rows joined with new=True must be distinct")
        self._fill_slots(rows, w, novelty, n)

    def _fill_slots(self, rows: np.ndarray, w: np.ndarray, novelty: np.ndarray | np.float32, n: int) -> None:
        """Fresh state in the slots from ``n`` on for ``rows`` (``slot_of`` already points there)."""
        end = n + rows.size
        self.row[n:end] = rows
        self.weight[n:end] = w
        self.novelty[n:end] = novelty
        self.fatigue[n:end] = 0.0
        self.exposures[n:end] = 0
        for array, fill in self._extra.values():
            array[n:end] = fill
        self.n = end

    def _restore_exposures(self, rows: np.ndarray, returning: np.ndarray, first_slot: int) -> None:
        """Members who come back keep their lifetime exposures (taken out of the leavers' store)."""
        gone_rows = np.concatenate(self._gone_rows)
        gone_counts = np.concatenate(self._gone_exposures)
        order = np.argsort(gone_rows, kind="stable")
        gone_rows, gone_counts = gone_rows[order], gone_counts[order]
        back = rows[returning]
        at = np.searchsorted(gone_rows, back)
        self.exposures[first_slot + np.flatnonzero(returning)] = gone_counts[at]
        stay = np.ones(gone_rows.size, dtype=bool)
        stay[at] = False
        self._gone_rows, self._gone_exposures = [gone_rows[stay]], [gone_counts[stay]]

    def leave(self, idx: npt.ArrayLike) -> None:
        """Remove rows ``idx`` from the members (for reasons other than a broadcast's opt-out); others are ignored."""
        slot = self.slot_of[_rows(idx)]
        self._remove(np.unique(slot[slot >= 0]))

    def _remove(self, slots: np.ndarray) -> None:
        """Swap-remove the members in ``slots`` (distinct, ascending): O(len(slots)).

        Holes among the delivered slots ``[0, fresh)`` are filled by the last delivered ones, holes among the fresh
        by the last fresh ones, and the gap left between the two parts by the last fresh slots, so both parts stay
        contiguous."""
        k = slots.size
        if k == 0:
            return
        rows = self.row[slots]
        self.slot_of.stored[rows] = LEFT - NEVER_MEMBER  # (stored relative to the fill)
        self._gone_rows.append(rows)  # fancy indexing made both copies
        self._gone_exposures.append(self.exposures[slots])
        m, n = self.fresh, self.n
        split = int(slots.searchsorted(m))
        holes_a, holes_b = slots[:split], slots[split:]
        m2 = m - holes_a.size
        if holes_a.size:
            self._fill(holes_a, m2, m)
        n2 = n - holes_b.size
        if holes_b.size:
            self._fill(holes_b, n2, n)
        gap = holes_a.size
        if gap:  # move the last fresh slots down into [m2, m)
            count = min(gap, n2 - m)
            if count:
                self._move(slice(n2 - count, n2), np.arange(m2, m2 + count))
        self.fresh = m2
        self.n = n2 - gap

    def _fill(self, holes: np.ndarray, lo: int, hi: int) -> None:
        """Fill the ``holes`` below ``lo`` with the members of ``[lo, hi)`` that are not holes (as many)."""
        split = int(holes.searchsorted(lo))  # the holes are ascending
        if split == 0:
            return
        if split == holes.size:  # the usual case: no hole in [lo, hi), all of which moves
            self._move(slice(lo, hi), holes)
            return
        tail = np.ones(hi - lo, dtype=bool)
        tail[holes[split:] - lo] = False
        src = tail.nonzero()[0]
        src += lo
        self._move(src, holes[:split])

    def _move(self, src: np.ndarray | slice, dst: np.ndarray) -> None:
        """Move the members in slots ``src`` (an index array, or a slice: a run of slots) to slots ``dst``."""
        for array in (self.row, self.weight, self.novelty, self.fatigue, self.exposures):  # _kernel_columns()
            array[dst] = array[src]
        for array, _ in self._extra.values():
            array[dst] = array[src]
        self.slot_of.stored[self.row[dst]] = dst - NEVER_MEMBER  # stored relative to the fill: fewer calls

    def _buffers(self, block: int) -> _Scratch:
        rows = min(block, max(self.n, 1))
        if self._scratch is None or self._scratch.rows < rows:
            # grown by half at least, so that an audience growing a little before every broadcast does not
            # reallocate them every time
            grown = 0 if self._scratch is None else self._scratch.rows + self._scratch.rows // 2
            self._scratch = _Scratch(min(block, max(rows, grown)))
        return self._scratch

    def count_above(self, name: str, threshold: float) -> int:
        """Members whose column ``name`` is above ``threshold``, in blocks (no audience-sized temporary)."""
        column = self.column(name)
        flag = self._buffers(DEFAULT_BLOCK).flag
        total = 0
        for a in range(0, column.size, flag.size):
            part = column[a : a + flag.size]
            out = flag[: part.size]
            np.greater(part, threshold, out=out)
            total += int(np.count_nonzero(out))
        return total


class _Scratch:
    """Preallocated per-block buffers, so a broadcast allocates nothing audience-sized."""

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
    stamp: Mapping[str, object] | None = None,
    count_above: tuple[str, float] | None = None,
) -> BroadcastOutcome:
    """Deliver one broadcast at time ``t`` to every member of ``cols``, updating the columns in place.

    ``base`` is the per-delivery engagement probability before the member's ``weight``, novelty and fatigue;
    ``floor`` and ``novelty_half_life`` shape novelty, ``fatigue_half_life`` and ``strength`` fatigue;
    ``optout`` is the per-delivery opt-out probability ``u`` and ``optout_fatigue_strength`` its growth ``fs``
    with the stock. Half-lives may be ``math.inf`` (no decay). ``block`` slots are processed at a time.
    ``stamp`` names channel columns (:meth:`BroadcastColumns.add_column`) and the value each engaged member's
    entry takes, e.g. the engagement's time as a Messenger subscriber's latest window-opening action.
    ``count_above=(name, threshold)`` counts the members whose column ``name`` is above ``threshold`` before this
    delivery's stamps (:attr:`BroadcastOutcome.above`), in the same pass (e.g. those inside a messaging window).
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
    stamps = [(cols._extra[name][0], value) for name, value in (stamp or {}).items()]
    counted = cols.column(count_above[0]) if count_above is not None else None
    threshold = count_above[1] if count_above is not None else 0.0
    above = 0

    r_f = _decay(t - cols.t_last, h_f)
    r_n = _decay(t - cols.t_novelty, h_n)
    f_bound = cols.fatigue_bound * r_f  # bound on the decayed stock this broadcast sees
    # p = weight·(novelty·base·(1 − floor) + base·floor)·exp(−s·F)
    c_nov, c_floor, neg_s = _F32(base * (1.0 - floor)), _F32(base * floor), _F32(-strength)
    fatigued = strength != 0.0
    # exp(−s·F) for the rows below p before fatigue only, unless the last broadcast found many of them (either way
    # the same float32 operations per row, so the same outcomes: the choice only saves time)
    dense = cols._dense
    next_dense: bool | None = None
    r_f32, r_n32, one = _F32(r_f), _F32(r_n), _F32(1.0)
    # Opt-out candidates: U < q_pre or U ≥ 1 − q_pre, with q_pre ≥ every row's q (widened a little so that
    # float32 rounding of the stock can never hide a candidate).
    q_pre = min(1.0, u * (1.0 + fs * f_bound) * (1.0 + 1e-4) + 2.0**-23)
    low, high = _F32(q_pre), _F32(1.0 - q_pre)

    n = cols.n
    draw = _uniform_drawer(rng)
    engaged: list[_IntArray] = []
    cand_slots: list[_IntArray] = []
    cand_data: list[tuple[np.ndarray, ...]] = []
    buf = cols._buffers(block)
    step = min(block, buf.rows)
    for a in range(0, n, step):
        b = min(a + step, n)
        nov, fat, wt, expo = cols.novelty[a:b], cols.fatigue[a:b], cols.weight[a:b], cols.exposures[a:b]
        uni, prob, work, eng, flag, flag2 = buf.views(b - a)
        if counted is not None:  # before this block's stamps change the column
            above += int(np.count_nonzero(np.greater(counted[a:b], threshold, out=flag)))

        draw(uni)
        if r_n != 1.0:
            np.multiply(nov, r_n32, out=nov)
        if r_f != 1.0:
            np.multiply(fat, r_f32, out=fat)
        np.multiply(nov, c_nov, out=prob)
        np.add(prob, c_floor, out=prob)
        np.multiply(prob, wt, out=prob)  # p before fatigue: exp(−s·F) ≤ 1 only lowers it
        subset = fatigued and not dense
        if fatigued and dense:  # many rows can engage: exp(−s·F) for the whole block is cheaper than picking them
            np.multiply(fat, neg_s, out=work)
            np.exp(work, out=work)
            np.multiply(prob, work, out=prob)
        np.less(uni, prob, out=eng)
        slots = eng.nonzero()[0]
        if fatigued:  # the share below p before fatigue (a lower bound of it when dense) chooses the next mode
            many = slots.size > DENSE_SHARE * (b - a)
            next_dense = many if next_dense is None else next_dense and many
        if subset and slots.size:  # only those below p before fatigue can be below p: exp for them alone
            slots = slots[uni[slots] < _fatigued(prob, fat, slots, neg_s)]
        if slots.size:
            if a:
                slots += a
            engaged.append(slots)
            for array, value in stamps:
                array[slots] = value

        if u > 0.0:
            np.less(uni, low, out=flag)
            np.greater_equal(uni, high, out=flag2)
            np.logical_or(flag, flag2, out=flag)
            cand = flag.nonzero()[0]
            if cand.size:
                # What the exact test needs: U, p and the decayed F (before this delivery's + 1).
                p_cand = _fatigued(prob, fat, cand, neg_s) if subset else prob[cand]
                cand_data.append((uni[cand], p_cand, fat[cand]))
                if a:
                    cand += a
                cand_slots.append(cand)

        np.add(expo, np.uint32(1), out=expo)
        np.add(fat, one, out=fat)

    opted = np.empty(0, dtype=np.int64)
    if cand_slots:
        slots_c = _concat(cand_slots)
        if len(cand_data) == 1:  # one block: nothing to join
            uc, pc, fc = cand_data[0]
        else:
            uc, pc, fc = (np.concatenate(parts) for parts in zip(*cand_data, strict=True))
        pc = np.minimum(pc, 1.0, dtype=np.float64)
        qc: float | np.ndarray = u
        if fs:  # q = min(1, u·(1 + fs·F)), in float64, in place
            qc = fc.astype(np.float64)
            qc *= fs
            qc += 1.0
            qc *= u
            np.minimum(qc, 1.0, out=qc)
        # engaged: out iff U < p·q; not engaged: out iff U ≥ 1 − (1 − p)·q (see the module docstring). As q ≤ 1,
        # p·q ≤ p ≤ 1 − (1 − p)·q, also once rounded, so each test can only hold on its own side of p: their
        # union needs no engagement test. (U is float32, compared exactly with the float64 thresholds.)
        threshold = pc * qc
        out = uc < threshold
        np.subtract(1.0, pc, out=threshold)
        threshold *= qc
        np.subtract(1.0, threshold, out=threshold)
        out |= uc >= threshold
        opted = slots_c[out]

    # First deliveries: the fresh slots whose lifetime count is now 1 (returning members have more).
    fresh = cols.exposures[cols.fresh : n]
    reached = cols.row[cols.fresh : n][fresh == 1] if fresh.size else cols.row[:0].copy()
    cols.fresh = n
    engaged_rows = cols.row[_concat(engaged)]
    opted_rows = cols.row[opted]
    cols._remove(opted)

    cols.t_last = t
    cols.t_novelty = t
    if next_dense is not None:
        cols._dense = next_dense
    cols.fatigue_bound = f_bound + 1.0 if n else 0.0
    return BroadcastOutcome(
        deliveries=int(n), reached=reached, engaged=engaged_rows, opted_out=opted_rows, above=above
    )


def _fatigued(prob: np.ndarray, fat: np.ndarray, slots: np.ndarray, neg_s: np.float32) -> np.ndarray:
    """``p = p_before·exp(−s·F)`` for the rows ``slots`` of a block (``prob`` before fatigue, ``fat`` the decayed
    stock), with the float32 operations of a whole-block pass, hence the same values."""
    factor = fat[slots]
    np.multiply(factor, neg_s, out=factor)
    np.exp(factor, out=factor)
    p = prob[slots]
    np.multiply(p, factor, out=p)
    return p


def _uniform_drawer(rng: np.random.Generator):
    """A function filling a float32 buffer with uniforms on [0, 1), on the grid of 2^−24.

    For the 64-bit bit generators the values are exactly those of ``rng.random(n, dtype=np.float32)`` (the low
    then the high 32 bits of each raw draw, top 24 bits kept; on a little-endian machine), but taken from
    ``random_raw`` in bulk: about twice as fast as numpy's element-by-element float32 path. Other bit
    generators use ``rng.random``. Either way the generator's state advances by the draws consumed.

    ``random_raw`` has no output argument, so each call allocates its block's raw bits (256 KiB for 64k rows).
    Drawing them in smaller pieces into a reused buffer was measured: the extra calls cost more (about 1 ns a
    uniform) than the allocation does even where the allocator's trim settings return it to the system each time.
    """
    bit_generator = rng.bit_generator
    if not has_raw64(rng):

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
