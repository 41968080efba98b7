"""Page: fans reached organically by posts, paid boosts to any target, and paid reach that grows owned audiences.

Each post is shown to every fan independently with probability ``organic_reach`` (which a timeline entry can
lower to model platform throttling) and, if boosted, to ``budget_per_post / cpm × 1000`` paid impressions, each on a
uniformly random member of the boost's target (the market, the fans, or named segments) — so one person may see a
post several times. Every exposure is a delivery with the shared engagement rule (segment, targeting relevance,
novelty since becoming a fan, fatigue); engaged non-fans may follow the Page, engaged people may opt in to
Messenger (published on the event bus for the strategy's Messenger channel), and each exposure of a fan carries
an unfollow hazard growing with fatigue. Follow ads (``follow_ads``) buy fans through impressions each day, with
the maths of paid acquisition (:mod:`reachsim.model.conversion`): they convert non-fans who never unfollowed and
saturate as those run out. The maths is in docs/model/page.md; the sampling and response kernels are
:mod:`reachsim.model.exposure`.

The fans are kept as a dense list (with each fan's position in it), so that a post's cost follows the people it
reaches: organic sightings are positions in the list, drawn at a cost proportional to the sightings, and nothing
passes over the market or over all fans. Each person's exposure state (fatigue stock, engagement probability, fan
since, exposures) is one 16-byte record: the fans' records in the order of the list, the others' (boosts reach
non-fans too) by population row, so a post reads and writes the records it needs with one gather and one scatter.
A current fan's record by row keeps only the fan's position + 1 (0 for everyone else), so the records a boost
gathers by row tell fans from the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator, model_validator

from reachsim.channels import acquisition, topics
from reachsim.channels.acquisition import ImpressionAcquisition
from reachsim.channels.base import Channel, ChannelParams
from reachsim.channels.common import Engagement, Unsubscribe, optout_needs_fatigue, segment_target
from reachsim.channels.registry import consumers_of
from reachsim.core.metrics import JOINED_BY_SOURCE, Metric, flow
from reachsim.core.problems import did_you_mean
from reachsim.core.strict import StrictModel
from reachsim.engine.ahead import DrawnAhead
from reachsim.engine.population import UniformRows, sorted_subset
from reachsim.model import boost_response, fan_response
from reachsim.model.boost_response import BoostKernel
from reachsim.model.conversion import conversion_probability_scalar
from reachsim.model.exposure import (
    NO_CREDIT,
    buy_impressions,
    geometric_gaps,
    organic_positions,
    respond_once,
    uniform_impressions,
)
from reachsim.model.fan_response import novelty_factor, respond_fans
from reachsim.model.occupancy import draw_unique_reach

#: How someone became a fan (the ``joined_<source>`` daily metrics). ``boost``: followed after engaging with a
#: boosted post (organic posts reach only fans, so every follow from an engagement comes from paid reach);
#: ``other``: a follow published on the bus by another channel; ``paid``: converted by follow ads.
SOURCES = ("initial", "organic", "boost", "other", "paid")
#: Boost targets that are not segment names.
SPECIAL_TARGETS = ("market", "fans")
#: Consumers whose state is rewritten at a time (no market-sized temporaries).
PIECE = 1 << 16
#: Scaled fatigue stocks are brought to the present at least every this many half-lives: they grow as 2^this, which
#: leaves float32 room for stocks up to 2^32.
REBASE = 96.0
#: Up to this many unfollows at once are done one by one in Python (a NumPy call costs more than a swap).
FEW_UNFOLLOWS = 16
#: Up to this many rows added to others (a post's further deliveries that engaged) are looked up in them, not hashed.
FEW_MORE = 16
#: A day's organic fan counts are drawn this many days ahead (one NumPy call per block, none per day).
ORGANIC_COUNTS_AHEAD = 256
#: Stocks below this are 0 (every probability is the same at float32 precision).
TINY = np.float32(2.0**-100)
_NONE = np.empty(0, dtype=np.int64)
_NO_RECORDS = np.empty(0, dtype=np.complex128)


def _union(rows: np.ndarray, more: np.ndarray) -> np.ndarray:
    """``rows`` (distinct, ascending) and those of ``more`` (repeats allowed) that are not among them, in no
    particular order."""
    if rows.size + more.size > 4096:
        return np.union1d(rows, more)
    if more.size <= FEW_MORE and rows.size:  # the usual case: a few, looked up in the sorted rows, not hashed all
        have = set(more[rows.take(rows.searchsorted(more), mode="clip") == more].tolist())
    else:
        have = set(rows.tolist())
    new = []
    for row in more.tolist():
        if row not in have:
            have.add(row)
            new.append(row)
    return np.concatenate((rows, np.array(new, dtype=rows.dtype))) if new else rows


class Sightings:
    """Organic sightings of a Page's posts: positions ``0 … n − 1`` of the fan list, each seen independently with
    probability ``r``, as the running sums of Geometric(r) gaps up to ``n`` (the successes of n Bernoulli trials,
    :func:`reachsim.model.exposure.bernoulli_positions`), with the gaps drawn ahead in blocks.

    A post takes gaps in turn until one passes ``n``; that gap is spent, and the next post takes up after it. The
    gaps are independent and identically distributed, so those after the one that stopped a post are independent
    of it, as fresh draws would be (gaps drawn for another ``r`` are dropped unused). A block's running sums are
    formed once, when it is drawn, so a post costs a search and a subtraction (its gaps' sums, less the trials of
    those taken before), not the dozen calls of a draw."""

    #: Gaps drawn at a time (128 KiB of int64: a dozen posts to 20,000 fans at 5 % reach).
    BLOCK = 1 << 14
    #: From this reach up (that of the table of reachsim.model.exposure.geometric_gaps) gaps stay far below 2^63
    #: whatever their number; below it every post draws its own (organic_positions).
    LOWEST_R = 2.0**-6

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._r = -1.0
        self._ends = _NONE  # the running sums of the block's gaps: the trial (from the block's start) each ends at
        self._next = 0  # the block's first gap not taken
        self._base = 0  # the trials of the block's gaps taken (the running sum before its gap _next)

    def positions(self, n: int, r: float) -> np.ndarray:
        """Ascending positions among ``n`` fans of those who see a post at reach ``r``."""
        if n <= 0 or not self.LOWEST_R <= r < 1.0:
            return organic_positions(self.rng, n, r)
        if r != self._r:
            self._r, self._ends, self._next, self._base = r, _NONE, 0, 0
        ends, base = self._ends, self._base
        stop = int(ends.searchsorted(base + n, side="right"))  # the gaps ending within the post's n trials
        if stop < ends.size:  # the usual case: the gap ``stop`` passes n and is spent
            part = ends[self._next : stop] - (base + 1)  # the trial of a success: its sum within the post − 1
            self._next, self._base = stop + 1, int(ends[stop])
            return part
        parts = [ends[self._next :] - (base + 1)]  # the block runs out: the rest of it, then fresh blocks
        done = int(ends[-1]) - base if ends.size else 0  # trials passed by the gaps taken so far
        while True:
            ends = geometric_gaps(self.rng, r, self.BLOCK)
            np.add.accumulate(ends, out=ends)  # np.cumsum without its wrapper, in place
            stop = int(ends.searchsorted(n - done, side="right"))
            parts.append(ends[:stop] + (done - 1))
            if stop < ends.size:
                self._ends, self._next, self._base = ends, stop + 1, int(ends[stop])
                return np.concatenate(parts)
            done += int(ends[-1])


class Uniforms:
    """Uniform doubles of one stream drawn ahead in blocks and handed out in turn: :meth:`take` gives the next ``n``,
    the very numbers ``rng.random(n)`` would give then (each double is one 64-bit draw of the generator, so drawing
    a block and handing it out in pieces changes none of them, provided nothing else draws from ``rng``), for a
    slice of a block rather than a call to the generator (several per post, most of a few dozen numbers)."""

    def __init__(self, rng: np.random.Generator, block: int) -> None:
        self.rng, self.block = rng, int(block)
        self._u = np.empty(0, dtype=np.float64)
        self._next = 0

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` uniforms (a read-only view: they are the caller's)."""
        start = self._next
        end = start + n
        if end > self._u.size:  # the rest of the block, then a fresh one drawn in place after it
            rest = self._u.size - start
            fresh = np.empty(rest + max(self.block, n - rest), dtype=np.float64)
            fresh[:rest] = self._u[start:]
            self.rng.random(out=fresh[rest:])
            self._u, start, end = fresh, 0, n
        self._next = end
        return self._u[start:end]


def _decay(part: np.ndarray, factor: np.float32) -> None:
    """Scaled stocks (float32, in place) brought to a new reference time by ``factor``; a stock below 2^−100 becomes
    0 (no subnormal floats: it is 0 to every probability), set by a product with 0 or 1, which on a column of the
    records costs less than half a masked store."""
    part *= factor
    part *= part >= TINY


def _decay_in_pieces(store: np.ndarray, size: int, factor: np.float32) -> None:
    """:func:`_decay` of the stocks of a store's first ``size`` records, a piece at a time."""
    for a in range(0, size, PIECE):
        _decay(store[a : min(a + PIECE, size), 0], factor)


class Posts(StrictModel):
    """The posting schedule: give either ``every_days`` or ``per_week``."""

    every_days: float | None = Field(
        default=None, ge=1 / 24, le=3650, description="Days between posts (at most hourly: 1/24)."
    )
    per_week: float | None = Field(
        default=None, gt=0, le=168, description="Posts per week, evenly spaced (every 7/per_week days; at most hourly)."
    )
    first_day: float = Field(default=0.0, ge=0, description="Day of the first post.")

    @model_validator(mode="after")
    def _one_schedule(self) -> Posts:
        if (self.every_days is None) == (self.per_week is None):
            field = "every_days" if self.every_days is None else "per_week"
            raise ValueError(
                f"@{field}: give exactly one of every_days (days between posts) or per_week (posts per week)"
            )
        return self

    @property
    def interval_days(self) -> float:
        return self.every_days if self.every_days is not None else 7.0 / float(self.per_week)  # type: ignore[arg-type]


class Boost(StrictModel):
    """Paid boost of every post: ``budget_per_post / cpm × 1000`` impressions, each on a uniformly random member
    of the target (with replacement: a person can see a boosted post more than once)."""

    budget_per_post: float = Field(ge=0, description="Spend on each post's boost (booked in full per post).")
    cpm: float = Field(gt=0, description="Price of 1,000 paid impressions.")
    target: str | list[str] = Field(
        default="market",
        description="Who the impressions land on: 'market' (everyone), 'fans' (current fans), or a list of "
        "segment names (their members, fans or not).",
    )

    @field_validator("target")
    @classmethod
    def _normalise(cls, v: str | list[str]) -> str | list[str]:
        return segment_target(v, SPECIAL_TARGETS)


class Unfollow(Unsubscribe):
    """Unfollow hazard per exposure of a fan: probability × (1 + fatigue_strength·F)."""


class PageParams(ChannelParams):
    """A brand Page: fans, organic reach of posts, paid boosts."""

    type: Literal["page"] = Field(description="Channel type.")
    initial_fans: int = Field(default=0, ge=0, description="Fans at day 0, chosen at random from the market.")
    initial_fan_age_days: float = Field(
        default=0.0,
        ge=0,
        description="How long the initial fans have been fans at day 0 (their novelty has decayed that long).",
    )
    organic_fans_per_day: float = Field(
        default=0.0, ge=0, description="Mean new fans per day from outside the simulated channels (Poisson)."
    )
    posts: Posts | None = Field(default=None, description="Posting schedule; no posts when omitted.")
    organic_reach: float = Field(
        ge=0, le=1, description="Share of fans shown each post: each fan sees it independently with this probability."
    )
    boost: Boost | None = Field(default=None, description="Paid boost of every post; none when omitted.")
    follow_ads: ImpressionAcquisition | None = Field(
        default=None,
        description="Page follow ads, bought as impressions every day ({budget_per_day, cpm, "
        "conversion_probability, target}): an impression converts a non-fan who never unfollowed with "
        "conversion_probability (times the segment's multiplier and the targeting uplift); one on a fan or on "
        "someone who unfollowed is wasted but paid. Booked under acquisition; none when omitted.",
    )
    engagement: Engagement = Field(
        description="Engagement with each exposure (organic or paid). Novelty applies to fans, by days since "
        "they became fans; non-fans see the post as new (novelty 1)."
    )
    follow_probability: float = Field(
        default=0.0, ge=0, le=1, description="Probability that an engaged non-fan becomes a fan (once per post)."
    )
    messenger_optin_probability: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Probability that an engaged person opts in to Messenger (once per post); needs a messenger "
        "channel in the strategy.",
    )
    unfollow: Unfollow = Field(default_factory=Unfollow, description="Unfollow hazard per exposure of a fan.")
    content_cost_per_post: float = Field(default=0.0, ge=0, description="Cost of producing each post.")

    @model_validator(mode="after")
    def _fatigue_for_unfollow(self) -> PageParams:
        optout_needs_fatigue(self.engagement, self.unfollow, "unfollow")
        return self


class PageChannel(Channel):
    type_name: ClassVar[str] = "page"
    Params: ClassVar[type[PageParams]] = PageParams
    publishes: ClassVar[tuple[str, ...]] = (topics.MESSENGER_OPTIN, topics.ENGAGEMENT)
    consumes: ClassVar[tuple[str, ...]] = (topics.PAGE_FOLLOW,)
    metrics: ClassVar[tuple[Metric, ...]] = (
        flow("post_reach", "people", "post reach", description="people who saw a post (fans and boosted reach)"),
        flow("impressions_organic", "impressions", "organic impressions", group="impressions"),
        flow("impressions_paid", "impressions", "paid impressions", group="impressions"),
        flow("boost_spend", "currency", "boost spend", description="budget spent on boosts"),
        flow("messenger_optins", "people", "Messenger opt-ins",
             description="engaged people who opted in to Messenger (published on the bus)"),
        *(flow(f"joined_{s}", "people", s, group=JOINED_BY_SOURCE) for s in SOURCES),
        *acquisition.METRICS,  # follow ads: impressions, wasted, reach, frequency, spend, cost per paid follow
    )
    params: PageParams

    # -- load-time checks ---------------------------------------------------------------------------------------
    @classmethod
    def check_strategy(cls, params: ChannelParams, others: Sequence[ChannelParams]) -> list[tuple[str, str]]:
        page = cast(PageParams, params)
        problems: list[tuple[str, str]] = []
        if page.messenger_optin_probability > 0 and not consumers_of(topics.MESSENGER_OPTIN, others):
            problems.append(
                (
                    "messenger_optin_probability",
                    "engaged people can opt in to Messenger only if the strategy has a messenger channel; "
                    "add one (type: messenger) or set messenger_optin_probability to 0",
                )
            )
        return problems

    @classmethod
    def check_market(cls, params: ChannelParams, market: Any) -> list[tuple[str, str]]:
        page = cast(PageParams, params)
        problems: list[tuple[str, str]] = []
        if page.initial_fans > market.size:
            problems.append(("initial_fans", f"{page.initial_fans} fans exceed the market size {market.size}"))
        names = [s.name for s in market.segments]
        if page.follow_ads is not None and isinstance(page.follow_ads.target, list):
            for name in page.follow_ads.target:
                if name not in names:
                    hint = did_you_mean(name, [*names, "market"])
                    problems.append(
                        ("follow_ads.target", f"no segment named '{name}'{hint}; segments: {', '.join(names)}; "
                         "or use 'market'")
                    )
        if page.boost is not None and isinstance(page.boost.target, list):
            for name in page.boost.target:
                if name not in names:
                    hint = did_you_mean(name, [*names, *SPECIAL_TARGETS])
                    problems.append(
                        (
                            "boost.target",
                            f"no segment named '{name}'{hint}; segments: {', '.join(names)}; "
                            "or use 'market' or 'fans'",
                        )
                    )
        return problems

    # -- set-up ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        ctx, n = self.ctx, self.ctx.population.size
        p = self.params
        self.left = np.zeros(n, dtype=bool)  # unfollowed: not re-acquired
        self.never_fan = np.ones(n, dtype=bool)  # may still become a fan (neither fan nor left)
        # One 16-byte record per person, so that a post reads and writes each person's state with one gather and
        # one scatter (records viewed as complex128): the fatigue stock scaled to the reference time (see
        # _stock_scale), the engagement probability before fatigue and novelty (base × segment × relevance, so that
        # a post reads it as stored), fan since and exposures (uint32). The
        # fans' records are kept in the order of the fan list, the others' by population row: a post's sightings
        # are positions in the fan list, so their records are read in order from a store the size of the fans.
        # by population row; for a current fan the record is stale but for its third field, which holds the fan's
        # position + 1 (0 for everyone else), so that a boost's one gather of the records it reaches also tells
        # fans (and where they are) from the others
        self._store = np.zeros((n, 4), dtype=np.float32)
        self._listed = self._store.view(np.int32)[:, 2]  # fan position + 1, 0: not a fan
        self._fan_store = np.zeros((min(n, max(p.initial_fans, 1024)), 4), dtype=np.float32)  # by fan position
        self._pop_records, self._fan_records = self._records(self._store), self._records(self._fan_store)
        # Whether a boost has delivered to non-fans. Until then the only rows of the store by population row that
        # hold a stock are those who unfollowed (``left``: their records went back to it), and a rebase of the
        # stocks (_stock_scale) passes over their rows, not the market.
        self._nonfans_exposed = False
        self._fan_seen = self._fan_store.view(np.uint32)[:, 3]  # exposures by fan position
        self._unseen_fans = 0  # fans never exposed to the Page
        # by fan position, a stamp of the last post (numbered from 1 among the posts whose boost reached a fan and
        # whose sightings found some) that sighted the position: which of a boost's fans were also sighted is a
        # look-up, not a binary search of the sightings per fan
        self._sighted_in = np.zeros(self._fan_store.shape[0], dtype=np.int32)
        self._boosted_posts = 0
        self._boost_kernel: BoostKernel | None = None  # made at the first boosted post, when compiled
        self._weight_key: tuple[float, float] | None = None  # the uplift and base probability they were made with
        self._weights(p.relevance_uplift, p.engagement.probability)
        # The stock of a person at time t is scaled_fatigue · 2^(−(t − t_ref)/h): one scalar per post decays
        # everyone, and no time of last exposure is kept. h is None while the engagement has no fatigue.
        self._t_ref = 0.0
        self._half_life: float | None = None
        self._t_post = 0.0  # time of the latest post
        # At least every scaled stock in exact arithmetic; float32 stocks carry one rounding (2^−24) per operation
        # since they were 0, at most three a post or rebase, which the bound's margin covers.
        self._scaled_bound = 0.0
        self._roundings = 0
        # The fans as a dense list (positions 0 … fans − 1, any order; each one's position + 1 is in its record by
        # row, _listed); unfollows swap the last fan into the hole. ``fans`` and ``ever_fans`` count the fans named
        # so far: organic fans drawn as counts are named at the next read (fan, exposures(), a post ...), and
        # audience() counts them from their day on.
        self.fan_list = np.empty(self._fan_store.shape[0], dtype=np.int32)
        self.fans = 0
        self.ever_fans = 0
        self._credit = NO_CREDIT
        self._rng_fans = ctx.rng("fans")
        # Organic fans are drawn as a count each day and named at the next hand-over (:meth:`_hand_over`): the days
        # drawn since, their counts (pending in all) and the counts drawn ahead for the current rate
        self._organic_rows = UniformRows(self._rng_fans, n)  # who: candidates drawn in blocks
        self._organic_counts = DrawnAhead(ctx.rng("fans/counts").poisson, ORGANIC_COUNTS_AHEAD)
        self._pending_days: list[tuple[float, int]] = []
        self._pending = 0
        self._sightings = Sightings(ctx.rng("organic"))
        self._rng_boost = ctx.rng("boost")
        self._boost_u = Uniforms(self._rng_boost, 1 << 14)  # the streams' only draws: handed out in turn
        self._response_u = Uniforms(ctx.rng("response"), 1 << 14)
        self._follow_u = Uniforms(ctx.rng("follow"), 1 << 12)
        self._segment_target = self._resolve_segments()
        self._ads_credit = NO_CREDIT
        self._ads_on = p.follow_ads is not None  # whether the class counts below are kept
        if p.follow_ads is not None:
            self._start_follow_ads(p.follow_ads)
        ctx.bus.subscribe(topics.PAGE_FOLLOW, self._on_follow)
        if p.initial_fans:
            for part in sorted_subset(self._rng_fans, n, min(p.initial_fans, n)):
                self._follow(part, 0.0, "initial", since=-p.initial_fan_age_days)
        self._daily_on = False
        if self._needs_daily():
            self._start_daily(0.0)
        if p.posts is not None:
            ctx.every(self._post, first=p.posts.first_day, interval=self._period, slot=1)

    def _resolve_segments(self) -> np.ndarray | None:
        boost = self.params.boost
        if boost is None or not isinstance(boost.target, list):
            return None
        names = self.ctx.segments.names
        unknown = [s for s in boost.target if s not in names]
        if unknown:
            raise ValueError(f"channel '{self.name}': boost.target names unknown segments {unknown}")
        codes = np.array([names.index(s) for s in boost.target], dtype=np.int16)
        return np.flatnonzero(np.isin(self.ctx.population.segment, codes)).astype(np.int32)

    def _start_follow_ads(self, ads: ImpressionAcquisition) -> None:
        """The fixed part of follow ads (the target is fixed for a run, a timeline changes numbers only): the
        target's rows by class (segment × usable data, the classes' conversion chances differ), and how many of
        each class may still convert, kept up to date by :meth:`_follow` so no day passes over the market."""
        ctx = self.ctx
        population, segments = ctx.population, ctx.segments
        self._ads_rng = ctx.rng("follow_ads")
        self._ads_reach_rng = ctx.rng("follow_ads/reach")
        self._klass = population.segment.astype(np.int64) * 2 + population.has_data
        classes = 2 * len(segments.names)
        codes = np.arange(classes) // 2
        in_target = np.ones(classes, dtype=bool)
        if isinstance(ads.target, list):
            in_target = np.isin(codes, [segments.names.index(name) for name in ads.target])
        self._ads_multiplier = segments.engagement_multiplier[codes].tolist()
        self._ads_classes = np.flatnonzero(in_target).tolist()
        order = np.argsort(self._klass, kind="stable")
        bounds = np.searchsorted(self._klass[order], np.arange(classes + 1))
        self._ads_rows = [order[bounds[k] : bounds[k + 1]] for k in range(classes)]  # each class's rows, ascending
        self._ads_target_size = int(sum(self._ads_rows[k].size for k in self._ads_classes))
        self._never_by_class = np.bincount(self._klass[self.never_fan], minlength=classes)

    def _period(self) -> float | None:
        return self.params.posts.interval_days if self.params.posts is not None else None

    # -- audience -------------------------------------------------------------------------------------------
    def audience(self) -> float:
        return float(self.fans + self._pending)  # those drawn as counts are fans from their day on

    def exposures(self) -> np.ndarray:
        return self._column(3, np.uint32)

    @property
    def fatigue(self) -> np.ndarray:
        """Every consumer's fatigue stock as of the latest post (after its exposures)."""
        scale = 1.0 if self._half_life is None else 2.0 ** (-(self._t_post - self._t_ref) / self._half_life)
        return self._column(0) * np.float32(scale)

    def _column(self, field: int, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """One field of every consumer's record, by population row (a copy: fans' records are in the fan store)."""
        self._hand_over()
        column = self._store.view(dtype)[:, field].copy()
        column[self.fan_list[: self.fans]] = self._fan_store.view(dtype)[: self.fans, field]
        return column

    @staticmethod
    def _records(store: np.ndarray) -> np.ndarray:
        """A store's records as one complex128 each (for gathers and scatters of whole records)."""
        return store.view(np.complex128).reshape(store.shape[0])

    @property
    def fan(self) -> np.ndarray:
        """Whether each consumer is a fan now (a new array; the organic fans drawn as counts named first)."""
        self._hand_over()
        return self._listed != 0

    @property
    def fan_position(self) -> np.ndarray:
        """Each consumer's position in the fan list, −1 for non-fans (a new array; pending organic fans named
        first)."""
        self._hand_over()
        return self._listed - 1

    def _follow(self, idx: np.ndarray, t: float, source: str, *, since: float | None = None) -> None:
        """Make fans of those in ``idx`` (distinct) who are not fans and never unfollowed, from ``source``."""
        idx = idx[self.never_fan[idx]]
        if idx.size == 0:
            return
        self._join(idx, t if since is None else since)
        self.ctx.flow("joined", idx.size)
        self.ctx.flow(f"joined_{source if source in SOURCES else 'other'}", idx.size)

    def _join(self, idx: np.ndarray, since: float | np.ndarray | list[float]) -> None:
        """Make fans of ``idx`` (distinct, none a fan or a leaver), fans since ``since`` (a time or one each)."""
        self.never_fan[idx] = False
        start, end = self.fans, self.fans + idx.size
        if end > self.fan_list.size:
            self._grow(end)
        self.fan_list[start:end] = idx
        self._pop_records.take(idx, out=self._fan_records[start:end], mode="clip")  # rows are in range: no checks
        self._fan_store[start:end, 2] = since
        # until a boost reaches non-fans, nobody who may become a fan was ever exposed (those who unfollowed never
        # come back): no count of those already seen
        seen = int(np.count_nonzero(self._fan_seen[start:end])) if self._nonfans_exposed else 0
        self._unseen_fans += idx.size - seen
        self._listed[idx] = np.arange(start + 1, end + 1, dtype=np.int32)  # position + 1
        self.fans = end
        self.ever_fans += idx.size
        if self._ads_on:
            self._never_by_class -= np.bincount(self._klass[idx], minlength=self._never_by_class.size)

    def _grow(self, end: int) -> None:
        """Room for ``end`` fans in the fan list and store: grown by half, never beyond the market."""
        start = self.fans
        size = min(self.never_fan.size, max(end, self.fan_list.size * 3 // 2))
        grown = np.empty(size, dtype=np.int32)
        grown[:start] = self.fan_list[:start]
        self.fan_list = grown
        store = np.empty((size, 4), dtype=np.float32)
        store[:start] = self._fan_store[:start]
        self._fan_store = store
        self._fan_records, self._fan_seen = self._records(store), store.view(np.uint32)[:, 3]
        self._sighted_in = np.zeros(size, dtype=np.int32)  # a stamp is read only by the post that wrote it

    def _unfollow(self, idx: np.ndarray) -> None:
        """Those in ``idx`` (distinct, just exposed) who are fans stop being fans: their records go back to the
        store by row, and the last fans of the list (with their records) fill their places (the pending organic
        fans named first, so that the list is the one every post's hand-over would have made)."""
        self._hand_over()
        fan_records = self._fan_records
        if idx.size <= FEW_UNFOLLOWS:  # the usual case: a swap or a few, in scalars (the same moves as below)
            fan_list, listed = self.fan_list, self._listed
            rows = [row for row in idx.tolist() if listed[row]]
            if not rows:
                return
            holes = []
            for row in rows:
                hole = int(listed[row]) - 1
                self._pop_records[row] = fan_records[hole]
                listed[row] = 0
                self.left[row] = True
                holes.append(hole)
            holes.sort()
            end = self.fans - len(rows)
            emptied = set(holes)
            sources = [source for source in range(end, self.fans) if source not in emptied]
            for hole, source in zip(holes[: len(sources)], sources, strict=True):  # the last fans fill the holes
                moved = int(fan_list[source])
                fan_list[hole] = moved
                fan_records[hole] = fan_records[source]
                listed[moved] = hole + 1
            self.fans = end
            self.ctx.flow("left", len(rows))
            return
        positions = self._listed[idx]  # + 1; 0 for those who are not fans
        fans = positions.nonzero()[0]
        if fans.size == 0:
            return
        if fans.size < idx.size:
            idx, positions = idx[fans], positions[fans]
        positions -= 1
        self.left[idx] = True
        end = self.fans - idx.size
        self._pop_records[idx] = fan_records[positions]
        self._listed[idx] = 0
        holes = np.sort(positions)
        tail = np.ones(idx.size, dtype=bool)
        tail[holes[holes >= end] - end] = False
        low = holes[holes < end]
        if low.size:
            sources = end + np.flatnonzero(tail)
            moved = self.fan_list[sources]
            self.fan_list[low] = moved
            fan_records[low] = fan_records[sources]
            self._listed[moved] = low + 1
        self.fans = end
        self.ctx.flow("left", idx.size)

    def _on_follow(self, payload: dict[str, Any]) -> None:
        self._hand_over()  # the days drawn so far chose among who was never a fan before these follows
        idx = np.unique(np.asarray(payload["idx"], dtype=np.int64))
        self._follow(idx, payload["t"], payload.get("source", "other"))

    # -- daily: organic fan growth ----------------------------------------------------------------------------
    def _needs_daily(self) -> bool:
        """Whether a day has work: organic fans or follow ads (a page of posts alone has none)."""
        return bool(self.params.organic_fans_per_day) or self.params.follow_ads is not None

    def _start_daily(self, first: float) -> None:
        self._daily_on = True
        self.ctx.every(self._daily, first=first, interval=lambda: 1.0, slot=0)

    def set_param(self, path: str, value: float) -> None:
        self._hand_over()  # the days drawn so far under the parameters they were drawn with
        super().set_param(path, value)
        if not self._daily_on and self._needs_daily():  # organic fans from today on (timeline entries come first)
            self._start_daily(self.ctx.env.now)

    def _daily(self, t: float) -> None:
        """A day's organic fans, as a count: who they are is drawn at the next hand-over (:meth:`_hand_over`),
        the day's flows are recorded now. Then the day's follow ads."""
        rate = self.params.organic_fans_per_day
        if rate:
            k = min(self._organic_counts.next(rate), self.ctx.population.size - self.ever_fans - self._pending)
            if k > 0:
                self._pending += k
                self._pending_days.append((t, k))
                self.ctx.flow("joined", k)
                self.ctx.flow("joined_organic", k)
        ads = self.params.follow_ads
        if self._ads_on and ads is not None and not self.ctx.paid_stopped:  # no follow ads in the run-out
            self._hand_over()
            self._follow_ads(t, ads)

    def _hand_over(self) -> None:
        """Name the organic fans of the days drawn as counts since the last hand-over, in one call, each a fan
        since their own day.

        Nothing changed who was never a fan since those days (everything that does, or that reads the fans, hands the
        days over first; a post without paid impressions only when it reaches one of them or a fan unfollows, as it
        reads the named fans alone and changes nobody's never-fan state), so the days' people are drawn in turn, each
        day's among those the days before it left (:meth:`UniformRows.sample_in_turn`): the draw a day made on its own
        day, with the same random numbers, whenever the hand-over comes. Strategies whose posts (or other reads) fall on
        different days therefore still name the same organic fans (common random numbers)."""
        if not self._pending:
            return
        days = self._pending_days
        self._pending_days, self._pending = [], 0
        counts = [n for _, n in days]
        people = self._organic_rows.sample_in_turn(self.never_fan, self.ctx.population.size - self.ever_fans, counts)
        if len(days) == 1:
            self._join(people, days[0][0])
        else:  # each a fan since their own day (a list: a few dozen, converted once by the assignment)
            self._join(people, [t for t, n in days for _ in range(n)])

    # -- daily: follow ads -----------------------------------------------------------------------------------
    def _follow_ads(self, t: float, ads: ImpressionAcquisition) -> None:
        """A day of follow ads on a target of T: I impressions; the n_k non-fans of class k who never unfollowed
        each convert with ``1 − (1 − c_k/T)^I`` (reachsim.model.conversion, as paid acquisition), the converted
        drawn uniformly within their class; impressions on fans or leavers are wasted."""
        ctx, size = self.ctx, self._ads_target_size
        if size == 0 or ads.budget_per_day == 0:
            return  # nobody to show the ads to: the platform spends nothing
        impressions, self._ads_credit = buy_impressions(self._ads_credit, ads.budget_per_day, ads.cpm)
        ctx.cost("acquisition", ads.budget_per_day)
        ctx.flow("paid_spend", ads.budget_per_day)
        if impressions == 0:
            return
        uplift = 1.0 + self.params.relevance_uplift
        nonfans = 0
        converted = []
        for k in self._ads_classes:
            n = int(self._never_by_class[k])
            nonfans += n
            if n == 0:
                continue
            rate = min(1.0, ads.conversion_probability * self._ads_multiplier[k] * (uplift if k % 2 else 1.0))
            x = int(self._ads_rng.binomial(n, conversion_probability_scalar(rate, size, impressions)))
            if x:
                converted.append(self._draw_never_fans(self._ads_rows[k], n, x))
        wasted = int(self._ads_rng.binomial(impressions, (size - nonfans) / size))
        ctx.flow("paid_impressions", impressions)
        ctx.flow("wasted_impressions", wasted)
        ctx.flow("paid_reach", draw_unique_reach(self._ads_reach_rng, impressions, size))
        if converted:
            self._follow(np.sort(np.concatenate(converted)), t, "paid")

    def _draw_never_fans(self, rows: np.ndarray, count: int, k: int) -> np.ndarray:
        """``k`` distinct consumers drawn uniformly among those of ``rows`` who were never fans (``count`` of
        them): random rows kept when eligible while they are a fair share, listed and chosen from otherwise."""
        rng = self._ads_rng
        if count < 0.05 * rows.size or k > 0.25 * count:
            eligible = rows[self.never_fan[rows]]
            return rng.choice(eligible, size=k, replace=False)
        chosen = np.empty(0, dtype=np.int64)
        while chosen.size < k:
            draws = rows[rng.integers(0, rows.size, size=int((k - chosen.size) * rows.size / count * 1.25) + 16)]
            candidates = np.concatenate([chosen, draws[self.never_fan[draws]]])
            _, first = np.unique(candidates, return_index=True)
            chosen = candidates[np.sort(first)][:k]
        return chosen

    # -- posts ----------------------------------------------------------------------------------------------
    def _weights(self, uplift: float, probability: float) -> None:
        """Every consumer's engagement probability before fatigue and novelty: the base ``probability`` times their
        multiplier (ChannelContext.engagement_weights), in float32, made again only when either changes."""
        key = (uplift, probability)
        if key == self._weight_key:
            return
        base = np.float32(probability)
        n = self._store.shape[0]
        for a in range(0, n, PIECE):
            rows = np.arange(a, min(a + PIECE, n))
            self._store[a : a + rows.size, 1] = self.ctx.engagement_weights(rows, uplift) * base
        if self._weight_key is not None:
            for a in range(0, self.fans, PIECE):
                rows = self.fan_list[a : min(a + PIECE, self.fans)]
                self._fan_store[a : a + rows.size, 1] = self.ctx.engagement_weights(rows, uplift) * base
        self._weight_key = key

    def _stock_scale(self, t: float, half_life: float | None) -> float:
        """The factor ``2^(−(t − t_ref)/h)`` turning scaled stocks into stocks at ``t``, for a post at ``t`` with
        the fatigue half-life ``half_life`` (None: no fatigue, no decay).

        When the half-life changes (a timeline entry), or when the factor would fall below 2^−96 (so that scaled
        stocks stay within float32's range), every stock is first brought to ``t`` with the half-life it decayed
        with so far, and ``t`` becomes the reference time: the stock decays with the half-life in force between
        posts."""
        if half_life != self._half_life or (half_life is not None and t - self._t_ref > REBASE * half_life):
            if self._half_life is not None:
                factor = np.float32(2.0 ** (-(t - self._t_ref) / self._half_life))
                self._scaled_bound *= float(factor)
                self._roundings += 3
                held = self._held_rows()
                if held is None:
                    _decay_in_pieces(self._store, self._store.shape[0], factor)
                elif held.size:  # every other row's stock is 0, and stays 0
                    part = self._store[held, 0]
                    _decay(part, factor)
                    self._store[held, 0] = part
                _decay_in_pieces(self._fan_store, self.fans, factor)
            self._t_ref, self._half_life = t, half_life
        return 1.0 if half_life is None else 2.0 ** (-(t - self._t_ref) / half_life)

    def _held_rows(self) -> np.ndarray | None:
        """The rows of the store by population row that may hold a stock, for a rebase to pass over: those who
        unfollowed, until a boost has reached non-fans; None (the whole store) from then on, or once they are an
        eighth of the market (one pass then costs less than a gather and a scatter)."""
        if self._nonfans_exposed:
            return None
        held = self.left.nonzero()[0]
        return None if 8 * held.size > self._store.shape[0] else held

    def _boost_target(self) -> tuple[int, np.ndarray | None, int]:
        """Whom a boost's impressions land on: (the kind of target as the kernels number it, the target's rows when
        it is segments, its size)."""
        target = self.params.boost.target  # type: ignore[union-attr]
        if target == "market":
            return boost_response.MARKET, None, self.ctx.population.size
        if target == "fans":
            return boost_response.FANS, None, self.fans
        rows = cast(np.ndarray, self._segment_target)
        return boost_response.SEGMENTS, rows, rows.size

    def _buy_boost(self) -> int:
        """A post's paid impressions, bought and booked (a target with somebody in it)."""
        boost, ctx = self.params.boost, self.ctx
        assert boost is not None
        impressions, self._credit = buy_impressions(self._credit, boost.budget_per_post, boost.cpm)
        ctx.cost("boost", boost.budget_per_post)
        ctx.flow("boost_spend", boost.budget_per_post)
        return impressions

    def _response_terms(self, scale: float) -> tuple[float, tuple[float, float] | None, float, np.float32]:
        """What the kernels need of the engagement rule for a post at ``scale``: the fatigue strength and the
        unfollow's fatigue strength on the stocks as stored, the novelty's (half-life, floor) or None, and the
        stock's increment per delivery."""
        p = self.params
        eng = p.engagement
        return ((eng.fatigue.strength if eng.fatigue else 0.0) * scale,
                (eng.novelty.half_life_days, eng.novelty.floor) if eng.novelty is not None else None,
                p.unfollow.fatigue_strength * scale, np.float32(1.0 / scale))

    def _boost(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int]:
        """Paid impressions of one post, split by who received them: (fan positions, impressions each, non-fans'
        rows, impressions each, the records gathered, where the non-fans' are among them (None: all of them),
        total impressions). The spend is booked here."""
        boost = self.params.boost
        empty, none = _NONE, _NO_RECORDS  # no rows, no records
        if boost is None or boost.budget_per_post == 0 or self.ctx.paid_stopped:  # no boosts in the run-out
            return empty, empty, empty, empty, none, empty, 0
        kind, target, size = self._boost_target()
        if size == 0:
            return empty, empty, empty, empty, none, empty, 0  # nobody to deliver to: the platform spends nothing
        impressions = self._buy_boost()
        positions, counts = uniform_impressions(
            self._rng_boost, size, impressions, uniforms=self._boost_u.take(impressions)
        )
        if kind == boost_response.FANS:
            return positions, counts, empty, empty, none, empty, impressions
        people = positions if target is None else target[positions]
        # one gather of everyone's record by row (most are non-fans, whose records the post needs): a fan's says
        # where the fan is in the list
        record = self._pop_records[people]
        listed = record.view(np.int32).reshape(people.size, 4)[:, 2]
        fan = listed.nonzero()[0]
        if fan.size == 0:
            return empty, empty, people, counts, record, None, impressions
        other = (listed == 0).nonzero()[0]
        at = listed[fan].astype(np.int64)
        at -= 1
        return at, counts[fan], people[other], counts[other], record, other, impressions

    def _post_to_fans(self, t: float, at: np.ndarray, scale: float) -> None:
        """The rest of a post whose only exposures are organic sightings (fans at the positions ``at``, one delivery
        each): :meth:`_post` without what paid impressions add (non-fans, repeats, follows), decided and recorded in
        the fans' records by :func:`reachsim.model.fan_response.respond_fans` (one compiled pass, when built)."""
        p, ctx = self.params, self.ctx
        size = at.size
        ctx.flow("deliveries", size)
        if size == 0:
            return
        self._roundings += 3
        bound = self._scaled_bound * scale * (1.0 + (self._roundings + 8) * 2.0**-23)
        self._scaled_bound += 1.0 / scale
        strength, novelty, optout_fatigue_strength, increment = self._response_terms(scale)
        engaged, out, first = respond_fans(
            self._fan_store, at, self._response_u.take(size), self.fan_list, t=t, strength=strength,
            novelty=novelty, optout=p.unfollow.probability, optout_fatigue_strength=optout_fatigue_strength,
            stock_bound=bound / scale, increment=increment, first=self._unseen_fans > 0,
        )
        self._unseen_fans -= first.size
        ctx.flow("post_reach", size)
        if first.size:
            ctx.flow("reached", first.size)
            ctx.reached(first)
        if engaged.size:
            self._book_engagements(engaged, t)
        if out.size:
            self._unfollow(out)
        if engaged.size and p.messenger_optin_probability > 0:
            self._opt_in(engaged, t)

    def _post(self, t: float) -> None:
        """One post: organic sightings of fans and paid impressions, each a delivery with the shared engagement rule.

        The people exposed are the fans at some positions of the fan list and some non-fans; their records are read
        with one gather from each store and written back with one scatter each. Every delivery is decided in one
        call, one uniform each deciding engagement and unfollow (:func:`respond_once`): the first to everyone
        exposed, and the further ones of the few who received more (a boost's repeats, a fan both sighted and
        boosted), the j-th of them at the stock F + j. Consumer rows are looked up only for those who engage,
        unfollow or see the Page for the first time. That is the NumPy path; when the package was built with its
        compiled kernels, a post to fans alone is decided by :func:`reachsim.model.fan_response.respond_fans` and a
        boosted one by :meth:`_post_boosted`, with the same results."""
        p, ctx = self.params, self.ctx
        organic = p.boost is None or p.boost.budget_per_post == 0 or ctx.paid_stopped  # no paid impressions
        if not organic:
            self._hand_over()
        ctx.cost("content", p.content_cost_per_post)
        eng = p.engagement
        # both before any record is read (the boost reads the non-fans'): they may rewrite the stores
        self._weights(p.relevance_uplift, eng.probability)
        scale = self._stock_scale(t, eng.fatigue.half_life_days if eng.fatigue is not None else None)
        self._t_post = t
        if organic:  # the pending organic fans are named only if the post reaches one of them (or a fan unfollows)
            at = self._sightings.positions(self.fans + self._pending, p.organic_reach)
            if at.size and at[-1] >= self.fans:  # they take the next positions of the list, in the order named
                self._hand_over()
            ctx.flow("impressions_organic", at.size)
            self._post_to_fans(t, at, scale)
            return
        at = self._sightings.positions(self.fans, p.organic_reach)
        k_organic = at.size
        ctx.flow("impressions_organic", k_organic)
        if fan_response.COMPILED:  # the same deliveries in two compiled calls (reachsim.model.boost_response)
            self._post_boosted(t, at, scale)
            return
        impressions = 0
        others = _NONE
        more: list[tuple[np.ndarray, np.ndarray]] = []  # (rows of the records, deliveries beyond the first)
        if p.boost is not None:
            paid_at, paid_counts, others, other_counts, gathered, other, impressions = self._boost()
            if impressions:
                ctx.flow("impressions_paid", impressions)
            if paid_at.size and k_organic:  # fans both sighted and boosted: one row, more deliveries
                self._boosted_posts += 1
                self._sighted_in[at] = self._boosted_posts
                sighted = self._sighted_in[paid_at] == self._boosted_posts
                both = sighted.nonzero()[0]
                if both.size:
                    more.append((at.searchsorted(paid_at[both]), paid_counts[both]))
                    alone = ~sighted
                    paid_at, paid_counts = paid_at[alone], paid_counts[alone]
            if paid_at.size:
                at = np.concatenate((at, paid_at))
                repeated = (paid_counts > 1).nonzero()[0]
                if repeated.size:
                    more.append((repeated + k_organic, paid_counts[repeated] - 1))
            if others.size:
                repeated = (other_counts > 1).nonzero()[0]
                if repeated.size:
                    more.append((repeated + at.size, other_counts[repeated] - 1))
        ctx.flow("deliveries", impressions + k_organic)
        k_fans = at.size
        size = k_fans + others.size
        if size == 0:
            return
        fan_records, records = self._fan_records, self._pop_records
        extra: np.ndarray | None = None  # the rows with more than one delivery, and how many more
        again = _NONE  # the row of each further delivery (j-th of its row, j ≥ 1), in the order of ``extra``
        if more:
            multi = more[0][0] if len(more) == 1 else np.concatenate([rows for rows, _ in more])
            extra = more[0][1] if len(more) == 1 else np.concatenate([counts for _, counts in more])
        most = 1 if extra is None else 1 + int(extra.max())  # deliveries to one row
        if extra is not None:
            again = np.repeat(multi, extra) if most > 2 else multi
        # Every delivery's record in one array: the fans' (rows below k_fans), the non-fans', then a copy of the
        # row's record for each further delivery (rows ``size …``), gathered in place rather than joined.
        record = np.empty(size + again.size, dtype=np.complex128)
        fan_records.take(at, out=record[:k_fans], mode="clip")  # positions in the list: no checks (nor copy)
        if others.size:
            if other is None:  # every record gathered is a non-fan's
                record[k_fans:size] = gathered
            else:
                gathered.take(other, out=record[k_fans:size], mode="clip")
            idx = np.concatenate((self.fan_list[at], others))
        else:
            idx = None  # consumer rows, looked up for the rows that need them
        if again.size:
            record[size:] = record[again]

        def rows_of(rows: np.ndarray) -> np.ndarray:
            return self.fan_list[at[rows]] if idx is None else idx[rows]  # int32 or int64

        every = record.view(np.float32).reshape(record.size, 4)  # every delivery's state
        state = every[:size]  # each row's own record
        probability = every[:, 1]  # as stored (base × multiplier), read in place
        if eng.novelty is not None:  # for fans by days since they became fans, 1 for everyone else
            probability = probability.copy()
            probability[:k_fans] *= novelty_factor(state[:k_fans, 2], t, eng.novelty.half_life_days,
                                                   eng.novelty.floor)
            probability[size:] = probability[again]  # the copies were made before the factor
        strength = eng.fatigue.strength if eng.fatigue else 0.0
        seen = state.view(np.uint32)[:, 3]
        # Reached by the Page for the first time (everyone else was marked reached before).
        first = (seen == 0).nonzero()[0] if self._unseen_fans or others.size else _NONE
        if first.size:
            self._unseen_fans -= int(first.searchsorted(k_fans)) if others.size else first.size  # first ascends
        # the float32 operations on a stock this post: three, and one more for those with further deliveries
        self._roundings += 3 if extra is None else 4
        self._scaled_bound += most / scale
        # Every delivery at once, on the stocks as stored, scaled by 1/scale: exp(−s·F) = exp(−(s·scale)·F/scale)
        # and likewise the unfollow hazard, so the strengths take the scale rather than every stock (one pass over
        # the records less). The first delivery to each row sees its stock F; the further ones of a row with more
        # (its j-th, j ≥ 1) see F + j whatever the earlier ones did, so each is one more independent delivery, of
        # the stock F + j, in the same call: rows ``size …`` of the call are those deliveries, of rows ``again``.
        stock = every[:, 0]
        if extra is not None:
            if most > 2:  # j = 1 … extra_i for each row: a running count restarted at each row's first
                steps = np.ones(again.size, dtype=np.float32)
                starts = np.cumsum(extra)[:-1]
                steps[starts] = np.subtract(1, extra[:-1], dtype=np.float32)
                more_stock = np.cumsum(steps, dtype=np.float32)
                more_stock *= np.float32(1.0 / scale)
                stock[size:] += more_stock
            else:  # one more delivery each (the usual case): F + 1
                stock[size:] += np.float32(1.0 / scale)
        # Everyone's unfollow is decided (non-fans' are dropped below: the same outcomes as not deciding them,
        # each row's uniform being its own), with candidates up to the largest stock of the post rather than the
        # running bound, which repeats of past boosts leave loose.
        engaged_rows, out_rows = respond_once(
            self._response_u.rng, stock, probability, uniforms=self._response_u.take(stock.size),
            strength=strength * scale,
            optout=p.unfollow.probability, optout_fatigue_strength=p.unfollow.fatigue_strength * scale,
        )
        state[:, 0] += np.float32(1.0 / scale)  # F + 1, scaled
        seen += np.uint32(1)
        each = engaged_rows  # one entry per engagement: a person who engaged twice is in it twice
        if extra is not None:  # the further deliveries: F + 1 + extra, and the rows they engaged or unfollowed
            if most > 2:
                state[multi, 0] += extra.astype(np.float32) * np.float32(1.0 / scale)
                seen[multi] += extra.astype(np.uint32)
            else:  # one more each (the usual case): the same sums without the products
                state[multi, 0] += np.float32(1.0 / scale)
                seen[multi] += np.uint32(1)
            if engaged_rows.size and engaged_rows[-1] >= size:
                split = int(engaged_rows.searchsorted(size))
                each = engaged_rows.copy()
                each[split:] = again[engaged_rows[split:] - size]
                engaged_rows = _union(engaged_rows[:split], each[split:])
            if out_rows.size and out_rows[-1] >= size:
                split = int(out_rows.searchsorted(size))
                out_rows = _union(out_rows[:split], again[out_rows[split:] - size])
        fan_records[at] = record[:k_fans]
        if others.size:
            records[others] = record[k_fans:size]
            self._nonfans_exposed = True  # non-fans hold stocks from now on
        ctx.flow("post_reach", size)
        if first.size:
            ctx.flow("reached", first.size)
            ctx.reached(rows_of(first))

        engaged = rows_of(engaged_rows)
        if engaged.size:
            each = engaged if each is engaged_rows else rows_of(each)
            self._book_engagements(each, t)
        if out_rows.size and others.size:
            out_rows = out_rows[out_rows < k_fans]  # only fans unfollow
        if out_rows.size:
            self._unfollow(rows_of(out_rows))
        if engaged.size == 0 or (p.follow_probability == 0 and p.messenger_optin_probability == 0):
            return
        if p.follow_probability > 0 and others.size:  # only non-fans (rows from k_fans on) follow
            follows = (engaged_rows >= k_fans) & (self._follow_u.take(engaged.size) < p.follow_probability)
            self._follow(engaged[follows], t, "boost")
        if p.messenger_optin_probability > 0:
            self._opt_in(engaged, t)

    def _post_boosted(self, t: float, at: np.ndarray, scale: float) -> None:
        """The rest of a post with paid impressions (the organic sightings ``at`` drawn), by the compiled kernels of
        :mod:`reachsim.model.boost_response`: what the NumPy path of :meth:`_post` does, with the same results."""
        p, ctx = self.params, self.ctx
        kind, target, target_size = self._boost_target()
        impressions = self._buy_boost() if target_size else 0  # as _boost: nothing spent on an empty target
        if impressions:
            ctx.flow("impressions_paid", impressions)
        if self._boost_kernel is None:
            self._boost_kernel = BoostKernel()
        strength, novelty, optout_fatigue_strength, increment = self._response_terms(scale)
        layout = self._boost_kernel.prepare(
            self._boost_u.take(impressions), at, self._store, self._fan_store, self._sighted_in, target, target_size,
            kind, self._boosted_posts + 1, t=t, strength=strength, novelty=novelty, increment=increment,
        )
        if layout.stamped:
            self._boosted_posts += 1
        ctx.flow("deliveries", impressions + at.size)
        if layout.size == 0:
            return
        self._roundings += 4 if layout.more else 3
        self._scaled_bound += layout.most / scale
        outcome = self._boost_kernel.finish(
            self._response_u.take(layout.deliveries), self._fan_store, self._store, self.fan_list,
            strength=strength, novelty=novelty, optout=p.unfollow.probability,
            optout_fatigue_strength=optout_fatigue_strength, increment=increment,
            first=bool(self._unseen_fans or layout.others),
        )
        if layout.others:
            self._nonfans_exposed = True  # non-fans hold stocks from now on
        ctx.flow("post_reach", layout.size)
        first = outcome.first
        if first.size:
            self._unseen_fans -= outcome.first_fans if layout.others else first.size
            ctx.flow("reached", first.size)
            ctx.reached(first)
        engaged = outcome.engaged
        if engaged.size:
            self._book_engagements(outcome.each, t)
        if outcome.unfollowed.size:
            self._unfollow(outcome.unfollowed)
        if engaged.size and p.follow_probability > 0 and layout.others:  # only non-fans follow
            follows = outcome.engaged_nonfan & (self._follow_u.take(engaged.size) < p.follow_probability)
            self._follow(engaged[follows], t, "boost")
        if engaged.size and p.messenger_optin_probability > 0:
            self._opt_in(engaged, t)

    def _book_engagements(self, each: np.ndarray, t: float) -> None:
        """A post's engagements (consumer rows, one entry each): counted, valued and published on the bus."""
        ctx = self.ctx
        ctx.flow("engagements", each.size)
        ctx.value("engagement", ctx.engagement_value(each))
        if ctx.bus.has_subscribers(topics.ENGAGEMENT):
            ctx.bus.publish(topics.ENGAGEMENT, idx=each.astype(np.int64), t=t, channel=self.name)

    def _opt_in(self, engaged: np.ndarray, t: float) -> None:
        """Each engaged person opts in to Messenger with ``messenger_optin_probability``, published on the bus."""
        optins = engaged[self._follow_u.take(engaged.size) < self.params.messenger_optin_probability]
        if optins.size:
            self.ctx.flow("messenger_optins", optins.size)
            self.ctx.bus.publish(topics.MESSENGER_OPTIN, idx=optins.astype(np.int64), t=t, source="page")
