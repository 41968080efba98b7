"""The command line: a thin layer over the public API.

Exit codes: 0 success; 2 invalid input (scenario or arguments), one ``file:line: field: message`` line per
problem and no traceback; 1 anything else (one-line cause; the traceback with ``--debug``); 130 interrupted
(the replications that finished are written).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line arguments (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit itself; we keep one exit path
        raise UsageError(f"{self.prog}: {message}")


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive = _whole_number(1)
_non_negative = _whole_number(0)


def _add_experiment_options(command: argparse.ArgumentParser) -> None:
    """Options shared by the commands that run replications (run, sweep)."""
    command.add_argument("--replications", type=_positive, metavar="R", help="override the scenario's replications")
    command.add_argument("--seed", type=_non_negative, metavar="S", help="override the scenario's seed")
    command.add_argument(
        "--workers", type=_positive, metavar="N", help="worker processes (default 1; local Dask: one per core)"
    )
    command.add_argument(
        "--executor",
        choices=("sequential", "processes", "dask"),
        help="how runs are executed (default: sequential for 1 worker, processes for more, dask with --scheduler)",
    )
    command.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786")
    command.add_argument("--quiet", action="store_true", help="no progress bar or summary table")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reachsim", description="Simulate owned versus paid reach and compare strategies.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    validate = sub.add_parser("validate", help="check scenario files and report every problem")
    validate.add_argument("files", nargs="+", metavar="FILE")

    run = sub.add_parser("run", help="run a scenario and write its run directory")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--out", metavar="DIR", help="run directory (default: reports/<scenario file name>)")
    _add_experiment_options(run)
    run.add_argument("--no-report", action="store_true", help="write no report.html or charts/ (faster)")

    sweep = sub.add_parser("sweep", help="run a scenario at several values of one parameter (marginal returns)")
    sweep.add_argument("file", metavar="FILE")
    sweep.add_argument(
        "--param",
        required=True,
        metavar="PATH",
        help="the parameter: channels.NAME.param (every strategy with it) or an absolute path such as "
        "strategies.S.channels[0].boost.budget_per_post",
    )
    sweep.add_argument(
        "--values", required=True, metavar="V1,V2,...", help="ascending values, or START:STOP:N for N evenly spaced"
    )
    sweep.add_argument("--out", metavar="DIR", help="output folder (default: reports/<scenario file name>-sweep)")
    _add_experiment_options(sweep)
    sweep.add_argument("--no-report", action="store_true", help="draw no sweep.png/sweep.svg (faster)")

    report = sub.add_parser("report", help="render report.html and charts/ again from an existing run directory")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("--quiet", action="store_true", help="print nothing")

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    schema.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    # `reachsim run FILE --debug` works as well as `reachsim --debug run`
    for command in (validate, run, sweep, report, schema):
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from reachsim.scenario.errors import ScenarioError

    err = _console(stderr=True)
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.version:
            from reachsim import __version__

            print(f"reachsim {__version__}")
            return EXIT_OK
        if args.command is None:
            names = "validate, run, sweep, report, schema"
            raise UsageError(f"reachsim: a command is required ({names}); see reachsim --help")
        commands = {"validate": _validate, "run": _run, "sweep": _sweep, "report": _report, "schema": _schema}
        return commands[args.command](args)
    except UsageError as exc:
        err.print(str(exc), markup=False)
        return EXIT_USAGE
    except ScenarioError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place that turns unexpected failures into exit 1
        if debug:
            traceback.print_exc()
        err.print(f"error: {type(exc).__name__}: {exc}", markup=False)
        if not debug:
            err.print("(run with --debug for the traceback)", markup=False)
        return EXIT_ERROR


def _validate(args: argparse.Namespace) -> int:
    from reachsim.scenario.errors import Problem, ScenarioError
    from reachsim.scenario.load import load_scenario

    problems: list[Problem] = []
    for file in args.files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            problems.extend(exc.problems)
        else:
            print(f"{file}: ok ({scenario.name}; {_plural(len(scenario.strategies), 'strategy', 'strategies')})")
    if problems:
        raise ScenarioError(problems)
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from reachsim.results.atomic import write_text
    from reachsim.scenario.schema import scenario_model

    text = json.dumps(scenario_model().model_json_schema(), indent=2) + "\n"
    if args.out:
        write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _progress(console: Console) -> Progress:
    """The progress bar of the commands that run replications (cleared when done)."""
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A console that prints text as given: no markup, emoji codes or highlighting (names and values in a
    scenario may contain ``[brackets]`` or ``:colons:``), and no wrapping of long error lines."""
    return Console(stderr=stderr, quiet=quiet, markup=False, emoji=False, highlight=False, soft_wrap=stderr)


def _run(args: argparse.Namespace) -> int:
    from reachsim.experiments.executors import make_executor
    from reachsim.experiments.runner import run_experiment
    from reachsim.results.rundir import write_run_dir
    from reachsim.scenario.load import load_scenario

    scenario = _with_overrides(load_scenario(args.file), seed=args.seed, replications=args.replications)
    out = _output_folder(args, "run", Path("reports") / Path(args.file).stem)
    console = _console(stderr=True, quiet=args.quiet)
    total = scenario.replications * len(scenario.strategies)
    started = time.perf_counter()
    with _progress(console) as bar:
        task = bar.add_task(f"{scenario.name}: runs", total=total)
        result = run_experiment(
            scenario,
            executor=make_executor(args.workers, args.executor, args.scheduler),
            progress=lambda strategy, rep: bar.advance(task),
        )
    return _keep(
        result,
        out,
        started,
        quiet=args.quiet,
        write=write_run_dir,
        draw=lambda folder: _render_after_run(folder, console, no_report=args.no_report),
        tell=_print_summary,
    )


def _output_folder(args: argparse.Namespace, command: str, default: Path) -> Path:
    """``--out`` or the default; a file in the way is found now, not after the whole experiment has run."""
    out = Path(args.out) if args.out else default
    if out.exists() and not out.is_dir():
        raise UsageError(f"reachsim {command}: argument --out: {str(out)!r} exists and is not a directory")
    return out


def _keep(
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
    err = _console(stderr=True)
    if result.interrupted and result.replications == 0:
        err.print(f"interrupted before any replication finished: nothing written to {out}")
        return EXIT_INTERRUPTED
    folder = write(result, out)
    drawn = draw(folder)
    if not quiet:
        tell(_console(), result, folder, time.perf_counter() - started, drawn)
    if result.interrupted:
        err.print(
            f"interrupted: wrote the {_plural(result.replications, 'complete replication')} "
            f"(of {result.scenario.replications}){of_what} to {folder}"
        )
        return EXIT_INTERRUPTED
    return EXIT_OK


class ReportError(Exception):
    """The run directory is written but its report could not be made (exit 1)."""


def _render_after_run(folder: Path, console: Console, *, no_report: bool) -> Path | None:
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


def _report(args: argparse.Namespace) -> int:
    from reachsim.report import RunDirError, render_report

    started = time.perf_counter()
    try:
        path = render_report(args.run_dir)
    except RunDirError as exc:
        raise UsageError(f"reachsim report: {exc}") from None
    if not args.quiet:
        _console().print(f"wrote {path} in {time.perf_counter() - started:.1f} s", soft_wrap=True)
    return EXIT_OK


def _with_overrides(scenario: Any, command: str = "run", **changes: Any) -> Any:
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


def _plural(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _fmt(x: Any, money: bool = False) -> str:
    if x is None:
        return "—"
    if money:
        return f"{x:,.0f}" if round(x) != 0 else "0"  # no "-0"
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


def _print_summary(console: Console, result: Any, folder: Path, elapsed: float, report: Path | None) -> None:
    """Metrics as rows and strategies as columns: fits a terminal whatever the number of metrics."""
    summary = result.summary()
    names = list(summary["strategies"])
    title = f"{result.scenario.name}\n{_plural(result.replications, 'replication')}: mean [p05, p95]"
    table = Table(title=title)  # the console prints text literally: no markup in names or in "[p05, p95]"
    table.add_column("metric")
    for name in names:
        table.add_column(f"{name}\n(baseline)" if name == summary["baseline"] else name, justify="right")
    for metric, money in SUMMARY_ROWS:
        cells = []
        for name in names:
            m = summary["strategies"][name]["metrics"][metric]
            cell = f"{_fmt(m['mean'], money)}\n[{_fmt(m['p05'], money)}, {_fmt(m['p95'], money)}]"
            if "n" in m:  # defined in some replications only (a break-even that comes in some)
                cell += f"\nin {m['n']} of {result.replications}"
            cells.append(cell)
        table.add_row(metric, *cells)
    console.print(table)
    for name, diffs in summary["comparisons"].items():
        d = diffs["npv"]
        lo, hi = d["ci95"]
        console.print(
            f"NPV {name} − {summary['baseline']}: {_fmt(d['mean'], True)} "
            f"(95% CI {_fmt(lo, True)} to {_fmt(hi, True)})"
        )
    line = f"wrote {folder}/ in {elapsed:.1f} s" + (f"; report: {report}" if report else "")
    console.print(line, soft_wrap=True)  # one line, however long the paths


#: (metric, is money) rows of the summary table.
SUMMARY_ROWS = (
    ("total_cost", True),
    ("total_value", True),
    ("npv", True),
    ("roi", False),
    ("unique_reach", False),
    ("engagements", False),
    ("cost_per_engagement", False),
    ("breakeven_day", False),
)


# ---------------------------------------------------------------------------------------------------------
# reachsim sweep
# ---------------------------------------------------------------------------------------------------------


def _sweep(args: argparse.Namespace) -> int:
    from reachsim.experiments.executors import make_executor
    from reachsim.experiments.sweep import SweepError, parse_values, plan_sweep, run_sweep
    from reachsim.results.sweepdir import write_sweep_dir
    from reachsim.scenario.load import load_scenario

    try:
        values = parse_values(args.values)
    except SweepError as exc:
        raise UsageError(f"reachsim sweep: argument --values: {exc}") from None
    scenario = _with_overrides(load_scenario(args.file), "sweep", seed=args.seed, replications=args.replications)
    try:  # the path and every value, checked against the schema before anything runs
        plan_sweep(scenario, args.param, values)
    except SweepError as exc:
        raise UsageError(f"reachsim sweep: argument --{exc.argument}: {exc}") from None
    out = _output_folder(args, "sweep", Path("reports") / f"{Path(args.file).stem}-sweep")
    console = _console(stderr=True, quiet=args.quiet)
    total = len(values) * scenario.replications * len(scenario.strategies)
    started = time.perf_counter()
    with _progress(console) as bar:
        task = bar.add_task(f"{scenario.name}: sweep of {args.param}", total=total)
        result = run_sweep(
            scenario,
            args.param,
            values,
            executor=make_executor(args.workers, args.executor, args.scheduler),
            progress=lambda value, strategy, rep: bar.advance(task),
        )
    return _keep(
        result,
        out,
        started,
        quiet=args.quiet,
        write=write_sweep_dir,
        draw=lambda folder: _chart_after_sweep(folder, console, no_report=args.no_report),
        tell=_print_sweep,
        of_what=" of every value",
    )


def _chart_after_sweep(folder: Path, console: Console, *, no_report: bool) -> Path | None:
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


def _print_sweep(console: Console, result: Any, folder: Path, elapsed: float, chart: Path | None) -> None:
    """NPV by value (rows) and strategy (columns), the best value of each strategy, then the marginal NPV per
    unit of the parameter between consecutive values for the strategies the parameter changes."""
    points, best = result.points(), result.best()
    names = result.strategies
    varied = [name for name in names if name in result.varies_in]
    console.print(f"{result.scenario.name}", soft_wrap=True)
    console.print(
        f"sweep of {result.path} in {', '.join(varied)}; {_plural(result.replications, 'replication')}",
        soft_wrap=True,
    )
    table = Table(title="NPV: mean [p05, p95]")
    table.add_column("value", justify="right")
    for name in names:
        table.add_column(name if name in varied else f"{name}\n(not varied)", justify="right")
    for point in points:
        cells = []
        for name in names:
            m = point["strategies"][name]["npv"]
            cells.append(f"{_fmt(m['mean'], True)}\n[{_fmt(m['p05'], True)}, {_fmt(m['p95'], True)}]")
        table.add_row(_fmt_value(point["value"]), *cells)
    table.add_section()
    table.add_row("best value", *(_fmt_value(best[n]["value"]) if n in varied else "any" for n in names))
    console.print(table)
    marginal = Table(title="Marginal NPV per unit: mean (95% CI)")
    marginal.add_column("between", justify="right")
    for name in varied:
        marginal.add_column(name, justify="right")
    for step in result.marginal():
        cells = []
        for name in varied:
            d = step["strategies"][name]["npv"]
            lo, hi = d["ci95"]
            cells.append(f"{_fmt(d['mean'])}\n({_fmt(lo)} to {_fmt(hi)})")
        marginal.add_row(f"{_fmt_value(step['from'])} → {_fmt_value(step['to'])}", *cells)
    console.print(marginal)
    line = f"wrote {folder}/ in {elapsed:.1f} s" + (f"; chart: {chart}" if chart else "")
    console.print(line, soft_wrap=True)


def _fmt_value(x: float | None) -> str:
    return "—" if x is None else f"{x:,.6g}"
