"""The page's analysis tabs: Assumptions, Sensitivity (tornado, break-even) and Decision.

Where it sits: the scenario on screen and its results -> **tabs** (what they compute is in
:mod:`sim.app.studies` and :mod:`sim.app.views`; their longer text in ``sim/app/prose``) ->
``app.py``. Analyses run on demand, on the app's worker pool, and are cached in the server's
memory; a failed one is a message naming the limit or the fields, never a traceback.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

import streamlit as st

from sim.app import drawing, kit, procs, sources, studies, views
from sim.app.store import StreamlitCache
from sim.app.ui import Download, analysis_figure, caches, download_row, kept, last_value, remember, worker_pool
from sim.decision.psa import MAX_SAMPLES
from sim.output import fmt, plots, study_plots
from sim.params.labels import replaced_notes
from sim.params.names import display_name, mid_sentence, parameter_names
from sim.params.scenario import ScenarioError, scenario_hash, uncertain_parameters
from sim.runs import metrics, tornado
from sim.runs import studies as analysis
from sim.runs.kpis import DEFAULT_KPI
from sim.runs.options import RunOptions

log = logging.getLogger(__name__)


def assumptions_tab(source: sources.Source, scenario: Any, overrides: list[str]) -> None:
    st.markdown("**What each policy promises and charges**")
    terms = views.terms_frame(scenario)  # a static table: its cells wrap, nothing is cut (cells are Markdown, so
    shown = terms.map(kit.text).set_axis([kit.text(c) for c in terms.columns], axis=1)  # user text escaped)
    st.table(shown, hide_index=True, border="horizontal")
    unkeepable = views.promise_warning(scenario)
    if unkeepable:
        st.warning(unkeepable, icon=":material/schedule:")
    st.markdown(kit.prose("assumptions_intro.md"))
    table = views.assumptions_frame(scenario, overrides)
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
        flat = ", ".join(kit.code(f"{p} = {kit.format_value(v)}") for p, v in kit.flat_items(table_))
        st.markdown(f"- **{kit.text(name)}**: {flat or 'no overrides'}")
    for note in replaced_notes(scenario, kit.text):
        st.caption(f"Label replaced: {note}.")
    st.caption("Reproduce this run from the command line:")
    st.code(sources.cli_command(source, overrides), language="bash", wrap_lines=True)


def run_analysis(kind: str, key: str, fn: Any, runs: int, **kwargs: Any) -> Any:
    """Run ``fn`` (an analysis of sim.runs.studies) on the app's pool with a progress bar; cache
    it. A refused or failed analysis is a message, not a traceback."""
    bar = st.progress(0.0, text=f"Running {runs} model runs…")

    def progress(done: int, total: int) -> None:
        text = f"{kind}: {done} of {total} model runs" if done < total else f"{kind}: all {total} model runs done, summarising…"
        bar.progress(done / max(total, 1), text=text)

    try:
        options = RunOptions(replications=kwargs.pop("replications", None), executor=procs.pool_executor(worker_pool()),
                             on_progress=progress, max_work=sources.app_max_work())
        table = fn(options=options, **kwargs)
    except ScenarioError as exc:
        bar.empty()
        st.error(kit.problem_list(exc.problems), icon=":material/error:")
        return None
    except Exception as exc:  # noqa: BLE001 - the page says what failed and what to do; the log has the traceback
        bar.empty()
        if isinstance(exc, BrokenProcessPool):
            caches().worker_pool.clear()
        log.warning("%s analysis failed", kind, exc_info=True)
        st.error(views.run_failure(exc, kwargs["scenario"], memory_mb=procs.app_max_memory() // 2**20),
                 icon=":material/error:")
        return None
    bar.empty()
    StreamlitCache().put(key, 0, table)
    return table


def sensitivity_tab(res: Any, scenario: Any, groups: list[kit.Group]) -> None:
    if len(res.policies) < 2:
        st.info("Sensitivity analyses compare two policies; this scenario has one.", icon=":material/info:")
        return
    st.markdown(kit.prose("sensitivity_intro.md"))
    names = res.policies
    max_reps = max(2, scenario.run.replications)
    c1, c2, c3, c4 = st.columns(4)
    label = functools.partial(kit.policy_label, scenario)
    a = c1.selectbox("Policy A", names, format_func=label, key=kept("sa_a", res.reference, lambda v: v in names),
                     help="The difference shown is policy B minus policy A; by default the reference policy.")
    others = [n for n in names if n != a]
    b = c2.selectbox("Policy B", others, format_func=label,
                     key=kept(f"sa_b:{a}", studies.best_other(res, a), lambda v: v in others),
                     help="By default the policy with the highest value in the main run, A aside (the one the "
                          "verdict names).")
    kpi = c3.selectbox("KPI", list(metrics.KPIS), format_func=lambda k: metrics.KPIS[k].title,
                       key=kept("sa_kpi", DEFAULT_KPI, lambda v: v in metrics.KPIS),
                       help="By default value, the KPI the verdict and the decision analysis use.")
    reps = int(c4.number_input("Replications", min_value=2, max_value=max_reps, step=1,
                               key=kept("sa_reps", min(studies.SENSITIVITY_REPLICATIONS, max_reps),
                                        lambda v: 2 <= v <= max_reps),
                               help="Per point and policy. " + studies.SENSITIVITY_REPLICATIONS_HELP))
    meta = replace(plots.Meta.of(res), replications=reps)
    base = {"kpi": kpi, "policy_a": a, "policy_b": b, "replications": reps}

    st.subheader("Tornado: what moves the gap most", divider="gray")
    labels = {path: label for path, label, _ in tornado.SENSITIVITY_PARAMETERS}
    t1, t2 = st.columns([3, 1])
    chosen = t1.multiselect("Parameters", list(labels), format_func=labels.get,
                            key=kept("sa_params", list(labels), lambda v: set(v) <= set(labels)))
    delta = t2.slider("Move each by ±", 0.05, 0.5, step=0.05, format="%.2f",
                      key=kept("sa_delta", 0.2, lambda v: 0.05 <= v <= 0.5),
                      help="Each parameter goes to base × (1 − δ) and base × (1 + δ), within its allowed range; "
                           "the 6–7× acquisition multiple uses its documented range.")
    runs = studies.analysis_runs("sensitivity", n_params=len(chosen), replications=reps)
    args = {**base, "parameters": chosen, "delta": delta}
    key = studies.analysis_key("sensitivity", scenario, **args)
    clicked = st.button(f"Run sensitivity ({runs} model runs)", icon=":material/play_arrow:", key="sa_run",
                        disabled=not chosen)
    table = StreamlitCache().get(key, 0)
    if clicked and table is None:
        table = run_analysis("Sensitivity", key, tornado.sensitivity, runs, scenario=scenario,
                             documented_ranges=True, **args)
    if table is not None:
        analysis_figure("tornado", lambda: study_plots.plot_tornado(table, meta=meta),
                        drawing.draw_bytes(lambda: study_plots.plot_tornado(table, meta=meta), "png",
                                           dpi=drawing.DISPLAY_DPI))
        clear, total = studies.tornado_clear(table)
        more = "" if clear == total else (
            f"; the other {total - clear} move it by less than their whiskers' width, which these {reps} "
            "replications cannot tell from noise" + (f": more replications (up to {max_reps}) narrow the whiskers"
                                                     if reps < max_reps else ""))
        st.caption(f"Whiskers: the 95% CI of the difference at each end. {clear} of {total} parameters move the "
                   f"gap by more than their whiskers' width{more}.")

    st.subheader("Break-even: where the two policies tie", divider="gray")
    params = studies.sweep_params(groups)
    by_path = {p.path: p for p in params}
    names_of = parameter_names(scenario, list(by_path))
    b1, b2, b3 = st.columns([2, 1, 1])
    be_key = f"be_param:{b}"  # a default, and a choice, per policy B: the lever follows the policy
    path = b1.selectbox("Parameter", list(by_path), format_func=lambda x: plots.param_label(x, names_of),
                        key=kept(be_key, studies.default_breakeven_param(params, scenario, b), lambda v: v in by_path),
                        help="By default a pricing lever of policy B (its fee, tier fee, add-on, allowance or "
                             "price multiplier): what B would have to charge to tie with A.")
    sp = by_path[path]
    lo0, hi0 = studies.default_between(sp)
    num = int if sp.is_int else float

    def within(v: Any) -> bool:
        return isinstance(v, (int, float)) and sp.lo <= v <= sp.hi

    lo = b2.number_input("From", min_value=num(sp.lo), max_value=num(sp.hi), key=kept(f"be_lo:{path}", num(lo0), within))
    hi = b3.number_input("To", min_value=num(sp.lo), max_value=num(sp.hi), key=kept(f"be_hi:{path}", num(hi0), within))
    remember("sa_a", f"sa_b:{a}", "sa_kpi", "sa_reps", "sa_params", "sa_delta", be_key, f"be_lo:{path}",
             f"be_hi:{path}")
    runs = studies.analysis_runs("breakeven", points=5, refine=4, replications=reps)
    args = {**base, "param": path, "between": [float(lo), float(hi)]}
    key = studies.analysis_key("breakeven", scenario, **args)
    clicked = st.button(f"Find the break-even (up to {runs} model runs)", icon=":material/play_arrow:", key="be_run",
                        disabled=not lo < hi)
    table = StreamlitCache().get(key, 0)
    if clicked and table is None:
        table = run_analysis("Break-even", key, analysis.breakeven, runs, scenario=scenario,
                             **{**args, "between": (float(lo), float(hi))})
    if table is not None:
        shown = table.copy()  # the title names the parameter as the page does, not by its path
        shown.attrs["param"] = mid_sentence(names_of[path])

        def draw() -> Any:
            return study_plots.plot_breakeven(shown, meta=meta, policies=names, xlabel=plots.param_label(path, names_of))

        analysis_figure("breakeven", draw, drawing.draw_bytes(draw, "png", dpi=drawing.DISPLAY_DPI))


# ---------------------------------------------------------------- decision


def no_uncertainty(scenario: Any) -> None:
    """What to add when the scenario has no ``[uncertainty]`` table."""
    st.info(f"**{kit.text(scenario.scenario.name)}** " + kit.prose("no_uncertainty.md"), icon=":material/info:")
    st.code(kit.prose("uncertainty_example.toml"), language="toml")
    st.caption(kit.prose("no_uncertainty_after.md"))


def decision_answer(result: Any) -> None:
    """The three-line answer, prominently: choose, what it may cost, what to research."""
    icons = (":material/verified:", ":material/trending_down:", ":material/science:")
    with st.container(border=True):
        for i, (icon, line) in enumerate(zip(icons, result.answer())):
            text = kit.text(line)
            st.markdown(f"{icon} " + (f"**{text}**" if i == 0 else text))


def ranking_note(result: Any) -> str:
    """Under the answer (Markdown, or ""): a result below the command line's sample count is a
    preview, and whether its top two EVPPIs can be told apart at this size (their Monte Carlo
    errors, :func:`sim.app.studies.samples_to_rank`)."""
    n, need = result.samples, studies.samples_to_rank(result)
    parts = [f"**Preview: {n} samples** (`supportsim decide` runs {studies.PREVIEW_BELOW})."
             if n < studies.PREVIEW_BELOW else ""]
    if need is not None and need <= n:
        parts.append("The top two EVPPIs are apart by more than twice their Monte Carlo error: what to research "
                     "first holds at this size.")
    elif need is not None:
        ev = result.evppi
        top = [f"{kit.text(display_name(str(r.parameter), result.scenario))} ({fmt.usd(r.evppi_usd)} ± "
               f"{fmt.usd(r.evppi_se)})" for r in ev.head(2).itertuples()]
        most = min(MAX_SAMPLES, studies.decision_max_samples(result.scenario, sources.app_max_work()))
        more = (f"far more samples than {MAX_SAMPLES:,}" if need > MAX_SAMPLES else f"about {need:,} samples")
        fits = "" if need <= most else (f", more than the app runs for this scenario (at most {most:,}): "
                                        f"`supportsim decide --samples {min(need, MAX_SAMPLES)}`")
        parts.append(f"**Too few samples to rank what to research**: the top two EVPPIs, {top[0]} and {top[1]} "
                     f"(± a Monte Carlo standard error), are within twice their error of each other; {more} would "
                     f"tell them apart{fits}. The recommendation does not depend on this ranking.")
    return " ".join(p for p in parts if p)


def decision_results(result: Any, key: str, source: sources.Source, overrides: list[str]) -> None:
    decision_answer(result)
    note = ranking_note(result)
    if note:
        st.info(note, icon=":material/hourglass_top:")
    st.dataframe(views.decision_table(result), hide_index=True, width="stretch", column_config={
        "policy": st.column_config.TextColumn("Policy"),
        "probability best": st.column_config.TextColumn(
            "Probability best", help="Share of the sampled worlds in which the policy has the highest value, "
                                     "with its exact (Clopper-Pearson) 95% interval: 24 of 24 worlds still "
                                     "leaves room below 100%."),
        "expected value": st.column_config.TextColumn("Expected value", help="Mean value over the sampled worlds."),
        "expected loss": st.column_config.TextColumn(
            "Expected loss", help="What choosing this policy loses on average against the best policy of each "
                                  "world (regret); the recommended policy has the smallest."),
        "recommended": st.column_config.CheckboxColumn("Recommended"),
    })
    st.caption(kit.prose("decision_terms.md"))
    with st.expander("What the decision holds fixed (not sampled)", icon=":material/lock:"):
        st.caption("The decision is which policy is best given these settings; add one to the scenario's "
                   "[uncertainty] table to see whether the answer moves.")
        st.dataframe(views.held_fixed_frame(result.scenario), hide_index=True, width="stretch")
    for name in drawing.DECISION_FIGURES:
        if name == "decision_map" and result.decision_map is None:
            st.caption("No decision map: it needs two uncertain parameters or more.")
            continue
        analysis_figure(f"decision_{name}", lambda name=name: drawing.decision_figure(result, name),
                        caches().decision_png(key, name, result))
    command = sources.cli_command(source, overrides, "results/decide", verb="decide",
                                  options=["--samples", str(result.samples)])
    recorded = replace(result, command=command)  # decision.json records it, as the CLI's does
    download_row(sources.file_stem(result.scenario.scenario.name), [
        Download("decision.json", lambda: views.decision_json_bytes(recorded), "_decision.json", "application/json",
                 "dl_decision_json", ":material/data_object:",
                 "Per policy the probability best, expected value and loss; EVPI and EVPPI; the answer; the "
                 "scenario and its uncertainty table (as `supportsim decide` writes it)."),
        Download("psa.csv", lambda: views.psa_csv(result), "_psa.csv", "text/csv", "dl_psa_csv", ":material/table:",
                 "One row per sampled world × policy: the sampled parameters and every KPI."),
    ])
    st.caption("The same analysis from the command line:")
    st.code(command, language="bash", wrap_lines=True)


def decision_key(scenario: Any, samples: int) -> str:
    """The cache key of a decision analysis of ``scenario`` (as on screen) with ``samples``."""
    return studies.analysis_key("decision", scenario, sha=scenario_hash(scenario), uncertainty=scenario.uncertainty,
                                samples=samples, replications=1)


def last_decision_key(scenario: Any) -> str | None:
    """The cache key of the decision analysis of the scenario on screen at the Decision tab's
    last sample count (None before the tab has been opened)."""
    samples = last_value("dec_samples")
    return decision_key(scenario, int(samples)) if samples else None


def cached_decision(key: str | None) -> Any:
    """That analysis if it has been run, else None (the deck shows it when there is one)."""
    return StreamlitCache().get(key, 0) if key else None


def decision_tab(scenario: Any, source: sources.Source, overrides: list[str]) -> None:
    st.markdown(kit.prose("decision_intro.md"))
    if len(scenario.policies) < 2:
        st.info("A decision compares policies; this scenario has one.", icon=":material/info:")
        return
    if not scenario.uncertainty:
        no_uncertainty(scenario)
        return
    try:
        parameters = uncertain_parameters(scenario)
    except ScenarioError as exc:
        st.error("The `[uncertainty]` table is not valid:\n\n" + kit.problem_list(exc.problems), icon=":material/error:")
        return
    limit = sources.app_max_work()
    most = min(MAX_SAMPLES, studies.decision_max_samples(scenario, limit))
    c1, c2, c3 = st.columns([2, 3, 3], vertical_alignment="bottom")
    with c3.popover(f"{len(parameters)} uncertain parameters", icon=":material/casino:"):
        st.markdown("\n".join(f"- {kit.code(path)}: {kit.text(dist)}" for path, dist in parameters.items()))
        st.caption("Drawn from these distributions in every world, whatever the sidebar says for them; every "
                   "other parameter is the scenario on screen. Edit the table in the scenario file.")
    samples = int(c1.number_input(
        "Samples (plausible worlds)", min_value=2, max_value=MAX_SAMPLES, step=1,
        key=kept("dec_samples", max(2, min(studies.DECISION_SAMPLES, most)), lambda v: 2 <= v <= MAX_SAMPLES),
        help=f"Parameter sets drawn from the table; every policy runs once on each (one replication, common "
             f"random numbers). More samples narrow the probabilities: their exact 95% interval narrows as 1/√n. "
             f"The default, {studies.DECISION_SAMPLES}, runs the baseline in about half a minute on two idle "
             f"cores and is a preview: it gave the same recommended policy as 100 samples on the shipped "
             f"scenarios, but ranking what to research can take far more (the page says how many); "
             f"`supportsim decide` defaults to {studies.PREVIEW_BELOW}. At most "
             f"{most:,} fit the app's workload limit for this scenario."))
    remember("dec_samples")
    runs = studies.decision_runs(scenario, samples)
    too_many = samples > most
    key = decision_key(scenario, samples)
    clicked = c2.button(f"Run decision analysis ({runs:,} model runs)", icon=":material/play_arrow:", key="dec_run",
                        type="primary", disabled=too_many)
    if too_many:
        st.error(f"**{samples:,} samples are too many for the app**: at most {most:,} fit its workload limit of "
                 f"{limit:,} customer-months (`SUPPORTSIM_APP_MAX_WORK`) for this scenario. Use fewer samples, or "
                 "run `supportsim decide` from the command line.", icon=":material/block:")
        return
    result = StreamlitCache().get(key, 0)
    if clicked and result is None:
        # the simulations on the pool, the EVPPI fit in one of its (memory-capped) workers
        result = run_analysis("Decision", key, functools.partial(studies.decide_in_pool, worker_pool()), runs,
                              scenario=scenario, samples=samples, replications=1)
    if result is not None:
        decision_results(result, key, source, overrides)
