"""Queues of support contacts: M/M/c closed forms (Erlang C) and an exact FCFS multi-server recursion.

Rates are per unit time in any consistent unit (contacts per hour and services per hour, say); waits come
out in the reciprocal unit. The offered load is ``a = λ/μ`` (in Erlangs); the queue is stable only when ``a
< c``.
"""

from __future__ import annotations

import heapq
import math

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
    arr = np.asarray(arrivals, dtype=float)
    if arr.ndim != 1:
        raise ValueError("arrivals must be a 1-D array")
    n = arr.shape[0]
    svc = np.broadcast_to(np.asarray(service_times, dtype=float), (n,))
    pat = np.broadcast_to(np.asarray(patience, dtype=float), (n,))
    if servers < 1 or int(servers) != servers:
        raise ValueError(f"servers must be a positive integer, got {servers!r}")
    if n > 1 and np.any(np.diff(arr) < 0):
        raise ValueError("arrivals must be sorted ascending")
    if np.any(svc < 0) or np.any(pat < 0):
        raise ValueError("service_times and patience must be >= 0")

    waits = np.empty(n, dtype=float)
    answered = np.empty(n, dtype=bool)
    free_at = [-math.inf] * int(servers)  # a valid heap: all agents free from the start
    # Plain Python floats in the loop are several times faster than NumPy scalars.
    arr_l = arr.tolist()
    svc_l = svc.tolist()
    pat_l = pat.tolist()
    for i in range(n):
        t = arr_l[i]
        earliest = free_at[0]
        start = t if earliest <= t else earliest
        wait = start - t
        if wait > pat_l[i]:
            waits[i] = pat_l[i]
            answered[i] = False
        else:
            waits[i] = wait
            answered[i] = True
            heapq.heapreplace(free_at, start + svc_l[i])
    return waits, answered
