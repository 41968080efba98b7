"""Source notes of the resolved scenario: what a run keeps in sources.json. Values a strategy inherits keep their
parent's note, its own values have theirs, a distribution's note goes with the number in its place and with its
uncertainty entry, and every location is one of the resolved scenario's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from reachsim.core.paths import MISSING, format_path, get_in
from reachsim.scenario.load import load_scenario, resolved_yaml
from reachsim.scenario.notes import Note, source_notes
from reachsim.scenario.resolved_notes import scenario_notes

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

FAMILY = textwrap.dedent(
    """\
    name: family
    horizon_days: 30
    market:
      size: 1000                          # assumption: small
    strategies:
      parent:
        channels:
          - type: page                    # the parent's page (C)
            initial_fans: 100             # assumption: a start
            organic_reach: 0.05
            engagement: {probability: 0.02}   # §2 a benchmark (B)
          - type: messenger
            initial_subscribers: 10       # §4 parent's own (A)
            broadcasts: {every_days: 7}   # assumption: weekly
            engagement:
              probability: {dist: uniform, low: 0.1, high: 0.3}   # §4 a range (C)
        timeline:
          - {day: 10, channel: page, set: {organic_reach: 0.04}}   # §2 a decline (B)
      child:
        extends: parent
        channels:
          - type: page                    # the child's page line (D)
            initial_fans: 200             # assumption: a bigger start
          - {type: messenger, remove: true}
          - type: app
            build: {cost: 1000, days: 10}   # §5 a build cost (B)
            maintenance: {cost_per_year: 100}
            acquisition: {organic_per_day: 1}
            retention: {day_1: 0.3, day_30: 0.1}   # §6 retention (A)
        timeline:
          - {day: 20, channel: page, set: {organic_reach: 0.03}}   # assumption: further decline
      grandchild:
        extends: child
        channels:
          - type: page
            organic_reach: 0.06           # §2 grandchild's (A/B)
    """
)


@pytest.fixture
def family(tmp_path: Path) -> dict[str, Note | None]:
    path = tmp_path / "family.yaml"
    path.write_text(FAMILY, encoding="utf-8")
    notes = scenario_notes(path)
    assert notes is not None
    return {format_path(loc): note for loc, note in notes.items()}


def text(note: Note | None) -> str | None:
    return None if note is None else note.text


def test_inherited_values_keep_the_parents_note_and_own_values_have_theirs(family) -> None:
    assert text(family["strategies.child.channels[0].initial_fans"]) == "assumption: a bigger start"
    # not overridden: the parent's note, not the one on the child's `- type: page` line
    assert text(family["strategies.child.channels[0].engagement.probability"]) == "§2 a benchmark (B)"
    assert text(family["strategies.child.channels[0].organic_reach"]) == "the parent's page (C)"
    assert text(family["strategies.child.channels[0].type"]) == "the child's page line (D)"
    # a chain: the grandchild's own value, its parent's, its grandparent's
    assert family["strategies.grandchild.channels[0].organic_reach"].grade == "A/B"
    assert text(family["strategies.grandchild.channels[0].initial_fans"]) == "assumption: a bigger start"
    assert text(family["strategies.grandchild.channels[0].engagement.probability"]) == "§2 a benchmark (B)"


def test_added_removed_channels_and_timelines_follow_the_resolved_strategy(family) -> None:
    # the child drops messenger: its app is its second channel
    assert family["strategies.child.channels[1].type"] is None
    assert family["strategies.child.channels[1].retention.day_30"].grade == "A"
    assert family["strategies.child.channels[1].maintenance.cost_per_year"] is None  # written without a note
    assert not any(k.startswith("strategies.child.channels[2]") for k in family)
    assert text(family["strategies.child.timeline[0].set.organic_reach"]) == "§2 a decline (B)"
    assert text(family["strategies.child.timeline[1].set.organic_reach"]) == "assumption: further decline"
    assert text(family["strategies.grandchild.timeline[1].day"]) == "assumption: further decline"


def test_a_distribution_gives_its_note_to_its_number_and_its_uncertainty_entry(family, tmp_path: Path) -> None:
    assert family["strategies.parent.channels[1].engagement.probability"].grade == "C"
    path = tmp_path / "family.yaml"
    entries = load_scenario(path).uncertainty
    assert [e.path for e in entries] == ["strategies.parent.channels[1].engagement.probability"]
    assert family["uncertainty[0].low"].grade == "C" and family["uncertainty[0].dist"].grade == "C"
    assert "uncertainty[0].path" not in family  # made by loading, not written


def test_defaults_are_left_out_and_unnoted_values_are_none(family) -> None:
    assert "seed" not in family and "strategies.parent.channels[0].posts.per_week" not in family
    assert family["horizon_days"] is None and family["name"] is None
    assert family["market.size"] == Note("assumption: small", None, True)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_noted_location_is_a_value_of_the_resolved_scenario(path: Path) -> None:
    notes = scenario_notes(path)
    assert notes
    resolved = yaml.safe_load(resolved_yaml(load_scenario(path)))
    missing = [format_path(loc) for loc in notes if get_in(resolved, loc) is MISSING]
    assert missing == []
    # where nothing is inherited or moved (the top level, strategies that extend none), the notes are the file's
    text = path.read_text(encoding="utf-8")
    raw, written = yaml.safe_load(text), source_notes(text)
    bases = {name for name, body in raw["strategies"].items() if "extends" not in body}
    same = [loc for loc in notes if loc[0] not in ("strategies", "uncertainty") or loc[1] in bases]
    assert len(same) > 10
    for loc in same:  # a distribution written in place of the number: the note on its line
        expected = written.get((*loc, "dist") if isinstance(get_in(raw, loc), dict) else loc)
        assert notes[loc] == expected, format_path(loc)


def test_json_has_no_notes_and_toml_is_not_read(tmp_path: Path) -> None:
    data = yaml.safe_load(FAMILY)
    (tmp_path / "f.json").write_text(json.dumps(data), encoding="utf-8")
    notes = scenario_notes(tmp_path / "f.json")
    assert notes and set(notes.values()) == {None}
    (tmp_path / "f.toml").write_text('name = "x"\n', encoding="utf-8")
    assert scenario_notes(tmp_path / "f.toml") is None
