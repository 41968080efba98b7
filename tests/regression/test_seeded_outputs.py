"""Seeded regression outputs — NOT theory checks.

These pin the exact summary of a small seeded run of every shipped scenario, so that a refactoring that changes
results by accident is noticed. When a change of results is intended (a model fix, a new random stream), review
the differences and regenerate with::

    REACHSIM_REGENERATE=1 python -m pytest tests/regression

The figures depend on NumPy's random algorithms: a NumPy release that changes them also requires regenerating.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from reachsim.experiments.runner import run_experiment
from reachsim.scenario.load import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).with_name("expected")
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
METRICS = ("total_cost", "total_value", "npv", "unique_reach", "engagements")


def _small(path: Path):
    scenario = load_scenario(path)
    data = scenario.model_dump(mode="python", round_trip=True)
    data["market"]["size"] = min(data["market"]["size"], 20_000)
    data["horizon_days"] = min(data["horizon_days"], 120)
    # The pinned figures are the horizon's, which the run-out after it never changes (docs/model/audience-value.md):
    # a short run-out keeps the test quick.
    data["audience_value"]["run_out_days"] = min(data["audience_value"]["run_out_days"], 30)
    data["strategies"] = {
        name: {**body, "timeline": [e for e in body["timeline"] if e["day"] < data["horizon_days"]]}
        for name, body in data["strategies"].items()
    }
    for strategy in data["strategies"].values():
        for channel in strategy["channels"]:
            for key in ("initial_subscribers", "initial_fans"):
                if key in channel:
                    channel[key] = min(channel[key], data["market"]["size"] // 4)
    return with_overrides(type(scenario).model_validate(data), replications=2, seed=2026)


def _figures(path: Path) -> dict[str, dict[str, float | None]]:
    summary = run_experiment(_small(path)).summary()
    return {
        name: {m: body["metrics"][m]["mean"] for m in METRICS} for name, body in summary["strategies"].items()
    }


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_seeded_summary_is_unchanged(path: Path):
    got = _figures(path)
    expected_file = EXPECTED / f"{path.stem}.json"
    if os.environ.get("REACHSIM_REGENERATE"):
        EXPECTED.mkdir(exist_ok=True)
        expected_file.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    if not expected_file.exists():
        pytest.fail(f"no seeded figures for {path.name}; run REACHSIM_REGENERATE=1 python -m pytest tests/regression")
    expected = json.loads(expected_file.read_text())
    assert got.keys() == expected.keys()
    for strategy, metrics in expected.items():
        for metric, value in metrics.items():
            now = got[strategy][metric]
            same = now == value or (
                now is not None and value is not None and math.isclose(now, value, rel_tol=1e-9, abs_tol=1e-9)
            )
            assert same, f"{path.stem}: {strategy}.{metric} was {value}, now {now} (seeded regression, see docstring)"
