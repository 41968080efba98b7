"""How a channel acquires an owned audience from the market: organic sign-ups, paid acquisition, Bass diffusion.

Any channel whose audience is made of market consumers who join once (Messenger subscribers, app installs, Page
fans) grows it through one :class:`AudienceAcquisition`: it draws each day's sign-ups by source, picks who joins
among the consumers who never joined (someone who left is not re-acquired), books what paid acquisition costs
under the ledger category ``acquisition`` and hands the new members to the channel's ``join`` callback. Joins
from anywhere else (an initial base, another channel over the bus) go through :meth:`AudienceAcquisition.join`
too, so "ever joined" is known in one place. The maths is in docs/model/messenger.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pydantic import Field

from reachsim.core.strict import StrictModel
from reachsim.engine.context import ChannelContext
from reachsim.model.bass import daily_adoption_probability

__all__ = [
    "SOURCES",
    "Acquisition",
    "AudienceAcquisition",
    "BassAcquisition",
    "JoinCallback",
    "NeverJoined",
    "PaidAcquisition",
    "distinct_integers",
]

#: The sources this component draws every day, in drawing order.
SOURCES = ("organic", "bass", "paid")

#: ``join(idx, t, source)``: consumers ``idx`` (market rows, ascending, none of whom joined before) join at ``t``.
JoinCallback = Callable[[np.ndarray, float, str], None]


class PaidAcquisition(StrictModel):
    """Paid sign-ups at a flat cost each, e.g. click-to-Messenger ads."""

    budget_per_day: float = Field(ge=0, description="Spend per day on acquiring the audience.")
    cost_per_subscriber: float = Field(gt=0, description="Cost of one acquired member.")


class BassAcquisition(StrictModel):
    """Word-of-mouth diffusion over a potential audience (Bass model)."""

    p: float = Field(ge=0, le=10, description="Coefficient of innovation, per year.")
    q: float = Field(ge=0, le=50, description="Coefficient of imitation, per year.")
    potential: float = Field(gt=0, le=1, description="Potential adopters as a share of the market (M/size).")


class Acquisition(StrictModel):
    """How the audience grows (sources add up)."""

    organic_per_day: float = Field(default=0.0, ge=0, description="Mean organic sign-ups per day (Poisson).")
    paid: PaidAcquisition | None = Field(default=None, description="Paid acquisition; none when omitted.")
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


class NeverJoined:
    """The consumers who never joined, optionally kept by class (e.g. segment × whether their data is usable).

    Each class is a block of one index array with its live members first, and ``where`` maps a consumer to their
    position (−1 once joined). Drawing people and removing them swaps the block's last live members into the
    holes, so both cost what is drawn or removed, never a pass over the market. Classes let a draw be uniform
    within one class (targeting) as well as over everyone; without them (``klass=None``) the pool is one block.
    """

    def __init__(self, size: int, klass: np.ndarray | None = None) -> None:
        dtype = np.int32 if size < 2**31 else np.int64
        if klass is None:
            self.classes = 1
            capacity = np.array([size], dtype=np.int64)
            self.rows = np.arange(size, dtype=dtype)
        else:
            self.classes = int(klass.max(initial=0)) + 1
            capacity = np.bincount(klass, minlength=self.classes)
            self.rows = np.argsort(klass, kind="stable").astype(dtype)
        self.start = np.concatenate(([0], np.cumsum(capacity)[:-1]))
        self.length = capacity.copy()  # live members per class
        self.where = np.empty(size, dtype=dtype)
        self.where[self.rows] = np.arange(size, dtype=dtype)
        self.size = size

    def contains(self, idx: np.ndarray) -> np.ndarray:
        """Whether each of ``idx`` never joined."""
        return self.where[idx] >= 0

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
        ends = np.cumsum(self.length)
        klass = ends.searchsorted(v, side="right")
        positions = v + (self.start + self.length - ends)[klass]
        rows = self.rows[positions].astype(np.int64)
        self._remove(positions, klass)
        return rows

    def remove(self, idx: np.ndarray) -> None:
        """Take consumers ``idx`` (distinct, all in the pool) out of it."""
        if idx.size == 0:
            return
        positions = self.where[idx].astype(np.int64)
        if self.classes == 1:
            self._remove_from_one_block(positions)
        else:
            self._remove(positions, self.start.searchsorted(positions, side="right") - 1)

    def _remove_from_one_block(self, positions: np.ndarray) -> None:
        """:meth:`_remove` for a pool of one class: the block's last live members fill the holes, in any order."""
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
        self.length[0] = end

    def _remove(self, positions: np.ndarray, klass: np.ndarray) -> None:
        """Remove distinct live ``positions`` of classes ``klass``: each class's last live members fill its holes."""
        rows, where = self.rows, self.where
        where[rows[positions]] = -1
        removed = np.bincount(klass, minlength=self.classes)
        self.length -= removed
        self.size -= positions.size
        end = self.start + self.length  # each class's live block after the removal
        holes = positions[positions < end[klass]]
        if holes.size:
            holes.sort()  # ascending positions are in class order
            # each class's vacated tail [end, end + removed), laid end to end in class order
            tail = np.arange(positions.size) + np.repeat(end - np.cumsum(removed) + removed, removed)
            fill = tail[where[rows[tail]] >= 0]  # the live members there, as many per class as the class's holes
            moved = rows[fill]
            rows[holes] = moved
            where[moved] = holes


class AudienceAcquisition:
    """The acquisition of one channel's owned audience, built in the channel's ``start()``.

    ``params()`` returns the current :class:`Acquisition` (read at every step, so timeline entries apply);
    ``join`` is the channel's callback. How many join from each source is drawn from the stream
    ``"<channel>/<prefix>/<source>"``, one per source, so a change to one source leaves the other sources' counts
    paired across strategies (common random numbers); who joins is one draw a day from ``"<channel>/<prefix>/who"``.
    """

    def __init__(
        self,
        ctx: ChannelContext,
        params: Callable[[], Acquisition],
        join: JoinCallback,
        *,
        prefix: str = "acquisition",
    ) -> None:
        self.ctx = ctx
        self.params = params
        self._join = join
        self._prefix = prefix
        self.pool = NeverJoined(ctx.population.size)
        self.ever_joined = 0
        self._paid_credit = 0.0  # members paid for but not yet whole (fractional budget carried to the next day)
        self._rng: dict[str, np.random.Generator] = {}
        self._who = ctx.rng(f"{prefix}/who")

    def _stream(self, source: str) -> np.random.Generator:
        if source not in self._rng:
            self._rng[source] = self.ctx.rng(f"{self._prefix}/{source}")
        return self._rng[source]

    def join(self, idx: np.ndarray, t: float, source: str) -> None:
        """Consumers ``idx`` (distinct, ascending) join from ``source`` (an initial base, a bus opt-in): those who
        joined before are dropped, the rest recorded as joined and handed to the channel."""
        idx = idx[self.pool.contains(idx)]
        if idx.size:
            self.pool.remove(idx)
            self._admit(idx, t, source)

    def initial(self, k: int, t: float = 0.0) -> None:
        """``k`` consumers drawn uniformly from the market join at ``t`` as the ``initial`` base."""
        if k:
            who = self.ctx.rng(f"{self._prefix}/initial/who")
            self.join(np.sort(who.choice(self.ctx.population.size, size=k, replace=False)), t, "initial")

    def _admit(self, idx: np.ndarray, t: float, source: str) -> None:
        self.ever_joined += idx.size
        self._join(idx, t, source)

    def step(self, t: float) -> None:
        """One day of acquisition: how many join from each source, then who, in one draw among those who never
        joined, split among the sources in the order organic, Bass, paid (paid gets what the market has left)."""
        acq = self.params()
        counts: list[tuple[str, int]] = []
        if acq.organic_per_day:
            counts.append(("organic", int(self._stream("organic").poisson(acq.organic_per_day))))
        if acq.bass is not None:
            potential = math.floor(acq.bass.potential * self.ctx.population.size)
            remaining = potential - self.ever_joined
            prob = daily_adoption_probability(acq.bass.p, acq.bass.q, self.ever_joined, potential)
            k = int(self._stream("bass").binomial(remaining, prob)) if remaining > 0 and prob > 0 else 0
            counts.append(("bass", k))
        paid = acq.paid
        if paid is not None:
            self._paid_credit += paid.budget_per_day / paid.cost_per_subscriber
            counts.append(("paid", math.floor(self._paid_credit)))
        if not counts:
            return
        people = self.pool.draw(self._who, sum(k for _, k in counts))
        offset = 0
        for source, k in counts:
            got = people[offset : offset + k]
            offset += got.size
            if source == "paid":
                # what the market could not supply is not bought: the budget is not spent, no credit kept
                self._paid_credit = min(self._paid_credit - got.size, self._paid_credit % 1.0)
                self.ctx.cost("acquisition", got.size * paid.cost_per_subscriber)  # type: ignore[union-attr]
            if got.size:
                self._admit(np.sort(got), t, source)
