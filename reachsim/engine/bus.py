"""A small synchronous event bus for effects that cross channels.

Channels never import each other. A Page engagement that turns into a Messenger opt-in is published here by the
Page and handled by whichever Messenger channel subscribed; handlers run at once, in subscription order. The bus
knows no topic: channels name and declare theirs (reachsim.channels.topics).
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from reachsim.engine.weak import weak_callable

Handler = Callable[[dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(weak_callable(handler))  # a channel's handler does not keep it alive

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers.get(topic))

    def publish(self, topic: str, **payload: Any) -> None:
        for handler in self._handlers.get(topic, ()):
            handler(payload)
