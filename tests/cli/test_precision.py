"""`reachsim run --precision P [--max-replications N]`: replications until every NPV and every paired NPV
difference against the baseline has a 95% CI half-width within P of its mean, or the cap.

The half-widths are checked against Student's t interval computed here from the per-replication table
(scipy's ``t.interval``, not the code under test), the stop against the rule (the first count at which every
quantity is within the target), and the files against a fixed run of the same length.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import reachsim.experiments.runner as runner
from reachsim.cli import main
from tests.cli.conftest import tree

TARGET = 0.05
CAP = 60


def run(*args: Any) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def precise(tmp_path_factory: pytest.TempPathFactory, small_text: str) -> Path:
    folder = tmp_path_factory.mktemp("precise")
    (folder / "small.yaml").write_text(small_text, encoding="utf-8")
    args = ("run", folder / "small.yaml", "--out", folder / "out", "--quiet", "--no-report")
    assert run(*args, "--precision", TARGET, "--max-replications", CAP) == 0
    return folder / "out"


def npv_by_replication(folder: Path) -> dict[str, np.ndarray]:
    """Each strategy's NPV per replication, from replications/metrics.csv."""
    values: dict[str, list[tuple[int, float]]] = defaultdict(list)
    with (folder / "replications" / "metrics.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["metric"] == "npv":
                values[row["strategy"]].append((int(row["replication"]), float(row["value"])))
    return {s: np.array([v for _, v in sorted(rows)]) for s, rows in values.items()}


def relative_half_widths(npv: dict[str, np.ndarray], baseline: str, n: int) -> dict[str, float]:
    """Half-width of the 95% t interval over the first ``n`` replications, relative to the mean's magnitude."""

    def relative(x: np.ndarray) -> float:
        low, high = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
        return (high - low) / 2 / abs(x.mean())

    out = {f"strategies.{s}.npv": relative(v[:n]) for s, v in npv.items()}
    out.update({f"comparisons.{s}.npv": relative(v[:n] - npv[baseline][:n]) for s, v in npv.items() if s != baseline})
    return out


def test_precision_stops_within_the_cap_with_every_half_width_within_the_target(precise: Path) -> None:
    summary = json.loads((precise / "summary.json").read_text())
    block = summary["precision"]
    n = summary["replications"]
    assert block["stopped_by"] == "precision"
    assert (block["target"], block["max_replications"], block["replications"]) == (TARGET, CAP, n)
    assert block["minimum"] <= n <= CAP
    assert set(block["checks"]) == {
        "strategies.push_free.npv", "strategies.push_charged.npv", "strategies.push_twice_weekly.npv",
        "comparisons.push_charged.npv", "comparisons.push_twice_weekly.npv",
    }
    expected = relative_half_widths(npv_by_replication(precise), summary["baseline"], n)
    for quantity, check in block["checks"].items():
        assert check["relative"] <= TARGET
        assert check["relative"] == pytest.approx(expected[quantity], rel=1e-9)
        assert check["half_width"] == pytest.approx(check["relative"] * abs(check["mean"]), rel=1e-9)
    # the summary's own paired interval is the same t interval
    diff = summary["comparisons"]["push_twice_weekly"]["npv"]
    lo, hi = diff["ci95"]
    assert (hi - lo) / 2 == pytest.approx(block["checks"]["comparisons.push_twice_weekly.npv"]["half_width"])


def test_precision_stops_at_the_first_count_that_is_precise_enough(precise: Path) -> None:
    summary = json.loads((precise / "summary.json").read_text())
    n, minimum = summary["replications"], summary["precision"]["minimum"]
    if n == minimum:
        pytest.skip("precise enough at the minimum already")
    before = relative_half_widths(npv_by_replication(precise), summary["baseline"], n - 1)
    assert max(before.values()) > TARGET


def test_a_precision_run_gives_the_files_of_a_fixed_run_of_its_length(
    precise: Path, tmp_path: Path, small_scenario: Path
) -> None:
    summary = json.loads((precise / "summary.json").read_text())
    fixed = tmp_path / "fixed"
    assert run("run", small_scenario, "--out", fixed, "--quiet", "--no-report", "--replications",
               summary["replications"]) == 0
    precise_files, fixed_files = tree(precise), tree(fixed)
    assert precise_files.pop("summary.json") != fixed_files.pop("summary.json")
    assert precise_files == fixed_files  # scenario.yaml, timeseries.csv and the whole store, byte for byte
    fixed_summary = json.loads((fixed / "summary.json").read_text())
    assert {k: v for k, v in summary.items() if k != "precision"} == fixed_summary


def test_the_cap_stops_a_run_that_is_not_precise_enough(small_scenario: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out, "--no-report", "--precision", "0.0001",
               "--max-replications", "12") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 12 and summary["precision"]["stopped_by"] == "max_replications"
    assert any(c["relative"] > 0.0001 for c in summary["precision"]["checks"].values())
    printed = capsys.readouterr().out
    assert "precision: stopped at the cap of 12 replications, " in printed and "not yet within ±0.01%" in printed


def test_an_interrupted_precision_run_resumes_to_the_same_files(
    precise: Path, small_scenario: Path, tmp_path: Path, monkeypatch
) -> None:
    real, done = runner.run_once, []

    def run_once(*args: Any) -> Any:
        if len(done) >= 15:  # 5 replications of 3 strategies
            raise KeyboardInterrupt
        done.append(args)
        return real(*args)

    monkeypatch.setattr(runner, "run_once", run_once)
    out = tmp_path / "out"
    options = ("--quiet", "--no-report", "--precision", TARGET, "--max-replications", CAP)
    assert run("run", small_scenario, "--out", out, *options) == 130
    interrupted = json.loads((out / "summary.json").read_text())
    assert interrupted["precision"]["stopped_by"] == "interrupted" and interrupted["replications"] == 5
    monkeypatch.undo()
    assert run("run", small_scenario, "--out", out, *options, "--resume") == 0
    assert tree(out) == tree(precise)


@pytest.mark.slow
def test_precision_runs_stop_at_the_same_count_whatever_the_workers(
    precise: Path, small_scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out, "--quiet", "--no-report", "--workers", "2", "--precision",
               TARGET, "--max-replications", CAP) == 0
    assert tree(out) == tree(precise)
