"""Deck-ready plots of results tables.

Where it sits: results tables -> **plots** -> PNG/SVG/PDF files, the report and the app.
Each ``plot_*`` function takes tidy tables (never the model), draws on an optional Axes
and returns it. One style (:func:`deck_style`), one colour per policy (Okabe-Ito,
colour-blind safe), a footer that traces a figure back to its scenario, hash,
replications and version.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files and the app only; never a window
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from sim import __version__, metrics  # noqa: E402

# Okabe & Ito (2008) colour-blind-safe palette, black left out for lines.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]
SLIDE_SIZE_IN = (13.33, 7.5)  # 16:9
DPI = 200

STYLE: dict[str, Any] = {
    "figure.figsize": SLIDE_SIZE_IN,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "font.size": 14,
    "axes.titlesize": 18,
    "axes.titleweight": "bold",
    "axes.labelsize": 15,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.4,
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
}


@contextmanager
def deck_style() -> Iterator[None]:
    """The one plot style of supportsim (CLI, report and app)."""
    with plt.rc_context(STYLE):
        yield


def policy_colors(policies: Sequence[str]) -> dict[str, str]:
    """One fixed colour per policy, by its position in the scenario."""
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(policies)}


@dataclass(frozen=True)
class Meta:
    """What a figure's footer says, so a cited plot can be traced back."""

    scenario: str
    sha256: str
    replications: int
    version: str = __version__

    @classmethod
    def of(cls, res: Any) -> Meta:
        return cls(res.scenario.scenario.name, res.scenario_sha256, res.replications)

    def footer(self) -> str:
        return (f"supportsim {self.version} · scenario '{self.scenario}' · sha256 {self.sha256[:10]} · "
                f"{self.replications} replications · bands: 95% CI of the mean")


def usd(x: float, _pos: int | None = None) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"${x / size:,.1f}{suffix}"
    return f"${x:,.0f}"


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots()
    return ax


def _finish(ax: Axes, meta: Meta | None) -> None:
    if meta is not None:
        ax.figure.text(0.01, 0.005, meta.footer(), fontsize=10, color="#555555", ha="left", va="bottom")
        ax.figure.subplots_adjust(bottom=0.14)


def plot_band(monthly: pd.DataFrame, column: str, *, ax: Axes | None = None, cumulative: bool = False,
              policies: Sequence[str] | None = None, title: str, ylabel: str, meta: Meta | None = None,
              money: bool = False) -> Axes:
    """Mean per month with a 95% CI band, one line per policy."""
    ax = _axes(ax)
    policies = list(policies or dict.fromkeys(monthly["policy"]))
    colors = policy_colors(policies)
    b = metrics.band(monthly, column, cumulative=cumulative)
    for p in policies:
        g = b[b["policy"] == p]
        ax.plot(g["month"], g["mean"], color=colors[p], label=p)
        ax.fill_between(g["month"], g["ci_low"], g["ci_high"], color=colors[p], alpha=0.2, linewidth=0)
    ax.set_title(title)
    ax.set_xlabel("Month")
    ax.set_ylabel(ylabel)
    if money:
        ax.yaxis.set_major_formatter(FuncFormatter(usd))
    ax.legend(title="Policy", loc="best")
    _finish(ax, meta)
    return ax


def plot_customers(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                   policies: Sequence[str] | None = None) -> Axes:
    return plot_band(monthly, "customers_end", ax=ax, policies=policies, meta=meta,
                     title="Paying customers over time by support policy",
                     ylabel="Paying customers at month end (customers)")


def plot_cumulative_profit(monthly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                           policies: Sequence[str] | None = None) -> Axes:
    return plot_band(monthly, "profit", cumulative=True, ax=ax, policies=policies, meta=meta, money=True,
                     title="Cumulative profit by support policy", ylabel="Cumulative profit (USD)")


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Save ``fig`` as PNG (200 dpi), SVG and PDF next to each other; return the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg", "pdf"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=DPI, metadata={"Date": None} if ext in ("svg",) else None)
        paths.append(path)
    plt.close(fig)
    return paths


STANDARD_PLOTS = {
    "customers": plot_customers,
    "cumulative_profit": plot_cumulative_profit,
}


def save_standard_plots(res: Any, folder: Path) -> list[Path]:
    """Every standard plot of a run, as PNG, SVG and PDF, in ``folder``."""
    meta = Meta.of(res)
    out = []
    with deck_style():
        for name, fn in STANDARD_PLOTS.items():
            ax = fn(res.monthly, meta=meta, policies=res.policies)
            out += save_figure(ax.figure, Path(folder) / name)
    return out
