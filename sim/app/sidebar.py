"""The page's sidebar: the scenario picker and upload, and a control for every parameter.

Where it sits: a :class:`~sim.app.sources.Source` and the controls :mod:`sim.app.kit` makes
of it -> **sidebar** (Streamlit widgets) -> the values ``app.py`` turns into overrides. User
text (file names, policy and segment names) reaches labels and headings through
:func:`sim.app.kit.text` only.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from sim.app import calibration, kit, sources
from sim.app.ui import KEPT, caches, policy_heading, reset_controls
from sim.output.plots import policy_colors
from sim.params.scenario import ScenarioError


def choose_source() -> sources.Source:
    files = sources.shipped_scenarios()
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
        elif calibration.opened() is not None:  # a scenario calibrated on this page (sim.app.calibration)
            uploaded = caches().uploaded_source(*calibration.opened())
            st.info("Running the **calibrated scenario** from the page's calibration.", icon=":material/tune:")
            if st.button("Back to the shipped scenarios", key="calibrate_close"):
                del st.session_state[calibration.OPENED]
                st.rerun()
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
        st.error(f"**{kit.text(upload.name)}** is not a valid scenario, so it was not run:\n\n"
                 + kit.problem_list(upload_error.problems)
                 + f"\n\nThe results below are the last good scenario, **{kit.text(source.label)}**, not "
                   f"{kit.text(upload.name)}.", icon=":material/error:")
    if st.session_state.get("_source_id") != source.id:  # a new file: controls show its values
        reset_controls()
        st.session_state["_source_id"] = source.id
    return source


def draw_control(c: kit.Control, *, disabled: bool = False) -> Any:
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


def draw_section(section: kit.Section, values: dict[str, Any]) -> None:
    scheme = None
    for c in section.controls:
        disabled = bool(c.used_when) and scheme is not None and scheme != c.used_when
        values[c.path] = draw_control(c, disabled=disabled)
        st.session_state[KEPT + c.key] = values[c.path]
        if c.path.endswith(".pricing.scheme"):
            scheme = values[c.path]


def kept_values(group: kit.Group, values: dict[str, Any]) -> None:
    """A closed group's values without drawing its controls (the browser draws ~1,800 elements
    for all of them): the last shown value, else the file's."""
    for c in group.controls:
        values[c.path] = st.session_state.get(KEPT + c.key, c.value)


def draw_group(group: kit.Group, colors: dict[str, str], values: dict[str, Any]) -> None:
    """Plain sections one after another, then tabbed ones (policies, segments) as tabs."""
    tabbed = [s for s in group.sections if s.tab]
    for section in group.sections:
        if section.tab:
            continue
        if section.title:
            st.markdown(f"**{kit.text(section.title)}**")
        draw_section(section, values)
    if tabbed:
        st.markdown("**Policies**" if tabbed[0].tab in colors else "**Segments**")
        for tab, section in zip(st.tabs([kit.text(s.tab) for s in tabbed]), tabbed):
            with tab:
                if section.tab in colors:
                    policy_heading(section.tab, colors[section.tab])
                draw_section(section, values)


def sidebar_controls(source: sources.Source) -> tuple[list[kit.Group], dict[str, Any], dict[str, Any]]:
    groups = kit.control_groups(source.scenario)
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
