"""Properties of paid acquisition through impressions: more budget never acquires fewer in expectation, and the
cost per acquired person rises as the pool of non-members empties."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from reachsim.engine.simulation import Simulation
from reachsim.model.conversion import conversion_probability, expected_conversions, expected_wasted

Z = 4.0

rates = st.floats(0.0, 1.0)
targets = st.integers(1, 10_000_000)
impressions = st.integers(0, 100_000_000)


@given(rates, targets, impressions, impressions)
def test_more_impressions_never_convert_fewer(c, size, i1, i2):
    low, high = sorted((i1, i2))
    assert conversion_probability(c, size, low) <= conversion_probability(c, size, high)
    assert 0.0 <= conversion_probability(c, size, high) <= 1.0


@given(rates, targets, impressions, st.integers(1, 30))
def test_more_budget_never_lowers_expected_acquisitions_over_days(c, size, i, days):
    # over d days of i impressions a day a non-member stays out with (1 − π(i))^d: more impressions, more joins
    pool = size // 2

    def acquired(k):
        return pool * (1 - (1 - conversion_probability(c, size, k)) ** days)

    assert acquired(i) <= acquired(i + 1000) + 1e-9 * pool


@given(st.floats(1e-6, 1.0), targets, st.integers(1, 100_000_000), st.floats(0.01, 0.99))
def test_the_cost_per_acquired_person_rises_as_the_pool_empties(c, size, i, emptied):
    budget = 100.0
    full = expected_conversions(size, c, size, i)
    fewer = expected_conversions(math.floor(size * (1 - emptied)), c, size, i)
    if fewer > 0:
        assert budget / fewer >= budget / full
    # and the impressions that land on members grow as they do
    assert expected_wasted(size - math.floor(size * (1 - emptied)), size, i) >= expected_wasted(0, size, i)


def test_more_budget_never_lowers_acquisitions_in_the_simulation(scenario_factory):
    def channel(budget):
        return {
            "type": "messenger",
            "engagement": {"probability": 0.1},
            "acquisition": {"paid": {"budget_per_day": budget, "cpm": 10.0, "conversion_probability": 0.05}},
        }

    budgets = (20, 40, 80, 160)
    sc = scenario_factory({f"b{b}": [channel(b)] for b in budgets}, size=5_000, horizon=20)
    reps = 8
    totals = np.array(
        [
            [Simulation(sc, f"b{b}", r).run().series["messenger", "joined_paid"].sum() for r in range(reps)]
            for b in budgets
        ]
    )
    for low, high in itertools.pairwise(totals):
        diff = high - low  # paired: the same replications, the same market
        assert diff.mean() > Z * diff.std(ddof=1) / math.sqrt(reps)  # more, and not by chance
    # the spend doubles with each budget, the acquisitions less and less: the cost per acquired person rises
    cost = np.array(budgets) * 20 / totals.mean(axis=1)
    assert np.all(np.diff(cost) > 0)
