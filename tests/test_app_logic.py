"""The app's logic without the page: controls from the schema, overrides, uploads, the
progressive run and its caches, the worker pool, cards, verdict, tables and figures.

The page itself (AppTest) is tested in tests/test_app.py, whose helpers this file shares.
"""

from __future__ import annotations

import dataclasses
import math
import shlex

import pandas as pd
import pytest

from sim.app import drawing, procs, progressive, sources, store, views
from sim.app import kit as appkit
from sim.params.scenario import ScenarioError, load, load_text, resolve_policies, scenario_hash
from sim.params.schema import Params
from sim.runs import metrics
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions
from tests.conftest import ROOT, SCENARIOS
from tests.test_app import controls_by_path, leaf_paths

pytestmark = pytest.mark.xdist_group("app")  # beside tests/test_app.py: one pool of workers at a time

SMOKE = load(SCENARIOS / "smoke.toml")


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
        "satisfaction.p_down_effort": 0.30000000000000004,  # a slider's float noise
    })
    overrides, problems = appkit.overrides_from_values(groups, values)
    assert not problems and len(overrides) == 7
    sc = sources.build_scenario(sources.load_source(SCENARIOS / "smoke.toml"), overrides)
    pol = {p.name: p.params for p in resolve_policies(sc)}
    assert sc.support.agent_cost_usd_per_hour == 52.5
    assert pol["per_ticket"].pricing.per_ticket_fee_usd == 33.0 and pol["flat"].vip.enabled
    assert sc.satisfaction.initial_shares == [0.1, 0.5, 0.2, 0.1, 0.1]
    assert sc.scenario.reference_policy == "per_ticket" and sc.customers.segments[0].name == 'say "hi"'
    assert sc.satisfaction.p_down_effort == 0.3
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
    ref = run_scenario(sc, options=RunOptions(workers=1))
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
    ref = run_scenario(changed, options=RunOptions(workers=1))
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
        ref = run_scenario(sc, options=RunOptions(workers=1))
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
        assert pool.submit(procs._warm).result(timeout=300) > 0  # a bound on a hang, not a wait
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
    assert ("not a clear lead" in line) == (gap["ci_low"] <= 0)
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
