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

import math

import numpy as np

from reachsim.model.exposure import boost_unique_reach_variance
from reachsim.model.reach import boost_unique_reach_exact

__all__ = ["draw_unique_reach"]


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
    mean = float(boost_unique_reach_exact(impressions, target))
    sd = math.sqrt(float(boost_unique_reach_variance(impressions, target)))
    x = mean + sd * float(rng.standard_normal())
    low = math.floor(x)
    k = low + (1 if rng.random() < x - low else 0)
    return int(min(max(k, 1), min(impressions, target)))
