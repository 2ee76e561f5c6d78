"""``supportsim optimise``: the best design of one policy, with a stated guarantee.

Where it sits: a thin caller of :func:`sim.runs.optimise.optimise` and
:func:`sim.output.optimise_files.write_optimise`, plugged into ``sim.cli`` by
:func:`add_command`; ``--robust`` draws its worlds with the decision layer's sampler
(:func:`sim.decision.psa.draw`). Printing happens only here. Output is written atomically
after every run has finished, so Ctrl-C (exit 130) or a killed run leaves the previous output.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from sim.cli.common import force_arg, int_at_least, load_scenario, printable, progress_bar, scenario_args
from sim.decision import psa
from sim.output import files, fmt
from sim.output.optimise_files import answer, write_optimise
from sim.params.scenario import ScenarioError, uncertain_parameters
from sim.params.schema import Scenario
from sim.runs import metrics
from sim.runs.executors import check_cluster_address
from sim.runs.optimise import optimise

DEFAULT_WORLDS = 8


def robust_worlds(scenario: Scenario, n: int) -> pd.DataFrame:
    """``n`` parameter sets from the scenario's ``[uncertainty]`` table (Latin hypercube from the
    scenario seed, the sampler of ``supportsim decide``), shared by every trial."""
    parameters = uncertain_parameters(scenario)
    if not parameters:
        raise ScenarioError(["--robust: the scenario has no [uncertainty] table to average over (see docs/model.md, "
                             "'Decisions under uncertainty')"], "--robust")
    return psa.draw(parameters, psa.design_points(n, len(parameters), seed=scenario.run.seed))


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces the optimisation (kept in optimum.json and the figures)."""
    parts = ["supportsim", "optimise", str(args.scenario), "--policy", args.policy]
    for p in args.param:
        parts += ["--param", p]
    for k in args.kpi or []:
        parts += ["--kpi", k]
    for c in args.constraint:
        parts += ["--constraint", c]
    for name in ("trials", "replications", "candidates", "delta", "first_stage", "max_fresh", "batch", "seed"):
        value = getattr(args, name)
        if value is not None and value != OPTION_DEFAULTS.get(name):
            parts += ["--" + name.replace("_", "-"), str(value)]
    if args.robust:
        parts += ["--robust", "--worlds", str(args.worlds)]
    if args.out is not None:
        parts += ["--out", str(args.out)]
    for o in args.overrides:
        parts += ["--set", o]
    return " ".join(shlex.quote(p) for p in parts)


OPTION_DEFAULTS: dict[str, Any] = {"trials": 200, "replications": 4, "candidates": 5, "first_stage": 20,
                                   "max_fresh": 200, "batch": 8}


def cmd_optimise(args: argparse.Namespace) -> int:
    if args.out is not None:
        files.output_target(args.out, force=args.force)  # before anything runs
    scenario = load_scenario(args, record_replications=False)  # --replications is per trial
    if args.cluster:
        check_cluster_address(args.cluster)
    worlds = robust_worlds(scenario, args.worlds) if args.robust else None
    result = optimise(scenario, policy=args.policy, params=args.param, kpi=args.kpi or ["value_usd"],
                      constraints=args.constraint, trials=args.trials, replications=args.replications, worlds=worlds,
                      candidates=args.candidates, delta=args.delta, first_stage=args.first_stage,
                      max_fresh=args.max_fresh, batch=args.batch, workers=args.workers, cluster=args.cluster,
                      max_work=args.max_work, on_progress=progress_bar(args.quiet, "optimise"))
    result.command = command_line(args)
    if args.out is not None:
        write_optimise(result, args.out, force=args.force, plots=not args.no_plots)
    if not args.quiet:
        _print_candidates(result)
    print("\n".join(fmt.terminal(line) for line in answer(result)))
    if args.out is not None and not args.quiet:
        written = ["optimum.json", "trials.csv", "candidates.csv"]
        written += ["pareto.csv"] if result.pareto is not None else []
        written += ["worlds.csv"] if result.worlds is not None else []
        written += ["optimum.toml"] if result.chosen is not None else []
        out = fmt.terminal(args.out)
        print(f"wrote {out}/" + f", {out}/".join(written) + ("" if args.no_plots else f", {out}/plots/"))
    return 0


def _print_candidates(result: Any) -> None:
    kpi = result.kpi
    t = result.candidates
    paths = [d.path for d in result.dimensions]
    rows = []
    for r in t.to_dict("records"):
        rows.append({"candidate": r["label"], **{p: fmt.param(r[p]) for p in paths},
                     "search mean": fmt.kpi(kpi, r[f"search_{kpi}"]), "fresh n": r["fresh_n"],
                     "fresh mean": fmt.kpi(kpi, r["fresh_mean"]),
                     "fresh 95% CI": fmt.interval(kpi, {"ci_low": r["fresh_ci_low"], "ci_high": r["fresh_ci_high"]}),
                     "status": r["status"]})
    feasible = int(result.trials["feasible"].sum())
    print(f"\n{metrics.KPIS[kpi].title} of policy {fmt.terminal(result.policy)}: {len(result.trials)} trials x "
          f"{result.replications} replications ({feasible} feasible), seed {result.seed}, scenario sha256 "
          f"{result.scenario_sha256[:12]}; the candidates re-run on fresh replications:")
    print(printable(pd.DataFrame(rows)).to_string(index=False))
    print()


def add_command(sub: Any) -> None:
    """Register ``optimise`` on the CLI's sub-parsers."""
    kpis = ", ".join(metrics.KPIS)
    p = sub.add_parser(
        "optimise", help="the best design of one policy (fees, allowance, promise, hours) with a stated guarantee",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Search one policy's design for the highest expected KPI under constraints (seeded TPE, "
                    "Optuna; every trial on the same replications), then re-run the best designs and the file's "
                    "own on fresh replications and choose by Kim & Nelson's ranking-and-selection procedure: the "
                    "choice is within --delta of the best of those candidates with 95% probability, and its KPI "
                    "and 95% CI come from the fresh replications only. Writes optimum.json, trials.csv, "
                    "candidates.csv, optimum.toml (the scenario with policy NAME_optimised added) and plots/ into "
                    "--out, atomically.",
        epilog="""examples:
  supportsim optimise scenarios/baseline.toml --policy per_ticket \\
      --param pricing.per_ticket_fee_usd=0:60 --param pricing.included_tickets_per_month=0:5 \\
      --param support.sla_target_h=1:48:log --out results/opt
  supportsim optimise scenarios/baseline.toml --policy tiered --param customers.segments.0.tier_sla_h=2:48:log \\
      --param pricing.price_multiplier=0.8:1.5 --constraint avg_retention_rate_pct>=95 \\
      --constraint support_cost_share<=10% --out results/opt-tiered
  supportsim optimise scenarios/baseline.toml --policy flat --param pricing.price_multiplier=0.8:1.6 \\
      --param support.hours=24/7,weekly --kpi value_usd --kpi avg_retention_rate_pct --out results/pareto
  supportsim optimise scenarios/baseline.toml --policy flat --param pricing.price_multiplier=0.8:1.6 --robust

--param PATH=LO:HI searches a range (whole numbers for an integer parameter; :int forces them, :log
spaces a positive range by ratios), PATH=a,b,c a list of choices. PATH is any numeric or choice
parameter of the policy, e.g. pricing.per_ticket_fee_usd, customers.segments.0.tier_sla_h,
customers.segments.*.tier_priority (every segment alike), support.open_hour, vip.min_funding_usd.""")
    scenario_args(p)
    p.add_argument("--policy", required=True, metavar="NAME", help="the policy whose design is optimised")
    p.add_argument("--param", action="append", required=True, metavar="PATH=LO:HI[:int|:log] | PATH=a,b,c",
                   help="a parameter and its range or choices (repeatable)")
    p.add_argument("--kpi", action="append", metavar="KPI",
                   help=f"the KPI to maximise (or minimise, by its better direction; default value_usd); give two for a "
                        f"Pareto front (the first is the one selected on). One of: {kpis}")
    p.add_argument("--constraint", action="append", default=[], metavar="KPI>=X | KPI<=X",
                   help="a bound on a KPI's mean, e.g. avg_retention_rate_pct>=95, sla_met_share>=0.8, "
                        "support_cost_share<=10%% (repeatable)")
    p.add_argument("--trials", type=int_at_least(1), default=OPTION_DEFAULTS["trials"],
                   help="designs the search tries (default 200)")
    p.add_argument("--replications", type=int_at_least(1), default=OPTION_DEFAULTS["replications"],
                   help="replications per trial, the same numbers for every trial (default 4)")
    p.add_argument("--robust", action="store_true",
                   help="maximise the KPI's mean over --worlds parameter sets drawn from the scenario's [uncertainty] "
                        "table (each trial runs every world); the result says in how many worlds the chosen design "
                        "beats the file's own")
    p.add_argument("--worlds", type=int_at_least(2), default=DEFAULT_WORLDS,
                   help=f"parameter sets for --robust (default {DEFAULT_WORLDS}); multiplies every trial's runs")
    p.add_argument("--candidates", type=int_at_least(1), default=OPTION_DEFAULTS["candidates"],
                   help="best designs of the search re-run on fresh replications, with the file's own (default 5)")
    p.add_argument("--delta", type=float, metavar="X",
                   help="indifference zone in the KPI's unit: differences smaller than X do not matter (default: the "
                        "standard error of a trial's mean in the search)")
    p.add_argument("--first-stage", type=int_at_least(2), default=OPTION_DEFAULTS["first_stage"],
                   help="fresh replications of every candidate before any is screened out (default 20)")
    p.add_argument("--max-fresh", type=int_at_least(2), default=OPTION_DEFAULTS["max_fresh"],
                   help="most fresh replications of a candidate (default 200; reaching it voids the guarantee)")
    p.add_argument("--batch", type=int_at_least(1), default=OPTION_DEFAULTS["batch"],
                   help="trials proposed at a time (default 8; the result depends on it, not on --workers)")
    p.add_argument("--seed", type=int_at_least(0), help="master seed (default: the file's run.seed)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_at_least(0), default=0,
                       help="local processes (default 0: all cores; 1 = serial in this process)")
    where.add_argument("--cluster", metavar="tcp://HOST:PORT",
                       help="run on a Dask distributed scheduler instead of local processes; results are identical")
    p.add_argument("--max-work", type=int_at_least(1), default=None, metavar="CUSTOMER_MONTHS",
                   help="refuse runs above this many customer-months (default: $SUPPORTSIM_MAX_WORK or 2e9)")
    p.add_argument("--out", type=Path, help="output folder (replaced whole, atomically; default: print only)")
    force_arg(p)
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table; only the answer")
    p.set_defaults(func=cmd_optimise)
