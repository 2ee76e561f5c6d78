"""The ``supportsim`` command line: a thin caller of the params, runs and output layers.

Where it sits: **cli**, the entry point. It parses the command line with :mod:`sim.cli.parser`
(argparse and plain data only) and only then imports what the verb needs, as pip imports its
commands: ``supportsim --help`` and ``supportsim VERB --help`` never load numpy, pandas, SimPy,
matplotlib or python-pptx. :mod:`sim.cli.execute` runs the verb (signals, exit codes: 0 success,
1 could not write output, 2 invalid input, 130 interrupted).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from sim.cli.parser import EXIT_INVALID, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code. Called without ``argv`` (the ``supportsim`` program),
    signals stay handled, only counted, until the process has exited."""
    args = build_parser().parse_args(argv)
    if getattr(args, "quiet_needs_out", False) and args.quiet and args.out is None:
        print(f"error: supportsim {args.command}: --quiet without --out would print nothing and write nothing; "
              "give --out DIR (or drop --quiet)", file=sys.stderr)
        return EXIT_INVALID
    # The verbs' machinery (and through it the model) is imported only now that a verb runs.
    execute = importlib.import_module("sim.cli.execute")
    return execute.run_verb(args, in_process=argv is not None)
