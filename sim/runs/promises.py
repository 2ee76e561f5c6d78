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


def unkeepable_by_policy(table: pd.DataFrame, *,
                        threshold: float = WARN_SHARE) -> list[tuple[str, list[tuple[float, float, str]]]]:
    """Per policy (by its label) with a promise the desk's hours cannot keep for more than
    ``threshold`` of a plan's tickets: (promise h, share, "every plan" or the plans) for each such
    promise, plans with the same promise and share together."""
    out = []
    for _, rows in table.groupby("policy", sort=False):
        bad = rows[rows["unkeepable_share"] > threshold]
        if bad.empty:
            continue
        parts = [(float(promise), float(share), "every plan" if len(same) == len(rows) else ", ".join(same["plan"]))
                 for (promise, share), same in bad.groupby(["promise_h", "unkeepable_share"], sort=False)]
        out.append((str(rows["label"].iloc[0]), parts))
    return out


def unkeepable_warnings(table: pd.DataFrame, *, threshold: float = WARN_SHARE) -> list[str]:
    """One sentence per policy with a promise the desk's hours cannot keep for more than
    ``threshold`` of a plan's tickets, whatever the roster."""
    why = ("on the desk's hours, whatever the roster (they arrive with no open hour before their deadline "
           "on the calendar clock)")
    out = []
    for label, parts in unkeepable_by_policy(table, threshold=threshold):
        if len(parts) == 1 and parts[0][2] == "every plan":
            out.append(f"{label}: its {parts[0][0]:g} h promise cannot be kept for {parts[0][1]:.0%} of tickets {why}")
        else:
            listed = ", ".join(f"{share:.0%} ({promise:g} h, {plans})" for promise, share, plans in parts)
            out.append(f"{label}: its promises cannot be kept for {listed} of tickets {why}")
    return out
