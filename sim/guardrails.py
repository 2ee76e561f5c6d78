"""Resource guardrails: refuse workloads too big to finish, before running anything.

Where it sits: between a validated scenario and the experiment. The cost of a run is
estimated in customer-months simulated (initial customers x months x policies x
replications); above the limit the run is refused with the estimate and how to proceed.
The CLI and the app share this check; the limit is configurable (``--max-work`` and the
``SUPPORTSIM_MAX_WORK`` environment variable).
"""

from __future__ import annotations

import os

from sim.scenario import ScenarioError, resolve_policies
from sim.schema import Scenario

DEFAULT_MAX_WORK = 2_000_000_000  # customer-months; the reference workload (10k x 36 x 5 x 30) is 54M
# Measured throughput on the 2-core reference machine, used only for the time estimate in messages.
CUSTOMER_MONTHS_PER_SECOND = 300_000


def max_work() -> int:
    raw = os.environ.get("SUPPORTSIM_MAX_WORK")
    if raw is None:
        return DEFAULT_MAX_WORK
    try:
        return max(1, int(float(raw)))
    except ValueError:
        raise ScenarioError([f"SUPPORTSIM_MAX_WORK: expected a number (got {raw!r})"], "environment") from None


def work(scenario: Scenario, replications: int | None = None) -> int:
    """Customer-months the run would simulate."""
    reps = replications or scenario.run.replications
    n_policies = len(resolve_policies(scenario))
    return scenario.customers.initial * scenario.run.months * n_policies * reps


def check(scenario: Scenario, replications: int | None = None, limit: int | None = None) -> int:
    """Raise ScenarioError if the run exceeds ``limit`` customer-months; return the work otherwise."""
    limit = max_work() if limit is None else limit
    w = work(scenario, replications)
    if w > limit:
        secs = w / CUSTOMER_MONTHS_PER_SECOND
        raise ScenarioError([
            f"workload too large: {w:,} customer-months (customers.initial x run.months x policies x "
            f"replications), about {secs / 60:,.0f} CPU-minutes; the limit is {limit:,}. Reduce customers, "
            "months, policies or replications, or raise the limit (--max-work / SUPPORTSIM_MAX_WORK)."
        ], "guardrail")
    return w
