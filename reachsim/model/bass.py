"""Bass diffusion: word-of-mouth growth of an audience towards a market potential.

Each of the ``M − A`` remaining potential adopters adopts at hazard ``p + q·A/M`` per year, where ``p`` is the
coefficient of innovation (external influence: ads, organic discovery), ``q`` the coefficient of imitation
(word of mouth) and ``A`` the number who have already adopted. Solving ``dA/dt = (p + q·A/M)(M − A)`` from
``A(0) = 0`` gives the closed form :func:`bass_cdf`.

Units: ``p`` and ``q`` are per YEAR (as marketing literature quotes them); every time argument is in DAYS,
converted with :data:`DAYS_PER_YEAR`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Floats = float | FloatArray

DAYS_PER_YEAR = 365.0
"""Days per year used to convert the yearly Bass coefficients to the simulation's daily clock."""


def bass_cdf(t_days: npt.ArrayLike, p: npt.ArrayLike, q: npt.ArrayLike) -> Floats:
    """Share of the potential adopted by ``t_days``: ``F(t) = (1 − e^(−(p+q)t)) / (1 + (q/p)·e^(−(p+q)t))``.

    ``t`` is in years inside the formula (``t_days / 365``). ``F`` solves ``dF/dt = (p + qF)(1 − F)``,
    ``F(0) = 0``. With ``p == 0`` nobody ever adopts first, so ``F ≡ 0``; negative times give 0.
    """
    t = np.maximum(np.asarray(t_days, dtype=float), 0.0) / DAYS_PER_YEAR
    pp = np.asarray(p, dtype=float)
    qq = np.asarray(q, dtype=float)
    if np.any(pp < 0) or np.any(qq < 0):
        raise ValueError("Bass coefficients p and q must be >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.exp(-(pp + qq) * t)
        # -expm1 keeps 1 − e accurate for small (p+q)t.
        f = -np.expm1(-(pp + qq) * t) / (1.0 + (qq / pp) * e)
    out = np.where(pp > 0, f, 0.0)
    return out[()]


def bass_hazard_per_day(
    p: npt.ArrayLike, q: npt.ArrayLike, adopted: npt.ArrayLike, potential: npt.ArrayLike
) -> Floats:
    """Daily adoption hazard of one remaining potential adopter: ``(p + q·A/M) / 365``.

    ``A`` (``adopted``) counts everyone who ever adopted, from any source; ``M`` is the potential (a head
    count). A potential of 0 gives the innovation term alone.
    """
    a = np.asarray(adopted, dtype=float)
    m = np.asarray(potential, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(m > 0, a / m, 0.0)
    out = (np.asarray(p, dtype=float) + np.asarray(q, dtype=float) * share) / DAYS_PER_YEAR
    return out[()]


def bass_expected_adopters(
    t_days: npt.ArrayLike, p: npt.ArrayLike, q: npt.ArrayLike, potential: npt.ArrayLike
) -> Floats:
    """Expected number of adopters by ``t_days``: ``M·F(t)`` (see :func:`bass_cdf`)."""
    out = np.asarray(potential, dtype=float) * np.asarray(bass_cdf(t_days, p, q))
    return out[()]


def bass_daily_adoption_probability(
    p: npt.ArrayLike,
    q: npt.ArrayLike,
    adopted: npt.ArrayLike,
    potential: npt.ArrayLike,
    dt_days: npt.ArrayLike = 1.0,
) -> Floats:
    """Probability that a remaining adopter adopts within a step of ``dt_days``: ``1 − exp(−hazard·dt)``.

    The hazard is frozen at the step's start (``A`` as it stands), which is what a discrete daily simulation
    does: each remaining adopter is a Bernoulli trial with this probability. Freezing ``A`` over the step is
    an explicit Euler-type scheme, so the expected path of that simulation tracks the continuous ``M·F(t)``
    with an error of order ``O(dt)`` (halving ``dt`` roughly halves the gap); with daily steps and yearly
    ``p, q`` the gap is a tiny fraction of ``M``.
    """
    hazard = np.asarray(bass_hazard_per_day(p, q, adopted, potential))
    out = -np.expm1(-hazard * np.asarray(dt_days, dtype=float))
    return out[()]


def daily_adoption_probability(p: float, q: float, adopted: float, potential: float, dt_days: float = 1.0) -> float:
    """:func:`bass_daily_adoption_probability` for one step of a simulation: scalars in, a float out, with
    :mod:`math` (the array version's overhead is most of a simulated day's acquisition otherwise)."""
    share = adopted / potential if potential > 0 else 0.0
    hazard = (p + q * share) / DAYS_PER_YEAR
    return -math.expm1(-hazard * dt_days)
