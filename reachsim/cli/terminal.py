"""What the command line prints: consoles, the progress bar and the summary tables of run and sweep."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def progress(console: Console) -> Progress:
    """The progress bar of the commands that run replications (cleared when done; none where the output is not a
    terminal, which would keep an empty line of it)."""
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A console that prints text as given: no markup, emoji codes or highlighting (names and values in a
    scenario may contain ``[brackets]`` or ``:colons:``), and no wrapping of long error lines."""
    return Console(stderr=stderr, quiet=quiet, markup=False, emoji=False, highlight=False, soft_wrap=stderr)


def plural(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def fmt(x: Any, money: bool = False) -> str:
    if x is None:
        return "—"
    if money:
        return f"{x:,.0f}" if round(x) != 0 else "0"  # no "-0"
    return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"


def print_summary(
    console: Console,
    result: Any,
    folder: Path,
    elapsed: float,
    report: Path | None,
    *,
    precision: dict[str, Any] | None = None,
) -> None:
    """Metrics as rows and strategies as columns: fits a terminal whatever the number of metrics; then what
    stopped a precision-driven run."""
    summary = result.summary()
    names = list(summary["strategies"])
    title = f"{result.scenario.name}\n{plural(result.replications, 'replication')}: mean [p05, p95]"
    table = Table(title=title)  # the console prints text literally: no markup in names or in "[p05, p95]"
    table.add_column("metric")
    for name in names:
        table.add_column(f"{name}\n(baseline)" if name == summary["baseline"] else name, justify="right")
    for metric, money in SUMMARY_ROWS:
        cells = []
        for name in names:
            m = summary["strategies"][name]["metrics"][metric]
            cell = f"{fmt(m['mean'], money)}\n[{fmt(m['p05'], money)}, {fmt(m['p95'], money)}]"
            if "n" in m:  # defined in some replications only (a break-even that comes in some)
                cell += f"\nin {m['n']} of {result.replications}"
            cells.append(cell)
        table.add_row(metric, *cells)
    console.print(table)
    for name, diffs in summary["comparisons"].items():
        d = diffs["npv"]
        lo, hi = d["ci95"]
        console.print(
            f"NPV {name} − {summary['baseline']}: {fmt(d['mean'], True)} "
            f"(95% CI {fmt(lo, True)} to {fmt(hi, True)})"
        )
    if precision is not None:
        console.print(precision_line(precision), soft_wrap=True)
    line = f"wrote {folder}/ in {elapsed:.1f} s" + (f"; report: {report}" if report else "")
    console.print(line, soft_wrap=True)  # one line, however long the paths


def precision_line(precision: dict[str, Any]) -> str:
    """What stopped a precision-driven run, and the widest interval relative to its mean."""
    target, n = precision["target"], precision["replications"]
    checks = precision["checks"]
    worst = max(checks, key=lambda q: math.inf if checks[q]["relative"] is None else checks[q]["relative"])
    relative = checks[worst]["relative"]
    widest = f"widest: {worst} ±{relative:.2%}" if relative is not None else f"{worst} has no finite interval"
    if precision["stopped_by"] == "precision":
        return f"precision: {plural(n, 'replication')} put every NPV and NPV difference within ±{target:.2%} ({widest})"
    outside = sum(1 for c in checks.values() if c["relative"] is None or c["relative"] > target)
    stop = "interrupted at" if precision["stopped_by"] == "interrupted" else "stopped at the cap of"
    within = f"{outside} of {len(checks)} not yet within ±{target:.2%}"
    return f"precision: {stop} {plural(n, 'replication')}, {within} ({widest})"


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


def print_sweep(console: Console, result: Any, folder: Path, elapsed: float, chart: Path | None) -> None:
    """NPV by value (rows) and strategy (columns), the best value of each strategy, then the marginal NPV per
    unit of the parameter between consecutive values for the strategies the parameter changes."""
    points, best = result.points(), result.best()
    names = result.strategies
    varied = [name for name in names if name in result.varies_in]
    console.print(f"{result.scenario.name}", soft_wrap=True)
    console.print(
        f"sweep of {result.path} in {', '.join(varied)}; {plural(result.replications, 'replication')}",
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
            cells.append(f"{fmt(m['mean'], True)}\n[{fmt(m['p05'], True)}, {fmt(m['p95'], True)}]")
        table.add_row(fmt_value(point["value"]), *cells)
    table.add_section()
    table.add_row("best value", *(fmt_value(best[n]["value"]) if n in varied else "any" for n in names))
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
            cells.append(f"{fmt(d['mean'])}\n({fmt(lo)} to {fmt(hi)})")
        marginal.add_row(f"{fmt_value(step['from'])} → {fmt_value(step['to'])}", *cells)
    console.print(marginal)
    line = f"wrote {folder}/ in {elapsed:.1f} s" + (f"; chart: {chart}" if chart else "")
    console.print(line, soft_wrap=True)


def fmt_value(x: float | None) -> str:
    return "—" if x is None else f"{x:,.6g}"
