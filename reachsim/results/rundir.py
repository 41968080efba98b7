"""The run directory: summary.json, timeseries.csv and scenario.yaml (see docs/design.md for the contract)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from reachsim.experiments.runner import ExperimentResult
from reachsim.results.atomic import write_text
from reachsim.scenario.load import resolved_yaml

TIMESERIES_COLUMNS = ("strategy", "channel", "day", "metric", "mean", "p05", "p95")


def _num(x: float) -> str:
    return format(x, ".12g")


def summary_document(result: ExperimentResult, scenario_text: str) -> dict[str, Any]:
    return {**provenance(result.scenario, scenario_text, result.replications, result.interrupted), **result.summary()}


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


def write_run_dir(result: ExperimentResult, out: str | os.PathLike[str]) -> Path:
    """Write the run directory; every file atomically. Returns the folder."""
    # Every text is made before any file is written: a failure while making one (a value JSON cannot hold,
    # say) leaves an earlier run directory at the same place as it was, not half replaced.
    folder = Path(out)
    scenario_text = resolved_yaml(result.scenario)
    files = {
        "scenario.yaml": scenario_text,
        "timeseries.csv": timeseries_csv(result),
        "summary.json": json.dumps(summary_document(result, scenario_text), indent=2, allow_nan=False) + "\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():  # summary.json last: its presence means the run directory is complete
        write_text(folder / name, text)
    return folder


def read_summary(folder: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
