"""Experiments over a scenario: parameter sweeps and break-even.

Where it sits: scenario -> **studies** (on the grid of ``sim.runs.grid``, the parameter paths of
``sim.runs.paths``) -> tables for plots, the CLI and the app; the tornado is ``sim.runs.tornado``,
staffing ``sim.runs.staffing``. Every function takes keyword arguments and returns pandas tables;
none prints or writes files (the CLI does, via ``sim.output.files``).

Common random numbers throughout: replication r uses the same random streams at every grid point
and for every policy, so differences between policies *and* between parameter values are paired,
and curves are smooth rather than noisy. A parameter is named by its path, as in ``--set``
(``sim.runs.paths``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.params.scenario import (
    ScenarioError,
)
from sim.params.schema import Scenario
from sim.runs import metrics
from sim.runs.grid import (
    Cell,
    Engine,
    Progress,
    check_kpi,
    check_pair,
    check_points,
    check_policies,
    interval,
    paired,
    reference_of,
)
from sim.runs.options import SERIAL, RunOptions
from sim.runs.paths import bounds_of, check_movable

KPI_NAMES = list(metrics.KPIS)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`sweep`; ``tidy`` holds the runs that finished (``attrs["partial"]``)."""

    def __init__(self, tidy: pd.DataFrame) -> None:
        super().__init__(f"{len(tidy)} finished runs kept (partial)")
        self.tidy = tidy


# ---------------------------------------------------------------------------- sweep


def sweep(
    scenario: Scenario,
    *,
    grid: Mapping[str, Sequence[Any]],
    policies: Sequence[str] | None = None,
    options: RunOptions = SERIAL,
    crn: bool = True,
) -> pd.DataFrame:
    """Run every policy at every point of a 1-D or 2-D grid; the tidy per-replication table.

    ``grid`` maps one or two parameter paths to their values (the full product is run).
    Columns: each parameter path, ``policy``, ``replication``, then one column per KPI of
    :data:`sim.runs.metrics.KPIS`. ``attrs``: params, policies, reference, seed, replications,
    partial. Summaries: :func:`sweep_summary`, :func:`sweep_differences`.
    On Ctrl-C raises :class:`SweepInterrupted` carrying the runs that finished.
    """
    paths = list(grid)
    if not 1 <= len(paths) <= 2:
        raise ScenarioError([f"--param: give one or two parameters to sweep (got {len(paths)})"], "--param")
    for path in paths:
        if not list(grid[path]):
            raise ScenarioError([f"--param {path}: no values"], "--param")
    names = check_policies(scenario, policies)
    for path in paths:
        check_movable(scenario, path, names)
    points = [tuple(zip(paths, combo)) for combo in itertools.product(*(list(grid[p]) for p in paths))]
    reps = options.replications_for(scenario)
    resolved = check_points(scenario, names, points, reps, options.max_work,  # every point validated and costed first
                             counted=f"{len(points)} points x {len(names)} policies x {reps} replications",
                             reduce="Use fewer values, policies or replications, or narrower values")
    progress = Progress(options.on_progress)
    rows: list[dict[str, Any]] = []
    attrs = {"params": paths, "policies": names, "reference": reference_of(scenario, names),
             "seed": options.seed_for(scenario), "replications": reps, "partial": False}
    with options.pool() as ex:
        engine = Engine(scenario, replications=reps, seed=options.seed, crn=crn, executor=ex, progress=progress,
                         resolved=resolved)
        try:
            engine.run([Cell(pt, p) for pt in points for p in names], partial=rows)
        except KeyboardInterrupt:
            tidy = _tidy(rows, paths, names, points)
            tidy.attrs = {**attrs, "partial": True}
            raise SweepInterrupted(tidy) from None
    tidy = _tidy(rows, paths, names, points)
    tidy.attrs = attrs
    return tidy


def _tidy(rows: list[dict[str, Any]], paths: list[str], names: list[str], points: list[tuple]) -> pd.DataFrame:
    columns = [*paths, "policy", "replication", *KPI_NAMES]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    point_idx = {pt: i for i, pt in enumerate(points)}
    pol_idx = {p: i for i, p in enumerate(names)}
    df["_p"] = df["_values"].map(point_idx)
    df["_q"] = df["policy"].map(pol_idx)
    df = df.sort_values(["_p", "_q", "replication"], kind="stable")
    for j, path in enumerate(paths):
        df[path] = [v[j][1] for v in df["_values"]]
    return df[columns].reset_index(drop=True)


def sweep_summary(tidy: pd.DataFrame, *, params: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (grid point, policy, KPI): mean, ci_low, ci_high (95% t-interval), n."""
    params = list(params or tidy.attrs.get("params") or _param_columns(tidy))
    rows = []
    for key, g in tidy.groupby([*params, "policy"], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for kpi in KPI_NAMES:
            s = interval(g[kpi])
            rows.append({**dict(zip([*params, "policy"], key)), "kpi": kpi, "mean": s["mean"],
                         "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]})
    out = pd.DataFrame(rows, columns=[*params, "policy", "kpi", "mean", "ci_low", "ci_high", "n"])
    out.attrs = dict(tidy.attrs)
    return out


def sweep_differences(tidy: pd.DataFrame, *, reference: str | None = None,
                      params: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (grid point, policy other than ``reference``, KPI): the paired difference
    policy - reference at that point (mean, ci_low, ci_high, n). Same layout as
    :func:`sweep_summary`."""
    params = list(params or tidy.attrs.get("params") or _param_columns(tidy))
    reference = reference or tidy.attrs.get("reference") or str(tidy["policy"].iloc[0])
    rows = []
    for key, g in tidy.groupby(params, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for policy in [p for p in pd.unique(g["policy"]) if p != reference]:
            for kpi in KPI_NAMES:
                s = paired(g, kpi, reference, policy)
                rows.append({**dict(zip(params, key)), "policy": policy, "kpi": kpi, "mean": s["mean"],
                             "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]})
    out = pd.DataFrame(rows, columns=[*params, "policy", "kpi", "mean", "ci_low", "ci_high", "n"])
    out.attrs = {**tidy.attrs, "reference": reference}
    return out


def _param_columns(tidy: pd.DataFrame) -> list[str]:
    return [c for c in tidy.columns if c not in ("policy", "replication", *KPI_NAMES)]


# ---------------------------------------------------------------------------- break-even


def breakeven(
    scenario: Scenario,
    *,
    param: str,
    between: tuple[float, float],
    kpi: str = "value_usd",
    policy_a: str | None = None,
    policy_b: str | None = None,
    points: int = 5,
    refine: int = 4,
    options: RunOptions = SERIAL,
) -> pd.DataFrame:
    """Where policy_b and policy_a tie on ``kpi`` as ``param`` moves over ``between``.

    The paired difference policy_b - policy_a (same replications, common random numbers)
    is estimated at ``points`` evenly spaced values, then ``refine`` bisection steps add the
    midpoint of the interval where its mean changes sign. The curve table has columns
    ``value``, ``mean``, ``ci_low``, ``ci_high`` (95% t-interval of the difference).

    ``attrs["breakeven"]``: where the mean curve (linear between evaluated values) crosses
    zero, None if it does not within ``between``. ``attrs["breakeven_ci"]``: the values
    around it at which the 95% interval of the difference still contains zero, i.e. the
    values Monte Carlo noise cannot tell from the break-even ([lo, hi]; an end at a bound
    of ``between`` is marked in ``attrs["breakeven_ci_clipped"]``).
    """
    kpi = check_kpi(kpi)
    policy_a, policy_b = check_pair(scenario, policy_a, policy_b)
    check_movable(scenario, param, [policy_a, policy_b])
    lo_v, hi_v = (float(between[0]), float(between[1]))
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)) or lo_v >= hi_v:
        raise ScenarioError([f"--between: expected two numbers A < B (got {between[0]!r}, {between[1]!r})"],
                            "--between")
    if not 2 <= points <= 101:
        raise ScenarioError([f"--points: allowed range [2, 101] (got {points})"], "--points")
    if not 0 <= refine <= 30:
        raise ScenarioError([f"--refine: allowed range [0, 30] (got {refine})"], "--refine")
    _, _, is_int = bounds_of(param)
    values = [float(v) for v in np.linspace(lo_v, hi_v, points)]
    if is_int:
        values = sorted({float(round(v)) for v in values})
    reps = options.replications_for(scenario)

    def as_param(v: float) -> Any:
        return int(round(v)) if is_int else v

    resolved = check_points(scenario, [policy_a, policy_b], [((param, as_param(v)),) for v in values], reps,
                             options.max_work, more_runs=refine * reps,
                             counted=f"{len(values)} values + up to {refine} bisection steps x 2 policies x {reps} "
                                     "replications",
                             reduce="Use fewer --points, --refine steps or replications, or a narrower --between")
    progress = Progress(options.on_progress)
    curve: dict[float, dict[str, float]] = {}
    with options.pool() as ex:
        engine = Engine(scenario, replications=reps, seed=options.seed, crn=True, executor=ex, progress=progress,
                         resolved=resolved)

        def evaluate(vs: list[float]) -> None:
            cells = [Cell(((param, as_param(v)),), p) for v in vs for p in (policy_a, policy_b)]
            df = engine.run(cells)
            for v in vs:
                sub = df[df["_point"] == engine.point(((param, as_param(v)),))]
                s = paired(sub, kpi, policy_a, policy_b)
                curve[v] = {"mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}

        evaluate(values)
        for _ in range(refine):
            xs = sorted(curve)
            bracket = _first_sign_change(xs, [curve[x]["mean"] for x in xs])
            if bracket is None:
                break
            mid = (xs[bracket] + xs[bracket + 1]) / 2
            if is_int:
                mid = float(math.floor(mid))
            if mid in curve:
                break
            evaluate([mid])
    table = pd.DataFrame([{"value": v, **curve[v]} for v in sorted(curve)],
                         columns=["value", "mean", "ci_low", "ci_high"])
    table.attrs = {"param": param, "kpi": kpi, "policy_a": policy_a, "policy_b": policy_b,
                   **_breakeven_of(table, lo_v, hi_v), "replications": reps}
    return table


def _sign_changes(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[int, int]]:
    """Pairs (i, j) of consecutive points with a finite, non-zero mean and opposite signs
    (exact zeros between them are skipped: j > i + 1 means the tie itself was evaluated)."""
    idx = [k for k in range(len(xs)) if np.isfinite(ys[k]) and ys[k] != 0]
    return [(i, j) for i, j in zip(idx, idx[1:]) if ys[i] * ys[j] < 0]


def _first_sign_change(xs: Sequence[float], ys: Sequence[float]) -> int | None:
    """Index i of the first pair (i, i+1) whose means have strictly opposite signs, if bisection
    can still narrow it (no evaluated tie in between)."""
    pairs = _sign_changes(xs, ys)
    if pairs and pairs[0][1] == pairs[0][0] + 1:
        return pairs[0][0]
    return None


def _root(x0: float, x1: float, y0: float, y1: float) -> float:
    return x0 if y0 == y1 else x0 + (x1 - x0) * (0 - y0) / (y1 - y0)


def _breakeven_of(table: pd.DataFrame, lo_v: float, hi_v: float) -> dict[str, Any]:
    """Break-even and its Monte Carlo interval from a curve table (see :func:`breakeven`)."""
    xs = table["value"].to_numpy(float)
    mean = table["mean"].to_numpy(float)
    # Sign changes between non-zero means. A mean of exactly 0 between opposite signs is the
    # crossing itself; elsewhere it is two policies behaving identically at that value (a
    # per-ticket fee of 0 is flat pricing), listed under "ties" but not a break-even.
    crossings = [_root(xs[i], xs[j], mean[i], mean[j]) if j == i + 1 else float(np.median(xs[i + 1:j]))
                 for i, j in _sign_changes(xs, mean)]
    out: dict[str, Any] = {"breakeven": None, "breakeven_ci": None, "breakeven_ci_clipped": False,
                           "crossings": [float(c) for c in crossings],
                           "ties": [float(x) for x, m in zip(xs, mean) if m == 0]}
    if not crossings:
        finite = mean[np.isfinite(mean) & (mean != 0)]
        covers = (table["ci_low"].to_numpy(float) <= 0) & (table["ci_high"].to_numpy(float) >= 0)
        if len(finite) and covers.all():  # no point tells the two apart: nobody is "ahead"
            out["sign"] = "indistinguishable"
        elif len(finite):
            out["sign"] = "policy_b ahead everywhere" if (finite > 0).all() else (
                "policy_a ahead everywhere" if (finite < 0).all() else "mixed")
        return out
    star = crossings[0]
    # Where does the interval contain zero? Piecewise-linear band edges on a fine grid.
    fine = np.linspace(xs[0], xs[-1], 4001)
    low = np.interp(fine, xs, table["ci_low"].to_numpy(float))
    high = np.interp(fine, xs, table["ci_high"].to_numpy(float))
    inside = (low <= 0) & (high >= 0)
    if np.isnan(low).any() or np.isnan(high).any():
        out["breakeven"] = float(star)
        return out
    k = int(np.clip(np.searchsorted(fine, star), 0, len(fine) - 1))
    if not inside[k]:  # numerically next to the root: take the nearest point inside
        idx = np.flatnonzero(inside)
        k = int(idx[np.argmin(np.abs(fine[idx] - star))]) if len(idx) else k
    i = j = k
    while i > 0 and inside[i - 1]:
        i -= 1
    while j < len(fine) - 1 and inside[j + 1]:
        j += 1
    out["breakeven"] = float(star)
    out["breakeven_ci"] = [float(fine[i]), float(fine[j])]
    out["breakeven_ci_clipped"] = bool(i == 0 or j == len(fine) - 1)
    return out
