"""One model run: a policy's parameters + a replication number -> one record per month.

Where it sits: scenario -> **model** -> metrics. Customers move in a vectorised monthly
step (``sim.engine.customers``); tickets and VIP touches are queued for agents in one SimPy
environment that runs continuously across months (``sim.engine.desk``), so tickets still queued
at a month's end carry over. Money and customer counts are recorded per month.

Order of one month m (time in hours, t0 = m x 730 h):
1. trials started last month convert or leave (B = conversions); A = paying customers before.
2. last month's signups start their trials; VIPs among them get a welcome (+ concierge).
3. issues arrive; customers raise tickets or not given the marginal fee.
4. the roster is set (``sim.engine.staffing``: fixed, or Erlang C per hour of the week on this
   month's offered load); the desk runs to t0 + 730 h, keeping its opening hours.
5. the satisfaction ladder moves; paying customers churn (VIP activity alerts may save some).
6. referrals, negative word of mouth and paid acquisition decide next month's signups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.engine import customers as cu
from sim.engine import hours, staffing
from sim.engine.desk import Desk, DeskLog, TicketBatch
from sim.engine.rng import Streams
from sim.params.schema import HOURS_PER_MONTH, LADDER, Params

MONTH_H = HOURS_PER_MONTH


def _handle_times(params: Params, n: int, rng: np.random.Generator) -> np.ndarray:
    s = params.support
    if s.handle_time_dist == "exponential":
        return rng.exponential(s.handle_time_mean_h, n)
    sigma2 = np.log1p(s.handle_time_cv**2)
    return rng.lognormal(np.log(s.handle_time_mean_h) - sigma2 / 2, np.sqrt(sigma2), n)


def _tickets(pop: cu.Population, who: np.ndarray, hd: cu.HelpDecisions, params: Params, t0: float,
             rng: np.random.Generator) -> TicketBatch:
    """Expand this month's raised tickets into a batch sorted by arrival time."""
    segs = params.customers.segments
    cust = np.concatenate([np.repeat(who, hd.asks_free), np.repeat(who, hd.asks_paid)])
    charged = np.concatenate([np.zeros(hd.asks_free.sum(), bool), np.ones(hd.asks_paid.sum(), bool)])
    n = len(cust)
    arrival = hours.arrivals(params.support, t0, rng.random(n))
    handle = _handle_times(params, n, rng)
    patience = rng.exponential(params.support.patience_mean_h, n)
    order = np.argsort(arrival, kind="stable")
    cust, charged, arrival, handle, patience = cust[order], charged[order], arrival[order], handle[order], patience[order]
    seg = pop.segment[cust]
    p = params.pricing
    if p.scheme == "tiered":
        priority = np.array([s.tier_priority for s in segs])[seg]
        sla = np.array([s.tier_sla_h for s in segs])[seg]
    else:
        priority = np.ones(n, dtype=np.int64)
        sla = np.full(n, params.support.sla_target_h)
    vip = pop.vip[cust]
    priority = np.where(vip, 0, priority)
    sla = np.where(vip, params.vip.sla_h, sla)
    if p.scheme == "per_hour":
        fee = p.per_hour_fee_usd * handle
    else:
        fee = cu.ticket_fee_by_segment(params)[seg]
    fee = np.where(charged, fee, 0.0)
    return TicketBatch(arrival, handle, patience, priority, sla, cust, fee)


def _manual_vips(pop: cu.Population, params: Params) -> np.ndarray:
    """Mask over slots: VIPs cared for by hand (the earliest ``vip.manual_capacity`` active VIPs)."""
    n = pop.n
    vip = pop.vip[:n] & pop.active[:n]
    return vip & (np.cumsum(vip) <= params.vip.manual_capacity)


def _vip_touches(pop: cu.Population, params: Params, month: int, new_trials: np.ndarray,
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


@dataclass
class Trace:
    """Optional per-entity records of a run (for calibration round trips and debugging).

    ``customers``: one row per customer ever created: slot, segment, trial_month,
    converted_month (None if never paying), churn_month (None if still there or trial lost),
    vip, big_name, funding_usd, final level. ``tickets``: one row per ticket: customer slot,
    arrival_h, first_response_h (None if abandoned), handle_h, fee_usd.
    """

    customers: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[tuple] = field(default_factory=list)


def run(params: Params, *, months: int, seed: int, replication: int = 0,
        crn_salt: str | None = None, trace: Trace | None = None,
        desk_log: DeskLog | None = None) -> list[dict[str, Any]]:
    """Simulate one replication of one policy; return one record (dict) per month.

    ``crn_salt`` gives the run its own random streams (switches common random numbers off);
    ``trace`` collects per-customer and per-ticket records (memory then grows with events);
    ``desk_log`` collects the desk's aggregates by hour of the week and tier.
    """
    streams = Streams(seed, replication, independent_of=crn_salt)
    streams.month(-1)
    n0 = params.customers.initial
    pop = cu.Population.empty(int(n0 * 1.3) + 64)
    pop.add(n0, params, streams["attributes"], month=0, paying=True,
            level=cu.initial_levels(n0, params, streams["ladder"]))
    env = simpy.Environment()
    sup = params.support
    desk = Desk(env, sup.agents if sup.staffing == "fixed" else sup.min_agents, pop,
                ticket_log=trace.tickets if trace is not None else None, hours=hours.desk_hours(sup), log=desk_log)
    churn_month = np.full(0, -1, dtype=np.int32)
    segs = params.customers.segments
    conv_base = float(sum(s.share * s.trial_conversion for s in segs))
    cac = params.acquisition.cac_multiple * params.acquisition.retention_cost_usd
    # Warm start: a trial pipeline already running at month 0, sized to replace the churn
    # expected in the first month, so month 0 does not start with an empty funnel.
    all_paying = np.arange(pop.n)
    expected_churn = float(cu.churn_probability(pop, all_paying, params).sum())
    need0 = params.acquisition.replacement_share * expected_churn + params.acquisition.growth_per_month
    # The same number of trials start in month 0 (bought before the horizon, not charged), so the
    # funnel is full from the start and month 1 converts trials too.
    warm_trials = int(round(need0 / conv_base)) if conv_base > 0 else 0
    pop.add(warm_trials, params, streams["attributes"], month=-1, paying=False)
    pending_signups = warm_trials
    outreach = np.zeros(0, dtype=np.int64)
    records = []

    for month in range(months):
        streams.month(month)
        t0 = month * MONTH_H
        n = pop.n
        # 1. conversions of last month's trials
        a_start = int(np.count_nonzero(pop.paying[:n] & pop.active[:n]))
        trials = np.flatnonzero(pop.active[:n] & ~pop.paying[:n] & (pop.trial_month[:n] == month - 1))
        converts = streams["trial"].random(len(trials)) < cu.conversion_probability(pop, trials, params)
        conv_idx = trials[converts]
        pop.paying[conv_idx] = True
        pop.converted_month[conv_idx] = month
        pop.active[trials[~converts]] = False
        acquired = len(conv_idx)
        # 2. new trials
        new_trials = pop.add(pending_signups, params, streams["attributes"], month=month, paying=False)
        n = pop.n
        active = np.flatnonzero(pop.active[:n])
        paying = active[pop.paying[active]]
        # 3. issues and tickets
        hd = cu.help_decisions(pop, active, params, streams["issues"], streams["help"])
        batch = _tickets(pop, active, hd, params, t0, streams["tickets"])
        if params.vip.enabled:
            manual = _manual_vips(pop, params)
            touch_c, touch_d = _vip_touches(pop, params, month, new_trials, outreach, manual)
        else:
            touch_c, touch_d = np.zeros(0, np.int64), np.zeros(0)
        # 4. staffing and the desk
        roster = staffing.month_roster(params, batch.priority, float(touch_d.sum()), t0)
        desk.set_roster(t0, roster.agents, roster.load)
        desk.begin_period(t0 + MONTH_H)
        desk.submit(batch)
        desk.submit_touches(hours.open_times(sup, t0, streams["vip"].random(len(touch_c))), touch_d, touch_c)
        env.run(until=t0 + MONTH_H)
        stats = desk.new_period()
        # 5. satisfaction (experiences, then survey follow-ups), churn, VIP alerts
        cu.ladder_update(pop, active, hd.unresolved, params, streams["ladder"])
        followups = cu.feedback_followups(pop, paying, params, streams["ladder"])
        rng_churn = streams["churn"]
        p_churn = cu.churn_probability(pop, paying, params)
        bound = rng_churn.random(len(paying)) < p_churn
        detected = np.zeros(len(paying), bool)
        saved = np.zeros(len(paying), bool)
        false_alarm = np.zeros(len(paying), bool)
        if params.vip.enabled:
            v = params.vip
            is_vip = pop.vip[paying]
            u = rng_churn.random((3, len(paying)))
            detected = bound & is_vip & (u[0] < v.alert_detection_prob)
            by_hand = manual[paying]
            save_prob = np.where(by_hand, v.outreach_save_prob, v.automated_save_prob)
            saved = detected & (u[1] < save_prob)
            false_alarm = ~bound & is_vip & (u[2] < v.alert_false_positive_rate)
        churn_mask = bound & ~saved
        churn_idx = paying[churn_mask]
        unhappy_churners = int(np.count_nonzero(pop.level[churn_idx] == cu.BELOW))
        outreach = paying[detected | false_alarm]
        # money (paying customers at the start of the month, conversions included, pay this month)
        price = cu.monthly_price(pop, paying, params)
        subscription = float(price.sum())
        support_revenue = stats.fees_usd + len(paying) * params.pricing.support_fee_usd_per_month
        # Paid agent-hours: the roster, plus overtime when agents above a reduced roster finish
        # the ticket in hand (at the end of a shift or of a month).
        paid_h = stats.paid_h
        staffing_cost = paid_h * sup.agent_cost_usd_per_hour
        # the VIP programme's share of the desk: touch hours worked this month (at most the paid hours)
        vip_hours_cost = min(stats.touch_h, paid_h) * sup.agent_cost_usd_per_hour
        n_vip_paying = int(np.count_nonzero(pop.vip[paying]))
        vip_cost = vip_hours_cost + n_vip_paying * params.vip.perks_usd_per_vip_month * params.vip.enabled
        support_cost = staffing_cost - vip_hours_cost
        # retention programmes other than VIP: loyalty rewards, proactive messages, surveys + follow-ups
        f = params.feedback
        loyalty_cost = (len(paying) * params.loyalty.cost_usd_per_customer_month * params.loyalty.enabled
                        + len(active) * params.proactive.cost_usd_per_customer_month * params.proactive.enabled
                        + (len(paying) * f.survey_cost_usd_per_customer_month + followups * f.followup_cost_usd)
                        * f.enabled)
        # ladder shares among paying customers, before churn
        shares = np.bincount(pop.level[paying], minlength=len(LADDER)) / max(len(paying), 1)
        pop.active[churn_idx] = False
        churned = len(churn_idx)
        if trace is not None:
            if len(churn_month) < pop.n:
                churn_month = np.concatenate([churn_month, np.full(pop.n - len(churn_month), -1, np.int32)])
            churn_month[churn_idx] = month
        # 6. word of mouth and acquisition -> next month's signups
        rng_acq = streams["acquisition"]
        lv = pop.level[paying[~churn_mask]]
        w = params.wom
        referrals = int(rng_acq.poisson(np.count_nonzero(lv == cu.DELIGHT) * w.referral_rate_delight
                                        + np.count_nonzero(lv == cu.WOW) * w.referral_rate_wow))
        wom_lost = int(rng_acq.poisson(unhappy_churners * w.negative_per_unhappy_churner))
        organic = int(rng_acq.poisson(params.acquisition.organic_signups_per_month))
        free_signups = organic + referrals - wom_lost
        need = params.acquisition.replacement_share * churned + params.acquisition.growth_per_month
        paid_signups = max(0, int(round(need / conv_base)) - free_signups) if conv_base > 0 else 0
        # signups lost to negative word of mouth are bought back: they cost money, not extra trials
        pending_signups = max(0, free_signups + paid_signups)
        acquisition_cost = paid_signups * cac * conv_base
        pop.reset_counters()

        c_end = a_start + acquired - churned
        waits = np.asarray(stats.waits_h)
        served = len(waits)
        raised = len(batch)
        records.append({
            "month": month,
            "customers_start": a_start,
            "acquired": acquired,
            "churned": churned,
            "customers_end": c_end,
            "retention_rate_pct": (c_end - acquired) / a_start * 100 if a_start else float("nan"),
            "trials_started": len(new_trials),
            "paid_signups": paid_signups,
            "referrals": referrals,
            "wom_lost_signups": wom_lost,
            "issues": int(hd.issues.sum()),
            "tickets_raised": raised,
            "tickets_suppressed": int(hd.suppressed.sum()),
            "issues_unresolved": int(hd.unresolved.sum()),
            "tickets_abandoned": stats.abandoned,
            "tickets_resolved": served,
            "wait_mean_h": float(waits.mean()) if served else float("nan"),
            "wait_p90_h": float(np.quantile(waits, 0.9)) if served else float("nan"),
            "sla_met_share": stats.sla_met / served if served else float("nan"),
            "agents": stats.peak_agents,
            "agent_hours_paid": paid_h,
            "agent_hours_overtime": stats.overtime_h,
            "agent_utilization": stats.busy_h / paid_h,
            "vip_customers": n_vip_paying,
            "vip_touches": stats.touches,
            "vip_touch_hours": stats.touch_h,
            "feedback_followups": followups,
            **{f"share_{name}": float(x) for name, x in zip(LADDER, shares)},
            "subscription_revenue": subscription,
            "support_revenue": support_revenue,
            "support_cost": support_cost,
            "acquisition_cost": acquisition_cost,
            "vip_cost": vip_cost,
            "loyalty_cost": loyalty_cost,
            "profit": subscription + support_revenue - support_cost - acquisition_cost - vip_cost - loyalty_cost,
        })
    if trace is not None:
        churn_month = np.concatenate([churn_month, np.full(pop.n - len(churn_month), -1, np.int32)])
        for i in range(pop.n):
            converted = int(pop.converted_month[i])
            trace.customers.append({
                "slot": i,
                "segment": params.customers.segments[int(pop.segment[i])].name,
                "trial_month": int(pop.trial_month[i]),
                "converted_month": converted if pop.paying[i] else None,
                "churn_month": int(churn_month[i]) if churn_month[i] >= 0 else None,
                "vip": bool(pop.vip[i]),
                "big_name": bool(pop.big_name[i]),
                "funding_usd": float(pop.funding_usd[i]),
                "level": LADDER[int(pop.level[i])],
            })
    return records
