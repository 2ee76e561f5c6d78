"""Resource guardrails: refuse workloads too big to finish, before running anything.

Where it sits: between a validated scenario and the experiment. The cost of a run is
estimated per policy (each policy may override any parameter) and replication from an
upper bound of the workload the model will really meet, then multiplied by replications:

- **population**: a month-by-month recursion of the paying customers and the trials the
  funnel can start (:func:`population_bound`). Churners are replaced at
  ``acquisition.replacement_share`` through trials sized on the lowest conversion a trial
  can have, growth and organic signups add trials, referrals add free trials at the highest
  referral rate, and every trial converts at the highest conversion it can reach. When
  replacement brings back more than it loses, churn is taken at its highest (the base then
  compounds); otherwise at its lowest. Customer-months are paying customers plus trials,
  month by month; every customer ever created (initial + trials) holds a slot in memory.
- **desk events**: tickets (customer-months x the highest issue rate x the ask probability) and agent touches
  (VIP welcome, check-ins and outreach). An overloaded desk (tickets x handle time above its
  agent-hours) holds a backlog of up to a month of tickets, and every queued ticket costs
  SimPy a sort of the waiting line, so the cost of each event grows with that backlog.
- **fixed cost**: every simulated month of every run costs the same whatever its size, so
  thousands of tiny policies add up.

The total is expressed in customer-month equivalents (``work``), compared with the limit
(``--max-work`` / ``SUPPORTSIM_MAX_WORK``; the app has a lower one), and the customers ever
created with :data:`MAX_POPULATION`. The CLI, the studies and the app share this check.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from sim.engine.customers import churn_table
from sim.params.scenario import ScenarioError, resolve_policies
from sim.params.schema import HOURS_PER_MONTH, Params, Scenario

DEFAULT_MAX_WORK = 2_000_000_000  # customer-months; the reference workload (10k x 36 x 5 x 30) is 54M
# Measured throughput on the 2-core reference machine, used for the time estimate in messages.
CUSTOMER_MONTHS_PER_SECOND = 300_000
# Cost of one desk event (ticket or touch) in customer-months when the queue is short, and the
# extra cost per ticket waiting in the queue (SimPy re-sorts the waiting line on every arrival).
EVENT_COST = 1.0
# Fixed cost of one simulated month of one run (records, SimPy set-up, ladder tables), whatever
# its size: a 1-customer 36-month run takes as long as ~6,000 customer-months.
MONTH_COST = 150.0
QUEUE_COST_PER_WAITING = 0.004
# Most customers (paying + trials ever started) the bound may reach in one replication: ~60
# bytes each, and the bound is loose (3-10x), so this refuses only a funnel that compounds.
MAX_POPULATION = 100_000_000
# Population values above this are "unbounded" for the message (compounding overflows floats).
_HUGE = 1e18


def max_work() -> int:
    raw = os.environ.get("SUPPORTSIM_MAX_WORK")
    if raw is None:
        return DEFAULT_MAX_WORK
    try:
        return max(1, int(float(raw)))
    except (ValueError, OverflowError):  # "abc", "nan", "inf"
        raise ScenarioError([f"SUPPORTSIM_MAX_WORK: expected a number (got {raw!r})"], "environment") from None


@dataclass(frozen=True)
class Estimate:
    """Upper bounds for one replication of one policy."""

    customer_months: float  # paying customers + trials, summed over months
    slots: float  # customers ever created (initial + every trial): what memory holds
    tickets: float  # tickets the customers can raise
    touches: float  # VIP agent touches (welcome, check-ins, lifecycle, outreach)
    backlog: float  # tickets waiting at the desk at the busiest time (0 unless overloaded)
    months: int = 0

    @property
    def work(self) -> float:
        """Cost in customer-month equivalents (the unit of the limit)."""
        events = self.tickets + self.touches
        return (self.customer_months + events * (EVENT_COST + QUEUE_COST_PER_WAITING * self.backlog)
                + MONTH_COST * self.months)


def _conversion_range(params: Params) -> tuple[float, float]:
    """(lowest, highest) trial conversion over segments and ladder levels; the lowest is over
    segments that convert at all (a segment with conversion 0 buys no trials)."""
    mult = np.asarray(params.trial.conversion_level_multiplier, dtype=float)
    base = np.array([s.trial_conversion for s in params.customers.segments], dtype=float)
    hi = float(base.max() * mult.max())
    if params.vip.enabled and params.vip.concierge_checkins > 0:
        hi += params.vip.concierge_conversion_uplift
    converting = base[base > 0]
    # a ladder level that never converts cannot pull the company's estimate (a running average
    # over every trial, with a prior) below the segment's conversion at the lowest level that does
    low_mult = mult[mult > 0].min() if (mult > 0).any() else 0.0
    lo = float(converting.min() * low_mult) if len(converting) and low_mult > 0 else 0.0
    if lo == 0 and hi > 0:  # only the VIP uplift converts: the estimate starts at 0 and learns
        # from a few conversions over the prior and every trial (assumption: not below 1 in prior + 100)
        lo = 1.0 / (params.acquisition.conversion_prior_trials + 100)
    return lo, min(1.0, hi)


def population_bound(params: Params, months: int) -> Estimate:
    """Upper bounds of one replication's population and desk events (see the module docstring)."""
    acq, wom = params.acquisition, params.wom
    churn = churn_table(params)
    c_hi, c_lo = float(churn.max()), float(churn.min())
    p_lo, p_hi = _conversion_range(params)
    r = acq.replacement_share
    buys = p_lo > 0  # paid acquisition sizes trials on a positive conversion estimate
    trials_per_need = 1.0 / p_lo if buys else 0.0
    # Paid trials are sized on the company's running estimate of the conversion it observes, so
    # in expectation they bring back what they were bought for; the estimate lags a conversion
    # that improves, by at most the trial levels' multiplier over the starting mix.
    mult = np.asarray(params.trial.conversion_level_multiplier, dtype=float)
    shares = np.asarray(params.satisfaction.initial_shares, dtype=float)
    lag = max(1.0, float(shares @ mult / shares.sum())) if buys else 0.0
    referral = max(wom.referral_rate_delight, wom.referral_rate_wow)
    # the churn that maximises next month's base: replacement brings back r x lag per churner
    c = c_hi if r * lag > 1 else c_lo
    g = acq.growth_per_month
    # the warm start: trials converting in month 0 and month 0's trials (one month of replacement)
    n0 = float(params.customers.initial)
    warm = (r * c_hi * n0 + g) * trials_per_need
    start, converting, trials = n0, lag * (r * c * n0 + g), warm
    slots = n0 + 2 * warm
    cm = 0.0
    for _ in range(months):
        paying = start + converting  # last month's trials convert at the start of the month
        cm += paying + trials
        free = acq.organic_signups_per_month + referral * paying
        # trials counted at the lowest conversion (most trials), converts at the lag
        new_trials = (r * c_hi * paying + g) * trials_per_need + free
        converting = lag * (r * c * paying + g) + p_hi * free
        start, trials = paying * (1 - c), new_trials
        slots += trials
        if cm > _HUGE:  # compounding without end: the estimate is already far above any limit
            cm = slots = math.inf
            break
    seg = params.customers.segments
    tickets = cm * max(s.issue_rate_per_month for s in seg) * params.help_seeking.base_ask_prob
    touches = 0.0
    v = params.vip
    if v.enabled:  # welcome + concierge check-ins per trial, a lifecycle check-in and outreach per payer
        touches = cm * (1 + v.concierge_checkins + 2)
    sup = params.support
    agents = sup.agents if sup.staffing == "fixed" else sup.max_agents
    per_month = tickets / max(months, 1)
    load = per_month * sup.handle_time_mean_h / (agents * HOURS_PER_MONTH)
    backlog = per_month * (1 - 1 / load) if load > 1 else 0.0
    return Estimate(cm, slots, tickets, touches, backlog, months)


def _work(e: Estimate) -> int | float:
    return int(e.work) if math.isfinite(e.work) else math.inf


def policy_work(params: Params, months: int) -> int | float:
    """Work of one replication of one policy (customer-month equivalents; inf when unbounded)."""
    return _work(population_bound(params, months))


def work(scenario: Scenario, replications: int | None = None) -> int | float:
    """Work the run would do, over every policy and replication."""
    reps = replications or scenario.run.replications
    months = scenario.run.months
    return sum(policy_work(p.params, months) for p in resolve_policies(scenario)) * reps


def _amount(x: float) -> str:
    return "unbounded (the funnel compounds)" if not math.isfinite(x) or x > _HUGE else f"{x:,.0f}"


def _customers(x: float) -> str:
    return "an unbounded number of customers (it compounds)" if not math.isfinite(x) or x > _HUGE else f"{x:,.0f} customers"


def check(scenario: Scenario, replications: int | None = None, limit: int | None = None) -> int | float:
    """Raise ScenarioError if the run exceeds ``limit`` (customer-month equivalents) or a
    replication could hold more than :data:`MAX_POPULATION` customers; return the work."""
    limit = max_work() if limit is None else limit
    reps = replications or scenario.run.replications
    months = scenario.run.months
    est = {p.name: population_bound(p.params, months) for p in resolve_policies(scenario)}
    for name, e in est.items():
        if e.slots > MAX_POPULATION:
            raise ScenarioError([
                f"population too large: policy {name!r}: the funnel can create {_customers(e.slots)} in one run (initial, churn "
                f"replacement x acquisition.replacement_share, growth, organic signups and referrals over "
                f"{months} months); the most one run may hold is {MAX_POPULATION:,}. Lower "
                "acquisition.replacement_share, growth or run.months."
            ], "guardrail", title="run refused before it started")
    w = sum(_work(e) for e in est.values()) * reps
    if w > limit:
        secs = w / CUSTOMER_MONTHS_PER_SECOND
        cost = f"{secs / 60:,.0f} CPU-minutes" if secs >= 90 else f"{secs:,.1f} CPU-seconds"
        worst = max(est, key=lambda n: _work(est[n]))
        e = est[worst]
        why = (f"{_amount(e.customer_months)} customer-months and {_amount(e.tickets + e.touches)} desk events "
               f"per run of {worst!r}")
        if e.backlog > 0:
            why += f", a desk overloaded with up to {_amount(e.backlog)} tickets waiting"
        raise ScenarioError([
            f"workload too large: {_amount(w)} customer-month equivalents ({why}; summed over policies x "
            f"{reps} replications), about {cost if math.isfinite(secs) else 'forever'}; the limit is {limit:,}. "
            "Reduce customers, months, policies, replications or growth, add agents, or raise the limit "
            "(--max-work / SUPPORTSIM_MAX_WORK)."
        ], "guardrail", title="run refused before it started")
    return w
