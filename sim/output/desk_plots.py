"""Deck-ready plots of the support desk by hour of the week and by tier.

Where it sits: desk tables -> **desk_plots** -> figures (the figure registry, report, app).
The tables are the tidy rows of ``sim.engine.desk.DeskLog.tables()`` with ``policy`` and
``replication`` columns added by the caller:

- ``hourly``: policy, replication, hour_of_week (0 = Monday 00-01), tier (a segment or "vip"),
  tickets_served, tickets_abandoned, wait_sum_h (calendar hours), sla_met.
- ``roster``: policy, replication, hour_of_week, agent_hours (agents on the roster x hours),
  load_erlang_hours (offered load x hours), hours (how often that hour of the week was rostered).

Same conventions as ``sim.output.plots``: ``plot_x(table, *, ax=None, meta=None) -> Axes``, the
deck style, 16:9 slides, units on every axis, a title that states the finding. It must not run
the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.output.plots import (
    MIN_FONT_PT,
    NEUTRAL,
    Meta,
    _axes,
    _finish,
    _legend_outside,
    _policies,
    _styled,
    policy_colors,
)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hourly_means(hourly: pd.DataFrame, policy: str) -> pd.DataFrame:
    """One row per hour of the week: mean wait (h) and SLA attainment of tickets that arrived
    then (over tiers, months and replications), and tickets served."""
    g = hourly[hourly["policy"] == policy].groupby("hour_of_week")[["tickets_served", "wait_sum_h", "sla_met"]].sum()
    g = g.reindex(range(168), fill_value=0)
    served = g["tickets_served"].where(g["tickets_served"] > 0)
    return pd.DataFrame({"wait_mean_h": g["wait_sum_h"] / served, "sla_met_share": g["sla_met"] / served,
                         "tickets_served": g["tickets_served"]})


def tier_means(hourly: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, tier): tickets served, mean wait (h), SLA attainment, abandoned share."""
    g = hourly.groupby(["policy", "tier"], sort=False)[
        ["tickets_served", "tickets_abandoned", "wait_sum_h", "sla_met"]].sum().reset_index()
    g = g[g["tickets_served"] > 0]
    g["wait_mean_h"] = g["wait_sum_h"] / g["tickets_served"]
    g["sla_met_share"] = g["sla_met"] / g["tickets_served"]
    g["abandoned_share"] = g["tickets_abandoned"] / (g["tickets_served"] + g["tickets_abandoned"])
    return g


def _week_grid(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=float).reshape(7, 24)


def _heatmap(ax: Axes, grid: np.ndarray, *, cmap: str, label: str, fmt: str, vmin: float | None = None,
             vmax: float | None = None) -> None:
    im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_yticks(range(7), DAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("Hour of arrival (local time, h)")
    ax.set_ylabel("Day of arrival")
    ax.grid(False)
    cbar = ax.figure.colorbar(im, ax=ax, pad=0.01)
    cbar.set_label(label)
    cbar.ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_title(ax.get_title())


def _peak(values: pd.Series, *, low: bool = False) -> tuple[str, float]:
    v = values.dropna()
    h = int(v.idxmin() if low else v.idxmax())
    return f"{DAYS[h // 24]} {h % 24:02d}:00", float(v.loc[h])


@_styled
def plot_wait_heatmap(hourly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                      policy: str | None = None) -> Axes:
    """Mean first-response wait (calendar hours) of tickets by the hour of the week they arrived,
    for one policy (default: the first), over tiers, months and replications."""
    ax = _axes(ax)
    policy = policy or _policies(hourly, None)[0]
    means = hourly_means(hourly, policy)
    _heatmap(ax, _week_grid(means["wait_mean_h"]), cmap="viridis", label="Mean wait (h)", fmt=".1f", vmin=0)
    when, worst = _peak(means["wait_mean_h"])
    ax.set_title(f"{policy}: tickets raised {when} wait longest, {worst:.0f} h on average")
    _finish(ax, meta)
    return ax


@_styled
def plot_sla_heatmap(hourly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                     policy: str | None = None) -> Axes:
    """Share of served tickets answered within their SLA (on the SLA clock of the scenario) by the
    hour of the week they arrived, for one policy (default: the first)."""
    ax = _axes(ax)
    policy = policy or _policies(hourly, None)[0]
    means = hourly_means(hourly, policy)
    _heatmap(ax, _week_grid(means["sla_met_share"] * 100), cmap="RdYlGn", label="Answered within SLA (%)",
             fmt=".0f", vmin=0, vmax=100)
    when, worst = _peak(means["sla_met_share"], low=True)
    best_when, best = _peak(means["sla_met_share"])
    overall = means["sla_met_share"].mul(means["tickets_served"]).sum() / max(means["tickets_served"].sum(), 1)
    below = int((means["sla_met_share"] < 0.5).sum())
    ax.set_title(f"{policy}: {overall:.0%} answered within SLA, from {best:.0%} (raised {best_when}) to "
                 f"{worst:.0%} (raised {when}); {below} of 168 hours below 50%")
    _finish(ax, meta)
    return ax


@_styled
def plot_desk_by_tier(hourly: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                      policies: Sequence[str] | None = None) -> Axes:
    """Mean first-response wait (h) per tier and policy (bars), each labelled with the tier's SLA
    attainment; tiers are segments, plus "vip" for VIP tickets."""
    ax = _axes(ax)
    policies = _policies(hourly, policies)
    colors = policy_colors(policies)
    t = tier_means(hourly[hourly["policy"].isin(policies)])
    tiers = list(dict.fromkeys(t["tier"]))
    width = 0.8 / max(len(policies), 1)
    for j, p in enumerate(policies):
        g = t[t["policy"] == p].set_index("tier").reindex(tiers)
        x = np.arange(len(tiers)) - 0.4 + width * (j + 0.5)
        bars = ax.bar(x, g["wait_mean_h"].fillna(0), width=width * 0.92, color=colors[p], label=p)
        labels = ["" if np.isnan(s) else f"{s:.0%}" for s in g["sla_met_share"]]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=MIN_FONT_PT, color=NEUTRAL)
    ax.set_xticks(np.arange(len(tiers)), tiers)
    ax.set_xlabel("Tier (customer segment; vip = VIP tickets); bar labels: share answered within SLA")
    ax.set_ylabel("Mean first-response wait (h, calendar)")
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.12)
    spread = t.groupby("policy")["wait_mean_h"].agg(lambda s: s.max() / s.min() if s.min() > 0 else np.nan)
    p_max = spread.idxmax() if spread.notna().any() else policies[0]
    g = t[t["policy"] == p_max].set_index("tier")
    ax.set_title(f"{p_max}: {g['wait_mean_h'].idxmin()} waits {g['wait_mean_h'].min():.1f} h, "
                 f"{g['wait_mean_h'].idxmax()} {g['wait_mean_h'].max():.1f} h (SLA met "
                 f"{g.loc[g['wait_mean_h'].idxmin(), 'sla_met_share']:.0%} vs "
                 f"{g.loc[g['wait_mean_h'].idxmax(), 'sla_met_share']:.0%})")
    _legend_outside(ax, title="Policy")
    _finish(ax, meta)
    return ax


@_styled
def plot_roster_vs_load(roster: pd.DataFrame, *, ax: Axes | None = None, meta: Meta | None = None,
                        policies: Sequence[str] | None = None) -> Axes:
    """Agents on the roster (steps) and offered load in Erlangs (dashed) per hour of the week,
    averaged over months and replications, per policy."""
    ax = _axes(ax)
    policies = _policies(roster, policies)
    colors = policy_colors(policies)
    peaks = {}
    for p in policies:
        g = roster[roster["policy"] == p].groupby("hour_of_week")[["agent_hours", "load_erlang_hours", "hours"]].sum()
        g = g.reindex(range(168), fill_value=0)
        hours = g["hours"].where(g["hours"] > 0)
        agents, load = g["agent_hours"] / hours, g["load_erlang_hours"] / hours
        ax.step(np.arange(169), np.append(agents, agents.iloc[-1]), where="post", color=colors[p],
                label=f"{p}: agents on the roster")
        ax.plot(np.arange(168) + 0.5, load, color=colors[p], linestyle="--", linewidth=1.6,
                label=f"{p}: offered load")
        peaks[p] = (float(agents.max()), float((g["agent_hours"].sum()) / max(g["hours"].sum(), 1) * 168))
    for d in range(1, 7):
        ax.axvline(24 * d, color=NEUTRAL, linewidth=0.8, alpha=0.4)
    ax.set_xticks([24 * d + 12 for d in range(7)], DAYS)
    ax.set_xlim(0, 168)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Hour of the week (local time)")
    ax.set_ylabel("Agents on duty / offered load (Erlangs)")
    first = policies[0]
    ax.set_title(f"{first}: up to {peaks[first][0]:.0f} agents follow the load, "
                 f"{peaks[first][1]:,.0f} agent-hours a week")
    _legend_outside(ax)
    _finish(ax, meta)
    return ax
