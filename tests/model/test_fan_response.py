"""A post's deliveries to fans (reachsim.model.fan_response): the compiled kernel gives the NumPy reference's results
bit for bit, and the reference follows the engagement rule's closed form."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from reachsim.model import fan_response
from reachsim.model.fan_response import novelty_factor, respond_fans

Z = 4.0  # tolerance in standard errors
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

needs_compiled = pytest.mark.skipif(not fan_response.COMPILED, reason="built without a C compiler")


def fan_store(rng: np.random.Generator, size: int, seen_share: float = 0.7) -> np.ndarray:
    """Records as a Page keeps them: stock, probability (some above 1), fan since (days, ≤ 0), exposures."""
    store = np.empty((size, 4), dtype=np.float32)
    store[:, 0] = rng.random(size) * 4
    store[:, 1] = rng.random(size) * 1.2
    store[:, 2] = -rng.random(size) * 400
    store.view(np.uint32)[:, 3] = np.where(rng.random(size) < seen_share, rng.integers(1, 50, size), 0)
    return store


def case(seed: int, size: int, n: int) -> dict:
    rng = np.random.default_rng(seed)
    at = np.sort(rng.choice(size, size=n, replace=False)).astype(np.int64)
    return dict(store=fan_store(rng, size), at=at, uniforms=rng.random(n),
                people=rng.permutation(10 * size)[:size].astype(np.int32))


def both(kwargs: dict, **params: object) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The results and the stores after respond_fans, compiled and in NumPy, on copies of the same inputs."""
    results = []
    for compiled in (True, False):
        store = kwargs["store"].copy()
        rows = respond_fans(store, kwargs["at"], kwargs["uniforms"], kwargs["people"], compiled=compiled, **params)
        results.append((list(rows), store))
    return results[0], results[1]


PARAMETERS = [
    dict(t=10.0, strength=0.6, novelty=(90.0, 0.4), optout=0.01, optout_fatigue_strength=1.0, stock_bound=4.0,
         increment=np.float32(1.25), first=True),
    dict(t=2.5, strength=0.2, novelty=(40.0, 0.1), optout=0.05, optout_fatigue_strength=2.0, stock_bound=0.5,
         increment=np.float32(1.0), first=True),  # a bound below the stocks: the candidate rule decides
    dict(t=12.5, strength=0.0, novelty=None, optout=0.3, optout_fatigue_strength=0.5, stock_bound=4.0,
         increment=np.float32(1.0), first=False),
    dict(t=3.0, strength=2.0, novelty=(5.0, 0.0), optout=0.0, optout_fatigue_strength=0.0, stock_bound=0.0,
         increment=np.float32(2.0**-20), first=True),
    dict(t=700.0, strength=0.0, novelty=(90.0, 1.0), optout=1.0, optout_fatigue_strength=0.0, stock_bound=4.0,
         increment=np.float32(3.0), first=True),
    dict(t=200.0, strength=0.3, novelty=None, optout=0.001, optout_fatigue_strength=3.0, stock_bound=40.0,
         increment=np.float32(1.0), first=True),
]


@needs_compiled
@pytest.mark.parametrize("params", PARAMETERS)
@pytest.mark.parametrize("n", [1, 7, 32, 33, 500, 3000])
def test_the_compiled_kernel_gives_the_reference_bit_for_bit(params: dict, n: int) -> None:
    """Every row list, and every byte of the store, the same (a handful of rows tested one by one, many by
    candidates: both rules of respond_once)."""
    for seed in range(4):
        (rows, store), (ref_rows, ref_store) = both(case(seed, 5000, n), **params)
        for got, want in zip(rows, ref_rows, strict=True):
            assert got.dtype == want.dtype == np.int64
            np.testing.assert_array_equal(got, want)
        assert store.tobytes() == ref_store.tobytes()


def reference_probability(store: np.ndarray, at: np.ndarray, params: dict) -> np.ndarray:
    """p of each delivery by the reference's float32 operations (the novelty factor times the probability, then the
    fatigue factor times that)."""
    p = store[at, 1]
    if params["novelty"] is not None:
        p = novelty_factor(store[at, 2], params["t"], *params["novelty"]) * p
    if params["strength"]:
        p = np.exp(store[at, 0] * np.float32(-params["strength"])) * p
    return p


@needs_compiled
@pytest.mark.parametrize("params", PARAMETERS)
@pytest.mark.parametrize("n", [32, 33, 3000])
def test_uniforms_on_the_engagement_probability_itself(params: dict, n: int) -> None:
    """Uniforms exactly at p (not engaged) and one double below it (engaged), and p = 0 with u = 0 (not engaged):
    any rounding the kernel did differently, or a ≤ for a <, would show."""
    kwargs = case(9, 5000, n)
    kwargs["store"][kwargs["at"][::5], 1] = 0.0
    p = reference_probability(kwargs["store"], kwargs["at"], params).astype(np.float64)
    kwargs["uniforms"] = np.where(np.arange(n) % 2 == 0, p, np.nextafter(p, -np.inf))
    kwargs["uniforms"][p == 0.0] = 0.0
    (rows, store), (ref_rows, ref_store) = both(kwargs, **params)
    for got, want in zip(rows, ref_rows, strict=True):
        np.testing.assert_array_equal(got, want)
    assert store.tobytes() == ref_store.tobytes()
    assert 0 < rows[0].size < n  # both sides of the test were met


@needs_compiled
def test_the_compiled_kernel_refuses_what_it_cannot_read() -> None:
    kwargs = case(1, 100, 10)
    params = PARAMETERS[0]
    with pytest.raises(IndexError):
        respond_fans(kwargs["store"], kwargs["at"] + 100, kwargs["uniforms"], kwargs["people"], compiled=True,
                     **params)
    with pytest.raises(TypeError):
        respond_fans(kwargs["store"].astype(np.float64), kwargs["at"], kwargs["uniforms"], kwargs["people"],
                     compiled=True, **params)
    with pytest.raises(ValueError):
        respond_fans(kwargs["store"], kwargs["at"], kwargs["uniforms"][:5], kwargs["people"], compiled=True,
                     **params)
    with pytest.raises(ValueError):  # records of three fields
        respond_fans(kwargs["store"][:, :3].copy(), kwargs["at"], kwargs["uniforms"], kwargs["people"],
                     compiled=True, **params)
    with pytest.raises((ValueError, BufferError)):  # not contiguous
        respond_fans(kwargs["store"], kwargs["at"][::2], kwargs["uniforms"][::2], kwargs["people"], compiled=True,
                     **params)


def runs_both_ways(scenario: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every series of every run the same with the kernels and with NumPy's path alone, and so are the Page's
    records (by population row and by fan position) and its bookkeeping at the end of every run."""
    from reachsim import run_experiment
    from reachsim.channels.page import PageChannel

    finish = PageChannel.finish
    pages: list[tuple[object, ...]] = []

    def keep(self: PageChannel) -> object:
        fans = self.fans
        pages.append((self._store.tobytes(), self._fan_store[:fans].tobytes(), self.fan_list[:fans].tobytes(),
                      self._unseen_fans, self._boosted_posts, self._nonfans_exposed, self._scaled_bound,
                      self._roundings))
        return finish(self)

    monkeypatch.setattr(PageChannel, "finish", keep)
    runs, records = [], []
    for compiled in (fan_response.COMPILED, False):
        monkeypatch.setattr(fan_response, "COMPILED", compiled)
        runs.append(run_experiment(scenario).runs)
        records.append(pages[:])
        pages.clear()
    assert records[0] == records[1] and records[0]
    for strategy, results in runs[0].items():
        for got, want in zip(results, runs[1][strategy], strict=True):
            assert got.series.keys() == want.series.keys()
            for key, series in got.series.items():
                np.testing.assert_array_equal(series, want.series[key], err_msg=f"{strategy} {key}")
            assert repr(got.final) == repr(want.final)


@pytest.mark.parametrize("name", ["page_reach_decline", "paid_to_owned"])
def test_shipped_scenarios_run_the_same_without_the_kernels(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from reachsim import load_scenario
    from reachsim.scenario.load import with_overrides

    runs_both_ways(with_overrides(load_scenario(SCENARIOS / f"{name}.yaml"), replications=1), monkeypatch)


#: paid_to_owned's boosts changed so that every branch of a boosted post runs: boosts to the fans or to a segment,
#: ten times the budget (many repeats, fans both sighted and boosted, unions of over 4,096 rows), novelty, a high
#: engagement and unfollow rate (more than 16 unfollows at once, further deliveries engaged and unfollowed).
BOOST_VARIANTS = {
    "fans": [("target: market}", "target: fans}")],
    "segment": [("target: market}", "target: [loyal]}")],
    "stressed": [("budget_per_post: 42,", "budget_per_post: 420,"), ("budget_per_post: 21,", "budget_per_post: 420,"),
                 ("probability: 0.048 ", "probability: 0.6 "),
                 ("fatigue: {half_life_days: 3, strength: 0.2}",
                  "fatigue: {half_life_days: 3, strength: 0.2}\n          novelty: {half_life_days: 60, floor: 0.3}"),
                 ("unfollow: {probability: 0.0005,", "unfollow: {probability: 0.05,")],
}


@needs_compiled
@pytest.mark.parametrize("variant", sorted(BOOST_VARIANTS))
def test_boosted_posts_run_the_same_without_the_kernels(variant: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from reachsim import load_scenario
    from reachsim.scenario.load import with_overrides

    text = (SCENARIOS / "paid_to_owned.yaml").read_text(encoding="utf-8")
    for old, new in BOOST_VARIANTS[variant]:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"paid_to_owned_{variant}.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = with_overrides(load_scenario(path), replications=1, horizon_days=240)
    runs_both_ways(scenario, monkeypatch)


def test_ci_builds_the_compiled_kernels() -> None:
    """Where the build must have a compiler (CI sets REACHSIM_REQUIRE_COMPILED), the kernels are there."""
    if os.environ.get("REACHSIM_REQUIRE_COMPILED"):
        assert fan_response.COMPILED


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=needs_compiled)])
def test_deliveries_follow_the_engagement_rule(compiled: bool) -> None:
    """P(engaged) = min(1, novelty·probability·e^(−sF)), P(unfollow) = min(1, u(1 + fs·F)), and their
    independence; each stock gains the increment and each count one; the first-time are those never exposed."""
    rng = np.random.default_rng(11)
    size, t, s, u, fs, (h, floor) = 200_000, 300.0, 0.5, 0.02, 1.5, (60.0, 0.3)
    store = fan_store(rng, size)
    before = store.copy()
    at = np.arange(size, dtype=np.int64)
    people = np.arange(size, dtype=np.int32)
    engaged, out, first = respond_fans(store, at, rng.random(size), people, t=t, strength=s, novelty=(h, floor),
                                       optout=u, optout_fatigue_strength=fs, stock_bound=4.0,
                                       increment=np.float32(1.0), first=True, compiled=compiled)
    f = before[:, 0].astype(float)
    novelty = floor + (1 - floor) * np.exp2(-(t - before[:, 2].astype(float)) / h)
    p = np.minimum(1.0, novelty * before[:, 1] * np.exp(-s * f))
    q = np.minimum(1.0, u * (1 + fs * f))
    for observed, expected, what in ((engaged.size, p, "engaged"), (out.size, q, "unfollowed"),
                                     (np.intersect1d(engaged, out).size, p * q, "both")):
        mean, sd = float(expected.sum()), math.sqrt(float((expected * (1 - expected)).sum()))
        assert abs(observed - mean) <= Z * sd, f"{what}: {observed} against {mean:.1f} ± {Z * sd:.1f}"
    np.testing.assert_array_equal(store[:, 0], before[:, 0] + np.float32(1.0))
    np.testing.assert_array_equal(store.view(np.uint32)[:, 3], before.view(np.uint32)[:, 3] + 1)
    np.testing.assert_array_equal(first, np.flatnonzero(before.view(np.uint32)[:, 3] == 0))
    np.testing.assert_array_equal(store[:, 1:3], before[:, 1:3])


def test_novelty_factor_is_the_closed_form() -> None:
    since = np.array([0.0, -10.0, -1000.0], dtype=np.float32)
    got = novelty_factor(since, 30.0, 30.0, 0.25)
    want = 0.25 + 0.75 * np.exp2(-(30.0 - since.astype(float)) / 30.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.dtype == np.float32


@needs_compiled
@pytest.mark.parametrize("uniform", [-0.5, 1.0, 7.0, math.nan])
def test_a_boost_refuses_uniforms_outside_the_unit_interval(uniform: float) -> None:
    """A uniform outside [0, 1) would place an impression outside its target: refused, never read out of bounds."""
    from reachsim.model.boost_response import BoostKernel

    store, fans = np.zeros((100, 4), dtype=np.float32), np.zeros((10, 4), dtype=np.float32)
    for mode, target in ((0, None), (1, None), (2, np.arange(10, dtype=np.int32))):
        with pytest.raises(ValueError):
            BoostKernel().prepare(np.array([uniform]), np.empty(0, dtype=np.int64), store, fans,
                                  np.zeros(10, dtype=np.int32), target, 10, mode, 1, t=0.0, strength=0.0,
                                  novelty=None, increment=np.float32(1.0))
