"""The Streamlit page through AppTest, no browser (its logic: tests/test_app_logic.py).

The page tests open the tiny smoke scenario through the page address (``?scenario=smoke``)
except the one that checks the default; results are cached per process, so they share
one pool of simulation workers and the runs they have in common.
"""

from __future__ import annotations

import re
import typing

import pandas as pd
import pytest
from pydantic import BaseModel
from streamlit.testing.v1 import AppTest

from sim.app import drawing, sources, views
from sim.app import kit as appkit
from sim.params.scenario import load, resolve_policies
from sim.params.schema import Params
from sim.runs import metrics
from tests.conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.xdist_group("app")  # one process: the page tests share caches and workers

APP = str(ROOT / "app.py")
SMOKE = load(SCENARIOS / "smoke.toml")


# ---------------------------------------------------------------- helpers


def leaf_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf parameter path of a model (list-of-model fields as path.i for item i)."""
    out = []
    for name, info in model.model_fields.items():
        sub = next((a for a in (info.annotation, *typing.get_args(info.annotation))
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is not None and typing.get_origin(info.annotation) is not list:
            out += leaf_paths(sub, f"{prefix}{name}.")
        elif sub is None:
            out.append(f"{prefix}{name}")
    return out


def controls_by_path(scenario) -> dict[str, appkit.Control]:
    return {c.path: c for g in appkit.control_groups(scenario) for c in g.controls}


@pytest.fixture(scope="session")
def app_cache_dir(tmp_path_factory):
    """The page tests' disk cache: one per session (shared by its tests, not by later sessions)."""
    return tmp_path_factory.mktemp("app-cache")


@pytest.fixture(autouse=True)
def fixtures_in_picker(monkeypatch, app_cache_dir):
    """The page tests open the smoke fixture, which the picker lists only when asked to; their
    disk cache is the session's, not the user's."""
    monkeypatch.setenv("SUPPORTSIM_APP_FIXTURES", "1")
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(app_cache_dir))


def test_test_fixtures_are_not_in_the_picker():
    assert "smoke.toml" in sources.shipped_scenarios(fixtures=True)
    shown = sources.shipped_scenarios(fixtures=False)
    assert "smoke.toml" not in shown and next(iter(shown)) == sources.DEFAULT_FILE
    assert set(shown) == {p.name for p in SCENARIOS.glob("*.toml")} - set(sources.FIXTURES)


def open_app(scenario: str | None = "smoke", *, groups: bool = False) -> AppTest:
    """The page on ``scenario``; ``groups``: every sidebar group open, as a person opens a group
    to reach its controls (a closed group's controls are not drawn)."""
    at = AppTest.from_file(APP, default_timeout=240)
    if scenario:
        at.query_params["scenario"] = scenario
    if groups:
        for g in appkit.control_groups(load(SCENARIOS / f"{scenario or 'baseline'}.toml")):
            at.session_state[f"group:{g.key}"] = True
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def card_values(at: AppTest, label: str) -> list[str]:
    """The values of one KPI's cards, in policy order."""
    return [m.value for m in at.metric if m.label == label]


def money_value(text: str) -> float:
    m = re.fullmatch(r"(-?)\$([\d,.]+)([kMB]?)", text)
    assert m, text
    scale = {"": 1, "k": 1e3, "M": 1e6, "B": 1e9}[m.group(3)]
    return (-1 if m.group(1) else 1) * float(m.group(2).replace(",", "")) * scale


def profits(at: AppTest) -> list[float]:
    return [money_value(v) for v in card_values(at, metrics.KPIS["cumulative_profit"].title)]


def changes(at: AppTest) -> str:
    """The list of overrides the page shows under the header."""
    return "\n".join(m.value for m in at.markdown if m.value.startswith("- `"))


@pytest.fixture
def media(monkeypatch):
    """The media files of the last AppTest run (downloads), to read what a click would save."""
    import streamlit.testing.v1.app_test as app_test

    managers = []

    class Recording(app_test.MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test, "MediaFileManager", Recording)

    def read(at: AppTest, key: str) -> bytes:
        button = next(b for b in at.get("download_button") if b.key == key)
        mgr = managers[-1]
        url = mgr.execute_deferred(button.proto.deferred_file_id) if button.proto.deferred_file_id else button.proto.url
        return mgr.read_file(url.rsplit("/", 1)[1].split(".")[0]).content

    return read


# ---------------------------------------------------------------- the page (AppTest)


def test_opens_on_the_default_scenario_with_results_without_a_click():
    at = open_app(None)
    assert_clean(at)
    assert at.selectbox(key="scenario").value == "baseline.toml"
    baseline = load(SCENARIOS / "baseline.toml")
    n_policies = len(baseline.policies)
    assert len(card_values(at, metrics.KPIS["cumulative_profit"].title)) == n_policies
    assert len(at.metric) == n_policies * len(views.CARD_KPIS)
    assert len(at.image) >= 2  # the first tab's figures
    labels = [b.label for b in at.get("download_button")]
    assert {"Scenario (TOML)", "Monthly results (CSV)", "PNG", "SVG"} <= set(labels)
    assert any(f"{baseline.run.replications} replications" in m.value for m in at.caption)


def test_scenario_picker_lists_the_shipped_scenarios_and_resets_the_controls():
    at = open_app(groups=True)
    assert_clean(at)
    picker = at.selectbox(key="scenario")
    assert sorted(picker.options) == sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    assert picker.value == "smoke.toml"
    assert len(card_values(at, metrics.KPIS["cumulative_profit"].title)) == len(SMOKE.policies)
    assert at.number_input(key="p:customers.initial").value == SMOKE.customers.initial
    at.number_input(key="p:support.agent_cost_usd_per_hour").set_value(99.0).run()
    assert changes(at)
    at.selectbox(key="scenario").set_value("baseline.toml").run()  # cached by the default-scenario test
    assert_clean(at)
    baseline = load(SCENARIOS / "baseline.toml")
    assert at.number_input(key="p:customers.initial").value == baseline.customers.initial
    assert at.number_input(key="p:support.agent_cost_usd_per_hour").value == baseline.support.agent_cost_usd_per_hour
    assert not changes(at)
    assert len(card_values(at, metrics.KPIS["cumulative_profit"].title)) == len(baseline.policies)


def test_pricing_controls_edit_each_policy():
    at = open_app()
    before = card_values(at, metrics.KPIS["cumulative_profit"].title)
    fee = at.number_input(key="p:policies.per_ticket.pricing.per_ticket_fee_usd")
    fee.set_value(fee.value * 3).run()
    assert_clean(at)
    after = card_values(at, metrics.KPIS["cumulative_profit"].title)
    names = list(SMOKE.policies)
    i = names.index("per_ticket")
    assert after[i] != before[i]
    assert [a for j, a in enumerate(after) if j != i] == [b for j, b in enumerate(before) if j != i]
    assert "policies.per_ticket.pricing.per_ticket_fee_usd=60.0" in changes(at)
    assert at.number_input(key="p:policies.flat.pricing.per_ticket_fee_usd").proto.disabled  # flat: no fee
    at.toggle(key="p:policies.flat.vip.enabled").set_value(True).run()
    assert "policies.flat.vip.enabled=true" in changes(at)
    at.selectbox(key="p:scenario.reference_policy").set_value("per_ticket").run()
    assert_clean(at)
    deltas = [m.delta for m in at.metric if m.label == metrics.KPIS["cumulative_profit"].title]
    assert not deltas[i] and deltas[0]  # the new reference has no delta, the others do


def test_a_closed_group_draws_no_controls_and_keeps_its_changes():
    """Only open sidebar groups draw their controls (the browser's cost is the ~1,800 elements
    of all of them); a change made in a group outlives closing it, and comes back on opening."""
    at = open_app()
    assert_clean(at)
    assert not [w for w in at.number_input if w.key == "p:support.agent_cost_usd_per_hour"]  # closed by default
    at.session_state["group:support"] = True
    at.run()
    cost = at.number_input(key="p:support.agent_cost_usd_per_hour")
    new = cost.value * 2
    cost.set_value(new).run()
    changed = profits(at)
    at.session_state["group:support"] = False
    at.run()
    assert_clean(at)
    assert not [w for w in at.number_input if w.key == "p:support.agent_cost_usd_per_hour"]
    assert profits(at) == changed  # the run still has the change
    assert any("1 change from" in e.label for e in at.expander)
    at.session_state["group:support"] = True
    at.run()
    assert at.number_input(key="p:support.agent_cost_usd_per_hour").value == new


def test_support_desk_agent_cost_lowers_every_policys_profit():
    at = open_app(groups=True)
    before = profits(at)
    cost = at.number_input(key="p:support.agent_cost_usd_per_hour")
    cost.set_value(cost.value * 2).run()
    assert_clean(at)
    after = profits(at)
    assert all(a < b for a, b in zip(after, before)), (before, after)


def figure_captions_and_urls(at: AppTest) -> list[tuple[str, str]]:
    return [(i.proto.imgs[0].caption, i.proto.imgs[0].url) for i in at.get("image")]


def test_after_a_change_the_figures_are_the_new_settings_and_say_nothing_of_the_previous():
    # While replications refine, the previous settings' figures stand in with a note in their
    # caption; the run ends with the new settings' figures under their plain captions.
    at = open_app(groups=True)
    before = figure_captions_and_urls(at)
    assert before and not any("previous settings" in c for c, _ in before)
    handle = at.number_input(key="p:support.handle_time_mean_h")
    handle.set_value(handle.value * 2).run()  # longer waits: fewer customers stay
    assert_clean(at)
    after = figure_captions_and_urls(at)
    assert [c for c, _ in after] == [c for c, _ in before]  # plain captions, the same figures
    assert all(a != b for (_, a), (_, b) in zip(after, before))  # redrawn from the new results


def edit_customers(at: AppTest) -> AppTest:
    at.number_input(key="p:customers.initial").set_value(SMOKE.customers.initial * 2)
    at.slider(key="p:customers.segments.0.share").set_value(0.5)
    return at.slider(key="p:customers.segments.1.share").set_value(0.4)


def test_customer_controls_apply_only_on_their_button():
    at = open_app(groups=True)
    before = card_values(at, metrics.KPIS["customers_at_horizon"].title)
    edit_customers(at).run()
    assert card_values(at, metrics.KPIS["customers_at_horizon"].title) == before  # nothing applied yet
    edit_customers(at)  # AppTest drops unsubmitted form values between runs; a browser keeps them
    next(b for b in at.button if b.label.startswith("Apply customers")).click().run()
    assert_clean(at)
    after = card_values(at, metrics.KPIS["customers_at_horizon"].title)
    assert all(int(a.replace(",", "")) > int(b.replace(",", "")) for a, b in zip(after, before))
    assert "customers.segments.0.share=0.5" in changes(at)


def test_segment_shares_that_do_not_sum_to_one_are_reported_inline():
    at = open_app(groups=True)
    at.slider(key="p:customers.segments.0.share").set_value(0.9)
    next(b for b in at.button if b.label.startswith("Apply customers")).click().run()
    assert not at.exception
    assert at.sidebar.error and "segment shares must sum to 1" in at.sidebar.error[0].value
    assert "sum to 1" in at.main.error[0].value and not at.metric


def test_satisfaction_and_churn_controls():
    at = open_app(groups=True)
    before = profits(at)
    at.slider(key="p:churn.switching_ease").set_value(3.0).run()
    assert_clean(at)
    assert "churn.switching_ease=3.0" in changes(at) and profits(at) != before
    at.text_input(key="p:satisfaction.initial_shares").input("0.2, 0.2, 0.2, 0.2").run()
    assert not at.exception
    assert "satisfaction.initial_shares" in at.sidebar.error[0].value and "5 numbers" in at.sidebar.error[0].value


def test_acquisition_cost_multiple_lowers_every_policys_profit():
    at = open_app(groups=True)
    before = profits(at)
    at.slider(key="p:acquisition.cac_multiple").set_value(20.0).run()
    assert_clean(at)
    assert all(a < b for a, b in zip(profits(at), before))


def test_vip_perks_cost_only_the_policies_with_vip():
    at = open_app(groups=True)
    before = profits(at)
    at.number_input(key="p:vip.perks_usd_per_vip_month").set_value(200.0).run()
    assert_clean(at)
    after = profits(at)
    vip = [p.params.vip.enabled for p in resolve_policies(SMOKE)]
    assert any(vip) and not all(vip)
    for on, a, b in zip(vip, after, before):
        assert (a < b) if on else (a == b)


def test_run_settings_apply_on_their_button():
    at = open_app(groups=True)
    at.number_input(key="p:run.replications").set_value(SMOKE.run.replications + 1).run()
    assert "run.replications" not in changes(at)
    at.number_input(key="p:run.replications").set_value(SMOKE.run.replications + 1)
    at.number_input(key="p:run.seed").set_value(SMOKE.run.seed + 1)
    next(b for b in at.button if b.label.startswith("Apply run")).click().run()
    assert_clean(at)
    assert f"run.replications={SMOKE.run.replications + 1}" in changes(at)
    assert any(f"{SMOKE.run.replications + 1} replications" in m.value for m in at.caption)
    assert f"Mean over {SMOKE.run.replications + 1} replications" in at.metric[0].help


def test_oversize_workload_is_refused_with_a_message():
    at = open_app(groups=True)
    at.number_input(key="p:customers.initial").set_value(2_000_000)
    next(b for b in at.button if b.label.startswith("Apply customers")).click().run()
    assert not at.exception and not at.metric
    assert "too large" in at.main.error[0].value and "customer-months" in at.main.error[0].value


def test_every_tab_renders():
    at = open_app()
    for tab in drawing.TABS:
        at.session_state["tab"] = tab
        at.run()
        assert_clean(at)
        expected = [s for s in drawing.figure_specs(len(SMOKE.policies)) if s.tab == tab]
        assert len(at.main.image) == len(expected), tab
    at.session_state["tab"] = "Assumptions"
    at.run()
    table = at.dataframe[-1].value
    assert len(table) >= len(leaf_paths(Params)) and {"unit", "source", "allowed"} <= set(table.columns)


def test_sensitivity_runs_on_demand():
    pytest.importorskip("sim.runs.studies")
    at = open_app()
    at.session_state["tab"] = "Sensitivity"
    at.run()
    assert_clean(at)
    assert not at.main.image  # nothing runs until asked
    at.multiselect(key="sa_params").set_value(["churn.switching_ease", "acquisition.cac_multiple"])
    at.number_input(key="sa_reps").set_value(2)
    at.button(key="sa_run").click().run()
    assert_clean(at)
    assert len(at.main.image) == 1


def test_analysis_settings_and_results_survive_a_tab_switch():
    """A tab's widgets are not drawn while another tab is open, and Streamlit forgets the state
    of a widget a run does not draw: the settings (and the cached result keyed by them) must
    come back with the tab."""
    pytest.importorskip("sim.runs.studies")
    at = open_app()
    at.session_state["tab"] = "Sensitivity"
    at.run()
    params = ["churn.switching_ease", "acquisition.cac_multiple"]
    at.multiselect(key="sa_params").set_value(params)
    at.number_input(key="sa_reps").set_value(2)
    at.button(key="sa_run").click().run()
    assert_clean(at)
    assert len(at.main.image) == 1
    at.session_state["tab"] = "Money"
    at.run()
    at.session_state["tab"] = "Sensitivity"
    at.run()
    assert_clean(at)
    assert at.multiselect(key="sa_params").value == params and at.number_input(key="sa_reps").value == 2
    assert len(at.main.image) == 1  # the tornado, from the cache, without a click


def test_upload_replaces_the_picked_scenario():
    at = open_app()
    text = (SCENARIOS / "smoke.toml").read_text().replace('name = "smoke"', 'name = "my_upload"')
    at.sidebar.file_uploader[0].upload("mine.toml", text.encode(), "application/toml")
    at.run()
    assert_clean(at)
    assert any("my_upload" in m.value.replace("\\", "") for m in [*at.markdown, *at.text])
    assert at.selectbox(key="scenario").disabled


def test_invalid_upload_is_reported_in_the_main_area_naming_the_field_and_the_results_shown():
    at = open_app()
    before = card_values(at, metrics.KPIS["cumulative_profit"].title)
    at.sidebar.file_uploader[0].upload("bad.toml", b"[support]\nagents = 0\nagnets = 3\n", "application/toml")
    at.run()
    assert not at.exception
    assert not at.sidebar.error
    message = at.main.error[0].value
    assert "bad.toml" in message.replace("\\", "") and "support.agents" in message and "agnets" in message
    assert "last good scenario, **smoke.toml**" in message.replace("\\", "")  # says which results are on screen
    assert card_values(at, metrics.KPIS["cumulative_profit"].title) == before  # still the picked scenario
    at.sidebar.file_uploader[0].clear()
    at.sidebar.file_uploader[0].upload("junk.toml", b"= = =", "application/toml")
    at.run()
    assert not at.exception and "TOML" in at.main.error[0].value


def test_downloaded_scenario_reproduces_the_apps_numbers_with_supportsim_run(media, tmp_path):
    at = open_app(groups=True)
    at.number_input(key="p:support.agent_cost_usd_per_hour").set_value(47.0).run()
    at.toggle(key="p:policies.per_ticket.vip.enabled").set_value(True).run()
    assert_clean(at)
    toml = media(at, "dl_toml")
    app_csv = media(at, "dl_csv")
    (tmp_path / "app.toml").write_bytes(toml)
    out = tmp_path / "out"
    from tests.procs import supportsim

    done = supportsim("run", str(tmp_path / "app.toml"), "--out", str(out), "--workers", "1", "--no-plots", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (out / "monthly.csv").read_bytes() == app_csv
    kpis = pd.read_csv(out / "kpis.csv")
    assert len(kpis) == len(SMOKE.policies) * SMOKE.run.replications


def test_plot_and_report_downloads(media):
    at = open_app()
    png = media(at, "dl_customers_png")
    svg = media(at, "dl_customers_svg").decode()
    assert png.startswith(b"\x89PNG") and "<svg" in svg and "smoke" in svg
    html = media(at, "dl_report").decode()
    assert html.lstrip().lower().startswith("<!doctype html") and "smoke" in html
    kpis = media(at, "dl_kpis").decode().splitlines()
    assert kpis[0].startswith("policy,replication") and len(kpis) == 1 + len(SMOKE.policies) * SMOKE.run.replications
