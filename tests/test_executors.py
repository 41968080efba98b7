"""Executor choice: the defaults the CLI relies on, and what a local Dask cluster gives its workers."""

from __future__ import annotations

import pytest

from reachsim.experiments.executors import (
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
        (settings,) = dask._client.run(_worker_settings).values()
    assert settings == {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
        "distributed.worker.memory.monitor-interval": "500ms",
        "MALLOC_TRIM_THRESHOLD_": None,
    }
    assert set(LOCAL_CLUSTER_CONFIG) == {*settings, "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"} - {
        "MALLOC_TRIM_THRESHOLD_"}
