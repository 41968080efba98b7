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
#: The per-subscriber column holding when the subscriber's messaging window closes (day, float32).
WINDOW = "window_until"

#: Where a subscriber came from (the ``joined_<source>`` daily metrics). Bus opt-ins name their own source.
SOURCES = ("initial", "organic", "paid", "bass", "page", "other")


class Broadcasts(StrictModel):
    """The push schedule: every active subscriber receives each broadcast."""

    every_days: float = Field(ge=1 / 24, le=3650, description="Days between broadcasts (at most hourly: 1/24).")
    first_day: float = Field(default=0.0, ge=0, description="Day of the first broadcast.")


class Pricing(StrictModel):
    """What the platform charges per message, inside or outside the standard messaging window."""

    in_window: float = Field(default=0.0, ge=0, description="Price per message inside the window.")
    outside_window: float = Field(default=0.0, ge=0, description="Price per message outside the window.")
    window_hours: float = Field(default=24.0, gt=0, description="Length of the window a user action opens.")


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
        # Audience-indexed delivery state (one slot per subscriber; see reachsim.model.broadcast), with the expiry
        # of each subscriber's messaging window as a channel column that moves with its slot.
        self.cols = BroadcastColumns(n, capacity=self.params.initial_subscribers)
        self.cols.add_column(WINDOW, np.float32, fill=-np.inf)
        self.source = np.zeros(n, dtype=np.uint8)  # 0 = never subscribed, else 1 + index in SOURCES
        self.subscribers = 0
        # Every join goes through the acquisition component, which knows who ever subscribed.
        self.acquisition = AudienceAcquisition(
            ctx, self._acquisition_params, self._join, relevance_uplift=self._relevance_uplift
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
        return float(self.subscribers)

    def exposures(self) -> np.ndarray:
        return self.cols.exposure_counts()

    def _acquisition_params(self) -> Acquisition:
        return self.params.acquisition

    def _relevance_uplift(self) -> float:
        return self.params.relevance_uplift

    def _weights(self, idx: np.ndarray) -> np.ndarray:
        """Engagement multiplier per subscriber: segment × targeting relevance."""
        return self.ctx.engagement_weights(idx, self.params.relevance_uplift)

    def set_param(self, path: str, value: float) -> None:
        super().set_param(path, value)
        if path == "relevance_uplift":
            cols = self.cols
            for a in range(0, cols.n, JOIN_CHUNK):
                b = min(a + JOIN_CHUNK, cols.n)
                cols.weight[a:b] = self._weights(cols.row[a:b])

    def _join(self, idx: np.ndarray, t: float, source: str) -> None:
        """Subscribe consumers ``idx`` (distinct market rows, any order) who never subscribed before (the
        acquisition component hands over only them). Large joins are applied in pieces, so nothing market-sized is
        allocated."""
        source = source if source in SOURCES else "other"
        code = 1 + SOURCES.index(source)
        novelty = self.params.engagement.novelty
        half_life = novelty.half_life_days if novelty else math.inf
        idx = np.asarray(idx)
        before = self.cols.n
        for a in range(0, idx.size, JOIN_CHUNK):
            part = idx[a : a + JOIN_CHUNK]
            part = part[self.source[part] == 0]
            if part.size:
                self.source[part] = code
                self.cols.join(part, t, novelty_half_life=half_life, weight=self._weights(part), new=True)
        added = self.cols.n - before
        if added:
            self.subscribers += added
            self.ctx.flow("joined", added)
            self.ctx.flow(f"joined_{source}", added)

    def _on_optin(self, payload: dict[str, Any]) -> None:
        idx = np.unique(np.asarray(payload["idx"], dtype=np.int64))  # one subscription per person
        self.acquisition.join(idx, payload["t"], payload.get("source", "other"))

    def _on_user_action(self, payload: dict[str, Any]) -> None:
        slots = self.cols.slot_of[np.asarray(payload["idx"], dtype=np.int64)]
        self._open_window(slots[slots >= 0], payload["t"])

    def _open_window(self, slots: np.ndarray, t: float) -> None:
        """Open the messaging window of the subscribers in ``slots`` (audience slots) from ``t``."""
        self.cols.column(WINDOW)[slots] = t + self.params.pricing.window_hours / 24.0

    # -- daily activity: acquisition, inbound conversations, fixed fee ------------------------------------------
    def _daily(self, t: float) -> None:
        p = self.params
        self.acquisition.step(t)
        if p.inbound_conversations_per_year and self.subscribers:
            n = self.cols.n
            k = int(self._rng_inbound.poisson(n * p.inbound_conversations_per_year / 365.0))
            if k:  # conversations fall on distinct subscribers: a uniform k-subset of the audience's slots
                self._open_window(self._rng_inbound.choice(n, size=min(k, n), replace=False, shuffle=False), t)
        self.ctx.cost("platform_fee", p.fixed_cost_per_month / DAYS_PER_MONTH)

    # -- broadcasts ---------------------------------------------------------------------------------------------
    def _period(self) -> float | None:
        return self.params.broadcasts.every_days if self.params.broadcasts is not None else None

    def _broadcast(self, t: float) -> None:
        p, ctx, cols = self.params, self.ctx, self.cols
        if cols.n == 0:
            return
        pricing = p.pricing
        in_window = cols.count_above(WINDOW, t)
        eng = p.engagement
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
            stamp={WINDOW: t + pricing.window_hours / 24.0},  # an engagement opens the window
        )
        deliveries = outcome.deliveries
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
