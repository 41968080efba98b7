"""The commands: each reads its arguments, calls the public API and says what it wrote.

``run`` and ``sweep`` share the tail that writes what finished, draws it and tells it (:func:`keep`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from reachsim.cli import terminal
from reachsim.cli.exit_codes import EXIT_INTERRUPTED, EXIT_OK
from reachsim.cli.parser import UsageError


def validate(args: argparse.Namespace) -> int:
    from reachsim.core.problems import Problem, ScenarioError
    from reachsim.scenario.load import load_scenario

    problems: list[Problem] = []
    for file in args.files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            problems.extend(exc.problems)
        else:
            strategies = terminal.plural(len(scenario.strategies), "strategy", "strategies")
            print(f"{file}: ok ({scenario.name}; {strategies})")
    if problems:
        raise ScenarioError(problems)
    return EXIT_OK


def schema(args: argparse.Namespace) -> int:
    from reachsim.results.atomic import write_text
    from reachsim.scenario.schema import scenario_model

    text = json.dumps(scenario_model().model_json_schema(), indent=2) + "\n"
    if args.out:
        write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from reachsim.experiments.executors import make_executor
    from reachsim.experiments.runner import run_experiment
    from reachsim.results.rundir import write_run_dir
    from reachsim.scenario.load import load_scenario

    scenario = with_overrides_or_usage(load_scenario(args.file), seed=args.seed, replications=args.replications)
    out = output_folder(args, "run", Path("reports") / Path(args.file).stem)
    console = terminal.console(stderr=True, quiet=args.quiet)
    total = scenario.replications * len(scenario.strategies)
    started = time.perf_counter()
    with terminal.progress(console) as bar:
        task = bar.add_task(f"{scenario.name}: runs", total=total)
        result = run_experiment(
            scenario,
            executor=make_executor(args.workers, args.executor, args.scheduler),
            progress=lambda strategy, rep: bar.advance(task),
        )
    return keep(
        result,
        out,
        started,
        quiet=args.quiet,
        write=write_run_dir,
        draw=lambda folder: render_after_run(folder, console, no_report=args.no_report),
        tell=terminal.print_summary,
    )


def output_folder(args: argparse.Namespace, command: str, default: Path) -> Path:
    """``--out`` or the default; a file in the way is found now, not after the whole experiment has run."""
    out = Path(args.out) if args.out else default
    if out.exists() and not out.is_dir():
        raise UsageError(f"reachsim {command}: argument --out: {str(out)!r} exists and is not a directory")
    return out


def keep(
    result: Any,
    out: Path,
    started: float,
    *,
    quiet: bool,
    write: Callable[[Any, Path], Path],
    draw: Callable[[Path], Path | None],
    tell: Callable[[Console, Any, Path, float, Path | None], None],
    of_what: str = "",
) -> int:
    """After the runs of `run` or `sweep`: write what finished, draw it, tell it; exit 130 if interrupted.

    Without one whole replication there is nothing worth keeping, and an earlier folder at ``out`` is left as
    it was."""
    err = terminal.console(stderr=True)
    if result.interrupted and result.replications == 0:
        err.print(f"interrupted before any replication finished: nothing written to {out}")
        return EXIT_INTERRUPTED
    folder = write(result, out)
    drawn = draw(folder)
    if not quiet:
        tell(terminal.console(), result, folder, time.perf_counter() - started, drawn)
    if result.interrupted:
        err.print(
            f"interrupted: wrote the {terminal.plural(result.replications, 'complete replication')} "
            f"(of {result.scenario.replications}){of_what} to {folder}"
        )
        return EXIT_INTERRUPTED
    return EXIT_OK


class ReportError(Exception):
    """The run directory is written but its report could not be made (exit 1)."""


def render_after_run(folder: Path, console: Console, *, no_report: bool) -> Path | None:
    """The report of a run directory that has just been (re)written; an earlier run's report in the same folder
    is removed first, so a report.html there always describes the files beside it."""
    from reachsim.report import clear_report, render_report

    clear_report(folder)
    if no_report:
        return None
    try:
        with console.status("rendering the report"):
            return render_report(folder)
    except Exception as exc:
        raise ReportError(
            f"wrote {folder}/, but its report failed ({type(exc).__name__}: {exc}); "
            f"try again with `reachsim report {folder}`"
        ) from exc


def report(args: argparse.Namespace) -> int:
    from reachsim.report import RunDirError, render_report

    started = time.perf_counter()
    try:
        path = render_report(args.run_dir)
    except RunDirError as exc:
        raise UsageError(f"reachsim report: {exc}") from None
    if not args.quiet:
        terminal.console().print(f"wrote {path} in {time.perf_counter() - started:.1f} s", soft_wrap=True)
    return EXIT_OK


def with_overrides_or_usage(scenario: Any, command: str = "run", **changes: Any) -> Any:
    """The scenario with ``--seed``/``--replications`` applied; a value the schema refuses is a usage error
    (one line per option, like argparse's own), not a scenario problem."""
    from reachsim.scenario.load import OverrideError, with_overrides

    try:
        return with_overrides(scenario, **changes)
    except OverrideError as exc:
        lines = [
            f"reachsim {command}: {f'argument --{field}' if field in changes else field or 'arguments'}: {msg} "
            f"(got {value})"
            for field, msg, value in exc.problems
        ]
        raise UsageError("\n".join(lines)) from None


def sweep(args: argparse.Namespace) -> int:
    from reachsim.experiments.executors import make_executor
    from reachsim.experiments.sweep import SweepError, parse_values, plan_sweep, run_sweep
    from reachsim.results.sweepdir import write_sweep_dir
    from reachsim.scenario.load import load_scenario

    try:
        values = parse_values(args.values)
    except SweepError as exc:
        raise UsageError(f"reachsim sweep: argument --values: {exc}") from None
    scenario = with_overrides_or_usage(
        load_scenario(args.file), "sweep", seed=args.seed, replications=args.replications
    )
    try:  # the path and every value, checked against the schema before anything runs
        plan_sweep(scenario, args.param, values)
    except SweepError as exc:
        raise UsageError(f"reachsim sweep: argument --{exc.argument}: {exc}") from None
    out = output_folder(args, "sweep", Path("reports") / f"{Path(args.file).stem}-sweep")
    console = terminal.console(stderr=True, quiet=args.quiet)
    total = len(values) * scenario.replications * len(scenario.strategies)
    started = time.perf_counter()
    with terminal.progress(console) as bar:
        task = bar.add_task(f"{scenario.name}: sweep of {args.param}", total=total)
        result = run_sweep(
            scenario,
            args.param,
            values,
            executor=make_executor(args.workers, args.executor, args.scheduler),
            progress=lambda value, strategy, rep: bar.advance(task),
        )
    return keep(
        result,
        out,
        started,
        quiet=args.quiet,
        write=write_sweep_dir,
        draw=lambda folder: chart_after_sweep(folder, console, no_report=args.no_report),
        tell=terminal.print_sweep,
        of_what=" of every value",
    )


def chart_after_sweep(folder: Path, console: Console, *, no_report: bool) -> Path | None:
    """The chart of a sweep folder that has just been (re)written; an earlier chart is removed first."""
    from reachsim.results.sweepdir import clear_chart

    clear_chart(folder)
    if no_report:
        return None
    try:
        from reachsim.report.sweep_chart import write_sweep_chart  # imports matplotlib: only when drawing

        with console.status("drawing the chart"):
            return write_sweep_chart(folder)
    except Exception as exc:
        raise ReportError(f"wrote {folder}/, but its chart failed ({type(exc).__name__}: {exc})") from exc
