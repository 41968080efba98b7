"""Weibull retention: the two-point fit, sampling by inverse transform and conditional survival."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reachsim.model.retention import (
    installed_base_constant_installs,
    weibull_conditional_survival,
    weibull_fit,
    weibull_from_two_points,
    weibull_integral,
    weibull_least_squares,
    weibull_lifetimes,
    weibull_survival,
)

APP_DAY_1, APP_DAY_30 = 0.26, 0.07


def test_fit_passes_through_the_app_retention_points() -> None:
    scale, shape = weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30)
    assert isinstance(scale, float) and isinstance(shape, float)
    assert weibull_survival(1.0, scale, shape) == pytest.approx(APP_DAY_1, rel=1e-12)
    assert weibull_survival(30.0, scale, shape) == pytest.approx(APP_DAY_30, rel=1e-12)
    # Typical app retention: most leave early, the hazard falls (k < 1).
    assert 0.0 < shape < 1.0
    # Hand-worked: k = ln(ln(1/0.07)/ln(1/0.26)) / ln 30, λ = 1/ln(1/0.26)^(1/k).
    k = math.log(math.log(1 / 0.07) / math.log(1 / 0.26)) / math.log(30)
    assert shape == pytest.approx(k, rel=1e-12)
    assert scale == pytest.approx(1 / math.log(1 / 0.26) ** (1 / k), rel=1e-12)


def test_fit_recovers_known_parameters() -> None:
    scale, shape = 12.5, 1.7
    t1, t2 = 3.0, 20.0
    fitted = weibull_from_two_points(
        t1, weibull_survival(t1, scale, shape), t2, weibull_survival(t2, scale, shape)
    )
    assert fitted == pytest.approx((scale, shape), rel=1e-10)


@given(
    st.floats(min_value=0.1, max_value=100.0),
    st.floats(min_value=1.05, max_value=50.0),
    st.floats(min_value=0.02, max_value=0.98),
    st.floats(min_value=0.05, max_value=0.95),
)
def test_fit_round_trips(t1: float, ratio: float, s1: float, drop: float) -> None:
    t2 = t1 * ratio
    s2 = s1 * drop
    scale, shape = weibull_from_two_points(t1, s1, t2, s2)
    assert weibull_survival(t1, scale, shape) == pytest.approx(s1, rel=1e-9)
    assert weibull_survival(t2, scale, shape) == pytest.approx(s2, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.0, 0.0, 30.0, 0.07), "s1=0.0 must be strictly between 0 and 1"),
        ((1.0, 1.0, 30.0, 0.07), "s1=1.0 must be strictly between 0 and 1"),
        ((1.0, 0.26, 30.0, 0.0), "s2=0.0 must be strictly between 0 and 1"),
        ((30.0, 0.26, 1.0, 0.07), "0 < t1 < t2"),
        ((1.0, 0.26, 1.0, 0.07), "0 < t1 < t2"),
        ((0.0, 0.26, 30.0, 0.07), "0 < t1 < t2"),
        ((1.0, 0.07, 30.0, 0.26), "must fall over time"),
        ((1.0, 0.26, 30.0, 0.26), "must fall over time"),
    ],
)
def test_fit_rejects_invalid_points(args: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        weibull_from_two_points(*args)


def test_survival_values() -> None:
    assert weibull_survival(0.0, 10.0, 0.5) == 1.0
    assert weibull_survival(-3.0, 10.0, 0.5) == 1.0
    assert weibull_survival(10.0, 10.0, 2.0) == pytest.approx(math.exp(-1))
    t = np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(weibull_survival(t, 1.0, 0.5), np.exp(-np.sqrt(t)))
    # Shape 1 is the exponential distribution.
    assert weibull_survival(3.0, 2.0, 1.0) == pytest.approx(math.exp(-1.5))


def test_lifetimes_are_the_documented_inverse_transform() -> None:
    scale, shape = weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30)
    lifetimes = weibull_lifetimes(np.random.default_rng(5), 1000, scale, shape)
    u = np.random.default_rng(5).random(1000)
    np.testing.assert_allclose(lifetimes, scale * (-np.log(1 - u)) ** (1 / shape), rtol=1e-12)
    # Monotone in U (keeps common random numbers aligned).
    order = np.argsort(u)
    assert np.all(np.diff(lifetimes[order]) >= 0)


@pytest.mark.parametrize(
    ("t1", "s1", "t2", "s2"), [(1.0, APP_DAY_1, 30.0, APP_DAY_30), (7.0, 0.6, 90.0, 0.1)]
)
def test_lifetimes_sample_the_survival_curve(t1: float, s1: float, t2: float, s2: float) -> None:
    scale, shape = weibull_from_two_points(t1, s1, t2, s2)
    n = 200_000
    lifetimes = weibull_lifetimes(np.random.default_rng(11), n, scale, shape)
    assert lifetimes.shape == (n,)
    assert np.all(lifetimes >= 0)
    for t in (0.1, t1, 5.0, t2, 100.0, 365.0):
        s = weibull_survival(t, scale, shape)
        p_hat = np.mean(lifetimes > t)
        assert abs(p_hat - s) < 4 * math.sqrt(s * (1 - s) / n) + 1e-12, t


def test_conditional_survival() -> None:
    scale, shape = weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30)
    ages = np.array([0.0, 1.0, 30.0, 200.0])
    ts = np.array([1.0, 7.0, 30.0, 365.0])
    expected = weibull_survival(ages + ts, scale, shape) / weibull_survival(ages, scale, shape)
    np.testing.assert_allclose(weibull_conditional_survival(ts, ages, scale, shape), expected, rtol=1e-12)
    assert weibull_conditional_survival(0.0, 50.0, scale, shape) == 1.0
    # Decreasing hazard (k < 1): an older install is more likely to last another week.
    assert weibull_conditional_survival(7.0, 60.0, scale, shape) > weibull_conditional_survival(
        7.0, 1.0, scale, shape
    )
    # Shape 1 is memoryless.
    assert weibull_conditional_survival(3.0, 100.0, 2.0, 1.0) == pytest.approx(math.exp(-1.5))


def test_conditional_survival_stays_finite_where_survival_underflows() -> None:
    # S(age) underflows to 0 here; the ratio still has a well-defined value.
    value = weibull_conditional_survival(1.0, 1000.0, 1.0, 1.0)
    assert value == pytest.approx(math.exp(-1.0))


def test_conditional_survival_against_sampling() -> None:
    scale, shape = weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30)
    lifetimes = weibull_lifetimes(np.random.default_rng(3), 400_000, scale, shape)
    age, t = 10.0, 20.0
    alive = lifetimes[lifetimes > age]
    n = alive.size
    s = weibull_conditional_survival(t, age, scale, shape)
    assert abs(np.mean(alive > age + t) - s) < 4 * math.sqrt(s * (1 - s) / n)


# -- more than two points: least squares on the Weibull plot -----------------------------------------------------


@given(
    st.floats(min_value=0.05, max_value=500.0),
    st.floats(min_value=0.1, max_value=5.0),
    st.lists(st.floats(min_value=0.05, max_value=400.0), min_size=2, max_size=8, unique=True),
)
def test_least_squares_recovers_known_parameters(scale: float, shape: float, days: list[float]) -> None:
    t = np.array(days)
    s = weibull_survival(t, scale, shape)
    if np.any((s <= 1e-12) | (s >= 1 - 1e-8)) or np.ptp(np.log(t)) < 1e-3:
        # Points the fit cannot see: shares that round to 0, days too close to tell apart, or shares so near 1
        # that log(-log s) keeps only eps/(1 - s) of relative precision (1e-8 at most here).
        return
    assert weibull_least_squares(t, s) == pytest.approx((scale, shape), rel=1e-6)


def test_least_squares_through_two_points_is_the_two_point_fit() -> None:
    exact = weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30)
    assert weibull_least_squares([1.0, 30.0], [APP_DAY_1, APP_DAY_30]) == pytest.approx(exact, rel=1e-12)
    assert weibull_fit([30.0, 1.0], [APP_DAY_30, APP_DAY_1]) == exact  # the two-point formula, in either order


def test_least_squares_is_the_regression_line_of_the_weibull_plot() -> None:
    days = np.array([1.0, 7.0, 30.0, 90.0])
    shares = np.array([0.26, 0.12, 0.07, 0.03])  # not on one Weibull: the fit is a compromise
    scale, shape = weibull_least_squares(days, shares)
    slope, intercept = np.polyfit(np.log(days), np.log(-np.log(shares)), 1)
    assert shape == pytest.approx(slope, rel=1e-12)
    assert scale == pytest.approx(math.exp(-intercept / slope), rel=1e-12)
    residuals = np.log(-np.log(weibull_survival(days, scale, shape))) - np.log(-np.log(shares))
    assert abs(residuals.sum()) < 1e-9  # a least-squares line with an intercept has residuals summing to 0
    assert weibull_fit(days, shares) == (scale, shape)


@pytest.mark.parametrize(
    ("days", "shares", "message"),
    [
        ([1.0], [0.3], "at least two points"),
        ([1.0, 30.0], [0.3], "as many days as shares"),
        ([1.0, 30.0, 90.0], [0.3, 0.1, 1.0], "strictly between 0 and 1"),
        ([0.0, 30.0, 90.0], [0.3, 0.1, 0.05], "days must be > 0"),
        ([5.0, 5.0, 5.0], [0.3, 0.2, 0.1], "at least two different days"),
        ([1.0, 30.0, 90.0], [0.1, 0.2, 0.3], "must fall over time"),
    ],
)
def test_least_squares_rejects_what_it_cannot_fit(days: list[float], shares: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        weibull_least_squares(days, shares)


# -- installed-days: the integral of S and its daily sum ---------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "shape"), [weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30), (20.0, 1.0), (8.0, 2.5)]
)
def test_integral_of_the_survival_curve(scale: float, shape: float) -> None:
    from scipy import integrate

    for t in (0.5, 1.0, 30.0, 365.0):
        expected, error = integrate.quad(lambda u: weibull_survival(u, scale, shape), 0.0, t, limit=200)
        assert weibull_integral(t, scale, shape) == pytest.approx(expected, rel=1e-7, abs=10 * error)
    assert weibull_integral(0.0, scale, shape) == 0.0
    assert weibull_integral(1e9, scale, shape) == pytest.approx(scale * math.gamma(1 + 1 / shape), rel=1e-9)
    if shape == 1.0:  # exponential: λ(1 − e^{−t/λ})
        assert weibull_integral(10.0, scale, shape) == pytest.approx(scale * (1 - math.exp(-10.0 / scale)))


def test_installed_base_of_constant_installs_is_the_daily_sum_of_survival() -> None:
    scale, shape = weibull_from_two_points(1.0, APP_DAY_1, 30.0, APP_DAY_30)
    a = 20.0
    days = np.array([0, 1, 2, 30, 365])
    got = installed_base_constant_installs(a, days, scale, shape)
    expected = [a * sum(weibull_survival(float(j), scale, shape) for j in range(n)) for n in days]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[1] == a  # the first day's installs, all still there at age 0
    # The left Riemann sum of a falling curve: above the integral, by less than a.
    integral = a * weibull_integral(days.astype(float), scale, shape)
    assert np.all(got >= integral) and np.all(got - integral < a)
