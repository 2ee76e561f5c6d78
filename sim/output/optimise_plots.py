"""Deck plots of an optimisation (``supportsim optimise``).

Where it sits: :class:`sim.runs.optimise.OptimiseResult` tables -> **optimise_plots** ->
PNG/SVG/PDF, later the app and the deck. Same style, slide size and footer as
:mod:`sim.output.plots`; each ``plot_*`` takes tables (never the model), draws on an
optional Axes and returns it; each title states the finding with its unit. It must not run
the model.

- :func:`plot_convergence`: each trial's search mean and the best feasible mean so far,
  against trial number, with the chosen design's fresh 95% interval;
- :func:`plot_response`: the KPI against one parameter's value, one point per trial;
- :func:`plot_pareto`: two KPIs against each other, the feasible front drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from sim.output import fmt
from sim.output import plots as P
from sim.params.names import display_name, mid_sentence
from sim.params.walk import field_unit
from sim.runs import metrics

__all__ = ["OptimiseMeta", "optimise_figures", "plot_convergence", "plot_pareto", "plot_response",
           "save_optimise_plots"]

FEASIBLE, INFEASIBLE, CHOSEN = P.PALETTE[0], "#9A9A9A", P.PALETTE[4]


@dataclass(frozen=True)
class OptimiseMeta(P.Meta):
    """The footer of an optimisation figure: trials and replications per trial."""

    trials: int = 0
    policy: str = ""

    @classmethod
    def of(cls, result: Any, *, command: str | None = None) -> OptimiseMeta:
        return cls(result.scenario.scenario.name, result.scenario_sha256, result.replications, seed=result.seed,
                   months=result.scenario.run.months, command=command or result.command,
                   trials=len(result.trials), policy=result.policy, edits=len(result.scenario.edits))

    def footer(self) -> str:
        return (f"{self.scenario_ref()} · {self.date} · policy {P.literal(self.policy)}: "
                f"{self.trials} trials × {self.replications} replications (search means) · "
                f"simulated with supportsim {self.version}")


def _axis_format(ax_axis: Any, kpi: str) -> None:
    if P.kpi_name_unit(kpi)[1] == "USD":
        ax_axis.set_major_formatter(P.UsdTicks())


def _kpi_title(kpi: str) -> str:
    name, unit = P.kpi_name_unit(kpi)
    return P._with_unit(f"{name}, mean of each trial's replications", unit)


def _points(ax: Axes, x: Any, t: pd.DataFrame, kpi: str, *, size: float = 36) -> None:
    ok, bad = t[t["feasible"]], t[~t["feasible"]]
    if len(bad):
        ax.scatter(x(bad), bad[kpi], s=size, facecolors="none", edgecolors=INFEASIBLE, linewidths=1.3,
                   label="trial breaking a constraint", zorder=2)
    ax.scatter(x(ok), ok[kpi], s=size, color=FEASIBLE, alpha=0.75, label="trial (feasible)", zorder=3)


def _chosen_band(ax: Axes, estimate: Mapping[str, float] | None, kpi: str, *, horizontal: bool = True) -> None:
    if not estimate or not math.isfinite(estimate.get("mean", math.nan)):
        return
    lo, hi = estimate.get("ci_low", math.nan), estimate.get("ci_high", math.nan)
    label = f"chosen, fresh replications: {fmt.kpi(kpi, estimate['mean'])}"
    if math.isfinite(lo) and math.isfinite(hi):
        ax.axhspan(lo, hi, color=CHOSEN, alpha=0.15, linewidth=0, label="its 95% CI", zorder=1)
    ax.axhline(estimate["mean"], color=CHOSEN, linewidth=2, linestyle="--", label=label, zorder=4)


@P._styled
def plot_convergence(trials: pd.DataFrame, *, kpi: str, estimate: Mapping[str, float] | None = None,
                     ax: Axes | None = None, meta: P.Meta | None = None) -> Axes:
    """Each trial's search mean of ``kpi`` (hollow: breaks a constraint), the best feasible mean
    so far as a step line, and the chosen design's mean and 95% interval on fresh replications."""
    ax = P._axes(ax)
    t = trials[trials["state"] == "complete"]
    _points(ax, lambda d: d["trial"], t, kpi)
    best = trials["best_so_far"].to_numpy(dtype=float)
    ax.step(trials["trial"], best, where="post", color=P.NEUTRAL, linewidth=2.2, label="best feasible so far",
            zorder=4)
    _chosen_band(ax, estimate, kpi)
    name = P.kpi_name_unit(kpi)[0]
    finite = np.isfinite(best)
    if finite.any():
        final = best[finite][-1]
        reached = int(trials["trial"].to_numpy()[np.argmax(best == final)])
        finding = (f"The search's best feasible {name.lower()}, {fmt.kpi(kpi, final)}, was found at trial {reached} "
                   f"of {len(trials)}")
        if estimate and math.isfinite(estimate.get("mean", math.nan)):
            finding += f"; on fresh replications the chosen design has {fmt.kpi(kpi, estimate['mean'])}"
    else:
        finding = f"No trial met the constraints in {len(trials)} trials"
    ax.set_title(finding)
    ax.set_xlabel("Trial (order the sampler proposed designs)")
    ax.set_ylabel(_kpi_title(kpi))
    _axis_format(ax.yaxis, kpi)
    P._legend_outside(ax)
    P._finish(ax, meta)
    return ax


def _jitter(n: int) -> np.ndarray:
    """Small fixed offsets (the same on every run) so points of a choice do not hide each other."""
    return ((np.arange(n) * 0.618034) % 1.0 - 0.5) * 0.3


@P._styled
def plot_response(trials: pd.DataFrame, *, param: str, kpi: str, chosen: Any = None,
                  estimate: Mapping[str, float] | None = None, log: bool = False, ax: Axes | None = None,
                  meta: P.Meta | None = None) -> Axes:
    """``kpi`` (each trial's search mean) against the value ``param`` took in that trial (on a
    log axis with ``log``, as a log range was searched); the chosen value as a vertical line and
    its fresh mean as a horizontal one."""
    ax = P._axes(ax)
    t = trials[trials["state"] == "complete"].copy()
    numeric = pd.api.types.is_numeric_dtype(t[param]) and not pd.api.types.is_bool_dtype(t[param])
    if numeric:
        def xs(d: pd.DataFrame) -> Any:
            return d[param]
    else:
        cats = list(dict.fromkeys(trials[param].map(str)))
        jit = pd.Series(_jitter(len(t)), index=t.index)

        def xs(d: pd.DataFrame) -> Any:
            return d[param].map(str).map(cats.index) + jit.loc[d.index]
        ax.set_xticks(range(len(cats)), cats)
        ax.set_xlim(-0.6, len(cats) - 0.4)
        ax.grid(axis="x", visible=False)
    _points(ax, xs, t, kpi)
    if numeric and log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if chosen is not None:
        where = chosen if numeric else [str(c) for c in cats].index(str(chosen))
        ax.axvline(where, color=CHOSEN, linewidth=2, label=f"chosen: {fmt.param(chosen)}", zorder=4)
    _chosen_band(ax, estimate, kpi)
    name = P.kpi_name_unit(kpi)[0]
    what = mid_sentence(display_name(param))
    unit = field_unit(param)
    ok = t[t["feasible"]]
    if len(ok):
        n = max(3, len(ok) // 10)
        top = ok.nsmallest(n, kpi) if metrics.KPIS[kpi].better == "lower" else ok.nlargest(n, kpi)
        if numeric:
            lo, hi = float(top[param].min()), float(top[param].max())
            span = f"{lo:,.4g}" if lo == hi else f"{lo:,.4g}–{hi:,.4g}"
            finding = f"The best tenth of the trials set {what} to {span}" + (f" {unit}" if unit else "")
        else:
            share = top[param].map(str).value_counts(normalize=True)
            finding = f"The best tenth of the trials set {what} to {share.index[0]} ({share.iloc[0]:.0%} of them)"
    else:
        finding = f"{name} by {what}: no trial met the constraints"
    ax.set_title(finding)
    ax.set_xlabel(P.param_label(param))
    ax.set_ylabel(_kpi_title(kpi))
    _axis_format(ax.yaxis, kpi)
    P._legend_outside(ax)
    P._finish(ax, meta)
    return ax


@P._styled
def plot_pareto(trials: pd.DataFrame, front: pd.DataFrame, *, kpis: tuple[str, str] | list[str],
                chosen_trial: int | None = None, ax: Axes | None = None, meta: P.Meta | None = None) -> Axes:
    """Two KPIs of every trial (search means) against each other, the feasible designs no other
    beats on both as a line, the chosen design marked."""
    ax = P._axes(ax)
    kx, ky = kpis
    t = trials[trials["state"] == "complete"]
    ok, bad = t[t["feasible"]], t[~t["feasible"]]
    if len(bad):
        ax.scatter(bad[kx], bad[ky], s=30, facecolors="none", edgecolors=INFEASIBLE, linewidths=1.3,
                   label="trial breaking a constraint")
    ax.scatter(ok[kx], ok[ky], s=30, color=FEASIBLE, alpha=0.45, label="trial (feasible)")
    f = front.sort_values(kx)
    ax.plot(f[kx], f[ky], color=P.NEUTRAL, marker="o", markersize=7, linewidth=2, label="Pareto front", zorder=4)
    if chosen_trial is not None and (t["trial"] == chosen_trial).any():
        c = t[t["trial"] == chosen_trial].iloc[0]
        ax.scatter([c[kx]], [c[ky]], s=160, marker="*", color=CHOSEN, zorder=5,
                   label=f"chosen (trial {chosen_trial})")
    nx, ny = (P.kpi_name_unit(k)[0].lower() for k in (kx, ky))
    if len(f) > 1:
        ax.set_title(f"{len(f)} designs trade {nx} against {ny}: from {fmt.kpi(kx, f[kx].iloc[0])} and "
                     f"{fmt.kpi(ky, f[ky].iloc[0])} to {fmt.kpi(kx, f[kx].iloc[-1])} and {fmt.kpi(ky, f[ky].iloc[-1])}")
    elif len(f) == 1:
        ax.set_title(f"One design is best on both {nx} and {ny}")
    else:
        ax.set_title("No trial met the constraints")
    ax.set_xlabel(_kpi_title(kx))
    ax.set_ylabel(_kpi_title(ky))
    _axis_format(ax.xaxis, kx)
    _axis_format(ax.yaxis, ky)
    P._legend_outside(ax)
    P._finish(ax, meta)
    return ax


def optimise_figures(result: Any, *, command: str | None = None) -> dict[str, Axes]:
    """Every figure of an optimisation by file stem: convergence, response_<parameter path with
    "_" for "."> per dimension, and pareto with two KPIs."""
    meta = OptimiseMeta.of(result, command=command)
    kpi = result.kpi
    estimate = result.estimates.get(kpi)
    out = {"convergence": plot_convergence(result.trials, kpi=kpi, estimate=estimate, meta=meta)}
    for d in result.dimensions:
        chosen = result.chosen.get(d.path) if result.chosen else None
        out["response_" + d.path.replace(".", "_").replace("*", "all")] = plot_response(
            result.trials, param=d.path, kpi=kpi, chosen=chosen, estimate=estimate, log=d.log, meta=meta)
    if result.pareto is not None:
        trial = next((int(r.trial) for r in result.candidates.itertuples() if r.chosen and r.trial == r.trial), None)
        out["pareto"] = plot_pareto(result.trials, result.pareto, kpis=result.kpis, chosen_trial=trial, meta=meta)
    return out


def save_optimise_plots(result: Any, folder: Path, *, command: str | None = None) -> list[Path]:
    """Every figure of :func:`optimise_figures` as PNG and SVG in ``folder``."""
    paths: list[Path] = []
    for stem, ax in optimise_figures(result, command=command).items():
        paths += P.save_figure(ax.figure, Path(folder) / stem)
    return paths
