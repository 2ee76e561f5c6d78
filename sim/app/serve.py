"""Start the app's server warm: ``python -m sim.app.serve [streamlit options]`` (``make app``).

Where it sits: a launcher beside the page (``app.py``), in the app layer. ``streamlit run
app.py`` starts a server that imports nothing until the first page opens; the first visitor
then waits for every import of the page (pandas, matplotlib, scipy, the simulation) and for
the simulation workers to start. This launcher does both before the server takes visitors:
it imports what the page imports, starts the worker pool (:func:`sim.app.procs.prewarm_pool`)
and the figure process (:func:`sim.app.procs.prewarm_figure_pool`), draws one throw-away
figure (fonts, the Agg canvas), waits for the workers to be ready,
then hands over to Streamlit's own command line, in this process, so the page finds it all
in place. Any option ``streamlit run`` takes is passed on::

    python -m sim.app.serve --server.port 8501 --browser.gatherUsageStats false
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from streamlit.web import cli as streamlit_cli  # noqa: E402

# What the page imports, so that its first run finds the modules loaded.
from sim.app import drawing, kit, procs, sidebar, sources, store, tabs, views  # noqa: E402, F401
from sim.output import deck, figures, plots, report  # noqa: E402, F401
from sim.runs import staffing, studies, tornado  # noqa: E402, F401

PAGE = Path(__file__).resolve().parents[2] / "app.py"


WARM_TIMEOUT_S = 120.0


def warm() -> None:
    """Start the worker pool and draw the throw-away figure, and wait (at most
    :data:`WARM_TIMEOUT_S`) for the workers to be ready: the server takes visitors only then, so
    the first page does not wait for worker processes to start. A pool that fails to start is
    left to the page, which starts one itself and reports what goes wrong."""
    started = procs.prewarm_pool(procs.app_workers())
    figures_started = procs.prewarm_figure_pool()
    drawn = threading.Thread(target=drawing.warm_figures, name="supportsim-warm-figure", daemon=True)
    drawn.start()
    try:
        started.result(timeout=WARM_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - the page starts its own pool and shows the error
        pass
    drawn.join(timeout=WARM_TIMEOUT_S)
    try:
        figures_started.result(timeout=WARM_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - the page draws its figures itself then
        pass


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("SUPPORTSIM_APP_PREWARM", "1") != "0":
        warm()
    sys.argv = ["streamlit", "run", str(PAGE), *args]
    return streamlit_cli.main()


if __name__ == "__main__":
    sys.exit(main())
