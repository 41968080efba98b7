"""Executors: one interface, sequential by default, results always in task order.

Seeds come from (seed, replication, stream name), never from a worker's identity, so every executor and worker
count gives identical results. Process pools get their multiprocessing context explicitly; nothing global is
changed.
"""

from __future__ import annotations

import multiprocessing
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


class ProcessExecutor:
    """A local process pool (``spawn`` context: safe with threads, the same on every platform)."""

    def __init__(self, workers: int, start_method: str = "spawn") -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._context = multiprocessing.get_context(start_method)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessExecutor:
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        if self._pool is None:
            raise RuntimeError("use ProcessExecutor as a context manager")
        futures = [self._pool.submit(fn, *task) for task in tasks]
        for future in futures:
            yield future.result()


def make_executor(workers: int | None) -> SequentialExecutor | ProcessExecutor:
    """Sequential for 1 worker (or None), a process pool otherwise."""
    return SequentialExecutor() if not workers or workers == 1 else ProcessExecutor(workers)
