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
from matplotlib.ticker import Formatter

from sim import __version__
from sim.engine import ledger
from sim.output import fmt
from sim.params.names import display_name
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


def _exact(v: float, digits: int) -> bool:
    """``v`` (at least $1M) in millions or billions, rounded to ``digits`` decimals, is ``v``."""
    scaled = v / (1e9 if v >= 1e9 else 1e6)
    return abs(round(scaled, digits) - scaled) < 1e-9 * max(1.0, scaled)


class UsdTicks(Formatter):
    """Compact dollars on an axis with as many decimals as its ticks need to be stated exactly:
    ticks $0.25M apart read $14.75M and $15.00M, never $14.8M and $15.0M (:func:`usd` otherwise)."""

    digits = 1

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        shown = [abs(v) for v in locs if math.isfinite(v) and abs(v) >= 1e6]  # $950 and $12.3k keep their form
        for self.digits in range(1, 5):  # the fewest decimals that state every tick exactly
            if all(_exact(v, self.digits) for v in shown):
                break

    def __call__(self, x: float, pos: int | None = None) -> str:
        return fmt.usd(x, digits=self.digits)


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
    ax.yaxis.set_major_formatter(UsdTicks())
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
        ax.xaxis.set_major_formatter(UsdTicks())
    ref = label_of(meta, reference)
    ax.set_title(f"{name}: each policy minus {ref}, paired by replication (mean and 95% CI)")
    ax.set_xlabel(_with_unit(f"Difference in {name.lower()} vs {ref}", dunit))
    ax.set_ylabel("Policy")
    ax.grid(axis="y", visible=False)
    _finish(ax, meta)
    return ax


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


# The formats a figure is saved in: PNG (200 dpi, for slides) and SVG (vector, for documents).
# PDF is on request (`supportsim run --pdf`): it takes longer to write than the other two together
# (5.1 vs 4.1 CPU-s for a baseline run's 12 figures, 2026-12-07).
FORMATS = ("png", "svg")
WITH_PDF = (*FORMATS, "pdf")


def save_figure(fig: Figure, stem: Path, *, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Save ``fig`` in each of ``formats`` (PNG at 200 dpi, SVG, PDF) next to each other; close it;
    return the paths.

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
