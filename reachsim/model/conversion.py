"""Paid acquisition through impressions: how many people ``I`` impressions convert in a target of ``T``.

Each impression lands on a uniformly random member of the target and converts a person not yet in the audience
with probability ``c``. One person is hit ``X ~ Binomial(I, 1/T)`` times and stays unconverted with probability
``E[(1 − c)^X] = (1 − c/T)^I`` (the binomial's generating function), so

    P(converted) = 1 − (1 − c/T)^I,       E[conversions among N non-members] = N · (1 − (1 − c/T)^I).

Impressions on members (or on people who left) convert nobody: they are wasted, but paid. As the non-members
``N`` run out, the same budget buys the same ``I`` and converts fewer, so the cost per acquired person
``B / (N·P)`` rises by itself: saturation comes from the population, not from a curve.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Floats = float | FloatArray


def conversion_probability(rate: npt.ArrayLike, target_size: npt.ArrayLike, impressions: npt.ArrayLike) -> Floats:
    """``1 − (1 − c/T)^I``: the chance that ``I`` impressions on a target of ``T`` convert one given person who
    converts on each impression with probability ``c`` (in [0, 1]). An empty target converts nobody."""
    c = np.asarray(rate, dtype=float)
    t = np.asarray(target_size, dtype=float)
    i = np.asarray(impressions, dtype=float)
    if np.any((c < 0) | (c > 1)):
        raise ValueError("a conversion probability per impression must lie in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        # log1p/expm1 keep the tiny per-impression chance c/T accurate for large targets
        p = np.where(c >= t, 1.0, -np.expm1(i * np.log1p(-c / t)))
    out = np.where((t > 0) & (i > 0), p, 0.0)
    return out[()]


def conversion_probability_scalar(rate: float, target_size: float, impressions: float) -> float:
    """:func:`conversion_probability` for one class, with :mod:`math` (a daily step calls it for a handful)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError("a conversion probability per impression must lie in [0, 1]")
    if target_size <= 0 or impressions <= 0:
        return 0.0
    if rate >= target_size:
        return 1.0
    return -math.expm1(impressions * math.log1p(-rate / target_size))


def expected_conversions(
    nonmembers: npt.ArrayLike, rate: npt.ArrayLike, target_size: npt.ArrayLike, impressions: npt.ArrayLike
) -> Floats:
    """``N · (1 − (1 − c/T)^I)``: people converted among ``N`` non-members of a target of ``T``."""
    out = np.asarray(nonmembers, dtype=float) * np.asarray(conversion_probability(rate, target_size, impressions))
    return out[()]


def expected_wasted(members: npt.ArrayLike, target_size: npt.ArrayLike, impressions: npt.ArrayLike) -> Floats:
    """``I · M/T``: impressions that land on the ``M`` members (or leavers) of a target of ``T``."""
    t = np.asarray(target_size, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > 0, np.asarray(impressions, dtype=float) * np.asarray(members, dtype=float) / t, 0.0)
    return out[()]
