"""Executor choice: the defaults the CLI relies on, and what a local Dask cluster gives its workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reachsim.experiments.executors import (
    DASK_WORKER_MODULES,
    WORKER_MODULES,
    DaskExecutor,
    ProcessExecutor,
    SequentialExecutor,
    default_start_method,
    local_cores,
    make_executor,
)


def test_defaults() -> None:
    assert isinstance(make_executor(), SequentialExecutor)
    assert isinstance(make_executor(1), SequentialExecutor)
    pool = make_executor(3)
    assert isinstance(pool, ProcessExecutor) and pool.workers == 3
    assert pool._context.get_start_method() == default_start_method()  # explicit, whatever the platform's default
    assert default_start_method() in ("forkserver", "spawn")  # never a fork of this (threaded) process


def test_a_local_dask_cluster_uses_the_local_cores_unless_told() -> None:
    pytest.importorskip("distributed")
    local = make_executor(kind="dask")
    assert isinstance(local, DaskExecutor) and local.workers == local_cores() >= 1
    assert local.address is None and local.start_method == default_start_method()
    assert make_executor(2, kind="dask").workers == 2
    remote = make_executor(address="tcp://scheduler:8786")
    assert isinstance(remote, DaskExecutor) and remote.address == "tcp://scheduler:8786"


def _worker_settings() -> dict[str, object]:
    """In a worker: the settings the local cluster is meant to give it."""
    import os

    import dask

    from reachsim.experiments.executors import LOCAL_CLUSTER_CONFIG

    settings: dict[str, object] = {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG if "environ" not in key}
    settings["MALLOC_TRIM_THRESHOLD_"] = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    return settings


def test_a_local_dask_cluster_gives_its_workers_the_quiet_settings() -> None:
    """No trim threshold, no profiler, slow housekeeping: in the workers themselves, not only where the cluster
    was configured (the settings travel with the nanny's start of the worker)."""
    pytest.importorskip("distributed")
    from reachsim.experiments.executors import LOCAL_CLUSTER_CONFIG

    with DaskExecutor(workers=1) as dask:
        (settings,) = dask.client.run(_worker_settings).values()
    assert settings == {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
        "distributed.worker.memory.monitor-interval": "500ms",
        "MALLOC_TRIM_THRESHOLD_": None,
    }
    assert set(LOCAL_CLUSTER_CONFIG) == {*settings, "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"} - {
        "MALLOC_TRIM_THRESHOLD_"}


#: Code for a fresh interpreter: ``fork_servers(wait=0)``, this process's fork servers (process id → command line),
#: waiting up to ``wait`` seconds for one (where a server is started with fork, it may not have exec'd yet).
FORK_SERVERS = """
import time
import psutil


def fork_servers(wait=0.0):
    found = {}
    for process in psutil.Process().children():
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:  # a process that has ended meanwhile
            continue
        if "from multiprocessing.forkserver import main" in command:
            found[process.pid] = command
    if found or wait <= 0:
        return found
    time.sleep(0.05)
    return fork_servers(wait - 0.05)
"""


#: In a fresh interpreter: the fork servers running the moment a local cluster's ``__enter__`` returns (its start
#: held back until they are counted, so that no nanny can have started one), and the command line and environment
#: of the process its worker was forked from.
FORK_SERVER_FIRST = FORK_SERVERS + """
import json, os, threading
from reachsim.experiments.executors import DaskExecutor, nanny_environment

counted = threading.Event()
start = DaskExecutor._start_local_cluster


def start_once_counted(self):
    counted.wait()
    start(self)


DaskExecutor._start_local_cluster = start_once_counted


def worker_parent():
    parent = psutil.Process(os.getppid())
    return parent.pid, parent.cmdline(), parent.environ()


with DaskExecutor(workers=1, start_method="forkserver") as dask:
    servers = list(fork_servers())
    counted.set()
    (found,) = dask.client.run(worker_parent).values()
pid, command, environment = found
print(json.dumps({"servers": servers, "parent": pid, "command": " ".join(command), "environment": environment,
                  "nanny": nanny_environment()}))
"""


def test_a_local_dask_cluster_starts_its_fork_server_first() -> None:
    """The server imports a worker's code on another core while the scheduler and the nannies start: it already
    runs when ``__enter__`` returns; the worker is its child, so it has that code; and the server has the
    environment a nanny sets before it starts a worker (one BLAS thread, distributed's hash seed, no allocator
    trim threshold), which must be there when an interpreter starts."""
    pytest.importorskip("distributed")
    if default_start_method() != "forkserver" or not sys.platform.startswith("linux"):
        pytest.skip("a fork server, and a process's environment read through /proc, are Linux's here")
    done = subprocess.run([sys.executable, "-c", FORK_SERVER_FIRST], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["servers"] == [found["parent"]]
    assert "'distributed'" in found["command"] and "'reachsim.experiments.preload'" in found["command"]
    assert found["nanny"]["OPENBLAS_NUM_THREADS"] == "1" and found["nanny"]["PYTHONHASHSEED"] == "6640"
    assert {k: found["environment"].get(k) for k in found["nanny"]} == found["nanny"]
    assert "MALLOC_TRIM_THRESHOLD_" not in found["environment"]


#: In a fresh interpreter: the fork servers started by ``start_early(*arguments)``, the arguments given as JSON.
STARTED_EARLY = FORK_SERVERS + """
import json, sys
from reachsim.experiments.executors import start_early

start_early(*json.loads(sys.argv[1]))
print(json.dumps(list(fork_servers(wait=float(sys.argv[2])).values())))
"""


@pytest.mark.parametrize(("arguments", "preloads"), [
    ((2, None, None), WORKER_MODULES),
    ((1, "processes", None), WORKER_MODULES),
    ((2, "dask", None), DASK_WORKER_MODULES),
    ((1, None, None), None),
    ((2, "sequential", None), None),
    ((None, None, "tcp://127.0.0.1:8786"), None),
])
def test_starting_early_starts_the_fork_server_of_local_workers_only(arguments, preloads) -> None:
    """What a command line starts before it reads its scenario: the fork server its pool or local Dask cluster will
    fork workers from (with what they need), and nothing for a sequential run or a cluster elsewhere."""
    if default_start_method() != "forkserver":
        pytest.skip("no fork server on this platform")
    if arguments[1] == "dask":
        pytest.importorskip("distributed")
    wait = "5" if preloads else "0"
    done = subprocess.run([sys.executable, "-c", STARTED_EARLY, json.dumps(arguments), wait], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    servers = json.loads(done.stdout.strip().splitlines()[-1])
    if preloads is None:
        assert servers == []
    else:
        (server,) = servers
        assert all(repr(module) in server for module in preloads)


#: In a fresh interpreter: whether the fork server that ``sys.argv[1]`` starts ignores Ctrl-C (its SIGINT
#: disposition, read from /proc) the moment it is started.
SERVER_IGNORES_CTRL_C = FORK_SERVERS + """
import contextlib, signal, sys
from reachsim.experiments.executors import ProcessExecutor, start_early

with ProcessExecutor(1, start_method="forkserver") if sys.argv[1] == "pool" else contextlib.nullcontext():
    if sys.argv[1] == "early":
        start_early(2)
    (pid,) = fork_servers(wait=5)
    with open(f"/proc/{pid}/status") as status:
        ignored = int(next(line for line in status if line.startswith("SigIgn:")).split()[1], 16)
print(bool(ignored >> (signal.SIGINT - 1) & 1))
"""


@pytest.mark.parametrize("how", ["pool", "early"])
def test_a_fork_server_starts_with_ctrl_c_ignored(how: str) -> None:
    """A terminal's Ctrl-C reaches the whole process group: a server still importing must not print a
    KeyboardInterrupt of its own (the main process handles it; the workers ignore it as well)."""
    if default_start_method() != "forkserver" or not sys.platform.startswith("linux"):
        pytest.skip("a fork server, and a process's signal dispositions read through /proc, are Linux's here")
    done = subprocess.run([sys.executable, "-c", SERVER_IGNORES_CTRL_C, how], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"


def _pid_of(task: int, seconds: float) -> tuple[int, int]:
    """A task that takes a while and says which process ran it."""
    import os
    import time

    time.sleep(seconds)
    return task, os.getpid()


def _slow_start(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every pool takes ``seconds`` more to start (a fork server's first start, a Dask cluster's)."""
    import time

    from reachsim.experiments import executors

    real = executors._Start.__init__

    def slow(self, start, name):  # type: ignore[no-untyped-def]
        def later() -> None:
            time.sleep(seconds)
            start()

        real(self, later, name)

    monkeypatch.setattr(executors._Start, "__init__", slow)


def _who_ran(results: list[tuple[int, int]], tasks: int) -> list[bool]:
    """Whether each task ran in this process; the results must be in task order."""
    import os

    assert [task for task, _ in results] == list(range(tasks))
    return [pid == os.getpid() for _, pid in results]


@pytest.mark.parametrize("help_while_starting", [True, False])
def test_a_pool_gets_the_tasks_left_once_it_is_up(monkeypatch, help_while_starting) -> None:
    """While the pool starts, this process runs the first tasks itself (unless told not to); every task runs once
    and the results come in task order whoever ran them."""
    _slow_start(monkeypatch, 0.5)
    with ProcessExecutor(2, help_while_starting=help_while_starting) as pool:
        here = _who_ran(list(pool.map(_pid_of, [(i, 0.05) for i in range(24)])), 24)
    if help_while_starting:
        ran = here.index(False)
        assert 0 < ran < 24 and not any(here[ran:])  # a head here, the rest in the workers
    else:
        assert not any(here)


def test_an_interrupted_pool_start_keeps_the_runs_done_meanwhile(monkeypatch, scenario_factory) -> None:
    """Ctrl-C during a run this process took while the pool started: the complete replications are kept."""
    from reachsim.experiments import runner
    from tests.test_reproducibility import MESSENGER

    sc = scenario_factory([MESSENGER], size=3_000, horizon=30, replications=4, seed=5)
    real, done = runner.run_once, []

    def run_once(*args):  # type: ignore[no-untyped-def]
        if len(done) == 2 * len(sc.strategies):  # Ctrl-C as the third replication starts
            raise KeyboardInterrupt
        done.append(args)
        return real(*args)

    monkeypatch.setattr(runner, "run_once", run_once)
    _slow_start(monkeypatch, 1.5)  # the pool is not up before the interrupt
    result = runner.run_experiment(sc, executor=ProcessExecutor(2))
    assert result.interrupted and result.replications == 2


def test_a_pool_that_failed_to_start_says_why(monkeypatch) -> None:
    from reachsim.experiments import executors

    def fails(pool, workers) -> None:  # type: ignore[no-untyped-def]
        raise OSError("no process to start")

    monkeypatch.setattr(executors, "_start_workers", fails)
    with pytest.raises(OSError, match="no process to start"), ProcessExecutor(2) as pool:
        list(pool.map(_pid_of, [(i, 0.01) for i in range(1000)]))
