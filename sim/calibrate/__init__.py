"""Calibrate a scenario from a company's own data: customers.csv and tickets.csv exports.

Where it sits: company exports -> **calibrate** -> ``scenarios/NAME.toml`` -> ``sim.params.scenario``
-> model. Owns reading and checking the two exports (``ingest``), estimating the parameters they
identify with their uncertainty (``estimate``; the shifted-beta-geometric retention model in
``fits``), and writing the commented scenario file and the JSON report (``write``);
``synthetic`` turns a model trace into exports for round trips and the bundled example.

Imports point down only: ``sim.params``, ``sim.engine`` (Erlang C), ``sim.output.files``
(atomic writes). It must never import ``sim.cli`` or ``sim.app``, never parse arguments, never
print, and never run the model. Bad input raises :class:`CalibrationError` (a ``ScenarioError``:
the CLI prints it and exits 2) naming the file, row, column, value and what was expected.

The names below are loaded when first used (PEP 562), so ``sim.calibrate.catalogue`` (what the
command line's help lists) is read without numpy, pandas or pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names below are, for readers and type checkers
    from sim.calibrate.estimate import (  # noqa: F401
        MONTH_H,
        Calibration,
        Estimate,
        cohort_report,
        estimate_all,
        fit_handle_times,
        ladder_base_churn,
        patience_from_waits,
        renewal_periods,
    )
    from sim.calibrate.ingest import (  # noqa: F401
        CalibrationError,
        CustomerTable,
        TicketTable,
        parse_cohort,
        read_customers,
        read_tickets,
    )
    from sim.calibrate.synthetic import exports_from_trace  # noqa: F401
    from sim.calibrate.write import (  # noqa: F401
        calibrate,
        calibrate_files,
        render,
        report_dict,
        write_report,
        write_scenario,
    )

_HOME = {
    **dict.fromkeys(["MONTH_H", "Calibration", "Estimate", "cohort_report", "estimate_all", "fit_handle_times",
                     "ladder_base_churn", "patience_from_waits", "renewal_periods"], "estimate"),
    **dict.fromkeys(["CalibrationError", "CustomerTable", "TicketTable", "parse_cohort", "read_customers",
                     "read_tickets"], "ingest"),
    "exports_from_trace": "synthetic",
    **dict.fromkeys(["calibrate", "calibrate_files", "render", "report_dict", "write_report", "write_scenario"],
                    "write"),
}


def __getattr__(name: str) -> Any:
    """``sim.calibrate.NAME``: the name from its module, imported on first use."""
    if name not in _HOME:
        raise AttributeError(f"module 'sim.calibrate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sim.calibrate.{_HOME[name]}"), name)
    globals()[name] = value
    return value


__all__ = sorted(_HOME)
