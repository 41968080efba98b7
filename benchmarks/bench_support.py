"""Throughput of the support queues: the exact FCFS recursion against one SimPy process per contact.

Run ``python benchmarks/bench_support.py [--days D] [--contacts-per-day K]``; it prints a table and writes nothing.
A year of contacts (default 300 a day, the design's example: patience 4 minutes, half of them over Messenger where
a bot resolves 35 %; 4 phone agents at 6 minutes a call; 3 chat agents handling 2 chats of 9 minutes at once) goes
through the phone and chat queues three ways, interleaved, median of ``--repeats`` repetitions:

(a) recursion — :func:`reachsim.model.queueing.fcfs_queue`, one call per queue and day, the agents' free times
                carried over midnight, as the channel does;
(b) channel   — the ``support`` channel end to end in the engine (contacts drawn, routed, queued, recorded and
                booked), for a year of one strategy;
(c) naive     — one SimPy process per contact, ``simpy.Resource`` agents (the chat resource has agents ×
                concurrency slots), reneging when patience runs out; the contacts of (a), the same draws.

(a) and (c) must agree contact by contact (same waits, same outcomes); both are also set against Erlang A. Importable:
:func:`main` takes an argument list and returns the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import simpy

if importlib.util.find_spec("reachsim") is None:  # run from a source checkout that was never installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reachsim.engine.simulation import Simulation
from reachsim.model.queueing import ErlangA, fcfs_queue, handle_times
from reachsim.scenario.load import scenario_from_dict

PATIENCE, SHARE, CONTAINMENT = 4.0, 0.5, 0.35  # minutes, Messenger share, bot containment
QUEUES = {"phone": (4, 1, 6.0), "chat": (3, 2, 9.0)}  # agents, concurrency, handle minutes


def contacts(days: int, per_day: float, seed: int) -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Per queue, per day: (arrival hours, handle hours, patience hours), like the channel draws them."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {"phone": [], "chat": []}
    for day in range(days):
        n = int(rng.poisson(per_day))
        hours = day * 24 + np.sort(rng.random(n)) * 24
        route, bot, handle, patience = rng.random(n), rng.random(n), rng.random(n), rng.standard_exponential(n)
        on_messenger = route < SHARE
        for name, mask in (("phone", ~on_messenger), ("chat", on_messenger & (bot >= CONTAINMENT))):
            mean = QUEUES[name][2]
            out[name].append((hours[mask], handle_times(handle[mask], mean) / 60, patience[mask] * PATIENCE / 60))
    return out


def recursion(days: dict[str, list[tuple[np.ndarray, ...]]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    result = {}
    for name, per_day in days.items():
        agents, concurrency, _ = QUEUES[name]
        free = np.full(agents * concurrency, -math.inf)
        waits, answered = [], []
        for arrivals, service, patience in per_day:
            outcome = fcfs_queue(arrivals, service, patience, free)
            free = outcome.free_at
            waits.append(outcome.waits)
            answered.append(outcome.answered)
        result[name] = (np.concatenate(waits), np.concatenate(answered))
    return result


def naive(days: dict[str, list[tuple[np.ndarray, ...]]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One SimPy process per contact, both queues in one environment."""
    env = simpy.Environment()
    result = {}
    for name, per_day in days.items():
        agents, concurrency, _ = QUEUES[name]
        arrivals, service, patience = (np.concatenate([d[i] for d in per_day]) for i in range(3))
        waits = np.full(arrivals.size, np.nan)
        answered = np.zeros(arrivals.size, dtype=bool)
        resource = simpy.Resource(env, capacity=agents * concurrency)

        def contact(
            i, arrivals=arrivals, service=service, patience=patience, waits=waits, answered=answered, resource=resource
        ):  # type: ignore[no-untyped-def]
            with resource.request() as request:
                outcome = yield request | env.timeout(patience[i])
                if request in outcome:
                    waits[i] = env.now - arrivals[i]
                    answered[i] = True
                    yield env.timeout(service[i])
                else:
                    waits[i] = patience[i]

        def source(arrivals=arrivals, contact=contact):  # type: ignore[no-untyped-def]
            for i, t in enumerate(arrivals.tolist()):
                yield env.timeout(t - env.now)
                env.process(contact(i))

        env.process(source())
        result[name] = (waits, answered)
    env.run()
    return result


def channel_scenario(days: int, per_day: float) -> object:
    phone_agents, _, phone_handle = QUEUES["phone"]
    chat_agents, concurrency, chat_handle = QUEUES["chat"]
    return scenario_from_dict(
        {
            "name": "support benchmark",
            "horizon_days": days,
            "market": {"size": 200_000},
            "strategies": {
                "s": {
                    "channels": [
                        {
                            "type": "support",
                            "contacts_per_day": per_day,
                            "patience_minutes": PATIENCE,
                            "phone": {
                                "agents": phone_agents,
                                "handle_minutes": phone_handle,
                                "cost_per_agent_hour": 28,
                            },
                            "messenger": {
                                "share": SHARE,
                                "bot_containment": CONTAINMENT,
                                "bot_cost_per_contact": 0.1,
                                "agents": chat_agents,
                                "concurrency": concurrency,
                                "handle_minutes": chat_handle,
                                "cost_per_agent_hour": 24,
                            },
                        }
                    ]
                }
            },
        }
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of contacts (default a year)")
    parser.add_argument("--contacts-per-day", type=float, default=300.0)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repetitions (median reported)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    days = contacts(args.days, args.contacts_per_day, args.seed)
    queued = sum(d[0].size for per_day in days.values() for d in per_day)
    scenario = channel_scenario(args.days, args.contacts_per_day)
    times: dict[str, list[float]] = {"recursion": [], "channel": [], "naive": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        fast = recursion(days)
        times["recursion"].append(time.perf_counter() - start)
        start = time.perf_counter()
        run = Simulation(scenario, "s", 0).run()
        times["channel"].append(time.perf_counter() - start)
        start = time.perf_counter()
        slow = naive(days)
        times["naive"].append(time.perf_counter() - start)

    figures: dict[str, float] = {"queued_contacts": float(queued)}
    all_contacts = float(run.series["support", "contacts"].sum())
    for key, seconds in times.items():
        figures[f"{key}_seconds"] = statistics.median(seconds)
        figures[f"{key}_contacts_per_s"] = (all_contacts if key == "channel" else queued) / statistics.median(seconds)
    figures["recursion_over_naive"] = figures["naive_seconds"] / figures["recursion_seconds"]
    figures["channel_contacts"] = all_contacts
    mismatches = 0
    for name in days:
        (w_fast, a_fast), (w_slow, a_slow) = fast[name], slow[name]
        mismatches += int(
            np.count_nonzero(a_fast != a_slow) + np.count_nonzero(~np.isclose(w_fast, w_slow, rtol=1e-9, atol=1e-9))
        )
        agents, concurrency, handle = QUEUES[name]
        share = (1 - SHARE) if name == "phone" else SHARE * (1 - CONTAINMENT)
        theory = ErlangA(args.contacts_per_day * share / 24, 60 / handle, agents * concurrency, 60 / PATIENCE)
        n = a_fast.size
        figures[f"{name}_abandonment"] = float((~a_fast).mean())
        figures[f"{name}_abandonment_se"] = math.sqrt(
            figures[f"{name}_abandonment"] * (1 - figures[f"{name}_abandonment"]) / n
        )
        figures[f"{name}_abandonment_erlang_a"] = theory.p_abandon
        figures[f"{name}_mean_wait_s"] = float(w_fast[a_fast].mean() * 3600)
        figures[f"{name}_mean_wait_s_erlang_a"] = theory.mean_wait_answered * 3600
    figures["mismatched_contacts"] = float(mismatches)
    _print_table(args, load, figures)
    return figures


def _print_table(args: argparse.Namespace, load: float, f: dict[str, float]) -> None:
    print(
        f"support: {args.days} days × {args.contacts_per_day:g} contacts a day, {f['queued_contacts']:,.0f} queued; "
        f"{args.repeats} interleaved repetitions; numpy {np.__version__}, simpy {simpy.__version__}, Python "
        f"{platform.python_version()}; load average before the run {load:.2f} on {os.cpu_count()} CPUs"
    )
    rows = [
        (
            "(a) recursion (queued contacts)",
            f"{f['recursion_contacts_per_s'] / 1e6:.2f} M/s",
            f"{f['recursion_seconds']:.3f} s",
        ),
        (
            "(b) channel end to end (all contacts)",
            f"{f['channel_contacts_per_s'] / 1e6:.2f} M/s",
            f"{f['channel_seconds']:.3f} s",
        ),
        (
            "(c) naive: a SimPy process per contact",
            f"{f['naive_contacts_per_s'] / 1e6:.3f} M/s",
            f"{f['naive_seconds']:.3f} s",
        ),
        ("recursion / naive", f"{f['recursion_over_naive']:.0f}×", "target ≥ 20×"),
        ("contacts where (a) and (c) differ", f"{f['mismatched_contacts']:.0f}", "target 0"),
    ]
    for name in ("phone", "chat"):
        rows.append(
            (
                f"{name}: abandonment, simulated (SE) / Erlang A",
                f"{f[name + '_abandonment']:.4f} ({f[name + '_abandonment_se']:.4f})",
                f"{f[name + '_abandonment_erlang_a']:.4f}",
            )
        )
        rows.append(
            (
                f"{name}: mean wait of answered, s: simulated / Erlang A",
                f"{f[name + '_mean_wait_s']:.2f}",
                f"{f[name + '_mean_wait_s_erlang_a']:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]}")


if __name__ == "__main__":
    main()
