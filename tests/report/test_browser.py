"""The report as a strategist sees it: opened in headless Chromium (Debian's, which `.ci/run` installs).

Asserts that the page logs no console error, that every image loaded (natural width > 0), that the answer and the
assumptions table (every input, with its source where the run kept them) are there, and keeps a screenshot in a
temporary folder. Two runs: one made from a scenario file with source notes, one made in code (its hostile names
escaped, its sources not recorded). Skipped only outside CI when no Chromium is installed; in CI
(``CI=true``) a missing browser fails the test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reachsim.report import render_report
from tests.report.conftest import copy_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: .ci/run installs Debian's chromium for this test")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.mark.parametrize("which", ["sourced_run_dir", "run_dir"], ids=["sourced", "made-in-code"])
def test_the_report_opens_cleanly_in_a_browser(browser, which: str, request: pytest.FixtureRequest,
                                               tmp_path: Path) -> None:
    folder = copy_run(request.getfixturevalue(which), tmp_path / "run")
    report = render_report(folder)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed to load {request.url}"))
    page.goto(report.as_uri(), wait_until="load")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
    assert images, "the report shows no chart"
    assert [alt for alt, complete, width in images if not complete or width == 0] == []
    answer = page.locator("#answer, h2:has-text('The answer')")
    assert answer.count() > 0
    text = page.inner_text("body")
    assert "NPV" in text
    assert any(verdict in text for verdict in ("better", "worse", "no clear difference", "no difference"))
    assumptions = page.locator("#assumptions table.assumptions")
    assert assumptions.count() >= 2  # what the strategies share, and the baseline's channels
    inputs = page.locator("#assumptions table.assumptions tbody tr:not(.group)")
    assert inputs.count() > 10 and inputs.first.is_visible()
    assert page.locator("#assumptions").inner_text().count("market.size") == 1
    if which == "sourced_run_dir":
        sourced = page.locator("#assumptions td.source", has_text="AdStage Q1 2019")
        assert sourced.count() >= 1 and sourced.first.is_visible()
        assert page.locator("#assumptions .grade-cell .grade").count() > 5
    else:
        assert "were not recorded" in page.locator("#assumptions").inner_text()
    assert page.locator("#provenance").inner_text().count("scenario sha256") == 1
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert problems == []
    page.close()
