"""Parameter sweeps: a response curve over one parameter and its marginal returns, on common random numbers.

A sweep runs the scenario once per value of one parameter, with the same seed and replications every time, so
replication r of every value (and of every strategy) draws the same random numbers: the organic sign-ups, the
broadcast outcomes, the sampled uncertain inputs. The difference between two consecutive values is then a
paired difference over replications, and the marginal effect per unit of the parameter,

    (metric(v[i+1]) − metric(v[i])) / (v[i+1] − v[i]),

comes with a confidence interval that only the parameter's own effect widens ("each extra $1 a day of paid
Messenger budget adds 0.8 NPV, 95% CI 0.6 to 1.0, between 100 and 150").

The path is written as for uncertain inputs (see :mod:`reachsim.scenario.uncertainty`): absolute
(``strategies.S.channels[0].boost.budget_per_post``) or ``channels.NAME.param`` for the channel of that name in
every strategy that has the parameter. Strategies without it run unchanged at every value (their marginal
effects are exactly 0, which CRN makes visible).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reachsim.core.paths import set_in
from reachsim.experiments.executors import Executor, SequentialExecutor
from reachsim.experiments.runner import ExperimentResult, run_task, tasks_for
from reachsim.experiments.stats import describe, paired_difference
from reachsim.scenario.errors import format_path, parse_path, suggest
from reachsim.scenario.uncertainty import first_error, no_target, targets, with_values

#: Which input of a sweep an error is about (``SweepError.argument``): the parameter path or its values.
PARAM, VALUES = "param", "values"
#: Top-level fields a sweep cannot vary: every value must run on the same random numbers and replications.
FIXED = {
    ("seed",): "the seed",
    ("replications",): "the number of replications",
    ("horizon_days",): "the horizon (every point must cover the same days)",
}

#: (value, strategy, replication) of each finished run.
SweepProgress = Callable[[float, str, int], None]


class SweepError(ValueError):
    """A sweep that cannot run as asked (an unknown path, a value the schema refuses, values out of order);
    the message is one line and names the path or value at fault. ``argument`` says which input is at fault:
    ``"param"`` (the path) or ``"values"``."""

    def __init__(self, message: str, argument: str = VALUES) -> None:
        super().__init__(message)
        self.argument = argument


# ---------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------


def parse_values(text: str) -> list[float]:
    """``"V1,V2,..."`` or ``"START:STOP:N"`` (N evenly spaced values, both ends included) → the values,
    checked: at least two, distinct, ascending."""
    text = text.strip()
    if ":" in text:
        parts = [p.strip() for p in text.split(":")]
        if len(parts) != 3:
            raise SweepError(f"expected START:STOP:N, got {text!r}")
        start, stop = (_number(p, text) for p in parts[:2])
        try:
            n = int(parts[2])
        except ValueError:
            raise SweepError(f"N in START:STOP:N must be a whole number, got {parts[2]!r}") from None
        if n < 2:
            raise SweepError(f"N in START:STOP:N must be at least 2, got {n}")
        values = [float(v) for v in np.linspace(start, stop, n)]
    else:
        values = [_number(p.strip(), text) for p in text.split(",") if p.strip()]
    check_values(values)
    return values


def _number(part: str, text: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise SweepError(f"expected a number, got {part!r} in {text!r}") from None
    if not math.isfinite(value):
        raise SweepError(f"expected a finite number, got {part!r} in {text!r}")
    return value


def check_values(values: Sequence[float]) -> None:
    if len(values) < 2:
        raise SweepError(f"a sweep needs at least 2 values, got {len(values)}")
    for a, b in itertools.pairwise(values):
        if not b > a:
            raise SweepError(f"values must be distinct and ascending, got {_g(a)} then {_g(b)}")


def _g(x: float) -> str:
    return format(x, "g")


# ---------------------------------------------------------------------------------------------------------
# The scenarios of a sweep
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """The validated scenario of each value, made before anything runs."""

    path: str
    values: tuple[float, ...]  # as set (whole-number parameters rounded)
    scenarios: tuple[Any, ...]
    varies_in: tuple[str, ...]  # strategies whose scenario differs between values


def plan_sweep(scenario: Any, path: str, values: Sequence[float]) -> SweepPlan:
    """Check the path and every value against the schema; SweepError (one line) if any is refused."""
    path = path.strip()
    values = [float(v) for v in values]
    check_values(values)
    parts = parse_path(path)
    if not parts or format_path(parts) != path:
        raise SweepError(f"'{path}' is not a parameter path (write it as market.size or channels.NAME.param)", PARAM)
    if parts in FIXED:
        raise SweepError(f"'{path}' cannot be swept: {FIXED[parts]} must be the same for every value (CRN)", PARAM)
    locs = targets(path, scenario)
    if not locs:
        raise SweepError(f"'{path}' names no parameter of this scenario{_channel_hint(path, scenario)}", PARAM)
    # Locations where the parameter exists (a channels.NAME path may name it in only some strategies).
    data = scenario.model_dump(mode="python", round_trip=True)
    found = [loc for loc in locs if _numeric_at(data, loc)]
    if not found:
        where = " in any strategy" if parts[0] == "channels" else ""
        message = f"'{path}' is not a numeric parameter of this scenario{where}{_hint(data, locs)}"
        raise SweepError(message, PARAM)
    _refuse_uncertain(path, found, scenario)
    scenarios, set_values = [], []
    for value in values:
        applied = dict.fromkeys(found, value)
        try:
            scenarios.append(with_values(scenario, applied))
        except ValueError as exc:
            raise SweepError(f"{path} = {_g(value)} is not allowed: {first_error(exc)}") from None
        set_values.append(float(next(iter(applied.values()))))
    for a, b, asked in zip(set_values, set_values[1:], values[1:], strict=False):
        if not b > a:  # two values rounded to the same whole number
            raise SweepError(f"{path} takes whole numbers: {_g(asked)} rounds to {_g(b)}, the same as the value before")
    varies_in = tuple(dict.fromkeys(str(loc[1]) for loc in found if loc[0] == "strategies"))
    if not varies_in:  # a market (or other top-level) parameter: every strategy sees it
        varies_in = tuple(scenario.strategies)
    return SweepPlan(path, tuple(set_values), tuple(scenarios), varies_in)


def _numeric_at(data: Any, loc: tuple[str | int, ...]) -> bool:
    """Whether a number is at ``loc`` (resolved as :func:`set_in` resolves it, dotted timeline keys included)."""
    try:
        set_in(copy.deepcopy(data), loc, 0.0)
    except KeyError:
        return False
    return True


def _hint(data: Any, locs: list[tuple[str | int, ...]]) -> str:
    return next((hint for hint in (_key_hint(data, loc) for loc in locs) if hint), "")


def _key_hint(data: Any, loc: tuple[str | int, ...]) -> str:
    """A "did you mean" for the first key of ``loc`` that is not in the data, if one is close."""
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict):
            if ".".join(str(p) for p in loc[i:]) in node:  # a dotted timeline key
                return ""
            if part not in node:
                hint = suggest(str(part), [str(k) for k in node])
                if hint is None:
                    return ""
                return f" (no '{part}' at {format_path(loc[:i]) or 'the top level'}; did you mean '{hint}'?)"
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return ""
    return ""


def _refuse_uncertain(path: str, found: list[tuple[str | int, ...]], scenario: Any) -> None:
    """A parameter drawn from a distribution in each replication would override the swept value."""
    swept = set(found)
    for k, entry in enumerate(scenario.uncertainty):
        if entry.path and swept.intersection(targets(entry.path, scenario)):
            raise SweepError(
                f"'{path}' is uncertain in this scenario (uncertainty[{k}]: {entry.path}); a sweep sets it to "
                "fixed values: give it a number instead of a distribution",
                PARAM,
            )


# ---------------------------------------------------------------------------------------------------------
# Running and summarising
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """Every run of a sweep: one :class:`ExperimentResult` per value (same seed, same replications)."""

    scenario: Any  # the base scenario
    path: str
    values: list[float]
    experiments: list[ExperimentResult]
    varies_in: tuple[str, ...] = ()
    interrupted: bool = False
    _metrics: dict[tuple[int, str], dict[str, np.ndarray]] = field(default_factory=dict, init=False, repr=False)

    @property
    def strategies(self) -> list[str]:
        return list(self.scenario.strategies)

    @property
    def replications(self) -> int:
        """Complete replications: every value and every strategy has run them."""
        return min((e.replications for e in self.experiments), default=0)

    def metrics(self, index: int, strategy: str) -> dict[str, np.ndarray]:
        """Per-replication strategy metrics at ``values[index]`` (as in summary.json)."""
        key = (index, strategy)
        if key not in self._metrics:
            self._metrics[key] = self.experiments[index].strategy_metrics(strategy)
        return self._metrics[key]

    def points(self) -> list[dict[str, Any]]:
        """``[{value, strategies: {name: {metric: {mean, p05, p95}}}}]``, one per value."""
        return [
            {
                "value": value,
                "strategies": {
                    s: {m: describe(v) for m, v in self.metrics(i, s).items()} for s in self.strategies
                },
            }
            for i, value in enumerate(self.values)
        ]

    def marginal(self) -> list[dict[str, Any]]:
        """Between consecutive values: the paired difference per replication divided by the step, with its 95%
        CI: ``[{from, to, strategies: {name: {metric: {mean, ci95}}}}]``."""
        out = []
        for i in range(len(self.values) - 1):
            low, high = self.values[i], self.values[i + 1]
            step = high - low
            strategies = {}
            for s in self.strategies:
                before, after = self.metrics(i, s), self.metrics(i + 1, s)
                strategies[s] = {
                    m: per_unit(paired_difference(after[m], before[m]), step) for m in after if m in before
                }
            out.append({"from": low, "to": high, "strategies": strategies})
        return out

    def best(self) -> dict[str, dict[str, float | None]]:
        """Per strategy, the value with the highest mean NPV (the lowest such value on a tie)."""
        out: dict[str, dict[str, float | None]] = {}
        for s in self.strategies:
            best: tuple[float, float] | None = None
            for i, value in enumerate(self.values):
                mean = describe(self.metrics(i, s)["npv"])["mean"]
                if mean is not None and (best is None or mean > best[1]):
                    best = (value, mean)
            out[s] = {"value": best[0], "npv_mean": best[1]} if best else {"value": None, "npv_mean": None}
        return out

    def summary(self) -> dict[str, Any]:
        """The ``points``, ``marginal`` and ``best`` parts of sweep.json."""
        return {"points": self.points(), "marginal": self.marginal(), "best": self.best()}


def per_unit(diff: dict[str, Any], step: float) -> dict[str, Any]:
    """A paired difference (from :func:`paired_difference`) divided by a positive step."""
    out = dict(diff)
    out["mean"] = None if diff["mean"] is None else diff["mean"] / step
    out["ci95"] = [None if x is None else x / step for x in diff["ci95"]]
    return out


def run_sweep(
    scenario: Any,
    path: str,
    values: Sequence[float],
    *,
    executor: Executor | None = None,
    progress: SweepProgress | None = None,
) -> SweepResult:
    """Run every strategy at every value of the parameter at ``path``, on common random numbers.

    Every scenario is made and validated first (SweepError, before anything runs, for a bad path or value).
    All runs go through one executor context, replication-major (replication 0 of every value and strategy,
    then replication 1, ...), so that on KeyboardInterrupt the result keeps whole replications of every value
    and is marked ``interrupted``.
    """
    plan = plan_sweep(scenario, path, values)
    experiments = [ExperimentResult(scenario=s, runs={name: [] for name in s.strategies}) for s in plan.scenarios]
    result = SweepResult(scenario, plan.path, list(plan.values), experiments, plan.varies_in)
    executor = executor or SequentialExecutor()
    try:
        with executor:
            portable = not isinstance(executor, SequentialExecutor)
            by_replication: dict[int, list[tuple[int, tuple[Any, str, int]]]] = defaultdict(list)
            for i, value_scenario in enumerate(plan.scenarios):
                for task in tasks_for(value_scenario, portable):
                    by_replication[task[2]].append((i, task))
            ordered = [item for r in sorted(by_replication) for item in by_replication[r]]
            runs = executor.map(run_task, [task for _, task in ordered])
            for (i, _), run in zip(ordered, runs, strict=False):
                experiments[i].runs[run.strategy].append(run)
                if progress is not None:
                    progress(plan.values[i], run.strategy, run.replication)
    except KeyboardInterrupt:
        result.interrupted = True
        keep = result.replications
        for experiment in experiments:  # the same complete replications at every value
            experiment.interrupted = True
            experiment.runs = {s: runs[:keep] for s, runs in experiment.runs.items()}
    return result


def _channel_hint(path: str, scenario: Any) -> str:
    return f" ({no_target(path, scenario)})" if parse_path(path)[:1] == ("channels",) else ""
