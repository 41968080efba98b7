"""The report's Assumptions: every input of every strategy, with the source its scenario file gives and its grade.

Read from the run directory alone: the resolved scenario (``scenario.yaml``: every value that ran, defaults filled
in) and the notes beside it (``sources.json``). The inputs are laid out the way a comparison reads: what every
strategy shares (the market, the horizon) once; the baseline strategy's channels and timeline in full; each other
strategy only where it differs from the baseline, with the baseline's value beside it. A value the scenario file
did not write is a default; one it wrote without a note says so. Without ``sources.json`` (a run directory made
before it existed, or from a TOML file) the values are still listed, and the section says that their sources were
not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from reachsim.core.paths import format_path
from reachsim.results.rundata import RunData
from reachsim.results.sources import GRADES, Note

__all__ = ["Assumptions", "Group", "Row", "Source", "StrategyInputs", "assumptions", "value_text"]

Loc = tuple[str | int, ...]

#: Top-level keys shown elsewhere: the title, the settings of the run (in the provenance: they frame the question
#: and need no source), and the strategies and uncertainty (with the values they concern).
NOT_SHARED = frozenset(
    {"name", "description", "baseline", "seed", "replications", "horizon_days", "strategies", "uncertainty"}
)
#: Keys of a channel that name it rather than set it.
CHANNEL_NAMING = frozenset({"type", "name"})


@dataclass(frozen=True)
class Source:
    """What the source column says of a value.

    ``kind``: ``cited`` (the note cites a graded source: ``grade``), ``assumption`` (it says assumption and cites
    no grade), ``uncited`` (a note that does neither), ``missing`` (written without a note), ``default`` (not
    written: reachsim's default) or ``unrecorded`` (the run kept no notes)."""

    kind: str
    text: str = ""
    grade: str | None = None
    assumption: bool = False


@dataclass(frozen=True)
class Row:
    """One input: its label, its value as written, how it varies by replication (empty when it does not), its
    source, and — in a strategy other than the baseline — the baseline's value (``"not set"`` where the baseline
    has none)."""

    key: str
    label: str
    value: str
    varies: str
    source: Source
    baseline: str | None = None


@dataclass
class Group:
    """The inputs of one channel (``kind`` its type), of the timeline, or shared; ``remark`` says how the group
    stands against the baseline (a channel the baseline does not have, or one this strategy drops)."""

    key: str
    title: str
    kind: str = ""
    remark: str = ""
    rows: list[Row] = field(default_factory=list)


@dataclass
class StrategyInputs:
    name: str
    colour: str
    baseline: bool
    groups: list[Group]
    #: Channels (titles) this strategy has exactly as the baseline has them.
    unchanged: list[str] = field(default_factory=list)


@dataclass
class Assumptions:
    recorded: bool
    shared: Group
    strategies: list[StrategyInputs]
    baseline: str
    tally: list[str]
    grades: list[tuple[str, str]]


def assumptions(data: RunData, colour: Callable[[str], str]) -> Assumptions | None:
    """The inputs of the run in ``data`` laid out for the report; None if its scenario.yaml cannot be read."""
    scenario = data.scenario
    strategies = scenario.get("strategies") if scenario is not None else None
    if not isinstance(strategies, dict) or not strategies:
        return None
    look = _Lookup(data.sources, _uncertain(scenario))
    shared = Group("shared", "Shared by every strategy", rows=[look.row(loc, value, _shared_label(scenario, loc))
                                                                for loc, value in _shared(scenario)])
    baseline = data.baseline if data.baseline in strategies else next(iter(strategies))
    base_groups = _groups(baseline, strategies[baseline], look)
    laid_out = [StrategyInputs(baseline, colour(baseline), True, base_groups)]
    for name, body in strategies.items():
        if name != baseline:
            groups, unchanged = _differences(_groups(name, body, look), base_groups)
            laid_out.append(StrategyInputs(name, colour(name), False, groups, unchanged))
    shown = [*shared.rows, *(row for s in laid_out for g in s.groups for row in g.rows if row.value != "—")]
    return Assumptions(
        recorded=data.sources is not None,
        shared=shared,
        strategies=laid_out,
        baseline=baseline,
        tally=_tally(shown) if data.sources is not None else [],
        grades=list(GRADES.items()),
    )


# -- values ------------------------------------------------------------------------------------------------------


def value_text(value: Any) -> str:
    """A value as a strategist reads it: thousands separators, the decimals as written, ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:,}"
    if value is None:
        return "—"
    return str(value)


def _leaves(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every scalar below ``value`` with its location, in document order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*loc, index))
    else:
        yield loc, value


def _shared(scenario: dict[str, Any]) -> Iterator[tuple[Loc, Any]]:
    for key, value in scenario.items():
        if key not in NOT_SHARED:
            for loc, leaf in _leaves(value, (key,)):
                if not (loc[:2] == ("market", "segments") and loc[3:] == ("name",)):
                    yield loc, leaf


def _shared_label(scenario: dict[str, Any], loc: Loc) -> str:
    """``market.segments[0].share`` → ``market: segment loyal, share``; others as their path."""
    if loc[:2] == ("market", "segments") and len(loc) > 3 and isinstance(loc[2], int):
        segment = scenario["market"]["segments"][loc[2]]
        name = segment.get("name", loc[2]) if isinstance(segment, dict) else loc[2]
        return f"market: segment {name}, {format_path(loc[3:])}"
    return format_path(loc)


def _uncertain(scenario: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The inputs drawn per replication, by dotted path: (how they vary, the path of the entry's ``dist``, whose
    note speaks for a distribution given in the ``uncertainty`` list rather than in place)."""
    entries = scenario.get("uncertainty")
    strategies = scenario.get("strategies") or {}
    out: dict[str, tuple[str, str]] = {}
    for k, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        how = ", ".join(f"{key} {value_text(v)}" for key, v in entry.items() if key not in ("dist", "path"))
        text = f"{entry.get('dist', 'distribution')}: {how}" if how else str(entry.get("dist", ""))
        path = entry["path"]
        head, _, rest = path.partition(".")
        if head != "channels":
            out[path] = (text, f"uncertainty[{k}].dist")
            continue
        name, _, param = rest.partition(".")
        for strategy, body in strategies.items():
            channels = body.get("channels") if isinstance(body, dict) else None
            for i, channel in enumerate(channels if isinstance(channels, list) else []):
                if isinstance(channel, dict) and (channel.get("name") or channel.get("type")) == name:
                    out[f"{format_path(('strategies', strategy, 'channels', i))}.{param}"] = (
                        text, f"uncertainty[{k}].dist")
    return out


class _Lookup:
    """Rows made from values: their source note and how they vary."""

    def __init__(self, notes: dict[str, Note | None] | None, uncertain: dict[str, tuple[str, str]]) -> None:
        self.notes = notes
        self.uncertain = uncertain

    def row(self, loc: Loc, value: Any, label: str, key: str | None = None) -> Row:
        path = format_path(loc)
        varies, entry = self.uncertain.get(path, ("", ""))
        return Row(key or label, label, value_text(value), varies, self.source(path, entry))

    def source(self, path: str, entry: str) -> Source:
        if self.notes is None:
            return Source("unrecorded")
        for candidate in (path, entry):
            note = self.notes.get(candidate) if candidate else None
            if note is not None:
                if note.grade is not None:
                    return Source("cited", note.text, note.grade, note.assumption)
                return Source("assumption" if note.assumption else "uncited", note.text, None, note.assumption)
        return Source("missing") if path in self.notes else Source("default")


# -- strategies ----------------------------------------------------------------------------------------------------


def _groups(strategy: str, body: Any, look: _Lookup) -> list[Group]:
    """A strategy's inputs: one group per channel, in order, then its timeline."""
    if not isinstance(body, dict):
        return []
    groups: list[Group] = []
    channels = body.get("channels")
    for i, channel in enumerate(channels if isinstance(channels, list) else []):
        if not isinstance(channel, dict):
            continue
        kind = str(channel.get("type", ""))
        name = str(channel.get("name") or kind or f"channel {i + 1}")
        base: Loc = ("strategies", strategy, "channels", i)
        rows = [
            look.row((*base, *loc), value, format_path(loc))
            for loc, value in _leaves(channel)
            if not (len(loc) == 1 and loc[0] in CHANNEL_NAMING)
        ]
        groups.append(Group(f"channel:{name}", name, kind if kind != name else "", rows=rows))
    timeline = body.get("timeline")
    rows = []
    seen: dict[str, int] = {}
    for j, entry in enumerate(timeline if isinstance(timeline, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("set"), dict):
            continue
        for param, value in entry["set"].items():
            label = f"from day {value_text(entry.get('day'))}: {entry.get('channel', '')} {param}"
            seen[label] = seen.get(label, 0) + 1
            key = label if seen[label] == 1 else f"{label} #{seen[label]}"
            row = look.row(("strategies", strategy, "timeline", j, "set", param), value, label, key)
            if row.source.kind in ("missing", "default"):  # the note on the entry's line covers its values
                day = look.source(format_path(("strategies", strategy, "timeline", j, "day")), "")
                row = replace(row, source=day) if day.kind not in ("missing", "default") else row
            rows.append(row)
    if rows:
        groups.append(Group("timeline", "Timeline", "dated changes", rows=rows))
    return groups


def _differences(groups: list[Group], baseline: list[Group]) -> tuple[list[Group], list[str]]:
    """The groups of a strategy reduced to what differs from the baseline's (its channels, then those of the
    baseline it lacks, then its timeline), and the channels that do not differ."""
    base = {g.key: g for g in baseline}
    mine = {g.key for g in groups}
    out: list[Group] = []
    unchanged: list[str] = []
    for group in groups:
        theirs = base.get(group.key)
        if theirs is None:
            out.append(replace(group, remark="not in the baseline" if group.key != "timeline" else ""))
            continue
        before = {row.key: row for row in theirs.rows}
        rows = []
        for row in group.rows:
            old = before.pop(row.key, None)
            if old is None:  # a new dated change speaks for itself; a parameter the baseline leaves unset does not
                rows.append(replace(row, baseline=None if group.key == "timeline" else "not set"))
            elif (old.value, old.varies) != (row.value, row.varies):
                rows.append(replace(row, baseline=old.value + (f" ({old.varies})" if old.varies else "")))
        for old in before.values():  # set in the baseline, not here (a timeline entry this strategy lacks)
            rows.append(replace(old, value="—", varies="", source=Source("default"), baseline=old.value))
        if rows:
            out.append(replace(group, rows=rows))
        elif group.key != "timeline":
            unchanged.append(group.title)
    for group in baseline:
        if group.key not in mine:
            remark = "not in this strategy" if group.key != "timeline" else "none of the baseline's dated changes"
            out.append(replace(group, remark=remark, rows=[]))
    out.sort(key=lambda g: g.key == "timeline")  # the dated changes last (a stable sort keeps the rest in order)
    return out, unchanged


def _tally(rows: list[Row]) -> list[str]:
    """How the inputs shown are sourced, in a few counts (each value once: shared, the baseline's, the others'
    differences)."""
    counts: dict[str, int] = {}
    grades: dict[str, int] = {}
    for row in rows:
        counts[row.source.kind] = counts.get(row.source.kind, 0) + 1
        if row.source.grade:
            grades[row.source.grade] = grades.get(row.source.grade, 0) + 1
    out = []
    if counts.get("cited"):
        by_grade = " · ".join(f"{g} {n}" for g, n in sorted(grades.items()))
        out.append(f"{counts['cited']} cite{'s' if counts['cited'] == 1 else ''} a graded source ({by_grade})")
    for kind, one, many in (
        ("assumption", "is an assumption, with its reason", "are assumptions, each with its reason"),
        ("uncited", "has a note that cites no graded source", "have a note that cites no graded source"),
        ("missing", "is written without a source note", "are written without a source note"),
        ("default", "is one of reachsim's defaults (not set in the scenario file)",
         "are reachsim's defaults (not set in the scenario file)"),
    ):
        if counts.get(kind):
            out.append(f"{counts[kind]} {one if counts[kind] == 1 else many}")
    return out
