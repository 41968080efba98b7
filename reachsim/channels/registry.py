"""The channel registry: ``type`` name → channel class.

Built-in channels and third-party plugins are found the same way: by a ``module:Class`` reference. Built-ins are
listed here (so a source checkout works without installation); plugins declare an entry point in the group
``reachsim.channels``. A scenario names a channel by its registered ``type`` only — never by import path — so a
scenario file cannot make reachsim import arbitrary code.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reachsim.channels.base import Channel

ENTRY_POINT_GROUP = "reachsim.channels"

BUILTIN: dict[str, str] = {
    "messenger": "reachsim.channels.messenger:MessengerChannel",
    "page": "reachsim.channels.page:PageChannel",
    "support": "reachsim.channels.support:SupportChannel",
}

_registered: dict[str, type[Channel]] = {}


class RegistryError(Exception):
    pass


def _load(reference: str) -> type[Channel]:
    module_name, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _check(type_name: str, cls: type) -> type[Channel]:
    from reachsim.channels.base import Channel, ChannelParams

    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise RegistryError(f"channel plugin '{type_name}' is not a reachsim.channels.base.Channel subclass")
    if getattr(cls, "type_name", None) != type_name:
        raise RegistryError(
            f"channel plugin registered as '{type_name}' declares type_name {getattr(cls, 'type_name', None)!r}"
        )
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, ChannelParams)):
        raise RegistryError(f"channel plugin '{type_name}' has no Params model derived from ChannelParams")
    return cls


@functools.cache
def _discovered() -> dict[str, type[Channel]]:
    found: dict[str, type[Channel]] = {}
    for type_name, reference in BUILTIN.items():
        found[type_name] = _check(type_name, _load(reference))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue  # a built-in registered through its own package metadata
        found[ep.name] = _check(ep.name, ep.load())
    return found


def register(cls: type[Channel]) -> type[Channel]:
    """Register a channel class programmatically (tests, notebooks). Usable as a decorator."""
    _registered[cls.type_name] = _check(cls.type_name, cls)
    _invalidate()
    return cls


def unregister(type_name: str) -> None:
    _registered.pop(type_name, None)
    _invalidate()


def _invalidate() -> None:
    from reachsim.scenario import schema

    schema.scenario_model.cache_clear()


def available() -> dict[str, type[Channel]]:
    """Every registered channel type, sorted by name."""
    merged = {**_discovered(), **_registered}
    return dict(sorted(merged.items()))


def get(type_name: str) -> type[Channel]:
    channels = available()
    try:
        return channels[type_name]
    except KeyError:
        raise RegistryError(
            f"unknown channel type '{type_name}'; available: {', '.join(channels)}"
        ) from None
