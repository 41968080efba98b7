"""The command line: a thin layer over the public API.

Exit codes: 0 success; 2 invalid input (scenario or arguments), one ``file:line: field: message`` line per
problem and no traceback; 1 anything else (one-line cause; the traceback with ``--debug``); 130 interrupted
(the replications that finished are written).

``parser`` holds the arguments, ``commands`` what each command does, ``terminal`` what is printed. Only what a
command needs is imported when it runs, so ``reachsim --version`` loads no simulation code.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from reachsim.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from reachsim.cli.parser import UsageError, build_parser

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.version:
            from reachsim import __version__

            print(f"reachsim {__version__}")
            return EXIT_OK
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    from reachsim.cli import commands, shipped, staff, terminal
    from reachsim.core.problems import ScenarioError, shown_lines

    err = terminal.console(stderr=True)
    try:
        if args.command is None:
            names = "validate, run, sweep, report, schema, staff, scenarios, init"
            raise UsageError(f"reachsim: a command is required ({names}); see reachsim --help")
        handlers = {
            "validate": commands.validate,
            "run": commands.run,
            "sweep": commands.sweep,
            "report": commands.report,
            "schema": commands.schema,
            "staff": staff.run,
            "scenarios": shipped.scenarios,
            "init": shipped.init,
        }
        with scenario_warnings_printed(err.print):
            return handlers[args.command](args)
    except UsageError as exc:
        err.print(str(exc), markup=False)
        return EXIT_USAGE
    except ScenarioError as exc:
        for line in shown_lines(exc.problems, more=exc.more):
            err.print(line, markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return EXIT_INTERRUPTED
    except commands.Failed as exc:
        if debug:
            traceback.print_exc()
        err.print(f"error: {exc}", markup=False)
        return EXIT_ERROR
    except Exception as exc:  # the one place that turns unexpected failures into exit 1
        if debug:
            traceback.print_exc()
        err.print(f"error: {type(exc).__name__}: {exc}", markup=False)
        if not debug:
            err.print("(run with --debug for the traceback)", markup=False)
        return EXIT_ERROR


@contextmanager
def scenario_warnings_printed(say: Callable[[str], Any]) -> Iterator[None]:
    """Every scenario warning issued in the block is said as one ``file:line: warning: field: message`` line
    (each time, not once per place in the code); other warnings are shown as Python shows them."""
    from reachsim.core.problems import ScenarioWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", ScenarioWarning)
        python_shows = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if isinstance(message, ScenarioWarning):
                say(str(message))
            else:
                python_shows(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield
