"""Dotted field paths (``a.b[0].c``): formatting, parsing, reading and replacing values along them.

One implementation for every place that names a field by its path: error messages, timelines, uncertain inputs,
sweeps and the plugin contract suite.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from reachsim.core.problems import did_you_mean

__all__ = ["MISSING", "format_path", "get_in", "is_number", "parse_path", "replaced_in", "set_in", "with_path"]

#: What :func:`get_in` returns where nothing is.
MISSING: Any = object()

Loc = tuple[str | int, ...]


def format_path(loc: Iterable[str | int]) -> str:
    """``('a', 'b', 0, 'c')`` → ``'a.b[0].c'``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_path(text: str) -> tuple[str | int, ...]:
    """``'a.b[0].c'`` → ``('a', 'b', 0, 'c')`` (the inverse of :func:`format_path`)."""
    parts: list[str | int] = []
    for match in re.finditer(r"\[(\d+)\]|([^.\[\]]+)", text):
        index, key = match.groups()
        parts.append(int(index) if index is not None else key)
    return tuple(parts)


def with_path(params: BaseModel, path: str, value: Any) -> Any:
    """A copy of ``params`` with the dotted ``path`` set to ``value``, re-validated (bounds are enforced)."""
    head, _, rest = path.partition(".")
    fields = type(params).model_fields
    if head not in fields:
        raise ValueError(f"unknown parameter '{head}'{did_you_mean(head, fields)}")
    if not rest and not _is_numeric(type(params).model_fields[head].annotation):
        raise ValueError(f"'{head}' is not a numeric parameter")
    if rest:
        inner = getattr(params, head)
        if inner is None:
            raise ValueError(f"'{head}' is not set for this channel; set it in the channel before changing it")
        new_value = with_path(inner, rest, value)
    else:
        new_value = _as_declared(type(params).model_fields[head].annotation, value)
    data = params.model_dump(exclude_unset=False, round_trip=True)
    data[head] = new_value.model_dump(round_trip=True) if isinstance(new_value, BaseModel) else new_value
    return type(params).model_validate(data)


def _as_declared(annotation: Any, value: Any) -> Any:
    """A whole float given for a whole-number field, as an int (timeline values are read as floats; the strict
    models take an int there)."""
    args = typing.get_args(annotation) or (annotation,)
    if isinstance(value, float) and value.is_integer() and int in args and float not in args:
        return int(value)
    return value


def _is_numeric(annotation: Any) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args) and bool not in args


def set_in(data: Any, loc: tuple[str | int, ...], value: float) -> float:
    """Set a number inside plain data and return it (rounded where the number there is whole); a mapping key
    may itself contain dots (timeline ``set`` keys)."""
    node = data
    i = 0
    while i < len(loc) - 1:
        part = loc[i]
        if isinstance(node, dict):
            joined = ".".join(str(p) for p in loc[i:])
            if joined in node:
                node[joined] = value
                return value
            if part not in node:
                raise KeyError(format_path(loc[: i + 1]))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            raise KeyError(format_path(loc[: i + 1]))
        i += 1
    last = loc[-1]
    found = (isinstance(node, dict) and last in node) or (
        isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node)
    )
    if not found or not is_number(node[last]):
        raise KeyError(format_path(loc))
    node[last] = round(value) if isinstance(node[last], int) else value  # whole-number parameters stay whole
    return node[last]


def is_number(value: Any) -> bool:
    """A real number as written in data: an int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def get_in(data: Any, loc: Iterable[str | int]) -> Any:
    """The value at ``loc`` inside plain data (mappings and lists), or :data:`MISSING`."""
    for part in loc:
        if isinstance(data, Mapping):
            data = data.get(part, MISSING)
        elif isinstance(data, Sequence) and not isinstance(data, str) and isinstance(part, int):
            data = data[part] if -len(data) <= part < len(data) else MISSING
        else:
            return MISSING
    return data


def replaced_in(data: Any, loc: Sequence[str | int], value: Any) -> Any:
    """A copy of plain data with the value at ``loc`` replaced (the containers along the path are copied)."""
    if not loc:
        return value
    head, rest = loc[0], loc[1:]
    if isinstance(data, Mapping):
        return {**data, head: replaced_in(data[head], rest, value)}
    copied = list(data)
    copied[int(head)] = replaced_in(copied[int(head)], rest, value)
    return copied
