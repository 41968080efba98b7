"""Erlang C against textbook values and the birth–death chain; Erlang A against its identities and the simulated
queue; the FCFS recursion (agents always on duty or on shifts) against theory and SimPy, contact by contact; the
staffing search against a published Erlang C table; arrival and handle-time sampling against their distributions.

Statistical tolerances are 4 standard errors (batch means where waits are autocorrelated), never golden numbers.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from reachsim.model.queueing import (
    ErlangA,
    agents_lower_bound,
    arrival_times,
    erlang_c,
    fcfs_multi_server,
    fcfs_queue,
    fewest_agents,
    handle_times,
    lognormal_parameters,
    mmc_mean_wait,
    mmc_service_level,
    staffing_level,
    staffing_table,
)
from tests.model.queue_reference import simpy_resource_queue, simpy_shift_queue


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


@pytest.mark.parametrize(("lam", "c", "mean_patience"), [(3.5, 3, 0.5), (1.5, 2, 2.0), (0.9, 1, np.inf)])
def test_fcfs_matches_simpy_contact_by_contact(lam: float, c: int, mean_patience: float) -> None:
    rng = np.random.default_rng(99)
    n = 3_000
    arrivals, service = poisson_exponential_inputs(rng, n, lam, 1.0)
    patience = rng.exponential(mean_patience, n) if np.isfinite(mean_patience) else np.full(n, np.inf)
    waits, answered = fcfs_multi_server(arrivals, service, patience, c)
    ref_waits, ref_answered = simpy_resource_queue(arrivals, service, patience, c)
    np.testing.assert_array_equal(answered, ref_answered)
    np.testing.assert_allclose(waits, ref_waits, rtol=1e-9, atol=1e-9)
    if np.isfinite(mean_patience):
        assert 0 < (~answered).sum() < n  # the case exercises abandonment


# -- agents on shifts, state carried between calls -----------------------------------------------------------------


class TestShiftsHandWorked:
    # Period 3: agent 0 works units 0 and 1 of each period, agent 1 unit 1 only; nobody works unit 2.
    STAFFING = (1, 2, 0)
    ARRIVALS = (0.2, 0.5, 1.9, 2.1, 2.2, 3.5)
    SERVICE = (1.5, 0.3, 0.5, 1.0, 1.0, 0.2)
    PATIENCE = (9.0, 9.0, 9.0, 9.0, 1.0, 9.0)

    def test_waits_follow_the_shifts(self) -> None:
        # c0: agent 0 at once (free 1.7). c1: agent 0 busy, agent 1 starts its shift at 1.0 (free 1.3). c2: both free
        # and on duty at 1.9, agent 0 (lower index) takes it and finishes at 2.4 in an unstaffed hour. c3: nobody on
        # duty in [2, 3): agent 0 at 3.0 (free 4.0). c4: agent 0 at 4.0 ties agent 1's next shift at 4.0, a wait of
        # 1.8 > its patience 1.0: it leaves. c5: agent 0 at 4.0, wait 0.5.
        out = fcfs_queue(self.ARRIVALS, self.SERVICE, self.PATIENCE, [-math.inf, -math.inf], staffing=self.STAFFING)
        np.testing.assert_allclose(out.waits, [0.0, 0.5, 0.0, 0.9, 1.0, 0.5], atol=1e-12)
        assert out.answered.tolist() == [True, True, True, True, False, True]
        np.testing.assert_allclose(out.free_at, [4.2, 1.3])

    def test_reference_model_agrees(self) -> None:
        waits, answered = simpy_shift_queue(
            np.array(self.ARRIVALS), np.array(self.SERVICE), np.array(self.PATIENCE), self.STAFFING
        )
        np.testing.assert_allclose(waits, [0.0, 0.5, 0.0, 0.9, 1.0, 0.5], atol=1e-12)
        assert answered.tolist() == [True, True, True, True, False, True]

    def test_validation(self) -> None:
        with pytest.raises(ValueError, match="as many agents as its largest level"):
            fcfs_queue([0.0], [1.0], np.inf, [-math.inf], staffing=self.STAFFING)
        with pytest.raises(ValueError, match="non-negative integers"):
            fcfs_queue([0.0], [1.0], np.inf, [-math.inf], staffing=[1.5])
        with pytest.raises(ValueError, match="at least one agent"):
            fcfs_queue([0.0], [1.0], np.inf, [])


@pytest.mark.parametrize(
    ("staffing", "lam", "mean_patience"),
    [
        ((2, 3, 3, 1, 0, 2), 2.0, 0.4),
        ((2, 3, 3, 1, 0, 2), 1.6, np.inf),
        ((1, 1, 1, 2, 3, 4, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2, 3, 4, 4, 3, 2, 1, 1), 2.0, 1.0),
    ],
)
def test_shift_recursion_matches_simpy_contact_by_contact(
    staffing: tuple[int, ...], lam: float, mean_patience: float
) -> None:
    rng = np.random.default_rng(7)
    n = 3_000
    arrivals, service = poisson_exponential_inputs(rng, n, lam, 1.0)
    patience = rng.exponential(mean_patience, n) if np.isfinite(mean_patience) else np.full(n, np.inf)
    out = fcfs_queue(arrivals, service, patience, np.full(max(staffing), -math.inf), staffing=staffing)
    ref_waits, ref_answered = simpy_shift_queue(arrivals, service, patience, staffing)
    np.testing.assert_array_equal(out.answered, ref_answered)
    np.testing.assert_allclose(out.waits, ref_waits, rtol=1e-9, atol=1e-9)
    assert (out.waits > 0.5).sum() > 100  # the case exercises waiting for a shift and for a busy agent


@pytest.mark.parametrize("staffing", [None, (3, 1, 2, 2)])
def test_a_queue_split_at_unit_boundaries_is_the_same_queue(staffing: tuple[int, ...] | None) -> None:
    rng = np.random.default_rng(11)
    arrivals, service = poisson_exponential_inputs(rng, 5_000, 1.7, 1.0)
    patience = rng.exponential(2.0, arrivals.size)
    agents = 2 if staffing is None else max(staffing)
    whole = fcfs_queue(arrivals, service, patience, np.full(agents, -math.inf), staffing=staffing)
    free = np.full(agents, -math.inf)
    waits, answered = [], []
    for start in range(0, math.ceil(arrivals[-1]) + 1, 24):  # "midnight" every 24 units
        part = (arrivals >= start) & (arrivals < start + 24)
        out = fcfs_queue(arrivals[part], service[part], patience[part], free, staffing=staffing)
        free = out.free_at
        waits.append(out.waits)
        answered.append(out.answered)
    np.testing.assert_array_equal(np.concatenate(waits), whole.waits)
    np.testing.assert_array_equal(np.concatenate(answered), whole.answered)
    assert (~whole.answered).sum() > 0


def test_state_in_is_the_agents_next_free_times() -> None:
    # Two agents busy until 5 and 1: a contact at 0 waits 1, the next (at 0.5, handle 10) waits for the agent free
    # at 5 → 4.5 (the other became busy again at 1 until 3).
    out = fcfs_queue([0.0, 0.5], [2.0, 10.0], np.inf, [5.0, 1.0])
    np.testing.assert_allclose(out.waits, [1.0, 2.5])
    np.testing.assert_allclose(out.free_at, [5.0, 13.0])


# -- Erlang A --------------------------------------------------------------------------------------------------


def ctmc_mmc_abandonment(lam: float, mu: float, c: int, theta: float, n_max: int) -> np.ndarray:
    """Stationary distribution of the truncated M/M/c+M chain by a linear solve of πQ = 0, Σπ = 1."""
    q = np.zeros((n_max + 1, n_max + 1))
    for n in range(n_max + 1):
        if n < n_max:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = min(n, c) * mu + max(n - c, 0) * theta
        q[n, n] = -q[n].sum()
    a = np.vstack([q.T, np.ones(n_max + 1)])
    b = np.zeros(n_max + 2)
    b[-1] = 1.0
    return np.linalg.lstsq(a, b, rcond=None)[0]


class TestErlangA:
    @pytest.mark.parametrize(("lam", "mu", "c", "theta"), [(2.7, 1.0, 3, 0.5), (4.0, 1.0, 3, 1.0), (9.0, 0.5, 12, 2.0)])
    def test_stationary_figures_match_a_linear_solve_of_the_chain(
        self, lam: float, mu: float, c: int, theta: float
    ) -> None:
        queue = ErlangA(lam, mu, c, theta)
        pi = ctmc_mmc_abandonment(lam, mu, c, theta, n_max=c + 200)
        n = np.arange(pi.size)
        lq = float(((n - c).clip(min=0) * pi).sum())
        assert queue.p_wait == pytest.approx(float(pi[c:].sum()), rel=1e-9)
        assert queue.mean_queue == pytest.approx(lq, rel=1e-9)
        # Flow balance: abandonments per unit time θ·Lq out of λ arrivals.
        assert queue.p_abandon == pytest.approx(theta * lq / lam, rel=1e-9)
        assert queue.mean_wait == pytest.approx(lq / lam, rel=1e-9)
        assert queue.p_answered + queue.p_abandon == pytest.approx(1.0, rel=1e-12)
        assert queue.service_level(1e4) == pytest.approx(queue.p_answered, rel=1e-9)
        assert queue.service_level(0.0) == pytest.approx(1.0 - queue.p_wait, rel=1e-12)
        assert queue.occupancy == pytest.approx(lam * queue.p_answered / (c * mu), rel=1e-12)

    @pytest.mark.parametrize(
        ("lam", "mu", "c", "theta"), [(2.7, 1.0, 3, 0.5), (9.0, 0.5, 12, 2.0), (30.0, 1.0, 28, 0.1)]
    )
    def test_service_level_matches_the_transient_chain(self, lam: float, mu: float, c: int, theta: float) -> None:
        """The incomplete-beta service level against the waiting contact's transient chain, solved by a matrix
        exponential: position j moves up at cμ + jθ, position 0 reaches an agent at cμ, each loses θ."""
        from scipy.linalg import expm

        queue = ErlangA(lam, mu, c, theta)
        pi = queue._pi
        k = pi.size - c
        generator = np.zeros((k + 1, k + 1))
        for j in range(k):
            generator[j, j] = -(c * mu + (j + 1) * theta)
            generator[j, j - 1 if j else k] = c * mu + j * theta
        for t in (0.01, 0.3, 1.0, 4.0):
            reached = expm(generator * t)[:k, k]
            assert queue.service_level(t) == pytest.approx(float(pi[:c].sum() + pi[c:] @ reached), abs=1e-12)

    def test_without_abandonment_it_is_erlang_c(self) -> None:
        lam, mu, c = 2.4, 1.0, 3
        exact = ErlangA(lam, mu, c)
        nearly = ErlangA(lam, mu, c, 1e-7)
        assert exact.p_wait == erlang_c(lam, mu, c)
        assert exact.mean_wait_answered == mmc_mean_wait(lam, mu, c)
        for queue in (exact, nearly):
            assert queue.p_wait == pytest.approx(float(erlang_c(lam, mu, c)), rel=1e-5)
            assert queue.mean_wait_answered == pytest.approx(float(mmc_mean_wait(lam, mu, c)), rel=1e-5)
            assert queue.service_level(0.5) == pytest.approx(float(mmc_service_level(lam, mu, c, 0.5)), rel=1e-5)
        # The 90th percentile of the waits: 1 − C·e^(−(cμ−λ)t) = 0.9.
        expected = math.log(float(erlang_c(lam, mu, c)) / 0.1) / (c * mu - lam)
        assert exact.answered_wait_quantile(0.9) == pytest.approx(expected, rel=1e-12)
        assert nearly.answered_wait_quantile(0.9) == pytest.approx(expected, rel=1e-4)

    def test_unstable_without_abandonment(self) -> None:
        queue = ErlangA(3.0, 1.0, 3)
        assert not queue.stable and queue.p_wait == 1.0 and queue.answered_wait_quantile(0.9) == math.inf
        assert ErlangA(3.0, 1.0, 3, 0.1).stable

    @pytest.mark.parametrize(("lam", "c", "mean_patience"), [(2.7, 3, 2.0), (4.0, 3, 1.0)])
    def test_simulated_queue_matches(self, lam: float, c: int, mean_patience: float) -> None:
        """The FCFS recursion with exponential patience against the M/M/c+M chain: abandonment, mean wait of
        answered contacts, service level and the 90th percentile of answered waits."""
        rng = np.random.default_rng(2024 + c)
        n, warm_up = 300_000, 3_000
        arrivals, service = poisson_exponential_inputs(rng, n, lam, 1.0)
        patience = rng.exponential(mean_patience, n)
        waits, answered = fcfs_multi_server(arrivals, service, patience, c)
        waits, answered = waits[warm_up:], answered[warm_up:]
        queue = ErlangA(lam, 1.0, c, 1.0 / mean_patience)
        target = 0.25

        ab_hat, ab_se = batch_mean_and_se((~answered).astype(float))
        assert abs(ab_hat - queue.p_abandon) < 4 * ab_se, (ab_hat, queue.p_abandon, ab_se)
        sl_hat, sl_se = batch_mean_and_se((answered & (waits <= target)).astype(float))
        assert abs(sl_hat - queue.service_level(target)) < 4 * sl_se, (sl_hat, queue.service_level(target), sl_se)
        # Mean wait of answered contacts: a ratio estimator, batch by batch.
        num = np.array(
            [(w * a).sum() for w, a in zip(np.array_split(waits, 40), np.array_split(answered, 40), strict=True)]
        )
        den = np.array([a.sum() for a in np.array_split(answered, 40)])
        ratios = num / den
        w_hat, w_se = float(num.sum() / den.sum()), float(ratios.std(ddof=1) / math.sqrt(40))
        assert abs(w_hat - queue.mean_wait_answered) < 4 * w_se, (w_hat, queue.mean_wait_answered, w_se)
        # The quantile: the share of answered waits at or below the model's p90 is 0.9.
        p90 = queue.answered_wait_quantile(0.9)
        below = (waits[answered] <= p90).astype(float)
        b_hat, b_se = batch_mean_and_se(below)
        assert abs(b_hat - 0.9) < 4 * b_se, (b_hat, b_se)


# -- staffing ------------------------------------------------------------------------------------------------------


class TestStaffing:
    # Published Erlang C example: 100 calls in 30 minutes, 180 s average handle time, target 80 % within 20 s →
    # 14 agents, P(wait) 0.1741319, service level 0.88835, average speed of answer 7.835937 s, occupancy 0.7142857;
    # at 11 agents P(wait) 0.6821182 and service level 0.3896138. Sources: the README of the CRAN package ErlangC
    # 0.1.0 (https://stat.ethz.ch/CRAN/web/packages/ErlangC/readme/README.html, 2024) and the same case in the
    # pyworkforce 0.1.0 documentation (https://pypi.org/project/pyworkforce/0.1.0/).
    LAM, MU, TARGET = 100 / 30, 1 / 3, 20 / 60  # per minute, minutes

    def test_published_erlang_c_table(self) -> None:
        assert fewest_agents(self.LAM, self.MU, self.TARGET, 0.8) == 14
        row = staffing_level(self.LAM, self.MU, 14, self.TARGET)
        assert row.service_level == pytest.approx(0.88835, abs=5e-6)
        assert erlang_c(self.LAM, self.MU, 14) == pytest.approx(0.1741319, abs=5e-8)
        assert row.mean_wait * 60 == pytest.approx(7.83593701177724, rel=1e-12)
        assert row.occupancy == pytest.approx(0.7142857, abs=5e-8)
        eleven = staffing_level(self.LAM, self.MU, 11, self.TARGET)
        assert erlang_c(self.LAM, self.MU, 11) == pytest.approx(0.6821182, abs=5e-8)
        assert eleven.service_level == pytest.approx(0.3896138, abs=5e-8)
        assert staffing_level(self.LAM, self.MU, 13, self.TARGET).service_level < 0.8  # 14 is the fewest

    def test_table_around_the_answer(self) -> None:
        table = staffing_table(self.LAM, self.MU, self.TARGET, 0.8, around=2)
        assert [row.agents for row in table] == [12, 13, 14, 15, 16]
        levels = [row.service_level for row in table]
        assert levels == sorted(levels) and levels[1] < 0.8 <= levels[2]
        assert all(row.p_abandon == 0 for row in table)
        # Unstable levels say so rather than fail.
        assert staffing_level(self.LAM, self.MU, 10, self.TARGET).mean_wait == math.inf

    def test_abandonment_needs_fewer_agents(self) -> None:
        # Callers who hang up shorten the queue for the rest: Erlang C overstates the agents needed.
        with_patience = fewest_agents(self.LAM, self.MU, self.TARGET, 0.8, abandon_rate=1 / 2)
        assert with_patience < 14
        row = staffing_level(self.LAM, self.MU, with_patience, self.TARGET, abandon_rate=1 / 2)
        assert (
            row.service_level
            >= 0.8
            > staffing_level(self.LAM, self.MU, with_patience - 1, self.TARGET, abandon_rate=1 / 2).service_level
        )
        assert 0 < row.p_abandon < 0.1

    def test_chosen_level_holds_in_simulation(self) -> None:
        agents = fewest_agents(self.LAM, self.MU, self.TARGET, 0.8, abandon_rate=1 / 2)
        rng = np.random.default_rng(5)
        n = 200_000
        arrivals, service = poisson_exponential_inputs(rng, n, self.LAM, self.MU)
        waits, answered = fcfs_multi_server(arrivals, service, rng.exponential(2.0, n), agents)
        sl_hat, sl_se = batch_mean_and_se((answered & (waits <= self.TARGET)).astype(float)[2_000:])
        expected = staffing_level(self.LAM, self.MU, agents, self.TARGET, abandon_rate=1 / 2).service_level
        assert abs(sl_hat - expected) < 4 * sl_se, (sl_hat, expected, sl_se)

    @pytest.mark.parametrize("theta", [0.0, 0.05, 0.5, 5.0])
    @pytest.mark.parametrize(("lam", "mu", "target", "level"), [(100 / 30, 1 / 3, 1 / 3, 0.8), (40.0, 1.0, 0.05, 0.9),
                                                               (0.3, 1.0, 0.0, 0.5), (250.0, 1.0, 0.2, 0.95)])
    def test_search_finds_the_first_level_of_a_scan(
        self, lam: float, mu: float, target: float, level: float, theta: float
    ) -> None:
        """Bracketing and bisection give the level an agent-by-agent scan from one agent finds; the service level
        rises with the agents and the lower bound never exceeds the answer."""
        levels = [staffing_level(lam, mu, c, target, theta).service_level for c in range(1, int(3 * lam / mu) + 30)]
        assert all(b >= a - 1e-12 for a, b in itertools.pairwise(levels))
        first = 1 + next(i for i, value in enumerate(levels) if value >= level)
        assert fewest_agents(lam, mu, target, level, theta) == first
        assert agents_lower_bound(lam / mu, level, theta) <= first

    def test_loads_beyond_the_bound_are_refused_at_once(self) -> None:
        with pytest.raises(ValueError, match="needs at least 400,000 agents"):
            fewest_agents(1e7 / 60, 1 / 3, 1 / 3, 0.8, abandon_rate=1 / 2)
        with pytest.raises(ValueError, match="sized up to 1,000 agents"):
            fewest_agents(2000.0, 1.0, 0.1, 0.8, max_agents=1000)
        with pytest.raises(ValueError, match="no staffing up to 12 agents"):
            fewest_agents(100 / 30, 1 / 3, 1 / 3, 0.8, max_agents=12)  # 14 are needed

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError, match="target_level"):
            fewest_agents(1.0, 1.0, 0.1, 1.2)
        with pytest.raises(ValueError, match="servers"):
            ErlangA(1.0, 1.0, 0)


# -- arrivals and handle times -----------------------------------------------------------------------------------


def test_arrival_times_follow_the_profile() -> None:
    profile = np.array([0, 0, 1, 2, 4, 1, 0, 3], dtype=float)
    n = 400_000
    times = arrival_times(np.random.default_rng(3).random(n), profile)
    assert times.min() >= 2.0 and times.max() < 8.0
    counts = np.bincount(times.astype(int), minlength=8)
    share = profile / profile.sum()
    assert counts[share == 0].sum() == 0
    sd = np.sqrt(n * share * (1 - share))
    assert np.all(np.abs(counts - n * share) <= 4 * sd + 1e-9), (counts, n * share)
    # Uniform within each unit: the fractional parts of the busiest unit.
    frac = times[times.astype(int) == 4] % 1.0
    assert stats.kstest(frac, "uniform").pvalue > 1e-4
    uniform_day = arrival_times(np.random.default_rng(4).random(n))
    assert stats.kstest(uniform_day / 24.0, "uniform").pvalue > 1e-4


def test_exponential_handle_times() -> None:
    n, mean = 200_000, 6.0
    x = handle_times(np.random.default_rng(8).random(n), mean)
    assert abs(x.mean() - mean) < 4 * mean / math.sqrt(n)
    assert stats.kstest(x, "expon", args=(0, mean)).pvalue > 1e-4


def test_lognormal_handle_times_have_the_mean_and_cv() -> None:
    n, mean, cv = 200_000, 6.0, 0.8
    x = handle_times(np.random.default_rng(9).random(n), mean, cv)
    m, s = lognormal_parameters(mean, cv)
    assert math.exp(m + s * s / 2) == pytest.approx(mean, rel=1e-12)
    assert math.sqrt(math.exp(s * s) - 1) == pytest.approx(cv, rel=1e-12)
    assert abs(x.mean() - mean) < 4 * mean * cv / math.sqrt(n)
    logs = np.log(x)
    assert abs(logs.mean() - m) < 4 * s / math.sqrt(n)
    assert abs(logs.std(ddof=1) - s) < 4 * s / math.sqrt(2 * (n - 1))
    assert stats.kstest(x, "lognorm", args=(s, 0, math.exp(m))).pvalue > 1e-4


def test_single_agent_with_lognormal_handle_times_matches_pollaczek_khinchine() -> None:
    """M/G/1: mean wait λ·E[S²] / (2(1 − ρ)), with E[S²] = mean²·(1 + cv²)."""
    lam, mean, cv = 0.7, 1.0, 1.5
    rng = np.random.default_rng(21)
    n = 400_000
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = handle_times(rng.random(n), mean, cv)
    waits, _ = fcfs_multi_server(arrivals, service, np.inf, 1)
    expected = lam * mean**2 * (1 + cv**2) / (2 * (1 - lam * mean))
    w_hat, w_se = batch_mean_and_se(waits[4_000:])
    assert abs(w_hat - expected) < 4 * w_se, (w_hat, expected, w_se)
