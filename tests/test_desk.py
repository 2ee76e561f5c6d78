"""The support desk on tiny hand-checkable cases: exact waits, priorities, abandonment, agent time.

Times are binary fractions of an hour so the expected waits are exact in floating point.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from sim.engine.desk import Desk, DeskLog, TicketBatch


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


def test_new_agents_start_on_every_waiting_ticket_at_once():
    # four tickets at 0 on one agent; at 0.25 three more agents come on duty: all start at 0.25
    env = simpy.Environment()
    desk = Desk(env, 1, _counters(4))
    desk.submit(_batch([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]))
    simpy.events.Timeout(env, 0.25).callbacks.append(lambda _: desk.set_agents(4))
    env.run()
    assert desk.stats.waits_h == [0.0, 0.25, 0.25, 0.25]


def test_fewer_agents_finish_the_ticket_in_hand_and_the_queue_waits():
    # two agents serve tickets 0 (1 h) and 1 (1.5 h); at 0.5 the roster drops to one agent:
    # nobody is pre-empted, and ticket 2 (waiting since 0.25) starts when the busy agents fall
    # below the new roster: not at 1.0 (one agent still busy = the roster) but at 1.5
    env = simpy.Environment()
    desk = Desk(env, 2, _counters(3))
    desk.submit(_batch([0.0, 0.0, 0.25], [1.0, 1.5, 1.0]))
    simpy.events.Timeout(env, 0.5).callbacks.append(lambda _: desk.set_agents(1))
    env.run(until=0.75)
    assert desk.busy == 2 and desk.waiting == 1  # both keep their ticket
    env.run()
    assert desk.stats.waits_h == [0.0, 0.0, 1.25]


@pytest.mark.parametrize("agents", [1, 2])
def test_desk_set_agents_changes_capacity(agents):
    env = simpy.Environment()
    desk = Desk(env, 3, _counters(1))
    desk.set_agents(agents)
    assert desk.agents == agents


# ---------------------------------------------------------------------------- opening hours

from sim.engine import hours as hrs  # noqa: E402
from sim.engine import staffing  # noqa: E402
from sim.params.schema import Params, Support  # noqa: E402

MON_9 = 7 * 24 + 9.0  # Monday 09:00 of the second week (hour 0 is Monday 00:00)


def _business_desk(agents_open: int = 1, **support: object):
    sup = Support(hours="weekly", open_hour=9, close_hour=17, open_days=5, sla_clock="business", **support)
    env = simpy.Environment()
    log: list[tuple] = []
    desk = Desk(env, 1, _counters(8), ticket_log=log, hours=hrs.desk_hours(sup))
    desk.set_roster(0.0, np.where(hrs.desk_schedule(sup).open_h, agents_open, 0), n_hours=2 * 168)
    return env, desk, log


def test_weekend_tickets_are_served_from_monday_nine_in_priority_order():
    # Saturday 10:00 (priority 3), Saturday 15:00 (priority 1), Sunday 12:00 (priority 2); 1 agent, 1 h each
    sat10, sat15, sun12 = 5 * 24 + 10.0, 5 * 24 + 15.0, 6 * 24 + 12.0
    env, desk, log = _business_desk()
    desk.submit(_batch([sat10, sat15, sun12], [1.0, 1.0, 1.0], priority=[3, 1, 2], sla=[1.5, 1.5, 1.5]))
    env.run(until=MON_9 + 5)
    starts = {row[0]: row[2] for row in log}
    assert starts == {1: MON_9, 2: MON_9 + 1, 0: MON_9 + 2}
    # calendar waits are long; on the business clock they are 0, 1 and 2 h: SLA 1.5 h met, met, late
    assert sorted(desk.stats.waits_h) == sorted([MON_9 - sat15, MON_9 + 1 - sun12, MON_9 + 2 - sat10])
    assert desk.counters.on_time.tolist()[:3] == [0, 1, 1] and desk.counters.late.tolist()[:3] == [1, 0, 0]


def test_patience_runs_on_the_business_clock():
    # Friday 16:30 with 1 h of business patience, the agent busy until 17:30 -> still waiting at
    # Monday 09:00 after 0.5 business hours: served, not abandoned
    fri1630 = 4 * 24 + 16.5
    env, desk, _ = _business_desk()
    desk.submit(_batch([fri1630 - 0.25, fri1630], [1.0, 1.0], patience=[9.0, 1.0], sla=[8.0, 8.0]))
    env.run(until=MON_9 + 3)
    assert desk.counters.abandoned.sum() == 0
    assert desk.stats.waits_h[1] == pytest.approx(MON_9 - fri1630)


def test_shift_end_overtime_is_paid_and_paid_covers_worked():
    # two agents start 1 h tickets at 16:30; the desk closes at 17:00: 2 x 0.5 h overtime
    env, desk, _ = _business_desk(agents_open=2)
    desk.begin_period(24.0)
    desk.submit(_batch([16.5, 16.5], [1.0, 1.0]))
    env.run(until=24.0)
    stats = desk.new_period()
    assert stats.rostered_h == pytest.approx(8 * 2)
    assert stats.overtime_h == pytest.approx(1.0)
    assert stats.busy_h == pytest.approx(2.0) and stats.paid_h >= stats.busy_h


def test_schedule_clock_entry_and_occurrences():
    s = hrs.desk_schedule(Support(hours="weekly", open_hour=9, close_hour=17, open_days=5))
    assert s.open_per_week == 40
    t = np.array([8.0, 9.5, 17.25, 4 * 24 + 18.0, MON_9 - 24 * 2])
    assert s.entry(t).tolist() == [9.0, 9.5, 24 + 9.0, MON_9, MON_9]
    assert s.clock(9.5) == 0.5 and s.clock(24 + 10.0) == 9.0 and s.clock(MON_9) == 40.0
    assert hrs.occurrences(0.0, 336).tolist() == [2.0] * 168
    assert hrs.desk_schedule(Support(hours="24/7")).always


def test_flat_profile_keeps_uniform_arrivals_and_profile_shapes_them():
    u = np.random.default_rng(3).random(50_000)
    flat = Support(arrival_offhours_factor=1, arrival_weekend_factor=1, arrival_monday_factor=1)
    assert np.array_equal(hrs.arrivals(flat, 730.0, u), 730.0 + u * 730.0)
    t = hrs.arrivals(Support(), 730.0, u)
    assert ((t >= 730.0) & (t < 1460.0)).all()
    rate = np.bincount(hrs.hour_of_week(t), minlength=168) / hrs.occurrences(730.0)
    weekday_peak, weekend = rate[24 + 10], rate[5 * 24 + 10]  # Tuesday 10:00 vs Saturday 10:00
    assert weekend / weekday_peak == pytest.approx(Support().arrival_weekend_factor, rel=0.25)


def test_roster_24_7_flat_matches_single_erlang_level_and_service_level_changes_paid_hours():
    from sim.engine import erlang

    p = Params()
    p.support.hours, p.support.arrival_offhours_factor = "24/7", 1.0
    p.support.arrival_weekend_factor = p.support.arrival_monday_factor = 1.0
    prio = np.ones(1000, np.int64)
    r = staffing.month_roster(p, prio, 20.0, 0.0)
    load = (1000 * p.support.handle_time_mean_h + 20.0) / 730
    expected = erlang.agents_for_service_level(load, p.support.handle_time_mean_h, p.support.sla_target_h,
                                               p.support.staffing_service_level)
    assert set(r.agents.tolist()) == {expected}
    # a higher target never rosters fewer hours, and over a range of volumes it rosters more
    paid = {0.5: [], 0.95: []}
    for level in paid:
        q = Params()
        q.support.staffing_service_level = level
        for n in range(200, 3001, 200):
            paid[level].append(staffing.month_roster(q, np.ones(n, np.int64), 0.0, 0.0).by_hour(0.0).sum())
    assert all(hi >= lo for lo, hi in zip(paid[0.5], paid[0.95]))
    assert sum(paid[0.95]) > sum(paid[0.5])
    closed = ~hrs.desk_schedule(Params().support).open_h
    assert (staffing.month_roster(Params(), prio, 0.0, 0.0).agents[closed] == 0).all()


def test_desk_log_tables_add_up_and_feed_the_desk_plots():
    import pandas as pd

    from sim.engine import model
    from sim.output import desk_plots

    p = Params()
    p.customers.initial = 300
    p.pricing.scheme = "tiered"
    log = DeskLog([s.name for s in p.customers.segments])
    months = pd.DataFrame(model.run(p, months=2, seed=3, desk_log=log))
    tables = {k: pd.DataFrame(v).assign(policy="tiered", replication=0) for k, v in log.tables().items()}
    hourly, roster = tables["hourly"], tables["roster"]
    assert hourly["tickets_served"].sum() == months["tickets_resolved"].sum()
    assert hourly["tickets_abandoned"].sum() == months["tickets_abandoned"].sum()
    rostered = (months["agent_hours_paid"] - months["agent_hours_overtime"]).sum()
    assert roster["agent_hours"].sum() == pytest.approx(rostered)
    assert roster["hours"].sum() == 2 * 730
    for ax in (desk_plots.plot_wait_heatmap(hourly), desk_plots.plot_sla_heatmap(hourly),
               desk_plots.plot_desk_by_tier(hourly), desk_plots.plot_roster_vs_load(roster)):
        assert ax.get_title()
