"""Problem reporting: one ``file:line: path.to.field: message`` line per thing wrong, and typo hints.

Used by every layer that refuses input: the scenario loader, the command line, timeline checks.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable

__all__ = ["Problem", "ScenarioError", "ScenarioWarning", "did_you_mean", "sort_problems", "suggest"]


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
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class ScenarioError(Exception):
    """Invalid scenario input: every problem found, one per line when printed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


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
