"""The strategist's report: one self-contained HTML file (inline CSS, charts as PNG data URIs).

Made with Jinja2 with autoescaping on: every text that comes from a run directory (scenario name and
description, strategy, channel and parameter names) is escaped. The file holds nothing that changes from one
render to the next (no date), so rendering the same run directory twice gives the same bytes.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from reachsim.report.assumptions import assumptions
from reachsim.report.charts import Chart
from reachsim.report.declarations import channel_declarations, strategy_declarations
from reachsim.report.style import DPI, Palette
from reachsim.results.rundata import RunData

#: How a number is printed, by its declared unit (others: a plain number).
FORMAT_BY_UNIT = {"currency": "money", "share": "percent", "days": "day"}
#: Units said after a label (people, messages and the like go without saying).
UNIT_SUFFIX = {"seconds": "s", "minutes": "min"}
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


def metric_kind(declaration: dict[str, Any] | None) -> str:
    """How to print a metric's numbers, from its declared unit."""
    return FORMAT_BY_UNIT.get((declaration or {}).get("unit", ""), "number")


def metric_label(metric: str, declaration: dict[str, Any] | None) -> str:
    """The declared label, after its group (``joined, by source: organic``) and with its unit where it is not
    obvious (``mean wait (s)``); the bare name for a run directory written before metrics were declared."""
    if not declaration:
        return metric
    label = str(declaration.get("label") or metric)
    group = declaration.get("group")
    if group:
        label = f"{group}: {label}"
    suffix = UNIT_SUFFIX.get(str(declaration.get("unit", "")))
    return f"{label} ({suffix})" if suffix else label


def metric_help(declaration: dict[str, Any] | None) -> str:
    return str((declaration or {}).get("description", ""))


def metric_order(metrics: Iterable[str], declared: Sequence[str]) -> list[str]:
    """In declaration order; metrics without a declaration (older run directories) after, alphabetically."""
    names = set(metrics)
    known = [m for m in declared if m in names]
    return known + sorted(names - set(known))


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
    with_audience: str = ""  # the same comparison with the audience each strategy built valued at the horizon

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


def _nonzero(band: dict[str, Any] | None) -> bool:
    """Whether a band ({mean, p05, p95}) holds anything but zeros."""
    return band is not None and any(band.get(k) not in (None, 0) for k in ("mean", "p05", "p95"))


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
    declared = strategy_declarations(data)
    metric_rows = [
        {
            "name": metric,
            "label": metric_label(metric, declared.get(metric)),
            "help": metric_help(declared.get(metric)),
            "cells": [_cell(data.metric(name, metric), metric_kind(declared.get(metric))) for name in data.strategies],
        }
        for metric in metric_order(all_metrics, list(declared))
    ]

    channel_tables = []
    for name in data.strategies:
        by_channel = data.channel_metrics(name)
        if not by_channel:
            continue
        channels = list(by_channel)
        metrics: dict[str, None] = {}
        declared_here: dict[str, dict[str, Any]] = {}
        for ch in channels:
            for metric in by_channel[ch]:
                metrics.setdefault(metric)
            for metric, declaration in channel_declarations(data, name, ch).items():
                declared_here.setdefault(metric, declaration)
        channel_tables.append({
            "strategy": name,
            "colour": palette.colour(name),
            "channels": channels,
            "rows": [
                {
                    "name": metric,
                    "label": metric_label(metric, declared_here.get(metric)),
                    "cells": [
                        _cell(by_channel[ch].get(metric), metric_kind(channel_declarations(data, name, ch).get(metric)))
                        if metric in by_channel[ch]
                        else None
                        for ch in channels
                    ],
                }
                for metric in metric_order(metrics, list(declared_here))
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
            "label": metric_label(metric, declared.get(metric)),
            "cells": [
                _diff_cell(data.comparisons[name].get(metric), metric_kind(declared.get(metric))) for name in compared
            ],
        }
        for metric in metric_order(comparison_metrics, list(declared))
    ]

    headlines = []
    run_out = (s.get("audience_value") or {}).get("run_out_days")
    if not any(_nonzero(data.metric(name, "audience_value_at_horizon")) for name in data.strategies):
        run_out = None  # no strategy built an audience worth anything (support only, say): nothing to add
    for name in compared:
        lead, verdict = headline(name, str(data.baseline), data.horizon, data.comparisons[name].get("npv"))
        with_audience = ""
        valued = data.comparisons[name].get("npv_with_audience_value")
        if run_out and valued is not None:
            lead_av, verdict_av = headline(name, str(data.baseline), data.horizon + run_out, valued)
            with_audience = (f"Counting the audience it built (run on for {run_out:,} more days without paid media): "
                             f"{lead_av.removeprefix(name + ' ')}: {verdict_av}.")
        headlines.append(Headline(name, palette.colour(name), lead, verdict, with_audience))

    parameters = [
        {"path": path, **_cell(band, "number")} for path, band in sorted(data.parameters.items())
    ]
    from reachsim import __version__

    inputs = assumptions(data, palette.colour)
    return {
        "renderer_version": __version__,
        "title": data.name,
        "description": data.description,
        "at_a_glance": [
            f"seed {s.get('seed', 'unknown')}",
            f"{s.get('replications', 'unknown')} replication{'' if s.get('replications') == 1 else 's'}",
            f"{data.horizon:,} days",
            f"baseline {data.baseline or '—'}",
        ],
        "provenance": [
            ("reachsim version", str(s.get("reachsim_version", "unknown"))),
            ("seed", str(s.get("seed", "unknown"))),
            ("replications", _replications(s)),
            ("horizon", f"{data.horizon:,} days"),
            ("run-out", _run_out(s)),
            ("discount rate", fmt(s["discount_rate"], "percent") + " a year" if "discount_rate" in s else "—"),
            ("baseline", str(data.baseline or "—")),
            ("interrupted", "yes" if s.get("interrupted") else "no"),
            ("sources", "sources.json" if data.sources is not None else "not recorded"),
            ("report made by", f"reachsim {__version__}"),
            ("scenario sha256", str(s.get("scenario_sha256", "unknown"))),
        ],
        "assumptions": inputs,
        "grade_meaning": dict(inputs.grades) if inputs is not None else {},
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


def _run_out(s: dict[str, Any]) -> str:
    """The audience-value run-out after the horizon, as provenance says it."""
    value = s.get("audience_value")
    days = value.get("run_out_days") if isinstance(value, dict) else None
    if not isinstance(days, int) or isinstance(days, bool):
        return "—"
    return f"{days:,} days without paid media" if days else "none"


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
