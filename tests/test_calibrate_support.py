"""Support -> churn, recovered: a plain hazard simulation and the model itself give back what made them.

Two generators with a known truth. (1) A plain discrete-time hazard in numpy, independent of the model:
customers meet tickets each month, some abandoned, some answered late; the chance of leaving is a
complementary log-log in those counts with known coefficients. The calibration's hazard model must
cover each coefficient with its 95% interval. (2) The model itself (a weekly desk whose promise runs
on the calendar clock, so many answers are late): the calibration must find its desk and clock and
give back its satisfaction parameters and base churn inside their 95% intervals. Seeded throughout.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.calibrate import calibrate, exports_from_trace, read_customers, read_tickets
from sim.calibrate.synthetic import TRUE_BASE, TRUE_BETA, hazard_exports
from sim.engine import model
from sim.params.scenario import load, resolve_policies
from tests.conftest import ROOT


def _calibrate(tmp_path, customers: pd.DataFrame, tickets: pd.DataFrame, **options):
    c, t = tmp_path / "customers.csv", tmp_path / "tickets.csv"
    customers.to_csv(c, index=False)
    tickets.to_csv(t, index=False)
    return calibrate(customers=read_customers(c), tickets=read_tickets(t), **options)


def test_a_plain_hazard_simulation_is_recovered_inside_its_confidence_intervals(tmp_path):
    cal = _calibrate(tmp_path, *hazard_exports())
    rf = cal.support.reduced
    table = {r["covariate"]: r for r in rf.table()}
    for name, beta in TRUE_BETA.items():
        r = table[name]
        lo, hi = r["coef"] - 1.959964 * r["se"], r["coef"] + 1.959964 * r["se"]
        assert lo <= beta <= hi, (name, beta, r)
    for name in ("bad last month", "two or more bad"):  # no such effect in the generator
        if name in table:
            r = table[name]
            assert abs(r["coef"]) <= 1.959964 * r["se"], (name, r)
    for seg, base in TRUE_BASE.items():  # the intercept is the hazard with no bad outcome
        r = table[f"segment {seg}"]
        assert abs(r["coef"] - math.log(-math.log1p(-base))) <= 1.959964 * r["se"], (seg, r)


MODEL_TRUTH = ROOT / "examples" / "calibration" / "support_truth.toml"


@pytest.fixture(scope="module")
def model_calibration(tmp_path_factory):
    scenario = load(MODEL_TRUTH)
    params = resolve_policies(scenario)[0].params
    trace = model.Trace()
    model.run(params, months=scenario.run.months, seed=scenario.run.seed, trace=trace)
    customers, tickets = exports_from_trace(trace, params=params, seed=scenario.run.seed)
    return params, _calibrate(tmp_path_factory.mktemp("model"), customers, tickets)


def test_the_model_gives_back_its_desk_and_clock(model_calibration):
    params, cal = model_calibration
    s, fit = params.support, cal.support
    assert not fit.hours.always
    assert (fit.hours.open_hour, fit.hours.close_hour, fit.hours.open_days) == (s.open_hour, s.close_hour, s.open_days)
    assert fit.clock == s.sla_clock == "calendar"
    p = fit.profile
    assert (p.day_start, p.day_end) == (s.arrival_day_start_hour, s.arrival_day_end_hour)
    for name in ("offhours", "weekend", "monday"):
        assert abs(getattr(p, name) - getattr(s, f"arrival_{name}_factor")) <= 3 * p.se[name], name


def test_the_model_gives_back_its_satisfaction_parameters(model_calibration):
    params, cal = model_calibration
    mech = cal.support.mechanics
    sat = params.satisfaction
    truth = {"p_down_unresolved": sat.p_down_unresolved, "p_down_effort": sat.p_down_effort,
             "late_half_ratio": sat.late_half_ratio, "p_recover_from_below": sat.p_recover_from_below,
             "m_below": params.churn.level_hazard_multiplier[0]}
    segments = sorted(params.customers.segments, key=lambda x: x.plan_price_usd_per_month)
    truth.update({f"base_churn_{j}": x.base_churn_per_month for j, x in enumerate(segments)})
    assert set(truth) <= set(mech.estimated())
    for name, value in truth.items():
        _, lo, hi = mech.interval(name)
        assert lo <= value <= hi, (name, value, lo, hi)
    assert mech.j_pvalue > 0.01  # the model's mechanics fit the reduced form they made
