"""A test plugin that declares a daily mean and a ratio, as a support queue does (mean wait, service level).

Each day ``served`` contacts (Poisson), arriving uniformly over the day, wait an exponential time each; ``wait_s``
is their mean wait weighted by ``served`` and ``on_time_share`` the share served within ``target_s`` (a ratio of two
flows). All four are declared by hour of the day too, each contact counted at its arrival time.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from reachsim.channels.base import Channel, ChannelParams
from reachsim.core.metrics import Metric, flow, mean, ratio


class QueueProbeParams(ChannelParams):
    """A queue whose waits are exponential."""

    type: Literal["queue_probe"] = Field(description="Channel type.")
    contacts_per_day: float = Field(gt=0, le=10_000, description="Mean contacts served per day (Poisson).")
    mean_wait_s: float = Field(gt=0, description="Mean wait in seconds (exponential).")
    target_s: float = Field(gt=0, description="Service-level target in seconds.")


class QueueProbe(Channel):
    type_name: ClassVar[str] = "queue_probe"
    Params: ClassVar[type[QueueProbeParams]] = QueueProbeParams
    metrics: ClassVar[tuple[Metric, ...]] = (
        flow("served", "contacts", "served", by_hour=True),
        flow("on_time", "contacts", "served on time", by_hour=True),
        mean("wait_s", "seconds", "mean wait", weight="served", description="mean wait of the contacts served",
             by_hour=True),
        ratio("on_time_share", "share", "service level", numerator="on_time", denominator="served", by_hour=True),
    )
    params: QueueProbeParams

    def start(self) -> None:
        self._rng = self.ctx.rng("contacts")
        self._arrivals = self.ctx.rng("arrivals")
        self.ctx.every(self._day, first=0.0, interval=lambda: 1.0, slot=0)

    def _day(self, t: float) -> None:
        p = self.params
        served = int(self._rng.poisson(p.contacts_per_day))
        waits = self._rng.exponential(p.mean_wait_s, size=served)
        times = t + self._arrivals.random(served)
        self.ctx.flow_at("served", times)
        self.ctx.flow_at("on_time", times[waits <= p.target_s])
        self.ctx.flow_at("wait_s", times, waits)
        self.ctx.cost("agents", 0.5 * served)


PROBE = {"type": "queue_probe", "contacts_per_day": 40, "mean_wait_s": 30.0, "target_s": 20.0}
