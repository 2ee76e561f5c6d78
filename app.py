"""supportsim in the browser: explore a scenario with controls, compare policies, export plots.

A thin page over :mod:`sim.app.kit` (controls from the schema, overrides) and
:mod:`sim.app.runner` (progressive runs, caches, KPI cards, figures), which use the same
plot, report and scenario functions as the CLI. The
scenario on screen is always ``load(file, overrides)``; the exported TOML reproduces the
app's numbers with ``supportsim run``. Run with ``make app`` (:mod:`sim.app.serve`) or ``streamlit run app.py``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import streamlit as st

from sim.app import kit as appkit
from sim.app import runner as apprun
from sim.decision.psa import MAX_SAMPLES, run_decision
from sim.output import plots
from sim.output.plots import policy_colors
from sim.params.scenario import ScenarioError, scenario_hash, uncertain_parameters
from sim.runs import metrics
from sim.runs import studies as analysis

DISPLAY_DPI = 100  # on-screen PNGs; downloads use the deck's 200 dpi
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


# ---------------------------------------------------------------- cached resources


@functools.cache
def caches() -> SimpleNamespace:
    """The page's Streamlit caches, made on first use: simulation workers import this file
    (as ``__mp_main__``) and must not register caches outside a Streamlit server."""

    @st.cache_resource(show_spinner="Starting the simulation workers…")
    def worker_pool(workers: int) -> Any:
        return apprun.make_pool(workers)

    @st.cache_data(show_spinner=False, max_entries=64)
    def shipped_source(name: str) -> appkit.Source:
        return appkit.load_source(appkit.shipped_scenarios()[name])

    @st.cache_data(show_spinner=False, max_entries=16)
    def uploaded_source(name: str, content: bytes) -> appkit.Source:
        return appkit.load_upload(name, content)

    @st.cache_resource(show_spinner=False)
    def figure_pool() -> Any:
        return apprun.make_figure_pool()

    @st.cache_data(show_spinner=False, max_entries=128)
    def figure_png(sha: str, replications: int, name: str, _res: Any) -> bytes:
        # keyed by the full scenario hash (the footer shows it) and the replications drawn;
        # drawn in the figure process, so that the server keeps sending the page meanwhile
        return apprun.display_png(figure_pool(), _res, name, dpi=DISPLAY_DPI)

    @st.cache_data(show_spinner=False, max_entries=32)
    def decision_png(key: str, name: str, _result: Any) -> bytes:
        # keyed by the analysis' cache key (scenario, uncertainty table, samples)
        return apprun.draw_bytes(lambda: apprun.decision_figure(_result, name), "png", dpi=DISPLAY_DPI)

    return SimpleNamespace(worker_pool=worker_pool, shipped_source=shipped_source, uploaded_source=uploaded_source,
                           figure_png=figure_png, decision_png=decision_png)


# ---------------------------------------------------------------- sidebar


# A widget's last value, kept for the runs that do not draw it (a closed sidebar group, another
# tab): Streamlit forgets the state of a widget a run does not draw.
KEPT = "_kept:"


def last_value(key: str, default: Any = None) -> Any:
    """Widget ``key``'s value: its state if drawn last run, else its kept value, else ``default``."""
    return st.session_state.get(key, st.session_state.get(KEPT + key, default))


def reset_controls() -> None:
    for key in [k for k in st.session_state if str(k).startswith(("p:", KEPT + "p:"))]:
        del st.session_state[key]


def problem_list(problems: list[str]) -> str:
    """Problems as a Markdown list, each field path (the text before the colon) as code."""
    lines = []
    for p in problems:
        head, sep, tail = p.partition(":")
        lines.append(f"- `{head}`:{tail}" if sep and " " not in head.strip() else f"- {p}")
    return "\n".join(lines)


def choose_source() -> appkit.Source:
    files = appkit.shipped_scenarios()
    with st.sidebar:
        st.markdown("### :material/support_agent: supportsim")
        upload = st.session_state.get("upload")
        uploaded = None
        upload_error = None
        if upload is not None:
            try:
                uploaded = caches().uploaded_source(upload.name, upload.getvalue())
            except ScenarioError as exc:
                upload_error = exc
        st.selectbox(
            "Scenario", list(files), key="scenario", bind="query-params", disabled=uploaded is not None,
            format_func=lambda n: n.removesuffix(".toml"),
            help="Shipped scenarios (the `scenarios/` folder); the choice is kept in the page address, so a link "
                 "opens the same scenario. An uploaded file replaces the choice while it is loaded.",
        )
        with st.expander("Use your own scenario file", icon=":material/upload_file:", expanded=upload is not None):
            st.file_uploader("Scenario TOML", type=["toml"], key="upload", label_visibility="collapsed",
                             help="A scenario file like those in `scenarios/`, checked against the same schema "
                                  "as `supportsim validate`.")
    source = uploaded or caches().shipped_source(st.session_state.get("scenario") or next(iter(files)))
    if upload_error is not None:  # in the main area, where the numbers are: they are not the upload's
        st.error(f"**{appkit.md_literal(upload.name)}** is not a valid scenario, so it was not run:\n\n"
                 + problem_list(upload_error.problems)
                 + f"\n\nThe results below are the last good scenario, **{appkit.md_literal(source.label)}**, not {appkit.md_literal(upload.name)}.",
                 icon=":material/error:")
    if st.session_state.get("_source_id") != source.id:  # a new file: controls show its values
        reset_controls()
        st.session_state["_source_id"] = source.id
    return source


def draw_control(c: appkit.Control, *, disabled: bool = False) -> Any:
    """One control. Its value lives in session state, seeded with the file's value: a value set
    there is sent to the browser, so after a scenario switch or a reset the browser holds the
    new scenario's values and cannot send the old ones back on the next rerun (a tab click)."""
    if c.key not in st.session_state:
        st.session_state[c.key] = st.session_state.get(KEPT + c.key, c.value)
    kw: dict[str, Any] = {"key": c.key, "help": c.help, "disabled": disabled}
    if c.widget == "toggle":
        return st.toggle(c.label, **kw)
    if c.widget == "select":
        return st.selectbox(c.label, c.choices, **kw)
    if c.widget == "text":
        return st.text_input(c.label, **kw)
    num = int if c.kind == "int" else float
    lo = num(c.lo) if c.lo is not None else None
    hi = num(c.hi) if c.hi is not None else None
    if c.widget == "slider":
        return st.slider(c.label, min_value=lo, max_value=hi, step=num(c.step), format=c.format, **kw)
    return st.number_input(c.label, min_value=lo, max_value=hi, step=num(c.step), format=c.format, **kw)


def policy_heading(name: str, colors: dict[str, str]) -> None:
    color = colors.get(name, "#555555")
    st.markdown(f"<span style='color:{color};font-size:1.1em'>●</span>&nbsp;**{name}**", unsafe_allow_html=True)


def draw_section(section: appkit.Section, values: dict[str, Any]) -> None:
    scheme = None
    for c in section.controls:
        disabled = bool(c.used_when) and scheme is not None and scheme != c.used_when
        values[c.path] = draw_control(c, disabled=disabled)
        st.session_state[KEPT + c.key] = values[c.path]
        if c.path.endswith(".pricing.scheme"):
            scheme = values[c.path]


def kept_values(group: appkit.Group, values: dict[str, Any]) -> None:
    """A closed group's values without drawing its controls (the browser draws ~1,800 elements
    for all of them): the last shown value, else the file's."""
    for c in group.controls:
        values[c.path] = st.session_state.get(KEPT + c.key, c.value)


def draw_group(group: appkit.Group, colors: dict[str, str], values: dict[str, Any]) -> None:
    """Plain sections one after another, then tabbed ones (policies, segments) as tabs."""
    tabbed = [s for s in group.sections if s.tab]
    for section in group.sections:
        if section.tab:
            continue
        if section.title:
            st.markdown(f"**{section.title}**")
        draw_section(section, values)
    if tabbed:
        labels = [s.tab for s in tabbed]
        st.markdown("**Policies**" if tabbed[0].tab in colors else "**Segments**")
        for tab, section in zip(st.tabs(labels), tabbed):
            with tab:
                if section.tab in colors:
                    policy_heading(section.tab, colors)
                draw_section(section, values)


def sidebar_controls(source: appkit.Source) -> tuple[list[appkit.Group], dict[str, Any], dict[str, Any]]:
    groups = appkit.control_groups(source.scenario)
    colors = policy_colors([p for p in source.scenario.policies] or ["base"])
    values: dict[str, Any] = {}
    slots: dict[str, Any] = {}
    with st.sidebar:
        st.button("Reset controls to the file", icon=":material/restart_alt:", on_click=reset_controls,
                  type="tertiary", key="reset")
        for g in groups:
            # a group's controls are drawn only while it is open (opening it reruns the page)
            box = st.expander(g.title, icon=g.icon, expanded=g.key == "pricing", key=f"group:{g.key}",
                              on_change="rerun")
            with box:
                if g.note:
                    st.caption(g.note)
                slots[g.key] = st.empty()
                if box.open is False:
                    kept_values(g, values)
                elif g.form:
                    with st.form(f"form_{g.key}", border=False):
                        draw_group(g, colors, values)
                        st.form_submit_button(f"Apply {g.title.lower()}", type="primary", width="stretch")
                else:
                    draw_group(g, colors, values)
        st.caption("Hover a control's **?** for its unit, allowed range and source. "
                   "Every parameter is listed under **Assumptions**.")
    return groups, values, slots


# ---------------------------------------------------------------- main area


def header(source: appkit.Source, scenario: Any, overrides: list[str], sha: str) -> None:
    meta = scenario.scenario
    st.html(PAGE_CSS)
    policies = list(scenario.policies) or ["base"]
    # the page's question is its title (browser tab); the first line is the scenario, so the
    # verdict and every card fit a 1280x720 screen. User text shown literally (st.text: no markdown, no links or images fetched)
    st.text(meta.name + (f" · {meta.description}" if meta.description else ""))
    st.caption(f"{len(policies)} policies · {scenario.run.months} months · {scenario.customers.initial:,} customers · "
               f"{scenario.run.replications} replications · seed {scenario.run.seed} · sha256 `{sha[:10]}`")
    changes = st.container()  # always there, so everything below keeps its place as changes come and go
    if overrides:
        with changes.expander(f"{len(overrides)} change{'s' if len(overrides) > 1 else ''} from {source.label}",
                         icon=":material/edit_note:"):
            st.markdown("\n".join(f"- `{o}`" for o in overrides))
            st.caption("The same run from the command line:")
            st.code(appkit.cli_command(source, overrides), language="bash", wrap_lines=True)


# Compact cards: five KPIs per policy fit a 1280x720 screen under the verdict; CI text wraps.
# No fading of the previous results while new ones are computed: the status line says they are
# the previous ones, and the fade (a 1 s opacity transition over the whole page, starting as the
# first results are due) cost the browser about 0.2-0.3 CPU-s, taken from the simulation on a
# 2-core machine (bench/bench_app.py).
PAGE_CSS = """<style>
[data-stale="true"] {opacity: 1 !important; transition: none !important;}
[data-testid="stMain"] [data-testid="stMetricValue"] {font-size: 1.3rem; line-height: 1.15;}
[data-testid="stMain"] [data-testid="stMetric"] {padding-bottom: 0;}
[data-testid="stMain"] [data-testid="stMetricDelta"] {white-space: normal; font-size: 0.8rem;}
[data-testid="stMain"] [data-testid="stMetricLabel"] p {font-size: 0.82rem;}
[data-testid="stMainBlockContainer"] {padding-top: 3.4rem;}
</style>"""


def draw_cards(res: Any) -> None:
    cards = apprun.kpi_cards(res)
    colors = policy_colors(res.policies)
    cols = st.columns(len(res.policies))
    for col, p in zip(cols, res.policies):
        with col.container(border=True, height="stretch", gap="small"):
            tag = "reference" if p == res.reference else f"vs {appkit.policy_label(res.scenario, res.reference)}"
            tag = f" <span style='color:#888;font-weight:normal;font-size:0.85em'>&nbsp;{tag}</span>"
            st.markdown(f"<span style='color:{colors[p]};font-size:1.2em'>●</span>&nbsp;"
                        f"<span style='font-size:1.1em;font-weight:600'>{appkit.policy_label(res.scenario, p)}"
                        f"</span>{tag}", unsafe_allow_html=True)
            for c in cards[p]:
                st.metric(c.label, c.value, delta=c.delta, delta_color=c.delta_color,
                          delta_description=c.delta_description, help=c.help)


def draw_reasons(res: Any) -> None:
    """Why the numbers differ: the value bridge vs the reference and the segments."""
    left, right = st.columns([3, 2]) if len(res.policies) > 1 else (None, st.container())
    if left is not None:
        with left:
            st.markdown(f"**Where each difference in value comes from** (vs {appkit.policy_label(res.scenario, res.reference)}, "
                        "paired by replication, ± 95% CI; each part signed as it adds to value, so a saving is +)")
            st.dataframe(apprun.bridge_table(res), hide_index=True, width="stretch")
    table = apprun.segment_table(res)
    if not table.empty:
        with right:
            st.markdown("**Segments**: customers at the horizon · revenue over the horizon")
            st.dataframe(table, hide_index=True, width="stretch")


def draw_results(res: Any, slots: dict[str, Any], specs: list[apprun.FigureSpec], *, figures: bool = True,
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
        line = apprun.verdict(res)
        if line:
            st.markdown(f":material/insights: {line}")
        draw_cards(res)
        draw_reasons(res)
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


def figure_downloads(res: Any, spec: apprun.FigureSpec, slot: Any) -> None:
    stem = f"{appkit.file_stem(res.scenario.scenario.name)}_{spec.name}"
    with slot.container(horizontal=True, gap="small"):
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(
                f"{fmt.upper()}", data=lambda fmt=fmt: apprun.render_figure(res, spec.name, fmt),
                file_name=f"{stem}.{fmt}", mime=mime, key=f"dl_{spec.name}_{fmt}", icon=":material/download:",
                type="tertiary", on_click="ignore",
                help=f"This figure as {fmt.upper()} (16:9 slide, {'200 dpi' if fmt == 'png' else 'vector'}).",
            )


@dataclass(frozen=True)
class Download:
    """One button of a row of downloads: the file is made when clicked (``data`` a function)."""

    label: str
    data: Any
    suffix: str  # appended to the scenario's file stem, e.g. "_kpis.csv"
    mime: str
    key: str
    icon: str
    help: str


def download_row(stem: str, buttons: list[Download]) -> None:
    with st.container(horizontal=True, gap="small"):
        for b in buttons:
            st.download_button(b.label, b.data, file_name=f"{stem}{b.suffix}", mime=b.mime, key=b.key, icon=b.icon,
                               on_click="ignore", help=b.help)


def exports(res: Any, source: appkit.Source, scenario: Any, overrides: list[str]) -> None:
    cmd = appkit.cli_command(source, overrides)
    decision_at = last_decision_key(scenario)  # looked up when the deck is made: the analysis may run after this
    download_row(appkit.file_stem(scenario.scenario.name), [
        Download("Scenario (TOML)", appkit.scenario_toml(scenario, source=source, overrides=overrides), ".toml",
                 "application/toml", "dl_toml", ":material/description:",
                 "The current settings as a complete scenario file: `supportsim run` on it reproduces these "
                 "numbers exactly."),
        Download("Monthly results (CSV)", lambda: apprun.monthly_csv(res), "_monthly.csv", "text/csv", "dl_csv",
                 ":material/table:", "One row per policy × replication × month, as `supportsim run` writes "
                                     "monthly.csv."),
        Download("KPIs (CSV)", lambda: apprun.kpis_csv(res), "_kpis.csv", "text/csv", "dl_kpis",
                 ":material/functions:", "One row per policy × replication with every KPI."),
        Download("Report (HTML)", lambda: apprun.report_html(res, cmd), "_report.html", "text/html", "dl_report",
                 ":material/summarize:", "A one-page report with the KPIs, the key plots and every assumption."),
        Download("Deck (PPTX)", lambda: apprun.deck_pptx(res, cmd, decision=cached_decision(decision_at)),
                 "_deck.pptx", apprun.PPTX_MIME, "dl_deck", ":material/slideshow:", "A 16:9 PowerPoint deck, as "
                 "`supportsim deck` makes it: the recommendation, the KPIs with 95% CIs, the value bridge, the "
                 "mechanisms and the assumptions that differ; each slide's notes carry the command that reproduces "
                 "it. Once the Decision tab's analysis has run for these settings, it also shows how sure we are "
                 "(probability best, EVPPI, decision map)."),
    ])


def assumptions_tab(source: appkit.Source, scenario: Any, overrides: list[str]) -> None:
    st.markdown("Every parameter of this run: its value, the policies that set it differently, unit, allowed "
                "range and the source of its default. Rows changed in the app are ticked.")
    table = appkit.assumptions_frame(scenario, overrides)
    if not table.empty:
        st.dataframe(table, hide_index=True, width="stretch", height=600, column_config={
            "parameter": st.column_config.TextColumn("Parameter", width="large", pinned=True),
            "value": st.column_config.TextColumn("Value", width="small"),
            "policies that differ": st.column_config.TextColumn("Policies that differ", width="medium"),
            "unit": st.column_config.TextColumn("Unit", width="small"),
            "allowed": st.column_config.TextColumn("Allowed", width="small"),
            "source": st.column_config.TextColumn("Source", width="medium"),
            "meaning": st.column_config.TextColumn("Meaning", width="large"),
            "changed in app": st.column_config.CheckboxColumn("Changed", width="small"),
        })
    st.markdown("**Policies** (overrides of the base parameters)")
    for name, table_ in scenario.policies.items():
        flat = ", ".join(f"`{p} = {appkit.format_value(v)}`" for p, v in appkit.flat_items(table_))
        st.markdown(f"- **{name}**: {flat or 'no overrides'}")
    st.caption("Reproduce this run from the command line:")
    st.code(appkit.cli_command(source, overrides), language="bash", wrap_lines=True)


def analysis_figure(name: str, draw: Any, png: bytes) -> None:
    """An analysis figure with its PNG/SVG downloads (redrawn on click)."""
    st.image(png, width="stretch")
    with st.container(horizontal=True, gap="small"):
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(fmt.upper(), data=lambda fmt=fmt: apprun.draw_bytes(draw, fmt),
                               file_name=f"{name}.{fmt}", mime=mime, key=f"dl_{name}_{fmt}",
                               icon=":material/download:", type="tertiary", on_click="ignore")


def run_analysis(kind: str, key: str, fn: Any, runs: int, **kwargs: Any) -> Any:
    """Run ``fn`` (an analysis of sim.runs.studies) on the app's pool with a progress bar; cache it."""
    bar = st.progress(0.0, text=f"Running {runs} model runs…")

    def progress(done: int, total: int) -> None:
        text = f"{kind}: {done} of {total} model runs" if done < total else f"{kind}: all {total} model runs done, summarising…"
        bar.progress(done / max(total, 1), text=text)

    pool = caches().worker_pool(apprun.app_workers())
    try:
        table = fn(executor=apprun.pool_executor(pool), on_progress=progress, max_work=appkit.app_max_work(),
                   **kwargs)
    except ScenarioError as exc:
        bar.empty()
        st.error(problem_list(exc.problems), icon=":material/error:")
        return None
    bar.empty()
    apprun.StreamlitCache().put(key, 0, table)
    return table


def kept(key: str, default: Any, valid: Callable[[Any], bool] = lambda v: True) -> str:
    """Seed widget ``key`` so that its value outlives its tab: Streamlit forgets the state of a
    widget that a run does not draw (another tab open), and it would come back at its default,
    losing the cached analysis keyed by its value. The last value (see :func:`remember`) is
    restored, or ``default`` when there is none or it is not ``valid`` for the scenario on
    screen (a policy it no longer has, a bound it no longer allows). Returns ``key``; the widget
    is then drawn without a default of its own."""
    value = last_value(key, default)
    if not valid(value):
        value = default
    if key not in st.session_state or st.session_state[key] != value:
        st.session_state[key] = value
    return key


def remember(*keys: str) -> None:
    """Keep the current values of widgets seeded by :func:`kept`, for when their tab comes back."""
    for key in keys:
        if key in st.session_state:
            st.session_state[KEPT + key] = st.session_state[key]


def sensitivity_tab(res: Any, scenario: Any, groups: list[appkit.Group]) -> None:
    if len(res.policies) < 2:
        st.info("Sensitivity analyses compare two policies; this scenario has one.", icon=":material/info:")
        return
    st.markdown("Which assumptions decide the comparison, and where two policies tie. Both analyses run on "
                "demand on the current settings, pairing every run by replication (common random numbers).")
    names = res.policies
    max_reps = max(2, scenario.run.replications)
    c1, c2, c3, c4 = st.columns(4)
    a = c1.selectbox("Policy A", names, key=kept("sa_a", res.reference, lambda v: v in names),
                     help="The difference shown is policy B minus policy A.")
    others = [n for n in names if n != a]
    b = c2.selectbox("Policy B", others, key=kept("sa_b", others[0], lambda v: v in others))
    kpi = c3.selectbox("KPI", list(metrics.KPIS), format_func=lambda k: metrics.KPIS[k].title,
                       key=kept("sa_kpi", "cumulative_profit", lambda v: v in metrics.KPIS))
    reps = int(c4.number_input("Replications", min_value=2, max_value=max_reps, step=1,
                               key=kept("sa_reps", min(3, max_reps), lambda v: 2 <= v <= max_reps),
                               help="Per point and policy; fewer than the main run keeps the analysis quick."))
    meta = replace(plots.Meta.of(res), replications=reps)
    base = {"kpi": kpi, "policy_a": a, "policy_b": b, "replications": reps}

    st.subheader("Tornado: what moves the gap most", divider="gray")
    labels = {path: label for path, label, _ in analysis.SENSITIVITY_PARAMETERS}
    t1, t2 = st.columns([3, 1])
    chosen = t1.multiselect("Parameters", list(labels), format_func=labels.get,
                            key=kept("sa_params", list(labels), lambda v: set(v) <= set(labels)))
    delta = t2.slider("Move each by ±", 0.05, 0.5, step=0.05, format="%.2f",
                      key=kept("sa_delta", 0.2, lambda v: 0.05 <= v <= 0.5),
                      help="Each parameter goes to base × (1 − δ) and base × (1 + δ), within its allowed range; "
                           "the 6–7× acquisition multiple uses its documented range.")
    runs = apprun.analysis_runs("sensitivity", n_params=len(chosen), replications=reps)
    args = {**base, "parameters": chosen, "delta": delta}
    key = apprun.analysis_key("sensitivity", scenario, **args)
    clicked = st.button(f"Run sensitivity ({runs} model runs)", icon=":material/play_arrow:", key="sa_run",
                        disabled=not chosen)
    table = apprun.StreamlitCache().get(key, 0)
    if clicked and table is None:
        table = run_analysis("Sensitivity", key, analysis.sensitivity, runs, scenario=scenario,
                             documented_ranges=True, **args)
    if table is not None:
        analysis_figure("tornado", lambda: plots.plot_tornado(table, meta=meta),
                        apprun.draw_bytes(lambda: plots.plot_tornado(table, meta=meta), "png", dpi=DISPLAY_DPI))

    st.subheader("Break-even: where the two policies tie", divider="gray")
    params = apprun.sweep_params(groups)
    by_path = {p.path: p for p in params}
    default = apprun.default_breakeven_param(params, b)
    b1, b2, b3 = st.columns([2, 1, 1])
    path = b1.selectbox("Parameter", list(by_path), format_func=lambda x: by_path[x].label,
                        key=kept("be_param", default, lambda v: v in by_path))
    sp = by_path[path]
    lo0, hi0 = apprun.default_between(sp)
    num = int if sp.is_int else float

    def within(v: Any) -> bool:
        return isinstance(v, (int, float)) and sp.lo <= v <= sp.hi

    lo = b2.number_input("From", min_value=num(sp.lo), max_value=num(sp.hi), key=kept(f"be_lo:{path}", num(lo0), within))
    hi = b3.number_input("To", min_value=num(sp.lo), max_value=num(sp.hi), key=kept(f"be_hi:{path}", num(hi0), within))
    remember("sa_a", "sa_b", "sa_kpi", "sa_reps", "sa_params", "sa_delta", "be_param", f"be_lo:{path}", f"be_hi:{path}")
    runs = apprun.analysis_runs("breakeven", points=5, refine=4, replications=reps)
    args = {**base, "param": path, "between": [float(lo), float(hi)]}
    key = apprun.analysis_key("breakeven", scenario, **args)
    clicked = st.button(f"Find the break-even (up to {runs} model runs)", icon=":material/play_arrow:", key="be_run",
                        disabled=not lo < hi)
    table = apprun.StreamlitCache().get(key, 0)
    if clicked and table is None:
        table = run_analysis("Break-even", key, analysis.breakeven, runs, scenario=scenario,
                             **{**args, "between": (float(lo), float(hi))})
    if table is not None:
        def draw() -> Any:
            return plots.plot_breakeven(table, meta=meta, policies=names, xlabel=sp.label)

        analysis_figure("breakeven", draw, apprun.draw_bytes(draw, "png", dpi=DISPLAY_DPI))


DECISION_INTRO = (
    "**Which policy to choose when the assumptions are uncertain.** The analysis draws plausible worlds from the "
    "scenario's `[uncertainty]` table, simulates every policy in each with common random numbers, and says how "
    "often each policy has the highest value, what choosing it may cost and which assumption to research first."
)
UNCERTAINTY_EXAMPLE = """[uncertainty]
"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, high = 25.0 }
"satisfaction.resentment_per_usd" = { dist = "uniform", low = 0.0, high = 0.03 }
"help_seeking.base_ask_prob" = { dist = "beta", mean = 0.8, sd = 0.07 }"""


def no_uncertainty(scenario: Any) -> None:
    """What to add when the scenario has no ``[uncertainty]`` table."""
    st.info(f"**{appkit.md_literal(scenario.scenario.name)}** has no `[uncertainty]` table, so nothing in it is "
            "uncertain and there is nothing to decide under. Add one to the scenario file — a parameter path (any "
            "path `--set` accepts, a policy's own included) and a distribution (`uniform`, `triangular`, "
            "`normal`, `lognormal`, `beta`, `choice`) — and load the file under **Use your own scenario file** "
            "in the sidebar. For example:", icon=":material/info:")
    st.code(UNCERTAINTY_EXAMPLE, language="toml")
    st.caption("Every shipped scenario in the picker carries such a table (pick `baseline` to try the analysis). "
               "How to choose the distributions: docs/model.md, \"Decisions under uncertainty\".")


def decision_answer(result: Any) -> None:
    """The three-line answer, prominently: choose, what it may cost, what to research."""
    icons = (":material/verified:", ":material/trending_down:", ":material/science:")
    with st.container(border=True):
        for i, (icon, line) in enumerate(zip(icons, result.answer())):
            text = appkit.md_literal(line)
            st.markdown(f"{icon} " + (f"**{text}**" if i == 0 else text))


def decision_results(result: Any, key: str, source: appkit.Source, overrides: list[str]) -> None:
    decision_answer(result)
    st.dataframe(apprun.decision_table(result), hide_index=True, width="stretch", column_config={
        "policy": st.column_config.TextColumn("Policy"),
        "probability best": st.column_config.TextColumn(
            "Probability best", help="Share of the sampled worlds in which the policy has the highest value, "
                                     "± its 95% Monte Carlo interval (1.96 standard errors)."),
        "expected value": st.column_config.TextColumn("Expected value", help="Mean value over the sampled worlds."),
        "expected loss": st.column_config.TextColumn(
            "Expected loss", help="What choosing this policy loses on average against the best policy of each "
                                  "world (regret); the recommended policy has the smallest."),
        "recommended": st.column_config.CheckboxColumn("Recommended"),
    })
    st.caption("**Expected loss**: what choosing the policy loses on average against the best policy of each world. "
               "**EVPPI**: what knowing one parameter exactly would be worth (research the largest first); "
               "**EVPI**: knowing all of them. Probabilities carry Monte Carlo error: more samples narrow them.")
    for name in apprun.DECISION_FIGURES:
        if name == "decision_map" and result.decision_map is None:
            st.caption("No decision map: it needs two uncertain parameters or more.")
            continue
        analysis_figure(f"decision_{name}", lambda name=name: apprun.decision_figure(result, name),
                        caches().decision_png(key, name, result))
    command = appkit.cli_command(source, overrides, "results/decide", verb="decide",
                                 options=["--samples", str(result.samples)])
    recorded = replace(result, command=command)  # decision.json records it, as the CLI's does
    download_row(appkit.file_stem(result.scenario.scenario.name), [
        Download("decision.json", lambda: apprun.decision_json_bytes(recorded), "_decision.json", "application/json",
                 "dl_decision_json", ":material/data_object:",
                 "Per policy the probability best, expected value and loss; EVPI and EVPPI; the answer; the "
                 "scenario and its uncertainty table (as `supportsim decide` writes it)."),
        Download("psa.csv", lambda: apprun.psa_csv(result), "_psa.csv", "text/csv", "dl_psa_csv", ":material/table:",
                 "One row per sampled world × policy: the sampled parameters and every KPI."),
    ])
    st.caption("The same analysis from the command line:")
    st.code(command, language="bash", wrap_lines=True)


def decision_key(scenario: Any, samples: int) -> str:
    """The cache key of a decision analysis of ``scenario`` (as on screen) with ``samples``."""
    return apprun.analysis_key("decision", scenario, sha=scenario_hash(scenario), uncertainty=scenario.uncertainty,
                               samples=samples, replications=1)


def last_decision_key(scenario: Any) -> str | None:
    """The cache key of the decision analysis of the scenario on screen at the Decision tab's
    last sample count (None before the tab has been opened)."""
    samples = last_value("dec_samples")
    return decision_key(scenario, int(samples)) if samples else None


def cached_decision(key: str | None) -> Any:
    """That analysis if it has been run, else None (the deck shows it when there is one)."""
    return apprun.StreamlitCache().get(key, 0) if key else None


def decision_tab(scenario: Any, source: appkit.Source, overrides: list[str]) -> None:
    st.markdown(DECISION_INTRO)
    if len(scenario.policies) < 2:
        st.info("A decision compares policies; this scenario has one.", icon=":material/info:")
        return
    if not scenario.uncertainty:
        no_uncertainty(scenario)
        return
    try:
        parameters = uncertain_parameters(scenario)
    except ScenarioError as exc:
        st.error("The `[uncertainty]` table is not valid:\n\n" + problem_list(exc.problems), icon=":material/error:")
        return
    limit = appkit.app_max_work()
    most = min(MAX_SAMPLES, apprun.decision_max_samples(scenario, limit))
    c1, c2, c3 = st.columns([2, 3, 3], vertical_alignment="bottom")
    with c3.popover(f"{len(parameters)} uncertain parameters", icon=":material/casino:"):
        st.markdown("\n".join(f"- `{path}`: {appkit.md_literal(dist)}" for path, dist in parameters.items()))
        st.caption("Drawn from these distributions in every world, whatever the sidebar says for them; every "
                   "other parameter is the scenario on screen. Edit the table in the scenario file.")
    samples = int(c1.number_input(
        "Samples (plausible worlds)", min_value=2, max_value=MAX_SAMPLES, step=1,
        key=kept("dec_samples", max(2, min(apprun.DECISION_SAMPLES, most)), lambda v: 2 <= v <= MAX_SAMPLES),
        help=f"Parameter sets drawn from the table; every policy runs once on each (one replication, common "
             f"random numbers). More samples narrow the probabilities: their 95% interval is about ±1/√n at most. "
             f"The default, {apprun.DECISION_SAMPLES}, runs the baseline in about half a minute on two idle "
             f"cores; `supportsim decide` defaults to 200. At most "
             f"{most:,} fit the app's workload limit for this scenario."))
    remember("dec_samples")
    runs = apprun.decision_runs(scenario, samples)
    too_many = samples > most
    key = decision_key(scenario, samples)
    clicked = c2.button(f"Run decision analysis ({runs:,} model runs)", icon=":material/play_arrow:", key="dec_run",
                        type="primary", disabled=too_many)
    if too_many:
        st.error(f"**{samples:,} samples are too many for the app**: at most {most:,} fit its workload limit of "
                 f"{limit:,} customer-months (`SUPPORTSIM_APP_MAX_WORK`) for this scenario. Use fewer samples, or "
                 "run `supportsim decide` from the command line.", icon=":material/block:")
        return
    result = apprun.StreamlitCache().get(key, 0)
    if clicked and result is None:
        result = run_analysis("Decision", key, run_decision, runs, scenario=scenario, samples=samples,
                              replications=1)
    if result is not None:
        decision_results(result, key, source, overrides)


# ---------------------------------------------------------------- the page


def current_scenario(source: appkit.Source) -> tuple[Any, list[str], list[appkit.Group]] | None:
    """The sidebar, and the scenario its controls describe; None (problems shown) if invalid."""
    groups, values, group_slots = sidebar_controls(source)
    overrides, problems = appkit.overrides_from_values(groups, values)
    if not problems:
        try:
            return appkit.build_scenario(source, overrides), overrides, groups
        except ScenarioError as exc:
            problems = exc.problems
    by_group: dict[str, list[str]] = {}
    for p in problems:
        by_group.setdefault(appkit.group_of_path(groups, appkit.problem_path(p)) or "", []).append(p)
    for key, probs in by_group.items():
        if key in group_slots:
            group_slots[key].error(problem_list(probs), icon=":material/error:")
    st.title("How should support be priced?")
    st.error("These settings are not a valid scenario, so nothing was run:\n\n" + problem_list(problems),
             icon=":material/error:")
    return None


def run_and_draw(scenario: Any, slots: dict[str, Any], specs: list[apprun.FigureSpec]) -> Any:
    """Run (or fetch from the cache) every replication, redrawing as they finish.

    Until the first replication of the new settings is in, the previous results stay on
    screen (the status line says so) rather than an empty page.
    """
    res = None
    previous = st.session_state.get("_last_results")
    if previous is not None and (previous.scenario_sha256 == scenario_hash(scenario)
                                 or previous.policies != (list(scenario.policies) or ["base"])):
        previous = None  # nothing to bridge: the same results are cached, or other policies
    # when the figures were last drawn for these settings (the previous ones' stand in until then)
    figures_at = time.monotonic() if previous is not None else -math.inf
    try:
        updates = apprun.progressive_run(scenario, cache=apprun.app_cache(),
                                         pool=lambda: caches().worker_pool(apprun.app_workers()),
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
    except BrokenProcessPool:
        caches().worker_pool.clear()
        slots["status"].error("A simulation worker stopped unexpectedly; change any control to run again.",
                              icon=":material/error:")
        return None
    slots["status"].empty()
    return res


def main() -> None:
    st.set_page_config(page_title="supportsim: how should support be priced?", page_icon=":material/support_agent:",
                       layout="wide", initial_sidebar_state="expanded")
    source = choose_source()
    current = current_scenario(source)
    if current is None:
        return
    scenario, overrides, groups = current
    header(source, scenario, overrides, scenario_hash(scenario))
    try:
        appkit.check_workload(scenario)
    except ScenarioError as exc:
        st.error("**This run is too large for the app.**\n\n" + problem_list(exc.problems)
                 + f"\n\nThe app's limit is {appkit.app_max_work():,} customer-months "
                   "(`SUPPORTSIM_APP_MAX_WORK`); the command line takes larger runs.", icon=":material/block:")
        return

    slots: dict[str, Any] = {"status": st.empty(), "cards": st.container()}
    export_slot = st.container()
    tabs = dict(zip(apprun.TABS, st.tabs(list(apprun.TABS), key="tab", on_change="rerun")))
    open_tab = next((label for label, t in tabs.items() if t.open), apprun.TABS[0])  # only it is drawn
    specs = [s for s in apprun.figure_specs(len(scenario.policies) or 1) if s.tab == open_tab]
    slots["tab"] = tabs[open_tab]
    if open_tab == "Assumptions":
        with tabs[open_tab]:
            assumptions_tab(source, scenario, overrides)

    res = run_and_draw(scenario, slots, specs)
    if res is None:
        return
    with export_slot:
        exports(res, source, scenario, overrides)
        with st.expander("All KPIs with 95% confidence intervals", icon=":material/table_chart:"):
            st.dataframe(apprun.kpi_table(res), hide_index=True, width="stretch")
    for spec in specs:
        figure_downloads(res, spec, slots[f"dl:{spec.name}"])
    if open_tab == "Sensitivity":
        with tabs[open_tab]:
            sensitivity_tab(res, scenario, groups)
    if open_tab == "Decision":
        with tabs[open_tab]:
            decision_tab(scenario, source, overrides)


# Streamlit runs this file as __main__; simulation workers (forkserver) import it as
# __mp_main__ and must not draw the page.
if __name__ == "__main__":
    main()
