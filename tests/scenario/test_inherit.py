"""Strategy inheritance (`extends`) on raw scenario data."""

from __future__ import annotations

import copy
import pickle
import textwrap
from typing import Annotated, Literal, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.inherit import ExtendsError, resolve_extends
from reachsim.scenario.source import Source, load_source, validate


def load(tmp_path, monkeypatch, text: str) -> Source:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(textwrap.dedent(text))
    return load_source("s.yaml")


def resolve(source: Source) -> dict:
    return resolve_extends(source.data["strategies"], source)


def problems(source: Source) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        resolve(source)
    return str(info.value).splitlines()


FAMILY = """\
strategies:
  base:
    budget: {daily: 10, caps: {tv: 1}}
    channels:
      - type: page
        organic_reach: 0.06
        engagement: {probability: 0.02, tags: [a, b]}
      - type: support
        agents: 8
      - type: messenger
        name: promo
        rate: 1
    timeline:
      - {day: 1, channel: page}
  child:
    extends: base
    budget: {caps: {radio: 2}}
    channels:
      - type: support
        remove: true
      - type: page
        engagement: {tags: [c]}
      - type: app
        cost: 1
      - name: promo
        rate: 2
    timeline:
      - {day: 5, channel: app}
  grandchild:
    extends: child
    label: third
    channels:
      - type: app
        cost: 3
      - type: page
        remove: false
        organic_reach: 0.01
"""


def test_child_is_parent_merged_with_child(tmp_path, monkeypatch):
    source = load(tmp_path, monkeypatch, FAMILY)
    original = copy.deepcopy(source.data)
    resolved = resolve(source)
    assert resolved["child"] == {
        "budget": {"daily": 10, "caps": {"tv": 1, "radio": 2}},  # mappings merged recursively
        "channels": [
            # merged by type, child values win, lists replaced
            {"type": "page", "organic_reach": 0.06, "engagement": {"probability": 0.02, "tags": ["c"]}},
            # support removed; messenger matched by its name
            {"type": "messenger", "name": "promo", "rate": 2},
            {"type": "app", "cost": 1},  # new channels appended in the child's order
        ],
        "timeline": [{"day": 1, "channel": "page"}, {"day": 5, "channel": "app"}],
    }
    assert resolved["base"] == original["strategies"]["base"]
    assert source.data == original  # the input is left alone


def test_chains_resolve_the_parent_first(tmp_path, monkeypatch):
    resolved = resolve(load(tmp_path, monkeypatch, FAMILY))
    grandchild = resolved["grandchild"]
    assert "extends" not in grandchild
    assert grandchild["label"] == "third"
    assert grandchild["channels"] == [
        {"type": "page", "organic_reach": 0.01, "engagement": {"probability": 0.02, "tags": ["c"]}},
        {"type": "messenger", "name": "promo", "rate": 2},
        {"type": "app", "cost": 3},
    ]
    assert grandchild["timeline"] == [{"day": 1, "channel": "page"}, {"day": 5, "channel": "app"}]
    assert all("extends" not in strategy for strategy in resolved.values())


def test_order_in_the_file_does_not_matter(tmp_path, monkeypatch):
    text = """\
    strategies:
      child: {extends: base, channels: [{type: page, reach: 2}]}
      base: {channels: [{type: page, reach: 1, cost: 5}]}
    """
    assert resolve(load(tmp_path, monkeypatch, text))["child"] == {
        "channels": [{"type": "page", "reach": 2, "cost": 5}]
    }


def test_name_wins_over_type_when_matching(tmp_path, monkeypatch):
    text = """\
    strategies:
      base:
        channels:
          - {type: page, name: brand, reach: 1}
          - {type: page, name: promo, reach: 2}
      child:
        extends: base
        channels:
          - {name: promo, reach: 3}
          - {type: page, reach: 4}
    """
    assert resolve(load(tmp_path, monkeypatch, text))["child"]["channels"] == [
        {"type": "page", "name": "brand", "reach": 1},
        {"type": "page", "name": "promo", "reach": 3},
        {"type": "page", "reach": 4},  # named 'page' by its type: a new channel
    ]


def test_child_without_channels_or_timeline_keeps_the_parents(tmp_path, monkeypatch):
    text = """\
    strategies:
      base: {channels: [{type: page}], timeline: [{day: 1}]}
      child: {extends: base}
      other: {extends: base, timeline: [], channels: []}
    """
    resolved = resolve(load(tmp_path, monkeypatch, text))
    assert resolved["child"] == {"channels": [{"type": "page"}], "timeline": [{"day": 1}]}
    assert resolved["other"] == resolved["child"]


def test_non_list_channels_are_left_for_the_schema_to_report(tmp_path, monkeypatch):
    text = """\
    strategies:
      base: {channels: [{type: page}]}
      child: {extends: base, channels: none, timeline: {day: 1}}
      plain: 3
    """
    resolved = resolve(load(tmp_path, monkeypatch, text))
    assert resolved["child"] == {"channels": "none", "timeline": {"day": 1}}
    assert resolved["plain"] == 3
    assert resolve_extends("not a mapping", Source("x", {}, {})) == "not a mapping"  # type: ignore[arg-type]


def test_strategies_without_extends_are_unchanged(tmp_path, monkeypatch):
    source = load(tmp_path, monkeypatch, "strategies:\n  a: {channels: [{type: page}]}\n")
    lines = dict(source.lines)
    assert resolve(source) == source.data["strategies"]
    assert source.lines == lines


CHANNEL_TYPES = ["page", "app", "messenger", "support"]
PARAMS = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 9), max_size=3)


@given(
    parent=st.lists(st.sampled_from(CHANNEL_TYPES), unique=True, max_size=4).flatmap(
        lambda types: st.tuples(*(PARAMS.map(lambda p, t=t: {"type": t, **p}) for t in types))
    ),
    child=st.lists(st.sampled_from(CHANNEL_TYPES), unique=True, max_size=4).flatmap(
        lambda types: st.tuples(
            *(st.tuples(PARAMS, st.booleans()).map(lambda pr, t=t: (t, pr[0], pr[1])) for t in types)
        )
    ),
)
def test_channel_merge_properties(parent, child):
    parent_types = {channel["type"] for channel in parent}
    child_channels = [{"type": t, **params, **({"remove": True} if rm else {})} for t, params, rm in child]
    strategies = {"p": {"channels": list(parent)}, "c": {"extends": "p", "channels": child_channels}}
    source = Source("s.yaml", {"strategies": strategies}, {})
    removing_unknown = any(rm and t not in parent_types for t, _, rm in child)
    if removing_unknown:
        with pytest.raises(ScenarioError):
            resolve_extends(strategies, source)
        return
    resolved = resolve_extends(strategies, source)["c"]["channels"]
    removed = {t for t, _, rm in child if rm}
    overrides = {t: params for t, params, rm in child if not rm}
    expected = [
        {**channel, **overrides.get(channel["type"], {})}
        for channel in parent
        if channel["type"] not in removed
    ]
    expected += [{"type": t, **params} for t, params, rm in child if not rm and t not in parent_types]
    assert resolved == expected
    assert all("remove" not in channel for channel in resolved)


# ---------------------------------------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------------------------------------


def test_unknown_parent_says_did_you_mean(tmp_path, monkeypatch):
    text = """\
    strategies:
      page_only: {channels: []}
      push:
        extends: page_onyl
    """
    assert problems(load(tmp_path, monkeypatch, text)) == [
        "s.yaml:4: strategies.push.extends: unknown strategy 'page_onyl' (did you mean 'page_only'?)"
    ]


def test_unknown_parent_without_a_close_match_lists_the_strategies(tmp_path, monkeypatch):
    text = "strategies:\n  a: {}\n  b: {extends: zzz}\n"
    assert problems(load(tmp_path, monkeypatch, text)) == [
        "s.yaml:3: strategies.b.extends: unknown strategy 'zzz' (strategies: a)"
    ]


def test_cycles_are_named_once(tmp_path, monkeypatch):
    text = """\
    strategies:
      a: {extends: c}
      b: {extends: a}
      c: {extends: b}
      d: {extends: a}
      e: {extends: e}
    """
    assert problems(load(tmp_path, monkeypatch, text)) == [
        "s.yaml:2: strategies.a.extends: strategies extend each other in a cycle: 'a' → 'c' → 'b' → 'a'",
        "s.yaml:6: strategies.e.extends: strategy 'e' extends itself",
    ]


def test_bad_extends_values(tmp_path, monkeypatch):
    text = "strategies:\n  a: 3\n  b: {extends: a}\n  c: {extends: [a]}\n"
    assert problems(load(tmp_path, monkeypatch, text)) == [
        "s.yaml:3: strategies.b.extends: cannot extend 'a': it is not a mapping",
        "s.yaml:4: strategies.c.extends: expected the name of another strategy, got ['a']",
    ]


def test_channel_problems(tmp_path, monkeypatch):
    text = """\
    strategies:
      base:
        channels:
          - {type: page}
          - {type: support}
          - {type: support}
      child:
        extends: base
        channels:
          - {type: pgae, remove: true}
          - {type: support, agents: 3}
          - {type: page, remove: yes please}
          - {type: page, reach: 1}
          - {type: page, reach: 2}
          - {type: tv, remove: true}
    """
    assert problems(load(tmp_path, monkeypatch, text)) == [
        "s.yaml:10: strategies.child.channels[0]: cannot remove channel 'pgae': 'base' has no such channel "
        "(did you mean 'page'?)",
        "s.yaml:11: strategies.child.channels[1]: channel 'support' matches 2 channels of 'base'; "
        "give them distinct `name`s to tell them apart",
        "s.yaml:12: strategies.child.channels[2].remove: expected true or false, got 'yes please'",
        "s.yaml:14: strategies.child.channels[4]: channel 'page' is given twice",
        "s.yaml:15: strategies.child.channels[5]: cannot remove channel 'tv': 'base' has no such channel "
        "(channels: page, support, support)",
    ]


def test_all_problems_are_reported_together(tmp_path, monkeypatch):
    text = """\
    strategies:
      base: {channels: [{type: page}]}
      x: {extends: bsae}
      y: {extends: x}
      z: {extends: base, channels: [{type: tv, remove: true}]}
    """
    lines = problems(load(tmp_path, monkeypatch, text))
    assert len(lines) == 2
    assert lines[0].startswith("s.yaml:3: strategies.x.extends: unknown strategy 'bsae'")
    assert lines[1].startswith("s.yaml:5: strategies.z.channels[0]: cannot remove channel 'tv'")


def test_the_error_carries_what_could_be_resolved(tmp_path, monkeypatch):
    text = """\
    strategies:
      base: {channels: [{type: page, reach: 1}]}
      good: {extends: base, channels: [{type: page, reach: 2}]}
      bad: {extends: nowhere, channels: [{type: app}]}
      worse: {extends: bad}
    """
    source = load(tmp_path, monkeypatch, text)
    with pytest.raises(ExtendsError) as info:
        resolve(source)
    assert isinstance(info.value, ScenarioError)
    assert info.value.resolved == {
        "base": {"channels": [{"type": "page", "reach": 1}]},
        "good": {"channels": [{"type": "page", "reach": 2}]},
        "bad": {"channels": [{"type": "app"}]},
        "worse": {},
    }
    assert [p.line for p in info.value.problems] == [4]
    again = pickle.loads(pickle.dumps(info.value))
    assert again.problems == info.value.problems


def test_base_loc_places_the_strategies(tmp_path, monkeypatch):
    source = load(tmp_path, monkeypatch, "plan:\n  options:\n    a: {}\n    b: {extends: c}\n")
    with pytest.raises(ScenarioError) as info:
        resolve_extends(source.data["plan"]["options"], source, base_loc=("plan", "options"))
    assert str(info.value) == "s.yaml:4: plan.options.b.extends: unknown strategy 'c' (strategies: a)"


# ---------------------------------------------------------------------------------------------------------
# Line numbers after resolution, through validation with a toy schema
# ---------------------------------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(Strict):
    type: Literal["page"]
    reach: float = Field(ge=0, le=1)


class App(Strict):
    type: Literal["app"]
    cost: float = Field(ge=0)


class Strategy(Strict):
    channels: list[Annotated[Union[Page, App], Field(discriminator="type")]]  # noqa: UP007
    timeline: list[dict[str, int]] = Field(default_factory=list)


class Scenario(Strict):
    strategies: dict[str, Strategy]


def validate_resolved(source: Source) -> Scenario:
    data = {**source.data, "strategies": resolve(source)}
    return validate(Scenario, Source(source.path, data, source.lines))


def test_resolved_strategies_validate(tmp_path, monkeypatch):
    text = """\
    strategies:
      base: {channels: [{type: page, reach: 0.5}]}
      child: {extends: base, channels: [{type: app, cost: 2}]}
    """
    scenario = validate_resolved(load(tmp_path, monkeypatch, text))
    assert [c.type for c in scenario.strategies["child"].channels] == ["page", "app"]


def test_errors_in_resolved_strategies_point_where_the_value_was_written(tmp_path, monkeypatch):
    text = """\
    strategies:
      base:
        channels:
          - type: app
            cost: 1
          - type: page
            reach: 7
        timeline:
          - {day: 1}
      child:
        extends: base
        channels:
          - type: app
            remove: true
          - type: radio
          - type: page
            colour: red
        timeline:
          - {day: x}
    """
    source = load(tmp_path, monkeypatch, text)
    with pytest.raises(ScenarioError) as info:
        validate_resolved(source)
    assert str(info.value).splitlines() == [
        "s.yaml:7: strategies.base.channels[1].reach: Input should be less than or equal to 1 (got 7)",
        # inherited from base: base's line, under the child's resolved path
        "s.yaml:7: strategies.child.channels[0].reach: Input should be less than or equal to 1 (got 7)",
        "s.yaml:15: strategies.child.channels[1].type: unknown channel type 'radio'; available: page, app",
        "s.yaml:17: strategies.child.channels[0].colour: unknown key 'colour' (allowed: type, reach)",
        "s.yaml:19: strategies.child.timeline[1].day: "
        "Input should be a valid integer, unable to parse string as an integer (got 'x')",
    ]
