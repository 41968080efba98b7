"""Messenger: an owned audience of opted-in subscribers reached by broadcasts.

Subscribers come from an initial base, organic sign-ups, paid acquisition (click-to-Messenger ads), Bass
word-of-mouth diffusion and other channels (over the event bus). Every active subscriber receives every broadcast;
engagement decays with novelty and fatigue and each delivery carries an unsubscribe hazard that grows with
fatigue. A message costs the ``pricing`` rate inside or outside the standard messaging window that a user action
(an engagement, an inbound conversation, a support chat) opens, so a platform that starts charging is one timeline
entry. The maths is in docs/model/messenger.md; the hot path is :mod:`reachsim.model.broadcast`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from reachsim.channels import acquisition, topics
from reachsim.channels.acquisition import Acquisition, AudienceAcquisition
from reachsim.channels.base import Channel, ChannelParams
from reachsim.channels.common import Engagement, Unsubscribe, optout_needs_fatigue
from reachsim.core.metrics import JOINED_BY_SOURCE, Metric, flow
from reachsim.core.strict import StrictModel
from reachsim.model.broadcast import JOIN_CHUNK, BroadcastColumns, broadcast

DAYS_PER_MONTH = 365.0 / 12.0
#: The per-subscriber column holding the time of the subscriber's latest window-opening action (day, float64; −inf
#: before any). A delivery at ``t`` is in the window when it lies in ``(t − w, t]``. Only actions at or before the
#: clock are ever written, so the column never holds a time after ``now``.
LAST_ACTION = "last_action"

#: Where a subscriber came from (the ``joined_<source>`` daily metrics). Bus opt-ins name their own source.
SOURCES = ("initial", "organic", "paid", "bass", "page", "other")
_JOINED_FROM = {source: f"joined_{source}" for source in SOURCES}


class Broadcasts(StrictModel):
    """The push schedule: every active subscriber receives each broadcast."""

    every_days: float = Field(ge=1 / 24, le=3650, description="Days between broadcasts (at most hourly: 1/24).")
    first_day: float = Field(default=0.0, ge=0, description="Day of the first broadcast.")


class Pricing(StrictModel):
    """What the platform charges per message, inside or outside the standard messaging window."""

    in_window: float = Field(default=0.0, ge=0, description="Price per message inside the window.")
    outside_window: float = Field(default=0.0, ge=0, description="Price per message outside the window.")
    window_hours: float = Field(default=24.0, gt=0, description="Length of the window a user action opens.")


#: Most people subscribed in one call at a read: a whole-market initial base arrives in pieces of this size, each
#: joined alone; small arrivals are joined together.
ARRIVAL_BATCH = acquisition.INITIAL_PIECE


class MessengerParams(ChannelParams):
    """Messenger subscribers reached by push broadcasts."""

    type: Literal["messenger"] = Field(description="Channel type.")
    initial_subscribers: int = Field(default=0, ge=0, description="Subscribers at day 0 (joined on day 0).")
    acquisition: Acquisition = Field(default_factory=Acquisition, description="Audience growth.")
    broadcasts: Broadcasts | None = Field(
        default=None, description="Broadcast schedule; no broadcasts when omitted."
    )
    engagement: Engagement = Field(description="Engagement with each delivery.")
    unsubscribe: Unsubscribe = Field(default_factory=Unsubscribe, description="Opt-out hazard.")
    pricing: Pricing = Field(default_factory=Pricing, description="Per-message prices.")
    inbound_conversations_per_year: float = Field(
        default=0.0,
        ge=0,
        description="Conversations each subscriber starts per year (Poisson); each opens the messaging window.",
    )
    fixed_cost_per_month: float = Field(default=0.0, ge=0, description="Platform or tool fee per month.")

    @model_validator(mode="after")
    def _fatigue_for_unsubscribe(self) -> MessengerParams:
        optout_needs_fatigue(self.engagement, self.unsubscribe, "unsubscribe")
        return self


#: People who joined together: their rows, and runs of them who joined at one time (times, and how many each).
_Group = tuple[np.ndarray, list[float], list[int]]


def _in_pieces(
    idx: np.ndarray, times: list[float], counts: list[int], size: int
) -> Iterator[tuple[np.ndarray, list[float], list[int]]]:
    """``idx`` in runs (``counts[i]`` rows at ``times[i]``) cut into pieces of at most ``size`` rows, each with its
    runs."""
    if idx.size <= size:
        yield idx, times, counts
        return
    start, filled = 0, 0
    piece_times: list[float] = []
    piece_counts: list[int] = []
    for t, k in zip(times, counts, strict=True):
        while k:
            take = min(k, size - filled)
            piece_times.append(t)
            piece_counts.append(take)
            filled += take
            k -= take
            if filled == size:
                yield idx[start : start + filled], piece_times, piece_counts
                start, filled, piece_times, piece_counts = start + filled, 0, [], []
    if filled:
        yield idx[start : start + filled], piece_times, piece_counts


class MessengerChannel(Channel):
    type_name: ClassVar[str] = "messenger"
    Params: ClassVar[type[MessengerParams]] = MessengerParams
    publishes: ClassVar[tuple[str, ...]] = (topics.ENGAGEMENT,)
    consumes: ClassVar[tuple[str, ...]] = (topics.MESSENGER_OPTIN, topics.MESSENGER_USER_ACTION)
    metrics: ClassVar[tuple[Metric, ...]] = (
        *(flow(f"joined_{s}", "people", s, group=JOINED_BY_SOURCE) for s in SOURCES),
        *acquisition.METRICS,
        flow("in_window", "messages", "in-window deliveries",
             description="deliveries inside the standard messaging window a user action opened"),
    )
    fixed_parameters: ClassVar[dict[str, str]] = {
        "engagement.novelty.half_life_days": "novelty is kept relative to the half-life between broadcasts"
    }
    params: MessengerParams

    def start(self) -> None:
        ctx, n = self.ctx, self.ctx.population.size
        # Audience-indexed delivery state (one slot per subscriber; see reachsim.model.broadcast), with the time of
        # each subscriber's latest window-opening action as a channel column that moves with its slot. float64:
        # float32 would resolve a time near day 1000 only to about 5 seconds.
        self.cols = BroadcastColumns(n, capacity=self.params.initial_subscribers)
        self.cols.add_column(LAST_ACTION, np.float64, fill=-np.inf)
        # the latest time ever written to that column (−inf: none): while it is outside a broadcast's window,
        # nobody is inside it and the broadcast need not count them
        self._latest_action = -math.inf
        self._drawn_until = 0.0  # inbound conversations are drawn for (0, _drawn_until]
        # bus actions dated after the clock, held until it reaches them: (times ascending, rows), one per batch
        self._later: list[tuple[np.ndarray, np.ndarray]] = []
        self.subscribers = 0
        # joins that name their people (the initial base, bus opt-ins): counted at once, subscribed at the next read
        self._arrivals: list[_Group] = []
        self._arriving = 0
        self._handed: _Group | None = None  # the acquisition's hand-over, until subscribed
        # Every join goes through the acquisition component, which knows who ever subscribed; the days it draws
        # are handed over in one piece when a broadcast or a bus event needs the subscribers.
        self.acquisition = AudienceAcquisition(
            ctx,
            self._acquisition_params,
            self._join,
            relevance_uplift=self._relevance_uplift,
            join_batch=self._handed_over,
        )
        self._rng_broadcast = ctx.rng("broadcast")
        self._rng_inbound = ctx.rng("inbound")
        ctx.bus.subscribe(topics.MESSENGER_OPTIN, self._on_optin)
        ctx.bus.subscribe(topics.MESSENGER_USER_ACTION, self._on_user_action)
        self.acquisition.initial(self.params.initial_subscribers)  # at most the market (checked at load)
        ctx.every(self._daily, first=0.0, interval=lambda: 1.0, slot=0)
        if self.params.broadcasts is not None:
            ctx.every(self._broadcast, first=self.params.broadcasts.first_day, interval=self._period, slot=1)

    @classmethod
    def check_market(cls, params: ChannelParams, market: Any) -> list[tuple[str, str]]:
        size = params.initial_subscribers  # type: ignore[attr-defined]
        problems = acquisition.check_market(params.acquisition, market)  # type: ignore[attr-defined]
        if size > market.size:
            problems.append(("initial_subscribers", f"{size} subscribers exceed the market size {market.size}"))
        return problems

    # -- audience -------------------------------------------------------------------------------------------
    def audience(self) -> float:
        return float(self.subscribers + self.acquisition.pending + self._arriving)

    def exposures(self) -> np.ndarray:
        self._flush()
        return self.cols.exposure_counts()

    def exposed(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        return self.cols.exposed()

    def _flush(self) -> None:
        """Subscribe everyone who joined since the subscribers were last read: the days the acquisition component
        drew as counts, and the arrivals that named their people, in one join (its fixed cost is most of a small
        one's). Call it before reading the subscribers."""
        self.acquisition.flush()  # hands the drawn days over to _handed_over
        if self._handed is None and not self._arrivals:
            return
        groups = self._arrivals
        if self._handed is not None:
            groups.insert(0, self._handed)
        self._handed, self._arrivals, self._arriving = None, [], 0
        batch: list[_Group] = []
        size = 0
        for group in groups:  # in batches, so that a whole-market base makes no market-sized temporaries
            if batch and size + group[0].size > ARRIVAL_BATCH:
                self._join_groups(batch)
                batch, size = [], 0
            batch.append(group)
            size += group[0].size
        self._join_groups(batch)

    def _handed_over(self, idx: np.ndarray, days: list[float], counts: list[int]) -> None:
        """The acquisition component's hand-over (its ``join_batch``), subscribed with the arrivals (:meth:`_flush`)."""
        self._handed = (idx, days, counts)

    def _join_groups(self, batch: list[_Group]) -> None:
        """Subscribe a batch of groups of people, each in runs that joined at one time, in one join."""
        if len(batch) == 1:
            self._join_batch(*batch[0])
            return
        idx = np.concatenate([people for people, _, _ in batch])
        times = [t for _, group_times, _ in batch for t in group_times]
        self._join_batch(idx, times, [k for _, _, counts in batch for k in counts])

    def _acquisition_params(self) -> Acquisition:
        return self.params.acquisition

    def _relevance_uplift(self) -> float:
        return self.params.relevance_uplift

    def _weights(self, idx: np.ndarray) -> np.ndarray:
        """Engagement multiplier per subscriber: segment × targeting relevance."""
        return self.ctx.engagement_weights(idx, self.params.relevance_uplift)

    def set_param(self, path: str, value: float) -> None:
        if path == "inbound_conversations_per_year" and value != self.params.inbound_conversations_per_year:
            # conversations until now came at the rate in force until now, those acquired so far included
            self._flush()
            self._advance(self.ctx.env.now)
        super().set_param(path, value)
        if path == "relevance_uplift":  # everyone's weight follows (those not handed over yet get it when they are)
            cols = self.cols
            for a in range(0, cols.n, JOIN_CHUNK):
                b = min(a + JOIN_CHUNK, cols.n)
                cols.weight[a:b] = self._weights(cols.row[a:b])

    def _join(self, idx: np.ndarray, t: float, source: str) -> None:
        """Consumers ``idx`` (market rows who never subscribed, ascending) join at ``t`` from an initial base or a
        bus opt-in: counted now, subscribed at the next read (:meth:`_flush`) with the conversations they started
        since ``t``, as the acquired are."""
        self._arrivals.append((idx, [float(t)], [idx.size]))
        self._arriving += idx.size
        self.ctx.flow("joined", idx.size)
        self.ctx.flow(_JOINED_FROM.get(source, _JOINED_FROM["other"]), idx.size)

    def _join_batch(self, idx: np.ndarray, times: list[float], counts: list[int]) -> None:
        """Subscribe ``idx`` (distinct, in any order), who joined in runs: ``counts[i]`` of them at ``times[i]``,
        in order (the days of acquisition drawn since the last hand-over, and arrivals), each with the latest
        conversation it has started since its own join, if any.

        A subscriber's conversations are a Poisson process of rate c/365 a day, so the time back from now to the
        latest one is exponential with mean 365/c, and there was one since the join exactly when that time is
        shorter than the time since the join: one draw per subscriber gives the window state these
        conversations leave."""
        now = self.ctx.env.now
        self._advance(now)  # conversations until now belong to the audience before these joins
        first = self.cols.n
        self._subscribe(idx, times, counts)
        rate = self.params.inbound_conversations_per_year
        if rate:
            latest = self._rng_inbound.exponential(365.0 / rate, size=idx.size)
            np.subtract(now, latest, out=latest)
            # the new slots follow one another in the order of ``idx``, all at −inf (no action yet)
            new = self.cols.column(LAST_ACTION)[first : first + idx.size]
            np.copyto(new, latest, where=latest > np.repeat(np.array(times, dtype=np.float64), counts))
            self._latest_action = max(self._latest_action, now)  # every value written is at most now

    def _subscribe(self, idx: np.ndarray, times: list[float], counts: list[int]) -> None:
        """Make ``idx`` subscribers, in runs that joined at one time (see :meth:`_join_batch`). Large joins are
        applied in pieces, so nothing market-sized is allocated."""
        novelty = self.params.engagement.novelty
        half_life = novelty.half_life_days if novelty else math.inf
        for part, part_times, part_counts in _in_pieces(idx, times, counts, JOIN_CHUNK):
            # vouched: people out of the acquisition's pool of those who never joined (distinct, never members),
            # weighted by multipliers the scenario bounds to finite values >= 0
            self.cols.join_runs(part, part_times, part_counts, novelty_half_life=half_life, weight=self._weights(part),
                                vouched=True)
        self.subscribers += idx.size

    def _on_optin(self, payload: dict[str, Any]) -> None:
        idx = payload["idx"]
        if not (isinstance(idx, np.ndarray) and idx.ndim == 1 and idx.dtype == np.int64):
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        # one subscription per person, ascending; an opt-in names a few people (one or two, usually), for whom
        # Python sorts faster than NumPy
        if idx.size == 2:
            a, b = idx.tolist()
            if a >= b:
                idx = idx[:1] if a == b else idx[::-1]
        elif 2 < idx.size <= acquisition.NeverJoined.FEW:
            idx = np.array(sorted(set(idx.tolist())), dtype=np.int64)
        elif idx.size > acquisition.NeverJoined.FEW:
            idx = np.unique(idx)
        self.acquisition.join(idx, payload["t"], payload.get("source", "other"))
        if self._later:  # subscribed at once while actions are held (see _on_user_action)
            self._flush()

    def _on_user_action(self, payload: dict[str, Any]) -> None:
        """User actions (support chats, say) at their exact times ``t``: one time for all of ``idx``, or one each.
        An action may be earlier than the channel's last event; one dated after the clock is held until the clock
        reaches it, so a channel may publish a day's actions at once.

        A held action must open the window of those subscribed at its own time. Those who leave do so at a
        broadcast, which first applies the actions due; those who join are counted at one moment and subscribed at
        the next read (:meth:`_flush`), which first applies the actions due. So while actions are held, whoever
        is counted is subscribed at once (an opt-in or a day of acquisition flushes while any action is held): a
        join then comes between the actions before it and those after it."""
        self._flush()  # the subscribers who joined until now can act
        rows = np.asarray(payload["idx"], dtype=np.int64).reshape(-1)
        times = np.broadcast_to(np.asarray(payload["t"], dtype=np.float64), rows.shape)
        later = times > self.ctx.env.now
        if not later.any():
            self._open_window(rows, times)
            return
        if not later.all():
            self._open_window(rows[~later], times[~later])
            rows, times = rows[later], times[later]
        order = np.argsort(times, kind="stable")
        self._later.append((times[order], rows[order]))

    def _open_window(self, rows: np.ndarray, t: float | np.ndarray) -> None:
        """Subscribers among ``rows`` (population rows, a row may repeat) acted at ``t`` (one time, or one each):
        each window opens from the latest of its actions unless a later one already opened it."""
        slots = self.cols.slot_of[rows]
        member = slots >= 0
        last = self.cols.column(LAST_ACTION)
        if np.ndim(t):
            t = np.asarray(t)[member]
            np.maximum.at(last, slots[member], t)
            if t.size:
                self._latest_action = max(self._latest_action, float(t.max()))
        else:
            slots = slots[member]
            last[slots] = np.maximum(last[slots], t)
            if slots.size:
                self._latest_action = max(self._latest_action, float(t))

    # -- inbound conversations in continuous time -----------------------------------------------------------------
    def _advance(self, t: float) -> None:
        """Bring the window state up to time ``t``: every action at or before ``t``, none after.

        Each subscriber starts conversations as a Poisson process of rate c/365 a day. Over (t₀, t] the
        superposition of the n subscribers' processes is one Poisson process of rate n·c/365 whose events fall
        on uniformly random subscribers (with replacement) at uniform times, so drawing the interval at once is
        exact as long as the audience did not change within it; joins, hand-overs of acquired subscribers,
        broadcasts (opt-outs) and parameter changes call this first. The work follows the conversations drawn,
        not the audience.
        """
        start = self._drawn_until
        if t > start:
            self._drawn_until = t
            rate, n = self.params.inbound_conversations_per_year, self.cols.n
            if rate and n:
                rng = self._rng_inbound
                span = t - start
                k = int(rng.poisson(n * rate * span / 365.0))
                if k:
                    slots = (rng.random(k) * n).astype(np.int64)  # uniform slots, with replacement
                    times = t - span * rng.random(k)  # uniform on (start, t]
                    np.maximum.at(self.cols.column(LAST_ACTION), slots, times)  # a slot keeps its latest
                    self._latest_action = max(self._latest_action, t)  # the times are at most t
        self._apply_held(t)

    def _apply_held(self, t: float) -> None:
        """Open the windows of the held actions dated up to ``t``. Nobody joined or left since the earliest of them
        (a join or a broadcast applies those due first), so the subscribers now are those at their times."""
        if self._later:
            held = []
            for times, rows in self._later:  # each batch in time order: its due actions are a prefix
                due = int(np.searchsorted(times, t, side="right"))
                if due:
                    self._open_window(rows[:due], times[:due])
                if due < times.size:
                    held.append((times[due:], rows[due:]))
            self._later = held

    # -- daily activity: acquisition, fixed fee -----------------------------------------------------------------
    def _daily(self, t: float) -> None:
        # No conversations are drawn here: the audience changes only at a hand-over, a join or a broadcast, and
        # each draws the conversations until then first (see _advance).
        if self._later:  # so that held actions do not pile up in a channel without broadcasts or joins
            self._apply_held(t)
        self.acquisition.step(t)
        if self._later:  # subscribed at once while actions are held (see _on_user_action)
            self._flush()
        fee = self.params.fixed_cost_per_month
        if fee:
            self.ctx.cost("platform_fee", fee / DAYS_PER_MONTH)

    # -- broadcasts ---------------------------------------------------------------------------------------------
    def _period(self) -> float | None:
        return self.params.broadcasts.every_days if self.params.broadcasts is not None else None

    def _broadcast(self, t: float) -> None:
        p, ctx, cols = self.params, self.ctx, self.cols
        self._flush()
        self._advance(t)
        if cols.n == 0:
            return
        pricing = p.pricing
        eng = p.engagement
        window_start = t - pricing.window_hours / 24.0
        outcome = broadcast(
            cols,
            t,
            base=eng.probability,
            floor=eng.novelty.floor if eng.novelty else 1.0,
            novelty_half_life=eng.novelty.half_life_days if eng.novelty else math.inf,
            fatigue_half_life=eng.fatigue.half_life_days if eng.fatigue else math.inf,
            strength=eng.fatigue.strength if eng.fatigue else 0.0,
            optout=p.unsubscribe.probability,
            optout_fatigue_strength=p.unsubscribe.fatigue_strength,
            rng=self._rng_broadcast,
            stamp={LAST_ACTION: t},  # an engagement opens the window from now (nothing later is stored)
            # in the window: the latest action lies in (t − w, t] (the column holds nothing after t); nobody is
            # when nothing written to the column is that recent (weekly broadcasts, no conversations): no pass
            count_above=(LAST_ACTION, window_start) if self._latest_action > window_start else None,
        )
        if outcome.engaged.size:
            self._latest_action = max(self._latest_action, t)  # the engaged were stamped t
        deliveries, in_window = outcome.deliveries, outcome.above
        ctx.flow("deliveries", deliveries)
        ctx.flow("in_window", in_window)
        ctx.flow("reached", outcome.newly_reached)
        ctx.reached(outcome.reached)
        ctx.cost("messages", in_window * pricing.in_window + (deliveries - in_window) * pricing.outside_window)
        engaged = outcome.engaged
        ctx.flow("engagements", engaged.size)
        if engaged.size:
            ctx.value("engagement", ctx.engagement_value(engaged))
            if ctx.bus.has_subscribers(topics.ENGAGEMENT):  # e.g. support: a share of them get in touch
                ctx.bus.publish(topics.ENGAGEMENT, idx=engaged.astype(np.int64), t=t, channel=self.name)
        left = outcome.opted_out.size
        if left:
            self.subscribers -= left
            ctx.flow("left", left)
