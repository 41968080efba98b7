"""Loading a scenario file: read (YAML, JSON or TOML), resolve ``extends``, validate against the schema."""

from __future__ import annotations

import os
from typing import Any

import yaml

from reachsim.scenario.errors import Problem, ScenarioError
from reachsim.scenario.inherit import resolve_extends
from reachsim.scenario.schema import scenario_model
from reachsim.scenario.source import Source, load_source, validate


def load_scenario(path: str | os.PathLike[str]) -> Any:
    """The validated scenario in ``path``; raises ScenarioError listing every problem with its line."""
    source = load_source(path)
    data = source.data
    strategies = data.get("strategies") if isinstance(data, dict) else None
    if isinstance(strategies, dict):
        data = {**data, "strategies": resolve_extends(strategies, source)}
    return validate(scenario_model(), Source(source.path, data, source.lines))


def scenario_from_dict(data: dict[str, Any], name: str = "<scenario>") -> Any:
    """Validate a scenario given as a Python mapping (notebooks, tests); ``name`` stands for the file."""
    source = Source(name, data, {})
    strategies = data.get("strategies")
    if isinstance(strategies, dict):
        data = {**data, "strategies": resolve_extends(strategies, source)}
    return validate(scenario_model(), Source(name, data, {}))


def with_overrides(scenario: Any, **changes: Any) -> Any:
    """A re-validated copy with top-level fields replaced (``seed``, ``replications``), None values ignored."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return scenario
    data = scenario.model_dump(mode="python", round_trip=True)
    data.update(changes)
    try:
        return type(scenario).model_validate(data)
    except ValueError as exc:
        raise ScenarioError([Problem("<arguments>", None, ", ".join(changes), str(exc))]) from None


def resolved_yaml(scenario: Any) -> str:
    """The fully resolved scenario (defaults filled in) as YAML: what ran, loadable again."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    for strategy in data.get("strategies", {}).values():
        strategy.pop("extends", None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
