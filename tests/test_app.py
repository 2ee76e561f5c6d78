"""The Streamlit app: its logic (sim.app.kit) and the page through AppTest, no browser.

The page tests open the tiny smoke scenario through the page address (``?scenario=smoke``)
except the one that checks the default; results are cached per process, so they share
one pool of simulation workers and the runs they have in common.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
import subprocess
import sys
import typing

import pandas as pd
import pytest
from pydantic import BaseModel
from streamlit.testing.v1 import AppTest

from sim.app import drawing, procs, progressive, sources, store, views
from sim.app import kit as appkit
from sim.params.scenario import ScenarioError, load, load_text, resolve_policies, scenario_hash
from sim.params.schema import Params
from sim.runs import metrics
from sim.runs.experiment import run_scenario
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


# ---------------------------------------------------------------- controls from the schema


@pytest.mark.parametrize("file", sorted(p.name for p in SCENARIOS.glob("*.toml")))
def test_every_parameter_has_one_control(file):
    scenario = load(SCENARIOS / file)
    ctrls = controls_by_path(scenario)
    expected = []
    for path in leaf_paths(Params):
        section = path.split(".")[0]
        if path == "customers.segments":
            expected += [f"customers.segments.{i}.{f}" for i in range(len(scenario.customers.segments))
                         for f in leaf_paths(type(scenario.customers.segments[0]))]
        elif section == "pricing" and scenario.policies:  # pricing is set per policy
            expected += [f"policies.{p}.{path}" for p in scenario.policies]
        else:
            expected.append(path)
    expected += ["run.months", "run.replications", "run.seed"]
    missing = sorted(set(expected) - set(ctrls))
    assert not missing, missing
    groups = [g.key for g in appkit.control_groups(scenario)]
    assert groups == ["pricing", "customers", "support", "satisfaction", "acquisition", "vip", "run"]


def test_controls_take_label_unit_range_default_and_source_from_the_schema():
    ctrls = controls_by_path(SMOKE)
    for path, c in ctrls.items():
        assert c.label and c.help
        assert f"`{path}`" in c.help
        if path.startswith("policies.") or path.startswith("scenario."):
            continue
        info = Params.model_fields.get(path.split(".")[0])
        if info is None:
            continue
        from sim.params.walk import field_info

        field = field_info(path)
        extra = field.json_schema_extra or {}
        if extra.get("unit"):
            assert extra["unit"] in c.help
        assert f"**Source:** {extra.get('source') or 'assumption'}" in c.help
        for m in field.metadata:  # the control never allows what the schema refuses
            if getattr(m, "ge", None) is not None:
                assert c.lo >= m.ge
            if getattr(m, "gt", None) is not None:
                assert c.lo > m.gt
            if getattr(m, "le", None) is not None:
                assert c.hi <= m.le
    agent_cost = ctrls["support.agent_cost_usd_per_hour"]
    assert agent_cost.default == SMOKE.support.agent_cost_usd_per_hour and "USD/h" in agent_cost.label
    fee = ctrls["policies.per_ticket.pricing.per_ticket_fee_usd"]
    assert fee.default == resolve_policies(SMOKE)[1].params.pricing.per_ticket_fee_usd  # the policy's own value
    assert ctrls["acquisition.cac_multiple"].widget == "slider"
    assert ctrls["customers.initial"].widget == "number"


def test_unchanged_controls_give_no_overrides_and_changes_round_trip():
    groups = appkit.control_groups(SMOKE)
    values = {c.path: (appkit.ladder_text(c.default) if c.kind == "ladder" else c.default)
              for g in groups for c in g.controls}
    assert appkit.overrides_from_values(groups, values) == ([], [])
    values.update({
        "support.agent_cost_usd_per_hour": 52.5,
        "policies.per_ticket.pricing.per_ticket_fee_usd": 33.0,
        "policies.flat.vip.enabled": True,
        "satisfaction.initial_shares": "0.1, 0.5, 0.2, 0.1, 0.1",
        "scenario.reference_policy": "per_ticket",
        "customers.segments.0.name": 'say "hi"',
        "satisfaction.p_down_late": 0.30000000000000004,  # a slider's float noise
    })
    overrides, problems = appkit.overrides_from_values(groups, values)
    assert not problems and len(overrides) == 7
    sc = sources.build_scenario(sources.load_source(SCENARIOS / "smoke.toml"), overrides)
    pol = {p.name: p.params for p in resolve_policies(sc)}
    assert sc.support.agent_cost_usd_per_hour == 52.5
    assert pol["per_ticket"].pricing.per_ticket_fee_usd == 33.0 and pol["flat"].vip.enabled
    assert sc.satisfaction.initial_shares == [0.1, 0.5, 0.2, 0.1, 0.1]
    assert sc.scenario.reference_policy == "per_ticket" and sc.customers.segments[0].name == 'say "hi"'
    assert sc.satisfaction.p_down_late == 0.3
    argv = shlex.split(sources.cli_command(sources.load_source(SCENARIOS / "smoke.toml"), overrides))
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert scenario_hash(load(ROOT / argv[2], sets)) == scenario_hash(sc)  # the shown command is the same run
    bad, problems = appkit.overrides_from_values(groups, {"churn.level_hazard_multiplier": "1, 2, x"})
    assert bad == [] and problems and problems[0].startswith("churn.level_hazard_multiplier:")


def test_exported_toml_is_the_same_scenario(tmp_path):
    source = sources.load_source(SCENARIOS / "smoke.toml")
    sc = sources.build_scenario(source, ["support.agent_cost_usd_per_hour=41", "policies.flat.vip.enabled=true"])
    text = sources.scenario_toml(sc, source=source, overrides=["support.agent_cost_usd_per_hour=41"])
    assert scenario_hash(load_text(text)) == scenario_hash(sc)
    assert "--set support.agent_cost_usd_per_hour=41" in text


def test_uploads_are_validated_by_the_schema():
    good = (SCENARIOS / "smoke.toml").read_bytes()
    assert scenario_hash(sources.load_upload("mine.toml", good).scenario) == scenario_hash(SMOKE)
    with pytest.raises(ScenarioError) as err:
        sources.load_upload("bad.toml", b"[support]\nagents = 0\n")
    assert any(p.startswith("support.agents") and "1" in p for p in err.value.problems)
    with pytest.raises(ScenarioError, match="TOML"):
        sources.load_upload("bad.toml", b"this is = = not toml")
    with pytest.raises(ScenarioError):
        sources.load_upload("bad.toml", b"\xff\xfe\x00garbage")


def test_guardrail_refuses_oversize_runs(monkeypatch):
    big = load(SCENARIOS / "smoke.toml", ["customers.initial=2000000", "run.months=240"])
    with pytest.raises(ScenarioError, match="too large"):
        sources.check_workload(big)
    assert sources.check_workload(SMOKE) > 0
    monkeypatch.setenv("SUPPORTSIM_APP_MAX_WORK", "10")
    with pytest.raises(ScenarioError, match="too large"):
        sources.check_workload(SMOKE)


# ---------------------------------------------------------------- progressive runs


def test_progressive_run_ends_with_exactly_the_cli_results():
    sc = load(SCENARIOS / "smoke.toml", ["run.replications=4"])
    updates = list(progressive.progressive_run(sc, cache=store.DictCache(), redraw_every_s=math.inf))
    drawn = [u for u in updates if u.results is not None]
    assert drawn[0].replications_done == 1 and drawn[-1].final and len(drawn) == 2
    assert [u.jobs_done for u in updates] == list(range(0, 4 * 3 + 1))  # submitted, then one per job
    first = drawn[0].results
    assert set(first.monthly["replication"]) == {0} and first.replications == 1
    ref = run_scenario(sc, workers=1)
    final = drawn[-1].results
    pd.testing.assert_frame_equal(final.monthly, ref.monthly)
    pd.testing.assert_frame_equal(final.kpis, ref.kpis)
    pd.testing.assert_frame_equal(final.segments, ref.segments)
    assert (final.scenario_sha256, final.policies, final.reference) == (ref.scenario_sha256, ref.policies,
                                                                         ref.reference)


def test_progressive_run_reuses_cached_replications():
    cache = store.DictCache()
    sc3 = load(SCENARIOS / "smoke.toml")
    first = progressive.run_app_scenario(sc3, cache=cache)
    again = list(progressive.progressive_run(sc3, cache=cache))
    assert len(again) == 1 and again[0].from_cache == 3 * len(SMOKE.policies) and again[0].jobs_total == 0
    pd.testing.assert_frame_equal(again[0].results.monthly, first.monthly)
    renamed = load(SCENARIOS / "smoke.toml", ["scenario.name=other", "scenario.reference_policy=per_ticket"])
    assert progressive.sim_key(renamed) == progressive.sim_key(sc3)  # same model runs: nothing to recompute
    more = list(progressive.progressive_run(load(SCENARIOS / "smoke.toml", ["run.replications=5"]), cache=cache))
    assert more[0].results.replications == 3 and more[0].jobs_done == 0  # cached ones shown at once
    assert more[-1].jobs_total == 2 * 3 and more[-1].results.replications == 5


def test_changing_one_policy_runs_only_that_policy_and_the_others_do_not_move():
    cache = store.DictCache()
    first = progressive.run_app_scenario(SMOKE, cache=cache)
    fee = resolve_policies(SMOKE)[1].params.pricing.per_ticket_fee_usd
    changed = load(SCENARIOS / "smoke.toml", [f"policies.per_ticket.pricing.per_ticket_fee_usd={fee * 2}"])
    updates = list(progressive.progressive_run(changed, cache=cache, redraw_every_s=0))
    assert updates[-1].final and updates[-1].jobs_total == SMOKE.run.replications  # per_ticket only
    first_drawn = next(u for u in updates if u.results is not None)
    assert first_drawn.jobs_done == 1  # one run of the changed policy, the others from the cache
    ref = run_scenario(changed, workers=1)
    for upd in updates:
        if upd.results is None:
            continue
        k = upd.results.kpis.set_index(["policy", "replication"])
        for p in ("flat", "flat_vip"):  # every replication of the unchanged policies, from the first draw
            pd.testing.assert_frame_equal(k.loc[p], first.kpis.set_index(["policy", "replication"]).loc[p])
    pd.testing.assert_frame_equal(updates[-1].results.kpis, ref.kpis)


def test_disk_cache_lets_a_fresh_server_answer_without_running(tmp_path):
    disk = store.DiskCache(tmp_path)
    first = progressive.run_app_scenario(SMOKE, cache=store.LayeredCache(store.DictCache(), disk))
    memory = store.DictCache()  # a new server: empty memory, the same folder
    again = list(progressive.progressive_run(SMOKE, cache=store.LayeredCache(memory, disk)))
    assert len(again) == 1 and again[0].jobs_total == 0
    pd.testing.assert_frame_equal(again[0].results.kpis, first.kpis)
    assert len(memory.tables) == SMOKE.run.replications * len(SMOKE.policies)  # copied up
    next(tmp_path.rglob("*.run")).write_bytes(b"damaged")
    last = list(progressive.progressive_run(SMOKE, cache=store.DiskCache(tmp_path)))[-1]
    assert last.jobs_total == 1 and last.final  # a damaged file is a miss: that run is redone
    pd.testing.assert_frame_equal(last.results.kpis, first.kpis)


def test_pool_gives_identical_results_and_cancels_abandoned_jobs():
    pool = procs.make_pool(2)
    try:
        sc = load(SCENARIOS / "smoke.toml", ["run.replications=6"])
        ref = run_scenario(sc, workers=1)
        res = progressive.run_app_scenario(sc, pool=pool)
        pd.testing.assert_frame_equal(res.monthly, ref.monthly)


        class Recording:  # the pool, remembering what was submitted
            futures: list = []

            def submit(self, fn, *args):
                self.futures.append(pool.submit(fn, *args))
                return self.futures[-1]

        rec = Recording()
        gen = progressive.progressive_run(load(SCENARIOS / "smoke.toml", ["run.replications=40", "run.seed=9"]),
                                     cache=store.DictCache(), pool=rec)
        next(gen)
        gen.close()  # the user moved a control: jobs not started must not keep the shared pool busy
        assert len(rec.futures) == 40 * len(SMOKE.policies)
        started = [f for f in rec.futures if not f.cancelled()]
        assert len(started) <= 2 * 2 + 3  # done, running, or already handed to a worker
        assert pool.submit(procs._warm).result(timeout=60) > 0
    finally:
        pool.shutdown(cancel_futures=True)


def test_cards_show_deltas_vs_reference_coloured_only_when_the_ci_excludes_zero(smoke_results):
    cards = views.kpi_cards(smoke_results)
    diffs = smoke_results.differences()
    assert list(cards) == smoke_results.policies
    for p, row in cards.items():
        assert [c.kpi for c in row] == list(views.CARD_KPIS)
        for c in row:
            if p == smoke_results.reference:
                assert c.delta is None and c.delta_color == "off"
                continue
            d = diffs[p][c.kpi]
            clear = d["ci_low"] > 0 or d["ci_high"] < 0
            assert (c.delta_color != "off") == clear, (p, c.kpi, d)
            assert c.delta.startswith("-") == (d["mean"] < 0)
            assert "95% CI" in c.delta_description
    assert all(metrics.KPIS[c.kpi].definition.rstrip(".") in c.help and
               f"{smoke_results.scenario.run.months} months" in c.help for row in cards.values() for c in row)


def test_verdict_ranks_on_value_against_the_runner_up_and_names_the_trade_off(smoke_results):
    k = smoke_results.kpis.pivot_table(index="replication", columns="policy", values=["value_usd",
                                                                                      "customers_at_horizon"])
    best, second = k["value_usd"].mean().sort_values(ascending=False).index[:2]
    gap = metrics.t_interval(k["value_usd"][best] - k["value_usd"][second])
    line = views.verdict(smoke_results)
    # labels are user text: shown literally (escaped Markdown)
    best_label, second_label = (appkit.text(appkit.policy_label(SMOKE, p)) for p in (best, second))
    assert line.startswith(f"**{best_label}** has the highest value") and f"ahead of {second_label}" in line
    assert ("a clear lead" in line) == (gap["ci_low"] > 0)
    fewer = metrics.t_interval(k["customers_at_horizon"][best] - k["customers_at_horizon"][second])
    assert ("fewer customers" in line) == (fewer["ci_high"] < 0)
    # a made-up trade-off: the leader keeps the lead but loses customers clearly
    kpis = smoke_results.kpis.copy()
    kpis.loc[kpis["policy"] == best, "customers_at_horizon"] -= 1000
    line = views.verdict(dataclasses.replace(smoke_results, kpis=kpis))
    assert "but it ends with" in line and f"fewer customers than {second_label}" in line


def test_bridge_and_segment_tables_add_up(smoke_results):
    table = views.bridge_table(smoke_results)
    others = [p for p in smoke_results.policies if p != smoke_results.reference]
    assert list(table.columns) == ["part of value", *(appkit.policy_label(SMOKE, p) for p in others)]
    assert list(table["part of value"])[-1] == "Value (total)" and len(table) == 8
    bridge = smoke_results.bridge()
    for p in others:  # the parts' means add up to the difference in value
        parts = sum(v["mean"] for c, v in bridge[p].items() if c != "value_usd")
        assert parts == pytest.approx(bridge[p]["value_usd"]["mean"], rel=1e-9, abs=1e-6)
    seg = views.segment_table(smoke_results)
    assert list(seg["segment"]) == [s.name for s in SMOKE.customers.segments]
    last = smoke_results.segments[smoke_results.segments["month"] == SMOKE.run.months - 1]
    for p in smoke_results.policies:
        total = last[last["policy"] == p].groupby("replication")["customers_end"].sum().mean()
        shown = sum(float(v.split(" · ")[0].replace(",", "")) for v in seg[appkit.policy_label(SMOKE, p)])
        assert shown == pytest.approx(total, abs=len(seg))  # rounded per segment


def test_policy_label_falls_back_to_the_name():
    unlabelled = SMOKE.model_copy(update={"policies": {**SMOKE.policies, "flat": {
        k: v for k, v in SMOKE.policies["flat"].items() if k != "label"}}})
    assert appkit.policy_label(unlabelled, "flat") == "flat"
    labelled = SMOKE.model_copy(update={"policies": {**SMOKE.policies, "flat": {**SMOKE.policies["flat"],
                                                                                 "label": "Flat fee"}}})
    assert appkit.policy_label(labelled, "flat") == "Flat fee"


def test_every_figure_renders_as_png_and_svg(smoke_results):
    specs = drawing.figure_specs(len(smoke_results.policies))
    assert {s.tab for s in specs} >= {"Customers & retention", "Money", "Support desk", "Satisfaction ladder"}
    for spec in specs:
        png = drawing.render_figure(smoke_results, spec.name, "png", dpi=40)
        assert png.startswith(b"\x89PNG"), spec.name
    svg = drawing.render_figure(smoke_results, specs[0].name, "svg").decode()
    assert "<svg" in svg and smoke_results.scenario_sha256[:10] in svg  # the footer traces it back


def test_the_figure_process_draws_the_same_bytes_and_the_page_draws_them_itself_without_it(smoke_results):
    name = drawing.figure_specs(len(smoke_results.policies))[0].name
    here = drawing.render_figure(smoke_results, name, "png", dpi=40)
    pool = procs.make_figure_pool()
    try:
        assert drawing.render_figure_in(pool, smoke_results, name, "png", dpi=40) == here
    finally:
        pool.shutdown()
    assert drawing.render_figure_in(pool, smoke_results, name, "png", dpi=40) == here  # shut down: drawn here
    assert drawing.render_figure_in(None, smoke_results, name, "png", dpi=40) == here


def test_display_figures_are_kept_in_the_cache_folder_once_every_replication_is_in(smoke_results, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(tmp_path))
    name = drawing.figure_specs(len(smoke_results.policies))[0].name
    png = drawing.display_png(None, smoke_results, name, dpi=40)
    assert png == drawing.render_figure(smoke_results, name, "png", dpi=40)
    assert len(list(tmp_path.glob("*.png"))) == 1  # kept (sealed: tests/test_app_store.py plants bad ones)

    def no_drawing(*args, **kwargs):
        raise AssertionError("drawn again")

    monkeypatch.setattr(drawing, "render_figure_in", no_drawing)
    assert drawing.display_png(None, smoke_results, name, dpi=40) == png  # a second page reads it
    partial = dataclasses.replace(smoke_results, replications=smoke_results.replications - 1)
    monkeypatch.undo()
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(tmp_path))
    drawing.display_png(None, partial, name, dpi=40)  # refining: drawn, not kept
    assert len(list(tmp_path.glob("*.png"))) == 1


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
    done = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(tmp_path / "app.toml"), "--out", str(out),
                           "--workers", "1", "--no-plots", "--quiet"], capture_output=True, text=True, timeout=300)
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
