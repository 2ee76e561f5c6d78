"""KPIs per run and Monte Carlo summaries with confidence intervals.

Where it sits: model records (tidy monthly table) -> **metrics** -> results files, plots,
app. Works on pandas tables only; never runs the model.

Every KPI is declared once in :data:`sim.runs.kpis.KPIS` (label, unit, format, better
direction, definition; re-exported here) and every money column once in :data:`MONEY_COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine import ledger
from sim.runs import economics
from sim.runs.kpis import KPI, KPIS  # noqa: F401  (re-exported: the registry's users read it here too)

# Every money column (label, sign, part of value) is declared once, in sim.engine.ledger.
MONEY_COLUMNS = ledger.MONEY
MONEY = list(ledger.COLUMNS)
COSTS = {m.column for m in ledger.MONEY if m.sign < 0}


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def sla_met_share(monthly: pd.DataFrame) -> float:
    """Tickets answered within SLA / tickets answered over a run's months (the months' shares
    weighted by tickets answered); NaN when none was answered."""
    served = monthly["tickets_resolved"].to_numpy(dtype=float)
    share = monthly["sla_met_share"].to_numpy(dtype=float)
    return _ratio(np.nansum(share * served), served[np.isfinite(share)].sum())


def run_kpis(monthly: pd.DataFrame) -> dict[str, float]:
    """KPIs of one run (one policy, one replication) from its monthly rows."""
    m = monthly.sort_values("month")
    exposure = float((m["customers_start"] + m["acquired"]).sum())  # paying customer-months
    margin = float(sum(c.sign * m[c.column] for c in ledger.MONEY if c.in_margin).sum())
    churn_rate = _ratio(m["churned"].sum(), exposure)
    ltv = _ratio(_ratio(margin, exposure), churn_rate) if churn_rate == churn_rate and churn_rate > 0 else float("nan")
    econ = economics.run_economics(m)
    cac = econ["cac_realised_usd"]
    issues = float(m["issues"].sum())
    revenue = float(sum(m[c.column] for c in ledger.MONEY if c.sign > 0).sum())
    return {
        "value_usd": econ["value_usd"],
        "customers_at_horizon": float(m["customers_end"].iloc[-1]),
        "avg_retention_rate_pct": float(m["retention_rate_pct"].mean()),
        "cumulative_profit": float(m["profit"].sum()),
        "ltv": ltv,
        "cac_realised_usd": cac,
        "ltv_cac": _ratio(ltv, cac) if cac == cac else float("nan"),
        "suppressed_share": _ratio(m["tickets_suppressed"].sum(), issues),
        "sla_met_share": sla_met_share(m),
        "support_cost_share": _ratio(m["support_cost"].sum(), revenue),
        **{k: econ[k] for k in economics.BRIDGE_COLUMNS},
    }


# Per-run columns of the KPI table: the KPIs, then the parts of value_usd (for the bridge).
RUN_COLUMNS = [*KPIS, *economics.BRIDGE_COLUMNS]


def kpi_table(monthly: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, replication) with every KPI."""
    rows = []
    for (policy, rep), g in monthly.groupby(["policy", "replication"], sort=False):
        rows.append({"policy": policy, "replication": rep, **run_kpis(g)})
    return pd.DataFrame(rows)


def t_interval(values: np.ndarray | pd.Series, level: float = 0.95) -> dict[str, float]:
    """Mean, standard deviation and two-sided Student-t interval of the mean (NaNs dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return {"mean": float("nan"), "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 1}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n))
    return {"mean": mean, "std": sd, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def summarize(kpis: pd.DataFrame, policies: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per policy, per KPI: mean, std, 95% CI."""
    return {
        p: {k: t_interval(kpis.loc[kpis["policy"] == p, k]) for k in KPIS} for p in policies
    }


def paired_differences(kpis: pd.DataFrame, reference: str, policies: list[str],
                       columns: list[str] | None = None) -> dict[str, dict[str, dict]]:
    """Per policy other than the reference: the mean and 95% CI of (policy - reference) of each
    KPI (or of ``columns``), paired by replication (common random numbers make the pairs
    comparable)."""
    ref = kpis[kpis["policy"] == reference].set_index("replication")
    out = {}
    for p in policies:
        if p == reference:
            continue
        other = kpis[kpis["policy"] == p].set_index("replication")
        common = ref.index.intersection(other.index)
        out[p] = {k: t_interval(other.loc[common, k] - ref.loc[common, k]) for k in (columns or list(KPIS))}
    return out


def value_bridge(kpis: pd.DataFrame, reference: str, policies: list[str]) -> dict[str, dict[str, dict]]:
    """Per policy other than the reference: the paired difference of ``value_usd`` against the
    reference, and the same difference split into the parts of ``sim.runs.economics.PARTS``
    plus terminal value (mean and 95% CI each). The part means add up to the value_usd mean."""
    return paired_differences(kpis, reference, policies, ["value_usd", *economics.BRIDGE_COLUMNS])


def band(monthly: pd.DataFrame, column: str, *, cumulative: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Per (policy, month): mean and t-interval of ``column`` across replications.

    With ``cumulative`` the column is first summed over months within each replication.
    """
    df = monthly[["policy", "replication", "month", column]].copy()
    if cumulative:
        df[column] = df.groupby(["policy", "replication"], sort=False)[column].cumsum()
    g = df.groupby(["policy", "month"], sort=False)[column]
    out = g.agg(mean="mean", std="std", n="count").reset_index()
    tcrit = stats.t.ppf(0.5 + level / 2, np.maximum(out["n"] - 1, 1))
    half = np.where(out["n"] > 1, tcrit * out["std"] / np.sqrt(out["n"]), np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out
