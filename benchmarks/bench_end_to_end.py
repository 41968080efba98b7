"""End to end: the shipped scenarios through the public API, memory and time at scale, and the executors.

Run ``python benchmarks/bench_end_to_end.py [--part scenarios|scale|executors|all]``; it prints tables and writes
nothing. Every part measures its references in the same run and reports ratios, because absolute times drift with
the machine's load (two to three times on a shared machine):

scenarios  — ``reachsim.load_scenario`` + ``reachsim.run_experiment`` on each of the three shipped scenarios, each
             experiment in a fresh process: CPU seconds and deliveries per CPU second, beside three references
             measured in the same run and interleaved with it, scenario by scenario and repetition by repetition:
             the baseline — the same experiment run by commit ``--baseline-rev`` (default ``e24c565``, the last
             commit before the speed work: "today" in the speed targets), extracted with ``git archive`` into a
             temporary directory and imported from there in a fresh process, on *its own*
             ``scenarios/<name>.yaml`` through its own public API with the same replication count (the files
             changed since, so "× baseline" compares the throughput of each version on its own shipped file,
             not the same model); the broadcast kernel (``bench_broadcast.KernelState``, 1 M subscribers), for
             kernel / end to end; and the naive model (a SimPy process per subscriber, ``bench_broadcast.naive``)
             in a fresh process, so that no experiment's heap slows it. Ratios are paired within a repetition,
             then the median is taken; the targets of the speed issue get a verdict;
scale      — a Messenger-only market of 1 M, 4 M and 10 M consumers with 1 % or 100 % subscribed (and 1 M with
             10 %, the same 100 k subscribers as 10 M at 1 %), weekly broadcasts, 365 days, 4 replications, each
             in a fresh process: peak memory per consumer above the interpreter's baseline (peak resident set
             after the run minus the resident set before it) and CPU seconds;
executors  — the same replications (``--executor-tasks`` runs that cost alike, or a shipped scenario as its file has it,
             ``--executor-scenario``) sequentially, on 2 local processes and on a Dask ``LocalCluster`` with 2 workers,
             each executor in its own fresh process running two experiments in a row (speed-ups of the first, made
             through the API with nothing started before, and of the second, as in a notebook or a sweep; pool
             start and close included), each pool also in another fresh process that starts its fork server before
             it reads the scenario, as ``reachsim run`` does (the first experiment of a command line), the
             readings taking turns over ``--repeats`` rounds with "two halves" (the experiment split between two fresh
             processes that run at once without an executor: a reference that an executor of two workers beats only by
             the machine's noise where the runs cost alike), and the CPU time of one run inside a Dask worker (its
             process's) against the same run in process (its thread's: not the local cluster's scheduler beside it),
             paired task by task.

CPU seconds (``time.process_time``) are reported beside wall seconds: on a shared machine the wall clock also
counts the time other processes held the cores; the scenarios part reports every rate per CPU second. The
script sets nothing global. Importable: :func:`main` takes an argument list and returns the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("reachsim") is None:  # run from a source checkout that was never installed
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reachsim  # noqa: E402

SCENARIOS = ("messenger_push", "page_reach_decline", "paid_to_owned")
BASELINE_REV = "e24c565"  # the last commit before the speed work: "today" in the speed targets
SCALE_RUNS = ((1_000_000, 0.01), (1_000_000, 0.10), (1_000_000, 1.0), (4_000_000, 0.01), (4_000_000, 1.0),
              (10_000_000, 0.01), (10_000_000, 1.0))


# -- scenarios ---------------------------------------------------------------------------------------------------
def deliveries(result: Any) -> float:
    """Every delivery of every run (all channels), the run-out's after the horizon included: a version that
    simulates a run-out for the audience's value (``RunResult.run_out_totals``) delivers there too."""
    return float(sum(run.series[key].sum() for runs in result.runs.values() for run in runs
                     for key in run.series if key[0] != "all" and key[1] == "deliveries")
                 + sum(total for runs in result.runs.values() for run in runs
                       for key, total in getattr(run, "run_out_totals", {}).items()
                       if key[0] != "all" and key[1] == "deliveries"))


def scenario_child(path: str, replications: int, run_out: bool = True) -> None:
    """In a fresh process, with whichever ``reachsim`` comes first on ``PYTHONPATH``: one experiment through the
    public API, ``replications`` replications of every strategy; prints its figures as JSON. ``run_out`` False
    turns a version's run-out after the horizon off (``audience_value.run_out_days: 0``): the days the baseline,
    which had none, simulated."""
    scenario = reachsim.load_scenario(path)
    try:
        from reachsim.scenario.load import with_overrides
    except ImportError:  # a revision without it: the loaded model, copied with the one field changed
        scenario = scenario.model_copy(update={"replications": replications})
    else:
        scenario = with_overrides(scenario, replications=replications)
    value = getattr(scenario, "audience_value", None)
    if not run_out and value is not None:
        scenario = scenario.model_copy(update={"audience_value": value.model_copy(update={"run_out_days": 0})})
    run = reachsim.run_experiment  # before the clock: a version may import its runner on first access
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(scenario)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    d = deliveries(result)
    print(json.dumps({"reachsim": str(Path(reachsim.__file__).resolve()), "wall_s": wall, "cpu_s": cpu,
                      "deliveries": d, "per_cpu_s": d / cpu, "replications": scenario.replications,
                      "runs": sum(len(runs) for runs in result.runs.values())}))


def naive_child(subscribers: int, broadcasts: int, seed: int) -> None:
    """In a fresh process: the naive model (a SimPy process per subscriber); prints deliveries per CPU second."""
    from bench_broadcast import naive

    cpu, count, _ = naive(subscribers, broadcasts, seed, clock=time.process_time)
    print(json.dumps({"deliveries": count, "cpu_s": cpu, "per_cpu_s": count / cpu}))


def _child_command(spec: dict[str, Any], source: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a fresh interpreter running ``spec``, importing reachsim from
    ``source``."""
    paths = [str(source), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return ([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
            {**os.environ, "PYTHONPATH": os.pathsep.join(paths)})


def child(spec: dict[str, Any], source: Path) -> dict[str, Any]:
    """Run ``spec`` (see :func:`main`'s ``--child``) in a fresh interpreter importing ``reachsim`` from ``source``."""
    command, env = _child_command(spec, source)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{spec['kind']} child failed ({done.returncode}):\n{done.stderr}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    if "reachsim" in row and not Path(row["reachsim"]).is_relative_to(source.resolve()):
        raise RuntimeError(f"the child imported {row['reachsim']}, not the reachsim of {source}")
    return row


@contextlib.contextmanager
def baseline_tree(rev: str) -> Iterator[tuple[str, Path]]:
    """The files of commit ``rev`` in a temporary directory (``git archive | tar -x``), removed afterwards."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode:
        raise SystemExit(f"--baseline-rev {rev}: not a commit of this repository")
    commit = found.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="reachsim-baseline-") as tmp:
        archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", commit], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout, check=True)
        archive.stdout.close()
        if archive.wait():
            raise RuntimeError(f"git archive {commit} failed")
        yield commit, Path(tmp)


def kernel_rate(state: Any, broadcasts: int) -> float:
    """Median deliveries per CPU second of ``broadcasts`` broadcasts of the kernel (``bench_broadcast``)."""
    return statistics.median(count / cpu for cpu, count in (state.step() for _ in range(broadcasts)))


def _ratio(a: float, b: float) -> float:
    """a / b; NaN for a scenario that delivers nothing (support alone), whose rates are 0."""
    return a / b if b else math.nan


def _median_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "cpu_s", "deliveries", "per_cpu_s", "runs")}


def part_scenarios(args: argparse.Namespace) -> dict[str, Any]:
    from bench_broadcast import DEFAULT_BLOCK, KernelState

    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        commit, tree = (None, None) if args.no_baseline else stack.enter_context(baseline_tree(args.baseline_rev))
        out["baseline_rev"], out["baseline_commit"] = (None if args.no_baseline else args.baseline_rev), commit
        kernel = KernelState(args.kernel_subscribers, args.kernel_subscribers, args.seed, DEFAULT_BLOCK,
                             clock=time.process_time)
        # whose files both versions run: each its own, or with --baseline-files the baseline's (without the run-out,
        # which the baseline's model did not have): the same model and days on both sides, the code's speed alone
        files = {"now": tree if args.baseline_files and tree is not None else ROOT, "baseline": tree}
        run_out = not (args.without_run_out or args.baseline_files)
        counts = {name: args.replications
                  or reachsim.load_scenario(files["now"] / "scenarios" / f"{name}.yaml").replications
                  for name in args.scenarios}
        reps: dict[str, list[dict[str, Any]]] = {name: [] for name in args.scenarios}
        for rep in range(args.repeats):
            for name in args.scenarios:
                # interleaved: the kernel, this checkout and the baseline (alternating which goes first), the naive
                # model; each experiment and the naive model in a fresh process, so none inherits another's heap
                row: dict[str, Any] = {"kernel": kernel_rate(kernel, args.kernel_broadcasts)}
                versions = [("now", ROOT)] + ([] if tree is None else [("baseline", tree)])
                for label, source in versions if rep % 2 == 0 else versions[::-1]:
                    path = files[label] / "scenarios" / f"{name}.yaml"
                    if path.exists():
                        row[label] = child({"kind": "scenario", "path": str(path), "replications": counts[name],
                                            "run_out": run_out}, source)
                row["naive"] = child({"kind": "naive", "subscribers": args.naive_subscribers, "broadcasts": 4,
                                      "seed": args.seed + rep}, ROOT)["per_cpu_s"]
                reps[name].append(row)
    for name, rows in reps.items():
        now = _median_rows([r["now"] for r in rows])
        fig: dict[str, Any] = {**now, "replications": counts[name],
                               "kernel_per_cpu_s": statistics.median(r["kernel"] for r in rows),
                               "naive_per_cpu_s": statistics.median(r["naive"] for r in rows),
                               # ratios paired within a repetition, then the median: robust to load drifts
                               "over_naive": statistics.median(_ratio(r["now"]["per_cpu_s"], r["naive"]) for r in rows),
                               "kernel_over_end_to_end": statistics.median(_ratio(r["kernel"], r["now"]["per_cpu_s"])
                                                                           for r in rows)}
        if all("baseline" in r for r in rows):
            fig.update({f"baseline_{k}": v for k, v in _median_rows([r["baseline"] for r in rows]).items()})
            fig["over_baseline"] = statistics.median(_ratio(r["now"]["per_cpu_s"], r["baseline"]["per_cpu_s"])
                                                     for r in rows)
        out[name] = fig
    out["targets"] = verdicts(out)
    print_scenarios(args, out)
    return out


#: (scenario, figure, "≥" or "≤", bound): the issue's targets that a same-run ratio can check.
TARGETS = (("messenger_push", "over_baseline", "≥", 3.0), ("page_reach_decline", "over_baseline", "≥", 3.0),
           ("paid_to_owned", "over_baseline", "≥", 5.0), ("messenger_push", "over_naive", "≥", 120.0),
           ("messenger_push", "kernel_over_end_to_end", "≤", 4.0))
FIGURE_LABELS = {"over_baseline": "× baseline", "over_naive": "× naive", "kernel_over_end_to_end": "kernel / e2e"}


def verdicts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured ratio and whether it is met (None: not measured, e.g. ``--no-baseline``)."""
    rows = []
    for name, key, op, bound in TARGETS:
        if name not in figures:
            continue  # a scenario left out (--scenarios)
        value = figures[name].get(key)
        met = None if value is None else (value >= bound if op == "≥" else value <= bound)
        rows.append({"scenario": name, "figure": key, "target": f"{op} {bound:g}", "measured": value, "met": met})
    return rows


def print_scenarios(args: argparse.Namespace, out: dict[str, Any]) -> None:
    base = "none (--no-baseline)" if out["baseline_commit"] is None else \
        (f"{out['baseline_rev']} ({out['baseline_commit'][:12]}), its own scenarios/<name>.yaml and public API; "
         "'× base' compares the throughput of each version on its own shipped file")
    print(f"\nscenarios through reachsim.load_scenario + run_experiment, each experiment in a fresh process "
          f"({args.repeats} interleaved repetitions, medians; replications: "
          f"{args.replications or 'as in the current file'}, the same for the baseline)")
    print(f"baseline: {base}")
    if args.baseline_files:
        print("both versions run the baseline's scenario files, this checkout without the run-out after the horizon "
              "(--baseline-files): '× base' is the speed of the code alone")
    elif args.without_run_out:
        print("this checkout without the run-out after the horizon (--without-run-out): the baseline's days")
    print(f"kernel: {args.kernel_subscribers:,} subscribers, median of {args.kernel_broadcasts} broadcasts; naive: "
          f"{args.naive_subscribers:,} SimPy processes × 4 broadcasts, in a fresh process; rates per CPU second")
    print(f"{'':<20} {'runs':>9} {'CPU s per run':>17} {'M deliveries/CPU s':>19} {'':>7} {'':>8} {'kernel':>7} "
          f"{'kernel':>7} {'naive':>6}")
    print(f"{'scenario':<20} {'now/base':>9} {'now':>8} {'base':>8} {'now':>9} {'base':>9} {'× base':>7} "
          f"{'× naive':>8} {'/ e2e':>7} {'M/s':>7} {'M/s':>6}")
    for name in args.scenarios:
        f = out[name]
        has = "over_baseline" in f
        runs = f"{f['runs']:.0f}/{f['baseline_runs']:.0f}" if has else f"{f['runs']:.0f}/-"
        b_cpu = f"{f['baseline_cpu_s'] / f['baseline_runs']:>8.3f}" if has else f"{'-':>8}"
        b_rate = f"{f['baseline_per_cpu_s'] / 1e6:>9.2f}" if has else f"{'-':>9}"
        ratio = f"{f['over_baseline']:>7.2f}" if has else f"{'-':>7}"
        print(f"{name:<20} {runs:>9} {f['cpu_s'] / f['runs']:>8.3f} {b_cpu} {f['per_cpu_s'] / 1e6:>9.2f} {b_rate} "
              f"{ratio} {f['over_naive']:>8.0f} {f['kernel_over_end_to_end']:>7.2f} "
              f"{f['kernel_per_cpu_s'] / 1e6:>7.1f} {f['naive_per_cpu_s'] / 1e6:>6.3f}")
    print(f"\n{'target':<40} {'measured':>9}  verdict")
    for t in out["targets"]:
        label = f"{t['scenario']} {FIGURE_LABELS[t['figure']]} {t['target']}"
        measured = "-" if t["measured"] is None else f"{t['measured']:.2f}"
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "not met")
        print(f"{label:<40} {measured:>9}  {verdict}")


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
def executor_scenario(tasks: int, scenario: str | None = None) -> Any:
    """The executors' experiment: ``tasks`` runs of 100 k subscribers in a 200 k market for 365 days, or the
    shipped scenario named ``scenario`` as its file has it."""
    if scenario is not None:
        return reachsim.load_scenario(ROOT / "scenarios" / f"{scenario}.yaml")
    from reachsim.scenario.load import scenario_from_dict

    return scenario_from_dict(scale_scenario(200_000, 0.5, tasks, 365))


def executor_workload(args: argparse.Namespace) -> dict[str, Any]:
    """What every child of the executors part runs (see :func:`executor_scenario`)."""
    return {"tasks": args.executor_tasks, "scenario": args.executor_scenario}


def timed_task(payload: Any, strategy: str, replication: int) -> tuple[float, float]:
    """One run as the executors run it: (CPU seconds of its process, of its thread). Defined here so that workers
    can import it. In a Dask worker the process's count is the one to read (its event loop works for the run); in
    a process that also holds a local cluster's scheduler, the thread's (the scheduler is not the run's)."""
    from reachsim.experiments.runner import run_task

    cpu, thread = time.process_time(), time.thread_time()
    run_task(payload, strategy, replication)
    return time.process_time() - cpu, time.thread_time() - thread


def executor_child(kind: str, workload: dict[str, Any], experiments: int, early: bool = False) -> None:
    """In a fresh process: ``experiments`` experiments of the executors' scenario, each with a new executor of
    ``kind``; prints their wall seconds as JSON, and the seconds spent before the first (``prepare``: importing the
    schema and the runner, building the scenario; with ``early``, ``start_early`` first, as a command line calls it
    before it imports the rest and reads its file, so that the fork server's imports overlap those). The first
    experiment pays what a first one pays (a pool's first start, a fork server's imports unless started early, the
    summaries' first imports); the later ones what a notebook or a sweep pays for each further experiment."""
    prepare = time.perf_counter()
    from reachsim.experiments.executors import make_executor, start_early

    workers = 1 if kind == "sequential" else 2
    if early:
        start_early(workers, kind)
    scenario = executor_scenario(**workload)
    run_experiment = reachsim.run_experiment  # its module loaded before the clock, as the halves' is
    prepare = time.perf_counter() - prepare
    walls = []
    for _ in range(experiments):
        wall = time.perf_counter()
        run_experiment(scenario, executor=make_executor(workers, kind))
        walls.append(time.perf_counter() - wall)
    print(json.dumps({"walls": walls, "prepare": prepare}))


def half_child(half: int, workload: dict[str, Any], experiments: int) -> None:
    """In a fresh process: every other task of the executors' experiment, from ``half``, run in process each time
    the parent writes a line (``experiments`` times, or until it closes the pipe), once the scenario is loaded;
    prints each wall as JSON. The tasks carry the validated scenario, as the sequential executor's do (a pool
    sends plain data, which each task validates again: part of what a pool costs)."""
    from reachsim.experiments.runner import run_task, tasks_for

    mine = tasks_for(executor_scenario(**workload))[half::2]
    print("ready", flush=True)
    for _ in range(experiments):
        if not sys.stdin.readline():
            return
        wall = time.perf_counter()
        for task in mine:
            run_task(*task)
        print(json.dumps({"wall": time.perf_counter() - wall}), flush=True)


def two_halves(workload: dict[str, Any], experiments: int) -> list[float]:
    """Wall seconds of ``experiments`` experiments split between two processes that run their halves at once and no
    executor: no pool to start, nothing sent between processes, each half's imports done before the clock starts.
    Where the runs cost alike (the default workload), it is what a perfect executor of two workers would take on this
    machine at this moment: no executor beats it but by the machine's noise (the halves take every other run, so for
    a shipped scenario whose strategies cost differently they may not be even, and it is only a reference). Two
    processes that share caches and memory usually keep it below 2× the sequential speed, but this machine sometimes
    runs one busy process slower than two, and then it reads above 2×."""
    with contextlib.ExitStack() as files:
        # each half's errors to a file, not a pipe: nothing can fill it and block the half
        errors = [files.enter_context(tempfile.TemporaryFile(mode="w+")) for _ in (0, 1)]
        processes = []
        for half, error in enumerate(errors):
            command, env = _child_command({"kind": "half", "half": half, "workload": workload,
                                           "experiments": experiments}, ROOT)
            processes.append(subprocess.Popen(command, env=env, text=True, stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=error))
        try:
            return _go(processes, experiments)
        except BaseException:
            for process in processes:
                process.kill()
            for process, error in zip(processes, errors, strict=True):
                process.wait()
                error.seek(0)
                sys.stderr.write(error.read())
            raise
        finally:
            for process in processes:
                with contextlib.suppress(BrokenPipeError):  # a half that has died
                    process.stdin.close()  # type: ignore[union-attr]
                process.wait()


def _go(halves: list[subprocess.Popen[str]], experiments: int) -> list[float]:
    """Once both halves are ready, start them together ``experiments`` times; the wall of each is the later's."""
    for process in halves:
        if process.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise RuntimeError("a half of the executors' experiment failed to start")
    walls = []
    for _ in range(experiments):
        wall = time.perf_counter()
        for process in halves:
            try:
                process.stdin.write("go\n")  # type: ignore[union-attr]
                process.stdin.flush()  # type: ignore[union-attr]
            except BrokenPipeError:
                raise RuntimeError("a half of the executors' experiment failed") from None
        for process in halves:
            if not process.stdout.readline():  # type: ignore[union-attr]
                raise RuntimeError("a half of the executors' experiment failed")
        walls.append(time.perf_counter() - wall)
    return walls


#: What the executors part times: each executor, each pool as a command line starts it (``_early``: its fork server
#: started before the scenario is read), and two halves at once (the reference, see :func:`two_halves`).
EXECUTOR_READINGS = ("sequential", "processes", "processes_early", "dask", "dask_early", "two_halves")
#: The experiments of a round whose speed-ups are read: (label, what it is, the readings' suffix, which experiment of
#: the child). A command line's is timed from its start of the pool's fork server (``prepare`` + the experiment, for
#: sequential as well): what the server's early start overlaps is in the reading.
EXPERIMENTS = (("first", "first experiment through the API", "", 0),
               ("first_command_line", "first experiment of a command line, scenario's reading included", "_early", -1),
               ("later", "later experiment", "", 1))


def part_executors(args: argparse.Namespace) -> dict[str, Any]:
    from reachsim.experiments.executors import DaskExecutor, default_start_method
    from reachsim.experiments.runner import tasks_for

    workload = executor_workload(args)
    scenario = executor_scenario(**workload)
    out: dict[str, Any] = {"workload": workload}
    # Each executor in its own fresh process, so that none inherits another's fork server (which would decide what
    # its workers have loaded) or heap: its first experiment is one made through the API, its second a later one's;
    # a pool started early, as a command line starts it, in a process of its own again. The readings take turns
    # within each of ``--repeats`` rounds, in the reverse order every other round, and each
    # speed-up is taken within a round before the median over rounds, so that the machine's drift over minutes
    # moves the ratios less.
    def walls_of(reading: str) -> list[float]:
        if reading == "two_halves":
            return two_halves(workload, 2)
        kind, early = reading.removesuffix("_early"), reading.endswith("_early")
        # a command line's start is read on its first experiment only (a later one has the server already)
        spec = {"kind": "executor", "executor": kind, "workload": workload, "experiments": 1 if early else 2,
                "early": early}
        got = child(spec, ROOT)
        return got["walls"] + [got["prepare"] + got["walls"][0]]  # the last: from the command line's start

    rounds = []
    for r in range(args.repeats):
        order = EXECUTOR_READINGS if r % 2 == 0 else EXECUTOR_READINGS[::-1]
        rounds.append({reading: walls_of(reading) for reading in order})
    for label, _, suffix, at in EXPERIMENTS:
        # sequential has nothing to start early: its own first experiment is the reference of a command line's; the
        # two halves read no scenario on the clock, so they are no reference for that one
        kinds = ("sequential", "processes", "dask") + (() if suffix else ("two_halves",))
        readings = {kind: kind + suffix if kind in ("processes", "dask") else kind for kind in kinds}
        walls = {kind: [r[reading][at] for r in rounds] for kind, reading in readings.items()}
        out[f"{label}_wall_s"] = {kind: statistics.median(v) for kind, v in walls.items()}
        for kind in kinds[1:]:
            speedups = [seq / wall for seq, wall in zip(walls["sequential"], walls[kind], strict=True)]
            out[f"{kind}_speedups_{label}"], out[f"{kind}_speedup_{label}"] = speedups, statistics.median(speedups)
    # One run's CPU time in a Dask worker against in process: each task in process and then in the worker, one
    # worker (so that it runs alone, as the in-process runs do), paired task by task so that the machine's drift
    # over the minute moves both sides; the first task of each side (imports, schema) left out.
    tasks = tasks_for(scenario, portable=True)
    inside, worker = [], []
    with DaskExecutor(workers=1) as dask:
        worker_env = dask.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))  # the cluster is up: each
        for task in tasks:  # task the executor is given goes to the worker, none runs in process
            inside.append(timed_task(*task)[1])  # the run's thread: not the scheduler's, in this process
            worker.extend(cpu for cpu, _ in dask.map(timed_task, [task]))  # the worker's whole process
    skip = 1 if len(tasks) > 1 else 0
    out["task_cpu_in_process_s"] = statistics.median(inside[skip:])
    out["task_cpu_in_dask_s"] = statistics.median(worker[skip:])
    out["dask_over_in_process"] = statistics.median(w / i for w, i in zip(worker[skip:], inside[skip:], strict=True))
    what = (f"scenarios/{workload['scenario']}.yaml, {len(tasks)} runs" if workload["scenario"]
            else f"{len(tasks)} runs of 100 k subscribers (market 200 k) × 365 days")
    print(f"\nexecutors: {what}; each executor in a fresh "
          f"process for its first experiment (made through the API, nothing started before) and a second (a "
          f"notebook's or a sweep's later one), and each pool in another fresh process for a command line's first "
          f"experiment (its fork server started before the scenario is read, as `reachsim run` does); the readings "
          f"in turn, {len(rounds)} rounds; wall seconds, pool start and close included; speed-ups over sequential "
          f"paired within a round, median; start method {default_start_method()}")
    print("  two halves: the experiment split between two processes running at once without an executor (no pool, "
          "nothing sent between them): a reference that an executor of two workers beats only by the machine's "
          "noise where the runs cost alike")
    for label, what, suffix, _ in EXPERIMENTS:
        halves = "" if suffix else f"; two halves {_speedup_reading(out, label, 'two_halves', '')}"
        print(f"  {what}: sequential {out[f'{label}_wall_s']['sequential']:.2f} s; 2 processes "
              f"{_speedup_reading(out, label, 'processes', ', target ≥ 1.8')}; Dask LocalCluster 2 workers "
              f"{_speedup_reading(out, label, 'dask', ', target ≥ 1.6')}{halves}")
    print(f"  one run's CPU time: in process {out['task_cpu_in_process_s']:.3f} s, in a Dask worker "
          f"{out['task_cpu_in_dask_s']:.3f} s (paired by task: {out['dask_over_in_process']:.2f}×, target ≤ 1.2); "
          f"workers' MALLOC_TRIM_THRESHOLD_: {sorted(set(worker_env.values()))}")
    return out


def _speedup_reading(out: dict[str, Any], label: str, kind: str, target: str) -> str:
    """An executor's median wall, its speed-up and each round's: "5.36 s (1.79×, target ≥ 1.8; rounds 1.92, …)"."""
    rounds = ", ".join(f"{x:.2f}" for x in out[f"{kind}_speedups_{label}"])
    return f"{out[f'{label}_wall_s'][kind]:.2f} s ({out[f'{kind}_speedup_{label}']:.2f}×{target}; rounds {rounds})"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("scenarios", "scale", "executors", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions (median reported)")
    parser.add_argument("--replications", type=int, default=0, help="override the scenarios' replications")
    parser.add_argument("--naive-subscribers", type=int, default=20_000)
    parser.add_argument("--kernel-subscribers", type=int, default=1_000_000, help="subscribers of the kernel")
    parser.add_argument("--kernel-broadcasts", type=int, default=5, help="kernel broadcasts per measurement")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="the commit that '× baseline' compares with")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    parser.add_argument("--scenarios", type=lambda text: tuple(text.split(",")), default=SCENARIOS,
                        help="shipped scenarios of the scenarios part, comma-separated (default: the speed issue's "
                        "three); one the baseline lacks is measured without it")
    parser.add_argument("--without-run-out", action="store_true",
                        help="run this checkout's scenarios without the run-out after the horizon (the baseline's "
                        "model had none): the same simulated days in both versions")
    parser.add_argument("--baseline-files", action="store_true",
                        help="run this checkout on the baseline's own scenario files, without the run-out: the same "
                        "model and simulated days in both versions (the shipped files changed since)")
    parser.add_argument("--scale-max", type=int, default=10_000_000, help="largest market of the scale part")
    parser.add_argument("--scale-days", type=int, default=365)
    parser.add_argument("--scale-replications", type=int, default=4)
    workload = parser.add_mutually_exclusive_group()
    workload.add_argument("--executor-tasks", type=int, default=64, help="replications in the executors part")
    workload.add_argument("--executor-scenario", metavar="NAME",
                        help="run the executors part on scenarios/NAME.yaml as shipped (its own runs)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scale-child", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.child:
        spec = json.loads(args.child)
        if spec["kind"] == "scenario":
            scenario_child(spec["path"], spec["replications"], spec.get("run_out", True))
        elif spec["kind"] == "executor":
            executor_child(spec["executor"], spec["workload"], spec["experiments"], spec.get("early", False))
        elif spec["kind"] == "half":
            half_child(spec["half"], spec["workload"], spec["experiments"])
        else:
            naive_child(spec["subscribers"], spec["broadcasts"], spec["seed"])
        return {}
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
