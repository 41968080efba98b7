"""`reachsim run`, `reachsim schema` and `reachsim --version`: exit codes, outputs and where files go."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reachsim import __version__
from reachsim.cli import main
from reachsim.experiments.executors import WORKER_MODULES, default_start_method
from tests.cli.conftest import tree
from tests.test_executors import FORK_SERVERS

#: What a run of a YAML scenario file writes (sources.json: the source notes of its inputs).
RUN_FILES = {"summary.json", "timeseries.csv", "scenario.yaml", "sources.json", "replications"}
#: What the report adds to a run directory (tests/report covers its contents); most tests here pass --no-report.
REPORT_FILES = {"report.html", "charts"}


def invoke(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# ---------------------------------------------------------------------------------------------------------
# In a subprocess
# ---------------------------------------------------------------------------------------------------------


def test_subprocess_run_default_out_and_version(tmp_path: Path, cli, small_text: str) -> None:
    """The default run directory is reports/<file stem> under the working directory; started together with
    `--version` since each subprocess takes a second to start."""
    (tmp_path / "my_small.yaml").write_text(small_text, encoding="utf-8")
    run = cli.start("run", "my_small.yaml", "--replications", "2", cwd=tmp_path)
    version = cli.start("--version", cwd=tmp_path)
    run, version = cli.finish(run), cli.finish(version)

    assert version.returncode == 0
    assert version.stdout == f"reachsim {__version__}\n"
    assert version.stderr == ""

    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no warnings, log lines or leftovers of a progress bar
    folder = tmp_path / "reports" / "my_small"
    assert files_in(folder) == RUN_FILES | REPORT_FILES  # the report is written by default
    assert files_in(tmp_path) == {"my_small.yaml", "reports"}
    assert "Small messenger push" in run.stdout
    assert "mean [p05, p95]" in run.stdout
    assert "wrote reports/my_small/" in run.stdout
    assert json.loads((folder / "summary.json").read_text())["replications"] == 2


#: In a fresh interpreter: the command line of ``sys.argv[1:]``, and the fork servers it had each time it began to
#: read a scenario.
SERVERS_WHEN_READING = FORK_SERVERS + """
import json, sys
import reachsim.scenario.load as load
from reachsim.cli import main

seen = []
read = load.load_scenario


def load_scenario(path):
    seen.append(list(fork_servers().values()))
    return read(path)


load.load_scenario = load_scenario
code = main(sys.argv[1:])
print(json.dumps({"code": code, "servers": seen}))
"""


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_workers_fork_server_starts_before_the_scenario_is_read(small_scenario: Path, tmp_path: Path,
                                                                     command: str, workers: str) -> None:
    """With more than one worker, the command line starts the pool's fork server first: it imports what a worker
    needs on the other core while this process reads the scenario (one run alone starts nothing)."""
    if default_start_method() != "forkserver":
        pytest.skip("no fork server on this platform")
    sweep = ["--param", "market.size", "--values", "2000,3000"] if command == "sweep" else []
    done = subprocess.run([sys.executable, "-c", SERVERS_WHEN_READING, command, str(small_scenario), *sweep,
                           "--workers", workers, "--replications", "1", "--quiet", "--no-report",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["code"] == 0
    (servers,) = found["servers"]
    if workers == "1":
        assert servers == []
    else:
        (server,) = servers
        assert all(repr(module) in server for module in WORKER_MODULES)


# ---------------------------------------------------------------------------------------------------------
# In-process
# ---------------------------------------------------------------------------------------------------------


def test_messenger_push_two_replications(messenger_run: Path) -> None:
    assert files_in(messenger_run) == RUN_FILES
    summary = json.loads((messenger_run / "summary.json").read_text())
    assert summary["replications"] == 2
    assert summary["seed"] == 7
    assert summary["horizon_days"] == 730
    assert summary["interrupted"] is False
    assert set(summary["strategies"]) == {"push_free", "push_charged", "push_twice_weekly"}
    assert set(summary["comparisons"]) == {"push_charged", "push_twice_weekly"}
    resolved = yaml.safe_load((messenger_run / "scenario.yaml").read_text())
    assert resolved["replications"] == 2
    assert "extends" not in resolved["strategies"]["push_charged"]


def test_run_prints_a_summary_table(small_scenario: Path, tmp_path: Path, capsys) -> None:
    code, out, err = invoke(capsys, "run", small_scenario, "--out", tmp_path / "out", "--no-report")
    assert code == 0, err
    assert files_in(tmp_path / "out") == RUN_FILES
    assert "Small messenger push" in out
    assert "3 replications: mean [p05, p95]" in out
    for metric in ("total_cost", "npv", "unique_reach", "breakeven_day"):
        assert metric in out
    assert "NPV push_charged − push_free:" in out
    assert f"wrote {tmp_path / 'out'}/" in out
    assert "Traceback" not in err


def test_quiet_prints_nothing(small_scenario: Path, tmp_path: Path, capsys) -> None:
    code, out, err = invoke(capsys, "run", small_scenario, "--out", tmp_path / "out", "--quiet")
    assert code == 0
    assert out == ""
    assert err == ""  # nothing from the report either
    assert files_in(tmp_path / "out") == RUN_FILES | REPORT_FILES


def test_default_out_is_relative_to_the_working_directory(
    small_scenario: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = invoke(capsys, "run", small_scenario, "--quiet", "--replications", "1", "--no-report")
    assert code == 0, err
    assert files_in(work / "reports" / "small") == RUN_FILES
    assert not (small_scenario.parent / "reports").exists()


def test_an_existing_run_directory_is_replaced(small_scenario: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert invoke(capsys, "run", small_scenario, "--out", out, "--quiet", "--seed", "1", "--no-report")[0] == 0
    assert invoke(capsys, "run", small_scenario, "--out", out, "--quiet", "--seed", "2", "--no-report")[0] == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert yaml.safe_load((out / "scenario.yaml").read_text())["seed"] == 2
    assert files_in(out) == RUN_FILES  # no temporary files left behind


def test_seed_and_replications_overrides(small_scenario: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, _, err = invoke(
        capsys, "run", small_scenario, "--out", out, "--seed", "123", "--replications", "2", "--quiet", "--no-report"
    )
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 123
    assert summary["replications"] == 2
    assert summary["replications_requested"] == 2
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["seed"] == 123
    assert resolved["replications"] == 2
    # the file itself is unchanged
    assert yaml.safe_load(small_scenario.read_text())["seed"] == 11


def test_other_seed_other_results_same_seed_same_results(small_scenario: Path, tmp_path: Path, capsys) -> None:
    def npv(out: Path) -> float:
        return json.loads((out / "summary.json").read_text())["strategies"]["push_free"]["metrics"]["npv"]["mean"]

    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        args = ("run", small_scenario, "--out", tmp_path / name, "--seed", seed, "--quiet", "--no-report")
        assert invoke(capsys, *args)[0] == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()
    assert (tmp_path / "a" / "timeseries.csv").read_bytes() == (tmp_path / "b" / "timeseries.csv").read_bytes()
    assert npv(tmp_path / "a") != npv(tmp_path / "c")


def test_two_workers_give_the_same_files(small_scenario: Path, tmp_path: Path, capsys) -> None:
    args = ("run", small_scenario, "--replications", "2", "--quiet", "--no-report")
    assert invoke(capsys, *args, "--out", tmp_path / "one")[0] == 0
    assert invoke(capsys, *args, "--out", tmp_path / "two", "--workers", "2")[0] == 0
    one, two = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert "replications/000001.json" in one
    assert one == two  # the per-replication store included


def test_schema_prints_json_schema(capsys) -> None:
    code, out, err = invoke(capsys, "schema")
    assert code == 0 and err == ""
    schema = json.loads(out)
    assert "strategies" in schema["properties"]
    assert {"name", "horizon_days", "market"} <= set(schema["properties"])
    assert set(schema.get("required", [])) >= {"name", "horizon_days", "market", "strategies"}


def test_schema_out_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "sub" / "schema.json"
    code, out, err = invoke(capsys, "schema", "--out", target)
    assert code == 0 and out == "" and err == ""
    written = json.loads(target.read_text())
    assert "strategies" in written["properties"]
    code, printed, _ = invoke(capsys, "schema")
    assert json.loads(printed) == written
    assert files_in(target.parent) == {"schema.json"}


def test_version(capsys) -> None:
    code, out, err = invoke(capsys, "--version")
    assert (code, out, err) == (0, f"reachsim {__version__}\n", "")


@pytest.mark.parametrize("debug_first", [True, False])
def test_unexpected_errors_exit_1_with_a_traceback_only_under_debug(
    small_scenario: Path, tmp_path: Path, monkeypatch, capsys, debug_first: bool
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something unexpected")

    monkeypatch.setattr("reachsim.experiments.runner.run_once", broken)
    args = ["run", small_scenario, "--out", tmp_path / "out", "--quiet"]
    code, _, err = invoke(capsys, *args)
    assert code == 1
    # which run failed, so that it can be found again; nothing finished, so nothing is kept
    assert err.splitlines()[0] == (
        "error: strategy 'push_free', replication 0 (seed 11) failed: RuntimeError: something unexpected"
    )
    assert "Traceback" not in err
    code, _, err = invoke(capsys, *(["--debug", *args] if debug_first else [*args, "--debug"]))
    assert code == 1
    assert "Traceback" in err and "something unexpected" in err
    assert not (tmp_path / "out").exists()


def test_help_exits_0(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    assert "--replications" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# Text that looks like rich markup is printed as it is
# ---------------------------------------------------------------------------------------------------------


def test_markup_in_names_and_paths_is_printed_literally(small_text: str, tmp_path: Path, capsys) -> None:
    name = "[bold]x[/bold] [red]:fire: [link=http://example.com]y[/link]"
    scenario = tmp_path / "markup.yaml"
    scenario.write_text(small_text.replace("name: Small messenger push", f"name: {json.dumps(name)}"))
    out_dir = tmp_path / "[red]out"
    code, out, err = invoke(capsys, "run", scenario, "--out", out_dir, "--replications", "2", "--no-report")
    assert code == 0, err
    assert name in out
    assert "2 replications: mean [p05, p95]" in out
    assert f"wrote {out_dir}/" in out
    assert "\N{FIRE}" not in out
    assert json.loads((out_dir / "summary.json").read_text())["scenario"] == name
    code, out, _ = invoke(capsys, "validate", scenario)
    assert code == 0 and name in out
