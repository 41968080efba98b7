"""The channel registry: ``type`` name → channel class.

Built-in channels and third-party plugins are registered the same way: as entry points of the group
``reachsim.channels`` (``type = "module:Class"``). The built-ins' entry points are made from the one list below
rather than read from the package metadata, so that a source checkout works without installation; from there on
they go through the same loading and checks as a plugin's. A plugin that claims a built-in's type, or two plugins
with one type, is an error naming both — never a silent choice. A scenario names a channel by its registered
``type`` only — never by import path — so a scenario file cannot make reachsim import arbitrary code.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from reachsim.channels.base import Channel, ChannelParams

ENTRY_POINT_GROUP = "reachsim.channels"

BUILTIN: dict[str, str] = {
    "app": "reachsim.channels.app:AppChannel",
    "messenger": "reachsim.channels.messenger:MessengerChannel",
    "page": "reachsim.channels.page:PageChannel",
    "support": "reachsim.channels.support:SupportChannel",
}

_registered: dict[str, type[Channel]] = {}
_generation = 0


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


def _builtin_entry_points() -> list[EntryPoint]:
    return [EntryPoint(name, reference, ENTRY_POINT_GROUP) for name, reference in BUILTIN.items()]


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    where = f"package {dist.name}" if dist is not None else "reachsim (built in)"
    return f"{ep.value} from {where}"


@functools.cache
def _discovered() -> dict[str, type[Channel]]:
    claimed: dict[str, EntryPoint] = {}
    for ep in [*_builtin_entry_points(), *entry_points(group=ENTRY_POINT_GROUP)]:
        other = claimed.get(ep.name)
        if other is not None and other.value != ep.value:
            raise RegistryError(
                f"two channel plugins claim the type '{ep.name}': {_origin(other)} and {_origin(ep)}; "
                "uninstall one, or give one another type name"
            )
        claimed.setdefault(ep.name, ep)  # the same reference twice: reachsim's own metadata, installed
    return {name: _check(name, ep.load()) for name, ep in claimed.items()}


def register(cls: type[Channel]) -> type[Channel]:
    """Register a channel class programmatically (tests, notebooks). Usable as a decorator."""
    _registered[cls.type_name] = _check(cls.type_name, cls)
    _invalidate()
    return cls


def unregister(type_name: str) -> None:
    _registered.pop(type_name, None)
    _invalidate()


def _invalidate() -> None:
    global _generation
    _generation += 1


def generation() -> int:
    """A number that changes whenever a channel is registered or unregistered (models built from the
    registry, like the scenario schema, are cached by it)."""
    return _generation


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


def consumers_of(topic: str, channels: Sequence[ChannelParams]) -> list[ChannelParams]:
    """The channels among ``channels`` whose type consumes the bus ``topic`` (for ``check_strategy``): a channel
    asks for a partner by what it does, not by its type name."""
    return [c for c in channels if topic in get(c.type).consumes]
