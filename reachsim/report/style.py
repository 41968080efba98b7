"""The charts' style kit: figure, axes, colours per strategy, legends, tick labels and deterministic files.

Every figure is a :class:`matplotlib.figure.Figure` built directly: no pyplot, no backend selection and no change to
the global ``rcParams`` (importing this module changes nothing). The only setting that has to go through
``rcParams`` — the salt of the ids in SVG files, random unless set — is set inside a ``rc_context`` while an SVG is
written, so that two renders of the same run give byte-identical files.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter, MaxNLocator

from reachsim.results.rundata import RunData

DPI = 150
#: Okabe & Ito (2008), reordered so that the first strategies get the most distinct colours; yellow is last
#: (weak on white). Beyond eight strategies the colours repeat with a dashed line.
STRATEGY_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
LINESTYLES = ("-", "--", ":", "-.")
TEXT = "#222222"
GRID = "#E5E5E5"
_SVG_SALT = "reachsim"


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No "Software" text chunk (it names the matplotlib version); Agg output is otherwise deterministic.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def svg_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # Ids of clip paths and glyphs are hashed with svg.hashsalt (a random uuid when unset): fixed for the
    # duration of this one save, and restored afterwards.
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


class Palette:
    """A fixed colour (and line style) for each strategy, from its place in the scenario."""

    def __init__(self, strategies: Sequence[str]) -> None:
        self._order = {name: i for i, name in enumerate(strategies)}

    def colour(self, strategy: str) -> str:
        return STRATEGY_COLOURS[self._order.get(strategy, 0) % len(STRATEGY_COLOURS)]

    def linewidth(self, strategy: str) -> float:
        """Wider for earlier strategies, drawn first: where two strategies' lines coincide (the same costs, say)
        the later one runs inside the earlier one and both stay visible."""
        rank = len(self._order) - 1 - self._order.get(strategy, 0)
        return 1.2 + 0.7 * min(rank, 3)

    def linestyle(self, strategy: str) -> str:
        return LINESTYLES[(self._order.get(strategy, 0) // len(STRATEGY_COLOURS)) % len(LINESTYLES)]


def plain(text: object) -> str:
    """Text from a scenario, shown as written: a '$' would otherwise start matplotlib's maths mode."""
    return str(text).replace("$", r"\$")


class HumanFormatter(Formatter):
    """Tick labels with one scale per axis (all in k, or all in M, or plain with thousands separators) and as
    many decimals as the tick step needs: 0 · 5k · 10k · 15k rather than 0 · 5,000 · 10k · 15k."""

    def __init__(self) -> None:
        self._ticks = np.zeros(0)

    def set_locs(self, locs: Sequence[float]) -> None:
        self._ticks = np.asarray(locs, dtype=float)

    def __call__(self, x: float, pos: int | None = None) -> str:
        locs = self._ticks
        top = float(np.max(np.abs(locs))) if locs.size else abs(x)
        scale, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")
        step = float(np.min(np.diff(np.sort(locs)))) / scale if locs.size > 1 else 1.0
        decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
        if x == 0:
            return "0"
        return ("−" if x < 0 else "") + f"{abs(x) / scale:,.{decimals}f}{suffix}"


def figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained", facecolor="white")
    fig.get_layout_engine().set(h_pad=0.06, w_pad=0.06, hspace=0.04, wspace=0.03)
    return fig


def style_axes(ax: Axes, *, xlabel: str | None = None, ylabel: str | None = None, title: str | None = None) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")
    ax.tick_params(colors=TEXT, labelsize=8.5)
    ax.grid(True, color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)
    ax.yaxis.set_major_formatter(HumanFormatter())
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9, color=TEXT)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9, color=TEXT)
    if title:
        ax.set_title(plain(title), fontsize=10, color=TEXT, loc="left", fontweight="bold")


def fig_title(fig: Figure, text: str) -> None:
    fig.suptitle(text, fontsize=12.5, color=TEXT, fontweight="bold", x=0.01, ha="left")


def strategy_legend(fig: Figure, palette: Palette, strategies: Sequence[str], baseline: str | None,
                     extra: Sequence[tuple[Line2D | Patch, str]] = (), *, bars: bool = False) -> None:
    """One legend for the whole figure, below the panels (outside the data)."""
    handles: list[Line2D | Patch] = []
    labels: list[str] = []
    for s in strategies:
        if bars:
            handles.append(Patch(color=palette.colour(s)))
        else:
            handles.append(Line2D([], [], color=palette.colour(s), linestyle=palette.linestyle(s),
                                  linewidth=palette.linewidth(s)))
        labels.append(plain(f"{s} (baseline)" if s == baseline else s))
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    legend(fig, handles, labels)


def legend(fig: Figure, handles: Sequence[Line2D | Patch], labels: Sequence[str]) -> None:
    width = fig.get_size_inches()[0]
    per_row = max(1, min(len(labels), int(width // 2.2)))
    fig.legend(handles, labels, loc="outside lower center", ncols=per_row, frameon=False, fontsize=9,
               handlelength=2.2, labelcolor=TEXT)


def days_of(data: RunData) -> np.ndarray:
    return np.arange(data.horizon)


def day_axis(ax: Axes, horizon: int) -> None:
    ax.set_xlim(0, max(horizon - 1, 1))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, steps=[1, 2, 3, 5, 6, 10]))


def grid_shape(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols
