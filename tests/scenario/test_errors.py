"""Pydantic errors → ``file:line: path: message`` problems; toy models stand in for the real schema."""

from __future__ import annotations

import pickle
import textwrap
from typing import Annotated, Literal, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from reachsim.scenario.errors import (
    Problem,
    ScenarioError,
    format_path,
    parse_path,
    problems_from_validation_error,
    suggest,
)
from reachsim.scenario.source import Source, load_source, validate

# ---------------------------------------------------------------------------------------------------------
# Toy models: a discriminated union on `type`, nested models, a list and a dict of models, validators
# ---------------------------------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Engagement(Strict):
    probability: float = Field(ge=0, le=1)
    half_life_days: float = Field(default=7.0, gt=0)


class Messenger(Strict):
    type: Literal["messenger"]
    name: str | None = None
    engagement: Engagement
    broadcasts_every_days: int = Field(default=7, ge=1)


class Page(Strict):
    type: Literal["page"]
    name: str | None = None
    organic_reach: float = Field(ge=0, le=1)
    messenger: Engagement | None = None  # a field named like the other member's tag
    boost_budget: float = Field(default=0.0, ge=0, validation_alias=AliasChoices("boost_budget", "boost"))

    @model_validator(mode="after")
    def _reach_with_boost(self) -> Page:
        if self.boost_budget > 0 and self.organic_reach == 0:
            raise ValueError("@boost_budget: a boost needs some organic reach to start from")
        return self


Channel = Annotated[Union[Messenger, Page], Field(discriminator="type")]  # noqa: UP007 - as the schema builds it


class Segment(Strict):
    name: str
    share: float = Field(gt=0, le=1)


class Market(Strict):
    size: int = Field(ge=1)
    segments: list[Segment] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares(self) -> Market:
        total = sum(s.share for s in self.segments)
        if abs(total - 1) > 1e-9:
            raise ValueError(f"@segments: shares must sum to 1 (they sum to {total:g})")
        names = [s.name for s in self.segments]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"@segments[{i}].name: duplicate segment name '{name}'")
        return self


class Strategy(Strict):
    channels: list[Channel] = Field(min_length=1)
    budget: dict[str, float] = Field(default_factory=dict)


class Scenario(Strict):
    name: str
    horizon_days: int = Field(ge=1)
    mode: Literal["fast", "exact"] = "fast"
    market: Market
    strategies: dict[str, Strategy]
    baseline: str | None = None

    @model_validator(mode="after")
    def _baseline(self) -> Scenario:
        if self.baseline is not None and self.baseline not in self.strategies:
            raise ValueError(f"@baseline: no strategy named '{self.baseline}'")
        return self


GOOD = """\
name: toy
horizon_days: 30
market:
  size: 100
  segments:
    - {name: loyal, share: 0.25}
    - {name: casual, share: 0.75}
strategies:
  push:
    channels:
      - type: messenger
        engagement:
          probability: 0.2
      - type: page
        organic_reach: 0.05
"""


def problems_of(tmp_path, monkeypatch, text: str, model=Scenario, name: str = "s.yaml") -> list[str]:
    """Load ``text`` as a file named ``name`` (relative, as a user types it), validate, return the lines."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(textwrap.dedent(text))
    source = load_source(name)
    with pytest.raises(ScenarioError) as info:
        validate(model, source)
    return str(info.value).splitlines()


# ---------------------------------------------------------------------------------------------------------
# Problem, ScenarioError, suggest, paths
# ---------------------------------------------------------------------------------------------------------


def test_problem_str_has_every_part_it_knows():
    assert str(Problem("s.yaml", 4, "market.size", "required key is missing")) == (
        "s.yaml:4: market.size: required key is missing"
    )
    assert str(Problem("s.yaml", None, "market.size", "bad")) == "s.yaml: market.size: bad"
    assert str(Problem("s.yaml", 3, "", "invalid YAML")) == "s.yaml:3: invalid YAML"
    assert str(Problem("s.yaml", None, "", "no such file")) == "s.yaml: no such file"


def test_problem_is_frozen():
    problem = Problem("s.yaml", 1, "a", "b")
    with pytest.raises(AttributeError):
        problem.line = 2  # type: ignore[misc]


def test_scenario_error_joins_its_problems_one_per_line_and_pickles():
    problems = [Problem("s.yaml", 1, "a", "first"), Problem("s.yaml", None, "", "second")]
    error = ScenarioError(problems)
    assert error.problems == problems
    assert str(error) == "s.yaml:1: a: first\ns.yaml: second"
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == problems
    assert str(again) == str(error)


def test_suggest_finds_close_names_only():
    assert suggest("segmnts", ["size", "segments"]) == "segments"
    assert suggest("probabilty", ["probability", "half_life_days"]) == "probability"
    assert suggest("zzz", ["size", "segments"]) is None
    assert suggest("x", []) is None
    assert suggest("SEGMENTS", ["segments", "size"]) == "segments"


def test_paths_use_dots_for_keys_and_brackets_for_indexes():
    loc = ("strategies", "messenger_push", "channels", 1, "engagement", "probability")
    assert format_path(loc) == "strategies.messenger_push.channels[1].engagement.probability"
    assert parse_path("strategies.messenger_push.channels[1].engagement.probability") == loc
    assert format_path(()) == ""
    assert format_path((0, "a")) == "[0].a"


@given(
    st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=10**6),
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_ -]{0,8}", fullmatch=True),
        ),
        max_size=6,
    )
)
def test_parse_path_inverts_format_path(loc):
    assert parse_path(format_path(loc)) == tuple(loc)


# ---------------------------------------------------------------------------------------------------------
# Unknown keys
# ---------------------------------------------------------------------------------------------------------


def test_unknown_key_with_a_close_match_says_did_you_mean(tmp_path, monkeypatch):
    text = """\
        name: toy
        horizon_days: 30
        market:
          segmnts: []
          size: 10
        strategies: {}
        """
    lines = problems_of(tmp_path, monkeypatch, text)
    assert "s.yaml:4: market.segmnts: unknown key 'segmnts' (did you mean 'segments'?)" in lines
    assert "s.yaml:3: market.segments: required key is missing" in lines


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path, monkeypatch):
    text = GOOD + "    colour: blue\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: strategies.push.colour: unknown key 'colour' (allowed: channels, budget)"
    ]


def test_unknown_key_inside_a_union_member_lists_that_members_keys_and_aliases(tmp_path, monkeypatch):
    text = GOOD.replace("organic_reach: 0.05", "organic_reach: 0.05\n        bost: 3")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: strategies.push.channels[1].bost: unknown key 'bost' (did you mean 'boost'?)"
    ]


def test_unknown_key_in_a_nested_model_of_a_union_member(tmp_path, monkeypatch):
    text = GOOD.replace("probability: 0.2", "probability: 0.2\n          probabilty: 0.3")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:14: strategies.push.channels[0].engagement.probabilty: "
        "unknown key 'probabilty' (did you mean 'probability'?)"
    ]


def test_unknown_top_level_key(tmp_path, monkeypatch):
    lines = problems_of(tmp_path, monkeypatch, GOOD + "horizon: 3\n")
    assert lines == ["s.yaml:16: horizon: unknown key 'horizon' (did you mean 'horizon_days'?)"]


# ---------------------------------------------------------------------------------------------------------
# Discriminated unions
# ---------------------------------------------------------------------------------------------------------


def test_the_union_tag_is_dropped_from_the_path(tmp_path, monkeypatch):
    text = GOOD.replace("probability: 0.2", "probability: 2")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:13: strategies.push.channels[0].engagement.probability: "
        "Input should be less than or equal to 1 (got 2)"
    ]


def test_a_field_named_like_a_tag_is_kept(tmp_path, monkeypatch):
    text = GOOD.replace("organic_reach: 0.05", "organic_reach: 0.05\n        messenger: {probability: -1}")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: strategies.push.channels[1].messenger.probability: "
        "Input should be greater than or equal to 0 (got -1)"
    ]


def test_unknown_channel_type_says_did_you_mean_and_lists_the_types(tmp_path, monkeypatch):
    text = GOOD.replace("type: page", "type: pgae")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:14: strategies.push.channels[1].type: "
        "unknown channel type 'pgae' (did you mean 'page'?); available: messenger, page"
    ]


def test_unknown_channel_type_without_a_close_match(tmp_path, monkeypatch):
    text = GOOD.replace("type: page", "type: television")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:14: strategies.push.channels[1].type: "
        "unknown channel type 'television'; available: messenger, page"
    ]


def test_missing_channel_type(tmp_path, monkeypatch):
    text = GOOD.replace("- type: page\n        organic_reach", "- organic_reach")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:14: strategies.push.channels[1]: "
        "missing channel type (key 'type'); available: messenger, page"
    ]


def test_channel_that_is_not_a_mapping(tmp_path, monkeypatch):
    text = GOOD + "      - 5\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: strategies.push.channels[2]: expected a mapping of keys, got a number (5)"
    ]


class Kernel(Strict):
    kind: Literal["exponential"]
    half_life: float = Field(gt=0)


class Hill(Strict):
    kind: Literal["hill", "sigmoid"]
    slope: float = Field(gt=0)


class WithKernel(Strict):
    novelty: Kernel | Hill = Field(discriminator="kind")
    curves: dict[str, Annotated[Union[Kernel, Hill], Field(discriminator="kind")]] = Field(  # noqa: UP007
        default_factory=dict
    )


def test_union_discriminated_on_another_key_names_the_field(tmp_path, monkeypatch):
    text = """\
        novelty: {kind: sigmoid, slope: 0}
        curves:
          a: {kind: exponental}
        """
    assert problems_of(tmp_path, monkeypatch, text, WithKernel) == [
        "s.yaml:1: novelty.slope: Input should be greater than 0 (got 0)",
        "s.yaml:3: curves.a.kind: unknown curve kind 'exponental' (did you mean 'exponential'?); "
        "available: exponential, hill, sigmoid",
    ]


class Callable(Strict):
    shape: Annotated[Kernel, Tag("exp")] | Annotated[Hill, Tag("hill")] = Field(
        discriminator=Discriminator(lambda v: "exp" if isinstance(v, dict) and "half_life" in v else "hill")
    )


class OnlyOne(Strict):
    channels: list[Annotated[Messenger, Field(discriminator="type")]]


def test_a_discriminated_union_of_one_model_is_tagged_too(tmp_path, monkeypatch):
    text = (
        "channels:\n  - type: messenger\n    engagement: {probability: 2}\n    broadcast: 1\n  - type: pag\n"
    )
    assert problems_of(tmp_path, monkeypatch, text, OnlyOne) == [
        "s.yaml:3: channels[0].engagement.probability: Input should be less than or equal to 1 (got 2)",
        "s.yaml:4: channels[0].broadcast: unknown key 'broadcast' (did you mean 'broadcasts_every_days'?)",
        "s.yaml:5: channels[1].type: unknown channel type 'pag'; available: messenger",
    ]


def test_callable_discriminator_tags_are_dropped_too(tmp_path, monkeypatch):
    text = "shape:\n  kind: hill\n  slope: -1\n"
    assert problems_of(tmp_path, monkeypatch, text, Callable) == [
        "s.yaml:3: shape.slope: Input should be greater than 0 (got -1)"
    ]


# ---------------------------------------------------------------------------------------------------------
# Missing keys, lists and dicts of models, plain unions, literals
# ---------------------------------------------------------------------------------------------------------


def test_missing_key_points_at_the_parent_mapping(tmp_path, monkeypatch):
    text = GOOD.replace(
        "        engagement:\n          probability: 0.2\n", "        broadcasts_every_days: 3\n"
    )
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:11: strategies.push.channels[0].engagement: required key is missing"
    ]


def test_missing_top_level_key_points_at_line_1(tmp_path, monkeypatch):
    text = "# a comment\n" + GOOD.replace("horizon_days: 30\n", "")
    assert problems_of(tmp_path, monkeypatch, text) == ["s.yaml:1: horizon_days: required key is missing"]


def test_list_items_are_indexed_and_found(tmp_path, monkeypatch):
    text = GOOD.replace("{name: casual, share: 0.75}", "{name: casual, share: many}")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:7: market.segments[1].share: "
        "Input should be a valid number, unable to parse string as a number (got 'many')"
    ]


def test_dict_of_models_and_dict_of_numbers(tmp_path, monkeypatch):
    text = GOOD + "    budget: {tv: lots}\n  other:\n    channels: []\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: strategies.push.budget.tv: "
        "Input should be a valid number, unable to parse string as a number (got 'lots')",
        "s.yaml:18: strategies.other.channels: List should have at least 1 item after validation, not 0",
    ]


def test_wrong_container_types(tmp_path, monkeypatch):
    text = GOOD.replace("  size: 100\n", "  size: 100\n  segments: loyal\n").replace(
        "  segments:\n    - {name: loyal, share: 0.25}\n    - {name: casual, share: 0.75}\n", ""
    )
    text = text.replace("strategies:\n  push:", "strategies:\n  push: []\n  unused:")
    lines = problems_of(tmp_path, monkeypatch, text)
    assert lines == [
        "s.yaml:5: market.segments: expected a list, got text 'loyal'",
        "s.yaml:7: strategies.push: expected a mapping of keys, got a list",
    ]


class Plain(Strict):
    count: int | list[int] = 0
    ratio: float | None = None
    levels: dict[int, str] = Field(default_factory=dict)


def test_plain_union_labels_and_dict_key_errors(tmp_path, monkeypatch):
    text = "count: many\nratio: high\nlevels:\n  one: first\n"
    assert problems_of(tmp_path, monkeypatch, text, Plain) == [
        "s.yaml:1: count: Input should be a valid integer, unable to parse string as an integer (got 'many')",
        "s.yaml:1: count: expected a list, got text 'many'",
        "s.yaml:2: ratio: Input should be a valid number, unable to parse string as a number (got 'high')",
        "s.yaml:4: levels.one: invalid key: Input should be a valid integer, unable to parse string as an "
        "integer (got 'one')",
    ]


def test_literal_values_get_did_you_mean(tmp_path, monkeypatch):
    text = GOOD + "mode: exakt\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: mode: unknown value 'exakt' (did you mean 'exact'?); available: fast, exact"
    ]
    text = GOOD + "mode: 3\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: mode: should be one of: fast, exact (got 3)"
    ]


# ---------------------------------------------------------------------------------------------------------
# Validators and the '@path: ' convention
# ---------------------------------------------------------------------------------------------------------


def test_model_validator_message_points_at_the_named_field(tmp_path, monkeypatch):
    text = GOOD.replace("share: 0.75", "share: 0.5")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:5: market.segments: shares must sum to 1 (they sum to 0.75)"
    ]


def test_convention_path_with_an_index(tmp_path, monkeypatch):
    text = GOOD.replace("name: casual", "name: loyal")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:7: market.segments[1].name: duplicate segment name 'loyal'"
    ]


def test_convention_inside_a_union_member_and_through_an_alias(tmp_path, monkeypatch):
    text = GOOD.replace("organic_reach: 0.05", "organic_reach: 0\n        boost: 30")
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:16: strategies.push.channels[1].boost: a boost needs some organic reach to start from"
    ]


def test_convention_at_the_top_level(tmp_path, monkeypatch):
    text = GOOD + "baseline: nope\n"
    assert problems_of(tmp_path, monkeypatch, text) == ["s.yaml:16: baseline: no strategy named 'nope'"]


class Unpointed(Strict):
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Unpointed:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self

    @field_validator("high")
    @classmethod
    def _finite(cls, value: float) -> float:
        assert value < 1e9, "too high to be real"
        return value


class HoldsUnpointed(Strict):
    range: Unpointed


def test_value_error_without_a_path_is_reported_at_the_mapping(tmp_path, monkeypatch):
    text = "# header\nrange:\n  low: 2\n  high: 1\n"
    assert problems_of(tmp_path, monkeypatch, text, HoldsUnpointed) == [
        "s.yaml:2: range: low must not exceed high"
    ]


def test_assertion_messages_are_shortened_too(tmp_path, monkeypatch):
    text = "range:\n  low: 2\n  high: 1.0e+12\n"
    assert problems_of(tmp_path, monkeypatch, text, HoldsUnpointed) == [
        "s.yaml:3: range.high: too high to be real (got 1000000000000.0)"
    ]


# ---------------------------------------------------------------------------------------------------------
# All problems at once
# ---------------------------------------------------------------------------------------------------------


def test_every_problem_is_reported_sorted_by_line(tmp_path, monkeypatch):
    text = """\
        name: toy
        horizon_days: 0
        market:
          size: 100
          segments:
            - {name: loyal, share: 2}
        strategies:
          push:
            channels:
              - type: page
                organic_reach: 1.5
              - type: mesenger
        extra: 1
        """
    assert problems_of(tmp_path, monkeypatch, text) == [
        "s.yaml:2: horizon_days: Input should be greater than or equal to 1 (got 0)",
        "s.yaml:6: market.segments[0].share: Input should be less than or equal to 1 (got 2)",
        "s.yaml:11: strategies.push.channels[0].organic_reach: "
        "Input should be less than or equal to 1 (got 1.5)",
        "s.yaml:12: strategies.push.channels[1].type: "
        "unknown channel type 'mesenger' (did you mean 'messenger'?); available: messenger, page",
        "s.yaml:13: extra: "
        "unknown key 'extra' (allowed: name, horizon_days, mode, market, strategies, baseline)",
    ]


def test_problems_from_validation_error_directly_and_without_lines():
    data = {
        "name": "x",
        "horizon_days": 1,
        "market": {"size": 0, "segments": [{"name": "a", "share": 1}]},
        "strategies": {},
    }
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    problems = problems_from_validation_error(info.value, Scenario, Source("<scenario>", data, {}))
    assert problems == [
        Problem("<scenario>", None, "market.size", "Input should be greater than or equal to 1 (got 0)")
    ]
    assert str(problems[0]) == "<scenario>: market.size: Input should be greater than or equal to 1 (got 0)"


def test_a_valid_file_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(GOOD)
    scenario = validate(Scenario, load_source("s.yaml"))
    assert isinstance(scenario.strategies["push"].channels[1], Page)
    assert scenario.market.segments[1].name == "casual"
