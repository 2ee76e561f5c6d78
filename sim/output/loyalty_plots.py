"""Figures of what the support experience is worth (docs/findings.md, "What one late answer is worth").

Where it sits: tables computed from a run's ladder chain (``scripts/late_answer_value.py``) ->
**these plots** -> PNG/SVG for the docs. Tables in, Axes out, in the deck style of
``sim.output.plots``; it must not run the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from sim.output import plots


@plots._styled
def plot_late_answer_value(table: pd.DataFrame, *, ax: Axes | None = None, meta: plots.Meta | None = None,
                           title: str | None = None) -> Axes:
    """Value lost per late answer against how late it is (wait / expectation, log axis), one line
    per segment, as a share of that segment's cost of a new paying customer; each line's end is
    labelled in dollars.

    ``table``: columns ``segment``, ``lateness`` (x), ``cost_usd``, ``cac_usd``.
    """
    ax = plots._axes(ax)
    segments = list(dict.fromkeys(table["segment"]))
    colors = dict(zip(segments, plots.PALETTE))
    for seg in segments:
        rows = table[table["segment"] == seg].sort_values("lateness")
        share = 100 * rows["cost_usd"] / rows["cac_usd"]
        ax.plot(rows["lateness"], share, color=colors[seg], lw=2.5, marker="o", label=plots.literal(seg))
        last = rows.iloc[-1]
        ax.annotate(f"{plots.usd(last['cost_usd'])} of {plots.usd(last['cac_usd'])}",
                    (last["lateness"], share.iloc[-1]), xytext=(8, 0), textcoords="offset points",
                    va="center", color=colors[seg])
    ax.set_xscale("log")
    ticks = [1, 2, 5, 10, 20, 50]
    ax.set_xticks([t for t in ticks if t <= table["lateness"].max()])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:g}×"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: f"{y:.0f}%"))
    ax.set_xlabel("How late: wait ÷ what the customer expected (log scale)")
    ax.set_ylabel("Value lost, % of the cost of a new paying customer")
    ax.set_ylim(bottom=0)
    ax.set_xlim(right=table["lateness"].max() * 4)  # room for the labels
    share = table["cost_usd"] / table["cac_usd"]
    at2 = table.loc[np.isclose(table["lateness"], 2.0), "cost_usd"] / table.loc[np.isclose(table["lateness"], 2.0),
                                                                               "cac_usd"]
    finding = title or (f"A late answer costs at most {share.max():.0%} of a new customer"
                        + (f"; twice as late as expected, up to {at2.max():.0%}" if len(at2) else ""))
    plots.headline(ax, finding, "Expected value lost when one first response misses what the customer expected")
    plots._legend_outside(ax, title="segment")
    plots._finish(ax, meta)
    return ax
