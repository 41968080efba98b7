"""``sources.json``: the source note of every input of a run, kept beside the resolved scenario that lost them.

A run directory's ``scenario.yaml`` is written by a program and holds no comments, so the notes that say where
each number comes from (:mod:`reachsim.scenario.resolved_notes`) travel in a file of their own::

    {
      "format": "reachsim.sources/1",
      "scenario_sha256": "…",        (the scenario.yaml these notes describe, as in summary.json)
      "values": {
        "market.size": {"note": "assumption: a regional consumer market", "grade": null, "assumption": true},
        "strategies.push_free.channels[0].acquisition.paid.cpm":
            {"note": "§3 AdStage Q1 2019: News Feed median CPM $8.40 (B)", "grade": "B", "assumption": false},
        "strategies.push_free.channels[0].type": null,
        …
      }
    }

``values`` has a key for every value the scenario file wrote (its dotted path in the resolved scenario, per
strategy after ``extends``): the note, or null for a value written without one. A value that is not there was not
written: a default. A run directory without the file (made before it existed, from a TOML file, or in code
without notes) still renders; its report says the sources were not recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reachsim.core.paths import format_path
from reachsim.scenario.notes import GRADES, Note

__all__ = ["FILE", "FORMAT", "GRADES", "Note", "document", "parse", "sources_for"]

FILE = "sources.json"
FORMAT = "reachsim.sources/1"
#: sources.json is read whole: a larger one is not a list of notes.
MAX_BYTES = 64 * 2**20
_GRADE = re.compile(r"^[A-D](?:/[A-D])?$")


def document(notes: Mapping[str, Note | None], scenario_text: str) -> str:
    """The text of sources.json for ``notes`` (by dotted path in the resolved scenario) and the scenario.yaml text
    written beside it."""
    values = {
        path: None if note is None else {"note": note.text, "grade": note.grade, "assumption": note.assumption}
        for path, note in notes.items()
    }
    body = {"format": FORMAT, "scenario_sha256": _sha256(scenario_text.encode("utf-8")), "values": values}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def parse(raw: bytes, scenario_sha256: str) -> dict[str, Note | None]:
    """The notes of a sources.json's bytes, by dotted path; ValueError (one line, saying what is wrong) unless it
    is one, written for the scenario whose SHA-256 is ``scenario_sha256``."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 2**20} MB: not a list of source notes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ValueError("nested too deeply: not a list of source notes") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError(f"not a reachsim sources file (expected \"format\": \"{FORMAT}\")")
    if body.get("scenario_sha256") != scenario_sha256:
        raise ValueError(
            "written for another scenario.yaml than the one beside it (its scenario_sha256 differs): the folder "
            "mixes files of two runs; run the scenario again"
        )
    values = body.get("values")
    if not isinstance(values, dict):
        raise ValueError("values: expected a mapping of input paths to notes")
    notes: dict[str, Note | None] = {}
    for path, entry in values.items():
        problem = _entry_problem(entry)
        if problem is not None:
            raise ValueError(f"values.{path}: {problem}")
        notes[path] = None if entry is None else Note(entry["note"], entry["grade"], entry["assumption"])
    return notes


def _entry_problem(entry: Any) -> str | None:
    if entry is None:
        return None
    if not isinstance(entry, dict) or set(entry) != {"note", "grade", "assumption"}:
        return "expected null or {note, grade, assumption}"
    if not isinstance(entry["note"], str):
        return "note must be text"
    if entry["grade"] is not None and not (isinstance(entry["grade"], str) and _GRADE.match(entry["grade"])):
        return "grade must be null or A, B, C, D (or two of them, as A/B)"
    if not isinstance(entry["assumption"], bool):
        return "assumption must be true or false"
    return None


def sources_for(path: str | os.PathLike[str]) -> dict[str, Note | None] | None:
    """The notes a run of the scenario file ``path`` records: the file's own (see
    :func:`reachsim.scenario.resolved_notes.scenario_notes`), unless it is a run directory's ``scenario.yaml`` with
    the ``sources.json`` made for it beside it — then that file's, so that running a run directory's scenario
    again gives the same files. None when the file's notes cannot be read (TOML)."""
    from reachsim.scenario.resolved_notes import scenario_notes

    file = Path(path)
    beside = file.with_name(FILE)
    if beside.is_file():
        try:
            kept = parse(beside.read_bytes(), _sha256(file.read_bytes()))
        except (OSError, ValueError):
            pass  # not the notes of this file: read its own
        else:
            return kept
    notes = scenario_notes(file)
    return None if notes is None else {format_path(loc): note for loc, note in notes.items()}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
