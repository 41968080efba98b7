"""End to end: the shipped scenarios through the public API, memory and time at scale, and the executors.

Run ``python benchmarks/bench_end_to_end.py [--part scenarios|scale|executors|all]``; it prints tables and writes
nothing. Every part measures its reference in the same run and reports ratios, because absolute times drift with
the machine's load:

scenarios  — ``reachsim.load_scenario`` + ``reachsim.run_experiment`` on each file of ``scenarios/``: wall and CPU
             seconds, deliveries per CPU second, and the ratio to a naive model (a SimPy process per subscriber,
             ``bench_broadcast.naive``) timed between the scenarios;
scale      — a Messenger-only market of 1 M, 4 M and 10 M consumers with 1 % or 100 % subscribed (and 1 M with
             10 %, the same 100 k subscribers as 10 M at 1 %), weekly broadcasts, 365 days, 4 replications, each
             in a fresh process: peak memory per consumer above the interpreter's baseline (peak resident set
             after the run minus the resident set before it) and CPU seconds;
executors  — the same replications sequentially, on 2 local processes and on a Dask ``LocalCluster`` with 2
             workers (speed-ups, pool start included), and the CPU time of one run inside a Dask worker against
             the same run in process.

CPU seconds (``time.process_time``) are reported beside wall seconds: on a shared machine the wall clock also
counts the time other processes held the cores. The script sets nothing global. Importable: :func:`main` takes
an argument list and returns the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("reachsim") is None:  # run from a source checkout that was never installed
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_broadcast import naive  # noqa: E402

import reachsim  # noqa: E402

SCENARIOS = ("messenger_push", "page_reach_decline", "paid_to_owned")
KERNEL_REFERENCE = 150e6  # deliveries/s of the broadcast kernel on the reference machine (bench_broadcast.py)
SCALE_RUNS = ((1_000_000, 0.01), (1_000_000, 0.10), (1_000_000, 1.0), (4_000_000, 0.01), (4_000_000, 1.0),
              (10_000_000, 0.01), (10_000_000, 1.0))


# -- scenarios ---------------------------------------------------------------------------------------------------
def deliveries(result: Any) -> float:
    """Every delivery of every run (all channels)."""
    return float(sum(run.series[key].sum() for runs in result.runs.values() for run in runs
                     for key in run.series if key[0] != "all" and key[1] == "deliveries"))


def run_scenario(name: str, replications: int | None) -> dict[str, float]:
    from reachsim.scenario.load import with_overrides

    scenario = reachsim.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    scenario = with_overrides(scenario, replications=replications or None)
    wall, cpu = time.perf_counter(), time.process_time()
    result = reachsim.run_experiment(scenario)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    d = deliveries(result)
    return {"wall_s": wall, "cpu_s": cpu, "deliveries": d, "per_cpu_s": d / cpu}


def part_scenarios(args: argparse.Namespace) -> dict[str, Any]:
    rates: dict[str, list[dict[str, float]]] = {name: [] for name in SCENARIOS}
    naive_rates: list[float] = []
    for rep in range(args.repeats):
        for name in SCENARIOS:
            rates[name].append(run_scenario(name, args.replications))
            cpu = time.process_time()
            _, count, _ = naive(args.naive_subscribers, 4, args.seed + rep)
            naive_rates.append(count / (time.process_time() - cpu))
    naive_rate = statistics.median(naive_rates)
    out: dict[str, Any] = {"naive_deliveries_per_s": naive_rate}
    print(f"\nscenarios through reachsim.run_experiment ({args.repeats} repetitions, medians; "
          f"replications: {args.replications or 'as in the file'}); naive model: "
          f"{args.naive_subscribers:,} SimPy processes × 4 broadcasts, {naive_rate / 1e6:.2f} M deliveries/s")
    print(f"{'scenario':<20} {'wall s':>8} {'CPU s':>8} {'deliveries':>14} {'M/CPU s':>9} {'× naive':>8} "
          f"{'kernel / e2e':>13}")
    for name, rows in rates.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        med["over_naive"] = med["per_cpu_s"] / naive_rate
        med["kernel_over_end_to_end"] = KERNEL_REFERENCE / med["per_cpu_s"]
        out[name] = med
        print(f"{name:<20} {med['wall_s']:>8.2f} {med['cpu_s']:>8.2f} {med['deliveries']:>14,.0f} "
              f"{med['per_cpu_s'] / 1e6:>9.1f} {med['over_naive']:>8.0f} {med['kernel_over_end_to_end']:>13.1f}")
    return out


# -- scale -------------------------------------------------------------------------------------------------------
def scale_scenario(size: int, share: float, replications: int, horizon: int) -> dict[str, Any]:
    return {
        "name": f"scale {size} at {share:.0%}",
        "horizon_days": horizon,
        "seed": 1,
        "replications": replications,
        "market": {"size": size, "segments": [
            {"name": "loyal", "share": 0.2, "engagement_multiplier": 1.5, "value_per_engagement": 0.5},
            {"name": "casual", "share": 0.8, "engagement_multiplier": 1.0, "value_per_engagement": 0.1}]},
        "baseline": "push",
        "strategies": {"push": {"channels": [{
            "type": "messenger",
            "initial_subscribers": round(share * size),
            "acquisition": {"organic_per_day": 10},
            "broadcasts": {"every_days": 7},
            "engagement": {"probability": 0.15, "novelty": {"half_life_days": 90, "floor": 0.4},
                           "fatigue": {"half_life_days": 4, "strength": 0.3}},
            "unsubscribe": {"probability": 0.0025, "fatigue_strength": 1.0},
            "inbound_conversations_per_year": 2,
        }]}},
    }


def _resident_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def scale_child(size: int, share: float, replications: int, horizon: int) -> None:
    """In a fresh process: one scale run; prints its figures as JSON."""
    from reachsim.scenario.load import scenario_from_dict

    scenario = scenario_from_dict(scale_scenario(size, share, replications, horizon))
    baseline = _resident_kib("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    result = reachsim.run_experiment(scenario)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _resident_kib("VmHWM")
    print(json.dumps({"size": size, "share": share, "wall_s": wall, "cpu_s": cpu, "deliveries": deliveries(result),
                      "baseline_mib": baseline / 1024, "peak_mib": peak / 1024,
                      "bytes_per_consumer": (peak - baseline) * 1024 / size}))


def part_scale(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(f"\nscale: Messenger only, weekly broadcasts, {args.scale_days} days, {args.scale_replications} "
          "replications, each configuration in a fresh process")
    print(f"{'market':>11} {'subscribed':>10} {'wall s':>8} {'CPU s':>8} {'M deliveries':>13} {'base MiB':>9} "
          f"{'peak MiB':>9} {'B/consumer':>11}")
    for size, share in SCALE_RUNS:
        if size > args.scale_max:
            continue
        command = [sys.executable, __file__, "--scale-child", f"{size},{share},{args.scale_replications},"
                   f"{args.scale_days}"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        out[f"{size}@{share}"] = row
        print(f"{size:>11,} {share:>10.0%} {row['wall_s']:>8.1f} {row['cpu_s']:>8.1f} "
              f"{row['deliveries'] / 1e6:>13.1f} {row['baseline_mib']:>9.0f} {row['peak_mib']:>9.0f} "
              f"{row['bytes_per_consumer']:>11.1f}")
    same = out.get("10000000@0.01"), out.get("1000000@0.1")
    if all(same):
        ratio = same[0]["cpu_s"] / same[1]["cpu_s"]
        out["time_10M_at_1pc_over_1M_at_10pc"] = ratio
        print(f"10 M at 1 % / 1 M at 10 % (the same 100 k subscribers), CPU time: {ratio:.2f}× (target ≤ 1.5)")
    return out


# -- executors ---------------------------------------------------------------------------------------------------
def executor_scenario(args: argparse.Namespace) -> Any:
    from reachsim.scenario.load import scenario_from_dict

    data = scale_scenario(200_000, 0.5, args.executor_tasks, 365)
    return scenario_from_dict(data)


def timed_task(payload: Any, strategy: str, replication: int) -> tuple[float, float]:
    """One run as the executors run it; (CPU seconds, deliveries). Defined here so workers can import it."""
    from reachsim.experiments.runner import run_task

    cpu = time.process_time()
    result = run_task(payload, strategy, replication)
    return time.process_time() - cpu, float(result.series[("messenger", "deliveries")].sum())


def part_executors(args: argparse.Namespace) -> dict[str, Any]:
    from reachsim.experiments.executors import DaskExecutor, ProcessExecutor, SequentialExecutor
    from reachsim.experiments.runner import tasks_for

    scenario = executor_scenario(args)
    out: dict[str, Any] = {}
    walls: dict[str, list[float]] = {"sequential": [], "processes": [], "dask": []}
    for _ in range(args.repeats):
        for kind, make in (("sequential", SequentialExecutor), ("processes", lambda: ProcessExecutor(2)),
                           ("dask", lambda: DaskExecutor(workers=2))):
            wall = time.perf_counter()
            reachsim.run_experiment(scenario, executor=make())
            walls[kind].append(time.perf_counter() - wall)
    med = {k: statistics.median(v) for k, v in walls.items()}
    out["wall_s"] = med
    out["processes_speedup"] = med["sequential"] / med["processes"]
    out["dask_speedup"] = med["sequential"] / med["dask"]
    # One run's CPU time in a Dask worker against in process: the same tasks, in the same order, one worker (so
    # that the worker runs alone, as the in-process runs do), its first task (imports, schema) left out.
    tasks = tasks_for(scenario, portable=True)
    inside = [timed_task(*task)[0] for task in tasks][1:]
    with DaskExecutor(workers=1) as dask:
        worker = [cpu for cpu, _ in dask.map(timed_task, tasks)][1:]
        worker_env = dask._client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    out["task_cpu_in_process_s"] = statistics.median(inside)
    out["task_cpu_in_dask_s"] = statistics.median(worker)
    out["dask_over_in_process"] = out["task_cpu_in_dask_s"] / out["task_cpu_in_process_s"]
    print(f"\nexecutors: {len(tasks)} runs of 100 k subscribers (market 200 k) × 365 days, {args.repeats} "
          f"repetitions (median wall seconds, pool start included)")
    print(f"  sequential {med['sequential']:.2f} s; 2 processes {med['processes']:.2f} s "
          f"({out['processes_speedup']:.2f}×, target ≥ 1.8); Dask LocalCluster 2 workers {med['dask']:.2f} s "
          f"({out['dask_speedup']:.2f}×, target ≥ 1.6)")
    print(f"  one run's CPU time: in process {out['task_cpu_in_process_s']:.3f} s, in a Dask worker "
          f"{out['task_cpu_in_dask_s']:.3f} s ({out['dask_over_in_process']:.2f}×, target ≤ 1.2); workers' "
          f"MALLOC_TRIM_THRESHOLD_: {sorted(set(worker_env.values()))}")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("scenarios", "scale", "executors", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions (median reported)")
    parser.add_argument("--replications", type=int, default=0, help="override the scenarios' replications")
    parser.add_argument("--naive-subscribers", type=int, default=20_000)
    parser.add_argument("--scale-max", type=int, default=10_000_000, help="largest market of the scale part")
    parser.add_argument("--scale-days", type=int, default=365)
    parser.add_argument("--scale-replications", type=int, default=4)
    parser.add_argument("--executor-tasks", type=int, default=64, help="replications in the executors part")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scale-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_child:
        size, share, replications, horizon = args.scale_child.split(",")
        scale_child(int(size), float(share), int(replications), int(horizon))
        return {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"end to end: reachsim {reachsim.__version__}, numpy {np.__version__}, Python "
          f"{platform.python_version()}; load average before the run {load:.2f} on {os.cpu_count()} CPUs")
    figures: dict[str, Any] = {"load_average": load}
    if args.part in ("scenarios", "all"):
        figures["scenarios"] = part_scenarios(args)
    if args.part in ("scale", "all"):
        figures["scale"] = part_scale(args)
    if args.part in ("executors", "all"):
        figures["executors"] = part_executors(args)
    return figures


if __name__ == "__main__":
    main()
