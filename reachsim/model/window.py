"""The messaging window: how often a delivery finds it open when users act as a Poisson process.

A subscriber starts conversations as a Poisson process of rate ``c`` a year. A delivery at ``t`` is in the window
when the subscriber's latest action lies in ``(t − w, t]``, i.e. when at least one action falls in that interval
of ``w/24`` days. The count there is Poisson with mean ``c·w/8760`` (8,760 hours a year), so

    P(in window) = 1 − exp(−c·w/8760).

A subscriber who joined ``a`` days before the delivery (``a < w/24``) has had only ``a`` days to act:
``1 − exp(−c·a/365)``. Deliveries more than ``w`` apart see disjoint intervals, so they are independent.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

HOURS_PER_YEAR = 8760.0


def in_window_share(
    actions_per_year: npt.ArrayLike, window_hours: npt.ArrayLike, since_days: npt.ArrayLike = np.inf
) -> float | npt.NDArray[np.float64]:
    """``1 − exp(−c·min(w, 24·a)/8760)``: the chance that a delivery finds the window open, for actions at ``c``
    a year (Poisson), a window of ``w`` hours and a subscriber who could act for the last ``a`` days."""
    c = np.asarray(actions_per_year, dtype=float)
    w = np.asarray(window_hours, dtype=float)
    a = np.asarray(since_days, dtype=float)
    if np.any(c < 0) or np.any(w < 0) or np.any(a < 0):
        raise ValueError("rates, window lengths and ages must be >= 0")
    hours = np.minimum(w, 24.0 * a)
    out = -np.expm1(-c * hours / HOURS_PER_YEAR)
    return out[()]
