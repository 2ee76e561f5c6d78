"""The evaluation grid every study runs on: cells (policy x parameter values) x replications.

Where it sits: **runs**, beneath ``sim.runs.studies`` (sweep, break-even), ``tornado``
(sensitivity) and ``staffing``. One :class:`Engine` runs cells on one executor with common
random numbers (replication r uses the same streams at every point and for every policy, so
differences are paired and curves smooth); :func:`check_points` is the guardrail over every point
of a study, each with its own parameters; :func:`paired` the paired t-interval of a difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.params.scenario import ScenarioError, reference_policy, resolve_policies
from sim.params.schema import Params, Scenario
from sim.runs import guardrails, metrics
from sim.runs.executors import Executor
from sim.runs.experiment import Job, run_job_kpis
from sim.runs.paths import with_values

# ---------------------------------------------------------------------------- evaluation engine


@dataclass(frozen=True)
class Cell:
    """One policy at one set of parameter values."""

    values: tuple[tuple[str, Any], ...]
    policy: str


class Progress:
    def __init__(self, on_progress: Callable[[int, int], None] | None) -> None:
        self.on_progress = on_progress
        self.done = 0
        self.total = 0

    def grow(self, n: int) -> None:
        self.total += n
        if self.on_progress:
            self.on_progress(self.done, self.total)

    def step(self) -> None:
        self.done += 1
        if self.on_progress:
            self.on_progress(self.done, self.total)


class Engine:
    """Runs cells x replications on one executor; scenarios for each value set are cached."""

    def __init__(self, scenario: Scenario, *, replications: int | None, seed: int | None, crn: bool,
                 executor: Executor, progress: Progress,
                 resolved: Mapping[tuple[tuple[str, Any], ...], dict[str, Params]] | None = None) -> None:
        self.scenario = scenario
        self.replications = replications or scenario.run.replications
        self.seed = scenario.run.seed if seed is None else seed
        self.months = scenario.run.months
        self.crn = crn
        self.executor = executor
        self.progress = progress
        self._params: dict[tuple[tuple[str, Any], ...], dict[str, Params]] = dict(resolved or {})
        self._ids: dict[tuple[tuple[str, Any], ...], int] = {k: i for i, k in enumerate(self._params)}

    def params(self, values: tuple[tuple[str, Any], ...]) -> dict[str, Params]:
        """Resolved parameters of every policy at ``values`` (validated once, then cached)."""
        if values not in self._params:
            sc = with_values(self.scenario, dict(values))
            self._params[values] = {p.name: p.params for p in resolve_policies(sc)}
            self._ids[values] = len(self._ids)
        return self._params[values]

    def point(self, values: tuple[tuple[str, Any], ...]) -> int:
        """The ``_point`` id of a set of values in the tables :meth:`run` returns."""
        self.params(values)
        return self._ids[values]

    def run(self, cells: Sequence[Cell], partial: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        """One row per cell x replication: ``_point`` (see :meth:`point`), ``_values``, policy,
        replication, KPIs and :func:`sim.runs.experiment.run_aggregates`."""
        job_list: list[tuple[Cell, Job]] = []
        for r in range(self.replications):
            for cell in cells:
                params = self.params(cell.values)[cell.policy]
                job_list.append((cell, Job(cell.policy, r, params, self.months, self.seed, self.crn)))
        self.progress.grow(len(job_list))
        rows = partial if partial is not None else []
        for i, out in self.executor.imap_unordered(run_job_kpis, [j for _, j in job_list]):
            cell, job = job_list[i]
            rows.append({"_point": self._ids[cell.values], "_values": cell.values, "policy": cell.policy,
                         "replication": job.replication, **out})
            self.progress.step()
        return pd.DataFrame(rows)


def check_policies(scenario: Scenario, wanted: Iterable[str] | None) -> list[str]:
    names = [p.name for p in resolve_policies(scenario)]
    if wanted is None:
        return names
    wanted = list(wanted)
    bad = [w for w in wanted if w not in names]
    if bad or not wanted:
        raise ScenarioError([f"--policies: unknown policy {', '.join(map(repr, bad)) or '(none given)'}; "
                             f"allowed values: {', '.join(names)}"], "--policies")
    return [n for n in names if n in wanted] if len(set(wanted)) == len(wanted) else wanted


def check_kpi(kpi: str) -> str:
    if kpi not in metrics.KPIS:
        raise ScenarioError([f"--kpi: unknown KPI {kpi!r}; allowed values: {', '.join(metrics.KPIS)}"], "--kpi")
    return kpi


Key = tuple[tuple[str, Any], ...]


def point_label(key: Key) -> str:
    return " at " + ", ".join(f"{p}={v}" for p, v in key) if key else ""


def check_points(scenario: Scenario, policies: Sequence[str], keys: Sequence[Key], replications: int,
                  limit: int | None, *, more_runs: int = 0, counted: str, reduce: str) -> dict[Key, dict[str, Params]]:
    """The guardrail of :mod:`sim.runs.guardrails` over every point of a study, each with its own
    parameters (a point whose values compound the funnel or overload the desk costs what it
    costs, not what the base scenario would), ``replications`` runs of each of ``policies`` per
    point, and ``more_runs`` runs per policy beyond them (bisection points, counted at the
    dearest point). Returns every point's resolved parameters (validated once, for the engine)."""
    months = scenario.run.months
    runs = len(policies) * (len(keys) * replications + more_runs)
    floor = (guardrails.RUN_COST + guardrails.MONTH_COST * months) * runs  # fixed costs alone
    if floor > (guardrails.max_work() if limit is None else limit):  # refused before resolving every point
        guardrails.check_parts(guardrails.parts_of(scenario, runs // max(len(policies), 1), policies=list(policies)),
                               limit=limit, counted=counted, reduce=reduce)
    resolved: dict[Key, dict[str, Params]] = {}
    for key in keys:
        if key not in resolved:
            sc = with_values(scenario, dict(key))
            resolved[key] = {p.name: p.params for p in resolve_policies(sc)}
    parts = [guardrails.Part(f"{name!r}{point_label(key)}", guardrails.population_bound(params[name], months),
                             replications)
             for key, params in resolved.items() for name in policies]
    if more_runs and parts:
        dearest = max(parts, key=lambda p: p.estimate.work)
        parts += [guardrails.Part(f"{dearest.what} (bisection)", dearest.estimate, more_runs)]
    guardrails.check_parts(parts, limit=limit, counted=counted, reduce=reduce)
    return resolved


def interval(x: pd.Series | np.ndarray) -> dict[str, float]:
    return metrics.t_interval(np.asarray(x, dtype=float))


def paired(df: pd.DataFrame, kpi: str, policy_a: str, policy_b: str) -> dict[str, float]:
    """t-interval of kpi(policy_b) - kpi(policy_a), paired by replication."""
    a = df[df["policy"] == policy_a].set_index("replication")[kpi]
    b = df[df["policy"] == policy_b].set_index("replication")[kpi]
    common = a.index.intersection(b.index)
    return interval(b.loc[common] - a.loc[common])


def reference_of(scenario: Scenario, names: Sequence[str]) -> str:
    """The scenario's reference policy if it is among ``names``, else the first of them."""
    ref = reference_policy(scenario)
    return ref if ref in names else names[0]


def check_pair(scenario: Scenario, policy_a: str | None, policy_b: str | None) -> tuple[str, str]:
    """The two policies a paired study compares: ``policy_a`` (default: the reference) and
    ``policy_b`` (default: the first other policy), both known and different."""
    names = [p.name for p in resolve_policies(scenario)]
    policy_a = policy_a or reference_of(scenario, names)
    policy_b = policy_b or next((n for n in names if n != policy_a), None)
    pair = check_policies(scenario, [policy_a, policy_b] if policy_b else [policy_a])
    if len(pair) != 2 or policy_a == policy_b:
        raise ScenarioError(["--policies: need two different policies, e.g. --policies flat,per_ticket"], "--policies")
    return policy_a, policy_b
