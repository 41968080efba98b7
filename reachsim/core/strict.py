"""The strict base model every part of a scenario derives from.

What a scenario may hold is decided here once, for every field of every model (channel plugins included):

* unknown keys are errors (with a "did you mean"), never silently ignored;
* numbers are numbers: text (``"1000"``) and booleans (``true``) are refused where a number is expected, and so
  are infinities and NaN (``.inf``, ``NaN``), which would otherwise travel into the simulation and its results,
  and decimals beyond ±10^15 (no budget, price or rate is that large, and sums of such numbers over years of
  days and many replications overflow). A whole number may be written for a decimal one (``budget: 30``), and a
  whole decimal for a whole number (``size: 2000.0``, as a timeline or a sweep sets it);
* text holds no control characters but tabs and line breaks (an escape sequence in a name would reach the
  terminal and the report), nor the invisible marks that reorder text on screen; names (fields called
  ``name``, and mapping keys such as strategy names) are one line.
"""

from __future__ import annotations

import re
import typing
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

__all__ = ["MAX_MAGNITUDE", "StrictModel", "control_character"]

#: The largest decimal a scenario may hold, either sign.
MAX_MAGNITUDE = 1e15

#: Marks that change the direction of the text around them: they make a name print as something else.
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: The control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) but tab and line feed, and those.
_REFUSED = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_CONTROLS}]")


def control_character(text: str) -> str | None:
    """The first character of ``text`` that may not appear in scenario text, or None."""
    found = _REFUSED.search(text)
    return found.group() if found else None


def _problem(value: Any, *, one_line: bool = False) -> tuple[str, str] | None:
    """(where, what) of the first control character in a string, or decimal beyond MAX_MAGNITUDE, in a value or
    among the keys, strings and numbers of a list or mapping; ``where`` is relative (``.key``, ``[3]``), and a
    value found inside is quoted (pydantic quotes the field's own value)."""
    if type(value) is float and abs(value) > MAX_MAGNITUDE:
        return "", f"numbers here are at most {MAX_MAGNITUDE:.0e} in size"
    if isinstance(value, str):
        char = control_character(value)
        if char is not None:
            what = "control character" if unicodedata.category(char) == "Cc" else "text-direction mark"
            return "", f"{what} U+{ord(char):04X} is not allowed in text (tabs and line breaks are)"
        if one_line and ("\n" in value or "\t" in value):
            return "", "a name is one line of text: no line breaks or tabs"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _problem(key, one_line=True)
            if found is not None:
                return "", f"in a key: {found[1]}"
            found = _problem(item)
            if found is not None:
                return f".{key}{found[0]}", found[1] + (f" (got {item!r})" if not found[0] else "")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _problem(item)
            if found is not None:
                return f"[{index}]{found[0]}", found[1] + (f" (got {item!r})" if not found[0] else "")
    return None


def _takes_whole_numbers(annotation: Any) -> bool:
    """``int`` or ``int | None`` (not a union with float, where a decimal stays a decimal)."""
    members = [arg for arg in typing.get_args(annotation) if arg is not type(None)] or [annotation]
    return members == [int]


class StrictModel(BaseModel):
    """Unknown keys, text or booleans for numbers, infinities, NaN, huge decimals and control characters are refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=False, validate_default=True, strict=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _whole_decimals(cls, data: Any) -> Any:
        """``2000.0`` for a whole-number field is 2000 (strict mode alone would refuse it)."""
        if not isinstance(data, dict):
            return data
        changed = None
        for name, field in cls.model_fields.items():
            for key in (name, field.alias):
                value = data.get(key) if key is not None else None
                if type(value) is float and value.is_integer() and _takes_whole_numbers(field.annotation):
                    changed = changed if changed is not None else dict(data)
                    changed[key] = int(value)
        return changed if changed is not None else data

    @field_validator("*", mode="after")
    @classmethod
    def _plain_values(cls, value: Any, info: ValidationInfo) -> Any:
        """No control characters (keys and fields called ``name`` are names: one line; other text may span
        lines), no decimal beyond MAX_MAGNITUDE."""
        found = _problem(value, one_line=info.field_name == "name")
        if found is not None:
            where, what = found
            raise ValueError(f"@{where.removeprefix('.')}: {what}" if where else what)
        return value
