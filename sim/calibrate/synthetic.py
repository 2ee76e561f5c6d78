"""Exports made from a model trace: customers and tickets tables in the format ``ingest`` reads.

Where it sits: ``sim.engine.model.Trace`` (made by the caller) -> **synthetic** -> CSV exports
-> ``ingest``. Used for round-trip tests (calibrate data whose truth is known) and the bundled
example in ``examples/calibration/``. It does not run the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.calibrate.estimate import MONTH_H
from sim.params.schema import LADDER


def exports_from_trace(trace: Any, *, params: Any, start: str = "2024-01-01", seed: int = 0,
                       survey_share: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn a :class:`sim.engine.model.Trace` into customers and tickets tables in the export format.

    Paying customers only (signup = start of the month they converted, cancel = end of the month
    they churned, dates only); every logged ticket (opened / first response / resolved as ISO
    timestamps, empty if abandoned). A share of answered tickets carries a 1-5 satisfaction score:
    the customer's level at the end of the run (the trace keeps no level history).
    """
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(start, "s")
    prices = {s.name: s.plan_price_usd_per_month * params.pricing.price_multiplier
              for s in params.customers.segments}
    cust = pd.DataFrame(trace.customers)
    paying = cust[cust["converted_month"].notna()].copy()

    def stamp(hours: np.ndarray, unit: str) -> np.ndarray:
        ok = np.isfinite(hours)
        out = np.full(len(hours), "", dtype=object)
        secs = np.round(hours[ok] * 3600).astype(np.int64).astype("timedelta64[s]")
        out[ok] = np.datetime_as_string(t0 + secs, unit=unit)
        return out

    conv = paying["converted_month"].to_numpy(dtype=np.float64)
    churn = paying["churn_month"].to_numpy(dtype=np.float64)
    customers = pd.DataFrame({
        "customer_id": [f"C{i:06d}" for i in paying["slot"]],
        "signup_date": stamp(conv * MONTH_H, "D"),
        "cancel_date": stamp((churn + 1) * MONTH_H, "D"),
        "plan": paying["segment"].to_numpy(),
        "monthly_revenue_usd": [f"{prices[s]:.2f}" for s in paying["segment"]],
        "vip": np.where(paying["vip"].to_numpy(), "true", "false"),
        "big_name": np.where(paying["big_name"].to_numpy(), "true", "false"),
        "funding_usd": [f"{x:.0f}" for x in paying["funding_usd"]],
    })
    level_of = {lv: i for i, lv in enumerate(LADDER)}
    levels = cust["level"].map(level_of).to_numpy()
    tk = np.array([(s, a, np.nan if f is None else f, h, fee) for s, a, f, h, fee in trace.tickets],
                  dtype=np.float64).reshape(-1, 5)
    tk = tk[np.argsort(tk[:, 1], kind="stable")]
    slot = tk[:, 0].astype(np.int64)
    answered = np.isfinite(tk[:, 2])
    scored = answered & (rng.random(len(tk)) < survey_share)
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i:07d}" for i in range(1, len(tk) + 1)],
        "customer_id": [f"C{i:06d}" for i in slot],
        "opened": stamp(tk[:, 1], "s"),
        "first_response": stamp(tk[:, 2], "s"),
        "resolved": stamp(np.where(answered, tk[:, 2] + tk[:, 3], np.nan), "s"),
        "channel": np.where(rng.random(len(tk)) < 0.7, "email", "chat"),
        "fee_usd": [f"{x:.2f}" for x in tk[:, 4]],
        "satisfaction": np.where(scored, (levels[slot] + 1).astype(str), ""),
    })
    return customers, tickets

