"""``supportsim deck``: run a scenario and write a 16:9 PowerPoint deck of its results."""

from __future__ import annotations

import argparse

from sim.cli.common import run_and_write
from sim.output.deck import write_deck
from sim.params.scenario import ScenarioError


def cmd_deck(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".pptx":
        raise ScenarioError([f"--out {args.out}: a deck is a .pptx file"], "--out")
    if args.out.is_dir():
        raise ScenarioError([f"--out {args.out}: is a folder; give a file name ending in .pptx"], "--out")
    return run_and_write(args, "deck", write_deck)


