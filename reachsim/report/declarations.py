"""What each metric of a run directory means, as the run declared it (summary.json's ``metrics``).

The report formats, labels, orders and chooses charts from these declarations; a run directory written before
metrics were declared has none, and its metrics are shown by name as plain numbers.
"""

from __future__ import annotations

from typing import Any

from reachsim.results.rundata import RunData


def strategy_declarations(data: RunData) -> dict[str, dict[str, Any]]:
    """The declarations of the strategy metrics: the summary's own, then the figures of channel ``all``."""
    metrics = data.summary.get("metrics") or {}
    out = dict(metrics.get("strategy") or {})
    for strategy in data.strategies:
        for name, declaration in channel_declarations(data, strategy, "all").items():
            out.setdefault(name, declaration)
    return out


def channel_declarations(data: RunData, strategy: str, channel: str) -> dict[str, dict[str, Any]]:
    metrics = data.summary.get("metrics") or {}
    return dict(((metrics.get("channels") or {}).get(strategy) or {}).get(channel) or {})


def group_members(data: RunData, strategy: str, channel: str, group: str) -> dict[str, str]:
    """The metrics of a declared group, label → metric name, in declaration order."""
    return {
        str(d.get("label") or name): name
        for name, d in channel_declarations(data, strategy, channel).items()
        if d.get("group") == group
    }


def of_kinds(data: RunData, kinds: tuple[str, ...]) -> list[tuple[str, str, dict[str, Any]]]:
    """(channel, metric, declaration) of every channel metric whose kind is one of ``kinds``, across strategies,
    in order of first appearance."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for strategy in data.strategies:
        for channel in data.channels(strategy):
            for name, d in channel_declarations(data, strategy, channel).items():
                if d.get("kind") in kinds:
                    found.setdefault((channel, name), d)
    return [(channel, name, d) for (channel, name), d in found.items()]
