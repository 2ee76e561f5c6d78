"""``supportsim report``: run a scenario and write its one-page HTML report."""

from __future__ import annotations

import argparse

from sim.cli.common import run_and_write
from sim.output.report import write_report


def cmd_report(args: argparse.Namespace) -> int:
    return run_and_write(args, "report", write_report)


