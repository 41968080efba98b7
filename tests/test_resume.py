"""Runs that lose nothing: the per-replication store, `reachsim run --resume`, whole run folders, one run at a
time per folder, a failing replication named and kept, workers that end with their main process.

The central check: a run stopped anywhere (Ctrl-C after some replications, ``kill -9`` while a replication is
stored or while the final files are written, a replication that raises) and then resumed writes exactly the
files, byte for byte, of a run that was never stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import reachsim.experiments.runner as runner
from reachsim.cli import main
from reachsim.results.folder import FolderError, OutputFolder
from reachsim.results.rundata import read_run_dir
from tests.cli.conftest import SMALL_SCENARIO, tree
from tests.cli.test_rundir_contract import check_contract

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every file of an uninterrupted run of the small scenario (3 replications, no report)."""
    folder = tmp_path_factory.mktemp("whole")
    (folder / "small.yaml").write_text(SMALL_SCENARIO, encoding="utf-8")
    assert main(["run", str(folder / "small.yaml"), "--out", str(folder / "out"), "--quiet", "--no-report"]) == 0
    return tree(folder / "out")


def run(*args: Any) -> int:
    return main([str(a) for a in args])


def leftovers(folder: Path) -> list[str]:
    """What a finished run must not leave beside or in its folder: staging copies, locks, temporary files."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith("."))


def interrupt_after(monkeypatch: pytest.MonkeyPatch, runs: int) -> None:
    """Ctrl-C when run number ``runs`` + 1 starts (the runs are replication-major: 3 strategies a replication)."""
    real, done = runner.run_once, []

    def run_once(*args: Any) -> Any:
        if len(done) >= runs:
            raise KeyboardInterrupt
        done.append(args)
        return real(*args)

    monkeypatch.setattr(runner, "run_once", run_once)


# ---------------------------------------------------------------------------------------------------------
# Resume after Ctrl-C, a failure, kill -9
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runs", [4, 6], ids=["mid-replication", "between-replications"])
def test_resume_after_ctrl_c_gives_the_files_of_an_uninterrupted_run(
    small: Path, tmp_path: Path, monkeypatch, capsys, whole: dict[str, bytes], runs: int
) -> None:
    out = tmp_path / "out"
    interrupt_after(monkeypatch, runs)
    assert run("run", small, "--out", out, "--quiet", "--no-report") == 130
    kept = runs // 3
    assert sorted(p.name for p in (out / "replications").iterdir()) == [f"{r:06d}.json" for r in range(kept)] + [
        "metrics.csv"
    ]
    assert json.loads((out / "summary.json").read_text())["replications"] == kept
    monkeypatch.undo()
    assert run("run", small, "--out", out, "--no-report", "--resume") == 0
    assert f"resuming from {kept} finished replication" in capsys.readouterr().err
    assert tree(out) == whole
    assert leftovers(tmp_path) == []


def test_a_failing_replication_is_named_kept_and_resumed(
    small: Path, tmp_path: Path, monkeypatch, capsys, whole: dict[str, bytes]
) -> None:
    real = runner.run_once

    def run_once(scenario: Any, strategy: str, replication: int) -> Any:
        if (strategy, replication) == ("push_charged", 1):
            raise ValueError("a bug")
        return real(scenario, strategy, replication)

    monkeypatch.setattr(runner, "run_once", run_once)
    out = tmp_path / "out"
    assert run("run", small, "--out", out, "--quiet", "--no-report") == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: strategy 'push_charged', replication 1 (seed 11) failed: ValueError: a bug; 1 finished replication "
        f"kept: once the cause is fixed, `reachsim run {small} --out {out} --resume` continues from it"
    )
    assert "Traceback" not in err
    assert not out.exists()  # the run is not written as if it were complete
    monkeypatch.undo()
    assert run("run", small, "--out", out, "--no-report", "--resume") == 0
    assert "resuming from 1 finished replication" in capsys.readouterr().err
    assert tree(out) == whole
    assert leftovers(tmp_path) == []


def forked(folder: Path, args: list[Any], *, kill_at: int | None = None) -> int:
    """``reachsim ARGS`` in a child process forked from this one (no second start-up of Python and its
    libraries), its output in ``folder/<pid>.out`` and ``.err``. With ``kill_at``, the child kills itself with
    SIGKILL when the ``kill_at``-th file is on disk under its temporary name, before its rename."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into the test
        sys.stdout = open(folder / f"{os.getpid()}.out", "w", encoding="utf-8")  # noqa: SIM115
        sys.stderr = open(folder / f"{os.getpid()}.err", "w", encoding="utf-8")  # noqa: SIM115
        if kill_at is not None:
            real, calls = os.replace, []

            def replace(src: Any, dst: Any) -> None:
                calls.append(dst)
                if len(calls) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                real(src, dst)

            os.replace = replace
        code = main([str(a) for a in args])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    except BaseException:
        os._exit(99)


def waited(folder: Path, pid: int) -> tuple[int, str]:
    """(exit code, or minus the signal that ended it; standard error) of a forked child."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    err = folder / f"{pid}.err"
    text = err.read_text(encoding="utf-8") if err.exists() else ""
    for suffix in (".out", ".err"):
        (folder / f"{pid}{suffix}").unlink(missing_ok=True)
    return code, text


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="forks the test process")


@needs_fork
def test_kill_9_while_storing_or_writing_then_resume(small: Path, tmp_path: Path, capsys,
                                                    whole: dict[str, bytes]) -> None:
    """``kill -9`` while the second replication is stored (file 2), and while the final files are written (3
    replications stored, scenario.yaml, then timeseries.csv: file 5). Nothing half-written is ever read, the
    output folder does not exist yet, and --resume writes the files of an uninterrupted run."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for n in (2, 5):
        out = tmp_path / f"out{n}"
        pid = forked(logs, ["run", small, "--out", out, "--quiet", "--no-report"], kill_at=n)
        code, err = waited(logs, pid)
        assert code == -signal.SIGKILL, err
        assert not out.exists()
        staging = tmp_path / f".out{n}.partial"
        assert sorted(p.name for p in (staging / "replications").glob("*.json")) == [
            f"{r:06d}.json" for r in range(min(n - 1, 3))
        ]
        assert list(staging.rglob("*.tmp")), "the file being written when killed is left under a temporary name"
        assert run("run", small, "--out", out, "--no-report", "--resume") == 0
        assert f"resuming from {min(n - 1, 3)} finished replication" in capsys.readouterr().err
        assert tree(out) == whole
    assert leftovers(tmp_path) == []


def test_resume_never_mixes_in_a_leftover_of_another_run(
    small: Path, tmp_path: Path, monkeypatch, whole: dict[str, bytes]
) -> None:
    """A killed run of another seed left its replication 0 beside the folder; the folder itself holds an
    interrupted run of this one: --resume uses this run's replication and writes the uninterrupted files."""
    assert run("run", small, "--out", tmp_path / "other", "--quiet", "--no-report", "--seed", "5") == 0
    out = tmp_path / "out"
    interrupt_after(monkeypatch, 3)
    assert run("run", small, "--out", out, "--quiet", "--no-report") == 130
    monkeypatch.undo()
    leftover = tmp_path / ".out.partial" / "replications"
    leftover.mkdir(parents=True)
    (leftover / "000000.json").write_bytes((tmp_path / "other" / "replications" / "000000.json").read_bytes())
    assert run("run", small, "--out", out, "--quiet", "--no-report", "--resume") == 0
    assert tree(out) == whole


def test_a_run_without_resume_clears_a_killed_runs_leftovers(small: Path, tmp_path: Path) -> None:
    staging, lock = tmp_path / ".out.partial", tmp_path / ".out.lock"
    (staging / "replications").mkdir(parents=True)
    (staging / "replications" / "000000.json").write_text("{}")
    (staging / "replications" / ".000001.json.x.tmp").write_text("half")
    (tmp_path / ".out.old").mkdir()
    lock.write_text("12345\n")  # its process is gone: the lock it held went with it
    assert run("run", small, "--out", tmp_path / "out", "--quiet", "--no-report", "--replications", "1") == 0
    assert leftovers(tmp_path) == []
    check_contract(tmp_path / "out")


# ---------------------------------------------------------------------------------------------------------
# What --resume refuses, and resuming to more replications
# ---------------------------------------------------------------------------------------------------------


def test_resume_refuses_a_folder_of_another_run(small: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert run("run", small, "--out", out, "--quiet", "--no-report", "--replications", "1") == 0
    before = tree(out)

    def refused(*args: Any) -> str:
        assert run("run", *args, "--out", out, "--quiet", "--no-report", "--resume") == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        return err

    assert f"{out} was made with seed 11, not 12" in refused(small, "--seed", "12")
    other = tmp_path / "other.yaml"
    other.write_text(SMALL_SCENARIO.replace("name: Small messenger push", "name: Another"), encoding="utf-8")
    assert "was made by another scenario ('Small messenger push')" in refused(other)
    other.write_text(SMALL_SCENARIO.replace("organic_per_day: 5", "organic_per_day: 6"), encoding="utf-8")
    assert "by another version of this scenario" in refused(other)
    assert tree(out) == before  # a refusal changes nothing
    for path in (out / "replications").iterdir():
        path.unlink()
    (out / "replications").rmdir()
    assert "without a per-replication store" in refused(small)


def test_resume_to_more_replications_equals_a_fresh_run(
    small: Path, tmp_path: Path, capsys, whole: dict[str, bytes]
) -> None:
    assert run("run", small, "--out", tmp_path / "out", "--quiet", "--no-report", "--replications", "2") == 0
    assert run("run", small, "--out", tmp_path / "out", "--no-report", "--resume") == 0
    assert "resuming from 2 finished replications" in capsys.readouterr().err
    assert tree(tmp_path / "out") == whole


def test_resume_of_nothing_is_a_fresh_run(small: Path, tmp_path: Path, capsys, whole: dict[str, bytes]) -> None:
    assert run("run", small, "--out", tmp_path / "out", "--no-report", "--resume") == 0
    assert "resuming from 0 finished replications" in capsys.readouterr().err
    assert tree(tmp_path / "out") == whole


def test_the_store_is_what_the_summary_is_made_from(small: Path, tmp_path: Path) -> None:
    """replications/metrics.csv holds each replication's strategy metrics; their means are summary.json's."""
    import csv

    out = tmp_path / "out"
    assert run("run", small, "--out", out, "--quiet", "--no-report") == 0
    summary = json.loads((out / "summary.json").read_text())
    with (out / "replications" / "metrics.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["strategy"], r["replication"]) for r in rows} == {
        (s, str(i)) for s in summary["strategies"] for i in range(3)
    }
    for strategy, body in summary["strategies"].items():
        npv = [float(r["value"]) for r in rows if r["strategy"] == strategy and r["metric"] == "npv"]
        assert sum(npv) / len(npv) == pytest.approx(body["metrics"]["npv"]["mean"], rel=1e-12)
    stored = json.loads((out / "replications" / "000002.json").read_text())
    assert stored["format"] == "reachsim.replication/1" and stored["replication"] == 2 and stored["seed"] == 11
    assert list(stored["strategies"]) == list(summary["strategies"])
    from reachsim.results.store import read_replication, store_identity
    from reachsim.scenario.load import load_scenario

    runs = read_replication(out / "replications" / "000002.json", load_scenario(out / "scenario.yaml"),
                            store_identity(out)[0])
    for strategy, body in stored["strategies"].items():  # run-out totals come back as they were stored
        assert {(c, m): v for c, m, v in body["run_out_totals"]} == runs[strategy].run_out_totals


# ---------------------------------------------------------------------------------------------------------
# One run at a time per folder; a reader never sees a mix
# ---------------------------------------------------------------------------------------------------------


@needs_fork
def test_two_concurrent_runs_into_one_folder_give_one_whole_run(small: Path, tmp_path: Path) -> None:
    """Two runs with different seeds started together into one folder: one writes it, the other is refused at
    once (or, had they not overlapped, runs after it); the folder is one whole run either way."""
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "out"
    args = ["run", small, "--out", out, "--quiet", "--no-report", "--replications", "8"]
    started = [forked(logs, [*args, "--seed", seed]) for seed in ("1", "2")]
    results = [waited(logs, pid) for pid in started]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 2], [0, 0]), results
    for code, err in results:
        assert code == 2 or err == ""  # a run that writes prints no warnings or log lines either
        if code == 2:
            assert err.startswith(f"reachsim run: argument --out {out}: another reachsim run is writing to it"), err
    summary = check_contract(out)
    seeds = {json.loads(p.read_text())["seed"] for p in (out / "replications").glob("*.json")}
    assert seeds == {summary["seed"]}
    read_run_dir(out)  # the files belong together (scenario.yaml's hash)
    shutil.rmtree(logs)
    assert leftovers(tmp_path) == []


def test_the_lock_refuses_a_second_writer_until_the_first_is_done(tmp_path: Path) -> None:
    out = tmp_path / "out"
    busy = r"another reachsim run is writing to it \(process \d+\)"
    with OutputFolder(out), pytest.raises(FolderError, match=busy):
        OutputFolder(out).__enter__()
    with OutputFolder(out) as folder:
        folder.fresh()
        (folder.staging / "summary.json").write_text("{}")
        folder.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_reader_never_sees_two_runs_side_by_side(small: Path, tmp_path: Path, monkeypatch) -> None:
    """While a second run replaces the folder, at every rename the output folder is the first run, nothing, or
    the second run, and each time a run directory whose files belong together."""
    out = tmp_path / "out"
    assert run("run", small, "--out", out, "--quiet", "--no-report", "--replications", "1", "--seed", "1") == 0
    seen: list[int | None] = []
    real = os.rename

    def rename(src: Any, dst: Any) -> None:
        real(src, dst)
        if not out.exists():
            seen.append(None)
            return
        data = read_run_dir(out)  # RunDirError if the files were of two runs
        seen.append(data.summary["seed"])

    monkeypatch.setattr(os, "rename", rename)
    assert run("run", small, "--out", out, "--quiet", "--no-report", "--replications", "1", "--seed", "2") == 0
    assert seen == [None, 2]


# ---------------------------------------------------------------------------------------------------------
# Workers end with their main process
# ---------------------------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (a fork server's workers are its children, not the main process's)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, below = [], [pid]
    while below:
        parent = below.pop()
        children = [child for child, of in parents.items() if of == parent]
        found += children
        below += children
    return found


def _pool_process(pid: int) -> bool:
    """A worker of the pool, or the fork server its workers come from (not multiprocessing's resource tracker)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in cmdline or b"forkserver" in cmdline


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_killing_the_main_process_ends_its_workers(tmp_path: Path) -> None:
    (tmp_path / "small.yaml").write_text(SMALL_SCENARIO.replace("horizon_days: 40", "horizon_days: 3000"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    main_process = subprocess.Popen(
        [sys.executable, "-m", "reachsim", "run", "small.yaml", "--out", "out", "--quiet", "--no-report",
         "--workers", "2", "--replications", "50"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:  # the pool's two workers (and any fork server)
            time.sleep(0.2)
            workers = [p for p in _descendants(main_process.pid) if _pool_process(p)]
        assert len(workers) >= 2, "the workers did not start"
        while not list((tmp_path / ".out.partial" / "replications").glob("*.json")):  # they are working
            assert time.monotonic() < deadline and main_process.poll() is None
            time.sleep(0.2)
        workers = [p for p in _descendants(main_process.pid) if _pool_process(p)]  # the server and every worker
        main_process.kill()  # and left unreaped (a zombie) until the workers are checked, as a slow supervisor would
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)], "workers outlived their main process"
        main_process.wait(timeout=10)
    finally:
        if main_process.poll() is None:
            main_process.kill()
