"""Run directories for the report tests: small real runs (Page and Messenger strategies) and helpers to read the
HTML back."""

from __future__ import annotations

import csv
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reachsim.channels import registry
from reachsim.experiments.runner import run_experiment
from reachsim.results.rundir import write_run_dir
from reachsim.scenario.load import with_overrides
from tests.conftest import build_scenario
from tests.plugins.queue_probe import PROBE, QueueProbe

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_DESCRIPTION = "Fish & chips <b>bold</b> \"double\" 'single' </p><script>alert(2)</script>"

PAGE = {
    "type": "page",
    "initial_fans": 2_000,
    "organic_fans_per_day": 5,
    "posts": {"per_week": 5},
    "organic_reach": 0.08,
    "engagement": {"probability": 0.05},
    "follow_probability": 0.02,
    "boost": {"budget_per_post": 5, "cpm": 10.0, "target": "market"},
    "content_cost_per_post": 10,
}
MESSENGER = {
    "type": "messenger",
    "initial_subscribers": 300,
    "acquisition": {
        "organic_per_day": 5,
        "paid": {"budget_per_day": 10, "cost_per_subscriber": 1.0},
        "bass": {"p": 0.03, "q": 0.38, "potential": 0.25},
    },
    "broadcasts": {"every_days": 7},
    # an uncertain input: the report shows a table of what the replications drew
    "engagement": {"probability": {"dist": "uniform", "low": 0.1, "high": 0.2}},
    "unsubscribe": {"probability": 0.003},
    "fixed_cost_per_month": 30,
}
SEGMENTS = [
    {"name": "loyal", "share": 0.2, "engagement_multiplier": 1.5, "value_per_engagement": 0.5},
    {"name": "casual", "share": 0.8, "value_per_engagement": 0.1},
]
STRATEGIES = ("page_only", "messenger_push")


def small_scenario(*, replications: int = 2, horizon: int = 60, single: bool = False) -> Any:
    channels: dict[str, list[dict[str, Any]]] = {"page_only": [PAGE]}
    if not single:  # a queue declaring a daily mean and a ratio, so that every chart is called for
        channels["messenger_push"] = [{**PAGE, "messenger_optin_probability": 0.05}, MESSENGER, PROBE]
    scenario = build_scenario(channels, size=10_000, horizon=horizon, seed=5, replications=replications,
                              segments=SEGMENTS)
    return with_overrides(scenario, name=HOSTILE_NAME, description=HOSTILE_DESCRIPTION)


def make_run_dir(folder: Path, **kwargs: Any) -> Path:
    return write_run_dir(run_experiment(small_scenario(**kwargs)), folder)


@pytest.fixture(scope="session", autouse=True)
def queue_probe_registered():
    """The report's scenarios use a test plugin (the report itself reads files only)."""
    registry.register(QueueProbe)
    yield
    registry.unregister(QueueProbe.type_name)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory without a report (2 strategies, 2 replications, 60 days): copy it before rendering."""
    return make_run_dir(tmp_path_factory.mktemp("report_run") / "run")


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, run_dir: Path) -> Path:
    """A copy of ``run_dir`` with its report rendered (shared by read-only tests)."""
    from reachsim.report import render_report

    folder = copy_run(run_dir, tmp_path_factory.mktemp("rendered") / "run")
    render_report(folder)
    return folder


#: A scenario file whose numbers carry source notes (one of them hostile HTML): a strategy that extends the
#: baseline, changes a parameter of its channel, adds a channel with a distribution and a dated change.
SOURCED_SCENARIO = """\
name: Sourced inputs
description: A small scenario whose numbers say where they come from.
horizon_days: 40
seed: 3
replications: 2
discount_rate: 0.08                   # assumption: a typical corporate annual rate
market:
  size: 6000                          # assumption: a small market, for a quick run
  segments:                           # assumption: a fifth of the market loyal
    - {name: loyal, share: 0.2, engagement_multiplier: 1.5, value_per_engagement: 0.5}
    - {name: casual, share: 0.8, value_per_engagement: 0.1}
audience_value: {run_out_days: 10}    # assumption: a short run-out
baseline: page_only
strategies:
  page_only:
    channels:
      - type: page
        initial_fans: 1000            # assumption: an existing Page
        posts: {per_week: 5}          # assumption: a post each working day
        organic_reach: 0.052          # §2 Hootsuite: organic reach 5.2% (C)
        engagement: {probability: 0.05}   # §2 <script>alert(3)</script> & co (B)
        follow_probability: 0.02
        boost: {budget_per_post: 5, cpm: 8.40, target: market}   # §3 AdStage Q1 2019: CPM $8.40 (B)
  messenger_push:
    extends: page_only
    channels:
      - type: page
        messenger_optin_probability: 0.05   # assumption: one engaged person in twenty subscribes
      - type: messenger
        initial_subscribers: 100      # assumption: an earlier campaign
        acquisition:
          organic_per_day: 5          # assumption: sign-ups from the brand's site
        broadcasts: {every_days: 7}   # assumption: weekly
        engagement:
          probability: {dist: uniform, low: 0.15, high: 0.40}   # §4 Octane AI: link CTR 15–60% (C)
        fixed_cost_per_month: 30      # §4 a tool's price list (A/B)
    timeline:
      - {day: 20, channel: messenger, set: {pricing.outside_window: 0.008}}   # §1 Chatfuel: $8.1 per 1,000 (C)
"""


@pytest.fixture(scope="session")
def sourced_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory (no report) of SOURCED_SCENARIO made as `reachsim run` makes it: with its sources.json."""
    from reachsim.results.sources import sources_for
    from reachsim.scenario.load import load_scenario

    folder = tmp_path_factory.mktemp("sourced_run")
    path = folder / "sourced.yaml"
    path.write_text(SOURCED_SCENARIO, encoding="utf-8")
    return write_run_dir(run_experiment(load_scenario(path)), folder / "run", sources=sources_for(path))


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_summary(folder: Path, **changes: Any) -> dict[str, Any]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary.update(changes)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def rename(folder: Path, *, strategy: tuple[str, str] | None = None, channel: tuple[str, str] | None = None) -> None:
    """Rename a strategy and/or a channel throughout summary.json and timeseries.csv (as a hand-edited or
    foreign run directory might have them)."""

    def walk(node: Any, depth: int = 0) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if strategy and key == strategy[0]:
                    key = strategy[1]
                if channel and key == channel[0] and depth == 3:  # strategies.<s>.channels.<channel>
                    key = channel[1]
                out[key] = walk(value, depth + 1)
            return out
        if strategy and node == strategy[0]:
            return strategy[1]
        return node

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    (folder / "summary.json").write_text(json.dumps(walk(summary)), encoding="utf-8")
    with (folder / "timeseries.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for row in rows[1:]:
        if strategy and row[0] == strategy[0]:
            row[0] = strategy[1]
        if channel and row[1] == channel[0]:
            row[1] = channel[1]
    with (folder / "timeseries.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


class Page(HTMLParser):
    """The parsed report: its text, its tags, and whether every element is closed in order."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
    INLINE = frozenset({"a", "b", "code", "em", "i", "small", "span", "strong"})
    HIDDEN = frozenset({"style", "script", "title"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.chunks: list[str] = []
        self.title = ""
        self._in_title = False
        self._hidden = 0
        self.feed(html)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag not in self.INLINE:
            self.chunks.append(" ")  # block boundaries separate words; inline ones do not
        self._in_title = tag == "title"
        self._hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag not in self.INLINE:
            self.chunks.append(" ")
        self._in_title = False
        self._hidden -= tag in self.HIDDEN

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._hidden:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        """The visible text with runs of white space made single spaces."""
        return " ".join("".join(self.chunks).split())
