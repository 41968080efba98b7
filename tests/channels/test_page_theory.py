"""The Page channel, run by the engine, against the closed forms of reachsim.model.reach.

Every check compares a simulated count with its expectation within a tolerance from its standard error: 4 SE for
means, or the exact two-sided binomial test at the same level (6.3e-5) for counts of independent people, which is
right also when the expected count is small. Where people are negatively associated (impressions competing for
the same target) the binomial variance is an upper bound, so the binomial test is conservative there.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy import stats

from reachsim.engine.simulation import RunResult, Simulation
from reachsim.model.exposure import boost_unique_reach_variance
from reachsim.model.kernels import fatigue_stock_after
from reachsim.model.reach import (
    boost_unique_reach,
    boost_unique_reach_exact,
    organic_unique_reach,
    reach_at_frequency,
    union_reach_probability,
)
from reachsim.scenario.load import scenario_from_dict

Z = 4.0
LEVEL = 2 * stats.norm.sf(Z)  # two-sided level of a 4-SE check: a correct model fails one check in ~16,000
THRESHOLDS = (1, 2, 3, 5, 10)


def page(**fields: Any) -> dict[str, Any]:
    """A page channel entry: no organic reach, no engagement, no posts unless given."""
    return {"type": "page", "organic_reach": 0.0, "engagement": {"probability": 0.0}, **fields}


def scenario(
    *channels: dict[str, Any],
    size: int = 50_000,
    horizon: int = 10,
    segments: list[dict[str, Any]] | None = None,
    timeline: list[dict[str, Any]] | None = None,
) -> Any:
    """A validated one-strategy scenario (strategy "s")."""
    market: dict[str, Any] = {"size": size} if segments is None else {"size": size, "segments": segments}
    return scenario_from_dict(
        {
            "name": "page theory",
            "horizon_days": horizon,
            "audience_value": {"run_out_days": 0},  # these tests read the state at the horizon
            "seed": 11,
            "market": market,
            "strategies": {"s": {"channels": list(channels), "timeline": timeline or []}},
        }
    )


def run(sc: Any, replication: int = 0) -> tuple[RunResult, Simulation]:
    sim = Simulation(sc, "s", replication)
    return sim.run(), sim


def total(result: RunResult, metric: str, channel: str = "page") -> float:
    return float(result.series[channel, metric].sum())


def binomial_se(n: float, p: float) -> float:
    return math.sqrt(max(n * p * (1.0 - p), 0.0))


def assert_within(observed: float, expected: float, se: float, what: str) -> None:
    """|observed − expected| ≤ 4 SE."""
    tolerance = Z * se + 1e-9 * max(1.0, abs(expected))
    assert abs(observed - expected) <= tolerance, (
        f"{what}: observed {observed:.6g}, expected {expected:.6g} ± {tolerance:.3g} (4 SE)"
    )


def assert_binomial(observed: float, n: int, p: float, what: str) -> None:
    """``observed`` is a plausible draw of Binomial(n, p): exact two-sided test at the 4-SE level."""
    lo = stats.binom.ppf(LEVEL / 2, n, p)
    hi = stats.binom.isf(LEVEL / 2, n, p)
    assert lo <= observed <= hi, f"{what}: observed {observed:g}, expected {n * p:.6g}, 4-SE range [{lo:g}, {hi:g}]"


class TestOrganicOnly:
    """Fans fixed (no growth, no unfollows): each fan sees each post independently with probability r."""

    FANS = 50_000

    @pytest.mark.parametrize(("r", "posts"), [(0.06, 30), (0.16, 12), (0.25, 20)])
    def test_unique_reach_after_k_posts(self, r: float, posts: int) -> None:
        sc = scenario(page(initial_fans=self.FANS, organic_reach=r, posts={"every_days": 1}), size=self.FANS,
                      horizon=posts)
        result, _ = run(sc)
        cumulative = np.cumsum(result.series["page", "reached"])
        for k in range(1, posts + 1):
            expected = organic_unique_reach(self.FANS, r, k)
            assert_binomial(cumulative[k - 1], self.FANS, expected / self.FANS, f"reach after {k} posts")
        # A single channel: de-duplicated strategy reach is the page's reach.
        np.testing.assert_array_equal(result.series["all", "unique_reach"], cumulative)

    @pytest.mark.parametrize(("r", "posts"), [(0.06, 30), (0.25, 20)])
    def test_reach_at_frequency_is_binomial(self, r: float, posts: int) -> None:
        sc = scenario(page(initial_fans=self.FANS, organic_reach=r, posts={"every_days": 1}), size=self.FANS,
                      horizon=posts)
        result, _ = run(sc)
        final = result.final["page"]
        for m in THRESHOLDS:
            expected = reach_at_frequency(self.FANS, r, posts, m)
            assert_binomial(final[f"reach_{m}plus"], self.FANS, expected / self.FANS, f"{m}+ reach")
        deliveries = total(result, "deliveries")
        assert_binomial(deliveries, self.FANS * posts, r, "organic impressions")
        assert deliveries == total(result, "impressions_organic")
        assert final["average_frequency"] == pytest.approx(deliveries / final["reach_1plus"])
        assert result.final["all"] == final

    def test_throttling_by_timeline(self) -> None:
        """16% for 5 posts, then 6% (the 2012 → 2014 decline): a fan is missed with (1 − r1)^5·(1 − r2)^j."""
        sc = scenario(
            page(initial_fans=self.FANS, organic_reach=0.16, posts={"every_days": 1}),
            size=self.FANS,
            horizon=15,
            timeline=[{"day": 5, "channel": "page", "set": {"organic_reach": 0.06}}],
        )
        result, _ = run(sc)
        cumulative = np.cumsum(result.series["page", "reached"])
        for day in range(15):
            k1, k2 = min(day + 1, 5), max(day + 1 - 5, 0)
            expected = self.FANS * (1 - 0.84**k1 * 0.94**k2)
            assert_binomial(cumulative[day], self.FANS, expected / self.FANS, f"reach by day {day}")
        assert_binomial(result.series["page", "impressions_organic"][10], self.FANS, 0.06, "impressions at 6%")


class TestOneBoost:
    """One post, no organic reach: I impressions uniform over a target of T people."""

    def test_unique_reach_market(self) -> None:
        size, impressions, replications = 50_000, 30_000, 30
        sc = scenario(
            page(posts={"every_days": 1}, boost={"budget_per_post": 300.0, "cpm": 10.0, "target": "market"}),
            size=size,
            horizon=1,
        )
        reach = []
        for rep in range(replications):
            result, _ = run(sc, rep)
            assert total(result, "impressions_paid") == impressions
            assert total(result, "deliveries") == impressions
            reach.append(total(result, "reached"))
        exact = boost_unique_reach_exact(impressions, size)
        sd = math.sqrt(boost_unique_reach_variance(impressions, size))
        for value in reach:  # each replication
            assert_within(value, exact, sd, "unique reach of one boost")
        mean = float(np.mean(reach))
        assert_within(mean, exact, sd / math.sqrt(replications), "mean unique reach")
        # T·(1 − e^(−I/T)) is the large-target limit: within a fraction of a person of the exact form.
        assert abs(boost_unique_reach(impressions, size) - exact) < 0.2
        # The spread matches the occupancy variance (chi-square on R − 1 degrees of freedom, 4-SE level).
        statistic = (replications - 1) * np.var(reach, ddof=1) / sd**2
        df = replications - 1
        assert stats.chi2.ppf(LEVEL / 2, df) <= statistic <= stats.chi2.isf(LEVEL / 2, df)

    def test_reach_at_frequency_market(self) -> None:
        size, impressions = 50_000, 100_000  # two impressions per person on average
        sc = scenario(
            page(posts={"every_days": 1}, boost={"budget_per_post": 900.0, "cpm": 9.0, "target": "market"}),
            size=size,
            horizon=1,
        )
        result, sim = run(sc)
        final = result.final["page"]
        for m in THRESHOLDS:
            p = stats.binom.sf(m - 1, impressions, 1 / size)  # a person's impressions: Binomial(I, 1/T)
            assert_binomial(final[f"reach_{m}plus"], size, p, f"{m}+ reach of a boost")
        assert int(sim.channels[0].exposures().sum()) == impressions  # every impression counted

    def test_target_fans(self) -> None:
        fans, size, impressions = 20_000, 50_000, 10_000
        sc = scenario(
            page(initial_fans=fans, posts={"every_days": 1},
                 boost={"budget_per_post": 70.0, "cpm": 7.0, "target": "fans"}),
            size=size,
            horizon=1,
        )
        result, sim = run(sc)
        channel = sim.channels[0]
        assert channel.exposures()[~channel.fan].sum() == 0
        exact = boost_unique_reach_exact(impressions, fans)
        sd = math.sqrt(boost_unique_reach_variance(impressions, fans))
        assert_within(total(result, "reached"), exact, sd, "reach of a boost to fans")

    def test_target_segment(self) -> None:
        size, impressions = 50_000, 12_000
        segments = [{"name": "loyal", "share": 0.3}, {"name": "casual", "share": 0.7}]
        sc = scenario(
            page(posts={"every_days": 1}, boost={"budget_per_post": 120.0, "cpm": 10.0, "target": ["loyal"]}),
            size=size,
            horizon=1,
            segments=segments,
        )
        result, sim = run(sc)
        loyal = sim.population.segment == 0
        target = int(loyal.sum())
        assert target == 15_000
        assert sim.channels[0].exposures()[~loyal].sum() == 0
        exact = boost_unique_reach_exact(impressions, target)
        sd = math.sqrt(boost_unique_reach_variance(impressions, target))
        assert_within(total(result, "reached"), exact, sd, "reach of a boost to a segment")


class TestOrganicAndPaid:
    """Independent routes: a fan is missed by a post with probability (1 − r)(1 − q), q = 1 − (1 − 1/N)^I."""

    @pytest.mark.parametrize("posts", [1, 5])
    def test_union(self, posts: int) -> None:
        fans, size, r, impressions = 20_000, 50_000, 0.1, 10_000
        sc = scenario(
            page(initial_fans=fans, organic_reach=r, posts={"every_days": 1},
                 boost={"budget_per_post": 100.0, "cpm": 10.0, "target": "market"}),
            size=size,
            horizon=posts,
        )
        result, sim = run(sc)
        channel = sim.channels[0]
        reached = channel.exposures() > 0
        q = 1 - (1 - 1 / size) ** impressions
        p_fan = 1 - (1 - union_reach_probability(r, q)) ** posts
        p_other = 1 - (1 - q) ** posts
        assert_binomial(int(reached[channel.fan].sum()), fans, p_fan, "fans reached")
        assert_binomial(int(reached[~channel.fan].sum()), size - fans, p_other, "non-fans reached")
        expected_all = fans * p_fan + (size - fans) * p_other
        se = math.hypot(binomial_se(fans, p_fan), binomial_se(size - fans, p_other))
        assert_within(result.series["all", "unique_reach"][-1], expected_all, se, "unique reach, organic ∪ paid")
        assert total(result, "deliveries") == total(result, "impressions_organic") + impressions * posts


class TestLedger:
    def test_boost_spend_is_the_sum_of_budgets_and_cpm_is_exact(self) -> None:
        posts, budget, cpm = 30, 30.0, 9.0  # 3,333⅓ impressions per post: the third is carried
        sc = scenario(
            page(initial_fans=1_000, organic_reach=0.2, posts={"every_days": 1}, content_cost_per_post=12.5,
                 boost={"budget_per_post": budget, "cpm": cpm, "target": "market"}),
            size=20_000,
            horizon=posts,
        )
        result, _ = run(sc)
        totals = result.ledger_totals
        assert totals["page", "boost"] == pytest.approx(-posts * budget, abs=1e-9)
        assert totals["page", "content"] == pytest.approx(-posts * 12.5, abs=1e-9)
        assert total(result, "boost_spend") == pytest.approx(posts * budget)
        np.testing.assert_allclose(result.series["page", "boost_spend"], budget)
        np.testing.assert_allclose(result.series["page", "cost"], budget + 12.5)
        paid = total(result, "impressions_paid")
        assert paid == math.floor(Fraction(posts) * Fraction(budget) * 1000 / Fraction(cpm)) == 100_000
        assert np.all(np.isin(result.series["page", "impressions_paid"], (3333, 3334)))
        assert total(result, "deliveries") == paid + total(result, "impressions_organic")

    def test_cpm_change_by_timeline(self) -> None:
        """Impressions are floor(Σ budget_i / cpm_i × 1000) with the remainder carried across the change."""
        sc = scenario(
            page(posts={"every_days": 1}, boost={"budget_per_post": 10.0, "cpm": 8.4, "target": "market"}),
            size=10_000,
            horizon=10,
            timeline=[{"day": 4, "channel": "page", "set": {"boost.cpm": 11.17, "boost.budget_per_post": 25.0}}],
        )
        result, _ = run(sc)
        owed = 4 * Fraction(10.0) * 1000 / Fraction(8.4) + 6 * Fraction(25.0) * 1000 / Fraction(11.17)
        assert total(result, "impressions_paid") == math.floor(owed)
        assert result.ledger_totals["page", "boost"] == pytest.approx(-(4 * 10.0 + 6 * 25.0), abs=1e-9)

    def test_no_target_no_spend(self) -> None:
        sc = scenario(
            page(posts={"every_days": 1}, boost={"budget_per_post": 50.0, "cpm": 5.0, "target": "fans"}),
            size=1_000,
            horizon=3,
        )
        result, _ = run(sc)
        assert ("page", "boost") not in result.ledger_totals
        assert total(result, "impressions_paid") == 0


class TestFatigueStock:
    """Every fan sees every daily post (r = 1), so every fan's stock follows the periodic closed form
    (reachsim.model.kernels.fatigue_stock_after), kept exactly through the rebasing of the stored stocks."""

    FANS = 2_000

    def test_stock_through_many_half_lives(self) -> None:
        half_life, posts, p, s = 0.5, 150, 0.3, 0.6  # 300 half-lives: the stored stocks are rebased three times
        sc = scenario(page(initial_fans=self.FANS, organic_reach=1.0, posts={"every_days": 1},
                           engagement={"probability": p, "fatigue": {"half_life_days": half_life, "strength": s}}),
                      size=self.FANS, horizon=posts)
        result, sim = run(sc)
        stock = fatigue_stock_after(np.arange(posts), 1.0, half_life)  # seen by post k
        np.testing.assert_allclose(sim.channels[0].fatigue, stock[-1] + 1.0, rtol=1e-5)
        engaged = result.series["page", "engagements"]
        expected = p * np.exp(-s * stock)
        assert_within(engaged.sum(), self.FANS * expected.sum(),
                      math.sqrt(self.FANS * float((expected * (1 - expected)).sum())), "engagements")

    def test_half_life_change_applies_from_the_post_that_meets_it(self) -> None:
        """A new half-life from day d: the interval before the post of day d decayed with the old one."""
        h1, h2, d = 2.0, 0.25, 6
        sc = scenario(page(initial_fans=self.FANS, organic_reach=1.0, posts={"every_days": 1},
                           engagement={"probability": 0.0, "fatigue": {"half_life_days": h1, "strength": 0.0}}),
                      size=self.FANS, horizon=d + 2,
                      timeline=[{"day": d, "channel": "page", "set": {"engagement.fatigue.half_life_days": h2}}])
        _, sim = run(sc)
        at_d = fatigue_stock_after(d, 1.0, h1)  # seen by the post of day d
        after = (at_d + 1.0) * 2.0 ** (-1.0 / h2) + 1.0  # after the post of day d + 1
        np.testing.assert_allclose(sim.channels[0].fatigue, after, rtol=1e-5)
