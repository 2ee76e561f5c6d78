"""Replications of every policy of a scenario: the Monte Carlo layer.

Where it sits: scenario -> model -> **experiment** -> metrics / results. Each job is one
(policy, replication) pair; its randomness depends only on (seed, replication, stream), so
results are identical whatever executor ran it (serial, local processes, Dask) and in
whatever order jobs finish, and replication r of every policy shares its random streams
(common random numbers, so policy differences are paired).

:func:`run_scenario` keeps every monthly row in memory and returns :class:`Results`
(what the app, the report and the tests use). :func:`sim.output.files.run_to_dir` streams
each finished replication to disk instead (the CLI's ``run``) and can keep adding
replications until a KPI is known precisely enough (:class:`Precision`, declared here).

This module never prints; progress goes through the ``on_progress(done, total)`` callback of
the :class:`~sim.runs.options.RunOptions` every run function takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from sim.engine import model
from sim.params.scenario import Policy, ScenarioError, reference_policy, resolve_policies, scenario_hash
from sim.params.schema import Params, Scenario
from sim.runs import guardrails, metrics
from sim.runs.executors import Executor, default_workers, use_executor
from sim.runs.options import SERIAL, RunOptions
from sim.runs.results import Results

__all__ = [
    "Job", "Precision", "Results", "default_workers", "execute", "jobs", "run_job",
    "run_job_kpis", "run_scenario",
]


@dataclass(frozen=True)
class Job:
    """One model run: a policy's parameters in one replication.

    ``crn=False`` salts the random streams with the policy name, switching common random
    numbers off (only for demonstrating what CRN buys).
    """

    policy: str
    replication: int
    params: Params
    months: int
    seed: int
    crn: bool = True


def _labelled(rows: list[dict[str, Any]], job: Job) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df.insert(0, "replication", job.replication)
    df.insert(0, "policy", job.policy)
    return df


def _run_model(job: Job, segments: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    rows = model.run(job.params, months=job.months, seed=job.seed, replication=job.replication,
                     crn_salt=None if job.crn else job.policy, segments=segments)
    return _labelled(rows, job)


def run_job(job: Job) -> pd.DataFrame:
    """Run one (policy, replication) and return its monthly rows as a table."""
    return _run_model(job)


def run_job_tables(job: Job) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one (policy, replication): its monthly rows and its rows per (month, segment)."""
    segments: list[dict[str, Any]] = []
    monthly = _run_model(job, segments)
    return monthly, _labelled(segments, job)


def run_aggregates(monthly: pd.DataFrame) -> dict[str, float]:
    """Per-run figures beyond the KPIs that experiments need (staffing questions).

    ``sla_met_share``: the KPI of that name (:func:`sim.runs.metrics.sla_met_share`), for tables
    of aggregates alone; ``support_cost_per_month``: mean monthly support cost (USD);
    ``agents_mean``: mean agents on duty.
    """
    return {
        "sla_met_share": metrics.sla_met_share(monthly),
        "support_cost_per_month": float(monthly["support_cost"].mean()),
        "agents_mean": float(monthly["agents"].mean()),
    }


def run_job_kpis(job: Job) -> dict[str, float]:
    """Run one job and keep only its KPIs (and :func:`run_aggregates`): what sweeps need."""
    monthly = _run_model(job)
    return {**metrics.run_kpis(monthly), **run_aggregates(monthly)}


def run_job_with_kpis(job: Job) -> tuple[pd.DataFrame, dict[str, float], pd.DataFrame]:
    """Run one job; its monthly rows, its KPIs (computed in the worker) and its segment rows."""
    monthly, segments = run_job_tables(job)
    return monthly, metrics.run_kpis(monthly), segments


def jobs(policies: list[Policy], *, replications: int, months: int, seed: int, first: int = 0,
         crn: bool = True) -> list[Job]:
    """Jobs in replication-major order, so early results cover every policy."""
    return [
        Job(p.name, r, p.params, months, seed, crn)
        for r in range(first, first + replications)
        for p in policies
    ]


def execute(job_list: list[Job], *, workers: int = 1, executor: Executor | None = None,
            fn: Callable[[Job], Any] = run_job) -> Iterator[tuple[Job, Any]]:
    """Yield (job, fn(job)) in submission order (so output is deterministic).

    Results that finish early wait in a buffer until their turn; with jobs of similar
    length the buffer stays about as small as the number of workers.
    """
    with use_executor(executor, workers=workers) as ex:
        buffer: dict[int, Any] = {}
        nxt = 0
        for i, result in ex.imap_unordered(fn, job_list):
            buffer[i] = result
            while nxt in buffer:
                yield job_list[nxt], buffer.pop(nxt)
                nxt += 1


def _policy_order(policies: Sequence[str]) -> Callable[[pd.Series], pd.Series]:
    order = {p: i for i, p in enumerate(policies)}
    return lambda s: s.map(order) if s.name == "policy" else s


def run_scenario(
    scenario: Scenario,
    *,
    options: RunOptions = SERIAL,
    crn: bool = True,
    plots: bool = False,
) -> Results:
    """Run every policy of ``scenario`` (``options``: replications, seed, where; default the
    file's, serial).

    Everything is kept in memory; for large runs use :func:`sim.output.files.run_to_dir`.
    Results are identical whichever executor ``options`` names. ``plots``: the caller will draw
    the run's figures, so the guardrail counts them too.
    """
    reps = options.replications_for(scenario)
    seed = options.seed_for(scenario)
    guardrails.check(scenario, reps, options.max_work, plots=plots)
    policies = resolve_policies(scenario)
    job_list = jobs(policies, replications=reps, months=scenario.run.months, seed=seed, crn=crn)
    tables, segment_tables = [], []
    with options.pool() as ex:
        for done, (_, (table, segments)) in enumerate(execute(job_list, executor=ex, fn=run_job_tables), start=1):
            tables.append(table)
            segment_tables.append(segments)
            if options.on_progress:
                options.on_progress(done, len(job_list))
    res = results_from_tables(scenario, tables, replications=reps, seed=seed, policies=[p.name for p in policies])
    segments = pd.concat(segment_tables, ignore_index=True)
    order = ["policy", "replication", "month"]
    res.segments = segments.sort_values(order, key=_policy_order(res.policies), kind="stable").reset_index(drop=True)
    return res


def results_from_tables(scenario: Scenario, tables: Sequence[pd.DataFrame], *, replications: int,
                        seed: int | None = None, policies: Sequence[str] | None = None) -> Results:
    """Results from finished (policy, replication) tables, in policy, replication, month order.

    ``policies``: the scenario's policy names when the caller has already resolved them.
    """
    names = list(policies) if policies is not None else [p.name for p in resolve_policies(scenario)]
    monthly = pd.concat(tables, ignore_index=True)
    monthly = monthly.sort_values(["policy", "replication", "month"], key=_policy_order(names),
                                  kind="stable").reset_index(drop=True)
    return Results(
        scenario=scenario,
        scenario_sha256=scenario_hash(scenario),
        seed=scenario.run.seed if seed is None else seed,
        replications=replications,
        policies=names,
        reference=reference_policy(scenario),
        monthly=monthly,
        kpis=metrics.kpi_table(monthly),
    )


# ---------------------------------------------------------------------------- precision mode


@dataclass(frozen=True)
class Precision:
    """Stop rule: add replications until the 95% CI half-width of ``kpi`` is at most ``target``.

    ``relative``: ``target`` is a fraction of |mean| (0.02 = 2%), else in the KPI's unit.
    ``on="means"`` checks every policy's mean; ``on="differences"`` every paired difference
    vs the reference policy (an absolute target suits differences near zero).
    ``max_replications`` caps the run whether or not the target is met.
    """

    target: float
    kpi: str = "value_usd"
    relative: bool = True
    on: Literal["means", "differences"] = "means"
    max_replications: int = 200

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.target, (int, float)) and math.isfinite(self.target) and self.target > 0):
            problems.append(f"--precision: target must be a positive number (got {self.target!r})")
        if self.kpi not in metrics.KPIS:
            problems.append(f"--precision-kpi: unknown KPI {self.kpi!r}; allowed values: {', '.join(metrics.KPIS)}")
        if self.on not in ("means", "differences"):
            problems.append(f"--precision-on: allowed values: 'means', 'differences' (got {self.on!r})")
        if not (2 <= self.max_replications <= 10_000):
            problems.append(f"--max-replications: allowed range [2, 10000] (got {self.max_replications})")
        if problems:
            raise ScenarioError(problems, "precision")

    @classmethod
    def parse(cls, text: str, **kwargs: Any) -> Precision:
        """``"2%"`` (relative) or ``"5000"`` (absolute, in the KPI's unit)."""
        raw = text.strip()
        relative = raw.endswith("%")
        try:
            value = float(raw[:-1] if relative else raw)
        except ValueError:
            raise ScenarioError(
                [f"--precision: expected a positive number or a percentage like 2% (got {text!r})"], "precision"
            ) from None
        return cls(target=value / 100 if relative else value, relative=relative, **kwargs)

    def half_widths(self, kpis: pd.DataFrame, policies: list[str], reference: str) -> dict[str, float]:
        """Current half-width (relative if ``relative``) per policy, or per policy vs reference."""
        out = {}
        if self.on == "means":
            stats = {p: metrics.t_interval(kpis.loc[kpis["policy"] == p, self.kpi]) for p in policies}
        else:
            diffs = metrics.paired_differences(kpis, reference, policies)
            stats = {p: d[self.kpi] for p, d in diffs.items()}
        for p, s in stats.items():
            half = (s["ci_high"] - s["ci_low"]) / 2
            if self.relative:
                half = half / abs(s["mean"]) if s["mean"] else float("inf")
            out[p] = float(half) if half == half else float("inf")  # NaN (n < 2): not yet known
        return out

    def next_total(self, current: int, widths: dict[str, float]) -> int:
        """Replications to have after the next round (a function of the data only, so every
        executor takes the same path): half-widths shrink like 1/sqrt(n), so aim for
        n x (width / target)^2, at least one more, at most double, never above the cap."""
        worst = max(widths.values()) if widths else float("inf")
        if not math.isfinite(worst):
            aim = 2 * current
        else:
            aim = math.ceil(current * (worst / self.target) ** 2)
        return min(self.max_replications, max(current + 1, min(aim, 2 * current)))

    def report(self, replications: int, widths: dict[str, float]) -> dict[str, Any]:
        return {
            "kpi": self.kpi, "target": self.target, "relative": self.relative, "on": self.on,
            "max_replications": self.max_replications, "replications": replications,
            "met": bool(widths) and all(w <= self.target for w in widths.values()),
            "half_width": widths,
        }
