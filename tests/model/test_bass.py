"""Bass diffusion closed form against the ODE it solves and the discrete daily scheme the engine runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from reachsim.model.bass import (
    DAYS_PER_YEAR,
    bass_cdf,
    bass_daily_adoption_probability,
    bass_expected_adopters,
    bass_hazard_per_day,
)


def integrate_bass(p: float, q: float, potential: float, t_days: np.ndarray) -> np.ndarray:
    """Solve dA/dt = (p + q·A/M)(M − A), t in years, A(0) = 0, numerically."""

    def rhs(_t: float, a: np.ndarray) -> np.ndarray:
        return (p + q * a / potential) * (potential - a)

    sol = solve_ivp(
        rhs, (0.0, t_days[-1] / DAYS_PER_YEAR), [0.0], t_eval=t_days / DAYS_PER_YEAR, rtol=1e-10, atol=1e-8
    )
    assert sol.success
    return sol.y[0]


def discrete_expected_path(
    p: float, q: float, potential: float, horizon_days: float, dt: float
) -> np.ndarray:
    """Expected adopters of the discrete simulation: each step, remaining × step probability adopt."""
    steps = round(horizon_days / dt)
    a = 0.0
    path = [a]
    for _ in range(steps):
        a += (potential - a) * bass_daily_adoption_probability(p, q, a, potential, dt_days=dt)
        path.append(a)
    return np.array(path)


def test_days_per_year() -> None:
    assert DAYS_PER_YEAR == 365.0


@pytest.mark.parametrize(("p", "q"), [(0.01, 0.3), (0.03, 0.38), (0.2, 0.0), (0.001, 1.5)])
def test_cdf_solves_the_bass_ode(p: float, q: float) -> None:
    m = 50_000.0
    t_days = np.linspace(0.0, 10 * DAYS_PER_YEAR, 41)
    numeric = integrate_bass(p, q, m, t_days)
    np.testing.assert_allclose(bass_expected_adopters(t_days, p, q, m), numeric, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(m * bass_cdf(t_days, p, q), numeric, rtol=1e-6, atol=1e-4)


def test_cdf_uses_years() -> None:
    # With q = 0 it is the exponential cdf in years: F(1 year) = 1 − e^(−p).
    assert bass_cdf(365.0, 0.2, 0.0) == pytest.approx(1 - np.exp(-0.2), rel=1e-14)
    # Textbook value: F(t) at the peak time t* = ln(q/p)/(p+q) is (q − p)/(2q).
    p, q = 0.03, 0.38
    t_star_days = np.log(q / p) / (p + q) * DAYS_PER_YEAR
    assert bass_cdf(t_star_days, p, q) == pytest.approx((q - p) / (2 * q), rel=1e-12)


def test_cdf_edge_cases() -> None:
    assert bass_cdf(0.0, 0.01, 0.3) == 0.0
    assert bass_cdf(-5.0, 0.01, 0.3) == 0.0
    assert bass_cdf(1000.0, 0.0, 0.3) == 0.0
    np.testing.assert_array_equal(bass_cdf(np.array([0.0, 100.0, 1e5]), 0.0, 0.0), [0.0, 0.0, 0.0])
    assert bass_cdf(1e6, 0.01, 0.3) == pytest.approx(1.0)
    # Tiny times keep relative accuracy: F ≈ p·t for t → 0.
    assert bass_cdf(1e-9, 0.01, 0.3) == pytest.approx(0.01 * 1e-9 / 365, rel=1e-6)


def test_cdf_vectorised_over_parameters() -> None:
    out = bass_cdf(365.0, np.array([0.0, 0.01, 0.03]), np.array([[0.3], [0.5]]))
    assert out.shape == (2, 3)
    assert out[0, 1] == pytest.approx(bass_cdf(365.0, 0.01, 0.3))
    assert np.all(out[:, 0] == 0.0)


@given(
    st.floats(min_value=1e-4, max_value=1.0),
    st.floats(min_value=0.0, max_value=2.0),
    st.floats(min_value=0.0, max_value=1e4),
    st.floats(min_value=0.0, max_value=1e4),
)
def test_cdf_is_a_cdf(p: float, q: float, t1: float, t2: float) -> None:
    lo, hi = sorted((t1, t2))
    f_lo, f_hi = bass_cdf(lo, p, q), bass_cdf(hi, p, q)
    assert 0.0 <= f_lo <= f_hi + 1e-15 <= 1.0 + 1e-15


def test_hazard_per_day() -> None:
    assert bass_hazard_per_day(0.01, 0.3, 0.0, 1000.0) == pytest.approx(0.01 / 365)
    assert bass_hazard_per_day(0.01, 0.3, 500.0, 1000.0) == pytest.approx((0.01 + 0.15) / 365)
    # Consistency with the cdf: dF/dt (per day) = hazard × (1 − F).
    p, q, m, t = 0.03, 0.38, 1000.0, 400.0
    h = 1e-3
    slope = (bass_cdf(t + h, p, q) - bass_cdf(t - h, p, q)) / (2 * h)
    f = bass_cdf(t, p, q)
    assert slope == pytest.approx(bass_hazard_per_day(p, q, m * f, m) * (1 - f), rel=1e-7)


def test_daily_probability() -> None:
    hazard = bass_hazard_per_day(0.03, 0.38, 200.0, 1000.0)
    assert bass_daily_adoption_probability(0.03, 0.38, 200.0, 1000.0) == pytest.approx(1 - np.exp(-hazard))
    assert bass_daily_adoption_probability(0.03, 0.38, 200.0, 1000.0, dt_days=7.0) == pytest.approx(
        1 - np.exp(-7 * hazard)
    )
    assert bass_daily_adoption_probability(0.0, 0.0, 0.0, 1000.0) == 0.0


def test_discrete_daily_scheme_tracks_closed_form_to_first_order() -> None:
    p, q, m, horizon = 0.03, 0.38, 100_000.0, 10 * DAYS_PER_YEAR
    exact = bass_expected_adopters(np.arange(0.0, horizon + 1.0), p, q, m)
    err_1 = np.max(np.abs(discrete_expected_path(p, q, m, horizon, 1.0) - exact))
    err_half = np.max(np.abs(discrete_expected_path(p, q, m, horizon, 0.5)[::2] - exact))
    # Daily steps stay within a small fraction of the potential...
    assert err_1 < 2e-3 * m
    # ... and the gap is O(dt): halving the step halves it.
    assert err_half / err_1 == pytest.approx(0.5, abs=0.05)


def test_monte_carlo_daily_simulation_matches_closed_form() -> None:
    # The engine's scheme: every remaining adopter is a Bernoulli trial with the day's probability.
    rng = np.random.default_rng(20240611)
    p, q, m, days, reps = 0.05, 0.5, 20_000, 3 * 365, 200
    adopted = np.zeros(reps)
    for _ in range(days):
        prob = bass_daily_adoption_probability(p, q, adopted, m)
        adopted += rng.binomial((m - adopted).astype(np.int64), prob)
    mean, se = adopted.mean(), adopted.std(ddof=1) / np.sqrt(reps)
    expected = bass_expected_adopters(days, p, q, m)
    # O(dt) discretisation bias is a few adopters here; allow it on top of 4 standard errors.
    assert abs(mean - expected) < 4 * se + 1e-3 * m
