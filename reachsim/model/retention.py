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


def weibull_least_squares(days: npt.ArrayLike, shares: npt.ArrayLike) -> tuple[float, float]:
    """Return ``(scale_lambda_days, shape_k)`` of the Weibull survival fitted to ``(day, share)`` points.

    On the Weibull plot, ``x = log t`` and ``y = log(−log S)``, the curve is the straight line ``y = k·x − k·log λ``;
    the fit is the ordinary least-squares line through the points: ``k = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)²`` and
    ``λ = exp(x̄ − ȳ/k)``. With two points the line passes through both (it is :func:`weibull_from_two_points`);
    with more it minimises the squared errors of ``log(−log S)``, so each point counts by its error on that
    scale rather than in shares. Requires at least two points, days ``> 0`` and not all equal, shares strictly
    between 0 and 1, and survival that falls on the whole (``k > 0``).
    """
    t = np.asarray(days, dtype=float).ravel()
    s = np.asarray(shares, dtype=float).ravel()
    if t.size != s.size:
        raise ValueError(f"need as many days as shares, got {t.size} days and {s.size} shares")
    if t.size < 2:
        raise ValueError(f"a Weibull fit needs at least two points, got {t.size}")
    if not np.all((s > 0.0) & (s < 1.0)):
        raise ValueError(f"retention shares must be strictly between 0 and 1, got {s.tolist()}")
    if not np.all(t > 0.0):
        raise ValueError(f"retention days must be > 0, got {t.tolist()}")
    x = np.log(t)
    y = np.log(-np.log(s))
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        raise ValueError("retention points must be on at least two different days")
    shape = float(dx @ (y - y.mean())) / sxx
    if not shape > 0.0:
        raise ValueError("retention must fall over time: the fitted Weibull shape is not positive")
    scale = math.exp(float(x.mean()) - float(y.mean()) / shape)
    return scale, shape


def weibull_fit(days: npt.ArrayLike, shares: npt.ArrayLike) -> tuple[float, float]:
    """The Weibull through two points exactly (:func:`weibull_from_two_points`), or fitted to more by least
    squares (:func:`weibull_least_squares`)."""
    t = np.asarray(days, dtype=float).ravel()
    s = np.asarray(shares, dtype=float).ravel()
    if t.size == 2 and s.size == 2:
        (t1, t2), (s1, s2) = (t, s) if t[0] < t[1] else (t[::-1], s[::-1])
        return weibull_from_two_points(float(t1), float(s1), float(t2), float(s2))
    return weibull_least_squares(t, s)


def weibull_integral(t: npt.ArrayLike, scale: npt.ArrayLike, shape: npt.ArrayLike) -> Floats:
    """Expected days installed within the first ``t`` days of an install: ``∫₀ᵗ S(u) du``.

    With ``v = (u/λ)^k`` the integral is ``λ·Γ(1 + 1/k)·P(1/k, (t/λ)^k)``, ``P`` the regularised lower incomplete
    gamma function; it tends to the mean lifetime ``λ·Γ(1 + 1/k)`` as ``t → ∞``. 0 for ``t ≤ 0``.
    """
    from scipy import special

    lam = np.asarray(scale, dtype=float)
    k = np.asarray(shape, dtype=float)
    tt = np.maximum(np.asarray(t, dtype=float), 0.0)
    out = lam * special.gamma(1.0 + 1.0 / k) * special.gammainc(1.0 / k, (tt / lam) ** k)
    return out[()]


def installed_base_constant_installs(
    installs_per_day: float, days: npt.ArrayLike, scale: float, shape: float
) -> Floats:
    """Expected installed base after ``days`` whole days of ``installs_per_day`` installs a day.

    Installs happen at whole days and an install is counted on day ``d`` if its lifetime ``T`` is at least its
    age ``d − d₀`` (see docs/model/app.md), so the base after ``n`` days holds cohorts aged ``0 … n − 1``:
    ``a·Σ_{j<n} S(j)``, the left Riemann sum with step one day of ``a·∫₀ⁿ S(u) du`` (:func:`weibull_integral`);
    for a falling ``S`` the sum exceeds the integral by less than ``a``.
    """
    n = np.asarray(days, dtype=np.int64)
    top = int(n.max(initial=0))
    cumulative = np.concatenate([[0.0], np.cumsum(weibull_survival(np.arange(top), scale, shape))])
    out = installs_per_day * cumulative[np.maximum(n, 0)]
    return out[()]
