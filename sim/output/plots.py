"""Deck-ready plots of results tables.

Where it sits: results tables -> **plots** -> PNG/SVG/PDF files, the report and the app.
Each ``plot_*`` function takes tidy tables (never the model), draws on an optional Axes
and returns it. One style (:func:`deck_style`, applied by every plot function and by
:func:`save_figure`), one colour per policy (Okabe-Ito, colour-blind safe, by the policy's
position in the scenario), and a footer that traces a figure back to its scenario, hash,
seed, replications and version.

Figures this module creates are 16:9 slides (13.33 x 7.5 in) with a constrained layout
and every text at 12 pt or more; they are saved at exactly that size, so PNGs drop into
a slide placeholder unscaled. It must not run the model.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import math
import os
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim import __version__
from sim.engine import ledger
from sim.output import findings, fmt
from sim.params.names import display_name, mid_sentence
from sim.params.scenario import policy_labels
from sim.params.walk import field_unit
from sim.runs import metrics

# Okabe & Ito (2008) colour-blind-safe palette, black last.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]
SLIDE_SIZE_IN = (13.33, 7.5)  # 16:9
DPI = 200
MIN_FONT_PT = 12  # nothing on a slide smaller than this
FOOTER_GID = "supportsim-footer"
FOOTER_IN = 0.42  # height reserved at the bottom of a figure for the footer
FOOTER_COLOR = "#555555"
NEUTRAL = "#333333"  # reference lines and difference curves without a policy

STYLE: dict[str, Any] = {
    "figure.figsize": SLIDE_SIZE_IN,
    "figure.dpi": 100,
    "figure.titlesize": 18,
    "figure.titleweight": "bold",
    "savefig.dpi": DPI,
    "savefig.bbox": "standard",  # keep the 16:9 slide size; save_figure crops only figures without a layout
    "font.size": 14,
    "axes.titlesize": 18,
    "axes.titleweight": "bold",
    "axes.labelsize": 15,
    "axes.prop_cycle": cycler(color=PALETTE),
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "legend.title_fontsize": 13,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.4,
    "svg.fonttype": "none",
    "svg.hashsalt": "supportsim",  # fixed element ids: the same figure gives the same SVG bytes
    "pdf.fonttype": 42,
    "text.parse_math": False,  # "$1.2M to $1.3M" is money, not mathtext
}

# The satisfaction ladder (sim.params.schema.LADDER) in a purple-orange scheme that is colour-blind
# safe and shares no hue with the policy palette.
LEVELS = ("below", "meet", "exceed", "delight", "wow")
LEVEL_LABELS = {"below": "Below expectations", "meet": "Meets expectations", "exceed": "Exceeds",
                "delight": "Delights", "wow": "Wow"}
LEVEL_COLORS = {"below": "#E66101", "meet": "#D9D9D9", "exceed": "#B2ABD2", "delight": "#8073AC", "wow": "#3F1D6E"}

# Parameter low/high in a tornado: greys, so they are never mistaken for a policy.
LOW_COLOR, HIGH_COLOR = "#A6A6A6", "#3C3C3C"

MONTH_LABEL = "Month (0 = first simulated month)"
SUMMARY_COLUMNS = {"policy", "kpi", "mean", "std", "ci_low", "ci_high", "n"}

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def deck_style() -> Iterator[None]:
    """The one plot style of supportsim (CLI, report and app)."""
    with matplotlib.rc_context(STYLE):
        yield


def _styled(fn: F) -> F:
    """Run a plot function inside :func:`deck_style`, so callers need not remember to."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with deck_style():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def policy_colors(policies: Sequence[str]) -> dict[str, str]:
    """One fixed colour per policy, by its position in the scenario."""
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(policies)}


def literal(text: object) -> str:
    """User text (scenario, policy names) on one line: line breaks as spaces. Every text drawn
    from user input goes through here. ``$`` needs no escape: the style turns mathtext off
    (``text.parse_math``), and an escaped ``\\$`` would then show its backslash."""
    return " ".join(str(text).split())


def today() -> str:
    """The date a footer shows (UTC; ``SOURCE_DATE_EPOCH`` pins it for reproducible files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (_dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch and epoch.isdigit()
            else _dt.datetime.now(_dt.UTC))
    return when.date().isoformat()


@dataclass(frozen=True)
class Meta:
    """What a figure says about where it comes from: a short footer for the reader, and the
    full provenance (hash, seed, command) for the file's metadata. ``labels``: policy name ->
    display label (see :func:`sim.params.scenario.policy_label`)."""

    scenario: str
    sha256: str
    replications: int
    version: str = __version__
    seed: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    months: int | None = None
    date: str = field(default_factory=today)
    command: str | None = None
    edits: int = 0  # changes made to the scenario file (an edited scenario is footed as edited)

    @classmethod
    def of(cls, res: Any, *, command: str | None = None) -> Meta:
        names = {p: p for p in res.policies}
        return cls(res.scenario.scenario.name, res.scenario_sha256, res.replications, seed=res.seed,
                   labels={**names, **policy_labels(res.scenario)}, months=res.scenario.run.months,
                   command=command, edits=len(res.scenario.edits))

    def scenario_ref(self) -> str:
        """The scenario as a footer names it (edited scenarios with their hash)."""
        return fmt.scenario_ref(literal(self.scenario), self.sha256, self.edits)

    def label(self, policy: str) -> str:
        """The display label of ``policy``, safe for matplotlib (user text: no mathtext)."""
        return literal(self.labels.get(policy, policy))

    def footer(self) -> str:
        """Short and true: what was simulated, when, how often, with what."""
        return (f"{self.scenario_ref()} · {self.date} · {self.replications} replications per policy · "
                f"simulated with supportsim {self.version}")

    def provenance(self) -> dict[str, str]:
        """Everything needed to reproduce the figure (written into the file's metadata)."""
        out = {"scenario": self.scenario, "scenario_sha256": self.sha256, "replications": str(self.replications),
               "supportsim": self.version, "date": self.date}
        if self.seed is not None:
            out["seed"] = str(self.seed)
        if self.command:
            out["command"] = self.command
        return out


def label_of(meta: Meta | None, policy: str) -> str:
    """A policy's display label (its name without a :class:`Meta`)."""
    return meta.label(policy) if meta is not None else literal(policy)


# ---------------------------------------------------------------- formatting helpers


def usd(x: float, _pos: int | None = None) -> str:
    """Compact dollars for axes and labels: $950, $12.3k, -$1.2M (a matplotlib tick formatter)."""
    return fmt.usd(x, digits=1)


def kpi_name_unit(kpi: str) -> tuple[str, str]:
    """A KPI's display name (without unit) and unit, e.g. ("Cumulative profit", "USD")."""
    k = metrics.KPIS.get(kpi)
    return (k.label, k.unit) if k else (kpi.replace("_", " "), "")


_difference_unit = fmt.difference_unit
value_formatter = fmt.axis


def _signed(fmt: Callable[[float], str]) -> Callable[[float], str]:
    return lambda x: ("+" if x > 0 else "") + fmt(x)


def _with_unit(text: str, unit: str) -> str:
    return f"{text} ({unit})" if unit else text


def param_label(path: str, names: Mapping[str, str] | None = None) -> str:
    """Axis label of a scenario parameter (policy-specific paths too): its display name (from
    ``names``, else :mod:`sim.params.names`) and its unit from the schema."""
    return _with_unit(literal((names or {}).get(path) or display_name(path)), field_unit(path))


# ---------------------------------------------------------------- figure plumbing


def _new_axes(n: int = 1, *, sharey: bool = False) -> list[Axes]:
    """``n`` panels on one slide: one row up to four, then two rows (unused panels removed)."""
    ncols = n if n <= 4 else math.ceil(n / 2)
    nrows = math.ceil(n / ncols)
    # a Figure of its own, not pyplot's: no global figure registry, no backend chosen at import,
    # so a notebook keeps its inline backend and files render with the Agg canvas
    with deck_style():
        fig = Figure(figsize=SLIDE_SIZE_IN, layout="constrained")
        FigureCanvasAgg(fig)  # renders to files and bytes (and measures text for the title wrap)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    flat = list(axes.ravel())
    for extra in flat[n:]:
        fig.delaxes(extra)
    return flat[:n]


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else _new_axes()[0]


def _policies(table: pd.DataFrame, policies: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(table["policy"]))
    return list(policies) if policies else present


def _legend_outside(ax: Axes, **kwargs: Any) -> None:
    """Legend to the right of the plot: never on top of data, however the lines run."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def _finish(ax: Axes, meta: Meta | None) -> None:
    """Footer (once per figure), room for it, and tick sizes fixed for later draws."""
    fig = ax.figure
    for a in fig.axes:  # ticks are created lazily at draw time; pin their size now
        a.tick_params(axis="both", labelsize=STYLE["xtick.labelsize"])
    if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        with warnings.catch_warnings():  # a layout that cannot fit warns when the figure is drawn, not twice
            warnings.filterwarnings("ignore", message="constrained_layout not applied")
            fig.get_layout_engine().execute(fig)  # titles wrap for where the axes end up (a legend outside moves them)
    for a in fig.axes:
        pos = a.get_position()
        _wrap(a.title, fig, pos.x0 + pos.width / 2)
    if fig.get_suptitle():
        _wrap(fig._suptitle, fig, 0.5)  # type: ignore[union-attr]
    if meta is None or any(t.get_gid() == FOOTER_GID for t in fig.texts):
        return
    fig.supportsim_meta = meta  # type: ignore[attr-defined]  # read by file_metadata when saving
    frac = FOOTER_IN / fig.get_figheight()
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0, frac, 1, 1 - frac))
    elif engine is None:
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, frac + 0.9 / fig.get_figheight()))
    fig.text(0.008, 0.3 * frac, meta.footer(), fontsize=MIN_FONT_PT, color=FOOTER_COLOR, ha="left",
             va="bottom", gid=FOOTER_GID)


def _wrap(text: Any, fig: Figure, center: float) -> None:
    """Break a title centred at ``center`` (figure fraction) onto two lines if it would run
    off the slide (long parameter paths do). 0.9: room for the layout moving the axes."""
    content = text.get_text()
    if not content or "\n" in content:
        return
    width = text.get_window_extent(fig.canvas.get_renderer()).width
    room = 2 * min(center, 1 - center) * fig.bbox.width * 0.9
    if width > room:
        chars = max(20, int(len(content) * room / width))
        text.set_text(textwrap.fill(content, chars, break_long_words=False, break_on_hyphens=False))


def footer_text(fig: Figure) -> str | None:
    """The footer of a figure drawn here, or None."""
    return next((t.get_text() for t in fig.texts if t.get_gid() == FOOTER_GID), None)


def _per_replication(monthly: pd.DataFrame, columns: Sequence[str], how: str) -> pd.DataFrame:
    """One row per (policy, replication): ``how`` ("sum" or "mean") of ``columns`` over months."""
    return monthly.groupby(["policy", "replication"], sort=False)[list(columns)].agg(how).reset_index()


def _interval(values: pd.Series) -> dict[str, float]:
    return metrics.t_interval(values)


def _yerr(rows: list[dict[str, float]]) -> np.ndarray:
    """Asymmetric error bars from t-intervals; NaN (one replication) draws none."""
    lo = [r["mean"] - r["ci_low"] if math.isfinite(r["ci_low"]) else 0.0 for r in rows]
    hi = [r["ci_high"] - r["mean"] if math.isfinite(r["ci_high"]) else 0.0 for r in rows]
    return np.array([lo, hi])


# ---------------------------------------------------------------- lines over time


@_styled
def plot_band(monthly: pd.DataFrame, column: str, *, ax: Axes | None = None, cumulative: bool = False,
              policies: Sequence[str] | None = None, title: str, ylabel: str, meta: Meta | None = None,
              money: bool = False, scale: float = 1.0, target: float | None = None,
              target_label: str = "target", bounds: tuple[float, float] | None = None) -> Axes:
    """Mean per month with a 95% CI band, one line per policy.

    ``scale`` multiplies the column (e.g. 100 for a share in %); ``target`` draws a dashed
    reference line at that (scaled) value; ``bounds`` clips the bands to the values the
    quantity can take (a t-interval of a share near 100% can pass 100%).
    """
    ax = _axes(ax)
    policies = _policies(monthly, policies)
    colors = policy_colors(policies)
    b = metrics.band(monthly, column, cumulative=cumulative)
    for p in policies:
        g = b[b["policy"] == p]
        if g.empty:
            continue
        lo, hi = g["ci_low"] * scale, g["ci_high"] * scale
        if bounds is not None:
            lo, hi = lo.clip(*bounds), hi.clip(*bounds)
        ax.plot(g["month"], g["mean"] * scale, color=colors[p], label=label_of(meta, p))
        ax.fill_between(g["month"], lo, hi, color=colors[p], alpha=0.2, linewidth=0)
    if target is not None:
        ax.axhline(target, color=NEUTRAL, linestyle="--", linewidth=1.5, label=target_label)
    ax.set_title(title)
    ax.set_xlabel(MONTH_LABEL)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if money:
        ax.yaxis.set_major_formatter(FuncFormatter(usd))
    _legend_outside(ax, title="Policy")
    _finish(ax, meta)
    return ax


def plot_customers(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                   policies: Sequence[str] | None = None) -> Axes:
    """Paying customers at each month's end, mean and 95% CI per policy."""
    return plot_band(monthly, "customers_end", ax=ax, policies=policies, meta=meta,
                     title="Paying customers over time by support policy",
                     ylabel="Paying customers at month end (customers)")


def plot_cumulative_profit(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                           policies: Sequence[str] | None = None) -> Axes:
    """Profit summed from month 0, mean and 95% CI per policy."""
    return plot_band(monthly, "profit", cumulative=True, ax=ax, policies=policies, meta=meta, money=True,
                     title="Cumulative profit by support policy", ylabel="Cumulative profit (USD)")


def plot_retention(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                   policies: Sequence[str] | None = None) -> Axes:
    """Retention rate per month, ((C - B) / A) x 100, mean and 95% CI per policy."""
    return plot_band(monthly, "retention_rate_pct", ax=ax, policies=policies, meta=meta, bounds=(0, 100),
                     title="Monthly customer retention rate by support policy",
                     ylabel="Monthly retention rate (%)")


def plot_sla(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
             policies: Sequence[str] | None = None, target_pct: float | None = None) -> Axes:
    """Share of answered tickets that met their first-response target, per month (%)."""
    return plot_band(monthly, "sla_met_share", ax=ax, policies=policies, meta=meta, scale=100.0, bounds=(0, 100),
                     target=target_pct, target_label=f"target {target_pct:g}%" if target_pct is not None else "",
                     title="SLA attainment: answered tickets within target, by support policy",
                     ylabel="Answered tickets within their SLA (%)")


# ---------------------------------------------------------------- money


# Parts of the value bridge (sim.runs.economics.BRIDGE_COLUMNS) as a reader names them.
BRIDGE_LABELS = {f"pv_{m.part}": m.chart_label for m in (*ledger.MONEY, ledger.TERMINAL)}
UP_COLOR, DOWN_COLOR, TOTAL_COLOR = PALETTE[0], PALETTE[4], NEUTRAL


def bridge_steps(bridge: Mapping[str, Mapping[str, float]], *, tol_usd: float = 0.5) -> list[tuple[str, float]]:
    """(column, mean) of the parts of one policy's bridge (``Results.bridge()[policy]``) that
    move value by more than ``tol_usd``, in :data:`BRIDGE_LABELS` order."""
    return [(c, float(bridge[c]["mean"])) for c in BRIDGE_LABELS
            if c in bridge and math.isfinite(bridge[c]["mean"]) and abs(bridge[c]["mean"]) > tol_usd]


@_styled
def plot_bridge(bridge: Mapping[str, Mapping[str, float]], *, policy: str, reference: str, ax: Axes | None = None,
                meta: Meta | None = None) -> Axes:
    """Where the difference in value between ``policy`` and ``reference`` comes from: a
    floating bar per part of value (mean paired difference, up in blue, down in vermillion,
    each labelled, joined by connectors) and the total from zero with its 95% CI.

    ``bridge``: ``Results.bridge()[policy]`` (value_usd and the pv_* parts, mean and CI each).
    The parts' means add up to the total's mean exactly.
    """
    ax = _axes(ax)
    steps = bridge_steps(bridge)
    total = bridge["value_usd"]
    running, tops = 0.0, []
    for i, (col, amount) in enumerate(steps):
        color = UP_COLOR if amount >= 0 else DOWN_COLOR
        ax.bar(i, amount, bottom=running, width=0.62, color=color, gid=f"bridge:{col}")
        end = running + amount
        ax.annotate(fmt.usd(amount, signed=True), (i, max(running, end) if amount >= 0 else min(running, end)),
                    xytext=(0, 5 if amount >= 0 else -5), textcoords="offset points", ha="center",
                    va="bottom" if amount >= 0 else "top", fontsize=13, color=color, fontweight="bold")
        ax.plot([i + 0.31, i + 0.69], [end, end], color="#777777", linewidth=1.2, linestyle=(0, (3, 2)))
        tops += [running, end]
        running = end
    n = len(steps)
    mean, lo, hi = float(total["mean"]), float(total["ci_low"]), float(total["ci_high"])
    ax.bar(n, mean, width=0.62, color=TOTAL_COLOR, gid="bridge:total")
    has_ci = math.isfinite(lo) and math.isfinite(hi)
    if has_ci:
        ax.errorbar(n, mean, yerr=[[mean - lo], [hi - mean]], fmt="none", ecolor=PALETTE[1], elinewidth=3, capsize=9)
    ci = f"\n95% CI {fmt.usd(lo, signed=True)} to {fmt.usd(hi, signed=True)}" if has_ci else ""
    edge = (max(mean, hi) if has_ci else mean) if mean >= 0 else (min(mean, lo) if has_ci else mean)
    # right-aligned on the bar's right edge: the last bar's label never runs off the chart
    ax.annotate(fmt.usd(mean, signed=True) + ci, (n + 0.31, edge), xytext=(0, 6 if mean >= 0 else -6),
                textcoords="offset points", ha="right", va="bottom" if mean >= 0 else "top", fontsize=13,
                fontweight="bold", multialignment="right")
    ax.axhline(0, color=NEUTRAL, linewidth=1)
    ax.set_xticks(range(n + 1), [BRIDGE_LABELS[c] for c, _ in steps] + ["Difference\nin value"])
    ax.get_xticklabels()[-1].set_fontweight("bold")
    values = [0.0, *tops, mean] + ([lo, hi] if has_ci else [])
    top, low = max(values), min(values)
    span = top - low or 1.0
    ax.set_ylim(low - (0.26 if mean < 0 else 0.12) * span, top + (0.26 if mean >= 0 else 0.12) * span)
    ax.set_xlim(-0.6, n + 0.75)
    ax.yaxis.set_major_formatter(FuncFormatter(usd))
    ref, pol = label_of(meta, reference), label_of(meta, policy)
    months = f" over {meta.months} months" if meta is not None and meta.months else ""
    ax.set_title(f"Value{months}, {pol} − {ref}, by part: mean paired difference; the parts add up to the total")
    ax.set_xlabel("Part of value (present value; revenue up, cost down)")
    ax.set_ylabel(f"Difference in value vs {ref} (USD)")
    ax.grid(axis="x", visible=False)
    _finish(ax, meta)
    return ax


def headline(ax: Axes, finding: str, subtitle: str | None = None) -> Axes:
    """Put the finding on top of ``ax``'s figure (bold) and turn the axes title into a plain
    subtitle that says what is plotted (``subtitle`` replaces it)."""
    fig = ax.figure
    if subtitle is not None:
        ax.set_title(subtitle)
    if fig.get_suptitle() and not ax.get_title():  # small multiples: the old figure title becomes the subtitle
        ax.set_title("")
    ax.title.set_fontsize(STYLE["font.size"])
    ax.title.set_fontweight("normal")
    ax.title.set_color("#444444")
    with deck_style():
        fig.suptitle(finding, fontsize=STYLE["figure.titlesize"], fontweight="bold")
    _wrap(fig._suptitle, fig, 0.5)  # type: ignore[union-attr]
    pos = ax.get_position()
    _wrap(ax.title, fig, pos.x0 + pos.width / 2)
    return ax


# ---------------------------------------------------------------- customers' experience


@_styled
def plot_satisfaction(monthly: pd.DataFrame, *, ax: Axes | Sequence[Axes] | None = None,
                      meta: Meta | None = None, policies: Sequence[str] | None = None) -> Axes:
    """Shares of paying customers on each satisfaction level over time, stacked (%).

    One panel per policy. Without ``ax`` a figure with one panel per policy is made; with
    a sequence of Axes each gets one policy; with a single Axes only the first policy of
    ``policies`` is drawn. Returns the first panel (``ax.figure.axes`` holds the rest).
    """
    policies = _policies(monthly, policies)
    colors = policy_colors(policies)
    if ax is None:
        axes = _new_axes(len(policies), sharey=True)
    elif isinstance(ax, Axes):
        axes = [ax]
    else:
        axes = list(ax)
    cols = [f"share_{lv}" for lv in LEVELS]
    means = monthly.groupby(["policy", "month"], sort=False)[cols].mean().reset_index()
    for a, p in zip(axes, policies):
        g = means[means["policy"] == p].sort_values("month")
        a.stackplot(g["month"], *(g[c] * 100 for c in cols), colors=[LEVEL_COLORS[lv] for lv in LEVELS],
                    labels=[LEVEL_LABELS[lv] for lv in LEVELS], linewidth=0)
        a.set_title(label_of(meta, p), color=colors[p], fontsize=16)
        a.set_xlabel(MONTH_LABEL if len(axes) == 1 else "Month (0 = first)")
        a.set_ylim(0, 100)
        a.set_xlim(g["month"].min(), g["month"].max())
        a.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        a.grid(False)
    for a in axes:
        if a.get_subplotspec() is None or a.get_subplotspec().is_first_col():
            a.set_ylabel("Share of paying customers (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig = axes[0].figure
    title = "Satisfaction ladder over time by support policy"
    if len(axes) == 1:
        axes[0].set_title(f"Satisfaction ladder over time: {label_of(meta, policies[0])}")
        axes[0].legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Level")
    else:
        fig.suptitle(title)
        engine = fig.get_layout_engine()
        if isinstance(engine, ConstrainedLayoutEngine):
            engine.set(wspace=0.04)
        fig.legend(handles[::-1], labels[::-1], loc="outside right upper", title="Level")
    _finish(axes[0], meta)
    return axes[0]


@_styled
def plot_tickets(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                 policies: Sequence[str] | None = None) -> Axes:
    """Tickets raised, issues suppressed (not raised) and tickets abandoned per month, with 95% CIs.

    Each bar is the mean over replications of a replication's monthly average.
    """
    ax = _axes(ax)
    policies = _policies(monthly, policies)
    colors = policy_colors(policies)
    cols = {"tickets_raised": "Raised", "tickets_suppressed": "Suppressed\n(issue not raised)",
            "tickets_abandoned": "Abandoned\n(gave up waiting)"}
    per_rep = _per_replication(monthly, list(cols), "mean")
    width = 0.8 / max(len(policies), 1)
    for j, p in enumerate(policies):
        rows = [_interval(per_rep.loc[per_rep["policy"] == p, c]) for c in cols]
        x = np.arange(len(cols)) - 0.4 + width * (j + 0.5)
        bars = ax.bar(x, [r["mean"] for r in rows], width=width * 0.92, color=colors[p], label=label_of(meta, p),
                      yerr=_yerr(rows), error_kw={"ecolor": NEUTRAL, "elinewidth": 1.5, "capsize": 4})
        ax.bar_label(bars, labels=[f"{r['mean']:,.0f}" for r in rows], padding=3, fontsize=MIN_FONT_PT)
    ax.set_xticks(np.arange(len(cols)), list(cols.values()))
    ax.set_title("Tickets raised, suppressed and abandoned by support policy")
    ax.set_xlabel("What happened to customers' issues")
    ax.set_ylabel("Mean per month (tickets/month)")
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.1)
    _legend_outside(ax, title="Policy")
    _finish(ax, meta)
    return ax


@_styled
def plot_wait_times(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                    policies: Sequence[str] | None = None) -> Axes:
    """Distribution over months and replications of each month's mean and 90th-percentile
    first-response wait, per policy (box plots, hours)."""
    ax = _axes(ax)
    policies = _policies(monthly, policies)
    colors = policy_colors(policies)
    for j, p in enumerate(policies):
        g = monthly[monthly["policy"] == p]
        for offset, col, hatch, alpha in ((-0.2, "wait_mean_h", None, 0.85), (0.2, "wait_p90_h", "//", 0.35)):
            data = g[col].dropna().to_numpy()
            if data.size == 0:
                continue
            bp = ax.boxplot([data], positions=[j + offset], widths=0.34, patch_artist=True, showfliers=True,
                            medianprops={"color": NEUTRAL, "linewidth": 2},
                            flierprops={"marker": "o", "markersize": 4, "markerfacecolor": colors[p],
                                        "markeredgecolor": colors[p], "alpha": 0.6},
                            whiskerprops={"color": colors[p], "linewidth": 1.5},
                            capprops={"color": colors[p], "linewidth": 1.5})
            for box in bp["boxes"]:
                box.set_facecolor(matplotlib.colors.to_rgba(colors[p], alpha))
                box.set_edgecolor(colors[p])
                box.set_hatch(hatch)
                box.set_gid(f"{p}:{col}")
    ax.set_xticks(range(len(policies)), [label_of(meta, p) for p in policies])
    for label, p in zip(ax.get_xticklabels(), policies):
        label.set_color(colors[p])
    ax.set_xlim(-0.6, len(policies) - 0.4)
    ax.set_ylim(bottom=0)
    ax.set_title("First-response waits by support policy")
    ax.set_xlabel("Policy (each box: months × replications)")
    ax.set_ylabel("First-response wait in a month (h)")
    ax.grid(axis="x", visible=False)
    ax.legend(handles=[Patch(facecolor="#777777", edgecolor="#777777", label="Monthly mean wait"),
                       Patch(facecolor=matplotlib.colors.to_rgba("#777777", 0.35), edgecolor="#777777", hatch="//",
                             label="Monthly 90th-percentile wait")],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _finish(ax, meta)
    return ax


# ---------------------------------------------------------------- comparisons


def differences_table(differences: Mapping[str, Mapping[str, Mapping[str, float]]] | pd.DataFrame) -> pd.DataFrame:
    """``Results.differences()`` (policy -> kpi -> mean, CI) as a tidy table
    (policy, kpi, mean, ci_low, ci_high, n); a table passes through."""
    if isinstance(differences, pd.DataFrame):
        return differences
    rows = [{"policy": p, "kpi": k, **{f: s.get(f, float("nan")) for f in ("mean", "ci_low", "ci_high", "n")}}
            for p, by_kpi in differences.items() for k, s in by_kpi.items()]
    return pd.DataFrame(rows, columns=["policy", "kpi", "mean", "ci_low", "ci_high", "n"])


@_styled
def plot_differences(differences: Mapping[str, Any] | pd.DataFrame, *, reference: str,
                     kpi: str = "cumulative_profit", ax: Axes | None = None, meta: Meta | None = None,
                     policies: Sequence[str] | None = None) -> Axes:
    """Paired difference of one KPI, each policy minus ``reference``, with its 95% CI.

    ``differences``: ``Results.differences()`` or :func:`differences_table`. ``policies``:
    every policy of the scenario in order (reference included), for the colours.
    """
    ax = _axes(ax)
    table = differences_table(differences)
    table = table[table["kpi"] == kpi]
    others = [p for p in (policies or [reference, *dict.fromkeys(table["policy"])]) if p != reference]
    others = [p for p in others if p in set(table["policy"])]
    colors = policy_colors(policies or [reference, *others])
    name, unit = kpi_name_unit(kpi)
    dunit = _difference_unit(unit)
    fmt = value_formatter(dunit)
    for i, p in enumerate(others):
        row = table[table["policy"] == p].iloc[0]
        r = {f: float(row[f]) for f in ("mean", "ci_low", "ci_high")}
        y = len(others) - 1 - i
        ax.errorbar([r["mean"]], [y], xerr=_yerr([r]), fmt="o", color=colors[p], markersize=11,
                    elinewidth=3, capsize=7, label=label_of(meta, p))
        ci = f" [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]" if math.isfinite(r["ci_low"]) else ""
        ax.annotate(_signed(fmt)(r["mean"]) + ci, (r["mean"], y), xytext=(0, 14), textcoords="offset points",
                    ha="center", va="bottom", fontsize=13, color=colors[p])
    ax.axvline(0, color=NEUTRAL, linestyle="--", linewidth=1.5)
    ax.set_yticks(range(len(others)), [label_of(meta, p) for p in others[::-1]])
    for label, p in zip(ax.get_yticklabels(), others[::-1]):
        label.set_color(colors[p])
    ax.set_ylim(-0.6, len(others) - 0.2)
    ax.margins(x=0.15)
    if unit == "USD":
        ax.xaxis.set_major_formatter(FuncFormatter(usd))
    ref = label_of(meta, reference)
    ax.set_title(f"{name}: each policy minus {ref}, paired by replication (mean and 95% CI)")
    ax.set_xlabel(_with_unit(f"Difference in {name.lower()} vs {ref}", dunit))
    ax.set_ylabel("Policy")
    ax.grid(axis="y", visible=False)
    _finish(ax, meta)
    return ax


# ---------------------------------------------------------------- experiments (sensitivity, sweeps)


@_styled
def plot_tornado(table: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                 max_params: int | None = 12) -> Axes:
    """One-at-a-time sensitivity of a paired difference (policy_b - policy_a): a bar per
    parameter from the base value to its value at the parameter's low and high end, with
    95% CIs; widest swing on top. ``table``: the experiments' tornado table."""
    ax = _axes(ax)
    kpi = table.attrs.get("kpi", "cumulative_profit")
    a_pol, b_pol = (label_of(meta, table.attrs.get(k, d)) for k, d in (("policy_a", "A"), ("policy_b", "B")))
    t = table.sort_values("swing", ascending=False, kind="stable")
    if max_params:
        t = t.head(max_params)
    name, unit = kpi_name_unit(kpi)
    dunit = _difference_unit(unit)
    fmt = value_formatter(dunit)
    n = len(t)
    base = float(t["base_mean"].iloc[0]) if n else 0.0
    height = 0.38
    for i, (_, r) in enumerate(t.iterrows()):
        y = n - 1 - i
        for side, color, dy in (("low", LOW_COLOR, height / 2), ("high", HIGH_COLOR, -height / 2)):
            mean = float(r[f"{side}_mean"])
            ax.barh(y + dy, mean - base, left=base, height=height, color=color,
                    label=f"parameter at its {side} value" if i == 0 else None)
            lo, hi = float(r[f"{side}_ci_low"]), float(r[f"{side}_ci_high"])
            if math.isfinite(lo) and math.isfinite(hi):
                ax.errorbar(mean, y + dy, xerr=[[mean - lo], [hi - mean]], fmt="none", ecolor=NEUTRAL,
                            elinewidth=1.3, capsize=3)
            outward = mean >= base
            ax.annotate(f"{r[f'{side}_value']:g}", (hi if outward else lo, y + dy) if math.isfinite(lo) else (mean, y + dy),
                        xytext=(5 if outward else -5, 0), textcoords="offset points",
                        ha="left" if outward else "right", va="center", fontsize=MIN_FONT_PT)
    ax.axvline(base, color=NEUTRAL, linewidth=1.5, label=f"base: {_signed(fmt)(base)}")
    xmin, xmax = ax.get_xlim()
    if xmin < 0 < xmax:
        ax.axvline(0, color=PALETTE[4], linestyle="--", linewidth=1.5, label="no difference")
    ax.set_yticks(range(n), list(t["label"])[::-1])
    ax.set_ylim(-0.7, n - 0.3)
    ax.margins(x=0.12)
    if unit == "USD":
        ax.xaxis.set_major_formatter(FuncFormatter(usd))
    ax.set_title(f"What moves the {name.lower()} gap between {b_pol} and {a_pol} most")
    ax.set_xlabel(_with_unit(f"{name}: {b_pol} − {a_pol}", dunit))
    ax.set_ylabel("Parameter (labels: its low / high value)")
    ax.grid(axis="y", visible=False)
    _legend_outside(ax)
    _finish(ax, meta)
    return ax


@_styled
def plot_breakeven(table: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                   policies: Sequence[str] | None = None, xlabel: str | None = None) -> Axes:
    """A paired difference (policy_b - policy_a) against one parameter, with its 95% CI band,
    the zero line and the break-even value with its CI. ``table``: the experiments'
    break-even table (value, mean, ci_low, ci_high; attrs param, kpi, policies, breakeven)."""
    ax = _axes(ax)
    at = table.attrs
    kpi, param = at.get("kpi", "cumulative_profit"), at.get("param", "value")
    color = policy_colors(policies).get(at.get("policy_b", "B"), NEUTRAL) if policies else NEUTRAL
    a_pol, b_pol = (label_of(meta, at.get(k, d)) for k, d in (("policy_a", "A"), ("policy_b", "B")))
    name, unit = kpi_name_unit(kpi)
    dunit = _difference_unit(unit)
    t = table.sort_values("value")
    ax.plot(t["value"], t["mean"], color=color, marker="o", label=f"{b_pol} − {a_pol}")
    ax.fill_between(t["value"], t["ci_low"], t["ci_high"], color=color, alpha=0.2, linewidth=0, label="95% CI")
    ax.axhline(0, color=NEUTRAL, linestyle="--", linewidth=1.5, label="no difference")
    be, be_ci = at.get("breakeven"), at.get("breakeven_ci")
    if be_ci is not None and all(v is not None and math.isfinite(v) for v in be_ci):
        ax.axvspan(be_ci[0], be_ci[1], color=PALETTE[4], alpha=0.12, linewidth=0, label="break-even 95% CI")
    if be is not None and math.isfinite(be):
        ax.axvline(be, color=PALETTE[4], linewidth=2, label=f"break-even at {be:.4g}")
    if unit == "USD":
        ax.yaxis.set_major_formatter(FuncFormatter(usd))
    if be is not None and math.isfinite(be):
        verdict = f"breaks even at {param} = {be:.4g}"
    else:
        verdict = findings.curve_without_crossing(t, sign=str(at.get("sign", "")), a_label=a_pol, b_label=b_pol,
                                                  where=f"the {param} range tried")
    ax.set_title(f"{b_pol} vs {a_pol}: {verdict}")
    ax.set_xlabel(xlabel or param_label(param))
    ax.set_ylabel(_with_unit(f"{name}: {b_pol} − {a_pol}", dunit))
    _legend_outside(ax)
    _finish(ax, meta)
    return ax


def sweep_params(table: pd.DataFrame) -> list[str]:
    """The parameter columns of a sweep summary table."""
    return [c for c in table.columns if c not in SUMMARY_COLUMNS]


@_styled
def plot_sweep(table: pd.DataFrame, *, kpi: str | None = None, policy: str | None = None,
               ax: Axes | None = None, meta: Meta | None = None, policies: Sequence[str] | None = None,
               cmap: str = "cividis") -> Axes:
    """A sweep's summary table: with one parameter, the KPI's mean and 95% CI against it,
    one line per policy; with two, a heatmap of the KPI's mean for ``policy`` (default:
    the first) over the grid, first parameter across, second up."""
    ax = _axes(ax)
    params = sweep_params(table)
    kpis = list(dict.fromkeys(table["kpi"]))
    kpi = kpi or ("cumulative_profit" if "cumulative_profit" in kpis else kpis[0])
    t = table[table["kpi"] == kpi]
    all_policies = list(policies) if policies else list(dict.fromkeys(table["policy"]))
    colors = policy_colors(all_policies)
    name, unit = kpi_name_unit(kpi)
    fmt = value_formatter(unit)
    if len(params) == 1:
        (x,) = params
        for p in [p for p in all_policies if p in set(t["policy"])]:
            g = t[t["policy"] == p].sort_values(x)
            ax.plot(g[x], g["mean"], color=colors[p], marker="o", label=label_of(meta, p))
            ax.fill_between(g[x], g["ci_low"], g["ci_high"], color=colors[p], alpha=0.2, linewidth=0)
        if unit == "USD":
            ax.yaxis.set_major_formatter(FuncFormatter(usd))
        ax.set_title(f"{name} as {display_name(x).lower()} varies, by support policy: mean and 95% CI band")
        finding = _sweep_finding(t, x, kpi, meta)
        if finding:
            headline(ax, finding)
        ax.set_xlabel(param_label(x))
        ax.set_ylabel(_with_unit(name, unit))
        _legend_outside(ax, title="Policy")
    elif len(params) == 2:
        x, y = params
        policy = policy or next(p for p in all_policies if p in set(t["policy"]))
        g = t[t["policy"] == policy].pivot_table(index=y, columns=x, values="mean", aggfunc="mean")
        g = g.sort_index().sort_index(axis=1)
        values = g.to_numpy(dtype=float)
        mesh = ax.pcolormesh(np.arange(values.shape[1] + 1) - 0.5, np.arange(values.shape[0] + 1) - 0.5,
                             values, cmap=cmap, shading="flat")
        mesh.set_gid("sweep-heatmap")
        norm = mesh.norm
        cm = matplotlib.colormaps[cmap]
        for (i, j), v in np.ndenumerate(values):
            if math.isfinite(v):
                r, gg, b, _ = cm(norm(v))
                light = 0.299 * r + 0.587 * gg + 0.114 * b > 0.55
                ax.text(j, i, fmt(v), ha="center", va="center", fontsize=MIN_FONT_PT,
                        color="black" if light else "white")
        ax.set_xticks(range(values.shape[1]), [f"{v:g}" for v in g.columns])
        ax.set_yticks(range(values.shape[0]), [f"{v:g}" for v in g.index])
        ax.grid(False)
        bar = ax.figure.colorbar(mesh, ax=ax, pad=0.02)
        bar.set_label(_with_unit(f"{name}, mean", unit), fontsize=STYLE["axes.labelsize"])
        bar.ax.tick_params(labelsize=STYLE["ytick.labelsize"])
        if unit == "USD":
            bar.ax.yaxis.set_major_formatter(FuncFormatter(usd))
        ax.set_title(f"{name} of {label_of(meta, policy)} over {x} × {y}", color=colors.get(policy, "black"))
        ax.set_xlabel(param_label(x))
        ax.set_ylabel(param_label(y))
    else:
        raise ValueError(f"a sweep plot needs one or two parameter columns (got {params or 'none'})")
    _finish(ax, meta)
    return ax


def _sweep_finding(t: pd.DataFrame, x: str, kpi: str, meta: Meta | None) -> str:
    """Who leads a one-parameter sweep on ``kpi``'s mean (its better direction in the KPI
    registry), and where the lead changes hands; empty with fewer than two policies."""
    wide = t.pivot_table(index=x, columns="policy", values="mean", aggfunc="mean").sort_index()
    if wide.shape[1] < 2 or wide.empty:
        return ""
    lower = kpi_name_unit(kpi)[0].lower()
    best_is_low = kpi in metrics.KPIS and metrics.KPIS[kpi].better == "lower"
    leaders = (wide.idxmin(axis=1) if best_is_low else wide.idxmax(axis=1)).tolist()
    xs = [f"{v:g}" for v in wide.index]
    unit_txt = f" {field_unit(x)}" if field_unit(x) else ""
    what = mid_sentence(display_name(x))
    if len(set(leaders)) == 1:
        return (f"{label_of(meta, leaders[0])} has the best mean {lower} across {what} from {xs[0]} to "
                f"{xs[-1]}{unit_txt}")
    spans, start = [], 0
    for i in range(1, len(leaders) + 1):
        if i == len(leaders) or leaders[i] != leaders[start]:
            where = xs[start] if i - 1 == start else f"{xs[start]}–{xs[i - 1]}"
            spans.append(f"{label_of(meta, leaders[start])} at {where}")
            start = i
    return f"The policy with the best mean {lower} changes with {what}: " + "; ".join(spans) + unit_txt


# ---------------------------------------------------------------- files


@contextmanager
def _save_style(fig: Figure) -> Iterator[None]:
    """Deck style for saving: exact size for constrained layouts, cropped to content otherwise."""
    exact = isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    with deck_style(), matplotlib.rc_context({"savefig.bbox": "standard" if exact else "tight"}):
        yield


def file_metadata(fig: Figure, kind: str) -> dict[str, Any]:
    """The figure's title and full provenance (scenario hash, seed, replications, version, command)
    as ``savefig`` metadata for ``kind`` ("png": text chunks, "svg": RDF metadata, "pdf": the
    info dictionary). No creation dates: the same figure gives the same SVG and PDF bytes."""
    meta: Meta | None = getattr(fig, "supportsim_meta", None)
    title = fig.get_suptitle() or next((a.get_title() for a in fig.axes if a.get_title()), "")
    prov = meta.provenance() if meta else {}
    text = "; ".join(f"{k}={v}" for k, v in prov.items())
    if kind == "png":
        out = {"Title": title, "Software": f"supportsim {__version__}"}
        out.update({f"supportsim:{k}": v for k, v in prov.items()})
        return out
    if kind == "svg":
        return {"Date": None, "Title": title, "Description": text, "Creator": f"supportsim {__version__}",
                **({"Source": prov["command"]} if "command" in prov else {})}
    if kind == "pdf":
        return {"CreationDate": None, "Title": title, "Subject": text, "Creator": f"supportsim {__version__}",
                **({"Keywords": prov["command"]} if "command" in prov else {})}
    return {}


def save_figure(fig: Figure, stem: Path, *, formats: Sequence[str] = ("png", "svg", "pdf")) -> list[Path]:
    """Save ``fig`` as PNG (200 dpi), SVG and PDF next to each other; close it; return the paths.

    Figures with a constrained layout (every figure made here) keep their exact 16:9 size;
    others are cropped to their content so nothing is cut off. No dates are embedded, so
    the same figure gives the same SVG and PDF bytes.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with _save_style(fig):
        for ext in formats:
            path = stem.with_suffix(f".{ext}")
            fig.savefig(path, dpi=DPI, metadata=file_metadata(fig, ext))
            paths.append(path)
    del fig  # a Figure of its own: nothing registered with pyplot to close
    return paths


def figure_png(fig: Figure, *, dpi: int = DPI, close: bool = True) -> bytes:
    """The figure as PNG bytes (for the report and the app)."""
    buf = io.BytesIO()
    with _save_style(fig):
        fig.savefig(buf, format="png", dpi=dpi, metadata=file_metadata(fig, "png"))
    if close:
        del fig
    return buf.getvalue()
