"""Invariants that must hold on every run, across randomly generated valid scenarios.

The strategy draws every parameter of the schema within its declared range (so a new
parameter is covered the day it is added), with sizes capped so one run takes well under
a second: at most 100 initial customers, 4 months, modest inflows. The invariants: no
negative counts, ladder shares in [0, 1] summing to 1, utilisation in [0, 1], waits >= 0,
customers conserved (A + B - churned = C, and C of month m is A of month m + 1), the
retention formula, tickets never served or abandoned before they were raised, money
adding up to profit.

The regression tests at the end reproduce four model bugs this suite found (each was first
pinned as a strict expected failure and passes since the model fix in commit 29c496b): a NaN
churn probability for extreme valid inputs, negative support cost when VIP touch hours crossed a
month boundary, negative word of mouth that added trials, and no conversions in month 1.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sim.engine import acquisition as acq
from sim.engine import customers as cu
from sim.engine import model
from sim.params.schema import LADDER, Params
from sim.params.walk import ParamDoc, iter_params
from sim.runs.metrics import MONEY

# Caps (inside the schema's ranges) that keep one run small and fast.
CAPS = {
    "customers.initial": (1, 100),
    "acquisition.growth_per_month": (0, 20),
    "acquisition.organic_signups_per_month": (0, 20),
    "acquisition.replacement_share": (0, 1.5),
    "wom.negative_per_unhappy_churner": (0, 5),
    "customers.segments[].issue_rate_per_month": (0, 5),
    "customers.segments[].trial_conversion": (0.2, 1),  # paid signups = need / conversion: keep it small
}
LIST_CAP = 10.0  # per-level multipliers drawn in [0, 10] (the schema allows 100)
COUNTS = ["customers_start", "acquired", "churned", "customers_end", "trials_started", "paid_signups", "referrals",
          "wom_lost_signups", "issues", "tickets_raised", "tickets_suppressed", "issues_unresolved",
          "tickets_abandoned", "tickets_resolved", "agents", "vip_customers", "vip_touches"]
SHARES = [f"share_{x}" for x in LADDER]
MODEL_PARAMS = list(iter_params(Params))


def _bounds(p: ParamDoc) -> tuple[float, float, bool]:
    if p.path in CAPS:
        lo, hi = CAPS[p.path]
        return lo, hi, False
    lo, hi = p.allowed.strip("[]()").split(", ")
    return float(lo.replace("_", "")), float(hi.replace("_", "")), p.allowed.startswith("(")


def value_of(p: ParamDoc) -> st.SearchStrategy:
    """A strategy for one parameter's valid values, read from its documented type and range."""
    if p.type == "bool":
        return st.booleans()
    if p.type == "choice":
        return st.sampled_from(re.findall(r"`([^`]+)`", p.allowed))
    if p.type == "str":
        return st.just("x")
    if p.type.startswith("list"):
        if "sum to 1" in p.allowed:
            return st.lists(st.integers(0, 20), min_size=len(LADDER), max_size=len(LADDER)).filter(any).map(
                lambda w: [x / sum(w) for x in w])
        return st.lists(st.floats(0, LIST_CAP), min_size=len(LADDER), max_size=len(LADDER))
    lo, hi, lo_open = _bounds(p)
    if p.type == "int":
        top = int(min(hi, lo + 10_000))  # a seed of 2**63 is no more interesting than one of 10,000
        return st.one_of(st.just(int(lo)), st.just(top), st.integers(int(lo), top))
    edges = [x for x in (lo, hi) if not (lo_open and x == lo)]
    return st.one_of(st.sampled_from(edges), st.floats(lo, hi, exclude_min=lo_open))


SCALARS = {p.path: value_of(p) for p in MODEL_PARAMS if "[]" not in p.path}
SEGMENT_FIELDS = {p.path.split("[].")[1]: value_of(p) for p in MODEL_PARAMS if "[]" in p.path}


@st.composite
def valid_params(draw: st.DrawFn) -> Params:
    data: dict = {}
    for path, strategy in SCALARS.items():
        section, key = path.split(".", 1)
        data.setdefault(section, {})[key] = draw(strategy)
    weights = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    segments = []
    for i, w in enumerate(weights):
        seg = {k: draw(s) for k, s in SEGMENT_FIELDS.items()}
        seg.update(name=f"s{i}", share=w / sum(weights))
        segments.append(seg)
    segments[-1]["share"] = 1.0 - sum(s["share"] for s in segments[:-1])
    data["customers"]["segments"] = segments
    if draw(st.booleans()):  # sometimes nobody converts: the no-acquisition branch
        for s in segments:
            s["trial_conversion"] = 0.0
    sup = data["support"]
    sup["min_agents"], sup["max_agents"] = sorted([sup["min_agents"], sup["max_agents"]])
    for start, end in (("open_hour", "close_hour"), ("vip_line_open_hour", "vip_line_close_hour"),
                       ("arrival_day_start_hour", "arrival_day_end_hour")):
        lo, hi = sorted([sup[start], sup[end]])
        sup[start], sup[end] = lo, max(hi, lo + 1)
    return Params.model_validate(data)


def run(params: Params, months: int, seed: int) -> pd.DataFrame:
    with warnings.catch_warnings():
        # a NaN made inside the model is a failure; an overflow to inf that the model then uses
        # correctly is not (e.g. erlang.service_level with a handle time of 1e-313 h: exp(-inf) = 0)
        warnings.filterwarnings("error", message="invalid value", category=RuntimeWarning)
        return pd.DataFrame(model.run(params, months=months, seed=seed))


def check_invariants(m: pd.DataFrame, p: Params) -> None:
    # counts: whole, non-negative numbers
    assert (m[COUNTS] >= 0).all().all(), m[COUNTS].min()
    assert (m[COUNTS] == m[COUNTS].round()).all().all()
    # customers: A + B - churned = C, and C of month m is A of month m + 1
    a, b, c = m["customers_start"], m["acquired"], m["customers_end"]
    assert (a + b - m["churned"] == c).all()
    assert (a.to_numpy()[1:] == c.to_numpy()[:-1]).all()
    assert a.iloc[0] == p.customers.initial
    # the retention formula ((C - B) / A) x 100, NaN only when nobody paid at the start
    expected = np.where(a > 0, (c - b) / a.where(a > 0, 1) * 100, np.nan)
    assert np.allclose(m["retention_rate_pct"], expected, equal_nan=True)
    # ladder shares among paying customers: each in [0, 1], summing to 1 when anyone pays
    shares = m[SHARES]
    assert ((shares >= 0) & (shares <= 1)).all().all()
    anyone = (a + b) > 0
    assert np.allclose(shares[anyone].sum(axis=1), 1.0)
    # the desk: utilisation in [0, 1], waits >= 0, shares of tickets in [0, 1]
    assert m["agent_utilization"].between(0, 1).all()
    served = m["tickets_resolved"] > 0
    for col in ("wait_mean_h", "wait_p90_h", "sla_met_share"):
        assert m.loc[served, col].notna().all() and (m.loc[served, col] >= 0).all(), col
        assert m.loc[~served, col].isna().all(), col
    assert (m.loc[served, "sla_met_share"] <= 1).all()
    assert (m.loc[served, "wait_p90_h"] >= 0).all()
    # tickets: issues are raised or suppressed; nothing is served or abandoned before it is raised
    assert (m["issues"] == m["tickets_raised"] + m["tickets_suppressed"]).all()
    assert (m["issues_unresolved"] <= m["tickets_suppressed"]).all()
    assert (np.cumsum(m["tickets_resolved"] + m["tickets_abandoned"]) <= np.cumsum(m["tickets_raised"])).all()
    # staffing within its bounds
    s = p.support
    if s.staffing == "fixed":
        assert (m["agents"] == s.agents).all()
    else:
        assert m["agents"].between(s.min_agents, s.max_agents).all()
    # VIP programme only when switched on, and VIPs are paying customers
    assert (m["vip_customers"] <= a + b).all()
    if not p.vip.enabled:
        assert (m[["vip_customers", "vip_touches", "vip_touch_hours", "vip_cost"]] == 0).all().all()
    # VIP hours are booked in the month they are worked: never more than the agents' hours
    assert (m["vip_touch_hours"] <= m["agent_hours_paid"] + 1e-6).all()
    # paid agent-hours = rostered + overtime (paid >= worked is the utilisation check above)
    assert (m["agent_hours_paid"] >= m["agent_hours_overtime"] - 1e-6).all()
    # money: every figure is finite, revenues and costs are >= 0, and they add up to profit
    assert np.isfinite(m[MONEY + ["profit", "terminal_value_usd", "discount_factor"]]).all().all()
    assert (m[MONEY] >= -1e-6).all().all(), m[MONEY].min()
    signs = {c: (-1 if c.endswith("cost") else 1) for c in MONEY}
    total = sum(sign * m[c] for c, sign in signs.items())
    assert np.allclose(total, m["profit"], rtol=1e-12, atol=1e-6)
    # acquisition is paid exactly when paid signups are bought
    price = acq.segment_cac_usd(p) * np.array([s.trial_conversion for s in p.customers.segments])
    if (price > 0).all():
        assert ((m["acquisition_cost"] > 0) == (m["paid_signups"] > 0)).all()
    # signups: next month's trials are this month's free signups (referrals) plus paid ones
    # (when no signup is lost to word of mouth, every segment's free signups are >= 0)
    if p.acquisition.organic_signups_per_month == 0:
        free_plus_paid = (m["paid_signups"] + m["referrals"]).to_numpy()[:-1]
        no_loss = (m["wom_lost_signups"] == 0).to_numpy()[:-1]
        assert (m["trials_started"].to_numpy()[1:][no_loss] == free_plus_paid[no_loss]).all()



# ------------------------------------------------------------------ examples a random search found
# Each was drawn by the random search above and failed once; pinned so every run (CI included,
# where hypothesis is derandomised) checks them. Only the values that differ from the defaults.

# A wait of -6.5e-17 h: service started a rounding error before the recorded arrival (fixed in
# the desk: waits are non-negative by construction). months=1, seed=2628.
NEGATIVE_WAIT = {'customers': {'initial': 18,
               'segments': [{'name': 's0',
                             'share': 0.6666666666666666,
                             'plan_price_usd_per_month': 0.0,
                             'issue_rate_per_month': 5.0,
                             'fee_sensitivity_per_usd': 0.0,
                             'base_churn_per_month': 0.0,
                             'trial_conversion': 0.2,
                             'tier_priority': 1,
                             'tier_sla_h': 720.0,
                             'tier_ticket_fee_usd': 0.0,
                             'is_top_plan': False,
                             'big_name_share': 0.0,
                             'funding_median_usd': 0.0},
                            {'name': 's1',
                             'share': 0.33333333333333337,
                             'plan_price_usd_per_month': 0.0,
                             'issue_rate_per_month': 0.0,
                             'fee_sensitivity_per_usd': 0.0,
                             'base_churn_per_month': 0.0,
                             'trial_conversion': 0.2,
                             'tier_priority': 1,
                             'tier_sla_h': 720.0,
                             'tier_ticket_fee_usd': 0.0,
                             'is_top_plan': False,
                             'big_name_share': 0.0,
                             'funding_median_usd': 0.0}],
               'funding_sigma': 0.0},
 'pricing': {'price_multiplier': 0.1},
 'help_seeking': {'base_ask_prob': 1.0, 'self_resolve_prob': 0.0},
 'support': {'staffing': 'fixed',
             'agents': 1,
             'max_agents': 1,
             'staffing_service_level': 0.999,
             'sla_target_h': 720.0,
             'handle_time_mean_h': 0.001,
             'handle_time_cv': 5.0,
             'patience_mean_h': 10000000.0,
             'agent_cost_usd_per_hour': 0.0},
 'satisfaction': {'initial_shares': [0.0, 0.0, 0.0, 0.0, 1.0],
                  'recovery_gain': 0.0,
                  'p_down_effort': 0.0,
                  'p_down_unresolved': 0.0,
                  'resentment_per_usd': 0.0,
                  'p_decay_above_meet': 0.0,
                  'p_recover_from_below': 0.0},
 'churn': {'level_hazard_multiplier': [0.0, 0.0, 0.0, 0.0, 0.0],
           'switching_ease': 0.0,
           'price_elasticity': 0.0,
           'price_elasticity_level_multiplier': [0.0, 0.0, 0.0, 0.0, 0.0]},
 'wom': {'referral_rate_delight': 0.0, 'referral_rate_wow': 0.0, 'negative_per_unhappy_churner': 0.0},
 'acquisition': {'cac_multiple': 1.0, 'replacement_share': 0.0},
 'trial': {'conversion_level_multiplier': [0.0, 0.0, 0.0, 0.0, 0.0]},
 'vip': {'select_top_plan': False,
         'select_big_name': False,
         'select_funded': False,
         'min_funding_usd': 0.0,
         'sla_h': 720.0,
         'welcome_h': 0.0,
         'concierge_checkins': 0,
         'checkin_h': 0.0,
         'concierge_conversion_uplift': 0.0,
         'lifecycle_checkins': False,
         'p_up_per_touch': 0.0,
         'alert_detection_prob': 0.0,
         'alert_false_positive_rate': 0.0,
         'outreach_h': 0.0,
         'outreach_save_prob': 0.0,
         'manual_capacity': 0,
         'automated_p_up_per_touch': 0.0,
         'automated_save_prob': 0.0},
 'loyalty': {'cost_usd_per_customer_month': 0.0, 'p_up_per_month': 0.0},
 'proactive': {'p_up_per_month': 0.0, 'cost_usd_per_customer_month': 0.0},
 'feedback': {'survey_response_rate': 0.0,
              'p_recover_detected': 0.0,
              'followup_cost_usd': 0.0,
              'survey_cost_usd_per_customer_month': 0.0}}

# 100 customers at 5 issues a month, 100-hour handle times and up to 166 agents: a heavy desk that
# took 4-10 s a run and tripped a wall-clock deadline (deadlines are off: slowness is not a bug
# of the model). months=4, seed=12477.
SLOW_HEAVY_DESK = {'customers': {'initial': 100,
               'segments': [{'name': 's0',
                             'share': 0.4,
                             'plan_price_usd_per_month': 188008.79495031468,
                             'issue_rate_per_month': 5.0,
                             'fee_sensitivity_per_usd': 1.0,
                             'base_churn_per_month': 0.0,
                             'trial_conversion': 0.6322521963189183,
                             'tier_priority': 1,
                             'tier_sla_h': 388.6170992137837,
                             'tier_ticket_fee_usd': 5992.145193368194,
                             'is_top_plan': True,
                             'big_name_share': 1.0,
                             'funding_median_usd': 100000000000.0},
                            {'name': 's1',
                             'share': 0.4,
                             'plan_price_usd_per_month': 276854.1539328145,
                             'issue_rate_per_month': 4.033040064498196,
                             'fee_sensitivity_per_usd': 1.0,
                             'base_churn_per_month': 0.6112475391998669,
                             'trial_conversion': 0.2,
                             'tier_priority': 6,
                             'tier_sla_h': 720.0,
                             'tier_ticket_fee_usd': 86.54675585235029,
                             'is_top_plan': False,
                             'big_name_share': 0.0,
                             'funding_median_usd': 1.9},
                            {'name': 's2',
                             'share': 0.19999999999999996,
                             'plan_price_usd_per_month': 1.9,
                             'issue_rate_per_month': 5.0,
                             'fee_sensitivity_per_usd': 0.0,
                             'base_churn_per_month': 0.9812036781156825,
                             'trial_conversion': 0.2,
                             'tier_priority': 1,
                             'tier_sla_h': 720.0,
                             'tier_ticket_fee_usd': 3083.670795549239,
                             'is_top_plan': False,
                             'big_name_share': 0.6690766141329793,
                             'funding_median_usd': 100000000000.0}],
               'funding_sigma': 2.959299312240655},
 'pricing': {'scheme': 'per_ticket',
             'per_ticket_fee_usd': 10000.0,
             'per_hour_fee_usd': 5.960464477539063e-08,
             'included_tickets_per_month': 1000,
             'support_fee_usd_per_month': 0.2,
             'price_multiplier': 6.106961715829502},
 'help_seeking': {'base_ask_prob': 0.9747524286373486, 'self_resolve_prob': 0.75},
 'support': {'agents': 5000,
             'max_agents': 166,
             'staffing_service_level': 5e-324,
             'sla_target_h': 720.0,
             'handle_time_mean_h': 100.0,
             'handle_time_dist': 'lognormal',
             'handle_time_cv': 5.0,
             'patience_mean_h': 10000000.0,
             'agent_cost_usd_per_hour': 0.0},
 'satisfaction': {'initial_shares': [0.10714285714285714,
                                     0.17857142857142858,
                                     0.26785714285714285,
                                     0.35714285714285715,
                                     0.08928571428571429],
                  'recovery_gain': 0.7063024908899865,
                  'p_down_effort': 0.0,
                  'p_down_unresolved': 0.6774767115003445,
                  'resentment_per_usd': 0.45165481494311976,
                  'p_decay_above_meet': 1.0,
                  'p_recover_from_below': 1.0},
 'churn': {'level_hazard_multiplier': [2.5966025246586026,
                                       1.5,
                                       1.9252343862548043,
                                       7.852596415176498,
                                       6.492792754020182e-22],
           'switching_ease': 4.189910154636575,
           'price_elasticity': 10.0,
           'price_elasticity_level_multiplier': [4.079324987175012,
                                                 7.063820753975541,
                                                 1.3472068466889774e-105,
                                                 9.111948685065904,
                                                 10.0]},
 'wom': {'referral_rate_delight': 1.0,
         'referral_rate_wow': 0.21267315753542199,
         'negative_per_unhappy_churner': 0.0},
 'acquisition': {'cac_multiple': 25.0,
                 'replacement_share': 1.5,
                 'growth_per_month': 6.172634429469054,
                 'organic_signups_per_month': 3.631710395608843},
 'trial': {'conversion_level_multiplier': [8.052407973457933,
                                           8.233925083430407,
                                           2.780124081233766,
                                           0.012,
                                           8.424624877874935]},
 'vip': {'enabled': True,
         'min_funding_usd': 100000000000.0,
         'sla_h': 720.0,
         'welcome_h': 0.0,
         'concierge_checkins': 20,
         'checkin_h': 0.0,
         'concierge_conversion_uplift': 0.3880548443673203,
         'p_up_per_touch': 0.5292169831788932,
         'alert_detection_prob': 1.0,
         'alert_false_positive_rate': 0.08297802498346797,
         'outreach_h': 1.1125369292536007e-308,
         'outreach_save_prob': 0.0,
         'perks_usd_per_vip_month': 81065.82474908164,
         'manual_capacity': 89,
         'automated_p_up_per_touch': 0.555534144955801,
         'automated_save_prob': 1.0},
 'loyalty': {'enabled': True,
             'cost_usd_per_customer_month': 93748.96713793802,
             'p_up_per_month': 0.15555311363509386},
 'proactive': {'enabled': True,
               'p_up_per_month': 0.8819118397906334,
               'cost_usd_per_customer_month': 71518.03489741325},
 'feedback': {'enabled': True,
              'survey_response_rate': 1.0,
              'p_recover_detected': 1.0,
              'followup_cost_usd': 85632.86733124145,
              'survey_cost_usd_per_customer_month': 2.4193902192375523e-192}}

@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(valid_params(), st.integers(1, 4), st.integers(0, 2**32))
@example(Params.model_validate(NEGATIVE_WAIT), 1, 2628)
@example(Params.model_validate(SLOW_HEAVY_DESK), 4, 12477)
def test_invariants_hold_on_random_valid_scenarios(params, months, seed):
    check_invariants(run(params, months, seed), params)


def test_invariants_hold_on_the_shipped_defaults():
    """The same invariants on the default parameters (a run the strategy above may never draw)."""
    p = Params.model_validate({"customers": {"initial": 300}, "vip": {"enabled": True},
                               "loyalty": {"enabled": True}, "proactive": {"enabled": True},
                               "feedback": {"enabled": True}})
    check_invariants(run(p, 6, 3), p)


def test_check_invariants_catches_a_broken_record():
    """The checker itself can fail: one customer lost between months is caught."""
    p = Params.model_validate({"customers": {"initial": 200}})
    m = run(p, 3, 1)
    check_invariants(m, p)
    broken = m.copy()
    broken.loc[1, "customers_start"] -= 1
    with pytest.raises(AssertionError):
        check_invariants(broken, p)
    broken = m.copy()
    broken.loc[0, "profit"] += 1.0
    with pytest.raises(AssertionError):
        check_invariants(broken, p)


# ------------------------------------------------------------------ regression tests of fixed model bugs


def test_churn_probability_is_a_number_for_every_valid_input():
    p = Params.model_validate({
        "customers": {"initial": 10, "segments": [{"name": "a", "share": 1.0, "plan_price_usd_per_month": 1e-6,
                                                   "base_churn_per_month": 0.0}]},
        "pricing": {"support_fee_usd_per_month": 100.0},
        "churn": {"price_elasticity": 10, "price_elasticity_level_multiplier": [4.0] * len(LADDER)},
    })
    pop = cu.Population.empty(10)
    pop.add(10, p, np.random.default_rng(0), month=0, paying=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow, no invalid value
        prob = cu.churn_probability(pop, np.arange(10), p)
    assert np.isfinite(prob).all() and ((prob >= 0) & (prob <= 1)).all(), prob
    run(p, 2, 1)


def test_support_cost_is_never_negative():
    p = Params.model_validate({
        "customers": {"initial": 50, "segments": [{"name": "top", "share": 1.0, "is_top_plan": True,
                                                   "issue_rate_per_month": 0.0}]},
        "support": {"staffing": "fixed", "agents": 1},
        "vip": {"enabled": True, "welcome_h": 40, "concierge_checkins": 20, "checkin_h": 40, "outreach_h": 0,
                "lifecycle_checkins": False},
        "acquisition": {"organic_signups_per_month": 5},
    })
    m = run(p, 8, 1)
    busy_h = m["vip_touch_hours"]  # no tickets: the desk's only work
    assert (busy_h <= m["agent_hours_paid"]).all(), busy_h.max()
    assert (m["support_cost"] >= 0).all(), m["support_cost"].min()


def test_lost_signups_are_not_replaced_twice():
    p = Params.model_validate({
        "customers": {"initial": 400},
        "satisfaction": {"initial_shares": [1.0, 0.0, 0.0, 0.0, 0.0], "p_recover_from_below": 0.0},
        "churn": {"level_hazard_multiplier": [10.0, 1.0, 1.0, 1.0, 1.0]},
        "wom": {"negative_per_unhappy_churner": 3.0, "referral_rate_delight": 0.0, "referral_rate_wow": 0.0},
        "acquisition": {"organic_signups_per_month": 0.0},
    })
    m = run(p, 3, 1)
    assert (m["wom_lost_signups"] > 0).any()  # the case is really exercised
    # lost signups are bought back (paid) but never add trials: no referrals here, so next
    # month's trials are at most the paid signups, and fewer when some were bought back
    trials, paid = m["trials_started"].to_numpy()[1:], m["paid_signups"].to_numpy()[:-1]
    assert (m["referrals"] == 0).all()
    assert (trials <= paid).all(), m[["trials_started", "paid_signups", "referrals", "wom_lost_signups"]]
    lost = m["wom_lost_signups"].to_numpy()[:-1]
    assert (paid - trials <= lost).all() and ((paid - trials)[lost > 0] > 0).any()



def test_the_trial_funnel_is_full_from_the_start():
    p = Params.model_validate({"customers": {"initial": 2000}})
    m = run(p, 4, 1)
    assert (m["paid_signups"] > 0).all()  # acquisition is on and buying every month
    assert (m["acquired"] > 0).all(), m[["month", "trials_started", "acquired"]]
