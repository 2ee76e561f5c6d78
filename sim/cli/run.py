"""``supportsim run``, ``validate`` and ``schema``: run every policy of a scenario, check a file,
print the schema.

Where it sits: **cli** (a verb module: imported when one of its verbs runs, see
:mod:`sim.cli.main`). A run ends with its verdict and the paired differences from the
reference policy, the numbers above it come to.
"""

from __future__ import annotations

import argparse
import json
import sys

from sim.cli.common import load_scenario, run_options
from sim.cli.studies import precision_from_args
from sim.output import findings, fmt
from sim.output.files import output_target, run_to_dir
from sim.output.fmt import terminal
from sim.params.scenario import policy_labels, resolve_policies
from sim.params.schema import Scenario
from sim.runs.metrics import KPIS
from sim.runs.promises import promises_table, unkeepable_warnings


def warn_unkeepable(scenario: Scenario) -> None:
    """Say on stderr which promises the desk's hours cannot keep for more than a few percent of
    tickets, whatever the roster (sim.runs.promises)."""
    for line in unkeepable_warnings(promises_table(scenario)):
        print(f"warning: {terminal(line)}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args)
    policies = resolve_policies(scenario)
    print(f"{terminal(args.scenario)}: valid - scenario '{terminal(scenario.scenario.name)}', "
          f"{len(policies)} policies ({', '.join(terminal(p.name) for p in policies)}), "
          f"{scenario.run.months} months, {scenario.run.replications} replications", flush=True)
    warn_unkeepable(scenario)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    output_target(args.out, force=args.force)  # before anything runs
    scenario = load_scenario(args)
    options = run_options(args)
    warn_unkeepable(scenario)
    # streams each finished replication to disk (see sim.output.files.run_to_dir); on Ctrl-C with
    # --keep-partial the finished ones are written, marked partial, and Interrupted reaches main
    res = run_to_dir(scenario, args.out, options=options, plots=not args.no_plots, pdf=args.pdf,
                     precision=precision_from_args(args), keep_partial=args.keep_partial, force=args.force)
    if res.precision is not None and not args.quiet:
        pr = res.precision
        print(f"precision: {pr['replications']} replications; target {'met' if pr['met'] else 'NOT met (cap reached)'}")
    if not args.quiet:
        _print_summary(res)
        _print_verdict(res)
        print(f"wrote {terminal(args.out)}/monthly.csv, kpis.csv, summary.json" + ("" if args.no_plots else ", plots/"))
    return 0


def _print_summary(res) -> None:  # noqa: ANN001
    summary = res.summary()
    print(f"\nscenario '{terminal(res.scenario.scenario.name)}' (sha256 {res.scenario_sha256[:12]}), "
          f"{res.replications} replications, seed {res.seed}; mean [95% CI]")
    for p in res.policies:
        print(f"  {terminal(p)}")
        for k, kpi in KPIS.items():
            s = summary[p][k]
            print(f"    {kpi.title:<30} {s['mean']:>14,.2f}  [{s['ci_low']:,.2f}, {s['ci_high']:,.2f}]")


VERDICT_KPIS = ("value_usd", "cumulative_profit")  # the paired differences a run ends with


def _print_verdict(res) -> None:  # noqa: ANN001
    """The verdict (the best policy on value and how clear its lead is) and every policy's paired
    difference from the reference in value and profit: what the numbers above come to."""
    if len(res.policies) < 2:
        return
    rec = findings.recommend(res)
    print(f"\nverdict: {terminal(rec.sentence)}")
    for line in (rec.clarity, rec.trade_off, rec.terminal):
        if line and line != rec.sentence:
            print(f"  {terminal(line)}")
    labels = policy_labels(res.scenario)
    diffs = res.differences()
    print(f"\npaired differences vs the reference, {terminal(labels[res.reference])} "
          f"({res.replications} replications; mean (95% CI of the mean))")
    for p in res.policies:
        if p == res.reference:
            continue
        print(f"  {terminal(labels[p])}")
        for k in VERDICT_KPIS:
            s = diffs[p][k]
            print(f"    {KPIS[k].title:<30} {fmt.kpi(k, s['mean'], signed=True):>10}  "
                  f"({fmt.interval(k, s, signed=True)})")
            share = findings.terminal_share(res, p, res.reference) if k == "value_usd" else float("nan")
            if share == share:  # how much of the value difference is customers beyond the horizon
                print(f"      {share:.0%} of it terminal value (customers still paying at month "
                      f"{res.scenario.run.months}, valued beyond it)")
