"""The ``Results`` type: everything a run of a scenario produced, in memory.

Where it sits: experiment (builds it) -> **results** -> output (files, plots, report),
app, cli. A plain record with the KPI summaries computed on demand by :mod:`sim.runs.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.params.schema import Scenario
from sim.runs import metrics


@dataclass
class Results:
    """Everything a run of a scenario produced.

    ``partial``: the run was interrupted; ``completed`` counts finished replications per
    policy and ``replications`` the replications every policy completed. ``precision``:
    the report of a precision-mode run (see :class:`Precision`).
    """

    scenario: Scenario
    scenario_sha256: str
    seed: int
    replications: int
    policies: list[str]
    reference: str
    monthly: pd.DataFrame
    kpis: pd.DataFrame
    partial: bool = False
    completed: dict[str, int] | None = None
    precision: dict[str, Any] | None = None
    segments: pd.DataFrame | None = None  # rows per (policy, replication, month, segment)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        return metrics.summarize(self.kpis, self.policies)

    def differences(self) -> dict[str, dict[str, dict]]:
        return metrics.paired_differences(self.kpis, self.reference, self.policies)

    def bridge(self) -> dict[str, dict[str, dict]]:
        return metrics.value_bridge(self.kpis, self.reference, self.policies)
