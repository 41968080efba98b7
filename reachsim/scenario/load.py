"""Loading a scenario file: read (YAML, JSON or TOML), resolve ``extends``, validate against the schema."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pydantic
import yaml

from reachsim.core.problems import ScenarioWarning
from reachsim.scenario.errors import Problem, ScenarioError, format_path, parse_path, sort_problems
from reachsim.scenario.inherit import ExtendsError, resolve_extends
from reachsim.scenario.schema import scenario_model, scenario_problems, scenario_warnings, strategy_problems
from reachsim.scenario.source import Source, load_source, validate
from reachsim.scenario.uncertainty import extract_inline
from reachsim.scenario.uncertainty import problems as uncertainty_problems


def load_scenario(path: str | os.PathLike[str]) -> Any:
    """The validated scenario in ``path``; raises ScenarioError listing every problem with its line."""
    return _checked(load_source(path))


def scenario_from_dict(data: dict[str, Any], name: str = "<scenario>") -> Any:
    """Validate a scenario given as a Python mapping (notebooks, tests); ``name`` stands for the file."""
    return _checked(Source(name, data, {}))


def _checked(source: Source) -> Any:
    """Resolve inheritance, validate, then check cross-references; report every problem found at once. What is
    valid but probably not meant is issued as a :class:`ScenarioWarning` each."""
    problems: list[Problem] = []
    data = source.data
    strategies = data.get("strategies") if isinstance(data, dict) else None
    if isinstance(strategies, dict):
        try:
            data = {**data, "strategies": resolve_extends(strategies, source)}
        except ExtendsError as exc:  # report these, and still validate the strategies that resolved
            problems.extend(exc.problems)
            broken = {parse_path(p.field)[1] for p in exc.problems if len(parse_path(p.field)) > 1}
            data = {**data, "strategies": {k: v for k, v in exc.resolved.items() if k not in broken}}
    origins: dict[int, tuple[str | int, ...]] = {}
    if isinstance(data, dict):
        data, origins = extract_inline(data, source.lines)

    def located(loc: tuple[str | int, ...], message: str) -> Problem:
        if loc[:1] == ("uncertainty",) and len(loc) > 1 and loc[1] in origins:  # written inline: report it there
            loc = (*origins[loc[1]], *loc[2:])
        return Problem(source.path, source.line_of(loc), format_path(loc), message)

    try:
        scenario = validate(scenario_model(), Source(source.path, data, source.lines))
    except ScenarioError as exc:
        problems.extend(_relocated(p, origins, located) for p in exc.problems)
        # Cross-references of the strategies that are valid on their own are worth reporting too.
        valid = _valid_strategies(data.get("strategies") if isinstance(data, dict) else None)
        for name, strategy in valid.items():
            for loc, message in strategy_problems(strategy.channels, strategy.timeline):
                problems.append(located(("strategies", name, *loc), message))
        raise ScenarioError(sort_problems(problems), more=exc.more) from None
    for loc, message in [*scenario_problems(scenario), *uncertainty_problems(scenario)]:
        problems.append(located(loc, message))
    if problems:
        raise ScenarioError(sort_problems(problems))
    for warning in sort_problems(located(loc, message) for loc, message in scenario_warnings(scenario)):
        warnings.warn(ScenarioWarning(warning), stacklevel=3)
    return scenario


def _relocated(problem: Problem, origins: dict[int, tuple[str | int, ...]], located: Any) -> Problem:
    """A problem of an inline distribution, reported where it was written rather than in ``uncertainty``."""
    loc = parse_path(problem.field)
    if loc[:1] == ("uncertainty",) and len(loc) > 1 and loc[1] in origins:
        return located(loc, problem.message)
    return problem


def _valid_strategies(strategies: Any) -> dict[str, Any]:
    if not isinstance(strategies, dict):
        return {}
    strategy_model = scenario_model().model_fields["strategies"].annotation.__args__[1]  # dict[str, Strategy]
    valid = {}
    for name, body in strategies.items():
        try:
            valid[name] = strategy_model.model_validate(body)
        except ValueError:
            continue
    return valid


class OverrideError(ValueError):
    """Top-level values given in code or on the command line that the schema refuses: (field, message, value)."""

    def __init__(self, problems: list[tuple[str, str, Any]]) -> None:
        super().__init__("; ".join(f"{field}: {message} (got {value!r})" for field, message, value in problems))
        self.problems = problems


def with_overrides(scenario: Any, **changes: Any) -> Any:
    """A re-validated copy with top-level fields replaced (``seed``, ``replications``), None values ignored."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return scenario
    data = scenario.model_dump(mode="python", round_trip=True)
    data.update(changes)
    try:
        return type(scenario).model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = str((error.get("loc") or ("",))[0])
            problems.append((field, error["msg"], changes.get(field, error.get("input"))))
        raise OverrideError(list(dict.fromkeys(problems))) from None


def resolved_yaml(scenario: Any) -> str:
    """The fully resolved scenario (defaults filled in) as YAML: what ran, loadable again."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    for strategy in data.get("strategies", {}).values():
        strategy.pop("extends", None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
