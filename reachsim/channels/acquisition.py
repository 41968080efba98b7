"""How a channel acquires an owned audience from the market: organic sign-ups, paid acquisition, Bass diffusion.

Any channel whose audience is made of market consumers who join once (Messenger subscribers, app installs, Page
fans) grows it through one :class:`AudienceAcquisition`: it draws each day's sign-ups by source, picks who joins
among the consumers who never joined (someone who left is not re-acquired), books what paid acquisition costs
under the ledger category ``acquisition`` and hands the new members to the channel's ``join`` callback. Joins
from anywhere else (an initial base, another channel over the bus) go through :meth:`AudienceAcquisition.join`
too, so "ever joined" is known in one place.

Paid acquisition has two forms: a flat cost per member (:class:`PaidAcquisition`, a simplification that never
saturates) and impressions bought at a CPM that land on the target whether its people are members or not
(:class:`ImpressionAcquisition`), so the cost per acquired person rises as the pool empties. The maths is in
docs/model/messenger.md and :mod:`reachsim.model.conversion`.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NamedTuple

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator

from reachsim.channels.common import segment_target
from reachsim.core.metrics import Metric, flow, ratio
from reachsim.core.problems import did_you_mean
from reachsim.core.strict import StrictModel
from reachsim.engine.ahead import DrawnAhead
from reachsim.engine.context import ChannelContext
from reachsim.engine.population import sorted_subset
from reachsim.engine.weak import weak_callable
from reachsim.model.bass import daily_adoption_probability
from reachsim.model.conversion import conversion_probability_scalar
from reachsim.model.exposure import NO_CREDIT, buy_impressions
from reachsim.model.occupancy import unique_reach_given
from reachsim.model.zeroed import Identity

__all__ = [
    "METRICS",
    "SOURCES",
    "Acquisition",
    "AudienceAcquisition",
    "BassAcquisition",
    "BatchJoinCallback",
    "ImpressionAcquisition",
    "JoinCallback",
    "NeverJoined",
    "PaidAcquisition",
    "check_market",
    "distinct_integers",
]

#: Consumers per piece of an initial base: each piece's joining makes temporaries of a few dozen bytes a person.
INITIAL_PIECE = 1 << 16

#: Scalars drawn at once by a stream whose draws depend on no state (:class:`DrawnAhead`): one NumPy call per this
#: many days instead of one a day.
AHEAD = 64

#: The sources this component draws every day, in drawing order.
SOURCES = ("organic", "bass", "paid")

#: ``join(idx, t, source)``: consumers ``idx`` (market rows, ascending, none of whom joined before) join at ``t``.
JoinCallback = Callable[[np.ndarray, float, str], None]

#: ``join_batch(idx, days, counts)``: consumers ``idx`` (market rows, distinct, in any order, none of whom joined
#: before) who joined in runs: the first ``counts[0]`` on day ``days[0]``, the next ``counts[1]`` on ``days[1]``, and so
#: on (lists as long as each other, ``sum(counts) == idx.size``); the component records the ``joined`` flows by source
#: itself.
BatchJoinCallback = Callable[[np.ndarray, list[float], list[int]], None]


#: Metrics of paid acquisition; a channel using this component declares them (with ``joined_paid``, the flow its
#: ``join`` callback records for the ``paid`` source).
METRICS: tuple[Metric, ...] = (
    flow(
        "paid_impressions",
        "impressions",
        "paid impressions",
        group="paid acquisition impressions",
        description="impressions bought by paid acquisition (impression form)",
    ),
    flow(
        "wasted_impressions",
        "impressions",
        "wasted impressions",
        group="paid acquisition impressions",
        description="paid impressions that landed on people already in the audience or who left it",
    ),
    flow(
        "paid_reach",
        "people",
        "paid reach",
        description="distinct people the day's paid acquisition impressions reached, in the audience or not",
    ),
    ratio(
        "paid_frequency",
        "number",
        "paid frequency",
        numerator="paid_impressions",
        denominator="paid_reach",
        description="paid acquisition impressions per person they reached in a day (over the horizon: all "
        "impressions over the sum of daily reach)",
    ),
    flow(
        "paid_spend",
        "currency",
        "paid acquisition spend",
        description="what paid acquisition spent (also in the ledger, category acquisition)",
    ),
    ratio(
        "cost_per_paid_join",
        "currency",
        "cost per paid join",
        numerator="paid_spend",
        denominator="joined_paid",
        description="paid acquisition spend per person it acquired",
    ),
)


class PaidAcquisition(StrictModel):
    """Paid sign-ups at a flat cost each, e.g. click-to-Messenger ads. A simplification that ignores saturation:
    every member costs the same however few non-members are left (see the impression form)."""

    budget_per_day: float = Field(ge=0, description="Spend per day on acquiring the audience.")
    cost_per_subscriber: float = Field(gt=0, description="Cost of one acquired member.")


class ImpressionAcquisition(StrictModel):
    """Paid acquisition through ads: ``budget_per_day / cpm × 1000`` impressions a day, each on a uniformly random
    member of the target; an impression on someone not in the audience converts them with
    ``conversion_probability`` × their segment's multiplier × (1 + the channel's relevance uplift if their data is
    usable); an impression on a member, or on someone who left, is wasted but paid. Saturates by itself."""

    budget_per_day: float = Field(ge=0, description="Spend per day on impressions (booked in full every day).")
    cpm: float = Field(gt=0, description="Price of 1,000 impressions.")
    conversion_probability: float = Field(
        ge=0,
        le=1,
        description="Probability that an impression converts a person not in the audience, before the segment's "
        "multiplier and the targeting uplift (the product is capped at 1).",
    )
    target: str | list[str] = Field(
        default="market",
        description="Who the impressions land on: 'market' (everyone) or a list of segment names (their members, "
        "in the audience or not).",
    )

    @field_validator("target")
    @classmethod
    def _normalise(cls, v: str | list[str]) -> str | list[str]:
        return segment_target(v, ("market",))


def _paid_form(value: Any) -> str:
    """The flat form when ``cost_per_subscriber`` is given or nothing of the impression form is."""
    if isinstance(value, dict):
        impressions = {"cpm", "conversion_probability", "target"} & value.keys()
        return "flat" if "cost_per_subscriber" in value or not impressions else "impressions"
    return "impressions" if isinstance(value, ImpressionAcquisition) else "flat"


#: ``paid:`` in either form, told apart by its keys.
PaidForm = Annotated[
    Annotated[PaidAcquisition, Tag("flat")] | Annotated[ImpressionAcquisition, Tag("impressions")],
    Discriminator(_paid_form),
]


class BassAcquisition(StrictModel):
    """Word-of-mouth diffusion over a potential audience (Bass model)."""

    p: float = Field(ge=0, le=10, description="Coefficient of innovation, per year.")
    q: float = Field(ge=0, le=50, description="Coefficient of imitation, per year.")
    potential: float = Field(gt=0, le=1, description="Potential adopters as a share of the market (M/size).")


class Acquisition(StrictModel):
    """How the audience grows (sources add up)."""

    organic_per_day: float = Field(default=0.0, ge=0, description="Mean organic sign-ups per day (Poisson).")
    paid: PaidForm | None = Field(
        default=None,
        description="Paid acquisition, through impressions ({budget_per_day, cpm, conversion_probability, target}) "
        "or at a flat cost per member ({budget_per_day, cost_per_subscriber}, ignores saturation); none when "
        "omitted.",
    )
    bass: BassAcquisition | None = Field(default=None, description="Bass diffusion; none when omitted.")


def distinct_integers(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``k`` distinct integers drawn uniformly from ``0 … n − 1`` (a uniform k-subset), in random order.

    Draws with replacement and keeps the first occurrence of each value (sequential rejection), so the work
    follows ``k``, not ``n``; when ``k`` is more than half of ``n`` a permutation (at most ``2k`` long) is cheaper.
    A draw is ``⌊u·n⌋`` for a uniform double ``u`` (``Generator.integers`` costs several times more per call): no
    integer is more likely than another by more than ``n/2^53`` relatively.
    """
    if k > n // 2:
        return rng.permutation(n)[:k]
    x = (rng.random(k) * n).astype(np.int64)
    if k < 2:
        return x
    s = np.sort(x)
    if not (s[1:] == s[:-1]).any():  # the usual case while k is small against n
        return x
    while True:
        _, first = np.unique(x, return_index=True)
        x = x[np.sort(first)][:k]
        if x.size == k:
            return x
        x = np.concatenate([x, (rng.random(2 * (k - x.size) + 8) * n).astype(np.int64)])


def check_market(acquisition: Acquisition, market: Any, path: str = "acquisition") -> list[tuple[str, str]]:
    """Load-time checks of an acquisition against the market: the segments an impression target names exist."""
    paid = acquisition.paid
    if not isinstance(paid, ImpressionAcquisition) or not isinstance(paid.target, list):
        return []
    names = [s.name for s in market.segments]
    return [
        (
            f"{path}.paid.target",
            f"no segment named '{name}'{did_you_mean(name, [*names, 'market'])}; segments: {', '.join(names)}; "
            "or use 'market'",
        )
        for name in paid.target
        if name not in names
    ]


class NeverJoined:
    """The consumers who never joined, optionally kept by class (e.g. segment × whether their data is usable).

    Each class is a block of one index array with its live members first, and ``where`` maps a consumer to their
    position (−1 once joined). Drawing people and removing them swaps the block's last live members into the
    holes, so both cost what is drawn or removed, never a pass over the market. Classes let a draw be uniform
    within one class (targeting) as well as over everyone; without them (``klass=None``) the pool is one block.
    The per-class counts are kept as Python integers: a daily step reads them, and NumPy calls on a handful of
    numbers cost more than the arithmetic.
    """

    #: At most this many people are taken out of the pool one by one (:meth:`take`); more, in one vectorised pass.
    FEW = 16
    #: At most this many people are drawn one by one (:meth:`draw_by_class`); more, in one vectorised pass. About
    #: where the two cost the same inside a simulation (a few dozen scalar operations a person against some 30
    #: NumPy calls; measured on the shipped scenarios, where both run with cold caches).
    FEW_DRAWN = 40

    def __init__(self, size: int, klass: np.ndarray | None = None, classes: int | None = None) -> None:
        dtype = np.int32 if size < 2**31 else np.int64
        in_order = klass is None or bool((klass[1:] >= klass[:-1]).all())
        if klass is None:
            self.classes = 1
            capacity = np.array([size], dtype=np.int64)
        else:
            self.classes = classes if classes is not None else int(klass.max(initial=0)) + 1
            capacity = np.bincount(klass, minlength=self.classes)
        self.capacity = capacity  # consumers per class, joined or not
        self.start = np.concatenate(([0], np.cumsum(capacity)[:-1]))
        self.starts: list[int] = self.start.tolist()
        self.live: list[int] = capacity.tolist()  # live members per class
        # ``rows`` lists each class's live members, ``where`` inverts it; both start as the identity when the
        # classes are laid out in order, and cost nothing until people move.
        self.rows = Identity(size, dtype)
        self.where = Identity(size, dtype)
        if not in_order:
            order = np.argsort(klass, kind="stable").astype(dtype)
            self.rows[:] = order
            self.where[order] = np.arange(size, dtype=dtype)
        # scalar reads and writes of the stored offsets (an Identity stores value − index, see
        # reachsim.model.zeroed) go through memoryviews, which read and write Python ints; made once
        self._scalar_rows, self._scalar_where = memoryview(self.rows.stored), memoryview(self.where.stored)
        self.size = size

    @property
    def length(self) -> np.ndarray:
        """Live members per class (a new array)."""
        return np.array(self.live, dtype=np.int64)

    def contains(self, idx: np.ndarray) -> np.ndarray:
        """Whether each of ``idx`` never joined."""
        return self.where[idx] >= 0

    def class_of(self, idx: np.ndarray) -> np.ndarray:
        """The class of each of ``idx`` (all in the pool)."""
        return self.start.searchsorted(self.where[idx], side="right") - 1

    def draw(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """Up to ``k`` consumers drawn uniformly from everyone in the pool, removed from it, in random order."""
        k = min(int(k), self.size)
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        v = distinct_integers(rng, self.size, k)  # positions in the classes' live blocks laid end to end
        if self.classes == 1:
            rows = self.rows[v].astype(np.int64)
            self._remove_from_one_block(v)
            return rows
        length = self.length
        ends = np.cumsum(length)
        klass = ends.searchsorted(v, side="right")
        positions = v + (self.start + length - ends)[klass]
        rows = self.rows[positions].astype(np.int64)
        self._take_out(np.sort(positions), rows, np.bincount(klass, minlength=self.classes).tolist())
        return rows

    def draw_by_class(self, rng: np.random.Generator, counts: Sequence[int] | np.ndarray) -> np.ndarray:
        """``counts[c]`` consumers (at most all) drawn uniformly from each class ``c``, removed from the pool;
        returned class by class, each class's in random order.

        Up to :attr:`FEW_DRAWN` people in all are drawn one by one (:meth:`_draw_one_by_one`). More are drawn in
        one pass: a position uniform in its class's live block for each person; where a position comes up more
        than once, its first draw stays and every later one is drawn again in place (from its class), until all
        differ. The rule looks at nothing but which draws are equal, so relabelling a class's members maps the
        procedure onto itself: the outcome is equally likely to be any ordered tuple of distinct members, i.e. a
        uniform subset in uniform random order. A class asked for more than half its members is drawn by
        permutation instead.
        """
        live, starts = self.live, self.starts
        want = [min(int(k), n) for k, n in zip(counts, live, strict=True)]
        total = sum(want)
        if total == 0:
            return np.empty(0, dtype=np.int64)
        if total <= self.FEW_DRAWN:
            return self._draw_one_by_one(rng, want, total)
        active = [c for c, k in enumerate(want) if k]
        if any(2 * want[c] > live[c] for c in active):
            positions = np.concatenate([starts[c] + distinct_integers(rng, live[c], want[c]) for c in active])
            ordered = np.sort(positions)
        else:
            # a position uniform in its class's live block: the uniforms scaled and shifted class by class, in place
            # (slices of one array: fewer calls than arrays of each person's scale and start)
            uniform = rng.random(total)
            a = 0
            for c in active:
                b = a + want[c]
                uniform[a:b] *= live[c]
                a = b
            positions = uniform.astype(np.int64)
            a = 0
            for c in active:
                b = a + want[c]
                if starts[c]:
                    positions[a:b] += starts[c]
                a = b
            ordered = self._redraw_repeats(rng, positions, live, starts)
        stored = self.rows.stored  # an Identity: the row at position p is stored[p] + p
        rows = stored[positions] + positions
        self._take_out(ordered, rows, want)
        return rows

    @staticmethod
    def _redraw_repeats(
        rng: np.random.Generator, positions: np.ndarray, live: list[int], starts: list[int]
    ) -> np.ndarray:
        """Draw again, in place, every draw of a position after its first, until all differ (each from the class of
        its position: ``live[c]`` members from ``starts[c]``); the positions in ascending order. A repeat is rare
        (about k²/2L of k draws from L), so the draws of each repeated position are found one position at a time
        (its first draw is the lowest index) and drawn again with scalars: a few calls, where a pass that sorts the
        draws with their indices takes a dozen."""
        while True:  # a copy sorted in place and a count: np.sort's and ndarray.any's Python wrappers cost more
            ordered = positions.copy()
            ordered.sort()
            repeated = ordered[1:] == ordered[:-1]
            if not np.count_nonzero(repeated):
                return ordered
            later: list[tuple[int, int]] = []
            for position in sorted(set(ordered[1:][repeated].tolist())):  # each repeated position once
                c = bisect.bisect_right(starts, position) - 1  # an empty class starts where the next one does
                later.extend((j, c) for j in np.flatnonzero(positions == position)[1:].tolist())  # after the first
            later.sort()
            for (j, c), u in zip(later, rng.random(len(later)).tolist(), strict=True):
                positions[j] = int(u * live[c]) + starts[c]

    def _draw_one_by_one(self, rng: np.random.Generator, want: list[int], total: int) -> np.ndarray:
        """:meth:`draw_by_class` for a few people, with scalar operations (cheaper than the NumPy calls of a pass):
        in each class, a position uniform in its live block, whose member is taken out at once (the block's last
        live member fills the hole), then the next from the smaller block. Each draw is uniform over the members
        not drawn yet, so the class's draws are a uniform ordered tuple of distinct members."""
        rows, where = self._scalar_rows, self._scalar_where  # stored offsets: an Identity stores value − index
        uniforms = rng.random(total).tolist()
        out: list[int] = []
        i = 0
        for c, k in enumerate(want):
            if not k:
                continue
            start, n = self.starts[c], self.live[c]
            for u in uniforms[i : i + k]:
                p = start + int(u * n)
                n -= 1
                last = start + n
                person = rows[p] + p
                where[person] = -1 - person
                if p != last:
                    moved = rows[last] + last
                    rows[p] = moved - p
                    where[moved] = p - moved
                out.append(person)
            i += k
            self.live[c] = n
        self.size -= total
        return np.array(out, dtype=np.int64)

    def remove(self, idx: np.ndarray) -> None:
        """Take consumers ``idx`` (distinct, all in the pool) out of it."""
        if idx.size == 0:
            return
        positions = self.where[idx].astype(np.int64)
        if self.classes == 1:
            self._remove_from_one_block(positions)
            return
        ordered = np.sort(positions)
        bounds = [*ordered.searchsorted(self.start).tolist(), ordered.size]
        self._take_out(ordered, idx, [b - a for a, b in itertools.pairwise(bounds)])

    def take(self, idx: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Take those of ``idx`` (distinct) who are still in the pool out of it; returns them and their classes.

        A bus opt-in names a few people at a time: up to :attr:`FEW` are swapped out one by one with scalar
        operations (:meth:`take_few`), which costs less than the NumPy calls of a vectorised removal."""
        if idx.size > self.FEW:
            idx = idx[self.contains(idx)]
            klass = self.class_of(idx).tolist()
            self.remove(idx)
            return idx, klass
        kept, klass = self.take_few(idx.tolist())
        return (idx if len(kept) == idx.size else np.array(kept, dtype=np.int64)), klass

    def take_few(self, people: list[int]) -> tuple[list[int], list[int]]:
        """:meth:`take` for a few people as Python ints (distinct): those still in the pool, and their classes."""
        rows, where = self._scalar_rows, self._scalar_where
        starts, live = self.starts, self.live
        one_class = self.classes == 1
        kept: list[int] = []
        klass: list[int] = []
        for person in people:
            p = where[person] + person
            if p < 0:
                continue
            c = 0 if one_class else bisect.bisect_right(starts, p) - 1
            live[c] -= 1
            last = starts[c] + live[c]
            where[person] = -1 - person
            if p != last:  # the class's last live member fills the hole
                moved = rows[last] + last
                rows[p] = moved - p
                where[moved] = p - moved
            kept.append(person)
            klass.append(c)
        self.size -= len(kept)
        return kept, klass

    def _remove_from_one_block(self, positions: np.ndarray) -> None:
        """:meth:`_take_out` for a pool of one class: the block's last live members fill the holes, in any order."""
        rows, where = self.rows, self.where
        where[rows[positions]] = -1
        end = self.size - positions.size
        holes = positions[positions < end]
        if holes.size:
            tail = rows[end : self.size]
            moved = tail[where[tail] >= 0]
            rows[holes] = moved
            where[moved] = holes
        self.size = end
        self.live[0] = end

    def _take_out(self, positions: np.ndarray, members: np.ndarray, removed: list[int]) -> None:
        """Remove distinct live ``positions`` (ascending, hence class by class), holding consumers ``members`` (in
        any order), ``removed[c]`` of class ``c``: each class's last live members fill its holes.

        Class c's vacated tail is ``[end_c, end_c + removed_c)``; laid end to end in class order, tail index ``i``
        of class c is position ``i + end_c − (removed before c)``. The drawn positions below ``end_c`` are the
        holes, those in the tail are crossed out, and the tail's other members fill the holes, class by class in
        ascending order on both sides."""
        # the Identity columns' stored offsets (value − index), read and written directly: fewer NumPy calls
        rows, where = self.rows.stored, self.where.stored
        where[members] = -1 - members
        ends: list[int] = []
        shifts: list[int] = []
        sizes: list[int] = []
        total = 0
        for c, k in enumerate(removed):
            if k:
                self.live[c] -= k
                end = self.starts[c] + self.live[c]
                ends.append(end)
                shifts.append(end - total)
                sizes.append(k)
                total += k
        self.size -= total
        if total == 0:
            return
        if len(ends) == 1:
            end = ends[0]
            cut = total if int(positions[-1]) < end else int(positions.searchsorted(end))
            if cut == total:  # the usual case: no removed position in the vacated tail, all of which fills the holes
                holes, fill = positions, np.arange(end, end + total, dtype=np.int64)
            else:
                if cut == 0:
                    return
                holes = positions[:cut]
                keep = np.ones(total, dtype=bool)
                keep[positions[cut:] - end] = False
                fill = np.flatnonzero(keep)
                fill += end
        else:
            # where each class's positions reach its vacated tail: the positions ascend class by class, and each
            # class's end lies within its own positions' range, so one search finds them all
            cuts = positions.searchsorted(ends).tolist()
            bounds = [0, *itertools.accumulate(sizes)]  # class i's positions are positions[bounds[i]:bounds[i + 1]]
            crossing = [i for i, cut in enumerate(cuts) if cut < bounds[i + 1]]
            if not crossing:  # the usual case, as above
                holes = positions
                fill = np.arange(total, dtype=np.int64)
                fill += np.array(shifts).repeat(sizes)
            else:
                holes = np.concatenate([positions[bounds[i] : cut] for i, cut in enumerate(cuts)])
                if not holes.size:
                    return
                keep = np.ones(total, dtype=bool)
                for i in crossing:  # crossed out of the tails laid end to end
                    keep[positions[cuts[i] : bounds[i + 1]] - shifts[i]] = False
                fill = np.flatnonzero(keep)
                fill += np.array(shifts).repeat(sizes)[keep]
        moved = rows[fill] + fill
        rows[holes] = moved - holes
        where[moved] = holes - moved


class _Day(NamedTuple):
    """One day's acquisition, drawn as counts: who joins is drawn when the day is handed over."""

    t: float
    joined: list[int]  # by class: the people the day brought still to be drawn at hand-over (a bus join may
    # name some of them early: AudienceAcquisition._claim_drawn)
    uniform: list[int]  # by class: those drawn uniformly from the pool (organic, Bass, flat-cost paid); the rest
    # of ``joined`` are the people paid impressions converted
    by_source: list[int]  # how many of ``uniform`` each of SOURCES brought, in SOURCES order


class AudienceAcquisition:
    """The acquisition of one channel's owned audience, built in the channel's ``start()``.

    ``params()`` returns the current :class:`Acquisition` (read at every step, so timeline entries apply);
    ``join`` is the channel's callback; ``relevance_uplift()`` the channel's targeting uplift (impression form).
    How many join from each source is drawn from the stream ``"<channel>/<prefix>/<source>"``, one per source, so
    a change to one source leaves the other sources' counts paired across strategies (common random numbers); how
    they split among classes (segment × usable data) from ``"<channel>/<prefix>/classes"``, and who they are from
    ``"<channel>/<prefix>/who"``.

    A day is drawn in two stages: its counts by source and class at :meth:`step`, then the people, uniformly within
    each class among those who never joined, when the day is handed over. Given the counts, people in one class are
    exchangeable, so handing several days over in one draw gives the same joint distribution as a draw per day.
    With ``join_batch`` the component does exactly that: the days pile up until the channel calls :meth:`flush`
    (before it reads its audience: a broadcast, a bus event), and ``join_batch(idx, days, counts)`` receives them
    at once, in runs of people who joined on the same day; the component records ``joined`` and ``joined_<source>``
    on each day, and ``pending`` counts who is drawn but not handed over.
    Without it, each day is handed over at its step through ``join``, one call per source.
    """

    def __init__(
        self,
        ctx: ChannelContext,
        params: Callable[[], Acquisition],
        join: JoinCallback,
        *,
        prefix: str = "acquisition",
        relevance_uplift: Callable[[], float] = lambda: 0.0,
        join_batch: BatchJoinCallback | None = None,
    ) -> None:
        self.ctx = ctx
        # The channel's callbacks are held weakly: the channel owns this component, and a cycle back to it would
        # keep a finished run's columns until the cyclic collector runs (reachsim.engine.weak).
        self.params = weak_callable(params)
        self._join = weak_callable(join)
        self._join_batch = weak_callable(join_batch) if join_batch is not None else None
        self._prefix = prefix
        self._uplift = weak_callable(relevance_uplift)
        # The paid form is fixed for a run (a timeline changes numbers only). Impressions convert people with
        # chances that differ by segment and usable data, so their pool is kept by that class.
        paid = params().paid
        if isinstance(paid, ImpressionAcquisition):
            population, segments = ctx.population, ctx.segments
            klass = population.segment * np.int16(2) + population.has_data
            self.pool = NeverJoined(population.size, klass, classes=2 * len(segments.names))
            # per class (segment × usable data), fixed for the run: the segment's multiplier, whether the data
            # uplift applies, and whether the target holds it
            codes = np.arange(self.pool.classes) // 2
            self._multiplier = segments.engagement_multiplier[codes].tolist()
            self._usable = (np.arange(self.pool.classes) % 2 == 1).tolist()
            in_target = np.ones(self.pool.classes, dtype=bool)
            if isinstance(paid.target, list):
                in_target = np.isin(codes, [segments.names.index(name) for name in paid.target])
            self._in_target = in_target.tolist()
            self._target_size = int(self.pool.capacity[in_target].sum())
        else:
            self.pool = NeverJoined(ctx.population.size)
        self._market = ctx.population.size
        self.ever_joined = 0
        self.pending = 0  # drawn as counts, not yet handed over (join_batch only)
        self._days: list[_Day] = []
        self._pending_by_class = [0] * self.pool.classes
        self._paid_credit = 0.0  # members paid for but not yet whole (fractional budget carried to the next day)
        self._impression_credit = NO_CREDIT  # impressions paid for but not yet whole
        self._rng: dict[str, np.random.Generator] = {}
        self._who = ctx.rng(f"{prefix}/who")
        self._classes = ctx.rng(f"{prefix}/classes")
        self._claims = ctx.rng(f"{prefix}/claims")
        self._organic: DrawnAhead | None = None  # the days' organic sign-ups, drawn ahead (made at the first)
        self._reach: tuple[DrawnAhead, DrawnAhead] | None = None  # the normal and uniform of the days' paid reach
        self._chances: dict[tuple[float, float, int], list[float]] = {}  # see _impressions
        # consumers drawn by pending days but named early, and the index in _days of each one's day
        self._claimed: list[tuple[np.ndarray, np.ndarray]] = []

    def _stream(self, source: str) -> np.random.Generator:
        rng = self._rng.get(source)
        if rng is None:
            rng = self._rng[source] = self.ctx.rng(f"{self._prefix}/{source}")
        return rng

    def join(self, idx: np.ndarray, t: float, source: str) -> None:
        """Consumers ``idx`` (distinct, ascending) join from ``source`` (an initial base, a bus opt-in): those who
        joined before are dropped, the rest recorded as joined and handed to the channel.

        Days drawn as counts but not handed over are not handed over first: whether someone of ``idx`` is among
        the people those days already hold is decided here (:meth:`_claim_drawn`), so that a bus opt-in costs the
        people it names, not a hand-over."""
        if idx.size <= self.pool.FEW:  # a bus opt-in of a few people: scalar operations throughout
            kept, klass = self.pool.take_few(idx.tolist())
            if not kept:
                return
            if len(kept) < idx.size:
                idx = np.array(kept, dtype=np.int64)
        else:
            idx, klass = self.pool.take(idx)
            if not klass:
                return
        if self.pending:
            idx = self._claim_drawn(idx, klass)
        if idx.size:
            self.ever_joined += idx.size
            self._join(idx, t, source)

    def _claim_drawn(self, idx: np.ndarray, klass: list[int]) -> np.ndarray:
        """Of ``idx`` (just taken out of the pool, of classes ``klass``), those the pending days already drew; the
        rest are returned. Class c's pending days hold a uniform sample of ``k`` of the ``L`` consumers its pool
        had (those ``k`` still in it), so of ``n`` given ones, Hypergeometric(k, L − k, n) are in the sample,
        a uniform choice of them, each in a uniformly chosen place among the days' unnamed draws; the rest of the
        sample stays uniform among the others. The claimed ones join at the next hand-over with their own day.
        One given person of a class (the usual opt-in) is in the sample with probability k/L: one uniform decides."""
        rng, fresh = self._claims, None
        if len(klass) == 1:  # the usual opt-in: the same draw as below, without its lists
            c = klass[0]
            k = self._pending_by_class[c]
            if k == 0 or rng.random() * (self.pool.live[c] + 1) >= k:
                return idx
            self._claim(idx, [0], c, k, 1)
            return idx[:0]
        by_class: dict[int, list[int]] = {}
        for i, c in enumerate(klass):
            by_class.setdefault(c, []).append(i)
        for c in sorted(by_class):
            k = self._pending_by_class[c]
            if k == 0:
                continue
            members = by_class[c]
            length = self.pool.live[c] + len(members)  # the class's pool before these left it
            if len(members) == 1:
                x = 1 if rng.random() * length < k else 0
            else:
                x = int(rng.hypergeometric(k, length - k, len(members)))
            if x == 0:
                continue
            claimed = self._claim(idx, members, c, k, x)
            if fresh is None:
                fresh = np.ones(idx.size, dtype=bool)
            fresh[claimed] = False
        return idx if fresh is None else idx[fresh]

    def _claim(self, idx: np.ndarray, members: list[int], c: int, k: int, x: int) -> np.ndarray:
        """Claim ``x`` of ``idx[members]`` (of class ``c``, whose pending days hold ``k`` unnamed draws) for the
        pending days, each in a uniformly chosen place among those draws; returns the positions in ``idx``."""
        rng = self._claims
        claimed = np.array(members)[rng.permutation(len(members))[:x]]
        places = np.repeat(np.arange(len(self._days)), [d.joined[c] for d in self._days])
        days = places[rng.permutation(k)[:x]]
        for day, taken in enumerate(np.bincount(days, minlength=len(self._days)).tolist()):
            self._days[day].joined[c] -= taken
        self._claimed.append((idx[claimed], days))
        self._pending_by_class[c] = k - x
        return claimed

    def initial(self, k: int, t: float = 0.0) -> None:
        """``k`` consumers drawn uniformly from the market join at ``t`` as the ``initial`` base."""
        who = self.ctx.rng(f"{self._prefix}/initial/who")
        # in pieces, so that joining a whole market makes no market-sized temporaries
        for part in sorted_subset(who, self.ctx.population.size, k, piece=INITIAL_PIECE):
            self.join(part, t, "initial")

    def step(self, t: float) -> None:
        """One day of acquisition: how many join from each source, in one uniform draw among those who never
        joined, split among the sources in the order organic, Bass, flat paid (which gets what the market has left);
        then the impressions of paid acquisition in the impression form, on whoever is left."""
        acq, ctx = self.params(), self.ctx
        organic = bass = flat = 0  # wanted by each of SOURCES
        if acq.organic_per_day:  # Poisson, independent of everything: drawn ahead in blocks
            if self._organic is None:
                self._organic = DrawnAhead(self._stream("organic").poisson, AHEAD)
            organic = self._organic.next(acq.organic_per_day)
        diffusion = acq.bass
        if diffusion is not None:
            potential = math.floor(diffusion.potential * self._market)
            remaining = potential - self.ever_joined
            prob = daily_adoption_probability(diffusion.p, diffusion.q, self.ever_joined, potential)
            if remaining > 0 and prob > 0:
                bass = int(self._stream("bass").binomial(remaining, prob))
        paid = None if ctx.paid_stopped else acq.paid  # stopped for the run-out after the horizon
        flat_paid = isinstance(paid, PaidAcquisition)
        if flat_paid:
            self._paid_credit += paid.budget_per_day / paid.cost_per_subscriber  # type: ignore[union-attr]
            flat = math.floor(self._paid_credit)
        live, pending = self.pool.live, self._pending_by_class
        if len(live) == 1:  # one class (never the impression form): scalars, without lists by class
            left = live[0] - pending[0]
            organic = min(organic, left)  # the market supplies the sources in order
            bass = min(bass, left - organic)
            flat = min(flat, left - organic - bass)
            if flat_paid:
                self._bought(paid, flat)  # type: ignore[arg-type]
            total = organic + bass + flat
            if total == 0:
                return
            day = _Day(t, [total], [total], [organic, bass, flat])
            by_class = [pending[0] + total]
        else:
            available = [n - p for n, p in zip(live, pending, strict=True)]
            left = sum(available)
            organic = min(organic, left)
            bass = min(bass, left - organic)
            flat = min(flat, left - organic - bass)
            if flat_paid:
                self._bought(paid, flat)  # type: ignore[arg-type]
            uniform = self._split(available, organic + bass + flat)
            joined = list(uniform)  # a claim (_claim_drawn) takes people off ``joined`` only
            if isinstance(paid, ImpressionAcquisition):
                converted = self._impressions(paid, [a - u for a, u in zip(available, uniform, strict=True)])
                joined = [u + c for u, c in zip(uniform, converted, strict=True)]
            total = sum(joined)
            if total == 0:
                return
            day = _Day(t, joined, uniform, [organic, bass, flat])
            by_class = [p + j for p, j in zip(pending, joined, strict=True)]
        self.ever_joined += total
        if self._join_batch is None:
            self._hand_over([day])
            return
        self.pending += total
        self._pending_by_class = by_class
        self._days.append(day)
        ctx.flow("joined", total)
        if organic:
            ctx.flow("joined_organic", organic)
        if bass:
            ctx.flow("joined_bass", bass)
        if total - organic - bass:
            ctx.flow("joined_paid", total - organic - bass)

    def _bought(self, paid: PaidAcquisition, flat: int) -> None:
        """Flat paid acquisition bought ``flat`` members: what the market could not supply is not bought (the budget
        is not spent, no credit kept)."""
        self._paid_credit = min(self._paid_credit - flat, self._paid_credit % 1.0)
        self._spend(flat * paid.cost_per_subscriber)

    def flush(self) -> None:
        """Hand the days drawn as counts over to the channel (``join_batch`` only): call it before reading the
        audience's members."""
        if self._days:
            days, self._days = self._days, []
            counts = self._pending_by_class
            self.pending = 0
            self._pending_by_class = [0] * self.pool.classes
            self._hand_over_batch(days, counts)
            self._claimed = []

    def _split(self, available: list[int], k: int) -> list[int]:
        """How ``k`` people drawn uniformly from the pool fall into its classes (multivariate hypergeometric, drawn
        as a chain of scalar hypergeometrics: cheaper than NumPy's array form for a handful of classes)."""
        out = [0] * len(available)
        rest = sum(available)
        for c, a in enumerate(available):
            if k == 0:
                break
            rest -= a
            x = k if rest == 0 else int(self._classes.hypergeometric(a, rest, k)) if a else 0
            out[c] = x
            k -= x
        return out

    def _hand_over_batch(self, days: list[_Day], counts: list[int]) -> None:
        """Draw the people of ``days`` (``counts`` by class: uniformly within each class among those who never
        joined) and hand them to the channel's ``join_batch`` with each one's day. A class's people come in random
        order, so dealing them out in order to the days is a uniform deal."""
        people = self.pool.draw_by_class(self._who, counts)  # class by class, random within
        day_t: list[float] = []  # a run of people per class and day, class by class as the people come
        dealt: list[int] = []
        for c, k in enumerate(counts):
            if k:
                for d in days:
                    if d.joined[c]:
                        day_t.append(d.t)
                        dealt.append(d.joined[c])
        if self._claimed:  # named early by a bus join (see _claim_drawn), each a run of one
            people = np.concatenate([people, *(who for who, _ in self._claimed)])
            for _, claimed_days in self._claimed:
                day_t.extend(days[day].t for day in claimed_days.tolist())
                dealt.extend([1] * claimed_days.size)
        self._join_batch(people, day_t, dealt)  # type: ignore[misc]

    def _hand_over(self, days: list[_Day]) -> None:
        """Draw the people of one day (uniformly within each class among those who never joined) and hand them to
        the channel's ``join``, source by source. A class's people come in random order, so dealing them out in
        order (to the uniform draw then the converted, and the uniform draw's to its sources) is a uniform deal."""
        per_day = np.array([d.joined for d in days], dtype=np.int64)  # days × classes
        people = self.pool.draw_by_class(self._who, per_day.sum(axis=0))  # class by class, random within
        (day,) = days  # one day at a time without join_batch
        drawn = np.array([day.uniform, [j - u for j, u in zip(day.joined, day.uniform, strict=True)]]).T.ravel()
        is_uniform = np.repeat(np.tile(np.array([True, False]), self.pool.classes), drawn)
        uniform = people[is_uniform]
        uniform = uniform[self._who.permutation(uniform.size)]  # the uniform draw's people in random order
        bounds = np.cumsum(day.by_source)
        parts = {"organic": uniform[: bounds[0]], "bass": uniform[bounds[0] : bounds[1]],
                 "paid": np.concatenate([uniform[bounds[1] :], people[~is_uniform]])}
        for source in SOURCES:
            idx = np.sort(parts[source])
            if idx.size:
                self._join(idx, day.t, source)

    def _spend(self, amount: float) -> None:
        if amount:
            self.ctx.cost("acquisition", amount)
            self.ctx.flow("paid_spend", amount)

    def _conversion_chances(self, probability: float, uplift: float, impressions: int) -> list[float]:
        """Each class's chance that a day's ``impressions`` convert one of its people (0 outside the target)."""
        return [
            conversion_probability_scalar(
                min(1.0, probability * self._multiplier[c] * (1.0 + uplift if self._usable[c] else 1.0)),
                self._target_size,
                impressions,
            )
            if self._in_target[c]
            else 0.0
            for c in range(self.pool.classes)
        ]

    def _impressions(self, paid: ImpressionAcquisition, nonmembers: list[int]) -> list[int]:
        """A day of ads on the target, ``nonmembers`` by class not yet in the audience: how many each class's
        people convert, each with ``1 − (1 − c_k/T)^I``; how many impressions land on members (wasted); and how many
        distinct people the day's ads reached (``paid_reach``, the occupancy count of ``I`` impressions on ``T``,
        drawn by :func:`reachsim.model.occupancy.draw_unique_reach`: exact mean and variance, normal shape)."""
        impressions, self._impression_credit = buy_impressions(self._impression_credit, paid.budget_per_day,
                                                               paid.cpm)
        self._spend(paid.budget_per_day)
        converted = [0] * len(nonmembers)
        if impressions == 0:
            return converted
        target_size, rng = self._target_size, self._stream("paid")
        # each class's chance, the same day after day while the parameters and the impressions bought are
        key = (paid.conversion_probability, self._uplift(), impressions)
        chances = self._chances.get(key)
        if chances is None:
            if len(self._chances) >= 16:  # a timeline that keeps changing the parameters: keep the latest only
                self._chances.clear()
            chances = self._chances[key] = self._conversion_chances(paid.conversion_probability, key[1], impressions)
        in_target = 0
        for c, n in enumerate(nonmembers):
            if n and self._in_target[c]:
                in_target += n
                p = chances[c]
                if p > 0:
                    converted[c] = int(rng.binomial(n, p))
        members = target_size - in_target
        wasted = int(rng.binomial(impressions, members / target_size)) if target_size else impressions
        self.ctx.flow("paid_impressions", impressions)
        self.ctx.flow("wasted_impressions", wasted)
        # a stream of its own: the reach is reported, never fed back, so it leaves every other draw as it was; its
        # normal and uniform depend on nothing, so they are drawn ahead in blocks
        if target_size == 0:
            reach = 0
        elif impressions == 1 or target_size == 1:
            reach = 1
        else:
            if self._reach is None:
                rng = self._stream("reach")
                self._reach = (DrawnAhead(rng.standard_normal, AHEAD), DrawnAhead(rng.random, AHEAD))
            normal, uniform = self._reach
            reach = unique_reach_given(impressions, target_size, normal.next(), uniform.next())
        if reach:
            self.ctx.flow("paid_reach", reach)
        return converted
