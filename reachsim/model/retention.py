"""Weibull retention of app installs: ``S(t) = exp(−(t/λ)^k)``.

App retention is usually quoted as two points ("26 % still installed on day 1, 7 % on day 30"). A Weibull
survival curve has exactly two parameters, so it passes through both; shape ``k < 1`` (the usual fit) means a
falling uninstall hazard: most people leave early, the ones who stay tend to keep the app.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Floats = float | FloatArray


def weibull_from_two_points(t1: float, s1: float, t2: float, s2: float) -> tuple[float, float]:
    """Return ``(scale_lambda_days, shape_k)`` of the Weibull survival through ``(t1, s1)`` and ``(t2, s2)``.

    Taking ``log(−log S) = k·log t − k·log λ`` turns the curve into a straight line in ``log t``, so
    ``k = (log(−log s2) − log(−log s1)) / (log t2 − log t1)`` and ``λ = t1 / (−log s1)^(1/k)``.
    Requires ``0 < t1 < t2``, ``0 < s2 < s1 < 1`` (survival must fall between the two days).
    """
    for name, s in (("s1", s1), ("s2", s2)):
        if not 0.0 < s < 1.0:
            raise ValueError(f"retention share {name}={s!r} must be strictly between 0 and 1")
    if not 0.0 < t1 < t2:
        raise ValueError(f"retention days must satisfy 0 < t1 < t2, got t1={t1!r}, t2={t2!r}")
    if not s2 < s1:
        raise ValueError(
            f"retention must fall over time: share on day {t2!r} ({s2!r}) must be below the share on "
            f"day {t1!r} ({s1!r})"
        )
    shape = (math.log(-math.log(s2)) - math.log(-math.log(s1))) / (math.log(t2) - math.log(t1))
    scale = t1 / (-math.log(s1)) ** (1.0 / shape)
    return scale, shape


def weibull_survival(t: npt.ArrayLike, scale: npt.ArrayLike, shape: npt.ArrayLike) -> Floats:
    """Share still installed at age ``t`` days: ``exp(−(t/λ)^k)``; 1 for ``t ≤ 0``."""
    tt = np.maximum(np.asarray(t, dtype=float), 0.0)
    out = np.exp(-((tt / np.asarray(scale, dtype=float)) ** np.asarray(shape, dtype=float)))
    return out[()]


def weibull_lifetimes(rng: np.random.Generator, n: int, scale: float, shape: float) -> FloatArray:
    """Draw ``n`` install lifetimes (days) by inverse transform of ``U = rng.random(n)``.

    ``T = λ·(−log(1 − U))^(1/k)``. Then ``T > t ⇔ 1 − U < S(t)``, so ``P(T > t) = S(t)`` exactly; lifetimes
    are a monotone (increasing) function of ``U``, which keeps common random numbers aligned between
    strategies. Exactly one call to ``rng.random(n)`` is made.
    """
    u = rng.random(n)
    return scale * (-np.log1p(-u)) ** (1.0 / shape)


def weibull_conditional_survival(
    t: npt.ArrayLike, age: npt.ArrayLike, scale: npt.ArrayLike, shape: npt.ArrayLike
) -> Floats:
    """Probability that an install aged ``age`` days survives ``t`` more days: ``S(age + t) / S(age)``.

    Computed as ``exp(−((age+t)/λ)^k + (age/λ)^k)`` so it stays accurate when ``S(age)`` underflows.
    """
    lam = np.asarray(scale, dtype=float)
    k = np.asarray(shape, dtype=float)
    a = np.maximum(np.asarray(age, dtype=float), 0.0)
    end = np.maximum(a + np.asarray(t, dtype=float), a)
    out = np.exp(-((end / lam) ** k) + (a / lam) ** k)
    return out[()]
