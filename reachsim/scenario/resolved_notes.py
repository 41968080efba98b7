"""The source note of every value of a scenario as it runs: after ``extends`` and inline distributions are resolved.

A run directory's ``scenario.yaml`` is the resolved scenario, and YAML written by a program has no comments: the
notes that say where each number comes from (:mod:`reachsim.scenario.notes`) would be lost on the way. This maps
each location of the resolved scenario that the file wrote to the note written beside it, so that the run can keep
them (``sources.json``) and its report show them:

* a value a strategy inherits through ``extends`` keeps the note written beside it in the parent; a value the
  strategy sets itself has its own note (:func:`reachsim.scenario.inherit.resolve_origins` says which is which);
* a distribution written in place of a number (``{dist: uniform, low: 1, high: 2}``) gives its note to the number
  that stands in its place and to its entry in the ``uncertainty`` list, as loading moves it there;
* a value written without any note maps to None; values the file does not write (defaults) are left out.

Notes are read from YAML only: JSON has no comments (every value maps to None), and TOML's are not read (None:
nothing recorded).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from reachsim.core.paths import MISSING, get_in
from reachsim.scenario.inherit import resolve_origins
from reachsim.scenario.notes import Note, source_notes
from reachsim.scenario.source import load_source
from reachsim.scenario.uncertainty import extract_inline

__all__ = ["resolved_notes", "scenario_notes"]

Loc = tuple[str | int, ...]


def scenario_notes(path: str | os.PathLike[str]) -> dict[Loc, Note | None] | None:
    """The notes of the scenario file at ``path`` (see the module docstring); None for a TOML file (or YAML whose
    comments cannot be read). Raises :class:`~reachsim.scenario.errors.ScenarioError` if the file cannot be read
    as a scenario."""
    suffix = Path(path).suffix.lower()
    if suffix == ".toml":
        return None
    source = load_source(path)
    try:
        notes = {} if suffix == ".json" else source_notes(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError:  # read by the scenario reader, not by the comment reader: no notes rather than no run
        return None
    return resolved_notes(source.data, notes)


def resolved_notes(data: dict[str, Any], notes: dict[Loc, Note]) -> dict[Loc, Note | None]:
    """Every scalar the scenario mapping ``data`` (as read from its file) writes, at its location in the resolved
    scenario, with its note from ``notes`` (the file's notes by location in the file) or None."""
    marks: dict[Any, Any] = {loc: loc for loc, _ in _walk({k: v for k, v in data.items() if k != "strategies"})}
    resolved = data
    if isinstance(data.get("strategies"), dict):
        strategies, origins = resolve_origins(data["strategies"])
        resolved = {**data, "strategies": strategies}
        marks.update(origins)
    # Loading moves each inline distribution into the uncertainty list and leaves its central number in its place:
    # the same here, the marks of where each was written following it.
    resolved, _ = extract_inline(resolved, marks)
    out: dict[Loc, Note | None] = {}
    for loc, value in _walk(resolved):
        if isinstance(value, dict | list):
            continue
        origin = marks.get(loc)
        written = get_in(data, origin) if origin is not None else MISSING
        if isinstance(written, dict) and isinstance(written.get("dist"), str):
            out[loc] = notes.get((*origin, "dist"))  # the number standing in for a distribution
        elif written is not MISSING and not isinstance(written, dict | list):
            out[loc] = notes.get(origin)
    return out


def _walk(data: Any) -> list[tuple[Loc, Any]]:
    """Every location below ``data`` (mappings and lists included) with its value, in document order."""
    found: list[tuple[Loc, Any]] = []
    stack: list[tuple[Loc, Any]] = [((), data)]
    while stack:
        here, value = stack.pop()
        if here:
            found.append((here, value))
        if isinstance(value, dict):
            stack.extend(((*here, key), item) for key, item in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*here, index), item) for index, item in reversed(list(enumerate(value))))
    return found
