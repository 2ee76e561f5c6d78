"""Invariants a CFO or a CX researcher takes for granted (issue 20), at small sizes, on both SLA
clocks and every shipped pricing scheme: more product problems never pay; promising nothing is
never the best promise; ten times the list price never pays; realised churn per segment lies in
its sourced range without drifting from the start; the terminal value predicts a long
re-simulation of the same customers.

Each comparison is paired (common random numbers, fixed seeds): deterministic, and it can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.engine import customers as cu
from sim.engine import model
from sim.engine.rng import Streams
from sim.params.schema import Params
from sim.runs import metrics

SCHEMES = {
    "flat": {"pricing": {"scheme": "flat"}},
    "tiered": {"pricing": {"scheme": "tiered"}},
    "per_ticket": {"pricing": {"scheme": "per_ticket", "per_ticket_fee_usd": 15.0}},
    "per_hour": {"pricing": {"scheme": "per_hour", "per_hour_fee_usd": 40.0}},
}
CLOCKS = ("business", "calendar")
CASES = [(s, c) for s in SCHEMES for c in CLOCKS]
# sourced monthly logo churn ranges ([knowledgelib-churn]): SMB, mid-market, enterprise
CHURN_RANGES = {"starter": (0.03, 0.05), "growth": (0.015, 0.03), "business": (0.007, 0.02)}


def _params(scheme: str, clock: str, initial: int = 500, **more: dict) -> Params:
    data = {"customers": {"initial": initial}, "support": {"sla_clock": clock}, **SCHEMES[scheme]}
    for section, values in more.items():
        data[section] = {**data.get(section, {}), **values}
    return Params.model_validate(data)


def _values(params: Params, reps: int = 5, months: int = 24) -> np.ndarray:
    return np.array([metrics.run_kpis(pd.DataFrame(model.run(params, months=months, seed=31, replication=r)))["value_usd"]
                     for r in range(reps)])


def _worse(variant: Params, base: Params) -> dict[str, float]:
    return metrics.t_interval(_values(variant) - _values(base))


def _with(params: Params, path: str, value) -> Params:
    data = params.model_dump()
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return Params.model_validate(data)


@pytest.mark.parametrize("scheme,clock", CASES)
def test_more_product_issues_never_raise_value(scheme, clock):
    base = _params(scheme, clock)
    doubled = base
    for i, seg in enumerate(base.customers.segments):
        doubled = _with(doubled, f"customers.segments.{i}.issue_rate_per_month", 2 * seg.issue_rate_per_month)
    d = _worse(doubled, base)
    assert d["mean"] < 0 and d["ci_low"] < 0, d


def _promise(params: Params, scheme: str, h: float) -> Params:
    p = _with(params, "support.sla_target_h", h)
    if scheme == "tiered":
        for i in range(len(p.customers.segments)):
            p = _with(p, f"customers.segments.{i}.tier_sla_h", h)
    return p


@pytest.mark.parametrize("scheme,clock", CASES)
def test_a_promise_looser_than_the_market_norm_is_dominated(scheme, clock):
    """Promising 720 h ("nothing") instead of the market norm leaves what customers expect and the
    roster the desk staffs for as they are, and sells less: it can only lose."""
    from sim.engine import demand, staffing

    base = _params(scheme, clock)
    norm = base.satisfaction.market_norm_h
    nothing, kept = _promise(base, scheme, 720.0), _promise(base, scheme, norm)
    promise = {k: demand.promise_by_segment(p) for k, p in (("nothing", nothing), ("norm", kept))}
    assert np.all(demand.expectation_h(nothing, promise["nothing"]) == demand.expectation_h(kept, promise["norm"]))
    assert staffing.staffing_target_h(nothing) == staffing.staffing_target_h(kept)
    assert np.all(demand.conversion_factor_by_segment(nothing) < demand.conversion_factor_by_segment(kept))


def test_promising_nothing_is_never_the_best_promise():
    """In value, over every scheme and clock: 720 h loses to the market norm (pooled pairs)."""
    diffs = []
    for scheme, clock in CASES:
        base = _params(scheme, clock)
        norm = base.satisfaction.market_norm_h
        diffs.extend(_values(_promise(base, scheme, 720.0), reps=4) - _values(_promise(base, scheme, norm), reps=4))
    d = metrics.t_interval(np.array(diffs))
    assert d["ci_high"] < 0, d


@pytest.mark.parametrize("scheme,clock", CASES)
def test_ten_times_the_list_price_never_raises_value(scheme, clock):
    """Nobody buys at ten times the market price: trials are bought at up to 100 per customer needed
    and the customers who stay churn at the price ratio's hazard. (Small: such a run buys many trials.)"""
    base = _params(scheme, clock, initial=150)

    def values(p: Params) -> np.ndarray:
        return _values(p, reps=3, months=6)

    d = metrics.t_interval(values(_with(base, "pricing.price_multiplier", 10.0)) - values(base))
    assert d["ci_high"] < 0, d


def _expected_churn_by_month(params: Params, months: int, reps: int) -> np.ndarray:
    """Mean churn probability of each segment's paying customers, month by month (reps averaged):
    the ladder's drift without the noise of churn draws."""
    k = len(params.customers.segments)
    out = np.zeros((months, k))
    for r in range(reps):
        run = model._Run(params, Streams(17, r), None)
        for m in range(months):
            run.month(m)
            paying = run.paying
            p = cu.churn_probability(run.pop, paying, params)
            out[m] += np.bincount(run.pop.segment[paying], weights=p, minlength=k) / np.maximum(
                np.bincount(run.pop.segment[paying], minlength=k), 1)
    return out / reps


@pytest.mark.parametrize("scheme,clock", CASES)
def test_no_start_up_drift(scheme, clock):
    """The ladder starts at its steady state: each segment's churn in the first six months is within
    15% of the last six (24 months)."""
    churn = _expected_churn_by_month(_params(scheme, clock, initial=1000), 24, 2)
    first, last = churn[:6].mean(axis=0), churn[-6:].mean(axis=0)
    assert np.all(np.abs(first / last - 1) < 0.15), (first, last)


def test_realised_churn_lies_in_the_sourced_ranges_at_the_defaults():
    p = Params()
    rows: list[dict] = []
    for r in range(3):
        model.run(p, months=24, seed=5, replication=r, segments=rows)
    seg = pd.DataFrame(rows).groupby("segment")[["churned", "customers_start"]].sum()
    rate = seg["churned"] / seg["customers_start"]
    for name, (lo, hi) in CHURN_RANGES.items():
        assert lo <= rate[name] <= hi, (name, rate[name])


@pytest.mark.parametrize("scheme,clock", [("flat", "business"), ("per_ticket", "calendar"), ("tiered", "business")])
def test_terminal_value_predicts_a_ten_year_run_off(scheme, clock):
    """The horizon's customers followed 10 more years with nobody new: the realised discounted margin
    per segment is within 5% of the terminal value's (cut at 10 years), summed over replications."""
    p = _params(scheme, clock, initial=3000)  # ~300 business customers: enough for 5% on the smallest segment
    predicted, realised = 0.0, 0.0
    for r in range(4):
        ro = model.Runoff(120)
        model.run(p, months=24, seed=13, replication=r, runoff=ro)
        predicted, realised = predicted + ro.predicted_usd, realised + ro.realised_usd
    assert np.all(np.abs(realised / predicted - 1) < 0.05), realised / predicted - 1


def test_a_fee_nobody_pays_still_costs_the_help_it_forgoes():
    """A prohibitive per-ticket fee closes the desk in effect: customers pay nothing but go without
    help worth 1/sensitivity per issue, so the offer is dearer than free support's (docs/model.md §6)."""
    from sim.engine import demand, pricing

    flat = _params("flat", "business")
    prohibitive = _params("per_ticket", "business", pricing={"per_ticket_fee_usd": 10_000.0})
    forgone = np.array([prohibitive.help_seeking.base_ask_prob * s.issue_rate_per_month / s.fee_sensitivity_per_usd
                        for s in prohibitive.customers.segments])
    assert pricing.metered_cost_per_month(prohibitive) == pytest.approx(forgone)
    assert np.all(pricing.expected_fees_per_month(prohibitive) < 1e-6)
    assert np.all(demand.price_ratio_by_segment(prohibitive) > demand.price_ratio_by_segment(flat))
    d = _worse(prohibitive, flat)
    assert d["ci_high"] < 0, d
