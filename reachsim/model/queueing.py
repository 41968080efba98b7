"""Queues of support contacts: closed forms (Erlang C, Erlang A) and an exact FCFS multi-server recursion.

Rates are per unit time in any consistent unit (contacts per hour and services per hour, say); waits come
out in the reciprocal unit. The offered load is ``a = λ/μ`` (in Erlangs). Without abandonment the queue is
stable only when ``a < c``; with abandonment (M/M/c+M, "Erlang A") it always is.

The simulation side — contacts served first-come first-served by agents whose next free times carry the queue's
state, optionally with a staffing level that changes by the hour — is :func:`fcfs_queue`; the closed forms the
tests hold it to are :func:`erlang_c` (and its mean wait and service level) and :class:`ErlangA`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Floats = float | FloatArray


def _erlang_c_scalar(arrival_rate: float, service_rate: float, servers: float) -> float:
    if arrival_rate < 0 or service_rate <= 0:
        raise ValueError("arrival_rate must be >= 0 and service_rate > 0")
    if servers < 0 or servers != math.floor(servers):
        raise ValueError(f"servers must be a non-negative integer, got {servers!r}")
    c = int(servers)
    a = arrival_rate / service_rate
    if a >= c:
        return 1.0
    # Erlang B by the recursion B(0) = 1, B(n) = a·B(n−1) / (n + a·B(n−1)): every term stays in [0, 1], so no
    # factorial or power of a ever overflows, even for thousands of servers.
    b = 1.0
    for n in range(1, c + 1):
        b = a * b / (n + a * b)
    # Erlang C from Erlang B: C = c·B / (c − a·(1 − B)).
    return c * b / (c - a * (1.0 - b))


def erlang_c(arrival_rate: npt.ArrayLike, service_rate: npt.ArrayLike, servers: npt.ArrayLike) -> Floats:
    """Probability that an arrival has to wait in an M/M/c queue (Erlang C formula).

    Computed from Erlang B by its stable recursion, then ``C = c·B / (c − a(1 − B))`` with ``a = λ/μ``.
    Returns 1.0 when the offered load ``a ≥ c`` (the queue grows without bound, everybody waits).
    """
    lam, mu, c = np.broadcast_arrays(
        np.asarray(arrival_rate, dtype=float), np.asarray(service_rate, dtype=float), np.asarray(servers)
    )
    out = np.empty(lam.shape, dtype=float)
    for idx in np.ndindex(lam.shape):
        out[idx] = _erlang_c_scalar(float(lam[idx]), float(mu[idx]), float(c[idx]))
    return out[()]


def mmc_mean_wait(arrival_rate: npt.ArrayLike, service_rate: npt.ArrayLike, servers: npt.ArrayLike) -> Floats:
    """Mean wait in queue of an M/M/c queue: ``Wq = C / (cμ − λ)``; ``inf`` when ``λ ≥ cμ``.

    Given that a contact waits, its wait is exponential with rate ``cμ − λ`` (all agents busy, the queue
    drains at ``cμ`` and fills at ``λ``), hence the formula.
    """
    lam = np.asarray(arrival_rate, dtype=float)
    mu = np.asarray(service_rate, dtype=float)
    c = np.asarray(servers, dtype=float)
    p_wait = np.asarray(erlang_c(lam, mu, c))
    drain = c * mu - lam
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(drain > 0, p_wait / drain, np.inf)
    return out[()]


def mmc_service_level(
    arrival_rate: npt.ArrayLike,
    service_rate: npt.ArrayLike,
    servers: npt.ArrayLike,
    target_wait: npt.ArrayLike,
) -> Floats:
    """Share of contacts answered within ``target_wait``: ``P(W ≤ t) = 1 − C·e^(−(cμ − λ)t)``.

    Same unit for ``target_wait`` as the reciprocal of the rates. An unstable queue (``λ ≥ cμ``) gives 0.
    """
    lam = np.asarray(arrival_rate, dtype=float)
    mu = np.asarray(service_rate, dtype=float)
    c = np.asarray(servers, dtype=float)
    t = np.asarray(target_wait, dtype=float)
    p_wait = np.asarray(erlang_c(lam, mu, c))
    drain = c * mu - lam
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.where(drain > 0, 1.0 - p_wait * np.exp(-np.maximum(drain, 0.0) * t), 0.0)
    return out[()]


def fcfs_multi_server(
    arrivals: npt.ArrayLike,
    service_times: npt.ArrayLike,
    patience: npt.ArrayLike,
    servers: int,
) -> tuple[FloatArray, BoolArray]:
    """Waits and answered flags of contacts served first-come first-served by ``servers`` identical agents.

    Arguments are in one time unit: ``arrivals`` sorted ascending, ``service_times`` (handle times) one per
    contact, ``patience`` a scalar or one per contact (``numpy.inf`` for none). Returns ``(waits, answered)``.

    Why this is exact. Under FCFS a contact can only start once every earlier contact that stays has
    started, and later arrivals never delay it. With identical agents it does not matter *which* agent
    serves whom, only the multiset of times at which agents become free. So, processing contacts in arrival
    order and keeping each agent's next free time in a min-heap, a contact arriving at ``t`` starts at
    ``max(t, earliest free time)``: the earliest-free agent is the one that would pick it up. Its wait is
    thus known at arrival (the "virtual waiting time"); if it exceeds the patience the contact abandons at
    ``arrival + patience`` (wait = patience, answered False) and never occupies an agent, otherwise the
    agent's free time becomes ``start + service``. A wait exactly equal to the patience is answered. This
    matches an event-by-event simulation (e.g. a ``simpy.Resource`` with reneging) contact by contact, at a
    fraction of the cost.
    """
    if servers < 1 or int(servers) != servers:
        raise ValueError(f"servers must be a positive integer, got {servers!r}")
    outcome = fcfs_queue(arrivals, service_times, patience, np.full(int(servers), -math.inf))
    return outcome.waits, outcome.answered


# -- the FCFS recursion with state, optionally with staffing by the hour -----------------------------------------


@dataclass(frozen=True)
class QueueOutcome:
    """What :func:`fcfs_queue` returns: one wait and answered flag per contact, and the agents' next free times."""

    waits: FloatArray  # time from arrival to the start of service, or to abandonment (then = the patience)
    answered: BoolArray
    free_at: FloatArray  # each agent's next free time after these contacts: the state for the next call


def fcfs_queue(
    arrivals: npt.ArrayLike,
    service_times: npt.ArrayLike,
    patience: npt.ArrayLike,
    free_at: npt.ArrayLike,
    *,
    staffing: Sequence[int] | None = None,
) -> QueueOutcome:
    """Serve contacts first-come first-served, starting from the agents' next free times ``free_at``.

    ``len(free_at)`` is the number of agents. Without ``staffing`` every agent is always on duty. With
    ``staffing`` (a sequence of ``P`` non-negative integers, ``max(staffing) == len(free_at)``), agent ``j`` is on
    duty during the unit interval ``[k, k + 1)`` iff ``j < staffing[k mod P]`` — hours of a day with ``P = 24`` and
    times in hours. An agent starts a contact only while on duty and, once started, finishes it even past the end
    of the shift. Idle agents take the head of the queue; among agents free at the same moment the lowest index
    takes it.

    Why this is exact (see :func:`fcfs_multi_server` for the case of agents always on duty): under FCFS, contact
    ``i`` starts at the first moment, at or after its arrival, that some agent is free and on duty, given the
    contacts before it; later contacts never change that. Agent ``j``'s first such moment is its next free time or
    the arrival, whichever is later, moved on to the start of its next shift if it is off duty then. So the start
    is the minimum of these over agents, and the recursion processes contacts in arrival order. The returned
    ``free_at`` continues the queue exactly in a following call (a queue split at midnight is the same queue).
    """
    arr, svc, pat = _queue_inputs(arrivals, service_times, patience)
    free = np.array(free_at, dtype=float)
    if free.ndim != 1 or free.size < 1:
        raise ValueError("free_at needs one next free time per agent (at least one agent)")
    if staffing is None:
        heap = free.tolist()
        heapq.heapify(heap)
        waits, answered = _serve_always_on_duty(arr.tolist(), svc.tolist(), pat.tolist(), heap)
        return QueueOutcome(np.array(waits, dtype=float), np.array(answered, dtype=bool), np.sort(np.array(heap)))
    shifts = [int(s) for s in staffing]
    if not shifts or min(shifts) < 0 or any(s != v for s, v in zip(shifts, staffing, strict=True)):
        raise ValueError("staffing must be a non-empty sequence of non-negative integers")
    if max(shifts) != free.size:
        raise ValueError(f"staffing needs as many agents as its largest level ({max(shifts)}), got {free.size}")
    free_list = free.tolist()
    waits, answered = _serve_in_shifts(arr.tolist(), svc.tolist(), pat.tolist(), free_list, _gaps_to_duty(shifts))
    return QueueOutcome(np.array(waits, dtype=float), np.array(answered, dtype=bool), np.array(free_list))


def _queue_inputs(
    arrivals: npt.ArrayLike, service_times: npt.ArrayLike, patience: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    arr = np.asarray(arrivals, dtype=float)
    if arr.ndim != 1:
        raise ValueError("arrivals must be a 1-D array")
    n = arr.shape[0]
    svc = _per_contact(service_times, n, "service_times")
    pat = _per_contact(patience, n, "patience")
    if n > 1 and (arr[1:] < arr[:-1]).any():
        raise ValueError("arrivals must be sorted ascending")
    if n and (svc.min() < 0 or pat.min() < 0):
        raise ValueError("service_times and patience must be >= 0")
    return arr, svc, pat


def _per_contact(values: npt.ArrayLike, n: int, name: str) -> FloatArray:
    """One value per contact from a scalar or an array (``numpy.broadcast_to`` costs more than a day's queue)."""
    array = np.asarray(values, dtype=float)
    if array.shape == (n,):
        return array
    if array.ndim == 0:
        return np.full(n, float(array))
    raise ValueError(f"{name} must be one number, or one per contact")


def _serve_always_on_duty(
    arr: list[float], svc: list[float], pat: list[float], heap: list[float]
) -> tuple[list[float], list[bool]]:
    """The recursion over a min-heap of next free times (identical agents: who serves whom does not matter).

    Plain Python floats and lists: several times faster than NumPy scalars in a loop."""
    waits = [0.0] * len(arr)
    answered = [True] * len(arr)
    replace = heapq.heapreplace
    for i, t in enumerate(arr):
        earliest = heap[0]
        if earliest <= t:  # an agent is free: answered at once
            replace(heap, t + svc[i])
            continue
        wait = earliest - t
        if wait > pat[i]:
            waits[i] = pat[i]
            answered[i] = False
        else:
            waits[i] = wait
            replace(heap, earliest + svc[i])
    return waits, answered


def _gaps_to_duty(staffing: list[int]) -> list[list[int]]:
    """``gaps[j][k]``: whole units from the start of unit ``k`` (of the period) to agent ``j``'s next unit on duty
    (0 when on duty in unit ``k``)."""
    period = len(staffing)
    gaps = []
    for j in range(max(staffing)):
        on = [j < s for s in staffing]
        row = [0] * period
        nxt = None  # distance to the next on-duty unit, scanning two periods backwards (the schedule repeats)
        for step in range(2 * period - 1, -1, -1):
            k = step % period
            nxt = 0 if on[k] else (None if nxt is None else nxt + 1)
            if step < period:
                row[k] = nxt if nxt is not None else 0
        gaps.append(row)
    return gaps


def _serve_in_shifts(
    arr: list[float], svc: list[float], pat: list[float], free: list[float], gaps: list[list[int]]
) -> tuple[list[float], list[bool]]:
    """The recursion when agents have shifts: each contact scans the agents for the earliest possible start."""
    period = len(gaps[0])
    agents = range(len(free))
    floor = math.floor
    waits = [0.0] * len(arr)
    answered = [True] * len(arr)
    for i, t in enumerate(arr):
        best = math.inf
        chosen = -1
        for j in agents:
            ready = free[j] if free[j] > t else t
            unit = floor(ready)
            gap = gaps[j][unit % period]
            start = ready if gap == 0 else float(unit + gap)
            if start < best:  # strict: the lowest index wins a tie
                best = start
                chosen = j
        wait = best - t
        if wait > pat[i]:
            waits[i] = pat[i]
            answered[i] = False
        else:
            waits[i] = wait
            free[chosen] = best + svc[i]
    return waits, answered


# -- contacts: arrival times within a day, handle times -----------------------------------------------------------


def arrival_times(u: npt.ArrayLike, profile: Sequence[float] | None = None) -> FloatArray:
    """Times in [0, len(profile)) — hours of a day — from uniforms ``u``, with density proportional to ``profile``.

    Inverse transform of the piecewise-uniform distribution: unit ``k`` gets the share ``profile[k] / Σ profile``
    and times are uniform within it. Without a profile the times are uniform over [0, 24). Given a Poisson number
    of contacts a day, such times make a Poisson process whose rate is piecewise constant by hour. The transform is
    monotone: sorted uniforms give sorted times.
    """
    return times_from_cumulative(u, None if profile is None else profile_cumulative(profile))


def profile_cumulative(profile: Sequence[float]) -> FloatArray:
    """The cumulative shares ``[0, w₀/W, (w₀ + w₁)/W, …, 1]`` of a profile of non-negative weights ``w``."""
    weights = np.asarray(profile, dtype=float)
    if weights.ndim != 1 or weights.size == 0 or weights.min() < 0 or not weights.sum() > 0:
        raise ValueError("profile must be non-negative weights with a positive sum")
    cumulative = np.empty(weights.size + 1)
    cumulative[0] = 0.0
    np.cumsum(weights / weights.sum(), out=cumulative[1:])
    cumulative[-1] = 1.0
    return cumulative


def times_from_cumulative(u: npt.ArrayLike, cumulative: FloatArray | None) -> FloatArray:
    """:func:`arrival_times` with the profile's :func:`profile_cumulative` computed once (None: uniform over 24)."""
    uu = np.asarray(u, dtype=float)
    if cumulative is None:
        return np.minimum(uu * 24.0, _BELOW_24)
    # u in [0, 1) lands in a unit of positive width: cumulative[unit] ≤ u < cumulative[unit + 1].
    unit = np.searchsorted(cumulative, uu, side="right") - 1
    start = cumulative[unit]
    times = unit + (uu - start) / (cumulative[unit + 1] - start)
    return np.minimum(times, np.nextafter(float(cumulative.size - 1), 0.0))


_BELOW_24 = np.nextafter(24.0, 0.0)


def quantile(values: np.ndarray, q: float) -> float:
    """``numpy.quantile(values, q)`` (linear interpolation between order statistics), at a fraction of its cost
    for the few hundred values of a day."""
    ordered = np.sort(values)
    position = q * (ordered.size - 1)
    low = math.floor(position)
    high = min(low + 1, ordered.size - 1)
    return float(ordered[low] + (position - low) * (ordered[high] - ordered[low]))


def lognormal_parameters(mean: float, cv: float) -> tuple[float, float]:
    """``(m, s)`` of the lognormal ``exp(m + s·Z)`` with the given mean and coefficient of variation:
    ``s² = ln(1 + cv²)``, ``m = ln(mean) − s²/2``."""
    if mean <= 0 or cv <= 0:
        raise ValueError("mean and cv must be > 0")
    s2 = math.log1p(cv * cv)
    return math.log(mean) - s2 / 2.0, math.sqrt(s2)


def handle_times(u: npt.ArrayLike, mean: float, cv: float | None = None) -> FloatArray:
    """Handle times from uniforms ``u`` by inverse transform: exponential with ``mean`` (``cv`` None), else lognormal
    with that mean and coefficient of variation.

    Drawn from uniforms so that one contact keeps its rank (a quick question stays quick) in every strategy,
    whichever queue serves it: common random numbers across routes and parameters.
    """
    from scipy import special

    uu = np.asarray(u, dtype=float)
    if mean <= 0:
        raise ValueError("mean must be > 0")
    if cv is None:
        return -mean * np.log1p(-uu)
    m, s = lognormal_parameters(mean, cv)
    return np.exp(m + s * special.ndtri(uu))


# -- Erlang A: M/M/c+M, from its birth–death chain -----------------------------------------------------------------


class ErlangA:
    """The M/M/c+M queue ("Erlang A"): Poisson arrivals at ``λ``, ``c`` agents serving at ``μ`` each, and every
    waiting contact abandoning at rate ``θ`` (exponential patience with mean ``1/θ``). ``θ = 0`` is Erlang C.

    Solved from the birth–death chain of the number in system ``n``: births at ``λ``, deaths at
    ``min(n, c)·μ + max(n − c, 0)·θ``, truncated where the stationary probabilities fall below ``1e-22`` of
    their peak. By PASTA an arrival finds the stationary state. One that finds ``n = c + j`` (``j`` waiting
    ahead of it) moves up one place at rate ``cμ + jθ`` (an agent frees or one ahead abandons) while abandoning
    itself at rate ``θ``; it reaches an agent with probability ``cμ / (cμ + (j + 1)θ)`` (the product telescopes)
    after a wait that is a sum of exponentials with rates ``cμ + kθ``, ``k = 1 … j + 1``. Since ``e^(−θS)`` of that
    wait ``S`` is Beta-distributed, service levels are incomplete beta functions; with ``θ = 0`` every figure is
    Erlang C's closed form.

    Waits are in the reciprocal unit of the rates. "Offered" means every arriving contact; "answered" those
    who reach an agent.
    """

    def __init__(self, arrival_rate: float, service_rate: float, servers: int, abandon_rate: float = 0.0) -> None:
        if not (arrival_rate >= 0 and service_rate > 0 and abandon_rate >= 0):
            raise ValueError("arrival_rate and abandon_rate must be >= 0 and service_rate > 0")
        if servers < 1 or int(servers) != servers:
            raise ValueError(f"servers must be a positive integer, got {servers!r}")
        self.arrival_rate = float(arrival_rate)
        self.service_rate = float(service_rate)
        self.servers = int(servers)
        self.abandon_rate = float(abandon_rate)
        lam, mu, c = self.arrival_rate, self.service_rate, self.servers
        self.stable = self.abandon_rate > 0 or lam < c * mu
        if self.abandon_rate > 0:
            self._pi = self._stationary()
            self._k = self._pi.size - c  # waiting positions j = 0 … k − 1 (n = c + j)
            j = np.arange(self._k)
            reach = c * mu + (j + 1) * self.abandon_rate
            self._served_from = c * mu / reach  # P(reach an agent | j ahead on arrival)
            self._wait_if_served = np.cumsum(1.0 / reach)  # E[wait | served, j ahead]

    def _stationary(self) -> FloatArray:
        lam, mu, c, theta = self.arrival_rate, self.service_rate, self.servers, self.abandon_rate
        if lam == 0:
            pi = np.zeros(c + 1)
            pi[0] = 1.0
            return pi
        # Log weights: up to c agents busy in one vectorised sum, then the queue's states in blocks until they fall
        # 50 below their peak where the chain drifts down (deaths above λ), so that no long tail is a Python loop.
        log_lam = math.log(lam)
        blocks = [np.concatenate([[0.0], np.cumsum(log_lam - np.log(np.arange(1, c + 1) * mu))])]
        peak, last, first = float(blocks[0].max()), float(blocks[0][-1]), 1
        size = max(1024, c)
        while True:
            j = np.arange(first, first + size, dtype=float)
            deaths = c * mu + j * theta
            block = last + np.cumsum(log_lam - np.log(deaths))
            running = np.maximum(peak, np.maximum.accumulate(block))
            stop = np.flatnonzero((deaths > lam) & (block < running - 50.0))
            if stop.size:
                blocks.append(block[: stop[0] + 1])
                peak = float(running[stop[0]])
                break
            blocks.append(block)
            peak, last, first = float(running[-1]), float(block[-1]), first + size
            if first > 10_000_000:
                raise ValueError("the queue is too long to solve (patience far longer than the handle time?)")
            size *= 2
        log_w = np.concatenate(blocks)
        w = np.exp(log_w - peak)
        return w / w.sum()

    # -- figures per offered contact ---------------------------------------------------------------------------
    @property
    def occupancy(self) -> float:
        """Share of agent time busy: answered load over capacity, ``λ·P(answered) / (cμ)``."""
        if not self.stable:
            return 1.0
        return self.arrival_rate * self.p_answered / (self.servers * self.service_rate)

    @property
    def p_wait(self) -> float:
        """Probability that an arrival finds every agent busy (it waits, or abandons)."""
        if self.abandon_rate == 0:
            return float(erlang_c(self.arrival_rate, self.service_rate, self.servers))
        return float(self._pi[self.servers :].sum())

    @property
    def p_abandon(self) -> float:
        """Share of offered contacts that abandon: ``θ·E[queue length] / λ`` (rate out by abandonment over rate in)."""
        if self.abandon_rate == 0:
            return 0.0 if self.stable else math.nan
        return float((self._pi[self.servers :] * (1.0 - self._served_from)).sum())

    @property
    def p_answered(self) -> float:
        return 1.0 - self.p_abandon

    @property
    def mean_queue(self) -> float:
        """Mean number waiting, ``E[(n − c)⁺]``."""
        if self.abandon_rate == 0:
            return self.arrival_rate * float(mmc_mean_wait(self.arrival_rate, self.service_rate, self.servers))
        return float((self._pi[self.servers :] * np.arange(self._k)).sum())

    @property
    def mean_wait(self) -> float:
        """Mean wait of offered contacts (an abandoning contact's wait is its time to abandon): ``E[queue] / λ``."""
        if self.abandon_rate == 0:
            return float(mmc_mean_wait(self.arrival_rate, self.service_rate, self.servers))
        return self.mean_queue / self.arrival_rate if self.arrival_rate else 0.0

    @property
    def mean_wait_answered(self) -> float:
        """Mean wait of the contacts that reach an agent."""
        if self.abandon_rate == 0:
            return self.mean_wait
        waiting = self._pi[self.servers :] * self._served_from
        return float((waiting * self._wait_if_served).sum()) / self.p_answered

    def service_level(self, target: float) -> float:
        """Share of offered contacts answered within ``target``: ``P(answered and wait ≤ target)``."""
        if target < 0:
            return 0.0
        if self.abandon_rate == 0:
            return float(mmc_service_level(self.arrival_rate, self.service_rate, self.servers, target))
        at_once = float(self._pi[: self.servers].sum())
        if target == 0 or self._k == 0:
            return at_once
        from scipy import special

        # A contact that finds j waiting reaches an agent after S = Σ_{i=0}^{j} Exp(cμ + iθ) unless its own
        # patience (rate θ) runs out first: P(answered within t | j) = E[e^(−θS); S ≤ t]. With β = cμ/θ,
        # e^(−θS) is a product of independent Beta(β + i, 1), which is Beta(β, j + 1); and for U ~ Beta(β, m),
        # E[U; U ≥ x] = β/(β + m)·P(Beta(β + 1, m) ≥ x). With x = e^(−θt), that is the regularised incomplete
        # beta function I_(1−x)(j + 1, β + 1), one vectorised call for every j.
        beta = self.servers * self.service_rate / self.abandon_rate
        m = np.arange(1, self._k + 1, dtype=float)
        reached = beta / (beta + m) * special.betainc(m, beta + 1.0, -math.expm1(-self.abandon_rate * target))
        return at_once + float(min(max((self._pi[self.servers :] * reached).sum(), 0.0), 1.0))

    def answered_wait_quantile(self, q: float) -> float:
        """The ``q``-quantile of the waits of answered contacts (0 when a share ≥ q is answered at once)."""
        if not 0 < q < 1:
            raise ValueError("q must be in (0, 1)")
        if not self.stable:
            return math.inf
        if self.abandon_rate == 0:
            p_wait = self.p_wait
            drain = self.servers * self.service_rate - self.arrival_rate
            return math.log(p_wait / (1 - q)) / drain if p_wait > 1 - q else 0.0
        from scipy import optimize

        answered = self.p_answered
        goal = q * answered
        if self.service_level(0.0) >= goal:
            return 0.0
        high = max(self.mean_wait_answered, 1e-12)
        while self.service_level(high) < goal:
            high *= 2.0
        return float(optimize.brentq(lambda t: self.service_level(t) - goal, 0.0, high, xtol=1e-12, rtol=1e-10))


# -- staffing: the fewest agents meeting a service-level target ----------------------------------------------------

#: The most agents the staffing search sizes a queue for (a guard against loads no single queue has).
MAX_STAFFING = 100_000



@dataclass(frozen=True)
class StaffingLevel:
    """One row of a staffing table: what ``agents`` agents achieve (waits in the unit of ``1/rates``)."""

    agents: int
    service_level: float  # share of offered contacts answered within the target wait
    mean_wait: float  # of answered contacts
    p_abandon: float
    occupancy: float


def staffing_level(
    arrival_rate: float, service_rate: float, agents: int, target_wait: float, abandon_rate: float = 0.0
) -> StaffingLevel:
    """Service level, mean wait, abandonment and occupancy of ``agents`` agents (Erlang C, or A with patience)."""
    queue = ErlangA(arrival_rate, service_rate, agents, abandon_rate)
    if not queue.stable:
        return StaffingLevel(agents, 0.0, math.inf, math.nan, 1.0)
    return StaffingLevel(
        agents, queue.service_level(target_wait), queue.mean_wait_answered, queue.p_abandon, queue.occupancy
    )


def agents_lower_bound(load: float, target_level: float, abandon_rate: float = 0.0) -> int:
    """Fewer agents than this cannot meet the target, whatever the wait: without abandonment the queue is stable
    only when ``c > a``; with it, the service level is at most the share answered, and the answered contacts' work
    ``λ·P(answered)`` cannot exceed the capacity ``cμ``, so ``level ≤ P(answered) ≤ c/a``."""
    if abandon_rate == 0:
        return max(1, math.floor(load) + 1)
    return max(1, math.ceil(target_level * load * (1.0 - 1e-12)))


def fewest_agents(
    arrival_rate: float,
    service_rate: float,
    target_wait: float,
    target_level: float,
    abandon_rate: float = 0.0,
    max_agents: int = MAX_STAFFING,
) -> int:
    """The fewest agents whose service level (share of offered contacts answered within ``target_wait``) is at
    least ``target_level``, as call-centre planners size teams: by Erlang C, or Erlang A with ``abandon_rate``.

    The service level rises with the agents (each added agent only shortens every wait), so the search starts at
    :func:`agents_lower_bound`, doubles its step until the target is met, and bisects between the last level that
    falls short and the first that meets it: a few dozen evaluations at most, whatever the load. Loads that need
    more than ``max_agents`` agents are refused."""
    if not 0 < target_level < 1:
        raise ValueError("target_level must be in (0, 1)")
    if target_wait < 0:
        raise ValueError("target_wait must be >= 0")
    load = arrival_rate / service_rate
    low = agents_lower_bound(load, target_level, abandon_rate)
    if low > max_agents:
        raise ValueError(
            f"an offered load of {load:,.0f} Erlangs needs at least {low:,} agents to meet the target; "
            f"staffing is sized up to {max_agents:,} agents"
        )

    def meets(agents: int) -> bool:
        queue = ErlangA(arrival_rate, service_rate, agents, abandon_rate)
        return queue.stable and queue.service_level(target_wait) >= target_level

    if meets(low):
        return low
    step, high = 1, low + 1  # invariant: ``low`` falls short
    while not meets(high):
        if high >= max_agents:
            raise ValueError(f"no staffing up to {max_agents:,} agents meets the target")
        low, step = high, step * 2
        high = min(low + step, max_agents)
    while high - low > 1:  # ``low`` falls short, ``high`` meets the target
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def staffing_table(
    arrival_rate: float,
    service_rate: float,
    target_wait: float,
    target_level: float,
    abandon_rate: float = 0.0,
    around: int = 2,
) -> list[StaffingLevel]:
    """The levels from ``around`` below to ``around`` above the fewest agents meeting the target."""
    best = fewest_agents(arrival_rate, service_rate, target_wait, target_level, abandon_rate)
    return [
        staffing_level(arrival_rate, service_rate, agents, target_wait, abandon_rate)
        for agents in range(max(1, best - around), best + around + 1)
    ]
