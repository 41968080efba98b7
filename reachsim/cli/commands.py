"""The commands: each reads its arguments, calls the public API and says what it wrote.

``run`` and ``sweep`` share the tail that writes what finished, draws it and tells it (:func:`keep`).
"""

from __future__ import annotations

import argparse
import json
import os
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
    from reachsim.core.problems import Problem, ScenarioError, printable
    from reachsim.scenario.load import load_scenario

    problems: list[Problem] = []
    more = 0
    for file in args.files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            problems.extend(exc.problems)
            more += exc.more
        else:
            strategies = terminal.plural(len(scenario.strategies), "strategy", "strategies")
            print(f"{file}: ok ({printable(scenario.name)}; {strategies})")
    if problems:
        raise ScenarioError(problems, more=more)
    return EXIT_OK


def schema(args: argparse.Namespace) -> int:
    from reachsim.results.atomic import write_text
    from reachsim.scenario.editor_schema import editor_schema

    text = json.dumps(editor_schema(), indent=2) + "\n"
    if args.out:
        write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    start_executor_early(args)  # first: the imports below are what its fork server's overlap
    from reachsim.results.folder import FolderError, OutputFolder
    from reachsim.results.sources import sources_for
    from reachsim.scenario.load import OverrideError, load_scenario, with_overrides

    scenario = with_overrides_or_usage(load_scenario(args.file), seed=args.seed, replications=args.replications)
    sources = sources_for(args.file)  # the inputs' source notes, read now: the file may change while the run lasts
    rule, cap = precision_rule(args, scenario)
    planned = scenario
    if rule is not None:
        try:
            planned = with_overrides(scenario, replications=cap)
        except OverrideError as exc:
            _, message, _ = exc.problems[0]
            raise UsageError(f"reachsim run: argument --max-replications: {message} (got {cap})") from None
    out = output_folder(args, "run", Path("reports") / Path(args.file).stem)
    fits(planned, args, "run")
    try:
        with OutputFolder(out, protect=[args.file]) as folder:
            return _run_into(folder, args, scenario, planned, rule, sources)
    except FolderError as exc:
        raise UsageError(f"reachsim run: argument {exc}") from None


def _run_into(folder: Any, args: argparse.Namespace, scenario: Any, planned: Any, rule: Any, sources: Any) -> int:
    """The replications of ``planned``, stored in the folder's staging copy as they finish, then the final files
    (with the inputs' source notes, ``sources``) and the report there, then the copy moved into place."""
    from reachsim.experiments.executors import make_executor
    from reachsim.experiments.runner import RunFailed, run_experiment
    from reachsim.results import store
    from reachsim.results.rundir import write_run_files
    from reachsim.scenario.load import with_overrides

    console = terminal.console(stderr=True, quiet=args.quiet)
    started = time.perf_counter()
    out = folder.shown
    staging = folder.reuse() if args.resume else folder.fresh()
    key = store.identity(scenario)
    completed = resume_from(folder, planned, key, console) if args.resume else {}
    try:
        with terminal.progress(console) as bar:
            strategies = len(planned.strategies)
            task = bar.add_task(f"{scenario.name}: runs", total=planned.replications * strategies,
                                completed=len(completed) * strategies)
            result = run_experiment(
                planned,
                executor=make_executor(args.workers, args.executor, args.scheduler),
                progress=lambda strategy, rep: bar.advance(task),
                completed=completed,
                on_replication=lambda r, runs: store.write_replication(staging, planned, key, r, runs),
                until=rule,
            )
    except RunFailed as exc:
        kept = len(set(completed) | {int(p.stem) for p in (staging / store.STORE).glob("[0-9]*.json")})
        advice = (
            f"; {terminal.plural(kept, 'finished replication')} kept: once the cause is fixed, "
            f"`reachsim run {args.file} --out {out} --resume` continues from {'it' if kept == 1 else 'them'}"
        )
        raise Failed(f"{exc}{advice if kept else ''}") from exc
    precision = None
    if rule is not None:
        if not result.interrupted:  # what ran is then the scenario with that many replications
            result.scenario = with_overrides(scenario, replications=max(result.replications, 1))
        precision = rule.report(result.replications, planned.replications, result.interrupted)
    return keep(
        result,
        out,
        started,
        quiet=args.quiet,
        write=lambda result, _: write_run_files(result, staging, precision=precision, sources=sources),
        draw=lambda folder: render_after_run(folder, console, no_report=args.no_report, shown=out),
        tell=lambda console, result, _, elapsed, drawn: terminal.print_summary(
            console, result, out, elapsed, drawn, precision=precision
        ),
        commit=folder.commit,
    )


class Failed(Exception):
    """A failure explained in full: printed as ``error: <message>`` (exit 1), without the exception's type."""


#: The most replications a precision-driven run makes unless --max-replications says otherwise.
DEFAULT_MAX_REPLICATIONS = 1_000


def precision_rule(args: argparse.Namespace, scenario: Any) -> tuple[Any, int]:
    """The stopping rule of ``--precision`` and its cap (None, 0 without it); usage errors for options that do
    not go together."""
    if args.precision is None:
        if args.max_replications is not None:
            raise UsageError("reachsim run: argument --max-replications: only with --precision")
        return None, 0
    from reachsim.experiments.precision import MIN_REPLICATIONS, PrecisionRule

    minimum = max(scenario.replications, MIN_REPLICATIONS)
    cap = args.max_replications if args.max_replications is not None else max(DEFAULT_MAX_REPLICATIONS, minimum)
    if cap < minimum:
        raise UsageError(
            f"reachsim run: argument --max-replications: at least {minimum} (the scenario's replications, "
            f"and never fewer than {MIN_REPLICATIONS}), got {cap}"
        )
    return PrecisionRule(scenario, args.precision, minimum=minimum), cap


def start_executor_early(args: argparse.Namespace) -> None:
    """Before anything else: Dask told to be quiet, and the fork server of the local workers ``args`` ask for
    started (:func:`reachsim.experiments.executors.start_early`), so that it imports what a worker needs on another
    core while this process imports the schema and the runner and reads the scenario, and the first runs start at
    once."""
    from reachsim.experiments.executors import start_early

    quiet_dask(args)
    start_early(args.workers, args.executor, args.scheduler)


def quiet_dask(args: argparse.Namespace) -> None:
    """Dask logs its workers' comings and goings to stderr (a worker killed at shutdown, say): a normal run prints
    none of it. Set before Dask is imported, so that the local workers inherit it; a setting of the user's
    own is kept."""
    if args.executor == "dask" or args.scheduler is not None:
        os.environ.setdefault("DASK_DISTRIBUTED__LOGGING__DISTRIBUTED", "error")


def fits(scenario: Any, args: argparse.Namespace, command: str, points: int = 1) -> None:
    """Refuse (usage error) an experiment that would not fit in this machine's memory."""
    from reachsim.cli.checks import estimate, memory_problem

    local = args.scheduler is None  # a cluster's workers use their own machines' memory
    need = estimate(scenario, replications=scenario.replications, workers=args.workers or 1, points=points, local=local)
    problem = memory_problem(scenario, need)
    if problem is not None:
        raise UsageError(f"reachsim {command}: {problem}")


def resume_from(folder: Any, scenario: Any, key: str, console: Console) -> dict[int, Any]:
    """The replications a run into ``folder`` reuses (see :func:`reachsim.results.store.resumable`); a folder made
    by another run is a usage error."""
    from reachsim.results.store import NotResumable, resumable

    try:
        found = resumable(folder.out, folder.staging, scenario, key)
    except NotResumable as exc:
        raise UsageError(f"reachsim run: argument --resume: {folder.shown} was made {exc}") from None
    console.print(f"resuming from {terminal.plural(len(found), 'finished replication')} in {folder.shown}",
                  soft_wrap=True)
    return found


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
    commit: Callable[[], Path] | None = None,
) -> int:
    """After the runs of `run` or `sweep`: write what finished, draw it, tell it; exit 130 if interrupted.

    ``commit``, when given, moves what was written into place (after the drawing, and before a failure of it is
    reported). Without one whole replication there is nothing worth keeping, and an earlier folder at ``out`` is
    left as it was."""
    err = terminal.console(stderr=True)
    if result.interrupted and result.replications == 0:
        err.print(f"interrupted before any replication finished: nothing written to {out}")
        return EXIT_INTERRUPTED
    folder = write(result, out)
    try:
        drawn = draw(folder)
    finally:
        if commit is not None:
            final = commit()
    if commit is not None:
        drawn = final / drawn.relative_to(folder) if drawn is not None else None
        folder = final
    if not quiet:
        tell(terminal.console(), result, folder, time.perf_counter() - started, drawn)
    if result.interrupted:
        err.print(
            f"interrupted: wrote the {terminal.plural(result.replications, 'complete replication')} "
            f"(of {result.scenario.replications}){of_what} to {out}"
        )
        return EXIT_INTERRUPTED
    return EXIT_OK


class ReportError(Exception):
    """The run directory is written but its report could not be made (exit 1)."""


def render_after_run(folder: Path, console: Console, *, no_report: bool, shown: Path | None = None) -> Path | None:
    """The report of a run directory that has just been (re)written; an earlier run's report in the same folder
    is removed first, so a report.html there always describes the files beside it. ``shown`` is the folder's
    name in messages (where it will be once in place)."""
    from reachsim.report import clear_report, render_report

    clear_report(folder)
    if no_report:
        return None
    shown = shown or folder
    try:
        with console.status("rendering the report"):
            return render_report(folder)
    except Exception as exc:
        raise ReportError(
            f"wrote {shown}/, but its report failed ({type(exc).__name__}: {exc}); "
            f"try again with `reachsim report {shown}`"
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
    start_executor_early(args)  # first: the imports below are what its fork server's overlap
    from reachsim.experiments.executors import make_executor
    from reachsim.experiments.runner import RunFailed
    from reachsim.experiments.sweep import SweepError, parse_values, plan_sweep, run_sweep
    from reachsim.results import sweepdir
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
    written = (sweepdir.SCENARIO_FILE, sweepdir.CSV_FILE, sweepdir.SWEEP_FILE, *sweepdir.CHART_FILES)
    if any(_same_file(out / name, Path(args.file)) for name in written):
        raise UsageError(f"reachsim sweep: argument --out: {out} holds {args.file}, which the sweep would replace")
    fits(scenario, args, "sweep", points=len(values))
    console = terminal.console(stderr=True, quiet=args.quiet)
    total = len(values) * scenario.replications * len(scenario.strategies)
    started = time.perf_counter()
    try:
        with terminal.progress(console) as bar:
            task = bar.add_task(f"{scenario.name}: sweep of {args.param}", total=total)
            result = run_sweep(
                scenario,
                args.param,
                values,
                executor=make_executor(args.workers, args.executor, args.scheduler),
                progress=lambda value, strategy, rep: bar.advance(task),
            )
    except RunFailed as exc:
        raise Failed(str(exc)) from exc
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


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


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
