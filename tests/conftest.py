"""Shared test helpers: small scenarios built in code."""

from __future__ import annotations

from typing import Any

import pytest

from reachsim.scenario.load import scenario_from_dict


def build_scenario(
    channels: list[dict[str, Any]] | dict[str, list[dict[str, Any]]],
    *,
    size: int = 10_000,
    horizon: int = 30,
    seed: int = 1,
    replications: int = 1,
    segments: list[dict[str, Any]] | None = None,
    timeline: list[dict[str, Any]] | None = None,
) -> Any:
    """A validated scenario; ``channels`` is one strategy's channel list or {strategy: channels}."""
    strategies = channels if isinstance(channels, dict) else {"s": channels}
    data: dict[str, Any] = {
        "name": "test",
        "horizon_days": horizon,
        "seed": seed,
        "replications": replications,
        "market": {"size": size},
        "strategies": {name: {"channels": chans} for name, chans in strategies.items()},
    }
    if segments is not None:
        data["market"]["segments"] = segments
    if timeline is not None:
        for strategy in data["strategies"].values():
            strategy["timeline"] = timeline
    return scenario_from_dict(data)


@pytest.fixture
def scenario_factory():
    return build_scenario
