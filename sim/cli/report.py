"""``supportsim report``: run a scenario and write its one-page HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli.common import decision_arg, run_and_write, run_option_args, scenario_args
from sim.output.report import write_report


def cmd_report(args: argparse.Namespace) -> int:
    return run_and_write(args, "report", write_report)


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
