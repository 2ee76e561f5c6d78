"""What each policy promises and charges, side by side: the rows that decide a comparison.

Where it sits: the resolved policies (``sim.params.scenario.resolve_policies``) -> **terms** ->
the deck's "What each policy promises and charges" slide (and any other table of policies). A
scenario file states a policy as overrides of the base; what a customer gets is the resolved
setting under the policy's scheme: the promise per plan (one SLA target for every plan, or the
tier's), the clock it runs on, the queue priority, the fees and the free allowance. Pure
functions; no I/O.
"""

from __future__ import annotations

from typing import Any

from sim.output import fmt
from sim.params.scenario import Policy, resolve_policies
from sim.params.schema import PAID_SCHEMES, Scenario
from sim.runs.promises import plan_promises

CLOCKS = {"business": "desk hours only", "calendar": "around the clock"}


def _per_plan(values: list[Any], unit: str = "") -> str:
    """"24 / 8 / 2 h" (one value per plan, plans in file order), or "4 h (every plan)"."""
    shown = [fmt.param(v) for v in values]
    if len(set(shown)) == 1:
        return f"{shown[0]}{unit} (every plan)"
    return " / ".join(shown) + unit


def _money(x: float) -> str:
    return f"${x:,.0f}" if float(x).is_integer() else f"${x:,.2f}"


def _terms(p: Policy) -> dict[str, str]:
    prm = p.params
    scheme, segs = prm.pricing.scheme, prm.customers.segments
    tiered = scheme == "tiered"
    plans = plan_promises(prm)  # the scheme's own service per plan (sim.engine.pricing), and what the hours allow
    promise = _per_plan(list(plans["promise_h"]), " h")
    if prm.vip.enabled:
        promise += f"; VIP {fmt.param(prm.vip.sla_h)} h"
    if scheme == "per_ticket":
        fee = f"{_money(prm.pricing.per_ticket_fee_usd)} a ticket"
    elif scheme == "per_hour":
        fee = f"{_money(prm.pricing.per_hour_fee_usd)} an hour of support"
    elif tiered:
        fee = " / ".join(_money(s.tier_ticket_fee_usd) for s in segs) + " a ticket"
    else:
        fee = "none"
    return {
        "Scheme": scheme.replace("_", " "),
        "Promise (first response)": promise,
        "SLA clock": f"{prm.support.sla_clock} ({CLOCKS.get(prm.support.sla_clock, '')})",
        "Queue priority": (" / ".join(str(v) for v in plans["priority"]) if plans["priority"].nunique() > 1
                           else "first come, first served"),
        "Tickets no roster can answer in time": _per_plan([f"{v:.0%}" for v in plans["unkeepable_share"]]),
        "Support fee": fee,
        "Free tickets a month": fmt.param(prm.pricing.included_tickets_per_month) if scheme in PAID_SCHEMES else "all",
        "Subscription add-on": (f"{_money(prm.pricing.support_fee_usd_per_month)} a month"
                                if prm.pricing.support_fee_usd_per_month else "none"),
        "List prices": f"x{fmt.param(prm.pricing.price_multiplier)}",
        "Desk hours": (f"{prm.support.hours}" if prm.support.hours == "24/7" else
                       f"{prm.support.open_hour}-{prm.support.close_hour} h, {prm.support.open_days} days a week"),
    }


def terms_rows(scenario: Scenario) -> list[list[str]]:
    """[term, policy 1, policy 2, ...] rows, a header of policy labels first, plans named in the
    header of the per-plan rows; a row where every policy is the same is kept only for the
    promise, its clock, the fee and the desk's hours (what a reader compares first)."""
    policies = resolve_policies(scenario)
    terms = [_terms(p) for p in policies]
    names = " / ".join(s.name for s in scenario.customers.segments)
    rows = [["", *(p.label or p.name for p in policies)]]
    for key in terms[0]:
        values = [t[key] for t in terms]
        if len(set(values)) == 1 and key not in ("Promise (first response)", "SLA clock", "Support fee", "Desk hours"):
            continue
        name = f"{key}, {names}" if key in ("Promise (first response)", "Queue priority",
                                             "Tickets no roster can answer in time") else key
        name += " (1 served first)" if key == "Queue priority" else ""
        rows.append([name, *values])
    return rows
