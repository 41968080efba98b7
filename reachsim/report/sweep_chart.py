"""The chart of a parameter sweep: NPV, total cost, unique reach and engagements against the swept value.

Made from ``sweep.json`` alone (like the run report, from files, never from simulation objects), in the style of
:mod:`reachsim.report.charts`: one colour per strategy in the scenario's order, 5th–95th percentile bands, PNG and
SVG saved deterministically (the same sweep gives byte-identical files).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from reachsim.report.style import (
    HumanFormatter,
    Palette,
    fig_title,
    figure,
    legend,
    plain,
    png_bytes,
    style_axes,
    svg_bytes,
)
from reachsim.results.atomic import write_bytes

CHART_NAME = "sweep"
#: Panels of the chart: (metric, axis label).
PANELS = (
    ("npv", "NPV (currency)"),
    ("total_cost", "total cost (currency)"),
    ("unique_reach", "unique reach (people)"),
    ("engagements", "engagements (count)"),
)
#: Up to this many values, each gets its own tick.
MAX_VALUE_TICKS = 8


def _series(document: dict[str, Any], strategy: str, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [point["strategies"].get(strategy, {}).get(metric) or {} for point in document["points"]]

    def column(key: str) -> np.ndarray:
        return np.array([np.nan if row.get(key) is None else row[key] for row in rows], dtype=float)

    return column("mean"), column("p05"), column("p95")


def sweep_figure(document: dict[str, Any]) -> Figure:
    """The four panels of a sweep, one line and band per strategy; the best NPV of each strategy is ringed."""
    strategies = list(document.get("strategies") or document["points"][0]["strategies"])
    varied = set(document.get("varies_in") or strategies)
    palette = Palette(strategies)
    values = np.array([point["value"] for point in document["points"]], dtype=float)
    fig = figure(11.0, 7.6)
    axes = fig.subplots(2, 2, sharex=True)
    for n, (ax, (metric, label)) in enumerate(zip(axes.flat, PANELS, strict=True)):
        for s in strategies:
            mean, p05, p95 = _series(document, s, metric)
            colour = palette.colour(s)
            ax.fill_between(values, p05, p95, color=colour, alpha=0.16, linewidth=0)
            ax.plot(values, mean, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s),
                    marker="o", markersize=4)
            best = (document.get("best") or {}).get(s) or {}
            if metric == "npv" and s in varied and best.get("value") is not None and best.get("npv_mean") is not None:
                ax.plot([best["value"]], [best["npv_mean"]], marker="o", markersize=11, markerfacecolor="none",
                        markeredgecolor=colour, markeredgewidth=2, linestyle="none", zorder=5)
        style_axes(ax, title=label, xlabel=plain(document["parameter"]) if n >= 2 else None)
        ax.xaxis.set_major_formatter(HumanFormatter())
        if values.size <= MAX_VALUE_TICKS:
            ax.set_xticks(values)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=MAX_VALUE_TICKS))
        pad = 0.04 * (values[-1] - values[0])  # room for the markers (and rings) at both ends
        ax.set_xlim(values[0] - pad, values[-1] + pad)
    reps = document.get("replications")
    fig_title(fig, f"{plain(document['scenario'])}\nresponse to {plain(document['parameter'])}"
           + (f" ({reps} replications)" if reps else ""))
    handles: list[Line2D | Patch] = []
    labels: list[str] = []
    for s in strategies:
        handles.append(Line2D([], [], color=palette.colour(s), linestyle=palette.linestyle(s),
                              linewidth=palette.linewidth(s), marker="o", markersize=4))
        labels.append(plain(s if s in varied else f"{s} (not varied)"))
    handles.append(Patch(color="#999999", alpha=0.3))
    labels.append("5th–95th percentile across replications")
    handles.append(Line2D([], [], color="#555555", marker="o", markersize=9, markerfacecolor="none",
                          markeredgewidth=2, linestyle="none"))
    labels.append("highest mean NPV")
    legend(fig, handles, labels)
    return fig


def render_sweep_chart(document: dict[str, Any]) -> tuple[bytes, bytes]:
    """The chart as (PNG, SVG) bytes, identical for identical documents."""
    fig = sweep_figure(document)
    png = png_bytes(fig)
    fig.set_layout_engine("none")  # laid out while drawing the PNG: the SVG keeps those positions
    return png, svg_bytes(fig)


def write_sweep_chart(folder: str | os.PathLike[str]) -> Path:
    """Render ``sweep.png`` and ``sweep.svg`` from the folder's sweep.json, each atomically; returns the PNG."""
    folder = Path(folder)
    document = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    png, svg = render_sweep_chart(document)
    write_bytes(folder / f"{CHART_NAME}.svg", svg)
    write_bytes(folder / f"{CHART_NAME}.png", png)
    return folder / f"{CHART_NAME}.png"
