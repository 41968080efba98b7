"""Reference queue models, one SimPy process per contact: what the fast FCFS recursion is held to, contact by contact.

They are written the straightforward event-by-event way and share no logic with :mod:`reachsim.model.queueing`:
contacts wait in a first-come first-served line, an agent who is free (and on duty) takes its head, a contact whose
patience runs out leaves the line.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import simpy


def simpy_resource_queue(
    arrivals: np.ndarray, service: np.ndarray, patience: np.ndarray, servers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Agents always on duty: a ``simpy.Resource`` of ``servers`` agents, each contact reneging when its patience
    runs out."""
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


def simpy_shift_queue(
    arrivals: np.ndarray, service: np.ndarray, patience: np.ndarray, staffing: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Agents on shifts: agent j is on duty during [k, k + 1) iff j < staffing[k mod len(staffing)].

    Whenever a contact arrives, an agent finishes or a shift starts, the free on-duty agents take the waiting
    contacts in arrival order, lowest-numbered agent first. An agent finishes a contact started before the end of
    the shift. Every agent starts free at time 0.
    """
    env = simpy.Environment()
    n, period, agents = arrivals.size, len(staffing), max(staffing)
    waits = np.full(n, np.nan)
    answered = np.zeros(n, dtype=bool)
    status = ["not yet"] * n  # → "waiting" → "served" or "gone"
    busy = [False] * agents
    line: deque[int] = deque()
    resolved = [0]

    def on_duty(j: int) -> bool:
        return j < staffing[math.floor(env.now) % period]

    def dispatch() -> None:
        while line:
            i = line[0]
            if status[i] != "waiting":
                line.popleft()
                continue
            free = [j for j in range(agents) if not busy[j] and on_duty(j)]
            if not free:
                return
            line.popleft()
            status[i] = "served"
            resolved[0] += 1
            waits[i] = env.now - arrivals[i]
            answered[i] = True
            busy[free[0]] = True
            env.process(serve(free[0], i))

    def serve(j: int, i: int):  # type: ignore[no-untyped-def]
        yield env.timeout(service[i])
        busy[j] = False
        dispatch()

    def contact(i: int):  # type: ignore[no-untyped-def]
        status[i] = "waiting"
        line.append(i)
        dispatch()
        if status[i] == "waiting" and math.isfinite(patience[i]):
            yield env.timeout(patience[i])
            if status[i] == "waiting":
                status[i] = "gone"
                resolved[0] += 1
                waits[i] = patience[i]

    def source():  # type: ignore[no-untyped-def]
        for i, t in enumerate(arrivals):
            yield env.timeout(t - env.now)
            env.process(contact(i))

    def shifts():  # type: ignore[no-untyped-def]
        while resolved[0] < n:
            yield env.timeout(1.0)
            dispatch()

    env.process(source())
    env.process(shifts())
    env.run()
    return waits, answered
