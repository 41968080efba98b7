"""A small scenario for the sweep tests: Messenger with and without paid acquisition, on a small market and a
one-month horizon, so that a sweep of a few values and replications takes a fraction of a second."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from reachsim.scenario.load import load_scenario

#: Paid sign-ups are deterministic: budget / cost_per_subscriber a day (whole numbers here), so joined_paid is
#: budget × days and the only cost, acquisition, is budget × days exactly (messages are free, no fixed fee).
#: Engagement is random and its probability uncertain (sampled per replication): replications differ a lot.
SWEEP_SCENARIO = textwrap.dedent(
    """\
    name: Small paid Messenger sweep
    horizon_days: 30
    seed: 5
    replications: 6
    discount_rate: 0.08
    market:
      size: 4000
      segments:
        - {name: loyal,  share: 0.2, engagement_multiplier: 1.5, value_per_engagement: 0.50}
        - {name: casual, share: 0.8, engagement_multiplier: 1.0, value_per_engagement: 0.10}
    baseline: organic_only
    strategies:
      organic_only:
        channels:
          - type: messenger
            initial_subscribers: 100
            acquisition: {organic_per_day: 5}
            broadcasts: {every_days: 3}
            engagement:
              probability: {dist: uniform, low: 0.1, high: 0.4}
              fatigue: {half_life_days: 4, strength: 0.3}
            unsubscribe: {probability: 0.005, fatigue_strength: 1.0}
      paid:
        extends: organic_only
        channels:
          - type: messenger
            acquisition: {paid: {budget_per_day: 10, cost_per_subscriber: 1.0}}
    """
)
BUDGET = "channels.messenger.acquisition.paid.budget_per_day"
HORIZON = 30


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "small_sweep.yaml"
    path.write_text(SWEEP_SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sweep_scenario(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("sweep_scenario") / "small_sweep.yaml"
    path.write_text(SWEEP_SCENARIO, encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="session")
def budget_sweep(sweep_scenario: Any) -> Any:
    """The paid budget at 5, 10, 20 and 30 a day (shared by the read-only tests)."""
    from reachsim.experiments.sweep import run_sweep

    return run_sweep(sweep_scenario, BUDGET, [5, 10, 20, 30])
