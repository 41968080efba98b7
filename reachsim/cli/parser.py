"""The command line's arguments: every command and option, and the usage error argparse raises for them."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from reachsim.cli import shipped
from reachsim.cli import staff as staff_command
from reachsim.cli.exit_codes import UsageError


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

#: A Dask scheduler: ``[tcp|tls|ws|wss|ucx://]HOST:PORT`` (HOST a name, an IPv4 address or a bracketed IPv6 one).
_SCHEDULER = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$")
#: Most values a sweep may take (each is a whole experiment).
MAX_SWEEP_VALUES = 1_000


def _scheduler(text: str) -> str:
    """An argparse type: a scheduler address with a host and a port, checked before anything connects."""
    match = _SCHEDULER.match(text.strip())
    if match is None or not 0 < int(match.group(1)) < 65536:
        raise argparse.ArgumentTypeError(f"expected an address such as tcp://host:8786, got {text!r}")
    return text.strip()


def _share(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0.02 is 2%), got {text}")
    return value


def _sweep_values(text: str) -> str:
    """An argparse type: at most MAX_SWEEP_VALUES values, counted before any is made (the values themselves are
    checked by the sweep)."""
    parts = text.split(":")
    count = len([p for p in text.split(",") if p.strip()])
    if len(parts) == 3:
        try:
            count = int(parts[2])
        except ValueError:
            return text  # the sweep says what is wrong with it
    if count > MAX_SWEEP_VALUES:
        raise argparse.ArgumentTypeError(f"at most {MAX_SWEEP_VALUES:,} values, got {count:,}")
    return text


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
    command.add_argument(
        "--scheduler", type=_scheduler, metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786"
    )
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
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its finished replications (same scenario and seed)",
    )
    run.add_argument(
        "--precision",
        type=_share,
        metavar="P",
        help="add replications until every strategy's NPV and NPV difference from the baseline has a 95%% CI "
        "half-width within P of its mean (0.02: 2%%)",
    )
    run.add_argument(
        "--max-replications",
        type=_positive,
        metavar="N",
        help="with --precision: stop at N replications at most (default 1000)",
    )

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
        "--values",
        type=_sweep_values,
        required=True,
        metavar="V1,V2,...",
        help="ascending values, or START:STOP:N for N evenly spaced",
    )
    sweep.add_argument("--out", metavar="DIR", help="output folder (default: reports/<scenario file name>-sweep)")
    _add_experiment_options(sweep)
    sweep.add_argument("--no-report", action="store_true", help="draw no sweep.png/sweep.svg (faster)")

    report = sub.add_parser("report", help="render report.html and charts/ again from an existing run directory")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument("--quiet", action="store_true", help="print nothing")

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    schema.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    staff = staff_command.add_parser(sub)
    shipped.add_parsers(sub)
    # `reachsim run FILE --debug` works as well as `reachsim --debug run`
    for command in (validate, run, sweep, report, schema, staff):
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser
