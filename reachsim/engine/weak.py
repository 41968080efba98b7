"""Callbacks the engine keeps without keeping their channel alive.

The engine holds channels' bound methods in three places: scheduled activities, bus handlers and daily stock
readers. Each bound method refers to its channel, whose context refers back to the engine's bus, recorder and
clock: held strongly, every finished run would be a reference cycle that keeps the whole population's columns
until the cyclic garbage collector happens to run (hundreds of megabytes at ten million consumers). Held through
:func:`weak_callable`, a run is freed the moment its last reference goes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any


def weak_callable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` itself, or for a bound method a stand-in that does not keep its object alive.

    Calling the stand-in after the object is gone raises ReferenceError (a channel discarded while its run still
    uses it is a bug). Plain functions and lambdas are returned as they are: they belong to nobody else.
    """
    if not isinstance(fn, MethodType):
        return fn
    ref = weakref.ref(fn.__self__)  # the object and the function apart: no bound method made per call
    func = fn.__func__
    name = fn.__qualname__

    def call(*args: Any, **kwargs: Any) -> Any:
        obj = ref()
        if obj is None:
            raise ReferenceError(f"{name} was called after its object was discarded")
        return func(obj, *args, **kwargs)

    return call


def weak_parts(*fns: Callable[..., Any]) -> tuple[weakref.ref[Any] | None, tuple[tuple[Callable[..., Any], bool], ...]]:
    """Callbacks that are called together, split so that their common object is looked up once per call.

    Returns a weak reference to the object of the first bound method (None if there is none) and, for each
    callback, ``(function, True)`` for a method of that object (call it with the object first) or
    ``(callable, False)`` for anything else (call it as it is; a method of another object through
    :func:`weak_callable`).
    """
    owner: Any = None
    parts: list[tuple[Callable[..., Any], bool]] = []
    for fn in fns:
        if isinstance(fn, MethodType) and (owner is None or fn.__self__ is owner):
            owner = fn.__self__
            parts.append((fn.__func__, True))
        else:
            parts.append((weak_callable(fn), False))
    return (None if owner is None else weakref.ref(owner)), tuple(parts)
