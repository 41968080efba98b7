"""Shared helpers of the command-line tests: a small, fast scenario, and runs of the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MESSENGER_PUSH = REPO / "scenarios" / "messenger_push.yaml"

#: The shape of scenarios/messenger_push.yaml (three strategies: extends, a dated price, a merged channel),
#: with a small market and a short horizon so that a run takes a fraction of a second.
SMALL_SCENARIO = textwrap.dedent(
    """\
    name: Small messenger push
    description: A small copy of messenger_push for the command-line tests.
    horizon_days: 40
    seed: 11
    replications: 3
    discount_rate: 0.08                 # assumption: a typical annual rate
    market:
      size: 3000                        # assumption: small, for quick runs
      segments:
        - {name: loyal,  share: 0.2, engagement_multiplier: 1.5, value_per_engagement: 0.50}
        - {name: casual, share: 0.8, engagement_multiplier: 1.0, value_per_engagement: 0.10}
    baseline: push_free
    strategies:
      push_free:
        channels:
          - type: messenger
            initial_subscribers: 200
            acquisition:
              organic_per_day: 5
              paid: {budget_per_day: 10, cost_per_subscriber: 1.0}   # §3 a benchmark (B)
              bass: {p: 0.03, q: 0.38, potential: 0.25}
            broadcasts: {every_days: 7}
            engagement:
              probability: 0.15       # §4 Octane AI: link CTR 15–60% (C)
              novelty: {half_life_days: 90, floor: 0.4}
              fatigue: {half_life_days: 4, strength: 0.3}
            unsubscribe: {probability: 0.0025, fatigue_strength: 1.0}
            pricing: {in_window: 0.0, outside_window: 0.0, window_hours: 24}
            inbound_conversations_per_year: 2
            fixed_cost_per_month: 30
      push_charged:
        extends: push_free
        timeline:
          - {day: 20, channel: messenger, set: {pricing.outside_window: 0.008}}
      push_twice_weekly:
        extends: push_free
        channels:
          - type: messenger
            broadcasts: {every_days: 3.5}   # assumption: twice a week
    """
)


@pytest.fixture(scope="session")
def small_text() -> str:
    return SMALL_SCENARIO


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def messenger_push() -> Path:
    return MESSENGER_PUSH


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes (a whole run directory, compared)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


class CLI:
    """``python -m reachsim ARGS`` in a subprocess; ``start`` does not wait, so several can run at once."""

    @staticmethod
    def start(*args: str | os.PathLike[str], cwd: Path) -> subprocess.Popen[str]:
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        return subprocess.Popen(
            [sys.executable, "-m", "reachsim", *map(str, args)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    @staticmethod
    def finish(process: subprocess.Popen[str], timeout: float = 120) -> Completed:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        return Completed(process.returncode, stdout, stderr)

    def run(self, *args: str | os.PathLike[str], cwd: Path) -> Completed:
        return self.finish(self.start(*args, cwd=cwd))


@pytest.fixture(scope="session")
def cli() -> CLI:
    return CLI()


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of the small scenario (in-process, --quiet), shared by the read-only tests."""
    from reachsim.cli import main

    folder = tmp_path_factory.mktemp("small_run")
    scenario = folder / "small.yaml"
    scenario.write_text(SMALL_SCENARIO, encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(folder / "out"), "--quiet", "--no-report"]) == 0
    return folder / "out"


@pytest.fixture(scope="session")
def messenger_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of scenarios/messenger_push.yaml with 2 replications (in-process, --quiet)."""
    from reachsim.cli import main

    out = tmp_path_factory.mktemp("messenger_run") / "out"
    assert main(["run", str(MESSENGER_PUSH), "--replications", "2", "--out", str(out), "--quiet", "--no-report"]) == 0
    return out
