"""How to run: the options every verb shares, declared once and passed through the library.

Where it sits: **runs**. :func:`sim.runs.experiment.run_scenario`,
:func:`sim.output.files.run_to_dir`, the studies (:func:`sim.runs.studies.sweep`,
:func:`~sim.runs.studies.breakeven`, :func:`sim.runs.tornado.sensitivity`,
:func:`sim.runs.staffing.staff`), :func:`sim.decision.psa.run_decision` and
:func:`sim.runs.optimise.optimise` each take one ``options=RunOptions(...)``: how many
replications, which seed, where the runs execute (serial, local processes, a Dask cluster or
an executor the caller manages), the work limit and the progress callback. The CLI builds it
from its arguments (:func:`sim.cli.common.run_options`), the app from its settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sim.params.scenario import ScenarioError
from sim.params.schema import Scenario
from sim.runs.executors import Executor, use_executor


@dataclass(frozen=True)
class RunOptions:
    """``replications`` / ``seed``: None keeps the scenario file's (``decide`` and ``optimise``
    count replications per sample or per design, default 1 and 4); ``workers``: local processes
    (1 = serial, the library's default; 0 = all cores); ``cluster``: a Dask scheduler address
    instead; ``executor``: an executor the caller opened and closes (used as it is, never
    closed here); ``max_work``: the guardrail's limit in customer-months (None =
    $SUPPORTSIM_MAX_WORK or the default); ``on_progress(done, total)``: called as runs finish.
    Results are identical whichever executor runs them."""

    replications: int | None = None
    seed: int | None = None
    workers: int = 1
    cluster: str | None = None
    executor: Executor | None = None
    max_work: int | None = None
    on_progress: Callable[[int, int], None] | None = None

    def replications_for(self, scenario: Scenario, default: int | None = None) -> int:
        """The replications to run: these options', else ``default``, else the file's."""
        if self.replications is None:
            return default or scenario.run.replications
        if isinstance(self.replications, bool) or not isinstance(self.replications, int) or self.replications < 1:
            raise ScenarioError([f"--replications: must be a whole number of at least 1 (got {self.replications!r})"],
                                "--replications")
        return self.replications

    def seed_for(self, scenario: Scenario) -> int:
        """The seed to run with: these options', else the file's."""
        return scenario.run.seed if self.seed is None else int(self.seed)

    def pool(self) -> Executor:
        """Where the runs execute, as a context manager: the caller's executor (left open) or a
        new serial, process or Dask executor closed on exit."""
        return use_executor(self.executor, workers=self.workers, cluster=self.cluster)

    def but(self, **changes: Any) -> RunOptions:
        """These options with ``changes`` (field=value)."""
        return replace(self, **changes)

    def overrides(self) -> list[str]:
        """``seed`` and ``replications`` as ``run.*`` overrides, so the resolved scenario records them."""
        out = []
        if self.seed is not None:
            out.append(f"run.seed={self.seed}")
        if self.replications is not None:
            out.append(f"run.replications={self.replications}")
        return out


SERIAL = RunOptions()
"""The library's default: the file's replications and seed, serial, the default work limit."""
