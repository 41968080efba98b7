"""Weibull retention: the two-point fit, sampling by inverse transform and conditional survival."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reachsim.model.retention import (
    weibull_conditional_survival,
    weibull_from_two_points,
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
