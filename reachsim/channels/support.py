"""Support: a phone call centre, or Messenger where a bot resolves a share and chat agents the rest.

Contacts arrive as a Poisson process (a daily rate shaped by hour-of-day and day-of-week profiles, plus contacts
that follow marketing engagements of other channels, over the bus), each from a consumer of the market. A share
comes over Messenger: the bot answers first and resolves ``bot_containment`` of them; the rest queue for chat agents
who each handle ``concurrency`` chats at once. The others call and queue for phone agents. Both queues are
first-come first-served with exponential patience, simulated contact by contact by the exact recursion over the
agents' next free times (:func:`reachsim.model.queueing.fcfs_queue`): one event a day serves that day's contacts,
and the agents' next free times carry the queues over midnight. Staffing may vary by hour of day. Each contact
counts, with its outcome, on the day and (for the metrics declared by hour) in the hour of the day it arrived.
A contact that abandons does not come back; ``cost_per_abandoned_contact`` prices what its retry costs the brand.

A Messenger support conversation is a user action on Messenger: the day's are published at once, each dated at its
exact time, so the strategy's Messenger channel opens that consumer's messaging window from then on, and later
broadcasts to them are cheaper where the platform charges outside the window. The maths is in docs/model/support.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, WithJsonSchema, field_validator, model_validator

from reachsim.channels import topics
from reachsim.channels.base import Channel, ChannelParams
from reachsim.core.metrics import Metric, flow, mean, ratio
from reachsim.core.strict import StrictModel
from reachsim.model.queueing import fcfs_queue, handle_times, profile_cumulative, quantile, times_from_cumulative

HOURS_PER_DAY = 24
MAX_AGENTS = 100_000

AGENTS_DESCRIPTION = (
    "Agents on duty: one number for every hour, or a list of 24 numbers, one per hour of the day (the first is "
    "midnight to 1 am). In an hour with n agents, agents 1 to n are on duty, so the same agents work every busy "
    "hour; a contact started before the end of a shift is finished."
)

#: The bounds below, in the JSON Schema that editors check files against; the validators check the same, with
#: their own messages. One number of agents:
_AGENT_LEVEL = {"type": "integer", "minimum": 0, "maximum": MAX_AGENTS}
_AGENTS_BY_HOUR = {"type": "array", "items": _AGENT_LEVEL, "minItems": HOURS_PER_DAY, "maxItems": HOURS_PER_DAY}
#: Agents on duty: one number, or one per hour of the day.
Agents = Annotated[int | list[int], WithJsonSchema({"anyOf": [_AGENT_LEVEL, _AGENTS_BY_HOUR]})]


def _profile_schema(length: int) -> dict[str, Any]:
    """A profile of ``length`` non-negative weights, at least one of them positive, in the JSON Schema."""
    weights = {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": length, "maxItems": length}
    return {"anyOf": [{**weights, "contains": {"not": {"type": "number", "maximum": 0}}}, {"type": "null"}]}


HourProfile = Annotated[list[float] | None, WithJsonSchema(_profile_schema(HOURS_PER_DAY))]
WeekdayProfile = Annotated[list[float] | None, WithJsonSchema(_profile_schema(7))]


def _check_agents(value: int | list[int]) -> int | list[int]:
    levels = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) != HOURS_PER_DAY:
        raise ValueError(f"give one number of agents per hour of the day: 24 numbers, not {len(value)}")
    if any(not 0 <= level <= MAX_AGENTS for level in levels):
        raise ValueError(f"numbers of agents must be between 0 and {MAX_AGENTS}")
    return value


def _check_profile(value: list[float] | None, length: int, what: str) -> list[float] | None:
    if value is None:
        return None
    if len(value) != length:
        raise ValueError(f"give {length} weights, one per {what}, not {len(value)}")
    if any(not (w >= 0 and math.isfinite(w)) for w in value) or not sum(value) > 0:
        raise ValueError("weights must be non-negative with a positive sum")
    return value


def staffed_hours(agents: int | list[int]) -> float:
    """Agent hours staffed in one day."""
    return float(sum(agents)) if isinstance(agents, list) else float(agents * HOURS_PER_DAY)


class PhoneSupport(StrictModel):
    """The phone queue: callers wait first-come first-served for the next free agent."""

    agents: Agents = Field(description=AGENTS_DESCRIPTION)
    handle_minutes: float = Field(gt=0, le=1440, description="Mean handle time of a call (talk and wrap-up), minutes.")
    handle_cv: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="Coefficient of variation of handle times: lognormal with this CV and mean handle_minutes; "
        "exponential when omitted.",
    )
    cost_per_agent_hour: float = Field(
        default=0.0, ge=0, description="Cost of one staffed agent hour, busy or not (booked as 'phone_agents')."
    )
    telephony_per_minute: float = Field(
        default=0.0,
        ge=0,
        description="Telephony charge per minute of a call, time waiting included, as toll-free lines charge "
        "(booked as 'telephony').",
    )

    _agents = field_validator("agents")(_check_agents)


class MessengerSupport(StrictModel):
    """Support over Messenger: a bot answers first and resolves a share; chat agents take the rest."""

    share: float = Field(ge=0, le=1, description="Share of contacts that come over Messenger; the rest call.")
    bot_containment: float = Field(
        default=0.0, ge=0, le=1, description="Share of Messenger contacts the bot resolves without an agent."
    )
    bot_cost_per_contact: float = Field(
        default=0.0, ge=0, description="Bot fee per Messenger contact: every one meets the bot first (booked as 'bot')."
    )
    agents: Agents = Field(default=0, description="Chat agents. " + AGENTS_DESCRIPTION)
    concurrency: int = Field(
        default=1,
        ge=1,
        le=50,
        description="Chats one agent handles at once. An agent is that many servers: each chat takes handle_minutes "
        "whatever else its agent is doing.",
    )
    handle_minutes: float = Field(gt=0, le=1440, description="Mean duration of a chat with an agent, minutes.")
    handle_cv: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="Coefficient of variation of chat durations: lognormal with this CV and mean handle_minutes; "
        "exponential when omitted.",
    )
    cost_per_agent_hour: float = Field(
        default=0.0, ge=0, description="Cost of one staffed chat-agent hour, busy or not (booked as 'chat_agents')."
    )

    _agents = field_validator("agents")(_check_agents)


class SupportParams(ChannelParams):
    """Customer support: contacts from the market, answered by phone agents, or on Messenger by a bot and chat
    agents."""

    type: Literal["support"] = Field(description="Channel type.")
    contacts_per_day: float = Field(
        ge=0,
        le=10_000_000,
        description="Mean contacts per day (Poisson), each from a random consumer of the market; with a weekday "
        "profile, the mean over a week.",
    )
    hour_profile: HourProfile = Field(
        default=None,
        description="24 non-negative weights: how a day's contacts spread over its hours (the first is midnight to "
        "1 am); uniform over the day when omitted.",
    )
    weekday_profile: WeekdayProfile = Field(
        default=None,
        description="7 non-negative weights, one per day of the week, day 0 of the scenario first; scaled to average "
        "1, so that contacts_per_day stays the mean over a week. Every day alike when omitted.",
    )
    contacts_per_engagement: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Probability that a marketing engagement with another channel of the strategy leads the same "
        "consumer to contact support the next day, at an hour drawn from hour_profile.",
    )
    patience_minutes: float | None = Field(
        default=None,
        gt=0,
        le=100_000,
        description="Mean patience of a waiting contact, minutes (exponential): whoever is still waiting when "
        "their patience runs out abandons. Nobody abandons when omitted.",
    )
    service_level_seconds: float = Field(
        default=20.0,
        ge=0,
        le=86_400,
        description="Target wait of the service level: the share of contacts offered to agents (answered or "
        "abandoned; bot-resolved ones are not offered) that are answered within this many seconds.",
    )
    phone: PhoneSupport | None = Field(
        default=None, description="The phone queue; needed unless every contact comes over Messenger."
    )
    messenger: MessengerSupport | None = Field(
        default=None, description="Support over Messenger; every contact calls when omitted."
    )
    all_phone_cost_per_contact: float = Field(
        default=0.0,
        ge=0,
        description="What resolving one contact costs in an all-phone operation, the reference. Each contact "
        "resolved here, by the bot or by an agent, books it as value 'cost_avoided': the reference cost of the "
        "contacts resolved, not the bot's saving. The channel's net value is then its saving against an all-phone "
        "operation at that cost per contact (an all-phone strategy has one too); what the bot saves is the "
        "difference in net value between a bot-first strategy and an all-phone one on the same contacts.",
    )

    cost_per_abandoned_contact: float = Field(
        default=0.0,
        ge=0,
        le=1_000_000,
        description="What a contact that abandons the queue costs the brand: its customer tries again, elsewhere "
        "or later, at a cost beyond a resolution at the first try (booked as 'abandoned'). Without it an "
        "abandoned contact costs nothing, and short staffing looks cheap.",
    )

    @field_validator("hour_profile")
    @classmethod
    def _hours(cls, value: list[float] | None) -> list[float] | None:
        return _check_profile(value, HOURS_PER_DAY, "hour of the day")

    @field_validator("weekday_profile")
    @classmethod
    def _weekdays(cls, value: list[float] | None) -> list[float] | None:
        return _check_profile(value, 7, "day of the week")

    @property
    def messenger_share(self) -> float:
        return self.messenger.share if self.messenger is not None else 0.0

    @model_validator(mode="after")
    def _queues_can_serve(self) -> SupportParams:
        phone, chat = self.phone, self.messenger
        per_hour = self.contacts_per_day / HOURS_PER_DAY
        if self.messenger_share < 1:
            if phone is None:
                raise ValueError(
                    "@phone: contacts that do not come over Messenger call: give the phone queue "
                    "(or messenger.share: 1)"
                )
            _check_queue(
                "phone.agents",
                per_hour * (1 - self.messenger_share),
                phone.handle_minutes,
                phone.agents,
                1,
                self.patience_minutes,
            )
        if chat is not None and chat.share > 0 and chat.bot_containment < 1:
            _check_queue(
                "messenger.agents",
                per_hour * chat.share * (1 - chat.bot_containment),
                chat.handle_minutes,
                chat.agents,
                chat.concurrency,
                self.patience_minutes,
            )
        return self


def _check_queue(
    field: str,
    per_hour: float,
    handle_minutes: float,
    agents: int | list[int],
    concurrency: int,
    patience: float | None,
) -> None:
    """A queue that gets contacts needs agents; without abandonment, more capacity than work on average."""
    if staffed_hours(agents) == 0:
        raise ValueError(f"@{field}: this queue gets contacts but has no agents in any hour")
    if patience is None and per_hour > 0:
        work = per_hour * HOURS_PER_DAY * handle_minutes / 60.0  # agent hours of work a day
        capacity = staffed_hours(agents) * concurrency
        if work >= capacity:
            raise ValueError(
                f"@{field}: {work:g} hours of work a day against {capacity:g} staffed hours: without "
                "patience_minutes nobody abandons and the queue would grow without bound; add agents or set "
                "patience_minutes"
            )


def _route_metrics(route: str, label: str) -> tuple[Metric, ...]:
    return (
        flow(f"{route}_answered", "contacts", f"{label}: answered", description=f"{label} contacts answered"),
        flow(
            f"{route}_within_target",
            "contacts",
            f"{label}: answered within target",
            description=f"{label} contacts answered within service_level_seconds",
        ),
        mean(
            f"{route}_mean_wait_s",
            "seconds",
            label,
            weight=f"{route}_answered",
            group="mean wait by route",
            description=f"mean wait of answered {label} contacts",
        ),
        ratio(
            f"{route}_service_level",
            "share",
            label,
            numerator=f"{route}_within_target",
            denominator=f"{route}_contacts",
            group="service level by route",
            description=f"share of {label} contacts answered within service_level_seconds",
        ),
        flow(
            f"{route}_busy_minutes",
            "minutes",
            f"{label}: busy agent minutes",
            description=f"agent minutes spent on answered {label} contacts (a chat counts 1/concurrency)",
        ),
        flow(
            f"{route}_staffed_minutes",
            "minutes",
            f"{label}: staffed agent minutes",
            description=f"{label} agent minutes on duty",
        ),
        ratio(
            f"{route}_occupancy",
            "share",
            label,
            numerator=f"{route}_busy_minutes",
            denominator=f"{route}_staffed_minutes",
            group="occupancy by route",
            description=f"share of {label} agents' time on duty spent on contacts",
        ),
    )


#: Everything a support channel records, beyond the standard metrics. Contacts count on the day they arrive, with
#: their outcome (a contact's wait is known when it arrives: the virtual waiting time); those declared by hour of
#: the day also count in the hour they arrive, so waits and service level are told by hour of arrival.
METRICS: tuple[Metric, ...] = (
    flow(
        "contacts",
        "contacts",
        "contacts",
        description="support contacts: calls and Messenger conversations",
        by_hour=True,
    ),
    flow(
        "phone_contacts",
        "contacts",
        "phone",
        group="contacts by route",
        description="contacts that called: offered to the phone agents",
        by_hour=True,
    ),
    flow(
        "bot_resolved",
        "contacts",
        "bot",
        group="contacts by route",
        description="Messenger contacts the bot resolved without an agent",
        by_hour=True,
    ),
    flow(
        "chat_contacts",
        "contacts",
        "Messenger agents",
        group="contacts by route",
        description="Messenger contacts the bot passed on: offered to the chat agents",
        by_hour=True,
    ),
    flow(
        "messenger_contacts",
        "contacts",
        "Messenger contacts",
        description="contacts over Messenger (each opens the consumer's Messenger window)",
    ),
    flow(
        "engagement_contacts",
        "contacts",
        "contacts after marketing",
        description="contacts that followed a marketing engagement on another channel (counted in contacts)",
    ),
    flow("answered", "contacts", "answered", description="contacts answered by an agent, phone or chat", by_hour=True),
    flow(
        "abandoned",
        "contacts",
        "abandoned",
        description="contacts that left the queue before an agent answered",
        by_hour=True,
    ),
    flow(
        "queued",
        "contacts",
        "offered to agents",
        description="contacts offered to agents (answered + abandoned): the service level's denominator",
        by_hour=True,
    ),
    flow("resolved", "contacts", "resolved", description="contacts resolved by an agent or the bot"),
    flow(
        "within_target",
        "contacts",
        "answered within target",
        description="contacts answered within service_level_seconds",
        by_hour=True,
    ),
    mean(
        "mean_wait_s",
        "seconds",
        "mean wait",
        weight="answered",
        description="mean wait of answered contacts; over the horizon weighted by answered",
        by_hour=True,
    ),
    mean(
        "p90_wait_s",
        "seconds",
        "90th-percentile wait",
        weight="answered",
        description="each day's 90th percentile of the answered contacts' waits; over the horizon the mean of "
        "the daily values weighted by answered",
    ),
    ratio(
        "service_level",
        "share",
        "service level",
        numerator="within_target",
        denominator="queued",
        description="share of contacts offered to agents that were answered within service_level_seconds",
        by_hour=True,
    ),
    ratio(
        "abandonment",
        "share",
        "abandonment",
        numerator="abandoned",
        denominator="queued",
        description="share of contacts offered to agents that abandoned",
        by_hour=True,
    ),
    ratio(
        "containment",
        "share",
        "bot containment",
        numerator="bot_resolved",
        denominator="messenger_contacts",
        description="share of Messenger contacts the bot resolved",
    ),
    flow(
        "busy_agent_minutes",
        "minutes",
        "busy agent minutes",
        description="agent minutes spent on answered contacts (a chat counts 1/concurrency)",
    ),
    flow("staffed_agent_minutes", "minutes", "staffed agent minutes", description="agent minutes on duty"),
    ratio(
        "occupancy",
        "share",
        "agent occupancy",
        numerator="busy_agent_minutes",
        denominator="staffed_agent_minutes",
        description="share of agents' time on duty spent on contacts",
    ),
    *_route_metrics("phone", "phone"),
    *_route_metrics("chat", "chat"),
    flow(
        "spend",
        "currency",
        "spend",
        description="the channel's costs (agents, telephony, bot fees, abandoned contacts) as booked in the "
        "ledger, day by day: the numerator of the costs per contact",
    ),
    ratio(
        "cost_per_contact",
        "currency",
        "cost per contact",
        numerator="spend",
        denominator="contacts",
        description="spend / contacts",
    ),
    ratio(
        "cost_per_resolved",
        "currency",
        "cost per resolved contact",
        numerator="spend",
        denominator="resolved",
        description="spend / contacts resolved by an agent or the bot",
    ),
)


class _Contacts:
    """One day's contacts in arrival order: times (days), consumers, and the random numbers that decide their fate:
    uniforms for the route, the bot and the handle time, and a standard exponential for the patience."""

    def __init__(
        self,
        times: np.ndarray,
        who: np.ndarray,
        draws: np.ndarray,
        patience: np.ndarray,
        from_engagement: np.ndarray,
        *,
        ordered: bool,
    ) -> None:
        if not ordered:
            order = np.argsort(times, kind="stable")
            times, who, draws = times[order], who[order], draws[:, order]
            patience, from_engagement = patience[order], from_engagement[order]
        self.times = times
        self.who = who
        self.route_u, self.bot_u, self.handle_u = draws
        self.patience = patience
        self.from_engagement = from_engagement

    @property
    def size(self) -> int:
        return int(self.times.size)


@dataclass
class _Served:
    """What one queue did with the day's contacts, contact by contact in arrival order."""

    times: np.ndarray  # arrival times, days
    answered: np.ndarray  # bool
    waits_s: np.ndarray  # seconds: until answered, or until abandoning
    within: np.ndarray  # bool: answered within the target wait
    busy_minutes: float  # agent minutes (a chat counts 1/concurrency)
    staffed_minutes: float
    spend: float

    @property
    def answered_waits(self) -> np.ndarray:
        return self.waits_s[self.answered]

    @classmethod
    def nothing(cls) -> _Served:
        none = np.empty(0, dtype=bool)
        return cls(np.empty(0), none, np.empty(0), none, 0.0, 0.0, 0.0)


class SupportChannel(Channel):
    type_name: ClassVar[str] = "support"
    Params: ClassVar[type[SupportParams]] = SupportParams
    owns_audience: ClassVar[bool] = False  # its money is no part of an audience's value at the horizon
    publishes: ClassVar[tuple[str, ...]] = (topics.MESSENGER_USER_ACTION,)
    consumes: ClassVar[tuple[str, ...]] = (topics.ENGAGEMENT,)
    metrics: ClassVar[tuple[Metric, ...]] = METRICS
    params: SupportParams

    def start(self) -> None:
        ctx = self.ctx
        # One stream per purpose: contacts of two strategies stay the same contacts (same times, consumers, handle
        # times and patience) whatever routes and staffing the strategies choose.
        purposes = ("contacts", "who", "route", "bot", "handle", "patience", "engagement")
        self._rng = {purpose: ctx.rng(purpose) for purpose in purposes}
        self._free = {"phone": np.empty(0), "chat": np.empty(0)}  # each queue's agents' next free times, hours
        self._pending: dict[int, list[tuple[np.ndarray, ...]]] = {}  # day → contacts that follow engagements
        # Profiles are lists, which a timeline cannot change: their shapes are computed once.
        profile = self.params.hour_profile
        self._hour_cdf = None if profile is None else profile_cumulative(profile)
        weekdays = self.params.weekday_profile
        self._weekday_factor = (
            np.ones(7) if weekdays is None else np.asarray(weekdays, dtype=float) / float(np.mean(weekdays))
        ).tolist()
        ctx.bus.subscribe(topics.ENGAGEMENT, self._on_engagement)
        ctx.every(self._day, first=0.0, interval=lambda: 1.0, slot=0)

    # -- contacts -----------------------------------------------------------------------------------------------
    def _on_engagement(self, payload: dict[str, Any]) -> None:
        """Engaged consumers contact support the next day with probability ``contacts_per_engagement``."""
        p = self.params.contacts_per_engagement
        idx = np.asarray(payload["idx"], dtype=np.int64)
        day = math.floor(payload["t"]) + 1
        if p <= 0 or idx.size == 0 or day >= max(self.ctx.end_days, self.ctx.horizon_days):
            return
        rng = self._rng["engagement"]
        who = idx[rng.random(idx.size) < p]
        if who.size:
            hours = times_from_cumulative(rng.random(who.size), self._hour_cdf)
            self._pending.setdefault(day, []).append(
                (hours, who, rng.random((3, who.size)), rng.standard_exponential(who.size))
            )

    def _contacts(self, day: int) -> _Contacts:
        """The day's contacts: a Poisson number at hours drawn from the profile, then those that follow
        yesterday's engagements. Sorted uniforms give the day's base contacts in time order."""
        p, rng = self.params, self._rng
        rate = p.contacts_per_day * self._weekday_factor[day % 7]
        n = int(rng["contacts"].poisson(rate))
        hours = times_from_cumulative(np.sort(rng["contacts"].random(n)), self._hour_cdf)
        who = rng["who"].integers(0, self.ctx.population.size, n)
        draws = np.stack([rng["route"].random(n), rng["bot"].random(n), rng["handle"].random(n)])
        patience = rng["patience"].standard_exponential(n)
        followers = np.zeros(n, dtype=bool)
        pending = self._pending.pop(day, [])
        if pending:
            hours = np.concatenate([hours, *(e[0] for e in pending)])
            who = np.concatenate([who, *(e[1] for e in pending)])
            draws = np.concatenate([draws, *(e[2] for e in pending)], axis=1)
            patience = np.concatenate([patience, *(e[3] for e in pending)])
            followers = np.concatenate([followers, np.ones(hours.size - n, dtype=bool)])
        return _Contacts(day + hours / HOURS_PER_DAY, who, draws, patience, followers, ordered=not pending)

    # -- one day ------------------------------------------------------------------------------------------------
    def _day(self, t: float) -> None:
        """Draw, route and serve the day's contacts; record them on their arrival day and book the day's money."""
        ctx, p = self.ctx, self.params
        day = int(t)
        contacts = self._contacts(day)
        chat = p.messenger
        if chat is not None:
            on_messenger = contacts.route_u < chat.share
            by_bot = on_messenger & (contacts.bot_u < chat.bot_containment)
        else:
            on_messenger = by_bot = np.zeros(contacts.size, dtype=bool)
        served = [
            self._serve("phone", day, contacts, ~on_messenger, p.phone, 1),
            self._serve("chat", day, contacts, on_messenger & ~by_bot, chat, chat.concurrency if chat else 1),
        ]
        n_bot, n_messenger = int(by_bot.sum()), int(on_messenger.sum())
        spend = sum(q.spend for q in served)
        if chat is not None:
            ctx.cost("bot", n_messenger * chat.bot_cost_per_contact)
            spend += n_messenger * chat.bot_cost_per_contact
        answered = sum(int(np.count_nonzero(q.answered)) for q in served)
        abandoned = sum(int(q.answered.size - np.count_nonzero(q.answered)) for q in served)
        if p.cost_per_abandoned_contact:
            ctx.cost("abandoned", abandoned * p.cost_per_abandoned_contact)
            spend += abandoned * p.cost_per_abandoned_contact
        # The reference cost of every contact resolved here, by an agent or the bot (not the bot's saving alone):
        # value − cost is the saving against all-phone support at that cost per contact.
        ctx.value("cost_avoided", (answered + n_bot) * p.all_phone_cost_per_contact)

        # Each contact counts at its arrival time: in its day, and in its hour for the metrics declared by hour.
        queued_at = np.concatenate([q.times for q in served])
        answered_at = np.concatenate([q.times[q.answered] for q in served])
        ctx.flow_at("contacts", contacts.times)
        ctx.flow_at("bot_resolved", contacts.times[by_bot])
        ctx.flow("messenger_contacts", n_messenger)
        ctx.flow("engagement_contacts", int(contacts.from_engagement.sum()))
        ctx.flow_at("answered", answered_at)
        ctx.flow_at("abandoned", np.concatenate([q.times[~q.answered] for q in served]))
        ctx.flow_at("queued", queued_at)
        ctx.flow("resolved", answered + n_bot)
        ctx.flow_at("within_target", np.concatenate([q.times[q.within] for q in served]))
        waits = np.concatenate([q.answered_waits for q in served])
        ctx.flow_at("mean_wait_s", answered_at, waits)
        if waits.size:
            ctx.flow("p90_wait_s", quantile(waits, 0.9) * waits.size)
        ctx.flow("busy_agent_minutes", sum(q.busy_minutes for q in served))
        ctx.flow("staffed_agent_minutes", sum(q.staffed_minutes for q in served))
        ctx.flow("spend", spend)
        if n_messenger and ctx.bus.has_subscribers(topics.MESSENGER_USER_ACTION):
            # the day's Messenger contacts at once, each dated at its own time: the Messenger channel holds an
            # action until the clock reaches it, so it exists only from its time on
            ctx.bus.publish(topics.MESSENGER_USER_ACTION, idx=contacts.who[on_messenger].astype(np.int64),
                            t=contacts.times[on_messenger])

    def _serve(
        self,
        route: str,
        day: int,
        contacts: _Contacts,
        mask: np.ndarray,
        cfg: PhoneSupport | MessengerSupport | None,
        concurrency: int,
    ) -> _Served:
        """One queue's day: serve its contacts, record its own metrics, book its agents and telephony."""
        if cfg is None:
            return _Served.nothing()
        ctx = self.ctx
        waits_s, answered, handle_min = self._queue(route, day, contacts, mask, cfg, concurrency)
        hours = staffed_hours(cfg.agents)
        q = _Served(
            times=contacts.times[mask],
            answered=answered,
            waits_s=waits_s,
            within=answered & (waits_s <= self.params.service_level_seconds),
            busy_minutes=float(handle_min[answered].sum()) / concurrency,
            staffed_minutes=hours * 60.0,
            spend=hours * cfg.cost_per_agent_hour,
        )
        ctx.cost(f"{route}_agents", q.spend)
        if isinstance(cfg, PhoneSupport) and cfg.telephony_per_minute:
            # A call is charged while it waits and while it is handled; an abandoned one until it hangs up.
            minutes = float(waits_s.sum()) / 60.0 + float(handle_min[answered].sum())
            ctx.cost("telephony", minutes * cfg.telephony_per_minute)
            q.spend += minutes * cfg.telephony_per_minute
        ctx.flow_at(f"{route}_contacts", q.times)
        ctx.flow(f"{route}_answered", int(np.count_nonzero(q.answered)))
        ctx.flow(f"{route}_within_target", int(np.count_nonzero(q.within)))
        ctx.flow(f"{route}_mean_wait_s", float(q.answered_waits.sum()))
        ctx.flow(f"{route}_busy_minutes", q.busy_minutes)
        ctx.flow(f"{route}_staffed_minutes", q.staffed_minutes)
        return q

    def _queue(
        self,
        route: str,
        day: int,
        contacts: _Contacts,
        mask: np.ndarray,
        cfg: PhoneSupport | MessengerSupport,
        concurrency: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Serve one queue's contacts of the day: (waits in seconds, answered, handle times in minutes)."""
        agents = cfg.agents
        staffing = [a * concurrency for a in agents] if isinstance(agents, list) else None
        servers = max(staffing) if staffing is not None else agents * concurrency
        free = self._free[route]
        if free.size > servers:  # fewer agents from today: those still busy finish their contact and leave
            free = np.sort(free)[:servers]
        elif free.size < servers:  # more agents from today: free at once
            free = np.concatenate([free, np.full(servers - free.size, day * float(HOURS_PER_DAY))])
        self._free[route] = free
        n = int(mask.sum())
        if n == 0:
            return np.empty(0), np.empty(0, dtype=bool), np.empty(0)
        handle_min = handle_times(contacts.handle_u[mask], cfg.handle_minutes, cfg.handle_cv)
        patience_min = (
            contacts.patience[mask] * self.params.patience_minutes
            if self.params.patience_minutes is not None
            else np.full(n, np.inf)
        )
        outcome = fcfs_queue(
            contacts.times[mask] * HOURS_PER_DAY, handle_min / 60.0, patience_min / 60.0, free, staffing=staffing
        )
        self._free[route] = outcome.free_at
        return outcome.waits * 3600.0, outcome.answered, handle_min
