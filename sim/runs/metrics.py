"""KPIs per run and Monte Carlo summaries with confidence intervals.

Where it sits: model records (tidy monthly table) -> **metrics** -> results files, plots,
app. Works on pandas tables only; never runs the model.

Every KPI is declared once in :data:`KPIS` (label, unit, format, better direction,
definition) and every money column once in :data:`MONEY_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine import ledger
from sim.runs import economics


@dataclass(frozen=True)
class KPI:
    """One KPI, declared once: every table, card, plot axis and report row reads it from here.

    ``fmt`` is how a value reads (see :mod:`sim.output.fmt`): "usd", "count", "pct" (a value
    already in percent), "share" (a fraction shown in percent) or "ratio". ``better``:
    "higher", "lower" or "neutral" (neither direction is good in itself).
    """

    name: str
    label: str
    unit: str
    fmt: Literal["usd", "count", "pct", "share", "ratio"]
    better: Literal["higher", "lower", "neutral"]
    definition: str

    @property
    def title(self) -> str:
        """Label with its unit, e.g. "Cumulative profit (USD)"."""
        return self.label if self.fmt in ("count", "ratio") else f"{self.label} ({self.unit})"


KPIS: dict[str, KPI] = {k.name: k for k in (
    KPI("value_usd", "Value", "USD", "usd", "higher",
        "Net present value of monthly profit at finance.discount_rate_annual plus the discounted expected "
        "remaining margin of the customers still paying at the horizon (USD; docs/value.md, \"Value\"). "
        "The default decision KPI."),
    KPI("customers_at_horizon", "Customers at horizon", "customers", "count", "higher",
        "Paying customers at the end of the last month (C of the last month)."),
    KPI("avg_retention_rate_pct", "Average retention rate", "%", "pct", "higher",
        "Mean over months of the monthly retention rate ((C - B) / A) x 100."),
    KPI("cumulative_profit", "Cumulative profit", "USD", "usd", "higher",
        "Sum of monthly profit over the horizon, undiscounted (USD)."),
    KPI("ltv", "LTV", "USD", "usd", "higher",
        "Margin per paying customer-month / monthly churn rate; margin counts subscription and support "
        "revenue less support, VIP and loyalty cost (USD)."),
    KPI("cac_realised_usd", "Realised CAC", "USD", "usd", "lower",
        "Paid acquisition spend / paying customers won from paid trials (USD); free conversions "
        "(organic, referrals) are not counted."),
    KPI("ltv_cac", "LTV:CAC", "ratio", "ratio", "higher", "LTV / realised CAC."),
    KPI("suppressed_share", "Issues suppressed", "share of issues", "share", "neutral",
        "Issues not raised because of the fee or habit / all issues."),
    KPI("sla_met_share", "Answered within SLA", "share of tickets answered", "share", "higher",
        "Tickets answered within their SLA (each ticket's own target, on the SLA clock) / tickets answered, over "
        "the whole run (months weighted by tickets answered); NaN when none was answered."),
    KPI("support_cost_share", "Support cost share", "share of revenue", "share", "lower",
        "Support cost (the desk's paid agent hours, VIP touch hours excluded) / revenue (subscriptions and "
        "support fees), summed over the run, undiscounted."),
)}


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
