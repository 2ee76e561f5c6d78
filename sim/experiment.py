"""Replications of every policy of a scenario: the Monte Carlo layer.

Where it sits: scenario -> model -> **experiment** -> metrics / results. Each job is one
(policy, replication) pair; its randomness depends only on (seed, replication, stream), so
results are identical whatever the number of processes and the order jobs finish in, and
replication r of every policy shares its random streams (common random numbers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pandas as pd

from sim import guardrails, metrics, model
from sim.scenario import Policy, reference_policy, resolve_policies, scenario_hash
from sim.schema import Params, Scenario


@dataclass(frozen=True)
class Job:
    policy: str
    replication: int
    params: Params
    months: int
    seed: int


def run_job(job: Job) -> pd.DataFrame:
    """Run one (policy, replication) and return its monthly rows as a table."""
    rows = model.run(job.params, months=job.months, seed=job.seed, replication=job.replication)
    df = pd.DataFrame(rows)
    df.insert(0, "replication", job.replication)
    df.insert(0, "policy", job.policy)
    return df


def jobs(policies: list[Policy], *, replications: int, months: int, seed: int, first: int = 0) -> list[Job]:
    """Jobs in replication-major order, so early results cover every policy."""
    return [
        Job(p.name, r, p.params, months, seed)
        for r in range(first, first + replications)
        for p in policies
    ]


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def execute(job_list: list[Job], *, workers: int = 1) -> Iterator[tuple[Job, pd.DataFrame]]:
    """Yield (job, table) as jobs finish, in submission order (so output is deterministic)."""
    if workers <= 1 or len(job_list) <= 1:
        for job in job_list:
            yield job, run_job(job)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(job_list))) as pool:
        yield from zip(job_list, pool.map(run_job, job_list))


@dataclass
class Results:
    """Everything a run of a scenario produced."""

    scenario: Scenario
    scenario_sha256: str
    seed: int
    replications: int
    policies: list[str]
    reference: str
    monthly: pd.DataFrame
    kpis: pd.DataFrame

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        return metrics.summarize(self.kpis, self.policies)

    def differences(self) -> dict[str, dict[str, dict]]:
        return metrics.paired_differences(self.kpis, self.reference, self.policies)


def run_scenario(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
) -> Results:
    """Run every policy of ``scenario`` for ``replications`` replications (default: the file's)."""
    reps = replications or scenario.run.replications
    seed = scenario.run.seed if seed is None else seed
    guardrails.check(scenario, reps, max_work)
    policies = resolve_policies(scenario)
    job_list = jobs(policies, replications=reps, months=scenario.run.months, seed=seed)
    tables = []
    for done, (_, table) in enumerate(execute(job_list, workers=workers), start=1):
        tables.append(table)
        if on_progress:
            on_progress(done, len(job_list))
    order = {p.name: i for i, p in enumerate(policies)}
    monthly = pd.concat(tables, ignore_index=True)
    monthly = monthly.sort_values(
        ["policy", "replication", "month"], key=lambda s: s.map(order) if s.name == "policy" else s, kind="stable"
    ).reset_index(drop=True)
    return Results(
        scenario=scenario,
        scenario_sha256=scenario_hash(scenario),
        seed=seed,
        replications=reps,
        policies=[p.name for p in policies],
        reference=reference_policy(scenario),
        monthly=monthly,
        kpis=metrics.kpi_table(monthly),
    )
