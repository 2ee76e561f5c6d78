"""Plots of a run over time and of the customers' experience: customers, profit, retention, SLA,
the satisfaction ladder, tickets raised and suppressed, waits against each promise.

Where it sits: results tables -> **time_plots** (on the style, footer and helpers of
``sim.output.plots``) -> the figure registry (``sim.output.figures``), the report, the deck and the
app. Tables in, Axes out; it must not run the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.output.plots import (
    LEVEL_COLORS,
    LEVEL_LABELS,
    LEVELS,
    MIN_FONT_PT,
    MONTH_LABEL,
    NEUTRAL,
    Meta,
    UsdTicks,
    _axes,
    _finish,
    _interval,
    _legend_outside,
    _new_axes,
    _per_replication,
    _policies,
    _styled,
    _yerr,
    label_of,
    policy_colors,
)
from sim.runs import metrics

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
        ax.yaxis.set_major_formatter(UsdTicks())
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
                    policies: Sequence[str] | None = None,
                    promises: Mapping[str, tuple[Sequence[float], str]] | None = None) -> Axes:
    """Distribution over months and replications of each month's mean and 90th-percentile
    first-response wait, per policy (box plots, hours). ``promises``: per policy, the first
    responses it promises (h, one per plan or fewer) and their clock; each is drawn across the
    policy's boxes (dashed on the business clock, whose hours count only while the desk is open,
    so a calendar wait above it can still be on time)."""
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
    clocks = set()
    for j, p in enumerate(policies):
        hours, clock = (promises or {}).get(p, ((), ""))
        clocks.add(clock)
        for h in sorted(set(hours)):
            ax.hlines(h, j - 0.38, j + 0.38, colors=colors[p], linewidth=2,
                      linestyles="--" if clock == "business" else "-", gid=f"{p}:promise")
            ax.annotate(f"{h:g} h", (j + 0.38, h), xytext=(3, 0), textcoords="offset points", va="center",
                        fontsize=MIN_FONT_PT, color=colors[p])
    ax.set_xticks(range(len(policies)), [label_of(meta, p) for p in policies])
    for label, p in zip(ax.get_xticklabels(), policies):
        label.set_color(colors[p])
    ax.set_xlim(-0.6, len(policies) - 0.2)
    ax.set_ylim(bottom=0)
    ax.set_title("First-response waits by support policy")
    ax.set_xlabel("Policy (each box: months × replications)")
    ax.set_ylabel("First-response wait in a month (h)")
    ax.grid(axis="x", visible=False)
    ax.legend(handles=[Patch(facecolor="#777777", edgecolor="#777777", label="Monthly mean wait"),
                       Patch(facecolor=matplotlib.colors.to_rgba("#777777", 0.35), edgecolor="#777777", hatch="//",
                             label="Monthly 90th-percentile wait")]
              + ([Line2D([], [], color="#777777", linewidth=2, linestyle="--" if "business" in clocks else "-",
                          label="Promised first response" + (" (business hours:\ncounted while the desk is open)"
                                                             if "business" in clocks else ""))]
                 if promises else []),
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _finish(ax, meta)
    return ax
