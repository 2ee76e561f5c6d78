"""Command-line verbs for experiments at scale: ``sweep``, ``breakeven``, ``sensitivity``,
``staff``, and the ``run`` options for precision mode, Dask clusters and partial results.

Where it sits: a thin caller of :mod:`sim.runs.studies` and :mod:`sim.runs.experiment`, plugged into
``sim.cli`` by :func:`add_commands` and :func:`add_precision_options`. Tables are written with
``sim.output.files`` (atomically, with provenance columns); printing happens only here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.base.atomic import json_safe
from sim.cli.common import (
    PartialKept,
    load_scenario,
    policies_arg,
    printable,
    run_options,
)
from sim.output import files, findings, plots, study_plots
from sim.output import fmt as number
from sim.params.scenario import ScenarioError, policy_labels, resolve_policies, scenario_hash
from sim.params.schema import Scenario
from sim.runs import metrics, paths, staffing, tornado
from sim.runs import studies as analysis
from sim.runs.experiment import Precision
from sim.runs.grid import check_kpi

# ---------------------------------------------------------------------------- shared options


def precision_from_args(args: argparse.Namespace) -> Precision | None:
    """The :class:`sim.runs.experiment.Precision` rule asked for on the command line, or None."""
    if not getattr(args, "precision", None):
        return None
    return Precision.parse(args.precision, kpi=args.precision_kpi, on=args.precision_on,
                           max_replications=args.max_replications)


def _load(args: argparse.Namespace) -> Scenario:
    # a study runs --replications per point itself: only the seed is recorded in the scenario
    if getattr(args, "out", None) is not None:
        files.output_target(args.out, force=args.force)  # before anything runs
    return load_scenario(args, record_replications=False)


def _pair(args: argparse.Namespace) -> tuple[str | None, str | None]:
    names = policies_arg(args.policies)
    if names is None:
        return None, None
    if len(names) != 2:
        raise ScenarioError([f"--policies {args.policies!r}: give exactly two policies A,B (B - A is reported)"],
                            "--policies")
    return names[0], names[1]


def _provenance(scenario: Scenario, args: argparse.Namespace, attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        "supportsim_version": __version__,
        "command": args.command,
        "scenario_name": scenario.scenario.name,
        "scenario_sha256": scenario_hash(scenario),
        "seed": scenario.run.seed if args.seed is None else args.seed,
        "months": scenario.run.months,
        **attrs,
        "scenario": scenario.model_dump(mode="json"),
    }


def _write(out: Path, scenario: Scenario, args: argparse.Namespace, tables: dict[str, pd.DataFrame],
           meta: dict[str, Any], figures: dict[str, Any] | None = None) -> None:
    """Tables as CSV (with the provenance columns of sim.output.files), one JSON and the study's
    ``figures`` (name -> Axes, saved as PNG and SVG), atomically."""
    stamp = files.provenance(scenario.run.seed if args.seed is None else args.seed, scenario_hash(scenario))
    with files.atomic_dir(out, force=args.force) as tmp:
        for name, df in tables.items():
            files.write_table(df, stamp, tmp / name)
        body = json_safe(_provenance(scenario, args, meta))
        (tmp / f"{args.command}.json").write_text(json.dumps(body, indent=2, default=str) + "\n")
        for name, ax in (figures or {}).items():
            plots.save_figure(ax.figure, tmp / name)


def _meta(scenario: Scenario, args: argparse.Namespace) -> plots.Meta:
    """The footer and file metadata of a study's plots."""
    seed = scenario.run.seed if args.seed is None else args.seed
    return plots.Meta(scenario.scenario.name, scenario_hash(scenario), args.replications or scenario.run.replications,
                      seed=seed, labels=policy_labels(scenario), months=scenario.run.months,
                      command=" ".join(["supportsim", *sys.argv[1:]]) if sys.argv[1:] else None)


def column_format(values: pd.Series) -> Any:
    """One format for a whole numeric column, as :func:`sim.output.fmt.cell` would pick for its
    largest value: every row of a column reads alike (0.50, 1.00, 1.50, not 0.5, 1, 1.50)."""
    x = pd.to_numeric(values, errors="coerce").dropna()
    if x.empty or (x == x.round()).all():
        return number.cell
    largest = float(x.abs().max())
    spec = ",.0f" if largest >= 100 else (",.2f" if largest >= 1 else ".4g")
    return lambda v: number.cell(v) if v is None or v != v else format(v, spec)


def _print_table(df: pd.DataFrame, *, per_row: tuple[str, ...] = ()) -> None:
    """A study table with one number format per column (``per_row``: columns whose rows hold
    different parameters, each formatted on its own)."""
    print(printable(df).to_string(index=False, formatters={c: number.cell if c in per_row else column_format(df[c])
                                                for c in df.columns
                                                if pd.api.types.is_numeric_dtype(df[c])
                                                and not pd.api.types.is_bool_dtype(df[c])}))


def _difference_line(kpi: str, a: str, b: str, s: dict[str, float] | pd.Series, labels: dict[str, str]) -> str:
    """ "Value, Per ticket − Flat: -$1.2M (95% CI -$1.4M to -$1.0M), paired by replication"."""
    ci = number.interval(kpi, dict(s), signed=True)
    return (f"{metrics.KPIS[kpi].label}, {number.terminal(labels.get(b, b))} − {number.terminal(labels.get(a, a))}: "
            f"{number.kpi(kpi, float(s['mean']), signed=True)} (95% CI {ci}), paired by replication")


# ---------------------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    scenario = _load(args)
    grid = dict(paths.parse_grid_arg(a) for a in args.param)
    if len(grid) != len(args.param):
        raise ScenarioError(["--param: the same parameter is given twice"], "--param")
    kpi = check_kpi(args.kpi)
    notes = _staffing_note(scenario, grid)
    try:
        tidy = analysis.sweep(scenario, grid=grid, policies=policies_arg(args.policies),
                              options=run_options(args, "sweep"))
    except analysis.SweepInterrupted as exc:
        if not args.keep_partial or args.out is None or exc.tidy.empty:
            raise KeyboardInterrupt from None
        tidy = exc.tidy
    summary = analysis.sweep_summary(tidy)
    diffs = analysis.sweep_differences(tidy)
    partial = bool(tidy.attrs.get("partial"))
    if args.out is not None:
        figs = {}
        if not summary.empty and len(grid) in (1, 2):
            figs["sweep"] = study_plots.plot_sweep(summary, kpi=kpi, meta=_meta(scenario, args))
        _write(args.out, scenario, args, {"tidy.csv": tidy, "summary.csv": summary, "differences.csv": diffs},
               {**tidy.attrs, "grid": {k: list(v) for k, v in grid.items()}, "partial": partial}, figs)
    if not args.quiet:
        for note in notes:
            print(f"note: {number.terminal(note)}")
        show = summary[summary["kpi"] == kpi].drop(columns=["kpi"])
        print(f"\n{metrics.KPIS[kpi].title}: mean [95% CI] per grid point and policy")
        _print_table(show)
        d = diffs[diffs["kpi"] == kpi].drop(columns=["kpi"]) if "kpi" in diffs.columns else diffs
        if not d.empty:
            print(f"\n{metrics.KPIS[kpi].title}: paired difference vs the reference policy, per grid point")
            _print_table(d)
        if args.out is not None:
            print(f"wrote {number.terminal(args.out)}/tidy.csv, summary.csv, differences.csv, sweep.json, sweep.png/.svg/.pdf")
    if partial:
        raise PartialKept(f"{len(tidy)} finished runs kept in {args.out} (partial)")  # printed by main
    return 0


def _staffing_note(scenario: Scenario, grid: dict[str, list[Any]]) -> list[str]:
    if "support.agents" in grid and "support.staffing" not in grid:
        erlang = [p.name for p in resolve_policies(scenario) if p.params.support.staffing != "fixed"]
        if erlang:
            return [f"support.agents only applies to fixed staffing; {', '.join(erlang)} staff by Erlang C "
                    "(add --set support.staffing=fixed)"]
    return []


# ---------------------------------------------------------------------------- breakeven


def breakeven_pair(scenario: Scenario, param: str, a: str | None, b: str | None) -> tuple[str, str]:
    """The two policies a break-even over ``param`` compares, checked before any run.

    ``policies.NAME.PATH`` moves one policy only, so it always separates two policies. A base
    parameter must act on at least one of them, or it cannot move their difference: refused at
    once, naming the policies it does act on. Without ``--policies``: the reference and the
    first other policy it acts on.
    """
    policies = {p.name: p for p in resolve_policies(scenario)}
    names = list(policies)
    if len(names) < 2:
        raise ScenarioError(["breakeven compares two policies; the scenario has one"], "--policies")
    ref = scenario.scenario.reference_policy or names[0]
    if param.startswith("policies."):
        return (a or ref), (b or next(n for n in names if n != (a or ref)))
    acting = [n for n in names if paths.acts_on(param, policies[n])]
    if a is None:
        a = ref
        b = next((n for n in names if n != a and n in acting), None) or next(n for n in names if n != a)
    if b is not None and a not in acting and b not in acting:
        switch, values = paths.acting_switch(param) or ("", ())
        hint = (f"it acts on {', '.join(acting)}: try --policies {a},{acting[0]}" if acting
                else "no policy of this scenario uses it")
        raise ScenarioError([f"--param {param}: acts only when {switch} is "
                             f"{' or '.join(str(v).lower() for v in values)}, which neither {a} nor {b} has, so it "
                             f"cannot change their difference; {hint}"], "--param")
    return a, b  # type: ignore[return-value]


def cmd_breakeven(args: argparse.Namespace) -> int:
    scenario = _load(args)
    policy_a, policy_b = _pair(args)
    policy_a, policy_b = breakeven_pair(scenario, args.param, policy_a, policy_b)
    curve = analysis.breakeven(scenario, param=args.param, between=(args.between[0], args.between[1]), kpi=args.kpi,
                               policy_a=policy_a, policy_b=policy_b, points=args.points, refine=args.refine,
                               options=run_options(args, "breakeven"))
    a = curve.attrs
    labels = policy_labels(scenario)
    if a["breakeven"] is None:  # what the curve says (breakeven.json, the chart and the print alike)
        a["verdict"] = findings.curve_without_crossing(
            curve, sign=str(a.get("sign", "")), a_label=labels.get(policy_a, policy_a),
            b_label=labels.get(policy_b, policy_b), where="the range tried")
    if args.out is not None:
        ax = study_plots.plot_breakeven(curve, meta=_meta(scenario, args), policies=list(policy_labels(scenario)))
        _write(args.out, scenario, args, {"curve.csv": curve}, dict(a), {"breakeven": ax})
    if not args.quiet:
        print(f"\n{metrics.KPIS[a['kpi']].title}: {a['policy_b']} - {a['policy_a']} (paired, mean [95% CI]) "
              f"by {number.terminal(a['param'])}")
        _print_table(curve)
        if a["breakeven"] is not None:
            lo, hi = a["breakeven_ci"] or (None, None)
            clipped = " (reaches the end of --between)" if a.get("breakeven_ci_clipped") else ""
            print(f"\nbreak-even {number.terminal(a['param'])} = {number.cell(a['breakeven'])}; values from {number.cell(lo)} to {number.cell(hi)} "
                  f"cannot be told apart from it at 95%{clipped}")
        else:
            print(f"\nno break-even in [{number.cell(args.between[0])}, {number.cell(args.between[1])}]: "
                  f"{number.terminal(a['verdict'])}")
        if args.out is not None:
            print(f"wrote {number.terminal(args.out)}/curve.csv, breakeven.json, breakeven.png/.svg/.pdf")
    return 0


# ---------------------------------------------------------------------------- sensitivity


def cmd_sensitivity(args: argparse.Namespace) -> int:
    scenario = _load(args)
    policy_a, policy_b = _pair(args)
    ranges = dict(paths.parse_range_arg(r) for r in args.range)
    table = tornado.sensitivity(scenario, kpi=args.kpi, policy_a=policy_a, policy_b=policy_b,
                                 parameters=args.param or None, delta=args.delta, ranges=ranges,
                                 documented_ranges=args.documented_ranges, options=run_options(args, "sensitivity"))
    a = table.attrs
    if args.out is not None:
        figs = {"tornado": study_plots.plot_tornado(table, meta=_meta(scenario, args))} if len(table) else {}
        _write(args.out, scenario, args, {"tornado.csv": table}, dict(a), figs)
    if not args.quiet:
        labels = policy_labels(scenario)
        if len(table) and a.get("base_ci"):
            lo, hi = a["base_ci"]
            base = {"mean": float(table["base_mean"].iloc[0]), "ci_low": lo, "ci_high": hi}
            print("\n" + _difference_line(a["kpi"], a["policy_a"], a["policy_b"], base, labels))
        print(f"\n{metrics.KPIS[a['kpi']].title}: {a['policy_b']} - {a['policy_a']} (paired); base "
              f"{number.kpi(a['kpi'], table['base_mean'].iloc[0] if len(table) else None, signed=True)}; "
              f"ranked by swing")
        cols = ["label", "low_value", "high_value", "low_mean", "high_mean", "swing"]
        _print_table(table[cols], per_row=("low_value", "high_value"))
        if args.out is not None:
            print(f"wrote {number.terminal(args.out)}/tornado.csv, sensitivity.json, tornado.png/.svg/.pdf")
    return 0


# ---------------------------------------------------------------------------- staff


def cmd_staff(args: argparse.Namespace) -> int:
    scenario = _load(args)
    agents = None
    if args.agents:
        agents = paths.parse_values(args.agents, name="--agents")
        if any(type(a) is not int for a in agents):
            raise ScenarioError([f"--agents {args.agents!r}: expected whole numbers, e.g. 4:12 or 5,8,10"], "--agents")
    table = staffing.staff(scenario, sla=args.sla, agents=agents, policies=policies_arg(args.policies),
                           strict=args.strict, options=run_options(args, "staff"))
    a = table.attrs
    if args.out is not None:
        _write(args.out, scenario, args, {"staff.csv": table}, dict(a))
    if not args.quiet:
        _print_table(table)
        rule = "lower 95% bound" if a["strict"] else "mean"
        print(f"\nfewest agents whose {rule} share of tickets answered within SLA reaches {a['sla_target']:.0%}:")
        for p, n in a["answer"].items():
            cost = a["support_cost_at_answer"][p]
            print(f"  {p:<24} " + (f"{n} agents, support cost {cost:,.0f} USD/month" if n is not None
                                   else "not met within the agents tried"))
        if args.out is not None:
            print(f"wrote {number.terminal(args.out)}/staff.csv, staff.json")
    return 0


# ---------------------------------------------------------------------------- registration


