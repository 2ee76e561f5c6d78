"""Replications of every policy of a scenario: the Monte Carlo layer.

Where it sits: scenario -> model -> **experiment** -> metrics / results. Each job is one
(policy, replication) pair; its randomness depends only on (seed, replication, stream), so
results are identical whatever executor ran it (serial, local processes, Dask) and in
whatever order jobs finish, and replication r of every policy shares its random streams
(common random numbers, so policy differences are paired).

Two ways to run a scenario:

- :func:`run_scenario` keeps every monthly row in memory and returns :class:`Results`
  (what the app and the tests use for small runs);
- :func:`run_to_dir` streams each finished replication to disk as it arrives (memory
  stays flat however many replications), can keep adding replications until a KPI is
  known precisely enough (:class:`Precision`), and on Ctrl-C keeps the replications
  already finished, marked partial. The CLI's ``run`` uses it.

This module never prints; progress goes through an ``on_progress(done, total)`` callback.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim.engine import model
from sim.params.scenario import Policy, ScenarioError, reference_policy, resolve_policies, scenario_hash
from sim.params.schema import Params, Scenario
from sim.runs import guardrails, metrics
from sim.runs.executors import Executor, default_workers, use_executor

__all__ = [
    "Interrupted", "Job", "Precision", "Results", "default_workers", "execute", "jobs", "run_job",
    "run_job_kpis", "run_scenario", "run_to_dir",
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

    ``sla_met_share``: tickets answered within their SLA / tickets answered, over the whole
    run (month shares weighted by tickets answered); ``support_cost_per_month``: mean monthly
    support cost (USD); ``agents_mean``: mean agents on duty.
    """
    served = monthly["tickets_resolved"].to_numpy(dtype=float)
    share = monthly["sla_met_share"].to_numpy(dtype=float)
    met = np.nansum(share * served)
    total = served[np.isfinite(share)].sum()
    return {
        "sla_met_share": float(met / total) if total else float("nan"),
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


def _policy_order(policies: Sequence[str]) -> Callable[[pd.Series], pd.Series]:
    order = {p: i for i, p in enumerate(policies)}
    return lambda s: s.map(order) if s.name == "policy" else s


def run_scenario(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
    executor: Executor | None = None,
    cluster: str | None = None,
    crn: bool = True,
) -> Results:
    """Run every policy of ``scenario`` for ``replications`` replications (default: the file's).

    Everything is kept in memory; for large runs use :func:`run_to_dir`. ``workers`` > 1
    runs local processes (0: all cores), ``cluster`` a Dask scheduler address, ``executor``
    an executor the caller manages; results are identical under all of them.
    """
    reps = replications or scenario.run.replications
    seed = scenario.run.seed if seed is None else seed
    guardrails.check(scenario, reps, max_work)
    policies = resolve_policies(scenario)
    job_list = jobs(policies, replications=reps, months=scenario.run.months, seed=seed, crn=crn)
    tables, segment_tables = [], []
    executor_cm = use_executor(executor, workers=workers, cluster=cluster)
    with executor_cm as ex:
        for done, (_, (table, segments)) in enumerate(execute(job_list, executor=ex, fn=run_job_tables), start=1):
            tables.append(table)
            segment_tables.append(segments)
            if on_progress:
                on_progress(done, len(job_list))
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


# ---------------------------------------------------------------------------- streaming runs


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_to_dir`: the finished replications were written, marked partial."""

    def __init__(self, results: Results, out_dir: Path) -> None:
        super().__init__(f"{sum((results.completed or {}).values())} finished runs kept in {out_dir} (partial)")
        self.results = results
        self.out_dir = out_dir


class MonthlySpool:
    """Monthly rows of finished runs, appended to a file as they arrive, any order.

    Only a byte range per (policy, replication) is kept in memory; :meth:`assemble` copies
    the ranges into the final CSV in (policy, replication) order, so the file is the same
    bytes whatever order the runs finished in, and the same bytes
    :func:`sim.output.files.write_results` writes for the same runs.
    """

    def __init__(self, path: Path, write_table: Callable[[pd.DataFrame, Any], None]) -> None:
        self.path = path
        self._write_table = write_table
        self._file = open(path, "wb")  # noqa: SIM115 - closed in assemble/close
        self.header: bytes | None = None
        self.ranges: dict[tuple[str, int], tuple[int, int]] = {}

    def add(self, policy: str, replication: int, table: pd.DataFrame) -> None:
        buf = io.StringIO()
        self._write_table(table, buf)
        header, body = buf.getvalue().encode().split(b"\n", 1)
        if self.header is None:
            self.header = header
        elif header != self.header:
            raise RuntimeError(f"run {policy}/{replication} has different columns from the first run")
        start = self._file.tell()
        self._file.write(body)
        self.ranges[(policy, replication)] = (start, len(body))

    def assemble(self, out: Path, policies: Sequence[str]) -> None:
        self._file.close()
        with open(self.path, "rb") as src, open(out, "wb") as dst:
            if self.header is not None:
                dst.write(self.header + b"\n")
            order = {p: i for i, p in enumerate(policies)}
            for key in sorted(self.ranges, key=lambda k: (order[k[0]], k[1])):
                start, length = self.ranges[key]
                src.seek(start)
                dst.write(src.read(length))
        self.path.unlink()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def run_to_dir(
    scenario: Scenario,
    out_dir: Path | str,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    cluster: str | None = None,
    executor: Executor | None = None,
    precision: Precision | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
    plots: bool = True,
    crn: bool = True,
    keep_partial: bool = False,
) -> Results:
    """Run every policy of ``scenario`` and write monthly.csv, kpis.csv, summary.json and
    plots/ into ``out_dir``, streaming each finished run to disk.

    The folder is replaced atomically when the run ends. With ``precision`` replications
    are added in rounds until the rule is met or its cap is reached (``replications`` is
    then the first round, at least 3). On Ctrl-C (KeyboardInterrupt) the previous output is
    left as it was, unless ``keep_partial``: then the runs already finished replace it,
    marked ``"partial": true`` in summary.json, and :class:`Interrupted` is raised.
    The returned :class:`Results` holds the KPI table; ``monthly`` is read back from disk
    only when plots are drawn, else it is empty.
    """
    from sim.output import files as rs  # results imports this module: import at call time

    out_dir = Path(out_dir)
    reps = replications or scenario.run.replications
    seed = scenario.run.seed if seed is None else seed
    if precision is not None:
        reps = min(max(reps, 3), precision.max_replications)
    guardrails.check(scenario, precision.max_replications if precision else reps, max_work)
    policies = resolve_policies(scenario)
    names = [p.name for p in policies]
    res = Results(scenario=scenario, scenario_sha256=scenario_hash(scenario), seed=seed, replications=0,
                  policies=names, reference=reference_policy(scenario), monthly=pd.DataFrame(),
                  kpis=pd.DataFrame(columns=["policy", "replication", *metrics.RUN_COLUMNS]))
    kpi_rows: dict[tuple[str, int], dict[str, float]] = {}
    report: dict[str, Any] | None = None
    interrupted = False
    executor_cm = use_executor(executor, workers=workers, cluster=cluster)

    with rs.atomic_dir(out_dir) as tmp:
        # each run's rows go through the same writer as write_results (same columns and format)
        spool = MonthlySpool(tmp / ".monthly.spool", lambda df, buf: rs.write_monthly_csv(replace(res, monthly=df), buf))
        segment_spool = MonthlySpool(tmp / ".segments.spool", lambda df, buf: rs.write_table(df, res, buf))
        try:
            with executor_cm as ex:
                done, total, have = 0, len(policies) * reps, 0
                target = reps
                while True:
                    batch = jobs(policies, replications=target - have, months=scenario.run.months, seed=seed,
                                 first=have, crn=crn)
                    for i, (monthly, kpis, segments) in ex.imap_unordered(run_job_with_kpis, batch):
                        job = batch[i]
                        spool.add(job.policy, job.replication, monthly)
                        kpi_rows[(job.policy, job.replication)] = kpis
                        segment_spool.add(job.policy, job.replication, segments)
                        done += 1
                        # in precision mode the last run of a round is reported once the next
                        # round's size is known, so a progress bar never sees done == total early
                        if on_progress and (precision is None or done < total):
                            on_progress(done, total)
                    have = target
                    if precision is None:
                        break
                    widths = precision.half_widths(_kpi_frame(kpi_rows, names), names, res.reference)
                    report = precision.report(have, widths)
                    if report["met"] or have >= precision.max_replications:
                        if on_progress:
                            on_progress(done, done)
                        break
                    target = precision.next_total(have, widths)
                    total = len(policies) * target
                    if on_progress:
                        on_progress(done, total)
        except KeyboardInterrupt:
            spool.close()
            segment_spool.close()
            if not keep_partial:
                raise
            interrupted = True
        spool.close()
        spool.assemble(tmp / "monthly.csv", names)
        segment_spool.close()
        segment_spool.assemble(tmp / "segments.csv", names)
        kpi_df = _kpi_frame(kpi_rows, names)
        completed = {p: int((kpi_df["policy"] == p).sum()) for p in names}
        full = _complete_replications(kpi_df, names)
        if precision is not None and report is not None and interrupted:
            report = {**report, "interrupted": True}
        res = replace(res, replications=full, kpis=kpi_df, partial=interrupted, completed=completed,
                      precision=report)
        rs.write_table(kpi_df, res, tmp / "kpis.csv")
        summary = rs.summary_dict(res)
        summary.update(_json_safe({"partial": interrupted, "replications_completed": completed,
                                   "precision": report}))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        if plots and len(kpi_df):
            from sim.output import plots as plotting

            res = replace(res, monthly=_read_monthly(tmp / "monthly.csv", rs.provenance_columns(res)))
            plotting.save_standard_plots(res, tmp / "plots")
    if interrupted:
        raise Interrupted(res, out_dir)
    return res


def _kpi_frame(rows: dict[tuple[str, int], dict[str, float]], policies: Sequence[str]) -> pd.DataFrame:
    """KPI rows in (policy, replication) order, the layout of :func:`metrics.kpi_table`."""
    order = {p: i for i, p in enumerate(policies)}
    keys = sorted(rows, key=lambda k: (order[k[0]], k[1]))
    df = pd.DataFrame([{"policy": p, "replication": r, **rows[(p, r)]} for p, r in keys],
                      columns=["policy", "replication", *metrics.RUN_COLUMNS])
    return df


def _complete_replications(kpis: pd.DataFrame, policies: Sequence[str]) -> int:
    """Replications that every policy finished."""
    if kpis.empty:
        return 0
    sets = [set(kpis.loc[kpis["policy"] == p, "replication"]) for p in policies]
    return len(set.intersection(*sets))


def _read_monthly(path: Path, provenance: dict[str, Any]) -> pd.DataFrame:
    """monthly.csv back as a table, without the constant provenance columns."""
    df = pd.read_csv(path)
    return df.drop(columns=[c for c in provenance if c in df.columns])


def _json_safe(obj: Any) -> Any:
    """NaN and infinities become null (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj
