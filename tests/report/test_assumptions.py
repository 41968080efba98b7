"""The report's Assumptions: every input with its source note and grade, the baseline's in full and the other
strategies' differences marked, then the provenance; old run directories without sources.json still render."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reachsim.report import REPORT_FILE, render_report
from reachsim.report.assumptions import Row, Source, assumptions, value_text
from reachsim.results.rundata import RunData
from reachsim.results.sources import Note
from tests.report.conftest import Page, copy_run


@pytest.fixture(scope="module")
def sourced(tmp_path_factory: pytest.TempPathFactory, sourced_run_dir: Path, monkeypatch_module) -> tuple[str, Page]:
    monkeypatch_module.setattr("reachsim.report.charts.render_charts", lambda data: [])  # the words only
    folder = copy_run(sourced_run_dir, tmp_path_factory.mktemp("assumptions") / "run")
    html = render_report(folder).read_text(encoding="utf-8")
    page = Page(html)
    assert page.errors == []
    return html, page


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def section(page: Page, html: str, name: str) -> str:
    """The visible text of the section with id ``name``."""
    body = html.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]
    return Page(f"<div>{body}</div>").text


def test_the_section_lists_shared_inputs_the_baseline_in_full_and_differences(sourced: tuple[str, Page]) -> None:
    html, page = sourced
    text = section(page, html, "assumptions")
    assert "Shared by every strategy" in text
    assert "market.size 6,000 assumption: a small market, for a quick run" in text
    assert "market: segment loyal, value_per_engagement 0.5 assumption: a fifth of the market loyal" in text
    assert "audience_value.run_out_days 10 assumption: a short run-out" in text
    # the baseline in full: noted values with their grades, unnoted ones and defaults said so
    assert "page_only (baseline)" in text
    assert "organic_reach 0.052 §2 Hootsuite: organic reach 5.2% (C) C" in text
    assert "boost.cpm 8.4 §3 AdStage Q1 2019: CPM $8.40 (B) B" in text
    assert "follow_probability 0.02 no source note" in text
    assert "relevance_uplift 0 default" in text
    # the other strategy: only what differs, marked, with the baseline's value; the new channel whole
    other = text.split("messenger_push — what differs from page_only", 1)[1]
    assert "organic_reach" not in other  # inherited unchanged: not repeated
    assert "≠ messenger_optin_probability 0.05 page_only: 0 assumption: one engaged person in twenty" in other
    assert "messenger not in the baseline" in other
    assert ("≠ engagement.probability 0.275 drawn per replication: uniform: low 0.15, high 0.4 "
            "§4 Octane AI: link CTR 15–60% (C) C") in other
    assert "≠ fixed_cost_per_month 30 §4 a tool's price list (A/B) A/B" in other
    assert "≠ from day 20: messenger pricing.outside_window 0.008 §1 Chatfuel: $8.1 per 1,000 (C) C" in other
    # the counts say how the listed values are sourced
    assert re.search(r"Of the values listed, \d+ cite a graded source \(A/B 1 · B 4 · C 3\); \d+ are assumptions, "
                     r"each with its reason; 1 is written without a source note; \d+ are reachsim's defaults", text)


def test_the_rows_are_a_table_marked_row_by_row(sourced: tuple[str, Page]) -> None:
    html, page = sourced
    tables = [attrs for tag, attrs in page.tags if tag == "table" and "assumptions" in (attrs.get("class") or "")]
    assert len(tables) == 3  # shared, the baseline, the other strategy
    baseline, other = html.split('<section id="assumptions">', 1)[1].split("what differs from page_only", 1)
    assert 'class="differs"' not in baseline
    other = other.split("</section>", 1)[0]
    rows = re.findall(r"<tr( class=\"\w+\")?>", other.split("</thead>", 1)[1])
    marked = [r for r in rows if r == ' class="differs"']
    assert len(marked) > 10 and set(rows) == {' class="group"', ' class="differs"'}  # every input row marked
    assert 'class="grade grade-A"' in html and "grade grade-C" in html


def test_note_text_is_escaped(sourced: tuple[str, Page]) -> None:
    html, page = sourced
    assert "<script>" not in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt; &amp; co" in html
    assert "§2 <script>alert(3)</script> & co (B)" in page.text


def test_provenance_follows(sourced: tuple[str, Page], sourced_run_dir: Path) -> None:
    html, page = sourced
    summary = json.loads((sourced_run_dir / "summary.json").read_text(encoding="utf-8"))
    text = section(page, html, "provenance")
    for needle in ("reachsim version", "seed 3", "replications 2", "horizon 40 days",
                   "run-out 10 days without paid media", "sources sources.json", summary["scenario_sha256"],
                   "no clock time is kept"):
        assert needle in text, needle
    assert html.index('<section id="assumptions">') < html.index('<section id="provenance">')


def test_a_run_directory_without_sources_still_renders_its_inputs(run_dir: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr("reachsim.report.charts.render_charts", lambda data: [])
    folder = copy_run(run_dir, tmp_path / "old")
    assert not (folder / "sources.json").exists()  # made in code, without notes: as before sources.json existed
    html = render_report(folder).read_text(encoding="utf-8")
    page = Page(html)
    text = section(page, html, "assumptions")
    assert "The sources of these inputs were not recorded" in text
    assert "market.size 10,000" in text and "initial_fans 2,000" in text
    assert "<th>source</th>" not in html.split('<section id="assumptions">', 1)[1]
    assert "sources not recorded" in section(page, html, "provenance")


def test_an_unreadable_scenario_yaml_leaves_the_section_out(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import hashlib

    monkeypatch.setattr("reachsim.report.charts.render_charts", lambda data: [])
    folder = copy_run(run_dir, tmp_path / "odd")
    (folder / "scenario.yaml").write_text("- a list\n", encoding="utf-8")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary["scenario_sha256"] = hashlib.sha256(b"- a list\n").hexdigest()
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    html = (render_report(folder)).read_text(encoding="utf-8")
    assert '<section id="assumptions">' not in html and '<section id="provenance">' in html
    assert (folder / REPORT_FILE).is_file()


# -- the layout, from data ---------------------------------------------------------------------------------------


def run_data(scenario: dict[str, Any], notes: dict[str, Note | None] | None) -> RunData:
    strategies = {name: {"metrics": {}} for name in scenario["strategies"]}
    summary = {"scenario": "x", "horizon_days": 10, "strategies": strategies, "baseline": scenario.get("baseline")}
    return RunData(Path("."), summary, {}, scenario=scenario, sources=notes)


def channel(**values: Any) -> dict[str, Any]:
    return {"type": "page", **values}


def rows(group: Any) -> dict[str, Row]:
    return {row.key: row for row in group.rows}


def test_differences_are_by_channel_name_and_key() -> None:
    scenario = {
        "market": {"size": 10},
        "baseline": "a",
        "strategies": {
            "a": {"channels": [channel(x=1, y={"z": 2}), {"type": "app", "w": 5}],
                  "timeline": [{"day": 3, "channel": "page", "set": {"x": 2}}]},
            "b": {"channels": [channel(x=1, y={"z": 3})], "timeline": []},
            "c": {"channels": [{"type": "app", "w": 5}, channel(x=1, y={"z": 2}), {"type": "support", "k": 1}],
                  "timeline": [{"day": 3, "channel": "page", "set": {"x": 2}}]},
        },
    }
    laid = assumptions(run_data(scenario, None), lambda name: "#000")
    assert laid is not None and not laid.recorded and laid.tally == []
    a, b, c = laid.strategies
    assert a.baseline and [g.title for g in a.groups] == ["page", "app", "Timeline"]
    assert rows(a.groups[0])["y.z"].baseline is None
    # b: page's y.z changed; app dropped; the dated change missing (the timeline comes last)
    assert [(g.title, g.remark) for g in b.groups] == [
        ("page", ""), ("app", "not in this strategy"), ("Timeline", "none of the baseline's dated changes")]
    assert rows(b.groups[0]) == {"y.z": Row("y.z", "y.z", "3", "", Source("unrecorded"), baseline="2")}
    assert b.groups[1].rows == [] and b.groups[2].rows == []
    # c: the same page and app in another order (as in the baseline: not listed), support added
    assert c.unchanged == ["app", "page"]
    assert [(g.title, g.remark) for g in c.groups] == [("support", "not in the baseline")]
    assert rows(c.groups[0])["k"].baseline is None


def test_sources_by_kind_and_their_tally() -> None:
    scenario = {
        "discount_rate": 0.1, "horizon_days": 30, "seed": 1,
        "market": {"size": 10},
        "uncertainty": [{"path": "channels.page.x", "dist": "uniform", "low": 1, "high": 3}],
        "strategies": {"a": {"channels": [channel(x=2, y=1, z=1, w=1)]}},
    }
    notes = {
        "discount_rate": Note("§3 s (B)", "B", False),
        "market.size": Note("assumption: why", None, True),
        "strategies.a.channels[0].y": Note("a remark", None, False),
        "strategies.a.channels[0].z": None,
        "strategies.a.channels[0].type": None,
        "uncertainty[0].dist": Note("§4 a range (C); assumed shape", "C", True),
    }
    laid = assumptions(run_data(scenario, notes), lambda name: "#000")
    assert laid is not None and laid.recorded
    shared = rows(laid.shared)
    assert set(shared) == {"discount_rate", "market.size"}  # horizon and seed are the run's settings
    assert shared["discount_rate"].source == Source("cited", "§3 s (B)", "B", False)
    assert shared["market.size"].source == Source("assumption", "assumption: why", None, True)
    page = rows(laid.strategies[0].groups[0])
    assert page["x"].varies == "uniform: low 1, high 3"
    assert page["x"].source == Source("cited", "§4 a range (C); assumed shape", "C", True)  # the entry's note
    assert page["y"].source.kind == "uncited" and page["z"].source.kind == "missing"
    assert page["w"].source.kind == "default"
    assert laid.tally == [
        "2 cite a graded source (B 1 · C 1)",
        "1 is an assumption, with its reason",
        "1 has a note that cites no graded source",
        "1 is written without a source note",
        "1 is one of reachsim's defaults (not set in the scenario file)",
    ]


@pytest.mark.parametrize(("value", "text"), [(200000, "200,000"), (0.0025, "0.0025"), (8.0, "8"), (True, "true"),
                                             ("market", "market"), (1234.5, "1,234.5"), (None, "—")])
def test_values_read_as_written(value: Any, text: str) -> None:
    assert value_text(value) == text
