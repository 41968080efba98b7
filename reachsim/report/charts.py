"""Publication-quality charts of a run directory, made from its files (summary.json + timeseries.csv).

The style kit (figures, colours, legends, deterministic files) is :mod:`reachsim.report.style`; this module chooses
and builds the charts, reading each metric's declaration (unit, label, group) from the run directory.

One colour per strategy (Okabe–Ito, colour-blind safe) in every chart, in the scenario's order of strategies;
sources of new subscribers have their own fixed colours (Paul Tol's "bright" scheme).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from reachsim.core.metrics import JOINED_BY_SOURCE
from reachsim.model.finance import breakeven_day
from reachsim.report.declarations import group_members, of_kinds
from reachsim.report.names import GROUP_CHART_PREFIX as GROUP_CHARTS
from reachsim.report.style import (
    DPI,
    TEXT,
    HumanFormatter,
    Palette,
    day_axis,
    days_of,
    fig_title,
    figure,
    grid_shape,
    legend,
    plain,
    png_bytes,
    strategy_legend,
    style_axes,
    svg_bytes,
)
from reachsim.results.rundata import Band, RunData

#: Paul Tol's "bright" scheme, one fixed colour per source of new members.
SOURCE_COLOURS = {
    "initial": "#BBBBBB",
    "organic": "#228833",
    "paid": "#EE6677",
    "bass": "#4477AA",
    "page": "#CCBB44",
    "boost": "#AA3377",
    "other": "#66CCEE",
}
EXTRA_SOURCE_COLOURS = ("#332288", "#882255", "#44AA99", "#999933", "#117733", "#88CCEE")
SOURCE_LABELS = {
    "initial": "initial (day 0)",
    "organic": "organic",
    "paid": "paid acquisition",
    "bass": "word of mouth (Bass)",
    "page": "from the Page",
    "boost": "from boosted posts",
    "other": "other channels",
}
#: Paired differences shown in the forest plot: (metric, axis label).
FOREST_METRICS = (
    ("npv", "NPV (currency)"),
    ("total_cost", "total cost (currency)"),
    ("unique_reach", "unique reach (people)"),
    ("engagements", "engagements (count)"),
)
#: Horizons from which daily engagements are shown as a 7-day mean.
SMOOTH_FROM_DAYS = 28
_REACH_K = re.compile(r"^reach_(\d+)plus$")


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its file stem under ``charts/``, the words around it, and its two files."""

    name: str
    title: str
    caption: str
    png: bytes
    svg: bytes
    width_px: int
    height_px: int


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    caption: str
    build: Callable[[RunData, Palette], Figure | None]


def render_charts(data: RunData) -> list[Chart]:
    """Every chart that applies to this run, in report order (a run with one strategy has no comparison chart,
    a run without Messenger or Page sign-up sources no sources chart, ...)."""
    palette = Palette(data.strategies)
    charts = []
    built = [(spec.name, spec.title, spec.caption, spec.build(data, palette)) for spec in CHARTS]
    built += group_charts(data, palette)
    for name, title, caption, fig in built:
        if fig is None:
            continue
        width, height = (round(v * DPI) for v in fig.get_size_inches())
        png = png_bytes(fig)
        fig.set_layout_engine("none")  # laid out while drawing the PNG: the SVG keeps those positions
        charts.append(Chart(name, title, caption, png, svg_bytes(fig), width, height))
    return charts


def chart_names() -> tuple[str, ...]:
    """File stems of every chart the report can make (a re-render removes those it no longer makes)."""
    return tuple(spec.name for spec in CHARTS)


def source_colours(sources: Sequence[str]) -> dict[str, str]:
    extra = iter(EXTRA_SOURCE_COLOURS * (1 + len(sources) // len(EXTRA_SOURCE_COLOURS)))
    return {s: SOURCE_COLOURS[s] if s in SOURCE_COLOURS else next(extra) for s in sources}



# ---------------------------------------------------------------------------------------------------------
# The charts
# ---------------------------------------------------------------------------------------------------------


def audience_chart(data: RunData, palette: Palette) -> Figure | None:
    channels = [c for c in data.channels() if any(data.band(s, c, "audience") for s in data.strategies)]
    if not channels:
        return None
    rows, cols = grid_shape(len(channels), 3)
    fig = figure(min(11.0, 4.2 * cols + 1.0), 3.4 * rows + 1.1)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    days = days_of(data)
    for ax, channel in zip(axes.flat, channels, strict=False):
        for s in data.strategies:
            band = data.band(s, channel, "audience")
            if band is None:
                continue
            colour = palette.colour(s)
            ax.fill_between(days, band.p05, band.p95, color=colour, alpha=0.18, linewidth=0)
            ax.plot(days, band.mean, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s))
        style_axes(ax, title=channel, xlabel="day", ylabel="audience at day's end (people)")
        day_axis(ax, data.horizon)
        ax.set_ylim(bottom=0)
    for ax in axes.flat[len(channels):]:
        ax.set_visible(False)
    fig_title(fig, "Audience over time, by channel")
    strategy_legend(fig, palette, data.strategies, data.baseline,
                     [(Patch(color="#999999", alpha=0.3), "5th–95th percentile across replications")])
    return fig


def means_and_ratios_chart(data: RunData, palette: Palette) -> Figure | None:
    """One panel per declared daily mean or ratio (a mean wait, a service level): the measure over the horizon,
    which a total would misrepresent."""
    panels = of_kinds(data, ("mean", "ratio"))
    if not panels:
        return None
    rows, cols = grid_shape(len(panels), 3)
    fig = figure(min(11.0, 4.2 * cols + 1.0), 3.4 * rows + 1.1)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    days = days_of(data)
    for ax, (channel, metric, declaration) in zip(axes.flat, panels, strict=False):
        for s in data.strategies:
            band = data.band(s, channel, metric)
            if band is None:
                continue
            colour = palette.colour(s)
            ax.fill_between(days, band.p05, band.p95, color=colour, alpha=0.18, linewidth=0)
            ax.plot(days, band.mean, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s))
        unit = str(declaration.get("unit", ""))
        label = str(declaration.get("label", metric))
        if declaration.get("group"):  # "mean wait by route: phone", not a bare "phone"
            label = f"{declaration['group']}: {label}"
        style_axes(ax, title=f"{channel} · {label}", xlabel="day", ylabel=unit)
        if unit == "share":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        day_axis(ax, data.horizon)
        ax.set_ylim(bottom=0)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig_title(fig, "Daily means and ratios, by channel")
    strategy_legend(fig, palette, data.strategies, data.baseline,
                    [(Patch(color="#999999", alpha=0.3), "5th–95th percentile across replications")])
    return fig


#: Bins of a profile by hour of the day, and where each is drawn (its middle).
HOURS = np.arange(24) + 0.5


def _hourly_panels(data: RunData) -> list[tuple[str, str, dict[str, dict[str, Any]], str | None]]:
    """The panels of the hour-of-day chart, from the declarations (metrics declared ``by_hour`` that have a
    profile): (channel, title, {metric: declaration}, strategy). A metric not in a group has a panel of its own,
    one line per strategy, unless it only weighs another (a mean's weight, a ratio's numerator or denominator is
    shown through what it weighs); a group has one panel per strategy, one line per member."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for channel, metric, declaration in of_kinds(data, ("flow", "mean", "ratio")):
        if declaration.get("by_hour") and any(data.hours(s, channel, metric) for s in data.strategies):
            found[channel, metric] = declaration
    inputs = {(channel, str(d[key])) for (channel, _), d in found.items()
              for key in ("weight", "numerator", "denominator") if d.get(key)}
    panels: list[tuple[str, str, dict[str, dict[str, Any]], str | None]] = []
    groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for (channel, metric), declaration in found.items():
        group = declaration.get("group")
        if group:
            groups.setdefault((channel, str(group)), {})[metric] = declaration
        elif (channel, metric) not in inputs:
            panels.append((channel, f"{channel} · {declaration.get('label', metric)}", {metric: declaration}, None))
    for (channel, group), members in groups.items():
        for s in data.strategies:
            shown = {m: d for m, d in members.items() if _any_value(data.hours(s, channel, m))}
            if shown:  # members without any value in this strategy (a route it does not have) are left out
                panels.append((channel, f"{channel} · {group} · {s}", shown, s))
    return panels


def _any_value(band: Band | None) -> bool:
    return band is not None and bool(np.nansum(np.abs(band.mean)) > 0)


def _hourly_values(data: RunData, band: Band, declaration: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """A profile as drawn: a flow per hour of an average day (its run-wide bin over the days of the horizon)."""
    scale = 1.0 / data.horizon if declaration.get("kind") == "flow" else 1.0
    return band.mean * scale, band.p05 * scale, band.p95 * scale


def hour_of_day_chart(data: RunData, palette: Palette) -> Figure | None:
    """Metrics declared by hour of the day (a queue's load, waits and service level by the hour contacts arrive),
    each a run-wide profile: what the daily series average away."""
    panels = _hourly_panels(data)
    if not panels:
        return None
    rows, cols = grid_shape(len(panels), 3)
    fig = figure(min(11.0, 4.2 * cols + 1.0), 3.4 * rows + 1.1)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    for ax, (channel, title, members, strategy) in zip(axes.flat, panels, strict=False):
        units = sorted({str(d.get("unit", "")) for d in members.values()})
        flows = all(d.get("kind") == "flow" for d in members.values())
        if strategy is None:  # one metric, one line per strategy
            ((metric, declaration),) = members.items()
            for s in data.strategies:
                band = data.hours(s, channel, metric)
                if band is None:
                    continue
                mean, p05, p95 = _hourly_values(data, band, declaration)
                colour = palette.colour(s)
                ax.fill_between(HOURS, p05, p95, color=colour, alpha=0.18, linewidth=0)
                ax.plot(HOURS, mean, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s))
        else:  # a group: one line per member, for one strategy
            colours = source_colours(list(members))
            for metric, declaration in members.items():
                band = data.hours(strategy, channel, metric)
                if band is not None:
                    mean, _, _ = _hourly_values(data, band, declaration)
                    ax.plot(HOURS, mean, color=colours[metric], linewidth=1.8,
                            label=plain(declaration.get("label", metric)))
            ax.legend(loc="best", fontsize=7.5, frameon=False, labelcolor=TEXT)
        ylabel = " / ".join(units) + (" per hour (average day)" if flows else "")
        style_axes(ax, title=title, xlabel="hour of the day", ylabel=ylabel)
        if units == ["share"]:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 3))
        ax.tick_params(labelbottom=True)  # every panel says its hours
        ax.set_ylim(bottom=0)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig_title(fig, "Over the hour of the day, the whole horizon together")
    strategy_legend(fig, palette, data.strategies, data.baseline,
                    [(Patch(color="#999999", alpha=0.3), "5th–95th percentile across replications")])
    return fig


def money_chart(data: RunData, palette: Palette) -> Figure | None:
    series = {s: (data.band(s, "all", "cost"), data.band(s, "all", "value")) for s in data.strategies}
    series = {s: (c, v) for s, (c, v) in series.items() if c is not None and v is not None}
    if not series:
        return None
    fig = figure(11.0, 4.3)
    axes = fig.subplots(1, 3, sharex=True)
    days = days_of(data)
    panels = (
        ("cumulative cost", "total_cost", lambda c, v: np.nancumsum(c.mean)),
        ("cumulative value", "total_value", lambda c, v: np.nancumsum(v.mean)),
        ("cumulative net value (value − cost)", "net_value", lambda c, v: np.nancumsum(v.mean - c.mean)),
    )
    last = data.horizon - 1
    n = len(series)
    for ax, (title, total, curve) in zip(axes, panels, strict=True):
        for i, (s, (cost, value)) in enumerate(series.items()):
            colour = palette.colour(s)
            y = curve(cost, value)
            ax.plot(days, y, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s))
            band = data.metric(s, total)
            if band and band.get("p05") is not None and band.get("p95") is not None:
                x = last + data.horizon * 0.012 * (i + 1)
                ax.plot([x, x], [band["p05"], band["p95"]], color=colour, linewidth=2.2, solid_capstyle="butt")
            if total == "net_value":
                _mark_breakeven(ax, days, value.mean - cost.mean, colour, i, n)
        style_axes(ax, title=title, xlabel="day", ylabel="currency")
        ax.set_xlim(0, last + data.horizon * 0.012 * (n + 1))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 3, 5, 6, 10]))
    axes[2].axhline(0, color="#555555", linewidth=1.0, zorder=1)
    fig_title(fig, "Cumulative cost, value and net value")
    strategy_legend(fig, palette, list(series), data.baseline, [
        (Line2D([], [], color="#555555", linewidth=2.2, solid_capstyle="butt"),
         "bars at the right: 5th–95th percentile of the total"),
        (Line2D([], [], color="#555555", marker="o", linestyle="none", markerfacecolor="white"),
         "break-even (net value turns ≥ 0 for good)"),
    ])
    return fig


def _mark_breakeven(ax: Axes, days: np.ndarray, daily_net: np.ndarray, colour: str, i: int, n: int) -> None:
    """The break-even day of the mean daily net, by the summary's own rule (reachsim.model.finance)."""
    found = breakeven_day(np.nan_to_num(daily_net))
    if not math.isfinite(found) or found == 0:  # never, or never below 0: nothing to mark
        return
    day = int(found)
    ax.plot([days[day]], [0], marker="o", markersize=7, markerfacecolor="white", markeredgecolor=colour,
            markeredgewidth=2, zorder=5, linestyle="none")
    ax.annotate(f"day {day}", (days[day], 0), xytext=(0, 10 + 12 * (i % max(n, 1))), textcoords="offset points",
                ha="center", fontsize=8, color=colour, fontweight="bold", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _strategy_bands(data: RunData, metric: str) -> dict[str, Band]:
    """The strategy-level (channel ``all``) daily band of ``metric`` for each strategy that has it."""
    bands = {s: data.band(s, "all", metric) for s in data.strategies}
    return {s: b for s, b in bands.items() if b is not None}


def unique_reach_chart(data: RunData, palette: Palette) -> Figure | None:
    bands = _strategy_bands(data, "unique_reach")
    if not bands:
        return None
    fig = figure(11.0, 4.4)
    ax = fig.subplots()
    days = days_of(data)
    for s, band in bands.items():
        colour = palette.colour(s)
        ax.fill_between(days, band.p05, band.p95, color=colour, alpha=0.18, linewidth=0)
        ax.plot(days, band.mean, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s))
    style_axes(ax, xlabel="day", ylabel="people reached at least once")
    day_axis(ax, data.horizon)
    ax.set_ylim(bottom=0)
    fig_title(fig, "Cumulative unique reach, all channels (de-duplicated)")
    strategy_legend(fig, palette, list(bands), data.baseline,
                     [(Patch(color="#999999", alpha=0.3), "5th–95th percentile across replications")])
    return fig


def _trailing_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` days; NaN (not drawn) until a whole window has passed."""
    c = np.concatenate([[0.0], np.nancumsum(y)])
    out = np.full(y.size, np.nan)
    out[window - 1:] = (c[window:] - c[:-window]) / window
    return out


def engagements_chart(data: RunData, palette: Palette) -> Figure | None:
    bands = _strategy_bands(data, "engagements")
    if not bands:
        return None
    fig = figure(11.0, 4.4)
    ax = fig.subplots()
    days = days_of(data)
    smooth = data.horizon >= SMOOTH_FROM_DAYS
    for s, band in bands.items():
        colour = palette.colour(s)
        if smooth:  # daily counts swing with broadcast days: four strategies' spikes would hide each other
            ax.plot(days, _trailing_mean(band.mean, 7), color=colour, linestyle=palette.linestyle(s),
                    linewidth=palette.linewidth(s))
        else:
            ax.fill_between(days, band.p05, band.p95, color=colour, alpha=0.18, linewidth=0)
            ax.plot(days, band.mean, color=colour, linestyle=palette.linestyle(s), linewidth=palette.linewidth(s))
    style_axes(ax, xlabel="day", ylabel="engagements per day" + (" (mean of the last 7 days)" if smooth else ""))
    day_axis(ax, data.horizon)
    ax.set_ylim(bottom=0)
    fig_title(fig, "Daily engagements, all channels" + (" (7-day mean)" if smooth else ""))
    extra = [] if smooth else [(Patch(color="#999999", alpha=0.3), "5th–95th percentile across replications")]
    strategy_legend(fig, palette, list(bands), data.baseline, extra)
    return fig


def _sources(data: RunData, strategy: str, channel: str) -> dict[str, str]:
    """Source → metric, for the channel's declared "joined, by source" flows."""
    return group_members(data, strategy, channel, JOINED_BY_SOURCE)


def _source_order(sources: set[str]) -> list[str]:
    known = [s for s in SOURCE_COLOURS if s in sources]
    return known + sorted(sources - set(known))


def joined_chart(data: RunData, palette: Palette) -> Figure | None:
    # channel -> strategies with joined_* series, and the sources with any member in any of them
    blocks: list[tuple[str, list[str], list[str]]] = []
    for channel in data.channels():
        strategies = [s for s in data.strategies if _sources(data, s, channel)]
        found: set[str] = set()
        for s in strategies:
            for source, metric in _sources(data, s, channel).items():
                band = data.band(s, channel, metric)
                if band is not None and np.nansum(band.mean) > 0:
                    found.add(source)
        if strategies and found:
            blocks.append((channel, strategies, _source_order(found)))
    if not blocks:
        return None
    cols = min(4, max(len(strategies) for _, strategies, _ in blocks))
    rows = sum(math.ceil(len(strategies) / cols) for _, strategies, _ in blocks)
    fig = figure(min(12.0, 3.0 * cols + 1.2), 2.9 * rows + 1.3)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    colours = source_colours(sorted({s for _, _, sources in blocks for s in sources}))
    days = days_of(data)
    row = 0
    used: dict[str, None] = {}
    for channel, strategies, sources in blocks:
        block_axes = []
        top = 0.0
        for i, s in enumerate(strategies):
            ax = axes[row + i // cols, i % cols]
            block_axes.append(ax)
            stack = []
            for source in sources:
                metric = _sources(data, s, channel).get(source)
                band = data.band(s, channel, metric) if metric is not None else None
                stack.append(np.nancumsum(band.mean) if band is not None else np.zeros(days.size))
                used.setdefault(source)
            ax.stackplot(days, np.vstack(stack), colors=[colours[src] for src in sources], linewidth=0)
            top = max(top, float(np.sum([a[-1] for a in stack])))
            style_axes(ax, title=f"{channel} · {s}", xlabel="day" if row + i // cols == rows - 1 else None)
            day_axis(ax, data.horizon)
            if i % cols == 0:
                ax.set_ylabel("joined since day 0 (people)", fontsize=9, color=TEXT)
        for j, ax in enumerate(block_axes):  # one y scale per channel: strategies side by side compare
            ax.set_ylim(0, top * 1.04 if top > 0 else 1)
            if j % cols:
                ax.tick_params(axis="y", labelleft=False)
        for j in range(len(strategies), math.ceil(len(strategies) / cols) * cols):
            axes[row + j // cols, j % cols].set_visible(False)
        row += math.ceil(len(strategies) / cols)
    fig_title(fig, "Who joined, by source (cumulative, stacked)")
    order = _source_order(set(used))
    handles = [Patch(color=colours[src]) for src in order]
    labels = [plain(SOURCE_LABELS.get(src, src)) for src in order]
    legend(fig, handles, labels)
    return fig


#: Groups with a chart of their own (or that are figures of the whole run, not daily series).
OWN_CHART_GROUPS = frozenset({JOINED_BY_SOURCE, "reach at frequency"})
#: File stems of the per-group charts start with this (a re-render removes stale ones by it).
GROUP_CHART_PREFIX = GROUP_CHARTS
_SLUG = re.compile(r"[^a-z0-9]+")


def group_charts(data: RunData, palette: Palette) -> list[tuple[str, str, str, Figure | None]]:
    """One chart per declared group of daily metrics of a channel (an app's cost by category, uninstalls by cause,
    a support queue's contacts by route...): one panel per strategy with the channel, one line per member."""
    groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for channel, metric, declaration in of_kinds(data, ("flow", "stock", "mean", "ratio")):
        group = declaration.get("group")
        if group and group not in OWN_CHART_GROUPS:
            groups.setdefault((channel, str(group)), {})[metric] = declaration
    out = []
    for (channel, group), members in groups.items():
        slug = _SLUG.sub("-", f"{channel} {group}".lower()).strip("-")
        title = f"{channel}: {group}"
        kinds = {d.get("kind") for d in members.values()}
        cumulative = kinds == {"flow"}
        caption = (
            f"The {group} of channel {channel}, one panel per strategy that has it: "
            + ("cumulative totals since day 0 (means across replications)." if cumulative
               else "daily values, mean and 5th–95th percentile across replications.")
        )
        out.append((GROUP_CHART_PREFIX + slug, title, caption, _group_figure(data, palette, channel, group,
                                                                               members, cumulative)))
    return out


def _group_figure(data: RunData, palette: Palette, channel: str, group: str, members: dict[str, dict[str, Any]],
                  cumulative: bool) -> Figure | None:
    strategies = [s for s in data.strategies if any(data.band(s, channel, m) is not None for m in members)]
    if not strategies:
        return None
    rows, cols = grid_shape(len(strategies), 3)
    fig = figure(min(11.0, 4.2 * cols + 1.0), 3.3 * rows + 1.2)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    days = days_of(data)
    colours = source_colours(list(members))
    units = sorted({str(d.get("unit", "")) for d in members.values()})
    for ax, s in zip(axes.flat, strategies, strict=False):
        for metric in members:
            band = data.band(s, channel, metric)
            if band is None:
                continue
            colour = colours[metric]
            if cumulative:
                ax.plot(days, np.nancumsum(band.mean), color=colour, linewidth=1.8)
            else:
                ax.fill_between(days, band.p05, band.p95, color=colour, alpha=0.15, linewidth=0)
                ax.plot(days, band.mean, color=colour, linewidth=1.8)
        ylabel = ("cumulative " if cumulative else "") + " / ".join(units)
        style_axes(ax, title=f"{s}", xlabel="day", ylabel=ylabel)
        if units == ["share"]:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        day_axis(ax, data.horizon)
        ax.set_ylim(bottom=0)
    for ax in axes.flat[len(strategies):]:
        ax.set_visible(False)
    fig_title(fig, f"{channel}: {group}")
    handles = [Line2D([], [], color=colours[m], linewidth=1.8) for m in members]
    legend(fig, handles, [plain(d.get("label", m)) for m, d in members.items()])
    return fig


def forest_chart(data: RunData, palette: Palette) -> Figure | None:
    others = [s for s in data.strategies if s in data.comparisons]
    metrics = [(m, label) for m, label in FOREST_METRICS if any(m in data.comparisons[s] for s in others)]
    if not others or not metrics:
        return None
    rows, cols = grid_shape(len(metrics), 2)
    fig = figure(11.0, rows * (0.42 * len(others) + 1.4) + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    y = np.arange(len(others))[::-1]
    for ax, (metric, label) in zip(axes.flat, metrics, strict=False):
        shown: list[float] = []
        for yi, s in zip(y, others, strict=True):
            diff = data.comparisons[s].get(metric) or {}
            mean = diff.get("mean")
            if mean is None:
                continue
            lo, hi = (diff.get("ci95") or [None, None])[:2]
            colour = palette.colour(s)
            shown.append(mean)
            if lo is not None and hi is not None:
                shown.extend((lo, hi))
                ax.plot([lo, hi], [yi, yi], color=colour, linewidth=2.4, solid_capstyle="butt")
                ax.plot([lo, hi], [yi, yi], color=colour, linestyle="none", marker="|", markersize=10)
            ax.plot([mean], [yi], marker="o", color=colour, markersize=7, linestyle="none")
        ax.axvline(0, color="#555555", linewidth=1.0, zorder=1)
        style_axes(ax, title=label, xlabel=f"difference against {data.baseline}")
        ax.xaxis.set_major_formatter(HumanFormatter())
        ax.set_yticks(y, [plain(s) for s in others])
        ax.tick_params(axis="y", length=0, labelsize=9)
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.grid(False, axis="y")
        _symmetric_room(ax, shown)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7, integer=metric in ("unique_reach", "engagements")))
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    fig_title(fig, f"Paired differences against the baseline ({plain(data.baseline)}): mean and 95% CI")
    return fig


def _symmetric_room(ax: Axes, values: Sequence[float]) -> None:
    """Keep 0 in view with a margin, so that 'the interval excludes 0' can be seen; ±1 if every value is 0."""
    lo, hi = min([0.0, *values]), max([0.0, *values])
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        ax.set_xlim(-1, 1)
        return
    pad = 0.08 * (hi - lo)
    ax.set_xlim(lo - pad, hi + pad)


def _thresholds(metrics: dict[str, object]) -> list[int]:
    return sorted(int(m.group(1)) for m in map(_REACH_K.match, metrics) if m)


def reach_frequency_chart(data: RunData, palette: Palette) -> Figure | None:
    # panels: all channels (strategy metrics), then each channel
    panels: list[tuple[str, dict[str, dict[str, object]]]] = []
    overall = {s: data.summary["strategies"][s].get("metrics", {}) for s in data.strategies}
    panels.append(("all channels (de-duplicated)", overall))
    for channel in data.channels():
        panels.append((channel, {s: data.channel_metrics(s).get(channel, {}) for s in data.strategies}))
    panels = [(t, by_s) for t, by_s in panels if any(_thresholds(m) for m in by_s.values())]
    if not panels:
        return None
    rows, cols = grid_shape(len(panels), 3)
    fig = figure(min(11.0, 3.9 * cols + 1.0), 3.5 * rows + 1.1)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (title, by_strategy) in zip(axes.flat, panels, strict=False):
        strategies = [s for s in data.strategies if _thresholds(by_strategy.get(s, {}))]
        ks = sorted({k for s in strategies for k in _thresholds(by_strategy[s])})
        x = np.arange(len(ks))
        width = 0.8 / max(len(strategies), 1)
        for i, s in enumerate(strategies):
            means, lows, highs = [], [], []
            for k in ks:
                cell = by_strategy[s].get(f"reach_{k}plus") or {}
                mean = cell.get("mean")
                means.append(np.nan if mean is None else mean)
                lows.append(np.nan if cell.get("p05") is None or mean is None else mean - cell["p05"])
                highs.append(np.nan if cell.get("p95") is None or mean is None else cell["p95"] - mean)
            xs = x - 0.4 + width * (i + 0.5)
            ax.bar(xs, means, width=width * 0.92, color=palette.colour(s), linewidth=0)
            ax.errorbar(xs, means, yerr=[np.nan_to_num(lows), np.nan_to_num(highs)], fmt="none",
                        ecolor="#333333", elinewidth=0.9, capsize=2)
        ax.set_xticks(x, [f"{k}+" for k in ks])
        style_axes(ax, title=title, xlabel="times reached (at least)", ylabel="people")
        ax.grid(False, axis="x")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig_title(fig, "Reach at frequency: people reached at least k times over the horizon")
    strategy_legend(fig, palette, data.strategies, data.baseline,
                     [(Line2D([], [], color="#333333", linewidth=0.9, marker="_", markersize=6),
                       "5th–95th percentile")], bars=True)
    return fig


#: Every chart, in report order: file stem, title, how to read it.
CHARTS: tuple[_Spec, ...] = (
    _Spec(
        "money", "Cumulative cost, value and net value",
        "Money over time, summed day by day (means across replications); the bars past the last day span the "
        "5th–95th percentile of each total. Where a net-value line crosses 0 for good, a circle marks the "
        "break-even day.",
        money_chart,
    ),
    _Spec(
        "comparisons", "Paired differences against the baseline",
        "Each dot is a strategy's mean difference from the baseline over replications on the same random numbers; "
        "the line is its 95% confidence interval. An interval that does not touch the vertical 0 line is a clear "
        "difference; right of 0 means more (better for NPV and reach, worse for cost).",
        forest_chart,
    ),
    _Spec(
        "audience", "Audience over time, by channel",
        "Each panel is one channel: the line is the mean audience at the end of each day, the shaded band the 5th "
        "to 95th percentile across replications. Strategies without the channel have no line in its panel.",
        audience_chart,
    ),
    _Spec(
        "unique_reach", "Cumulative unique reach",
        "People reached at least once by any channel, counted once however many channels reached them; the band "
        "is the 5th–95th percentile across replications. A flattening line means new messages mostly reach the "
        "same people.",
        unique_reach_chart,
    ),
    _Spec(
        "engagements", "Daily engagements",
        "Engagements per day across all channels, as the mean over the last 7 days (for runs of 4 weeks or more: "
        "daily counts jump on broadcast and post days). A rising line means the audience grows faster than "
        "fatigue and opt-outs wear it down.",
        engagements_chart,
    ),
    _Spec(
        "joined_by_source", "Who joined, by source",
        "For each channel that records where its members came from, the cumulative number of people who joined, "
        "stacked by source (one panel per strategy, the same scale across a channel's panels). People who later "
        "left are still counted, so the top edge exceeds the audience.",
        joined_chart,
    ),
    _Spec(
        "means_and_ratios", "Daily means and ratios",
        "Each panel is a metric its channel declares as a daily mean (weighted, e.g. a mean wait over the "
        "contacts answered) or a ratio of two daily counts (e.g. a service level): its value day by day, mean "
        "and 5th–95th percentile across replications. A day without any weight (nothing answered) has no value "
        "and leaves a gap.",
        means_and_ratios_chart,
    ),
    _Spec(
        "hour_of_day", "Over the hour of the day",
        "Metrics their channel declares by hour of the day, each over the whole horizon: counts per hour of an "
        "average day (a support queue's contacts, by route), and means and ratios of what happened in each hour "
        "(the mean wait and service level of the contacts that arrived in it: its waits over its contacts "
        "answered, never an average of daily figures). Lines are means across replications, bands the 5th–95th "
        "percentile; an hour without any weight leaves a gap. Queues wait longest where the load outruns the "
        "agents on duty.",
        hour_of_day_chart,
    ),
    _Spec(
        "reach_frequency", "Reach at frequency",
        "How many people were reached at least 1, 2, 3, 5 and 10 times over the horizon, for all channels "
        "together and per channel; bars are means, whiskers the 5th–95th percentile. Tall bars at high "
        "frequencies mean repeated contact with the same people.",
        reach_frequency_chart,
    ),
)
