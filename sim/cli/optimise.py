"""``supportsim optimise``: the best design of one policy, with a stated guarantee.

Where it sits: a thin caller of :func:`sim.runs.optimise.optimise` and
:func:`sim.output.optimise_files.write_optimise`, plugged into ``sim.cli`` by
:func:`add_command`; ``--robust`` draws its worlds with the decision layer's sampler
(:func:`sim.decision.sampling.draw`). Printing happens only here. Output is written atomically
after every run has finished, so Ctrl-C (exit 130) or a killed run leaves the previous output.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

import pandas as pd

from sim.cli.common import load_scenario, printable, run_options
from sim.cli.parser import OPTION_DEFAULTS
from sim.decision import sampling
from sim.output import files, fmt
from sim.output.optimise_files import answer, write_optimise
from sim.params.scenario import ScenarioError, uncertain_parameters
from sim.params.schema import Scenario
from sim.runs import metrics
from sim.runs.optimise import optimise


def robust_worlds(scenario: Scenario, n: int) -> pd.DataFrame:
    """``n`` parameter sets from the scenario's ``[uncertainty]`` table (Latin hypercube from the
    scenario seed, the sampler of ``supportsim decide``), shared by every trial."""
    parameters = uncertain_parameters(scenario)
    if not parameters:
        raise ScenarioError(["--robust: the scenario has no [uncertainty] table to average over (see docs/decisions.md, "
                             "'The method')"], "--robust")
    return sampling.draw(parameters, sampling.design_points(n, len(parameters), seed=scenario.run.seed))


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


def cmd_optimise(args: argparse.Namespace) -> int:
    if args.out is not None:
        files.output_target(args.out, force=args.force)  # before anything runs
    scenario = load_scenario(args, record_replications=False)  # --replications is per trial
    options = run_options(args, "optimise")  # the cluster address checked before anything runs
    worlds = robust_worlds(scenario, args.worlds) if args.robust else None
    result = optimise(scenario, policy=args.policy, params=args.param, kpi=args.kpi or ["value_usd"],
                      constraints=args.constraint, trials=args.trials, worlds=worlds, candidates=args.candidates,
                      delta=args.delta, first_stage=args.first_stage, max_fresh=args.max_fresh, batch=args.batch,
                      options=options)
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


