"""`reachsim sweep`: the folder it writes, its exit codes, determinism and executors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reachsim import __version__
from reachsim.cli import main
from reachsim.experiments import runner
from tests.sweep.conftest import BUDGET, HORIZON

SWEEP_FILES = {"sweep.json", "sweep.csv", "scenario.yaml"}
CHART_FILES = {"sweep.png", "sweep.svg"}
PROVENANCE = ("reachsim_version", "scenario", "scenario_sha256", "seed", "replications", "parameter", "values")


def invoke(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def sweep(capsys: pytest.CaptureFixture[str], file: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return invoke(capsys, "sweep", file, "--param", BUDGET, "--values", "5,10,20", "--out", out,
                  "--replications", "3", *extra)


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_sweep_writes_its_folder(sweep_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, stdout, err = sweep(capsys, sweep_file, out)
    assert code == 0, err
    assert files_in(out) == SWEEP_FILES | CHART_FILES
    doc = json.loads((out / "sweep.json").read_text())
    for key in PROVENANCE:
        assert key in doc
    assert doc["reachsim_version"] == __version__
    assert doc["scenario"] == "Small paid Messenger sweep"
    assert doc["seed"] == 5 and doc["replications"] == 3 and doc["interrupted"] is False
    assert doc["parameter"] == BUDGET and doc["values"] == [5.0, 10.0, 20.0]
    assert doc["varies_in"] == ["paid"]
    assert doc["scenario_sha256"] == hashlib.sha256((out / "scenario.yaml").read_bytes()).hexdigest()
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["replications"] == 3  # the base scenario, as it ran
    assert resolved["strategies"]["paid"]["channels"][0]["acquisition"]["paid"]["budget_per_day"] == 10

    assert [p["value"] for p in doc["points"]] == [5.0, 10.0, 20.0]
    for point in doc["points"]:
        assert set(point) == {"value", "strategies"}
        assert set(point["strategies"]) == {"organic_only", "paid"}
        assert set(point["strategies"]["paid"]["npv"]) == {"mean", "p05", "p95"}
    assert [(m["from"], m["to"]) for m in doc["marginal"]] == [(5.0, 10.0), (10.0, 20.0)]
    for step in doc["marginal"]:
        assert set(step["strategies"]["paid"]["npv"]) == {"mean", "ci95"}
        assert step["strategies"]["paid"]["total_cost"] == {"mean": HORIZON, "ci95": [HORIZON, HORIZON]}
    assert set(doc["best"]) == {"organic_only", "paid"}
    assert set(doc["best"]["paid"]) == {"value", "npv_mean"}

    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert list(rows[0]) == ["value", "strategy", "metric", "mean", "p05", "p95"]
    cost = {(r["value"], r["strategy"]): float(r["mean"]) for r in rows if r["metric"] == "total_cost"}
    assert cost[("20", "paid")] == 20 * HORIZON and cost[("5", "organic_only")] == 0
    assert len(rows) == 3 * 2 * len(doc["points"][0]["strategies"]["paid"])

    assert BUDGET in stdout and "best value" in stdout and "Marginal NPV per unit" in stdout
    assert f"wrote {out}/" in stdout


def test_two_sweeps_are_identical_and_rerendering_drops_a_stale_chart(sweep_file: Path, tmp_path: Path,
                                                                      capsys) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert sweep(capsys, sweep_file, a, "--quiet")[0] == 0
    assert sweep(capsys, sweep_file, b, "--quiet")[0] == 0
    assert contents(a) == contents(b)  # sweep.json, sweep.csv, scenario.yaml and the chart, byte for byte
    code, out, err = sweep(capsys, sweep_file, a, "--quiet", "--no-report", "--seed", "6")
    assert (code, out, err) == (0, "", "")
    assert files_in(a) == SWEEP_FILES  # the chart of the sweep before is gone
    assert json.loads((a / "sweep.json").read_text())["seed"] == 6


def test_workers_give_the_same_files(sweep_file: Path, tmp_path: Path, capsys) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert sweep(capsys, sweep_file, one, "--quiet", "--no-report")[0] == 0
    code, _, err = sweep(capsys, sweep_file, two, "--quiet", "--no-report", "--workers", "2")
    assert code == 0, err
    assert contents(one) == contents(two)


def test_start_stop_n_values(sweep_file: Path, tmp_path: Path, capsys) -> None:
    code, _, err = invoke(capsys, "sweep", sweep_file, "--param", BUDGET, "--values", "0:30:4", "--out",
                          tmp_path / "out", "--replications", "1", "--quiet", "--no-report")
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["values"] == [0.0, 10.0, 20.0, 30.0]


def test_default_folder_is_named_after_the_file(sweep_file: Path, tmp_path: Path, capsys,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(capsys, "sweep", sweep_file.name, "--param", BUDGET, "--values", "5,10",
                          "--replications", "1", "--quiet", "--no-report")
    assert code == 0, err
    assert files_in(tmp_path / "reports" / "small_sweep-sweep") == SWEEP_FILES


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--param", "channels.messenger.acquisition.paid.budget", "--values", "5,10"],
         "reachsim sweep: argument --param: 'channels.messenger.acquisition.paid.budget' is not a numeric"),
        (["--param", "channels.mesenger.initial_subscribers", "--values", "5,10"],
         "reachsim sweep: argument --param: 'channels.mesenger.initial_subscribers' names no parameter"),
        (["--param", BUDGET, "--values=-5,10"],
         f"reachsim sweep: argument --values: {BUDGET} = -5 is not allowed"),
        (["--param", "channels.messenger.unsubscribe.probability", "--values", "0.5:1.5:3"],
         "reachsim sweep: argument --values: channels.messenger.unsubscribe.probability = 1.5 is not allowed"),
        (["--param", BUDGET, "--values", "10,5"], "reachsim sweep: argument --values: values must be distinct"),
        (["--param", BUDGET, "--values", "10"], "reachsim sweep: argument --values: a sweep needs at least 2"),
        (["--param", BUDGET, "--values", "1:2:x"], "reachsim sweep: argument --values: N in START:STOP:N"),
        (["--param", BUDGET, "--values", "5,10", "--replications", "0"], "argument --replications"),
        (["--values", "5,10"], "the following arguments are required: --param"),
    ],
)
def test_invalid_arguments_exit_2(sweep_file: Path, tmp_path: Path, capsys, args: list[str], expected: str) -> None:
    out = tmp_path / "out"
    code, _, err = invoke(capsys, "sweep", sweep_file, "--out", out, *args)
    assert code == 2
    assert err.startswith("reachsim sweep: ")
    assert expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()  # nothing ran, nothing was written


def test_out_must_be_a_folder(sweep_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "file"
    out.write_text("x")
    code, _, err = sweep(capsys, sweep_file, out)
    assert code == 2 and "--out" in err


# ---------------------------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------------------------


def interrupt_after(monkeypatch: pytest.MonkeyPatch, runs: int) -> list[Any]:
    done: list[Any] = []
    real = runner.run_once

    def run_once(scenario: Any, strategy: str, replication: int) -> Any:
        if len(done) >= runs:
            raise KeyboardInterrupt
        done.append((strategy, replication))
        return real(scenario, strategy, replication)

    monkeypatch.setattr(runner, "run_once", run_once)
    return done


def test_interrupt_keeps_whole_replications_of_every_value(sweep_file: Path, tmp_path: Path, capsys,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 values × 2 strategies = 6 runs a replication: after 6 + 4 runs, one whole replication
    interrupt_after(monkeypatch, 10)
    out = tmp_path / "out"
    code, _, err = sweep(capsys, sweep_file, out, "--quiet")
    assert code == 130
    assert "interrupted: wrote the 1 complete replication (of 3)" in err and "Traceback" not in err
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["interrupted"] is True and doc["replications"] == 1 and doc["replications_requested"] == 3
    monkeypatch.undo()
    code, _, _ = invoke(capsys, "sweep", sweep_file, "--param", BUDGET, "--values", "5,10,20", "--out",
                        tmp_path / "one", "--replications", "1", "--quiet", "--no-report")
    assert code == 0
    one = json.loads((tmp_path / "one" / "sweep.json").read_text())
    for key in ("points", "marginal", "best"):
        assert doc[key] == one[key]  # what was kept is exactly a sweep of 1 replication


def test_interrupt_before_a_whole_replication_writes_nothing(sweep_file: Path, tmp_path: Path, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    interrupt_after(monkeypatch, 5)
    out = tmp_path / "out"
    code, _, err = sweep(capsys, sweep_file, out, "--quiet")
    assert code == 130
    assert "nothing written" in err
    assert not out.exists()


def test_interrupt_while_writing_leaves_nothing_half_written(sweep_file: Path, tmp_path: Path, capsys,
                                                             interrupt_on_file_sync) -> None:
    """Ctrl-C while the second file is written (after its data, before its rename): no partial file, and no
    sweep.json (written last: its presence means the folder is complete)."""
    interrupt_on_file_sync(2)
    out = tmp_path / "out"
    code, _, err = sweep(capsys, sweep_file, out, "--quiet")
    assert code == 130 and "Traceback" not in err
    assert files_in(out) == {"scenario.yaml"}
