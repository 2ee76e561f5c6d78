"""The support desk on tiny hand-checkable cases: exact waits, priorities, abandonment, agent time.

Times are binary fractions of an hour so the expected waits are exact in floating point.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from sim.engine.desk import Desk, TicketBatch, set_capacity


def _counters(n: int) -> SimpleNamespace:
    z = np.zeros(n, dtype=np.int64)
    return SimpleNamespace(on_time=z.copy(), late=z.copy(), abandoned=z.copy(), fees_usd=np.zeros(n),
                           touches=z.copy())


def _batch(arrival, handle, *, patience=None, priority=None, sla=None, fee=None) -> TicketBatch:
    n = len(arrival)
    return TicketBatch(
        arrival_h=np.asarray(arrival, float), handle_h=np.asarray(handle, float),
        patience_h=np.full(n, np.inf) if patience is None else np.asarray(patience, float),
        priority=np.ones(n, np.int64) if priority is None else np.asarray(priority, np.int64),
        sla_h=np.full(n, 1.0) if sla is None else np.asarray(sla, float),
        customer=np.arange(n), fee_usd=np.zeros(n) if fee is None else np.asarray(fee, float),
    )


def _run(batch: TicketBatch, agents: int = 1, until: float | None = None):
    env = simpy.Environment()
    log: list[tuple] = []
    counters = _counters(len(batch))
    desk = Desk(env, agents, counters, ticket_log=log)
    desk.submit(batch)
    env.run(until=until)
    return desk, counters, log


def test_three_tickets_one_agent_fifo_exact_waits():
    # arrive at 0, 0.25, 0.5; each takes 1 h: served at 0, 1, 2 -> waits 0, 0.75, 1.5
    desk, counters, log = _run(_batch([0.0, 0.25, 0.5], [1.0, 1.0, 1.0]))
    assert desk.stats.waits_h == [0.0, 0.75, 1.5]
    assert [row[2] for row in log] == [0.0, 1.0, 2.0]  # first response = start of service
    # SLA 1 h: the first two on time, the third late
    assert counters.on_time.tolist() == [1, 1, 0] and counters.late.tolist() == [0, 0, 1]
    assert desk.stats.sla_met == 2
    assert desk.stats.busy_h == 3.0


def test_priority_jumps_the_queue_non_preemptively():
    # ticket 0 (priority 2) is in service when 1 (priority 2) and 2 (priority 1) arrive:
    # 0 finishes first (non-preemptive), then 2, then 1
    desk, _, log = _run(_batch([0.0, 0.25, 0.5], [1.0, 1.0, 1.0], priority=[2, 2, 1]))
    starts = {row[0]: row[2] for row in log}
    assert starts == {0: 0.0, 2: 1.0, 1: 2.0}
    assert sorted(desk.stats.waits_h) == [0.0, 0.5, 1.75]


def test_impatient_ticket_is_skipped_at_zero_agent_time():
    # ticket 1 would wait 0.75 h but has 0.5 h of patience: skipped, ticket 2 starts at 1.0
    desk, counters, log = _run(_batch([0.0, 0.25, 0.5], [1.0, 1.0, 1.0], patience=[9.0, 0.5, 9.0]))
    assert counters.abandoned.tolist() == [0, 1, 0]
    assert desk.stats.waits_h == [0.0, 0.5]
    assert desk.stats.busy_h == 2.0
    assert (1, 0.25, None, 1.0, 0.0) in log


def test_agent_time_past_the_period_end_is_carried_over():
    env = simpy.Environment()
    desk = Desk(env, 1, _counters(1))
    desk.begin_period(1.0)
    desk.submit(_batch([0.5], [2.0]))  # works 0.5-2.5: 0.5 h in this period, 1.5 h in the next
    env.run(until=1.0)
    assert desk.new_period().busy_h == 0.5
    desk.begin_period(2.0)
    env.run(until=2.0)
    assert desk.new_period().busy_h == 1.0
    desk.begin_period(3.0)
    env.run(until=3.0)
    assert desk.new_period().busy_h == 0.5


def test_fees_are_charged_when_service_starts():
    desk, counters, _ = _run(_batch([0.0, 0.25], [1.0, 1.0], fee=[15.0, 0.0]), until=0.5)
    assert desk.stats.fees_usd == 15.0 and counters.fees_usd.tolist() == [15.0, 0.0]


def test_set_capacity_grows_and_grants_waiting_requests_at_once():
    env = simpy.Environment()
    res = simpy.PriorityResource(env, capacity=1)
    held, waiting = res.request(priority=1), res.request(priority=1)
    env.run(until=1)
    assert held.triggered and not waiting.triggered
    set_capacity(res, 2)
    assert res.capacity == 2
    env.run(until=2)
    assert waiting.triggered and len(res.users) == 2


def test_set_capacity_shrinks_without_preempting():
    env = simpy.Environment()
    res = simpy.PriorityResource(env, capacity=2)
    a, b = res.request(priority=1), res.request(priority=1)
    env.run(until=1)
    set_capacity(res, 1)
    assert len(res.users) == 2  # both keep their agent
    res.release(a)
    c = res.request(priority=1)
    env.run(until=2)
    assert not c.triggered  # one user (b) already fills the reduced capacity
    res.release(b)
    env.run(until=3)
    assert c.triggered


@pytest.mark.parametrize("agents", [1, 2])
def test_desk_set_agents_changes_capacity(agents):
    env = simpy.Environment()
    desk = Desk(env, 3, _counters(1))
    desk.set_agents(agents)
    assert desk.agents == agents
