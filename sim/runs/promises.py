"""What each policy promises, and whether the desk's hours let it be kept.

Where it sits: scenario -> **promises** (the scheme's service per plan from ``sim.engine.pricing``,
the desk's hours and arrival profile from ``sim.engine.hours``) -> the "what each policy
promises" rows of the report, the deck's assumptions, the app and ``run``'s printout. A promise
on the calendar clock cannot be kept for a ticket that arrives with no open moment before its
deadline (a 4 h promise on a Mon-Fri 09-17 desk, for a ticket sent at 17:30): whatever the
roster, the customer is answered late. :func:`unkeepable_warnings` says so when that share
exceeds :data:`WARN_SHARE` of a plan's tickets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.engine import hours, pricing
from sim.params.scenario import resolve_policies
from sim.params.schema import Params, Scenario

# Above this share of a plan's tickets a promise the hours cannot keep is worth a warning
# (a reporting threshold, not a model parameter: "more than a few percent" of tickets).
WARN_SHARE = 0.05
COLUMNS = ["policy", "label", "plan", "promise_h", "clock", "priority", "fee_usd_per_ticket",
           "free_tickets_per_month", "unkeepable_share"]


def plan_promises(params: Params) -> pd.DataFrame:
    """Per plan (VIPs aside): the first-response promise (h), its clock, the desk priority, the fee
    per ticket beyond the allowance, the allowance, and the share of the plan's tickets that no
    roster can answer within the promise."""
    segs = params.customers.segments
    idx = np.arange(len(segs))
    priority, promise = pricing.ticket_service(params, idx, np.zeros(len(segs), bool))
    fees = pricing.marginal_fee_by_segment(params)
    allowance = pricing.free_allowance(params)
    sup = params.support
    calendar = sup.sla_clock == "calendar"
    schedule, weights = hours.desk_schedule(sup), hours.profile(sup)
    return pd.DataFrame({
        "plan": [s.name for s in segs],
        "promise_h": promise.astype(float),
        "clock": sup.sla_clock,
        "priority": priority.astype(int),
        "fee_usd_per_ticket": np.asarray(fees, dtype=float),
        "free_tickets_per_month": allowance if allowance < pricing.UNLIMITED else None,
        "unkeepable_share": [hours.unkeepable_share(schedule, weights, float(p)) if calendar else 0.0
                             for p in promise],
    })


def promises_table(scenario: Scenario) -> pd.DataFrame:
    """:func:`plan_promises` of every policy of the scenario, in file order."""
    rows = [plan_promises(p.params).assign(policy=p.name, label=p.label) for p in resolve_policies(scenario)]
    return pd.concat(rows, ignore_index=True)[COLUMNS]


def unkeepable_warnings(table: pd.DataFrame, *, threshold: float = WARN_SHARE) -> list[str]:
    """One sentence per policy with a promise the desk's hours cannot keep for more than
    ``threshold`` of a plan's tickets, whatever the roster."""
    out = []
    for label, rows in table.groupby("label", sort=False):
        bad = rows[rows["unkeepable_share"] > threshold]
        if bad.empty:
            continue
        why = ("on the desk's hours, whatever the roster (they arrive with no open hour before their deadline "
               "on the calendar clock)")
        if len(bad) == len(rows) and bad["promise_h"].nunique() == 1:
            out.append(f"{label}: its {bad['promise_h'].iloc[0]:g} h promise cannot be kept for "
                       f"{bad['unkeepable_share'].iloc[0]:.0%} of tickets {why}")
        else:
            parts = ", ".join(f"{r.unkeepable_share:.0%} ({r.promise_h:g} h, {r.plan})" for r in bad.itertuples())
            out.append(f"{label}: its promises cannot be kept for {parts} of tickets {why}")
    return out
