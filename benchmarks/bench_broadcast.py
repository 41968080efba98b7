"""Throughput and memory of one Messenger broadcast: the vectorised kernel, its floor and a naive SimPy model.

Run ``python benchmarks/bench_broadcast.py [--subscribers N]``; it prints a table and writes nothing.
Measured in the same run, interleaved, median of ``--repeats`` repetitions:

(a) kernel  — :func:`reachsim.model.broadcast.broadcast`, N subscribers, novelty, fatigue and opt-out on;
(b) floor   — one float32 uniform per row (``rng.random(out=)``) plus one pass over the state columns, in
              the same blocks; also that floor with the uniforms drawn as the kernel draws them;
(c) naive   — one SimPy process per subscriber, each with its own timeout per broadcast, the same per-delivery
              maths in Python (smaller population: it has to finish);
(d) memory  — bytes of Messenger state per subscriber and per consumer; peak extra memory of one broadcast
              (tracemalloc).

``--market M`` (> N) puts the N subscribers among M consumers. The state is audience-indexed (one dense slot per
subscriber), so the kernel's work does not depend on M: only the consumer-indexed ``slot_of`` map grows with it.

NumPy ufuncs are single-threaded, so OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / OPENBLAS_CORETYPE change nothing
here; the script sets nothing global. Importable: :func:`main` takes an argument list and returns the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simpy

if importlib.util.find_spec("reachsim") is None:  # run from a source checkout that was never installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reachsim.model.broadcast import (
    DEFAULT_BLOCK,
    BroadcastColumns,
    _uniform_drawer,
    broadcast,
)

# Realistic parameters (the messenger_push strategy of DESIGN.md): weekly broadcasts.
PARAMS = dict(
    base=0.25,
    floor=0.3,
    novelty_half_life=120.0,
    fatigue_half_life=4.0,
    strength=0.4,
    optout=0.004,
    optout_fatigue_strength=1.0,
)
EVERY_DAYS = 7.0
SEGMENT_WEIGHTS = (1.0, 1.5)  # casual, loyal
CHANNEL_SLOT_BYTES = 8  # the Messenger channel's float64 time of the latest window-opening action, per subscriber slot
CONSUMER_BYTES = 4  # per consumer of the market: the kernel's int32 slot_of (the channel keeps no column of its own)


class KernelState:
    """A steady audience: ``subscribers`` active rows among ``market``, replenished after every broadcast."""

    def __init__(
        self,
        subscribers: int,
        market: int,
        seed: int,
        block: int,
        warmup: int = 12,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.block = block
        self.clock = clock  # time.process_time to count CPU seconds, as bench_end_to_end.py does
        self.cols = BroadcastColumns(market)
        rows = (
            np.arange(market)
            if subscribers == market
            else self.rng.choice(market, subscribers, replace=False)
        )
        for week in range(52):  # joined over the last year, so that novelty is spread out
            part = rows[rows % 52 == week]
            self.cols.join(
                part,
                -EVERY_DAYS * week,
                novelty_half_life=PARAMS["novelty_half_life"],
                weight=self._weight(part),
            )
        self.t = 0.0
        for _ in range(warmup):
            self.step()

    @staticmethod
    def _weight(rows: np.ndarray) -> np.ndarray:
        return np.where(rows % 5 == 0, SEGMENT_WEIGHTS[1], SEGMENT_WEIGHTS[0])

    def step(self) -> tuple[float, int]:
        """One broadcast; returns (seconds, deliveries). Opted-out rows rejoin afterwards (untimed)."""
        self.t += EVERY_DAYS
        t0 = self.clock()
        out = broadcast(self.cols, self.t, rng=self.rng, block=self.block, **PARAMS)
        seconds = self.clock() - t0
        back = out.opted_out
        self.cols.join(back, self.t, novelty_half_life=PARAMS["novelty_half_life"], weight=self._weight(back))
        return seconds, out.deliveries


def floor_pass(cols: BroadcastColumns, rng: np.random.Generator, block: int, raw: bool) -> float:
    """One float32 uniform per subscriber plus one pass over every state column (values unchanged); seconds."""
    uniform = np.empty(min(block, cols.n), dtype=np.float32)
    draw = _uniform_drawer(rng)
    one = np.float32(1.0)
    t0 = time.perf_counter()
    for a in range(0, cols.n, block):
        b = min(a + block, cols.n)
        u = uniform[: b - a]
        if raw:
            draw(u)
        else:
            rng.random(b - a, dtype=np.float32, out=u)
        for column in (cols.novelty[a:b], cols.fatigue[a:b], cols.weight[a:b]):
            np.multiply(column, one, out=column)
        np.add(cols.exposures[a:b], np.uint32(0), out=cols.exposures[a:b])
        np.bitwise_or(cols.row[a:b], np.int32(0), out=cols.row[a:b])
    return time.perf_counter() - t0


def naive(
    subscribers: int, broadcasts: int, seed: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, int, int]:
    """A SimPy process per subscriber, a timeout per broadcast; returns (seconds by ``clock``, deliveries, bytes
    each). Creating the processes is not timed."""
    env = simpy.Environment()
    rnd = random.Random(seed)
    counts = {"deliveries": 0, "engaged": 0}
    p = PARAMS
    h_f, h_n, s, base, fl = (
        p["fatigue_half_life"],
        p["novelty_half_life"],
        p["strength"],
        p["base"],
        p["floor"],
    )
    u, fs = p["optout"], p["optout_fatigue_strength"]

    def subscriber(weight: float, joined: float):
        stock, last = 0.0, joined
        while True:
            yield env.timeout(EVERY_DAYS)
            now = env.now
            stock *= 2.0 ** (-(now - last) / h_f)
            novelty = fl + (1.0 - fl) * 2.0 ** (-(now - joined) / h_n)
            counts["deliveries"] += 1
            if rnd.random() < min(1.0, base * weight * novelty * math.exp(-s * stock)):
                counts["engaged"] += 1
            opt_out = rnd.random() < min(1.0, u * (1.0 + fs * stock))
            stock += 1.0
            last = now
            if opt_out:
                return

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(subscribers):
        env.process(subscriber(SEGMENT_WEIGHTS[1] if i % 5 == 0 else SEGMENT_WEIGHTS[0], 0.0))
    env.run(until=EVERY_DAYS / 2)  # start every process (each is now waiting on its first timeout)
    per_process = (tracemalloc.get_traced_memory()[0] - before) // max(subscribers, 1)
    tracemalloc.stop()
    t0 = clock()
    env.run(until=EVERY_DAYS * broadcasts + EVERY_DAYS / 2)
    return clock() - t0, counts["deliveries"], per_process


def peak_extra_memory(state: KernelState) -> int:
    """Peak bytes allocated during one broadcast beyond what was allocated before it (tracemalloc)."""
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    state.step()
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000, help="active subscribers (default 1e6)")
    parser.add_argument(
        "--market", type=int, default=0, help="rows of the columns (default: = subscribers, every row active)"
    )
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repetitions (median reported)")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK, help="kernel rows per block")
    parser.add_argument("--naive-subscribers", type=int, default=20_000)
    parser.add_argument("--naive-broadcasts", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan  # other work slows every figure
    market = max(args.market, args.subscribers)

    state = KernelState(args.subscribers, market, args.seed, args.block)
    floor_rng = np.random.default_rng(args.seed + 1)
    rates: dict[str, list[float]] = {
        "kernel": [],
        "kernel_rows": [],
        "floor": [],
        "floor_raw": [],
        "naive": [],
    }
    naive_bytes = 0
    for rep in range(args.repeats):
        seconds, deliveries = state.step()
        rates["kernel"].append(deliveries / seconds)
        rates["kernel_rows"].append(market / seconds)
        # the floor processes every subscriber slot, as the kernel does
        members = state.cols.n
        rates["floor"].append(members / floor_pass(state.cols, floor_rng, args.block, raw=False))
        rates["floor_raw"].append(members / floor_pass(state.cols, floor_rng, args.block, raw=True))
        if rep % 3 == 0:  # the naive model is slow: every third repetition
            seconds, deliveries, naive_bytes = naive(
                args.naive_subscribers, args.naive_broadcasts, args.seed + rep
            )
            rates["naive"].append(deliveries / seconds)

    med = {k: statistics.median(v) for k, v in rates.items()}
    best = {k: max(v) for k, v in rates.items()}
    # paired ratios: each repetition's floor against the kernel run just before it (robust to load drifts)
    paired = [f / k for f, k in zip(rates["floor"], rates["kernel"], strict=True)]
    paired_raw = [f / k for f, k in zip(rates["floor_raw"], rates["kernel"], strict=True)]
    peak = peak_extra_memory(state)
    # per consumer of the market, the budget's unit: slots count once per subscriber
    share = args.subscribers / market
    state_bytes = state.cols.nbytes_per_member() * share + 4  # + the int32 slot_of map
    scratch = state.cols.scratch_nbytes() / market
    figures = {
        **{f"{k}_deliveries_per_s": v for k, v in med.items()},
        **{f"{k}_deliveries_per_s_best": v for k, v in best.items()},
        "floor_over_kernel": statistics.median(paired),
        "floor_raw_over_kernel": statistics.median(paired_raw),
        "kernel_over_naive": med["kernel"] / med["naive"],
        "state_bytes_per_row": state_bytes,
        "scratch_bytes_per_row": scratch,
        "messenger_bytes_per_row": state_bytes + scratch + CHANNEL_SLOT_BYTES * share + CONSUMER_BYTES - 4,
        "broadcast_peak_extra_bytes": float(peak),
        "naive_bytes_per_subscriber": float(naive_bytes),
    }
    _print_table(args, market, load, figures)
    return figures


def _print_table(args: argparse.Namespace, market: int, load: float, f: dict[str, float]) -> None:
    def rate(key: str) -> tuple[str, str]:
        return (
            f"{f[key + '_deliveries_per_s'] / 1e6:,.2f} M/s",
            f"{f[key + '_deliveries_per_s_best'] / 1e6:,.2f} M/s",
        )

    peak = f["broadcast_peak_extra_bytes"]
    rows = [
        ("(a) kernel", *rate("kernel"), "≥ 100 M/s"),
        *(
            [("    kernel, rows of the columns per second", *rate("kernel_rows"), "")]
            if market > args.subscribers
            else []
        ),
        ("(b) floor: rng.random float32 + one pass", *rate("floor"), ""),
        ("    floor, uniforms drawn as the kernel does", *rate("floor_raw"), ""),
        ("(c) naive: a SimPy process per subscriber", *rate("naive"), ""),
        ("floor / kernel (per delivery, paired)", f"{f['floor_over_kernel']:.2f}×", "", "≤ 2.5"),
        ("floor with kernel's draw / kernel (paired)", f"{f['floor_raw_over_kernel']:.2f}×", "", ""),
        ("kernel / naive", f"{f['kernel_over_naive']:,.0f}×", "", "≥ 300"),
        ("(d) kernel state per consumer (slots + slot_of)", f"{f['state_bytes_per_row']:.1f} B", "", ""),
        ("    + block scratch, amortised", f"{f['scratch_bytes_per_row']:.2f} B", "", ""),
        (
            "    Messenger total (+ window slot column)",
            f"{f['messenger_bytes_per_row']:.1f} B",
            "",
            "≤ 32 B",
        ),
        ("    peak extra memory of one broadcast", f"{peak / 2**20:.2f} MiB", "", ""),
        ("      per subscriber", f"{peak / args.subscribers:.1f} B", "", ""),
        ("    naive: bytes per subscriber", f"{f['naive_bytes_per_subscriber']:,.0f} B", "", ""),
    ]
    print(
        f"broadcast: {args.subscribers:,} subscribers in {market:,} rows, block {args.block:,}, "
        f"{args.repeats} interleaved repetitions; naive: {args.naive_subscribers:,} subscribers × "
        f"{args.naive_broadcasts} broadcasts; numpy {np.__version__}, simpy {simpy.__version__}, "
        f"Python {platform.python_version()}; load average before the run "
        f"{load:.2f} on {os.cpu_count()} CPUs"
    )
    header = ("measure", "median", "best", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}")


if __name__ == "__main__":
    main()
