"""Conservation, the retention formula, demand suppression, invariants of the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.engine import model
from sim.params.scenario import load, resolve_policies
from sim.runs.metrics import MONEY
from tests.conftest import SCENARIOS


def test_customer_conservation(smoke_results):
    m = smoke_results.monthly
    assert (m["customers_start"] + m["acquired"] - m["churned"] == m["customers_end"]).all()
    for _, g in m.groupby(["policy", "replication"]):
        g = g.sort_values("month")
        assert (g["customers_start"].to_numpy()[1:] == g["customers_end"].to_numpy()[:-1]).all()


def test_money_adds_up(smoke_results):
    m = smoke_results.monthly
    signs = {c: (-1 if c.endswith("cost") else 1) for c in MONEY}
    total = sum(sign * m[c] for c, sign in signs.items())
    assert np.allclose(total, m["profit"], rtol=0, atol=1e-6)
    assert (m[[c for c in MONEY]] >= 0).all().all()


def test_retention_formula(smoke_results):
    m = smoke_results.monthly
    a, b, c = m["customers_start"], m["acquired"], m["customers_end"]
    assert np.allclose((c - b) / a * 100, m["retention_rate_pct"])


def test_invariants(smoke_results):
    m = smoke_results.monthly
    counts = ["customers_start", "acquired", "churned", "customers_end", "tickets_raised", "tickets_suppressed",
              "tickets_abandoned", "tickets_resolved", "issues", "agents"]
    assert (m[counts] >= 0).all().all()
    shares = m[[f"share_{x}" for x in ("below", "meet", "exceed", "delight", "wow")]]
    assert ((shares >= 0) & (shares <= 1)).all().all()
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert ((m["agent_utilization"] >= 0) & (m["agent_utilization"] <= 1)).all()
    assert (m["wait_mean_h"].dropna() >= 0).all() and (m["wait_p90_h"].dropna() >= 0).all()
    assert (m["issues"] == m["tickets_raised"] + m["tickets_suppressed"]).all()


def _mean_tickets(params, reps=3, months=4):
    return np.mean([
        pd.DataFrame(model.run(params, months=months, seed=11, replication=r))["tickets_raised"].sum()
        for r in range(reps)
    ])


def test_demand_suppression_monotone():
    base = resolve_policies(load(SCENARIOS / "smoke.toml"))[0].params
    raised = []
    for fee in [0.0, 5.0, 15.0, 40.0, 100.0]:
        p = base.model_copy(deep=True)
        p.pricing.scheme = "per_ticket"
        p.pricing.per_ticket_fee_usd = fee
        raised.append(_mean_tickets(p))
    assert all(a > b for a, b in zip(raised, raised[1:])), raised


def test_more_agents_shorter_waits():
    base = resolve_policies(load(SCENARIOS / "smoke.toml"))[0].params
    waits = []
    for agents in (1, 2, 4):
        p = base.model_copy(deep=True)
        p.support.staffing = "fixed"
        p.support.agents = agents
        p.customers.initial = 1500
        df = pd.DataFrame(model.run(p, months=3, seed=5))
        waits.append(df["wait_mean_h"].mean())
    assert waits[0] > waits[1] > waits[2], waits


def test_erlang_staffing_scales_with_ticket_volume():
    """Flat pricing invites more tickets and must staff more agents: the cost side is real."""
    base = resolve_policies(load(SCENARIOS / "smoke.toml"))[0].params
    p = base.model_copy(deep=True)
    p.customers.initial = 4000
    busy = p.model_copy(deep=True)
    for s in busy.customers.segments:
        s.issue_rate_per_month *= 3
    quiet = pd.DataFrame(model.run(p, months=2, seed=3))
    loud = pd.DataFrame(model.run(busy, months=2, seed=3))
    assert loud["agents"].mean() > quiet["agents"].mean()
    assert loud["support_cost"].sum() > quiet["support_cost"].sum()


@pytest.mark.parametrize("level,expected", [(0, "higher"), (4, "lower")])
def test_ladder_level_drives_churn(level, expected):
    from sim.engine import customers as cu
    from sim.params.schema import Params

    p = Params()
    pop = cu.Population.empty(10)
    pop.add(10, p, np.random.default_rng(0), month=0, paying=True)
    idx = np.arange(10)
    pop.level[:] = cu.MEET
    at_meet = cu.churn_probability(pop, idx, p)
    pop.level[:] = level
    other = cu.churn_probability(pop, idx, p)
    assert (other > at_meet).all() if expected == "higher" else (other < at_meet).all()


def _policy(name: str):
    return {p.name: p.params for p in resolve_policies(load(SCENARIOS / "smoke.toml"))}[name]


def _run(params, months=6, reps=3, seed=21):
    return pd.concat([pd.DataFrame(model.run(params, months=months, seed=seed, replication=r)) for r in range(reps)])


def test_vip_beyond_manual_capacity_costs_no_agent_time():
    p = _policy("flat_vip").model_copy(deep=True)
    by_hand = _run(p)
    p.vip.manual_capacity = 0
    automated = _run(p)
    assert by_hand["vip_touch_hours"].sum() > 0
    assert automated["vip_touch_hours"].sum() == 0
    assert automated["vip_cost"].sum() < by_hand["vip_cost"].sum()


def test_survey_follow_ups_lift_unhappy_customers():
    p = _policy("flat").model_copy(deep=True)
    p.satisfaction.initial_shares = [0.5, 0.5, 0.0, 0.0, 0.0]
    without = _run(p, months=3)
    p.feedback.enabled = True
    p.feedback.survey_response_rate = 1.0
    p.feedback.p_recover_detected = 1.0
    with_fb = _run(p, months=3)
    assert with_fb["share_below"].mean() < without["share_below"].mean()
    assert (with_fb["feedback_followups"] > 0).all() and (without["feedback_followups"] == 0).all()
    assert with_fb["loyalty_cost"].sum() > 0 == without["loyalty_cost"].sum()


def test_satisfied_customers_tolerate_price_rises():
    from sim.engine import customers as cu
    from sim.params.schema import Params

    p = Params()
    p.pricing.price_multiplier = 1.2
    pop = cu.Population.empty(4)
    pop.add(4, p, np.random.default_rng(0), month=0, paying=True)
    idx = np.arange(4)
    ratios = []
    for level in (cu.MEET, cu.WOW):
        pop.level[:] = level
        priced = cu.churn_probability(pop, idx, p)
        p.pricing.price_multiplier = 1.0
        plain = cu.churn_probability(pop, idx, p)
        p.pricing.price_multiplier = 1.2
        ratios.append(priced / plain)
    assert (ratios[0] > ratios[1]).all() and (ratios[1] > 1).all()
