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
from reachsim.engine.population import sample_rows
from reachsim.model.bass import bass_daily_adoption_probability

__all__ = ["SOURCES", "Acquisition", "AudienceAcquisition", "BassAcquisition", "JoinCallback", "PaidAcquisition"]

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


class AudienceAcquisition:
    """The acquisition of one channel's owned audience, built in the channel's ``start()``.

    ``params()`` returns the current :class:`Acquisition` (read at every step, so timeline entries apply);
    ``join`` is the channel's callback. Random streams are ``"<channel>/<prefix>/<source>"`` for how many join
    and ``"<channel>/<prefix>/<source>/who"`` for who: each source has its own, so a change to one source leaves
    the other sources' draws paired across strategies (common random numbers).
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
        self.never = np.ones(ctx.population.size, dtype=bool)  # who never joined (the acquirable)
        self.ever_joined = 0
        self._paid_credit = 0.0  # members paid for but not yet whole (fractional budget carried to the next day)
        self._rng: dict[str, np.random.Generator] = {}
        self._rng_who: dict[str, np.random.Generator] = {}

    def _streams(self, source: str) -> tuple[np.random.Generator, np.random.Generator]:
        if source not in self._rng:
            self._rng[source] = self.ctx.rng(f"{self._prefix}/{source}")
            self._rng_who[source] = self.ctx.rng(f"{self._prefix}/{source}/who")
        return self._rng[source], self._rng_who[source]

    def join(self, idx: np.ndarray, t: float, source: str) -> None:
        """Consumers ``idx`` join from ``source`` (an initial base, a bus opt-in): those who joined before are
        dropped, the rest recorded as joined and handed to the channel."""
        idx = idx[self.never[idx]]
        if idx.size:
            self._admit(idx, t, source)

    def initial(self, k: int, t: float = 0.0) -> None:
        """``k`` consumers drawn uniformly from the market join at ``t`` as the ``initial`` base."""
        if k:
            _, who = self._streams("initial")
            self.join(np.sort(who.choice(self.ctx.population.size, size=k, replace=False)), t, "initial")

    def _admit(self, idx: np.ndarray, t: float, source: str) -> None:
        self.never[idx] = False
        self.ever_joined += idx.size
        self._join(idx, t, source)

    def step(self, t: float) -> None:
        """One day of acquisition: how many join from each source, then who, among those who never joined."""
        acq, size = self.params(), self.ctx.population.size
        counts: dict[str, int] = {}
        if acq.organic_per_day:
            counts["organic"] = int(self._streams("organic")[0].poisson(acq.organic_per_day))
        if acq.bass is not None:
            potential = math.floor(acq.bass.potential * size)
            remaining = potential - self.ever_joined
            prob = bass_daily_adoption_probability(acq.bass.p, acq.bass.q, self.ever_joined, potential)
            rng = self._streams("bass")[0]
            counts["bass"] = int(rng.binomial(remaining, prob)) if remaining > 0 and prob > 0 else 0
        if acq.paid is not None and not self.ctx.paid_stopped:  # stopped for the run-out after the horizon
            self._paid_credit += acq.paid.budget_per_day / acq.paid.cost_per_subscriber
            counts["paid"] = math.floor(self._paid_credit)
        for source, k in counts.items():
            got = sample_rows(self.never, size - self.ever_joined, k, self._streams(source)[1]) if k else None
            acquired = 0 if got is None else got.size
            if source == "paid":
                # what the market could not supply is not bought: the budget is not spent, no credit kept
                self._paid_credit = min(self._paid_credit - acquired, self._paid_credit % 1.0)
                self.ctx.cost("acquisition", acquired * acq.paid.cost_per_subscriber)  # type: ignore[union-attr]
            if got is not None and got.size:
                self._admit(got, t, source)
