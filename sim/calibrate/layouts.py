"""Exports in a tool's layout, made from exports in ours: the bundled examples of each preset.

Where it sits: ``synthetic`` (customers and tickets tables from a model trace) -> **layouts** ->
``examples/calibration/presets/*.csv`` (``make_presets.py``), read back through ``presets``. The
inverse of each preset: our columns renamed to the tool's headers and written the tool's way
(Zendesk's first reply as minutes after creation and Good/Bad scores, Stripe's amount per
interval). Customers are named by e-mail in both files (``c000123@example.com``), the key a
helpdesk and a billing tool share. Nothing is read or written here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibrate.presets import PRESETS


def email(customer_id: pd.Series) -> pd.Series:
    return customer_id.str.lower() + "@example.com"


def _stamp(text: pd.Series) -> pd.Series:
    """ISO timestamps written with a space (2024-01-31 14:05:00), as spreadsheets and these tools show them."""
    return text.str.replace("T", " ", regex=False)


def _minutes(opened: pd.Series, first: pd.Series) -> pd.Series:
    a = pd.to_datetime(opened, errors="coerce")
    b = pd.to_datetime(first.replace("", None), errors="coerce")
    m = np.ceil((b - a).dt.total_seconds() / 60.0)  # whole minutes, rounded up (a reply is never early)
    return m.map(lambda v: "" if pd.isna(v) else f"{v:.0f}")


def _words(scores: pd.Series, high: str, low: str, middle: str = "") -> pd.Series:
    """A 1-5 score (the ladder level + 1) in a tool's words: 1 ('below') low, 2 ('meet') middle (high when the tool
    has two words), above that high."""
    s = pd.to_numeric(scores, errors="coerce")
    mid = middle or high
    return pd.Series(np.where(s >= 3, high, np.where(s >= 2, mid, np.where(s.notna(), low, ""))), index=s.index)


def ticket_layout(preset: str, tickets: pd.DataFrame) -> pd.DataFrame:
    """Our tickets table in the layout of the helpdesk ``preset``."""
    cols = PRESETS[preset].columns
    out = pd.DataFrame({cols["ticket_id"]: tickets["ticket_id"].str.lstrip("T").astype(int),
                        cols["customer_id"]: email(tickets["customer_id"]),
                        cols["opened"]: _stamp(tickets["opened"])})
    if "first_response" in cols:
        out[cols["first_response"]] = _stamp(tickets["first_response"])
    else:
        out["First reply time in minutes"] = _minutes(tickets["opened"], tickets["first_response"])
    out[cols["resolved"]] = _stamp(tickets["resolved"])
    out[cols["channel"]] = tickets["channel"]
    if preset == "zendesk":
        out["Satisfaction Score"] = _words(tickets["satisfaction"], "Good", "Bad")
    elif preset in ("freshdesk", "helpscout"):
        great = "Awesome" if preset == "freshdesk" else "Great"
        okay = "Just Okay" if preset == "freshdesk" else "Okay"
        out["Survey results" if preset == "freshdesk" else "Rating"] = _words(tickets["satisfaction"], great,
                                                                               "Not Good", okay)
    else:
        out[cols["satisfaction"]] = tickets["satisfaction"]
    return out


def customer_layout(preset: str, customers: pd.DataFrame) -> pd.DataFrame:
    """Our customers table in the layout of the billing ``preset`` (one subscription per customer)."""
    cols = PRESETS[preset].columns
    status = np.where(customers["cancel_date"] == "", "active", "canceled" if preset == "stripe" else "cancelled")
    if preset == "stripe":
        return pd.DataFrame({
            "id": "sub_" + customers["customer_id"].str.lstrip("C"),
            "Customer ID": "cus_" + customers["customer_id"].str.lstrip("C"),
            cols["customer_id"]: email(customers["customer_id"]), cols["plan"]: customers["plan"],
            "Quantity": 1, "Currency": "usd", "Interval": "month", "Amount": customers["monthly_revenue_usd"],
            "Status": status, "Created (UTC)": customers["signup_date"] + " 00:00",
            cols["signup_date"]: customers["signup_date"] + " 00:00",
            cols["cancel_date"]: customers["cancel_date"].map(lambda d: f"{d} 00:00" if d else ""),
            "Ended At (UTC)": customers["cancel_date"].map(lambda d: f"{d} 00:00" if d else ""),
        })
    return pd.DataFrame({
        "subscriptions.id": "sub_" + customers["customer_id"].str.lstrip("C"),
        "subscriptions.customer_id": "cus_" + customers["customer_id"].str.lstrip("C"),
        cols["customer_id"]: email(customers["customer_id"]), cols["plan"]: customers["plan"],
        "subscriptions.status": status, cols["signup_date"]: customers["signup_date"],
        cols["cancel_date"]: customers["cancel_date"], cols["monthly_revenue_usd"]: customers["monthly_revenue_usd"],
    })
