"""Erlang C against textbook values and the birth–death chain; the FCFS recursion against theory and SimPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from scipy import stats

from reachsim.model.queueing import erlang_c, fcfs_multi_server, mmc_mean_wait, mmc_service_level


def birth_death_mmc(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float]:
    """P(wait) and mean wait in queue from the M/M/c stationary distribution, summed term by term.

    π_n ∝ a^n/n! for n ≤ c and π_c·ρ^(n−c) beyond; by PASTA an arrival waits iff it finds n ≥ c, and
    Wq = Lq/λ by Little's law.
    """
    a = arrival_rate / service_rate
    rho = a / servers
    n_max = servers + math.ceil(60 / -math.log(rho)) if rho > 0 else servers
    log_w = [n * math.log(a) - math.lgamma(n + 1) if n <= servers else 0.0 for n in range(n_max + 1)]
    for n in range(servers + 1, n_max + 1):
        log_w[n] = log_w[servers] + (n - servers) * math.log(rho)
    top = max(log_w)
    w = np.exp(np.array(log_w) - top)
    pi = w / w.sum()
    n = np.arange(n_max + 1)
    p_wait = float(pi[servers:].sum())
    lq = float(((n - servers).clip(min=0) * pi).sum())
    return p_wait, lq / arrival_rate


class TestErlangC:
    def test_textbook_values(self) -> None:
        # M/M/1: the probability of waiting is the utilisation.
        assert erlang_c(0.7, 1.0, 1) == pytest.approx(0.7, rel=1e-14)
        # M/M/2 at a = 1 Erlang: C = 1/3; M/M/3 at a = 2 Erlangs: C = 4/9 (hand-worked from the formula).
        assert erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3, rel=1e-14)
        assert erlang_c(2.0, 1.0, 3) == pytest.approx(4 / 9, rel=1e-14)
        # Only the offered load matters: 120 calls/hour, 1 minute each = 2 Erlangs.
        assert erlang_c(120.0, 60.0, 3) == pytest.approx(4 / 9, rel=1e-14)

    @pytest.mark.parametrize(
        ("lam", "mu", "c"), [(0.5, 1.0, 1), (2.4, 1.0, 3), (7.5, 1.0, 8), (50.0, 10.0, 6), (45.0, 0.5, 100)]
    )
    def test_matches_birth_death_chain(self, lam: float, mu: float, c: int) -> None:
        p_wait, wq = birth_death_mmc(lam, mu, c)
        assert erlang_c(lam, mu, c) == pytest.approx(p_wait, rel=1e-10)
        assert mmc_mean_wait(lam, mu, c) == pytest.approx(wq, rel=1e-9)

    def test_stable_for_many_servers(self) -> None:
        # Factorials of 2000 overflow; the recursion does not. Erlang B is also Poisson pmf(c)/cdf(c).
        a, c = 1950.0, 2000
        b = stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a)
        expected = c * b / (c - a * (1 - b))
        assert erlang_c(a, 1.0, c) == pytest.approx(expected, rel=1e-9)
        assert 0.0 < erlang_c(a, 1.0, c) < 1.0

    def test_unstable_and_degenerate(self) -> None:
        assert erlang_c(3.0, 1.0, 3) == 1.0
        assert erlang_c(5.0, 1.0, 3) == 1.0
        assert erlang_c(1.0, 1.0, 0) == 1.0
        assert erlang_c(0.0, 1.0, 4) == 0.0
        assert mmc_mean_wait(3.0, 1.0, 3) == math.inf
        assert mmc_service_level(3.5, 1.0, 3, 10.0) == 0.0
        assert mmc_mean_wait(0.0, 1.0, 2) == 0.0

    def test_rejects_bad_servers(self) -> None:
        with pytest.raises(ValueError, match="servers"):
            erlang_c(1.0, 1.0, 2.5)
        with pytest.raises(ValueError, match="servers"):
            erlang_c(1.0, 1.0, -1)

    def test_vectorised(self) -> None:
        servers = np.array([1, 2, 3])
        out = erlang_c(np.array([0.7, 1.0, 2.0]), 1.0, servers)
        np.testing.assert_allclose(out, [0.7, 1 / 3, 4 / 9], rtol=1e-14)
        assert np.ndim(erlang_c(0.7, 1.0, 1)) == 0
        # Decreasing in the number of agents.
        curve = erlang_c(8.0, 1.0, np.arange(9, 20))
        assert np.all(np.diff(curve) < 0)

    def test_mean_wait_and_service_level_closed_forms(self) -> None:
        # M/M/1: Wq = ρ/(μ − λ), P(W ≤ t) = 1 − ρ·e^(−(μ−λ)t).
        lam, mu = 0.8, 1.0
        assert mmc_mean_wait(lam, mu, 1) == pytest.approx(0.8 / 0.2)
        assert mmc_service_level(lam, mu, 1, 3.0) == pytest.approx(1 - 0.8 * math.exp(-0.2 * 3.0))
        assert mmc_service_level(2.0, 1.0, 3, 0.0) == pytest.approx(1 - 4 / 9)
        assert mmc_service_level(2.0, 1.0, 3, 1e6) == pytest.approx(1.0)
        # The service level is the cdf of the wait: its mean is ∫ (1 − SL) dt = Wq.
        t = np.linspace(0.0, 60.0, 200_001)
        tail = 1.0 - mmc_service_level(2.4, 1.0, 3, t)
        area = float(np.sum((tail[1:] + tail[:-1]) / 2 * np.diff(t)))
        assert area == pytest.approx(mmc_mean_wait(2.4, 1.0, 3), rel=1e-6)


class TestFcfsHandWorked:
    def test_single_server(self) -> None:
        # Starts at 0, 3, 6, 10 → waits 0, 2, 4, 0.
        waits, answered = fcfs_multi_server([0.0, 1.0, 2.0, 10.0], [3.0, 3.0, 1.0, 1.0], np.inf, 1)
        np.testing.assert_allclose(waits, [0.0, 2.0, 4.0, 0.0])
        assert answered.tolist() == [True, True, True, True]
        assert waits.dtype == float and answered.dtype == bool

    def test_single_server_abandonment_frees_nobody(self) -> None:
        # Agent busy 0–5. Contacts at 1 and 2 would wait 4 and 3 > 2.5 and leave without being served; the
        # contact at 3 waits 2 and is served 5–6 (nothing the leavers did delays it).
        waits, answered = fcfs_multi_server([0.0, 1.0, 2.0, 3.0], [5.0, 1.0, 1.0, 1.0], 2.5, 1)
        np.testing.assert_allclose(waits, [0.0, 2.5, 2.5, 2.0])
        assert answered.tolist() == [True, False, False, True]

    def test_two_servers_with_patience_per_contact(self) -> None:
        # A: 0–4, B: 0–2; c2 (t=1) waits for B → 2–5; c3 (t=2) waits for A → 4–5; c4 (t=2.5) would wait to 5.
        arrivals = [0.0, 0.0, 1.0, 2.0, 2.5]
        service = [4.0, 2.0, 3.0, 1.0, 1.0]
        waits, answered = fcfs_multi_server(arrivals, service, np.inf, 2)
        np.testing.assert_allclose(waits, [0.0, 0.0, 1.0, 2.0, 2.5])
        # A wait equal to the patience is answered; above it, the contact leaves.
        waits, answered = fcfs_multi_server(arrivals, service, [9.0, 9.0, 9.0, 2.0, 2.0], 2)
        np.testing.assert_allclose(waits, [0.0, 0.0, 1.0, 2.0, 2.0])
        assert answered.tolist() == [True, True, True, True, False]

    def test_empty_and_validation(self) -> None:
        waits, answered = fcfs_multi_server(np.array([]), np.array([]), np.inf, 3)
        assert waits.shape == (0,) and answered.shape == (0,)
        with pytest.raises(ValueError, match="sorted"):
            fcfs_multi_server([1.0, 0.0], [1.0, 1.0], np.inf, 1)
        with pytest.raises(ValueError, match="servers"):
            fcfs_multi_server([0.0], [1.0], np.inf, 0)


def poisson_exponential_inputs(
    rng: np.random.Generator, n: int, arrival_rate: float, service_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    arrivals = np.cumsum(rng.exponential(1 / arrival_rate, n))
    return arrivals, rng.exponential(1 / service_rate, n)


def batch_mean_and_se(x: np.ndarray, batches: int = 40) -> tuple[float, float]:
    """Mean and its standard error by batch means (queue waits are autocorrelated, batches nearly are not)."""
    means = np.array([b.mean() for b in np.array_split(x, batches)])
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(batches))


@pytest.mark.parametrize(("lam", "mu", "c"), [(2.1, 1.0, 3), (0.6, 1.0, 1), (8.0, 1.0, 10)])
def test_fcfs_without_abandonment_matches_erlang_c(lam: float, mu: float, c: int) -> None:
    rng = np.random.default_rng(1234 + c)
    n, warm_up = 200_000, 2_000
    arrivals, service = poisson_exponential_inputs(rng, n, lam, mu)
    waits, answered = fcfs_multi_server(arrivals, service, np.inf, c)
    assert answered.all()
    waits = waits[warm_up:]

    p_hat, p_se = batch_mean_and_se((waits > 0).astype(float))
    assert abs(p_hat - erlang_c(lam, mu, c)) < 4 * p_se

    w_hat, w_se = batch_mean_and_se(waits)
    assert abs(w_hat - mmc_mean_wait(lam, mu, c)) < 4 * w_se

    target = 0.5 / mu
    sl_hat, sl_se = batch_mean_and_se((waits <= target).astype(float))
    assert abs(sl_hat - mmc_service_level(lam, mu, c, target)) < 4 * sl_se


def simpy_reference(
    arrivals: np.ndarray, service: np.ndarray, patience: np.ndarray, servers: int
) -> tuple[np.ndarray, np.ndarray]:
    """One SimPy process per contact, reneging when patience runs out: the model the recursion replaces."""
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=servers)
    waits = np.full(arrivals.size, np.nan)
    answered = np.zeros(arrivals.size, dtype=bool)

    def contact(i: int):  # type: ignore[no-untyped-def]
        with agents.request() as request:
            if np.isfinite(patience[i]):
                outcome = yield request | env.timeout(patience[i])
                served = request in outcome
            else:
                yield request
                served = True
            if served:
                waits[i] = env.now - arrivals[i]
                answered[i] = True
                yield env.timeout(service[i])
            else:
                waits[i] = patience[i]

    def source():  # type: ignore[no-untyped-def]
        for i, t in enumerate(arrivals):
            yield env.timeout(t - env.now)
            env.process(contact(i))

    env.process(source())
    env.run()
    return waits, answered


@pytest.mark.parametrize(("lam", "c", "mean_patience"), [(3.5, 3, 0.5), (1.5, 2, 2.0), (0.9, 1, np.inf)])
def test_fcfs_matches_simpy_contact_by_contact(lam: float, c: int, mean_patience: float) -> None:
    rng = np.random.default_rng(99)
    n = 3_000
    arrivals, service = poisson_exponential_inputs(rng, n, lam, 1.0)
    patience = rng.exponential(mean_patience, n) if np.isfinite(mean_patience) else np.full(n, np.inf)
    waits, answered = fcfs_multi_server(arrivals, service, patience, c)
    ref_waits, ref_answered = simpy_reference(arrivals, service, patience, c)
    np.testing.assert_array_equal(answered, ref_answered)
    np.testing.assert_allclose(waits, ref_waits, rtol=1e-9, atol=1e-9)
    if np.isfinite(mean_patience):
        assert 0 < (~answered).sum() < n  # the case exercises abandonment
