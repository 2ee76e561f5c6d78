"""Column presets: the exports helpdesk and billing tools write, read as ``tickets.csv`` and ``customers.csv``.

Where it sits: ``csvfile`` (columns by name) -> **presets** (which header is which column, and the few
columns a tool writes differently) -> ``ingest`` (the tables and their checks). A preset names the
header its tool writes for each column the calibration reads (matched the usual way: case, spaces
and hyphens aside) and derives the rest: Zendesk writes the first reply as minutes after the ticket
was created, satisfaction as Good/Bad; Stripe writes an amount per billing interval, and the end of
a subscription in one of two columns. A mapping file (TOML, :func:`from_mapping`) names the headers
of any other export. The header names follow the tools' documented CSV exports as far as public
documentation shows them; docs/calibration.md ("Exports from your tools") says which are
assumptions. A missing column or a column whose values do not parse is one line naming the preset
and the column (:class:`~sim.calibrate.values.CalibrationError`, exit 2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.calibrate.catalogue import CUSTOMER_PRESETS, TICKET_PRESETS  # noqa: F401  (re-exported)
from sim.calibrate.csvfile import Column, Raw, normalise
from sim.calibrate.values import CalibrationError, shown

MAX_MAPPING_BYTES = 64 * 1024


@dataclass(frozen=True)
class Preset:
    """Which header is which column of one export, and how derived columns are made."""

    name: str
    kind: str  # 'tickets' or 'customers'
    columns: dict[str, str]  # canonical column -> header as the tool writes it
    extra: tuple[Column, ...] = ()  # raw columns a derivation reads
    derive: Callable[[Raw], None] | None = None
    label: str = ""  # shown in messages: "zendesk preset"
    assumed: tuple[str, ...] = ()  # headers not confirmed by the tool's public documentation
    keep_usual: bool = False  # columns not named here are matched by their usual names (mapping files)

    def spec(self, canonical: tuple[Column, ...]) -> tuple[Column, ...]:
        """The columns to read: canonical ones under the tool's headers, derived ones left out, extras added."""
        made = {c for c in self.columns}
        out = []
        for col in canonical:
            if col.name in made:
                header = self.columns[col.name]
                out.append(replace(col, aliases=(normalise(header),), header=header))
            else:
                out.append(col if self.keep_usual else replace(col, aliases=(), required=False))
        return tuple(out) + self.extra


def _extra(name: str, header: str, kind: str, expect: str, required: bool = True) -> Column:
    return Column(name, (normalise(header),), kind, required, expect, header)


def _minutes_after_opened(raw: Raw) -> None:
    """first_response = opened + minutes (empty minutes: never answered)."""
    minutes = raw.values.pop("_first_reply_minutes")
    first = raw.values["opened"] + minutes / 60.0
    resolved = raw.values.get("resolved")
    if resolved is not None:  # whole minutes: a reply rounded up may pass a solve in the same minute
        rounding = np.isfinite(resolved) & (first > resolved) & (first - resolved <= 1.0 / 60.0)
        first = np.where(rounding, resolved, first)
    raw.values["first_response"] = first
    raw.empty["first_response"] = raw.empty.pop("_first_reply_minutes")
    raw.headers["first_response"] = raw.headers.pop("_first_reply_minutes")


def _scores(words: dict[str, float]) -> Callable[[Raw], None]:
    """satisfaction from a tool's words (case-insensitive); other words (offered, unoffered) are no score."""
    def derive(raw: Raw) -> None:
        text = raw.values.pop("_rating_words", None)
        empty = raw.empty.pop("_rating_words", None)
        header = raw.headers.pop("_rating_words", None)
        if text is None:
            return
        lower = np.char.lower(text.astype(str))
        score = np.full(len(lower), np.nan)
        for word, value in words.items():
            score[lower == word] = value
        raw.values["satisfaction"], raw.empty["satisfaction"] = score, empty | np.isnan(score)
        raw.headers["satisfaction"] = header
    return derive


def _both(*steps: Callable[[Raw], None]) -> Callable[[Raw], None]:
    def derive(raw: Raw) -> None:
        for step in steps:
            step(raw)
    return derive


INTERVAL_MONTHS = {"month": 1.0, "year": 12.0, "week": 12 / 52.0, "day": 12 / 365.0, "quarter": 3.0}


def _monthly_amount(raw: Raw) -> None:
    """monthly revenue = amount x quantity / months per billing interval; cancel = ended, else cancelled."""
    amount = raw.values.pop("_amount")
    interval = raw.values.pop("_interval", None)
    quantity = raw.values.pop("_quantity", None)
    months = np.ones(len(amount))
    if interval is not None:
        lower = np.char.lower(interval.astype(str))
        known = np.isin(lower, list(INTERVAL_MONTHS)) | (lower == "")
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            raise CalibrationError([f"column {shown(raw.headers['_interval'])}: expected a billing interval "
                                    f"({', '.join(INTERVAL_MONTHS)}), got {shown(str(interval[i]))} in row {i + 1}"],
                                   raw.source)
        for word, m in INTERVAL_MONTHS.items():
            months[lower == word] = m
    q = np.ones(len(amount)) if quantity is None else np.where(np.isnan(quantity), 1.0, quantity)
    raw.values["monthly_revenue_usd"] = amount * q / months
    raw.empty["monthly_revenue_usd"] = raw.empty.pop("_amount")
    raw.headers["monthly_revenue_usd"] = raw.headers.pop("_amount")
    for k in ("_interval", "_quantity"):
        raw.empty.pop(k, None)
        raw.headers.pop(k, None)
    ended = raw.values.pop("_ended", None)
    if ended is not None:
        cancel = raw.values["cancel_date"]
        raw.values["cancel_date"] = np.where(np.isfinite(ended), ended, cancel)
        raw.empty["cancel_date"] = raw.empty["cancel_date"] & raw.empty.pop("_ended")
        raw.headers.pop("_ended", None)


def _drop_statuses(statuses: tuple[str, ...]) -> Callable[[Raw], None]:
    """Rows whose status is one of ``statuses`` (not a paying subscription) are left out, and said so."""
    def derive(raw: Raw) -> None:
        status = raw.values.pop("_status", None)
        raw.empty.pop("_status", None)
        header = raw.headers.pop("_status", None)
        if status is None:
            return
        drop = np.isin(np.char.lower(status.astype(str)), statuses)
        if drop.any():
            _keep_rows(raw, ~drop)
            raw.notes.append(f"{int(drop.sum()):,} rows of {Path(raw.source).name} with {shown(header)} "
                             f"{'/'.join(statuses)} left out (not paying)")
    return derive


def _latest_per_customer(raw: Raw) -> None:
    """One row per customer: a customer with several subscriptions keeps the one that started last."""
    ids = raw.values["customer_id"]
    codes = pc.dictionary_encode(ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids).indices
    codes = codes.to_numpy(zero_copy_only=False)
    start = np.nan_to_num(raw.values["signup_date"], nan=-np.inf)
    order = np.lexsort((start, codes))
    last = np.r_[codes[order][1:] != codes[order][:-1], True]
    keep = np.zeros(len(codes), bool)
    keep[order[last]] = True
    if not keep.all():
        _keep_rows(raw, keep)
        raw.notes.append(f"{int((~keep).sum()):,} earlier subscriptions of customers with several left out of "
                         f"{Path(raw.source).name}: each customer keeps the subscription that started last")


def _keep_rows(raw: Raw, keep: np.ndarray) -> None:
    mask = pa.array(keep)
    for k, v in raw.values.items():
        raw.values[k] = v.filter(mask) if isinstance(v, (pa.Array, pa.ChunkedArray)) else v[keep]
    for k, v in raw.empty.items():
        raw.empty[k] = v[keep]
    raw.rows = int(keep.sum())
    raw.lines_match = False  # rows are renumbered: messages name rows, not lines


RATING_5 = {"good": 2.0, "bad": 1.0}  # on the ladder's 1-5 scale: good = expectations met, bad = below them
HAPPINESS = {"great": 3.0, "okay": 2.0, "not good": 1.0, "awesome": 3.0, "just okay": 2.0}  # exceeded, met, below

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("zendesk", "tickets", {
        "ticket_id": "Id", "customer_id": "Requester email", "opened": "Created at", "resolved": "Solved at",
        "channel": "Via", "agent": "Assignee"},
        extra=(_extra("_first_reply_minutes", "First reply time in minutes", "number",
                      "minutes from creation to the first reply (empty: no reply)"),
               _extra("_rating_words", "Satisfaction Score", "text", "Good, Bad, Offered or Unoffered", False)),
        derive=_both(_minutes_after_opened, _scores(RATING_5)), assumed=("Requester email",)),
    Preset("freshdesk", "tickets", {
        "ticket_id": "Ticket ID", "customer_id": "Email", "opened": "Created time",
        "first_response": "Initial response time", "resolved": "Resolved time", "channel": "Source",
        "agent": "Agent"},
        extra=(_extra("_rating_words", "Survey results", "text", "a survey answer", False),),
        derive=_scores(HAPPINESS), assumed=("Email", "Initial response time", "Survey results")),
    Preset("intercom", "tickets", {
        "ticket_id": "Conversation ID", "customer_id": "User email", "opened": "Created at",
        "first_response": "First admin reply at", "resolved": "Last closed at", "satisfaction": "Conversation rating",
        "agent": "Teammate assigned", "channel": "Channel"},
        assumed=("User email", "First admin reply at", "Last closed at", "Conversation rating", "Teammate assigned",
                 "Channel")),
    Preset("helpscout", "tickets", {
        "ticket_id": "Conversation ID", "customer_id": "Customer email", "opened": "Created At",
        "first_response": "First Response At", "resolved": "Closed At", "agent": "Assigned To",
        "channel": "Type"},
        extra=(_extra("_rating_words", "Rating", "text", "Great, Okay or Not Good", False),),
        derive=_scores(HAPPINESS), assumed=("Conversation ID", "First Response At", "Closed At", "Assigned To")),
    Preset("stripe", "customers", {
        "customer_id": "Customer Email", "signup_date": "Start (UTC)", "cancel_date": "Canceled At (UTC)",
        "plan": "Plan"},
        extra=(_extra("_amount", "Amount", "number", "the price per billing interval"),
               _extra("_interval", "Interval", "text", "month or year", False),
               _extra("_quantity", "Quantity", "number", "the quantity", False),
               _extra("_ended", "Ended At (UTC)", "date", "an ISO date, or empty", False),
               _extra("_status", "Status", "text", "the subscription's status", False)),
        derive=_both(_drop_statuses(("trialing", "incomplete", "incomplete_expired")), _monthly_amount,
                     _latest_per_customer),
        assumed=("Plan", "Amount", "Interval")),
    Preset("chargebee", "customers", {
        "customer_id": "customers.email", "signup_date": "subscriptions.started_at",
        "cancel_date": "subscriptions.cancelled_at", "plan": "subscriptions.plan_id",
        "monthly_revenue_usd": "subscriptions.mrr"},
        extra=(_extra("_status", "subscriptions.status", "text", "the subscription's status", False),),
        derive=_both(_drop_statuses(("in_trial", "future")), _latest_per_customer),
        assumed=("customers.email", "subscriptions.mrr")),
)}
PRESETS = {k: replace(p, label=f"{k} preset") for k, p in PRESETS.items()}


def get(name: str, kind: str) -> Preset:
    """The preset ``name`` for ``kind`` ('tickets' or 'customers'); a wrong name is an error naming the choices."""
    p = PRESETS.get(name.strip().lower())
    if p is None or p.kind != kind:
        choices = TICKET_PRESETS if kind == "tickets" else CUSTOMER_PRESETS
        raise CalibrationError([f"--{kind}-preset {shown(name)}: expected one of {', '.join(choices)}"], "command line")
    return p


def from_mapping(path: str | Path, kind: str, canonical: tuple[Column, ...]) -> Preset | None:
    """A preset from a mapping file's ``[tickets]`` or ``[customers]`` table (column = "header as written")."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CalibrationError([f"cannot read the mapping file: {exc.strerror or exc}"], source) from None
    if len(data) > MAX_MAPPING_BYTES:
        raise CalibrationError([f"the mapping file is over {MAX_MAPPING_BYTES // 1024} kB"], source)
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError([f"not a TOML mapping file: {shown(str(exc))}"], source) from None
    unknown = [k for k in table if k not in ("tickets", "customers")]
    if unknown:
        raise CalibrationError([f"unknown table [{unknown[0]}]: expected [tickets] and/or [customers]"], source)
    section = table.get(kind)
    if section is None:
        return None
    names = {c.name for c in canonical}
    for key, value in section.items():
        if key not in names:
            raise CalibrationError([f"[{kind}] {shown(key)}: not a column the calibration reads; expected one of "
                                    f"{', '.join(sorted(names))}"], source)
        if not isinstance(value, str) or not value.strip():
            raise CalibrationError([f"[{kind}] {key}: expected the header as written, a string, got {shown(value)}"],
                                   source)
    label = f"mapping {Path(path).name}"
    return Preset(label, kind, dict(section), label=label, keep_usual=True)


def one_line(exc: CalibrationError, label: str) -> CalibrationError:
    """A reading error under a preset as one line naming it (the first problem, and how many more)."""
    problems = list(exc.problems)
    if len(problems) == 1 and problems[0].startswith(f"{label}: "):
        return exc
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return CalibrationError([f"{label}: {problems[0]}{more}"], exc.source)
