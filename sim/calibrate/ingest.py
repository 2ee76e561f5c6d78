"""Read and check the two CSV exports (customers.csv, tickets.csv) into typed tables.

Where it sits: company exports -> **ingest** -> ``estimate`` -> ``write``. Columns are matched by
name (accepted aliases below); every value is parsed by the column's kind, and every problem
names the file, row, column, the value and what was expected (:class:`CalibrationError`, a
:class:`ScenarioError`, so the CLI exits 2). Times become hours since 1970 (UTC). No estimates,
no printing, no files written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sim.calibrate import fits as sbg
from sim.params.scenario import ScenarioError

MAX_LISTED = 5  # bad rows listed per problem; the rest are counted


class CalibrationError(ScenarioError):
    """Bad calibration input (file, row, column, expected); a ScenarioError, so the CLI exits 2."""

    def __init__(self, problems: list[str], source: str = "calibration") -> None:
        super().__init__(problems, source)
        ValueError.__init__(self, f"{source}: cannot calibrate\n" + "\n".join(f"  - {p}" for p in problems))



# ----------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One expected column: canonical name, accepted header aliases, kind and whether required."""

    name: str
    aliases: tuple[str, ...]
    kind: Literal["id", "text", "date", "number", "bool"]
    required: bool
    expect: str


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
)

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})


def _normalise(header: str) -> str:
    return header.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


@dataclass
class _Raw:
    """A CSV file as text columns, matched to canonical names."""

    source: str
    rows: int
    columns: dict[str, pd.Series]  # canonical name -> text
    headers: dict[str, str]  # canonical name -> header as written in the file


def _read_csv(path: str | Path, spec: tuple[Column, ...], what: str) -> _Raw:
    source = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CalibrationError([f"cannot read {what} file: no such file"], source) from None
    except IsADirectoryError:
        raise CalibrationError([f"cannot read {what} file: it is a folder"], source) from None
    except UnicodeDecodeError as exc:
        raise CalibrationError([f"{what} file is not UTF-8 text (byte {exc.start})"], source) from None
    except pd.errors.EmptyDataError:
        raise CalibrationError([f"{what} file is empty: expected a header row and data rows"], source) from None
    except (pd.errors.ParserError, OSError) as exc:
        raise CalibrationError([f"cannot read {what} file as CSV: {exc}"], source) from None
    found: dict[str, list[str]] = {}
    for header in df.columns:
        norm = _normalise(str(header))
        for col in spec:
            if norm in col.aliases:
                found.setdefault(col.name, []).append(str(header))
                break
    problems = []
    for col in spec:
        hits = found.get(col.name, [])
        if len(hits) > 1:
            problems.append(f"columns {', '.join(repr(h) for h in hits)} all mean '{col.name}': keep one")
        elif not hits and col.required:
            problems.append(
                f"missing column '{col.name}' ({col.expect}); accepted names: {', '.join(col.aliases)}; "
                f"columns found: {', '.join(repr(str(c)) for c in df.columns) or 'none'}"
            )
    if not problems and len(df) == 0:
        problems.append(f"{what} file has a header but no data rows")
    if problems:
        raise CalibrationError(problems, source)
    columns = {name: df[hits[0]].astype(str).str.strip() for name, hits in found.items()}
    return _Raw(source, len(df), columns, {name: hits[0] for name, hits in found.items()})


class _Problems:
    """Collects row-level problems, a few listed per column, so one error names them all."""

    def __init__(self, raw: _Raw) -> None:
        self.raw = raw
        self.lines: list[str] = []

    def rows(self, mask: np.ndarray, column: str, expected: str, *, show_value: bool = True) -> None:
        bad = np.flatnonzero(mask)
        if not len(bad):
            return
        header = self.raw.headers.get(column, column)
        values = self.raw.columns[column].to_numpy() if column in self.raw.columns else None
        for i in bad[:MAX_LISTED]:
            got = f", got {values[i]!r}" if show_value and values is not None else ""
            self.lines.append(f"row {i + 1} (line {i + 2}), column '{header}': expected {expected}{got}")
        if len(bad) > MAX_LISTED:
            self.lines.append(f"... and {len(bad) - MAX_LISTED} more rows with a bad '{header}'")

    def raise_if_any(self) -> None:
        if self.lines:
            raise CalibrationError(self.lines, self.raw.source)


def _parse_dates(text: pd.Series) -> np.ndarray:
    """ISO dates or timestamps -> hours since 1970 (UTC; a time zone offset is honoured); NaN if empty/bad."""
    stamps = pd.to_datetime(text.where(text != ""), format="ISO8601", utc=True, errors="coerce")
    ms = stamps.dt.tz_localize(None).to_numpy("datetime64[ms]").view(np.int64)
    out = ms.astype(np.float64) / 3_600_000.0
    out[stamps.isna().to_numpy()] = np.nan
    return out


def parse_date(value: str, *, what: str) -> float:
    """One ISO date from the command line -> hours since 1970."""
    hours = _parse_dates(pd.Series([value.strip()]))[0]
    if not np.isfinite(hours):
        raise CalibrationError([f"{what}: expected an ISO date such as 2024-01-31, got {value!r}"], "command line")
    return float(hours)


def iso(hours: float) -> str:
    """Hours since 1970 -> ISO timestamp (date only at midnight)."""
    stamp = np.datetime64(int(round(hours * 3600)), "s")
    text = str(stamp)
    return text[:10] if text.endswith("T00:00:00") else text


def _column(raw: _Raw, p: _Problems, col: Column) -> np.ndarray | None:
    """Parse one column by its kind; row problems go to ``p``. None if the optional column is absent."""
    if col.name not in raw.columns:
        return None
    text = raw.columns[col.name]
    empty = (text == "").to_numpy()
    if col.kind in ("id", "text"):
        return text.to_numpy(dtype=object)
    if col.kind == "date":
        hours = _parse_dates(text)
        p.rows(~empty & np.isnan(hours), col.name, col.expect)
        return hours
    if col.kind == "number":
        values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=np.float64, copy=True)
        p.rows(~empty & ~np.isfinite(values), col.name, col.expect)
        values[~np.isfinite(values)] = np.nan
        return values
    lower = text.str.lower()
    truth = lower.isin(TRUE_WORDS).to_numpy()
    p.rows(~truth & ~lower.isin(FALSE_WORDS).to_numpy(), col.name, col.expect)
    return truth


# ----------------------------------------------------------------------------- tables


@dataclass
class CustomerTable:
    """customers.csv, parsed: one row per customer; times in hours since 1970 (NaN = empty)."""

    source: str
    id: np.ndarray
    signup_h: np.ndarray
    cancel_h: np.ndarray
    plan: np.ndarray
    revenue_usd: np.ndarray
    segment: np.ndarray
    vip: np.ndarray | None = None
    big_name: np.ndarray | None = None
    funding_usd: np.ndarray | None = None
    has_segment_column: bool = False

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class TicketTable:
    """tickets.csv, parsed: one row per ticket; times in hours since 1970 (NaN = empty)."""

    source: str
    id: np.ndarray
    customer: np.ndarray
    opened_h: np.ndarray
    first_response_h: np.ndarray
    resolved_h: np.ndarray
    channel: np.ndarray | None = None
    fee_usd: np.ndarray | None = None
    satisfaction: np.ndarray | None = None
    handle_h: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.id)


def read_customers(path: str | Path) -> CustomerTable:
    """Read and check customers.csv (columns matched by name; problems name row and column)."""
    raw = _read_csv(path, CUSTOMER_COLUMNS, "customers")
    p = _Problems(raw)
    cols = {c.name: _column(raw, p, c) for c in CUSTOMER_COLUMNS}
    ids, signup, cancel = cols["customer_id"], cols["signup_date"], cols["cancel_date"]
    plan, revenue = cols["plan"], cols["monthly_revenue_usd"]
    p.rows(ids == "", "customer_id", "a customer id (this one is empty)", show_value=False)
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids != "")
    p.rows(dup, "customer_id", "each customer id once (this one repeats an earlier row)")
    p.rows(raw.columns["signup_date"].to_numpy() == "", "signup_date", "a signup date (it is empty)",
           show_value=False)
    p.rows(plan == "", "plan", "a plan name (it is empty)", show_value=False)
    p.rows(raw.columns["monthly_revenue_usd"].to_numpy() == "", "monthly_revenue_usd",
           "a monthly revenue (it is empty)", show_value=False)
    p.rows(revenue < 0, "monthly_revenue_usd", "a non-negative number")
    p.rows(cancel < signup, "cancel_date", "a date on or after the signup date")
    funding = cols["funding_usd"]
    if funding is not None:
        p.rows(funding < 0, "funding_usd", "a non-negative number")
    p.raise_if_any()
    seg_text = cols["segment"]
    segment = plan if seg_text is None else np.where(seg_text == "", plan, seg_text)
    return CustomerTable(raw.source, ids, signup, cancel, plan, revenue, segment, cols["vip"], cols["big_name"],
                         funding, seg_text is not None)


def read_tickets(path: str | Path) -> TicketTable:
    """Read and check tickets.csv (columns matched by name; problems name row and column)."""
    raw = _read_csv(path, TICKET_COLUMNS, "tickets")
    p = _Problems(raw)
    cols = {c.name: _column(raw, p, c) for c in TICKET_COLUMNS}
    ids, cust = cols["ticket_id"], cols["customer_id"]
    opened, first, resolved = cols["opened"], cols["first_response"], cols["resolved"]
    p.rows(ids == "", "ticket_id", "a ticket id (it is empty)", show_value=False)
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids != "")
    p.rows(dup, "ticket_id", "each ticket id once (this one repeats an earlier row)")
    p.rows(cust == "", "customer_id", "a customer id (it is empty)", show_value=False)
    p.rows(raw.columns["opened"].to_numpy() == "", "opened", "an opening time (it is empty)", show_value=False)
    p.rows(first < opened, "first_response", "a time on or after 'opened'")
    p.rows(resolved < np.where(np.isnan(first), opened, first), "resolved",
           "a time on or after the first response (or 'opened')")
    for name in ("fee_usd", "handle_time_h"):
        if cols[name] is not None:
            p.rows(cols[name] < 0, name, "a non-negative number")
    p.raise_if_any()
    return TicketTable(raw.source, ids, cust, opened, first, resolved, cols["channel"], cols["fee_usd"],
                       cols["satisfaction"], cols["handle_time_h"])



def parse_cohort(text: str) -> list[float]:
    """Survivor counts of one cohort from ``N0,N1,...`` (commas or semicolons), checked for the sBG fit."""
    parts = [x.strip() for x in text.replace(";", ",").split(",") if x.strip()]
    out = []
    for i, x in enumerate(parts):
        try:
            v = float(x)
        except ValueError:
            raise CalibrationError([f"--cohort value {i + 1}: expected a number, got {x!r}"], "command line") from None
        out.append(v)
    try:
        sbg.counts_from_survivors(out)
    except ValueError as exc:
        raise CalibrationError([f"--cohort: {exc}"], "command line") from None
    return out
