"""Customer state and the vectorised monthly behaviour of customers.

Where it sits: ``sim.engine.model`` calls these functions once a month. State lives in numpy
arrays (one slot per customer ever created, so memory grows with customers + months,
never with events). Each function is one mechanism of ``docs/model.md``: help-seeking
under a price, satisfaction-ladder moves, churn hazard, trial conversion, VIP selection.
No SimPy here, no I/O, no global RNG: every draw comes from a generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine import demand, pricing
from sim.params.schema import LADDER, Params

BELOW, MEET, EXCEED, DELIGHT, WOW = range(len(LADDER))
TOP = len(LADDER) - 1
MAX_PRICE_FACTOR = 1e6


@dataclass
class Population:
    """All customers ever created in one run; ``n`` slots are in use."""

    n: int
    segment: np.ndarray  # int16
    level: np.ndarray  # int8, index into LADDER
    active: np.ndarray  # bool: trial or paying, not churned
    paying: np.ndarray  # bool
    trial_month: np.ndarray  # int32, month the trial started (-1 for initial customers)
    converted_month: np.ndarray  # int32, month they became paying
    vip: np.ndarray  # bool
    big_name: np.ndarray  # bool
    funding_usd: np.ndarray  # float64
    paid_trial: np.ndarray  # bool: the trial was bought by paid acquisition
    onboarding: np.ndarray  # float32: share of the VIP concierge onboarding served in the trial month
    # outcome counters of the current month, incremented by the desk
    on_time: np.ndarray  # answered within the customer's expectation
    late: np.ndarray  # answered later than expected
    late_down: np.ndarray  # of which late enough to cost a level (the ticket's tolerance, drawn at arrival)
    abandoned: np.ndarray
    fees_usd: np.ndarray
    touches: np.ndarray
    auto_touches: np.ndarray  # automated VIP messages (beyond manual capacity)

    _ARRAYS = (
        ("segment", np.int16), ("level", np.int8), ("active", bool), ("paying", bool),
        ("trial_month", np.int32), ("converted_month", np.int32), ("vip", bool), ("big_name", bool),
        ("funding_usd", np.float64), ("paid_trial", bool), ("onboarding", np.float32), ("on_time", np.int32), ("late", np.int32), ("late_down", np.int32), ("abandoned", np.int32),
        ("fees_usd", np.float64), ("touches", np.int32), ("auto_touches", np.int32),
    )

    @classmethod
    def empty(cls, capacity: int) -> Population:
        return cls(0, **{name: np.zeros(capacity, dtype=dt) for name, dt in cls._ARRAYS})

    def _grow(self, needed: int) -> None:
        cap = len(self.segment)
        if needed <= cap:
            return
        new_cap = max(needed, 2 * cap + 16)  # doubling: few copies as trials accumulate
        for name, dt in self._ARRAYS:
            arr = np.zeros(new_cap, dtype=dt)
            arr[:cap] = getattr(self, name)
            setattr(self, name, arr)

    COUNTERS = ("on_time", "late", "late_down", "abandoned", "fees_usd", "touches", "auto_touches")

    def counted(self) -> np.ndarray:
        """Slots whose outcome counters are not all zero this month (sorted): the customers the
        desk or the VIP programme dealt with, usually a small part of the population."""
        n = self.n
        any_event = (self.fees_usd[:n] != 0) | (self.on_time[:n] != 0)
        for name in ("late", "abandoned", "touches", "auto_touches"):
            any_event |= getattr(self, name)[:n] != 0
        return np.flatnonzero(any_event)

    def reset_counters(self, slots: np.ndarray | None = None) -> None:
        """Zero the outcome counters (of ``slots`` only, when the caller knows which are set)."""
        for name in self.COUNTERS:
            if slots is None:
                getattr(self, name)[: self.n] = 0
            else:
                getattr(self, name)[slots] = 0

    def add(self, count: int, params: Params, rng: np.random.Generator, *, month: int, paying: bool,
            level: np.ndarray | None = None, segment: np.ndarray | None = None,
            paid: np.ndarray | bool = False) -> np.ndarray:
        """Create ``count`` customers (paying, or starting a trial in ``month``); return their slots.

        ``segment``: their segments (default: drawn at the segment shares); ``paid``: trials
        bought by paid acquisition."""
        segs = params.customers.segments
        self._grow(self.n + count)
        idx = np.arange(self.n, self.n + count)
        self.n += count
        if segment is None:
            shares = np.array([s.share for s in segs])
            seg = rng.choice(len(segs), size=count, p=shares / shares.sum())
        else:
            seg = segment
        big_share = np.array([s.big_name_share for s in segs])[seg]
        median = np.array([s.funding_median_usd for s in segs])[seg]
        self.segment[idx] = seg
        self.big_name[idx] = rng.random(count) < big_share
        self.funding_usd[idx] = median * np.exp(params.customers.funding_sigma * rng.standard_normal(count))
        self.level[idx] = MEET if level is None else level
        self.active[idx] = True
        self.paying[idx] = paying
        self.trial_month[idx] = -1 if paying else month
        self.paid_trial[idx] = paid
        self.onboarding[idx] = 0.0
        # Initial customers converted at staggered past months, so lifecycle check-ins spread out.
        self.converted_month[idx] = -1 - rng.integers(0, 12, size=count) if paying else -10_000
        self.vip[idx] = vip_eligible(self, idx, params) if params.vip.enabled else False
        return idx


def vip_eligible(pop: Population, idx: np.ndarray, params: Params) -> np.ndarray:
    """VIP selection rules ([article-vip-support] in docs/sources.md): top plan, big name, or well funded."""
    v = params.vip
    top = np.array([s.is_top_plan for s in params.customers.segments])[pop.segment[idx]]
    out = np.zeros(len(idx), dtype=bool)
    if v.select_top_plan:
        out |= top
    if v.select_big_name:
        out |= pop.big_name[idx]
    if v.select_funded:
        out |= pop.funding_usd[idx] >= v.min_funding_usd
    return out


def levels_from_uniforms(u: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Ladder levels by inverse CDF: ``u`` (uniforms, one per customer) against ``shares`` (one
    row of level shares, or one row per customer). The same uniforms give the same customers the
    same rank under every mix, so policies with different mixes stay paired."""
    cdf = np.cumsum(np.atleast_2d(shares), axis=-1)
    cdf = cdf / cdf[..., -1:]
    level = (u[:, None] >= cdf).sum(axis=-1) if cdf.shape[0] > 1 else np.searchsorted(cdf[0], u, side="right")
    return np.minimum(level, TOP).astype(np.int8)


def initial_levels(count: int, params: Params, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(levels at satisfaction.initial_shares, the uniforms drawn for them) of ``count`` customers."""
    u = rng.random(count)
    return levels_from_uniforms(u, np.asarray(params.satisfaction.initial_shares)), u


def relieved(values: list[float], relief: float) -> np.ndarray:
    """Per-level factors with the part above 'meet' scaled by ``relief`` (v -> 1 + relief (v - 1))."""
    v = np.asarray(values, dtype=float).copy()
    v[MEET + 1:] = 1.0 + relief * (v[MEET + 1:] - 1.0)
    return v


def binomial(rng: np.random.Generator, n: np.ndarray, p: float | np.ndarray) -> np.ndarray:
    """``rng.binomial(n, p)`` drawn only where n > 0 (and p > 0): numpy draws nothing for
    n = 0 or p = 0, so the result and the stream's state are exactly those of the full call,
    without a pass over the (mostly zero) counts in Python-level C loops."""
    out = np.zeros(len(n), dtype=np.int64)
    if np.ndim(p) == 0 and p <= 0:
        return out
    nz = np.flatnonzero(n)
    if len(nz):
        out[nz] = rng.binomial(n[nz], p if np.ndim(p) == 0 else p[nz])
    return out


# ------------------------------------------------------------------ help-seeking


def ask_probability(params: Params, fee_usd: np.ndarray, sensitivity: np.ndarray) -> np.ndarray:
    """Demand suppression: P(ask for help) = base x exp(-sensitivity x marginal fee)."""
    return params.help_seeking.base_ask_prob * np.exp(-sensitivity * fee_usd)


@dataclass
class HelpDecisions:
    issues: np.ndarray  # per active customer
    asks_free: np.ndarray  # tickets within the free allowance
    asks_paid: np.ndarray  # tickets that will carry a fee
    suppressed: np.ndarray
    unresolved: np.ndarray


def help_decisions(pop: Population, who: np.ndarray, params: Params, rng_issues: np.random.Generator,
                   rng_help: np.random.Generator) -> HelpDecisions:
    """Issues arrive (Poisson per customer); each is raised, self-resolves or stays unresolved."""
    segs = params.customers.segments
    seg = pop.segment[who]
    rate = np.array([s.issue_rate_per_month for s in segs])[seg]
    if not rate.any():  # nobody meets an issue: no draws
        zero = np.zeros(len(who), np.int64)
        return HelpDecisions(zero, zero, zero, zero, zero)
    issues = rng_issues.poisson(rate)
    # the ask probability at the marginal fee depends on the segment only
    fee = pricing.marginal_fee_by_segment(params)
    sens = np.array([s.fee_sensitivity_per_usd for s in segs])
    p_paid = ask_probability(params, fee, sens)[seg]
    free_n = np.minimum(issues, pricing.free_allowance(params))
    paid_n = issues - free_n
    p_free = params.help_seeking.base_ask_prob
    asks_free = binomial(rng_help, free_n, p_free)
    asks_paid = binomial(rng_help, paid_n, p_paid)
    suppressed = issues - asks_free - asks_paid
    self_resolved = binomial(rng_help, suppressed, params.help_seeking.self_resolve_prob)
    return HelpDecisions(issues, asks_free, asks_paid, suppressed, suppressed - self_resolved)


def expected_help(params: Params) -> tuple[np.ndarray, np.ndarray]:
    """(tickets raised, issues left unresolved) per customer-month of each segment, in expectation:
    :func:`help_decisions` averaged over its draws."""
    segs = params.customers.segments
    k = pricing.free_allowance(params)
    lam = np.array([s.issue_rate_per_month for s in segs])
    paid = np.array([pricing.poisson_excess(x, k) for x in lam])
    free = lam - paid
    p0 = params.help_seeking.base_ask_prob
    p_paid = ask_probability(params, pricing.marginal_fee_by_segment(params),
                             np.array([s.fee_sensitivity_per_usd for s in segs]))
    raised = free * p0 + paid * p_paid
    unresolved = (free * (1 - p0) + paid * (1 - p_paid)) * (1 - params.help_seeking.self_resolve_prob)
    return raised, unresolved


# ------------------------------------------------------------------ satisfaction ladder


def ladder_update(pop: Population, who: np.ndarray, unresolved: np.ndarray, params: Params,
                  rng: np.random.Generator, rng_programmes: np.random.Generator,
                  rng_resentment: np.random.Generator) -> None:
    """Move each customer up or down the ladder by this month's experiences (in place).

    Draws that every customer makes whatever is switched on come from ``rng`` (the ladder
    stream: one uniform per customer for recovering from 'below' or decaying above 'meet',
    which exclude each other, then binomials on the month's counters). Draws of a mechanism
    that is only sometimes on come from its own stream and only when it is on (programmes:
    loyalty, proactive, VIP perks; resentment: customers charged fees), so switching a
    mechanism on in one policy does not shift the draws of the others (common random numbers).
    """
    s = params.satisfaction
    lvl = pop.level[who].astype(np.int16)
    m = len(who)
    u = rng.random(m)
    # int16 throughout: clipping int64 costs ~30x more than int16 in numpy 2
    up = ((lvl == BELOW) & (u < s.p_recover_from_below)).astype(np.int16)
    up -= (lvl > MEET) & (u < s.p_decay_above_meet)
    # Only customers with a counter set draw (binomial() skips zero counts with identical
    # draws): find them once, in the order of ``who`` (both sorted by slot).
    slots = pop.counted()
    pos = np.searchsorted(who, slots)
    keep = pos < m
    keep[keep] = who[pos[keep]] == slots[keep]
    slots, pos = slots[keep], pos[keep]
    # An issue met is a loss: resolved within expectation it is recovered (and, with the
    # recovery paradox, lifts with recovery_gain); answered late it is recovered in part (the
    # desk counts the late answers past their tolerance, drawn per ticket at arrival); abandoned
    # or left unresolved it stays, abandonment with the wasted effort on top.
    up[pos] += binomial(rng, pop.on_time[slots], s.recovery_gain)
    up[pos] += binomial(rng, pop.touches[slots], params.vip.p_up_per_touch)
    up[pos] += binomial(rng, pop.auto_touches[slots], params.vip.automated_p_up_per_touch)
    up[pos] -= pop.late_down[slots]
    up[pos] -= binomial(rng, pop.abandoned[slots], abandon_penalty(params))
    up -= binomial(rng, unresolved, s.p_down_unresolved)
    v = params.vip
    for on, p_up, mask in (
        (params.loyalty.enabled, params.loyalty.p_up_per_month, None),
        (params.proactive.enabled, params.proactive.p_up_per_month, None),
        (v.enabled and v.perks_usd_per_vip_month > 0, v.perks_p_up_per_month, "vip"),
    ):
        if on:  # each programme draws one uniform per customer, in a fixed order
            lift = rng_programmes.random(m) < p_up
            up += lift & (pop.vip[who] & pop.paying[who]) if mask else lift
    fees = pop.fees_usd[slots]
    charged = np.flatnonzero(fees)
    if len(charged) and s.resentment_per_usd > 0:  # 1 - exp(-k x 0) = 0: only payers can resent
        resent = rng_resentment.random(len(charged)) < -np.expm1(-s.resentment_per_usd * fees[charged])
        up[pos[charged]] -= resent
    pop.level[who] = np.clip(lvl + up, np.int16(BELOW), np.int16(TOP)).astype(np.int8)


def abandon_penalty(params: Params) -> float:
    """Chance an abandoned ticket costs a level: the unresolved issue and the wasted effort."""
    s = params.satisfaction
    return 1.0 - (1.0 - s.p_down_unresolved) * (1.0 - s.p_down_effort)


def late_tolerance(params: Params, expect_h: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per ticket, the wait (h, on the SLA clock) beyond which its late answer costs a level.

    A late answer at x = wait / expectation costs a level with p(x) = p_down_unresolved (1 - x^-g),
    g = ln 2 / ln(late_half_ratio). With the ticket's uniform ``u``: u < p(x) exactly when
    x > (1 - u / p_down_unresolved)^(-1/g), so the draw is made once, at arrival, and the desk
    compares the wait with it (inf: this ticket's answer never costs a level)."""
    s = params.satisfaction
    p = s.p_down_unresolved
    if p <= 0:
        return np.full(len(u), np.inf)
    g = np.log(2.0) / np.log(s.late_half_ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (1.0 - np.minimum(u / p, 1.0)) ** (-1.0 / g)
    return np.where(u < p, expect_h * x, np.inf)


@dataclass
class MonthRates:
    """A chain group's expected experiences per customer-month (see :func:`expected_moves`)."""

    unresolved: float  # issues met and left unresolved
    on_time: float  # tickets answered within expectation
    late_down: float  # late answers past their tolerance
    abandoned: float  # tickets given up
    touches: float  # manual VIP touches served
    auto_touches: float  # automated VIP messages
    resent: float  # chance of resenting the month's fees
    vip: bool  # the group is VIP (perks)


_K = 12  # net moves kept in the distribution: beyond +-12 levels the ladder is clipped anyway


def _poisson_pmf(lam: float) -> np.ndarray:
    k = np.arange(_K + 1)
    return np.exp(k * np.log(max(lam, 1e-300)) - lam - np.cumsum(np.log(np.maximum(k, 1)))) if lam > 0 else \
        np.eye(_K + 1)[0]


def expected_moves(params: Params, rates: MonthRates) -> np.ndarray:
    """The ladder's monthly transition matrix for a customer with these expected experiences:
    :func:`ladder_update` then :func:`feedback_followups` in expectation, with every count Poisson
    (a binomial thinning of a Poisson count is Poisson). Used for the steady state, where a
    simulated month's draws would add noise that differs between policies.
    ``tests/test_model.py`` checks it against the two functions it mirrors."""
    s, v = params.satisfaction, params.vip
    up = rates.on_time * s.recovery_gain + rates.touches * v.p_up_per_touch + rates.auto_touches * v.automated_p_up_per_touch
    down = rates.late_down + rates.abandoned * abandon_penalty(params) + rates.unresolved * s.p_down_unresolved
    net = np.convolve(_poisson_pmf(up), _poisson_pmf(down)[::-1])  # offsets -_K.._K
    lifts = [(params.loyalty.enabled, params.loyalty.p_up_per_month),
             (params.proactive.enabled, params.proactive.p_up_per_month),
             (v.enabled and v.perks_usd_per_vip_month > 0 and rates.vip, v.perks_p_up_per_month)]
    for on, p in lifts:
        if on:
            net = np.convolve(net, [0.0, 1.0 - p, p])[1:-1]
    net = np.convolve(net, [rates.resent, 1.0 - rates.resent, 0.0])[1:-1]
    T = np.zeros((len(LADDER), len(LADDER)))
    offsets = np.arange(-_K, _K + 1)
    for level in range(len(LADDER)):
        dist = net
        if level == BELOW:
            dist = np.convolve(dist, [0.0, 1.0 - s.p_recover_from_below, s.p_recover_from_below])[1:-1]
        elif level > MEET:
            dist = np.convolve(dist, [s.p_decay_above_meet, 1.0 - s.p_decay_above_meet, 0.0])[1:-1]
        np.add.at(T[level], np.clip(level + offsets, BELOW, TOP), dist)
    f = params.feedback
    if f.enabled:
        moved = T[:, BELOW] * f.survey_response_rate * f.p_recover_detected
        T[:, BELOW] -= moved
        T[:, MEET] += moved
    return T / T.sum(axis=1, keepdims=True)


def feedback_followups(pop: Population, paying: np.ndarray, params: Params, rng: np.random.Generator) -> int:
    """Satisfaction survey: respondents below expectations get a follow-up that may lift them
    back to 'meet' (in place). Returns the number of follow-ups."""
    f = params.feedback
    if not f.enabled:
        return 0
    u_respond, u_recover = rng.random((2, len(paying)))
    follow = (u_respond < f.survey_response_rate) & (pop.level[paying] == BELOW)
    pop.level[paying[follow & (u_recover < f.p_recover_detected)]] = MEET
    return int(np.count_nonzero(follow))


# ------------------------------------------------------------------ churn and conversion


def churn_table(params: Params) -> np.ndarray:
    """Monthly churn probability per (segment, ladder level): base hazard x ladder multiplier x
    switching ease x price factor (offer / market price, ``sim.engine.demand``). It depends on
    nothing else, so customers look it up."""
    base = np.array([s.base_churn_per_month for s in params.customers.segments])[:, None]
    ratio = demand.price_ratio_by_segment(params)[:, None]
    relief = params.satisfaction.relief_above_meet
    hazard = -np.log1p(-base) * relieved(params.churn.level_hazard_multiplier, relief)[None, :]
    elasticity = params.churn.price_elasticity * relieved(params.churn.price_elasticity_level_multiplier, relief)[None, :]
    # The price factor is capped (at 1e6 x the hazard, churn is certain anyway) so that extreme but
    # valid inputs cannot overflow to inf and turn 0 x inf into NaN.
    with np.errstate(over="ignore"):
        price_factor = np.minimum(ratio**elasticity, MAX_PRICE_FACTOR)
    hazard = hazard * params.churn.switching_ease * price_factor
    return -np.expm1(-hazard)


def churn_probability(pop: Population, who: np.ndarray, params: Params) -> np.ndarray:
    """Monthly churn probability of each customer in ``who`` (:func:`churn_table`)."""
    return churn_table(params)[pop.segment[who], pop.level[who]]


def base_conversion(params: Params) -> np.ndarray:
    """Trial conversion at 'meet' under this policy's offer, per segment (``sim.engine.demand``)."""
    market = np.array([s.trial_conversion for s in params.customers.segments])
    return market * demand.conversion_factor_by_segment(params)


def conversion_probability(pop: Population, who: np.ndarray, params: Params,
                           base: np.ndarray | None = None) -> np.ndarray:
    """Each trial's chance to convert: the offer's conversion at its level (+ VIP concierge);
    ``base``: :func:`base_conversion`, when the caller holds it."""
    base = (base_conversion(params) if base is None else base)[pop.segment[who]]
    p = base * relieved(params.trial.conversion_level_multiplier, params.satisfaction.relief_above_meet)[pop.level[who]]
    if params.vip.enabled and params.vip.concierge_checkins > 0:
        p = p + params.vip.concierge_conversion_uplift * pop.onboarding[who]
    return np.clip(p, 0.0, 1.0)


def record_onboarding(pop: Population, trials: np.ndarray, params: Params) -> None:
    """Share of each VIP trial's planned welcome and concierge touches served this month (in
    place, before the counters are reset): manual touches count 1, automated messages
    ``automated_p_up_per_touch / p_up_per_touch`` (their relative effect), capped at 1."""
    v = params.vip
    planned = (v.welcome_h > 0) + (v.concierge_checkins if v.checkin_h > 0 else 0)
    vip_trials = trials[pop.vip[trials]]
    if planned == 0 or len(vip_trials) == 0:
        return
    weight = min(1.0, v.automated_p_up_per_touch / v.p_up_per_touch) if v.p_up_per_touch > 0 else 0.0
    served = pop.touches[vip_trials] + weight * pop.auto_touches[vip_trials]
    pop.onboarding[vip_trials] = np.minimum(1.0, served / planned)


def monthly_price(pop: Population, who: np.ndarray, params: Params) -> np.ndarray:
    prices = np.array([s.plan_price_usd_per_month for s in params.customers.segments])
    return prices[pop.segment[who]] * params.pricing.price_multiplier
