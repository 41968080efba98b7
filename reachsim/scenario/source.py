"""Reading scenario files (YAML, JSON, TOML) into plain data, remembering the line of every key.

:func:`load_source` returns a :class:`Source`: the file's data as plain Python values (dicts, lists,
strings, numbers, booleans, None, dates) and a map from each data path to the 1-based line where it was
written, so that problems found later (by pydantic or by strategy inheritance) can be reported as
``file:line: path: message``.

* YAML is read with ``yaml.SafeLoader``'s constructors only: tags that would build Python objects
  (``!!python/object`` and the like) are refused, a file can never run code. Lines come from the composed
  node tree: the line of the key for a mapping entry, of the item (or ``*alias``) for a list entry. YAML
  merge keys (``<<: *defaults``) work; merged entries point at the line where they were written (under the
  anchor). A key given twice in one mapping is a problem.
* JSON is read with :mod:`json`; its lines come from a scan of its tokens. Duplicate keys are a problem here
  too.
* TOML is read with :mod:`tomllib`. Its lines come from a best-effort scan of the text for ``[table]`` and
  ``[[array]]`` headers and ``key =`` lines; entries of inline tables and of arrays written inline take the
  line of the key that holds them.

Any other extension is read as YAML. Every failure is a :class:`~reachsim.scenario.errors.ScenarioError`,
never a traceback.

Hostile files are refused before they cost much: a file larger than :data:`MAX_FILE_BYTES`, holding more than
:data:`MAX_VALUES` keys, items and values once YAML aliases are expanded (a "billion laughs" of a few hundred
bytes would otherwise expand to gigabytes), nested deeper than :data:`MAX_DEPTH`, or with an alias inside the
collection it names (a structure that contains itself), is one problem with its line. YAML is scanned by libyaml
when PyYAML has it (several times faster), and composed here so that the lines of aliases are known; numbers
with an exponent (``1e6``) are numbers, as in YAML 1.2 and JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import pydantic_core
import yaml
from pydantic import BaseModel
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from reachsim.scenario.errors import Problem, ScenarioError, format_path, problems_from_validation_error

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_VALUES", "Source", "load_source", "parse_yaml", "validate"]

#: Scenario files are at most this large (the shipped ones are a few kilobytes).
MAX_FILE_BYTES = 1_000_000
#: A scenario holds at most this many keys, list items and values, YAML aliases expanded.
MAX_VALUES = 100_000
#: Collections nest at most this deep (a scenario needs a handful of levels).
MAX_DEPTH = 100
#: Validation problems described in full; beyond them only their number is reported (a file of thousands of
#: unknown keys would otherwise take seconds to describe, to print 50 lines).
MAX_DESCRIBED = 1_000

M = TypeVar("M", bound=BaseModel)

Loc = tuple[Any, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_LINE_ENTRIES = 200_000  # aliases can expand a small file into a huge tree; stop recording lines there


@dataclasses.dataclass
class Source:
    """A scenario file's data and the line of each of its keys (``lines[('market', 'size')] == 7``)."""

    path: str
    data: Any
    lines: dict[Loc, int] = dataclasses.field(default_factory=dict)

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """Line of ``loc``, or of its nearest ancestor written in the file; None when lines are unknown."""
        loc = tuple(loc)
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        if () in self.lines:
            return self.lines[()]
        return 1 if self.lines else None


def load_source(path: str | os.PathLike[str]) -> Source:
    """Read a scenario file; raise ScenarioError (one problem per line) if it cannot be read as a mapping."""
    name = os.fspath(path)
    text = _read_text(name)
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        source = _load_json(name, text)
    elif suffix == ".toml":
        source = _load_toml(name, text)
    else:
        source = _load_yaml(name, text)
    if source.data is None and not _has_content(text):
        raise ScenarioError([Problem(name, None, "", "the file is empty; expected a mapping of keys")])
    if not isinstance(source.data, dict):
        shown = repr(source.data)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        got = "a list" if isinstance(source.data, list) else f"a single value ({shown})"
        message = f"the top level must be a mapping of keys (key: value), not {got}"
        raise ScenarioError([Problem(name, 1, "", message)])
    return source


def parse_yaml(name: str, text: str) -> Source:
    """YAML text read as a scenario file is (aliases bounded, plain data only), whatever its size;
    ScenarioError if it cannot be."""
    return _load_yaml(name, text)


def validate(model: type[M], source: Source) -> M:
    """Validate the source's data with ``model``; each validation problem is a line of a ScenarioError.

    Beyond :data:`MAX_DESCRIBED` problems, the rest are only counted (``ScenarioError.more``)."""
    try:
        return model.model_validate(source.data)
    except pydantic.ValidationError as exc:
        first, more = _first_errors(exc)
        raise ScenarioError(problems_from_validation_error(first, model, source), more=more) from None


def _first_errors(exc: pydantic.ValidationError) -> tuple[pydantic.ValidationError, int]:
    """The exception with its first MAX_DESCRIBED errors only, and how many were left out."""
    errors = exc.errors(include_url=False)
    if len(errors) <= MAX_DESCRIBED:
        return exc, 0
    kept = [{key: e[key] for key in ("type", "loc", "input", "ctx") if key in e} for e in errors[:MAX_DESCRIBED]]
    try:
        return pydantic_core.ValidationError.from_exception_data(exc.title, kept), len(errors) - MAX_DESCRIBED
    except (TypeError, ValueError, KeyError):  # an error type that cannot be rebuilt: describe them all
        return exc, 0


# ----------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------


def _has_content(text: str) -> bool:
    """Anything but blank lines, comments and YAML document markers."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped not in ("---", "..."):
            return True
    return False


def _read_text(name: str) -> str:
    def fail(message: str, line: int | None = None) -> ScenarioError:
        return ScenarioError([Problem(name, line, "", message)])

    try:
        with open(name, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # never more: the file may be huge, or endless (/dev/zero)
    except FileNotFoundError:
        raise fail("no such file") from None
    except IsADirectoryError:
        raise fail("is a directory, not a scenario file") from None
    except PermissionError:
        raise fail("cannot read the file: permission denied") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"the file is larger than {MAX_FILE_BYTES:,} bytes: a scenario file is at most that (is this the "
                   "right file?)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", line) from None


# ----------------------------------------------------------------------------------------------------
# YAML
# ----------------------------------------------------------------------------------------------------


try:
    from yaml._yaml import CParser as _CParser  # libyaml's scanner and parser, when PyYAML was built with it
except ImportError:  # pragma: no cover - PyYAML without libyaml: the pure-Python parser, same results
    _CParser = None


if _CParser is not None:

    class _SafeBase(Composer, _CParser, SafeConstructor, Resolver):  # type: ignore[misc,valid-type]
        """libyaml's events, composed in Python (so that aliases can be located), SafeLoader's constructors."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

else:  # pragma: no cover
    _SafeBase = yaml.SafeLoader  # type: ignore[misc,assignment]


class _SafeLineLoader(_SafeBase):
    """SafeLoader's constructors (plain data only) on libyaml's parser, noting where aliases are used.

    Numbers with an exponent but no decimal point or sign in it (``1e6``, ``2.5e3``) are numbers, as in YAML 1.2
    and JSON; YAML 1.1 would read them as text, which scenario fields refuse where a number is expected."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_lines: dict[tuple[int, int], int] = {}  # (id of a list node, index) → line of `*alias`
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if isinstance(index, int) and parent is not None and self.check_event(yaml.AliasEvent):
            self.alias_lines[(id(parent), index)] = self.peek_event().start_mark.line + 1
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(self.peek_event().start_mark.line + 1, _TOO_DEEP)
            if self.nodes > MAX_VALUES:  # stop composing now: expanding aliases could only add to it
                raise _Refused(self.peek_event().start_mark.line + 1, _TOO_MANY)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _LineWalker:
    """Walks a composed YAML node tree, recording the line of every key and item, and duplicate keys."""

    def __init__(self, loader: _SafeLineLoader) -> None:
        self.loader = loader
        self.lines: dict[Loc, int] = {(): 1}
        self.duplicates: list[tuple[Loc, int, int]] = []  # (path, line, line of the first occurrence)
        self._active: set[int] = set()

    def walk(self, node: yaml.Node, path: Loc) -> None:
        if len(self.lines) > _MAX_LINE_ENTRIES or id(node) in self._active:
            return  # a huge alias expansion, or a recursive alias
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                self._mapping(node, path)
            elif isinstance(node, yaml.SequenceNode):
                for index, item in enumerate(node.value):
                    line = self.loader.alias_lines.get((id(node), index), item.start_mark.line + 1)
                    self.lines[(*path, index)] = line
                    self.walk(item, (*path, index))
        finally:
            self._active.discard(id(node))

    def _key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return None  # unhashable key: construction reports it
        key = self.loader.construct_object(node)
        return key if isinstance(key, Hashable) else None

    def _pairs(self, node: yaml.MappingNode) -> tuple[list[tuple[Any, Any, Any]], list[Any]]:
        """The (key, key node, value node) entries of a mapping, and the mappings merged into it by ``<<``."""
        explicit, merged = [], []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                merged.extend(source for source in sources if isinstance(source, yaml.MappingNode))
                continue
            key = self._key(key_node)
            if key is not None:
                explicit.append((key, key_node, value_node))
        return explicit, merged

    def _mapping(self, node: yaml.MappingNode, path: Loc) -> None:
        explicit, merged = self._pairs(node)
        seen: dict[Any, int] = {}
        for key, key_node, value_node in explicit:
            line = key_node.start_mark.line + 1
            if key in seen:
                self.duplicates.append(((*path, key), line, seen[key]))
                continue
            seen[key] = line
            self.lines[(*path, key)] = line
            self.walk(value_node, (*path, key))
        # Entries merged with `<<` fill in keys the mapping does not give itself; earlier sources win.
        pending = list(merged)
        visited: set[int] = set()
        while pending:
            source = pending.pop(0)
            if id(source) in visited:
                continue
            visited.add(id(source))
            inner_explicit, inner_merged = self._pairs(source)
            for key, key_node, value_node in inner_explicit:
                if key not in seen:
                    seen[key] = key_node.start_mark.line + 1
                    self.lines[(*path, key)] = seen[key]
                    self.walk(value_node, (*path, key))
            pending = inner_merged + pending


def _yaml_problem(name: str, exc: yaml.YAMLError, text: str, what: str = "YAML") -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or "cannot be parsed"
        mark = exc.problem_mark or exc.context_mark
        tag = re.match(r"could not determine a constructor for the tag '([^']*)'", problem)
        if tag is not None:
            shown = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            message = f"tag '{shown}' is not allowed: scenario files hold plain data only"
        else:
            message = f"invalid {what}: {problem}"
            if exc.context:
                context_mark = exc.context_mark
                elsewhere = context_mark is not None and context_mark.line != getattr(mark, "line", None)
                at = f" at line {context_mark.line + 1}" if elsewhere else ""
                message += f" ({exc.context}{at})"
        return Problem(name, mark.line + 1 if mark is not None else None, "", " ".join(message.split()))
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return Problem(name, line, "", f"invalid {what}: character {exc.character!r} is not allowed")
    return Problem(name, None, "", f"invalid {what}: {' '.join(str(exc).split())}")


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep; a scenario needs a handful"
_TOO_MANY = f"more than {MAX_VALUES:,} keys, items and values in the file; a scenario needs far fewer"


class _Refused(Exception):
    """A composed YAML document refused before it is built (too many values, an alias inside itself)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_SafeLineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def _children(loader: _SafeLineLoader, node: yaml.Node) -> list[tuple[yaml.Node, int]]:
    """A node's children with the line where each is given (an alias's own line, not its anchor's)."""
    if isinstance(node, yaml.SequenceNode):
        return [
            (item, loader.alias_lines.get((id(node), index), item.start_mark.line + 1))
            for index, item in enumerate(node.value)
        ]
    if isinstance(node, yaml.MappingNode):
        out = []
        for key, value in node.value:
            line = key.start_mark.line + 1
            out += [(key, line), (value, line)]
        return out
    return []


def _check_expansion(loader: _SafeLineLoader, root: yaml.Node) -> None:
    """Count the document's values as if every alias were written out; refuse more than MAX_VALUES, and an
    alias inside the collection it names. Linear in the number of distinct nodes (each is counted once)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the collections being counted: the path from the root
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, line, closing = stack.pop()
        key = id(node)
        if closing:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(child)] for child, _ in _children(loader, node))
            if size > MAX_VALUES:
                where = "in the file" if node is root else "here"
                raise _Refused(
                    node.start_mark.line + 1,
                    f"more than {MAX_VALUES:,} keys, items and values {where} once aliases are expanded; a "
                    "scenario needs far fewer",
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise _Refused(line, "an alias inside the collection it names (a structure containing itself)")
        children = _children(loader, node)
        if not children:
            sizes[key] = 1
            continue
        open_nodes.add(key)
        stack.append((node, line, True))
        stack.extend((child, child_line, False) for child, child_line in reversed(children))


def _compose_lines(text: str) -> tuple[_SafeLineLoader, yaml.Node | None, _LineWalker]:
    loader = _SafeLineLoader(text)
    node = loader.get_single_node()
    if node is not None:
        _check_expansion(loader, node)
    walker = _LineWalker(loader)
    if node is not None:
        walker.walk(node, ())
    return loader, node, walker


def _duplicate_problems(name: str, walker: _LineWalker) -> list[Problem]:
    return [
        Problem(name, line, format_path(path), f"duplicate key '{path[-1]}' (first given on line {first})")
        for path, line, first in walker.duplicates
    ]


def _load_yaml(name: str, text: str) -> Source:
    loader: _SafeLineLoader | None = None
    try:
        loader, node, walker = _compose_lines(text)
        duplicates = _duplicate_problems(name, walker)
        if duplicates:
            raise ScenarioError(duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ScenarioError([_yaml_problem(name, exc, text)]) from None
    except _Refused as exc:
        raise ScenarioError([Problem(name, exc.line, "", exc.message)]) from None
    except RecursionError:
        raise ScenarioError([Problem(name, None, "", "invalid YAML: nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Source(name, data, walker.lines)


def _refuse_too_many(name: str, data: Any) -> None:
    """JSON and TOML have no aliases: their values are counted once read (iteratively: nesting may be deep)."""
    count, pending = 0, [data]
    while pending:
        value = pending.pop()
        count += 1
        if count > MAX_VALUES:
            message = f"more than {MAX_VALUES:,} keys, items and values; a scenario needs far fewer"
            raise ScenarioError([Problem(name, None, "", message)])
        if isinstance(value, dict):
            count += len(value)  # the keys
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


# ----------------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------------


#: JSON's tokens, for line numbers: strings, punctuation, line breaks, and anything else (numbers, literals).
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,\n]|[^\s\[\]{}:,"]+')


@dataclasses.dataclass
class _JsonContainer:
    loc: Loc
    is_object: bool
    items: int = 0  # list items so far
    key: Any = None  # the object's current key
    wants_key: bool = True
    keys: dict[Any, int] = dataclasses.field(default_factory=dict)  # key → line where first given


def _json_lines(text: str) -> tuple[dict[Loc, int], list[tuple[Loc, int, int]]]:
    """The line of every key and list item of (valid) JSON text, and its duplicate keys as (path, line, line of
    the first occurrence); refused when nested deeper than MAX_DEPTH."""
    lines: dict[Loc, int] = {(): 1}
    duplicates: list[tuple[Loc, int, int]] = []
    stack: list[_JsonContainer] = []
    line = 1

    def value_loc() -> Loc:
        if not stack:
            return ()
        top = stack[-1]
        if top.is_object:
            return (*top.loc, top.key)
        top.items += 1
        loc = (*top.loc, top.items - 1)
        lines[loc] = line
        return loc

    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token == "\n":
            line += 1
        elif token in "{[":
            if len(stack) >= MAX_DEPTH:
                raise _Refused(line, _TOO_DEEP)
            stack.append(_JsonContainer(value_loc(), token == "{"))
        elif token in "}]":
            stack.pop()
        elif token == ",":
            stack[-1].wants_key = True
        elif token == ":":
            continue
        elif token.startswith('"') and stack and stack[-1].is_object and stack[-1].wants_key:
            top = stack[-1]
            top.key, top.wants_key = json.loads(token), False
            if top.key in top.keys:
                duplicates.append(((*top.loc, top.key), line, top.keys[top.key]))
            else:
                top.keys[top.key] = lines[(*top.loc, top.key)] = line
        else:
            value_loc()
    return lines, duplicates


def _load_json(name: str, text: str) -> Source:
    try:
        lines, duplicates = _json_lines(text)  # first: it refuses deep nesting before the parser recurses
    except _Refused as exc:
        raise ScenarioError([Problem(name, exc.line, "", exc.message)]) from None
    except (ValueError, IndexError, KeyError):
        lines, duplicates = {}, []  # not JSON: the parser says where
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = Problem(name, exc.lineno, "", f"invalid JSON: {exc.msg} (column {exc.colno})")
        raise ScenarioError([problem]) from None
    except RecursionError:
        raise ScenarioError([Problem(name, None, "", "invalid JSON: nested too deeply")]) from None
    _refuse_too_many(name, data)
    if duplicates:
        raise ScenarioError(
            [
                Problem(name, line, format_path(path), f"duplicate key '{path[-1]}' (first given on line {first})")
                for path, line, first in duplicates
            ]
        )
    return Source(name, data, lines)


# ----------------------------------------------------------------------------------------------------
# TOML
# ----------------------------------------------------------------------------------------------------

_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_KEY_PART = re.compile(r"\s*(?:([A-Za-z0-9_-]+)|\"((?:[^\"\\]|\\.)*)\"|'([^']*)')\s*")


def _load_toml(name: str, text: str) -> Source:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        line = None
        if at is not None:
            line = int(at.group(1))
            message = message[: at.start()] + f" (column {at.group(2)})"
        raise ScenarioError([Problem(name, line, "", f"invalid TOML: {' '.join(message.split())}")]) from None
    _refuse_too_many(name, data)
    return Source(name, data, _toml_lines(text))


def _toml_keys(text: str) -> tuple[list[str], int] | None:
    """Parse a (dotted) TOML key at the start of ``text``: the key parts and where the key ends."""
    parts: list[str] = []
    pos = 0
    while True:
        match = _TOML_KEY_PART.match(text, pos)
        if match is None or match.end() == pos:
            return None
        bare, basic, literal = match.groups()
        if basic is not None:
            try:
                parts.append(json.loads(f'"{basic}"'))
            except ValueError:
                parts.append(basic)
        else:
            parts.append(bare if bare is not None else literal)
        pos = match.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


def _toml_scan(text: str, start: int, multiline: str | None, depth: int) -> tuple[str | None, int]:
    """Follow a value through one line: is a multi-line string still open, how many brackets are open."""
    i = start
    while i < len(text):
        if multiline is not None:
            end = text.find(multiline, i)
            if end < 0:
                return multiline, depth
            i, multiline = end + 3, None
            continue
        char = text[i]
        if char == "#":
            break
        if text.startswith('"""', i) or text.startswith("'''", i):
            multiline = text[i : i + 3]
            i += 3
            continue
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == "'":
            end = text.find("'", i + 1)
            i = len(text) if end < 0 else end
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        i += 1
    return multiline, max(depth, 0)


def _toml_lines(text: str) -> dict[Loc, int]:
    """Best-effort line of each table, array-of-tables entry and ``key =`` line (see the module docstring)."""
    lines: dict[Loc, int] = {(): 1}
    arrays: dict[Loc, int] = {}  # path of an array of tables → index of its last entry
    table: Loc = ()
    multiline: str | None = None
    depth = 0

    def resolve(keys: list[str]) -> Loc:
        path: Loc = ()
        for key in keys:
            path = (*path, key)
            if path in arrays:
                path = (*path, arrays[path])
        return path

    def mark(path: Loc, number: int) -> None:
        for end in range(1, len(path)):
            lines.setdefault(path[:end], number)
        lines[path] = number

    for number, raw in enumerate(text.splitlines(), 1):
        if multiline is not None or depth > 0:
            multiline, depth = _toml_scan(raw, 0, multiline, depth)
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            parsed = _toml_keys(stripped[2:])
            if parsed is not None and parsed[0]:
                keys = parsed[0]
                array = (*resolve(keys[:-1]), keys[-1])
                arrays[array] = arrays.get(array, -1) + 1
                table = (*array, arrays[array])
                lines.setdefault(array, number)
                mark(table, number)
            continue
        if stripped.startswith("["):
            parsed = _toml_keys(stripped[1:])
            if parsed is not None and parsed[0]:
                table = resolve(parsed[0])
                mark(table, number)
            continue
        parsed = _toml_keys(stripped)
        if parsed is None:
            continue
        keys, end = parsed
        if end < len(stripped) and stripped[end] == "=":
            mark((*table, *keys), number)
            multiline, depth = _toml_scan(stripped, end + 1, None, 0)
    return lines
