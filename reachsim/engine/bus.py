"""A small synchronous event bus for effects that cross channels.

Channels never import each other. A Page engagement that turns into a Messenger opt-in is published here by the
Page and handled by whichever Messenger channel subscribed; handlers run at once, in subscription order.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

#: ``payload = {"idx": int64 array of consumers, "t": time, "source": str}``: consumers who opt in to Messenger.
MESSENGER_OPTIN = "messenger.optin"
#: ``payload = {"idx": ..., "t": ...}``: consumers who acted on Messenger (opens the standard messaging window).
MESSENGER_USER_ACTION = "messenger.user_action"
#: ``payload = {"idx": ..., "t": ..., "source": str}``: consumers who start following the Page.
PAGE_FOLLOW = "page.follow"

Handler = Callable[[dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers.get(topic))

    def publish(self, topic: str, **payload: Any) -> None:
        for handler in self._handlers.get(topic, ()):
            handler(payload)
