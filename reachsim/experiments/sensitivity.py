"""Which uncertain input drives a result: rank correlations across replications.

With parameters sampled once per replication (see reachsim.scenario.uncertainty), each replication is one point
of a Monte-Carlo design. The Spearman rank correlation between a parameter's sampled values and a metric (or a
paired difference between strategies) says how strongly, and in which direction, that input moves the result.
"""

from __future__ import annotations

import math

import numpy as np

#: Metrics whose sensitivity is reported.
SENSITIVITY_METRICS = ("npv", "net_value", "unique_reach", "engagements")


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho over the replications where both are defined; None when it is undefined.

    Computed as ``scipy.stats.spearmanr`` computes it, and to the same bits (the tests hold the two together):
    the Pearson correlation (``np.corrcoef``) of the two columns of average ranks. Not through SciPy's, whose import
    (``scipy.stats``, most of a second) every command line's summary would otherwise wait for."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return None
    ranked = np.column_stack((average_ranks(x[keep]), average_ranks(y[keep])))
    rho = float(np.corrcoef(ranked, rowvar=False)[1, 0])
    return rho if math.isfinite(rho) else None


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1 of finite ``values``, tied values sharing the average of their ranks (``scipy.stats.rankdata``'s
    default): each a whole or half number, exact in float64."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.empty(values.size, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    group = np.empty(values.size, dtype=np.intp)
    group[order] = np.cumsum(first)  # each value's group of ties, from 1, in the values' order
    starts = np.append(np.flatnonzero(first), values.size)  # the sorted position where each group starts; then n
    return 0.5 * (starts[group] + starts[group - 1] + 1)


def sensitivity(
    parameters: dict[str, np.ndarray],
    metrics: dict[str, dict[str, np.ndarray]],
    baseline: str,
) -> dict[str, dict[str, dict[str, float | None]]]:
    """``result[strategy][parameter][metric]``: rank correlation of the parameter with the strategy's metric,
    and with the paired difference against the baseline (``<metric>_vs_baseline``)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for strategy, values in metrics.items():
        per_parameter: dict[str, dict[str, float | None]] = {}
        for name, sampled in parameters.items():
            row: dict[str, float | None] = {}
            for metric in SENSITIVITY_METRICS:
                row[metric] = rank_correlation(sampled, values[metric])
                if strategy != baseline:
                    row[f"{metric}_vs_baseline"] = rank_correlation(sampled, values[metric] - metrics[baseline][metric])
            per_parameter[name] = row
        out[strategy] = per_parameter
    return out
