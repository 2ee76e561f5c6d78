"""What the Sensitivity and Decision tabs compute, on the app's worker pool.

Where it sits: the sidebar's controls (:mod:`sim.app.kit`) and the scenario -> **studies**
(:mod:`sim.runs.studies`, :mod:`sim.decision.psa`, run on :mod:`sim.app.procs`'s pool) -> the
tabs. Analyses are cached in the server's memory under :func:`analysis_key` (the one key
scheme of :mod:`sim.app.store`). A decision analysis's simulations run on the pool as every
run does (cancelled when the user moves on, with progress); its summary, the value of
information fitted by regression (EVPPI), is computed in a worker too
(:func:`decide_in_pool`), capped in memory like the runs, never in the server's process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sim.app.kit import Group
from sim.app.progressive import sim_key
from sim.app.store import entry_key
from sim.decision.psa import DecisionResult, run_decision
from sim.decision.workload import sample_work
from sim.params.scenario import resolve_policies
from sim.params.schema import Scenario
from sim.runs.executors import Executor

# ---------------------------------------------------------------- sensitivity and break-even (sim.runs.studies)


@dataclass(frozen=True)
class SweepParam:
    """A numeric parameter the break-even analysis can move."""

    path: str
    label: str
    value: float
    lo: float
    hi: float
    is_int: bool


def sweep_params(groups: Sequence[Group]) -> list[SweepParam]:
    """Numeric controls (run settings excepted) as break-even candidates, in sidebar order."""
    out = []
    for g in groups:
        if g.key == "run":
            continue
        for s in g.sections:
            for c in s.controls:
                if c.kind not in ("int", "float") or c.lo is None or c.hi is None:
                    continue
                where = s.tab or s.title or g.title
                out.append(SweepParam(c.path, f"{where} · {c.label}", float(c.default), float(c.lo), float(c.hi),
                                      c.kind == "int"))
    return out


def default_between(p: SweepParam) -> tuple[float, float]:
    """A range around the current value: half to one and a half times it, within bounds."""
    if p.value > 0:
        lo, hi = p.value * 0.5, p.value * 1.5
    else:
        lo, hi = p.lo, p.lo + max(1.0, (p.hi - p.lo) / 100)
    lo, hi = max(p.lo, lo), min(p.hi, hi)
    if p.is_int:
        lo, hi = math.floor(lo), math.ceil(hi)
    return float(lo), float(hi)


def default_breakeven_param(params: Sequence[SweepParam], policy_b: str) -> str:
    """The policy's own fee when it has one, else the agent cost."""
    for p in params:
        if p.path.startswith(f"policies.{policy_b}.pricing.per_") and p.value > 0:
            return p.path
    return next((p.path for p in params if p.path == "support.agent_cost_usd_per_hour"), params[0].path)


def analysis_key(kind: str, scenario: Scenario, **args: Any) -> str:
    """Cache key of an analysis: the simulation key plus the analysis' own arguments."""
    return f"{kind}:" + entry_key("analysis", kind, sim_key(scenario), args)


def analysis_runs(kind: str, *, n_params: int = 0, points: int = 0, refine: int = 0, replications: int) -> int:
    """Model runs an analysis needs (two policies each)."""
    n_points = 2 * n_params + 1 if kind == "sensitivity" else points + refine
    return 2 * n_points * replications


# ---------------------------------------------------------------- decision (sim.decision.psa)


# Default parameter samples of the app's decision analysis: the baseline (4 policies) at one
# replication is 4 x 24 = 96 model runs, about half a minute on two cores. The CLI's default
# is 200; more samples narrow the probabilities (Monte Carlo s.e. sqrt(p(1-p)/n)).
DECISION_SAMPLES = 24


def decision_runs(scenario: Scenario, samples: int, replications: int = 1) -> int:
    """Model runs of a decision analysis: every policy on every sample."""
    return samples * replications * len(resolve_policies(scenario))


def decision_max_samples(scenario: Scenario, max_work: int, replications: int = 1) -> int:
    """The most samples a decision analysis of ``scenario`` may have under ``max_work``
    (the guardrail's customer-month equivalents, each sample at the worst case of the
    ``[uncertainty]`` table, as run_decision checks it; 0 when not even one fits)."""
    per_sample = sample_work(scenario, replications)
    return int(max_work // per_sample) if math.isfinite(per_sample) and per_sample > 0 else 0


class _Recorded(Exception):
    """Every simulation of a decision analysis is in: stop it before its summary."""


class _Recording(Executor):
    """Runs a decision analysis's simulations on ``inner`` (the app's pool) and keeps their
    results; once the last one is in, stops the analysis with :class:`_Recorded` before it
    fits anything in this (the server's) process."""

    name = "app pool (recording)"

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.workers = inner.workers
        self.calls: list[tuple[Callable[[Any], Any], list[Any], list[Any]]] = []

    def imap_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        results: list[Any] = [None] * len(items)
        for i, out in self.inner.imap_unordered(fn, items):
            results[i] = out
            yield i, out
        self.calls.append((fn, list(items), results))
        raise _Recorded


class _Replay(Executor):
    """Hands a decision analysis the results :class:`_Recording` kept, in order; a job it has
    no result for (never, unless the analysis asks for other runs) is run here."""

    name = "recorded runs"

    def __init__(self, calls: list[tuple[Callable[[Any], Any], list[Any], list[Any]]]) -> None:
        self.calls = list(calls)

    def imap_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        recorded = self.calls.pop(0) if self.calls else None
        if recorded is not None and recorded[0] is fn and recorded[1] == list(items):
            yield from enumerate(recorded[2])
            return
        for i, item in enumerate(items):
            yield i, fn(item)


def decide_from_runs(scenario: Scenario, samples: int, replications: int, max_work: int,
                     calls: list[tuple[Callable[[Any], Any], list[Any], list[Any]]]) -> DecisionResult:
    """:func:`sim.decision.psa.run_decision` on recorded simulations (in a worker process)."""
    return run_decision(scenario, samples=samples, replications=replications, executor=_Replay(calls),
                        max_work=max_work)


def decide_in_pool(pool: ProcessPoolExecutor, *, executor: Executor, scenario: Scenario, samples: int,
                   replications: int = 1, max_work: int,
                   on_progress: Callable[[int, int], None] | None = None) -> DecisionResult:
    """A decision analysis of ``scenario`` with ``samples`` parameter sets: its simulations on
    ``executor`` (the app's pool, with ``on_progress``), then its summary (the EVPPI
    regressions) in a worker of ``pool``. The result is ``run_decision``'s, to the byte: the
    same jobs give the same runs wherever they run. A ScenarioError (too many samples, a bad
    table) is raised before anything runs; a MemoryError in the worker is raised here."""
    recording = _Recording(executor)
    try:
        return run_decision(scenario, samples=samples, replications=replications, executor=recording,
                            on_progress=on_progress, max_work=max_work)  # only if it ran no simulation
    except _Recorded:
        pass
    return pool.submit(decide_from_runs, scenario, samples, replications, max_work, recording.calls).result()
