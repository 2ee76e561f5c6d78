"""The Sensitivity tab's defaults (AppTest, no browser): the value KPI, the reference against
the best other policy of the main run, a pricing lever of policy B to break even on, display
names rather than parameter paths, and replications enough for the tornado to read."""

from __future__ import annotations

import pytest

from sim.app import kit, studies
from sim.output import study_plots
from sim.params.scenario import load, load_text
from sim.runs.kpis import DEFAULT_KPI
from tests.conftest import SCENARIOS
from tests.test_app import app_cache_dir, assert_clean, fixtures_in_picker, open_app  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("app")  # one process with tests/test_app.py: shared caches and workers


def sweep_params(scenario):
    return studies.sweep_params(kit.control_groups(scenario))


def open_sensitivity():
    at = open_app()
    at.session_state["tab"] = "Sensitivity"
    at.run()
    assert_clean(at)
    return at


# ---------------------------------------------------------------- helpers (no page)


@pytest.mark.parametrize(("file", "policy", "lever"), [
    ("baseline", "per_ticket", "policies.per_ticket.pricing.per_ticket_fee_usd"),
    ("netflix", "per_hour", "policies.per_hour.pricing.per_hour_fee_usd"),
    ("netflix", "tiered", "customers.segments.0.tier_ticket_fee_usd"),  # the one tier fee above zero
    ("baseline", "flat_vip", "policies.flat_vip.pricing.price_multiplier"),  # no fee: its prices
    ("baseline", "flat", "policies.flat.pricing.price_multiplier"),
])
def test_the_break_even_defaults_to_a_pricing_lever_of_policy_b(file, policy, lever):
    scenario = load(SCENARIOS / f"{file}.toml")
    chosen = studies.default_breakeven_param(sweep_params(scenario), scenario, policy)
    assert chosen == lever and chosen != studies.AGENT_COST


def test_a_flat_policy_with_an_add_on_breaks_even_on_it():
    text = (SCENARIOS / "smoke.toml").read_text().replace(
        'vip.enabled = true', 'vip.enabled = true\npricing.support_fee_usd_per_month = 30.0')
    scenario = load_text(text, source="addon.toml")
    assert (studies.default_breakeven_param(sweep_params(scenario), scenario, "flat_vip")
            == "policies.flat_vip.pricing.support_fee_usd_per_month")


def test_best_other_is_the_policy_the_verdict_names():
    class Res:  # the fields best_other reads
        import pandas as pd
        policies = ["flat", "tiered", "per_ticket", "flat_vip"]
        reference = "flat"
        kpis = pd.DataFrame({"policy": ["flat", "tiered", "per_ticket", "flat_vip"] * 2,
                             "value_usd": [10, 9, 8, 12, 10, 9, 8, 12]})

    assert studies.best_other(Res, "flat") == "flat_vip"  # the leader, when the reference is not
    assert studies.best_other(Res, "flat_vip") == "flat"  # the runner-up, when A leads
    assert studies.best_other(Res, "tiered") == "flat_vip"


# ---------------------------------------------------------------- the page (AppTest)


def test_sensitivity_defaults_follow_the_main_run_and_the_value_kpi():
    at = open_sensitivity()
    res = at.session_state["_last_results"]
    a, b = at.selectbox(key="sa_a").value, None
    assert a == res.reference
    b_key = f"sa_b:{a}"
    b = at.selectbox(key=b_key).value
    means = res.kpis.groupby("policy")[DEFAULT_KPI].mean()
    assert b == max((p for p in res.policies if p != a), key=means.get)
    assert at.selectbox(key="sa_kpi").value == DEFAULT_KPI == "value_usd"
    assert at.number_input(key="sa_reps").value == min(studies.SENSITIVITY_REPLICATIONS, res.scenario.run.replications)
    lever = at.selectbox(key=f"be_param:{b}").value
    assert lever.startswith((f"policies.{b}.pricing.", "customers.segments.")) and lever != studies.AGENT_COST
    # what the page shows: policy labels, parameter display names, never a raw path
    shown = (at.selectbox(key="sa_a").options + at.selectbox(key=b_key).options
             + at.selectbox(key=f"be_param:{b}").options)
    assert kit.policy_label(res.scenario, a) in shown
    assert not [o for o in shown if o.startswith(("policies.", "customers.", "support."))]


def test_policy_b_and_its_lever_follow_policy_a():
    at = open_sensitivity()
    res = at.session_state["_last_results"]
    other = next(p for p in res.policies if p != res.reference)
    at.selectbox(key="sa_a").set_value(other).run()
    assert_clean(at)
    means = res.kpis.groupby("policy")[DEFAULT_KPI].mean()
    b = at.selectbox(key=f"sa_b:{other}").value
    assert b == max((p for p in res.policies if p != other), key=means.get)
    assert at.selectbox(key=f"be_param:{b}").value == studies.default_breakeven_param(
        sweep_params(res.scenario), res.scenario, b)


def test_the_break_even_chart_names_the_parameter_as_the_page_does(monkeypatch):
    seen = {}
    real = study_plots.plot_breakeven

    def spy(table, **kw):
        seen.update(param=table.attrs["param"], xlabel=kw.get("xlabel"))
        return real(table, **kw)

    monkeypatch.setattr(study_plots, "plot_breakeven", spy)
    at = open_sensitivity()
    res = at.session_state["_last_results"]
    b = at.selectbox(key=f"sa_b:{res.reference}").value
    path = at.selectbox(key=f"be_param:{b}").value
    hi = at.number_input(key=f"be_hi:{path}")
    hi.set_value(hi.value * 0.9).run()  # a range of its own: other tests open the tab on the defaults, uncached
    at.button(key="be_run").click().run()
    assert_clean(at)
    assert seen and "." not in seen["param"].replace("($", "") and "_" not in seen["param"]
    assert "policies." not in seen["xlabel"] and "_" not in seen["xlabel"]
