"""Engagement kernels: exponential decay, novelty, fatigue and the opt-out hazard.

These are the pure, vectorised pieces of the engagement rule in DESIGN.md::

    P(engage) = base × segment × relevance × novelty(age) × fatigue(stock)

Every function accepts scalars or NumPy arrays (broadcast together) and returns a NumPy float (for scalar
input) or a float array. No state is kept here: the engine owns the per-consumer fatigue stock and calls these
functions on whole columns at once.

The fatigue stock F follows one update rule everywhere (engine and closed forms alike): before each delivery
``F ← F·2^(−Δt/h)``; the delivery sees the factor ``exp(−s·F)``; then ``F ← F + 1``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Floats = float | FloatArray
"""Return type of the vectorised functions: a NumPy float for scalar input, otherwise a float array."""

_LN2 = float(np.log(2.0))


def decay(dt: npt.ArrayLike, half_life: npt.ArrayLike) -> Floats:
    """Multiplicative decay ``2**(-dt/half_life)`` of a stock over ``dt`` (same time unit as ``half_life``).

    Exponential decay with a half-life is the only memoryless choice: decaying over ``a`` then ``b`` equals
    decaying over ``a + b``, so the engine may decay a stock lazily at delivery times only.
    ``half_life == inf`` means "never decays" and gives exactly 1.0 (even for ``dt == inf``).
    """
    dt_a = np.asarray(dt, dtype=float)
    h = np.asarray(half_life, dtype=float)
    if np.any(h <= 0) or np.any(np.isnan(h)):
        raise ValueError("half_life must be > 0 (use numpy.inf for a stock that never decays)")
    with np.errstate(invalid="ignore"):
        out = np.where(np.isinf(h), 1.0, np.exp2(-dt_a / h))
    return out[()]


def novelty_factor(age_days: npt.ArrayLike, half_life_days: npt.ArrayLike, floor: npt.ArrayLike) -> Floats:
    """Novelty multiplier ``floor + (1 − floor)·2^(−age/half_life)``.

    A newly joined consumer (age 0) engages at full strength (factor 1); the excess over ``floor`` halves
    every ``half_life_days``, so long-standing members settle at ``floor`` rather than at zero.
    """
    fl = np.asarray(floor, dtype=float)
    out = fl + (1.0 - fl) * np.asarray(decay(age_days, half_life_days))
    return out[()]


def fatigue_factor(stock: npt.ArrayLike, strength: npt.ArrayLike) -> Floats:
    """Fatigue multiplier ``exp(−strength·stock)``; the stock counts recent deliveries, each decayed."""
    out = np.exp(-np.asarray(strength, dtype=float) * np.asarray(stock, dtype=float))
    return out[()]


def _ratio_exponent(interval_days: npt.ArrayLike, half_life_days: npt.ArrayLike) -> FloatArray:
    """``a = ln2·d/h`` so that the per-interval decay ratio is ``r = 2^(−d/h) = e^(−a)``."""
    d = np.asarray(interval_days, dtype=float)
    h = np.asarray(half_life_days, dtype=float)
    if np.any(h <= 0) or np.any(np.isnan(h)):
        raise ValueError("half_life_days must be > 0 (use numpy.inf for a stock that never decays)")
    if np.any(d < 0):
        raise ValueError("interval_days must be >= 0")
    return _LN2 * d / h


def fatigue_steady_stock(interval_days: npt.ArrayLike, half_life_days: npt.ArrayLike) -> Floats:
    """Stock seen by a delivery in the periodic steady state: ``r/(1 − r)`` with ``r = 2^(−d/h)``.

    With deliveries every ``d`` days, the stock just before a delivery satisfies the fixed point ``F = r·(F
    + 1)``, whose solution is ``r/(1 − r)`` (the geometric series r + r² + …). It is computed as
    ``1/expm1(a)``, ``a = ln2·d/h``, which is exact for tiny intervals; it is ``inf`` when ``d == 0`` or the
    stock never decays.
    """
    a = _ratio_exponent(interval_days, half_life_days)
    with np.errstate(divide="ignore", over="ignore"):
        out = 1.0 / np.expm1(a)
    return np.asarray(out, dtype=float)[()]


def fatigue_steady_factor(
    interval_days: npt.ArrayLike, half_life_days: npt.ArrayLike, strength: npt.ArrayLike
) -> Floats:
    """Fatigue multiplier in the periodic steady state: ``exp(−s·r/(1 − r))``, ``r = 2^(−d/h)``.

    ``strength == 0`` gives 1.0 even where the steady stock is infinite.
    """
    stock = np.asarray(fatigue_steady_stock(interval_days, half_life_days))
    s = np.asarray(strength, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.where(s == 0, 1.0, np.exp(-s * stock))
    return out[()]


def fatigue_stock_after(
    k: npt.ArrayLike, interval_days: npt.ArrayLike, half_life_days: npt.ArrayLike
) -> Floats:
    """Stock seen by the (k+1)-th delivery of a periodic schedule started from an empty stock.

    After ``k`` earlier deliveries ``d`` days apart the stock is ``r + r² + … + r^k = r(1 − r^k)/(1 − r)``,
    ``r = 2^(−d/h)``; it tends to :func:`fatigue_steady_stock` as ``k → ∞`` and equals ``k`` when ``r == 1``.
    Evaluated as ``r·expm1(−k·a)/expm1(−a)`` for accuracy when ``r`` is close to 1.
    """
    a = _ratio_exponent(interval_days, half_life_days)
    kk = np.asarray(k, dtype=float)
    if np.any(kk < 0):
        raise ValueError("k (number of earlier deliveries) must be >= 0")
    with np.errstate(invalid="ignore", divide="ignore"):
        geometric = np.exp(-a) * np.expm1(-kk * a) / np.expm1(-a)
    out = np.where(a == 0, kk, geometric)
    return np.asarray(out, dtype=float)[()]


def optout_probability(base: npt.ArrayLike, fatigue_strength: npt.ArrayLike, stock: npt.ArrayLike) -> Floats:
    """Per-delivery opt-out probability ``min(1, base·(1 + fatigue_strength·stock))``.

    The hazard grows linearly with the same decayed stock the engagement factor uses (before the + 1 of the
    current delivery), and is capped at certainty.
    """
    b = np.asarray(base, dtype=float)
    out = np.minimum(
        1.0, b * (1.0 + np.asarray(fatigue_strength, dtype=float) * np.asarray(stock, dtype=float))
    )
    return out[()]
