"""The strategist's report: one self-contained HTML file (inline CSS, charts as PNG data URIs).

Made with Jinja2 with autoescaping on: every text that comes from a run directory (scenario name and
description, strategy, channel and parameter names) is escaped. The file holds nothing that changes from one
render to the next (no date), so rendering the same run directory twice gives the same bytes.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from reachsim.report.charts import DPI, Chart, Palette
from reachsim.results.rundata import RunData

#: Strategy metrics in the order of the tables, with a label, a kind (how to print it) and what it means.
METRICS: dict[str, tuple[str, str, str]] = {
    "npv": ("NPV", "money", "net value discounted at the scenario's annual rate, day by day"),
    "net_value": ("net value", "money", "value − cost over the horizon, undiscounted"),
    "total_value": ("total value", "money", "value from engagements and other sources over the horizon"),
    "total_cost": ("total cost", "money", "every cost in the ledger over the horizon"),
    "roi": ("ROI", "percent", "(value − cost) / cost"),
    "breakeven_day": ("break-even day", "day", "first day from which cumulative net value stays ≥ 0"),
    "unique_reach": ("unique reach", "count", "people reached at least once by any channel (de-duplicated)"),
    "engagements": ("engagements", "count", "engagements over the horizon, all channels"),
    "cost_per_engagement": ("cost per engagement", "money", "total cost / engagements"),
    "average_frequency": ("average frequency", "number", "deliveries per person reached"),
}
#: Channel metrics shown first, in this order; others follow (sources of members, reach at frequency, the rest).
CHANNEL_ORDER = ("audience", "joined", "left", "deliveries", "reached", "engagements", "cost", "value")
MONEY_WORDS = ("cost", "value", "spend", "price", "fee")
_REACH_K = re.compile(r"^reach_(\d+)plus$")
MINUS = "\N{MINUS SIGN}"


# ---------------------------------------------------------------------------------------------------------
# Numbers in words
# ---------------------------------------------------------------------------------------------------------


def fmt(x: Any, kind: str = "number") -> str:
    """A table cell: thousands separators, sensible decimals, a real minus sign, '—' for undefined."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    x = float(x)
    if kind == "percent":
        text = f"{abs(x) * 100:,.1f}%"
    elif kind == "day":
        text = f"{abs(x):,.0f}" if x == int(x) else f"{abs(x):,.1f}"
    elif abs(x) >= 100 or x == int(x):
        text = f"{abs(x):,.0f}"
    else:
        text = f"{abs(x):.3g}"
    return (MINUS if x < 0 and text.strip("0.,%") else "") + text


def round_sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def fmt_sig(x: float, digits: int = 3) -> str:
    """A number for a sentence: 3 significant figures, thousands separators (12,300 · 0.0412 · −8,550)."""
    r = round_sig(x, digits)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(r)))) if r else 0
    text = f"{abs(r):,.{decimals}f}"
    return (MINUS if r < 0 else "") + text


def metric_kind(metric: str) -> str:
    if metric in METRICS:
        return METRICS[metric][1]
    if metric in ("cost", "value") or any(word in metric for word in MONEY_WORDS):
        return "money"
    if metric == "service_level":
        return "percent"
    return "number"


def metric_label(metric: str) -> str:
    if metric in METRICS:
        return METRICS[metric][0]
    m = _REACH_K.match(metric)
    if m:
        return f"reached {m.group(1)}+ times"
    if metric.startswith("joined_"):
        return f"joined: {metric.removeprefix('joined_').replace('_', ' ')}"
    return metric.replace("_", " ")


def metric_help(metric: str) -> str:
    if metric in METRICS:
        return METRICS[metric][2]
    m = _REACH_K.match(metric)
    if m:
        return f"people reached at least {m.group(1)} time{'s' if m.group(1) != '1' else ''}, all channels"
    return ""


def metric_order(metrics: Iterable[str], first: Sequence[str]) -> list[str]:
    """``first`` (in its order), then joined_* sources, reach at frequency by k, then the rest alphabetically."""
    names = set(metrics)

    def rank(m: str) -> tuple[int, int, str]:
        if m in first:
            return (0, first.index(m), "")
        if m.startswith("joined_"):
            return (1, 0, m)
        k = _REACH_K.match(m)
        if k:
            return (2, int(k.group(1)), "")
        return (3, 0, m)

    return sorted(names, key=rank)


# ---------------------------------------------------------------------------------------------------------
# The headline
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """'<lead>: <verdict>.' — the lead states the paired NPV difference, the verdict what it means."""

    strategy: str
    colour: str
    lead: str
    verdict: str  # "better", "worse", "no clear difference", "no difference" or "undetermined"

    @property
    def sentence(self) -> str:
        return f"{self.lead}: {self.verdict}."


def headline(strategy: str, baseline: str, horizon: int, diff: dict[str, Any] | None) -> tuple[str, str]:
    """(lead, verdict) for the paired NPV difference of ``strategy`` against ``baseline``."""
    over = f"over {horizon:,} days"
    mean = (diff or {}).get("mean")
    if mean is None:
        return f"{strategy}'s NPV difference from {baseline} is undefined in every replication", "undetermined"
    lo, hi = ((diff or {}).get("ci95") or [None, None])[:2]
    if lo is not None and hi is not None and lo == hi == mean == 0:
        return f"{strategy} earns the same NPV as {baseline} {over}", "no difference"
    amount = f"{fmt_sig(abs(mean))} {'more' if mean >= 0 else 'less'} NPV than {baseline} {over}"
    if lo is None or hi is None:
        return f"{strategy} earns {amount} (a single replication gives no confidence interval)", "undetermined"
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "no clear difference"
    digits = 3  # more digits where three would print a narrow interval as a single number
    while digits < 8 and lo != hi and fmt_sig(lo, digits) == fmt_sig(hi, digits):
        digits += 1
    return f"{strategy} earns {amount} (95% CI {fmt_sig(lo, digits)} to {fmt_sig(hi, digits)})", verdict


# ---------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reachsim.report", "templates"),
        autoescape=True,  # every text from a scenario is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _cell(band: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    band = band or {}
    cell: dict[str, Any] = {
        "mean": fmt(band.get("mean"), kind),
        "p05": fmt(band.get("p05"), kind),
        "p95": fmt(band.get("p95"), kind),
    }
    # no band where it says nothing: undefined, or every replication agrees (to the digits shown)
    cell["has_band"] = cell["p05"] != "—" and cell["p95"] != "—" and cell["p05"] != cell["p95"]
    cell["defined_in"] = _defined_in(band)
    return cell


def _defined_in(band: dict[str, Any]) -> str:
    """When a figure exists in only some replications (a break-even that comes in some), say in how many:
    the mean and band are over those only."""
    return f"defined in {band['n']} replications only" if "n" in band else ""


def _diff_text(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":  # a difference of two percentages is in percentage points
        return fmt(value * 100, "number") + " pp"
    return fmt(value, kind)


def _diff_cell(diff: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    diff = diff or {}
    lo, hi = (diff.get("ci95") or [None, None])[:2]
    mean = diff.get("mean")
    sign = "+" if mean is not None and mean > 0 else ""
    cell: dict[str, Any] = {
        "mean": sign + _diff_text(mean, kind),
        "lo": _diff_text(lo, kind),
        "hi": _diff_text(hi, kind),
    }
    # (no key may be named like a dict method: Jinja looks attributes up before items, c.clear is dict.clear)
    cell["excludes_zero"] = lo is not None and hi is not None and (lo > 0 or hi < 0)
    cell["has_ci"] = lo is not None and hi is not None and cell["lo"] != cell["hi"]
    cell["defined_in"] = _defined_in(diff)
    return cell


def context(data: RunData, charts: Sequence[Chart]) -> dict[str, Any]:
    """Everything the template shows, as plain strings and lists (the template does no arithmetic)."""
    s = data.summary
    palette = Palette(data.strategies)
    strategies = [
        {"name": name, "colour": palette.colour(name), "baseline": name == data.baseline}
        for name in data.strategies
    ]
    all_metrics: dict[str, None] = {}
    for name in data.strategies:
        for metric in s["strategies"][name].get("metrics", {}):
            all_metrics.setdefault(metric)
    metric_rows = [
        {
            "name": metric,
            "label": metric_label(metric),
            "help": metric_help(metric),
            "cells": [_cell(data.metric(name, metric), metric_kind(metric)) for name in data.strategies],
        }
        for metric in metric_order(all_metrics, list(METRICS))
    ]

    channel_tables = []
    for name in data.strategies:
        by_channel = data.channel_metrics(name)
        if not by_channel:
            continue
        channels = list(by_channel)
        metrics: dict[str, None] = {}
        for ch in channels:
            for metric in by_channel[ch]:
                metrics.setdefault(metric)
        channel_tables.append({
            "strategy": name,
            "colour": palette.colour(name),
            "channels": channels,
            "rows": [
                {
                    "name": metric,
                    "label": metric_label(metric),
                    "cells": [
                        _cell(by_channel[ch].get(metric), metric_kind(metric)) if metric in by_channel[ch] else None
                        for ch in channels
                    ],
                }
                for metric in metric_order(metrics, CHANNEL_ORDER)
            ],
        })

    compared = [name for name in data.strategies if name in data.comparisons]
    comparison_metrics: dict[str, None] = {}
    for name in compared:
        for metric in data.comparisons[name]:
            comparison_metrics.setdefault(metric)
    comparison_rows = [
        {
            "name": metric,
            "label": metric_label(metric),
            "cells": [_diff_cell(data.comparisons[name].get(metric), metric_kind(metric)) for name in compared],
        }
        for metric in metric_order(comparison_metrics, list(METRICS))
    ]

    headlines = []
    for name in compared:
        lead, verdict = headline(name, str(data.baseline), data.horizon, data.comparisons[name].get("npv"))
        headlines.append(Headline(name, palette.colour(name), lead, verdict))

    parameters = [
        {"path": path, **_cell(band, "number")} for path, band in sorted(data.parameters.items())
    ]
    from reachsim import __version__

    return {
        "renderer_version": __version__,
        "title": data.name,
        "description": data.description,
        "provenance": [
            ("reachsim version", str(s.get("reachsim_version", "unknown"))),
            ("seed", str(s.get("seed", "unknown"))),
            ("replications", _replications(s)),
            ("horizon", f"{data.horizon:,} days"),
            ("discount rate", fmt(s["discount_rate"], "percent") + " a year" if "discount_rate" in s else "—"),
            ("baseline", str(data.baseline or "—")),
            ("interrupted", "yes" if s.get("interrupted") else "no"),
            ("scenario sha256", str(s.get("scenario_sha256", "unknown"))),
        ],
        "interrupted": bool(s.get("interrupted")),
        "replications": s.get("replications"),
        "baseline": data.baseline,
        "horizon": data.horizon,
        "strategies": strategies,
        "headlines": headlines,
        "metric_rows": metric_rows,
        "compared": [{"name": n, "colour": palette.colour(n)} for n in compared],
        "comparison_rows": comparison_rows,
        "channel_tables": channel_tables,
        "parameters": parameters,
        "charts": [
            {
                "name": c.name,
                "title": c.title,
                "caption": c.caption,
                "src": "data:image/png;base64," + base64.b64encode(c.png).decode("ascii"),
                "svg": f"charts/{c.name}.svg",
                "png": f"charts/{c.name}.png",
                # shown at 100 CSS px per inch (the PNG has 150 dots per inch: sharp on high-density screens)
                "width": round(c.width_px * 100 / DPI),
                "height": round(c.height_px * 100 / DPI),
            }
            for c in charts
        ],
    }


def _replications(s: dict[str, Any]) -> str:
    done, asked = s.get("replications"), s.get("replications_requested")
    if done is None:
        return "unknown"
    if asked is not None and asked != done:
        return f"{done} of {asked} requested"
    return str(done)


def render_html(data: RunData, charts: Sequence[Chart]) -> str:
    """The report as one HTML document."""
    return _environment().get_template("report.html.j2").render(context(data, charts))
