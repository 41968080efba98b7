"""The app channel's scenario keys, load-time checks and warnings, bookkeeping, and a run end to end.

Its closed forms are in test_app_theory.py; the contract suite runs over it in tests/test_contract.py.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reachsim.channels import registry
from reachsim.channels.app import AppChannel, AppParams
from reachsim.cli import main
from reachsim.core.problems import ScenarioWarning
from reachsim.engine.simulation import Simulation
from reachsim.scenario.errors import ScenarioError
from reachsim.scenario.load import load_scenario, scenario_from_dict

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenarios" / "app_vs_messenger_vs_page.yaml"

#: The app entry of the scenario contract's ``mobile_app`` strategy, key for key.
CONTRACT_APP = {
    "type": "app",
    "build": {"cost": 120000, "days": 90},
    "maintenance": {"cost_per_year": 24000},
    "os_updates": {"every_days": 365, "cost": 15000},
    "acquisition": {"organic_per_day": 20, "paid": {"budget_per_day": 150, "cost_per_install": 3.0}},
    "retention": {"day_1": 0.26, "day_30": 0.07},
    "push": {"optin": 0.5, "every_days": 3, "engagement": {"probability": 0.05}, "disable": {"probability": 0.003}},
    "home_screen": {"impressions_per_day": 1.0, "value_per_impression": 0.0005},
}

#: Every mechanism at once, in a small market.
FULL_APP = {
    "type": "app",
    "build": {"cost": 5_000, "days": 10, "spread": True},
    "maintenance": {"share_of_build_per_year": 0.2},
    "os_updates": {"every_days": 20, "cost": 300},
    "fees": {"store_per_month": 10, "hosting_per_month": 40},
    "acquisition": {
        "organic_per_day": 4,
        "paid": {"budget_per_day": 10, "cost_per_install": 2.0},
        "bass": {"p": 0.5, "q": 2.0, "potential": 0.5},
    },
    "retention": {"day_1": 0.6, "day_30": 0.3, "more_points": [{"day": 7, "share": 0.45}]},
    "push": {
        "optin": 0.6,
        "every_days": 2,
        "engagement": {"probability": 0.2, "fatigue": {"half_life_days": 4, "strength": 0.3}},
        "disable": {"probability": 0.02, "fatigue_strength": 1.0},
        "uninstall": {"probability": 0.01},
        "cost_per_message": 0.001,
    },
    "home_screen": {"impressions_per_day": 1.0, "value_per_impression": 0.001},
    "sessions": {"per_day": 0.3, "novelty": {"half_life_days": 7, "floor": 0.2}},
}


def scenario(channel: dict[str, Any], *, horizon: int = 60, size: int = 3_000, **top: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "horizon_days": horizon,
        "seed": 3,
        "market": {
            "size": size,
            "segments": [
                {"name": "loyal", "share": 0.3, "engagement_multiplier": 1.5, "value_per_engagement": 0.5},
                {"name": "casual", "share": 0.7, "value_per_engagement": 0.1},
            ],
        },
        "strategies": {"app": {"channels": [channel]}},
        **top,
    }


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    return [str(p) for p in info.value.problems]


# -- registration and the scenario contract ---------------------------------------------------------------------


def test_app_is_a_builtin_channel() -> None:
    assert registry.BUILTIN["app"] == "reachsim.channels.app:AppChannel"
    assert registry.get("app") is AppChannel
    assert "reachsim.channels.app" in Path(HERE.parents[1] / "pyproject.toml").read_text(encoding="utf-8")


def test_the_contract_entry_loads_with_its_meaning() -> None:
    sc = scenario_from_dict(scenario(CONTRACT_APP, horizon=730, size=200_000))
    app = sc.strategies["app"].channels[0]
    assert isinstance(app, AppParams)
    assert (app.build.cost, app.build.days, app.build.spread) == (120000, 90, False)
    assert app.maintenance.per_year(app.build.cost) == 24000
    assert app.acquisition.shared().paid.cost_per_subscriber == 3.0  # the shared component's terms
    scale, shape = app.retention.weibull()
    assert np.exp(-((1 / scale) ** shape)) == pytest.approx(0.26) and np.exp(-((30 / scale) ** shape)) == pytest.approx(
        0.07
    )
    assert app.push.uninstall.probability == 0.0 and app.sessions is None


@pytest.mark.parametrize(
    ("retention", "field", "message"),
    [
        ({"day_1": 0.26, "day_30": 0.3}, "retention.day_30", "must fall with age: 0.3 on day 30 is not below 0.26"),
        ({"day_1": 0.26, "day_30": 0.26}, "retention.day_30", "must fall with age"),
        ({"day_1": 1.0, "day_30": 0.07}, "retention.day_1", "less than 1"),
        ({"day_1": 0.26, "day_30": 0.0}, "retention.day_30", "greater than 0"),
        (
            {"day_1": 0.26, "day_30": 0.07, "more_points": [{"day": 7, "share": 0.05}]},
            "retention.day_30",
            "0.07 on day 30 is not below 0.05 on day 7",
        ),
        (
            {"day_1": 0.26, "day_30": 0.07, "more_points": [{"day": 90, "share": 0.1}]},
            "retention.more_points[0].share",
            "0.1 on day 90 is not below 0.07 on day 30",
        ),
        (
            {"day_1": 0.26, "day_30": 0.07, "more_points": [{"day": 30, "share": 0.05}]},
            "retention.more_points[0].day",
            "day 30 is given twice",
        ),
    ],
)
def test_impossible_retention_is_refused_at_its_field(retention: dict[str, Any], field: str, message: str) -> None:
    (problem,) = problems_of(scenario({**CONTRACT_APP, "retention": retention}))
    assert f"strategies.app.channels[0].{field}: " in problem and message in problem, problem


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"maintenance": {}}, "maintenance.cost_per_year", "give exactly one of cost_per_year or share_of_build"),
        (
            {"maintenance": {"cost_per_year": 1, "share_of_build_per_year": 0.1}},
            "maintenance.share_of_build_per_year",
            "exactly one",
        ),
        (
            {"push": {"optin": 0.5, "every_days": 3, "engagement": {"probability": 0.05},
                      "disable": {"probability": 0.6}, "uninstall": {"probability": 0.5}}},
            "push.uninstall.probability",
            "must not exceed 1",
        ),
        (
            {"push": {"optin": 0.5, "every_days": 3, "engagement": {"probability": 0.05},
                      "disable": {"probability": 0.01, "fatigue_strength": 1}}},
            "push.disable.fatigue_strength",
            "needs engagement.fatigue",
        ),
        ({"acquisition": {"paid": {"budget_per_day": 1, "cost_per_subscriber": 2}}}, "acquisition.paid", ""),
    ],
)
def test_inconsistent_parameters_are_refused(change: dict[str, Any], field: str, message: str) -> None:
    found = problems_of(scenario({**CONTRACT_APP, **change}))
    assert any(f"channels[0].{field}" in p and message in p for p in found), found


def test_the_launch_day_cannot_change_on_a_timeline() -> None:
    data = scenario(CONTRACT_APP, horizon=400)
    data["strategies"]["app"]["timeline"] = [{"day": 5, "channel": "app", "set": {"build.days": 20}}]
    (problem,) = problems_of(data)
    assert "'build.days' cannot change during a run" in problem


# -- a launch after the horizon: a warning, and the run goes on ------------------------------------------------


def test_a_launch_after_the_horizon_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "late.yaml"
    path.write_text(
        "name: late\nhorizon_days: 60\nmarket: {size: 1000}\nstrategies:\n  app:\n    channels:\n"
        "      - type: app\n        build: {cost: 1000, days: 60}\n        retention: {day_1: 0.3, day_30: 0.1}\n",
        encoding="utf-8",
    )
    with pytest.warns(ScenarioWarning) as caught:
        sc = load_scenario(path)
    (warning,) = caught
    assert str(warning.message) == (
        f"{path}:8: warning: strategies.app.channels[0].build.days: the app launches on day 60, not before the "
        "horizon (60 days): it reaches nobody in this run and books only its build cost"
    )
    series = Simulation(sc, "app", 0).run().series
    assert series["app", "cost"].sum() == 1000 and not series["app", "joined"].any()


def test_a_launch_before_the_horizon_warns_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scenario_from_dict(scenario({**CONTRACT_APP, "build": {"cost": 1, "days": 59}}))


# -- the command line ---------------------------------------------------------------------------------------------

INVALID = """\
name: invalid retention
horizon_days: 60
market: {size: 1000}
strategies:
  app:
    channels:
      - type: app
        build: {cost: 1000, days: 5}
        retention:
          day_1: 0.26
          day_30: 0.4
"""

LATE = INVALID.replace("day_30: 0.4", "day_30: 0.04").replace("days: 5", "days: 90")


def test_cli_refuses_impossible_retention_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(INVALID, encoding="utf-8")
    expected = (
        f"{path}:11: strategies.app.channels[0].retention.day_30: the share still installed must fall with age: "
        "0.4 on day 30 is not below 0.26 on day 1 (day_1)"
    )
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "out")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [expected] and "Traceback" not in err
    assert not (tmp_path / "out").exists(), "nothing runs"


def test_cli_prints_the_warning_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "late.yaml"
    path.write_text(LATE, encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{path}: ok (invalid retention; 1 strategy)"
    assert err.splitlines() == [
        f"{path}:8: warning: strategies.app.channels[0].build.days: the app launches on day 90, not before the "
        "horizon (60 days): it reaches nobody in this run and books only its build cost"
    ]
    assert re.fullmatch(r"[^:]+:\d+: warning: \S+: .+", err.strip())


# -- bookkeeping ----------------------------------------------------------------------------------------------------


def test_the_series_add_up() -> None:
    sc = scenario_from_dict(scenario(FULL_APP, horizon=90))
    result = Simulation(sc, "app", 0).run()
    s = {metric: values for (channel, metric), values in result.series.items() if channel == "app"}
    declared = {m.name: m for m in AppChannel.declared_metrics()}

    def group(name: str) -> list[str]:
        return [m for m, d in declared.items() if d.group == name]

    launch = FULL_APP["build"]["days"]
    np.testing.assert_allclose(sum(s[m] for m in group("cost, by category")), s["cost"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(sum(s[m] for m in group("value, by category")), s["value"], rtol=1e-12, atol=1e-12)
    assert np.array_equal(sum(s[m] for m in group("engagements, by kind")), s["engagements"])
    assert np.array_equal(sum(s[m] for m in group("joined, by source")), s["joined"])
    assert np.array_equal(sum(s[m] for m in group("uninstalls, by cause")), s["left"])
    assert np.array_equal(s["installed"], s["audience"])
    assert np.array_equal(np.cumsum(s["joined"] - s["left"]), s["installed"])
    assert np.all(s["push_reachable"] <= s["installed"])
    assert np.array_equal(s["reached"], s["joined"])  # an install is the consumer's first sight of the app
    assert s["uninstalls_push"].sum() > 0 and s["push_disables"].sum() > 0 and s["sessions"].sum() > 0
    for metric in ("joined", "deliveries", "engagements", "brand_impressions", "cost_maintenance", "cost_fees"):
        assert not s[metric][:launch].any(), f"{metric} before the launch"
        assert s[metric][launch:].any(), f"no {metric} after the launch"
    np.testing.assert_allclose(s["cost"][:launch], 500.0)  # the build, spread over its 10 days
    assert sorted(group("cost, by category")) == sorted(
        f"cost_{c}" for c in ("build", "maintenance", "os_update", "fees", "acquisition", "push")
    )
    assert declared["installed"].kind == declared["push_reachable"].kind == "stock"


# -- end to end: the app beside Messenger and Page strategies ----------------------------------------------------


def test_a_scenario_with_app_messenger_and_page_strategies_runs_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["run", str(SCENARIO), "--out", str(out), "--replications", "2", "--quiet"]) == 0
    assert capsys.readouterr().err == ""  # no warnings for a normal run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["strategies"]) == {"page_only", "messenger_push", "mobile_app"}
    app = summary["strategies"]["mobile_app"]["channels"]["app"]
    assert app["joined"]["mean"] > 0 and app["brand_impressions"]["mean"] > 0
    assert app["cost_build"]["mean"] == 120_000
    assert app["deliveries"]["mean"] > 0 and app["push_reachable"]["mean"] > 0
    declared = summary["metrics"]["channels"]["mobile_app"]["app"]
    assert declared["uninstalls_push"]["group"] == "uninstalls, by cause"
    assert declared["cost_os_update"] == {
        "name": "cost_os_update", "kind": "flow", "unit": "currency", "label": "os update", "group": "cost, by category"
    }
    assert "mobile_app" in summary["comparisons"]
    assert (out / "report.html").is_file() and "app" in (out / "report.html").read_text(encoding="utf-8")
    csv = (out / "timeseries.csv").read_text(encoding="utf-8")
    assert "mobile_app,app,0,push_reachable," in csv


def test_the_test_scenario_is_the_contract_entry_with_a_shorter_build() -> None:
    sc = load_scenario(SCENARIO)
    app = sc.strategies["mobile_app"].channels[0].model_dump(exclude_defaults=True)
    expected = AppParams.model_validate(
        {**CONTRACT_APP, "build": {"cost": 120000, "days": 30}, "os_updates": {"every_days": 60, "cost": 15000}}
    ).model_dump(exclude_defaults=True)
    assert app == expected
