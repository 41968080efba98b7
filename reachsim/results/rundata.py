"""A run directory read back from its files: for analysts, notebooks and the report (its only input).

``read_run_dir(folder)`` gives the summary and every daily band (strategy, channel, metric → mean, p05, p95 arrays
indexed by day). The report is made from these files, never from simulation objects, so any run directory,
however old, can be rendered again. Only the standard library, NumPy and the scenario file reader (for
scenario.yaml) are used here (no pandas).

Files can be edited, truncated or mixed up, so everything read is checked first and :class:`RunDirError` says
what is wrong (``reachsim report`` exits 2): every field of summary.json the report uses has its type and range;
scenario.yaml must be the one summary.json was made with (its SHA-256 is ``scenario_sha256``), or the folder
mixes two runs; timeseries.csv has exactly one row per day of the horizon for each of its series, its values finite
numbers or, on a day without a value (a mean without weight), all three empty, and only the strategies of
summary.json; sources.json, when there is one, is a list of notes made for that scenario.yaml
(:mod:`reachsim.results.sources`). Nothing is allocated from a number read before that number is checked.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reachsim.core.problems import ScenarioError
from reachsim.results import sources as sources_file
from reachsim.scenario.notes import Note
from reachsim.scenario.source import parse_yaml

#: The columns of timeseries.csv (the run directory contract in docs/design.md).
TIMESERIES_COLUMNS = ("strategy", "channel", "day", "metric", "mean", "p05", "p95")
#: Keys summary.json must have for a report to be made from it.
REQUIRED_KEYS = ("scenario", "horizon_days", "strategies")
#: Bins of a profile by hour of the day (summary.json's ``hour_of_day``).
HOURS = 24
#: The longest horizon a scenario may have (the schema's bound).
MAX_HORIZON_DAYS = 36_500
#: summary.json is read whole: a larger one is not a summary.
MAX_SUMMARY_BYTES = 256 * 2**20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RunDirError(Exception):
    """The folder is not a (complete, readable) run directory."""


@dataclass(frozen=True)
class Band:
    """One daily series (or a profile by hour of the day): mean, 5th and 95th percentile across replications,
    indexed by day (or hour); NaN where no replication has a value."""

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
    #: The resolved scenario (scenario.yaml) as plain data; None if it cannot be read as YAML.
    scenario: dict[str, Any] | None = field(default=None, repr=False)
    #: The inputs' source notes by dotted path (sources.json; a null note: written without one); None when the
    #: run directory has no sources.json (the sources were not recorded).
    sources: dict[str, Note | None] | None = field(default=None, repr=False)

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

    def hours(self, strategy: str, channel: str, metric: str) -> Band | None:
        """The profile by hour of the day (24 values) of a metric declared by hour, or None (a metric without
        one, or a run directory written before there were any)."""
        body = self.summary["strategies"][strategy].get("hour_of_day") or {}
        found = (body.get(channel) or {}).get(metric)
        if found is None:
            return None
        return Band(*(np.asarray([np.nan if x is None else x for x in found[k]], dtype=float)
                      for k in ("mean", "p05", "p95")))


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
    scenario_text, scenario = _read_scenario(path / "scenario.yaml", summary)
    sources = _read_sources(path / sources_file.FILE, summary)
    series, channels = _read_timeseries(path / "timeseries.csv", summary)
    description = scenario.get("description") if scenario is not None else None
    return RunData(
        folder=path,
        summary=summary,
        series=series,
        description=description.strip() if isinstance(description, str) else "",
        scenario_text=scenario_text,
        channel_order=channels,
        scenario=scenario,
        sources=sources,
    )


def _read_summary(file: Path) -> dict[str, Any]:
    try:
        if file.stat().st_size > MAX_SUMMARY_BYTES:
            raise RunDirError(f"{file}: larger than {MAX_SUMMARY_BYTES // 2**20} MB: not a reachsim summary")
        summary = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise RunDirError(f"{file}: cannot be read: {exc}") from None
    if not isinstance(summary, dict):
        raise RunDirError(f"{file}: expected a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in summary]
    if missing:
        raise RunDirError(f"{file}: not a reachsim summary (missing {', '.join(missing)})")
    if not isinstance(summary["strategies"], dict) or not summary["strategies"]:
        raise RunDirError(f"{file}: 'strategies' holds no strategy")
    horizon = summary["horizon_days"]
    if not _whole(horizon) or not 1 <= horizon <= MAX_HORIZON_DAYS:
        raise RunDirError(f"{file}: horizon_days must be a whole number from 1 to {MAX_HORIZON_DAYS:,}")
    problem = _summary_problem(summary)
    if problem is not None:
        raise RunDirError(f"{file}: {problem}")
    return summary


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _number(x: Any) -> bool:
    """A finite number, or null (a figure undefined in every replication)."""
    return x is None or (isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x))


def _band_problem(band: Any) -> str | None:
    if not isinstance(band, dict):
        return "expected {mean, p05, p95}"
    for key in ("mean", "p05", "p95"):
        if key not in band or not _number(band[key]):
            return f"{key} must be a finite number or null"
    if "n" in band and not (_whole(band["n"]) and band["n"] >= 0):
        return "n must be a whole number ≥ 0"
    return None


def _profile_problem(profile: Any) -> str | None:
    """A profile by hour of the day: {mean, p05, p95} of 24 finite numbers or nulls each (n: 24 whole numbers)."""
    if not isinstance(profile, dict):
        return "expected {mean, p05, p95}"
    for key in ("mean", "p05", "p95"):
        values = profile.get(key)
        if not (isinstance(values, list) and len(values) == HOURS and all(_number(x) for x in values)):
            return f"{key} must be {HOURS} finite numbers or nulls, one per hour of the day"
    n = profile.get("n", [0] * HOURS)
    if not (isinstance(n, list) and len(n) == HOURS and all(_whole(x) and x >= 0 for x in n)):
        return f"n must be {HOURS} whole numbers ≥ 0"
    return None


def _difference_problem(diff: Any) -> str | None:
    if not isinstance(diff, dict) or not _number(diff.get("mean", 0)):
        return "expected {mean, ci95} with a finite mean or null"
    ci = diff.get("ci95", [None, None])
    if not (isinstance(ci, list) and len(ci) == 2 and all(_number(x) for x in ci)):
        return "ci95 must be two finite numbers or nulls"
    if "n" in diff and not (_whole(diff["n"]) and diff["n"] >= 0):
        return "n must be a whole number ≥ 0"
    return None


def _mapping_problem(where: str, mapping: Any, check: Any) -> str | None:
    """The first problem of a mapping of names to checked values, as ``where.name: problem``."""
    if not isinstance(mapping, dict):
        return f"{where}: expected a mapping"
    for name, value in mapping.items():
        problem = check(value)
        if problem is not None:
            return f"{where}.{name}: {problem}"
    return None


def _summary_problem(summary: dict[str, Any]) -> str | None:
    """The first field the report reads that is missing its type or range, as ``path: problem``."""
    for name, body in summary["strategies"].items():
        if not isinstance(body, dict):
            return f"strategies.{name}: expected a mapping"
        problem = _mapping_problem(f"strategies.{name}.metrics", body.get("metrics", {}), _band_problem)
        if problem is None:
            problem = _mapping_problem(
                f"strategies.{name}.channels",
                body.get("channels", {}),
                lambda metrics: _mapping_problem("metrics", metrics, _band_problem),
            )
        if problem is None:
            problem = _mapping_problem(
                f"strategies.{name}.hour_of_day",
                body.get("hour_of_day", {}),
                lambda metrics: _mapping_problem("metrics", metrics, _profile_problem),
            )
        if problem is not None:
            return problem
    comparisons = summary.get("comparisons") or {}
    problem = _mapping_problem(
        "comparisons", comparisons, lambda diffs: _mapping_problem("metrics", diffs, _difference_problem)
    ) or _mapping_problem("parameters", summary.get("parameters") or {}, _band_problem)
    if problem is not None:
        return problem
    unknown = [name for name in comparisons if name not in summary["strategies"]]
    if unknown:
        return f"comparisons.{unknown[0]}: not a strategy of this summary"
    baseline = summary.get("baseline")
    if baseline is not None and baseline not in summary["strategies"]:
        return f"baseline: {baseline!r} is not a strategy of this summary"
    for key in ("seed", "replications", "replications_requested"):
        if key in summary and not (_whole(summary[key]) and summary[key] >= 0):
            return f"{key}: must be a whole number ≥ 0"
    if "discount_rate" in summary and (summary["discount_rate"] is None or not _number(summary["discount_rate"])):
        return "discount_rate: must be a finite number"
    if "interrupted" in summary and not isinstance(summary["interrupted"], bool):
        return "interrupted: must be true or false"
    for key in ("scenario", "reachsim_version"):
        if key in summary and not isinstance(summary[key], str):
            return f"{key}: must be text"
    if not isinstance(summary.get("scenario_sha256"), str) or not _SHA256.match(summary["scenario_sha256"]):
        return "scenario_sha256: must be the SHA-256 (64 hexadecimal digits) of scenario.yaml"
    return None


def _rows(file: Path) -> Iterator[list[str]]:
    with file.open(newline="", encoding="utf-8") as fh:
        yield from csv.reader(fh)


def _read_timeseries(
    file: Path, summary: dict[str, Any]
) -> tuple[dict[tuple[str, str, str], Band], dict[str, list[str]]]:
    """The long-format CSV as one band per (strategy, channel, metric), each with exactly one row per day."""
    horizon = int(summary["horizon_days"])
    try:
        rows = _rows(file)
        header = next(rows, None)
        if header is None or tuple(header) != TIMESERIES_COLUMNS:
            raise RunDirError(f"{file}:1: expected the columns {','.join(TIMESERIES_COLUMNS)}")
        index: dict[tuple[str, str, str], list[int]] = {}
        days: list[str] = []
        values: list[tuple[str, str, str]] = []
        blank: list[bool] = []  # a day without a value: mean, p05 and p95 all empty
        for line, row in enumerate(rows, start=2):
            if len(row) != len(TIMESERIES_COLUMNS):
                raise RunDirError(f"{file}:{line}: expected {len(TIMESERIES_COLUMNS)} fields, found {len(row)}")
            if row[0] not in summary["strategies"]:
                raise RunDirError(f"{file}:{line}: strategy {row[0]!r} is not in summary.json")
            index.setdefault((row[0], row[1], row[3]), []).append(len(days))
            days.append(row[2])
            empty = (row[4] == "", row[5] == "", row[6] == "")
            if any(empty):
                if not all(empty):
                    raise RunDirError(f"{file}:{line}: mean, p05 and p95 are all numbers, or all empty (no value)")
                values.append(("nan", "nan", "nan"))
                blank.append(True)
            else:
                values.append((row[4], row[5], row[6]))
                blank.append(False)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunDirError(f"{file}: cannot be read: {exc}") from None
    try:
        day_arr = np.asarray(days, dtype=np.int64) if days else np.zeros(0, dtype=np.int64)
        val_arr = np.asarray(values, dtype=float).reshape(-1, 3)
    except (ValueError, OverflowError) as exc:
        raise RunDirError(f"{file}: a day or a value is not a number ({exc})") from None
    no_value = np.asarray(blank, dtype=bool)
    bad = np.flatnonzero(
        (~np.isfinite(val_arr).all(axis=1) & ~no_value) | (day_arr < 0) | (day_arr >= horizon)
    )
    if bad.size:
        line = int(bad[0]) + 2
        raise RunDirError(f"{file}:{line}: expected a day from 0 to {horizon - 1} and finite values (or none)")
    series: dict[tuple[str, str, str], Band] = {}
    channels: dict[str, list[str]] = {}
    for key, rows_of_key in index.items():
        idx = np.asarray(rows_of_key)
        day = day_arr[idx]
        if idx.size != horizon or np.unique(day).size != horizon:
            strategy, channel, metric = key
            raise RunDirError(
                f"{file}: {strategy}/{channel}/{metric} has {idx.size} rows for {np.unique(day).size} different "
                f"days; expected one row for each of the {horizon:,} days (horizon_days)"
            )
        cols = np.empty((3, horizon))
        cols[:, day] = val_arr[idx].T
        series[key] = Band(cols[0], cols[1], cols[2])
        strategy, channel, _ = key
        names = channels.setdefault(strategy, [])
        if channel != "all" and channel not in names:
            names.append(channel)
    return series, channels


def _read_scenario(file: Path, summary: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The resolved scenario's text and data (None if it is not a YAML mapping); RunDirError unless it is the one
    summary.json was made with."""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise RunDirError(f"{file}: missing; a run directory holds the scenario that ran") from None
    except OSError as exc:
        raise RunDirError(f"{file}: cannot be read: {exc}") from None
    if hashlib.sha256(raw).hexdigest() != summary["scenario_sha256"]:
        raise RunDirError(
            f"{file}: not the scenario summary.json was made with (its SHA-256 differs from scenario_sha256): the "
            "folder mixes files of two runs; run the scenario again"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RunDirError(f"{file}: not UTF-8 text") from None
    try:  # read as a scenario file is: a hand-made one may hold an alias bomb
        data = parse_yaml(str(file), text).data
    except ScenarioError:
        data = None  # the description and the inputs are all that is read from it: the report goes without
    return text, data if isinstance(data, dict) else None


def _read_sources(file: Path, summary: dict[str, Any]) -> dict[str, Note | None] | None:
    """The notes of sources.json, None without one; RunDirError unless they were made for scenario.yaml."""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RunDirError(f"{file}: cannot be read: {exc}") from None
    try:
        return sources_file.parse(raw, summary["scenario_sha256"])
    except ValueError as exc:
        raise RunDirError(f"{file}: {exc}") from None
