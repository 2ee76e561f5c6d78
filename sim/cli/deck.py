"""``supportsim deck``: run a scenario and write a 16:9 PowerPoint deck of its results."""

from __future__ import annotations

import argparse
from typing import Any

from sim.cli.common import run_and_write
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


