"""Uncertain parameters: any numeric input of a scenario may be a distribution, sampled once per replication.

Two ways to write one, with the same meaning:

* inline, in place of the number: ``probability: {dist: uniform, low: 0.1, high: 0.2}``;
* in the top-level ``uncertainty`` list, naming the parameter by its path:
  ``{path: channels.messenger.engagement.probability, dist: uniform, low: 0.1, high: 0.2}``.

Inline distributions are moved into the list when the file is loaded (so the resolved scenario shows each
parameter's central value in place, and the list says how it varies). A path is either absolute
(``market.segments[0].value_per_engagement``, ``strategies.push.channels[0].engagement.probability``) or
``channels.<channel name>.<parameter>``, which means that parameter of the channel of that name in every strategy.
"""

from __future__ import annotations

from typing import Any

from reachsim.core.paths import format_path, parse_path, set_in
from reachsim.core.problems import did_you_mean
from reachsim.scenario.schema import scenario_problems

#: Top-level fields that define the experiment itself rather than the market: never uncertain.
STRUCTURAL = {("horizon_days",), ("seed",), ("replications",), ("uncertainty",)}

#: Quantiles at which a distribution's range is checked against the parameter's bounds at load time.
SUPPORT_QUANTILES = (1e-9, 0.5, 1 - 1e-9)


def extract_inline(
    data: dict[str, Any], lines: dict[tuple[Any, ...], int]
) -> tuple[dict[str, Any], dict[int, tuple[str | int, ...]]]:
    """Move inline distributions into ``uncertainty`` (with their lines), leaving a central value in place.

    Works on raw data (after inheritance, before validation). Returns the new mapping and, for each moved
    entry, its index in ``uncertainty`` → where it was written (so problems can be reported there).
    """
    found: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []

    def walk(value: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            if isinstance(value.get("dist"), str) and loc[:1] != ("uncertainty",):
                found.append((loc, value))
                return _central(value)
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        return value

    out = walk(data, ())
    if not found:
        return out, {}
    listed = out.get("uncertainty")
    entries = list(listed) if isinstance(listed, list) else []
    origins: dict[int, tuple[str | int, ...]] = {}
    for loc, spec in found:
        k = len(entries)
        origins[k] = loc
        entries.append({**spec, "path": format_path(loc)})
        for key_loc, line in list(lines.items()):
            if key_loc[: len(loc)] == loc:
                lines[("uncertainty", k, *key_loc[len(loc) :])] = line
    out["uncertainty"] = entries
    return out, origins


def _central(spec: dict[str, Any]) -> Any:
    """A stand-in value for validation: the spec's own central number when it has one; else the spec."""
    for key in ("mode", "median", "mean"):
        if isinstance(spec.get(key), int | float) and not isinstance(spec.get(key), bool):
            return spec[key]
    low, high = spec.get("low"), spec.get("high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        middle = (low + high) / 2
        return round(middle) if isinstance(low, int) and isinstance(high, int) else middle
    return spec


def stream_key(path: str, scenario: Any) -> str:
    """The name of the random stream of a parameter: the same for that parameter in every strategy.

    ``strategies.S.channels[i].rest`` → ``channels.NAME.rest``; ``strategies.S.timeline[i].set.P`` →
    ``timeline.CHANNEL.dayD.P``; other paths as written.
    """
    parts = parse_path(path)
    if len(parts) >= 4 and parts[0] == "strategies" and parts[2] == "channels" and isinstance(parts[3], int):
        channels = scenario.strategies[parts[1]].channels
        rest = ".".join(str(p) for p in parts[4:])
        return f"channels.{channels[parts[3]].channel_name}.{rest}"
    if len(parts) >= 5 and parts[0] == "strategies" and parts[2] == "timeline" and parts[4] == "set":
        entry = scenario.strategies[parts[1]].timeline[parts[3]]
        rest = ".".join(str(p) for p in parts[5:])
        return f"timeline.{entry.channel}.day{entry.day}.{rest}"
    if len(parts) >= 5 and parts[0] == "strategies" and parts[2] == "timeline":
        entry = scenario.strategies[parts[1]].timeline[parts[3]]
        return f"timeline.{entry.channel}.entry{parts[3]}.{format_path(parts[4:])}"
    if len(parts) >= 2 and parts[0] == "strategies":
        return format_path(parts[2:])
    return path


def targets(path: str, scenario: Any) -> list[tuple[str | int, ...]]:
    """The absolute locations a path refers to (several for ``channels.NAME.param``); [] if none."""
    parts = parse_path(path)
    if parts[:1] != ("channels",):
        return [parts]
    if len(parts) < 3:
        return []
    name, rest = parts[1], parts[2:]
    found = []
    for strategy_name, strategy in scenario.strategies.items():
        for i, channel in enumerate(strategy.channels):
            if channel.channel_name == name:
                found.append(("strategies", strategy_name, "channels", i, *rest))
    return found


def with_values(scenario: Any, values: dict[tuple[str | int, ...], float]) -> Any:
    """A re-validated copy of the scenario with numbers replaced at absolute locations (ValueError if invalid).

    ``values`` is updated with the values actually set (whole-number parameters are rounded)."""
    data = scenario.model_dump(mode="python", round_trip=True)
    for loc, value in values.items():
        values[loc] = set_in(data, loc, value)
    changed = type(scenario).model_validate(data)
    problems = scenario_problems(changed)  # the cross-checks a file gets when it is loaded
    if problems:
        loc, message = problems[0]
        raise ValueError(f"{format_path(loc)}: {message}")
    return changed


def sample(scenario: Any, streams: Any, strategy: str | None = None) -> tuple[Any, dict[str, float]]:
    """The scenario of one replication: every uncertain parameter at its quantile for this replication.

    ``streams`` is the replication's :class:`reachsim.engine.streams.Streams`. Returns the scenario and the
    sampled value of each parameter by stream key — of the parameters that ``strategy`` uses, when it is given
    (another strategy's distribution on the same parameter does not overwrite this one's value).
    """
    if not scenario.uncertainty:
        return scenario, {}
    values: dict[tuple[str | int, ...], float] = {}
    drawn: dict[str, float] = {}
    for entry in scenario.uncertainty:
        for loc in targets(entry.path, scenario):
            u = float(streams.generator(f"uncertainty/{stream_key(format_path(loc), scenario)}").random())
            values[loc] = entry.ppf(u)
    sampled = with_values(scenario, values)
    for loc, value in values.items():
        if strategy is None or loc[0] != "strategies" or loc[1] == strategy:
            drawn[stream_key(format_path(loc), scenario)] = value
    return sampled, drawn


def problems(scenario: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Load-time checks: each entry names numeric parameters, and its whole range is allowed there."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    claimed: dict[tuple[str | int, ...], int] = {}
    for k, entry in enumerate(scenario.uncertainty):
        here = ("uncertainty", k)
        if entry.path is None:
            found.append(((*here, "path"), "required key is missing (which parameter does this distribution vary?)"))
            continue
        if parse_path(entry.path)[:1] in STRUCTURAL:
            message = f"'{entry.path}' shapes the whole experiment and cannot vary by replication"
            found.append(((*here, "path"), message))
            continue
        locs = targets(entry.path, scenario)
        if not locs:
            found.append(((*here, "path"), no_target(entry.path, scenario)))
            continue
        twice = [loc for loc in locs if loc in claimed]
        if twice:
            other = claimed[twice[0]]
            message = f"'{format_path(twice[0])}' already has a distribution (uncertainty[{other}])"
            found.append(((*here, "path"), message))
            continue
        claimed.update(dict.fromkeys(locs, k))
        for q in SUPPORT_QUANTILES:
            value = entry.ppf(q)
            try:
                with_values(scenario, dict.fromkeys(locs, value))
            except KeyError as exc:
                found.append(((*here, "path"), f"'{exc.args[0]}' is not a numeric parameter of this scenario"))
                break
            except ValueError as exc:
                message = first_error(exc)
                found.append(((*here, "dist"), f"its range reaches {value:g}, which is not allowed ({message})"))
                break
    return found


def first_error(exc: ValueError) -> str:
    """The first message of a validation error, without pydantic's prefixes or a validator's ``@path: ``."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    message = str(errors()[0]["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if message.startswith("@") and ": " in message:
        message = message.split(": ", 1)[1]
    return message


def no_target(path: str, scenario: Any) -> str:
    """Why a ``channels.NAME.param`` path matches nothing, with a "did you mean" for the channel name."""
    parts = parse_path(path)
    if len(parts) < 3:
        return "a channels path names a channel and a parameter: channels.CHANNEL_NAME.parameter"
    names = {c.channel_name for s in scenario.strategies.values() for c in s.channels}
    return f"no channel is named '{parts[1]}' in any strategy{did_you_mean(str(parts[1]), names)}"
