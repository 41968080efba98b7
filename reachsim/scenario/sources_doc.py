"""``docs/sources.md``: every source the shipped scenarios cite, with its grade and what cites it, generated.

The scenarios' source notes (:mod:`reachsim.scenario.notes`) cite rows of the reference table of published figures
as ``§N source: figure (grade)``; this module gathers the citations of every note of every scenario file, groups
them by section and source, and lists the assumptions apart. A test fails when the committed file is stale::

    python -m reachsim.scenario.sources_doc            # from the repository root: writes docs/sources.md
    python -m reachsim.scenario.sources_doc --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reachsim.core.paths import format_path, is_number
from reachsim.scenario.notes import GRADES, Note, parse_grade, source_notes

__all__ = ["OUTPUT", "REGENERATE", "SCENARIOS_DIR", "Citation", "citations", "main", "render_sources", "stale"]

SCENARIOS_DIR = Path("scenarios")
OUTPUT = Path("docs") / "sources.md"
REGENERATE = "python -m reachsim.scenario.sources_doc"

#: The sections of the reference table of published figures, by number.
SECTIONS = {
    1: "Facebook Messenger platform rules",
    2: "Facebook Page organic reach",
    3: "Facebook ad costs (CPM, CPC, boosting, click-to-Messenger)",
    4: "Messaging and email engagement benchmarks",
    5: "Mobile app: build, maintenance, acquisition",
    6: "Mobile app: retention, uninstalls, push notifications",
    7: "Notification fatigue (push)",
    8: "Support automation and call centres",
    9: "Adoption / opt-in growth (Bass diffusion)",
}

#: ``§3 AdStage Q1 2019: News Feed median CPM $8.40 (B)``: a citation opens with its section; it runs to the next
#: ``§`` or ``;`` and closes with its grade, the last parenthesis in it that is one (``5.2% (2020) (C)``).
_SECTION = re.compile(r"§\s*(\d+)\s+")
_PARENTHESIS = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Citation:
    """One ``§N source: figure (grade)`` in a note."""

    section: int
    source: str
    figure: str
    grade: str


def citations(text: str) -> list[Citation]:
    """The citations in a note's text, in order. A citation's grade is the last parenthesis before the next ``§``
    or ``;`` that holds one; earlier parentheses (a year, a date) are part of its figure, and a citation without
    a grade is none."""
    found = []
    for match in _SECTION.finditer(text):
        span = re.split(r"[§;]", text[match.end() :], maxsplit=1)[0]
        graded = [(p.start(), g) for p in _PARENTHESIS.finditer(span) if (g := parse_grade(p.group())) is not None]
        if not graded:
            continue
        end, grade = graded[-1]
        source, _, figure = span[:end].partition(":")
        found.append(Citation(int(match.group(1)), source.strip().rstrip(" ,"), figure.strip().rstrip(" ,"), grade))
    return found


@dataclass
class _Row:
    grades: set[str] = field(default_factory=set)
    figures: list[str] = field(default_factory=list)
    cited_by: dict[str, list[str]] = field(default_factory=dict)


def _numbers(data: Any, loc: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numbers(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numbers(value, (*loc, i))
    elif is_number(data):
        yield loc, data


def _field(data: Any, loc: tuple[str | int, ...]) -> str:
    """``strategies.S.channels[i].x.y`` → ``S: <channel name>.x.y``; other paths as they are."""
    if len(loc) > 4 and loc[0] == "strategies" and loc[2] == "channels" and isinstance(loc[3], int):
        channel = data["strategies"][loc[1]]["channels"][loc[3]]
        name = channel.get("name") or channel.get("type") or f"channels[{loc[3]}]"
        return f"{loc[1]}: {name}.{format_path(loc[4:])}"
    return format_path(loc)


def _add(cited_by: dict[str, list[str]], scenario: str, what: str) -> None:
    fields = cited_by.setdefault(scenario, [])
    if what not in fields:
        fields.append(what)


def _gather(files: Sequence[Path]) -> tuple[dict[tuple[int, str], _Row], dict[str, dict[str, list[str]]]]:
    rows: dict[tuple[int, str], _Row] = {}
    assumptions: dict[str, dict[str, list[str]]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        notes: dict[tuple[str | int, ...], Note] = source_notes(text, inherit=False)
        for loc, _ in _numbers(data):
            note = notes.get(loc)
            if note is None:
                continue
            what = _field(data, loc)
            for cite in citations(note.text):
                row = rows.setdefault((cite.section, cite.source), _Row())
                row.grades.add(cite.grade)
                if cite.figure and cite.figure not in row.figures:
                    row.figures.append(cite.figure)
                _add(row.cited_by, path.name, what)
            if note.assumption:
                _add(assumptions.setdefault(note.text, {}), path.name, what)
    return rows, assumptions


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cited_by(cited_by: dict[str, list[str]], link_prefix: str) -> str:
    parts = []
    for scenario in sorted(cited_by):
        fields = ", ".join(f"`{f}`" for f in cited_by[scenario])
        parts.append(f"[{scenario}]({link_prefix}{scenario}): {fields}")
    return "<br>".join(parts)


def render_sources(scenarios_dir: str | Path = SCENARIOS_DIR, link_prefix: str = "../scenarios/") -> str:
    """The Markdown of docs/sources.md for the scenario files in ``scenarios_dir``."""
    files = sorted(Path(scenarios_dir).glob("*.yaml"))
    rows, assumptions = _gather(files)
    out = [
        "# Sources cited by the shipped scenarios",
        "",
        f"<!-- Generated by `{REGENERATE}` from the scenario files; do not edit by hand. -->",
        "",
        "Every number in a file of `scenarios/` carries a source note: a trailing comment on its own line (a "
        "mapping or list written on one line shares that line's comment) that cites a row of the reference "
        "table of published figures as "
        "`§N source: figure (grade)`, or says `assumption` and why. This page lists every source cited, by "
        "section of that table, with its reliability grade and the fields that cite it, and then every "
        "assumption. A field is listed as `strategy: channel.parameter`.",
        "",
        "Reliability grades: " + "; ".join(f"**{g}** {meaning}" for g, meaning in GRADES.items()) + ". "
        "`A/B` and the like sit between two grades; a note citing several sources is as reliable as its weakest.",
        "",
        "Scenarios: " + ", ".join(f"[{p.name}]({link_prefix}{p.name})" for p in files) + ".",
        "",
    ]
    for section in sorted({s for s, _ in rows}):
        out += [f"## §{section} {SECTIONS.get(section, 'Other sources')}", ""]
        out += ["| source | grade | figures cited | cited by |", "|---|---|---|---|"]
        for (_, source), row in sorted((k, v) for k, v in rows.items() if k[0] == section):
            grades = ", ".join(sorted(row.grades))
            figures = "; ".join(row.figures) or "—"
            out.append(
                f"| {_cell(source)} | {grades} | {_cell(figures)} | {_cited_by(row.cited_by, link_prefix)} |"
            )
        out.append("")
    out += [
        "## Assumptions",
        "",
        "Numbers that no source in the table gives, each with the reason its note states (notes that also cite a "
        "source appear above too).",
        "",
        "| assumption | cited by |",
        "|---|---|",
    ]
    for text, cited_by in sorted(assumptions.items(), key=lambda kv: kv[0].lower()):
        out.append(f"| {_cell(text)} | {_cited_by(cited_by, link_prefix)} |")
    out.append("")
    return "\n".join(out)


def stale(output: str | Path = OUTPUT, scenarios_dir: str | Path = SCENARIOS_DIR) -> bool:
    """Whether ``output`` is missing or differs from what the scenario files give now."""
    path = Path(output)
    return not path.is_file() or path.read_text(encoding="utf-8") != render_sources(scenarios_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{REGENERATE}", description="Write docs/sources.md: every source the shipped scenarios cite."
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is stale")
    parser.add_argument("--scenarios", default=str(SCENARIOS_DIR), metavar="DIR", help="scenario folder")
    parser.add_argument("--out", default=str(OUTPUT), metavar="FILE", help=f"output file (default: {OUTPUT})")
    args = parser.parse_args(argv)
    if args.check:
        if stale(args.out, args.scenarios):
            print(f"{args.out}: stale; regenerate it with `{REGENERATE}` from the repository root", file=sys.stderr)
            return 1
        return 0
    from reachsim.core.atomic import write_text

    write_text(Path(args.out), render_sources(args.scenarios))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
