"""``supportsim report``: run a scenario and write its one-page HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.cli.common import (
    decision_arg,
    load_decision,
    load_scenario,
    reproduce_command,
    run_option_args,
    run_options,
    scenario_args,
)
from sim.output.report import write_report
from sim.runs.experiment import run_scenario


def cmd_report(args: argparse.Namespace) -> int:
    scenario = load_scenario(args)
    decision = load_decision(args, scenario)  # a bad --decision fails before anything runs
    res = run_scenario(scenario, **run_options(args, "report").kwargs())
    path = write_report(res, args.out, command=reproduce_command("report", args, "decision"),
                        decision=decision)
    if not args.quiet:
        sys.stdout.write(f"wrote {path}\n")
    return 0


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``supportsim report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="run a scenario and write a one-page HTML report",
        description="Run every policy of a scenario and write DIR/report.html: headline KPIs with 95% CIs, "
                    "the key plots (embedded) and the assumptions table; with --decision, also how sure the "
                    "recommendation is under the uncertain assumptions (an Uncertainty section). Written atomically.",
        epilog="example: supportsim decide scenarios/baseline.toml --samples 200 --out results/decide && "
               "supportsim report scenarios/baseline.toml --out results/report --decision results/decide")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder; report.html is written (replaced) there")
    run_option_args(p)
    decision_arg(p)
    p.set_defaults(func=cmd_report)
    return p
