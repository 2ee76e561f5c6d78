"""The app's figures: which ones each tab shows, drawn to PNG or SVG bytes, kept on disk.

Where it sits: results -> **drawing** (the figure registry :mod:`sim.output.figures`, the
decision plots) -> ``app.py`` and the tabs. The page's figures are drawn in a process of
their own (:mod:`sim.app.procs`): matplotlib holds the GIL for long stretches, and drawing in
the server's process stalled its web server, which also sends the browser the page's code;
on a fresh page whose runs were cached, the KPI cards showed 0.6-1.2 s later when the
figures were drawn in the server than when they were not drawn at all. Complete runs'
figures are kept in :mod:`sim.app.store`'s disk cache, checked before use.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sim.app.store import check_png, disk_store, entry_key
from sim.decision.psa import DecisionResult
from sim.output import decision_plots, figures, plots
from sim.runs.results import Results

DISPLAY_DPI = 100  # on-screen PNGs; downloads use the deck's 200 dpi
TABS = (*figures.FIGURE_TABS, "Sensitivity", "Decision", "Optimise", "Assumptions")
FigureSpec = figures.FigureSpec
DECISION_FIGURES = ("probability_best", "evppi", "decision_map")


def figure_specs(n_policies: int = 2) -> list[FigureSpec]:
    """The app's figures (those with a tab in the figure registry), in page order."""
    return [f for f in figures.applicable(n_policies) if f.tab is not None]


def figure_bytes(fig: Any, kind: Literal["png", "svg"], *, dpi: int | None = None) -> bytes:
    """A figure as PNG or SVG bytes, sized as :func:`sim.output.plots.save_figure` saves it."""
    bbox = None if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine) else "tight"
    buf = io.BytesIO()
    with plots.deck_style():
        fig.savefig(buf, format=kind, dpi=dpi or plots.DPI, bbox_inches=bbox,
                    metadata=plots.file_metadata(fig, kind))
    return buf.getvalue()


# matplotlib's rc parameters (the deck style's rc_context) are process-wide: one figure at a
# time, whichever session (or download thread) of the server asks.
MPL_LOCK = threading.Lock()


def draw_bytes(draw: Callable[[], Any], kind: Literal["png", "svg"], *, dpi: int | None = None) -> bytes:
    """Call ``draw`` (returns an Axes) and return the figure's bytes."""
    with MPL_LOCK:
        return figure_bytes(draw().figure, kind, dpi=dpi)


def render_figure(res: Results, name: str, kind: Literal["png", "svg"], *, dpi: int | None = None) -> bytes:
    """Draw figure ``name`` of ``res`` and return its bytes (the figure is closed)."""
    return draw_bytes(lambda: figures.draw(name, res), kind, dpi=dpi)


def warm_figures() -> int:
    """Draw one small figure and throw it away: loads the fonts and the canvas code (in a new
    figure process, and in the server's own process for downloads and analyses)."""
    draw_bytes(lambda: Figure(figsize=(2, 1)).add_subplot().plot([0, 1], [0, 1])[0].axes, "png", dpi=50)
    return os.getpid()


def render_figure_in(pool: ProcessPoolExecutor | None, res: Results, name: str, kind: Literal["png", "svg"], *,
                     dpi: int | None = None) -> bytes:
    """:func:`render_figure` in ``pool`` (the figure process), or here if there is none or it broke."""
    if pool is not None:
        try:
            return pool.submit(render_figure, res, name, kind, dpi=dpi).result()
        except (BrokenProcessPool, RuntimeError):
            pass
    return render_figure(res, name, kind, dpi=dpi)


def display_png(pool: ProcessPoolExecutor | None, res: Results, name: str, *, dpi: int) -> bytes:
    """Figure ``name`` of ``res`` as the page shows it: from the disk cache when drawn before
    (and still a PNG that decodes), else drawn in ``pool`` and, once every replication is in,
    kept there. Keyed by the package's source, the scenario hash, the replications, the
    figure, the dpi and the date in its footer, so that a freshly started server whose runs
    are on disk does not draw its first page's figures while the browser draws the page."""
    store = disk_store()
    if store is None or res.replications != res.scenario.run.replications:
        return render_figure_in(pool, res, name, "png", dpi=dpi)
    key = entry_key("figure", res.scenario_sha256, res.replications, name, dpi, plots.today())
    png = store.read("png", key, check_png)
    if png is None:
        png = render_figure_in(pool, res, name, "png", dpi=dpi)
        store.write("png", key, png)
    return png


def decision_figure(result: DecisionResult, name: str) -> Any:
    """Figure ``name`` of :data:`DECISION_FIGURES` (an Axes), as ``supportsim decide`` saves it."""
    for n, ax in decision_plots.decision_figures(result):  # drawn one at a time: stop at ``name``
        if n == name:
            return ax
    raise KeyError(name)
