"""Executors: one interface, sequential by default, results always in task order.

Seeds come from (seed, replication, stream name), never from a worker's identity, so every executor and worker
count gives identical results. Process pools get their multiprocessing context explicitly (never the platform's
default): a fork server where the platform has one, spawn elsewhere.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol


class Executor(Protocol):
    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """Apply ``fn(*task)`` to each task and yield the results in task order."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class SequentialExecutor:
    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        for task in tasks:
            yield fn(*task)

    def __enter__(self) -> SequentialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Start:
    """A pool's start, in a background thread, so that this process runs the first tasks itself meanwhile.

    A pool takes a while to start (a first fork server imports what a worker needs) and this process has nothing to
    do until then: it runs tasks from the head of the list instead, in order, and the moment the
    pool is up the start's thread hands it every task not yet taken. Which process ran a task changes nothing in
    its result (seeds come from names)."""

    def __init__(self, start: Callable[[], None], name: str) -> None:
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._up = False
        self._then: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, args=(start,), name=name, daemon=True)
        self._thread.start()

    def _run(self, start: Callable[[], None]) -> None:
        try:
            start()
        except BaseException as exc:  # raised again in the thread that waits for the pool
            self._error = exc
        with self._lock:
            self._up, then = True, self._then
        if then is not None:
            then()

    def then(self, fn: Callable[[], None]) -> bool:
        """Call ``fn`` in the start's thread as soon as it has ended, well or not; False if it already has."""
        with self._lock:
            if self._up:
                return False
            self._then = fn
            return True

    @property
    def error(self) -> BaseException | None:
        """Why the start failed, once it has."""
        return self._error

    def join(self) -> None:
        """Until the start has ended, well or not."""
        self._thread.join()

    def wait(self) -> None:
        """Until the pool is up; its start's error, if it failed, raised here."""
        self.join()
        if self._error is not None:
            raise self._error


#: What a worker needs to run a task (reachsim.experiments.runner.run_task, and the scenario schema's classes that
#: validate it), loaded once by the fork server.
WORKER_MODULES = ("reachsim.experiments.preload",)


#: What a local Dask cluster's fork server loads: a Dask worker's code as well.
DASK_WORKER_MODULES = ("distributed", *WORKER_MODULES)


def default_start_method() -> str:
    """``forkserver`` where the platform has it, else ``spawn``.

    Both are safe with threads (nothing is forked from this process). A fork server is one clean process that
    imports what the workers need once; each worker is a fork of it, ready in milliseconds instead of starting an
    interpreter and importing NumPy and reachsim again, and it leaves with ``os._exit`` instead of tearing its
    interpreter down (about half a second per pool on two cores). The server lives as long as this process, so
    later pools start at once."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def start_context(method: str | None, preload: Iterable[str]) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of ``method`` (None: :func:`default_start_method`). For a fork server not yet
    running, ``preload`` names the modules it imports before forking workers (a server already running keeps its
    own: there is one per process, and a worker imports whatever else it needs)."""
    context = multiprocessing.get_context(method or default_start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(list(preload))  # type: ignore[attr-defined]
    return context


def start_fork_server(preload: Iterable[str]) -> None:
    """Start this process's fork server now, importing ``preload``, unless it already runs (then it keeps the modules
    and the environment it started with). Starting returns at once: the server imports in its own process while
    this one goes on."""
    from multiprocessing import forkserver

    start_context("forkserver", preload)
    # the server inherits Ctrl-C ignored: the terminal sends it to the whole process group, and a server still
    # importing would print a KeyboardInterrupt of its own (the main process handles it; workers ignore it too);
    # only from the main thread, and not over a handler installed from C, which could not be put back
    handler = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if handler is None:
        forkserver.ensure_running()
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, handler)


class ProcessExecutor:
    """A local process pool with an explicit start method (:func:`default_start_method` unless told)."""

    def __init__(self, workers: int, start_method: str | None = None, help_while_starting: bool = True) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.help_while_starting = help_while_starting
        self._context = start_context(start_method, WORKER_MODULES)
        self._pool: ProcessPoolExecutor | None = None
        self._start: _Start | None = None

    def __enter__(self) -> ProcessExecutor:
        # Workers ignore SIGINT (a terminal sends it to the whole process group): only the main process handles
        # Ctrl-C, so no worker prints a traceback. They also end when the main process is gone, even killed.
        if self._context.get_start_method() == "forkserver":
            start_fork_server(WORKER_MODULES)  # from this thread, so that it too starts with Ctrl-C ignored
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )
        pool, workers = self._pool, self.workers
        self._start = _Start(lambda: _start_workers(pool, workers), "reachsim-pool-start")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._start is not None:
            self._start.join()  # its error, if any, was raised by map (or the pool was not used)
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            # Interrupted: cancel what is pending and stop the busy workers instead of waiting for them; the
            # runs already collected are kept by the caller.
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=5)
            return
        pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        if self._pool is None:
            raise RuntimeError("use ProcessExecutor as a context manager")
        pool = self._pool
        yield from _map_with(self._start, self.help_while_starting, lambda: pool, fn, list(tasks))


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker of ``pool`` now rather than at the first tasks (it starts one for each task submitted
    while none is idle) and wait until they run: a fork server's first start is most of a pool's."""
    for started in [pool.submit(os.getpid) for _ in range(workers)]:
        started.result()


def _map_with(start: _Start | None, help_while_starting: bool, pool: Callable[[], Any],
              fn: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Iterator[Any]:
    """Results in task order. While the pool starts (if this process may help), this process runs the first tasks,
    each yielded as it is done, and the start's thread submits the others to the pool (``pool()``, whose
    ``submit`` returns futures) as soon as it is up; once it is, the pool gets every task."""
    assert start is not None
    taken, lock, handed = [0], threading.Lock(), threading.Event()
    futures: list[Any] = []
    failed: list[BaseException] = []

    def hand_over() -> None:  # in the start's thread, once the pool is up (or failed to start)
        with lock:
            first, taken[0] = taken[0], len(tasks)
        try:
            if start.error is None:
                submit = pool().submit
                futures.extend(submit(fn, *task) for task in tasks[first:])
        except BaseException as exc:
            failed.append(exc)
        finally:
            handed.set()

    if help_while_starting and start.then(hand_over):
        ran = 0  # tasks run here, the first ones
        while True:
            with lock:
                if taken[0] >= len(tasks):
                    break
                taken[0] = ran + 1
            yield fn(*tasks[ran])
            ran += 1
        if ran < len(tasks):  # the pool has the rest
            handed.wait()
            start.wait()
            if failed:
                raise failed[0]
    else:
        start.wait()
        submit = pool().submit
        futures = [submit(fn, *task) for task in tasks]
    for future in futures:
        yield future.result()


def _worker_start(main: int) -> None:
    """In each pool worker: leave Ctrl-C to the main process, and end when the main process ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(os.getppid(), main), name="end-with-main", daemon=True).start()


def _end_with(parent: int, main: int, every: float = 0.5) -> None:
    """Exit as soon as the main process is gone (killed, say, with no time to stop its workers).

    A spawned worker's parent is the main process: when it ends, the worker is adopted by another process and
    its parent's id changes. A fork server's worker is the server's child, and the server outlives the main
    process while its workers live (they hold the pipe whose closing would end it), so the worker also watches the
    main process itself: through a process file descriptor where the platform has one (readable once the process
    has ended, even before its parent reaps it, and never confused with a later process of the same id), else by
    its id."""
    try:
        ended = os.pidfd_open(main)
    except (AttributeError, OSError):  # not Linux 5.3 or later
        ended = None
    while os.getppid() == parent:
        if ended is not None:
            if select.select([ended], [], [], every)[0]:
                break
        elif _exists(main):
            time.sleep(every)
        else:
            break
    os._exit(1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user (the id was reused)
        return True
    return True


#: Dask settings of a local cluster, the same that docs/design.md recommends for an existing one. Workers start
#: without distributed's fixed allocator trim threshold (MALLOC_TRIM_THRESHOLD_=65536 suits long-lived workers
#: holding data, but makes runs that allocate and free many arrays hand pages back to the system and fault them in
#: again) and without its statistical profiler (a thread that samples every stack each 10 ms, taking the GIL from
#: the run). The event loop's health check (every 20 ms), the system monitor (every 500 ms) and the memory monitor
#: (every 100 ms) ran on the scheduler, the nannies and every worker: idle, they took 15 % of a core, which a
#: local cluster takes from its own runs; at 1 s, 5 s and 500 ms they take 2 %.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "500ms",
}


class DaskExecutor:
    """Dask distributed: a cluster at ``address``, or a local cluster of ``workers`` single-threaded processes
    (one per local core by default), started with an explicit multiprocessing method.

    Needs the ``dask`` extra (``pip install 'reachsim[dask]'``). Tasks are submitted in order and their results
    gathered in the same order, so the output does not depend on which worker ran what.
    """

    def __init__(self, address: str | None = None, workers: int | None = None,
                 start_method: str | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "the Dask executor needs Dask distributed: pip install 'reachsim[dask]'"
            ) from None
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        self.address = address
        self.workers = workers or local_cores()
        self.start_method = start_method or default_start_method()
        self._client: Any = None
        self._cluster: Any = None
        self._start: _Start | None = None

    def __enter__(self) -> DaskExecutor:
        from distributed import Client, LocalCluster  # noqa: F401 - imported here, not first in the start's thread

        if self.address is not None:
            self._client = Client(self.address)
            return self
        if self.start_method == "forkserver":
            # the fork server first: it imports what a worker needs on another core while the start's thread starts
            # the scheduler and the nannies, instead of after them
            start_dask_fork_server()
        # a local cluster takes a second or two: this process runs tasks meanwhile
        self._start = _Start(self._start_local_cluster, "reachsim-dask-start")
        return self

    @property
    def client(self) -> Any:
        """The Dask client, once the cluster is up (a local cluster's start is waited for)."""
        if self._start is not None:
            self._start.wait()
        if self._client is None:
            raise RuntimeError("use DaskExecutor as a context manager")
        return self._client

    def _start_local_cluster(self) -> None:
        """Start the local cluster and its client (in the start's thread)."""
        import dask
        from distributed import Client, LocalCluster

        # Scoped to this cluster (nothing global; see docs/design.md, "Running on an existing Dask cluster"): the
        # explicit start method; workers without distributed's fixed allocator trim threshold, and without its
        # statistical profiler (LOCAL_CLUSTER_CONFIG); and periodic housekeeping at a pace that suits a cluster
        # whose every core runs a simulation.
        with dask.config.set({"distributed.worker.multiprocessing-method": self.start_method,
                              **LOCAL_CLUSTER_CONFIG}):
            if self.start_method == "forkserver":
                # distributed names its fork server's modules once per process (its own dependencies); the server
                # runs with reachsim's as well (``__enter__``), and this keeps that list for a server started later
                from distributed.utils import get_mp_context

                get_mp_context()
                start_context(self.start_method, DASK_WORKER_MODULES)
            # no dashboard (nobody watches a local run's, and it is most of the cluster's imports); the scheduler's
            # plain HTTP routes on any free port
            self._cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
            )
        self._client = Client(self._cluster)
        # local workers share the terminal: only this process handles Ctrl-C (as ProcessExecutor's workers)
        self._client.run(_ignore_interrupts)

    def __exit__(self, *exc: object) -> None:
        if self._start is not None:
            self._start.join()  # its error, if any, was raised by map (or the cluster was not used)
            self._start = None
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        if self._client is None and self._start is None:
            raise RuntimeError("use DaskExecutor as a context manager")
        if self._start is None:  # an existing cluster: every task to it
            futures = [self._client.submit(fn, *task, pure=False) for task in tasks]
            for future in futures:
                yield future.result()
            return
        yield from _map_with(self._start, True, lambda: _Submit(self._client), fn, list(tasks))


class _Submit:
    """A Dask client's ``submit`` for :func:`_map_with`: every task a new one (``pure=False``: no hashing of the
    scenario to find an equal task)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def submit(self, fn: Callable[..., Any], *task: Any) -> Any:
        return self._client.submit(fn, *task, pure=False)


#: The hash seed distributed's nanny gives its workers when none is set (``distributed.nanny.Nanny``).
NANNY_HASH_SEED = "6640"


def start_dask_fork_server() -> None:
    """Start this process's fork server for a local Dask cluster's workers (:func:`start_fork_server` with
    ``DASK_WORKER_MODULES``), with the environment a nanny sets before it starts a worker, which the server's
    workers inherit from it (set in this process's environment for good, as the nanny itself does)."""
    os.environ.update(nanny_environment())
    start_fork_server(DASK_WORKER_MODULES)


def nanny_environment() -> dict[str, str]:
    """The variables a local cluster's nanny sets in this process's environment just before it starts a worker:
    ``distributed.nanny.pre-spawn-environ`` under LOCAL_CLUSTER_CONFIG (one thread for OpenMP, MKL and OpenBLAS;
    no allocator trim threshold), a value already in the environment winning, and the fixed hash seed that gives
    every worker the same ``hash`` of a string. A fork server started before the nanny needs them first: they are
    read when an interpreter starts and when OpenBLAS loads, and its workers inherit its environment."""
    import dask
    import distributed  # noqa: F401 - its settings' defaults

    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # read inside: the settings are the configuration's own dict
        settings = dask.config.get("distributed.nanny.pre-spawn-environ")
        environment = {key: os.environ.get(key, str(value)) for key, value in settings.items() if value is not None}
    if environment.get("PYTHONHASHSEED") in (None, "0"):
        environment["PYTHONHASHSEED"] = NANNY_HASH_SEED
    return environment


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


EXECUTORS = ("sequential", "processes", "dask")


def local_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def executor_kind(workers: int | None = None, kind: str | None = None, address: str | None = None) -> str:
    """The kind of executor :func:`make_executor` makes: ``kind`` when given, else Dask for a scheduler ``address``,
    sequential for one worker and a process pool for more."""
    if kind is None:
        kind = "dask" if address else ("sequential" if (workers or 1) == 1 else "processes")
    return kind


def start_early(workers: int | None = None, kind: str | None = None, address: str | None = None) -> None:
    """Start, now and in the background, the fork server that the executor ``make_executor(workers, kind,
    address)`` will start its workers from. A command line calls it before it imports the rest and reads the
    scenario: the server's imports (about half a second, a second with a Dask worker's) then take another core
    meanwhile, instead of delaying the experiment's first pool. For a local Dask cluster this imports distributed
    here and sets the nanny's environment in this process for good (:func:`start_dask_fork_server`), as the
    executor would. Nothing to start for a sequential run, a Dask cluster elsewhere or a platform without a fork
    server. Only a head start: whatever fails here (Dask not installed, say) is left for :func:`make_executor` and
    the executor to report."""
    kind = executor_kind(workers, kind, address)
    if address is not None or default_start_method() != "forkserver":
        return
    try:
        if kind == "processes":
            start_fork_server(WORKER_MODULES)
        elif kind == "dask":
            start_dask_fork_server()
    except Exception:  # reported where the executor is made and started
        return


def make_executor(
    workers: int | None = None, kind: str | None = None, address: str | None = None
) -> SequentialExecutor | ProcessExecutor | DaskExecutor:
    """The executor for a run: ``kind`` one of EXECUTORS; by default sequential for one worker, a process
    pool for more, and Dask when a scheduler ``address`` is given. ``workers`` left unset means one, except for a
    local Dask cluster, which then starts one worker per local core."""
    kind = executor_kind(workers, kind, address)
    if kind == "sequential":
        return SequentialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers or 1)
    if kind == "dask":
        return DaskExecutor(address, workers)
    raise ValueError(f"unknown executor '{kind}'; available: {', '.join(EXECUTORS)}")
