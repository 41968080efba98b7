"""Discounting, NPV, ROI and break-even day."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reachsim.model.finance import DAYS_PER_YEAR, breakeven_day, discount_factors, npv, roi


def brute_force_breakeven(daily_net: list[int]) -> float:
    """The definition read literally: the first d with the cumulative net ≥ 0 on every day from d on."""
    cumulative = np.cumsum(daily_net)
    for d in range(len(daily_net)):
        if np.all(cumulative[d:] >= 0):
            return float(d)
    return math.nan


class TestDiscounting:
    def test_factors(self) -> None:
        assert DAYS_PER_YEAR == 365.0
        assert discount_factors(0, 0.08) == 1.0
        assert discount_factors(365, 0.08) == pytest.approx(1 / 1.08, rel=1e-15)
        assert discount_factors(730, 0.08) == pytest.approx(1 / 1.08**2, rel=1e-14)
        assert discount_factors(182.5, 0.08) == pytest.approx(1 / math.sqrt(1.08), rel=1e-14)
        np.testing.assert_array_equal(discount_factors(np.arange(10), 0.0), np.ones(10))

    def test_factors_are_decreasing_and_compound(self) -> None:
        f = discount_factors(np.arange(1000), 0.12)
        assert np.all(np.diff(f) < 0)
        # f(a + b) = f(a)·f(b): annual compounding expressed daily.
        assert f[400] == pytest.approx(f[150] * f[250], rel=1e-13)

    def test_rejects_rate_below_minus_one(self) -> None:
        with pytest.raises(ValueError, match="annual_rate"):
            discount_factors(1, -1.0)

    def test_npv(self) -> None:
        # Pay 100 today, receive 108 in a year at 8 %: worth nothing today.
        assert npv([0, 365], [-100.0, 108.0], 0.08) == pytest.approx(0.0, abs=1e-12)
        days = np.arange(730)
        amounts = np.full(730, 10.0)
        assert npv(days, amounts, 0.0) == pytest.approx(7300.0)
        expected = sum(10.0 * 1.05 ** (-d / 365) for d in range(730))
        assert npv(days, amounts, 0.05) == pytest.approx(expected, rel=1e-12)
        assert isinstance(npv(days, amounts, 0.05), float)
        assert npv([], [], 0.08) == 0.0


class TestRoi:
    def test_values(self) -> None:
        assert roi(100.0, 150.0) == pytest.approx(0.5)
        assert roi(100.0, 40.0) == pytest.approx(-0.6)
        assert math.isnan(roi(0.0, 10.0))
        out = roi(np.array([100.0, 0.0, 50.0]), np.array([100.0, 5.0, 0.0]))
        assert out[0] == 0.0 and math.isnan(out[1]) and out[2] == -1.0


class TestBreakeven:
    @pytest.mark.parametrize(
        ("daily_net", "expected"),
        [
            ([-10.0, 5.0, 6.0], 2.0),  # cumulative −10, −5, 1
            ([3.0, 1.0, 2.0], 0.0),  # never negative
            ([0.0, 0.0], 0.0),  # zero counts as broken even
            ([-1.0, 1.0], 1.0),  # exactly back to zero on day 1
            ([5.0, -10.0, 3.0, 4.0], 3.0),  # positive, dips to −5 and −2, recovers on day 3
            ([-10.0, 20.0, -15.0, 10.0], 3.0),  # crosses, dips again, recovers
            ([-10.0, 5.0, 4.0], math.nan),  # still −1 at the end
            ([4.0, 1.0, -6.0], math.nan),  # ends negative after being positive
            ([], math.nan),
        ],
    )
    def test_examples(self, daily_net: list[float], expected: float) -> None:
        result = breakeven_day(daily_net)
        assert isinstance(result, float)
        if math.isnan(expected):
            assert math.isnan(result)
        else:
            assert result == expected

    def test_paid_now_owned_later(self) -> None:
        # 120 000 build cost on day 0, then 500 a day of net value: the cumulative net after day d is
        # 500·(d + 1) − 120 000, which first reaches 0 at the end of day 239 (the 240th day).
        daily = np.full(730, 500.0)
        daily[0] -= 120_000.0
        assert breakeven_day(daily) == 239.0
        assert breakeven_day(daily[:239]) != breakeven_day(daily[:239])  # NaN: one day short

    def test_exact_cancellation_is_not_lost_to_rounding(self) -> None:
        assert np.cumsum([-0.1, -0.2, 0.3])[-1] < 0  # −5.6e-17 in floating point
        assert breakeven_day([-0.1, -0.2, 0.3]) == 2.0

    def test_rejects_2d(self) -> None:
        with pytest.raises(ValueError, match="1-D"):
            breakeven_day(np.zeros((2, 2)))

    @given(st.lists(st.integers(min_value=-50, max_value=50), max_size=40))
    def test_matches_the_definition(self, daily_net: list[int]) -> None:
        expected = brute_force_breakeven(daily_net)
        result = breakeven_day(np.array(daily_net, dtype=float))
        assert (math.isnan(expected) and math.isnan(result)) or result == expected
