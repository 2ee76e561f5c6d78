"""The support desk alone against queueing theory (Erlang C, M/M/c)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from sim.engine import erlang
from sim.engine.desk import Desk, TicketBatch
from sim.runs.metrics import t_interval


def test_erlang_formulas_match_published_example():
    # Call Centre Helper worked example, docs/sources.md#cch-erlang-c: 10 Erlangs, 180 s handle time.
    assert erlang.erlang_c(14, 10.0) == pytest.approx(0.174, abs=5e-4)
    assert erlang.service_level(14, 10.0, 180, 20) == pytest.approx(0.888, abs=1e-3)
    assert erlang.erlang_c(11, 10.0) == pytest.approx(0.682, abs=5e-4)
    # 13 agents give 79.6% within 20 s, so an 80/20 target needs 14 (the published example's staffing)
    assert erlang.agents_for_service_level(10.0, 180, 20, 0.8) == 14
    assert erlang.service_level(13, 10.0, 180, 20) < 0.8 <= erlang.service_level(14, 10.0, 180, 20)


def test_erlang_edge_cases():
    assert erlang.erlang_c(3, 0.0) == 0.0
    assert erlang.erlang_c(3, 3.0) == 1.0  # unstable: everyone waits
    assert math.isinf(erlang.mean_wait(2, 2.5, 1.0))


def simulate_desk(agents: int, load: float, handle_mean: float, n: int, seed: int) -> tuple[float, float]:
    """P(wait > 0) and mean wait of n Poisson arrivals at one priority, no abandonment."""
    rng = np.random.default_rng(seed)
    lam = load / handle_mean
    arrival = np.cumsum(rng.exponential(1 / lam, n))
    counters = SimpleNamespace(on_time=np.zeros(1, int), late=np.zeros(1, int), abandoned=np.zeros(1, int),
                               fees_usd=np.zeros(1), touches=np.zeros(1, int))
    env = simpy.Environment()
    desk = Desk(env, agents, counters)
    desk.submit(TicketBatch(arrival, rng.exponential(handle_mean, n), np.full(n, np.inf), np.ones(n, int),
                            np.full(n, 0.0), np.zeros(n, int), np.zeros(n)))
    env.run()
    waits = np.asarray(desk.stats.waits_h)[n // 10:]  # drop the warm-up
    assert len(desk.stats.waits_h) == n
    return float(np.mean(waits > 1e-12)), float(waits.mean())


@pytest.mark.parametrize("agents,load", [(3, 2.4), (5, 4.5), (2, 1.0)])
def test_desk_matches_erlang_c(agents, load):
    handle = 0.5
    runs = [simulate_desk(agents, load, handle, 20_000, seed) for seed in range(8)]
    p_wait = t_interval([r[0] for r in runs])
    w_mean = t_interval([r[1] for r in runs])
    theory_p = erlang.erlang_c(agents, load)
    theory_w = erlang.mean_wait(agents, load, handle)
    # the analytic value must lie inside the simulation's 95% CI (widened by 1% for bias of finite runs)
    assert p_wait["ci_low"] * 0.99 <= theory_p <= p_wait["ci_high"] * 1.01, (p_wait, theory_p)
    assert w_mean["ci_low"] * 0.99 <= theory_w <= w_mean["ci_high"] * 1.01, (w_mean, theory_w)


def test_desk_abandonment_and_priority():
    """Impatient tickets abandon; high-priority tickets wait less than low-priority ones."""
    rng = np.random.default_rng(0)
    n = 20_000
    arrival = np.cumsum(rng.exponential(1 / 3.6, n))
    prio = rng.integers(1, 3, n)
    counters = SimpleNamespace(on_time=np.zeros(2, int), late=np.zeros(2, int), abandoned=np.zeros(2, int),
                               fees_usd=np.zeros(2), touches=np.zeros(2, int))
    env = simpy.Environment()
    desk = Desk(env, 2, counters)
    desk.submit(TicketBatch(arrival, rng.exponential(0.5, n), rng.exponential(2.0, n), prio,
                            np.full(n, 0.5), prio - 1, np.zeros(n)))
    env.run()
    served = counters.on_time + counters.late
    assert counters.abandoned.sum() > 0
    assert served.sum() + counters.abandoned.sum() == n
    # share answered within 0.5 h is higher for priority 1 (customer 0) than for priority 2 (customer 1)
    assert counters.on_time[0] / served[0] > counters.on_time[1] / served[1]
