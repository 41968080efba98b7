"""The report of a run directory: charts (``charts/*.png`` and ``*.svg``) and a self-contained ``report.html``.

Made from the run directory's files alone (summary.json, timeseries.csv, scenario.yaml), so that any run can be
rendered again later with ``reachsim report RUN_DIR``. This is the only package that imports matplotlib; it is
imported when a report is rendered, not when this package is.

::

    from reachsim.report import render_report
    render_report("reports/messenger_push")   # -> Path("reports/messenger_push/report.html")
"""

from __future__ import annotations

import os
from pathlib import Path

from reachsim.report.names import CHART_NAMES, CHARTS_DIR, GROUP_CHART_PREFIX, REPORT_FILE
from reachsim.results.rundata import RunDirError, is_run_dir

__all__ = ["CHART_NAMES", "REPORT_FILE", "RunDirError", "clear_report", "is_run_dir", "render_report"]


def render_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``charts/`` and then ``report.html`` into ``run_dir``, each file atomically; returns the report's
    path. :class:`RunDirError` if the folder is not a run directory.

    Charts that an earlier render made but this run no longer has (a comparison chart, after a re-run with a
    single strategy) are removed; other files in ``charts/`` are left alone.
    """
    from reachsim.report.charts import render_charts
    from reachsim.report.html import render_html
    from reachsim.results.atomic import write_bytes, write_text
    from reachsim.results.rundata import read_run_dir

    data = read_run_dir(run_dir)
    charts = render_charts(data)
    page = render_html(data, charts)  # made before anything is written
    folder = Path(run_dir) / CHARTS_DIR
    for chart in charts:
        write_bytes(folder / f"{chart.name}.png", chart.png)
        write_bytes(folder / f"{chart.name}.svg", chart.svg)
    made = {chart.name for chart in charts}
    _remove_charts(folder, [name for name in (*CHART_NAMES, *_group_charts(folder)) if name not in made])
    report = Path(run_dir) / REPORT_FILE
    write_text(report, page)  # last: a report.html is there only once its charts are
    return report


def clear_report(run_dir: str | os.PathLike[str]) -> None:
    """Remove the report of a run directory (``report.html`` and the charts it made), for instance because the
    run directory has just been rewritten and the report describes the run before."""
    (Path(run_dir) / REPORT_FILE).unlink(missing_ok=True)
    folder = Path(run_dir) / CHARTS_DIR
    _remove_charts(folder, (*CHART_NAMES, *_group_charts(folder)))
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _group_charts(folder: Path) -> list[str]:
    """Stems of the per-group charts (``group-<channel>-<group>``) an earlier render left in ``folder``."""
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.glob(f"{GROUP_CHART_PREFIX}*") if p.suffix in (".png", ".svg")})


def _remove_charts(folder: Path, names: list[str] | tuple[str, ...]) -> None:
    for name in names:
        for suffix in (".png", ".svg"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
