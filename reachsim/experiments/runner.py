"""Replications of every strategy on common random numbers, and what is summarised from them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reachsim.core.metrics import Metric, run_figure, unweighted
from reachsim.engine.simulation import RunResult, run_once
from reachsim.engine.streams import Streams
from reachsim.experiments.executors import Executor, SequentialExecutor
from reachsim.experiments.sensitivity import sensitivity
from reachsim.experiments.stats import daily_bands, describe, paired_difference, profile
from reachsim.model.finance import breakeven_day, npv, roi
from reachsim.scenario.uncertainty import sample as sample_uncertain

#: The strategy metrics, declared like a channel's (the report reads units and labels from here).
STRATEGY_DECLARATIONS: tuple[Metric, ...] = (
    run_figure("total_cost", "currency", "total cost", description="every cost in the ledger over the horizon"),
    run_figure("total_value", "currency", "total value",
               description="value from engagements and other sources over the horizon"),
    run_figure("net_value", "currency", "net value", description="value − cost over the horizon, undiscounted"),
    run_figure("npv", "currency", "NPV", description="net value discounted at the scenario's annual rate, day by day"),
    run_figure("roi", "share", "ROI", description="(value − cost) / cost"),
    run_figure("unique_reach", "people", "unique reach",
               description="people reached at least once by any channel (de-duplicated)"),
    run_figure("engagements", "engagements", "engagements", description="engagements over the horizon, all channels"),
    run_figure("cost_per_engagement", "currency", "cost per engagement", description="total cost / engagements"),
    run_figure("breakeven_day", "days", "break-even day",
               description="first day from which cumulative net value stays ≥ 0"),
    run_figure("audience_value_at_horizon", "currency", "audience value at the horizon",
               description="discounted net value of the run-out after the horizon, paid acquisition and paid "
               "delivery stopped: what the owned audience built is worth"),
    run_figure("npv_with_audience_value", "currency", "NPV with audience value",
               description="NPV + audience value at the horizon"),
)
#: Strategy metrics in summary.json (``strategies.<name>.metrics``), in this order.
STRATEGY_METRICS = tuple(m.name for m in STRATEGY_DECLARATIONS)


@dataclass
class ExperimentResult:
    """Every run of an experiment, by strategy in replication order, and the summaries made from them."""

    scenario: Any
    runs: dict[str, list[RunResult]] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def replications(self) -> int:
        """Complete replications (every strategy has run them)."""
        return min((len(v) for v in self.runs.values()), default=0)

    # -- per-replication scalars ---------------------------------------------------------------------------
    def strategy_metrics(self, strategy: str) -> dict[str, np.ndarray]:
        rows: dict[str, list[float]] = {m: [] for m in STRATEGY_METRICS}
        for run in self.runs[strategy][: self.replications]:
            cost, value = run.series["all", "cost"], run.series["all", "value"]
            net = value - cost
            total_cost, total_value = float(cost.sum()), float(value.sum())
            engagements = float(run.series["all", "engagements"].sum())
            rows["total_cost"].append(total_cost)
            rows["total_value"].append(total_value)
            rows["net_value"].append(total_value - total_cost)
            rate = self.scenario.discount_rate if run.discount_rate is None else run.discount_rate
            horizon_npv = npv(np.arange(net.size), net, rate)
            run_out = run.run_out_net
            audience_value = npv(net.size + np.arange(run_out.size), run_out, rate)
            rows["npv"].append(horizon_npv)
            rows["audience_value_at_horizon"].append(audience_value)
            rows["npv_with_audience_value"].append(horizon_npv + audience_value)
            rows["roi"].append(roi(total_cost, total_value))
            rows["unique_reach"].append(float(run.series["all", "unique_reach"][-1]))
            rows["engagements"].append(engagements)
            rows["cost_per_engagement"].append(total_cost / engagements if engagements else float("nan"))
            rows["breakeven_day"].append(breakeven_day(net))
            for name, value_ in run.final.get("all", {}).items():
                rows.setdefault(name, []).append(value_)
        return {k: np.asarray(v, dtype=float) for k, v in rows.items()}

    def channel_metrics(self, strategy: str) -> dict[str, dict[str, np.ndarray]]:
        """Per channel and metric, one figure per replication, each summarised as its declaration says."""
        out: dict[str, dict[str, list[float]]] = {}
        for run in self.runs[strategy][: self.replications]:
            for channel, metrics in run.metrics.items():
                if channel == "all":
                    continue
                daily = {m.name: run.series[channel, m.name] for m in metrics if m.daily}
                for metric in metrics:
                    if metric.daily:
                        out.setdefault(channel, {}).setdefault(metric.name, []).append(metric.summarise(daily))
            for channel, metrics in run.final.items():
                if channel == "all":
                    continue
                for metric, value in metrics.items():
                    out.setdefault(channel, {}).setdefault(metric, []).append(value)
        return {c: {m: np.asarray(v, dtype=float) for m, v in ms.items()} for c, ms in out.items()}

    def hour_profiles(self, strategy: str) -> dict[str, dict[str, dict[str, list[float | None]]]]:
        """Per channel and metric declared by hour of the day, its 24 hourly values summarised over
        replications (``strategies.<name>.hour_of_day`` in summary.json)."""
        runs = self.runs[strategy][: self.replications]
        out: dict[str, dict[str, dict[str, list[float | None]]]] = {}
        if not runs:
            return out
        for key in runs[0].hours:
            if all(key in run.hours for run in runs):  # a store from before profiles existed has none
                channel, metric = key
                out.setdefault(channel, {})[metric] = profile(np.stack([run.hours[key] for run in runs]))
        return out

    # -- summaries -----------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The ``strategies`` and ``comparisons`` parts of summary.json."""
        strategies: dict[str, Any] = {}
        scalars = {s: self.strategy_metrics(s) for s in self.runs}
        for name in self.runs:
            strategies[name] = {
                "metrics": {m: describe(v) for m, v in scalars[name].items()},
                "channels": {
                    channel: {m: describe(v) for m, v in sorted(metrics.items())}
                    for channel, metrics in self.channel_metrics(name).items()
                },
            }
            hours = self.hour_profiles(name)
            if hours:  # only runs with metrics declared by hour of the day have the key
                strategies[name]["hour_of_day"] = hours
        base = self.scenario.baseline
        parameters = self.sampled_parameters()
        comparisons = {
            name: {m: paired_difference(scalars[name][m], scalars[base][m]) for m in scalars[name]}
            for name in self.runs
            if name != base and base in scalars
        }
        sampled = parameters
        return {
            "baseline": base,
            "parameters": {key: describe(values) for key, values in sampled.items()},
            "sensitivity": sensitivity(sampled, scalars, base) if sampled else {},
            "strategies": strategies,
            "comparisons": comparisons,
            "metrics": self.declarations(),
        }

    def sampled_parameters(self) -> dict[str, np.ndarray]:
        """Each uncertain parameter's values over replications. A parameter drawn alike in every strategy that
        has it is reported once, under its name (``channels.messenger.engagement.probability``); where strategies
        give it different distributions, each strategy's values are reported under
        ``strategies.<strategy>.<name>``, never one strategy's under another's name."""
        by_strategy: dict[str, dict[str, list[float]]] = {}
        for strategy, runs in self.runs.items():
            for run in runs[: self.replications]:
                for key, value in run.parameters.items():
                    by_strategy.setdefault(key, {}).setdefault(strategy, []).append(value)
        out: dict[str, np.ndarray] = {}
        for key, per_strategy in by_strategy.items():
            arrays = {s: np.asarray(v, dtype=float) for s, v in per_strategy.items()}
            first = next(iter(arrays.values()))
            if all(np.array_equal(a, first) for a in arrays.values()):
                out[key] = first
            else:
                out.update((f"strategies.{s}.{key}", a) for s, a in arrays.items())
        return out

    def declarations(self) -> dict[str, Any]:
        """What every metric means (kind, unit, label, group), so that a run directory explains itself:
        ``strategy`` for the strategy metrics, ``channels.<strategy>.<channel>`` for each channel (``all``
        included)."""
        channels: dict[str, Any] = {}
        for strategy, runs in self.runs.items():
            if runs:
                channels[strategy] = {
                    channel: {m.name: m.declaration() for m in metrics} for channel, metrics in runs[0].metrics.items()
                }
        return {"strategy": {m.name: m.declaration() for m in STRATEGY_DECLARATIONS}, "channels": channels}

    def timeseries_rows(self) -> Iterator[tuple[str, str, int, str, float, float, float]]:
        """Long-format daily rows: (strategy, channel, day, metric, mean, p05, p95)."""
        for strategy, runs in self.runs.items():
            runs = runs[: self.replications]
            if not runs:
                continue
            keys = sorted(runs[0].series, key=lambda k: (k[0] != "all", _channel_rank(runs[0], k[0]), k[1]))
            for channel, metric in keys:
                stack = np.stack([r.series[channel, metric] for r in runs])
                mean, p05, p95 = daily_bands(stack)
                for day in range(stack.shape[1]):
                    yield strategy, channel, day, metric, float(mean[day]), float(p05[day]), float(p95[day])


def _channel_rank(run: RunResult, channel: str) -> int:
    names = [c for c, _ in run.series]
    return names.index(channel)


ProgressCallback = Callable[[str, int], None]


def tasks_for(scenario: Any, portable: bool = False) -> list[tuple[Any, str, int]]:
    """Replication-major order: every strategy of replication 0, then of 1, ... so an interrupted
    experiment keeps whole, comparable replications.

    ``portable`` tasks carry the scenario as plain data (the schema class is built at run time from the
    registry and cannot be pickled); each worker validates it again with its own registry.
    """
    payload = scenario.model_dump(mode="python", round_trip=True) if portable else scenario
    return [(payload, strategy, r) for r in range(scenario.replications) for strategy in scenario.strategies]


class RunFailed(Exception):
    """One run raised: which one (strategy, replication, root seed) and why, so that it can be found again."""

    def __init__(self, strategy: str, replication: int, seed: int, cause: str) -> None:
        super().__init__(strategy, replication, seed, cause)  # the arguments, so that it pickles across processes
        self.strategy, self.replication, self.seed, self.cause = strategy, replication, seed, cause

    def __str__(self) -> str:
        return f"strategy '{self.strategy}', replication {self.replication} (seed {self.seed}) failed: {self.cause}"


def run_task(scenario: Any, strategy: str, replication: int) -> RunResult:
    """One run; ``scenario`` is a validated scenario or its plain-data form. Uncertain parameters take this
    replication's values first (the same in every strategy). An error is raised again as :class:`RunFailed`."""
    if isinstance(scenario, dict):
        scenario = _validated(scenario)
    try:
        sampled, values = sample_uncertain(scenario, Streams(scenario.seed, replication), strategy)
        result = run_once(sampled, strategy, replication)
    except Exception as exc:
        raise RunFailed(strategy, replication, scenario.seed, f"{type(exc).__name__}: {exc}") from exc
    problem = _not_finite(result)
    if problem is not None:
        raise RunFailed(strategy, replication, scenario.seed, f"{problem}: a number of the scenario is too large to "
                        "compute with")
    result.parameters = values
    result.discount_rate = sampled.discount_rate  # may itself be uncertain
    return result


def _not_finite(result: RunResult) -> str | None:
    """Where a run's numbers stop being finite (a series, or its total over the horizon), if they do: inf or NaN
    would otherwise pass silently into every summary. A declared mean or ratio has no value (NaN) where its
    weight or denominator is 0, and only there.

    All the series of a run are screened at once: only those that hold something not finite, or every one when
    some value is so large that a total could overflow, are looked at one by one."""
    declared = {channel: {m.name: m for m in metrics} for channel, metrics in result.metrics.items()}
    for unit, values in (("day", result.series), ("hour", result.hours)):
        if not values:
            continue
        keys, arrays = list(values), [np.asarray(v, dtype=float) for v in values.values()]
        suspects = range(len(keys))
        sizes = [a.size for a in arrays]
        if min(sizes) > 0:
            flat = np.concatenate(arrays)
            bad = ~np.isfinite(flat)
            largest = float(np.abs(np.where(bad, 0.0, flat)).max()) * max(sizes)
            if largest < SAFE_TOTAL:  # no total can overflow: only series with something not finite can fail
                starts = np.cumsum([0, *sizes[:-1]])
                suspects = np.flatnonzero(np.add.reduceat(bad, starts)).tolist()
        if not suspects:
            continue
        by_channel: dict[str, dict[str, np.ndarray]] = {}
        for (channel, metric), series in values.items():
            by_channel.setdefault(channel, {})[metric] = series
        with np.errstate(over="ignore", invalid="ignore"):
            for k in suspects:
                (channel, metric), series = keys[k], values[keys[k]]
                bad = ~np.isfinite(series)
                found = declared.get(channel, {}).get(metric)
                if found is not None and bad.any():
                    bad &= ~(np.isnan(series) & unweighted(found, by_channel[channel]))
                if bad.any():
                    first = int(np.flatnonzero(bad)[0])
                    return f"{channel} {metric} on {unit} {first} is {series[first]}"
                if not np.isfinite(np.nansum(series)):
                    return f"{channel} {metric} adds up to more than a number can hold"
    return None


#: Below this, a sum of a series' values cannot overflow (whatever their order and rounding).
SAFE_TOTAL = 1e300


def _validated(data: dict[str, Any]) -> Any:
    from reachsim.scenario.schema import scenario_model

    return scenario_model().model_validate(data)


#: A complete replication: every strategy's run, by strategy.
Replication = dict[str, RunResult]
#: Replications asked for at a time when a stopping rule may end the experiment early.
CHUNK = 32


def run_experiment(
    scenario: Any,
    *,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    completed: Mapping[int, Replication] | None = None,
    on_replication: Callable[[int, Replication], None] | None = None,
    until: Callable[[int, Replication], bool] | None = None,
) -> ExperimentResult:
    """Run ``scenario.replications`` replications of every strategy.

    ``completed`` holds replications that already ran (a resumed run): they are used, not run again.
    ``on_replication(r, runs)`` is called as each new replication completes, in order (to store it).
    ``until(r, runs)`` is asked after each complete replication, in order: True ends the experiment there
    (``scenario.replications`` is then the most there may be). On KeyboardInterrupt the result keeps the
    complete replications and is marked ``interrupted``.
    """
    result = ExperimentResult(scenario=scenario, runs={s: [] for s in scenario.strategies})
    executor = executor or SequentialExecutor()
    completed = completed or {}
    total = scenario.replications
    chunks = [range(start, min(start + CHUNK, total)) for start in range(0, total, CHUNK)] if until else [range(total)]
    try:
        with executor:
            portable = not isinstance(executor, SequentialExecutor)
            payload = scenario.model_dump(mode="python", round_trip=True) if portable else scenario
            for chunk in chunks:
                tasks = [(payload, s, r) for r in chunk if r not in completed for s in scenario.strategies]
                runs = iter(executor.map(run_task, tasks))
                for r in chunk:
                    replication: Replication = {}
                    for strategy in scenario.strategies:
                        run = completed[r][strategy] if r in completed else next(runs)
                        replication[strategy] = run
                        result.runs[strategy].append(run)
                        if progress is not None:
                            progress(strategy, r)
                    if on_replication is not None and r not in completed:
                        on_replication(r, replication)
                    if until is not None and until(r, replication):
                        return result
    except KeyboardInterrupt:
        result.interrupted = True
    return result
