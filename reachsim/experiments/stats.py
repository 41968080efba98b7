"""Summaries across replications: mean with 5th/95th percentiles, and paired differences with 95% CIs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def _number(x: float) -> float | None:
    """JSON has no NaN or infinity: undefined numbers become null."""
    return float(x) if math.isfinite(x) else None


def describe(values: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """Mean, 5th and 95th percentile over replications, ignoring undefined (NaN) replications."""
    arr = _finite(values)
    if arr.size == 0:
        return {"mean": None, "p05": None, "p95": None}
    p05, p95 = np.percentile(arr, [5, 95])
    return {"mean": _number(float(arr.mean())), "p05": _number(float(p05)), "p95": _number(float(p95))}


def paired_difference(
    treatment: Sequence[float] | np.ndarray, baseline: Sequence[float] | np.ndarray
) -> dict[str, float | list[float | None] | None]:
    """Mean of per-replication differences (common random numbers) with a Student-t 95% interval."""
    diff = np.asarray(treatment, dtype=float) - np.asarray(baseline, dtype=float)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return {"mean": None, "ci95": [None, None]}
    mean = float(diff.mean())
    if diff.size < 2:
        return {"mean": _number(mean), "ci95": [None, None]}
    half = float(stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / math.sqrt(diff.size))
    return {"mean": _number(mean), "ci95": [_number(mean - half), _number(mean + half)]}


def daily_bands(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-day mean, p05 and p95 of an array shaped (replications, days)."""
    p05, p95 = np.percentile(stack, [5, 95], axis=0)
    return stack.mean(axis=0), p05, p95
