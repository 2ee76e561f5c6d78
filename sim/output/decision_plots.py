"""Deck plots of a decision under uncertainty (``supportsim decide``).

Where it sits: :class:`sim.decision.psa.DecisionResult` tables -> **decision_plots** -> PNG/SVG/PDF,
the app and the deck. Same style, slide size, policy colours and footer as
:mod:`sim.output.plots`; each ``plot_*`` takes tables (never the model), draws on an optional
Axes and returns it; each title states the finding. It must not run the model.

- :func:`plot_probability_best`: the probability that each policy is best, with its 95% Monte
  Carlo interval, and the expected loss of choosing it;
- :func:`plot_evppi`: the expected value of partial perfect information per uncertain
  parameter ("what to research first"), against the EVPI;
- :func:`plot_decision_map`: which policy is best where, over the two parameters with the
  highest EVPPI, with the sampled points;
- :func:`plot_sobol`: Sobol first-order and total indices of the gap between the two leading policies.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sim.decision.psa import NEGLIGIBLE_SHARE, percent, prob_best_interval
from sim.output import plots as P
from sim.params.names import display_name, mid_sentence, parameter_names
from sim.params.scenario import policy_labels

__all__ = [
    "DecisionMeta", "decision_figures", "panel_axes", "plot_decision_map", "plot_evppi",
    "plot_probability_best", "plot_sobol", "save_decision_plots",
]


@dataclass(frozen=True)
class DecisionMeta(P.Meta):
    """The footer of a decision figure: samples and replications instead of CIs of the mean."""

    samples: int = 0

    @classmethod
    def of(cls, result: Any, *, command: str | None = None) -> DecisionMeta:
        return cls(result.scenario.scenario.name, result.scenario_sha256, result.replications,
                   seed=result.seed, samples=result.samples, labels={**{p: p for p in result.policy_names}, **policy_labels(result.scenario)},
                   months=result.scenario.run.months, command=command or getattr(result, "command", None),
                   edits=len(result.scenario.edits))

    def footer(self) -> str:
        """Short and true (the hash and seed go into the file's metadata, see :meth:`P.Meta.provenance`)."""
        return (f"{self.scenario_ref()} · {self.date} · {self.samples} parameter samples × "
                f"{self.replications} replication{'s' if self.replications != 1 else ''} per policy · "
                f"simulated with supportsim {self.version}")


def _labels(labels: Mapping[str, str] | None, meta: P.Meta | None) -> Callable[[str], str]:
    """Display label of a policy: from ``labels``, else the meta's, else the name."""
    known = labels if labels is not None else (meta.labels if meta is not None else {})
    return lambda p: P.literal(known.get(p, p))


def _two_lines(name: str, width: int = 30) -> str:
    """A long display name on two lines, broken before its qualifier: "Fee sensitivity per USD\n(starter segment)"."""
    if len(name) <= width:
        return name
    head, sep, tail = name.partition(" (")
    return f"{head}\n({tail}" if sep else textwrap.fill(name, width, break_long_words=False)


def panel_axes(width_in: float, height_in: float) -> Axes:
    """Axes on a figure of its own of the given size (a deck slide's panel: fonts keep their size)."""
    with P.deck_style():
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        FigureCanvasAgg(fig)
        return fig.subplots()


def _kpi_name(kpi: str) -> str:
    return P.kpi_name_unit(kpi)[0]


def _money_axis(axis: Any) -> None:
    axis.set_major_formatter(P.UsdTicks())


# ---------------------------------------------------------------------------- probability best


@P._styled
def plot_probability_best(policies: pd.DataFrame, *, ax: Axes | None = None, meta: P.Meta | None = None,
                          order: Sequence[str] | None = None, samples: int | None = None,
                          labels: Mapping[str, str] | None = None) -> Axes:
    """Bars: the share of sampled parameter sets in which each policy has the highest value,
    with exact 95% binomial (Clopper-Pearson) intervals over the sampled worlds; each bar is labelled with the expected loss of
    choosing that policy. ``policies``: the decision's policy table; ``labels``: policy display
    labels (default: the meta's)."""
    ax = P._axes(ax)
    label = _labels(labels, meta)
    names = list(order) if order else list(policies["policy"])
    t = policies.set_index("policy").loc[names]
    colors = P.policy_colors(names)
    x = np.arange(len(names))
    p = t["prob_best"].to_numpy(dtype=float)
    n = int(meta.samples) if meta is not None and getattr(meta, "samples", None) else None
    if n:  # exact (Clopper-Pearson) intervals: never "+/- 0%" at 24 of 24 worlds
        low, high = np.array([prob_best_interval(v, n) for v in p]).T
    else:
        half = 1.96 * t["prob_best_se"].to_numpy(dtype=float)
        low, high = np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
    ax.bar(x, p, color=[colors[n] for n in names], width=0.6)
    ax.errorbar(x, p, yerr=[p - low, high - p], fmt="none", ecolor=P.NEUTRAL, elinewidth=1.5, capsize=5)
    for i, name in enumerate(names):
        loss = float(t.at[name, "expected_loss"])
        ax.annotate(f"{percent(p[i])}\nloss {P.usd(loss)}", (i, high[i]),
                    xytext=(0, 6), textcoords="offset points", ha="center", va="bottom", fontsize=P.MIN_FONT_PT)
    ticks = [textwrap.fill(label(n), 12, break_long_words=False) + ("\n(recommended)" if bool(t.at[n, "recommended"])
                                                                     else "") for n in names]
    ax.set_xticks(x, ticks)
    ax.set_ylim(0, 1.25)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_yticks(np.linspace(0, 1, 6))
    rec = next(n for n in names if bool(t.at[n, "recommended"]))
    worlds = f" of {samples} plausible worlds" if samples else " of the plausible worlds"
    rival = t.drop(index=rec)["prob_best"].idxmax() if len(names) > 1 else None
    if rival is not None and t.at[rival, "prob_best"] >= 0.2:  # a close call: say so
        ax.set_title(f"A close call: {label(rec)} is best in {percent(float(t.at[rec, 'prob_best']))}, "
                     f"{label(rival)} in {percent(float(t.at[rival, 'prob_best']))}{worlds}")
    else:
        ax.set_title(f"{label(rec)} is the best policy in {percent(float(t.at[rec, 'prob_best']))}{worlds}")
    ax.set_xlabel("Support policy (label: expected loss if chosen)")
    ax.set_ylabel("Probability of being best (95% interval)")
    ax.grid(axis="x", visible=False)
    P._finish(ax, meta)
    return ax


# ---------------------------------------------------------------------------- EVPPI


@P._styled
def plot_evppi(evppi: pd.DataFrame, *, evpi: float, ax: Axes | None = None, meta: P.Meta | None = None,
               max_params: int = 12, names: Mapping[str, str] | None = None, shares: bool = True) -> Axes:
    """Horizontal bars: the EVPPI of each uncertain parameter (USD), highest on top, with the
    EVPI (perfect knowledge of all of them) as a line. ``evppi``: the decision's EVPPI table;
    ``names``: parameter path -> display name (default: the path with its unit); ``shares``:
    label each bar with its share of the EVPI too (off where the plot is narrow)."""
    name = (lambda p: _two_lines(P.literal(names.get(p, p)))) if names is not None else P.param_label
    ax = P._axes(ax)
    t = evppi.head(max_params)
    n = len(t)
    y = np.arange(n)[::-1]
    ax.barh(y, t["evppi_usd"], color=P.NEUTRAL, height=0.6)
    ax.axvline(evpi, color=P.PALETTE[4], linestyle="--", linewidth=2, label=f"EVPI (all parameters): {P.usd(evpi)}")
    for yi, (_, r) in zip(y, t.iterrows()):
        share = r["share_of_evpi"]
        text = P.usd(float(r["evppi_usd"])) + (f"  ({share:.0%} of EVPI)" if shares and share == share else "")
        ax.annotate(text, (float(r["evppi_usd"]), yi), xytext=(5, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=P.MIN_FONT_PT)
    ax.set_yticks(y, [name(p) for p in t["parameter"]])
    ax.set_xlim(0, max(evpi, float(t["evppi_usd"].max()) if n else 0.0, 10.0) * 1.35)  # >= $10: no "$0 $0 $1" ticks
    _money_axis(ax.xaxis)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))  # $5, $10, not $2.5 shown as "$2"
    top = t.iloc[0] if n else None
    if top is None or evpi <= 0 or float(top["evppi_usd"]) < NEGLIGIBLE_SHARE * evpi:
        ax.set_title("No single assumption is worth researching on its own")
    else:
        ax.set_title(f"Research {mid_sentence(P.literal(name(top['parameter'])))} first: knowing it is worth {P.usd(float(top['evppi_usd']))}")
    ax.set_xlabel("Expected value of perfect information on this parameter alone (EVPPI, USD)"
                  + ("\nEVPPIs overlap: their shares of the EVPI do not add up" if shares else ""))
    ax.set_ylabel("Uncertain parameter")
    ax.grid(axis="y", visible=False)
    P._legend_outside(ax)
    P._finish(ax, meta)
    return ax


# ---------------------------------------------------------------------------- decision map


@P._styled
def plot_decision_map(decision_map: pd.DataFrame, psa: pd.DataFrame, *, kpi: str, policies: Sequence[str],
                      ax: Axes | None = None, meta: P.Meta | None = None,
                      labels: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None) -> Axes:
    """Which policy is best where: regions coloured by the policy with the highest expected value
    (fitted over the two parameters named in ``decision_map.attrs``, the others averaged over),
    and every sampled parameter set as a point coloured by the policy that was best in it."""
    ax = P._axes(ax)
    label = _labels(labels, meta)
    xname, yname = decision_map.attrs["x"], decision_map.attrs["y"]
    order = list(policies)
    colors = P.policy_colors(order)
    index = {p: i for i, p in enumerate(order)}
    xs, ys = np.unique(decision_map["x"]), np.unique(decision_map["y"])
    grid = (decision_map.assign(code=decision_map["best"].map(index))
            .pivot(index="y", columns="x", values="code").reindex(index=ys, columns=xs).to_numpy(dtype=float))
    cmap = ListedColormap([colors[p] for p in order])
    ax.pcolormesh(_edges(xs), _edges(ys), grid, cmap=cmap, vmin=-0.5, vmax=len(order) - 0.5, alpha=0.35,
                  shading="flat", linewidth=0, rasterized=True)
    wide = psa.pivot(index="sample", columns="policy", values=kpi)[order]
    best = wide.to_numpy(dtype=float).argmax(axis=1)
    pts = psa.drop_duplicates("sample").set_index("sample").loc[wide.index]
    px, py = (_positions(pts[n], decision_map.attrs.get(f"{axis}_categories")) for n, axis in ((xname, "x"),
                                                                                            (yname, "y")))
    for i, p in enumerate(order):
        mask = best == i
        if mask.any():
            ax.scatter(px[mask], py[mask], s=36, color=colors[p], edgecolor="black", linewidth=0.6, zorder=3)
    for axis, setter in (("x", ax.set_xticks), ("y", ax.set_yticks)):
        categories = decision_map.attrs.get(f"{axis}_categories")
        if categories:  # a choice: its values where the grid puts them
            setter(range(len(categories)), [str(c) for c in categories])
    share = decision_map["best"].value_counts(normalize=True)
    handles = [Patch(facecolor=colors[p], alpha=0.35 if p in share else 0.0, edgecolor=colors[p],
                     label=f"{label(p)} ({share.get(p, 0.0):.0%} of the map)") for p in order]
    ax.legend(handles=handles, title="Best on average (shaded);\npoints: best in that sample",
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_xlabel(P.param_label(xname, names))
    ax.set_ylabel(P.param_label(yname, names))
    ax.grid(False)
    top = label(str(share.index[0]))
    if share.iloc[0] >= 0.999:
        finding = f"{top} is best over the whole range of these two assumptions"
    elif share.iloc[0] >= 0.8:
        finding = f"{top} is best over {share.iloc[0]:.0%} of the range of these two assumptions"
    else:
        finding = _split_by_choice(decision_map, label, names) or "Which policy is best turns on these two assumptions"
    ax.set_title(finding)
    engine = ax.figure.get_layout_engine()
    if engine is not None:  # lay out now: the legend beside the plot moves the axes (and the title's room) left
        engine.execute(ax.figure)
    P._finish(ax, meta)
    return ax


def _split_by_choice(decision_map: pd.DataFrame, label: Callable[[str], str],
                     names: Mapping[str, str] | None) -> str:
    """When one axis is a choice and each of its values has one best policy over the whole other
    axis, say so ("Tiered is best where SLA clock is calendar, Flat where it is business");
    empty otherwise."""
    for axis in ("x", "y"):
        categories = decision_map.attrs.get(f"{axis}_categories")
        if not categories:
            continue
        best = [set(decision_map.loc[decision_map[axis] == i, "best"]) for i in range(len(categories))]
        if all(len(b) == 1 for b in best) and len({next(iter(b)) for b in best}) > 1:
            path = decision_map.attrs[axis]
            what = P.literal((names or {}).get(path) or display_name(path))
            parts = [f"{label(next(iter(b)))} is best where {what} is {c}" if i == 0 else
                     f"{label(next(iter(b)))} where it is {c}" for i, (b, c) in enumerate(zip(best, categories))]
            return ", ".join(parts)
    return ""


def _positions(values: pd.Series, categories: Sequence[Any] | None) -> np.ndarray:
    """Sampled values where the map puts them: a non-numeric choice at its position among
    ``categories`` (the numbering of :func:`sim.decision.sampling.numeric_inputs`), numbers as they are."""
    if not categories:
        return values.to_numpy(dtype=float)
    lookup = {str(c): i for i, c in enumerate(categories)}
    return np.array([lookup[str(v)] for v in values], dtype=float)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted cell centres (a lone centre gets a unit-wide cell)."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


# ---------------------------------------------------------------------------- Sobol


@P._styled
def plot_sobol(sobol: pd.DataFrame, *, ax: Axes | None = None, meta: P.Meta | None = None,
               max_params: int = 12, names: Mapping[str, str] | None = None) -> Axes:
    """Grouped horizontal bars: Sobol first-order (S1) and total (ST) indices of the value gap
    between the two leading policies, with their 95% confidence intervals (SALib bootstrap)."""
    ax = P._axes(ax)
    t = sobol.head(max_params)
    n = len(t)
    y = np.arange(n)[::-1]
    h = 0.38
    for key, label, color, dy in (("ST", "total index ST (with interactions)", P.HIGH_COLOR, -h / 2),
                                  ("S1", "first-order index S1 (alone)", P.LOW_COLOR, h / 2)):
        vals = t[key].to_numpy(dtype=float)
        conf = np.nan_to_num(t[f"{key}_conf"].to_numpy(dtype=float))
        ax.barh(y + dy, vals, height=h, color=color, label=label)
        ax.errorbar(vals, y + dy, xerr=conf, fmt="none", ecolor=P.NEUTRAL, elinewidth=1.2, capsize=3)
    ax.axvline(0, color=P.NEUTRAL, linewidth=1)
    ax.set_yticks(y, [P.param_label(p, names) for p in t["parameter"]])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    diff = sobol.attrs.get("difference", "the two leading policies")
    kpi = sobol.attrs.get("kpi", "value")
    if n:
        top = t.iloc[0]
        ax.set_title(f"{top['parameter']} drives {max(float(top['ST']), 0):.0%} of the variance in the gap "
                     f"{diff}")
    ax.set_xlabel(f"Share of the variance of {_kpi_name(kpi).lower()} ({diff})")
    ax.set_ylabel("Uncertain parameter")
    ax.grid(axis="y", visible=False)
    P._legend_outside(ax)
    P._finish(ax, meta)
    return ax


# ---------------------------------------------------------------------------- all of them


def decision_figures(result: Any, *, names: Mapping[str, str] | None = None) -> Iterator[tuple[str, Axes]]:
    """(name, Axes) of every plot of a decision result, drawn one at a time; ``names``:
    display names of the uncertain parameters (default: as the scenario names them)."""
    meta = DecisionMeta.of(result)  # policy display labels come with it
    names = names if names is not None else parameter_names(result.scenario, result.parameters)
    yield "probability_best", plot_probability_best(result.policies, meta=meta, samples=result.samples)
    yield "evppi", plot_evppi(result.evppi, evpi=result.evpi, meta=meta, names=names)
    if result.decision_map is not None:
        yield "decision_map", plot_decision_map(result.decision_map, result.psa, kpi=result.kpi,
                                                policies=result.policy_names, meta=meta, names=names)
    if result.sobol is not None:
        yield "sobol", plot_sobol(result.sobol, meta=meta, names=names)


def save_decision_plots(result: Any, folder: Path, *, formats: Sequence[str] = P.FORMATS) -> list[Path]:
    """Every decision plot as PNG and SVG (PDF too with ``formats``) in ``folder``."""
    out: list[Path] = []
    for name, ax in decision_figures(result):
        out += P.save_figure(ax.figure, Path(folder) / name, formats=formats)
    return out
