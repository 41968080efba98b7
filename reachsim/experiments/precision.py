"""Precision-driven replications: as many as the confidence intervals of the NPVs need, up to a cap.

After every complete replication the rule asks, for each strategy's NPV and each paired NPV difference against the
baseline, whether the half-width of its 95% confidence interval (Student t, ``t(0.975, n − 1)·s/√n``) is within
``target`` times the magnitude of its mean; the experiment stops at the first replication count where all of
them are (never before ``minimum``), or at the cap. The rule is asked at every count in order, so the count it
stops at, and therefore every output, is the same whatever the executor or number of workers, and the results
are those of a fixed run of that many replications.

A quantity whose mean is near zero needs a very small interval (a difference that is truly zero and noisy never
qualifies): that is what the cap is for. Each check is screened with running sums and confirmed with the exact
two-pass computation that is also reported, so the reported half-widths are the ones the rule accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reachsim.engine.simulation import RunResult
from reachsim.experiments.runner import ExperimentResult
from reachsim.experiments.stats import t_quantile

__all__ = ["MIN_REPLICATIONS", "PrecisionRule", "half_width"]

#: Fewer replications than this estimate a standard deviation too poorly to stop on.
MIN_REPLICATIONS = 10
#: The figure whose precision is asked for.
METRIC = "npv"


def half_width(values: np.ndarray) -> float:
    """Half-width of the 95% Student-t confidence interval of the mean of ``values`` (inf below 2 values)."""
    n = values.size
    if n < 2:
        return math.inf
    return t_quantile(0.975, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)


@dataclass
class _Running:
    """Welford's running mean and variance: a cheap first look before the exact check."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def relative(self, t: float) -> float:
        if self.n < 2:
            return math.inf
        half = t * math.sqrt(self.m2 / (self.n - 1) / self.n)
        return half / abs(self.mean) if self.mean else (0.0 if half == 0 else math.inf)


@dataclass
class PrecisionRule:
    """The stopping rule of the module docstring, fed one complete replication at a time (``until`` of
    :func:`reachsim.experiments.runner.run_experiment`)."""

    scenario: Any
    target: float
    minimum: int = MIN_REPLICATIONS
    values: dict[str, list[float]] = field(default_factory=dict)
    _running: dict[str, _Running] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ValueError(f"the precision must be between 0 and 1 (a share of the mean), got {self.target}")

    @property
    def quantities(self) -> list[str]:
        """``strategies.<name>.npv`` for every strategy, ``comparisons.<name>.npv`` for every one but the
        baseline (the names summary.json gives them)."""
        base = self.scenario.baseline
        return [f"strategies.{s}.{METRIC}" for s in self.scenario.strategies] + [
            f"comparisons.{s}.{METRIC}" for s in self.scenario.strategies if s != base
        ]

    def __call__(self, replication: int, runs: dict[str, RunResult]) -> bool:
        """Add one complete replication; whether the experiment may stop now."""
        alone = ExperimentResult(scenario=self.scenario, runs={s: [run] for s, run in runs.items()})
        npv = {s: float(alone.strategy_metrics(s)[METRIC][0]) for s in runs}
        base = npv[self.scenario.baseline]
        for s, value in npv.items():
            self._add(f"strategies.{s}.{METRIC}", value)
            if s != self.scenario.baseline:
                self._add(f"comparisons.{s}.{METRIC}", value - base)
        n = len(self.values[self.quantities[0]])
        if n < max(self.minimum, 2):
            return False
        t = t_quantile(0.975, n - 1)
        if any(self._running[q].relative(t) > self.target * 1.01 for q in self.quantities):
            return False  # clearly not yet: no need for the exact check
        return self.satisfied()

    def _add(self, quantity: str, value: float) -> None:
        self.values.setdefault(quantity, []).append(value)
        self._running.setdefault(quantity, _Running()).add(value)

    def checks(self) -> dict[str, dict[str, float | None]]:
        """For each quantity: its mean, the half-width of its 95% CI and their ratio (``relative``)."""
        out: dict[str, dict[str, float | None]] = {}
        for quantity in self.quantities:
            values = np.asarray(self.values.get(quantity, []), dtype=float)
            mean = float(values.mean()) if values.size else math.nan
            half = half_width(values)
            relative = half / abs(mean) if mean else (0.0 if half == 0 else math.inf)
            out[quantity] = {key: (v if math.isfinite(v) else None) for key, v in
                             (("mean", mean), ("half_width", half), ("relative", relative))}
        return out

    def satisfied(self) -> bool:
        """Every quantity within the target (exact computation)."""
        return all(c["relative"] is not None and c["relative"] <= self.target for c in self.checks().values())

    def report(self, replications: int, cap: int, interrupted: bool) -> dict[str, Any]:
        """The ``precision`` block of summary.json: the target, the cap, what stopped the run, every check."""
        stopped_by = "interrupted" if interrupted else ("precision" if self.satisfied() else "max_replications")
        return {
            "target": self.target,
            "metric": METRIC,
            "minimum": self.minimum,
            "max_replications": cap,
            "replications": replications,
            "stopped_by": stopped_by,
            "checks": self.checks(),
        }
