"""supportsim in the browser: explore a scenario with controls, compare policies, export plots.

A thin page over ``sim/app``: the sidebar (:mod:`sim.app.sidebar`, controls from the schema
by :mod:`sim.app.kit`), progressive runs (:mod:`sim.app.progressive`) on worker processes
(:mod:`sim.app.procs`) with caches (:mod:`sim.app.store`), what results look like
(:mod:`sim.app.views`, :mod:`sim.app.drawing`) and the analysis tabs (:mod:`sim.app.tabs`,
:mod:`sim.app.optimise_tab`), which use the same plot, report and scenario functions as the CLI.
The scenario on screen is always ``load(file, overrides)``; the exported TOML reproduces the
app's numbers with ``supportsim run``. User text is shown literally (:func:`sim.app.kit.text`). Run with
``make app`` (:mod:`sim.app.serve`) or ``streamlit run app.py``.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from typing import Any

import streamlit as st

from sim.app import calibration, drawing, kit, optimise_tab, procs, progressive, sources, store, tabs, views
from sim.app.sidebar import choose_source, sidebar_controls
from sim.app.ui import Download, caches, download_row, policy_heading, worker_pool
from sim.output.plots import policy_colors
from sim.params.scenario import ScenarioError, scenario_hash

log = logging.getLogger("supportsim.app")

# While replications finish the page redraws the verdict, cards and reasons at most every
# REDRAW_EVERY_S (a few hundredths of a CPU-second each). Figures cost about 0.2 CPU-s each,
# taken from the two workers on a 2-core machine (redrawing them every 2 s made all 10
# replications of the default scenario take twice as long as the runs themselves), so they are
# drawn at the end and at most every FIGURES_EVERY_S before it; a page that has no figures yet
# draws them at the first results, and one that shows the previous settings' figures labels them
# so until the new ones are drawn.
REDRAW_EVERY_S = 2.0
FIGURES_EVERY_S = 10.0
PREVIOUS_NOTE = " — previous settings: redrawn when the new ones' replications are in"


def header(source: sources.Source, scenario: Any, overrides: list[str], sha: str) -> None:
    meta = scenario.scenario
    st.html(kit.prose("page.css"))
    policies = list(scenario.policies) or ["base"]
    # the page's question is its title (browser tab); the first line is the scenario, so the
    # verdict and every card fit a 1280x720 screen. User text shown literally (st.text: no markdown, no links or images fetched)
    st.text(meta.name + (f" · {meta.description}" if meta.description else ""))
    st.caption(f"{len(policies)} policies · {scenario.run.months} months · {scenario.customers.initial:,} customers · "
               f"{scenario.run.replications} replications · seed {scenario.run.seed} · sha256 `{sha[:10]}`")
    changes = st.container()  # always there, so everything below keeps its place as changes come and go
    if overrides:
        with changes.expander(f"{len(overrides)} change{'s' if len(overrides) > 1 else ''} from "
                              f"{kit.text(source.label)}", icon=":material/edit_note:"):
            st.markdown("\n".join(f"- {kit.code(o)}" for o in overrides))
            st.caption("The same run from the command line:")
            st.code(sources.cli_command(source, overrides), language="bash", wrap_lines=True)


def draw_cards(res: Any) -> None:
    cards = views.kpi_cards(res)
    colors = policy_colors(res.policies)
    cols = st.columns(len(res.policies))
    for col, p in zip(cols, res.policies):
        with col.container(border=True, height="stretch", gap="small"):
            tag = "reference" if p == res.reference else f"vs {kit.policy_label(res.scenario, res.reference)}"
            policy_heading(kit.policy_label(res.scenario, p), colors[p], tag, size="1.2em", tag_below=True)
            for c in cards[p]:
                st.metric(c.label, c.value, delta=c.delta, delta_color=c.delta_color,
                          delta_description=c.delta_description, help=c.help)


# About what a table's column needs (rem, at the page's font): a "-$968.4k ± $49.2k" cell or a
# policy label; the first column's names. Side by side only while both tables fit (page.css).
TABLE_COLUMN_REM, BRIDGE_NAMES_REM, SEGMENT_NAMES_REM = 7.5, 9.5, 5.0


def draw_reasons(res: Any, draw: int = 0) -> None:
    """Why the numbers differ: the value bridge vs the reference and the segments, side by side
    while both fit the page's width, else one under the other (never clipped). ``draw``: which
    drawing of the run this is (a container's key is used once a run; page.css matches any)."""
    n = len(res.policies)
    widths = {"bridge": BRIDGE_NAMES_REM + (n - 1) * TABLE_COLUMN_REM, "segments": SEGMENT_NAMES_REM + n * TABLE_COLUMN_REM}
    st.html("<style>" + "".join(f"[class*='st-key-reasons'] [data-testid='stColumn']:has([class*='st-key-{k}']) "
                                f"{{--reasons-min: {w:g}rem;}}"
                                for k, w in widths.items()) + "</style>")  # numbers only, no user text
    with st.container(key=f"reasons_{draw}"):
        left, right = st.columns([3, 2]) if n > 1 else (None, st.container())
        if left is not None:
            with left.container(key=f"bridge_{draw}"):
                st.markdown(f"**Where each difference in value comes from** (vs "
                            f"{kit.text(kit.policy_label(res.scenario, res.reference))}, paired by replication, ± the "
                            "half-width of the 95% CI of the mean; each part signed as it adds to value, so a saving "
                            "is +)")
                st.dataframe(views.bridge_table(res), hide_index=True, width="stretch")
        table = views.segment_table(res)
        if not table.empty:
            with right.container(key=f"segments_{draw}"):
                st.markdown("**Segments**: customers at the horizon · revenue over the horizon")
                st.dataframe(table, hide_index=True, width="stretch")


def draw_results(res: Any, slots: dict[str, Any], specs: list[drawing.FigureSpec], *, figures: bool = True,
                 figures_of: Any = None, note: str = "") -> None:
    """Draw (or redraw in place) the verdict, cards, reasons and (``figures``, or if none is on the
    page yet) the open tab's figures: those of ``figures_of`` (default ``res``), ``note`` appended
    to their captions.

    Placeholders are made at the first draw, not before the run: until then the previous
    run's cards and figures stay on screen instead of the page going blank.
    """
    if "cards_now" not in slots:
        slots["cards_now"] = slots["cards"].empty()
    with slots["cards_now"].container():
        line = views.verdict(res)
        if line:
            st.markdown(f":material/insights: {line}")
        one = views.one_answer(res, tabs.cached_decision(tabs.last_decision_key(res.scenario)))
        if one:  # a decision of this scenario is on the page: the one recommendation the report and deck state
            st.markdown(f":material/verified: {one}")
        undefined = views.undefined_kpis(res)
        if undefined:
            st.warning(undefined, icon=":material/info:")
        unkeepable = views.promise_warning(res.scenario)
        if unkeepable:
            st.warning(unkeepable, icon=":material/schedule:")
        draw_cards(res)
        slots["draws"] = slots.get("draws", 0) + 1
        draw_reasons(res, slots["draws"])
    if not figures and all(spec.name in slots for spec in specs):
        return
    fig_res = figures_of if figures_of is not None else res
    for spec in specs:
        if spec.name not in slots:
            with slots["tab"]:
                slots[spec.name] = st.empty()
                slots[f"dl:{spec.name}"] = st.empty()
        png = caches().figure_png(fig_res.scenario_sha256, fig_res.replications, spec.name, fig_res)
        slots[spec.name].image(png, caption=spec.caption + note, width="stretch")


def figure_downloads(res: Any, spec: drawing.FigureSpec, slot: Any) -> None:
    stem = f"{sources.file_stem(res.scenario.scenario.name)}_{spec.name}"
    with slot.container(horizontal=True, gap="small"):
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(
                f"{fmt.upper()}", data=lambda fmt=fmt: drawing.render_figure(res, spec.name, fmt),
                file_name=f"{stem}.{fmt}", mime=mime, key=f"dl_{spec.name}_{fmt}", icon=":material/download:",
                type="tertiary", on_click="ignore",
                help=f"This figure as {fmt.upper()} (16:9 slide, {'200 dpi' if fmt == 'png' else 'vector'}).",
            )


def exports(res: Any, source: sources.Source, scenario: Any, overrides: list[str]) -> None:
    cmd = sources.cli_command(source, overrides)
    decision_at = tabs.last_decision_key(scenario)  # looked up when the deck is made: the analysis may run after this
    optimum = optimise_tab.deck_optimum(scenario)  # likewise: the Optimise tab's last result for this scenario
    download_row(sources.file_stem(scenario.scenario.name), [
        Download("Scenario (TOML)", sources.scenario_toml(scenario, source=source, overrides=overrides), ".toml",
                 "application/toml", "dl_toml", ":material/description:",
                 "The current settings as a complete scenario file: `supportsim run` on it reproduces these "
                 "numbers exactly."),
        Download("Monthly results (CSV)", lambda: views.monthly_csv(res), "_monthly.csv", "text/csv", "dl_csv",
                 ":material/table:", "One row per policy × replication × month, as `supportsim run` writes "
                                     "monthly.csv."),
        Download("KPIs (CSV)", lambda: views.kpis_csv(res), "_kpis.csv", "text/csv", "dl_kpis",
                 ":material/functions:", "One row per policy × replication with every KPI."),
        Download("Report (HTML)", lambda: views.report_html(res, cmd, decision=tabs.cached_decision(decision_at)),
                 "_report.html", "text/html", "dl_report",
                 ":material/summarize:", "A one-page report with the KPIs, the key plots and every assumption."),
        Download("Deck (PPTX)", lambda: views.deck_pptx(res, cmd, decision=tabs.cached_decision(decision_at),
                                                        optimum=optimum()),
                 "_deck.pptx", views.PPTX_MIME, "dl_deck", ":material/slideshow:", kit.prose("deck_help.md")),
    ])


# ---------------------------------------------------------------- the page


def current_scenario(source: sources.Source) -> tuple[Any, list[str], list[kit.Group]] | None:
    """The sidebar, and the scenario its controls describe; None (problems shown) if invalid."""
    groups, values, group_slots = sidebar_controls(source)
    overrides, problems = kit.overrides_from_values(groups, values)
    if not problems:
        try:
            return sources.build_scenario(source, overrides), overrides, groups
        except ScenarioError as exc:
            problems = exc.problems
    by_group: dict[str, list[str]] = {}
    for p in problems:
        by_group.setdefault(kit.group_of_path(groups, kit.problem_path(p)) or "", []).append(p)
    for key, probs in by_group.items():
        if key in group_slots:
            group_slots[key].error(kit.problem_list(probs), icon=":material/error:")
    st.title("How should support be priced?")
    st.error("These settings are not a valid scenario, so nothing was run:\n\n" + kit.problem_list(problems),
             icon=":material/error:")
    return None


def run_and_draw(scenario: Any, slots: dict[str, Any], specs: list[drawing.FigureSpec]) -> Any:
    """Run (or fetch from the cache) every replication, redrawing as they finish.

    Until the first replication of the new settings is in, the previous results stay on
    screen (the status line says so) rather than an empty page. A run that fails (out of the
    workers' memory, a worker killed, numbers that overflow) is a message naming the limit or
    the fields and what to do, never a traceback.
    """
    res = None
    previous = st.session_state.get("_last_results")
    if previous is not None and (previous.scenario_sha256 == scenario_hash(scenario)
                                 or previous.policies != (list(scenario.policies) or ["base"])):
        previous = None  # nothing to bridge: the same results are cached, or other policies
    # when the figures were last drawn for these settings (the previous ones' stand in until then)
    figures_at = time.monotonic() if previous is not None else -math.inf
    try:
        updates = progressive.progressive_run(scenario, cache=store.app_cache(), pool=worker_pool,
                                              redraw_every_s=REDRAW_EVERY_S)
        with closing(updates):
            for upd in updates:
                if not upd.final:
                    shown = ("showing the first ones, refining…" if upd.replications_done else
                             "previous results shown until the first replication is in" if previous else "")
                    slots["status"].progress(
                        upd.jobs_done / max(upd.jobs_total, 1),
                        text=f"Simulating: {upd.replications_done} of {upd.replications} replications done "
                             f"({upd.jobs_done} of {upd.jobs_total} runs)" + (f" · {shown}" if shown else ""))
                if upd.results is not None:
                    # Until the first results the previous ones stay on screen untouched (no redraw
                    # takes a core from the workers); then the cards are new at once, and the figures
                    # at the end, the previous settings' standing in, labelled, until then.
                    first = res is None
                    res = upd.results
                    if upd.final or time.monotonic() - figures_at >= FIGURES_EVERY_S:
                        draw_results(res, slots, specs)
                        figures_at = time.monotonic()
                    elif first and previous is not None:
                        draw_results(res, slots, specs, figures_of=previous, note=PREVIOUS_NOTE)
                    else:
                        draw_results(res, slots, specs, figures=False)
                    st.session_state["_last_results"] = res
    except Exception as exc:  # noqa: BLE001 - the page says what failed and what to do; the log has the traceback
        if isinstance(exc, BrokenProcessPool):
            caches().worker_pool.clear()  # the next run starts new workers
        log.warning("run of %s failed", scenario_hash(scenario)[:10], exc_info=True)
        slots["status"].error(views.run_failure(exc, scenario, memory_mb=procs.app_max_memory() // 2**20),
                              icon=":material/error:")
        return None
    slots["status"].empty()
    return res


def main() -> None:
    st.set_page_config(page_title="supportsim: how should support be priced?", page_icon=":material/support_agent:",
                       layout="wide", initial_sidebar_state="expanded")
    source = choose_source()
    calibration.panel()
    current = current_scenario(source)
    if current is None:
        return
    scenario, overrides, groups = current
    header(source, scenario, overrides, scenario_hash(scenario))
    try:
        sources.check_workload(scenario)
    except ScenarioError as exc:
        st.error("**This run is too large for the app.**\n\n" + kit.problem_list(exc.problems)
                 + f"\n\nThe app's limit is {sources.app_max_work():,} customer-months "
                   "(`SUPPORTSIM_APP_MAX_WORK`); the command line takes larger runs.", icon=":material/block:")
        return

    slots: dict[str, Any] = {"status": st.empty(), "cards": st.container()}
    export_slot = st.container()
    tab_boxes = dict(zip(drawing.TABS, st.tabs(list(drawing.TABS), key="tab", on_change="rerun")))
    open_tab = next((label for label, t in tab_boxes.items() if t.open), drawing.TABS[0])  # only it is drawn
    specs = [s for s in drawing.figure_specs(len(scenario.policies) or 1) if s.tab == open_tab]
    slots["tab"] = tab_boxes[open_tab]
    if open_tab == "Assumptions":
        with tab_boxes[open_tab]:
            tabs.assumptions_tab(source, scenario, overrides)

    res = run_and_draw(scenario, slots, specs)
    if res is None:
        return
    with export_slot:
        exports(res, source, scenario, overrides)
        with st.expander("All KPIs with 95% confidence intervals", icon=":material/table_chart:"):
            st.dataframe(views.kpi_table(res), hide_index=True, width="stretch")
    for spec in specs:
        figure_downloads(res, spec, slots[f"dl:{spec.name}"])
    if open_tab == "Sensitivity":
        with tab_boxes[open_tab]:
            tabs.sensitivity_tab(res, scenario, groups)
    if open_tab == "Decision":
        with tab_boxes[open_tab]:
            tabs.decision_tab(scenario, source, overrides)
    if open_tab == "Optimise":
        with tab_boxes[open_tab]:
            optimise_tab.optimise_tab(res, scenario, source, overrides)


# Streamlit runs this file as __main__; simulation workers (forkserver) import it as
# __mp_main__ and must not draw the page.
if __name__ == "__main__":
    main()
