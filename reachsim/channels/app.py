"""App: a build-and-maintain bill against a permanent home-screen presence.

The app costs money before it reaches anyone: a build (on day 0, or spread over the build days), maintenance and
store and hosting fees month by month from the launch, and OS updates on a schedule. From the launch, installs come
from the shared acquisition sources (organic, paid, Bass; :mod:`reachsim.channels.acquisition`), each consumer at
most once. Each install draws its own lifetime from a Weibull retention curve fitted to ``retention`` and is
removed on its day in one array event per day. While installed, the app puts the brand on the home screen
(impressions with a value each) and may be opened (in-app sessions that decay with novelty, each an engagement).
A share of installs allows notifications and receives pushes through the shared delivery kernel
(:mod:`reachsim.model.broadcast`); each push carries a push-disable and an uninstall hazard that grow with fatigue.
The maths is in docs/model/app.md.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from reachsim.channels import topics
from reachsim.channels.acquisition import METRICS as ACQUISITION_METRICS
from reachsim.channels.acquisition import Acquisition, AudienceAcquisition, ImpressionAcquisition, PaidAcquisition
from reachsim.channels.base import Channel, ChannelContext, ChannelParams
from reachsim.channels.common import Engagement, Novelty, Unsubscribe, optout_needs_fatigue
from reachsim.core.metrics import JOINED_BY_SOURCE, Metric, flow, stock
from reachsim.core.strict import StrictModel
from reachsim.model.broadcast import BroadcastColumns, broadcast
from reachsim.model.kernels import novelty_factor
from reachsim.model.retention import weibull_fit, weibull_lifetimes

__all__ = ["AppChannel", "AppParams"]

DAYS_PER_MONTH = 365.0 / 12.0

#: Where installs come from (the ``joined_<source>`` metrics): the shared acquisition component's sources, and
#: ``other`` for any source it may name in future.
SOURCES = ("organic", "paid", "bass", "other")
#: Why an app was uninstalled (the ``uninstalls_<cause>`` metrics): its drawn lifetime ran out, or a push.
CAUSES = ("retention", "push")
#: Ledger categories of the app's costs (the ``cost_<category>`` metrics) and values (``value_<category>``).
COST_CATEGORIES = ("build", "maintenance", "os_update", "fees", "acquisition", "push")
VALUE_CATEGORIES = ("engagement", "home_screen")

#: Metric groups (the report charts a group together).
BASES = "installed and push-reachable"
UNINSTALLS_BY_CAUSE = "uninstalls, by cause"
ENGAGEMENTS_BY_KIND = "engagements, by kind"
COST_BY_CATEGORY = "cost, by category"
VALUE_BY_CATEGORY = "value, by category"


# -- parameters ---------------------------------------------------------------------------------------------------


class Build(StrictModel):
    """Building the app: what it costs and how many days until it launches."""

    cost: float = Field(ge=0, description="Cost of building the app (ledger category build).")
    days: int = Field(
        ge=0, le=36_500, description="Days from day 0 to the launch; nothing reaches anyone before the launch."
    )
    spread: bool = Field(
        default=False,
        description="Spread the build cost evenly over the build days (cost/days on each of days 0 … days − 1) "
        "instead of booking it all on day 0.",
    )


class Maintenance(StrictModel):
    """Keeping the app working, accrued month by month from the launch: give ``cost_per_year`` or
    ``share_of_build_per_year``."""

    cost_per_year: float | None = Field(default=None, ge=0, description="Maintenance cost per year.")
    share_of_build_per_year: float | None = Field(
        default=None, ge=0, le=10, description="Maintenance per year as a share of the build cost (0.2 = 20 %)."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Maintenance:
        if (self.cost_per_year is None) == (self.share_of_build_per_year is None):
            field = "cost_per_year" if self.cost_per_year is None else "share_of_build_per_year"
            raise ValueError(
                f"@{field}: give exactly one of cost_per_year or share_of_build_per_year (a share of build.cost)"
            )
        return self

    def per_year(self, build_cost: float) -> float:
        if self.cost_per_year is not None:
            return self.cost_per_year
        return float(self.share_of_build_per_year) * build_cost  # type: ignore[arg-type]


class OsUpdates(StrictModel):
    """Updates for new OS versions: the first ``every_days`` after the launch, then every ``every_days``."""

    every_days: float = Field(ge=1, le=3650, description="Days between OS updates (the first one after the launch).")
    cost: float = Field(ge=0, description="Cost of each OS update (ledger category os_update).")


class Fees(StrictModel):
    """Running fees from the launch, booked month by month (ledger category fees)."""

    store_per_month: float = Field(default=0.0, ge=0, description="App store fees per month.")
    hosting_per_month: float = Field(default=0.0, ge=0, description="Hosting and back-end fees per month.")


class PaidInstalls(StrictModel):
    """Paid installs at a flat cost each (app-install ads)."""

    budget_per_day: float = Field(ge=0, description="Spend per day on acquiring installs.")
    cost_per_install: float = Field(gt=0, description="Cost of one acquired install.")


class AppAcquisition(Acquisition):
    """How installs grow from the launch (sources add up); the shared acquisition of an owned audience, with the
    paid cost per install."""

    paid: PaidInstalls | ImpressionAcquisition | None = Field(  # type: ignore[assignment]
        default=None,
        description="Paid installs: app-install ads bought as impressions that saturate by themselves "
        "({budget_per_day, cpm, conversion_probability, target}), or at a flat cost per install "
        "({budget_per_day, cost_per_install}: a simplification that ignores saturation); none when omitted.",
    )

    def shared(self) -> Acquisition:
        """The same sources in the shared component's terms (every other field passed on as it is)."""
        paid = self.paid
        if isinstance(paid, PaidInstalls):
            paid = PaidAcquisition(budget_per_day=paid.budget_per_day, cost_per_subscriber=paid.cost_per_install)
        others = {name: getattr(self, name) for name in Acquisition.model_fields if name != "paid"}
        return Acquisition(**others, paid=paid)


class RetentionPoint(StrictModel):
    """One more point of the retention curve."""

    day: float = Field(gt=0, le=36_500, description="Age of the install in days.")
    share: float = Field(gt=0, lt=1, description="Share of installs still installed at that age.")


class Retention(StrictModel):
    """Share of installs still installed by age: the Weibull survival ``S(t) = exp(−(t/λ)^k)`` through
    ``(1, day_1)`` and ``(30, day_30)``, or fitted by least squares to these and ``more_points``."""

    day_1: float = Field(gt=0, lt=1, description="Share of installs still installed one day after installing.")
    day_30: float = Field(gt=0, lt=1, description="Share of installs still installed 30 days after installing.")
    more_points: list[RetentionPoint] = Field(
        default_factory=list,
        max_length=100,
        description="Further points (day, share); with any, the curve is fitted to all points by least squares "
        "on the Weibull plot and no longer passes exactly through each.",
    )

    @model_validator(mode="after")
    def _falls(self) -> Retention:
        points = [(1.0, self.day_1, "day_1"), (30.0, self.day_30, "day_30")]
        points += [(p.day, p.share, f"more_points[{i}]") for i, p in enumerate(self.more_points)]
        seen: dict[float, str] = {}
        for day, _, where in points:
            if day in seen:
                raise ValueError(f"@{where}.day: day {day:g} is given twice (also in {seen[day]})")
            seen[day] = where
        ordered = sorted(points)
        for (d0, s0, w0), (d1, s1, w1) in itertools.pairwise(ordered):
            if not s1 < s0:
                field = w1 if w1 in ("day_1", "day_30") else f"{w1}.share"
                raise ValueError(
                    f"@{field}: the share still installed must fall with age: {s1:g} on day {d1:g} is not below "
                    f"{s0:g} on day {d0:g} ({w0})"
                )
        return self

    def weibull(self) -> tuple[float, float]:
        """``(scale λ in days, shape k)`` of the survival curve."""
        days = [1.0, 30.0, *(p.day for p in self.more_points)]
        shares = [self.day_1, self.day_30, *(p.share for p in self.more_points)]
        return weibull_fit(days, shares)


class PushDisable(Unsubscribe):
    """Push-disable hazard per push: probability × (1 + fatigue_strength·F). The user keeps the app."""


class PushUninstall(StrictModel):
    """Uninstall hazard per push: probability × (1 + disable.fatigue_strength·F), growing with fatigue as
    push-disable does."""

    probability: float = Field(default=0.0, ge=0, le=1, description="Uninstall probability per push.")


class Push(StrictModel):
    """Push notifications to the installs that allow them, from the launch on."""

    optin: float = Field(ge=0, le=1, description="Share of installs that allow notifications (each at install).")
    every_days: float = Field(ge=1 / 24, le=3650, description="Days between pushes (at most hourly: 1/24).")
    engagement: Engagement = Field(description="Engagement with each push.")
    disable: PushDisable = Field(default_factory=PushDisable, description="Push-disable hazard per push.")
    uninstall: PushUninstall = Field(default_factory=PushUninstall, description="Uninstall hazard per push.")
    cost_per_message: float = Field(default=0.0, ge=0, description="Cost of each push sent (ledger category push).")

    @model_validator(mode="after")
    def _hazards(self) -> Push:
        optout_needs_fatigue(self.engagement, self.disable, "disable")
        if self.disable.probability + self.uninstall.probability > 1:
            raise ValueError(
                "@uninstall.probability: a push is disabled or uninstalled at most once: disable.probability "
                "+ uninstall.probability must not exceed 1"
            )
        return self


class HomeScreen(StrictModel):
    """The brand on the home screen of every installed consumer."""

    impressions_per_day: float = Field(ge=0, le=1000, description="Brand impressions per installed consumer per day.")
    value_per_impression: float = Field(default=0.0, ge=0, description="Value of one brand impression.")


class Sessions(StrictModel):
    """In-app sessions, each an engagement: Poisson(per_day × segment multiplier × novelty) per installed
    consumer per day."""

    per_day: float = Field(ge=0, le=100, description="Sessions per installed consumer per day, on the install day.")
    novelty: Novelty | None = Field(default=None, description="Decay of sessions with days since installing.")


class AppParams(ChannelParams):
    """A mobile app: build and running costs against installs, home-screen presence and push notifications."""

    type: Literal["app"] = Field(description="Channel type.")
    build: Build = Field(description="Build cost and days to launch.")
    maintenance: Maintenance | None = Field(default=None, description="Maintenance; none when omitted.")
    os_updates: OsUpdates | None = Field(default=None, description="OS updates; none when omitted.")
    fees: Fees = Field(default_factory=Fees, description="Store and hosting fees.")
    acquisition: AppAcquisition = Field(default_factory=AppAcquisition, description="Installs from the launch.")
    retention: Retention = Field(description="Share still installed by age (each install draws its lifetime).")
    push: Push | None = Field(default=None, description="Push notifications; none when omitted.")
    home_screen: HomeScreen | None = Field(default=None, description="Home-screen brand presence; none when omitted.")
    sessions: Sessions | None = Field(default=None, description="In-app sessions; none when omitted.")


# -- the channel --------------------------------------------------------------------------------------------------


class _CostsByCategory:
    """The channel's context as the acquisition component sees it: the live context (so that, say, paid
    acquisition stops when the engine stops paid media at the horizon), except that each cost it books also counts
    in the channel's ``cost_<category>`` flow, so the split by category needs no copy of the component's pricing."""

    def __init__(self, ctx: ChannelContext) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def cost(self, category: str, amount: float) -> None:
        self._ctx.cost(category, amount)
        self._ctx.flow(f"cost_{category}", amount)


class AppChannel(Channel):
    type_name: ClassVar[str] = "app"
    Params: ClassVar[type[AppParams]] = AppParams
    publishes: ClassVar[tuple[str, ...]] = (topics.ENGAGEMENT,)
    metrics: ClassVar[tuple[Metric, ...]] = (
        *ACQUISITION_METRICS,
        stock("installed", "people", "installed base", group=BASES,
              description="consumers with the app installed at the day's end (the audience)"),
        stock("push_reachable", "people", "push-reachable base", group=BASES,
              description="installed consumers who allow notifications at the day's end"),
        *(flow(f"joined_{s}", "people", s, group=JOINED_BY_SOURCE) for s in SOURCES),
        flow("uninstalls_retention", "people", "retention", group=UNINSTALLS_BY_CAUSE,
             description="uninstalls when an install's lifetime, drawn from the retention curve, ran out"),
        flow("uninstalls_push", "people", "push fatigue", group=UNINSTALLS_BY_CAUSE,
             description="uninstalls right after a push (the uninstall hazard per push)"),
        flow("push_optins", "people", "push opt-ins", description="installs that allow notifications"),
        flow("push_disables", "people", "push disabled",
             description="push-reachable consumers who disabled notifications after a push (they keep the app)"),
        flow("push_engagements", "engagements", "push", group=ENGAGEMENTS_BY_KIND,
             description="pushes engaged with"),
        flow("sessions", "engagements", "in-app sessions", group=ENGAGEMENTS_BY_KIND,
             description="in-app sessions of installed consumers"),
        flow("brand_impressions", "impressions", "home-screen impressions",
             description="brand impressions of the app on the home screens of installed consumers"),
        *(flow(f"cost_{c}", "currency", c.replace("_", " "), group=COST_BY_CATEGORY) for c in COST_CATEGORIES),
        *(flow(f"value_{c}", "currency", c.replace("_", " "), group=VALUE_BY_CATEGORY) for c in VALUE_CATEGORIES),
    )
    fixed_parameters: ClassVar[dict[str, str]] = {
        "build.days": "the launch and everything after it are scheduled when the run starts",
        "push.engagement.novelty.half_life_days": "novelty is kept relative to the half-life between pushes",
        "relevance_uplift": "a consumer's push engagement weight is set when they allow notifications",
    }
    params: AppParams

    @classmethod
    def check_horizon(cls, params: ChannelParams, horizon_days: int) -> list[tuple[str, str]]:
        days = params.build.days  # type: ignore[attr-defined]
        if days >= horizon_days:
            return [
                (
                    "build.days",
                    f"the app launches on day {days}, not before the horizon ({horizon_days} days): it reaches "
                    "nobody in this run and books only its build cost",
                )
            ]
        return []

    # -- set-up ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        ctx, n = self.ctx, self.ctx.population.size
        self.launch = float(self.params.build.days)
        self.installed = np.zeros(n, dtype=bool)
        self.install_day = np.zeros(n, dtype=np.float32)  # whole days: exact in float32 up to 2^24
        self.push_on = np.zeros(n, dtype=bool)  # allows notifications and still installed
        self.cols = BroadcastColumns(n)
        self.installs = 0
        self.reachable = 0
        self._rows: list[np.ndarray] = []  # installed rows, appended per install batch, compacted lazily
        self._due: dict[int, list[np.ndarray]] = {}  # day → rows whose drawn lifetime ends by then
        self._fitted: tuple[Retention, tuple[float, float]] | None = None
        self._shared: tuple[AppAcquisition, Acquisition] | None = None
        self._rng_retention = ctx.rng("retention")
        self._rng_optin = ctx.rng("push/optin")
        self._rng_push = ctx.rng("push")
        self._rng_uninstall = ctx.rng("push/uninstall")
        self._rng_sessions = ctx.rng("sessions")
        self.acquisition = AudienceAcquisition(_CostsByCategory(ctx), self._acquisition, self._install)  # type: ignore[arg-type]
        ctx.recorder.stock(ctx.name, "installed", self.audience)
        ctx.recorder.stock(ctx.name, "push_reachable", self._reachable)
        ctx.every(self._daily, first=0.0, interval=lambda: 1.0, slot=0)
        if self.params.push is not None:
            ctx.every(self._push, first=self.launch, interval=self._push_period, slot=1)
        ctx.every(self._monthly, first=self.launch, interval=lambda: DAYS_PER_MONTH, slot=2)
        if self.params.os_updates is not None:
            first = self.launch + self.params.os_updates.every_days
            ctx.every(self._os_update, first=first, interval=self._os_period, slot=3)

    def _cost(self, category: str, amount: float) -> None:
        self.ctx.cost(category, amount)
        self.ctx.flow(f"cost_{category}", amount)

    def _value(self, category: str, amount: float) -> None:
        self.ctx.value(category, amount)
        self.ctx.flow(f"value_{category}", amount)

    def _reachable(self) -> float:
        return float(self.reachable)

    def _acquisition(self) -> Acquisition:
        """The current acquisition in the shared component's terms (converted once per parameter change)."""
        acq = self.params.acquisition
        if self._shared is None or self._shared[0] is not acq:
            self._shared = (acq, acq.shared())
        return self._shared[1]

    def _weibull(self) -> tuple[float, float]:
        retention = self.params.retention
        if self._fitted is None or self._fitted[0] is not retention:
            self._fitted = (retention, retention.weibull())
        return self._fitted[1]

    # -- audience -------------------------------------------------------------------------------------------
    def audience(self) -> float:
        return float(self.installs)

    def _installed_rows(self) -> np.ndarray:
        """Every installed consumer (the list is compacted here: rows uninstalled since are dropped)."""
        rows = np.concatenate(self._rows) if self._rows else np.empty(0, dtype=np.int64)
        rows = rows[self.installed[rows]]
        self._rows = [rows]
        return rows

    def _install(self, idx: np.ndarray, t: float, source: str) -> None:
        """Consumers who never installed before install now (handed over by the acquisition component)."""
        ctx = self.ctx
        self.installed[idx] = True
        self.install_day[idx] = t
        if self.params.sessions is not None:
            self._rows.append(idx)
        self.installs += idx.size
        ctx.flow("joined", idx.size)
        ctx.flow(f"joined_{source if source in SOURCES else 'other'}", idx.size)
        ctx.flow("reached", idx.size)  # an install puts the brand in front of the consumer
        ctx.reached(idx)
        self._schedule_uninstalls(idx, t)
        push = self.params.push
        if push is not None and push.optin > 0:
            allow = idx[self._rng_optin.random(idx.size) < push.optin]
            if allow.size:
                novelty = push.engagement.novelty
                self.cols.join(
                    allow,
                    t,
                    novelty_half_life=novelty.half_life_days if novelty else math.inf,
                    weight=ctx.engagement_weights(allow, self.params.relevance_uplift),
                )
                self.push_on[allow] = True
                self.reachable += allow.size
                ctx.flow("push_optins", allow.size)

    def _schedule_uninstalls(self, idx: np.ndarray, t: float) -> None:
        """Each install draws its lifetime ``T``; it is removed at the start of day ``d₀ + ⌊T⌋ + 1`` (so it is
        counted on day ``d`` while ``T ≥ d − d₀``). Days past the end of the run (the run-out included) are not
        kept."""
        scale, shape = self._weibull()
        lifetimes = weibull_lifetimes(self._rng_retention, idx.size, scale, shape)
        end = math.ceil(max(self.ctx.end_days, self.ctx.horizon_days))
        due = int(t) + 1 + np.minimum(lifetimes, end).astype(np.int64)
        keep = due < end
        due, rows = due[keep], idx[keep]
        if rows.size == 0:
            return
        order = np.argsort(due, kind="stable")
        due, rows = due[order], rows[order]
        starts = np.flatnonzero(np.diff(due)) + 1
        bounds = [0, *starts.tolist(), rows.size]
        for day, a, b in zip(due[bounds[:-1]].tolist(), bounds[:-1], bounds[1:], strict=True):
            self._due.setdefault(day, []).append(rows[a:b])  # one slice per day: a loop over days, not people

    def _uninstall(self, idx: np.ndarray, cause: str) -> None:
        """Installed consumers ``idx`` remove the app (a push-reachable one leaves the push audience too)."""
        if idx.size == 0:
            return
        self.installed[idx] = False
        self.installs -= idx.size
        self.ctx.flow("left", idx.size)
        self.ctx.flow(f"uninstalls_{cause}", idx.size)
        reachable = idx[self.push_on[idx]]
        if reachable.size:
            self.push_on[reachable] = False
            self.cols.leave(reachable)
            self.reachable -= reachable.size

    # -- daily: build, uninstalls, installs, sessions, home screen ------------------------------------------------
    def _daily(self, t: float) -> None:
        build = self.params.build
        if t < self.launch:
            if build.spread:
                self._cost("build", build.cost / build.days)
            elif t == 0:
                self._cost("build", build.cost)
            return
        if t == 0:  # launched on day 0: no build period to spread over
            self._cost("build", build.cost)
        chunks = self._due.pop(int(t), None)
        if chunks:
            rows = np.concatenate(chunks)
            self._uninstall(rows[self.installed[rows]], "retention")  # not those a push already removed
        self.acquisition.step(t)
        self._sessions(t)
        self._home_screen()

    def _sessions(self, t: float) -> None:
        sessions, ctx = self.params.sessions, self.ctx
        if sessions is None or sessions.per_day == 0 or self.installs == 0:
            return
        rows = self._installed_rows()
        segment = ctx.population.segment[rows]
        rate = sessions.per_day * ctx.segments.engagement_multiplier[segment]
        if sessions.novelty is not None:
            age = t - self.install_day[rows].astype(np.float64)
            rate = rate * novelty_factor(age, sessions.novelty.half_life_days, sessions.novelty.floor)
        count = self._rng_sessions.poisson(rate)
        total = int(count.sum())
        if total == 0:
            return
        ctx.flow("engagements", total)
        ctx.flow("sessions", total)
        self._value("engagement", float(count @ ctx.segments.value_per_engagement[segment]))
        self._publish(rows[count > 0], t)

    def _home_screen(self) -> None:
        home = self.params.home_screen
        if home is None or self.installs == 0:
            return
        impressions = self.installs * home.impressions_per_day
        self.ctx.flow("brand_impressions", impressions)
        self._value("home_screen", impressions * home.value_per_impression)

    def _publish(self, engaged: np.ndarray, t: float) -> None:
        if engaged.size and self.ctx.bus.has_subscribers(topics.ENGAGEMENT):
            self.ctx.bus.publish(topics.ENGAGEMENT, idx=engaged, t=t, channel=self.name)

    # -- costs on a schedule ----------------------------------------------------------------------------------
    def _monthly(self, t: float) -> None:
        p = self.params
        if p.maintenance is not None:
            self._cost("maintenance", p.maintenance.per_year(p.build.cost) / 12.0)
        self._cost("fees", p.fees.store_per_month + p.fees.hosting_per_month)

    def _os_period(self) -> float | None:
        return self.params.os_updates.every_days if self.params.os_updates is not None else None

    def _os_update(self, t: float) -> None:
        if self.params.os_updates is not None:
            self._cost("os_update", self.params.os_updates.cost)

    # -- pushes -----------------------------------------------------------------------------------------------
    def _push_period(self) -> float | None:
        return self.params.push.every_days if self.params.push is not None else None

    def _push(self, t: float) -> None:
        push, ctx = self.params.push, self.ctx
        if push is None or self.reachable == 0:
            return
        eng = push.engagement
        disable, uninstall = push.disable.probability, push.uninstall.probability
        outcome = broadcast(
            self.cols,
            t,
            base=eng.probability,
            floor=eng.novelty.floor if eng.novelty else 1.0,
            novelty_half_life=eng.novelty.half_life_days if eng.novelty else math.inf,
            fatigue_half_life=eng.fatigue.half_life_days if eng.fatigue else math.inf,
            strength=eng.fatigue.strength if eng.fatigue else 0.0,
            optout=disable + uninstall,  # one opt-out hazard, split below: both grow with fatigue alike
            optout_fatigue_strength=push.disable.fatigue_strength,
            rng=self._rng_push,
        )
        ctx.flow("deliveries", outcome.deliveries)
        self._cost("push", outcome.deliveries * push.cost_per_message)
        engaged = outcome.engaged
        if engaged.size:
            ctx.flow("engagements", engaged.size)
            ctx.flow("push_engagements", engaged.size)
            values = ctx.segments.value_per_engagement[ctx.population.segment[engaged]]
            self._value("engagement", float(values.sum()))
            self._publish(engaged, t)
        out = outcome.opted_out
        if out.size:
            # The kernel has set them inactive. Of the opt-outs, a share uninstall/(disable + uninstall) is an
            # uninstall, decided by an independent uniform: each hazard keeps its own probability.
            self.push_on[out] = False
            self.reachable -= out.size
            gone = out[self._rng_uninstall.random(out.size) * (disable + uninstall) < uninstall]
            ctx.flow("push_disables", out.size - gone.size)
            self._uninstall(gone, "push")

