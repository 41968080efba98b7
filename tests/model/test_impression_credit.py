"""Impressions bought a day or a post at a time: the fractional remainder is carried exactly."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from reachsim.model.exposure import NO_CREDIT, boost_impressions, buy_impressions


def test_whole_impressions_are_the_floor_of_the_exact_sum_whatever_the_prices() -> None:
    rng = np.random.default_rng(5)
    credit, delivered, exact = Fraction(0), 0, Fraction(0)
    for i in range(3_000):
        budget = float(rng.choice([0.0, 13.33, 42.0, 100.0])) if i % 500 else float(rng.uniform(0, 50))
        cpm = float(rng.choice([8.4, 20.02, 9.0]))
        whole, credit = boost_impressions(credit, budget, cpm)
        delivered += whole
        exact += Fraction(budget) * 1000 / Fraction(cpm)
        assert 0 <= credit < 1
        assert delivered == math.floor(exact) and credit == exact - delivered


def test_impressions_bought_day_by_day_match_the_exact_rational_sums() -> None:
    """The credit kept as a numerator over a denominator gives, day after day and across changes of price, the
    impressions of the exact rational sums (the fraction carried), and no denominator piles up."""
    rng = np.random.default_rng(4)
    prices = [(30.0, 20.02), (1 / 3, 1 / 7), (5e-7, 8.4), (100.0, 1e-9), (42.0, 20.02), (13.33, 8.4)]
    kept = NO_CREDIT
    credit = Fraction(0)
    for _ in range(400):
        budget, cpm = prices[int(rng.integers(len(prices)))]
        for _ in range(int(rng.integers(1, 4))):
            got, kept = buy_impressions(kept, budget, cpm)
            total = credit + Fraction(budget) * 1000 / Fraction(cpm)
            expected, credit = int(total), total - int(total)
            assert got == expected
            num, den = kept
            assert Fraction(num, den) == credit
            # at most the exact credit's denominator times today's price's
            assert den <= credit.denominator * (Fraction(budget) * 1000 / Fraction(cpm)).denominator
