"""The guardrail of a decision analysis: every sample costed at the worst case of its ranges.

Where it sits: runs (guardrails, studies) -> **workload** -> ``sim.decision.psa`` (checked before
anything runs) and the app (a sample's cost bounds the Decision tab's sample count). A benign
file whose ``[uncertainty]`` table can compound the funnel is refused up front, naming the
parameters whose ends cost most.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.params.scenario import ScenarioError, resolve_policies, uncertain_parameters
from sim.params.schema import Scenario
from sim.params.uncertainty import Distribution
from sim.runs import guardrails
from sim.runs.paths import with_values, worst_case


def _worst_parts(scenario: Scenario, parameters: Mapping[str, Distribution], runs: int,
                 sobol_runs: int) -> tuple[list[guardrails.Part], dict[str, Any]]:
    """The guardrail's parts of a decision: every policy's ``runs`` at the worst case of the table,
    and ``sobol_runs`` for each of the two dearest policies there (the Sobol pair is not known yet)."""
    worst, values = worst_case(scenario, parameters)
    parts = guardrails.parts_of(worst, runs, where=" at the worst case of the [uncertainty] table")
    if sobol_runs:
        dearest = sorted(parts, key=lambda p: p.estimate.work, reverse=True)[:2]
        parts += [guardrails.Part(f"{p.what} (Sobol design)", p.estimate, sobol_runs) for p in dearest]
    return parts, values


def sample_work(scenario: Scenario, replications: int = 1) -> float:
    """The guardrail's work for one PSA sample of ``scenario``: every policy's ``replications`` runs
    at the worst case of its ``[uncertainty]`` table (what a decision analysis is costed at per sample)."""
    parts, _ = _worst_parts(scenario, uncertain_parameters(scenario), replications, 0)
    return sum(p.estimate.work * p.runs for p in parts)


def check_work(scenario: Scenario, parameters: Mapping[str, Distribution], *, samples: int, replications: int,
               sobol_points: int = 0, limit: int | None = None) -> float:
    """The guardrail on a whole decision analysis, before anything runs: every sample costed at the
    worst case of its uncertainty ranges (each parameter at the end of its range, or a 0.1% / 99.9%
    quantile, that makes the work largest: a table that can compound the funnel is refused even
    if the file's own values are benign), plus the Sobol design for two policies."""
    parts, values = _worst_parts(scenario, parameters, samples * replications, sobol_points * replications)
    base = {p.name: p.params for p in resolve_policies(scenario)}
    months = scenario.run.months
    base_work = sum(guardrails.policy_work(p, months) for p in base.values())

    def without(path: str) -> float:  # the worst case's work with this parameter back at the file's value
        rest = {k: v for k, v in values.items() if k != path}
        try:
            sc = with_values(scenario, rest, source="uncertainty")
        except ScenarioError:
            return float("inf")
        return sum(guardrails.policy_work(p.params, months) for p in resolve_policies(sc))

    drivers = sorted(values, key=without)[:3]  # those whose end costs most first
    at = ", ".join(f"{p}={values[p]:g}" if isinstance(values[p], float) else f"{p}={values[p]}" for p in drivers)
    counted = (f"{samples} samples x {replications} replication(s) x {len(base)} policies"
               + (f" + a Sobol design of {sobol_points} points x 2 policies" if sobol_points else "")
               + ", every sample at the worst case of its [uncertainty] ranges"
               + (f" ({at}{' ...' if len(values) > 3 else ''}; the file's own values cost "
                  f"{guardrails.cpu_time(base_work * samples * replications)})" if values else ""))
    reduce = "Use fewer --samples" + (", --sobol-samples" if sobol_points else "") + " or --replications" + (
        f", narrow the [uncertainty] ranges of {', '.join(drivers)}" if values else "")
    population = (f"Narrow the [uncertainty] ranges of {', '.join(drivers)} (every sample must fit at their "
                  f"dearest ends), or {guardrails.POPULATION_ADVICE[0].lower()}{guardrails.POPULATION_ADVICE[1:]}"
                  if values else guardrails.POPULATION_ADVICE)
    return guardrails.check_parts(parts, limit=limit, counted=counted, reduce=reduce, population_advice=population)
