"""What a calibration offers, as data: the export presets by kind, the periods a cohort table
shows, the hazard fit's sample cap.

Where it sits: read by ``presets``, ``retention``, ``supportfit`` and by the command line's help
(``supportsim calibrate --help`` lists the presets and defaults without loading numpy, pandas or
pyarrow). Plain constants only: this module imports nothing.
"""

from __future__ import annotations

# Every export preset and the file it reads (``presets.PRESETS`` holds each one's headers;
# tests/test_calibrate_presets.py checks the two agree).
PRESET_KINDS = {"zendesk": "tickets", "freshdesk": "tickets", "intercom": "tickets", "helpscout": "tickets",
                "stripe": "customers", "chargebee": "customers"}
TICKET_PRESETS = tuple(k for k, kind in PRESET_KINDS.items() if kind == "tickets")
CUSTOMER_PRESETS = tuple(k for k, kind in PRESET_KINDS.items() if kind == "customers")

PERIODS_SHOWN = 12  # renewal periods shown in cohort tables and projections
MAX_CUSTOMERS = 150_000  # customers in the hazard fit (a seeded sample above this; its cost grows with them)
