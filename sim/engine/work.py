"""A month's work for the desk: tickets from the customers' help decisions, and VIP touches.

Where it sits: customers (help decisions) + pricing (service and fees) + demand (expectations)
-> **work** -> the model's month and its pilot month, which hand it to the desk. Pure numpy;
draws only from the generators it is given.
"""

from __future__ import annotations

import numpy as np

from sim.engine import customers as cu
from sim.engine import demand, hours, pricing
from sim.engine.desk import TicketBatch
from sim.params.schema import Params


def _handle_times(params: Params, n: int, rng: np.random.Generator) -> np.ndarray:
    s = params.support
    if s.handle_time_dist == "exponential":
        return rng.exponential(s.handle_time_mean_h, n)
    sigma2 = np.log1p(s.handle_time_cv**2)
    return rng.lognormal(np.log(s.handle_time_mean_h) - sigma2 / 2, np.sqrt(sigma2), n)


def tickets(pop: cu.Population, who: np.ndarray, hd: cu.HelpDecisions, params: Params, t0: float,
             rng: np.random.Generator) -> TicketBatch:
    """Expand this month's raised tickets into a batch sorted by arrival time."""
    cust = np.concatenate([np.repeat(who, hd.asks_free), np.repeat(who, hd.asks_paid)])
    charged = np.concatenate([np.zeros(hd.asks_free.sum(), bool), np.ones(hd.asks_paid.sum(), bool)])
    n = len(cust)
    arrival = hours.arrivals(params.support, t0, rng.random(n))
    handle = _handle_times(params, n, rng)
    patience = rng.exponential(params.support.patience_mean_h, n)
    order = np.argsort(arrival, kind="stable")
    cust, charged, arrival, handle, patience = cust[order], charged[order], arrival[order], handle[order], patience[order]
    seg = pop.segment[cust]
    priority, sla = pricing.ticket_service(params, seg, pop.vip[cust])
    fee = pricing.ticket_fees(params, seg, handle, charged)
    expect = demand.expectation_h(params, sla)
    # one uniform per ticket decides how late its answer may be before it costs a level
    tolerance = cu.late_tolerance(params, expect, rng.random(n)[order])
    return TicketBatch(arrival, handle, patience, priority, sla, cust, fee, expect, tolerance)


def manual_vips(pop: cu.Population, params: Params) -> np.ndarray:
    """Mask over slots: VIPs cared for by hand (the earliest ``vip.manual_capacity`` active VIPs)."""
    n = pop.n
    vip = pop.vip[:n] & pop.active[:n]
    return vip & (np.cumsum(vip) <= params.vip.manual_capacity)


def vip_touches(pop: cu.Population, params: Params, month: int, new_trials: np.ndarray,
                 outreach: np.ndarray, manual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers and durations of this month's manual VIP touches (welcome, concierge,
    lifecycle, outreach). VIPs beyond manual capacity get automated messages instead
    (counted in ``pop.auto_touches``, no agent time)."""
    v = params.vip
    parts: list[tuple[np.ndarray, float]] = []
    vip_trials = new_trials[pop.vip[new_trials]]
    if v.welcome_h > 0:
        parts.append((vip_trials, v.welcome_h))
    if v.concierge_checkins > 0 and v.checkin_h > 0:
        parts.append((np.repeat(vip_trials, v.concierge_checkins), v.checkin_h))
    if v.lifecycle_checkins and v.checkin_h > 0:
        paying_vip = np.flatnonzero(pop.paying[: pop.n] & pop.vip[: pop.n] & pop.active[: pop.n])
        age = month - pop.converted_month[paying_vip]
        due = (age == 1) | ((age >= 4) & ((age - 1) % 3 == 0))
        parts.append((paying_vip[due], v.checkin_h))
    if v.outreach_h > 0:
        parts.append((outreach[pop.active[outreach]], v.outreach_h))
    custs = np.concatenate([c for c, _ in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
    durs = np.concatenate([np.full(len(c), d) for c, d in parts]) if parts else np.zeros(0)
    by_hand = manual[custs]
    np.add.at(pop.auto_touches, custs[~by_hand], 1)
    return custs[by_hand], durs[by_hand]
