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
from sim.decision.psa import MAX_SAMPLES, NEGLIGIBLE_SHARE, DecisionResult, run_decision
from sim.decision.workload import sample_work
from sim.params.scenario import resolve_policies
from sim.params.schema import PAID_SCHEMES, Scenario
from sim.runs.executors import Executor
from sim.runs.kpis import DEFAULT_KPI
from sim.runs.options import RunOptions

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


AGENT_COST = "support.agent_cost_usd_per_hour"


def best_other(res: Any, a: str, kpi: str = DEFAULT_KPI) -> str:
    """Policy B of the Sensitivity tab by default: the policy other than ``a`` with the highest
    mean ``kpi`` (value) in the main run; with ``a`` the reference, the policy the verdict names
    beside it (the leader, or the runner-up when the reference leads). Ties go to file order."""
    means = res.kpis.groupby("policy")[kpi].mean()
    others = [p for p in res.policies if p != a]
    return max(others, key=lambda p: (means.get(p, -math.inf), -others.index(p)))


def default_breakeven_param(params: Sequence[SweepParam], scenario: Scenario, policy_b: str) -> str:
    """A pricing lever that acts on ``policy_b``, where the question is what B would have to
    charge to tie: its per-ticket or per-hour fee, the largest tier fee of a tiered policy, its
    subscription add-on or free allowance when it has one, else its price multiplier (a lever
    every policy has). Never the agent cost, which acts on every policy alike."""
    by_path = {p.path for p in params}
    policy = next((p for p in resolve_policies(scenario) if p.name == policy_b), None)
    own = f"policies.{policy_b}.pricing."
    candidates: list[str] = []
    if policy is not None:
        pricing = policy.params.pricing
        scheme = pricing.scheme
        if scheme in ("per_ticket", "per_hour"):
            candidates.append(own + f"{scheme}_fee_usd")
        elif scheme == "tiered":
            fees = [(s.tier_ticket_fee_usd, i) for i, s in enumerate(policy.params.customers.segments)]
            candidates += [f"customers.segments.{i}.tier_ticket_fee_usd" for fee, i in sorted(fees, key=lambda f: -f[0])
                           if fee > 0]
        if pricing.support_fee_usd_per_month > 0:
            candidates.append(own + "support_fee_usd_per_month")
        if scheme in PAID_SCHEMES and pricing.included_tickets_per_month > 0:
            candidates.append(own + "included_tickets_per_month")
    candidates.append(own + "price_multiplier")
    return next((c for c in candidates if c in by_path),
                next((p.path for p in params if p.path != AGENT_COST), params[0].path))


# Replications of the Sensitivity tab's analyses by default (per point and policy, at most the
# main run's). A tornado bar is the move of the difference B - A from its base; its whisker the
# 95% CI of the difference at that end, which shrinks with replications but stays wide beside
# most bars. Measured on the baseline (flat vs flat + VIP, value, all 19 parameters, +-20%; load
# 3.5-4.4 on 2 cores): parameters whose swing exceeds their mean whisker width, 2 of 19 at 3
# replications (67 s), 3 at 6 (92 s), 4 at 8 (152 s); the top three are the same throughout. So
# 6, and the page says how many bars clear their whiskers and that the rest need more.
SENSITIVITY_REPLICATIONS = 6
SENSITIVITY_REPLICATIONS_HELP = (
    f"The default, {SENSITIVITY_REPLICATIONS}, is enough for the largest bars of the baseline's tornado to be wider "
    "than their whiskers (95% CIs); a bar narrower than its whisker needs more replications to be told from noise.")


def tornado_clear(table: Any) -> tuple[int, int]:
    """(parameters whose swing exceeds the mean width of their two whiskers, parameters): how
    much of a tornado the replications can tell from noise."""
    width = ((table["low_ci_high"] - table["low_ci_low"]) + (table["high_ci_high"] - table["high_ci_low"])) / 2
    return int((table["swing"] > width).sum()), len(table)


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
# Measured (3 seeds each, 2 workers; MEASURED below): the recommended policy at 24 samples was
# the one at 100 on every seed of baseline, netflix and metered_wins, and baseline and netflix
# had no assumption worth researching at either size; but where there is a ranking (metered_wins,
# EVPI ~$2.9M) the top EVPPI changed with the seed and the sample size up to 200, the top three
# within their Monte Carlo error of each other. 100 samples took 1.5-3 min (load 4-11), too slow
# for a default; so 24 stays, a result below the CLI's 200 is labelled a preview, and the page
# says, from the result's own bootstrap errors, whether its top two EVPPIs can be told apart.
DECISION_SAMPLES = 24
PREVIEW_BELOW = 200  # samples: the CLI's default


def samples_to_rank(result: DecisionResult, *, z: float = 2.0) -> int | None:
    """How many samples would tell the top two EVPPIs apart: ``result.samples`` or fewer when
    their gap already exceeds ``z`` Monte Carlo standard errors of the gap (bootstrap errors,
    shrinking as 1/sqrt(n)), else the sample count at which it would (from this result's gap and
    errors; a very large number when the gap is 0). None when there is nothing to rank: fewer
    than two parameters, no EVPI, or the top EVPPI too small to be worth researching (the
    answer then says so)."""
    ev = result.evppi
    if len(ev) < 2 or not result.evpi > 0 or ev["evppi_usd"].iloc[0] < NEGLIGIBLE_SHARE * result.evpi:
        return None
    (a, b), (se_a, se_b) = ev["evppi_usd"].iloc[:2].astype(float), ev["evppi_se"].iloc[:2].astype(float)
    se = math.hypot(se_a, se_b)
    if not math.isfinite(se):
        return None
    gap = a - b
    if gap > z * se:
        return result.samples
    return MAX_SAMPLES + 1 if gap <= 0 else math.ceil(result.samples * (z * se / gap) ** 2)


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


def decide_from_runs(scenario: Scenario, samples: int, options: RunOptions,
                     calls: list[tuple[Callable[[Any], Any], list[Any], list[Any]]]) -> DecisionResult:
    """:func:`sim.decision.psa.run_decision` on recorded simulations (in a worker process)."""
    return run_decision(scenario, samples=samples, options=options.but(executor=_Replay(calls)))


def decide_in_pool(pool: ProcessPoolExecutor, *, scenario: Scenario, samples: int,
                   options: RunOptions) -> DecisionResult:
    """A decision analysis of ``scenario`` with ``samples`` parameter sets: its simulations on
    ``options.executor`` (the app's pool, with ``options.on_progress``), then its summary (the
    EVPPI regressions) in a worker of ``pool``. The result is ``run_decision``'s, to the byte:
    the same jobs give the same runs wherever they run. A ScenarioError (too many samples, a
    bad table) is raised before anything runs; a MemoryError in the worker is raised here."""
    if options.executor is None:
        raise TypeError("decide_in_pool runs on the app's executor: give options.executor")
    recording = _Recording(options.executor)
    try:  # returns here only if it ran no simulation
        return run_decision(scenario, samples=samples, options=options.but(executor=recording))
    except _Recorded:
        pass
    # the worker gets what it needs to summarise, never the page's progress callback or pool
    shipped = RunOptions(replications=options.replications, seed=options.seed, max_work=options.max_work)
    return pool.submit(decide_from_runs, scenario, samples, shipped, recording.calls).result()
