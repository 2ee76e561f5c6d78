"""Retention from the customers table: renewal periods, monthly churn through the ladder, cohorts, sBG.

Where it sits: ``ingest`` (the customers table) -> **retention** -> ``estimate`` and ``hazard``.
A paid period is a 730-h month from the signup date. Pure computation: nothing is read,
written or printed here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from sim.calibrate import fits as sbg
from sim.calibrate.catalogue import PERIODS_SHOWN
from sim.calibrate.ingest import CustomerTable
from sim.calibrate.quantities import MONTH_H, PERIOD_SLACK, Estimate


def renewal_periods(*, signup_h: np.ndarray, cancel_h: np.ndarray, window_start_h: float,
                    export_h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tenures in paid periods of 730 h from each signup, for the sBG and the monthly churn rate.

    Returns (entry, churn period, tenure): renewals already passed when the window starts (0 for
    signups inside it); the period in which a cancelled customer left (>= 1, > entry), i.e. the
    periods paid; and the renewals passed by the export date (for customers still there). A
    cancellation up to PERIOD_SLACK of a period past a renewal counts as before it.
    """
    entry = np.where(signup_h < window_start_h,
                     np.floor((window_start_h - signup_h) / MONTH_H + PERIOD_SLACK), 0).astype(np.int64)
    churn_t = np.maximum(1, np.ceil((np.nan_to_num(cancel_h) - signup_h) / MONTH_H - PERIOD_SLACK))
    churn_t = np.maximum(churn_t, entry + 1).astype(np.int64)
    tenure = np.maximum(np.floor((export_h - signup_h) / MONTH_H + PERIOD_SLACK), entry).astype(np.int64)
    return entry, churn_t, tenure


def ladder_base_churn(monthly_churn: float, *, shares: list[float], multipliers: list[float]) -> tuple[float, float]:
    """Base churn b (the 'meet' level) such that sum_l share_l (1 - (1 - b)^m_l) = observed monthly churn.

    The model's hazard is -ln(1 - b) x level multiplier; returns (b, d b / d churn) for the SE.
    """
    s, m = np.asarray(shares, dtype=np.float64), np.asarray(multipliers, dtype=np.float64)

    def g(b: float) -> float:
        return float((s * -np.expm1(m * np.log1p(-b))).sum())

    def dg(b: float) -> float:
        return float((s * m * np.exp((m - 1) * np.log1p(-b))).sum())

    hi = 0.99
    if monthly_churn <= 0:
        return 0.0, 1.0 / max(dg(0.0), 1e-12)
    if g(hi) < monthly_churn:
        return hi, 0.0
    b = optimize.brentq(lambda x: g(x) - monthly_churn, 0.0, hi, xtol=1e-14)
    return float(b), 1.0 / max(dg(b), 1e-12)



def cohort_table(c: CustomerTable, *, w0: float, export_h: float, churn_t: np.ndarray, tenure: np.ndarray,
                  is_churn: np.ndarray) -> pd.DataFrame:
    """Survivors by signup month (cohorts signed up inside the window), as % after 1..12 renewals."""
    inside = c.signup_h >= w0
    if not inside.any():
        return pd.DataFrame(columns=["cohort", "customers"])
    signup = c.signup_h[inside]
    month = np.round(signup * 3600).astype(np.int64).astype("datetime64[s]").astype("datetime64[M]")
    cohorts, which = np.unique(month, return_inverse=True)
    n0 = np.bincount(which)
    last_signup = np.full(len(cohorts), -np.inf)
    np.maximum.at(last_signup, which, signup)
    seen = np.floor((export_h - last_signup) / MONTH_H + PERIOD_SLACK)
    churn, t, ten = is_churn[inside], churn_t[inside], tenure[inside]
    alive = [np.bincount(which, weights=(churn & (t > p)) | (~churn & (ten >= p)), minlength=len(cohorts))
             for p in range(1, PERIODS_SHOWN + 1)]
    rows = []
    for j, label in enumerate(np.datetime_as_string(cohorts, unit="M")):
        row: dict[str, Any] = {"cohort": str(label), "customers": int(n0[j])}
        for p in range(1, PERIODS_SHOWN + 1):
            row[f"m{p}"] = round(100.0 * alive[p - 1][j] / n0[j], 1) if p <= seen[j] else None
        rows.append(row)
    return pd.DataFrame(rows)


def retention_rate(c: CustomerTable, *, w0: float, export_h: float) -> Estimate | None:
    """Mean monthly retention rate ((C - B) / A) x 100 over whole 730-h months of the window."""
    starts = w0 + MONTH_H * np.arange(int((export_h - w0) // MONTH_H) + 1)
    if len(starts) < 2:
        return None
    sig = np.sort(c.signup_h)
    end = np.sort(np.where(np.isnan(c.cancel_h), np.inf, c.cancel_h))

    def active(at: np.ndarray) -> np.ndarray:  # signed up before `at`, not cancelled by then
        return np.searchsorted(sig, at, side="left") - np.searchsorted(end, at, side="right")

    a = active(starts[:-1])
    cc = active(starts[1:])
    b = np.searchsorted(sig, starts[1:], side="left") - np.searchsorted(sig, starts[:-1], side="left")
    ok = a > 0
    if not ok.any():
        return None
    rates = (cc[ok] - b[ok]) / a[ok] * 100
    se = float(np.std(rates, ddof=1) / math.sqrt(len(rates))) if len(rates) > 1 else None
    return Estimate(float(rates.mean()), se, int(len(c)),
                    f"mean of {len(rates)} monthly retention rates ((C - B) / A) x 100, "
                    f"{rates.min():.2f} to {rates.max():.2f}")


def cohort_report(survivors: list[float], *, horizon: int) -> tuple[sbg.SBGFit, pd.DataFrame]:
    """sBG fit of one cohort and a table: period, observed survivors, fitted/projected survival and retention."""
    f = sbg.fit(sbg.counts_from_survivors(survivors))
    n0 = survivors[0]
    periods = np.arange(0, max(horizon, len(survivors) - 1) + 1)
    s = f.survival(periods)
    table = pd.DataFrame({
        "period": periods,
        "observed": [survivors[i] if i < len(survivors) else None for i in periods],
        "observed_pct": [100 * survivors[i] / n0 if i < len(survivors) else None for i in periods],
        "fitted_pct": 100 * s,
        "retention_pct": np.r_[np.nan, 100 * f.retention(periods[1:])],
        "projected": periods >= len(survivors),
    })
    return f, table
