"""``python -m sim.cli``: the same entry point as the ``supportsim`` command."""

import sys

from sim.cli.main import main

sys.exit(main())
