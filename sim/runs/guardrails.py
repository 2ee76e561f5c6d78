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
  agent-hours) holds a backlog of up to a month of tickets in its heap, so the cost of each event
  grows with the logarithm of that backlog.
- **fixed costs**: every run, and every simulated month of it, costs the same whatever its size,
  so thousands of tiny policies add up; drawing a run's figures costs per policy drawn.

The total is expressed in customer-month equivalents (``work``), compared with the limit
(``--max-work`` / ``SUPPORTSIM_MAX_WORK``; the app has a lower one), and the customers ever
created with :data:`MAX_POPULATION`. Every verb goes through :func:`check_parts`: ``run``,
``report`` and ``deck`` through :func:`check` (every policy x replication, and the figures);
the studies (``sim.runs.studies``) with every point's own parameters; ``decide``
(``sim.decision.psa``) with every sample at the worst case of its ``[uncertainty]`` ranges. The
calibration of the constants is in the comment above them (``bench/bench_guardrail.py``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from sim.engine.acquisition import MIN_CONVERSION
from sim.engine.customers import base_conversion, churn_table, relieved
from sim.params.scenario import ScenarioError, resolve_policies
from sim.params.schema import HOURS_PER_MONTH, Params, Scenario

DEFAULT_MAX_WORK = 2_000_000_000  # customer-month equivalents; the reference workload (10k x 36 x 5 x 30) is 54M
# Calibration (bench/bench_guardrail.py; CPU seconds of one run in one process, `time.process_time`,
# 2-core machine at load 10-13; docs/cli.md, "The guardrail"; estimate / measured in brackets
# after the constants below were set: 1-customer 36 months 2.0, 20k customers 9.6, many tickets
# 2.0, overloaded desk 9.8, VIP on 24, figures of 20 policies 1.3):
#   one customer, 36 months: 0.056 s in the model, 0.107 s per run through `supportsim run` (the run's
#     tables, KPIs, spool and pickling); 6 months: 0.011 s -> ~0.0015 s per month and ~0.05 s per run;
#   20,000 customers, 12 months: 0.76 s for 287k customer-months and 149k tickets (bound: 1.0M and 975k);
#   the same with 1 agent (backlog bound 80k): 0.90 s; with 20 agents and patience 1e7 h (the backlog
#     never abandons): 1.15 s -> the desk's own heap makes a queued ticket cost ~log(backlog), not ~backlog
#     (the old linear term estimated 1,043 s for the 0.90 s run);
#   figures of a run: ~0.7 s per policy as PNG, ~1.8 s with SVG and PDF (50 one-customer policies:
#     90 CPU-s of plots against 7 s of runs).
# So the estimate's throughput stays 300k customer-month equivalents per CPU-second, and a run costs
# a fixed RUN_COST plus MONTH_COST per month whatever its size: 20,000 one-customer 36-month policies
# are ~2,100 CPU-s (they were estimated at 10 s and took 417 s on 2 cores).
CUSTOMER_MONTHS_PER_SECOND = 300_000
# Cost of one desk event (ticket or touch) in customer-months, and its growth per doubling of the
# backlog of an overloaded desk (a heap: log, measured 1.5x at a backlog of 50k).
EVENT_COST = 1.0
QUEUE_COST_PER_DOUBLING = 0.03
# Fixed cost of one simulated month of one run (records, SimPy set-up, ladder tables), whatever its size.
MONTH_COST = 450.0
# Fixed cost of one run (its tables and KPIs, handing it to and from a worker).
RUN_COST = 15_000.0
# Drawing and saving a run's figures (PNG and SVG, PDF on request): per policy drawn, and once per set.
PLOT_COST_PER_POLICY = 540_000.0
PLOT_COST_FIXED = 1_500_000.0
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
        queue = 1.0 + QUEUE_COST_PER_DOUBLING * math.log2(1.0 + self.backlog) if math.isfinite(self.backlog) else math.inf
        return self.customer_months + events * EVENT_COST * queue + MONTH_COST * self.months + RUN_COST


def _conversion_range(params: Params) -> tuple[float, float]:
    """(lowest, highest) trial conversion over segments and ladder levels under the policy's offer
    (``cu.base_conversion``: the market's conversion x the offer's factor; level factors as the
    model applies them); the lowest is over segments that convert at all (a segment with
    conversion 0 buys no trials), and never below the company's floor on its estimate
    (``acquisition.MIN_CONVERSION``: at most 100 trials per customer it needs)."""
    mult = relieved(params.trial.conversion_level_multiplier, params.satisfaction.relief_above_meet)
    base = np.minimum(base_conversion(params), 1.0)
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
    return (max(lo, MIN_CONVERSION) if lo > 0 else 0.0), min(1.0, hi)


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
    mult = relieved(params.trial.conversion_level_multiplier, params.satisfaction.relief_above_meet)
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
    """Work the runs would do, over every policy and replication (no figures)."""
    reps = replications or scenario.run.replications
    months = scenario.run.months
    return sum(policy_work(p.params, months) for p in resolve_policies(scenario)) * reps


def _amount(x: float) -> str:
    return "unbounded (the funnel compounds)" if not math.isfinite(x) or x > _HUGE else f"{x:,.0f}"


def _customers(x: float) -> str:
    return "an unbounded number of customers (it compounds)" if not math.isfinite(x) or x > _HUGE else f"{x:,.0f} customers"


def cpu_time(work_: float) -> str:
    """The work as CPU time in words ("4.1 CPU-seconds", "35 CPU-minutes", "forever")."""
    secs = work_ / CUSTOMER_MONTHS_PER_SECOND
    if not math.isfinite(secs):
        return "forever"
    return f"{secs / 3600:,.1f} CPU-hours" if secs >= 5400 else (
        f"{secs / 60:,.0f} CPU-minutes" if secs >= 90 else f"{secs:,.1f} CPU-seconds")


@dataclass(frozen=True)
class Part:
    """``runs`` runs of one policy at one set of parameters: ``what`` names them in messages."""

    what: str
    estimate: Estimate
    runs: int


def plot_work(policies: int) -> float:
    """Drawing and saving one set of a run's figures for ``policies`` policies."""
    return PLOT_COST_FIXED + PLOT_COST_PER_POLICY * policies


def parts_of(scenario: Scenario, runs: int, *, where: str = "", policies: list[str] | None = None) -> list[Part]:
    """One :class:`Part` per policy of ``scenario`` (or of ``policies``), each of ``runs`` runs."""
    months = scenario.run.months
    return [Part(f"{p.name!r}{where}", population_bound(p.params, months), runs)
            for p in resolve_policies(scenario) if policies is None or p.name in policies]


POPULATION_ADVICE = "Lower acquisition.replacement_share, growth or run.months."


def check_parts(parts: list[Part], *, limit: int | None = None, extra: float = 0.0, counted: str,
                reduce: str, population_advice: str = POPULATION_ADVICE) -> int | float:
    """Refuse (:class:`ScenarioError`, before anything runs) work above ``limit`` (default
    :func:`max_work`) or a run that could hold more than :data:`MAX_POPULATION` customers; return
    the work. ``parts``: every policy at every set of parameters the verb will run; ``extra``:
    work besides the runs (figures); ``counted``: what the total sums over, for the message
    ("policies x 10 replications"); ``reduce``: what the user can reduce."""
    limit = max_work() if limit is None else limit
    for part in parts:
        if part.estimate.slots > MAX_POPULATION:
            raise ScenarioError([
                f"population too large: policy {part.what}: the funnel can create {_customers(part.estimate.slots)} "
                f"in one run (initial, churn replacement x acquisition.replacement_share, growth, organic signups "
                f"and referrals over {part.estimate.months} months); the most one run may hold is {MAX_POPULATION:,}. "
                + population_advice
            ], "guardrail", title="run refused before it started")
    total = sum(_work(p.estimate) * p.runs for p in parts) + extra
    if total > limit:
        worst = max(parts, key=lambda p: _work(p.estimate)) if parts else None
        why = counted
        if worst is not None:
            e = worst.estimate
            why = (f"{_amount(e.customer_months)} customer-months and {_amount(e.tickets + e.touches)} desk events "
                   f"per run of {worst.what}")
            if e.backlog > 0:
                why += f", a desk overloaded with up to {_amount(e.backlog)} tickets waiting"
            why += f"; summed over {counted}"
        if extra:
            why += f", plus {_amount(extra)} for the figures"
        raise ScenarioError([
            f"workload too large: {_amount(total)} customer-month equivalents ({why}), about {cpu_time(total)}; "
            f"the limit is {limit:,}. {reduce}, or raise the limit (--max-work / SUPPORTSIM_MAX_WORK)."
        ], "guardrail", title="run refused before it started")
    return total


def check(scenario: Scenario, replications: int | None = None, limit: int | None = None, *,
          plots: bool = False) -> int | float:
    """Raise ScenarioError if the run (every policy x ``replications``, and its figures when
    ``plots``) exceeds ``limit`` (customer-month equivalents) or a replication could hold more
    than :data:`MAX_POPULATION` customers; return the work."""
    reps = replications or scenario.run.replications
    parts = parts_of(scenario, reps)
    return check_parts(parts, limit=limit, extra=plot_work(len(parts)) if plots else 0.0,
                       counted=f"{len(parts)} policies x {reps} replications",
                       reduce="Reduce customers, months, policies, replications or growth, or add agents"
                              + (", or leave out the plots (--no-plots)" if plots else ""))
