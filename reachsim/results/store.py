"""The per-replication store: every finished replication, kept in the run directory as soon as it finishes.

A run directory holds ``replications/``, with one JSON file per complete replication (every strategy of it),
written atomically the moment the last strategy of that replication finishes, and ``replications/metrics.csv``,
one table of the strategy metrics of every replication, written with the other final files. A run that is
interrupted, killed or fails keeps what finished, and ``reachsim run FILE --out DIR --resume`` continues from it
to the same final files as a run that was never stopped. The format is documented in docs/run-directory.md:

``replications/000003.json`` (replication 3)::

    {"format": "reachsim.replication/1",
     "reachsim_version": "0.1.0", "identity": "<sha256>", "scenario": "<name>", "seed": 7, "replication": 3,
     "strategies": {"<strategy>": {
         "metrics": {"npv": 1234.5, ...},                 # this replication's strategy metrics
         "parameters": {"<uncertain parameter>": 0.12},   # what this replication drew
         "discount_rate": 0.08,
         "series": [["<channel>", "<metric>", "float64", [day 0, day 1, ...]], ...],
         "final": {"<channel>": {"<metric>": 17.0}},       # whole-run figures (reach at frequency, ...)
         "run_out_net": [..],                              # net value per day of the run-out after the horizon
         "run_out_totals": [["<channel>", "<metric>", 5120.0], ...],  # flows' totals in the run-out
         "hours": [["<channel>", "<metric>", [hour 0, ..., hour 23]], ...],  # metrics declared by hour of day
         "declarations": {"<channel>": [{"name": ..., "kind": ..., "unit": ..., "label": ...}, ...]},
         "ledger": [["<channel>", "<category>", -120.0], ...]}}}

Numbers are written exactly (shortest round-trip decimals); JSON has no NaN or infinity, so a figure that is not
finite is written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``. ``identity`` is the SHA-256 of what
decides a replication's numbers: the reachsim version and the resolved scenario but for its number of
replications (so that a run can be continued to more replications). A file of another identity is never mixed
in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reachsim.core.metrics import HOURS_PER_DAY, Metric
from reachsim.engine.simulation import RunResult
from reachsim.experiments.runner import ExperimentResult
from reachsim.results.atomic import write_text
from reachsim.scenario.load import resolved_yaml, with_overrides

__all__ = [
    "FORMAT",
    "STORE",
    "TABLE",
    "NotResumable",
    "StoreError",
    "identity",
    "metrics_table",
    "read_replication",
    "replication_path",
    "resumable",
    "store_identity",
    "stored_replications",
    "write_replication",
]

FORMAT = "reachsim.replication/1"
#: The store's folder inside a run directory, and its table of per-replication strategy metrics.
STORE = "replications"
TABLE = "metrics.csv"
TABLE_COLUMNS = ("strategy", "replication", "metric", "value")
_FILE = re.compile(r"^(\d{6,})\.json$")
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class StoreError(ValueError):
    """A replication file that cannot be used (unreadable, another format, inconsistent)."""


def identity(scenario: Any) -> str:
    """What decides every replication's numbers: the version and the resolved scenario, whatever the number of
    replications."""
    from reachsim import __version__

    text = resolved_yaml(with_overrides(scenario, replications=1))
    return hashlib.sha256(f"reachsim {__version__}\n{text}".encode()).hexdigest()


def replication_path(folder: str | os.PathLike[str], replication: int) -> Path:
    """``<folder>/replications/000003.json``."""
    return Path(folder) / STORE / f"{replication:06d}.json"


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------


def _number(x: float | None) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _values(array: np.ndarray) -> list[Any]:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return [_number(x) for x in array.tolist()]
    return array.tolist()


def run_document(scenario: Any, run: RunResult) -> dict[str, Any]:
    """One strategy's run of one replication as plain JSON data (see the module docstring)."""
    alone = ExperimentResult(scenario=scenario, runs={run.strategy: [run]})
    metrics = {name: _number(values[0]) for name, values in alone.strategy_metrics(run.strategy).items()}
    return {
        "metrics": metrics,
        "parameters": {key: _number(value) for key, value in run.parameters.items()},
        "discount_rate": _number(run.discount_rate),
        "series": [[channel, metric, values.dtype.name, _values(values)] for (channel, metric), values in
                   run.series.items()],
        "final": {channel: {k: _number(v) for k, v in figures.items()} for channel, figures in run.final.items()},
        "declarations": {channel: [m.declaration() for m in metrics_] for channel, metrics_ in run.metrics.items()},
        "ledger": [[channel, category, _number(amount)] for (channel, category), amount in run.ledger_totals.items()],
        "run_out_net": _values(run.run_out_net),
        "run_out_totals": [[channel, metric, _number(total)] for (channel, metric), total in
                           run.run_out_totals.items()],
        "hours": [[channel, metric, _values(values)] for (channel, metric), values in run.hours.items()],
    }


def write_replication(
    folder: str | os.PathLike[str], scenario: Any, key: str, replication: int, runs: Mapping[str, RunResult]
) -> Path:
    """Store one complete replication (every strategy's run), atomically; returns the file."""
    from reachsim import __version__

    document = {
        "format": FORMAT,
        "reachsim_version": __version__,
        "identity": key,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replication": replication,
        "strategies": {strategy: run_document(scenario, runs[strategy]) for strategy in scenario.strategies},
    }
    path = replication_path(folder, replication)
    write_text(path, json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n")
    return path


def metrics_table(result: ExperimentResult) -> str:
    """``replications/metrics.csv``: the strategy metrics of every complete replication, in long format
    (strategy, replication, metric, value), exact decimals, empty where a figure is undefined."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for strategy in result.runs:
        metrics = result.strategy_metrics(strategy)
        for index, run in enumerate(result.runs[strategy][: result.replications]):
            for metric, values in metrics.items():
                value = float(values[index])
                writer.writerow((strategy, run.replication, metric, repr(value) if math.isfinite(value) else ""))
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def _float(x: Any) -> float:
    if isinstance(x, str) and x in _NON_FINITE:
        return _NON_FINITE[x]
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    raise StoreError(f"expected a number, got {x!r}")


def _run(data: Any, strategy: str, replication: int, horizon: int) -> RunResult:
    if not isinstance(data, dict):
        raise StoreError(f"strategy '{strategy}' is not a mapping")
    series: dict[tuple[str, str], np.ndarray] = {}
    for entry in data["series"]:
        channel, metric, dtype, values = entry
        array = np.asarray([_float(v) if isinstance(v, str) else v for v in values], dtype=np.dtype(dtype))
        if array.shape != (horizon,):
            raise StoreError(f"series {channel}/{metric} has {array.size} days, not {horizon}")
        series[str(channel), str(metric)] = array
    rate = data["discount_rate"]
    return RunResult(
        strategy=strategy,
        replication=replication,
        series=series,
        final={str(c): {str(k): _float(v) for k, v in figures.items()} for c, figures in data["final"].items()},
        metrics={
            str(channel): tuple(Metric.from_declaration(d) for d in declarations)
            for channel, declarations in data["declarations"].items()
        },
        ledger_totals={(str(c), str(k)): _float(amount) for c, k, amount in data["ledger"]},
        parameters={str(k): _float(v) for k, v in data["parameters"].items()},
        discount_rate=None if rate is None else _float(rate),
        run_out_net=np.asarray([_float(v) if isinstance(v, str) else v for v in data.get("run_out_net", [])],
                               dtype=float),
        hours=_hours(data.get("hours", [])),
        # absent from stores written before run-out totals were kept
        run_out_totals={(str(c), str(m)): _float(v) for c, m, v in data.get("run_out_totals", [])},
    )


def _hours(entries: Any) -> dict[tuple[str, str], np.ndarray]:
    """The profiles by hour of the day (absent from stores written before there were any)."""
    hours: dict[tuple[str, str], np.ndarray] = {}
    for channel, metric, values in entries:
        array = np.asarray([_float(v) for v in values], dtype=float)
        if array.shape != (HOURS_PER_DAY,):
            raise StoreError(f"profile {channel}/{metric} has {array.size} hours, not {HOURS_PER_DAY}")
        hours[str(channel), str(metric)] = array
    return hours


def read_replication(path: str | os.PathLike[str], scenario: Any, key: str) -> dict[str, RunResult]:
    """The runs of one stored replication, by strategy in the scenario's order; :class:`StoreError` if the file
    is unreadable, of another run (``key`` is the :func:`identity` expected) or does not fit the scenario."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StoreError(f"{path}: not a {FORMAT} file")
    if document.get("identity") != key:
        raise StoreError(f"{path}: made by another scenario, seed or version of reachsim")
    match = _FILE.match(Path(path).name)
    replication = document.get("replication")
    if match is None or replication != int(match.group(1)):
        raise StoreError(f"{path}: its name and its replication ({replication!r}) differ")
    strategies = document.get("strategies")
    if not isinstance(strategies, dict) or list(strategies) != list(scenario.strategies):
        raise StoreError(f"{path}: its strategies are not the scenario's")
    try:
        return {s: _run(strategies[s], s, replication, scenario.horizon_days) for s in scenario.strategies}
    except StoreError as exc:
        raise StoreError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: malformed ({type(exc).__name__}: {exc})") from None


def stored_replications(
    folders: Iterable[str | os.PathLike[str]], scenario: Any, key: str, below: int
) -> dict[int, dict[str, RunResult]]:
    """Every usable stored replication with an index below ``below``, from the first of ``folders`` (run
    directories) that has it. Files that cannot be used are skipped: their replications run again."""
    found: dict[int, dict[str, RunResult]] = {}
    for folder in folders:
        store = Path(folder) / STORE
        if not store.is_dir():
            continue
        for path in sorted(store.iterdir()):
            match = _FILE.match(path.name)
            if match is None or int(match.group(1)) in found or int(match.group(1)) >= below:
                continue
            try:
                found[int(match.group(1))] = read_replication(path, scenario, key)
            except StoreError:
                continue
    return dict(sorted(found.items()))


def store_identity(folder: str | os.PathLike[str]) -> tuple[str, int] | None:
    """(identity, seed) of the first readable replication file in a run directory's store, or None."""
    store = Path(folder) / STORE
    if not store.is_dir():
        return None
    for path in sorted(store.iterdir()):
        if _FILE.match(path.name) is None:
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(document, dict) and document.get("format") == FORMAT:
            return str(document.get("identity")), document.get("seed")
    return None


# ---------------------------------------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------------------------------------


class NotResumable(ValueError):
    """A run directory made by another run: its replications cannot be continued (says how it was made)."""


def resumable(
    out: str | os.PathLike[str], staging: str | os.PathLike[str], scenario: Any, key: str
) -> dict[int, dict[str, RunResult]]:
    """The stored replications a run of ``scenario`` into ``out`` continues from: a killed run's, in its staging
    folder, and an interrupted one's, in ``out``. Those of ``staging`` that are not used are removed from it (the
    final files are written there, and must be of this run only).

    :class:`NotResumable` if ``out`` is a run directory made with another seed, by another scenario or version of
    reachsim, or without a store; a folder that does not exist yet continues from nothing."""
    out, staging = Path(out), Path(staging)
    summary_file = out / "summary.json"
    if summary_file.is_file():
        _check_made_alike(out, summary_file, scenario, key)
    below = scenario.replications
    staged = stored_replications([staging], scenario, key, below=below)
    for path in (staging / STORE).glob("*.json"):
        if not path.stem.isdigit() or int(path.stem) not in staged:
            path.unlink()
    return dict(sorted({**stored_replications([out], scenario, key, below=below), **staged}.items()))


def _check_made_alike(out: Path, summary_file: Path, scenario: Any, key: str) -> None:
    from reachsim import __version__

    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        summary = {}
    summary = summary if isinstance(summary, dict) else {}
    advice = "run without --resume to replace it, or choose another --out"
    if summary.get("seed") != scenario.seed:
        raise NotResumable(f"with seed {summary.get('seed')!r}, not {scenario.seed}: {advice}")
    made = store_identity(out)
    if made is None:
        raise NotResumable("without a per-replication store (by an earlier version of reachsim): there is nothing "
                           "to resume from; run without --resume to replace it")
    if made[0] != key:
        version = summary.get("reachsim_version")
        if version != __version__:
            why = f"by reachsim {version} (this is {__version__})"
        elif summary.get("scenario") != scenario.name:
            why = f"by another scenario ({str(summary.get('scenario'))!r})"
        else:
            why = "by another version of this scenario (its resolved scenario.yaml differs)"
        raise NotResumable(f"{why}: {advice}")
