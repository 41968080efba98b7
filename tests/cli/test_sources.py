"""sources.json: a run keeps the source note of every input, per strategy after `extends`, beside the resolved
scenario that lost them; running that scenario again keeps them too."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from reachsim.cli import main
from reachsim.results import sources
from reachsim.results.rundata import read_run_dir
from reachsim.scenario.notes import Note


@pytest.fixture(scope="module")
def sourced_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.cli.conftest import SMALL_SCENARIO

    folder = tmp_path_factory.mktemp("sourced")
    (folder / "small.yaml").write_text(SMALL_SCENARIO, encoding="utf-8")
    assert main(["run", str(folder / "small.yaml"), "--out", str(folder / "out"), "--quiet", "--no-report",
                 "--replications", "2"]) == 0
    return folder / "out"


def values(folder: Path) -> dict[str, dict | None]:
    document = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
    return document["values"]


def test_a_run_keeps_the_notes_of_its_inputs(sourced_run: Path) -> None:
    document = json.loads((sourced_run / "sources.json").read_text(encoding="utf-8"))
    summary = json.loads((sourced_run / "summary.json").read_text(encoding="utf-8"))
    assert document["format"] == "reachsim.sources/1"
    assert document["scenario_sha256"] == summary["scenario_sha256"]
    notes = document["values"]
    assert notes["market.size"] == {"note": "assumption: small, for quick runs", "grade": None, "assumption": True}
    paid = "channels[0].acquisition.paid.cost_per_subscriber"
    for strategy in ("push_free", "push_charged", "push_twice_weekly"):  # inherited: the parent's note
        assert notes[f"strategies.{strategy}.{paid}"]["grade"] == "B"
    assert notes["strategies.push_twice_weekly.channels[0].broadcasts.every_days"]["note"] == "assumption: twice a week"
    assert notes["strategies.push_free.channels[0].broadcasts.every_days"] is None  # written, without a note
    assert notes["strategies.push_charged.timeline[0].set.pricing.outside_window"] is None
    assert "strategies.push_free.channels[0].relevance_uplift" not in notes  # a default: not written
    # every path is one of the resolved scenario's
    resolved = yaml.safe_load((sourced_run / "scenario.yaml").read_text(encoding="utf-8"))
    from reachsim.core.paths import MISSING, get_in, parse_path

    loose = [p for p in notes if "timeline" not in p and get_in(resolved, parse_path(p)) is MISSING]
    assert loose == []


def test_the_report_reads_them_back(sourced_run: Path) -> None:
    data = read_run_dir(sourced_run)
    assert data.sources is not None
    assert data.sources["market.size"] == Note("assumption: small, for quick runs", None, True)
    assert data.scenario is not None and data.scenario["strategies"]["push_free"]["channels"][0]["type"] == "messenger"


def test_running_the_resolved_scenario_again_keeps_the_notes(sourced_run: Path, tmp_path: Path) -> None:
    """scenario.yaml has no comments: the notes come from the sources.json made for it, so the files are the
    same (tests/cli/test_rundir_contract.py compares the whole folders)."""
    again = tmp_path / "again"
    assert main(["run", str(sourced_run / "scenario.yaml"), "--out", str(again), "--quiet", "--no-report"]) == 0
    assert (again / "sources.json").read_bytes() == (sourced_run / "sources.json").read_bytes()
    # with another seed, the notes are the same, made for the new scenario.yaml
    other = tmp_path / "other"
    assert main(["run", str(sourced_run / "scenario.yaml"), "--out", str(other), "--quiet", "--no-report",
                 "--seed", "99"]) == 0
    assert values(other) == values(sourced_run)
    sha = hashlib.sha256((other / "scenario.yaml").read_bytes()).hexdigest()
    assert json.loads((other / "sources.json").read_text())["scenario_sha256"] == sha


def test_an_edited_scenario_yaml_uses_its_own_notes(sourced_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "edited"
    folder.mkdir()
    text = (sourced_run / "scenario.yaml").read_text(encoding="utf-8").replace("size: 3000", "size: 2000  # (A)")
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    (folder / "sources.json").write_bytes((sourced_run / "sources.json").read_bytes())
    notes = sources.sources_for(folder / "scenario.yaml")
    assert notes is not None and notes["market.size"] == Note("(A)", "A", False)
    assert notes["discount_rate"] is None  # the kept notes were for the other text


def test_json_runs_record_unnoted_values_and_toml_runs_record_none(tmp_path: Path) -> None:
    from tests.cli.conftest import SMALL_SCENARIO

    data = yaml.safe_load(SMALL_SCENARIO)
    (tmp_path / "small.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["run", str(tmp_path / "small.json"), "--out", str(tmp_path / "json"), "--quiet", "--no-report",
                 "--replications", "1"]) == 0
    assert set(values(tmp_path / "json").values()) == {None}
    assert sources.sources_for(tmp_path / "any.toml") is None


def test_a_run_without_notes_removes_stale_ones(sourced_run: Path, tmp_path: Path) -> None:
    """write_run_files without notes (a run from code, say) into a folder holding a sources.json removes it: it
    would describe another run's scenario."""
    from reachsim.experiments.runner import run_experiment
    from reachsim.results.rundir import write_run_files
    from reachsim.scenario.load import load_scenario, with_overrides

    folder = tmp_path / "staging"
    folder.mkdir()
    (folder / "sources.json").write_bytes((sourced_run / "sources.json").read_bytes())
    scenario = with_overrides(load_scenario(sourced_run / "scenario.yaml"), replications=1)
    write_run_files(run_experiment(scenario), folder)
    assert not (folder / "sources.json").exists()
    assert read_run_dir(folder).sources is None


def test_document_and_parse_round_trip() -> None:
    notes = {"a.b": Note("§3 x (B)", "B", False), "c[0].d": None, "e": Note("assumption: y", None, True)}
    text = sources.document(notes, "name: x\n")
    assert sources.parse(text.encode(), hashlib.sha256(b"name: x\n").hexdigest()) == notes
    with pytest.raises(ValueError, match=r"written for another scenario\.yaml"):
        sources.parse(text.encode(), "0" * 64)
