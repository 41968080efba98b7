"""The run directory: summary.json, timeseries.csv, scenario.yaml, sources.json and the per-replication store (see
docs/run-directory.md for the contract)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reachsim.experiments.runner import ExperimentResult
from reachsim.results import sources as sources_file
from reachsim.results import store
from reachsim.results.atomic import write_text
from reachsim.results.folder import OutputFolder
from reachsim.scenario.load import resolved_yaml
from reachsim.scenario.notes import Note

TIMESERIES_COLUMNS = ("strategy", "channel", "day", "metric", "mean", "p05", "p95")


def _num(x: float) -> str:
    """A value of timeseries.csv: 12 significant digits; empty where there is no value (NaN: a mean on a day
    without weight in any replication, say)."""
    return format(x, ".12g") if math.isfinite(x) else ""


def summary_document(
    result: ExperimentResult, scenario_text: str, precision: dict[str, Any] | None = None
) -> dict[str, Any]:
    """summary.json: provenance, then the summaries; a precision-driven run adds ``precision`` (its target, the
    cap, what stopped it and the half-widths it reached)."""
    document = {**provenance(result.scenario, scenario_text, result.replications, result.interrupted)}
    if precision is not None:
        document["precision"] = precision
    return {**document, **result.summary()}


def provenance(scenario: Any, scenario_text: str, replications: int, interrupted: bool) -> dict[str, Any]:
    """What produced a result: version, scenario and its hash (of the resolved text written beside it), seed,
    replications completed and requested, horizon and discount rate."""
    from reachsim import __version__

    return {
        "reachsim_version": __version__,
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(scenario_text.encode("utf-8")).hexdigest(),
        "seed": scenario.seed,
        "replications": replications,
        "replications_requested": scenario.replications,
        "interrupted": interrupted,
        "horizon_days": scenario.horizon_days,
        "discount_rate": scenario.discount_rate,
        "audience_value": {"run_out_days": scenario.audience_value.run_out_days},
    }


def timeseries_csv(result: ExperimentResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TIMESERIES_COLUMNS)
    for strategy, channel, day, metric, mean, p05, p95 in result.timeseries_rows():
        writer.writerow((strategy, channel, day, metric, _num(mean), _num(p05), _num(p95)))
    return buf.getvalue()


def write_run_files(
    result: ExperimentResult,
    folder: str | os.PathLike[str],
    *,
    precision: dict[str, Any] | None = None,
    sources: Mapping[str, Note | None] | None = None,
) -> Path:
    """Write a run directory's files into ``folder`` as they are, each atomically: scenario.yaml, sources.json
    (with ``sources``, the notes of the inputs by dotted path: :func:`reachsim.results.sources.sources_for`; without,
    an earlier one is removed), timeseries.csv, the store's replications that are not there yet and its
    metrics.csv, then summary.json (last: its presence means the folder is complete). Every text is made before the
    first file is written."""
    folder = Path(folder)
    scenario = result.scenario
    scenario_text = resolved_yaml(scenario)
    files = {"scenario.yaml": scenario_text}
    if sources is not None:
        files[sources_file.FILE] = sources_file.document(sources, scenario_text)
    files.update({
        "timeseries.csv": timeseries_csv(result),
        f"{store.STORE}/{store.TABLE}": store.metrics_table(result),
        "summary.json": json.dumps(summary_document(result, scenario_text, precision), indent=2, allow_nan=False)
        + "\n",
    })
    if sources is None:
        (folder / sources_file.FILE).unlink(missing_ok=True)  # notes of another run's scenario
    complete = [{s: result.runs[s][i] for s in scenario.strategies} for i in range(result.replications)]
    missing = [runs for runs in complete if not store.replication_path(folder, _index(runs)).exists()]
    if missing:
        key = store.identity(scenario)
        for runs in missing:
            store.write_replication(folder, scenario, key, _index(runs), runs)
    for name, text in files.items():
        write_text(folder / name, text)
    return folder


def _index(runs: dict[str, Any]) -> int:
    return next(iter(runs.values())).replication


def write_run_dir(
    result: ExperimentResult, out: str | os.PathLike[str], *, sources: Mapping[str, Note | None] | None = None
) -> Path:
    """Write the run directory ``out`` whole (what ``reachsim run`` writes, but the report): the files are made
    in a folder beside it, which then replaces ``out`` (see :mod:`reachsim.results.folder`). ``sources``: the
    notes of the scenario file's inputs, ``sources_for(path)`` (:mod:`reachsim.results.sources`). Returns
    ``out``."""
    with OutputFolder(out) as folder:
        write_run_files(result, folder.fresh(), sources=sources)
        folder.commit()
    return Path(out)


def read_summary(folder: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
