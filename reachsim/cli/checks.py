"""Checks made before any work: will the run fit in memory?

A run that cannot fit should be refused in a second, with the numbers, rather than fail after minutes. The
estimate is deliberately simple and on the generous side, from measurements of the shipped scenarios (about
30–35 bytes per consumer for one channel, 50 for two, plus some 120 MB for Python and its libraries in every
process):

* one run holds the market's columns, ``16 + 40 × channels`` bytes per consumer, and its daily series;
* the main process keeps every run's daily series until the summaries are made: ``(4 + 20 × channels)`` series
  of ``horizon_days`` 8-byte numbers per run;
* each worker process (``--workers N``) holds one run at a time; a Dask cluster at ``--scheduler`` uses its
  own machines' memory, not this one's.

The available memory is the system's estimate for new work (``MemAvailable``), lowered to the container's
limit when there is one. Where neither can be read, nothing is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROCESS_BYTES = 150 * 2**20
BYTES_PER_CONSUMER = 16
BYTES_PER_CONSUMER_PER_CHANNEL = 40
SERIES_PER_CHANNEL = 20
STRATEGY_SERIES = 4


@dataclass(frozen=True)
class Estimate:
    """Peak memory of an experiment, in bytes, and its parts."""

    per_run: int  # the largest single run (market columns and series), without its process
    workers: int  # processes running runs besides the main one (0: the main process runs them)
    results: int  # every run's daily series, kept by the main process
    runs: int

    @property
    def total(self) -> int:
        if self.workers:
            return PROCESS_BYTES + self.results + self.workers * (PROCESS_BYTES + self.per_run)
        return PROCESS_BYTES + self.results + self.per_run


def estimate(scenario: Any, *, replications: int, workers: int, points: int = 1, local: bool = True) -> Estimate:
    """The peak memory of ``replications`` replications of every strategy (``points`` times, for a sweep), run
    by ``workers`` local processes (1: the main process; ``local=False``: on a remote cluster)."""
    size, horizon = scenario.market.size, scenario.horizon_days
    channels = [len(strategy.channels) for strategy in scenario.strategies.values()]
    per_run = max(
        size * (BYTES_PER_CONSUMER + BYTES_PER_CONSUMER_PER_CHANNEL * n) + _series_bytes(n, horizon) for n in channels
    )
    results = points * replications * sum(_series_bytes(n, horizon) for n in channels)
    pool = 0 if not local or workers <= 1 else workers
    return Estimate(per_run=per_run if local else 0, workers=pool, results=results,
                    runs=points * replications * len(channels))


def _series_bytes(channels: int, horizon: int) -> int:
    return (STRATEGY_SERIES + SERIES_PER_CHANNEL * channels) * horizon * 8


def available_memory() -> int | None:
    """Bytes of memory available for new work, or None where the system does not say."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    limit = _cgroup_room()
    if limit is not None:
        found.append(limit)
    return min(found) if found else None


def _cgroup_room() -> int | None:
    """The room left under this process's cgroup (v2) memory limit, if it has one."""
    try:
        entry = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()[0]
        group = Path("/sys/fs/cgroup") / entry.split("::", 1)[1].lstrip("/")
        limit = (group / "memory.max").read_text(encoding="ascii").strip()
        used = (group / "memory.current").read_text(encoding="ascii").strip()
    except (OSError, ValueError, IndexError):
        return None
    if limit == "max":
        return None
    return max(int(limit) - int(used), 0)


def gigabytes(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 / 10 else f"{n / 2**20:.0f} MB"


def memory_problem(scenario: Any, need: Estimate, available: int | None = None) -> str | None:
    """Why the experiment would not fit in memory (one line with the numbers), or None if it fits."""
    if available is None:
        available = available_memory()
    if available is None or need.total <= available:
        return None
    size = scenario.market.size
    most = max(len(strategy.channels) for strategy in scenario.strategies.values())
    channels = f"{most} channel{'s' if most > 1 else ''}"
    market = f"{size:,} consumers and up to {channels} in a strategy"
    runs = f"{gigabytes(need.per_run + PROCESS_BYTES)} per run ({market})"
    if need.workers:
        runs = f"{need.workers} workers × {runs}"
    kept = f"{gigabytes(need.results)} for the daily results of {need.runs:,} runs of {scenario.horizon_days:,} days"
    return (
        f"this needs about {gigabytes(need.total)} of memory and {gigabytes(available)} is available: {runs}, and "
        f"{kept}; use fewer workers or replications, a shorter horizon or a smaller market"
    )
