"""``reachsim staff``: how many agents a queue needs, the way call-centre planners size teams.

Erlang C (nobody abandons) or, with ``--patience-minutes``, Erlang A (M/M/c+M from its birth–death chain); the
table shows service level, mean wait, abandonment and occupancy for the levels around the answer. The maths is in
:mod:`reachsim.model.queueing` (docs/model/support.md). Loads that need more than
:data:`~reachsim.model.queueing.MAX_STAFFING` agents, and tables of more than ``MAX_AROUND`` levels either side, are
refused (exit 2).
"""

from __future__ import annotations

import argparse
import math
import re

from rich.table import Table

from reachsim.cli import terminal
from reachsim.cli.exit_codes import EXIT_OK, UsageError

#: The most staffing levels shown either side of the answer: a table for planners, not a sweep.
MAX_AROUND = 50

_TARGET = re.compile(r"^\s*(\d*\.?\d+)\s*(%?)\s*/\s*(\d*\.?\d+)\s*s\s*$")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    staff = sub.add_parser("staff", help="size a support team: fewest agents meeting a service-level target")
    staff.add_argument("--contacts-per-hour", required=True, type=_positive_float, metavar="N",
                       help="mean contacts arriving per hour (Poisson)")
    staff.add_argument("--handle-minutes", required=True, type=_positive_float, metavar="M",
                       help="mean handle time per contact, minutes (exponential)")
    staff.add_argument("--target", required=True, type=parse_target, metavar="LEVEL/SECONDSs",
                       help="service-level target, e.g. 0.8/20s or 80%%/20s: that share answered within that wait")
    staff.add_argument("--patience-minutes", type=_positive_float, metavar="P",
                       help="mean patience before abandoning, minutes (exponential); Erlang A instead of C")
    staff.add_argument("--around", type=int, default=3, metavar="K",
                       help=f"levels shown either side (default 3, at most {MAX_AROUND})")
    return staff


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def parse_target(text: str) -> tuple[float, float]:
    """``0.8/20s`` or ``80%/20s`` → (0.8, 20.0)."""
    match = _TARGET.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected LEVEL/SECONDSs such as 0.8/20s or 80%/20s, got {text!r}")
    level = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
    if not 0 < level < 1:
        raise argparse.ArgumentTypeError(f"the share answered must be between 0 and 1 (or 0% and 100%), got {text!r}")
    return level, float(match.group(3))


def run(args: argparse.Namespace) -> int:
    from reachsim.model.queueing import fewest_agents, staffing_level

    if not 0 <= args.around <= MAX_AROUND:
        raise UsageError(f"reachsim staff: argument --around: must be between 0 and {MAX_AROUND}, got {args.around}")
    level, seconds = args.target
    arrival = args.contacts_per_hour / 60.0  # per minute
    service = 1.0 / args.handle_minutes
    abandon = 1.0 / args.patience_minutes if args.patience_minutes else 0.0
    target_wait = seconds / 60.0
    try:
        best = fewest_agents(arrival, service, target_wait, level, abandon)
    except ValueError as exc:
        raise UsageError(f"reachsim staff: {exc}") from None
    model = "Erlang A (callers abandon)" if abandon else "Erlang C (nobody abandons)"
    load = arrival / service
    table = Table(title=f"{model}: {load:,.2f} Erlangs offered; target {level:.0%} within {seconds:g} s")
    for heading in ("agents", "service level", "mean wait (s)", "abandon", "occupancy"):
        table.add_column(heading, justify="right")
    for agents in range(max(1, best - args.around), best + args.around + 1):
        row = staffing_level(arrival, service, agents, target_wait, abandon)
        wait = "unstable" if not math.isfinite(row.mean_wait) else f"{row.mean_wait * 60:,.1f}"
        table.add_row(
            f"{agents}{'  ← fewest' if agents == best else ''}",
            f"{row.service_level:.1%}",
            wait,
            "—" if math.isnan(row.p_abandon) else f"{row.p_abandon:.1%}",
            f"{row.occupancy:.1%}",
        )
    console = terminal.console()
    console.print(table)
    console.print(f"fewest agents meeting the target: {best}")
    return EXIT_OK
