"""Reach closed forms against Monte-Carlo runs of the semantics in DESIGN.md."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reachsim.model.reach import (
    boost_unique_reach,
    boost_unique_reach_exact,
    organic_unique_reach,
    reach_at_frequency,
    union_reach_probability,
)

probabilities = st.floats(min_value=0.0, max_value=1.0)
impressions = st.integers(min_value=0, max_value=10**7)
targets = st.floats(min_value=1.0, max_value=1e7)


def binomial_tolerance(n: int, p: float) -> float:
    """4 standard errors of a Binomial(n, p) count (people are independent)."""
    return 4 * math.sqrt(n * p * (1 - p)) + 1e-9


def simulate_organic_exposures(rng: np.random.Generator, fans: int, r: float, k: int) -> np.ndarray:
    """Exposure counts per fan: each fan sees each of the k posts independently with probability r."""
    return (rng.random((fans, k)) < r).sum(axis=1)


class TestOrganic:
    def test_formula(self) -> None:
        assert organic_unique_reach(40_000, 0.06, 1) == pytest.approx(2_400)
        assert organic_unique_reach(40_000, 0.06, 0) == 0.0
        assert organic_unique_reach(100, 1.0, 3) == pytest.approx(100)
        np.testing.assert_allclose(
            organic_unique_reach(1000, 0.1, np.array([1, 2, 3])), 1000 * (1 - 0.9 ** np.array([1, 2, 3]))
        )

    @pytest.mark.parametrize(("r", "k"), [(0.06, 1), (0.06, 10), (0.02, 30), (0.3, 4)])
    def test_against_monte_carlo(self, r: float, k: int) -> None:
        fans = 20_000
        exposures = simulate_organic_exposures(np.random.default_rng(17 + k), fans, r, k)
        expected = organic_unique_reach(fans, r, k)
        assert abs((exposures > 0).sum() - expected) < binomial_tolerance(fans, expected / fans)

    @given(st.floats(min_value=0.0, max_value=1e6), probabilities, st.integers(0, 1000))
    def test_bounded_by_fans(self, fans: float, r: float, k: int) -> None:
        assert 0.0 <= organic_unique_reach(fans, r, k) <= fans * (1 + 1e-12)


class TestFrequency:
    @pytest.mark.parametrize("at_least", [1, 2, 3, 5])
    def test_against_monte_carlo(self, at_least: int) -> None:
        n, r, k = 20_000, 0.15, 12
        exposures = simulate_organic_exposures(np.random.default_rng(at_least), n, r, k)
        expected = reach_at_frequency(n, r, k, at_least)
        assert abs((exposures >= at_least).sum() - expected) < binomial_tolerance(n, expected / n)

    def test_against_binomial_sum(self) -> None:
        n, r, k = 1000, 0.2, 6
        for m in range(k + 2):
            direct = sum(math.comb(k, j) * r**j * (1 - r) ** (k - j) for j in range(m, k + 1))
            assert reach_at_frequency(n, r, k, m) == pytest.approx(n * direct, rel=1e-12, abs=1e-12)

    def test_one_plus_equals_unique_reach_and_zero_plus_is_everyone(self) -> None:
        assert reach_at_frequency(5000, 0.07, 9, 1) == pytest.approx(organic_unique_reach(5000, 0.07, 9))
        assert reach_at_frequency(5000, 0.07, 9, 0) == pytest.approx(5000)

    def test_vectorised(self) -> None:
        out = reach_at_frequency(1000, 0.3, 10, np.arange(1, 12))
        assert out.shape == (11,)
        assert out[-1] == 0.0

    @given(probabilities, st.integers(0, 200), st.integers(0, 200))
    def test_falls_with_frequency(self, r: float, k: int, m: int) -> None:
        assert reach_at_frequency(1000, r, k, m + 1) <= reach_at_frequency(1000, r, k, m) + 1e-9


class TestBoost:
    def test_formulas(self) -> None:
        assert boost_unique_reach(1000, 1000) == pytest.approx(1000 * (1 - math.exp(-1)))
        assert boost_unique_reach_exact(1000, 1000) == pytest.approx(1000 * (1 - 0.999**1000), rel=1e-12)
        assert boost_unique_reach_exact(1, 1) == pytest.approx(1.0)
        assert boost_unique_reach_exact(0, 1) == 0.0
        assert boost_unique_reach(0, 1000) == 0.0
        assert boost_unique_reach(500, 0) == 0.0
        assert boost_unique_reach_exact(500, 0) == 0.0

    def test_poisson_approximation_is_close_for_large_targets(self) -> None:
        target = 200_000.0
        i = np.linspace(0.0, 10 * target, 101)
        gap = boost_unique_reach_exact(i, target) - boost_unique_reach(i, target)
        assert np.all(gap >= 0)
        assert np.all(gap < 0.19)
        np.testing.assert_allclose(gap, i * np.exp(-i / target) / (2 * target), rtol=1e-3, atol=1e-6)

    @pytest.mark.parametrize(("i", "t"), [(1_500, 1_000), (300, 1_000), (5_000, 800)])
    def test_exact_against_monte_carlo(self, i: int, t: int) -> None:
        # Each impression lands on a uniformly random member of the target; count distinct people per run.
        rng = np.random.default_rng(i + t)
        reps = 400
        hits = np.sort(rng.integers(0, t, size=(reps, i)), axis=1)
        unique = 1 + (np.diff(hits, axis=1) != 0).sum(axis=1)
        mean, se = unique.mean(), unique.std(ddof=1) / math.sqrt(reps)
        assert abs(mean - boost_unique_reach_exact(i, t)) < 4 * se
        assert abs(mean - boost_unique_reach(i, t)) < 4 * se + 0.2

    @given(impressions, impressions, targets)
    def test_bounded_and_increasing_in_impressions(self, i1: int, i2: int, t: float) -> None:
        lo, hi = sorted((i1, i2))
        for f in (boost_unique_reach, boost_unique_reach_exact):
            r_lo, r_hi = f(lo, t), f(hi, t)
            assert 0.0 <= r_lo <= min(lo, t) * (1 + 1e-9) + 1e-9
            assert r_lo <= r_hi * (1 + 1e-12) + 1e-9


class TestUnion:
    def test_inclusion_exclusion(self) -> None:
        assert union_reach_probability(0.3, 0.2) == pytest.approx(0.3 + 0.2 - 0.06)
        assert union_reach_probability(0.0, 0.4) == pytest.approx(0.4)
        assert union_reach_probability(1.0, 0.4) == pytest.approx(1.0)
        # Two independent posts with the same r are organic reach with k = 2.
        assert union_reach_probability(0.06, 0.06) == pytest.approx(organic_unique_reach(1, 0.06, 2))

    def test_against_monte_carlo(self) -> None:
        rng = np.random.default_rng(8)
        n, r, q = 100_000, 0.06, 0.11
        reached = (rng.random(n) < r) | (rng.random(n) < q)
        p = union_reach_probability(r, q)
        assert abs(reached.sum() - n * p) < binomial_tolerance(n, p)

    @given(probabilities, probabilities)
    def test_between_max_and_sum(self, r: float, q: float) -> None:
        u = union_reach_probability(r, q)
        assert max(r, q) - 1e-12 <= u <= min(1.0, r + q) + 1e-12
