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

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated, Any

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator

from reachsim.core.metrics import Metric, flow, ratio
from reachsim.core.problems import did_you_mean
from reachsim.core.strict import StrictModel
from reachsim.engine.context import ChannelContext
from reachsim.engine.weak import weak_callable
from reachsim.model.bass import daily_adoption_probability
from reachsim.model.conversion import conversion_probability
from reachsim.model.exposure import boost_impressions

__all__ = [
    "METRICS",
    "SOURCES",
    "Acquisition",
    "AudienceAcquisition",
    "BassAcquisition",
    "ImpressionAcquisition",
    "JoinCallback",
    "NeverJoined",
    "PaidAcquisition",
    "check_market",
    "distinct_integers",
]

#: The sources this component draws every day, in drawing order.
SOURCES = ("organic", "bass", "paid")

#: ``join(idx, t, source)``: consumers ``idx`` (market rows, ascending, none of whom joined before) join at ``t``.
JoinCallback = Callable[[np.ndarray, float, str], None]


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
        if isinstance(v, str):
            return v if v == "market" else [v]
        if not v:
            raise ValueError("name at least one segment, or use 'market'")
        if "market" in v:
            raise ValueError("'market' is a target of its own, not a segment: use target: market")
        if len(set(v)) != len(v):
            raise ValueError("a segment is named twice")
        return v


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
    """

    def __init__(self, size: int, klass: np.ndarray | None = None, classes: int | None = None) -> None:
        dtype = np.int32 if size < 2**31 else np.int64
        if klass is None:
            self.classes = 1
            capacity = np.array([size], dtype=np.int64)
            self.rows = np.arange(size, dtype=dtype)
        else:
            self.classes = classes if classes is not None else int(klass.max(initial=0)) + 1
            capacity = np.bincount(klass, minlength=self.classes)
            self.rows = np.argsort(klass, kind="stable").astype(dtype)
        self.capacity = capacity  # consumers per class, joined or not
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

    def draw_by_class(self, rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
        """``counts[c]`` consumers (at most all) drawn uniformly from each class ``c``, removed from the pool."""
        counts = np.minimum(counts, self.length)
        chosen = np.flatnonzero(counts)
        if chosen.size == 0:
            return np.empty(0, dtype=np.int64)
        positions = np.concatenate(
            [self.start[c] + distinct_integers(rng, int(self.length[c]), int(counts[c])) for c in chosen]
        )
        rows = self.rows[positions].astype(np.int64)
        self._remove(positions, np.repeat(chosen, counts[chosen]))
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
    ``join`` is the channel's callback; ``relevance_uplift()`` the channel's targeting uplift (impression form).
    How many join from each source is drawn from the stream ``"<channel>/<prefix>/<source>"``, one per source, so
    a change to one source leaves the other sources' counts paired across strategies (common random numbers); who
    joins is drawn from ``"<channel>/<prefix>/who"``.
    """

    def __init__(
        self,
        ctx: ChannelContext,
        params: Callable[[], Acquisition],
        join: JoinCallback,
        *,
        prefix: str = "acquisition",
        relevance_uplift: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.ctx = ctx
        # The channel's callbacks are held weakly: the channel owns this component, and a cycle back to it would
        # keep a finished run's columns until the cyclic collector runs (reachsim.engine.weak).
        self.params = weak_callable(params)
        self._join = weak_callable(join)
        self._prefix = prefix
        self._uplift = weak_callable(relevance_uplift)
        # The paid form is fixed for a run (a timeline changes numbers only). Impressions convert people with
        # chances that differ by segment and usable data, so their pool is kept by that class.
        paid = params().paid
        if isinstance(paid, ImpressionAcquisition):
            population, segments = ctx.population, ctx.segments
            klass = population.segment.astype(np.int64) * 2 + population.has_data
            self.pool = NeverJoined(population.size, klass, classes=2 * len(segments.names))
            # per class (segment × usable data), fixed for the run: the segment's multiplier, whether the data
            # uplift applies, and whether the target holds it
            codes = np.arange(self.pool.classes) // 2
            self._multiplier = segments.engagement_multiplier[codes]
            self._usable = np.arange(self.pool.classes) % 2 == 1
            self._in_target = np.ones(self.pool.classes, dtype=bool)
            if isinstance(paid.target, list):
                self._in_target = np.isin(codes, [segments.names.index(name) for name in paid.target])
            self._target_size = int(self.pool.capacity[self._in_target].sum())
        else:
            self.pool = NeverJoined(ctx.population.size)
        self.ever_joined = 0
        self._paid_credit = 0.0  # members paid for but not yet whole (fractional budget carried to the next day)
        self._impression_credit = Fraction(0)  # impressions paid for but not yet whole
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
        joined, split among the sources in the order organic, Bass, flat paid (which gets what the market has left);
        then the impressions of paid acquisition in the impression form, on whoever is left."""
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
        paid = None if self.ctx.paid_stopped else acq.paid  # stopped for the run-out after the horizon
        if isinstance(paid, PaidAcquisition):
            self._paid_credit += paid.budget_per_day / paid.cost_per_subscriber
            counts.append(("paid", math.floor(self._paid_credit)))
        if counts:
            people = self.pool.draw(self._who, sum(k for _, k in counts))
            offset = 0
            for source, k in counts:
                got = people[offset : offset + k]
                offset += got.size
                if source == "paid":
                    # what the market could not supply is not bought: the budget is not spent, no credit kept
                    self._paid_credit = min(self._paid_credit - got.size, self._paid_credit % 1.0)
                    self._spend(got.size * paid.cost_per_subscriber)  # type: ignore[union-attr]
                if got.size:
                    self._admit(np.sort(got), t, source)
        if isinstance(paid, ImpressionAcquisition):
            self._impressions(paid, t)

    def _spend(self, amount: float) -> None:
        if amount:
            self.ctx.cost("acquisition", amount)
            self.ctx.flow("paid_spend", amount)

    def _impressions(self, paid: ImpressionAcquisition, t: float) -> None:
        """A day of ads: each class's non-members in the target convert with ``1 − (1 − c_k/T)^I``."""
        impressions, self._impression_credit = boost_impressions(self._impression_credit, paid.budget_per_day, paid.cpm)
        self._spend(paid.budget_per_day)
        if impressions == 0:
            return
        pool, target_size = self.pool, self._target_size
        nonmembers = np.where(self._in_target, pool.length, 0)
        uplift = np.where(self._usable, 1.0 + self._uplift(), 1.0)
        rate = np.minimum(1.0, paid.conversion_probability * self._multiplier * uplift)
        rng = self._stream("paid")
        converted = rng.binomial(nonmembers, conversion_probability(rate, target_size, impressions))
        members = target_size - int(nonmembers.sum())
        wasted = int(rng.binomial(impressions, members / target_size)) if target_size else impressions
        self.ctx.flow("paid_impressions", impressions)
        self.ctx.flow("wasted_impressions", wasted)
        people = pool.draw_by_class(self._who, converted)
        if people.size:
            self._admit(np.sort(people), t, "paid")
