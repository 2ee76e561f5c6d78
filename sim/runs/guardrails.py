"""Resource guardrails: refuse workloads too big to finish, before running anything.

Where it sits: between a validated scenario and the experiment. The cost of a run is
estimated in customer-months simulated, summed over policies (each policy may override
``customers.initial`` and the growth parameters) and multiplied by replications: per
policy, initial customers x months plus the customers that growth and organic signups add
month by month. Above the limit the run is refused with the estimate and how to proceed.
The CLI and the app share this check; the limit is configurable (``--max-work`` and the
``SUPPORTSIM_MAX_WORK`` environment variable).
"""

from __future__ import annotations

import os

from sim.params.scenario import ScenarioError, resolve_policies
from sim.params.schema import Params, Scenario

DEFAULT_MAX_WORK = 2_000_000_000  # customer-months; the reference workload (10k x 36 x 5 x 30) is 54M
# Measured throughput on the 2-core reference machine, used only for the time estimate in messages.
CUSTOMER_MONTHS_PER_SECOND = 300_000


def max_work() -> int:
    raw = os.environ.get("SUPPORTSIM_MAX_WORK")
    if raw is None:
        return DEFAULT_MAX_WORK
    try:
        return max(1, int(float(raw)))
    except (ValueError, OverflowError):  # "abc", "nan", "inf"
        raise ScenarioError([f"SUPPORTSIM_MAX_WORK: expected a number (got {raw!r})"], "environment") from None


def policy_work(params: Params, months: int) -> int:
    """Customer-months one replication of one policy simulates (estimate).

    Initial customers stay roughly level when churn is replaced; ``growth_per_month``
    paying customers and ``organic_signups_per_month`` trials are added every month on top,
    so month m holds about initial + m x (growth + organic) customers.
    """
    acq = params.acquisition
    inflow = acq.growth_per_month + acq.organic_signups_per_month
    return int(params.customers.initial * months + inflow * months * (months - 1) / 2)


def work(scenario: Scenario, replications: int | None = None) -> int:
    """Customer-months the run would simulate, over every policy and replication."""
    reps = replications or scenario.run.replications
    months = scenario.run.months
    return sum(policy_work(p.params, months) for p in resolve_policies(scenario)) * reps


def check(scenario: Scenario, replications: int | None = None, limit: int | None = None) -> int:
    """Raise ScenarioError if the run exceeds ``limit`` customer-months; return the work otherwise."""
    limit = max_work() if limit is None else limit
    w = work(scenario, replications)
    if w > limit:
        secs = w / CUSTOMER_MONTHS_PER_SECOND
        cost = f"{secs / 60:,.0f} CPU-minutes" if secs >= 90 else f"{secs:,.1f} CPU-seconds"
        raise ScenarioError([
            f"workload too large: {w:,} customer-months ((customers.initial + growth) x run.months, summed over "
            f"policies, x replications), about {cost}; the limit is {limit:,}. Reduce customers, "
            "months, policies or replications, or raise the limit (--max-work / SUPPORTSIM_MAX_WORK)."
        ], "guardrail", title="run refused before it started")
    return w
