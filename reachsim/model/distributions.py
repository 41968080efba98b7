"""Distributions for uncertain parameters, sampled by inverse transform.

Each replication draws one uniform per uncertain parameter (from a stream named after the parameter), and the
parameter's value is the distribution's quantile at that uniform. Because the uniform depends on the parameter's
name only, every strategy of a replication sees the same quantile of the parameter: uncertainty is common to the
strategies compared, like every other random number.
"""

from __future__ import annotations

import math


def uniform_ppf(u: float, low: float, high: float) -> float:
    return low + (high - low) * u


def triangular_ppf(u: float, low: float, mode: float, high: float) -> float:
    """Inverse CDF of the triangular distribution on [low, high] with its peak at ``mode``."""
    span = high - low
    cut = (mode - low) / span
    if u < cut:
        return low + math.sqrt(u * span * (mode - low))
    return high - math.sqrt((1 - u) * span * (high - mode))


def normal_ppf(u: float, mean: float, sd: float, low: float = -math.inf, high: float = math.inf) -> float:
    """Normal(mean, sd) truncated to [low, high] (untruncated when both are infinite)."""
    from scipy import stats  # imported when used: workers that only run simulations start without it
    a, b = (low - mean) / sd, (high - mean) / sd
    return float(stats.truncnorm.ppf(u, a, b, loc=mean, scale=sd))


def lognormal_ppf(u: float, median: float, sigma: float) -> float:
    """Log-normal with the given median and log-scale standard deviation ``sigma``."""
    from scipy import stats  # imported when used: workers that only run simulations start without it
    return float(median * math.exp(sigma * stats.norm.ppf(u)))


def beta_ppf(u: float, mean: float, sd: float) -> float:
    """Beta on [0, 1] given by its mean and standard deviation (method of moments)."""
    from scipy import stats  # imported when used: workers that only run simulations start without it
    a, b = beta_shape(mean, sd)
    return float(stats.beta.ppf(u, a, b))


def beta_shape(mean: float, sd: float) -> tuple[float, float]:
    """(a, b) of the beta distribution with this mean and standard deviation; needs sd² < mean(1 − mean)."""
    var = sd * sd
    if not 0 < mean < 1 or not 0 < var < mean * (1 - mean):
        raise ValueError("a beta distribution needs 0 < mean < 1 and sd² < mean·(1 − mean)")
    common = mean * (1 - mean) / var - 1
    return mean * common, (1 - mean) * common
