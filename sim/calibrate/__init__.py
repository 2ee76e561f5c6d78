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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.calibrate.estimate import (
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
from sim.calibrate.ingest import (
    CalibrationError,
    CustomerTable,
    TicketTable,
    parse_cohort,
    read_customers,
    read_tickets,
)
from sim.calibrate.synthetic import exports_from_trace
from sim.calibrate.write import render, report_dict, write_report, write_scenario


def calibrate(*, customers: CustomerTable, tickets: TicketTable, name: str = "calibrated",
              **options: Any) -> Calibration:
    """Estimate from parsed exports and render the scenario (options as for ``estimate.estimate_all``)."""
    return render(estimate_all(customers=customers, tickets=tickets, **options), name=name)


def calibrate_files(*, customers: str | Path, tickets: str | Path, **options: Any) -> Calibration:
    """Read both exports and calibrate (options as for :func:`calibrate`)."""
    return calibrate(customers=read_customers(customers), tickets=read_tickets(tickets), **options)


__all__ = [
    "MONTH_H", "Calibration", "CalibrationError", "CustomerTable", "Estimate", "TicketTable", "calibrate",
    "calibrate_files", "cohort_report", "estimate_all", "exports_from_trace", "fit_handle_times",
    "ladder_base_churn", "parse_cohort", "patience_from_waits", "read_customers", "read_tickets", "render",
    "renewal_periods", "report_dict", "write_report", "write_scenario",
]
