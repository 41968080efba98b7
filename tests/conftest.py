"""Shared test helpers: small scenarios built in code."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import settings

from reachsim.scenario.load import scenario_from_dict

# Property tests draw the same examples on every run, here and in CI (a failure reproduces; CI does not pass or fail
# by luck). HYPOTHESIS_PROFILE=explore draws fresh examples each run, to look for new failures.
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


def build_scenario(
    channels: list[dict[str, Any]] | dict[str, list[dict[str, Any]]],
    *,
    size: int = 10_000,
    horizon: int = 30,
    seed: int = 1,
    replications: int = 1,
    segments: list[dict[str, Any]] | None = None,
    timeline: list[dict[str, Any]] | None = None,
    run_out_days: int = 0,
) -> Any:
    """A validated scenario; ``channels`` is one strategy's channel list or {strategy: channels}. No run-out after
    the horizon unless asked (``run_out_days``): most tests look at the horizon, and it keeps them quick."""
    strategies = channels if isinstance(channels, dict) else {"s": channels}
    data: dict[str, Any] = {
        "name": "test",
        "horizon_days": horizon,
        "seed": seed,
        "replications": replications,
        "market": {"size": size},
        "audience_value": {"run_out_days": run_out_days},
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


@pytest.fixture
def interrupt_on_file_sync(monkeypatch):
    """``interrupt_on_file_sync(n)``: Ctrl-C while the n-th regular file is being written — after its data is on
    disk, before its atomic rename."""
    import os
    import stat

    def arm(n: int) -> None:
        real_fsync = os.fsync
        synced: list[int] = []

        def fsync(fd: int) -> None:
            real_fsync(fd)
            if stat.S_ISREG(os.fstat(fd).st_mode):
                synced.append(fd)
                if len(synced) == n:
                    raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", fsync)

    return arm
