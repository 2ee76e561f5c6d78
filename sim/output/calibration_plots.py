"""The back-test figure of a calibration: what happened against the simulated 95% band.

Where it sits: back-test tables (``sim.calibrate.backtest``, made by the caller) -> **this** ->
PNG files (``supportsim calibrate --backtest DIR``, docs/calibration.md, the app). Tables in,
Axes out, in the deck style of :mod:`sim.output.plots`; the finding is the figure's title. It
must not run the model or read the exports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.output.plots import NEUTRAL, PALETTE, SLIDE_SIZE_IN, _finish, _styled, deck_style, headline

OBSERVED, SIMULATED = NEUTRAL, PALETTE[0]
PANELS = (
    ("retention_pct", "Monthly retention (C - B) / A", "Retention (%)"),
    ("tickets", "Tickets raised", "Tickets per month"),
    ("sla_met_pct", "Answered within the promise", "Within SLA (%)"),
)


def finding(monthly: pd.DataFrame, waits: pd.DataFrame) -> str:
    """One sentence: how much of what happened the simulated band covers."""
    ret = monthly[(monthly["metric"] == "retention_pct") & monthly["observed"].notna()]
    parts = [f"retention in {int(ret['inside'].sum())} of {len(ret)} held-out months"]
    for metric, label in (("tickets", "tickets"), ("sla_met_pct", "SLA attainment")):
        rows = monthly[(monthly["metric"] == metric) & monthly["observed"].notna()]
        parts.append(f"{label} in {int(rows['inside'].sum())} of {len(rows)}")
    w = waits[waits["observed"].notna()]
    parts.append(f"waits in {int(w['inside'].sum())} of {len(w)} blocks of the week")
    return "The calibrated model's 95% band covers " + ", ".join(parts)


def _month_panel(ax: Axes, rows: pd.DataFrame, title: str, ylabel: str) -> None:
    ax.fill_between(rows["month"], rows["sim_low"], rows["sim_high"], color=SIMULATED, alpha=0.25, linewidth=0,
                    label="simulated 95% band")
    ax.plot(rows["month"], rows["sim_mean"], color=SIMULATED, linewidth=1.5, label="simulated mean")
    ax.plot(rows["month"], rows["observed"], color=OBSERVED, marker="o", linewidth=2, label="observed")
    ax.set_title(title)
    ax.set_xlabel("Held-out month")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _waits_panel(ax: Axes, waits: pd.DataFrame) -> None:
    x = waits["block"].to_numpy()
    ax.fill_between(x, waits["sim_low"], waits["sim_high"], color=SIMULATED, alpha=0.25, linewidth=0,
                    step="mid", label="simulated 95% band")
    ax.plot(x, waits["sim_mean"], color=SIMULATED, linewidth=1.5, drawstyle="steps-mid", label="simulated mean")
    ax.plot(x, waits["observed"], color=OBSERVED, marker="o", markersize=4, linewidth=0, label="observed")
    per_day = 24 // max(1, int(168 // len(waits)))
    ticks = np.arange(0, len(waits), per_day)
    ax.set_xticks(ticks, [waits["label"].iloc[i].split()[0] for i in ticks])
    ax.set_title("First-response wait by hour of the week")
    ax.set_xlabel("Ticket opened (6-h blocks)")
    ax.set_ylabel("Mean wait (h, calendar)")


def _grid() -> list[Axes]:
    """Four panels, two by two, on one slide (a Figure of its own, as in :mod:`sim.output.plots`)."""
    with deck_style():
        fig = Figure(figsize=SLIDE_SIZE_IN, layout="constrained")
        FigureCanvasAgg(fig)
        return list(fig.subplots(2, 2).ravel())


@_styled
def plot_backtest(monthly: pd.DataFrame, waits: pd.DataFrame, *, axes: Sequence[Axes] | None = None,
                  split: str | None = None) -> Axes:
    """Four panels: retention, tickets and SLA attainment by held-out month, waits by hour of the week; each the
    observed line over the simulated 95% band. Returns the first panel (the figure holds the finding)."""
    axs = list(axes) if axes is not None else _grid()
    for ax, (metric, title, ylabel) in zip(axs, PANELS):
        _month_panel(ax, monthly[monthly["metric"] == metric].sort_values("month"), title, ylabel)
    _waits_panel(axs[3], waits)
    with deck_style():
        axs[0].legend(loc="lower left", fontsize=12, ncols=3)
    headline(axs[0], finding(monthly, waits),
             "Monthly retention (C - B) / A" + (f", model fitted before {split}" if split else ""))
    for ax in axs[1:]:
        ax.title.set_fontsize(axs[0].title.get_fontsize())
        ax.title.set_fontweight("normal")
    _finish(axs[0], None)
    return axs[0]
