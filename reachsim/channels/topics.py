"""Bus topics that channels share: the only way one channel affects another.

A topic is named ``"<channel type>.<event>"`` after the channel that consumes it; the payload always has ``idx``
(an int64 array of consumers) and ``t`` (the time in days). Channels declare the topics they publish and consume
(``Channel.publishes``, ``Channel.consumes``), so the report and the contract suite can show the links; the engine's
bus knows no topic.
"""

#: ``{"idx", "t", "source": str}``: consumers who opt in to Messenger (de-duplicated by the Messenger channel).
MESSENGER_OPTIN = "messenger.optin"
#: ``{"idx", "t"}``: consumers who acted on Messenger (an engagement, a support chat): opens the standard
#: messaging window for them. ``t`` is one time for all, or one per consumer; an action dated after the clock
#: takes effect when the clock reaches it, so a day's actions may be published at once.
MESSENGER_USER_ACTION = "messenger.user_action"
#: ``{"idx", "t", "source": str}``: consumers who start following the Page.
PAGE_FOLLOW = "page.follow"
#: ``{"idx", "t", "channel": str}``: consumers who engaged with a marketing delivery of any channel, one entry per
#: engagement (support channels may turn a share of them into contacts). Published by Messenger (broadcasts), the
#: Page (posts) and the app (pushes; for in-app sessions, each consumer who had one that day, once).
ENGAGEMENT = "marketing.engagement"
