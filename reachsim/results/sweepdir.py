"""The sweep folder: sweep.json, sweep.csv and scenario.yaml, written atomically (the chart is the report's).

``sweep.json`` carries the provenance of summary.json (version, scenario, hash of the resolved scenario, seed,
replications) and the swept parameter, then ``points`` (strategy metrics at each value), ``marginal`` (the
paired change per unit of the parameter between consecutive values, with 95% CIs) and ``best`` (per strategy,
the value with the highest mean NPV). ``sweep.csv`` holds the points in long format.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from reachsim.experiments.sweep import SweepResult
from reachsim.results.atomic import write_text
from reachsim.results.rundir import provenance
from reachsim.scenario.load import resolved_yaml

SWEEP_FILE = "sweep.json"
CSV_FILE = "sweep.csv"
SCENARIO_FILE = "scenario.yaml"
CSV_COLUMNS = ("value", "strategy", "metric", "mean", "p05", "p95")
#: The chart's files (made by reachsim.report.sweep_chart; named here so they can be removed without matplotlib).
CHART_FILES = ("sweep.png", "sweep.svg")


def _num(x: float | None) -> str:
    return "" if x is None else format(x, ".12g")


def sweep_document(result: SweepResult, scenario_text: str) -> dict[str, Any]:
    """The content of sweep.json; ``scenario_text`` is the resolved base scenario (scenario.yaml)."""
    scenario = result.scenario
    return {
        **provenance(scenario, scenario_text, result.replications, result.interrupted),
        "baseline": scenario.baseline,
        "strategies": result.strategies,
        "parameter": result.path,
        "varies_in": list(result.varies_in),
        "values": list(result.values),
        **result.summary(),
    }


def sweep_csv(document: dict[str, Any]) -> str:
    """Long format: one row per value, strategy and metric."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for point in document["points"]:
        for strategy, metrics in point["strategies"].items():
            for metric, band in metrics.items():
                row = (_num(point["value"]), strategy, metric, _num(band["mean"]), _num(band["p05"]), _num(band["p95"]))
                writer.writerow(row)
    return buf.getvalue()


def write_sweep_dir(result: SweepResult, out: str | os.PathLike[str]) -> Path:
    """Write scenario.yaml, sweep.csv and then sweep.json (its presence means the folder is complete), each
    atomically; every text is made before the first file is written. Returns the folder."""
    folder = Path(out)
    scenario_text = resolved_yaml(result.scenario)
    document = sweep_document(result, scenario_text)
    files = {
        SCENARIO_FILE: scenario_text,
        CSV_FILE: sweep_csv(document),
        SWEEP_FILE: json.dumps(document, indent=2, allow_nan=False) + "\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_text(folder / name, text)
    return folder


def read_sweep(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """sweep.json of a sweep folder."""
    return json.loads((Path(folder) / SWEEP_FILE).read_text(encoding="utf-8"))


def clear_chart(folder: str | os.PathLike[str]) -> None:
    """Remove the chart of an earlier sweep in ``folder`` (it would describe other numbers than the files)."""
    for name in CHART_FILES:
        (Path(folder) / name).unlink(missing_ok=True)
