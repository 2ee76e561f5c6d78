"""The KPI registry: every KPI declared once, as data (no numpy, no pandas).

Where it sits: **kpis** -> metrics (computes them per run), output (labels, formats), cli
(``--kpi`` choices: the command line's help reads this module without loading the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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

# The KPI decisions are made on (``decide``, the decision under uncertainty). The one place this
# choice is made.
DEFAULT_KPI = "value_usd"
