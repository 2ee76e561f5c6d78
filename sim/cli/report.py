"""``supportsim report``: run a scenario and write its one-page HTML report."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from sim.cli.common import load_scenario, run_option_args, run_options, scenario_args
from sim.output.report import write_report
from sim.runs.experiment import run_scenario


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces the report (shown in it)."""
    parts = ["supportsim", "report", str(args.scenario), "--out", str(args.out)]
    if args.replications is not None:
        parts += ["--replications", str(args.replications)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    for o in args.overrides:
        parts += ["--set", o]
    return " ".join(shlex.quote(p) for p in parts)


def cmd_report(args: argparse.Namespace) -> int:
    scenario = load_scenario(args)
    res = run_scenario(scenario, **run_options(args, "report").kwargs())
    path = write_report(res, args.out, command=command_line(args))
    if not args.quiet:
        sys.stdout.write(f"wrote {path}\n")
    return 0


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``supportsim report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="run a scenario and write a one-page HTML report",
        description="Run every policy of a scenario and write DIR/report.html: headline KPIs with 95% CIs, "
                    "the key plots (embedded) and the assumptions table. Written atomically.")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder; report.html is written (replaced) there")
    run_option_args(p)
    p.set_defaults(func=cmd_report)
    return p
