"""Exports made from a model trace: customers and tickets tables in the format ``ingest`` reads.

Where it sits: ``sim.engine.model.Trace`` (made by the caller) -> **synthetic** -> CSV exports
-> ``ingest``. Used for round-trip tests (calibrate data whose truth is known) and the bundled
example in ``examples/calibration/``. It does not run the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.calibrate.quantities import MONTH_H
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


# ----------------------------------------------------------------------------- a plain hazard, no model


HAZARD_START = np.datetime64("2024-01-01T00:00:00", "s")


def _hazard_stamp(hours: np.ndarray, unit: str = "s") -> np.ndarray:
    out = np.full(len(hours), "", dtype=object)
    ok = np.isfinite(hours)
    out[ok] = np.datetime_as_string(HAZARD_START + (np.round(hours[ok] * 3600)).astype("timedelta64[s]"), unit=unit)
    return out


TRUE_BETA = {"abandoned": 0.6, "late x 1-2": 0.15, "late x 2-5": 0.45, "late x >5": 0.8}
TRUE_BASE = {0: 0.03, 1: 0.012}  # monthly churn with no bad outcome, by segment


def hazard_exports(seed: int = 0, n: int = 8000, months: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers and tickets from a plain discrete-time hazard in numpy, independent of the model.

    ``n`` customers sign up on day 0 (two plans); each month each meets Poisson(0.9) tickets on a
    24/7 desk, 12% abandoned, the rest answered after a lognormal wait (median 2.5 h; against a 4 h
    expectation x = wait / 4). The chance of leaving at the month's end is a complementary log-log
    in that month's abandoned tickets and late answers by band of x (each count capped at 2), with
    coefficients :data:`TRUE_BETA` and hazard :data:`TRUE_BASE` without them. The calibration's
    hazard model must give these back.
    """
    rng = np.random.default_rng(seed)
    seg = (rng.random(n) < 0.4).astype(int)
    alive = np.ones(n, bool)
    cancel = np.full(n, np.nan)
    rows = []
    for k in range(months):
        who = np.flatnonzero(alive)
        count = rng.poisson(0.9, len(who))
        owner = np.repeat(who, count)
        t0 = k * MONTH_H + rng.random(len(owner)) * (MONTH_H - 48)  # answered within the month
        abandoned = rng.random(len(owner)) < 0.12
        wait = np.exp(rng.normal(math.log(2.5), 1.3, len(owner)))  # hours; expectation 4 h: x = wait / 4
        x = wait / 4.0
        ab = np.bincount(owner[abandoned], minlength=n)[who]
        bands = [np.bincount(owner[~abandoned & (x > lo) & (x <= hi)], minlength=n)[who]
                 for lo, hi in ((1, 2), (2, 5), (5, np.inf))]
        eta = (np.log(-np.log1p(-np.array([TRUE_BASE[s] for s in seg[who]])))
               + TRUE_BETA["abandoned"] * np.minimum(ab, 2)
               + sum(TRUE_BETA[b] * np.minimum(c, 2) for b, c in zip(("late x 1-2", "late x 2-5", "late x >5"), bands)))
        leave = rng.random(len(who)) < -np.expm1(-np.exp(eta))
        cancel[who[leave]] = (k + 1) * MONTH_H - 12.0
        alive[who[leave]] = False
        rows.append(pd.DataFrame({"customer": owner, "opened": t0, "first": np.where(abandoned, np.nan, t0 + wait)}))
    tk = pd.concat(rows, ignore_index=True).sort_values("opened", kind="stable")
    customers = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)], "signup_date": "2024-01-01",
        "cancel_date": _hazard_stamp(cancel, "D"), "plan": np.where(seg == 0, "basic", "pro"),
        "monthly_revenue_usd": np.where(seg == 0, "49.00", "199.00")})
    first = tk["first"].to_numpy()
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i:06d}" for i in range(len(tk))], "customer_id": [f"C{i:05d}" for i in tk["customer"]],
        "opened": _hazard_stamp(tk["opened"].to_numpy()), "first_response": _hazard_stamp(first),
        "resolved": _hazard_stamp(first + 0.5)})
    return customers, tickets
