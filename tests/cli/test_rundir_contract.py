"""The run directory contract (DESIGN.md, "Run directory contract"), atomic writes, and Ctrl-C."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

import reachsim.experiments.runner as runner
from reachsim import __version__
from reachsim.cli import main
from reachsim.results import atomic
from reachsim.scenario.load import load_scenario
from tests.cli.conftest import tree

RUN_FILES = {"summary.json", "timeseries.csv", "scenario.yaml", "replications"}
STRATEGY_METRICS = (
    "total_cost",
    "total_value",
    "net_value",
    "npv",
    "roi",
    "unique_reach",
    "engagements",
    "cost_per_engagement",
    "breakeven_day",
)
CHANNEL_METRICS = ("audience", "joined", "left", "deliveries", "reached", "engagements", "cost", "value")
TIMESERIES_COLUMNS = ["strategy", "channel", "day", "metric", "mean", "p05", "p95"]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def at_most(a: float, b: float) -> bool:
    """a ≤ b, allowing for float rounding (a mean of equal values is not always exactly that value)."""
    return a <= b or close(a, b)


def read_timeseries(folder: Path) -> tuple[list[str], dict[tuple[str, str, str], list[dict[str, Any]]]]:
    with (folder / "timeseries.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in reader:
            cells = [row[k] for k in ("mean", "p05", "p95")]
            # a day without a value (a mean or ratio without weight) has all three cells empty, never some
            assert all(cells) or not any(cells), row
            groups[row["strategy"], row["channel"], row["metric"]].append(
                {"day": int(row["day"]), **{k: float(row[k] or "nan") for k in ("mean", "p05", "p95")}}
            )
        return list(reader.fieldnames or []), groups


def check_band(band: Any, where: str) -> None:
    assert isinstance(band, dict) and set(band) - {"n"} == {"mean", "p05", "p95"}, where
    if "n" in band:  # present only when some replications are undefined (e.g. never break even)
        assert isinstance(band["n"], int) and band["n"] >= 0, where
    values = [band["p05"], band["mean"], band["p95"]]
    if None in values:
        assert values == [None, None, None], where  # undefined in every replication (e.g. never breaks even)
        return
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in values), where
    assert at_most(band["p05"], band["mean"]) and at_most(band["mean"], band["p95"]), (where, band)


def check_contract(folder: Path) -> dict[str, Any]:
    """Every clause of the contract that holds for any scenario with Messenger channels; returns the summary."""
    assert {p.name for p in folder.iterdir()} >= RUN_FILES
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    scenario_bytes = (folder / "scenario.yaml").read_bytes()
    resolved = yaml.safe_load(scenario_bytes)

    # -- summary.json header
    assert summary["reachsim_version"] == __version__
    assert summary["scenario"] == resolved["name"]
    assert summary["scenario_sha256"] == hashlib.sha256(scenario_bytes).hexdigest()
    assert summary["seed"] == resolved["seed"]
    assert summary["horizon_days"] == resolved["horizon_days"]
    assert isinstance(summary["replications"], int) and 1 <= summary["replications"] <= resolved["replications"]
    horizon = summary["horizon_days"]
    strategies = list(resolved["strategies"])
    baseline = resolved.get("baseline") or strategies[0]
    assert list(summary["strategies"]) == strategies

    # -- strategies.<name>.metrics and .channels
    for name in strategies:
        body = summary["strategies"][name]
        for metric in STRATEGY_METRICS:
            check_band(body["metrics"][metric], f"{name}.metrics.{metric}")
        for metric, band in body["metrics"].items():
            check_band(band, f"{name}.metrics.{metric}")
        channel_names = [c.get("name", c["type"]) for c in resolved["strategies"][name]["channels"]]
        assert set(body["channels"]) == set(channel_names)
        for channel, metrics in body["channels"].items():
            for metric in CHANNEL_METRICS:
                assert metric in metrics, f"{name}.channels.{channel}.{metric}"
            for metric, band in metrics.items():
                check_band(band, f"{name}.channels.{channel}.{metric}")

    # -- comparisons: every strategy but the baseline, paired differences with a 95% interval
    assert set(summary["comparisons"]) == set(strategies) - {baseline}
    for name, diffs in summary["comparisons"].items():
        for metric in STRATEGY_METRICS:
            d = diffs[metric]
            assert set(d) - {"n"} == {"mean", "ci95"} and len(d["ci95"]) == 2, (name, metric)
            lo, hi = d["ci95"]
            if d["mean"] is not None and lo is not None:
                assert at_most(lo, d["mean"]) and at_most(d["mean"], hi), (name, metric, d)

    # -- timeseries.csv
    columns, groups = read_timeseries(folder)
    assert columns == TIMESERIES_COLUMNS
    assert {s for s, _, _ in groups} == set(strategies)
    for key, rows in groups.items():
        assert [r["day"] for r in rows] == list(range(horizon)), key
        for r in rows:
            if math.isnan(r["mean"]):
                continue  # no value that day
            assert at_most(r["p05"], r["mean"]) and at_most(r["mean"], r["p95"]), (key, r)
    for name in strategies:
        for metric in ("unique_reach", "cost", "value"):
            assert (name, "all", metric) in groups, (name, metric)
        reach = [r["mean"] for r in groups[name, "all", "unique_reach"]]
        assert all(b >= a for a, b in itertools.pairwise(reach)), "unique reach is cumulative"
        for r in groups[name, "all", "unique_reach"]:
            assert r["p05"] >= 0
        for channel in summary["strategies"][name]["channels"]:
            for metric in CHANNEL_METRICS:
                assert (name, channel, metric) in groups, (name, channel, metric)

        # -- the summary agrees with the series (the CSV holds means; the mean of sums is the sum of means)
        metrics = summary["strategies"][name]["metrics"]
        total = {m: sum(r["mean"] for r in groups[name, "all", m]) for m in ("cost", "value")}
        assert close(metrics["total_cost"]["mean"], total["cost"])
        assert close(metrics["total_value"]["mean"], total["value"])
        assert close(metrics["net_value"]["mean"], total["value"] - total["cost"])
        assert close(metrics["unique_reach"]["mean"], reach[-1])
        for channel, channel_metrics in summary["strategies"][name]["channels"].items():
            for metric in CHANNEL_METRICS:
                series = [r["mean"] for r in groups[name, channel, metric]]
                expected = series[-1] if metric == "audience" else sum(series)  # a stock at the end; flows summed
                assert close(channel_metrics[metric]["mean"], expected), (name, channel, metric)
        channels = summary["strategies"][name]["channels"].values()
        assert close(metrics["total_cost"]["mean"], sum(c["cost"]["mean"] for c in channels))
        assert close(metrics["engagements"]["mean"], sum(c["engagements"]["mean"] for c in channels))
    return summary


def run(*args: str | Path) -> int:
    return main([str(a) for a in args])


# ---------------------------------------------------------------------------------------------------------
# The contract
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_dir", ["small_run", "messenger_run"])
def test_run_directory_contract(request: pytest.FixtureRequest, run_dir: str) -> None:
    check_contract(request.getfixturevalue(run_dir))


def test_small_run_header(small_run: Path) -> None:
    summary = json.loads((small_run / "summary.json").read_text())
    assert (summary["seed"], summary["replications"], summary["horizon_days"]) == (11, 3, 40)
    assert summary["scenario"] == "Small messenger push"
    assert summary["interrupted"] is False
    assert summary["baseline"] == "push_free"


def test_written_scenario_loads_and_reruns_identically(small_run: Path, tmp_path: Path, capsys) -> None:
    scenario = load_scenario(small_run / "scenario.yaml")
    assert scenario.seed == 11 and scenario.replications == 3
    assert list(scenario.strategies) == ["push_free", "push_charged", "push_twice_weekly"]
    assert run("run", small_run / "scenario.yaml", "--out", tmp_path / "again", "--quiet", "--no-report") == 0
    assert tree(tmp_path / "again") == tree(small_run)


def test_resolved_scenario_has_defaults_and_no_extends(small_run: Path) -> None:
    resolved = yaml.safe_load((small_run / "scenario.yaml").read_text())
    for strategy in resolved["strategies"].values():
        assert "extends" not in strategy
        assert "timeline" in strategy  # defaults are filled in
    twice = resolved["strategies"]["push_twice_weekly"]["channels"][0]
    assert twice["broadcasts"]["every_days"] == 3.5
    assert twice["engagement"]["probability"] == 0.15  # inherited from push_free
    assert resolved["strategies"]["push_charged"]["timeline"][0]["set"] == {"pricing.outside_window": 0.008}


# ---------------------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp"))


def temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp"))


@pytest.mark.parametrize("failing", [2, 5], ids=["storing-a-replication", "writing-a-final-file"])
def test_a_failing_write_leaves_no_partial_or_temporary_file(
    small_scenario: Path, tmp_path: Path, monkeypatch, capsys, failing: int
) -> None:
    """The disk fills up while the second replication is stored, or while the final files are written (3
    replications stored, then scenario.yaml, then timeseries.csv): exit 1 with the cause, no folder at --out,
    no temporary file anywhere, and what finished kept for --resume."""
    calls = []
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        calls.append(Path(dst).name)
        if len(calls) == failing:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out, "--quiet") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert not out.exists()
    assert temporaries(tmp_path) == []
    monkeypatch.undo()
    assert run("run", small_scenario, "--out", out, "--no-report", "--resume") == 0
    assert f"resuming from {failing - 1 if failing < 4 else 3} finished replication" in capsys.readouterr().err
    check_contract(out)


def test_failing_json_leaves_an_earlier_run_directory_as_it_was(
    small_scenario: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out, "--quiet", "--seed", "1", "--no-report") == 0
    before = tree(out)

    def failing_dumps(*args: Any, **kwargs: Any) -> str:
        raise ValueError("Out of range float values are not JSON compliant")

    monkeypatch.setattr("reachsim.results.rundir.json.dumps", failing_dumps)
    assert run("run", small_scenario, "--out", out, "--quiet", "--seed", "2", "--no-report") == 1
    assert "Traceback" not in capsys.readouterr().err
    assert tree(out) == before
    assert run("run", small_scenario, "--out", tmp_path / "fresh", "--quiet", "--no-report") == 1
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("failure", [OSError("disk on fire"), KeyboardInterrupt()])
def test_write_bytes_keeps_the_old_content_on_failure(tmp_path: Path, monkeypatch, failure: BaseException) -> None:
    target = tmp_path / "file.txt"
    atomic.write_text(target, "old")
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        real_fsync(fd)
        raise failure

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(type(failure)):
        atomic.write_text(target, "new content")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_write_bytes_permissions_follow_the_umask(tmp_path: Path) -> None:
    atomic.write_text(tmp_path / "f.txt", "x")
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~mask


# ---------------------------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------------------------


def interrupt_after(monkeypatch: pytest.MonkeyPatch, runs: int) -> list[tuple[str, int]]:
    """Make the (sequential) runner raise KeyboardInterrupt when starting run number ``runs`` + 1."""
    done: list[tuple[str, int]] = []
    real = runner.run_once

    def run_once(scenario: Any, strategy: str, replication: int) -> Any:
        if len(done) >= runs:
            raise KeyboardInterrupt
        done.append((strategy, replication))
        return real(scenario, strategy, replication)

    monkeypatch.setattr(runner, "run_once", run_once)
    return done


def test_interrupt_keeps_the_complete_replications(small_scenario: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    # 3 strategies: after 7 runs, replications 0 and 1 are complete and replication 2 has one strategy
    done = interrupt_after(monkeypatch, 7)
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out) == 130
    assert len(done) == 7
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "interrupted" in captured.err and "2 complete replications" in captured.err
    summary = check_contract(out)
    assert summary["interrupted"] is True
    assert summary["replications"] == 2
    assert summary["replications_requested"] == 3
    monkeypatch.undo()

    # what was kept is exactly what an uninterrupted run of 2 replications gives
    assert run("run", small_scenario, "--out", tmp_path / "two", "--replications", "2", "--quiet", "--no-report") == 0
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert two["interrupted"] is False
    for key in ("strategies", "comparisons"):
        assert summary[key] == two[key]
    assert (out / "timeseries.csv").read_bytes() == (tmp_path / "two" / "timeseries.csv").read_bytes()


def test_interrupt_quiet(small_scenario: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    interrupt_after(monkeypatch, 3)
    assert run("run", small_scenario, "--out", tmp_path / "out", "--quiet") == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("interrupted: wrote the 1 complete replication (of 3)")
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["replications"] == 1


def test_interrupt_before_any_replication_writes_nothing(
    small_scenario: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out, "--quiet", "--replications", "1", "--no-report") == 0
    before = tree(out)
    interrupt_after(monkeypatch, 2)  # replication 0 of the third strategy never finishes
    assert run("run", small_scenario, "--out", out, "--quiet", "--seed", "99", "--no-report") == 130
    err = capsys.readouterr().err
    assert "nothing written" in err and "Traceback" not in err
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.yaml"]  # no leftovers beside it


def test_interrupt_while_writing_then_resume(
    small_scenario: Path, tmp_path: Path, interrupt_on_file_sync, capsys, monkeypatch
) -> None:
    """Ctrl-C while the final files are written (the 3 replications stored, scenario.yaml written, timeseries.csv
    on disk but not yet renamed): the output folder is left as it was (absent), with no partial or temporary
    file; --resume then writes exactly what an uninterrupted run writes."""
    interrupt_on_file_sync(5)
    out = tmp_path / "out"
    assert run("run", small_scenario, "--out", out, "--quiet") == 130
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()
    assert temporaries(tmp_path) == []
    monkeypatch.undo()
    assert run("run", small_scenario, "--out", out, "--resume") == 0
    assert "resuming from 3 finished replications" in capsys.readouterr().err
    assert run("run", small_scenario, "--out", tmp_path / "whole", "--quiet") == 0
    assert tree(out) == tree(tmp_path / "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.yaml", "whole"]
