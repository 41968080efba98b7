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
    assert (folder / "charts" / "hour_of_day.png").is_file()  # the probe's metrics are declared by hour too


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


# -- no value without weight; profiles by hour of the day --------------------------------------------------------


def test_a_mean_or_ratio_without_weight_has_no_value_and_the_horizon_ignores_those_days() -> None:
    from reachsim.core.metrics import daily_values

    metrics = (flow("n", "contacts", "n"), flow("k", "contacts", "k"), mean("m", "seconds", "m", weight="n"),
               ratio("r", "share", "r", numerator="k", denominator="n"))
    raw = {"n": np.array([2.0, 0.0, 3.0]), "k": np.array([1.0, 0.0, 3.0]), "m": np.array([10.0, 0.0, 30.0])}
    daily = daily_values(metrics, raw)
    np.testing.assert_array_equal(daily["m"], [5.0, np.nan, 10.0])
    np.testing.assert_array_equal(daily["r"], [0.5, np.nan, 1.0])
    # over the horizon: total over total (40 / 5), not the mean of the daily means (7.5)
    assert metrics[2].summarise(daily) == pytest.approx(8.0)
    assert metrics[3].summarise(daily) == pytest.approx(4 / 5)


def test_the_recorder_bins_events_by_day_and_by_hour() -> None:
    from reachsim.engine.recorder import Recorder

    rec = Recorder(horizon_days=3)
    rec.declare("c", (flow("n", "contacts", "n", by_hour=True), flow("w", "seconds", "w", by_hour=True),
                      mean("m", "seconds", "m", weight="n", by_hour=True), flow("plain", "contacts", "plain")))
    times = np.array([0.01, 0.5, 0.51, 1.99, 2.5, 3.2, -0.1])  # hours 0, 12, 12, 23, 12; the last two outside
    rec.flow_at("c", "n", times)
    rec.flow_at("c", "m", times, np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]))
    rec.flow("c", "w", 1.25, 5.0)  # at a time: day 1, hour 6
    rec.flow_at("c", "plain", times)
    daily, hours = rec.series(), rec.hours()
    np.testing.assert_array_equal(daily["c", "n"], [3, 1, 1])
    expected_n = np.zeros(24)
    expected_n[[0, 12, 23]] = [1, 3, 1]
    np.testing.assert_array_equal(hours["c", "n"], expected_n)
    assert hours["c", "n"].sum() == daily["c", "n"].sum()
    np.testing.assert_array_equal(daily["c", "m"], [7 / 3, 8.0, 16.0])
    assert hours["c", "m"][12] == pytest.approx((2 + 4 + 16) / 3) and hours["c", "m"][0] == 1.0
    assert np.isnan(hours["c", "m"][5])  # nothing arrived from 5 to 6 am: no mean wait, not 0
    assert hours["c", "w"][6] == 5.0 and daily["c", "w"][1] == 5.0
    assert ("c", "plain") not in hours and daily["c", "plain"].sum() == 5


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ((flow("n", "contacts", "n"), mean("m", "seconds", "m", weight="n", by_hour=True)),
         "'m' is declared by hour of the day, so 'n' it is computed from must be declared by hour too"),
        ((flow("a", "contacts", "a", by_hour=True), flow("b", "contacts", "b"),
          ratio("r", "share", "r", numerator="a", denominator="b", by_hour=True)),
         "'r' is declared by hour of the day, so 'b' it is computed from must be declared by hour too"),
    ],
)
def test_a_profile_by_hour_needs_its_inputs_by_hour(metrics, message: str) -> None:
    from reachsim.engine.recorder import Recorder

    with pytest.raises(ValueError, match=message):
        Recorder(horizon_days=2).declare("c", metrics)


def test_only_flows_means_and_ratios_have_profiles_by_hour() -> None:
    with pytest.raises(ValueError, match="only a flow, a mean or a ratio has a profile by hour"):
        Metric("s", Kind.STOCK, "people", "s", by_hour=True)
    assert "by_hour" not in flow("n", "contacts", "n").declaration()  # older declarations read the same
    assert flow("n", "contacts", "n", by_hour=True).declaration()["by_hour"] is True
    assert Metric.from_declaration(flow("n", "contacts", "n").declaration()).by_hour is False


def test_the_contract_suite_checks_inputs_of_profiles_by_hour() -> None:
    from reachsim.testing import check_channel

    class Unhourly(QueueProbe):
        metrics = (flow("served", "contacts", "served"), *QueueProbe.metrics[1:])

    with pytest.raises(AssertionError, match="'wait_s' is declared by hour of the day, so 'served'"):
        check_channel(Unhourly, {k: v for k, v in PROBE.items() if k != "type"})


def test_bands_over_replications_leave_out_those_without_a_value() -> None:
    from reachsim.experiments.stats import bands, daily_bands, profile

    stack = np.array([[1.0, np.nan, np.nan, 4.0], [3.0, 5.0, np.nan, 6.0], [5.0, 7.0, np.nan, 8.0]])
    mean, p05, p95, n = bands(stack)
    np.testing.assert_array_equal(n, [3, 2, 0, 3])
    np.testing.assert_allclose(mean, [3.0, 6.0, np.nan, 6.0])
    np.testing.assert_allclose(p05, [np.percentile([1, 3, 5], 5), np.percentile([5, 7], 5), np.nan, 4.2])
    np.testing.assert_allclose(p95, [np.percentile([1, 3, 5], 95), np.percentile([5, 7], 95), np.nan, 7.8])
    full = stack[:, [0, 3]]
    for got, want in zip(daily_bands(full), (full.mean(axis=0), *np.percentile(full, [5, 95], axis=0)), strict=True):
        np.testing.assert_array_equal(got, want)  # without NaN: exactly as before
    as_json = profile(stack)
    assert as_json["mean"] == [3.0, 6.0, None, 6.0] and as_json["n"] == [3, 2, 0, 3]
    assert "n" not in profile(full)


def test_a_run_with_a_mean_undefined_where_it_has_weight_fails_loudly() -> None:
    """NaN is "no value" only where the weight is 0: anywhere else it is a broken number, and the run says so."""
    from reachsim.engine.simulation import RunResult
    from reachsim.experiments.runner import _not_finite

    metrics = (flow("n", "contacts", "n"), mean("m", "seconds", "m", weight="n"))
    fine = RunResult("s", 0, {("c", "n"): np.array([0.0, 2.0]), ("c", "m"): np.array([np.nan, 3.0])},
                     metrics={"c": metrics})
    assert _not_finite(fine) is None
    broken = RunResult("s", 0, {("c", "n"): np.array([1.0, 2.0]), ("c", "m"): np.array([np.nan, 3.0])},
                       metrics={"c": metrics})
    assert _not_finite(broken) == "c m on day 0 is nan"


def _one_by_one(run) -> str | None:
    """What the run check says, looking at every series in turn (what its screening of all at once must agree with)."""
    from reachsim.core.metrics import unweighted

    declared = {channel: {m.name: m for m in metrics} for channel, metrics in run.metrics.items()}
    for unit, values in (("day", run.series), ("hour", run.hours)):
        for (channel, metric), series in values.items():
            mine = {m: s for (c, m), s in values.items() if c == channel}
            with np.errstate(over="ignore", invalid="ignore"):
                bad = ~np.isfinite(series)
                if metric in declared.get(channel, {}):
                    bad &= ~(np.isnan(series) & unweighted(declared[channel][metric], mine))
                if bad.any():
                    return f"{channel} {metric} on {unit} {int(np.flatnonzero(bad)[0])} is {series[bad][0]}"
                if not np.isfinite(np.nansum(series)):
                    return f"{channel} {metric} adds up to more than a number can hold"
    return None


def test_the_run_check_screens_all_series_at_once_as_it_would_one_by_one() -> None:
    """Broken numbers (inf, NaN where there is weight, totals that overflow) anywhere in a run are found, and the
    first of them named, whether the series are screened together or looked at one by one."""
    from reachsim.engine.simulation import RunResult
    from reachsim.experiments.runner import _not_finite

    rng = np.random.default_rng(3)
    metrics = (flow("n", "contacts", "n", by_hour=True), mean("m", "seconds", "m", weight="n", by_hour=True),
               flow("k", "contacts", "k"))
    seen = set()
    for _ in range(300):
        series, hours = {}, {}
        for channel in ("a", "b"):
            n = rng.integers(0, 3, HORIZON).astype(float)
            series[channel, "n"], series[channel, "k"] = n, rng.random(HORIZON)
            series[channel, "m"] = np.where(n == 0, np.nan, rng.random(HORIZON))
            hours[channel, "n"] = rng.integers(0, 3, 24).astype(float)
            hours[channel, "m"] = np.where(hours[channel, "n"] == 0, np.nan, 1.0)
        for _ in range(rng.integers(0, 3)):  # a few broken numbers, anywhere
            where = (series, hours)[int(rng.integers(0, 2))]
            key = list(where)[int(rng.integers(0, len(where)))]
            where[key][rng.integers(0, where[key].size)] = rng.choice([np.inf, -np.inf, np.nan, 1e308, 0.0])
        run = RunResult("s", 0, series, metrics={"a": metrics, "b": metrics}, hours=hours)
        expected = _one_by_one(run)
        assert _not_finite(run) == expected
        seen.add(None if expected is None else expected.split(" on ")[0].split(" adds")[0] != "")
    assert seen == {None, True}  # both fine runs and broken ones were checked


def test_the_probe_profiles_by_hour_reach_the_summary(probe_run) -> None:
    result, folder = probe_run
    summary = json.loads((folder / "summary.json").read_text())
    profile = summary["strategies"]["s"]["hour_of_day"]["queue_probe"]
    assert set(profile) == {"served", "on_time", "wait_s", "on_time_share"}
    served = np.stack([r.hours["queue_probe", "served"] for r in result.runs["s"]])
    np.testing.assert_allclose(profile["served"]["mean"], served.mean(axis=0))
    # arrivals uniform over the day: each hour gets 1/24 of the contacts, within 4 SE (binomial)
    total = served.sum()
    assert np.all(np.abs(served.sum(axis=0) - total / 24) < 4 * np.sqrt(total * (1 / 24) * (23 / 24)))
