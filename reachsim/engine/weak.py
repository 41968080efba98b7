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
    ref = weakref.WeakMethod(fn)
    name = fn.__qualname__

    def call(*args: Any, **kwargs: Any) -> Any:
        method = ref()
        if method is None:
            raise ReferenceError(f"{name} was called after its object was discarded")
        return method(*args, **kwargs)

    return call
