"""Test helpers for people who extend reachsim: the channel contract suite.

:func:`check_channel` runs one channel class through everything the engine, the schema and the run directory rely
on, and raises ``AssertionError`` with a message saying what to fix. Call it from a plugin's own tests::

    from reachsim.testing import check_channel
    from my_plugin import SmsChannel

    def test_sms_channel_meets_the_contract():
        check_channel(SmsChannel, {"share_per_day": 0.05, "cost_per_message": 0.02})

reachsim runs it over every registered channel (tests/test_contract.py). docs/extending.md describes the
contract.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import random
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel

from reachsim.channels import registry
from reachsim.channels.base import CHANNEL_METRICS, Channel, ChannelParams
from reachsim.core.metrics import Kind, Metric
from reachsim.core.paths import parse_path, replaced_in
from reachsim.engine.recorder import MoneyFlowError, UndeclaredMetricError
from reachsim.engine.simulation import RunResult, Simulation
from reachsim.engine.streams import Streams
from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.load import resolved_yaml, scenario_from_dict

__all__ = ["check_channel", "contract_scenario"]

_STRATEGY = "contract"
_UNKNOWN_KEY = "not_a_parameter_of_this_channel"


def check_channel(
    channel_cls: type[Channel],
    example_params: Mapping[str, Any],
    *,
    market_size: int = 2_000,
    horizon_days: int = 42,
    seed: int = 20240607,
) -> None:
    """Check that ``channel_cls`` honours the channel contract, using ``example_params`` as its scenario entry.

    ``example_params`` is the channel's mapping as written in a scenario file (``type`` may be omitted); choose
    values that make the channel do something (deliver, engage, spend, draw random numbers) within
    ``horizon_days`` in a market of ``market_size`` consumers. The class is registered for the duration of the
    check if it is not already, and the registry is restored afterwards.

    Checked: the class shape (``type_name``, a ``Params`` model derived from ChannelParams with
    ``type: Literal[type_name]``, a docstring, a description on every field, unknown keys forbidden in every
    nested model); that the example validates in a one-channel scenario and survives the round trip through the
    resolved scenario.yaml; that unknown keys in its parameters are rejected; that a short run is deterministic
    (same seed and replication, identical series) and that another replication draws other numbers when the
    channel uses randomness, only from streams named ``"<channel name>/<purpose>"``, never from global random
    state; that the daily series hold every metric of STANDARD_METRICS and of ``metrics`` (and no
    undeclared one), non-negative, with the audience never above the market size; that money is booked in the
    ledger only (the cost and value series equal the ledger entries, all within the horizon); and that a
    timeline entry setting the example's numeric parameters to their own values changes nothing.
    """
    _check_shape(channel_cls)
    type_name = channel_cls.type_name
    example = dict(example_params)
    if example.get("type", type_name) != type_name:
        _fail(type_name, f"example_params has type {example['type']!r}; leave it out or use {type_name!r}")
    example["type"] = type_name
    with _registered(channel_cls):
        scenario = _validated(type_name, contract_scenario(example, market_size, horizon_days, seed))
        _check_round_trip(type_name, scenario)
        _check_unknown_keys(type_name, example, market_size, horizon_days, seed)
        with _no_global_random_state(type_name):
            first = _run(scenario, 0)
            again = _run(scenario, 0)
            other = _run(scenario, 1)
        differences = _differences(first.result, again.result)
        if differences:
            _fail(
                type_name,
                "two runs with the same seed and replication differ in "
                + ", ".join(differences[:5])
                + ": draw every random number from ctx.rng(...) and keep no state outside the channel object",
            )
        _check_streams(type_name, first, other)
        _check_series(type_name, channel_cls, first, market_size, horizon_days)
        _check_money(type_name, first, horizon_days)
        _check_results(type_name, first, market_size)
        _check_timeline(type_name, example, first, market_size, horizon_days, seed)


def contract_scenario(
    channel: Mapping[str, Any], market_size: int = 2_000, horizon_days: int = 42, seed: int = 20240607
) -> dict[str, Any]:
    """A one-strategy, one-channel scenario (as data) around ``channel``: two segments with values and data."""
    return {
        "name": f"contract check of channel '{channel.get('type')}'",
        "horizon_days": horizon_days,
        "seed": seed,
        "replications": 2,
        "discount_rate": 0.05,
        "market": {
            "size": market_size,
            "segments": [
                {
                    "name": "loyal",
                    "share": 0.3,
                    "engagement_multiplier": 1.5,
                    "value_per_engagement": 0.5,
                    "data_available": 0.5,
                },
                {"name": "casual", "share": 0.7, "engagement_multiplier": 1.0, "value_per_engagement": 0.1},
            ],
        },
        "strategies": {_STRATEGY: {"channels": [dict(channel)]}},
    }


# -- helpers ----------------------------------------------------------------------------------------------------


def _fail(type_name: str, message: str) -> typing.NoReturn:
    raise AssertionError(f"channel '{type_name}': {message}")


@contextlib.contextmanager
def _registered(channel_cls: type[Channel]) -> Iterator[None]:
    """``channel_cls`` registered under its type name while the block runs; the registry restored after."""
    type_name = channel_cls.type_name
    before = registry.available().get(type_name)
    if before is channel_cls:
        yield
        return
    registry.register(channel_cls)
    try:
        yield
    finally:
        registry.unregister(type_name)
        if before is not None and registry.available().get(type_name) is not before:
            registry.register(before)


def _validated(type_name: str, data: dict[str, Any]) -> Any:
    try:
        return scenario_from_dict(data, name=f"<contract check of '{type_name}'>")
    except ScenarioError as exc:
        problems = "\n  ".join(str(p) for p in exc.problems)
        _fail(type_name, f"the example does not validate in a one-channel scenario:\n  {problems}")


# -- the class --------------------------------------------------------------------------------------------------


def _check_shape(channel_cls: type[Channel]) -> None:
    name = getattr(channel_cls, "__name__", repr(channel_cls))
    if not (isinstance(channel_cls, type) and issubclass(channel_cls, Channel)):
        raise AssertionError(f"{name}: a channel must be a subclass of reachsim.channels.base.Channel")
    type_name = getattr(channel_cls, "type_name", None)
    if not isinstance(type_name, str) or not type_name:
        raise AssertionError(f"{name}: set the class attribute type_name to the `type:` that selects it")
    if inspect.isabstract(channel_cls):
        missing = ", ".join(sorted(channel_cls.__abstractmethods__))
        _fail(type_name, f"{name} does not implement {missing}")
    params = getattr(channel_cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, ChannelParams)):
        _fail(type_name, f"{name}.Params must be a pydantic model derived from reachsim.channels.base.ChannelParams")
    type_field = params.model_fields.get("type")
    annotation = type_field.annotation if type_field is not None else None
    if typing.get_origin(annotation) is not Literal or typing.get_args(annotation) != (type_name,):
        _fail(
            type_name,
            f"{params.__name__}.type must be declared as `type: Literal[{type_name!r}]`, found {annotation!r}",
        )
    if not (params.__doc__ or "").strip():
        _fail(type_name, f"{params.__name__} needs a docstring: the scenario reference shows it")
    problems = list(_model_problems(params, params.__name__, set()))
    if problems:
        _fail(type_name, "parameter model problems:\n  " + "\n  ".join(problems))
    _check_declarations(type_name, channel_cls)


def _check_declarations(type_name: str, channel_cls: type[Channel]) -> None:
    """Every metric declared once, with a known kind and unit, a label, and inputs that exist and are flows."""
    own = getattr(channel_cls, "metrics", ())
    if not isinstance(own, tuple) or not all(isinstance(m, Metric) for m in own):
        _fail(type_name, "metrics must be a tuple of reachsim.core.metrics.Metric (flow(...), stock(...), ...)")
    declared = channel_cls.declared_metrics()
    names = [m.name for m in declared]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        _fail(
            type_name,
            f"metrics declares {', '.join(repeated)} more than once; declare only metrics beyond the standard "
            f"ones ({', '.join(CHANNEL_METRICS)}), once each",
        )
    by_name = {m.name: m for m in declared}
    for metric in declared:
        if not metric.label.strip():
            _fail(type_name, f"metric '{metric.name}' needs a label: the report shows it")
        for needed in metric.inputs:
            source = by_name.get(needed)
            if source is None or source.kind is not Kind.FLOW:
                _fail(
                    type_name,
                    f"metric '{metric.name}' ({metric.kind}) is computed from '{needed}', which must be a flow "
                    "declared by the same channel",
                )
            if metric.by_hour and not source.by_hour:
                _fail(
                    type_name,
                    f"metric '{metric.name}' is declared by hour of the day, so '{needed}' it is computed from "
                    "must be declared by hour too (by_hour=True)",
                )


def _model_problems(model: type[BaseModel], where: str, seen: set[type]) -> Iterator[str]:
    if model in seen:
        return
    seen.add(model)
    if model.model_config.get("extra") != "forbid":
        yield f"{where}: unknown keys must be errors: derive it from reachsim.scenario.base.StrictModel"
    for name, info in model.model_fields.items():
        if not (info.description or "").strip():
            yield f"{where}.{name}: add Field(description=...) (the reference and error messages use it)"
        for nested in _models_in(info.annotation):
            yield from _model_problems(nested, f"{where}.{name}", seen)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return
    if origin is typing.Annotated:
        yield from _models_in(typing.get_args(annotation)[0])
        return
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _models_in(arg)


# -- validation -------------------------------------------------------------------------------------------------


def _check_round_trip(type_name: str, scenario: Any) -> None:
    text = resolved_yaml(scenario)
    try:
        again = scenario_from_dict(yaml.safe_load(text), name="<resolved scenario.yaml>")
    except ScenarioError as exc:
        _fail(
            type_name,
            "the resolved scenario (what a run writes to scenario.yaml) does not load again: "
            + "; ".join(str(p) for p in exc.problems),
        )
    if again.model_dump() != scenario.model_dump():
        _fail(type_name, "the resolved scenario (scenario.yaml) loads back with different parameters")


def _check_unknown_keys(type_name: str, example: dict[str, Any], size: int, horizon: int, seed: int) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [("", {**example, _UNKNOWN_KEY: 1})]
    for path, mapping in _mappings(example):
        cases.append((path + ".", replaced_in(example, parse_path(path), {**mapping, _UNKNOWN_KEY: 1})))
    for prefix, params in cases:
        try:
            scenario_from_dict(contract_scenario(params, size, horizon, seed))
        except ScenarioError as exc:
            if not any(_UNKNOWN_KEY in str(p) for p in exc.problems):
                _fail(
                    type_name,
                    f"an unknown key {prefix}{_UNKNOWN_KEY} was rejected without naming it: "
                    + "; ".join(str(p) for p in exc.problems),
                )
        else:
            _fail(
                type_name,
                f"an unknown key {prefix}{_UNKNOWN_KEY} was accepted; parameter models must "
                "derive from StrictModel (extra='forbid')",
            )


def _mappings(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            path = f"{prefix}{key}"
            yield path, dict(value)
            yield from _mappings(value, path + ".")


def _numeric_leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _numeric_leaves(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{prefix}{key}", float(value)


# -- runs -------------------------------------------------------------------------------------------------------


class _RecordingStreams(Streams):
    """Streams that remember every generator they hand out (to see which were used)."""

    def __init__(self, seed: int, replication: int) -> None:
        super().__init__(seed, replication)
        self.handed: list[tuple[str, np.random.Generator]] = []

    def generator(self, name: str) -> np.random.Generator:
        gen = super().generator(name)
        self.handed.append((name, gen))
        return gen

    def used(self) -> list[str]:
        """Names of the streams whose generator drew at least one number."""
        return [
            name
            for name, gen in self.handed
            if gen.bit_generator.state != Streams.generator(self, name).bit_generator.state
        ]


@dataclass
class _Run:
    sim: Simulation
    result: RunResult
    streams: _RecordingStreams
    recorded: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    @property
    def channel(self) -> Channel:
        return self.sim.channels[0]


def _run(scenario: Any, replication: int) -> _Run:
    sim = Simulation(scenario, _STRATEGY, replication)
    streams = _RecordingStreams(sim.streams.seed, sim.streams.replication)
    for channel in sim.channels:
        channel.ctx.streams = streams
    try:
        result = sim.run()
    except UndeclaredMetricError as exc:
        _fail(_channel_type(scenario), f"{exc}: every recorded metric must be declared")
    except MoneyFlowError as exc:
        _fail(_channel_type(scenario), str(exc))
    return _Run(sim, result, streams, dict(sim.recorder.series()))


def _channel_type(scenario: Any) -> str:
    return scenario.strategies[_STRATEGY].channels[0].type


@contextlib.contextmanager
def _no_global_random_state(type_name: str) -> Iterator[None]:
    np_before = np.random.get_state()
    py_before = random.getstate()
    yield
    np_after = np.random.get_state()
    same_np = (
        np_before[0] == np_after[0]
        and np.array_equal(np_before[1], np_after[1])
        and tuple(np_before[2:]) == tuple(np_after[2:])
    )
    if not same_np or random.getstate() != py_before:
        _fail(
            type_name,
            "the run used global random state (numpy.random.* or the random module); draw from "
            "ctx.rng(purpose) instead",
        )


def _differences(a: RunResult, b: RunResult) -> list[str]:
    out = []
    for key in sorted(set(a.series) | set(b.series)):
        # NaN is a mean's or ratio's "no value" (no weight that day): the same in both runs
        if key not in a.series or key not in b.series or not np.array_equal(a.series[key], b.series[key],
                                                                             equal_nan=True):
            out.append(f"series {key[0]}/{key[1]}")
    for key in sorted(set(a.hours) | set(b.hours)):
        if key not in a.hours or key not in b.hours or not np.array_equal(a.hours[key], b.hours[key], equal_nan=True):
            out.append(f"profile by hour {key[0]}/{key[1]}")
    if a.ledger_totals != b.ledger_totals:
        out.append("the ledger")
    if not _same_mapping(a.final, b.final):
        out.append("finish() metrics")
    return out


def _same_mapping(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            if not _same_mapping(x, y):
                return False
        elif not (x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))):
            return False
    return True


def _check_streams(type_name: str, first: _Run, other: _Run) -> None:
    prefix = f"{first.channel.name}/"
    for name, _ in first.streams.handed:
        if not name.startswith(prefix):
            _fail(
                type_name,
                f"the channel asked for the random stream {name!r}; use ctx.rng(purpose), which "
                f"names it '{prefix}<purpose>' so that every strategy with this channel draws the same numbers",
            )
    if first.streams.used() and not _differences(first.result, other.result):
        _fail(
            type_name,
            "replications 0 and 1 gave identical results although the channel drew random numbers "
            f"(streams {', '.join(first.streams.used())}): are the draws seeded from ctx.rng? (If the example "
            "is too small for randomness to show, give check_channel a livelier one.)",
        )


def _check_series(type_name: str, cls: type[Channel], run: _Run, size: int, horizon: int) -> None:
    name = run.channel.name
    series = run.result.series
    declared = tuple(m.name for m in cls.declared_metrics() if m.daily)
    for metric in declared:
        values = series.get((name, metric))
        if values is None:
            _fail(type_name, f"no daily series '{metric}': declare it in the class attribute metrics")
        if values.shape != (horizon,):
            _fail(type_name, f"series '{metric}' has shape {values.shape}, expected ({horizon},)")
    undeclared = sorted(m for (ch, m) in series if ch == name and m not in declared)
    if undeclared:
        _fail(
            type_name,
            f"series {', '.join(undeclared)} are recorded but not declared in metrics: a metric "
            "recorded in some replications only breaks the summaries",
        )
    for metric in CHANNEL_METRICS:
        values = series[name, metric]
        if not np.all(np.isfinite(values)):
            _fail(type_name, f"series '{metric}' has non-finite values (first on day {_first(~np.isfinite(values))})")
        if np.any(values < 0):
            _fail(
                type_name,
                f"series '{metric}' is negative on day {_first(values < 0)}: flows count events "
                "and stocks count people, so neither can be negative",
            )
    audience = series[name, "audience"]
    if np.any(audience > size):
        _fail(type_name, f"audience {audience.max():g} exceeds the market size {size} (day {_first(audience > size)})")
    reach = series["all", "unique_reach"]
    if reach[-1] > size or np.any(np.diff(reach) < 0):
        _fail(
            type_name,
            "unique reach must be non-decreasing and at most the market size: pass ctx.reached() "
            "the consumers exposed now (the population de-duplicates)",
        )
    if not any(series[name, m].any() for m in ("deliveries", "engagements", "cost", "audience")):
        _fail(
            type_name,
            "the example run delivered nothing, engaged nobody, spent nothing and has no audience: "
            "give check_channel an example that exercises the channel",
        )


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_money(type_name: str, run: _Run, horizon: int) -> None:
    name = run.channel.name
    cost = value = 0.0
    for day, channel, category, amount in run.sim.ledger.entries():
        if channel != name:
            _fail(type_name, f"a ledger entry ({category}) was booked under '{channel}', not the channel's name")
        if not (0 <= day < horizon):
            _fail(type_name, f"a ledger entry ({category}) is dated {day}, outside the horizon [0, {horizon})")
        if not math.isfinite(amount):
            _fail(type_name, f"a ledger entry ({category}) has the amount {amount}")
        if amount < 0:
            cost -= amount
        else:
            value += amount
    series = run.result.series
    for metric, booked in (("cost", cost), ("value", value)):
        total = float(series[name, metric].sum())
        if not math.isclose(total, booked, rel_tol=1e-9, abs_tol=1e-9):
            _fail(type_name, f"the daily '{metric}' series sums to {total!r} but the ledger holds {booked!r}")
        if not np.allclose(series["all", metric], series[name, metric], rtol=1e-12, atol=1e-12):
            _fail(type_name, f"the strategy's '{metric}' series differs from the only channel's")
    totals = sum(amount for (channel, _), amount in run.result.ledger_totals.items() if channel == name)
    if not math.isclose(totals, value - cost, rel_tol=1e-9, abs_tol=1e-9):
        _fail(type_name, "the ledger totals do not match its entries")


def _check_results(type_name: str, run: _Run, size: int) -> None:
    exposures = run.channel.exposures()
    if exposures is not None:
        exposures = np.asarray(exposures)
        if exposures.shape != (size,):
            _fail(type_name, f"exposures() must be one count per consumer, shape ({size},); got {exposures.shape}")
        if np.any(exposures < 0):
            _fail(type_name, "exposures() has negative counts")
    exposed = run.channel.exposed()
    if (exposed is None) != (exposures is None):
        _fail(type_name, "exposed() and exposures() must both be tracked or both be None")
    if exposed is not None:
        rows, counts = (np.asarray(a) for a in exposed)
        if rows.shape != counts.shape or np.unique(rows).size != rows.size or np.any(counts <= 0):
            _fail(type_name, "exposed() must give distinct rows and a positive count for each")
        if not np.array_equal(np.flatnonzero(exposures), np.sort(rows)) or np.any(exposures[rows] != counts):
            _fail(type_name, "exposed() disagrees with exposures(): the same deliveries, without the zeros")
    for metric, value in run.result.final.get(run.channel.name, {}).items():
        if not isinstance(metric, str):
            _fail(type_name, f"finish() returned a metric named {metric!r}; use strings")
        try:
            float(value)
        except (TypeError, ValueError):
            _fail(type_name, f"finish() metric {metric!r} is {value!r}, not a number")


def _check_timeline(type_name: str, example: dict[str, Any], first: _Run, size: int, horizon: int, seed: int) -> None:
    fixed = type(first.channel).fixed_parameters
    leaves = {
        path: value
        for path, value in _numeric_leaves({k: v for k, v in example.items() if k not in ("type", "name")})
        if path not in fixed
    }
    if not leaves:
        return
    data = contract_scenario(example, size, horizon, seed)
    data["strategies"][_STRATEGY]["timeline"] = [
        {"day": max(1, horizon // 3), "channel": first.channel.name, "set": leaves}
    ]
    scenario = _validated(type_name, data)
    differences = _differences(first.result, _run(scenario, 0).result)
    if differences:
        _fail(
            type_name,
            "a timeline entry setting parameters to their current values changed the run ("
            + ", ".join(differences[:5])
            + "): set_param() must only replace the parameters, keeping the "
            "channel's state and its random streams",
        )
