"""Support experience and the offer (issue 20): the mechanics one by one, against their definitions.

The economic invariants these mechanics must keep (more problems never pay, promising nothing is
never the best promise, ten times the price never pays, sourced churn without drift, a terminal
value that predicts the run-off) are in tests/test_loyalty_invariants.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from sim.engine import chain, demand, pricing
from sim.engine import customers as cu
from sim.engine.desk import Desk, TicketBatch
from sim.params.schema import LADDER, Params

L = len(LADDER)


def _params(**sections) -> Params:
    return Params.model_validate(sections)


# ------------------------------------------------------------------ lateness graded against expectation


def test_a_late_answer_costs_more_the_later_it_is():
    """The share of late answers that cost a level is p_down_unresolved x (1 - x^-g): none just
    past the expectation, half the unresolved penalty at late_half_ratio, the whole of it far out."""
    p = Params()
    s = p.satisfaction
    u = np.random.default_rng(0).random(400_000)
    tolerance = cu.late_tolerance(p, np.ones(len(u)), u)  # expectation 1 h: tolerance in units of it
    g = np.log(2) / np.log(s.late_half_ratio)
    for x in (1.01, 1.5, s.late_half_ratio, 5.0, 50.0):
        share = np.mean(x > tolerance)
        assert share == pytest.approx(s.p_down_unresolved * (1 - x ** -g), abs=0.003), x
    assert np.mean(1.0 > tolerance) == 0.0  # on time never costs
    # an overnight miss and a week of silence differ
    assert np.mean(3.0 > tolerance) < np.mean(40.0 > tolerance) <= s.p_down_unresolved


def test_abandonment_and_unresolved_issues_stay_the_worst_outcomes():
    for effort in (0.0, 0.2, 1.0):
        p = _params(satisfaction={"p_down_effort": effort})
        late_forever = p.satisfaction.p_down_unresolved  # the limit of a late answer
        assert cu.abandon_penalty(p) >= p.satisfaction.p_down_unresolved >= late_forever


def test_the_desk_counts_on_time_against_expectation_and_late_against_tolerance():
    """A ticket answered after its promise but within the customer's expectation is on time for the
    customer (and a missed SLA for the desk); one answered past its tolerance costs a level."""

    class Counters:
        def __init__(self, n):
            for name in ("on_time", "late", "late_down", "abandoned", "touches"):
                setattr(self, name, np.zeros(n, np.int64))
            self.fees_usd = np.zeros(n)

    env = simpy.Environment()
    c = Counters(3)
    desk = Desk(env, 1, c)
    # one agent, three tickets at t=0 with 1 h each: waits 0, 1 and 2 h
    one = np.ones(3)
    desk.submit(TicketBatch(np.zeros(3), one, one * 100, np.ones(3, np.int64), one * 0.5, np.arange(3),
                            np.zeros(3), expect_h=one * 1.5, tolerance_h=np.array([np.inf, np.inf, 1.8])))
    env.run(until=10)
    stats = desk.new_period()
    assert stats.sla_met == 1  # only the first met the 0.5 h promise
    assert list(c.on_time) == [1, 1, 0] and list(c.late) == [0, 0, 1] and list(c.late_down) == [0, 0, 1]


def test_customers_expect_the_promise_but_never_less_than_the_market_norm():
    p = Params()
    norm = p.satisfaction.market_norm_h
    assert list(demand.expectation_h(p, np.array([1.0, norm, 720.0]))) == [1.0, norm, norm]


# ------------------------------------------------------------------ a problem is a loss; support recovers it


def _month(p: Params, n: int, rates: dict[str, float], level: int, seed: int) -> np.ndarray:
    """Apply ladder_update + feedback_followups to n customers at ``level`` with Poisson experiences."""
    rng = np.random.default_rng(seed)
    pop = cu.Population.empty(n)
    pop.add(n, p, rng, month=0, paying=True, level=np.full(n, level, np.int8), segment=np.zeros(n, np.int64))
    for name in ("on_time", "late_down", "abandoned", "touches", "auto_touches"):
        getattr(pop, name)[:n] = rng.poisson(rates[name], n)
    pop.late[:n] = pop.late_down[:n]
    pop.fees_usd[:n] = np.where(rng.random(n) < rates["charged"], rates["fee"], 0.0)
    who = np.arange(n)
    cu.ladder_update(pop, who, rng.poisson(rates["unresolved"], n), p, rng, rng, rng)
    cu.feedback_followups(pop, who, p, rng)
    return np.bincount(pop.level[:n], minlength=L) / n


@pytest.mark.parametrize("sections", [
    {},
    {"satisfaction": {"recovery_gain": 0.1}, "loyalty": {"enabled": True}, "feedback": {"enabled": True}},
    {"proactive": {"enabled": True}, "satisfaction": {"resentment_per_usd": 0.05}},
], ids=["defaults", "gain-loyalty-feedback", "proactive-resentment"])
def test_expected_moves_is_the_ladder_in_expectation(sections):
    """The steady state's transition matrix equals the ladder's own rules applied to many customers."""
    p = _params(**sections)
    rates = {"on_time": 0.6, "late_down": 0.05, "abandoned": 0.04, "unresolved": 0.3, "touches": 0.4,
             "auto_touches": 0.1, "charged": 0.3, "fee": 20.0}
    resent = rates["charged"] * -np.expm1(-p.satisfaction.resentment_per_usd * rates["fee"])
    T = cu.expected_moves(p, cu.MonthRates(
        unresolved=rates["unresolved"], on_time=rates["on_time"], late_down=rates["late_down"],
        abandoned=rates["abandoned"], touches=rates["touches"], auto_touches=rates["auto_touches"],
        resent=resent, vip=False))
    assert np.allclose(T.sum(axis=1), 1.0)
    for level in range(L):
        observed = _month(p, 200_000, rates, level, seed=level)
        assert observed == pytest.approx(T[level], abs=0.004), (level, observed, T[level])


def test_expected_moves_with_perks_matches_vip_customers():
    p = _params(vip={"enabled": True, "select_top_plan": True, "select_big_name": True, "select_funded": True,
                     "min_funding_usd": 0.0})
    rates = {"on_time": 0.5, "late_down": 0.0, "abandoned": 0.0, "unresolved": 0.2, "touches": 0.3,
             "auto_touches": 0.0, "charged": 0.0, "fee": 0.0}
    T = cu.expected_moves(p, cu.MonthRates(unresolved=0.2, on_time=0.5, late_down=0.0, abandoned=0.0,
                                           touches=0.3, auto_touches=0.0, resent=0.0, vip=True))
    for level in (cu.BELOW, cu.MEET, cu.WOW):
        assert _month(p, 200_000, rates, level, seed=10 + level) == pytest.approx(T[level], abs=0.004)


def test_with_no_recovery_gain_a_resolved_problem_never_lifts_a_customer():
    """Recovery restores and no more: with recovery_gain 0 only programmes move anyone up, so
    customers with nothing but answered tickets never rise above where they were."""
    p = Params()
    rates = {"on_time": 3.0, "late_down": 0.0, "abandoned": 0.0, "unresolved": 0.0, "touches": 0.0,
             "auto_touches": 0.0, "charged": 0.0, "fee": 0.0}
    after = _month(p, 50_000, rates, cu.MEET, seed=1)
    assert after[cu.EXCEED:].sum() == 0.0


# ------------------------------------------------------------------ the offer


def test_the_market_offer_converts_at_the_segments_trial_conversion():
    p = _params(satisfaction={"market_norm_h": 4.0})  # flat promises 4 h: the norm
    assert np.allclose(demand.conversion_factor_by_segment(p), 1.0)
    assert np.allclose(demand.price_ratio_by_segment(p), 1.0)


def test_a_dearer_offer_or_a_looser_promise_sells_less():
    base = Params()
    f0 = demand.conversion_factor_by_segment(base)
    dearer = demand.conversion_factor_by_segment(_params(pricing={"price_multiplier": 1.2}))
    looser = demand.conversion_factor_by_segment(_params(support={"sla_target_h": 48.0}))
    fees = demand.conversion_factor_by_segment(_params(pricing={"scheme": "per_ticket", "per_ticket_fee_usd": 15.0}))
    assert np.all(dearer < f0) and np.all(looser < f0) and np.all(fees < f0)
    tenfold = demand.conversion_factor_by_segment(_params(pricing={"price_multiplier": 10.0}))
    assert np.all(tenfold < 0.01 * f0)
    # the WTP form: 2 Phi(-ln(offer / worth) / sigma)
    from scipy.stats import norm
    s = base.demand.wtp_sigma
    worth = 49.0 * (base.support.sla_target_h / base.satisfaction.market_norm_h) ** -base.demand.promise_elasticity
    assert dearer[0] == pytest.approx(2 * norm.cdf(-np.log(49.0 * 1.2 / worth) / s))


def test_a_paying_customer_costs_more_when_the_offer_converts_worse():
    from sim.engine import acquisition as acq

    churned = np.array([10, 10, 10])
    plans = {m: acq.Funnel(_params(pricing={"price_multiplier": m}, acquisition={"conversion_prior_trials": 1e6}))
             for m in (1.0, 1.5)}
    cost = {m: f.plan(churned, 0, np.random.default_rng(0)).cost_usd.sum() for m, f in plans.items()}
    assert cost[1.5] > 1.3 * cost[1.0]


def test_the_promise_of_each_plan_follows_the_scheme():
    tiered = _params(pricing={"scheme": "tiered"})
    assert list(demand.promise_by_segment(tiered)) == [s.tier_sla_h for s in tiered.customers.segments]
    flat = Params()
    assert np.all(demand.promise_by_segment(flat) == flat.support.sla_target_h)
    assert np.all(pricing.ticket_service(flat, np.zeros(2, np.int64), np.array([True, False]))[1]
                  == [flat.vip.sla_h, flat.support.sla_target_h])


# ------------------------------------------------------------------ the chain


def test_a_frozen_ladder_values_customers_as_before():
    """With T = I the chain's value is the geometric sum d / (1 - d (1 - p)) of earlier versions."""
    churn = np.array([[0.2, 0.04, 0.03, 0.02, 0.01]])
    d = 0.99
    a = chain.discounted_months(np.eye(L)[None], churn, d)
    assert a[0] == pytest.approx(d / (1 - d * (1 - churn[0])))
    finite = chain.discounted_months(np.eye(L)[None], churn, d, months=3000)
    assert finite[0] == pytest.approx(a[0], rel=1e-6)


def test_the_chain_values_a_customer_who_will_fall_below_a_frozen_one():
    churn = np.array([[0.2, 0.04, 0.03, 0.02, 0.01]])
    fall = np.eye(L)
    fall[cu.MEET] = [0.1, 0.9, 0, 0, 0]
    a = chain.discounted_months(fall[None], churn, 0.99)
    frozen = chain.discounted_months(np.eye(L)[None], churn, 0.99)
    assert a[0, cu.MEET] < frozen[0, cu.MEET] and a[0, cu.BELOW] == pytest.approx(frozen[0, cu.BELOW])


def test_stationary_mix_balances_moves_churn_and_replacement():
    T = np.array([[[0.8, 0.2, 0, 0, 0], [0.05, 0.95, 0, 0, 0], [0, 0.1, 0.9, 0, 0], [0, 0, 0.1, 0.9, 0],
                   [0, 0, 0, 0.1, 0.9]]])
    churn = np.array([[0.16, 0.04, 0.04, 0.04, 0.04]])
    inflow = np.array([[0.0, 1.0, 0, 0, 0]])
    pi = chain.stationary_mix(T, churn, inflow, np.full(L, 1 / L))[0]
    moved = pi @ T[0]
    nxt = moved * (1 - churn[0]) + (moved @ churn[0]) * inflow[0]
    assert nxt == pytest.approx(pi, abs=1e-12)
    # a ladder nobody moves on (and nobody leaves) keeps its start
    start = np.array([0.1, 0.6, 0.2, 0.05, 0.05])
    assert chain.stationary_mix(np.eye(L)[None], np.zeros((1, L)), inflow, start)[0] == pytest.approx(start)
