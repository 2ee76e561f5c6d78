"""The two exports as typed tables: customers.csv and tickets.csv, read and checked.

Where it sits: company exports -> ``csvfile`` (columns by name, values by kind) -> **ingest**
-> ``estimate`` -> ``write``. The columns each table needs and their accepted names are
:data:`CUSTOMER_COLUMNS` and :data:`TICKET_COLUMNS`; a preset (``presets``) renames a tool's own
export columns to these. Dates must lie in [``DATE_FLOOR``, ``DATE_CEILING``); a cancel date on
or after the ceiling (``9999-12-31`` and other "never" markers) means "still active" and is
noted. Every problem names the file, row, column, the value and what was expected
(:class:`CalibrationError`, so the CLI exits 2). Times become hours since 1970 (UTC). No
estimates, no printing, no files written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.calibrate import fits as sbg
from sim.calibrate.csvfile import MAX_CSV_BYTES, Column, Problems, Raw, read_csv
from sim.calibrate.presets import Preset, one_line
from sim.calibrate.values import (
    CalibrationError,
    codes,
    iso,
    match_ids,
    parse_date,
    release_free_memory,
    repeats,
    row_label,
    shown,
    system_allocator,
)

__all__ = [
    "CUSTOMER_COLUMNS", "MAX_CSV_BYTES", "TICKET_COLUMNS", "CalibrationError", "CustomerTable", "TicketTable",
    "codes", "iso", "match_ids", "parse_cohort", "parse_date", "read_customers", "read_tickets",
    "release_free_memory", "row_label", "shown", "system_allocator",
]

MAX_COHORT_CUSTOMERS = 1e9  # survivor counts above this are a typo, not a cohort
MAX_COHORT_PERIODS = 1000

CUSTOMER_COLUMNS = (
    Column("customer_id", ("customer_id", "customer", "id", "customerid", "account_id", "account", "client_id"),
           "id", True, "a customer id"),
    Column("signup_date", ("signup_date", "signup", "signed_up", "signed_up_at", "signup_at", "start_date",
                           "started_at", "created_at", "subscribed_at", "subscription_start"),
           "date", True, "an ISO date such as 2024-01-31 or 2024-01-31T14:05:00"),
    Column("cancel_date", ("cancel_date", "cancelled_at", "canceled_at", "cancellation_date", "cancelled",
                           "canceled", "churn_date", "churned_at", "end_date", "ended_at"),
           "date", True, "an ISO date such as 2024-01-31, or empty if the customer is active"),
    Column("plan", ("plan", "plan_name", "tier", "product", "subscription_plan"), "text", True, "a plan name"),
    Column("monthly_revenue_usd", ("monthly_revenue_usd", "monthly_revenue", "mrr", "mrr_usd", "revenue",
                                   "revenue_usd", "monthly_price", "price", "price_usd"),
           "number", True, "a plain non-negative number such as 49.00"),
    Column("segment", ("segment", "segment_name", "customer_segment"), "text", False, "a segment name"),
    Column("vip", ("vip", "is_vip"), "bool", False, "true/false, yes/no or 1/0"),
    Column("big_name", ("big_name", "is_big_name", "known_brand"), "bool", False, "true/false, yes/no or 1/0"),
    Column("funding_usd", ("funding_usd", "funding", "total_funding", "total_funding_usd"),
           "number", False, "a plain non-negative number"),
)

TICKET_COLUMNS = (
    Column("ticket_id", ("ticket_id", "ticket", "id", "ticketid", "case_id"), "id", True, "a ticket id"),
    Column("customer_id", ("customer_id", "customer", "customerid", "account_id", "account", "requester_id",
                           "client_id"), "id", True, "the id of a customer"),
    Column("opened", ("opened", "opened_at", "created", "created_at", "submitted_at", "received_at"),
           "date", True, "an ISO timestamp such as 2024-01-31T14:05:00"),
    Column("first_response", ("first_response", "first_response_at", "first_reply", "first_reply_at",
                              "responded_at", "answered_at"),
           "date", True, "an ISO timestamp, or empty if never answered"),
    Column("resolved", ("resolved", "resolved_at", "closed", "closed_at", "solved_at"),
           "date", True, "an ISO timestamp, or empty if not resolved"),
    Column("channel", ("channel", "via", "source"), "text", False, "a channel name"),
    Column("fee_usd", ("fee_usd", "fee", "fee_charged", "fee_charged_usd", "charged_usd"),
           "number", False, "a plain non-negative number (0 if free)"),
    Column("satisfaction", ("satisfaction", "satisfaction_score", "csat", "csat_score", "rating", "score"),
           "number", False, "a score on a 1-5 or 0-10 scale"),
    Column("handle_time_h", ("handle_time_h", "handle_h", "agent_time_h", "handle_hours"),
           "number", False, "agent hours spent on the ticket"),
    Column("agent", ("agent", "agent_id", "agent_name", "assignee", "assignee_id", "assignee_name", "owner",
                     "responder"), "text", False, "the agent who answered"),
)



# ----------------------------------------------------------------------------- tables


@dataclass(kw_only=True)
class _ReadFile:
    """What reading a file found out, kept with its table for later messages and the scenario's header."""

    headers: dict[str, str] = field(default_factory=dict)  # canonical name -> header as written
    lines_match: bool = True  # row i is on line i + 1 (no record spans lines)
    notes: list[str] = field(default_factory=list)  # what reading decided (delimiter, decimal commas, 'never')

    def __len__(self) -> int:
        return len(self.id)  # type: ignore[attr-defined]


@dataclass
class CustomerTable(_ReadFile):
    """customers.csv, parsed: one row per customer; times in hours since 1970 (NaN = empty)."""

    source: str
    id: pa.ChunkedArray
    signup_h: np.ndarray
    cancel_h: np.ndarray
    plan: np.ndarray
    revenue_usd: np.ndarray
    segment: np.ndarray
    vip: np.ndarray | None = None
    big_name: np.ndarray | None = None
    funding_usd: np.ndarray | None = None
    has_segment_column: bool = False


@dataclass
class TicketTable(_ReadFile):
    """tickets.csv, parsed: one row per ticket; times in hours since 1970 (NaN = empty)."""

    source: str
    id: pa.ChunkedArray
    customer: pa.ChunkedArray
    opened_h: np.ndarray
    first_response_h: np.ndarray
    resolved_h: np.ndarray
    channel: np.ndarray | None = None
    fee_usd: np.ndarray | None = None
    satisfaction: np.ndarray | None = None
    handle_h: np.ndarray | None = None
    agent: np.ndarray | None = None


def _dates_shown(hours: np.ndarray) -> Any:
    """Parsed dates as messages show them (the text is gone once a column is parsed)."""
    return _Lazy(lambda i: iso(hours[i]) if np.isfinite(hours[i]) else "")


class _Lazy:
    """Indexable without building the whole sequence: only the few values a message shows are made."""

    def __init__(self, get: Any) -> None:
        self.get = get

    def __getitem__(self, i: int) -> Any:
        return self.get(i)


def _read(path: str | Path, canonical: tuple[Column, ...], what: str, preset: Preset | None) -> Raw:
    if preset is None:
        return read_csv(path, canonical, what)
    try:
        raw = read_csv(path, preset.spec(canonical), what, preset.label)
        if preset.derive is not None:
            preset.derive(raw)
    except CalibrationError as exc:
        raise one_line(exc, preset.label) from None
    raw.notes.insert(0, f"{Path(raw.source).name} read with the {preset.label}")
    return raw


def _checked(preset: Preset | None, check: Any) -> Any:
    """Run the table's checks; under a preset their problems are one line naming it."""
    try:
        return check()
    except CalibrationError as exc:
        if preset is None:
            raise
        raise one_line(exc, preset.label) from None


def read_customers(path: str | Path, preset: Preset | None = None) -> CustomerTable:
    """Read and check customers.csv, or a billing tool's export under ``preset`` (problems name row and column)."""
    return _checked(preset, lambda: _read_customers(path, preset))


def read_tickets(path: str | Path, preset: Preset | None = None) -> TicketTable:
    """Read and check tickets.csv, or a helpdesk's export under ``preset`` (problems name row and column)."""
    return _checked(preset, lambda: _read_tickets(path, preset))


@system_allocator
def _read_customers(path: str | Path, preset: Preset | None) -> CustomerTable:
    raw = _read(path, CUSTOMER_COLUMNS, "customers", preset)
    p = Problems(raw.source, raw.headers, raw.lines_match)
    v, empty = raw.values, raw.empty
    ids, signup, cancel = v["customer_id"], v["signup_date"], v["cancel_date"]
    plan, revenue = v["plan"], v["monthly_revenue_usd"]
    p.rows(empty["customer_id"], "customer_id", "a customer id (this one is empty)")
    p.rows(repeats(ids) & ~empty["customer_id"], "customer_id", "each customer id once (this one repeats an "
           "earlier row)", values=ids)
    p.rows(empty["signup_date"], "signup_date", "a signup date (it is empty)")
    p.rows(empty["plan"], "plan", "a plan name (it is empty)")
    p.rows(empty["monthly_revenue_usd"], "monthly_revenue_usd", "a monthly revenue (it is empty)")
    p.rows(revenue < 0, "monthly_revenue_usd", "a non-negative number", values=revenue)
    p.rows(cancel < signup, "cancel_date", "a date on or after the signup date", values=_dates_shown(cancel))
    funding = v.get("funding_usd")
    if funding is not None:
        p.rows(funding < 0, "funding_usd", "a non-negative number", values=funding)
    p.raise_if_any()
    seg_text = v.get("segment")
    segment = plan if seg_text is None else np.where(empty["segment"], plan, seg_text)
    return CustomerTable(raw.source, ids, signup, cancel, plan, revenue, segment, v.get("vip"), v.get("big_name"),
                         funding, seg_text is not None, headers=raw.headers, lines_match=raw.lines_match,
                         notes=raw.notes)


@system_allocator
def _read_tickets(path: str | Path, preset: Preset | None) -> TicketTable:
    raw = _read(path, TICKET_COLUMNS, "tickets", preset)
    p = Problems(raw.source, raw.headers, raw.lines_match)
    v, empty = raw.values, raw.empty
    ids, cust = v["ticket_id"], v["customer_id"]
    opened, first, resolved = v["opened"], v["first_response"], v["resolved"]
    p.rows(empty["ticket_id"], "ticket_id", "a ticket id (it is empty)")
    p.rows(repeats(ids) & ~empty["ticket_id"], "ticket_id", "each ticket id once (this one repeats an earlier row)",
           values=ids)
    p.rows(empty["customer_id"], "customer_id", "a customer id (it is empty)")
    p.rows(empty["opened"], "opened", "an opening time (it is empty)")
    p.rows(first < opened, "first_response", "a time on or after 'opened'", values=_dates_shown(first))
    p.rows(resolved < np.where(np.isnan(first), opened, first), "resolved",
           "a time on or after the first response (or 'opened')", values=_dates_shown(resolved))
    for name in ("fee_usd", "handle_time_h"):
        if v.get(name) is not None:
            p.rows(v[name] < 0, name, "a non-negative number", values=v[name])
    p.raise_if_any()
    return TicketTable(raw.source, ids, cust, opened, first, resolved, v.get("channel"), v.get("fee_usd"),
                       v.get("satisfaction"), v.get("handle_time_h"), v.get("agent"), headers=raw.headers,
                       lines_match=raw.lines_match, notes=raw.notes)


def parse_cohort(text: str) -> list[float]:
    """Survivor counts of one cohort from ``N0,N1,...`` (commas or semicolons), checked for the sBG fit."""
    parts = [x.strip() for x in text.replace(";", ",").split(",") if x.strip()]
    if len(parts) > MAX_COHORT_PERIODS + 1:
        raise CalibrationError([f"--cohort: {len(parts):,} counts; at most {MAX_COHORT_PERIODS + 1} (a cohort size "
                                f"and {MAX_COHORT_PERIODS} periods)"], "command line")
    out = []
    for i, x in enumerate(parts):
        try:
            v = float(x)
        except ValueError:
            raise CalibrationError([f"--cohort value {i + 1}: expected a number, got {shown(x)}"],
                                   "command line") from None
        if not (np.isfinite(v) and 0 <= v <= MAX_COHORT_CUSTOMERS and v == round(v)):
            raise CalibrationError([f"--cohort value {i + 1}: expected a whole number of customers from 0 to "
                                    f"{MAX_COHORT_CUSTOMERS:,.0f}, got {shown(x)}"], "command line")
        out.append(v)
    try:
        sbg.counts_from_survivors(out)
    except ValueError as exc:
        raise CalibrationError([f"--cohort: {exc}"], "command line") from None
    return out
