"""Declared metrics end to end: a daily mean and a ratio are summarised as declared, never summed over days."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from reachsim.channels import registry
from reachsim.core.metrics import Kind, Metric, flow, mean, ratio, stock
from reachsim.experiments.runner import run_experiment
from reachsim.results.rundir import write_run_dir
from tests.conftest import build_scenario
from tests.plugins.queue_probe import PROBE, QueueProbe

HORIZON = 30


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory):
    registry.register(QueueProbe)
    try:
        scenario = build_scenario([PROBE], horizon=HORIZON, replications=3, seed=11)
        result = run_experiment(scenario)
        folder = write_run_dir(result, tmp_path_factory.mktemp("probe") / "run")
    finally:
        registry.unregister(QueueProbe.type_name)
    return result, folder


def test_a_daily_mean_is_the_weighted_mean_and_a_ratio_the_ratio_of_totals(probe_run) -> None:
    result, folder = probe_run
    summary = json.loads((folder / "summary.json").read_text())
    probe = summary["strategies"]["s"]["channels"]["queue_probe"]
    runs = result.runs["s"]
    weighted = [(r.series["queue_probe", "wait_s"] * r.series["queue_probe", "served"]).sum()
                / r.series["queue_probe", "served"].sum() for r in runs]
    shares = [r.series["queue_probe", "on_time"].sum() / r.series["queue_probe", "served"].sum() for r in runs]
    summed = [r.series["queue_probe", "wait_s"].sum() for r in runs]
    assert probe["wait_s"]["mean"] == pytest.approx(np.mean(weighted), rel=1e-12)
    assert probe["on_time_share"]["mean"] == pytest.approx(np.mean(shares), rel=1e-12)
    assert probe["wait_s"]["mean"] < np.mean(summed) / 10  # what summing 30 daily means would have given
    assert 0 < probe["on_time_share"]["mean"] < 1


def test_the_weighted_mean_wait_agrees_with_its_exponential_mean(probe_run) -> None:
    """Theory: waits are exponential with mean 30 s; over every contact of every replication the mean wait is
    within 4 standard errors (σ = mean for an exponential) and the on-time share within 4 SE of 1 − e^(−20/30)."""
    result, _ = probe_run
    served = sum(r.series["queue_probe", "served"].sum() for r in result.runs["s"])
    waits = sum((r.series["queue_probe", "wait_s"] * r.series["queue_probe", "served"]).sum() for r in result.runs["s"])
    on_time = sum(r.series["queue_probe", "on_time"].sum() for r in result.runs["s"])
    assert abs(waits / served - 30.0) < 4 * 30.0 / np.sqrt(served)
    p = 1 - np.exp(-20 / 30)
    assert abs(on_time / served - p) < 4 * np.sqrt(p * (1 - p) / served)


def test_the_timeseries_holds_the_daily_values(probe_run) -> None:
    result, folder = probe_run
    with (folder / "timeseries.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["channel"] == "queue_probe" and r["metric"] == "wait_s"]
    assert [int(r["day"]) for r in rows] == list(range(HORIZON))
    daily = np.mean([r.series["queue_probe", "wait_s"] for r in result.runs["s"]], axis=0)
    assert np.allclose([float(r["mean"]) for r in rows], daily, rtol=1e-10)
    assert 10 < float(rows[0]["mean"]) < 60  # a mean wait in seconds, not a day's sum of waits


def test_summary_json_carries_the_declarations(probe_run) -> None:
    _, folder = probe_run
    declared = json.loads((folder / "summary.json").read_text())["metrics"]
    probe = declared["channels"]["s"]["queue_probe"]
    assert probe["wait_s"] == {"name": "wait_s", "kind": "mean", "unit": "seconds", "label": "mean wait",
                               "description": "mean wait of the contacts served", "weight": "served",
                               "by_hour": True}
    assert probe["on_time_share"]["kind"] == "ratio"
    assert probe["audience"]["kind"] == "stock"
    assert declared["strategy"]["npv"]["unit"] == "currency"
    assert Metric.from_declaration(probe["wait_s"]).kind is Kind.MEAN


def test_the_report_shows_them_with_their_units(probe_run, tmp_path: Path) -> None:
    from reachsim.report import render_report

    _, folder = probe_run
    html = render_report(folder).read_text()
    assert "mean wait (s)" in html
    assert "service level" in html
    assert (folder / "charts" / "means_and_ratios.png").is_file()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: flow("x", "furlongs", "x"), "unknown unit 'furlongs'"),
        (lambda: Metric("x", Kind.MEAN, "seconds", "x"), "a weight is given for, and only for, a mean"),
        (lambda: Metric("x", Kind.FLOW, "seconds", "x", weight="y"), "a weight is given for, and only for, a mean"),
        (lambda: Metric("x", Kind.RATIO, "share", "x", numerator="a"), "numerator and denominator"),
    ],
)
def test_impossible_declarations_are_refused(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_each_kind_summarises_as_documented() -> None:
    series = {"n": np.array([2.0, 0.0, 3.0]), "m": np.array([10.0, 0.0, 20.0]), "d": np.array([4.0, 1.0, 5.0]),
              "s": np.array([1.0, 5.0, 7.0])}
    assert flow("n", "number", "n").summarise(series) == 5.0
    assert stock("s", "people", "s").summarise(series) == 7.0
    assert mean("m", "seconds", "m", weight="n").summarise(series) == pytest.approx((20 + 60) / 5)
    assert ratio("r", "share", "r", numerator="n", denominator="d").summarise(series) == pytest.approx(5 / 10)
    assert np.isnan(mean("m", "seconds", "m", weight="z").summarise({**series, "z": np.zeros(3)}))


def test_the_contract_suite_checks_declarations() -> None:
    from reachsim.testing import check_channel

    class BadInput(QueueProbe):
        metrics = (*QueueProbe.metrics[:2], mean("wait_s", "seconds", "w", weight="nowhere"))

    with pytest.raises(AssertionError, match="computed from 'nowhere', which must be a flow"):
        check_channel(BadInput, {k: v for k, v in PROBE.items() if k != "type"})
