"""Reading YAML, JSON and TOML scenario files with the line of every key; failures as one-line problems."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from reachsim.scenario.errors import Problem, ScenarioError
from reachsim.scenario.source import Source, load_source, validate


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path | str) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_source(path)
    return info.value.problems


YAML = """\
# a scenario
name: demo
market:
  size: 100
  segments:
    - name: loyal
      share: 0.2
    - {name: casual, share: 0.8}
strategies:
  a:
    channels:
      - type: page
        engagement: {probability: 0.1}
"""


# ---------------------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------------------


def test_yaml_data_and_lines(tmp_path):
    source = load_source(write(tmp_path, "s.yaml", YAML))
    assert source.data["market"]["segments"][1] == {"name": "casual", "share": 0.8}
    assert source.lines[("name",)] == 2
    assert source.lines[("market",)] == 3
    assert source.lines[("market", "size")] == 4
    assert source.lines[("market", "segments", 0)] == 6  # the item's line
    assert source.lines[("market", "segments", 0, "share")] == 7  # a key's line
    assert source.lines[("market", "segments", 1)] == 8
    assert source.lines[("market", "segments", 1, "share")] == 8
    assert source.lines[("strategies", "a", "channels", 0, "engagement", "probability")] == 13


def test_line_of_walks_up_to_the_nearest_written_ancestor(tmp_path):
    source = load_source(write(tmp_path, "s.yml", YAML))
    assert source.line_of(("market", "segments", 1, "share")) == 8
    assert source.line_of(("market", "segments", 1, "value_per_engagement")) == 8
    assert source.line_of(("strategies", "a", "timeline", 3, "day")) == 10
    assert source.line_of(("horizon_days",)) == 1
    assert source.line_of(()) == 1
    assert Source("x", {}, {}).line_of(("a",)) is None


def test_path_is_kept_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "s.yaml", YAML)
    assert load_source("s.yaml").path == "s.yaml"
    assert load_source(Path("s.yaml")).path == "s.yaml"


def test_malformed_yaml_gives_the_parsers_line_in_one_line(tmp_path):
    path = write(tmp_path, "s.yaml", "name: demo\nmarket:\n  size: 100\n   segments: []\n")
    [problem] = problems(path)
    assert problem.line == 4
    assert problem.field == ""
    assert problem.message.startswith("invalid YAML: mapping values are not allowed")
    assert "\n" not in str(problem)
    assert str(problem).startswith(f"{path}:4: invalid YAML: ")


def test_unclosed_flow_mapping(tmp_path):
    [problem] = problems(write(tmp_path, "s.yaml", "a: 1\nb: {c: 1\nd: 2\n"))
    assert problem.line is not None and problem.line >= 3
    assert problem.message.startswith("invalid YAML: ")
    assert "\n" not in problem.message


def test_tabs_and_bad_characters_are_reported_not_raised(tmp_path):
    [problem] = problems(write(tmp_path, "s.yaml", "a:\n\tb: 1\n"))
    assert problem.line == 2 and problem.message.startswith("invalid YAML: ")
    [problem] = problems(write(tmp_path, "t.yaml", "a: 1\nb: \x07\n"))
    assert problem.line == 2 and "not allowed" in problem.message


def test_duplicate_key_is_a_problem_at_the_second_key(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: demo
        market:
          size: 100
          segments: []
          size: 200
        """,
    )
    assert [str(p) for p in problems(path)] == [
        f"{path}:5: market.size: duplicate key 'size' (first given on line 3)"
    ]


def test_duplicate_keys_in_lists_of_mappings_are_found_too(tmp_path):
    path = write(tmp_path, "s.yaml", "items:\n  - {a: 1, a: 2}\n  - b: 1\n    b: 1\n")
    assert [(p.line, p.field) for p in problems(path)] == [(2, "items[0].a"), (4, "items[1].b")]


def test_python_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = write(
        tmp_path,
        "s.yaml",
        f"name: demo\nhook: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    [problem] = problems(path)
    assert problem.line == 2
    assert problem.message == (
        "tag '!!python/object/apply:os.system' is not allowed: scenario files hold plain data only"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object:collections.OrderedDict {}\n",
        "x: !!python/name:os.system\n",
        "x: !custom 3\n",
        "!!python/name:os.system : 3\n",
    ],
)
def test_any_non_standard_tag_is_refused(tmp_path, text):
    [problem] = problems(write(tmp_path, "s.yaml", text))
    assert "is not allowed" in problem.message
    assert problem.line == 1


def test_merge_keys_work_and_point_at_the_anchor(tmp_path):
    source = load_source(
        write(
            tmp_path,
            "s.yaml",
            """\
            defaults: &page
              type: page
              organic_reach: 0.06
            channels:
              - <<: *page
                organic_reach: 0.02
              - *page
            """,
        )
    )
    assert source.data["channels"] == [
        {"type": "page", "organic_reach": 0.02},
        {"type": "page", "organic_reach": 0.06},
    ]
    assert source.lines[("channels", 0, "organic_reach")] == 6  # overridden here: not a duplicate
    assert source.lines[("channels", 0, "type")] == 2  # merged from the anchor
    assert source.lines[("channels", 1)] == 7
    assert source.lines[("channels", 1, "organic_reach")] == 3


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("b: 2\na: &x [1, *x]\n", 2),
        ("a: &x\n  - 1\n  - [2, *x]\n", 3),
        ("a: &m\n  k: 1\n  self: *m\n", 3),
        ("a: &m\n  k: 1\n  <<: *m\n", 3),
    ],
    ids=["list", "nested-list", "mapping", "merge"],
)
def test_an_alias_inside_what_it_names_is_refused_at_its_line(tmp_path, text, line):
    [problem] = problems(write(tmp_path, "s.yaml", text))
    assert (problem.line, problem.field) == (line, "")
    assert problem.message == "an alias inside the collection it names (a structure containing itself)"


def test_dates_and_non_string_keys_are_plain_data(tmp_path):
    source = load_source(write(tmp_path, "s.yaml", "start: 2024-01-31\nlevels:\n  1: one\n"))
    assert str(source.data["start"]) == "2024-01-31"
    assert source.data["levels"] == {1: "one"}
    assert source.lines[("levels", 1)] == 3


def test_empty_file_and_non_mapping_top_level(tmp_path):
    [problem] = problems(write(tmp_path, "s.yaml", "# nothing yet\n"))
    assert problem.message == "the file is empty; expected a mapping of keys"
    [problem] = problems(write(tmp_path, "t.yaml", "- a\n- b\n"))
    assert problem.line == 1
    assert problem.message == "the top level must be a mapping of keys (key: value), not a list"
    [problem] = problems(write(tmp_path, "u.yaml", "just text\n"))
    assert (
        problem.message
        == "the top level must be a mapping of keys (key: value), not a single value ('just text')"
    )


def test_several_documents_are_refused(tmp_path):
    [problem] = problems(write(tmp_path, "s.yaml", "a: 1\n---\nb: 2\n"))
    assert problem.line == 2
    assert "expected a single document" in problem.message


def test_unknown_extension_is_read_as_yaml(tmp_path):
    source = load_source(write(tmp_path, "scenario.txt", "a:\n  b: 1\n"))
    assert source.data == {"a": {"b": 1}}
    assert source.lines[("a", "b")] == 2


# ---------------------------------------------------------------------------------------------------------
# Files that cannot be read
# ---------------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_source(path)
    error = info.value
    assert error.problems == [Problem(str(path), None, "", "no such file")]
    assert str(error) == f"{path}: no such file"


def test_directory(tmp_path):
    [problem] = problems(tmp_path)
    assert problem.message == "is a directory, not a scenario file"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "s.yaml", "a: 1\n")
    path.chmod(0)
    try:
        [problem] = problems(path)
    finally:
        path.chmod(0o644)
    assert problem.message == "cannot read the file: permission denied"


def test_not_utf8(tmp_path):
    [problem] = problems(write(tmp_path, "s.yaml", b"a: 1\nb: caf\xe9\n"))
    assert problem.line == 2
    assert problem.message == "not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_utf8_bom_is_accepted(tmp_path):
    assert load_source(write(tmp_path, "s.yaml", "\ufeffa: 1\n".encode())).data == {"a": 1}


# ---------------------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------------------

JSON = """\
{
  "name": "demo",
  "market": {
    "size": 100,
    "segments": [
      {"name": "loyal", "share": 0.2},
      {
        "name": "casual",
        "share": 0.8
      }
    ]
  }
}
"""


def test_json_data_and_lines(tmp_path):
    source = load_source(write(tmp_path, "s.json", JSON))
    assert source.data == json.loads(JSON)
    assert source.lines[("market",)] == 3
    assert source.lines[("market", "segments", 0)] == 6
    assert source.lines[("market", "segments", 1)] == 7
    assert source.lines[("market", "segments", 1, "share")] == 9


def test_malformed_json(tmp_path):
    path = write(tmp_path, "s.json", '{\n  "a": 1\n  "b": 2\n}\n')
    assert [str(p) for p in problems(path)] == [f"{path}:3: invalid JSON: Expecting ',' delimiter (column 3)"]


def test_duplicate_json_key(tmp_path):
    path = write(tmp_path, "s.json", '{\n  "a": {"b": 1,\n        "b": 2}\n}\n')
    assert [str(p) for p in problems(path)] == [f"{path}:3: a.b: duplicate key 'b' (first given on line 2)"]


def test_json_lines_do_not_depend_on_yaml(tmp_path):
    # A surrogate pair escape is fine in JSON but not in YAML: JSON's lines come from JSON's own tokens.
    path = write(tmp_path, "s.json", '{"a":\n 1, "b": "\\ud83d\\ude00",\n "c": [1,\n  {"d": "x\\"}"}]}\n')
    source = load_source(path)
    assert source.data == {"a": 1, "b": "\U0001f600", "c": [1, {"d": 'x"}'}]}
    assert source.lines == {(): 1, ("a",): 1, ("b",): 2, ("c",): 3, ("c", 0): 3, ("c", 1): 4, ("c", 1, "d"): 4}


def test_json_nested_too_deeply_is_refused_at_its_line(tmp_path):
    [problem] = problems(write(tmp_path, "s.json", '{"a": "[[[[",\n "b": ' + "[" * 200 + "]" * 200 + "}"))
    assert (problem.line, problem.message) == (2, "nested more than 100 levels deep; a scenario needs a handful")


def test_json_top_level_must_be_a_mapping(tmp_path):
    [problem] = problems(write(tmp_path, "s.json", "[1, 2]"))
    assert problem.message.endswith("not a list")
    [problem] = problems(write(tmp_path, "t.json", "null"))
    assert problem.message.endswith("not a single value (None)")


# ---------------------------------------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------------------------------------

TOML = '''\
name = "demo"
notes = """
[not.a.table]
fake = 1
"""
matrix = [
  [1, 2],
  [3, 4],
]

[market]
size = 100

[[market.segments]]
name = "loyal"
share = 0.2

[[market.segments]]
name = "casual"
share = 0.8

[strategies.a]
extends = "b"
"sub".'x y' = 3

[[strategies.a.channels]]
type = "page"
engagement = {probability = 0.1}

[strategies.a.channels.boost]
budget = 30
'''


def test_toml_data_and_best_effort_lines(tmp_path):
    source = load_source(write(tmp_path, "s.toml", TOML))
    assert source.data["market"]["segments"][1] == {"name": "casual", "share": 0.8}
    assert source.lines[("name",)] == 1
    assert source.lines[("notes",)] == 2
    assert ("not",) not in source.lines  # inside a multi-line string
    assert ("fake",) not in source.lines
    assert source.lines[("matrix",)] == 6
    assert source.lines[("market",)] == 11
    assert source.lines[("market", "size")] == 12
    assert source.lines[("market", "segments")] == 14
    assert source.lines[("market", "segments", 0)] == 14
    assert source.lines[("market", "segments", 1)] == 18
    assert source.lines[("market", "segments", 1, "share")] == 20
    assert source.lines[("strategies", "a", "extends")] == 23
    assert source.lines[("strategies", "a", "sub", "x y")] == 24


def test_toml_arrays_of_tables_nest(tmp_path):
    text = """\
    [[s]]
    a = 1
    [[s.c]]
    b = 1
    [[s.c]]
    b = 2
    [[s]]
    a = 2
    [[s.c]]
    b = 3
    [s.c.d]
    e = 4
    """
    source = load_source(write(tmp_path, "s.toml", text))
    assert source.data["s"][1]["c"][0] == {"b": 3, "d": {"e": 4}}
    assert source.lines[("s", 0, "c", 1, "b")] == 6
    assert source.lines[("s", 1, "a")] == 8
    assert source.lines[("s", 1, "c", 0)] == 9
    assert source.lines[("s", 1, "c", 0, "d", "e")] == 12


def test_toml_inline_values_take_the_line_of_their_key(tmp_path):
    source = load_source(write(tmp_path, "s.toml", TOML))
    assert source.line_of(("strategies", "a", "channels", 0, "engagement", "probability")) == 28


def test_malformed_toml(tmp_path):
    path = write(tmp_path, "s.toml", 'name = "demo"\n[market]\nsize 100\n')
    [problem] = problems(path)
    assert problem.line == 3
    assert problem.message.startswith("invalid TOML: ")
    assert "\n" not in problem.message
    assert "(at line" not in problem.message


def test_toml_duplicate_key(tmp_path):
    [problem] = problems(write(tmp_path, "s.toml", "a = 1\nb = 2\na = 3\n"))
    assert problem.line == 3
    assert problem.message.startswith("invalid TOML: ")


# ---------------------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------------------


class Toy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = Field(ge=1)


def test_validate_returns_the_model_or_raises_one_problem_per_error(tmp_path):
    good = load_source(write(tmp_path, "good.yaml", "name: a\nsize: 3\n"))
    assert validate(Toy, good) == Toy(name="a", size=3)
    bad = load_source(write(tmp_path, "bad.toml", 'size = 0\nname = "a"\nsise = 1\n'))
    with pytest.raises(ScenarioError) as info:
        validate(Toy, bad)
    assert [str(p) for p in info.value.problems] == [
        f"{bad.path}:1: size: Input should be greater than or equal to 1 (got 0)",
        f"{bad.path}:3: sise: unknown key 'sise' (did you mean 'size'?)",
    ]
    assert info.value.__cause__ is None and info.value.__suppress_context__


# ---------------------------------------------------------------------------------------------------------
# Properties: whatever plain data a file holds, it round-trips and every key and item has a line
# ---------------------------------------------------------------------------------------------------------

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
SCALARS = st.one_of(
    st.integers(-1000, 1000), st.booleans(), st.none(), st.text("abc xyz", max_size=5), st.floats(-1e6, 1e6)
)
DATA = st.dictionaries(
    KEYS,
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
        max_leaves=12,
    ),
    min_size=1,
    max_size=4,
)


def paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def in_document_order(source, data) -> list[int]:
    return [source.lines[path] for path in paths(data)]


@settings(max_examples=60, deadline=None)
@given(DATA, st.sampled_from(["block", "flow", "json"]))
def test_every_key_and_item_gets_a_line_in_document_order(tmp_path_factory, data, style):
    directory = tmp_path_factory.mktemp("prop")
    if style == "json":
        path = write(directory, "s.json", json.dumps(data, indent=2))
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=(style == "flow"), width=40)
        path = write(directory, "s.yaml", text)
    source = load_source(path)
    assert source.data == data
    lines = in_document_order(source, data)
    assert lines == sorted(lines)
    assert all(1 <= line <= len(path.read_text().splitlines()) for line in lines)
