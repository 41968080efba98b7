"""The shipped scenarios are the product's face: each validates, says what it asks and how to read the answer, and
every number in it has a source note (a graded row of the reference table, or an assumption with its reason).

They are run, at a reduced size, by tests/regression/test_seeded_outputs.py (every file in scenarios/).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from reachsim.core.paths import format_path, is_number
from reachsim.scenario import sources_doc
from reachsim.scenario.load import load_scenario
from reachsim.scenario.notes import source_notes

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
#: Run settings rather than facts about the world: they frame the question and need no source.
EXEMPT_KEYS = frozenset({"seed", "replications", "horizon_days"})


def unsourced_numbers(text: str) -> list[str]:
    """Paths of the numbers in a scenario text whose own line's note cites no graded source and says no
    "assumption" (a comment on a parent key sources nothing: the number beside the comment is the one it vouches
    for)."""
    notes = source_notes(text, inherit=False)
    missing = []

    def walk(value: object, loc: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, (*loc, key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, (*loc, i))
        elif is_number(value) and not (len(loc) == 1 and loc[0] in EXEMPT_KEYS):
            note = notes.get(loc)
            if note is None or not (note.grade or note.assumption):
                missing.append(format_path(loc))

    walk(yaml.safe_load(text), ())
    return missing


def test_the_expected_scenarios_are_shipped() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "flagship",
        "messenger_push",
        "paid_to_owned",
        "data_and_consent",
        "support_automation",
        "messenger_replaces",
        "page_reach_decline",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_validates_without_warnings(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scenario = load_scenario(path)
    assert scenario.description.strip()
    assert scenario.baseline in scenario.strategies


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_number_in_a_shipped_scenario_has_a_source_note(path: Path) -> None:
    missing = unsourced_numbers(path.read_text(encoding="utf-8"))
    assert not missing, (
        f"{path.name}: numbers without a source note (a trailing comment citing a graded row, e.g. "
        f"'# §3 AdStage Q1 2019: CPM $8.40 (B)', or '# assumption: <why>'): {', '.join(missing)}"
    )


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_header_says_the_question_and_how_to_read_the_answer(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line.lstrip("# ").strip())
    text = " ".join(header)
    question = " ".join(header[: header.index("")] if "" in header else header)
    assert question.endswith("?"), f"{path.name}: the first paragraph should ask the scenario's question"
    assert "How to read the answer" in text or "how to read" in text.lower(), f"{path.name}: say how to read it"


def test_a_number_without_a_note_is_caught() -> None:
    text = (
        "horizon_days: 30\n"
        "market:\n"
        "  size: 1000                 # assumption: small\n"
        "  segments:\n"
        "    - {name: a, share: 1.0}\n"
        "discount_rate: 0.08          # a comment that cites nothing\n"
        "price: 0.01                  # §1 a vendor test (C)\n"
    )
    assert unsourced_numbers(text) == ["market.segments[0].share", "discount_rate"]


def test_a_comment_on_a_parent_key_sources_no_number_beneath_it() -> None:
    text = (
        "market:                      # assumption: a regional market\n"
        "  size: 1000\n"
        "  segments:                  # assumption: a fifth loyal\n"
        "    - {name: a, share: 0.2, value_per_engagement: 0.5}\n"
        "    - {name: b, share: 0.8}  # assumption: the rest casual\n"
        "    - name: c                # assumption: an item's first line\n"
        "      share: 0.0\n"
        "cost: {low: 1, high: 2}      # §8 Gartner 2019: $0.10 (A/B)\n"
        "spread:\n"
        "  - 3                        # assumption: one per line\n"
        "  - 4\n"
    )
    assert unsourced_numbers(text) == [
        "market.size",
        "market.segments[0].share",
        "market.segments[0].value_per_engagement",
        "market.segments[2].share",
        "spread[1]",
    ]


# -- docs/sources.md ---------------------------------------------------------------------------------------------


def test_sources_doc_is_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert not sources_doc.stale(), (
        f"docs/sources.md no longer matches the scenarios' source notes: run `{sources_doc.REGENERATE}` from the "
        "repository root and commit the result"
    )


def test_sources_doc_check_mode_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "a.yaml").write_text(
        "market:\n  size: 10    # §3 AdStage Q1 2019: CPM $8.40 (B)\ndiscount_rate: 0.1   # assumption: why\n"
    )
    out = tmp_path / "sources.md"
    args = ["--scenarios", str(scenarios), "--out", str(out)]
    assert sources_doc.main(args) == 0
    text = out.read_text()
    assert "## §3" in text and "| AdStage Q1 2019 | B | CPM $8.40 |" in text and "| assumption: why |" in text
    assert sources_doc.main([*args, "--check"]) == 0
    (scenarios / "a.yaml").write_text("market:\n  size: 10    # §8 Gartner 2019: $0.10 (A/B)\n")
    assert sources_doc.main([*args, "--check"]) == 1
    assert sources_doc.REGENERATE in capsys.readouterr().err


def test_citations_are_read_by_section_source_figure_and_grade() -> None:
    cites = sources_doc.citations(
        "§3 WordStream: CTR 0.90% (B) – §3 AdStage Q1 2019: CTR 1.33% (B), times half of clickers (assumption); "
        "high: §4 indigo.ai: chatbot push CTR 40% (C)"
    )
    assert cites == [
        sources_doc.Citation(3, "WordStream", "CTR 0.90%", "B"),
        sources_doc.Citation(3, "AdStage Q1 2019", "CTR 1.33%", "B"),
        sources_doc.Citation(4, "indigo.ai", "chatbot push CTR 40%", "C"),
    ]


def test_a_citation_keeps_earlier_parentheses_in_its_figure_and_takes_the_last_grade() -> None:
    assert sources_doc.citations("§2 Hootsuite series: 5.2% of followers (2020) (C)") == [
        sources_doc.Citation(2, "Hootsuite series", "5.2% of followers (2020)", "C")
    ]
    cites = sources_doc.citations(
        "§2 Hootsuite series: 7.7% (2018) – 5.2% (2020) (C); low: §2 Later estimates: 2.2% (D); "
        "§2 EdgeRank Checker: 16% (Feb 2012) (B) (A/B), then halved (assumption); cpm: §3 AdStage Q1 2019 (B)"
    )
    assert cites == [
        sources_doc.Citation(2, "Hootsuite series", "7.7% (2018) – 5.2% (2020)", "C"),
        sources_doc.Citation(2, "Later estimates", "2.2%", "D"),
        sources_doc.Citation(2, "EdgeRank Checker", "16% (Feb 2012) (B)", "A/B"),
        sources_doc.Citation(3, "AdStage Q1 2019", "", "B"),
    ]


def test_a_citation_ends_at_a_semicolon_and_needs_a_grade() -> None:
    assert sources_doc.citations("§2 Hootsuite series: 5.2% (2020); high: a blog (C)") == []
    assert sources_doc.citations("days: assumption (§5 scholarlyoa: 6–8 months (D))") == [
        sources_doc.Citation(5, "scholarlyoa", "6–8 months", "D")
    ]


def test_a_note_with_a_dated_figure_is_listed_in_the_sources_doc(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("page:\n  organic_reach: 0.052   # §2 Hootsuite series: 5.2% (2020) (C)\n")
    text = sources_doc.render_sources(tmp_path)
    assert "| Hootsuite series | C | 5.2% (2020) | [a.yaml](../scenarios/a.yaml): `page.organic_reach` |" in text
