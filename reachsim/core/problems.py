"""Problem reporting: one ``file:line: path.to.field: message`` line per thing wrong, and typo hints.

Used by every layer that refuses input: the scenario loader, the command line, timeline checks.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable

__all__ = [
    "MAX_SHOWN",
    "Problem",
    "ScenarioError",
    "ScenarioWarning",
    "did_you_mean",
    "printable",
    "shown_lines",
    "sort_problems",
    "suggest",
]

#: At most this many problems are printed; the rest are counted ("… and 12 more").
MAX_SHOWN = 50
#: What a problem line may not show as it is: control characters (line breaks included: a problem is one line)
#: and the marks that reorder text on screen.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with each control character written as an escape (``\\x1b``), so that a file name, key or value
    quoted in a message can neither drive the terminal nor break the one-line format."""
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (file, line, dotted field path) and what (message)."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            return printable(f"{where}: {self.field}: {self.message}")
        return printable(f"{where}: {self.message}")


class ScenarioError(Exception):
    """Invalid scenario input: every problem found, one per line when printed.

    ``more`` counts problems found but not described (a file with thousands of them): they are only counted."""

    def __init__(self, problems: Iterable[Problem], more: int = 0) -> None:
        self.problems: list[Problem] = list(problems)
        self.more = more
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(shown_lines(self.problems, more=self.more, limit=len(self.problems)))


def shown_lines(problems: Iterable[Problem], *, more: int = 0, limit: int = MAX_SHOWN) -> list[str]:
    """The lines to print for ``problems``: the first ``limit``, then "… and N more" for the rest (and for
    ``more`` problems that were only counted)."""
    problems = list(problems)
    lines = [str(problem) for problem in problems[:limit]]
    rest = max(len(problems) - limit, 0) + more
    if rest:
        lines.append(f"… and {rest:,} more")
    return lines


class ScenarioWarning(UserWarning):
    """Valid scenario input that is probably not what was meant (an app launched after the horizon).

    Issued with :func:`warnings.warn` when a scenario loads, so code that loads scenarios sees it as any Python
    warning; the command line prints it as ``file:line: warning: path.to.field: message`` and goes on."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem)

    def __str__(self) -> str:
        p = self.problem
        where = p.file if p.line is None else f"{p.file}:{p.line}"
        return f"{where}: warning: " + (f"{p.field}: {p.message}" if p.field else p.message)


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``name`` (a likely typo of it), or None when nothing is close enough."""
    options = [str(choice) for choice in choices]
    matches = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {option.lower(): option for option in options}
    return lowered.get(str(name).lower())


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``name``, else an empty string."""
    hint = suggest(name, choices)
    return f" (did you mean '{hint}'?)" if hint is not None else ""


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """By line (problems without a line last), keeping the given order among equal lines."""
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))
