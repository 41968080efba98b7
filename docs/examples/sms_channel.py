"""An example channel plugin: text messages to a random share of the market every day, paid per message.

docs/extending.md walks through it; the tests import it, register it, run it and hold it to the contract.
"""

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from reachsim.channels.base import Channel, ChannelParams


class SmsParams(ChannelParams):
    """Text messages sent every day to a random share of the market, paid per message."""

    type: Literal["sms"] = Field(description="Channel type.")
    share_per_day: float = Field(gt=0, le=1, description="Share of the market sent a message each day.")
    cost_per_message: float = Field(default=0.02, ge=0, description="Price of one message.")
    engagement_probability: float = Field(
        default=0.01, ge=0, le=1, description="Probability that a message is engaged with (before multipliers)."
    )


class SmsChannel(Channel):
    type_name: ClassVar[str] = "sms"
    Params: ClassVar[type[SmsParams]] = SmsParams
    params: SmsParams

    def start(self) -> None:
        n = self.ctx.population.size
        self.sent = np.zeros(n, dtype=np.uint32)  # messages received per consumer
        self.rng = self.ctx.rng("send")  # the stream "sms/send": the same in every strategy with this channel
        self.ctx.every(self.send, first=0.0, interval=lambda: 1.0, slot=0)

    def exposures(self) -> np.ndarray:
        return self.sent

    def send(self, t: float) -> None:
        ctx, p, rng = self.ctx, self.params, self.rng
        n = ctx.population.size
        k = int(rng.binomial(n, p.share_per_day))
        idx = np.sort(rng.choice(n, size=k, replace=False))
        first_time = idx[self.sent[idx] == 0]
        self.sent[idx] += 1
        ctx.flow("deliveries", k)
        ctx.flow("reached", first_time.size)  # reached by this channel for the first time
        ctx.reached(idx)  # de-duplicated reach across channels
        ctx.cost("messages", k * p.cost_per_message)
        chance = np.minimum(1.0, p.engagement_probability * ctx.engagement_weights(idx, p.relevance_uplift))
        engaged = idx[rng.random(k) < chance]
        ctx.flow("engagements", engaged.size)
        ctx.value("engagement", float(ctx.segments.value_per_engagement[ctx.population.segment[engaged]].sum()))
