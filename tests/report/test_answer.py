"""The report's answer and its note on uncertain inputs say only what the run directory supports."""

from __future__ import annotations

import json
from pathlib import Path

from reachsim.report import REPORT_FILE, render_report
from tests.report.conftest import copy_run

COUNTING = "Counting the audience it built"


def _text(folder: Path) -> str:
    render_report(folder)
    return (folder / REPORT_FILE).read_text(encoding="utf-8")


def test_the_answer_counts_the_audience_value_when_one_was_built(sourced_run_dir: Path, tmp_path: Path) -> None:
    summary = json.loads((sourced_run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["strategies"]["page_only"]["metrics"]["audience_value_at_horizon"]["mean"] != 0
    assert COUNTING in _text(copy_run(sourced_run_dir, tmp_path / "run"))


def test_the_answer_says_nothing_of_an_audience_value_that_is_zero_everywhere(
    sourced_run_dir: Path, tmp_path: Path
) -> None:
    # a support-only scenario has no audience: its run-out is worth exactly 0 in every strategy
    folder = copy_run(sourced_run_dir, tmp_path / "run")
    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    for body in summary["strategies"].values():
        body["metrics"]["audience_value_at_horizon"] = {"mean": 0.0, "p05": 0.0, "p95": 0.0}
    path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    text = _text(folder)
    assert COUNTING not in text
    assert "earns" in text  # the answer itself is still there


def test_the_note_on_uncertain_inputs_explains_per_strategy_keys(sourced_run_dir: Path, tmp_path: Path) -> None:
    text = _text(copy_run(sourced_run_dir, tmp_path / "run"))
    assert "the same value in every strategy of a replication" not in text
    assert "at the same quantile in every strategy of a replication" in text
    assert "strategies.&lt;strategy&gt;.&lt;input&gt;" in text
