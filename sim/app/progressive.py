"""The app's progressive run: the first replication of every policy first, then refined.

Where it sits: scenario -> **progressive** (jobs in :mod:`sim.app.procs`'s pool, finished
runs in :mod:`sim.app.store`'s caches) -> ``app.py``. It runs the replications of a scenario
that are not cached yet, yielding partial :class:`~sim.runs.results.Results` as they
finish; the final results are identical to :func:`sim.runs.experiment.run_scenario` (same
jobs, seeds and table order).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import pandas as pd

from sim.app.store import DictCache, ReplicationCache, Run, entry_key
from sim.params.scenario import Policy, resolve_policies
from sim.params.schema import Scenario
from sim.runs.experiment import Job, results_from_tables, run_job_tables
from sim.runs.results import Results


def sim_key(scenario: Scenario) -> str:
    """Key of what the model sees: the scenario without its name, description, reference
    policy and replication count (so more replications extend cached ones)."""
    data = scenario.model_dump(mode="json")
    data["scenario"] = {}
    data["run"].pop("replications", None)
    return entry_key("scenario", data)


def policy_key(policy: Policy, *, months: int, seed: int) -> str:
    """Key of what one policy's runs depend on: its name, resolved parameters, horizon and seed
    (and, as every key, the package's source).

    Common random numbers make a policy's run in a replication independent of the other
    policies, so changing one policy's control leaves the others' cached runs valid.
    """
    return entry_key("run", {"policy": policy.name, "params": policy.params.model_dump(mode="json"),
                             "months": months, "seed": seed})


def assemble(scenario: Scenario, runs: dict[tuple[str, int], Run], names: Sequence[str],
             done: dict[str, int]) -> Results:
    """Results from finished runs, as :func:`sim.runs.experiment.run_scenario` builds them:
    policy ``p``'s first ``done[p]`` replications (paired differences use the common ones)."""
    keys = [(p, r) for p in names for r in range(done[p])]
    res = results_from_tables(scenario, [runs[k][0] for k in keys], replications=min(done.values()),
                              policies=list(names))
    order = {p: i for i, p in enumerate(names)}
    segments = pd.concat([runs[k][1] for k in keys], ignore_index=True)
    res.segments = segments.sort_values(["policy", "replication", "month"], kind="stable",
                                        key=lambda c: c.map(order) if c.name == "policy" else c
                                        ).reset_index(drop=True)
    return res


@dataclass
class Update:
    """One step of a progressive run: progress, and results when it is time to redraw."""

    jobs_done: int
    jobs_total: int
    replications_done: int  # replications finished for every policy (a prefix 0..k-1)
    replications: int
    results: Results | None = None
    from_cache: int = 0  # runs (policy x replication) that came from the cache

    @property
    def final(self) -> bool:
        return self.replications_done == self.replications


@dataclass
class _Pending:
    key: str
    job: Job
    future: Future | None = None


def progressive_run(scenario: Scenario, *, cache: ReplicationCache,
                    pool: ProcessPoolExecutor | Callable[[], ProcessPoolExecutor | None] | None = None,
                    redraw_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> Iterator[Update]:
    """Run ``scenario``'s missing (policy, replication) runs, yielding an :class:`Update` once
    the jobs are submitted and after every job.

    Runs are cached per policy (:func:`policy_key`): changing one policy's control runs only
    that policy, and the other policies show all their cached replications at once, so
    their cards do not move while the changed one refines. Updates carry :class:`Results`
    once every policy has a replication, then at most every ``redraw_every_s`` seconds, and
    at the end (``final``); the final results are those of ``run_scenario``. Jobs run in
    ``pool`` (all submitted at once, replication-major) or in this process; ``pool`` may be a
    function that makes it, called only when a run is missing (a fully cached scenario never
    waits for worker processes to start). Closing the
    generator early (the user changed a control) cancels the jobs not yet started.
    """
    reps, months, seed = scenario.run.replications, scenario.run.months, scenario.run.seed
    policies = resolve_policies(scenario)
    names = [p.name for p in policies]
    keys = {p.name: policy_key(p, months=months, seed=seed) for p in policies}
    runs: dict[tuple[str, int], Run] = {}
    for p in names:
        for r in range(reps):
            hit = cache.get(keys[p], r)
            if hit is not None:
                runs[(p, r)] = hit
    cached = len(runs)

    def prefixes() -> dict[str, int]:
        out = {}
        for p in names:
            k = 0
            while (p, k) in runs:
                k += 1
            out[p] = k
        return out

    pending = [_Pending(keys[p.name], Job(p.name, r, p.params, months, seed))
               for r in range(reps) for p in policies if (p.name, r) not in runs]
    total = len(pending)
    if not pending:
        yield Update(0, 0, reps, reps, assemble(scenario, runs, names, prefixes()), from_cache=cached)
        return
    shown: dict[str, int] = {p: 0 for p in names}
    last_draw = -math.inf
    if min(prefixes().values()) > 0:  # every policy has cached runs: show them at once
        shown, last_draw = prefixes(), clock()
        yield Update(0, total, min(shown.values()), reps, assemble(scenario, runs, names, shown), from_cache=cached)
    if callable(pool) and not isinstance(pool, ProcessPoolExecutor):
        pool = pool()
    try:
        if pool is not None:
            for p in pending:
                p.future = pool.submit(run_job_tables, p.job)
        yield Update(0, total, min(shown.values()), reps, None, from_cache=cached)  # the page may draw meanwhile
        for n, p in enumerate(pending, start=1):
            run = p.future.result() if p.future is not None else run_job_tables(p.job)
            runs[(p.job.policy, p.job.replication)] = run
            cache.put(p.key, p.job.replication, run)
            now_done = prefixes()
            k = min(now_done.values())
            res = None
            if k > 0 and now_done != shown and (n == total or min(shown.values()) == 0
                                                  or clock() - last_draw >= redraw_every_s):
                res, shown, last_draw = assemble(scenario, runs, names, now_done), now_done, clock()
            yield Update(n, total, k, reps, res, from_cache=cached)
    finally:
        for p in pending:
            if p.future is not None:
                p.future.cancel()


def run_app_scenario(scenario: Scenario, *, cache: ReplicationCache | None = None,
                     pool: ProcessPoolExecutor | None = None) -> Results:
    """The app's run function to completion (for benchmarks and tests)."""
    final = None
    for upd in progressive_run(scenario, cache=cache or DictCache(), pool=pool):
        if upd.results is not None:
            final = upd.results
    assert final is not None
    return final
