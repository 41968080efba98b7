"""The report of a run directory: every chart file, a self-contained and escaped report.html, determinism, and
the `reachsim report` / `reachsim run --no-report` commands."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import pytest
from matplotlib.image import imread

from reachsim.cli import main
from reachsim.report import CHART_NAMES, REPORT_FILE, RunDirError, render_report
from reachsim.report.html import fmt_sig, headline, render_html
from reachsim.results.rundata import read_run_dir
from reachsim.scenario.load import resolved_yaml
from tests.report.conftest import (
    HOSTILE_DESCRIPTION,
    HOSTILE_NAME,
    STRATEGIES,
    Page,
    copy_run,
    edit_summary,
    make_run_dir,
    rename,
    small_scenario,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: What `reachsim run --no-report` writes for a YAML scenario file.
RUN_FILES = {"summary.json", "timeseries.csv", "scenario.yaml", "sources.json", "replications"}
ROOT = Path(__file__).resolve().parents[2]

#: Every chart the fixture's run calls for: the fixed ones and one per declared group (impressions of the Page, and
#: of the paid acquisition of the Page (follow ads) and of Messenger).
MADE = (
    *CHART_NAMES,
    "group-page-impressions",
    "group-page-paid-acquisition-impressions",
    "group-messenger-paid-acquisition-impressions",
)


def page_of(folder: Path) -> tuple[str, Page]:
    html = (folder / REPORT_FILE).read_text(encoding="utf-8")
    page = Page(html)
    assert page.errors == [], page.errors
    return html, page


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def test_every_chart_is_written_as_png_and_svg(rendered: Path) -> None:
    charts = rendered / "charts"
    assert {p.name for p in charts.iterdir()} == {f"{n}.{ext}" for n in MADE for ext in ("png", "svg")}
    for name in MADE:
        png = (charts / f"{name}.png").read_bytes()
        assert png.startswith(PNG_SIGNATURE) and len(png) > 1000, name
        pixels = imread(charts / f"{name}.png")
        assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 600, (name, pixels.shape)
        assert pixels.std() > 0.01, f"{name}.png is blank"
        root = ET.parse(charts / f"{name}.svg").getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", name
    assert not [p.name for p in rendered.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def test_chart_names_match_the_charts() -> None:
    """CHART_NAMES (importable without matplotlib, used to remove stale charts) lists exactly what charts.py
    makes, in order."""
    from reachsim.report.charts import chart_names

    assert chart_names() == CHART_NAMES


def test_the_report_is_self_contained(rendered: Path) -> None:
    html, page = page_of(rendered)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == len(MADE)
    for attrs in images:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    # nothing is fetched: no stylesheet, script or image from elsewhere (links to the chart files are fine)
    assert not [t for t, a in page.tags if t in ("link", "script", "iframe", "object")]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<style>" in html


def test_the_report_shows_provenance_strategies_and_tables(rendered: Path) -> None:
    _, page = page_of(rendered)
    summary = json.loads((rendered / "summary.json").read_text())
    text = page.text
    for name in STRATEGIES:
        assert name in text
    for needle in (
        summary["scenario_sha256"],
        "reachsim version 0.1.0" if summary["reachsim_version"] == "0.1.0" else summary["reachsim_version"],
        "seed 5",
        "replications 2",
        "horizon 60 days",
        "interrupted no",
        "The answer",
        "Comparisons with page_only",
        "Uncertain inputs",
        "channels.messenger.engagement.probability",  # the sampled parameter
        "Channels, strategy by strategy",
        "NPV",
        "unique reach",
    ):
        assert needle in text, needle
    for name in MADE:
        assert any(t == "figure" and a.get("id") == f"chart-{name}" for t, a in page.tags), name
    assert "This run was interrupted" not in text


def test_the_headline_states_the_paired_npv_difference(rendered: Path) -> None:
    _, page = page_of(rendered)
    diff = json.loads((rendered / "summary.json").read_text())["comparisons"]["messenger_push"]["npv"]
    lo, hi = diff["ci95"]
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "no clear difference"
    more = "more" if diff["mean"] >= 0 else "less"
    pattern = (
        rf"messenger_push earns [\d,.]+ {more} NPV than page_only over 60 days "
        rf"\(95% CI −?[\d,.]+ to −?[\d,.]+\): {verdict}\."
    )
    assert re.search(pattern, page.text), page.text[:2000]
    lead, verdict_ = headline("messenger_push", "page_only", 60, diff)
    assert f"{lead}: {verdict_}." in page.text


@pytest.mark.parametrize(
    ("diff", "lead", "verdict"),
    [
        ({"mean": 12345.6, "ci95": [10111, 14499]},
         "b earns 12,300 more NPV than a over 730 days (95% CI 10,100 to 14,500)", "better"),
        ({"mean": -7797.9, "ci95": [-8547.8, -7048.0]},
         "b earns 7,800 less NPV than a over 730 days (95% CI −8,550 to −7,050)", "worse"),
        ({"mean": 41.0, "ci95": [-12.26, 94.3]},
         "b earns 41.0 more NPV than a over 730 days (95% CI −12.3 to 94.3)", "no clear difference"),
        ({"mean": 0.0, "ci95": [0.0, 0.0]}, "b earns the same NPV as a over 730 days", "no difference"),
        ({"mean": 500.0, "ci95": [None, None]},
         "b earns 500 more NPV than a over 730 days (a single replication gives no confidence interval)",
         "undetermined"),
        ({"mean": None, "ci95": [None, None]},
         "b's NPV difference from a is undefined in every replication", "undetermined"),
        (None, "b's NPV difference from a is undefined in every replication", "undetermined"),
    ],
)
def test_headline_sentences(diff: dict | None, lead: str, verdict: str) -> None:
    assert headline("b", "a", 730, diff) == (lead, verdict)


@pytest.mark.parametrize(
    ("x", "text"),
    [(12345.6, "12,300"), (-8547.78, "−8,550"), (0.041234, "0.0412"), (972.3, "972"), (1_234_567, "1,230,000"),
     (99.96, "100"), (0.0, "0")],
)
def test_numbers_in_sentences_have_three_significant_figures(x: float, text: str) -> None:
    assert fmt_sig(x) == text


# ---------------------------------------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------------------------------------


def test_scenario_text_is_escaped(rendered: Path) -> None:
    html, page = page_of(rendered)
    assert "<script" not in html.lower()
    assert not [t for t, _ in page.tags if t in ("script", "b")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE_NAME in page.title and HOSTILE_NAME in page.text  # shown as written, not run
    assert " ".join(HOSTILE_DESCRIPTION.split()) in page.text
    assert "Fish &amp; chips &lt;b&gt;bold&lt;/b&gt; &#34;double&#34; &#39;single&#39;" in html


def test_names_from_a_hand_edited_run_directory_are_escaped(run_dir: Path, tmp_path: Path) -> None:
    """Strategy and channel names cannot hold markup in a scenario, but the report reads files, which anyone
    can edit: it escapes them too (and a '$' in a chart label is not taken for maths)."""
    folder = copy_run(run_dir, tmp_path / "run")
    strategy = "<img src=x onerror=alert(1)>$x$"
    channel = "<i>page</i>&amp;"
    rename(folder, strategy=("messenger_push", strategy), channel=("page", channel))
    render_report(folder)
    html, page = page_of(folder)
    assert "<img src=x" not in html and "<i>" not in html
    assert [a["src"][:22] for t, a in page.tags if t == "img"] == ["data:image/png;base64,"] * len(MADE)
    assert strategy in page.text and channel in page.text
    assert f"{strategy} earns" in page.text


# ---------------------------------------------------------------------------------------------------------
# Determinism and re-rendering
# ---------------------------------------------------------------------------------------------------------


def test_two_renders_are_byte_identical_and_change_no_global_state(
    run_dir: Path, rendered: Path, tmp_path: Path
) -> None:
    """The same run, rendered again elsewhere and over its own report: the same report.html and chart files,
    byte for byte (no date, no random SVG ids, no software version chunk, no path); matplotlib's global
    settings are as they were."""
    params = {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"}
    again = copy_run(rendered, tmp_path / "elsewhere" / "run")
    (again / REPORT_FILE).unlink()
    for chart in (again / "charts").iterdir():
        chart.write_bytes(b"stale")
    render_report(again)
    for name in [REPORT_FILE, *(f"charts/{n}.{ext}" for n in MADE for ext in ("png", "svg"))]:
        assert (again / name).read_bytes() == (rendered / name).read_bytes(), name
    assert {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"} == params


def test_importing_the_report_imports_no_pyplot_and_changes_nothing() -> None:
    # (rcParams["backend"] is not read: reading it resolves the backend, which imports pyplot)
    code = (
        "import sys, matplotlib\n"
        "params = lambda: {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != 'backend'}\n"
        "before = params()\n"
        "import reachsim.report\n"
        "assert 'reachsim.report.charts' not in sys.modules  # matplotlib only when a report is rendered\n"
        "import reachsim.report.charts, reachsim.report.html\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert params() == before\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def test_stale_charts_are_removed_and_other_files_kept(rendered: Path, tmp_path: Path, monkeypatch) -> None:
    """Charts an earlier render made that this one does not (here: none at all, as if nothing applied) go;
    other files in charts/ stay."""
    folder = copy_run(rendered, tmp_path / "run")
    (folder / "charts" / "notes.txt").write_text("mine")
    monkeypatch.setattr("reachsim.report.charts.render_charts", lambda data: [])
    render_report(folder)
    assert [p.name for p in (folder / "charts").iterdir()] == ["notes.txt"]
    _, page = page_of(folder)
    assert "No chart applies to this run directory." in page.text


def test_a_single_strategy_has_nothing_to_compare(tmp_path: Path) -> None:
    single = make_run_dir(tmp_path / "single", single=True, replications=1, horizon=20)
    render_report(single)
    assert not (single / "charts" / "comparisons.png").exists()
    _, page = page_of(single)
    assert "single strategy, page_only: there is nothing to compare it with" in page.text


def test_an_interrupted_run_says_so(run_dir: Path, tmp_path: Path) -> None:
    folder = copy_run(run_dir, tmp_path / "run")
    edit_summary(folder, interrupted=True, replications_requested=5)
    page = Page(render_html(read_run_dir(folder), charts=[]))  # the words only: no need to draw the charts
    assert page.errors == []
    assert "This run was interrupted." in page.text
    assert "replications 2 of 5 requested" in page.text
    assert "interrupted yes" in page.text


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no such folder"),
        (lambda d: d.write_text("x"), "not a folder"),
        (lambda d: d.mkdir(), "not a run directory (no summary.json or timeseries.csv"),
        (lambda d: (d.mkdir(), (d / "summary.json").write_text("{"), (d / "timeseries.csv").write_text("")),
         "summary.json:1: not valid JSON"),
        (lambda d: (d.mkdir(), (d / "summary.json").write_text("{}"), (d / "timeseries.csv").write_text("")),
         "not a reachsim summary (missing scenario, horizon_days, strategies)"),
    ],
)
def test_not_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, message: str) -> None:
    folder = tmp_path / "x"
    setup(folder)
    with pytest.raises(RunDirError, match=re.escape(message)):
        render_report(folder)
    assert main(["report", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("reachsim report: ")
    assert "Traceback" not in err


def test_a_bad_timeseries_is_reported_by_line(run_dir: Path, tmp_path: Path, capsys) -> None:
    folder = copy_run(run_dir, tmp_path / "run")
    lines = (folder / "timeseries.csv").read_text().splitlines()
    lines[3] = "page_only,all,2,cost,1.0"
    (folder / "timeseries.csv").write_text("\n".join(lines) + "\n")
    assert main(["report", str(folder)]) == 2
    assert "timeseries.csv:4: expected 7 fields, found 5" in capsys.readouterr().err
    assert not (folder / REPORT_FILE).exists()


# ---------------------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------------------


def test_reachsim_report_renders_again(run_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("reachsim.report.charts.render_charts", lambda data: [])  # the words only
    folder = copy_run(run_dir, tmp_path / "run")
    assert main(["report", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"wrote {folder / REPORT_FILE} in ") and out.endswith(" s\n") and err == ""
    first = (folder / REPORT_FILE).read_bytes()
    (folder / REPORT_FILE).unlink()
    assert main(["report", str(folder), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    assert (folder / REPORT_FILE).read_bytes() == first


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(resolved_yaml(small_scenario(horizon=30)), encoding="utf-8")
    return path


def test_run_writes_the_report_and_names_it(scenario_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert (out / REPORT_FILE).is_file()
    assert {p.stem for p in (out / "charts").glob("*.png")} == set(MADE)
    last = stdout.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out}/ in ") and last.endswith(f"; report: {out / REPORT_FILE}")


def test_run_no_report_writes_none_and_removes_an_earlier_one(scenario_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--out", str(out), "--no-report"]) == 0
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(" s")  # no report named
    # a report of an earlier run in the same folder describes that run, not this one: it goes
    (out / REPORT_FILE).write_text("old")
    (out / "charts").mkdir()
    (out / "charts" / "money.png").write_bytes(b"old")
    assert main(["run", str(scenario_file), "--out", str(out), "--quiet", "--no-report", "--seed", "9"]) == 0
    assert {p.name for p in out.iterdir()} == RUN_FILES


def test_a_failing_report_keeps_the_run_directory(scenario_file: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("no fonts")

    monkeypatch.setattr("reachsim.report.charts.render_charts", broken)
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"wrote {out}/, but its report failed (RuntimeError: no fonts)" in err and "Traceback" not in err
    assert {p.name for p in out.iterdir()} == RUN_FILES


# ---------------------------------------------------------------------------------------------------------
# Dependency rule
# ---------------------------------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_report_imports_matplotlib_and_it_reads_files_only() -> None:
    package = ROOT / "reachsim"
    for path in package.rglob("*.py"):
        imports = _imports(path)
        in_report = path.is_relative_to(package / "report")
        if not in_report:
            assert not any(n == "matplotlib" or n.startswith("matplotlib.") for n in imports), path
            continue
        assert not any(n.startswith("matplotlib.pyplot") for n in imports), path
        # the pure maths of reachsim.model is allowed (the chart marks break-even by the summary's own rule)
        forbidden = ("reachsim.engine", "reachsim.experiments", "reachsim.channels", "reachsim.cli",
                     "reachsim.scenario")
        assert not [n for n in imports if n.startswith(forbidden)], path


def test_a_figure_defined_in_some_replications_says_in_how_many(run_dir: Path, tmp_path: Path) -> None:
    folder = copy_run(run_dir, tmp_path / "partial")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary["strategies"]["messenger_push"]["metrics"]["breakeven_day"] = {"mean": 40.0, "p05": 40.0, "p95": 40.0,
                                                                           "n": 1}
    summary["comparisons"]["messenger_push"]["breakeven_day"] = {"mean": 3.0, "ci95": [None, None], "n": 1}
    edit_summary(folder, strategies=summary["strategies"], comparisons=summary["comparisons"])
    html = (render_report(folder)).read_text(encoding="utf-8")
    assert html.count("defined in 1 replications only") == 2


def test_a_run_directory_from_before_profiles_by_hour_renders(run_dir: Path, tmp_path: Path) -> None:
    """Run directories written before metrics had profiles by hour of the day (no ``hour_of_day``, no ``by_hour``
    in the declarations) render as they did, without the hour-of-day chart; and one written before declared
    metrics at all renders too."""
    folder = copy_run(run_dir, tmp_path / "old")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert any("hour_of_day" in body for body in summary["strategies"].values())
    for body in summary["strategies"].values():
        body.pop("hour_of_day", None)
    for channels in summary["metrics"]["channels"].values():
        for declarations in channels.values():
            for declaration in declarations.values():
                declaration.pop("by_hour", None)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    render_report(folder)
    made = {p.stem for p in (folder / "charts").glob("*.png")}
    assert "hour_of_day" not in made and {"means_and_ratios", "money"} <= made
    del summary["metrics"]
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    render_report(folder)
    assert not (folder / "charts" / "hour_of_day.png").exists()
