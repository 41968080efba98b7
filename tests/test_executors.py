"""Executor choice: the defaults the CLI relies on (no cluster is started here)."""

from __future__ import annotations

import pytest

from reachsim.experiments.executors import (
    DaskExecutor,
    ProcessExecutor,
    SequentialExecutor,
    local_cores,
    make_executor,
)


def test_defaults() -> None:
    assert isinstance(make_executor(), SequentialExecutor)
    assert isinstance(make_executor(1), SequentialExecutor)
    pool = make_executor(3)
    assert isinstance(pool, ProcessExecutor) and pool.workers == 3
    assert pool._context.get_start_method() == "spawn"  # explicit, whatever the platform's default


def test_a_local_dask_cluster_uses_the_local_cores_unless_told() -> None:
    pytest.importorskip("distributed")
    local = make_executor(kind="dask")
    assert isinstance(local, DaskExecutor) and local.workers == local_cores() >= 1
    assert local.address is None and local.start_method == "spawn"
    assert make_executor(2, kind="dask").workers == 2
    remote = make_executor(address="tcp://scheduler:8786")
    assert isinstance(remote, DaskExecutor) and remote.address == "tcp://scheduler:8786"
