"""Money over time: discounting, NPV, ROI and the break-even day."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Floats = float | FloatArray

DAYS_PER_YEAR = 365.0
"""Days per year used to turn the scenario's annual discount rate into daily discount factors."""


def discount_factors(days: npt.ArrayLike, annual_rate: float) -> Floats:
    """Present-value factor of an amount on ``day``: ``(1 + rate)^(−day/365)``.

    Annual compounding expressed on the daily clock: an amount one year out is worth ``1/(1 + rate)`` today.
    """
    if annual_rate <= -1.0:
        raise ValueError(f"annual_rate must be > -1, got {annual_rate!r}")
    out = (1.0 + annual_rate) ** (-np.asarray(days, dtype=float) / DAYS_PER_YEAR)
    return np.asarray(out, dtype=float)[()]


def npv(days: npt.ArrayLike, amounts: npt.ArrayLike, annual_rate: float) -> float:
    """Net present value ``Σ amount_i·(1 + rate)^(−day_i/365)`` of dated amounts (value > 0, cost < 0)."""
    d = np.asarray(days, dtype=float)
    a = np.asarray(amounts, dtype=float)
    return float(np.sum(a * np.asarray(discount_factors(d, annual_rate))))


def roi(cost: npt.ArrayLike, value: npt.ArrayLike) -> Floats:
    """Return on investment ``(value − cost)/cost``; NaN where ``cost == 0`` (undefined without outlay)."""
    c = np.asarray(cost, dtype=float)
    v = np.asarray(value, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(c == 0, np.nan, (v - c) / c)
    return out[()]


def breakeven_day(daily_net: npt.ArrayLike) -> float:
    """First day from which the cumulative net value stays ≥ 0 through the last day; NaN if it never does.

    ``daily_net[d]`` is the net value (value − cost) booked on day ``d`` (days indexed from 0) and the
    cumulative net at day ``d`` includes day ``d``. The answer is one past the last day whose cumulative net
    is negative (0 if it never is), so a strategy that breaks even and later dips below zero again breaks
    even only after the dip. NaN when the cumulative net is still negative on the last day, or the series is
    empty.

    Rounding: cumulative sums within ``1e-9 ×`` the total absolute flow of zero count as zero, so that flows
    that cancel exactly on paper (e.g. −0.1, −0.2 then 0.3) do not miss break-even by a rounding error.
    """
    net = np.asarray(daily_net, dtype=float)
    if net.ndim != 1:
        raise ValueError("daily_net must be a 1-D array of net value per day")
    if net.size == 0:
        return float("nan")
    cumulative = np.cumsum(net)
    tol = 1e-9 * float(np.sum(np.abs(net)))
    negative = np.flatnonzero(cumulative < -tol)
    if negative.size == 0:
        return 0.0
    last_negative = int(negative[-1])
    if last_negative == net.size - 1:
        return float("nan")
    return float(last_negative + 1)
