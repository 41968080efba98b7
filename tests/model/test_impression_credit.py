"""Impressions bought a day or a post at a time: the fractional remainder is carried exactly."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from reachsim.model.exposure import boost_impressions


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
