"""``supportsim deck``: run a scenario and write a 16:9 PowerPoint deck of its results."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from sim.cli.common import load_scenario, run_option_args, run_options, scenario_args
from sim.output.deck import write_deck
from sim.params.scenario import ScenarioError
from sim.runs.experiment import run_scenario


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces the deck (in every slide's speaker notes)."""
    parts = ["supportsim", "deck", str(args.scenario), "--out", str(args.out)]
    if args.replications is not None:
        parts += ["--replications", str(args.replications)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    for o in args.overrides:
        parts += ["--set", o]
    return " ".join(shlex.quote(p) for p in parts)


def cmd_deck(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".pptx":
        raise ScenarioError([f"--out {args.out}: a deck is a .pptx file"], "--out")
    if args.out.is_dir():
        raise ScenarioError([f"--out {args.out}: is a folder; give a file name ending in .pptx"], "--out")
    scenario = load_scenario(args)
    res = run_scenario(scenario, **run_options(args, "deck").kwargs())
    path = write_deck(res, args.out, command=command_line(args))
    if not args.quiet:
        sys.stdout.write(f"wrote {path}\n")
    return 0


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``supportsim deck`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "deck", help="run a scenario and write a 16:9 PowerPoint deck",
        description="Run every policy of a scenario and write a 16:9 .pptx: the recommendation, the KPI table with "
                    "95% CIs, the value bridge of each policy against the reference, tickets raised vs suppressed, "
                    "the satisfaction ladder and the assumptions with sources; speaker notes carry the command "
                    "that reproduces the numbers. Written atomically.")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="the .pptx file to write (replaced)")
    run_option_args(p)
    p.set_defaults(func=cmd_deck)
    return p
