"""``reachsim scenarios`` and ``reachsim init``: the shipped scenarios, each answering one strategist's question,
as starting points.

The scenarios live in the source tree's ``scenarios/`` folder and are installed with the package under
``<prefix>/share/reachsim/scenarios`` (pyproject's data files); each starts with a comment whose first line is its
question.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from reachsim.cli import terminal
from reachsim.cli.exit_codes import EXIT_OK, UsageError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("scenarios", help="list the shipped scenarios and the question each answers")
    init = sub.add_parser("init", help="copy a shipped scenario as a starting point (never overwrites)")
    init.add_argument("name", metavar="NAME", help="a shipped scenario (see reachsim scenarios)")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where to put the copy (default: here)")


def folder() -> Path:
    """Where the shipped scenarios are: the source tree's, or the installed copy."""
    for candidate in (Path(__file__).resolve().parents[2] / "scenarios", Path(sys.prefix) / "share" / "reachsim" /
                      "scenarios"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise UsageError("reachsim: the shipped scenarios are not installed (reinstall reachsim)")


def question(path: Path) -> str:
    """The first paragraph of the scenario's header comment: the question it answers."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text.startswith("#"):
            break
        text = text.lstrip("#").strip()
        if not text:
            break
        words.append(text)
        if text.endswith("?"):
            break
    return " ".join(words)


def shipped() -> dict[str, Path]:
    return {path.stem: path for path in sorted(folder().glob("*.yaml"))}


def scenarios(args: argparse.Namespace) -> int:
    from rich.table import Table

    table = Table(title="Shipped scenarios (reachsim init NAME copies one)")
    table.add_column("name")
    table.add_column("question it answers")
    for name, path in shipped().items():
        table.add_row(name, question(path))
    terminal.console().print(table)
    return EXIT_OK


def init(args: argparse.Namespace) -> int:
    available = shipped()
    source = available.get(Path(args.name).stem)
    if source is None:
        from reachsim.core.problems import did_you_mean

        raise UsageError(
            f"reachsim init: no shipped scenario named {args.name!r}{did_you_mean(args.name, available)}; "
            f"available: {', '.join(available)}"
        )
    target_dir = Path(args.dir)
    if target_dir.exists() and not target_dir.is_dir():
        raise UsageError(f"reachsim init: {str(target_dir)!r} exists and is not a folder")
    target = target_dir / source.name
    if target.exists():
        raise UsageError(f"reachsim init: {target} already exists; not overwriting it (remove it or pick another DIR)")
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    print(f"wrote {target}: {question(source)}")
    print(f"run it with: reachsim run {target}")
    return EXIT_OK
