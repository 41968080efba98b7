"""A run directory read back from its files: for analysts, notebooks and the report (its only input).

``read_run_dir(folder)`` gives the summary and every daily band (strategy, channel, metric → mean, p05, p95 arrays
indexed by day). The report is made from these files, never from simulation objects, so any run directory,
however old, can be rendered again. Only the standard library, NumPy and PyYAML are used here (no pandas).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

#: The columns of timeseries.csv (the run directory contract in docs/design.md).
TIMESERIES_COLUMNS = ("strategy", "channel", "day", "metric", "mean", "p05", "p95")
#: Keys summary.json must have for a report to be made from it.
REQUIRED_KEYS = ("scenario", "horizon_days", "strategies")


class RunDirError(Exception):
    """The folder is not a (complete, readable) run directory."""


@dataclass(frozen=True)
class Band:
    """One daily series: mean, 5th and 95th percentile across replications, indexed by day."""

    mean: np.ndarray
    p05: np.ndarray
    p95: np.ndarray


@dataclass
class RunData:
    """What a run directory holds, as the report uses it."""

    folder: Path
    summary: dict[str, Any]
    series: dict[tuple[str, str, str], Band]  # (strategy, channel, metric) -> daily band
    description: str = ""
    scenario_text: str | None = None
    channel_order: dict[str, list[str]] = field(default_factory=dict, repr=False)  # strategy -> its channels

    # -- provenance ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.summary["scenario"])

    @property
    def horizon(self) -> int:
        return int(self.summary["horizon_days"])

    @property
    def strategies(self) -> list[str]:
        """Strategy names in the scenario's order (the order every chart and table uses)."""
        return list(self.summary["strategies"])

    @property
    def baseline(self) -> str | None:
        return self.summary.get("baseline")

    @property
    def comparisons(self) -> dict[str, dict[str, Any]]:
        return self.summary.get("comparisons") or {}

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.summary.get("parameters") or {}

    # -- lookups ---------------------------------------------------------------------------------------
    def metric(self, strategy: str, metric: str) -> dict[str, Any] | None:
        """``strategies.<strategy>.metrics.<metric>`` ({mean, p05, p95}) or None."""
        return self.summary["strategies"][strategy].get("metrics", {}).get(metric)

    def channel_metrics(self, strategy: str) -> dict[str, dict[str, Any]]:
        return self.summary["strategies"][strategy].get("channels") or {}

    def channels(self, strategy: str | None = None) -> list[str]:
        """Channel names (not ``all``) in order of first appearance, for one strategy or across all."""
        if strategy is not None:
            return list(self.channel_order.get(strategy, []))
        seen: dict[str, None] = {}
        for s in self.strategies:
            for c in self.channel_order.get(s, []):
                seen.setdefault(c)
        return list(seen)

    def band(self, strategy: str, channel: str, metric: str) -> Band | None:
        return self.series.get((strategy, channel, metric))

    def metrics_of(self, strategy: str, channel: str) -> list[str]:
        return [m for (s, c, m) in self.series if s == strategy and c == channel]


def is_run_dir(folder: str | os.PathLike[str]) -> bool:
    path = Path(folder)
    return (path / "summary.json").is_file() and (path / "timeseries.csv").is_file()


def read_run_dir(folder: str | os.PathLike[str]) -> RunData:
    """Read a run directory; :class:`RunDirError` (with a one-line message) if it is not one."""
    path = Path(folder)
    if not path.exists():
        raise RunDirError(f"{path}: no such folder")
    if not path.is_dir():
        raise RunDirError(f"{path}: not a folder")
    missing = [name for name in ("summary.json", "timeseries.csv") if not (path / name).is_file()]
    if missing:
        raise RunDirError(
            f"{path}: not a run directory (no {' or '.join(missing)}; `reachsim run` writes one)"
        )
    summary = _read_summary(path / "summary.json")
    series, channels = _read_timeseries(path / "timeseries.csv", int(summary["horizon_days"]))
    scenario_text, description = _read_scenario(path / "scenario.yaml")
    return RunData(
        folder=path,
        summary=summary,
        series=series,
        description=description,
        scenario_text=scenario_text,
        channel_order=channels,
    )


def _read_summary(file: Path) -> dict[str, Any]:
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{file}: cannot be read: {exc}") from None
    if not isinstance(summary, dict):
        raise RunDirError(f"{file}: expected a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in summary]
    if missing:
        raise RunDirError(f"{file}: not a reachsim summary (missing {', '.join(missing)})")
    if not isinstance(summary["strategies"], dict) or not summary["strategies"]:
        raise RunDirError(f"{file}: 'strategies' holds no strategy")
    try:
        if int(summary["horizon_days"]) < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise RunDirError(f"{file}: horizon_days must be a whole number ≥ 1") from None
    return summary


def _rows(file: Path) -> Iterator[list[str]]:
    with file.open(newline="", encoding="utf-8") as fh:
        yield from csv.reader(fh)


def _read_timeseries(file: Path, horizon: int) -> tuple[dict[tuple[str, str, str], Band], dict[str, list[str]]]:
    """The long-format CSV as one band per (strategy, channel, metric); days missing from the file are NaN."""
    try:
        rows = _rows(file)
        header = next(rows, None)
        if header is None or tuple(header) != TIMESERIES_COLUMNS:
            raise RunDirError(f"{file}:1: expected the columns {','.join(TIMESERIES_COLUMNS)}")
        index: dict[tuple[str, str, str], list[int]] = {}
        days: list[str] = []
        values: list[tuple[str, str, str]] = []
        for line, row in enumerate(rows, start=2):
            if len(row) != len(TIMESERIES_COLUMNS):
                raise RunDirError(f"{file}:{line}: expected {len(TIMESERIES_COLUMNS)} fields, found {len(row)}")
            index.setdefault((row[0], row[1], row[3]), []).append(len(days))
            days.append(row[2])
            values.append((row[4], row[5], row[6]))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunDirError(f"{file}: cannot be read: {exc}") from None
    try:
        day_arr = np.asarray(days, dtype=np.int64) if days else np.zeros(0, dtype=np.int64)
        val_arr = np.asarray(values, dtype=float).reshape(-1, 3)
    except ValueError as exc:
        raise RunDirError(f"{file}: a day or a value is not a number ({exc})") from None
    series: dict[tuple[str, str, str], Band] = {}
    channels: dict[str, list[str]] = {}
    for key, rows_of_key in index.items():
        idx = np.asarray(rows_of_key)
        day = day_arr[idx]
        keep = (day >= 0) & (day < horizon)
        cols = np.full((3, horizon), np.nan)
        cols[:, day[keep]] = val_arr[idx[keep]].T
        series[key] = Band(cols[0], cols[1], cols[2])
        strategy, channel, _ = key
        names = channels.setdefault(strategy, [])
        if channel != "all" and channel not in names:
            names.append(channel)
    return series, channels


def _read_scenario(file: Path) -> tuple[str | None, str]:
    """The resolved scenario's text and description; a missing or unreadable file only loses the description."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, ""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text, ""
    description = data.get("description") if isinstance(data, dict) else None
    return text, description.strip() if isinstance(description, str) else ""
