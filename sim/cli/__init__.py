"""The command line: argparse and printing live here and nowhere else in ``sim``.

Owns: the ``supportsim`` verbs (run, validate, schema, report, calibrate and the studies),
their arguments, progress bars and exit codes. Calls down into every layer; nothing in
``sim`` imports it.
"""

from sim.cli.main import main

__all__ = ["main"]
