"""Parameter models shared by several channels (engagement, novelty, fatigue, opt-out hazard).

Channels never import each other, so what two of them share lives here. Names and fields are part of the scenario
contract (DESIGN.md): the semantics are those of :mod:`reachsim.model.kernels` —

* fatigue stock ``F``: before each delivery ``F ← F·2^(−Δt/half_life)``; the delivery sees ``exp(−strength·F)``;
  then ``F ← F + 1``;
* novelty factor ``floor + (1 − floor)·2^(−age/half_life)``, ``age`` = days since the consumer joined;
* opt-out probability per delivery ``probability × (1 + fatigue_strength·F)`` with the same decayed ``F``;
  engagement is drawn first, then the opt-out, independently.
"""

from __future__ import annotations

from pydantic import Field

from reachsim.core.strict import StrictModel

__all__ = ["Engagement", "Fatigue", "Novelty", "Unsubscribe", "optout_needs_fatigue", "segment_target"]


class Novelty(StrictModel):
    """Engagement is higher right after joining and decays to a floor."""

    half_life_days: float = Field(gt=0, description="Days for the novelty excess to halve.")
    floor: float = Field(default=0.0, ge=0, le=1, description="Long-run share of the initial engagement.")


class Fatigue(StrictModel):
    """Recent messages depress engagement: factor exp(−strength·F) for a decaying message stock F."""

    half_life_days: float = Field(gt=0, description="Days for the message stock F to halve.")
    strength: float = Field(ge=0, le=50, description="Engagement falls by exp(−strength·F).")


class Engagement(StrictModel):
    """Probability that a delivery is engaged with."""

    probability: float = Field(ge=0, le=1, description="Base probability per delivery (before multipliers).")
    novelty: Novelty | None = Field(default=None, description="Novelty decay; none when omitted.")
    fatigue: Fatigue | None = Field(default=None, description="Fatigue; none when omitted.")


class Unsubscribe(StrictModel):
    """Opt-out hazard per delivery: probability × (1 + fatigue_strength·F)."""

    probability: float = Field(default=0.0, ge=0, le=1, description="Opt-out probability per delivery.")
    fatigue_strength: float = Field(default=0.0, ge=0, description="How fatigue raises the opt-out hazard.")


def optout_needs_fatigue(engagement: Engagement, optout: Unsubscribe, field: str) -> None:
    """A fatigue-driven opt-out needs the stock to decay: without ``engagement.fatigue`` the stock would count
    every delivery ever and the hazard would grow without bound. Raised as a model-validator error at ``field``."""
    if optout.fatigue_strength > 0 and engagement.fatigue is None:
        raise ValueError(
            f"@{field}.fatigue_strength: needs engagement.fatigue (its half-life is how fast the message stock "
            "decays); set engagement.fatigue or make fatigue_strength 0"
        )


def segment_target(value: str | list[str], special: tuple[str, ...]) -> str | list[str]:
    """A paid target as written: one of the ``special`` targets (``market``, …) or segment names, one name
    standing for a list of one. Segment names are checked against the market at load (``check_market``)."""
    if isinstance(value, str):
        return value if value in special else [value]
    if not value:
        raise ValueError("name at least one segment, or use " + " or ".join(f"'{s}'" for s in special))
    for name in value:
        if name in special:
            raise ValueError(f"'{name}' is a target of its own, not a segment: use target: {name}")
    if len(set(value)) != len(value):
        raise ValueError("a segment is named twice")
    return value
