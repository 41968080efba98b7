"""``docs/findings.md``: what the shipped scenarios say, generated from runs of them.

Every scenario in ``scenarios/`` runs through the public API (:func:`~reachsim.scenario.load.load_scenario`,
:func:`~reachsim.scenario.load.with_overrides`, :func:`~reachsim.experiments.runner.run_experiment`); its run
directory and report are written under ``--runs``, and the findings page gets, per scenario: the question (the
first paragraph of the file's header), a headline table (NPV and NPV with the audience value per strategy, paired
differences against the baseline with 95% intervals), the report's comparison chart, sentences generated from the
numbers (which strategy wins and by how much, where an interval includes 0, and where a common belief is confirmed
or contradicted — said only when an interval excludes 0), the caveats (the grades of the sources its numbers cite,
its assumptions, its uncertain inputs) and the seed and replications used::

    python -m reachsim.findings                                  # every scenario as shipped → docs/findings.md
    python -m reachsim.findings --replications 2 --horizon-scale 0.1 --market-scale 0.05 --out /tmp/f

``--horizon-scale`` and ``--market-scale`` make a small copy of each scenario for quick checks (horizon, timeline
days and run-out scaled; market size and the counts, budgets and staffing that go with it scaled): the figures of
such a run are not findings.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from reachsim.core.paths import format_path, is_number, replaced_in
from reachsim.experiments.runner import ExperimentResult, run_experiment
from reachsim.experiments.stats import paired_difference
from reachsim.results.sources import sources_for
from reachsim.scenario.load import load_scenario, with_overrides
from reachsim.scenario.notes import Note, source_notes
from reachsim.scenario.sources_doc import citations

__all__ = ["BELIEFS", "VARIANTS", "Belief", "Variant", "main", "question_of", "scaled", "write_findings"]

SCENARIOS_DIR = Path("scenarios")
OUT_DIR = Path("docs")
RUNS_DIR = Path("reports") / "findings"
FINDINGS_FILE = "findings.md"
CHARTS_DIR = "findings"
#: The report chart each scenario's section shows: every paired difference against the baseline at once.
CHART = "comparisons"
FALLBACK_CHART = "money"
#: Headline metrics: (metric, column label).
HEADLINE = (("npv", "NPV"), ("npv_with_audience_value", "NPV with audience value"))
#: Top-level keys that are run settings, not facts needing a source (as the shipped-scenario test exempts them).
SETTINGS = frozenset({"seed", "replications", "horizon_days"})
#: Channel keys that grow with the market in a scaled-down copy (counts, daily flows, budgets, staff).
MARKET_SCALED = frozenset({
    "initial_fans", "initial_subscribers", "organic_fans_per_day", "organic_per_day", "contacts_per_day",
    "budget_per_day", "budget_per_post", "agents",
})


@dataclass(frozen=True)
class Belief:
    """A common belief the runs can confirm or contradict: ``strategy`` does better than ``against`` on ``metric``."""

    strategy: str
    against: str
    metric: str
    text: str


@dataclass(frozen=True)
class Variant:
    """A question the scenario answers across values of a market-level input (which strategies cannot vary)."""

    path: tuple[str | int, ...]
    values: tuple[float, ...]
    label: str


#: Beliefs the findings test against the numbers, by scenario file stem.
BELIEFS: dict[str, tuple[Belief, ...]] = {
    "flagship": (
        Belief("mobile_app", "messenger_push", "npv_with_audience_value",
               "a brand's own app is a stronger owned channel than a Messenger subscriber base"),
        Belief("messenger_bot_support", "messenger_push", "npv", "moving support to a bot first saves money"),
    ),
    "messenger_push": (
        Belief("push_free", "push_twice_weekly", "npv", "pushing more often wears the audience out and earns less"),
    ),
    "paid_to_owned": (
        Belief("paid_messenger", "boost_posts", "npv_with_audience_value",
               "buying an owned audience beats renting reach once the audience is counted"),
    ),
    "data_and_consent": (
        Belief("targeted", "no_targeting", "npv", "targeting data pays for itself"),
    ),
    "support_automation": (
        Belief("bot_first", "call_centre", "npv", "a bot first makes support cheaper"),
        Belief("bot_first_lean", "bot_first", "npv", "with a bot, fewer agents save more"),
    ),
    "messenger_replaces": (
        Belief("messenger_for_all", "incumbent", "npv_with_audience_value",
               "Messenger can replace the app, the call centre and Page promotion"),
        Belief("messenger_for_app", "incumbent", "npv_with_audience_value", "Messenger can replace the app"),
    ),
    "page_reach_decline": (
        Belief("boost_to_hold_reach", "organic_decline", "npv",
               "boosting posts to make up for lost organic reach pays for itself"),
    ),
}

#: Market-level inputs a scenario's question spans, by file stem.
VARIANTS: dict[str, Variant] = {
    "data_and_consent": Variant(("market", "segments", 0, "data_available"), (0.0, 0.3, 0.7),
                                "share of consumers' data usable"),
}


# -- settings ----------------------------------------------------------------------------------------------------


def scaled(scenario: Any, *, horizon_scale: float = 1.0, market_scale: float = 1.0) -> Any:
    """A smaller copy of ``scenario`` for quick runs: horizon, timeline days and run-out times ``horizon_scale``
    (entries past the new horizon dropped); market size and the channels' counts, daily flows, budgets and staff
    times ``market_scale`` (at least 1 where a whole number). Unchanged at 1 and 1."""
    if horizon_scale == 1 and market_scale == 1:
        return scenario
    data = scenario.model_dump(mode="python", round_trip=True)
    horizon = max(1, round(data["horizon_days"] * horizon_scale))
    data["horizon_days"] = horizon
    run_out = data.get("audience_value", {}).get("run_out_days")
    if run_out:
        data["audience_value"]["run_out_days"] = max(1, round(run_out * horizon_scale))
    data["market"]["size"] = max(10, round(data["market"]["size"] * market_scale))
    for strategy in data["strategies"].values():
        strategy["channels"] = [_scale_counts(c, market_scale) for c in strategy["channels"]]
        timeline = []
        for entry in strategy.get("timeline", []):
            day = round(entry["day"] * horizon_scale)
            if day < horizon:
                changes = {k: _scale_value(k.rsplit(".", 1)[-1], v, market_scale) for k, v in entry["set"].items()}
                timeline.append({**entry, "day": day, "set": changes})
        strategy["timeline"] = timeline
    return type(scenario).model_validate(data)


def _scale_counts(value: Any, factor: float) -> Any:
    if isinstance(value, dict):
        return {k: _scale_value(k, v, factor) if k in MARKET_SCALED else _scale_counts(v, factor)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scale_counts(v, factor) for v in value]
    return value


def _scale_value(key: str, value: Any, factor: float) -> Any:
    if key not in MARKET_SCALED:
        return value
    if isinstance(value, list):
        return [_scale_value(key, v, factor) for v in value]
    if isinstance(value, bool) or not is_number(value):
        return value
    if isinstance(value, int):
        return max(1, round(value * factor)) if value else 0
    return value * factor


# -- one scenario ------------------------------------------------------------------------------------------------


@dataclass
class Finding:
    """What the findings page says about one scenario, with the runs it rests on."""

    stem: str
    question: str
    scenario: Any
    result: ExperimentResult
    summary: dict[str, Any]
    chart: str | None
    seconds: float
    variants: list[tuple[float, dict[str, Any]]]


def question_of(text: str) -> str:
    """The first paragraph of a scenario file's header comment: its question."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        stripped = line[1:].strip()
        if not stripped:
            if lines:
                break
            continue
        lines.append(stripped)
    return " ".join(lines)


def _run(scenario: Any, workers: int) -> ExperimentResult:
    if workers > 1:
        from reachsim.experiments.executors import ProcessExecutor

        return run_experiment(scenario, executor=ProcessExecutor(workers))
    return run_experiment(scenario)


def _chart(result: ExperimentResult, run_dir: Path, charts: Path, stem: str, report: bool,
           sources: Any = None) -> str | None:
    """Write the run directory with the inputs' source notes, ``sources`` (and with ``report`` its whole report);
    draw its comparison chart, as the report draws it, into ``charts/<stem>.png``."""
    from reachsim.report.charts import CHARTS as REPORT_CHARTS
    from reachsim.report.style import Palette, png_bytes
    from reachsim.results.rundata import read_run_dir
    from reachsim.results.rundir import write_run_dir

    write_run_dir(result, run_dir, sources=sources)
    if report:
        from reachsim.report import render_report

        render_report(run_dir)
    data = read_run_dir(run_dir)
    specs = {spec.name: spec for spec in REPORT_CHARTS}
    for name in (CHART, FALLBACK_CHART):
        figure = specs[name].build(data, Palette(data.strategies)) if name in specs else None
        if figure is not None:
            charts.mkdir(parents=True, exist_ok=True)
            (charts / f"{stem}.png").write_bytes(png_bytes(figure))
            return f"{CHARTS_DIR}/{stem}.png"
    return None


def run_finding(path: Path, *, replications: int | None, horizon_scale: float, market_scale: float, workers: int,
                runs: Path, charts: Path, report: bool = False) -> Finding:
    """Run one scenario file (and its variants) and render its chart."""
    start = time.perf_counter()
    scenario = scaled(with_overrides(load_scenario(path), replications=replications),
                      horizon_scale=horizon_scale, market_scale=market_scale)
    result = _run(scenario, workers)
    chart = _chart(result, runs / path.stem, charts, path.stem, report, sources_for(path))
    summary = result.summary()
    variants = []
    variant = VARIANTS.get(path.stem)
    if variant is not None:
        for value in variant.values:
            varied = _varied(scenario, variant, value)
            same = varied.model_dump() == scenario.model_dump()
            variants.append((value, summary if same else _run(varied, workers).summary()))
    return Finding(path.stem, question_of(path.read_text(encoding="utf-8")), scenario, result, summary, chart,
                   time.perf_counter() - start, variants)


def _varied(scenario: Any, variant: Variant, value: float) -> Any:
    """The scenario with the variant's input at ``value``; a segment's input is set in every segment (the share
    of usable data is the market's)."""
    data = scenario.model_dump(mode="python", round_trip=True)
    if variant.path[:2] == ("market", "segments"):
        for segment in data["market"]["segments"]:
            segment[variant.path[-1]] = value
    else:
        data = replaced_in(data, variant.path, value)
    return type(scenario).model_validate(data)


# -- words and numbers -------------------------------------------------------------------------------------------


def _money(x: float | None, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    text = f"{abs(x):,.0f}"
    if signed:
        return ("+" if x > 0 else "−" if x < 0 else "±") + text
    return ("−" if x < 0 else "") + text


def _band(band: dict[str, Any]) -> str:
    return f"{_money(band.get('mean'))} [{_money(band.get('p05'))}, {_money(band.get('p95'))}]"


def _ci(diff: dict[str, Any]) -> str:
    lo, hi = diff.get("ci95") or (None, None)
    return f"{_money(diff.get('mean'), signed=True)} ({_money(lo)} to {_money(hi)})"


def _side(diff: dict[str, Any]) -> int:
    """+1 if the 95% interval lies above 0, −1 below, 0 if it includes 0 (or is unknown)."""
    lo, hi = diff.get("ci95") or (None, None)
    if lo is None or hi is None:
        return 0
    if lo > 0:
        return 1
    if hi < 0:
        return -1
    return 0


def _label(metric: str) -> str:
    return dict(HEADLINE).get(metric, metric)


def headline_table(finding: Finding) -> list[str]:
    """The Markdown table: per strategy each headline metric (mean [p05, p95]) and its paired difference."""
    summary, base = finding.summary, finding.summary["baseline"]
    header = ["strategy"]
    for _, label in HEADLINE:
        header += [f"{label}: mean [5%, 95%]", f"{label} − {base} (95% CI)"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, body in summary["strategies"].items():
        cells = [f"`{name}`" + (" (baseline)" if name == base else "")]
        for metric, _ in HEADLINE:
            cells.append(_band(body["metrics"][metric]))
            cells.append("—" if name == base else _ci(summary["comparisons"][name][metric]))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def verdicts(finding: Finding) -> list[str]:
    """Sentences generated from the paired differences: the winner, each strategy against the baseline, whether
    counting the audience value changes the answer."""
    summary, base = finding.summary, finding.summary["baseline"]
    horizon = finding.scenario.horizon_days
    out = []
    best: dict[str, str] = {}
    for metric, _ in HEADLINE:
        means = {s: b["metrics"][metric]["mean"] for s, b in summary["strategies"].items()}
        best[metric] = max(means, key=lambda s: -math.inf if means[s] is None else means[s])
    leader = best["npv"]
    over = f"Over {horizon} days"
    if leader == base:
        out.append(f"{over} no strategy has a higher mean NPV than the baseline `{base}`.")
    else:
        diff = summary["comparisons"][leader]["npv"]
        if _side(diff) > 0:
            out.append(f"{over} `{leader}` has the highest NPV: {_ci(diff)} against `{base}` (95% CI), a clear "
                       "difference.")
        else:
            out.append(f"{over} `{leader}` has the highest mean NPV, but its difference from `{base}`, "
                       f"{_ci(diff)}, has a 95% interval that includes 0: the runs cannot tell the two apart.")
    for name in summary["comparisons"]:
        if name == leader:
            continue
        diff = summary["comparisons"][name]["npv"]
        side = _side(diff)
        if side > 0:
            out.append(f"`{name}` beats `{base}` on NPV: {_ci(diff)}.")
        elif side < 0:
            out.append(f"`{name}` trails `{base}` on NPV: {_ci(diff)}.")
        else:
            out.append(f"`{name}` cannot be told apart from `{base}` on NPV: {_ci(diff)} includes 0.")
    run_out = finding.scenario.audience_value.run_out_days
    owned = any((b["metrics"]["npv_with_audience_value"]["mean"] or 0.0) != (b["metrics"]["npv"]["mean"] or 0.0)
                for b in summary["strategies"].values())
    if run_out and owned:
        for name in summary["comparisons"]:
            diff = summary["comparisons"][name]["npv_with_audience_value"]
            if _side(diff) != _side(summary["comparisons"][name]["npv"]):
                verb = {1: "beats", -1: "trails", 0: "cannot be told apart from"}[_side(diff)]
                out.append(f"With the audience value, `{name}` {verb} `{base}`: {_ci(diff)}.")
        with_value = best["npv_with_audience_value"]
        if with_value != leader:
            diff = summary["comparisons"].get(with_value, {}).get("npv_with_audience_value")
            said = f" ({_ci(diff)} against `{base}`)" if diff else ""
            out.append(f"Counting what the owned audiences built are worth (a further {run_out} days with paid media "
                       f"stopped) changes the answer: `{with_value}` leads{said}.")
        else:
            out.append(f"Counting what the owned audiences built are worth (a further {run_out} days with paid media "
                       f"stopped) leaves `{leader}` in the lead.")
    return out


def belief_sentences(finding: Finding) -> list[str]:
    """Each common belief of the scenario against the paired difference that tests it."""
    out = []
    scalars = {s: finding.result.strategy_metrics(s) for s in finding.result.runs}
    for belief in BELIEFS.get(finding.stem, ()):
        if belief.strategy not in scalars or belief.against not in scalars:
            continue
        diff = paired_difference(scalars[belief.strategy][belief.metric], scalars[belief.against][belief.metric])
        what = f"{_label(belief.metric)} of `{belief.strategy}` − `{belief.against}` = {_ci(diff)}"
        side = _side(diff)
        if side > 0:
            out.append(f"The runs agree with the common belief that {belief.text}: {what}.")
        elif side < 0:
            out.append(f"**This contradicts the common belief that {belief.text}**: {what}.")
        else:
            out.append(f"The runs neither confirm nor contradict the belief that {belief.text}: {what}, an interval "
                       "that includes 0.")
    return out


def variant_table(finding: Finding) -> list[str]:
    variant = VARIANTS.get(finding.stem)
    if variant is None or not finding.variants:
        return []
    base = finding.summary["baseline"]
    others = [s for s in finding.summary["strategies"] if s != base]
    header = [variant.label] + [f"{_label(m)}: `{s}` − `{base}` (95% CI)" for s in others for m, _ in HEADLINE]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for value, summary in finding.variants:
        cells = [f"{value:.0%}" if 0 <= value <= 1 else f"{value:g}"]
        cells += [_ci(summary["comparisons"][s][m]) for s in others for m, _ in HEADLINE]
        rows.append("| " + " | ".join(cells) + " |")
    lines = [f"The same strategies at each {variant.label} (`{format_path(variant.path)}`, every segment):", "",
             *rows, ""]
    first, last = finding.variants[0], finding.variants[-1]
    for s in others:
        low, high = first[1]["comparisons"][s]["npv"], last[1]["comparisons"][s]["npv"]
        if low["mean"] is not None and high["mean"] is not None:
            lines.append(f"From {first[0]:.0%} to {last[0]:.0%} usable, the NPV of `{s}` against `{base}` moves from "
                         f"{_ci(low)} to {_ci(high)}.")
    return [*lines, ""]


#: Support figures shown per strategy: (metric, column label, kind).
SERVICE = (("abandonment", "abandoned (share of contacts offered to agents)", "share"),
           ("service_level", "service level", "share"), ("mean_wait_s", "mean wait (s)", "number"),
           ("containment", "bot containment", "share"))


def service_table(finding: Finding) -> list[str]:
    """Waits and abandonment of every support channel (a channel with an ``abandonment`` metric), per strategy,
    and a sentence for each strategy whose abandonment differs from the baseline's by 2 points or more."""
    summary, base = finding.summary, finding.summary["baseline"]
    channels = sorted({c for b in summary["strategies"].values() for c, m in b["channels"].items()
                       if "abandonment" in m})
    if not channels:
        return []
    rows = ["| strategy | channel | " + " | ".join(label for _, label, _ in SERVICE) + " |",
            "|" + "---|" * (len(SERVICE) + 2)]
    sentences = []
    for name, body in summary["strategies"].items():
        for channel in channels:
            metrics = body["channels"].get(channel)
            if metrics is None:
                continue
            cells = [_level(metrics.get(m, {}).get("mean"), kind) for m, _, kind in SERVICE]
            rows.append(f"| `{name}` | {channel} | " + " | ".join(cells) + " |")
            ours = metrics.get("abandonment", {}).get("mean")
            theirs = summary["strategies"][base]["channels"].get(channel, {}).get("abandonment", {}).get("mean")
            if name != base and ours is not None and theirs is not None and abs(ours - theirs) >= 0.02:
                trend = "more" if ours > theirs else "fewer"
                price = _abandonment_price(finding.scenario, name, channel)
                counted = (f"each is priced at {price:,.2f} (a further try at resolving it) and loses the value "
                           "of a resolved contact" if price else
                           "each is counted only as the value the scenario gives a resolved contact")
                sentences.append(f"`{name}` loses {trend} contacts than `{base}`: {ours:.1%} of those offered to "
                                 f"agents abandon, against {theirs:.1%}; {counted}, not as a customer lost.")
    return ["Service (means over replications):", "", *rows, "", *[f"- {s}" for s in sentences],
            *([""] if sentences else [])]


def _abandonment_price(scenario: Any, strategy: str, channel: str) -> float:
    """What the scenario charges for an abandoned contact on ``channel`` of ``strategy`` (0 when nothing)."""
    strategies = getattr(scenario, "strategies", {})
    for params in strategies[strategy].channels if strategy in strategies else ():
        if (getattr(params, "name", None) or params.type) == channel:
            return float(getattr(params, "cost_per_abandoned_contact", 0.0) or 0.0)
    return 0.0


def _level(x: float | None, kind: str) -> str:
    if x is None:
        return "—"
    return f"{x:.1%}" if kind == "share" else f"{x:.3g}"


def caveats(finding: Finding, text: str) -> list[str]:
    """The grades of the sources behind the scenario's numbers, its assumptions, its uncertain inputs and what
    decides the comparisons most."""
    notes = source_notes(text)
    counts: dict[str, int] = {}
    assumed = 0
    weakest: dict[str, str] = {}
    for loc, note in _numeric_notes(yaml.safe_load(text), notes):
        if loc[:1] and loc[0] in SETTINGS and len(loc) == 1:
            continue
        grade = max(note.grade.split("/")) if note.grade else "assumption only"
        counts[grade] = counts.get(grade, 0) + 1
        assumed += note.assumption
        for cite in citations(note.text):
            if max(cite.grade.split("/")) in "CD":
                weakest.setdefault(f"§{cite.section} {cite.source} ({cite.grade})", cite.grade)
    total = sum(counts.values())
    order = ["A", "B", "C", "D", "assumption only"]
    parts = [f"{counts[g]} {_verb(counts[g], 'rests', 'rest')} on an assumption alone" if g == "assumption only"
             else f"{counts[g]} {_verb(counts[g], 'cites', 'cite')} grade {g} at worst" for g in order if counts.get(g)]
    out = [f"- Sources: of the {total} numbers in the file, " + ", ".join(parts) + f"; {assumed} of them are "
           "an assumption at least in part (see [sources.md](sources.md))."]
    if weakest:
        out.append("- Weakest sources cited (grade C or D): " + ", ".join(sorted(weakest)) + ".")
    parameters = finding.summary.get("parameters", {})
    if parameters:
        out.append("- Uncertain inputs, drawn once per replication (5th–95th percentile of the draws):")
        out += [f"  - `{k}`: {_num(v['p05'])} to {_num(v['p95'])}" for k, v in parameters.items()]
        out += _decisive(finding)
    out.append(f"- {finding.result.replications} replications: intervals are wide where replications are few, and "
               "rank correlations over so few are indicative only.")
    return out


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


#: Rank correlations over fewer replications than this are not reported (over 6, |ρ| ≥ 0.8 is rarely chance).
MIN_SENSITIVITY_REPLICATIONS = 6


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _decisive(finding: Finding) -> list[str]:
    """The input that decides each comparison most, where the comparison's uncertainty matters to the answer (its
    interval includes 0, or is wider than a tenth of the difference): elsewhere a rank correlation with a nearly
    constant difference is noise."""
    out = []
    n = finding.result.replications
    for strategy, inputs in finding.summary.get("sensitivity", {}).items():
        diff = finding.summary["comparisons"].get(strategy, {}).get("npv")
        if not diff or diff.get("mean") is None or None in (diff.get("ci95") or [None]):
            continue
        lo, hi = diff["ci95"]
        if _side(diff) != 0 and (hi - lo) / 2 <= 0.1 * abs(diff["mean"]):
            continue
        ranked = [(abs(v.get("npv_vs_baseline") or 0.0), k, v.get("npv_vs_baseline")) for k, v in inputs.items()
                  if v.get("npv_vs_baseline") is not None]
        if not ranked:
            continue
        strength, key, rho = max(ranked)
        if n >= MIN_SENSITIVITY_REPLICATIONS and strength >= 0.8:
            out.append(f"- The NPV difference of `{strategy}` against the baseline depends most on `{key}` "
                       f"(Spearman ρ = {rho:.2f} over {n} replications{': indicative' if n < 20 else ''}).")
    return out


def _numeric_notes(data: Any, notes: dict[tuple[str | int, ...], Note], loc: tuple[str | int, ...] = ()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numeric_notes(value, notes, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numeric_notes(value, notes, (*loc, i))
    elif is_number(data) and loc in notes:
        yield loc, notes[loc]


# -- the page ----------------------------------------------------------------------------------------------------


def render(findings: Sequence[Finding], texts: dict[str, str], settings: dict[str, Any]) -> str:
    from reachsim import __version__

    reduced = settings["horizon_scale"] != 1 or settings["market_scale"] != 1
    out = [
        "# Findings",
        "",
        "<!-- Generated by `python -m reachsim.findings` from runs of the shipped scenarios; do not edit by hand. -->",
        "",
        "What the shipped scenarios say, generated from runs of them: for each, the question it asks, the headline "
        "figures, the chart of every paired difference against its baseline, what the runs say (generated from "
        "the numbers) and the caveats. Money is in the scenarios' currency (US dollars in their sources); NPV is "
        "discounted at each scenario's rate. A difference is \"clear\" when its 95% confidence interval, over "
        "paired replications on common random numbers, excludes 0.",
        "",
        f"Generated with reachsim {__version__}: {settings['command']}",
        "",
    ]
    if reduced:
        out += ["**Reduced settings** (horizon × {horizon_scale:g}, market × {market_scale:g}): a quick check of the "
                "pipeline, not findings.".format(**settings), ""]
    out += ["| scenario | question | seed | replications | horizon (days) | market | run time |",
            "|---|---|---|---|---|---|---|"]
    for f in findings:
        out.append(f"| [{f.stem}](#{f.stem.replace('_', '-')}) | {f.question} | {f.scenario.seed} | "
                   f"{f.result.replications} | {f.scenario.horizon_days} | {f.scenario.market.size:,} | "
                   f"{f.seconds:.0f} s |")
    out.append("")
    for f in findings:
        out += [f'<a id="{f.stem.replace("_", "-")}"></a>', "", f"## {f.stem}: {f.scenario.name}", "",
                f"**Question.** {f.question}", "",
                f"[scenarios/{f.stem}.yaml](../scenarios/{f.stem}.yaml) · seed {f.scenario.seed} · "
                f"{f.result.replications} replications · {f.scenario.horizon_days} days · market "
                f"{f.scenario.market.size:,} · audience value over {f.scenario.audience_value.run_out_days} more days",
                "", *headline_table(f), ""]
        if f.chart:
            out += [f"![Paired differences against the baseline, {f.stem}]({f.chart})", ""]
        out += ["**What the simulation says.**", ""]
        out += [f"- {s}" for s in [*verdicts(f), *belief_sentences(f)]]
        out.append("")
        out += variant_table(f)
        out += service_table(f)
        out += ["**Caveats.**", "", *caveats(f, texts[f.stem]), ""]
    return "\n".join(out)


def write_findings(*, scenarios: Path = SCENARIOS_DIR, out: Path = OUT_DIR, runs: Path = RUNS_DIR,
                   replications: int | None = None, horizon_scale: float = 1.0, market_scale: float = 1.0,
                   workers: int = 1, only: Sequence[str] = (), command: str = "python -m reachsim.findings",
                   report: bool = False, progress: bool = False) -> Path:
    """Run every scenario file in ``scenarios`` (or those named in ``only``) and write ``out/findings.md`` and
    its charts under ``out/findings/``; returns the page's path."""
    paths = sorted(scenarios.glob("*.yaml"))
    if only:
        paths = [p for p in paths if p.stem in only]
    charts = out / CHARTS_DIR
    findings, texts = [], {}
    for path in paths:
        if progress:
            print(f"running {path.name} ...", file=sys.stderr, flush=True)
        texts[path.stem] = path.read_text(encoding="utf-8")
        findings.append(run_finding(path, replications=replications, horizon_scale=horizon_scale,
                                    market_scale=market_scale, workers=workers, runs=runs, charts=charts,
                                    report=report))
        if progress:
            print(f"  {findings[-1].seconds:.0f} s", file=sys.stderr, flush=True)
    settings = {"horizon_scale": horizon_scale, "market_scale": market_scale, "command": f"`{command}`"}
    page = render(findings, texts, settings)
    from reachsim.core.atomic import write_text

    out.mkdir(parents=True, exist_ok=True)
    target = out / FINDINGS_FILE
    write_text(target, page)
    return target


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reachsim.findings",
                                     description="Run the shipped scenarios and write docs/findings.md.")
    parser.add_argument("--replications", type=int, default=None, metavar="R",
                        help="replications per strategy (default: each scenario's own)")
    parser.add_argument("--horizon-scale", type=_positive, default=1.0, metavar="F",
                        help="scale horizons, timeline days and run-outs (quick checks)")
    parser.add_argument("--market-scale", type=_positive, default=1.0, metavar="F",
                        help="scale market sizes with their counts, budgets and staff (quick checks)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, metavar="DIR",
                        help=f"folder of findings.md and its charts (default: {OUT_DIR})")
    parser.add_argument("--runs", type=Path, default=RUNS_DIR, metavar="DIR",
                        help=f"folder of the run directories and reports (default: {RUNS_DIR})")
    parser.add_argument("--scenarios", type=Path, default=SCENARIOS_DIR, metavar="DIR",
                        help=f"scenario folder (default: {SCENARIOS_DIR})")
    parser.add_argument("--only", nargs="*", default=(), metavar="NAME", help="only these scenarios (file stems)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    parser.add_argument("--reports", action="store_true", help="also render each run directory's full report")
    args = parser.parse_args(argv)
    if args.replications is not None and args.replications < 1:
        parser.error("--replications must be at least 1")
    shown = ["python -m reachsim.findings"]
    if args.replications is not None:
        shown += ["--replications", str(args.replications)]
    if args.horizon_scale != 1:
        shown += ["--horizon-scale", f"{args.horizon_scale:g}"]
    if args.market_scale != 1:
        shown += ["--market-scale", f"{args.market_scale:g}"]
    target = write_findings(scenarios=args.scenarios, out=args.out, runs=args.runs, replications=args.replications,
                            horizon_scale=args.horizon_scale, market_scale=args.market_scale, workers=args.workers,
                            only=args.only, command=" ".join(shown), report=args.reports, progress=True)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
