"""The distributions a scenario may write in place of a number (uniform, triangular, normal, lognormal, beta).

Models only (the schema's ``uncertainty`` list holds them); sampling them per replication is
:mod:`reachsim.scenario.uncertainty`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from reachsim.core.strict import StrictModel
from reachsim.model import distributions as d

PATH_DESCRIPTION = (
    "The parameter this distribution replaces: an absolute path (market.segments[0].share, "
    "strategies.NAME.channels[0].engagement.probability) or channels.CHANNEL_NAME.parameter for that channel in "
    "every strategy. Omitted when the distribution is written in place of the number."
)


class _Distribution(StrictModel):
    path: str | None = Field(default=None, description=PATH_DESCRIPTION)

    def ppf(self, u: float) -> float:
        raise NotImplementedError

    def center(self) -> float:
        """The value written in place of the distribution in the resolved scenario."""
        return self.ppf(0.5)

    def support(self) -> tuple[float, float]:
        return self.ppf(0.0), self.ppf(1.0)


class Uniform(_Distribution):
    """Every value in [low, high] equally likely."""

    dist: Literal["uniform"] = Field(description="Distribution name.")
    low: float = Field(description="Smallest value.")
    high: float = Field(description="Largest value.")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError("@high: must be greater than low")
        return self

    def ppf(self, u: float) -> float:
        return d.uniform_ppf(u, self.low, self.high)


class Triangular(_Distribution):
    """A range with a most likely value: the usual expert estimate (low, most likely, high)."""

    dist: Literal["triangular"] = Field(description="Distribution name.")
    low: float = Field(description="Smallest value.")
    mode: float = Field(description="Most likely value.")
    high: float = Field(description="Largest value.")

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("@mode: needs low ≤ mode ≤ high and low < high")
        return self

    def ppf(self, u: float) -> float:
        return d.triangular_ppf(u, self.low, self.mode, self.high)


class Normal(_Distribution):
    """Normal, optionally truncated to [low, high] (needed where the parameter is bounded)."""

    dist: Literal["normal"] = Field(description="Distribution name.")
    mean: float = Field(description="Mean before truncation.")
    sd: float = Field(gt=0, description="Standard deviation before truncation.")
    low: float | None = Field(default=None, description="Truncate below this value.")
    high: float | None = Field(default=None, description="Truncate above this value.")

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError("@high: must be greater than low")
        return self

    def ppf(self, u: float) -> float:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        return d.normal_ppf(u, self.mean, self.sd, low, high)


class LogNormal(_Distribution):
    """Positive and right-skewed: costs, prices, rates known up to a factor."""

    dist: Literal["lognormal"] = Field(description="Distribution name.")
    median: float = Field(gt=0, description="Median value.")
    sigma: float = Field(gt=0, le=5, description="Standard deviation of the logarithm.")

    def ppf(self, u: float) -> float:
        return d.lognormal_ppf(u, self.median, self.sigma)


class Beta(_Distribution):
    """A probability or share known by its mean and standard deviation."""

    dist: Literal["beta"] = Field(description="Distribution name.")
    mean: float = Field(gt=0, lt=1, description="Mean.")
    sd: float = Field(gt=0, description="Standard deviation; sd² < mean·(1 − mean).")

    @model_validator(mode="after")
    def _feasible(self) -> Beta:
        if not self.sd**2 < self.mean * (1 - self.mean):
            raise ValueError("@sd: too large for a beta distribution with this mean (needs sd² < mean·(1 − mean))")
        return self

    def ppf(self, u: float) -> float:
        return d.beta_ppf(u, self.mean, self.sd)


Distribution = Annotated[
    Union[Uniform, Triangular, Normal, LogNormal, Beta],  # noqa: UP007 - a discriminated union
    Field(discriminator="dist"),
]
