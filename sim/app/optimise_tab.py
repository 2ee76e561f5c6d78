"""The Optimise tab: the best design of one policy, with a stated guarantee.

Where it sits: the scenario on screen and its results -> **optimise_tab** (what it computes is in
:mod:`sim.app.optimising`; it runs like the other analyses, :func:`sim.app.tabs.run_analysis`, on
the app's worker pool with a progress bar, refused by the guardrail before anything runs when too
large, cached in the server's memory) -> ``app.py``. A result is kept for the deck download
(:func:`deck_optimum`). User text (policy labels, values) reaches the page literally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from sim.app import kit, optimising, sources
from sim.app.optimising import Lever, Request
from sim.app.store import StreamlitCache
from sim.app.tabs import run_analysis
from sim.app.ui import Download, analysis_figure, caches, download_row, kept, remember
from sim.output import fmt
from sim.output.optimise_read import Optimum, optimum_of
from sim.params.scenario import resolve_policies, scenario_hash
from sim.runs import metrics
from sim.runs.optimise import MAX_TRIALS

LAST = "_optimise_last"  # scenario hash -> cache key of the last optimisation shown (for the deck)
CHECKED = "_optimise_checked"  # request key -> its problems (the dry run, once per request)


def _kpis() -> list[str]:
    return [k for k, v in metrics.KPIS.items() if v.better in ("higher", "lower")]


def _range_row(scenario: Any, policy: str, lv: Lever) -> tuple[str | None, tuple[Lever, float, float, bool] | None,
                                                                 list[str]]:
    """One lever's controls: returns its --param (None if it has a problem), its range, its keys."""
    label = lv.label(scenario)
    tag = f"{policy}:{lv.path}"
    c1, c2, c3, c4 = st.columns([3, 2, 2, 1], vertical_alignment="bottom")
    c1.markdown(kit.text(label), help=lv.help())
    if lv.choices:
        key = kept(f"op_ch:{tag}", list(lv.choices), lambda v: isinstance(v, list) and set(v) <= set(lv.choices))
        values = c2.multiselect(f"Values of {label}", list(lv.choices), key=key, label_visibility="collapsed",
                                help="The values the search tries (at least two).")
        return (optimising.choice_arg(lv.path, values) if len(values) >= 2 else None), None, [key]
    lo_b, hi_b = lv.bounds
    num = optimising.number

    def inside(v: Any) -> bool:
        return isinstance(v, (int, float)) and lo_b <= v <= hi_b

    kw: dict[str, Any] = {"min_value": num(lv, lo_b), "max_value": num(lv, hi_b)}
    if lv.is_int:
        kw["step"] = 1
    else:
        kw["format"] = "%g"
        kw["step"] = float(f"{(lv.hi - lv.lo) / 20:.1g}")
    k_lo = kept(f"op_lo:{tag}", num(lv, lv.lo), inside)
    k_hi = kept(f"op_hi:{tag}", num(lv, lv.hi), inside)
    lo = c2.number_input("From", key=k_lo, help=f"The lowest value of {label} searched. {lv.help()}", **kw)
    hi = c3.number_input("To", key=k_hi, help=f"The highest value of {label} searched. {lv.help()}", **kw)
    keys = [k_lo, k_hi]
    log = False
    if not lv.is_int:
        k_log = kept(f"op_log:{tag}", lv.log, lambda v: isinstance(v, bool))
        log = c4.checkbox("Log", key=k_log, help="Search the range by ratios (1 to 2 as wide as 24 to 48): for a "
                                                 "promise in hours or a threshold spanning magnitudes. Needs From > 0.")
        keys.append(k_log)
    return optimising.param_arg(lv.path, lo, hi, log=log), (lv, float(lo), float(hi), log), keys


def _constraint_rows(res: Any, policy: str) -> tuple[list[str], list[str]]:
    """The constraint controls: a KPI list, then a bound per KPI (pre-filled with the policy's
    value now). Returns the constraints and the widget keys."""
    kpis = list(metrics.KPIS)
    key = kept(f"op_cons:{policy}", [], lambda v: isinstance(v, list) and set(v) <= set(kpis))
    chosen = st.multiselect(
        "Constraints", kpis, format_func=lambda k: metrics.KPIS[k].title, key=key,
        help="KPIs whose mean the chosen design must keep on the right side of a bound (for example retention at "
             "least 95%, SLA met at least 80%, support cost at most 10% of revenue). A trial that breaks one counts "
             "as infeasible; the chosen design is checked again on its fresh replications.")
    out, keys = [], [key]
    now = res.summary().get(policy, {})
    for k in chosen:
        c1, c2, c3 = st.columns([3, 1, 2], vertical_alignment="bottom")
        c1.markdown(kit.text(metrics.KPIS[k].title), help=f"{metrics.KPIS[k].label}, in {metrics.KPIS[k].unit}.")
        k_op = kept(f"op_op:{policy}:{k}", ">=" if metrics.KPIS[k].better != "lower" else "<=",
                    lambda v: v in (">=", "<="))
        op = c2.selectbox(f"Bound on {k}", [">=", "<="], key=k_op, label_visibility="collapsed",
                          format_func=lambda o: "at least" if o == ">=" else "at most",
                          help="At least (≥) or at most (≤) the threshold.")
        mean = now.get(k, {}).get("mean", 0.0)
        start = float(f"{mean:.3g}") if mean == mean else 0.0
        k_x = kept(f"op_x:{policy}:{k}", start, lambda v: isinstance(v, (int, float)))
        x = c3.number_input(f"Threshold for {k}", key=k_x, format="%g", label_visibility="collapsed",
                            help=f"In {metrics.KPIS[k].unit} (a share as a fraction: 0.8 is 80%); pre-filled with "
                                 "the policy's value now, from the results above.")
        out.append(optimising.constraint_arg(k, op, float(x)))
        keys += [k_op, k_x]
    return out, keys


def _controls(res: Any, scenario: Any) -> tuple[Request | None, list[str], list[str]]:
    """Every control of the tab: the request they describe (None if a range is wrong), the range
    problems, and the widget keys to remember."""
    names = [p.name for p in resolve_policies(scenario)]
    c1, c2, c3, c4 = st.columns([3, 3, 2, 2])
    policy = c1.selectbox(
        "Policy to optimise", names, format_func=lambda p: kit.policy_label(scenario, p),
        key=kept("op_policy", optimising.default_policy(scenario), lambda v: v in names),
        help="The search changes this policy's design only; the others stay as they are.")
    kpi = c2.selectbox("KPI to maximise", _kpis(), format_func=lambda k: metrics.KPIS[k].title,
                       key=kept("op_kpi", "value_usd", lambda v: v in _kpis()),
                       help="The expected value of this KPI is maximised (a cost share is minimised).")
    trials = int(c3.number_input(
        "Trials", min_value=2, max_value=MAX_TRIALS, step=1,
        key=kept("op_trials", optimising.DEFAULT_TRIALS, lambda v: 2 <= v <= MAX_TRIALS),
        help=f"Designs the search tries (seeded TPE sampler, Optuna). The default, {optimising.DEFAULT_TRIALS}, is a "
             "quick preview (under half a minute on the baseline on two cores); `supportsim optimise` defaults to "
             "200."))
    reps = int(c4.number_input(
        "Replications per trial", min_value=2, max_value=optimising.MAX_REPLICATIONS, step=1,
        key=kept("op_reps", optimising.DEFAULT_REPLICATIONS, lambda v: 2 <= v <= optimising.MAX_REPLICATIONS),
        help="Runs of every trial, the same replication numbers for all (common random numbers: trials are "
             "compared, not luck). The CLI defaults to 4."))
    offered = optimising.levers_for(scenario, policy)
    paths = [lv.path for lv in offered]
    by_path = {lv.path: lv for lv in offered}
    k_params = kept(f"op_params:{policy}", optimising.default_levers(scenario, policy, offered),
                    lambda v: isinstance(v, list) and set(v) <= set(paths))
    chosen = st.multiselect(
        "Parameters to search", paths, format_func=lambda p: by_path[p].label(scenario), key=k_params,
        help="The parameters of the policy's design the search may change, each within the range below. Only those "
             "that act on this policy are offered (a per-ticket fee does not act under a flat scheme).")
    keys = ["op_policy", "op_kpi", "op_trials", "op_reps", k_params]
    params, ranges = [], []
    for path in chosen:
        arg, rng, ks = _range_row(scenario, policy, by_path[path])
        keys += ks
        if arg is not None:
            params.append(arg)
        if rng is not None:
            ranges.append(rng)
    constraints, ks = _constraint_rows(res, policy)
    keys += ks
    with st.expander("Selection settings", icon=":material/tune:"):
        a1, a2, a3 = st.columns(3)
        candidates = int(a1.number_input(
            "Candidates", min_value=1, max_value=20, step=1,
            key=kept("op_cands", optimising.DEFAULT_CANDIDATES, lambda v: 1 <= v <= 20),
            help="Best designs of the search re-run on fresh replications, with the policy's current design (CLI: 5)."))
        first = int(a2.number_input(
            "First-stage replications", min_value=2, max_value=200, step=1,
            key=kept("op_first", optimising.DEFAULT_FIRST_STAGE, lambda v: 2 <= v <= 200),
            help="Fresh replications of every candidate before any is screened out (CLI: 20)."))
        most = int(a3.number_input(
            "Most fresh replications", min_value=2, max_value=1000, step=1,
            key=kept("op_fresh", optimising.DEFAULT_MAX_FRESH, lambda v: 2 <= v <= 1000),
            help="Cap on a candidate's fresh replications; reaching it voids the guarantee (CLI: 200)."))
    keys += ["op_cands", "op_first", "op_fresh"]
    problems = optimising.range_problems(scenario, ranges)
    if not chosen:
        problems.append("Parameters to search: choose at least one")
    if problems:
        return None, problems, keys
    return Request(policy, tuple(params), kpi, tuple(constraints), trials, reps, candidates, first, most), [], keys


def _checked(scenario: Any, request: Request, key: str) -> list[str]:
    memo = st.session_state.setdefault(CHECKED, {})
    if key not in memo:
        memo[key] = optimising.check(scenario, request, sources.app_max_work())
    return memo[key]


def optimise_tab(res: Any, scenario: Any, source: sources.Source, overrides: list[str]) -> None:
    st.markdown(kit.prose("optimise_intro.md"))
    shown = st.session_state.setdefault(LAST, {})
    shown.pop(scenario_hash(scenario), None)  # the deck shows the result of the settings on screen, if any
    request, problems, keys = _controls(res, scenario)
    remember(*keys)
    key = request.key(scenario) if request is not None else ""
    if request is not None:
        problems = _checked(scenario, request, key)
    runs = request.runs() if request is not None else 0
    clicked = st.button(f"Optimise (about {runs:,} model runs)", icon=":material/play_arrow:", key="op_run",
                        type="primary", disabled=bool(problems))
    if problems:
        refused = any(p.startswith("workload too large") for p in problems)
        st.error(("**This optimisation is too large for the app.**\n\n" if refused else
                  "**These settings cannot be optimised:**\n\n") + kit.problem_list(problems)
                 + (f"\n\nThe app's limit is {sources.app_max_work():,} customer-months (`SUPPORTSIM_APP_MAX_WORK`); "
                    "`supportsim optimise` on the command line takes larger runs." if refused else ""),
                 icon=":material/block:")
        return
    command = request.command(source, overrides)
    result = StreamlitCache().get(key, 0)
    if clicked and result is None:
        result = run_analysis("Optimisation", key, optimising.run, runs, scenario=scenario, request=request,
                              command=command)
    if result is None:
        st.caption("The same optimisation from the command line:")
        st.code(command, language="bash", wrap_lines=True)
        return
    shown[scenario_hash(scenario)] = key
    show_result(result, key)


def show_result(result: Any, key: str) -> None:
    kpi = result.kpi
    label = kit.policy_label(result.scenario, result.policy)
    with st.container(border=True):
        if result.chosen is None:
            st.warning(kit.text(optimising.guarantee_sentence(result)), icon=":material/block:")
        else:
            st.markdown(f":material/emoji_events: **The best design for {kit.text(label)}** "
                        f"({kit.text(result.chosen_label)}, of {len(result.trials)} trials)")
            left, right = st.columns([3, 2])
            left.dataframe(optimising.design_table(result), hide_index=True, width="stretch")
            e, d, n = result.estimates[kpi], result.vs_current[kpi], result.fresh["observations"]
            right.metric(
                metrics.KPIS[kpi].title, fmt.kpi(kpi, e["mean"]),
                delta=f"{fmt.kpi(kpi, d['mean'], signed=True)} vs now",
                delta_color="inverse" if metrics.KPIS[kpi].better == "lower" else "normal",
                help=f"Mean of {n} fresh replications (never the search's own); the difference from the policy's "
                     f"current design is paired on the same replications: 95% CI "
                     f"{fmt.interval(kpi, d, signed=True)}.")
            right.caption(f"95% CI {fmt.interval(kpi, e)} on {n} fresh replications")
            for met, line in optimising.constraint_lines(result):
                st.markdown((":material/check_circle: " if met else ":material/cancel: ") + kit.text(line))
            st.markdown(f":material/verified: **Guarantee:** {kit.text(optimising.guarantee_sentence(result))}")
    with st.expander("The candidates re-run on fresh replications", icon=":material/table_chart:"):
        st.dataframe(optimising.candidates_table(result), hide_index=True, width="stretch")
    for name in optimising.figure_names(result):
        analysis_figure(f"optimise_{name.replace(':', '_').replace('.', '_').replace('*', 'all')}",
                        lambda name=name: optimising.figure(result, name), caches().optimise_png(key, name, result))
    stem = sources.file_stem(result.scenario.scenario.name)
    buttons = [
        Download("optimum.json", lambda: optimising.optimum_json_bytes(result), "_optimum.json", "application/json",
                 "dl_optimum_json", ":material/data_object:",
                 "The chosen design, its KPIs' means and 95% CIs on fresh replications, the constraints met, the "
                 "guarantee, the command and the scenario (as `supportsim optimise` writes it)."),
        Download("trials.csv", lambda: optimising.trials_csv(result), "_trials.csv", "text/csv", "dl_trials_csv",
                 ":material/table:", "One row per trial: the design, every KPI's search mean, feasible or not."),
    ]
    if result.chosen is not None:
        buttons.append(Download(
            "optimum.toml", lambda: optimising.optimum_toml_bytes(result), "_optimum.toml", "application/toml",
            "dl_optimum_toml", ":material/description:",
            f"The scenario with the chosen design added as policy {kit.code(result.optimised_name())}: "
            "`supportsim run` on it reproduces the selection's runs."))
    download_row(stem, buttons)
    st.caption("The same optimisation from the command line:")
    st.code(result.command or "", language="bash", wrap_lines=True)


def deck_optimum(scenario: Any) -> Callable[[], Optimum | None]:
    """For the deck download: a function giving the last optimisation the tab showed for the
    scenario on screen (None if there is none), looked up when the deck is made."""
    box = st.session_state.setdefault(LAST, {})
    sha = scenario_hash(scenario)

    def get() -> Optimum | None:
        key = box.get(sha)
        result = StreamlitCache().get(key, 0) if key else None
        return optimum_of(result) if result is not None else None

    return get


__all__ = ["deck_optimum", "optimise_tab", "show_result"]
