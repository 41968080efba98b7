"""How many distinct people ``I`` uniform impressions on a target of ``T`` reach, drawn at a cost that does not grow.

The count is the number of occupied cells when ``I`` balls fall uniformly into ``T`` urns (the classical occupancy
problem): mean ``T·(1 − (1 − 1/T)^I)`` (:func:`reachsim.model.reach.boost_unique_reach_exact`) and variance
:func:`reachsim.model.exposure.boost_unique_reach_variance`. Its exact distribution needs Stirling numbers of the
second kind or a pass over the impressions (a geometric wait per new person: work in proportion to the reach), so
:func:`draw_unique_reach` draws an approximation instead, at a cost independent of ``I`` and ``T``: a normal with the
exact mean and variance, rounded at random (down with the chance the fraction lacks, up otherwise) so the mean of
the draws stays exact, and kept within the support ``[1, min(I, T)]``. The approximation is in the shape only (the
count is asymptotically normal; its skew is ignored); the rounding adds at most ¼ to the variance. Use it where the
count is reported, not where the people themselves matter.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["draw_unique_reach", "unique_reach_given", "unique_reach_moments"]


@functools.lru_cache(maxsize=256)
def unique_reach_moments(impressions: int, target: int) -> tuple[float, float]:
    """Mean and standard deviation of the people reached by ``impressions`` uniform impressions on ``target``
    people, ``T ≥ 2``, with :mod:`math`: ``T·(1 − m₁)`` and ``√(T·m₁ + T(T − 1)·m₂ − T²·m₁²)`` with
    ``m_k = (1 − k/T)^I`` (the scalar form of :func:`reachsim.model.reach.boost_unique_reach_exact` and
    :func:`reachsim.model.exposure.boost_unique_reach_variance`). Cached: a run buys the same few impression
    counts on the same target day after day."""
    log_m1 = impressions * math.log1p(-1.0 / target)
    m1 = math.exp(log_m1)
    m2 = math.exp(impressions * math.log1p(-2.0 / target)) if target > 2 else 0.0  # (1 − 2/2)^I = 0
    mean = -target * math.expm1(log_m1)
    variance = target * m1 + target * (target - 1.0) * m2 - target * target * m1 * m1
    return mean, math.sqrt(max(variance, 0.0))


def draw_unique_reach(rng: np.random.Generator, impressions: int, target: int) -> int:
    """People reached by ``impressions`` uniform impressions on ``target`` people: normal with the occupancy
    count's exact mean and variance, randomly rounded (mean kept) and clipped to ``[1, min(I, T)]`` (see the
    module). Exact at the edges: nobody without impressions or target, everyone hit once at ``T = 1`` or ``I = 1``."""
    if impressions < 0 or target < 0:
        raise ValueError("impressions and target size must be non-negative")
    if impressions == 0 or target == 0:
        return 0
    if impressions == 1 or target == 1:
        return 1
    normal = float(rng.standard_normal())
    return unique_reach_given(impressions, target, normal, float(rng.random()))


def unique_reach_given(impressions: int, target: int, normal: float, uniform: float) -> int:
    """:func:`draw_unique_reach` for ``impressions, target ≥ 2`` from a standard normal and a uniform on [0, 1)
    drawn beforehand (e.g. in blocks: the count depends on no state, so its draws may come ahead of their day)."""
    mean, sd = unique_reach_moments(int(impressions), int(target))
    x = mean + sd * normal
    low = math.floor(x)
    k = low + (1 if uniform < x - low else 0)
    return int(min(max(k, 1), min(impressions, target)))
