"""Source notes: the trailing comment of each value (or of its nearest ancestor key), its grade and assumption flag."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from reachsim.scenario.notes import Note, parse_grade, source_notes


def notes_of(text: str) -> dict[tuple[str | int, ...], Note]:
    return source_notes(textwrap.dedent(text))


def test_a_value_takes_the_comment_on_its_own_line() -> None:
    notes = notes_of(
        """\
        name: x                       # the title
        market:
          size: 200000                # assumption: a regional market
        discount_rate: 0.08           # §3 somewhere: 8% (B)
        """
    )
    assert notes[("market", "size")] == Note("assumption: a regional market", None, True)
    assert notes[("discount_rate",)] == Note("§3 somewhere: 8% (B)", "B", False)
    assert notes[("name",)].text == "the title"


def test_a_value_without_a_comment_takes_its_nearest_ancestors() -> None:
    notes = notes_of(
        """\
        market:                       # the market (C)
          size: 1000
          segments:                   # assumption: shares as in the example
            - {name: loyal, share: 0.2}
            - name: casual
              share: 0.8              # §9 a paper (A)
        other:
          deep: {value: 3}
        """
    )
    assert notes[("market", "size")].grade == "C"
    assert notes[("market", "segments", 0, "share")].assumption
    assert notes[("market", "segments", 1, "name")].assumption  # the item's line has no comment
    assert notes[("market", "segments", 1, "share")] == Note("§9 a paper (A)", "A", False)
    assert ("other", "deep", "value") not in notes  # no comment anywhere above: no note



def test_without_inheritance_only_the_values_own_line_counts() -> None:
    text = """\
        market:                       # the market (C)
          size: 1000
          segments:                   # assumption: shares as in the example
            - {name: loyal, share: 0.2}   # §9 a paper (A)
            - name: casual
              share: 0.8
        """
    strict = notes_of_strict(text)
    assert strict[("market", "segments", 0, "share")].grade == "A"
    assert strict[("market", "segments", 0, "name")].grade == "A"  # a one-line mapping shares its line's note
    assert ("market", "size") not in strict
    assert ("market", "segments", 1, "share") not in strict
    assert notes_of(text)[("market", "segments", 1, "share")].assumption  # the loose rule still inherits


def notes_of_strict(text: str) -> dict[tuple[str | int, ...], Note]:
    return source_notes(textwrap.dedent(text), inherit=False)

def test_a_comment_on_the_line_of_a_sequence_item_covers_the_item() -> None:
    notes = notes_of(
        """\
        timeline:
          - {day: 365, channel: messenger, set: {pricing.outside_window: 0.008}}  # §1 a test (C)
          - day: 400                  # assumption: later
            set: {a: 1}
        """
    )
    assert notes[("timeline", 0, "set", "pricing.outside_window")].grade == "C"
    assert notes[("timeline", 0, "day")].grade == "C"
    assert notes[("timeline", 1, "day")].assumption
    # An item's line is the line of its first key: a comment there covers the whole item, as `- type: page  # …`
    # covers its channel.
    assert notes[("timeline", 1, "set", "a")].assumption


def test_inline_distributions_note_each_number() -> None:
    notes = notes_of(
        """\
        engagement:
          probability: {dist: uniform, low: 0.15, high: 0.40}   # §4 a range 15–40% (C)
        """
    )
    for key in ("dist", "low", "high"):
        assert notes[("engagement", "probability", key)].grade == "C"


def test_whole_line_comments_are_not_notes_of_the_next_value() -> None:
    notes = notes_of(
        """\
        # A header comment that says nothing about size (A)
        market:
          # the next line's reason, written above it
          size: 1000
        """
    )
    assert notes == {}


def test_hashes_inside_strings_and_block_scalars_are_not_comments() -> None:
    notes = notes_of(
        """\
        name: "Brand #1 # not a comment"
        tag: a#b
        description: >
          text with # a hash
        size: 3                       # the real one (D)
        """
    )
    assert ("name",) not in notes and ("tag",) not in notes and ("description",) not in notes
    assert notes[("size",)].grade == "D"


def test_merge_keys_and_aliases_take_the_lines_where_the_values_are_written() -> None:
    notes = notes_of(
        """\
        defaults: &defaults
          cpm: 8.4                    # §3 AdStage (B)
          budget: 10
        boost:
          <<: *defaults
          budget: 20                  # assumption: doubled
        again: *defaults
        """
    )
    assert notes[("boost", "cpm")].grade == "B"
    assert notes[("boost", "budget")].assumption  # the explicit key wins over the merged one
    assert notes[("again", "cpm")].grade == "B"
    assert ("again", "budget") not in notes


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("§4 Mailchimp benchmarks: unsubscribe 0.23% (A/B)", "A/B"),
        ("§4 Octane AI: link CTR 15–60% (C); high: §4 indigo.ai (C)", "C"),
        ("§4 link CTR (Octane AI, C): lower end", "C"),
        ("§3 WordStream (B) – §3 AdStage (B), times half (assumption)", "B"),
        ("§6 Braze (B); §6 Airship (B/C)", "B/C"),
        ("§2 Hootsuite (C); low: §2 Later estimates (D)", "D"),
        ("one source, grade c", "C"),
        ("§8 Gartner (A / B)", "A/B"),
        ("assumption: no source", None),
        ("a (Note) in passing", None),
    ],
)
def test_the_least_reliable_grade_is_kept(text: str, grade: str | None) -> None:
    assert parse_grade(text) == grade


def test_assumption_is_flagged_in_any_of_its_forms() -> None:
    assert Note.of("assumption: a typical rate").assumption
    assert Note.of("§4 figure (A/B); fatigue: Assumed").assumption
    assert not Note.of("§4 figure (A/B)").assumption


def test_empty_and_invalid_text() -> None:
    assert source_notes("") == {}
    assert source_notes("# only a comment\n") == {}
    with pytest.raises(yaml.YAMLError):
        source_notes("a: [1, 2\n")


def test_unsafe_tags_are_never_constructed(tmp_path) -> None:
    target = tmp_path / "created"
    text = f"x: !!python/object/apply:builtins.open ['{target}', 'w']   # (A)\n"
    notes = source_notes(text)  # composing builds nodes only: nothing is imported or called
    assert not target.exists()
    assert notes[("x", 0)].grade == "A"
