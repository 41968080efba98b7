"""Summaries across replications: mean with 5th/95th percentiles, and paired differences with 95% CIs."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def _number(x: float) -> float | None:
    """JSON has no NaN or infinity: undefined numbers become null."""
    return float(x) if math.isfinite(x) else None


def describe(values: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """Mean, 5th and 95th percentile over replications.

    Replications where the value is undefined (a break-even that never came, an ROI without cost) are left out,
    and then ``n`` says on how many replications the figures rest, so a mean over few is not mistaken for one
    over all."""
    total = len(values)
    arr = _finite(values)
    if arr.size == 0:
        out: dict[str, float | None] = {"mean": None, "p05": None, "p95": None}
    else:
        p05, p95 = np.percentile(arr, [5, 95])
        out = {"mean": _number(float(arr.mean())), "p05": _number(float(p05)), "p95": _number(float(p95))}
    if arr.size < total:
        out["n"] = arr.size
    return out


@functools.cache
def t_quantile(probability: float, df: int) -> float:
    """Student's t quantile with ``df`` degrees of freedom, through ``scipy.special.stdtrit``: what
    ``scipy.stats.t.ppf`` computes, bit for bit, without importing ``scipy.stats`` (most of a second, which every
    command line's summary would otherwise wait for). Kept once computed: a precision rule asks at every
    replication count."""
    from scipy import special  # imported when used: workers that only run simulations start without it

    return float(special.stdtrit(df, probability))


def paired_difference(
    treatment: Sequence[float] | np.ndarray, baseline: Sequence[float] | np.ndarray
) -> dict[str, float | list[float | None] | None]:
    """Mean of per-replication differences (common random numbers) with a Student-t 95% interval; ``n`` as in
    :func:`describe` when some pairs are undefined."""
    diff = np.asarray(treatment, dtype=float) - np.asarray(baseline, dtype=float)
    total = diff.size
    diff = diff[np.isfinite(diff)]
    out: dict[str, float | list[float | None] | None]
    if diff.size == 0:
        out = {"mean": None, "ci95": [None, None]}
    elif diff.size < 2:
        out = {"mean": _number(float(diff.mean())), "ci95": [None, None]}
    else:
        mean = float(diff.mean())
        half = t_quantile(0.975, diff.size - 1) * float(diff.std(ddof=1)) / math.sqrt(diff.size)
        out = {"mean": _number(mean), "ci95": [_number(mean - half), _number(mean + half)]}
    if diff.size < total:
        out["n"] = diff.size  # pairs where both are defined
    return out


def daily_bands(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-day mean, p05 and p95 of an array shaped (replications, days).

    A day on which a replication has no value (NaN: a mean without weight, a ratio without denominator) is
    summarised over the replications that have one, as :func:`describe` does; a day on which none has is NaN."""
    mean, p05, p95, _ = bands(stack)
    return mean, p05, p95


def bands(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``stack`` (replications, columns): mean, p05, p95 over the finite values, and how many
    there are (NaN where there are none)."""
    finite = np.isfinite(stack)
    n = finite.sum(axis=0)
    if n.size and n.min() == stack.shape[0]:  # the usual case, at full speed
        p05, p95 = np.percentile(stack, [5, 95], axis=0)
        return stack.mean(axis=0), p05, p95, n
    mean, p05, p95 = (np.full(stack.shape[1:], np.nan) for _ in range(3))
    whole = n == stack.shape[0]
    if whole.any():
        p05[whole], p95[whole] = np.percentile(stack[:, whole], [5, 95], axis=0)
        mean[whole] = stack[:, whole].mean(axis=0)
    for column in np.flatnonzero((n > 0) & ~whole):  # some replications without a value
        values = stack[finite[:, column], column]
        mean[column] = values.mean()
        p05[column], p95[column] = np.percentile(values, [5, 95])
    return mean, p05, p95, n


def profile(stack: np.ndarray) -> dict[str, list[float | None]]:
    """A profile over replications (an array shaped (replications, bins)) as JSON data: ``mean``, ``p05``,
    ``p95``, one entry per bin, null where no replication has a value; ``n`` per bin when some replications
    have none in some bin, as :func:`describe` says it."""
    mean, p05, p95, n = bands(stack)
    out: dict[str, list[Any]] = {
        "mean": [_number(x) for x in mean.tolist()],
        "p05": [_number(x) for x in p05.tolist()],
        "p95": [_number(x) for x in p95.tolist()],
    }
    if n.size and n.min() < stack.shape[0]:
        out["n"] = [int(x) for x in n.tolist()]
    return out
