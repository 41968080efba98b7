"""Same scenario and seed ⇒ identical outputs, whatever the executor; strategies share random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from reachsim.engine.simulation import Simulation
from reachsim.experiments.executors import ProcessExecutor
from reachsim.experiments.runner import run_experiment
from reachsim.results.rundir import write_run_dir

MESSENGER = {
    "type": "messenger",
    "initial_subscribers": 500,
    "acquisition": {"organic_per_day": 20, "bass": {"p": 0.05, "q": 0.5, "potential": 0.5}},
    "broadcasts": {"every_days": 3},
    "engagement": {
        "probability": 0.2,
        "novelty": {"half_life_days": 20, "floor": 0.3},
        "fatigue": {"half_life_days": 4, "strength": 0.4},
    },
    "unsubscribe": {"probability": 0.01, "fatigue_strength": 1.0},
    "inbound_conversations_per_year": 4,
    "pricing": {"outside_window": 0.01},
}


def _files(folder):
    return {name: (folder / name).read_bytes() for name in ("summary.json", "timeseries.csv", "scenario.yaml")}


def test_same_seed_same_files_on_every_executor(scenario_factory, tmp_path):
    other = {**MESSENGER, "broadcasts": {"every_days": 1}}
    sc = scenario_factory({"a": [MESSENGER], "b": [other]}, size=5_000, horizon=40, replications=3, seed=11)
    first = _files(write_run_dir(run_experiment(sc), tmp_path / "one"))
    again = _files(write_run_dir(run_experiment(sc), tmp_path / "two"))
    with ProcessExecutor(2) as pool:
        parallel = _files(write_run_dir(run_experiment(sc, executor=pool), tmp_path / "three"))
    assert first == again
    assert first == parallel


def test_a_different_seed_gives_different_draws(scenario_factory):
    a = scenario_factory([MESSENGER], size=5_000, horizon=30, seed=1)
    b = scenario_factory([MESSENGER], size=5_000, horizon=30, seed=2)
    ea = Simulation(a, "s", 0).run().series["messenger", "engagements"]
    eb = Simulation(b, "s", 0).run().series["messenger", "engagements"]
    assert not np.array_equal(ea, eb)


def test_replications_differ_but_each_is_reproducible(scenario_factory):
    sc = scenario_factory([MESSENGER], size=5_000, horizon=30)
    r0 = Simulation(sc, "s", 0).run().series["messenger", "engagements"]
    r1 = Simulation(sc, "s", 1).run().series["messenger", "engagements"]
    assert not np.array_equal(r0, r1)
    assert np.array_equal(r0, Simulation(sc, "s", 0).run().series["messenger", "engagements"])


def test_an_unrelated_channel_leaves_the_messenger_draws_unchanged(scenario_factory):
    unrelated = {**MESSENGER, "name": "second_bot", "initial_subscribers": 300, "broadcasts": {"every_days": 2}}
    sc = scenario_factory({"alone": [MESSENGER], "with_other": [unrelated, MESSENGER]}, size=5_000, horizon=60)
    alone = Simulation(sc, "alone", 0).run().series
    both = Simulation(sc, "with_other", 0).run().series
    for metric in ("joined", "engagements", "left", "audience", "deliveries", "in_window"):
        assert np.array_equal(alone["messenger", metric], both["messenger", metric]), metric
    assert both["second_bot", "engagements"].sum() > 0


def test_dask_gives_the_same_files(scenario_factory, tmp_path):
    pytest.importorskip("distributed")
    from reachsim.experiments.executors import DaskExecutor

    sc = scenario_factory([MESSENGER], size=3_000, horizon=30, replications=3, seed=5)
    expected = _files(write_run_dir(run_experiment(sc), tmp_path / "seq"))
    with DaskExecutor(workers=2) as dask:
        got = _files(write_run_dir(run_experiment(sc, executor=dask), tmp_path / "dask"))
    assert got == expected
