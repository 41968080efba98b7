"""Hostile input is refused early and fast, with exit 2 and ``file:line`` problems: YAML alias bombs and aliases
inside what they name, oversized files, floods of unknown keys, long `extends` chains, infinities, NaN and
numbers given as text or booleans, control characters; malformed options; runs that would not fit in memory or
would overwrite the scenario file; and run directories that do not hold together, given to `reachsim report`.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from reachsim.cli import main
from reachsim.scenario.inherit import resolve_extends
from reachsim.scenario.source import Source
from tests.cli.test_invalid_input import VALID

#: Seconds within which a refusal must come (it takes milliseconds; generous for busy machines).
FAST = 5.0


def invoke(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], *args: Any) -> list[str]:
    started = time.perf_counter()
    code, out, err = invoke(capsys, *args)
    assert time.perf_counter() - started < FAST
    assert code == 2, (out, err)
    assert "Traceback" not in err and out == ""
    return err.splitlines()


def write(folder: Path, text: str, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------------
# YAML that expands, loops or floods
# ---------------------------------------------------------------------------------------------------------

LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_billion_laughs_is_refused_at_once_with_its_line(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, VALID + LAUGHS)
    assert refused(capsys, "run", path, "--out", tmp_path / "out") == [
        f"{path}:16: more than 100,000 keys, items and values here once aliases are expanded; a scenario needs far "
        "fewer"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n"], ids=["list", "mapping"])
def test_an_alias_inside_what_it_names_is_exit_2_not_a_recursion_error(tmp_path: Path, capsys, text: str) -> None:
    path = write(tmp_path, VALID + text)
    assert refused(capsys, "run", path) == [
        f"{path}:11: an alias inside the collection it names (a structure containing itself)"
    ]


def test_an_oversized_file_is_refused_without_reading_it_all(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, VALID + "# padding\n" * 200_000)  # 2 MB of comments
    assert refused(capsys, "validate", path) == [
        f"{path}: the file is larger than 1,000,000 bytes: a scenario file is at most that (is this the right file?)"
    ]


def test_a_flood_of_unknown_keys_prints_50_lines_and_counts_the_rest(tmp_path: Path, capsys) -> None:
    """Thousands of problems: the first thousand are described, the rest only counted."""
    path = write(tmp_path, VALID + "".join(f"unknown_{i}: {i}\n" for i in range(5_000)))
    lines = refused(capsys, "validate", path)
    assert len(lines) == 51
    assert lines[0].startswith(f"{path}:11: unknown_0: unknown key 'unknown_0' (allowed: name, description,")
    assert all(re.match(rf"^{re.escape(str(path))}:\d+: unknown_\d+: unknown key", line) for line in lines[:50])
    assert lines[50] == "… and 4,950 more"


def test_problem_lines_stop_at_50(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, VALID + "".join(f"k{i}: 1\n" for i in range(120)))
    lines = refused(capsys, "validate", path)
    assert len(lines) == 51 and lines[-1] == "… and 70 more"


def _chain(n: int) -> dict[str, Any]:
    strategies: dict[str, Any] = {"s0": {"channels": [{"type": "messenger"}]}}
    strategies.update({f"s{i}": {"extends": f"s{i - 1}", "channels": [{"type": "messenger"}]} for i in range(1, n)})
    return strategies


def _resolve_seconds(n: int) -> float:
    strategies = _chain(n)
    started = time.perf_counter()
    resolved = resolve_extends(strategies, Source("s.yaml", {"strategies": strategies}, {}))
    assert len(resolved) == n and "extends" not in resolved[f"s{n - 1}"]
    return time.perf_counter() - started


def test_extends_is_resolved_in_time_linear_in_the_strategies() -> None:
    """3,000 chained strategies took 47 s (the cycle check was cubic): ten times the strategies now take about
    ten times as long (a quadratic resolution would take a hundred times)."""
    small = min(_resolve_seconds(300) for _ in range(3))
    large = min(_resolve_seconds(3_000) for _ in range(2))  # the best of two: a loaded machine pauses a run
    assert large < 30 * small + 0.5, (small, large)


# ---------------------------------------------------------------------------------------------------------
# Numbers are finite numbers; text is text without control characters
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  size: 1000", "  size: .inf", "4: market.size: Input should be a valid integer (got inf)"),
        ("probability: 0.2", "probability: .nan",
         "10: strategies.a.channels[0].engagement.probability: Input should be a finite number (got nan)"),
        ("initial_subscribers: 100", "initial_subscribers: 100\n        fixed_cost_per_month: .inf",
         "10: strategies.a.channels[0].fixed_cost_per_month: Input should be a finite number (got inf)"),
        ("initial_subscribers: 100", "initial_subscribers: 100\n        fixed_cost_per_month: 1.0e+300",
         "10: strategies.a.channels[0].fixed_cost_per_month: numbers here are at most 1e+15 in size (got 1e+300)"),
        ("horizon_days: 30", "horizon_days: 30\ndiscount_rate: -.inf",
         "3: discount_rate: Input should be a finite number (got -inf)"),
        ("probability: 0.2", "probability: {dist: uniform, low: 0.1, high: .inf}",
         "10: strategies.a.channels[0].engagement.probability.high: Input should be a finite number (got inf)"),
        ("  size: 1000", '  size: "1000"', "4: market.size: Input should be a valid integer (got '1000')"),
        ("  size: 1000", "  size: true", "4: market.size: Input should be a valid integer (got true)"),
        ("probability: 0.2", "probability: '0.2'",
         "10: strategies.a.channels[0].engagement.probability: Input should be a valid number (got '0.2')"),
        ("name: valid", 'name: "va\\elid"',
         "1: name: control character U+001B is not allowed in text (tabs and line breaks are) (got 'va\\x1blid')"),
        ("name: valid", 'name: "two\\nlines"', "1: name: a name is one line of text: no line breaks or tabs"),
        ("name: valid", 'name: valid\ndescription: "right\\u202eleft"',
         "2: description: text-direction mark U+202E is not allowed in text"),
        ("initial_subscribers: 100", 'initial_subscribers: 100\n        name: "m\\x07"',
         "10: strategies.a.channels[0].name: String should match pattern"),
    ],
    ids=["inf-int", "nan", "inf-money", "huge", "minus-inf", "inf-in-distribution", "text-for-int",
         "boolean-for-int", "text-for-float", "escape-in-name", "line-break-in-name", "bidi-in-description",
         "bell-in-channel-name"],
)
def test_numbers_must_be_finite_numbers_and_text_plain(
    tmp_path: Path, capsys, old: str, new: str, expected: str
) -> None:
    path = write(tmp_path, VALID.replace(old, new, 1))
    line = refused(capsys, "validate", path)[0]  # (an inline distribution's centre is refused in place, too)
    assert line.startswith(f"{path}:{expected}"), line
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", line)  # printed escaped


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  size: 1000", "  size: 1000.0"),  # a whole decimal for a whole number
        ("  size: 1000", "  size: 1e3"),  # an exponent without a decimal point is a number (YAML 1.2, JSON)
        ("probability: 0.2", "probability: 2e-1"),
        ("initial_subscribers: 100", "initial_subscribers: 100\n        fixed_cost_per_month: 30"),  # int for float
        ("name: valid", "name: valid\ndescription: |\n  two\n  lines,\ttab"),  # text spans lines, has tabs
    ],
)
def test_numbers_and_text_users_write_are_still_accepted(tmp_path: Path, capsys, old: str, new: str) -> None:
    path = write(tmp_path, VALID.replace(old, new, 1))
    code, _, err = invoke(capsys, "validate", path)
    assert (code, err) == (0, ""), err


def test_json_and_toml_infinities_are_refused_with_their_line(tmp_path: Path, capsys) -> None:
    data = {"name": "j", "horizon_days": 30, "market": {"size": 1000},
            "strategies": {"a": {"channels": [{"type": "messenger", "engagement": {"probability": 0.1},
                                               "fixed_cost_per_month": float("inf")}]}}}
    path = write(tmp_path, json.dumps(data, indent=1), "s.json")
    (line,) = refused(capsys, "validate", path)
    assert line == f"{path}:15: strategies.a.channels[0].fixed_cost_per_month: Input should be a finite number " \
                   "(got inf)"
    toml = write(tmp_path, 'name = "t"\nhorizon_days = 30\n[market]\nsize = nan\n[[strategies.a.channels]]\n'
                           'type = "messenger"\nengagement = {probability = 0.1}\n', "s.toml")
    (line,) = refused(capsys, "validate", toml)
    assert line == f"{toml}:4: market.size: Input should be a valid integer (got nan)"


# ---------------------------------------------------------------------------------------------------------
# Options checked before any work
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def valid(tmp_path: Path) -> Path:
    return write(tmp_path, VALID)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "{valid}", "--scheduler", "local"], "--scheduler: expected an address such as tcp://host:8786"),
        (["run", "{valid}", "--scheduler", "tcp://host:99999"], "--scheduler: expected an address"),
        (["sweep", "{valid}", "--param", "market.size", "--values", "1:2:1000000000"],
         "--values: at most 1,000 values, got 1,000,000,000"),
        (["run", "{valid}", "--max-replications", "50"], "--max-replications: only with --precision"),
        (["run", "{valid}", "--precision", "0"], "--precision: must be between 0 and 1"),
        (["run", "{valid}", "--precision", "nan"], "--precision: must be between 0 and 1"),
        (["run", "{valid}", "--precision", "0.05", "--max-replications", "5"],
         "--max-replications: at least 10 (the scenario's replications, and never fewer than 10), got 5"),
        (["run", "{valid}", "--replications", "200000"], "--replications: Input should be less than or equal to"),
    ],
    ids=["scheduler-name", "scheduler-port", "sweep-size", "cap-alone", "precision-0", "precision-nan", "cap-low",
         "replications"],
)
def test_malformed_options_exit_2_before_anything_runs(
    valid: Path, tmp_path: Path, capsys, args: list[str], needle: str
) -> None:
    (line,) = refused(capsys, *[a.format(valid=valid) for a in args])
    assert needle in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_a_run_that_would_not_fit_in_memory_is_refused_with_the_numbers(
    valid: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr("reachsim.cli.checks.available_memory", lambda: 100 * 2**20)
    big = write(tmp_path, VALID.replace("  size: 1000", "  size: 50000000"), "big.yaml")
    (line,) = refused(capsys, "run", big, "--workers", "2", "--out", tmp_path / "out")
    assert re.match(
        r"^reachsim run: this needs about \d+\.\d GB of memory and 100 MB is available: 2 workers × \d+\.\d GB per "
        r"run \(50,000,000 consumers and up to 1 channel in a strategy\), and \d+ MB for the daily results of 10 "
        r"runs of 30 days; use fewer workers",
        line,
    ), line
    assert not (tmp_path / "out").exists()


def test_the_memory_estimate_counts_workers_results_and_the_market(valid: Path) -> None:
    from reachsim.cli.checks import PROCESS_BYTES, estimate
    from reachsim.scenario.load import load_scenario

    scenario = load_scenario(valid)
    one = estimate(scenario, replications=10, workers=1)
    two = estimate(scenario, replications=10, workers=2)
    more = estimate(scenario, replications=20, workers=1)
    assert one.total == PROCESS_BYTES + one.results + one.per_run  # the main process runs the runs
    assert two.total == PROCESS_BYTES + one.results + 2 * (PROCESS_BYTES + one.per_run)  # two workers do
    assert more.results == 2 * one.results
    remote = estimate(scenario, replications=10, workers=8, local=False)
    assert remote.total == PROCESS_BYTES + one.results  # a cluster's workers use their own memory


def test_out_must_not_hold_the_scenario_or_other_files(valid: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    (line,) = refused(capsys, "run", valid, "--out", tmp_path)
    assert line == f"reachsim run: argument --out {tmp_path}: holds s.yaml, which a run would replace: choose " \
                   "another folder"
    other = tmp_path / "notes"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    (line,) = refused(capsys, "run", valid, "--out", other)
    assert "holds notes.txt, which a run directory does not" in line
    monkeypatch.chdir(other)
    (line,) = refused(capsys, "run", valid, "--out", tmp_path)
    assert "holds" in line
    assert (valid.read_text(), (other / "notes.txt").read_text()) == (VALID, "mine")


def test_sweep_out_must_not_overwrite_the_scenario(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, VALID, "scenario.yaml")
    (line,) = refused(capsys, "sweep", path, "--param", "market.size", "--values", "1000,2000", "--out", tmp_path)
    assert line == f"reachsim sweep: argument --out: {tmp_path} holds {path}, which the sweep would replace"
    assert path.read_text() == VALID


# ---------------------------------------------------------------------------------------------------------
# reachsim report checks what it reads
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import reachsim.report.charts  # noqa: F401 - matplotlib takes seconds to import: not a report's reading time

    folder = tmp_path_factory.mktemp("two_runs")
    scenario = write(folder, VALID)
    for seed in ("1", "2"):
        args = ["run", str(scenario), "--out", str(folder / seed), "--seed", seed, "--quiet", "--no-report"]
        assert main(args) == 0
    return folder / "1", folder / "2"


def edited(two_runs: tuple[Path, Path], tmp_path: Path, edit: Any) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(two_runs[0], folder)
    edit(folder, two_runs[1])
    return folder


def _summary(change: Any) -> Any:
    def edit(folder: Path, _: Path) -> None:
        data = json.loads((folder / "summary.json").read_text())
        change(data)
        (folder / "summary.json").write_text(json.dumps(data))

    return edit


def _sources(change: Any) -> Any:
    def edit(folder: Path, _: Path) -> None:
        data = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
        change(data)
        (folder / "sources.json").write_text(json.dumps(data), encoding="utf-8")

    return edit


def _timeseries(change: Any) -> Any:
    def edit(folder: Path, _: Path) -> None:
        lines = (folder / "timeseries.csv").read_text().splitlines()
        (folder / "timeseries.csv").write_text("\n".join(change(lines)) + "\n")

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda folder, other: shutil.copy(other / "scenario.yaml", folder / "scenario.yaml"),
         "scenario.yaml: not the scenario summary.json was made with (its SHA-256 differs from scenario_sha256): "
         "the folder mixes files of two runs"),
        (lambda folder, other: (folder / "scenario.yaml").unlink(), "scenario.yaml: missing"),
        (_summary(lambda d: d.update(horizon_days=10**9)), "horizon_days must be a whole number from 1 to 36,500"),
        (_summary(lambda d: d.update(horizon_days=True)), "horizon_days must be a whole number"),
        (_summary(lambda d: d["strategies"]["a"]["metrics"]["npv"].update(mean="lots")),
         "strategies.a.metrics.npv: mean must be a finite number or null"),
        (_summary(lambda d: d["strategies"]["a"]["metrics"]["npv"].update(p95=float("nan"))),
         "strategies.a.metrics.npv: p95 must be a finite number or null"),
        (_summary(lambda d: d.update(baseline="nobody")), "baseline: 'nobody' is not a strategy of this summary"),
        (_summary(lambda d: d.update(seed=-1)), "seed: must be a whole number ≥ 0"),
        (_summary(lambda d: d.update(scenario_sha256="x")), "scenario_sha256: must be the SHA-256"),
        (_timeseries(lambda lines: lines[:-1]), "has 29 rows for 29 different days; expected one row for each of"),
        (_timeseries(lambda lines: [*lines, lines[-1]]), "has 31 rows for 30 different days"),
        (_timeseries(lambda lines: [*lines[:5], "zz" + lines[5].removeprefix("a"), *lines[6:]]),
         "timeseries.csv:6: strategy 'zz' is not in summary.json"),
        (_timeseries(lambda lines: [*lines[:5], re.sub(r",[^,]*$", ",inf", lines[5]), *lines[6:]]),
         "timeseries.csv:6: expected a day from 0 to 29 and finite values"),
        (_timeseries(lambda lines: [*lines[:5], re.sub(r",[^,]*$", ",nan", lines[5]), *lines[6:]]),
         "timeseries.csv:6: expected a day from 0 to 29 and finite values"),
        (_timeseries(lambda lines: [*lines[:5], re.sub(r",[^,]*$", ",", lines[5]), *lines[6:]]),
         "timeseries.csv:6: mean, p05 and p95 are all numbers, or all empty (no value)"),
        (_summary(lambda d: d["strategies"]["a"].update(
            hour_of_day={"support": {"mean_wait_s": {"mean": [1.0] * 23, "p05": [1.0] * 24, "p95": [1.0] * 24}}})),
         "strategies.a.hour_of_day.support: metrics.mean_wait_s: mean must be 24 finite numbers or nulls"),
        (lambda folder, other: shutil.copy(other / "sources.json", folder / "sources.json"),
         "sources.json: written for another scenario.yaml than the one beside it"),
        (lambda folder, other: (folder / "sources.json").write_text("{"), "sources.json: line 1: not valid JSON"),
        (_sources(lambda d: d.update(format="reachsim.sources/9")), "sources.json: not a reachsim sources file"),
        (_sources(lambda d: d["values"].update({"market.size": {"note": "x", "grade": "Z", "assumption": False}})),
         "sources.json: values.market.size: grade must be null or A, B, C, D"),
        (_sources(lambda d: d["values"].update({"market.size": "a note"})),
         "sources.json: values.market.size: expected null or {note, grade, assumption}"),
    ],
    ids=["mixed-runs", "no-scenario", "huge-horizon", "boolean-horizon", "text-mean", "nan", "baseline", "seed",
         "hash", "missing-day", "repeated-day", "unknown-strategy", "infinite-value", "nan-value", "partly-empty",
         "short-profile", "mixed-sources",
         "sources-not-json", "sources-format", "sources-grade", "sources-entry"],
)
def test_report_refuses_a_folder_that_does_not_hold_together(
    two_runs: tuple[Path, Path], tmp_path: Path, capsys, edit: Any, message: str
) -> None:
    folder = edited(two_runs, tmp_path, edit)
    (line,) = refused(capsys, "report", folder)
    assert line.startswith("reachsim report: ") and message in line, line
    assert not (folder / "report.html").exists()


def test_report_reads_a_hostile_scenario_yaml_safely(two_runs: tuple[Path, Path], tmp_path: Path, capsys,
                                                     monkeypatch) -> None:
    """A hand-made scenario.yaml holding an alias bomb, with summary.json's hash made to match: the report reads
    only its description, with the scenario reader's bounds, and goes without it."""
    import hashlib

    monkeypatch.setattr("reachsim.report.charts.render_charts", lambda data: [])  # the words only

    def bomb(folder: Path, _: Path) -> None:
        text = (folder / "scenario.yaml").read_text() + textwrap.dedent(LAUGHS)
        (folder / "scenario.yaml").write_text(text)
        (folder / "sources.json").unlink()  # made by hand: no notes kept (they were made for the run's scenario)
        _summary(lambda d: d.update(scenario_sha256=hashlib.sha256(text.encode()).hexdigest()))(folder, _)

    folder = edited(two_runs, tmp_path, bomb)
    started = time.perf_counter()
    assert main(["report", str(folder), "--quiet"]) == 0
    assert time.perf_counter() - started < FAST
