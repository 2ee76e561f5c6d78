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
6. referrals, negative word of mouth and paid acquisition (by segment,
   ``sim.engine.acquisition``) decide next month's trials; the month's record closes with
   its discount factor and the terminal value of the customers still paying.

With ``segments=[]`` a run also appends one row per (month, segment): customers at start
and end, acquired, churned, trials, subscription revenue, fees, tickets raised and
suppressed, acquisition cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.engine import acquisition as acq
from sim.engine import chain, demand, hours, ledger, pilot, staffing, work
from sim.engine import customers as cu
from sim.engine.desk import Desk, DeskLog, DeskStats, TicketBatch
from sim.engine.rng import Streams
from sim.params.schema import HOURS_PER_MONTH, LADDER, Params

MONTH_H = HOURS_PER_MONTH
LEVELS = len(LADDER)


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


@dataclass
class _Month:
    """What one month's steps hand to each other (month m, starting at t0 = m x 730 h)."""

    month: int
    t0: float
    a_start: int = 0  # A: paying customers before this month's conversions
    acquired: int = 0  # B: trials converted this month
    acquired_paid: int = 0  # of which bought by paid acquisition
    new_trials: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    paying: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hd: cu.HelpDecisions | None = None
    batch: TicketBatch | None = None
    manual: np.ndarray | None = None  # VIP slots cared for by hand (VIP programme on)
    touch_c: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    touch_d: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stats: DeskStats = field(default_factory=DeskStats)
    followups: int = 0
    churn_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    churn_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    unhappy_churners: int = 0
    referrals: int = 0
    wom_lost: int = 0
    vip_saves: int = 0
    a_start_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    acquired_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class _Run:
    """The state of one replication between months, and the month's steps in order."""

    def __init__(self, params: Params, streams: Streams, trace: Trace | None,
                 segment_rows: list[dict[str, Any]] | None = None, desk_log: DeskLog | None = None) -> None:
        self.params = params
        self.streams = streams
        self.trace = trace
        self.segment_rows = segment_rows
        self.n_seg = len(params.customers.segments)
        # monthly discount factor: cash of month m counts d^(m+1) (paid at the month's end)
        self.d = (1.0 + params.finance.discount_rate_annual) ** (-1.0 / 12.0)
        streams.month(-1)
        n0 = params.customers.initial
        pop = cu.Population.empty(int(n0 * 1.3) + 64)
        pop.add(n0, params, streams["attributes"], month=0, paying=True)
        pop.level[:n0], level_u = cu.initial_levels(n0, params, streams["ladder"])
        self.pop = pop
        # Slots of the paying customers and of the trials converting next, kept from month to
        # month (sorted by slot: every new customer gets a higher slot), so no step scans the
        # slots of customers long gone.
        self.paying = np.arange(n0)
        self.trials_due = np.zeros(0, np.int64)
        self.env = simpy.Environment()
        sup = params.support
        self.desk = Desk(self.env, sup.agents if sup.staffing == "fixed" else sup.min_agents, pop,
                         ticket_log=trace.tickets if trace is not None else None,
                         hours=hours.desk_hours(sup), log=desk_log)
        self.churn_month = np.full(0, -1, dtype=np.int32)
        self.funnel = acq.Funnel(params)
        # Ladder moves of paying customers per (group, from, to), group = segment x VIP: the
        # Markov chain of the terminal value (sim.engine.chain)
        self.n_groups = 2 * self.n_seg
        self.moves = np.zeros((self.n_groups, LEVELS, LEVELS), np.int64)
        self.vip_save = params.vip.outreach_save_prob  # mean save chance of a flagged paying VIP
        self.acquiring = True
        self.month_count = 0  # months run so far
        self.horizon_margin = np.zeros(self.n_groups)  # margin per group, set by terminal_value
        if params.satisfaction.initial_mix == "steady_state":
            self._settle(np.arange(n0), level_u)
        self.pending = self._warm_start()
        self.outreach = np.zeros(0, dtype=np.int64)

    def group(self, slots: np.ndarray) -> np.ndarray:
        """Chain group of each customer: segment x 2 + VIP."""
        return self.pop.segment[slots].astype(np.int64) * 2 + self.pop.vip[slots]

    def chain_churn(self) -> np.ndarray:
        """Monthly churn per (group, level): the segment's churn table, less what VIP alerts save."""
        c = np.repeat(cu.churn_table(self.params), 2, axis=0)
        v = self.params.vip
        if v.enabled:
            c[1::2] *= 1.0 - v.alert_detection_prob * self.vip_save
        return c

    def _settle(self, who: np.ndarray, u: np.ndarray) -> None:
        """Start the initial customers at the steady state of this policy's ladder: a pilot month
        of the desk with them gives each group's ticket outcomes, the ladder rules in expectation
        give the transitions (``customers.expected_moves``), new customers come in at the levels
        their trial month leads to, weighted by conversion (``chain.stationary_mix``). Customers
        keep their rank (``u``) in the mix, so policies stay paired."""
        T = pilot.transitions(self, who)
        mix = chain.stationary_mix(T, self.chain_churn(), self.inflow(T),
                                   np.asarray(self.params.satisfaction.initial_shares))
        self.pop.level[who] = cu.levels_from_uniforms(u, mix[self.group(who)])

    def inflow(self, T: np.ndarray | None = None) -> np.ndarray:
        """Level mix of new paying customers per group: a trial's month from 'meet' (``T``, default
        the moves counted so far), weighted by the conversion of each level."""
        T = chain.transition_matrix(self.moves) if T is None else T
        conv = cu.relieved(self.params.trial.conversion_level_multiplier, self.params.satisfaction.relief_above_meet)
        inflow = T[:, cu.MEET, :] * conv[None, :]
        total = inflow.sum(axis=1, keepdims=True)
        return np.where(total > 0, inflow / np.where(total > 0, total, 1.0), np.eye(LEVELS)[cu.MEET])

    def _warm_start(self) -> acq.Plan:
        """A trial pipeline already at steady state at month 0: trials started in month -1
        (converting in month 0) and signups starting in month 0 (converting in month 1), per
        segment, each sized to replace one month's expected churn of the initial customers.
        Bought before the horizon: not charged. Returns month 0's signups."""
        params, pop = self.params, self.pop
        all_paying = np.arange(pop.n)
        expected = np.bincount(pop.segment[all_paying], weights=cu.churn_probability(pop, all_paying, params),
                               minlength=self.n_seg)
        trials = self.funnel.warm_start(expected)
        plan = acq.Plan(trials, np.zeros_like(trials), np.zeros(self.n_seg))
        seg, _ = plan.segments()
        self.trials_due = pop.add(len(seg), params, self.streams["attributes"], month=-1, paying=False, segment=seg)
        return plan

    def month(self, month: int) -> dict[str, Any]:
        """Run month ``month`` (steps 1-6 of the module docstring); return its record."""
        self.streams.month(month)
        self.month_count = month + 1
        m = _Month(month, month * MONTH_H)
        self.trials(m)
        self.issues_and_help(m)
        self.desk_month(m)
        self.ladder_and_churn(m)
        money = self.money(m)
        shares = np.bincount(self.pop.level[m.paying], minlength=len(LADDER)) / max(len(m.paying), 1)
        self.close_churn(m)
        plan = self.acquisition(m)
        money["terminal_value_usd"] = self.terminal_value(m, money)
        if self.params.vip.enabled:
            cu.record_onboarding(self.pop, m.new_trials, self.params)
        if self.segment_rows is not None:
            self.segment_rows.extend(self.segment_records(m, plan))
        self.pop.reset_counters(self.pop.counted())
        return self.record(m, shares, money, plan)

    def trials(self, m: _Month) -> None:
        """1-2. Last month's trials convert or leave; last month's signups start their trials."""
        pop, params = self.pop, self.params
        start = self.paying
        m.a_start = len(start)
        m.a_start_seg = np.bincount(pop.segment[start], minlength=self.n_seg)
        trials = self.trials_due  # started last month
        converts = self.streams["trial"].random(len(trials)) < cu.conversion_probability(
            pop, trials, params, self.funnel.base_conversion)
        self.funnel.observe(pop.segment[trials], converts)
        conv_idx = trials[converts]
        pop.paying[conv_idx] = True
        pop.converted_month[conv_idx] = m.month
        pop.active[trials[~converts]] = False
        m.acquired = len(conv_idx)
        m.acquired_seg = np.bincount(pop.segment[conv_idx], minlength=self.n_seg)
        m.acquired_paid = int(np.count_nonzero(pop.paid_trial[conv_idx]))
        seg, paid = self.pending.segments()
        m.new_trials = pop.add(len(seg), params, self.streams["attributes"], month=m.month, paying=False,
                               segment=seg, paid=paid)
        self.trials_due = m.new_trials
        # converts have higher slots than every earlier payer, new trials than everyone
        m.paying = np.concatenate([start, conv_idx])
        m.active = np.concatenate([m.paying, m.new_trials])

    def issues_and_help(self, m: _Month) -> None:
        """3. Issues arrive; customers raise tickets or not given the marginal fee; VIP touches."""
        pop, params, streams = self.pop, self.params, self.streams
        m.hd = cu.help_decisions(pop, m.active, params, streams["issues"], streams["help"])
        m.batch = work.tickets(pop, m.active, m.hd, params, m.t0, streams["tickets"])
        if params.vip.enabled:
            m.manual = work.manual_vips(pop, params)
            m.touch_c, m.touch_d = work.vip_touches(pop, params, m.month, m.new_trials, self.outreach, m.manual)

    def desk_month(self, m: _Month) -> None:
        """4. The roster is set (``sim.engine.staffing``: fixed, or Erlang C per hour of the week
        on this month's offered load); the desk runs to the month's end, keeping its hours."""
        params, sup, desk, batch = self.params, self.params.support, self.desk, m.batch
        assert batch is not None
        roster = staffing.month_roster(params, batch.priority, float(m.touch_d.sum()), m.t0)
        desk.set_roster(m.t0, roster.agents, roster.load)
        desk.begin_period(m.t0 + MONTH_H)
        desk.submit(batch)
        desk.submit_touches(hours.open_times(sup, m.t0, self.streams["vip"].random(len(m.touch_c))), m.touch_d,
                            m.touch_c)
        self.env.run(until=m.t0 + MONTH_H)
        m.stats = desk.new_period()

    def ladder_and_churn(self, m: _Month) -> None:
        """5. The satisfaction ladder moves (experiences, then survey follow-ups); paying
        customers draw churn; VIP activity alerts flag some and outreach may save them."""
        pop, params, paying = self.pop, self.params, m.paying
        assert m.hd is not None
        streams = self.streams
        before = pop.level[paying].astype(np.int64)
        cu.ladder_update(pop, m.active, m.hd.unresolved, params, streams["ladder"], streams["programmes"],
                         streams["resentment"])
        m.followups = cu.feedback_followups(pop, paying, params, streams["feedback"])
        g = self.n_groups
        self.moves += np.bincount((self.group(paying) * LEVELS + before) * LEVELS + pop.level[paying],
                                  minlength=g * LEVELS * LEVELS).reshape(g, LEVELS, LEVELS)
        rng_churn = self.streams["churn"]
        p_churn = cu.churn_probability(pop, paying, params)
        bound = rng_churn.random(len(paying)) < p_churn
        detected = np.zeros(len(paying), bool)
        saved = np.zeros(len(paying), bool)
        false_alarm = np.zeros(len(paying), bool)
        if params.vip.enabled:
            v = params.vip
            assert m.manual is not None
            is_vip = pop.vip[paying]
            u = rng_churn.random((3, len(paying)))
            detected = bound & is_vip & (u[0] < v.alert_detection_prob)
            by_hand = m.manual[paying]
            save_prob = np.where(by_hand, v.outreach_save_prob, v.automated_save_prob)
            saved = detected & (u[1] < save_prob)
            false_alarm = ~bound & is_vip & (u[2] < v.alert_false_positive_rate)
            # the terminal value sees the same protection: a VIP's churn is caught and saved this often
            if is_vip.any():
                self.vip_save = float(save_prob[is_vip].mean())
        m.churn_mask = bound & ~saved
        m.vip_saves = int(np.count_nonzero(saved))
        m.churn_idx = paying[m.churn_mask]
        m.unhappy_churners = int(np.count_nonzero(pop.level[m.churn_idx] == cu.BELOW))
        self.outreach = paying[detected | false_alarm]

    def money(self, m: _Month) -> dict[str, float]:
        """Money of the month: paying customers at the start of the month, conversions
        included, pay this month."""
        pop, params, paying, stats = self.pop, self.params, m.paying, m.stats
        sup = params.support
        price = cu.monthly_price(pop, paying, params)
        subscription = float(price.sum())
        support_revenue = stats.fees_usd + len(paying) * params.pricing.support_fee_usd_per_month
        # Paid agent-hours: the rostered hours, plus overtime when an agent finishes the ticket
        # in hand (at the end of a shift or of a month).
        paid_h = stats.paid_h
        staffing_cost = paid_h * sup.agent_cost_usd_per_hour
        # the VIP programme's share of the desk: touch hours worked this month (at most the paid hours)
        vip_hours_cost = min(stats.touch_h, paid_h) * sup.agent_cost_usd_per_hour
        n_vip_paying = int(np.count_nonzero(pop.vip[paying]))
        vip_cost = vip_hours_cost + n_vip_paying * params.vip.perks_usd_per_vip_month * params.vip.enabled
        # retention programmes other than VIP: loyalty rewards, proactive messages, surveys + follow-ups
        f = params.feedback
        loyalty_cost = (len(paying) * params.loyalty.cost_usd_per_customer_month * params.loyalty.enabled
                        + len(m.active) * params.proactive.cost_usd_per_customer_month * params.proactive.enabled
                        + (len(paying) * f.survey_cost_usd_per_customer_month + m.followups * f.followup_cost_usd)
                        * f.enabled)
        return {"paid_h": paid_h, "n_vip_paying": n_vip_paying, "subscription": subscription,
                "support_revenue": support_revenue, "support_cost": staffing_cost - vip_hours_cost,
                "vip_cost": vip_cost, "loyalty_cost": loyalty_cost}

    def close_churn(self, m: _Month) -> None:
        """Churners leave (after the month's money and ladder shares are taken)."""
        pop = self.pop
        pop.active[m.churn_idx] = False
        self.paying = m.paying[~m.churn_mask]
        if self.trace is not None:
            if len(self.churn_month) < pop.n:
                self.churn_month = np.concatenate(
                    [self.churn_month, np.full(pop.n - len(self.churn_month), -1, np.int32)])
            self.churn_month[m.churn_idx] = m.month

    def acquisition(self, m: _Month) -> acq.Plan:
        """6. Referrals, negative word of mouth and paid acquisition by segment decide next
        month's trials (``sim.engine.acquisition``)."""
        params, pop = self.params, self.pop
        if not self.acquiring:  # a run-off: nobody new is bought or referred
            self.pending = acq.Plan(*(np.zeros(self.n_seg, np.int64),) * 2, np.zeros(self.n_seg))
            return self.pending
        rng_acq = self.streams["acquisition"]
        lv = pop.level[m.paying[~m.churn_mask]]
        w = params.wom
        m.referrals = int(rng_acq.poisson(np.count_nonzero(lv == cu.DELIGHT) * w.referral_rate_delight
                                          + np.count_nonzero(lv == cu.WOW) * w.referral_rate_wow))
        m.wom_lost = int(rng_acq.poisson(m.unhappy_churners * w.negative_per_unhappy_churner))
        organic = int(rng_acq.poisson(params.acquisition.organic_signups_per_month))
        churned = np.bincount(pop.segment[m.churn_idx], minlength=self.n_seg)
        self.pending = self.funnel.plan(churned, organic + m.referrals - m.wom_lost, rng_acq)
        return self.pending

    def terminal_value(self, m: _Month, money: dict[str, float]) -> float:
        """Value at the month's end of the customers still paying (Pfeifer & Carraway 2000): each
        pays its contribution margin next month and every month it stays, moving on the ladder
        as this policy's customers have moved so far (``self.moves``) and churning at the level
        it reaches: Σ_i margin_g(i) x a_g(i)[level_i], ``a = (I - d T S)^-1 d 1``
        (``sim.engine.chain``). Margin = price + support add-on + expected fees - the cost that
        scales with the customer: agent time of its segment's tickets this month per active
        customer, programme cost per paying customer, VIP cost per paying VIP (docs/value.md,
        "Value"). Idle agent time is the desk's fixed cost, not the customer's."""
        params, pop, k = self.params, self.pop, self.n_seg
        stay = self.paying  # after this month's churn
        if len(stay) == 0:
            return 0.0
        assert m.batch is not None
        sup = params.support
        tickets = np.bincount(pop.segment[m.batch.customer], minlength=k)
        active = np.maximum(np.bincount(pop.segment[m.active], minlength=k), 1)
        work = tickets * sup.handle_time_mean_h * sup.agent_cost_usd_per_hour / active
        margin_seg = (demand.revenue_by_segment(params) - work - money["loyalty_cost"] / max(len(m.paying), 1))
        margin = np.repeat(margin_seg, 2)
        if money["n_vip_paying"]:
            margin[1::2] -= money["vip_cost"] / money["n_vip_paying"]
        self.horizon_margin = margin
        a = chain.discounted_months(chain.transition_matrix(self.moves), self.chain_churn(), self.d)
        g = self.n_groups
        count = np.bincount(self.group(stay) * LEVELS + pop.level[stay], minlength=g * LEVELS).reshape(g, LEVELS)
        return float(np.sum(count * a * margin[:, None]))

    def runoff(self, months: int) -> tuple[np.ndarray, np.ndarray]:
        """Follow the customers paying at the horizon for ``months`` more months with nobody new
        acquired: (predicted, realised) discounted margin per segment, both at the horizon's
        margins, the prediction from the horizon's chain (the terminal value cut at ``months``)."""
        pop, k, g = self.pop, self.n_seg, self.n_groups
        cohort = self.paying
        margin = self.horizon_margin
        a = chain.discounted_months(chain.transition_matrix(self.moves), self.chain_churn(), self.d, months=months)
        grp = self.group(cohort)
        predicted = np.bincount(grp // 2, weights=a[grp, pop.level[cohort]] * margin[grp], minlength=k)
        pop.active[self.trials_due] = False  # the pipeline's trials are not the horizon's customers
        self.trials_due = np.zeros(0, np.int64)
        self.acquiring = False
        self.pending = acq.Plan(*(np.zeros(k, np.int64),) * 2, np.zeros(k))
        realised = np.zeros(k)
        start = self.month_count
        for step in range(months):
            paying = self.paying
            realised += self.d ** (step + 1) * np.bincount(pop.segment[paying], weights=margin[self.group(paying)],
                                                           minlength=k)
            self.month(start + step)
        assert g == len(margin)
        return predicted, realised

    def record(self, m: _Month, shares: np.ndarray, money: dict[str, float], plan: acq.Plan) -> dict[str, Any]:
        """The month's record: customer flows, tickets, desk, ladder shares and money."""
        hd, stats = m.hd, m.stats
        assert hd is not None
        churned = len(m.churn_idx)
        a_start, acquired = m.a_start, m.acquired
        c_end = a_start + acquired - churned
        waits = np.asarray(stats.waits_h)
        served = len(waits)
        paid_h = money["paid_h"]
        cash = {"subscription_revenue": money["subscription"], "support_revenue": money["support_revenue"],
                "support_cost": money["support_cost"], "acquisition_cost": float(plan.cost_usd.sum()),
                "vip_cost": money["vip_cost"], "loyalty_cost": money["loyalty_cost"]}  # ledger.MONEY's columns
        return {
            "month": m.month,
            "customers_start": a_start,
            "acquired": acquired,
            "churned": churned,
            "customers_end": c_end,
            "retention_rate_pct": (c_end - acquired) / a_start * 100 if a_start else float("nan"),
            "trials_started": len(m.new_trials),
            "paid_signups": int(plan.paid_signups.sum()),
            "referrals": m.referrals,
            "wom_lost_signups": m.wom_lost,
            "issues": int(hd.issues.sum()),
            "tickets_raised": len(m.batch) if m.batch is not None else 0,
            "tickets_suppressed": int(hd.suppressed.sum()),
            "issues_unresolved": int(hd.unresolved.sum()),
            "tickets_abandoned": stats.abandoned,
            "tickets_resolved": served,
            "wait_mean_h": float(waits.mean()) if served else float("nan"),
            "wait_p90_h": float(np.quantile(waits, 0.9)) if served else float("nan"),
            "sla_met_share": stats.sla_met / served if served else float("nan"),
            "agents": stats.peak_agents,
            "agent_hours_overtime": stats.overtime_h,
            "agent_hours_paid": paid_h,
            "agent_utilization": stats.busy_h / paid_h,
            "vip_customers": money["n_vip_paying"],
            "vip_touches": stats.touches,
            "vip_touch_hours": stats.touch_h,
            "feedback_followups": m.followups,
            **{f"share_{name}": float(x) for name, x in zip(LADDER, shares)},
            **cash,
            "profit": ledger.profit(cash),
            "acquired_paid": m.acquired_paid,
            "vip_saves": m.vip_saves,
            "discount_factor": self.d ** (m.month + 1),
            "terminal_value_usd": money["terminal_value_usd"],
        }

    def segment_records(self, m: _Month, plan: acq.Plan) -> list[dict[str, Any]]:
        """One row per segment for this month (after churn, before the counters are reset)."""
        pop, params, k = self.pop, self.params, self.n_seg
        assert m.hd is not None and m.batch is not None
        seg_of = pop.segment
        paying_seg = seg_of[m.paying]
        churned = np.bincount(seg_of[m.churn_idx], minlength=k)
        revenue = np.bincount(paying_seg, weights=cu.monthly_price(pop, m.paying, params), minlength=k)
        fees = (np.bincount(seg_of[: pop.n], weights=pop.fees_usd[: pop.n], minlength=k)
                + np.bincount(paying_seg, minlength=k) * params.pricing.support_fee_usd_per_month)
        columns = {
            "customers_start": m.a_start_seg,
            "acquired": m.acquired_seg,
            "churned": churned,
            "customers_end": m.a_start_seg + m.acquired_seg - churned,
            "trials_started": np.bincount(seg_of[m.new_trials], minlength=k),
            "subscription_revenue": revenue,
            "support_revenue": fees,
            "tickets_raised": np.bincount(seg_of[m.batch.customer], minlength=k),
            "tickets_suppressed": np.bincount(seg_of[m.active], weights=m.hd.suppressed, minlength=k).astype(np.int64),
            "paid_signups": plan.paid_signups,
            "acquisition_cost": plan.cost_usd,
        }
        names = [s.name for s in params.customers.segments]
        return [{"month": m.month, "segment": names[j], **{c: v[j].item() for c, v in columns.items()}}
                for j in range(k)]

    def trace_customers(self) -> None:
        """Append one row per customer ever created to the trace (at the end of the run)."""
        pop, trace = self.pop, self.trace
        assert trace is not None
        churn_month = np.concatenate([self.churn_month, np.full(pop.n - len(self.churn_month), -1, np.int32)])
        for i in range(pop.n):
            converted = int(pop.converted_month[i])
            trace.customers.append({
                "slot": i,
                "segment": self.params.customers.segments[int(pop.segment[i])].name,
                "trial_month": int(pop.trial_month[i]),
                "converted_month": converted if pop.paying[i] else None,
                "churn_month": int(churn_month[i]) if churn_month[i] >= 0 else None,
                "vip": bool(pop.vip[i]),
                "big_name": bool(pop.big_name[i]),
                "funding_usd": float(pop.funding_usd[i]),
                "level": LADDER[int(pop.level[i])],
            })


@dataclass
class LadderChain:
    """Ask :func:`run` for the ladder's chain at the horizon, per group (segment x 2 + VIP): the
    counted monthly moves of paying customers (group, from, to), the churn per level, the monthly
    margin, the monthly discount factor and the level mix new customers enter at."""

    moves: np.ndarray | None = None
    churn: np.ndarray | None = None
    margin_usd: np.ndarray | None = None
    discount: float = 1.0
    inflow: np.ndarray | None = None


@dataclass
class Runoff:
    """Ask :func:`run` to follow the customers paying at the horizon for ``months`` more months
    with nobody new acquired. Filled in: per segment, the discounted margin the terminal value
    predicts over those months and the one the re-simulation realised (USD)."""

    months: int
    predicted_usd: np.ndarray | None = None
    realised_usd: np.ndarray | None = None


def run(params: Params, *, months: int, seed: int, replication: int = 0,
        crn_salt: str | None = None, trace: Trace | None = None,
        segments: list[dict[str, Any]] | None = None, desk_log: DeskLog | None = None,
        runoff: Runoff | None = None, ladder: LadderChain | None = None) -> list[dict[str, Any]]:
    """Simulate one replication of one policy; return one record (dict) per month.

    ``crn_salt`` gives the run its own random streams (switches common random numbers off);
    ``trace`` collects per-customer and per-ticket records (memory then grows with events);
    ``segments``, a list, receives one row per (month, segment); ``desk_log`` collects the
    desk's aggregates by hour of the week and tier; ``runoff`` (:class:`Runoff`) re-simulates the
    horizon's customers beyond it, to check the terminal value.
    """
    state = _Run(params, Streams(seed, replication, independent_of=crn_salt), trace, segments, desk_log)
    records = [state.month(month) for month in range(months)]
    if trace is not None:
        state.trace_customers()
    if ladder is not None:
        ladder.moves, ladder.churn, ladder.margin_usd = state.moves.copy(), state.chain_churn(), state.horizon_margin
        ladder.discount, ladder.inflow = state.d, state.inflow()
    if runoff is not None:
        runoff.predicted_usd, runoff.realised_usd = state.runoff(runoff.months)
    return records
