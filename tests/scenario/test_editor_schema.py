"""The JSON Schema for editors, checked by an independent validator (``jsonschema``): it accepts every shipped
scenario — strategies that extend another carry partial channels, numbers may be distributions — and still refuses
unknown keys, out-of-range values and wrong types, in full and in partial channels alike."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reachsim.cli import main
from reachsim.core.problems import ScenarioError
from reachsim.scenario.editor_schema import editor_schema
from reachsim.scenario.load import scenario_from_dict
from reachsim.scenario.reference import json_schema

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PUSH = ROOT / "scenarios" / "messenger_push.yaml"  # push_free; push_charged extends it; push_twice_weekly merges


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def all_errors(errors: Iterator[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    """Every error with the errors of each alternative it tried (a channel is one of several types)."""
    out = []
    stack = list(errors)
    while stack:
        error = stack.pop()
        out.append(error)
        stack.extend(error.context or ())
    return out


def push() -> dict[str, Any]:
    return yaml.safe_load(PUSH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_is_valid_under_the_schema(path: Path, validator) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(data)]
    assert errors == []


def test_the_shipped_scenarios_use_what_the_schema_had_to_learn() -> None:
    """The check above means something: the shipped files extend strategies, merge partial channels, remove one and
    write distributions in place of numbers (each of which the model's own schema refuses)."""
    texts = "\n".join(p.read_text(encoding="utf-8") for p in SCENARIOS)
    assert "extends:" in texts and "remove: true" in texts and "{dist:" in texts


def _set(*loc: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        node = data
        for part in loc[:-1]:
            node = node[part]
        node[loc[-1]] = value

    return apply


INVALID = {
    "unknown key at the top level": (_set("colour", value="red"), "colour"),
    "unknown key in a channel": (_set("strategies", "push_free", "channels", 0, "colur", value=1), "colur"),
    "unknown key in a nested mapping of a channel": (
        _set("strategies", "push_free", "channels", 0, "engagement", "fatigue", "halflife", value=2), "halflife"),
    "unknown key in a partial channel of an extending strategy": (
        _set("strategies", "push_twice_weekly", "channels", 0, "brodcasts", value={"every_days": 3}), "brodcasts"),
    "unknown key deep in a partial channel": (
        _set("strategies", "push_twice_weekly", "channels", 0, "broadcasts", "evry_days", value=3), "evry_days"),
    "unknown key in an extending strategy": (_set("strategies", "push_charged", "chanels", value=[]), "chanels"),
    "remove in a strategy that extends nothing": (
        _set("strategies", "push_free", "channels", 0, "remove", value=True), "remove"),
    "a probability above 1": (
        _set("strategies", "push_free", "channels", 0, "unsubscribe", "probability", value=1.5), "1.5"),
    "a negative interval in a partial channel": (
        _set("strategies", "push_twice_weekly", "channels", 0, "broadcasts", "every_days", value=-1), "-1"),
    "a market of 0 consumers": (_set("market", "size", value=0), "0"),
    "text for a number": (_set("market", "size", value="big"), "big"),
    "a whole number that is not whole": (_set("strategies", "push_free", "channels", 0, "initial_subscribers",
                                               value=2.5), "2.5"),
    "a list for a mapping": (_set("strategies", "push_free", "channels", 0, "pricing", value=[0.0]), "[0.0]"),
    "a distribution missing a bound": (
        _set("strategies", "push_free", "channels", 0, "engagement", "probability",
             value={"dist": "uniform", "low": 0.1}), "high"),
    "an unknown distribution": (
        _set("strategies", "push_free", "channels", 0, "engagement", "probability",
             value={"dist": "poisson", "lam": 1}), "poisson"),
    "a distribution for the seed": (_set("seed", value={"dist": "uniform", "low": 1, "high": 2}), "integer"),
    "a timeline value that is not a number": (
        _set("strategies", "push_charged", "timeline", 0, "set", "pricing.outside_window", value="free"), "free"),
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_files_are_flagged_by_the_schema_and_by_validate(case: str, validator) -> None:
    mutate, needle = INVALID[case]
    data = push()
    mutate(data)
    errors = all_errors(validator.iter_errors(data))
    assert errors, f"the schema accepts a file with {case}"
    assert any(needle in error.message for error in errors), [e.message[:120] for e in errors]
    with pytest.raises(ScenarioError):  # the schema is no stricter than reachsim itself here
        scenario_from_dict(copy.deepcopy(data))


def test_an_extending_strategy_may_have_no_channels_or_a_channel_with_only_a_name(validator) -> None:
    data = push()
    data["strategies"]["push_charged"].pop("channels", None)
    data["strategies"]["renamed"] = {"extends": "push_free",
                                     "channels": [{"name": "messenger", "fixed_cost_per_month": 10}]}
    assert list(validator.iter_errors(data)) == []
    scenario_from_dict(data)  # and reachsim agrees
    data["strategies"]["bare"] = {"channels": [{"type": "messenger", "broadcasts": {"every_days": 2}}]}
    assert list(validator.iter_errors(data)), "a strategy that extends nothing needs its channels whole"


def test_reachsim_schema_prints_the_editor_schema(capsys) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(editor_schema()))
    jsonschema.Draft202012Validator.check_schema(printed)
    data = push()
    assert list(jsonschema.Draft202012Validator(printed).iter_errors(data)) == []


# -- support: bounds its validators check, which the schema states too ---------------------------------------------

SUPPORT = ROOT / "scenarios" / "support_automation.yaml"  # call_centre; bot_first extends it with a partial channel
HOURS = [1.0] * 24

#: (where, value, what `reachsim validate` says there — unchanged by the schema's bounds)
SUPPORT_INVALID = {
    "negative phone agents": (("call_centre", "phone", "agents"), -1, "numbers of agents must be between 0 and"),
    "too many phone agents": (("call_centre", "phone", "agents"), 200_000, "numbers of agents must be between 0 and"),
    "23 hours of phone agents": (
        ("call_centre", "phone", "agents"), [7] * 23, "give one number of agents per hour of the day: 24 numbers"),
    "a negative agent level in a list": (
        ("call_centre", "phone", "agents"), [7] * 23 + [-1], "numbers of agents must be between 0 and"),
    "negative phone agents in a partial channel": (
        ("bot_first", "phone", "agents"), -1, "numbers of agents must be between 0 and"),
    "25 hours of chat agents in a partial channel": (
        ("bot_first", "messenger", "agents"), [2] * 25, "give one number of agents per hour of the day: 24 numbers"),
    "too many chat agents": (("bot_first", "messenger", "agents"), 100_001, "numbers of agents must be between 0"),
    "an hour profile of 23 weights": (("call_centre", "hour_profile"), HOURS[:23], "give 24 weights, one per hour"),
    "a negative hour weight": (
        ("call_centre", "hour_profile"), [*HOURS[:23], -1.0], "weights must be non-negative with a positive sum"),
    "an hour profile of zeros": (
        ("call_centre", "hour_profile"), [0.0] * 24, "weights must be non-negative with a positive sum"),
    "a negative hour weight in a partial channel": (
        ("bot_first", "hour_profile"), [-1.0, *HOURS[1:]], "weights must be non-negative with a positive sum"),
    "a weekday profile of 6 weights": (("call_centre", "weekday_profile"), [1.0] * 6, "give 7 weights, one per day"),
}


def support() -> dict[str, Any]:
    return yaml.safe_load(SUPPORT.read_text(encoding="utf-8"))


def _set_support(data: dict[str, Any], where: tuple[str, ...], value: Any) -> None:
    node = data["strategies"][where[0]]["channels"][0]
    for part in where[1:-1]:
        node = node[part]
    node[where[-1]] = value


@pytest.mark.parametrize("case", list(SUPPORT_INVALID), ids=list(SUPPORT_INVALID))
def test_support_bounds_checked_by_validators_are_in_the_schema(case: str, validator) -> None:
    where, value, message = SUPPORT_INVALID[case]
    data = support()
    assert list(validator.iter_errors(data)) == []
    _set_support(data, where, value)
    assert list(validator.iter_errors(data)), f"the schema accepts {case}"
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(copy.deepcopy(data))


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("call_centre", "phone", "agents"), 100_000),
        (("call_centre", "phone", "agents"), [0] * 6 + [9] * 12 + [7] * 6),
        (("call_centre", "hour_profile"), [0.0] * 8 + [1.0] * 16),
        (("call_centre", "hour_profile"), [{"dist": "uniform", "low": 0.5, "high": 1.5}] * 24),
        (("bot_first", "weekday_profile"), [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]),
    ],
    ids=["the most agents", "agents by hour", "quiet nights", "distributed weights", "closed sundays"],
)
def test_support_values_within_the_bounds_pass_the_schema_and_validate(where, value, validator) -> None:
    data = support()
    _set_support(data, where, value)
    assert [e.message[:200] for e in validator.iter_errors(data)] == []
    scenario_from_dict(copy.deepcopy(data))
