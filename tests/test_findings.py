"""The findings script: it runs every shipped scenario at reduced settings and writes its tables and charts; the
sentences it generates follow the intervals (a contradiction is said only when an interval excludes 0)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from reachsim import findings
from reachsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("findings")
    args = ["--replications", "2", "--horizon-scale", "0.03", "--market-scale", "0.01",
            "--scenarios", str(ROOT / "scenarios"), "--out", str(out / "docs"), "--runs", str(out / "runs")]
    assert findings.main(args) == 0
    return out, (out / "docs" / "findings.md").read_text(encoding="utf-8")


def test_every_scenario_has_its_question_table_chart_and_sentences(page: tuple[Path, str]) -> None:
    out, text = page
    assert "**Reduced settings**" in text and "--replications 2" in text
    for path in SCENARIOS:
        scenario = load_scenario(path)
        section = text.split(f'<a id="{path.stem.replace("_", "-")}"></a>', 1)[1].split("<a id=", 1)[0]
        assert findings.question_of(path.read_text(encoding="utf-8")) in section
        assert f"| strategy | NPV: mean [5%, 95%] | NPV − {scenario.baseline} (95% CI) |" in section
        for name in scenario.strategies:
            assert f"| `{name}`" in section, f"{path.stem}: no row for {name}"
        assert "**What the simulation says.**" in section and "**Caveats.**" in section
        assert f"seed {scenario.seed} · 2 replications" in section
        chart = out / "docs" / "findings" / f"{path.stem}.png"
        assert chart.read_bytes().startswith(PNG)
        assert f"](findings/{path.stem}.png)" in section
        assert (out / "runs" / path.stem / "summary.json").is_file()


def test_the_data_question_gets_a_row_per_share_of_usable_data(page: tuple[Path, str]) -> None:
    section = page[1].split('<a id="data-and-consent"></a>', 1)[1]
    for share in ("| 0% |", "| 30% |", "| 70% |"):
        assert share in section


def test_scaled_copy(tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "messenger_push.yaml")
    assert findings.scaled(scenario) is scenario
    small = findings.scaled(scenario, horizon_scale=0.5, market_scale=0.1)
    assert small.horizon_days == 365 and small.market.size == 20_000
    assert small.audience_value.run_out_days == 182
    channel = small.strategies["push_free"].channels[0]
    assert channel.initial_subscribers == 200 and channel.acquisition.paid.budget_per_day == pytest.approx(10)
    assert [e.day for e in small.strategies["push_charged"].timeline] == [182]  # timeline days scale too
    assert [e.day for e in findings.scaled(scenario, horizon_scale=0.1).strategies["push_charged"].timeline] == [36]
    assert channel.engagement.novelty.half_life_days == 90  # only counts, budgets and staff follow the market


# -- sentences from numbers --------------------------------------------------------------------------------------


def _diff(mean: float, lo: float, hi: float) -> dict[str, Any]:
    return {"mean": mean, "ci95": [lo, hi]}


def _finding(comparisons: dict[str, dict[str, Any]], means: dict[str, float], stem: str = "x",
             runs: dict[str, np.ndarray] | None = None) -> findings.Finding:
    strategies = {s: {"metrics": {m: {"mean": v, "p05": v, "p95": v} for m, _ in findings.HEADLINE}}
                  for s, v in means.items()}
    summary = {"baseline": "base", "strategies": strategies,
               "comparisons": {s: {m: d for m, _ in findings.HEADLINE} for s, d in comparisons.items()}}
    scenario = SimpleNamespace(horizon_days=730, audience_value=SimpleNamespace(run_out_days=365))

    class Result:
        def __init__(self) -> None:
            self.runs = dict.fromkeys(runs or {})

        def strategy_metrics(self, strategy: str) -> dict[str, np.ndarray]:
            return {m: runs[strategy] for m, _ in findings.HEADLINE}  # type: ignore[index]

    return findings.Finding(stem, "?", scenario, Result(), summary, None, 0.0, [])  # type: ignore[arg-type]


def test_a_difference_whose_interval_includes_zero_is_called_so() -> None:
    f = _finding({"a": _diff(50, -10, 110)}, {"base": 0, "a": 50})
    said = " ".join(findings.verdicts(f))
    assert "includes 0" in said and "cannot tell" in said


def test_a_clear_winner_and_a_clear_loser() -> None:
    f = _finding({"a": _diff(50, 10, 90), "b": _diff(-40, -60, -20)}, {"base": 0, "a": 50, "b": -40})
    said = findings.verdicts(f)
    assert "`a` has the highest NPV" in said[0] and "clear difference" in said[0]
    assert any("`b` trails `base`" in s for s in said)


def test_a_belief_is_contradicted_only_when_the_interval_excludes_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    belief = findings.Belief("a", "base", "npv", "a beats the base")
    monkeypatch.setitem(findings.BELIEFS, "x", (belief,))
    worse = {"a": np.array([1.0, 2.0, 3.0, 2.5]), "base": np.array([5.0, 6.0, 6.5, 7.0])}
    mixed = {"a": np.array([1.0, 8.0, 3.0, 9.0]), "base": np.array([5.0, 6.0, 6.5, 7.0])}
    better = {"a": np.array([9.0, 10.0, 11.0, 12.5]), "base": np.array([5.0, 6.0, 6.5, 7.0])}
    comparisons, means = {"a": _diff(0, -1, 1)}, {"base": 0, "a": 0}
    assert "contradicts" in findings.belief_sentences(_finding(comparisons, means, runs=worse))[0]
    said = findings.belief_sentences(_finding(comparisons, means, runs=mixed))[0]
    assert "neither confirm nor contradict" in said and "contradicts" not in said.replace("nor contradict", "")
    assert "agree" in findings.belief_sentences(_finding(comparisons, means, runs=better))[0]


def test_every_belief_names_strategies_of_its_scenario() -> None:
    stems = {p.stem: p for p in SCENARIOS}
    for stem, beliefs in findings.BELIEFS.items():
        strategies = load_scenario(stems[stem]).strategies
        for belief in beliefs:
            assert {belief.strategy, belief.against} <= set(strategies), (stem, belief)


def test_support_service_is_tabled_and_a_rise_in_abandonment_is_said(page: tuple[Path, str]) -> None:
    section = page[1].split('<a id="support-automation"></a>', 1)[1].split("<a id=", 1)[0]
    assert "| strategy | channel | abandoned (share of contacts offered to agents) |" in section
    f = _finding({"a": _diff(5, 1, 9)}, {"base": 0, "a": 5})
    for name, share in (("base", 0.05), ("a", 0.30)):
        f.summary["strategies"][name]["channels"] = {"support": {"abandonment": {"mean": share}}}
    said = " ".join(findings.service_table(f))
    assert "`a` loses more contacts than `base`: 30.0%" in said
    f.summary["strategies"]["a"]["channels"]["support"]["abandonment"]["mean"] = 0.06
    assert "loses" not in " ".join(findings.service_table(f))
