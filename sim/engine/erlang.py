"""Erlang C queueing formulas (M/M/c): theory for validation and for staffing.

Used by the model's ``erlang`` staffing rule, by ``supportsim staff`` and by the
validation tests that compare the simulated desk with theory. Pure functions, no state.
Load ``a`` is offered traffic in Erlangs (arrival rate x mean handle time).
"""

from __future__ import annotations

import math

import numpy as np


def erlang_c(agents: int, load: float) -> float:
    """Probability that an arriving ticket waits (Erlang C), for ``agents`` servers and ``load`` Erlangs."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    # Erlang B by the stable recursion, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    rho = load / agents
    return b / (1.0 - rho + rho * b)


def mean_wait(agents: int, load: float, handle_mean: float) -> float:
    """Mean wait in queue (all tickets, including those served at once), in the unit of ``handle_mean``."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return math.inf
    return erlang_c(agents, load) * handle_mean / (agents - load)


def service_level(agents: int, load: float, handle_mean: float, target: float) -> float:
    """Share of tickets whose wait is at most ``target`` (same unit as ``handle_mean``)."""
    if load <= 0:
        return 1.0
    if agents <= load:
        return 0.0
    return 1.0 - erlang_c(agents, load) * math.exp(-(agents - load) * target / handle_mean)


def agents_for_service_level(
    load: float, handle_mean: float, target: float, level: float, *, lo: int = 1, hi: int = 5000
) -> int:
    """Fewest agents in [lo, hi] whose service level within ``target`` is at least ``level``."""
    agents = max(lo, int(math.floor(load)) + 1)
    while agents < hi and service_level(agents, load, handle_mean, target) < level:
        agents += 1
    return min(agents, hi)


def agents_for_loads(loads: np.ndarray, handle_mean: float, target: float, level: float, *, lo: int = 1,
                     hi: int = 5000) -> np.ndarray:
    """:func:`agents_for_service_level` for an array of loads (computed once per distinct load)."""
    distinct, inverse = np.unique(np.asarray(loads, dtype=float), return_inverse=True)
    agents = [agents_for_service_level(a, handle_mean, target, level, lo=lo, hi=hi) for a in distinct.tolist()]
    return np.asarray(agents, dtype=np.int64)[inverse]
