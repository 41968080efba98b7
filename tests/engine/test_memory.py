"""Bounded memory: a finished run holds nothing population-sized once its last reference goes."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from reachsim.engine.simulation import Simulation
from reachsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]


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
        sim = Simulation(scenario, list(scenario.strategies)[-1], 0)
        sim.run()
        arrays = [sim.population.first_reached, sim.population.segment]
        for ch in sim.channels:
            state = [*vars(ch).values(), *(vars(ch)["cols"].column(c) for c in ("row", "weight"))] if hasattr(
                ch, "cols") else list(vars(ch).values())
            arrays += [value for value in state if hasattr(value, "nbytes")]
        assert len(arrays) >= 5
        refs = [weakref.ref(a) for a in arrays] + [weakref.ref(ch) for ch in sim.channels]
        del sim, arrays
        assert all(ref() is None for ref in refs)  # freed by reference counting alone
    finally:
        if enabled:
            gc.enable()
