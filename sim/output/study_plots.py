"""Plots of the studies: the tornado (sensitivity), break-even curves and sweeps.

Where it sits: study tables (``sim.runs.studies``, ``tornado``) -> **study_plots** (on the style,
footer and helpers of ``sim.output.plots``) -> the CLI's study verbs, the app's Sensitivity tab
and the report. Tables in, Axes out; it must not run the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.output import findings
from sim.output.plots import (
    HIGH_COLOR,
    LOW_COLOR,
    MIN_FONT_PT,
    NEUTRAL,
    PALETTE,
    STYLE,
    SUMMARY_COLUMNS,
    Meta,
    UsdTicks,
    _axes,
    _difference_unit,
    _finish,
    _legend_outside,
    _signed,
    _styled,
    _with_unit,
    headline,
    kpi_name_unit,
    label_of,
    param_label,
    policy_colors,
    value_formatter,
)
from sim.params.names import display_name, mid_sentence
from sim.params.walk import field_unit
from sim.runs import metrics

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
        ax.xaxis.set_major_formatter(UsdTicks())
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
        ax.yaxis.set_major_formatter(UsdTicks())
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
            ax.yaxis.set_major_formatter(UsdTicks())
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
            bar.ax.yaxis.set_major_formatter(UsdTicks())
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
