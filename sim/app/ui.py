"""Streamlit pieces the page's parts share: the server's caches, widget state that outlives a
tab, rows of downloads, analysis figures and a coloured policy heading.

Where it sits: under ``app.py``, :mod:`sim.app.sidebar` and :mod:`sim.app.tabs`, over the
logic modules (:mod:`sim.app.procs`, :mod:`sim.app.drawing`, :mod:`sim.app.sources`). The
caches are made on first use, inside a Streamlit server: worker processes that import the
page's modules must not register them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import streamlit as st

from sim.app import drawing, optimising, procs, sources
from sim.app.kit import text


@functools.cache
def caches() -> SimpleNamespace:
    """The page's Streamlit caches and resources (made once per server)."""

    @st.cache_resource(show_spinner="Starting the simulation workers…")
    def worker_pool(workers: int, max_memory: int) -> Any:  # a new cap, a new pool
        return procs.make_pool(workers)

    @st.cache_data(show_spinner=False, max_entries=64)
    def shipped_source(name: str) -> sources.Source:
        return sources.load_source(sources.shipped_scenarios()[name])

    @st.cache_data(show_spinner=False, max_entries=16)
    def uploaded_source(name: str, content: bytes) -> sources.Source:
        return sources.load_upload(name, content)

    @st.cache_resource(show_spinner=False)
    def figure_pool() -> Any:
        return procs.make_figure_pool()

    @st.cache_data(show_spinner=False, max_entries=128)
    def figure_png(sha: str, replications: int, name: str, _res: Any) -> bytes:
        # keyed by the full scenario hash (the footer shows it) and the replications drawn;
        # drawn in the figure process, so that the server keeps sending the page meanwhile
        return drawing.display_png(figure_pool(), _res, name, dpi=drawing.DISPLAY_DPI)

    @st.cache_data(show_spinner=False, max_entries=32)
    def decision_png(key: str, name: str, _result: Any) -> bytes:
        # keyed by the analysis' cache key (scenario, uncertainty table, samples)
        return drawing.draw_bytes(lambda: drawing.decision_figure(_result, name), "png", dpi=drawing.DISPLAY_DPI)

    @st.cache_data(show_spinner=False, max_entries=64)
    def optimise_png(key: str, name: str, _result: Any) -> bytes:
        # keyed by the optimisation's cache key (scenario, request)
        return drawing.draw_bytes(lambda: optimising.figure(_result, name), "png", dpi=drawing.DISPLAY_DPI)

    return SimpleNamespace(worker_pool=worker_pool, shipped_source=shipped_source, uploaded_source=uploaded_source,
                           figure_png=figure_png, decision_png=decision_png, optimise_png=optimise_png)


def worker_pool() -> Any:
    """The server's pool of simulation workers (one per worker count and memory cap)."""
    return caches().worker_pool(procs.app_workers(), procs.app_max_memory())


# ---------------------------------------------------------------- widget state


# A widget's last value, kept for the runs that do not draw it (a closed sidebar group, another
# tab): Streamlit forgets the state of a widget a run does not draw.
KEPT = "_kept:"


def last_value(key: str, default: Any = None) -> Any:
    """Widget ``key``'s value: its state if drawn last run, else its kept value, else ``default``."""
    return st.session_state.get(key, st.session_state.get(KEPT + key, default))


def reset_controls() -> None:
    for key in [k for k in st.session_state if str(k).startswith(("p:", KEPT + "p:"))]:
        del st.session_state[key]


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


# ---------------------------------------------------------------- elements


def policy_heading(label: str, color: str, tag: str = "", *, size: str = "1.1em", tag_below: bool = False) -> None:
    """A policy's coloured dot and its label (and a grey ``tag``: after it, or on a line of its
    own with ``tag_below``, so that cards side by side start their rows at the same height). The
    dot is HTML made of constants only; the label and tag, user text, are Markdown shown literally."""
    with st.container(horizontal=True, gap=None, wrap=False, vertical_alignment="top" if tag_below else "center"):
        st.html(f"<span style='color:{color};font-size:{size};line-height:{1.5 if tag_below else 1}'>●</span>",
                width="content")
        sep = "  \n" if tag_below else " "
        st.markdown(f"**{text(label)}**" + (f"{sep}:gray[{text(tag)}]" if tag else ""), width="stretch")


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


def analysis_figure(name: str, draw: Any, png: bytes) -> None:
    """An analysis figure with its PNG/SVG downloads (redrawn on click)."""
    st.image(png, width="stretch")
    with st.container(horizontal=True, gap="small"):
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(fmt.upper(), data=lambda fmt=fmt: drawing.draw_bytes(draw, fmt),
                               file_name=f"{name}.{fmt}", mime=mime, key=f"dl_{name}_{fmt}",
                               icon=":material/download:", type="tertiary", on_click="ignore")
