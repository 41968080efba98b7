"""The scenario schema: the strategist's language, and the single source of truth for validation and docs.

The top level (market, strategies, timeline) is defined here; each channel's parameters are defined by its
plugin and joined into a union discriminated on ``type`` when the schema is built from the registry.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Union

from pydantic import Field, create_model, field_validator, model_validator

from reachsim.channels import registry
from reachsim.channels.base import Channel, ChannelParams
from reachsim.core.paths import with_path
from reachsim.scenario.base import StrictModel
from reachsim.scenario.distributions import Distribution
from reachsim.scenario.errors import suggest

Loc = tuple[str | int, ...]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]*$"


class Segment(StrictModel):
    """A group of consumers with its own responsiveness and value."""

    name: str = Field(pattern=NAME_PATTERN, description="Segment name (letters, digits, '_' and '-').")
    share: float = Field(gt=0, le=1, description="Share of the market in this segment; shares sum to 1.")
    engagement_multiplier: float = Field(
        default=1.0, ge=0, le=100, description="Multiplies every channel's engagement probability."
    )
    value_per_engagement: float = Field(
        default=0.0, ge=0, description="Money value of one engagement by a member of this segment."
    )
    data_available: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the segment whose data the brand may use for targeting (consented, matched). "
        "Channels' relevance_uplift applies to these consumers only.",
    )


class Market(StrictModel):
    """The consumers the strategies compete for."""

    size: int = Field(ge=1, le=50_000_000, description="Number of consumers in the market.")
    segments: list[Segment] = Field(
        default_factory=lambda: [Segment(name="everyone", share=1.0)],
        min_length=1,
        description="Consumer segments; one segment 'everyone' when omitted.",
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Market:
        total = math.fsum(s.share for s in self.segments)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"@segments: segment shares must sum to 1 (they sum to {total:g})")
        seen: set[str] = set()
        for i, s in enumerate(self.segments):
            if s.name in seen:
                raise ValueError(f"@segments[{i}].name: duplicate segment name '{s.name}'")
            seen.add(s.name)
        return self


class TimelineEntry(StrictModel):
    """A dated change of channel parameters (a platform rule, a price, a budget)."""

    day: int = Field(ge=0, description="Day (from 0) from which the new values apply.")
    channel: str = Field(description="Name of the channel to change (its `name`, or its type by default).")
    set: dict[str, float] = Field(
        min_length=1,
        description="Dotted parameter paths and their new numeric values, e.g. {pricing.outside_window: 0.01}.",
    )


def strategy_problems(channels: list[ChannelParams], timeline: list[TimelineEntry]) -> list[tuple[Loc, str]]:
    """Cross-references within one strategy, all of them: channel names unique, each channel's own
    cross-channel checks, timeline entries naming a channel and a numeric parameter with a valid value.
    Locations are relative to the strategy."""
    problems: list[tuple[Loc, str]] = []
    by_name: dict[str, ChannelParams] = {}
    for i, ch in enumerate(channels):
        if ch.channel_name in by_name:
            problems.append(
                (("channels", i, "name"), f"two channels are named '{ch.channel_name}'; give one a distinct `name`")
            )
        by_name.setdefault(ch.channel_name, ch)
    for i, ch in enumerate(channels):
        others = [c for c in channels if c is not ch]
        for field_path, message in registry.get(ch.type).check_strategy(ch, others):
            problems.append((("channels", i, *field_path.split(".")), message))
    for i, entry in sorted(enumerate(timeline), key=lambda item: item[1].day):  # in the order they apply
        target = by_name.get(entry.channel)
        if target is None:
            hint = suggest(entry.channel, by_name)
            problems.append(
                (
                    ("timeline", i, "channel"),
                    f"no channel named '{entry.channel}' in this strategy"
                    + (f" (did you mean '{hint}'?)" if hint else f" (channels: {', '.join(by_name) or 'none'})"),
                )
            )
            continue
        cls = registry.get(target.type)
        for path, value in entry.set.items():
            here = ("timeline", i, "set", path)
            if path in cls.fixed_parameters:
                problems.append((here, f"'{path}' cannot change during a run ({cls.fixed_parameters[path]})"))
                continue
            try:
                target = with_path(target, path, value)
            except ValueError as exc:
                problems.append((here, _short(exc, value)))
                continue
            others = [c for name, c in by_name.items() if name != target.channel_name]
            for field_path, message in cls.check_strategy(target, others):
                problems.append((here, f"from day {entry.day}, {field_path}: {message}"))
        by_name[target.channel_name] = target  # later entries build on earlier ones
    return problems


def scenario_problems(scenario: Any) -> list[tuple[Loc, str]]:
    """Every cross-reference problem of a schema-valid scenario, with absolute locations (the uncertainty list
    has its own checks: reachsim.scenario.uncertainty.problems)."""
    problems: list[tuple[Loc, str]] = []
    for name, strategy in scenario.strategies.items():
        for loc, message in strategy_problems(strategy.channels, strategy.timeline):
            problems.append((("strategies", name, *loc), message))
        for i, ch in enumerate(strategy.channels):
            for field_path, message in registry.get(ch.type).check_market(ch, scenario.market):
                problems.append((("strategies", name, "channels", i, *field_path.split(".")), message))
        for i, entry in enumerate(strategy.timeline):
            if entry.day >= scenario.horizon_days:
                problems.append(
                    (("strategies", name, "timeline", i, "day"),
                     f"day {entry.day} is past the horizon ({scenario.horizon_days} days): it would never apply")
                )
    return problems


def scenario_warnings(scenario: Any) -> list[tuple[Loc, str]]:
    """What a schema-valid, consistent scenario probably did not mean (each channel's ``check_horizon``), with
    absolute locations: reported, never refused."""
    found: list[tuple[Loc, str]] = []
    for name, strategy in scenario.strategies.items():
        for i, ch in enumerate(strategy.channels):
            for field_path, message in registry.get(ch.type).check_horizon(ch, scenario.horizon_days):
                found.append((("strategies", name, "channels", i, *field_path.split(".")), message))
    return found


def _short(exc: ValueError, value: float) -> str:
    """The first error of a re-validated channel, for a timeline value (its path is already in the report)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return f"{errors()[0]['msg']} (got {value:g})"
    return str(exc)


class AudienceValue(StrictModel):
    """What an owned audience built by the horizon is worth: each strategy runs on after the horizon with paid
    acquisition and paid delivery stopped, and the discounted net value of that run-out is its value."""

    run_out_days: int = Field(
        default=365,
        ge=0,
        le=3650,
        description="Days simulated after the horizon with paid acquisition and paid delivery stopped (0 turns the "
        "audience value off). Their discounted net value is audience_value_at_horizon.",
    )


class ScenarioBase(StrictModel):
    """Fields of a scenario other than the strategies."""

    name: str = Field(min_length=1, description="Title of the scenario, shown in reports.")
    description: str = Field(default="", description="What question the scenario answers; shown in reports.")
    horizon_days: int = Field(ge=1, le=36_500, description="Simulated days (day 0 to horizon_days − 1).")
    seed: int = Field(default=0, ge=0, description="Root seed of every random stream.")
    replications: int = Field(default=10, ge=1, le=100_000, description="Replications per strategy.")
    discount_rate: float = Field(default=0.0, ge=0, le=1, description="Annual discount rate for NPV.")
    market: Market = Field(description="The consumer market.")
    audience_value: AudienceValue = Field(
        default_factory=AudienceValue,
        description="The value at the horizon of the owned audiences each strategy built (a run-out after it).",
    )
    baseline: str | None = Field(
        default=None, description="Strategy the others are compared with; the first strategy when omitted."
    )
    uncertainty: list[Distribution] = Field(
        default_factory=list,
        description="Uncertain parameters, each sampled once per replication (the same quantile in every "
        "strategy). A distribution may also be written in place of any number: {dist: uniform, low: 1, high: 2}.",
    )

    @field_validator("description")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @staticmethod
    def channel_class(type_name: str) -> type[Channel]:
        """The channel class registered for ``type_name``: how the engine is handed channels without
        importing any."""
        return registry.get(type_name)


def scenario_model() -> type[ScenarioBase]:
    """The scenario model for the channels registered now (rebuilt when the registry changes)."""
    return _scenario_model(registry.generation())


@functools.lru_cache(maxsize=4)
def _scenario_model(generation: int) -> type[ScenarioBase]:
    params = tuple(cls.Params for cls in registry.available().values())
    union: Any = Union[params] if len(params) > 1 else params[0]  # noqa: UP007 - built at run time
    channel_spec = Annotated[union, Field(discriminator="type")]

    strategy = create_model(
        "Strategy",
        __base__=StrictModel,
        __doc__="A named way of reaching the market: a set of channels and dated changes.",
        extends=(
            str | None,
            Field(default=None, description="Name of a strategy this one starts from (channels merged by name, "
                  "timeline entries appended)."),
        ),
        channels=(list[channel_spec], Field(min_length=1, description="The channels this strategy uses.")),
        timeline=(list[TimelineEntry], Field(default_factory=list, description="Dated parameter changes.")),
    )

    def check_scenario(self: Any) -> Any:
        names = list(self.strategies)
        if self.baseline is None:
            self.baseline = names[0]
        elif self.baseline not in self.strategies:
            raise ValueError(f"@baseline: no strategy named '{self.baseline}' (strategies: {', '.join(names)})")
        for name in names:
            if not _valid_name(name):
                raise ValueError(f"@strategies.{name}: strategy names use letters, digits, '_' and '-'")
        return self

    return create_model(
        "Scenario",
        __base__=ScenarioBase,
        __doc__="A market, a horizon and the strategies to compare on the same random numbers.",
        __validators__={"_checks": model_validator(mode="after")(check_scenario)},
        strategies=(
            dict[str, strategy],
            Field(min_length=1, description="Named strategies, each a set of channels and a timeline."),
        ),
    )


def _valid_name(name: str) -> bool:
    import re

    return re.fullmatch(NAME_PATTERN, name) is not None


def strategy_channels(scenario: Any, strategy: str) -> list[ChannelParams]:
    return list(scenario.strategies[strategy].channels)
