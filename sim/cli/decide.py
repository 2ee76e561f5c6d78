"""``supportsim decide``: which policy to choose under uncertainty, and what to research first.

Where it sits: a thin caller of :func:`sim.decision.psa.run_decision` and
:func:`sim.output.decision_files.write_decision`, plugged into ``sim.cli`` by
:func:`add_command`. Printing happens only here. Output is written atomically after every run
has finished, so Ctrl-C (exit 130) or a killed run leaves the previous output or none.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from sim.cli.common import load_scenario, printable, reproduce_command, run_options
from sim.decision.psa import DEFAULT_KPI, EVPPI_NOT_ADDITIVE, run_decision
from sim.output.decision_files import write_decision
from sim.output.fmt import DASH, terminal
from sim.output.report import held_fixed_rows
from sim.runs import metrics


def _share(x: float) -> str:
    """A share of the EVPI as a percentage; "–" when there is no EVPI to share (it is $0)."""
    return f"{x:.1%}" if math.isfinite(x) else DASH

def cmd_decide(args: argparse.Namespace) -> int:
    scenario = load_scenario(args, record_replications=False)  # --replications is per parameter set
    result = run_decision(scenario, samples=args.samples, kpi=args.kpi, design=args.design, sobol=args.sobol,
                          sobol_samples=args.sobol_samples, options=run_options(args, "decide"))
    result.command = command_line(args)
    if args.out is not None:
        write_decision(result, args.out, plots=not args.no_plots, pdf=args.pdf)
    if not args.quiet:
        _print_tables(result)
    print("\n".join(terminal(line) for line in result.answer()))
    if args.out is not None and not args.quiet:
        print(f"wrote {terminal(args.out)}/decision.json, psa.csv" + ("" if args.no_plots else ", plots/"))
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces the decision (kept in decision.json, shown in the deck's notes):
    the options that change the result, those left at their defaults omitted."""
    options = ["samples"] + [name for name, default in (("design", "lhs"), ("kpi", DEFAULT_KPI))
                             if getattr(args, name) != default]
    if args.replications == 1:  # the default: left out, as the app's command leaves it out
        args = argparse.Namespace(**{**vars(args), "replications": None})
    if args.sobol:
        options += ["sobol", "sobol_samples"]
    return reproduce_command("decide", args, *options)


def _print_tables(result: Any) -> None:
    t = result.policies.copy()
    t["prob_best"] = [f"{p:.1%} ({lo:.1%} to {hi:.1%})" for p, lo, hi in
                      zip(t["prob_best"], t["prob_best_low"], t["prob_best_high"])]
    t = t.drop(columns=["prob_best_se", "prob_best_low", "prob_best_high", "recommended"])
    print(f"\n{metrics.KPIS[result.kpi].title if result.kpi in metrics.KPIS else result.kpi} over {result.samples} parameter samples x "
          f"{result.replications} replication(s), seed {result.seed} (scenario sha256 {result.scenario_sha256[:12]})")
    print(printable(t).to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    print(f"\nEVPI {result.evpi:,.0f} USD (sample formula, with simulation noise: {result.evpi_sample:,.0f}); "
          "EVPPI per parameter:")
    e = result.evppi[["parameter", "evppi_usd", "share_of_evpi", "distribution"]].copy()
    e["share_of_evpi"] = e["share_of_evpi"].map(_share)
    if "evppi_se" in result.evppi.columns:  # its Monte Carlo uncertainty, where a bootstrap was feasible
        e.insert(2, "95% ±", 1.96 * result.evppi["evppi_se"].to_numpy(dtype=float))
    print(printable(e).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"note: {EVPPI_NOT_ADDITIVE}")
    head, *rows = held_fixed_rows(result.scenario)
    print("\nWhat the decision holds fixed (not sampled: the answer is which policy is best given these):")
    width = max(len(r[0]) for r in rows) if rows else 0
    for name, value in rows:
        print(f"  {terminal(name):<{width}}  {terminal(value)}")
    if result.evppi_groups is not None and len(result.evppi_groups):
        print("\nEVPPI of groups of assumptions learnt together (they overlap: EVPPIs do not add up):")
        g = result.evppi_groups[["group", "evppi_usd", "share_of_evpi"]].copy()
        g["share_of_evpi"] = g["share_of_evpi"].map(_share)
        g["parameters"] = [len(str(v).split(", ")) for v in result.evppi_groups["parameters"]]
        print(printable(g).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    for note in result.notes:
        print(f"note: {terminal(note)}")
    if result.sobol is not None:
        print(f"\nSobol indices of {terminal(result.sobol_meta['difference'])} ({result.sobol_meta['points']} design points):")
        print(printable(result.sobol).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()


