"""Bounded memory: a finished run holds nothing population-sized once its last reference goes."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from reachsim.engine.simulation import Simulation
from reachsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _run_and_watch(scenario) -> list[weakref.ref]:
    """Run the last strategy; weak references to the run's arrays and channels (no strong one survives)."""
    sim = Simulation(scenario, list(scenario.strategies)[-1], 0)
    sim.run()
    arrays = [sim.population.reached, sim.population.segment, sim.population.has_data]
    for channel in sim.channels:
        state = list(vars(channel).values())
        if hasattr(channel, "cols"):
            state += [channel.cols.column(c) for c in ("row", "weight")]
        arrays += [value for value in state if hasattr(value, "nbytes")]
    assert len(arrays) >= 5
    return [weakref.ref(a) for a in arrays] + [weakref.ref(ch) for ch in sim.channels]


@pytest.mark.parametrize("name", ["messenger_push", "paid_to_owned"])
def test_a_finished_run_is_freed_without_the_cyclic_collector(name: str) -> None:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    data = scenario.model_dump(mode="python", round_trip=True)
    data["horizon_days"], data["market"]["size"] = 20, 20_000
    scenario = type(scenario).model_validate(data)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        refs = _run_and_watch(scenario)
        assert all(ref() is None for ref in refs)  # freed by reference counting alone
    finally:
        if enabled:
            gc.enable()
