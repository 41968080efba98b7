"""Reach closed forms: organic Page reach, frequency, paid (boosted) reach and their union.

Semantics (DESIGN.md): each fan independently sees each organic post with probability ``r``; each paid
impression lands on a uniformly random member of the target. These are the expectations the simulation is
tested against.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
Floats = float | FloatArray


def organic_unique_reach(fans: npt.ArrayLike, r: npt.ArrayLike, k: npt.ArrayLike) -> Floats:
    """Expected number of fans reached at least once by ``k`` posts: ``fans·(1 − (1 − r)^k)``.

    A fan misses all ``k`` posts with probability ``(1 − r)^k`` (independent sightings).
    """
    out = np.asarray(fans, dtype=float) * (
        1.0 - (1.0 - np.asarray(r, dtype=float)) ** np.asarray(k, dtype=float)
    )
    return out[()]


def reach_at_frequency(
    n: npt.ArrayLike, r: npt.ArrayLike, k: npt.ArrayLike, at_least: npt.ArrayLike
) -> Floats:
    """Expected number of the ``n`` people with at least ``at_least`` exposures out of ``k`` posts.

    Each person's exposure count is Binomial(k, r), so this is ``n·P(X ≥ at_least) = n·binom.sf(at_least −
    1)``. ``at_least ≤ 0`` counts everyone; ``at_least = 1`` equals :func:`organic_unique_reach`.
    """
    tail = stats.binom.sf(np.asarray(at_least, dtype=float) - 1.0, k, r)
    out = np.asarray(n, dtype=float) * np.asarray(tail, dtype=float)
    return out[()]


def boost_unique_reach(impressions: npt.ArrayLike, target: npt.ArrayLike) -> Floats:
    """Expected unique reach of ``I`` impressions spread uniformly over ``T`` people, Poisson approximation.

    Each person's impression count is approximately Poisson(I/T), so reach ≈ ``T·(1 − e^(−I/T))``; it is
    slightly below the exact :func:`boost_unique_reach_exact` (for a large target by about
    ``I·e^(−I/T)/(2T)`` people, at most ``1/(2e) ≈ 0.18`` of a person) and never exceeds ``min(I, T)``. A
    target of 0 reaches nobody.
    """
    i = np.asarray(impressions, dtype=float)
    t = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > 0, t * -np.expm1(-i / t), 0.0)
    return out[()]


def boost_unique_reach_exact(impressions: npt.ArrayLike, target: npt.ArrayLike) -> Floats:
    """Exact expected unique reach of ``I`` impressions on ``T`` people: ``T·(1 − (1 − 1/T)^I)``.

    A person is missed by one impression with probability ``1 − 1/T``, by all ``I`` (independent) with
    ``(1 − 1/T)^I``. Evaluated as ``−T·expm1(I·log1p(−1/T))`` for accuracy with large targets.
    """
    i = np.asarray(impressions, dtype=float)
    t = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        missed_log = np.where(i > 0, i * np.log1p(-1.0 / t), 0.0)
        out = np.where(t > 0, -t * np.expm1(missed_log), 0.0)
    return out[()]


def union_reach_probability(r: npt.ArrayLike, q: npt.ArrayLike) -> Floats:
    """Probability of being reached by at least one of two independent routes: ``1 − (1 − r)(1 − q)``."""
    out = 1.0 - (1.0 - np.asarray(r, dtype=float)) * (1.0 - np.asarray(q, dtype=float))
    return out[()]
