"""How to run: the options every verb shares, declared once.

Where it sits: **runs**. ``run``, ``report`` and every study (sweep, break-even,
sensitivity, staff) take the same replications, seed, workers, cluster, work limit and
progress callback; the CLI builds one :class:`RunOptions` from its arguments and the app
from its settings, and hands ``options.kwargs()`` to the run functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.runs.executors import default_workers


@dataclass(frozen=True)
class RunOptions:
    """``replications`` / ``seed``: None keeps the scenario file's; ``workers``: local processes
    (0 = all cores, 1 = serial); ``cluster``: a Dask scheduler address instead; ``max_work``:
    the guardrail's limit in customer-months (None = $SUPPORTSIM_MAX_WORK or the default);
    ``on_progress(done, total)``: called as runs finish."""

    replications: int | None = None
    seed: int | None = None
    workers: int = 0
    cluster: str | None = None
    max_work: int | None = None
    on_progress: Callable[[int, int], None] | None = None

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`sim.runs.experiment.run_scenario`,
        :func:`sim.output.files.run_to_dir` and the study functions."""
        return {"replications": self.replications, "seed": self.seed,
                "workers": self.workers or default_workers(), "cluster": self.cluster,
                "max_work": self.max_work, "on_progress": self.on_progress}

    def overrides(self) -> list[str]:
        """``seed`` and ``replications`` as ``run.*`` overrides, so the resolved scenario records them."""
        out = []
        if self.seed is not None:
            out.append(f"run.seed={self.seed}")
        if self.replications is not None:
            out.append(f"run.replications={self.replications}")
        return out
