"""Pydantic validation errors translated into scenario problems, with the paths the user wrote.

A :class:`~reachsim.core.problems.Problem` is one line of the ``file:line: path.to.field: message`` report that the
command line prints for invalid input (exit code 2). (``Problem``, ``ScenarioError``, ``suggest``, ``did_you_mean``,
``format_path`` and ``parse_path`` are re-exported from :mod:`reachsim.core` for older imports.)

:func:`problems_from_validation_error` turns a pydantic ``ValidationError`` into problems. It walks the
model's field annotations alongside each error location, which lets it

* drop the tags that discriminated (and plain) unions insert into pydantic locations, so the path is the one
  the user wrote: ``strategies.a.channels[0].engagement.probability``, not
  ``strategies.a.channels.0.messenger.engagement.probability``;
* list the keys allowed where an unknown key was found, with a "did you mean" (aliases included);
* list the types a union accepts when its ``type`` is missing or unknown (the noun comes from the field
  holding the union, singular for a list or dict of them: ``unknown channel type 'x'`` for ``channels``).

Pointing a model validator's error at a field
---------------------------------------------
A model validator sees a whole mapping, so pydantic reports its ``ValueError`` at that mapping. To point at
one of its fields instead, start the message with ``@`` and a path relative to the model, then ``": "``::

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> "Market":
        if abs(sum(s.share for s in self.segments) - 1) > 1e-9:
            raise ValueError("@segments: shares must sum to 1")
        return self

reports ``file:line: market.segments: shares must sum to 1`` at the line of ``segments``. The path uses the
keys as written in the file (aliases), dots between keys and brackets for list indexes:
``@segments[1].share: ...``; it ends at the first ``": "``. The same works for ``AssertionError`` and for
field validators (the path is then relative to the field's value).
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import pydantic
from pydantic import BaseModel, Discriminator, RootModel, Tag
from pydantic.fields import FieldInfo

from reachsim.core.paths import MISSING, format_path, get_in, parse_path
from reachsim.core.problems import Problem, ScenarioError, did_you_mean, sort_problems, suggest

if TYPE_CHECKING:
    from reachsim.scenario.source import Source

__all__ = [
    "Problem",
    "ScenarioError",
    "did_you_mean",
    "format_path",
    "parse_path",
    "problems_from_validation_error",
    "sort_problems",
    "suggest",
]


# ----------------------------------------------------------------------------------------------------
# Walking a model's annotations alongside a pydantic error location
# ----------------------------------------------------------------------------------------------------

_MISSING = MISSING
_UNION_TYPES = (Union, types.UnionType)


@dataclasses.dataclass
class _Union:
    """A union met while walking: its members, how to tell them apart, and what the user would call it."""

    members: list[Any]
    tags: dict[str, Any]  # tag as it appears in a pydantic location → member type
    discriminator: str | None  # the key holding the tag, when it is a plain key
    noun: str  # "channel" for the items of a `channels` list


@dataclasses.dataclass
class _Walk:
    path: list[str | int]  # data path: the keys and indexes as written in the file
    type: Any  # annotation at the end of the path, or None when it could not be followed
    union: _Union | None  # set when the path ends at a union that was not resolved
    key_error: bool = False  # the error is about a dict key, not its value


def _model_fields(tp: Any) -> dict[str, FieldInfo] | None:
    if isinstance(tp, type):
        fields = getattr(tp, "__pydantic_fields__", None)
        if isinstance(fields, dict):
            return fields
    return None


def _field_keys(name: str, info: FieldInfo) -> list[str]:
    """The keys under which a field may be written: its name and its aliases."""
    keys = [name]
    for alias in (info.alias, info.validation_alias):
        if isinstance(alias, str):
            keys.append(alias)
        elif isinstance(alias, pydantic.AliasChoices):
            keys.extend(choice for choice in alias.choices if isinstance(choice, str))
    return list(dict.fromkeys(keys))


def _find_field(fields: dict[str, FieldInfo], key: Any) -> tuple[str, FieldInfo] | None:
    for name, info in fields.items():
        if key in _field_keys(name, info):
            return name, info
    return None


def _unwrap(tp: Any, discriminator: Any) -> tuple[Any, Any, Any]:
    """Strip Annotated, type aliases and root models; return (type, discriminator, tag of this member)."""
    tag = None
    for _ in range(50):  # bounded: annotations nest only so deep
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp, *metadata = typing.get_args(tp)
            for meta in metadata:
                if isinstance(meta, Tag):
                    tag = meta.tag
                elif isinstance(meta, Discriminator):
                    discriminator = meta
                elif isinstance(meta, FieldInfo) and meta.discriminator is not None:
                    discriminator = meta.discriminator
        elif type(tp).__name__ == "TypeAliasType" and hasattr(tp, "__value__"):
            tp = tp.__value__
        elif isinstance(tp, typing.NewType):
            tp = tp.__supertype__
        elif isinstance(tp, type) and issubclass(tp, RootModel):
            root = tp.__pydantic_fields__.get("root")
            if root is None:
                break
            tp, discriminator = root.annotation, root.discriminator
        elif origin in _UNION_TYPES:
            members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            if len(members) != 1:
                break
            tp = members[0]
        else:
            break
    return tp, discriminator, tag


def _literal_values(tp: Any) -> list[Any]:
    tp, _, _ = _unwrap(tp, None)
    if typing.get_origin(tp) is Literal:
        return [v.value if isinstance(v, enum.Enum) else v for v in typing.get_args(tp)]
    if typing.get_origin(tp) in _UNION_TYPES:
        return [value for arg in typing.get_args(tp) for value in _literal_values(arg)]
    return []


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _is_union(tp: Any, discriminator: Any) -> bool:
    """A union, or a single model given a discriminator (pydantic then tags it like a union of one)."""
    if typing.get_origin(tp) in _UNION_TYPES:
        return True
    return discriminator is not None and _model_fields(tp) is not None


def _make_union(tp: Any, discriminator: Any, field_name: str | None, in_container: bool) -> _Union:
    key = discriminator.discriminator if isinstance(discriminator, Discriminator) else discriminator
    key = key if isinstance(key, str) else None

    members: list[Any] = []
    tags: dict[str, Any] = {}

    def collect(arg: Any) -> None:
        inner, _, tag = _unwrap(arg, None)
        if typing.get_origin(inner) in _UNION_TYPES:
            for sub in typing.get_args(inner):
                if sub is not type(None):
                    collect(sub)
            return
        members.append(inner)
        if tag is not None:
            tags[str(tag)] = inner
        fields = _model_fields(inner)
        if fields is not None and key is not None:
            found = _find_field(fields, key)
            if found is not None:
                for value in _literal_values(found[1].annotation):
                    tags.setdefault(str(value), inner)

    for arg in typing.get_args(tp) if typing.get_origin(tp) in _UNION_TYPES else (tp,):
        if arg is not type(None):
            collect(arg)
    noun = field_name or ""
    if noun and in_container:
        noun = _singular(noun)
    return _Union(members, tags, key, noun.replace("_", " "))


def _walk(model: type[BaseModel], loc: Sequence[str | int], data: Any) -> _Walk:
    """Follow ``loc`` through the model's annotations (and the input data), dropping union tags."""
    tp: Any = model
    discriminator: Any = None
    field_name: str | None = None
    in_container = False
    path: list[str | int] = []
    key_error = False
    i = 0
    while i < len(loc):
        part = loc[i]
        if part == "[key]":
            key_error = True
            i += 1
            continue
        if tp is None:
            path.append(part)
            data = get_in(data, (part,))
            i += 1
            continue
        tp, discriminator, _ = _unwrap(tp, discriminator)
        origin = typing.get_origin(tp)
        if _is_union(tp, discriminator):
            union = _make_union(tp, discriminator, field_name, in_container)
            discriminator = None
            if isinstance(part, str) and part in union.tags:
                tp = union.tags[part]
                i += 1
                continue
            named = [m for m in union.members if getattr(m, "__name__", None) == part]
            if named:
                tp = named[0]
                i += 1
                continue
            if isinstance(part, str) and not (isinstance(data, Mapping) and part in data):
                # A label pydantic gives a union member ('int', 'function-after[...]'): not in the file.
                tp = None
                i += 1
                continue
            tp = None
            continue
        fields = _model_fields(tp)
        if fields is not None:
            found = _find_field(fields, part)
            in_container = False
            if found is None:
                field_name, tp, discriminator = None, None, None
            else:
                field_name, tp, discriminator = found[0], found[1].annotation, found[1].discriminator
        elif origin in (list, tuple, set, frozenset) or (
            isinstance(origin, type) and issubclass(origin, Sequence) and not issubclass(origin, str)
        ):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            positional = origin is tuple and Ellipsis not in typing.get_args(tp)
            if positional and len(args) > 1 and isinstance(part, int):
                tp = args[part] if 0 <= part < len(args) else None
            else:
                tp = args[0] if args else None
            discriminator, in_container = None, True
        elif origin is dict or (isinstance(origin, type) and issubclass(origin, Mapping)):
            args = typing.get_args(tp)
            if i + 1 < len(loc) and loc[i + 1] == "[key]":
                tp = args[0] if args else None
            else:
                tp = args[1] if len(args) == 2 else None
            discriminator, in_container = None, True
        else:
            tp = None
        path.append(part)
        data = get_in(data, (part,))
        i += 1

    union = None
    if tp is not None:
        tp, discriminator, _ = _unwrap(tp, discriminator)
        if _is_union(tp, discriminator):
            union = _make_union(tp, discriminator, field_name, in_container)
    return _Walk(path, tp, union, key_error)


def _as_written(tp: Any, data: Any, parts: Sequence[str | int]) -> list[str | int]:
    """A path given by a validator (field names or aliases), with each field spelt as the file spells it."""
    out: list[str | int] = []
    for part in parts:
        tp, discriminator, _ = _unwrap(tp, None) if tp is not None else (None, None, None)
        if _is_union(tp, discriminator):
            union = _make_union(tp, discriminator, None, False)
            tag = data.get(union.discriminator) if isinstance(data, Mapping) and union.discriminator else None
            tp = union.tags.get(str(tag)) if tag is not None else None
            tp, _, _ = _unwrap(tp, None) if tp is not None else (None, None, None)
        fields = _model_fields(tp)
        key: str | int = part
        if fields is not None:
            found = _find_field(fields, part)
            if found is None:
                tp = None
            else:
                if isinstance(data, Mapping) and part not in data:
                    key = next((k for k in _field_keys(*found) if k in data), part)
                tp = found[1].annotation
        elif isinstance(part, int) and typing.get_origin(tp) in (list, tuple):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            tp = args[0] if len(args) == 1 else None
        elif isinstance(part, str) and typing.get_origin(tp) is dict:
            args = typing.get_args(tp)
            tp = args[1] if len(args) == 2 else None
        else:
            tp = None
        out.append(key)
        data = get_in(data, (key,))
    return out


def _allowed_keys(tp: Any) -> list[str] | None:
    fields = _model_fields(tp)
    if fields is None:
        return None
    return [key for name, info in fields.items() for key in _field_keys(name, info)]


# ----------------------------------------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------------------------------------

_MAPPING_TYPES = {"model_type", "model_attributes_type", "dict_type", "dataclass_type", "typed_dict_type"}
_LIST_TYPES = {"list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type"}
_PREFIXES = ("Value error, ", "Assertion failed, ")
_AT_PATH = re.compile(r"^@(\S.*?): (.*)$", re.DOTALL)


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"text {_show(value)}"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _quoted_list(text: str) -> list[str]:
    """``"'a', 'b'"`` → ``['a', 'b']`` (pydantic's way of listing expected tags)."""
    return re.findall(r"'([^']*)'", text)


def _tag_message(error: Any, walk: _Walk) -> tuple[list[str | int], str]:
    ctx = error.get("ctx") or {}
    union = walk.union
    key = (_quoted_list(str(ctx.get("discriminator", ""))) or [None])[0]
    key = key or (union.discriminator if union else None)
    available = list(union.tags) if union and union.tags else _quoted_list(str(ctx.get("expected_tags", "")))
    noun = f"{union.noun} " if union and union.noun else ""
    what = f"{noun}{key}" if key else f"{noun}kind"
    listed = ", ".join(available)
    if error["type"] == "union_tag_not_found":
        missing = f"missing {what}" + (f" (key '{key}')" if key else "")
        return walk.path, f"{missing}; available: {listed}" if listed else missing
    tag = str(ctx.get("tag", ""))
    message = f"unknown {what} '{tag}'{did_you_mean(tag, available)}"
    if listed:
        message += f"; available: {listed}"
    path = [*walk.path, key] if key else walk.path
    return path, message


def _message(error: Any, walk: _Walk) -> str:
    kind = error["type"]
    value = error.get("input", _MISSING)
    if kind == "missing":
        return "required key is missing"
    if kind in _MAPPING_TYPES:
        return f"expected a mapping of keys, got {_describe(value)}"
    if kind in _LIST_TYPES:
        return f"expected a list, got {_describe(value)}"
    message = str(error.get("msg", "invalid value"))
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if kind == "assertion_error":
        message = message.split("\n", 1)[0]  # the rest is the failing expression, for programmers
    message = " ".join(message.split())  # one line
    if kind in ("literal_error", "enum"):
        choices = [str(v) for v in _literal_values(walk.type)]
        if not choices and isinstance(walk.type, type) and issubclass(walk.type, enum.Enum):
            choices = [str(member.value) for member in walk.type]
        choices = choices or _quoted_list(str((error.get("ctx") or {}).get("expected", "")))
        if choices:
            message = "should be one of: " + ", ".join(choices)
        if isinstance(value, str):
            hint = suggest(value, choices)
            message = f"unknown value {_show(value)}" + (f" (did you mean '{hint}'?)" if hint else "")
            message += f"; {'allowed' if hint is None else 'available'}: " + ", ".join(choices)
            return message
    if walk.key_error:
        message = f"invalid key: {message}"
    if value is not _MISSING and _is_scalar(value):
        message += f" (got {_show(value)})"
    return message


def problems_from_validation_error(
    exc: pydantic.ValidationError, model: type[BaseModel], source: Source
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, sorted by line, paths and lines as the user wrote them."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        kind = error["type"]
        if kind == "extra_forbidden" and loc:
            walk = _walk(model, loc[:-1], source.data)
            unknown = loc[-1]
            path = [*walk.path, unknown]
            message = f"unknown key '{unknown}'"
            allowed = _allowed_keys(walk.type)
            if allowed is not None:
                hint = suggest(str(unknown), allowed)
                if hint is not None:
                    message += f" (did you mean '{hint}'?)"
                elif allowed:
                    message += f" (allowed: {', '.join(allowed)})"
                else:
                    message += " (no keys are allowed here)"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            walk = _walk(model, loc, source.data)
            path, message = _tag_message(error, walk)
        else:
            walk = _walk(model, loc, source.data)
            path = list(walk.path)
            message = _message(error, walk)
            at = _AT_PATH.match(message) if kind in ("value_error", "assertion_error") else None
            if at is not None:
                path += _as_written(walk.type, get_in(source.data, path), parse_path(at.group(1)))
                message = at.group(2)
        problems.append(Problem(source.path, source.line_of(tuple(path)), format_path(path), message))
    return sort_problems(dict.fromkeys(problems))
