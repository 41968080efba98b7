"""Strategy inheritance: ``extends: <other strategy>`` in a scenario file.

Works on the raw data, before pydantic sees it. A strategy that extends another one is the other one (itself
resolved first: chains are allowed) with the child's keys merged in:

* ``channels``: matched by channel name — the channel's ``name`` key if it has one, else its ``type``. A
  child channel with the name of a parent channel is deep-merged into it (mappings merged key by key, the
  child's values win, lists replaced whole); a child channel with ``remove: true`` removes the parent's
  channel of that name; other child channels are appended in the child's order. The ``remove`` key never
  reaches the schema.
* ``timeline``: the parent's entries, then the child's.
* any other key: the child's value wins; mappings are merged recursively the same way.

Problems (an unknown parent, a cycle, removing a channel the parent does not have, a channel name that matches
two parent channels) are collected and raised together as one :class:`ExtendsError` (a ScenarioError that
also carries everything that could be resolved, so the schema can still report its own problems).

Line numbers: once resolved, the values of a child strategy come partly from the child and partly from its
ancestors. :func:`resolve_extends` therefore updates ``source.lines`` for each strategy it resolves, so that a
later validation error points at the line where the offending value was written (in the child or in the
ancestor), under the resolved path (``strategies.child.channels[2]...``). :func:`resolve_origins` records, the
same way, where in the file each resolved value was written (an inherited one: in its ancestor), which is how the
values of a child strategy keep the source notes written beside them in the parent.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Hashable
from typing import Any

from reachsim.scenario.errors import Problem, ScenarioError, format_path, sort_problems, suggest
from reachsim.scenario.source import Source

__all__ = ["ExtendsError", "resolve_extends", "resolve_origins"]

Loc = tuple[Any, ...]
#: Path relative to one strategy → where it was written: a line number for problems, or the path in the file
#: itself (:func:`resolve_origins`). The resolver only copies these marks from a value to the values made of it.
Lines = dict[Loc, Any]


class ExtendsError(ScenarioError):
    """The problems found while resolving ``extends``, and what could be resolved nonetheless.

    ``resolved`` holds every strategy: resolved where its chain of parents is sound, its own keys (without
    ``extends``) where it is not. Validating it reports the schema's problems alongside these ones.
    """

    def __init__(self, problems: Any, resolved: dict[str, Any] | None = None) -> None:
        super().__init__(problems)
        self.resolved: dict[str, Any] = resolved if resolved is not None else {}


def resolve_extends(
    strategies: dict[str, Any], source: Source, base_loc: tuple[str | int, ...] = ("strategies",)
) -> dict[str, Any]:
    """The strategies with every ``extends`` resolved (see the module docstring); the input is not changed.

    ``base_loc`` is where ``strategies`` sits in the source, for line numbers. Raises :class:`ExtendsError`
    (a ScenarioError) with all problems found and the best-effort result in its ``resolved``. Either way,
    ``source.lines`` is updated for the strategies that were resolved from a parent, so that it describes the
    returned (or ``resolved``) data.
    """
    if not isinstance(strategies, dict):
        return strategies  # not a mapping: the schema reports it
    base = tuple(base_loc)
    resolver = _Resolver(strategies, source, base)
    result = resolver.run()
    resolver.update_lines()
    if resolver.problems:
        raise ExtendsError(sort_problems(dict.fromkeys(resolver.problems)), result)
    return result


def resolve_origins(
    strategies: dict[str, Any], base_loc: tuple[str | int, ...] = ("strategies",)
) -> tuple[dict[str, Any], dict[Loc, Loc]]:
    """The strategies resolved as :func:`resolve_extends` resolves them, and where each location of the result
    was written in the file: ``(*base_loc, name, *path)`` → the location of the value it came from (a value a
    child inherits → its place in the parent's body; a merged mapping → the child's). Strategies whose ``extends``
    cannot be followed are kept as written (:class:`ExtendsError` reports them when the file is loaded)."""
    if not isinstance(strategies, dict):
        return strategies, {}
    base = tuple(base_loc)
    marks: dict[Loc, Any] = {}
    stack: list[tuple[Loc, Any]] = [((*base, name), body) for name, body in strategies.items()]
    while stack:
        loc, value = stack.pop()
        marks[loc] = loc  # each location written in the file marks itself
        if isinstance(value, dict):
            stack.extend(((*loc, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*loc, index), item) for index, item in enumerate(value))
    source = Source("<origins>", None, marks)
    try:
        resolved = resolve_extends(strategies, source, base)
    except ExtendsError as exc:
        resolved = exc.resolved
    return resolved, dict(source.lines)


class _Resolver:
    def __init__(self, strategies: dict[str, Any], source: Source, base: Loc) -> None:
        self.strategies = strategies
        self.source = source
        self.base = base
        self.problems: list[Problem] = []
        self.raw_lines: dict[Any, Lines] = {name: {} for name in strategies}
        for loc, line in source.lines.items():
            if len(loc) > len(base) and loc[: len(base)] == base and loc[len(base)] in self.raw_lines:
                self.raw_lines[loc[len(base)]][loc[len(base) + 1 :]] = line
        self.parent_of: dict[Any, Any] = {}
        self.resolved: dict[Any, tuple[dict[str, Any], Lines]] = {}

    # -- problems --------------------------------------------------------------------------------------------

    def problem(self, name: Any, rel: Loc, message: str) -> None:
        loc = (*self.base, name, *rel)
        self.problems.append(Problem(self.source.path, self.source.line_of(loc), format_path(loc), message))

    # -- the graph of `extends` ---------------------------------------------------------------------

    def link(self) -> set[Any]:
        """Record each strategy's parent; return the strategies whose `extends` cannot be followed."""
        broken: set[Any] = set()
        names = list(self.strategies)
        for name, spec in self.strategies.items():
            if not isinstance(spec, dict) or spec.get("extends") is None:  # `extends: null` (a dump) = none
                continue
            parent = spec["extends"]
            if not isinstance(parent, str):
                self.problem(name, ("extends",), f"expected the name of another strategy, got {parent!r}")
            elif parent not in self.strategies:
                others = [str(other) for other in names if other != name]
                message = f"unknown strategy '{parent}'"
                hint = suggest(parent, others)
                if hint is not None:
                    message += f" (did you mean '{hint}'?)"
                elif others:
                    message += f" (strategies: {', '.join(others)})"
                self.problem(name, ("extends",), message)
            elif parent == name:
                self.problem(name, ("extends",), f"strategy '{name}' extends itself")
            elif not isinstance(self.strategies[parent], dict):
                self.problem(name, ("extends",), f"cannot extend '{parent}': it is not a mapping")
            else:
                self.parent_of[name] = parent
                continue
            broken.add(name)

        # Cycles: follow each chain of parents once; every strategy is visited once in all (linear time).
        order = {name: index for index, name in enumerate(names)}
        finished: set[Any] = set()
        for start in self.parent_of:
            chain: dict[Any, int] = {}  # the strategies of this walk, in order, with their positions
            current = start
            while current in self.parent_of and current not in finished and current not in chain:
                chain[current] = len(chain)
                current = self.parent_of[current]
            if current in chain:  # the walk came back to itself
                members = list(chain)[chain[current] :]
                broken.update(members)
                first = min(range(len(members)), key=lambda i: order[members[i]])
                cycle = members[first:] + members[:first]
                shown = " → ".join(f"'{member}'" for member in [*cycle, cycle[0]])
                self.problem(cycle[0], ("extends",), f"strategies extend each other in a cycle: {shown}")
            finished.update(chain)
        return broken

    def broken_chains(self, broken: set[Any]) -> set[Any]:
        """The strategies with a broken strategy among themselves or their ancestors (linear time)."""
        verdict: dict[Any, bool] = {}
        for start in self.strategies:
            chain: list[Any] = []
            current = start
            while current is not None and current not in verdict and current not in chain:
                chain.append(current)
                current = self.parent_of.get(current)
            bad = verdict.get(current, current is not None)  # back at a strategy of this walk: a cycle
            for name in reversed(chain):
                bad = bad or name in broken
                verdict[name] = bad
        return {name for name, bad in verdict.items() if bad}

    # -- resolution ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        broken = self.broken_chains(self.link())
        result: dict[str, Any] = {}
        for name, spec in self.strategies.items():
            if name in self.parent_of and name not in broken:
                result[name] = self.resolve(name)[0]
            elif isinstance(spec, dict) and "extends" in spec:
                result[name] = {key: value for key, value in spec.items() if key != "extends"}
            else:
                result[name] = spec
        return result

    def resolve(self, name: Any) -> tuple[dict[str, Any], Lines]:
        """Resolve ``name`` and its unresolved ancestors, oldest first (a loop, not recursion: a chain may be
        thousands of strategies long)."""
        chain = [name]
        while chain[-1] not in self.resolved and chain[-1] in self.parent_of:
            chain.append(self.parent_of[chain[-1]])
        for current in reversed(chain):
            if current in self.resolved:
                continue
            spec = self.strategies[current]
            parent = self.parent_of.get(current)
            if parent is None:
                data = copy.deepcopy(spec)
                lines = dict(self.raw_lines[current])
            else:
                parent_data, parent_lines = self.resolved[parent]
                merger = _Merger(parent_lines, self.raw_lines[current])
                child = {key: value for key, value in spec.items() if key != "extends"}
                data = merger.strategy(parent_data, child, parent, functools.partial(self.problem, current))
                lines = merger.out
                lines.pop(("extends",), None)
            self.resolved[current] = (data, lines)
        return self.resolved[name]

    def update_lines(self) -> None:
        changed = {name for name in self.resolved if name in self.parent_of}
        if not changed:
            return
        depth = len(self.base)
        kept = {
            loc: line
            for loc, line in self.source.lines.items()
            if not (len(loc) > depth + 1 and loc[:depth] == self.base and loc[depth] in changed)
        }
        for name in changed:
            for rel, line in self.resolved[name][1].items():
                if rel:
                    kept[(*self.base, name, *rel)] = line
        self.source.lines.clear()
        self.source.lines.update(kept)


def _both_lists(a: Any, b: Any) -> bool:
    return isinstance(a, list) and isinstance(b, list)


def _channel_name(channel: Any) -> Any:
    if not isinstance(channel, dict):
        return None
    name = channel["name"] if "name" in channel else channel.get("type")
    return name if isinstance(name, Hashable) else None


class _Merger:
    """Merges a child strategy into its resolved parent, recording where each resulting value was written."""

    def __init__(self, parent_lines: Lines, child_lines: Lines) -> None:
        self.parent_lines = parent_lines
        self.child_lines = child_lines
        self.out: Lines = {}
        if () in child_lines:
            self.out[()] = child_lines[()]

    def note(self, dst: Loc, psrc: Loc, csrc: Loc) -> None:
        """``dst`` was written by the child at ``csrc`` if it was, else by the parent at ``psrc``."""
        line = self.child_lines.get(csrc, self.parent_lines.get(psrc))
        if line is not None:
            self.out[dst] = line

    def copy(self, value: Any, lines: Lines, src: Loc, dst: Loc) -> Any:
        """A deep copy of ``value``, recording the lines of its parts under ``dst``."""
        if src in lines:
            self.out[dst] = lines[src]
        if isinstance(value, dict):
            return {key: self.copy(item, lines, (*src, key), (*dst, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.copy(item, lines, (*src, index), (*dst, index)) for index, item in enumerate(value)]
        return copy.deepcopy(value)

    def merge(self, parent: Any, child: Any, psrc: Loc, csrc: Loc, dst: Loc) -> Any:
        """Child wins; two mappings merge key by key, except a distribution (a mapping with ``dist``), which is
        one value: the child's replaces the parent's whole."""
        if not (isinstance(parent, dict) and isinstance(child, dict)) or "dist" in child or "dist" in parent:
            return self.copy(child, self.child_lines, csrc, dst)
        self.note(dst, psrc, csrc)
        merged: dict[Any, Any] = {}
        for key, value in parent.items():
            if key in child:
                merged[key] = self.merge(value, child[key], (*psrc, key), (*csrc, key), (*dst, key))
            else:
                merged[key] = self.copy(value, self.parent_lines, (*psrc, key), (*dst, key))
        for key, value in child.items():
            if key not in parent:
                merged[key] = self.copy(value, self.child_lines, (*csrc, key), (*dst, key))
        return merged

    def strategy(self, parent: dict[str, Any], child: dict[str, Any], parent_name: Any, problem: Any) -> dict:
        result: dict[str, Any] = {}
        for key in [*parent, *(key for key in child if key not in parent)]:
            here: Loc = (key,)
            in_parent, in_child = key in parent, key in child
            if (
                key == "channels"
                and in_child
                and isinstance(child[key], list)
                and (not in_parent or isinstance(parent[key], list))
            ):
                self.note(here, here, here)
                result[key] = self.channels(parent.get(key, []), child[key], parent_name, problem)
            elif key == "timeline" and in_parent and in_child and _both_lists(parent[key], child[key]):
                self.note(here, here, here)
                offset = len(parent[key])
                inherited = [
                    self.copy(item, self.parent_lines, (key, i), (key, i))
                    for i, item in enumerate(parent[key])
                ]
                own = [
                    self.copy(item, self.child_lines, (key, i), (key, offset + i))
                    for i, item in enumerate(child[key])
                ]
                result[key] = inherited + own
            elif in_parent and in_child:
                result[key] = self.merge(parent[key], child[key], here, here, here)
            elif in_parent:
                result[key] = self.copy(parent[key], self.parent_lines, here, here)
            else:
                result[key] = self.copy(child[key], self.child_lines, here, here)
        return result

    def channels(self, parent: list[Any], child: list[Any], parent_name: Any, problem: Any) -> list[Any]:
        # Each parent channel: its index, and the index of the child channel merged into it (or "removed").
        plan: list[list[Any]] = [[index, None] for index in range(len(parent))]
        names = [_channel_name(channel) for channel in parent]
        added: list[int] = []
        for ci, channel in enumerate(child):
            rel = ("channels", ci)
            name = _channel_name(channel)
            remove = False
            if isinstance(channel, dict) and "remove" in channel:
                if not isinstance(channel["remove"], bool):
                    problem((*rel, "remove"), f"expected true or false, got {channel['remove']!r}")
                    continue
                remove = channel["remove"]
            matches = [entry for entry in plan if name is not None and names[entry[0]] == name]
            if len(matches) > 1:
                problem(
                    rel,
                    f"channel '{name}' matches {len(matches)} channels of '{parent_name}'; "
                    "give them distinct `name`s to tell them apart",
                )
                continue
            if not matches:
                if remove:
                    message = f"cannot remove channel '{name}': '{parent_name}' has no such channel"
                    known = [str(n) for n in names if n is not None]
                    hint = suggest(str(name), known)
                    if hint is not None:
                        message += f" (did you mean '{hint}'?)"
                    elif known:
                        message += f" (channels: {', '.join(known)})"
                    problem(rel, message)
                else:
                    added.append(ci)
                continue
            entry = matches[0]
            if entry[1] is not None:
                problem(rel, f"channel '{name}' is given twice")
                continue
            entry[1] = "removed" if remove else ci

        result: list[Any] = []
        for pi, ci in plan:
            if ci == "removed":
                continue
            dst: Loc = ("channels", len(result))
            psrc: Loc = ("channels", pi)
            if ci is None:
                result.append(self.copy(parent[pi], self.parent_lines, psrc, dst))
            else:
                body = {key: value for key, value in child[ci].items() if key != "remove"}
                result.append(self.merge(parent[pi], body, psrc, ("channels", ci), dst))
        for ci in added:
            channel = child[ci]
            if isinstance(channel, dict):
                channel = {key: value for key, value in channel.items() if key != "remove"}
            result.append(self.copy(channel, self.child_lines, ("channels", ci), ("channels", len(result))))
        return result
