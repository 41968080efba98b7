"""Engagement kernels against their definitions and the fatigue update rule run step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reachsim.model.kernels import (
    decay,
    fatigue_factor,
    fatigue_steady_factor,
    fatigue_steady_stock,
    fatigue_stock_after,
    novelty_factor,
    optout_probability,
)

half_lives = st.floats(min_value=1e-3, max_value=1e4)
ages = st.floats(min_value=0.0, max_value=1e5)
unit = st.floats(min_value=0.0, max_value=1.0)


def run_fatigue_rule(n_deliveries: int, interval: float, half_life: float, strength: float) -> list[float]:
    """The update rule of DESIGN.md, delivery by delivery: decay, read the factor, add one."""
    stock = 0.0
    seen = []
    for j in range(n_deliveries):
        if j > 0:
            stock *= 2.0 ** (-interval / half_life)
        seen.append(stock)
        _ = math.exp(-strength * stock)
        stock += 1.0
    return seen


class TestDecay:
    def test_halves_every_half_life(self) -> None:
        assert decay(0.0, 3.0) == 1.0
        assert decay(3.0, 3.0) == pytest.approx(0.5, rel=1e-15)
        assert decay(9.0, 3.0) == pytest.approx(0.125, rel=1e-15)

    def test_infinite_half_life_never_decays(self) -> None:
        assert decay(1e9, np.inf) == 1.0
        assert decay(np.inf, np.inf) == 1.0

    def test_vectorised_and_broadcast(self) -> None:
        out = decay(np.array([0.0, 1.0, 2.0]), np.array([[1.0], [2.0]]))
        assert out.shape == (2, 3)
        np.testing.assert_allclose(out, [[1.0, 0.5, 0.25], [1.0, 2**-0.5, 0.5]], rtol=1e-15)

    def test_scalar_in_scalar_out(self) -> None:
        assert np.ndim(decay(1.0, 2.0)) == 0

    def test_rejects_non_positive_half_life(self) -> None:
        with pytest.raises(ValueError, match="half_life"):
            decay(1.0, 0.0)

    @given(ages, ages, half_lives)
    def test_memoryless(self, a: float, b: float, h: float) -> None:
        # Decaying lazily over a + b must equal decaying in two steps: what lets the engine skip idle days.
        assert decay(a + b, h) == pytest.approx(decay(a, h) * decay(b, h), rel=1e-9, abs=1e-300)


class TestNovelty:
    def test_values(self) -> None:
        assert novelty_factor(0.0, 120.0, 0.3) == pytest.approx(1.0)
        assert novelty_factor(120.0, 120.0, 0.3) == pytest.approx(0.3 + 0.7 / 2)
        assert novelty_factor(1e7, 120.0, 0.3) == pytest.approx(0.3)

    @given(ages, half_lives, unit)
    def test_between_floor_and_one(self, age: float, h: float, floor: float) -> None:
        f = novelty_factor(age, h, floor)
        assert floor - 1e-12 <= f <= 1.0 + 1e-12

    @given(ages, ages, half_lives, unit)
    def test_non_increasing_in_age(self, a: float, b: float, h: float, floor: float) -> None:
        lo, hi = sorted((a, b))
        assert novelty_factor(hi, h, floor) <= novelty_factor(lo, h, floor) + 1e-12


class TestFatigue:
    def test_factor_is_exponential(self) -> None:
        stock = np.array([0.0, 1.0, 2.5])
        np.testing.assert_allclose(fatigue_factor(stock, 0.4), np.exp(-0.4 * stock))
        assert fatigue_factor(0.0, 5.0) == 1.0

    @pytest.mark.parametrize(("interval", "half_life"), [(7.0, 4.0), (1.0, 4.0), (0.5, 30.0), (3.0, 1.0)])
    def test_stock_after_matches_the_update_rule(self, interval: float, half_life: float) -> None:
        seen = run_fatigue_rule(60, interval, half_life, strength=0.4)
        expected = fatigue_stock_after(np.arange(60), interval, half_life)
        np.testing.assert_allclose(expected, seen, rtol=1e-12, atol=1e-15)

    @pytest.mark.parametrize(("interval", "half_life"), [(7.0, 4.0), (1.0, 4.0), (0.5, 30.0)])
    def test_stock_after_converges_to_steady_stock(self, interval: float, half_life: float) -> None:
        steady = fatigue_steady_stock(interval, half_life)
        assert fatigue_stock_after(5000, interval, half_life) == pytest.approx(steady, rel=1e-12)
        # ... from below, monotonically.
        path = fatigue_stock_after(np.arange(200), interval, half_life)
        assert np.all(np.diff(path) >= 0)
        assert np.all(path <= steady * (1 + 1e-15))
        assert path[10] < steady

    @given(st.floats(min_value=1e-6, max_value=1e3), half_lives)
    def test_steady_stock_is_the_fixed_point(self, interval: float, h: float) -> None:
        # Just before a delivery: F = r·(F + 1).
        r = 2.0 ** (-interval / h)
        f = fatigue_steady_stock(interval, h)
        if np.isfinite(f) and r < 1.0:
            assert f == pytest.approx(r * (f + 1.0), rel=1e-9)

    def test_steady_stock_examples(self) -> None:
        # Weekly broadcasts with a one-week half-life: r = 1/2, F = 1.
        assert fatigue_steady_stock(7.0, 7.0) == pytest.approx(1.0, rel=1e-14)
        # Daily messages, 4-day half-life.
        r = 2 ** (-1 / 4)
        assert fatigue_steady_stock(1.0, 4.0) == pytest.approx(r / (1 - r), rel=1e-13)
        assert fatigue_steady_stock(0.0, 4.0) == np.inf
        assert fatigue_steady_stock(1.0, np.inf) == np.inf

    def test_steady_stock_accurate_for_tiny_intervals(self) -> None:
        # r/(1−r) ≈ h/(d·ln2) − 1/2 when d ≪ h; the naive formula loses most digits here.
        d, h = 1e-9, 1.0
        a = math.log(2) * d / h
        assert fatigue_steady_stock(d, h) == pytest.approx(1 / a - 0.5 + a / 12, rel=1e-12)

    def test_stock_after_without_decay_counts_deliveries(self) -> None:
        np.testing.assert_allclose(fatigue_stock_after(np.arange(5), 3.0, np.inf), np.arange(5))
        np.testing.assert_allclose(fatigue_stock_after(np.arange(5), 0.0, 4.0), np.arange(5))

    def test_steady_factor(self) -> None:
        r = 2 ** (-7 / 4)
        assert fatigue_steady_factor(7.0, 4.0, 0.4) == pytest.approx(math.exp(-0.4 * r / (1 - r)))
        seen = run_fatigue_rule(400, 7.0, 4.0, 0.4)
        assert fatigue_steady_factor(7.0, 4.0, 0.4) == pytest.approx(fatigue_factor(seen[-1], 0.4), rel=1e-12)
        assert fatigue_steady_factor(0.0, 4.0, 0.0) == 1.0
        assert fatigue_steady_factor(0.0, 4.0, 0.4) == 0.0


class TestOptout:
    def test_base_when_no_stock(self) -> None:
        assert optout_probability(0.004, 1.0, 0.0) == pytest.approx(0.004)

    def test_linear_in_stock_and_capped(self) -> None:
        stock = np.array([0.0, 1.0, 2.0, 1e6])
        np.testing.assert_allclose(optout_probability(0.004, 1.0, stock), [0.004, 0.008, 0.012, 1.0])

    @given(unit, st.floats(min_value=0.0, max_value=100.0), st.floats(min_value=0.0, max_value=1e4))
    def test_is_a_probability_not_below_base(self, base: float, strength: float, stock: float) -> None:
        p = optout_probability(base, strength, stock)
        assert base - 1e-15 <= p <= 1.0
