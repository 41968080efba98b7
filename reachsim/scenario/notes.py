"""The source note of every value in a YAML scenario: the comment that says where a number comes from.

Scenario authors cite their sources the way a YAML file allows, with a trailing comment::

    market:
      size: 200000                    # assumption: a regional consumer market
      segments:                       # assumption: a fifth of the market loyal
        - {name: loyal, share: 0.2, value_per_engagement: 0.50}
    ...
          cpm: 8.40                   # §3 AdStage Q1 2019: News Feed median CPM $8.40 (B)

:func:`source_notes` maps the location of every scalar value (the tuples pydantic and :mod:`reachsim.core.paths`
use, e.g. ``("strategies", "push_free", "channels", 0, "engagement", "probability")``) to its :class:`Note`: the
trailing comment on the value's own line, else the one on the line of its nearest ancestor key (so a comment on
``segments:`` covers every value beneath it that has none of its own). With ``inherit=False`` only the value's own
line counts — the rule a shipped scenario is held to, where a number is sourced by the comment beside it (a
flow-style mapping or list on one line shares that line's comment), never by one on a parent key. Lines come
from ``yaml.compose`` with the safe loader and comments from the scanner's token positions: nothing in the text
is ever executed.

A note's reliability grade is read from the text — ``(A)``, ``(A/B)``, ``(Octane AI, C)``, ``grade C`` — in the
reference table's scale: A official documentation, filings or peer-reviewed papers; B large-sample benchmarks with
a stated method; C vendor blogs and thin surveys; D unsourced claims. When a note cites several, the least
reliable one is kept: a number is no better than its weakest source. A note that says "assumption" is flagged so.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import yaml

__all__ = ["GRADES", "Note", "parse_grade", "source_notes"]

Loc = tuple[str | int, ...]

#: The reliability grades of the reference table of published figures, most reliable first.
GRADES = {
    "A": "official platform documentation, financial filing or peer-reviewed paper",
    "B": "large-sample vendor benchmark with a stated method",
    "C": "vendor or agency blog, survey with little method, or a secondary citation",
    "D": "unsourced claim: used for ranges only",
}

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: ``(B)``, ``(A/B)``, ``(Octane AI, C)``: a grade alone at the end of a parenthesis.
_GRADE_IN_PARENS = re.compile(r"\((?:[^()]*?[,;]\s*)?([A-D](?:\s*/\s*[A-D])?)\)")
#: ``grade C``, ``grade: B/C``.
_GRADE_WORD = re.compile(r"\bgrade:?\s+([A-D](?:\s*/\s*[A-D])?)\b", re.IGNORECASE)
_ASSUMPTION = re.compile(r"\bassum(?:ption|ptions|ed|e|es|ing)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Note:
    """A value's source note: the comment's text (without ``#``), the least reliable grade it cites (``"B"``,
    ``"A/B"``) or None, and whether it calls the value an assumption."""

    text: str
    grade: str | None
    assumption: bool

    @classmethod
    def of(cls, text: str) -> Note:
        """The note of a comment's text."""
        text = text.strip()
        return cls(text, parse_grade(text), bool(_ASSUMPTION.search(text)))


def parse_grade(text: str) -> str | None:
    """The least reliable grade cited in ``text`` (``"(B) … (C)"`` → ``"C"``; ``"A/B"`` ranks below ``"A"``
    and above ``"B"``), as written without spaces; None when it cites none."""
    found = [m.group(1) for m in _GRADE_IN_PARENS.finditer(text)]
    found += [m.group(1).upper() for m in _GRADE_WORD.finditer(text)]
    if not found:
        return None
    grades = [re.sub(r"\s+", "", g) for g in found]
    return max(grades, key=lambda g: (max(g.split("/")), min(g.split("/"))))


def source_notes(text: str, *, inherit: bool = True) -> dict[Loc, Note]:
    """Map the location of every scalar value in the YAML ``text`` to its note (values without any note are left
    out): the comment on the value's own line, else (when ``inherit``) the one on its nearest ancestor key's line.
    Raises ``yaml.YAMLError`` for text that is not YAML."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return {}
    comments = _trailing_comments(text)
    notes: dict[Loc, Note] = {}
    for loc, value_line, lines in _leaves(root):
        for line in (value_line, *reversed(lines)) if inherit else (value_line,):
            comment = comments.get(line)
            if comment is not None:
                notes[loc] = Note.of(comment)
                break
    return notes


def _trailing_comments(text: str) -> dict[int, str]:
    """Comment text by 0-based line, for lines where a comment follows a value or key (whole-line comments,
    which describe what comes next rather than a value of their own line, are left out)."""
    spans = sorted((t.start_mark.index, t.end_mark.index) for t in yaml.scan(text, Loader=yaml.SafeLoader))
    starts = [s for s, _ in spans]
    comments: dict[int, str] = {}
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        for match in re.finditer(r"(?:^|(?<=\s))#", line):
            at = offset + match.start()
            i = bisect.bisect_right(starts, at) - 1
            if i >= 0 and spans[i][0] <= at < spans[i][1]:
                continue  # inside a quoted or block scalar
            if line[: match.start()].strip():
                comments[number] = line[match.end() :].strip()
            break
        offset += len(line)
    return comments


def _leaves(root: yaml.Node) -> list[tuple[Loc, int, list[int]]]:
    """Every scalar below ``root``: (location, line of the value, lines of the location's keys from the root)."""
    out: list[tuple[Loc, int, list[int]]] = []
    stack: list[tuple[yaml.Node, Loc, list[int], frozenset[int]]] = [(root, (), [], frozenset())]
    while stack:
        node, loc, lines, seen = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if loc:
                out.append((loc, node.start_mark.line, lines))
            continue
        if id(node) in seen:  # a recursive alias
            continue
        seen = seen | {id(node)}
        children = _entries(node) if isinstance(node, yaml.MappingNode) else _items(node)
        for key, line, child in reversed(children):
            stack.append((child, (*loc, key), [*lines, line], seen))
    return out


def _items(node: yaml.Node) -> list[tuple[str | int, int, yaml.Node]]:
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [(i, item.start_mark.line, item) for i, item in enumerate(node.value)]


def _entries(node: yaml.MappingNode) -> list[tuple[str | int, int, yaml.Node]]:
    """A mapping's (key, line of the key, value), merge keys (``<<: *defaults``) expanded; an explicit key wins
    over a merged one, as YAML says."""
    own: list[tuple[str | int, int, yaml.Node]] = []
    merged: list[tuple[str | int, int, yaml.Node]] = []
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged.extend(_entries(source))
        elif isinstance(key, yaml.ScalarNode):
            own.append((key.value, key.start_mark.line, value))
    names = {k for k, _, _ in own}
    extra: dict[str | int, tuple[str | int, int, yaml.Node]] = {}
    for entry in merged:
        if entry[0] not in names:
            extra.setdefault(entry[0], entry)
    return [*own, *extra.values()]
