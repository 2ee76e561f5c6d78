"""``supportsim deck``: run a scenario and write a 16:9 PowerPoint deck of its results."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli.common import decision_arg, run_and_write, run_option_args, scenario_args
from sim.output.deck import write_deck
from sim.output.optimise_read import check_optimum_scenario, read_optimum
from sim.params.scenario import ScenarioError
from sim.params.schema import Scenario


def cmd_deck(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".pptx":
        raise ScenarioError([f"--out {args.out}: a deck is a .pptx file"], "--out")
    if args.out.is_dir():
        raise ScenarioError([f"--out {args.out}: is a folder; give a file name ending in .pptx"], "--out")

    def optimum(scenario: Scenario) -> dict[str, Any]:
        """``--optimum DIR`` read and checked against the deck's scenario, before anything runs."""
        if args.optimum is None:
            return {}
        found = read_optimum(args.optimum)
        check_optimum_scenario(found, scenario, folder=args.optimum)
        return {"optimum": found}

    return run_and_write(args, "deck", write_deck, check=optimum, options=("optimum",))


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``supportsim deck`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "deck", help="run a scenario and write a 16:9 PowerPoint deck",
        description="Run every policy of a scenario and write a 16:9 .pptx: the recommendation, the KPI table with "
                    "95% CIs, the value bridge of each policy against the reference, tickets raised vs suppressed, "
                    "the satisfaction ladder and the assumptions with sources; with --decision, also a \"How sure are "
                    "we?\" slide (probability each policy is best, EVPPI) and the decision map; with --optimum, \"The "
                    "best design\" slide (the design `supportsim optimise` chose, its KPI on fresh replications and "
                    "its guarantee). Speaker notes carry the command that reproduces the numbers. Written atomically.",
        epilog="example: supportsim decide scenarios/baseline.toml --samples 200 --out results/decide && "
               "supportsim deck scenarios/baseline.toml --out deck.pptx --decision results/decide")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="the .pptx file to write (replaced)")
    run_option_args(p)
    decision_arg(p)
    p.add_argument(
        "--optimum", type=Path, metavar="DIR",
        help="also show \"The best design\" slide from the folder `supportsim optimise --out DIR` wrote (optimum.json, "
             "trials.csv), checked on read. It must have been made on the same scenario: the same file, --set and "
             "--seed options; otherwise exit 2")
    p.set_defaults(func=cmd_deck)
    return p
