"""The Page's sampling and response kernels (reachsim.model.exposure) against their closed forms.

Statistical checks use seeded generators and a tolerance of four standard errors (SE) of the counts involved, so a
correct kernel fails one check with probability below ~1e-4 and a biased one is caught once its bias exceeds 4 SE.
"""

import math

import numpy as np
import pytest

from reachsim.model.exposure import (
    _inversion_table,
    bernoulli_positions,
    geometric_gaps,
    organic_positions,
    respond,
    respond_once,
    uniform_impressions,
)
from reachsim.model.rawbits import words16

Z = 4.0  # tolerance in standard errors


def assert_bernoulli_sum(observed: float, probabilities: np.ndarray, what: str) -> None:
    """``observed`` is a sum of independent Bernoulli(p_i)."""
    mean, sd = float(probabilities.sum()), math.sqrt(float((probabilities * (1 - probabilities)).sum()))
    assert abs(observed - mean) <= Z * sd + 1e-9, f"{what}: observed {observed}, expected {mean:.6g} ± {Z * sd:.3g}"


class TestRespondOnce:
    N = 400_000

    def draw(self, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        stock = (rng.random(self.N) * 3).astype(np.float32)
        probability = (rng.random(self.N) * 1.6).astype(np.float32)  # some above 1 before fatigue: capped
        allowed = rng.random(self.N) < 0.7
        return stock, probability, allowed

    def test_engagement_opt_out_and_their_independence(self) -> None:
        """P(engaged) = min(1, p·e^(−sF)), P(out) = min(1, u(1 + fs·F)) where allowed, P(both) = their product."""
        stock, probability, allowed = self.draw()
        s, u, fs = 0.4, 0.06, 0.8
        engaged, out = respond_once(np.random.default_rng(1), stock, probability, strength=s, optout=u,
                                    optout_fatigue_strength=fs, can_opt_out=allowed)
        f = stock.astype(float)
        p = np.minimum(1.0, probability.astype(float) * np.exp(-s * f))
        q = np.where(allowed, np.minimum(1.0, u * (1 + fs * f)), 0.0)
        assert np.all(np.diff(engaged) > 0) and np.all(np.diff(out) > 0)
        assert_bernoulli_sum(engaged.size, p, "engagements")
        assert_bernoulli_sum(out.size, q, "opt-outs")
        assert_bernoulli_sum(np.intersect1d(engaged, out).size, p * q, "engaged and opted out")
        assert allowed[out].all()
        certain = p == 1.0
        assert certain.any() and np.isin(np.flatnonzero(certain), engaged).all()

    def test_opt_out_is_independent_of_engagement_at_high_hazard(self) -> None:
        """With q near 1/2 almost every row is a candidate: the exact test alone decides."""
        stock, probability, _ = self.draw(6)
        engaged, out = respond_once(np.random.default_rng(2), stock, probability, strength=0.0, optout=0.2,
                                    optout_fatigue_strength=0.5)
        p = np.minimum(1.0, probability.astype(float))
        q = np.minimum(1.0, 0.2 * (1 + 0.5 * stock.astype(float)))
        assert_bernoulli_sum(out.size, q, "opt-outs")
        assert_bernoulli_sum(np.intersect1d(engaged, out).size, p * q, "engaged and opted out")
        assert_bernoulli_sum(out.size - np.intersect1d(engaged, out).size, (1 - p) * q, "not engaged, opted out")

    def test_a_looser_stock_bound_changes_nothing(self) -> None:
        """The bound only selects which rows are tested exactly: any bound at least the stocks gives the same."""
        stock, probability, allowed = self.draw(7)
        kwargs = dict(strength=0.3, optout=0.01, optout_fatigue_strength=2.0, can_opt_out=allowed)
        exact = respond_once(np.random.default_rng(3), stock, probability, **kwargs)
        for bound in (float(stock.max()), 10.0, 1e6):
            again = respond_once(np.random.default_rng(3), stock, probability, stock_bound=bound, **kwargs)
            np.testing.assert_array_equal(exact[0], again[0])
            np.testing.assert_array_equal(exact[1], again[1])

    def test_no_rows_and_no_opt_out(self) -> None:
        rng = np.random.default_rng(4)
        empty = np.empty(0, dtype=np.float32)
        assert all(part.size == 0 for part in respond_once(rng, empty, empty, strength=1.0, optout=0.5))
        engaged, out = respond_once(rng, np.zeros(10, np.float32), np.ones(10, np.float32), strength=0.0)
        np.testing.assert_array_equal(engaged, np.arange(10))
        assert out.size == 0
        with pytest.raises(ValueError):
            respond_once(rng, np.zeros(3), np.ones(3), strength=0.0, optout=1.5)

    def test_respond_with_one_delivery_each_agrees(self) -> None:
        """respond() with every count 1 is respond_once (the same draws), as counts and masks."""
        stock, probability, allowed = self.draw(8)
        kwargs = dict(strength=0.5, optout=0.02, optout_fatigue_strength=1.0, can_opt_out=allowed)
        response = respond(np.random.default_rng(9), np.ones(self.N, dtype=np.int64), stock, probability, **kwargs)
        engaged, out = respond_once(np.random.default_rng(9), stock, probability, **kwargs)
        np.testing.assert_array_equal(np.flatnonzero(response.engagements), engaged)
        np.testing.assert_array_equal(np.flatnonzero(response.opted_out), out)
        np.testing.assert_allclose(response.stock, stock.astype(float) + 1.0)


    def test_few_candidates_are_tested_as_many(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The one-by-one test of a handful of opt-out candidates gives what the whole-array test gives."""
        import reachsim.model.exposure as exposure

        stock, probability, allowed = self.draw(10)
        kwargs = dict(strength=0.3, optout=0.02, optout_fatigue_strength=1.5)
        runs = []
        for few in (exposure._FEW, 0):
            monkeypatch.setattr(exposure, "_FEW", few)
            rng = np.random.default_rng(11)
            chunks = [slice(a, a + 100) for a in range(0, 60_000, 100)]  # about 15 candidates each
            runs.append([respond_once(rng, stock[c], probability[c], can_opt_out=allowed[c], **kwargs) for c in chunks])
        outs = 0
        for (engaged, out), (engaged_again, out_again) in zip(*runs, strict=True):
            np.testing.assert_array_equal(engaged, engaged_again)
            np.testing.assert_array_equal(out, out_again)
            outs += out.size
        assert outs > 100


    def test_a_handful_of_rows_respond_as_many(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """respond_once on a few rows (tested one by one) gives what the whole-array path gives, draw for draw."""
        import reachsim.model.exposure as exposure

        stock, probability, allowed = self.draw(12)
        runs = []
        for few in (exposure._FEW, 0):
            monkeypatch.setattr(exposure, "_FEW", few)
            rng = np.random.default_rng(13)
            runs.append([
                respond_once(rng, stock[a : a + 7], probability[a : a + 7] * 0.3, strength=strength, optout=0.2,
                             optout_fatigue_strength=fs, can_opt_out=allowed[a : a + 7] if fs else None)
                for a in range(0, 21_000, 7) for strength, fs in ((0.5, 1.0), (0.0, 0.0))
            ])
        counts = [0, 0]
        for (engaged, out), (engaged_again, out_again) in zip(*runs, strict=True):
            np.testing.assert_array_equal(engaged, engaged_again)
            np.testing.assert_array_equal(out, out_again)
            counts[0] += engaged.size
            counts[1] += out.size
        assert min(counts) > 1000


class TestOrganicPositions:
    def test_each_position_and_each_pair_independently_with_probability_r(self) -> None:
        """Marginals r and joint r² (neighbours and far apart): Bernoulli(r) trials, independent."""
        rng = np.random.default_rng(10)
        n, r, draws = 40, 0.3, 40_000
        hits = np.zeros((draws, n), dtype=bool)
        for d in range(draws):
            hits[d, organic_positions(rng, n, r)] = True
        per_position = hits.sum(axis=0)
        se = math.sqrt(draws * r * (1 - r))
        assert np.all(np.abs(per_position - draws * r) <= 4.5 * se)  # 40 checks: a little wider than 4 SE
        for a, b in ((0, 1), (17, 18), (0, n - 1), (5, 30)):
            both = int(np.count_nonzero(hits[:, a] & hits[:, b]))
            assert abs(both - draws * r * r) <= Z * math.sqrt(draws * r * r * (1 - r * r)), (a, b)
        counts = hits.sum(axis=1)  # Binomial(n, r): its sample variance has SE σ²·√(2/(N − 1) + excess kurtosis/N)
        variance = n * r * (1 - r)
        excess = (1 - 6 * r * (1 - r)) / variance
        se_variance = variance * math.sqrt(2 / (draws - 1) + excess / draws)
        assert abs(counts.var(ddof=1) - variance) <= Z * se_variance

    def test_edges(self) -> None:
        rng = np.random.default_rng(11)
        assert organic_positions(rng, 0, 0.5).size == 0
        assert organic_positions(rng, 100, 0.0).size == 0
        np.testing.assert_array_equal(organic_positions(rng, 5, 1.0), np.arange(5))
        seen = bernoulli_positions(rng, 1_000_000, 0.16)
        assert np.all(np.diff(seen) > 0) and seen[0] >= 0 and seen[-1] < 1_000_000
        assert abs(seen.size - 160_000) <= Z * math.sqrt(1_000_000 * 0.16 * 0.84)
        with pytest.raises(ValueError):
            organic_positions(rng, 10, 1.5)


class TestGeometricGaps:
    @pytest.mark.parametrize("r", [2.0**-8, 0.02, 0.16, 0.7, 0.999])
    def test_the_table_gives_the_formula_at_every_uniform(self, r: float) -> None:
        """The look-up equals 1 + floor(log(1 − U)/log(1 − r)) at a uniform U of each draw's interval: anywhere in
        it where the table is sure, at (interval + W)·2^−12 with the draw's own fresh W where it is not."""
        size = 200_000
        gaps = geometric_gaps(np.random.default_rng(12), r, size)
        rng = np.random.default_rng(12)
        top = words16(rng, size) >> 4
        table = _inversion_table(r)
        unsure = table[top] == 0
        u = (top + np.random.default_rng(99).random(size)) / 4096.0  # anywhere in the interval where it is sure
        u[unsure] = (top[unsure] + rng.random(int(unsure.sum()))) / 4096.0  # the draws' own W where it is not
        with np.errstate(divide="ignore"):
            formula = 1 + np.floor(np.log1p(-u) / math.log1p(-r))
        np.testing.assert_array_equal(gaps, formula.astype(np.int64))
        assert unsure.mean() < 0.6
        edges = np.arange(4096) / 4096  # the intervals' ends, where the table changes value
        at_edges = 1 + np.floor(np.log1p(-edges) / math.log1p(-r))
        known = table > 0
        np.testing.assert_array_equal(table[known], at_edges[known].astype(np.int64))

    @pytest.mark.parametrize("r", [2.0**-8, 0.16, 0.7])
    def test_geometric_law(self, r: float) -> None:
        """P(G = k) = r(1 − r)^(k − 1) for the first values and P(G > k) for the tail, each within 4 SE."""
        size = 400_000
        gaps = geometric_gaps(np.random.default_rng(13), r, size)
        assert gaps.min() >= 1
        for k in range(1, 6):
            pk = r * (1 - r) ** (k - 1)
            observed = int(np.count_nonzero(gaps == k))
            assert abs(observed - size * pk) <= Z * math.sqrt(size * pk * (1 - pk)), k
        k = math.ceil(3 / r)  # a tail of mass about e^−3
        tail = (1 - r) ** k
        observed = int(np.count_nonzero(gaps > k))
        assert abs(observed - size * tail) <= Z * math.sqrt(size * tail * (1 - tail))
        mean, se = gaps.mean(), math.sqrt((1 - r) / r**2 / size)
        assert abs(mean - 1 / r) <= Z * se


    def test_a_uniform_at_the_top_of_the_last_interval_gives_a_finite_gap(self) -> None:
        """U = (4095 + W)·2^−12 with W just below 1 rounds to 1 in floating point; 1 − U is taken as
        (1 − W)·2^−12 instead, so the gap is large and finite, never the integer of an infinity."""

        class TopWords:
            class bit_generator(np.random.PCG64):
                def random_raw(self, size: int) -> np.ndarray:  # type: ignore[override]
                    return np.full(size, 2**64 - 1, dtype=np.uint64)  # every word 0xFFFF: the last interval

            bit_generator = bit_generator()  # type: ignore[misc]

            def random(self, n: int) -> np.ndarray:
                return np.full(n, 1.0 - 2.0**-53)

        r = 0.3
        gaps = geometric_gaps(TopWords(), r, 4)  # type: ignore[arg-type]
        expected = 1 + math.floor(math.log(2.0**-53 * 2.0**-12) / math.log1p(-r))
        assert gaps.tolist() == [expected] * 4

    def test_generators_with_32_bit_raw_draws_follow_the_same_law(self) -> None:
        """MT19937's raw draws hold 32 bits: its gaps come from its uniforms, with the same law."""
        r, size = 0.3, 400_000
        gaps = geometric_gaps(np.random.Generator(np.random.MT19937(3)), r, size)
        mean, se = gaps.mean(), math.sqrt((1 - r) / r**2 / size)
        assert abs(mean - 1 / r) <= Z * se
        p1 = int(np.count_nonzero(gaps == 1))
        assert abs(p1 - size * r) <= Z * math.sqrt(size * r * (1 - r))


class _Uniforms:
    """A stand-in generator that hands out given uniforms, to place a draw exactly at an edge."""

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)

    def random(self, n: int) -> np.ndarray:
        out, self.values = self.values[:n], self.values[n:]
        return np.array(out)


@pytest.mark.parametrize("few", [True, False])
def test_a_bounded_round_misses_no_opt_out_that_float32_rounding_lifts_above_the_bound(
    few: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round j sees the float32 stock F + j, which may round above F + j; the round's bound must still cover it:
    a uniform between the unrounded bound's q and the row's own q opts the row out, as the rule says (for the
    whole-array candidates as for a handful of rows tested one by one)."""
    import reachsim.model.exposure as exposure

    if not few:
        monkeypatch.setattr(exposure, "_FEW", 0)
    stock, j, optout, strength = np.float32(0.6369617), 5, 0.01, 1.0
    assert float(stock + np.float32(j)) > float(stock) + j  # this stock rounds up in round j
    q_row = optout * (1.0 + strength * float(stock + np.float32(j)))
    u = float(np.nextafter(optout * (1.0 + strength * (float(stock) + j)), 1.0))
    assert u < q_row
    for bound in (float(stock), None):
        response = respond(_Uniforms([0.5] * j + [u]), [j + 1], np.array([stock]), np.array([1.0], np.float32),
                           strength=0.0, optout=optout, optout_fatigue_strength=strength, stock_bound=bound)
        assert response.opted_out.tolist() == [True]


def test_whole_number_stocks_are_taken_as_float64() -> None:
    response = respond(np.random.default_rng(0), [1, 2], [0, 3], 0.5, strength=0.7)
    assert response.stock.tolist() == [1.0, 5.0]
    engaged, _ = respond_once(np.random.default_rng(0), [0, 3], 0.5, strength=0.7)
    assert engaged.dtype.kind == "i"


def test_a_handful_of_rows_respond_by_the_closed_form() -> None:
    """respond() on a handful of rows (delivery by delivery in Python): delivery j of a row is engaged with
    min(1, p·e^(−s·(F + j))), an allowed row opts out with 1 − Π_j (1 − min(1, u·(1 + fs·(F + j)))), and the stock
    becomes F + c; summed over many calls, within 4 SE."""
    import reachsim.model.exposure as exposure

    rng, draws = np.random.default_rng(21), np.random.default_rng(22)
    rows, calls = 20, 5_000
    assert rows <= exposure._FEW
    s, u, fs = 0.4, 0.03, 1.5
    engaged = opted = 0
    p_engage: list[np.ndarray] = []
    p_out: list[np.ndarray] = []
    for _ in range(calls):
        counts = draws.integers(1, 5, size=rows)
        stock = (draws.random(rows) * 2).astype(np.float32)
        probability = (draws.random(rows) * 1.2).astype(np.float32)  # some above 1 before fatigue: capped
        allowed = draws.random(rows) < 0.6
        response = respond(rng, counts, stock, probability, strength=s, optout=u, optout_fatigue_strength=fs,
                           can_opt_out=allowed)
        engaged += int(response.engagements.sum())
        opted += int(response.opted_out.sum())
        assert not response.opted_out[~allowed].any() and np.all(response.engagements <= counts)
        np.testing.assert_allclose(response.stock, stock.astype(float) + counts)
        f = stock.astype(float)
        p_engage += [np.minimum(1.0, probability[counts > j] * np.exp(-s * (f[counts > j] + j))) for j in range(4)]
        stay = np.ones(rows)
        for j in range(4):
            stay *= np.where(counts > j, 1 - np.minimum(1.0, u * (1 + fs * (f + j))), 1.0)
        p_out.append(np.where(allowed, 1 - stay, 0.0))
    assert_bernoulli_sum(engaged, np.concatenate(p_engage), "engagements")
    assert_bernoulli_sum(opted, np.concatenate(p_out), "opt-outs")


def test_respond_decides_a_delivery_alike_on_a_few_rows_and_on_many():
    """A uniform between the float32 and the float64 value of p = p0·exp(−s·F) is decided the same whether the row
    responds alone (the path for a handful of rows) or among forty (whole arrays): both compute p in the stock's
    precision."""

    class Fixed:
        def __init__(self, u: float) -> None:
            self.u = u

        def random(self, n=None, dtype=np.float64):  # type: ignore[no-untyped-def]
            return self.u if n is None else np.full(n, self.u)

    f, p0, s = np.array([0.7], dtype=np.float32), np.array([0.3], dtype=np.float32), 0.37
    p32 = float((np.exp(f * np.float32(-s)) * p0)[0])
    p64 = float(p0[0]) * math.exp(-s * float(f[0]))
    assert p32 != p64
    u = (p32 + p64) / 2
    alone = respond(Fixed(u), [1], f, p0, strength=s).engagements[0]
    among = respond(Fixed(u), np.ones(40, dtype=np.int64), np.repeat(f, 40), np.repeat(p0, 40), strength=s)
    assert alone == among.engagements[0] == int(u < p32)


@pytest.mark.parametrize("rows", [5, 3_000])  # the few-rows path and the whole-array one
def test_respond_once_with_uniforms_drawn_ahead_is_the_same_as_drawing_them(rows: int) -> None:
    """Uniforms handed in (drawn ahead by the caller) give the outcomes of those drawn inside from the same stream;
    a wrong number of them is refused."""
    setup = np.random.default_rng(3)
    stock = (setup.random(rows) * 4).astype(np.float32)
    probability = (setup.random(rows) * 0.5).astype(np.float32)
    kwargs = dict(strength=0.3, optout=0.2, optout_fatigue_strength=1.0, can_opt_out=setup.random(rows) < 0.5)
    drawn = respond_once(np.random.default_rng(9), stock, probability, **kwargs)
    ahead = np.random.default_rng(9).random(rows + 7)[:rows]
    given = respond_once(np.random.default_rng(0), stock, probability, uniforms=ahead, **kwargs)
    for a, b in zip(drawn, given, strict=True):
        np.testing.assert_array_equal(a, b)
    assert rows < 32 or (drawn[0].size and drawn[1].size)  # the comparison covers both outcomes
    with pytest.raises(ValueError, match="one per row"):
        respond_once(np.random.default_rng(0), stock, probability, uniforms=ahead[:-1], **kwargs)


def test_uniform_impressions_with_uniforms_drawn_ahead_is_the_same_as_drawing_them() -> None:
    drawn = uniform_impressions(np.random.default_rng(4), 200_000, 2_100)
    ahead = np.random.default_rng(4).random(2_100)
    kept = ahead.copy()
    given = uniform_impressions(np.random.default_rng(0), 200_000, 2_100, uniforms=ahead)
    for a, b in zip(drawn, given, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ahead, kept)  # the caller's uniforms are not changed
    with pytest.raises(ValueError, match="one per impression"):
        uniform_impressions(np.random.default_rng(0), 200_000, 2_100, uniforms=ahead[:5])
