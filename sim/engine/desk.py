"""The support desk: a finite team of agents serving a priority queue in a SimPy environment.

Where it sits: the model (``sim.engine.model``) hands the desk each month's tickets and VIP
touches; the desk queues them by priority (VIP work 0, then plan tiers), serves them with
agents, and records per ticket whether it met its promise (SLA, for the desk's statistics),
whether it was answered within the customer's expectation or late, whether it was late beyond
the ticket's tolerance (a wait the model drew for it at arrival), or abandoned, plus fees
charged. It knows nothing about pricing or satisfaction: promises, expectations and tolerances
arrive as numbers on the tickets.

Opening hours (``sim.engine.hours``): a ticket joins the queue when its line is open (at
arrival, or at the next opening), tickets that join at the same instant join in priority order,
and the number of agents follows a roster (``set_roster``) whose increases take effect after
every ticket joining at that instant, so a queue built while closed is served from opening in
priority order. Waits are calendar hours; the SLA and the customer's patience each run on the
calendar or the business clock (open hours of the ticket's line): ``support.sla_clock`` and
``support.patience_clock``. Agent-hours: the desk
integrates rostered hours and overtime (agents above a lowered roster finishing the ticket in
hand), so paid (rostered + overtime) >= worked holds by construction.

The queue is the desk's own (a heap in (priority, arrival order) order, non-preemptive, FIFO
among equals: the discipline of SimPy's ``PriorityResource``) rather than a SimPy resource: an
agent is granted synchronously when one is free, so a ticket costs two SimPy events (entry
and end of service) instead of four (request, grant, service, release) — the per-ticket
work is most of a run. When agents come on duty, every waiting ticket up to the new number
starts at once, in priority order.

Abandonment without a timeout per ticket: a waiting ticket whose customer's patience
has run out is skipped at zero cost when it reaches an agent ("virtual waiting time").
Because skipped tickets consume no agent time, every served ticket starts at exactly the
time it would in a queue where impatient customers leave when patience runs out; the
saving is one SimPy event per ticket. Expired tickets still waiting at a month boundary
are purged so the queue never carries more than a month of them.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import Timeout

from sim.engine.hours import WEEK_H, DeskHours, hour_of_week


class Counters(Protocol):
    """Per-customer outcome counters the desk increments (numpy arrays indexed by customer)."""

    on_time: np.ndarray
    late: np.ndarray
    late_down: np.ndarray
    abandoned: np.ndarray
    fees_usd: np.ndarray
    touches: np.ndarray


@dataclass
class TicketBatch:
    """One month's tickets, sorted by arrival time (hours since the start of the run).

    ``sla_h``: the promise (desk statistics); ``expect_h``: what the customer expects (on the same
    clock); ``tolerance_h``: the wait beyond which a late answer costs the customer a level (inf:
    never). Without the last two (direct use of the desk), expectation = promise, tolerance inf."""

    arrival_h: np.ndarray
    handle_h: np.ndarray
    patience_h: np.ndarray
    priority: np.ndarray
    sla_h: np.ndarray
    customer: np.ndarray
    fee_usd: np.ndarray
    expect_h: np.ndarray | None = None
    tolerance_h: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrival_h)


@dataclass
class DeskStats:
    """What the desk saw in one period (reset with :meth:`Desk.new_period`)."""

    waits_h: list[float] = field(default_factory=list)
    sla_met: int = 0
    abandoned: int = 0
    busy_h: float = 0.0
    fees_usd: float = 0.0
    touch_h: float = 0.0
    touches: int = 0
    rostered_h: float = 0.0  # agent-hours on the roster
    overtime_h: float = 0.0  # agent-hours worked beyond the roster (finishing the ticket in hand)
    peak_agents: int = 0  # most agents on the roster at any time in the period

    @property
    def paid_h(self) -> float:
        """Agent-hours paid: the roster plus overtime (never less than the hours worked)."""
        return self.rostered_h + self.overtime_h


class DeskLog:
    """Optional per-run aggregates by hour of the week (of arrival) and tier, for the desk plots.

    Tier: a segment (by ``counters.segment`` of the ticket's customer) or ``"vip"`` for VIP
    tickets (desk priority 0). Summed over the months of a run; :meth:`tables` gives tidy rows.
    """

    def __init__(self, tier_names: list[str]) -> None:
        self.tier_names = [*tier_names, "vip"]
        shape = (WEEK_H, len(self.tier_names))
        self.served = np.zeros(shape, np.int64)
        self.sla_met = np.zeros(shape, np.int64)
        self.abandoned = np.zeros(shape, np.int64)
        self.wait_sum_h = np.zeros(shape)
        self.roster_agent_h = np.zeros(WEEK_H)  # agents on the roster x hours, per hour of the week
        self.load_erlang_h = np.zeros(WEEK_H)  # offered load x hours
        self.hours = np.zeros(WEEK_H)  # how many times each hour of the week was rostered

    def add_roster(self, agents: np.ndarray, load: np.ndarray, occurrences: np.ndarray) -> None:
        self.roster_agent_h += agents * occurrences
        self.load_erlang_h += (load if load is not None else 0.0) * occurrences
        self.hours += occurrences

    def add_tickets(self, served: list[tuple], abandoned: list[tuple], segment: np.ndarray) -> None:
        """served: (arrival_h, customer, priority, wait_h, sla_met); abandoned: (arrival_h, customer, priority)."""
        vip = len(self.tier_names) - 1
        for rows, is_served in ((served, True), (abandoned, False)):
            if not rows:
                continue
            cols = list(zip(*rows))
            how = hour_of_week(np.asarray(cols[0]))
            tier = np.where(np.asarray(cols[2]) == 0, vip, segment[np.asarray(cols[1], dtype=np.int64)])
            if is_served:
                np.add.at(self.served, (how, tier), 1)
                np.add.at(self.wait_sum_h, (how, tier), np.asarray(cols[3]))
                np.add.at(self.sla_met, (how, tier), np.asarray(cols[4], dtype=np.int64))
            else:
                np.add.at(self.abandoned, (how, tier), 1)

    def tables(self) -> dict[str, list[dict]]:
        """Tidy rows: ``hourly`` (hour_of_week, tier, tickets_served, tickets_abandoned, wait_sum_h,
        sla_met) and ``roster`` (hour_of_week, agent_hours, load_erlang_hours, hours)."""
        hourly = [
            {"hour_of_week": h, "tier": name, "tickets_served": int(self.served[h, k]),
             "tickets_abandoned": int(self.abandoned[h, k]), "wait_sum_h": float(self.wait_sum_h[h, k]),
             "sla_met": int(self.sla_met[h, k])}
            for h in range(WEEK_H) for k, name in enumerate(self.tier_names)
        ]
        roster = [
            {"hour_of_week": h, "agent_hours": float(self.roster_agent_h[h]),
             "load_erlang_hours": float(self.load_erlang_h[h]), "hours": float(self.hours[h])}
            for h in range(WEEK_H)
        ]
        return {"hourly": hourly, "roster": roster}


class Desk:
    """A support desk of ``agents`` agents in a SimPy environment (24/7 unless ``hours`` say otherwise)."""

    def __init__(self, env: simpy.Environment, agents: int, counters: Counters,
                 ticket_log: list[tuple] | None = None, *, hours: DeskHours | None = None,
                 log: DeskLog | None = None) -> None:
        self.env = env
        self._capacity = agents  # agents on duty
        self._busy = 0  # agents serving a ticket or touch (above _capacity: finishing after a lowered roster)
        # waiting work: (priority, order, kind, row); kind 0 a ticket row, 1 a touch (duration_h, customer)
        self._queue: list[tuple[int, int, int, tuple]] = []
        self._order = itertools.count()
        self.counters = counters
        self.stats = DeskStats(peak_agents=agents)
        # Optional per-ticket log (customer, arrival_h, first_response_h or None, handle_h, fee_usd);
        # off by default so memory does not grow with events.
        self.ticket_log = ticket_log
        self.hours = hours if hours is not None and not hours.always else None
        # business clocks per line (0 standard, 1 VIP), None when the desk never closes (business =
        # calendar hours); which of SLA and patience run on them
        self._clocks = (hours.standard, hours.vip) if self.hours is not None else None
        self._sla_business = self.hours is not None and self.hours.sla_business
        self._patience_business = self.hours is not None and self.hours.patience_business
        self.log = log
        self._served: list[tuple] = []
        self._abandoned: list[tuple] = []
        # Agent time is booked in the period it is worked: service that runs past the period's
        # end is carried into the next period (busy and touch hours).
        self.period_end = np.inf
        self._carry: list[tuple[float, bool]] = []  # (hours left, is a VIP touch) of each service crossing period_end
        # rostered and overtime hours are integrated over time from _t_acc; _over: agents above
        # a lowered roster are still finishing tickets
        self._t_acc = env.now
        self._over = False
        self._roster: Any = iter(())

    @property
    def agents(self) -> int:
        """Agents on duty now."""
        return self._capacity

    @property
    def waiting(self) -> int:
        """Tickets and touches waiting for an agent."""
        return len(self._queue)

    @property
    def busy(self) -> int:
        """Agents serving a ticket or touch now."""
        return self._busy

    # ------------------------------------------------------------------ agents and roster

    def set_agents(self, agents: int) -> None:
        """Change the number of agents on duty now. Agents above the new number finish the
        ticket in hand first (paid as overtime); new agents start on waiting tickets at once."""
        self._accrue()
        grow = agents > self._capacity
        self._capacity = agents
        self._over = self._busy > agents
        self.stats.peak_agents = max(self.stats.peak_agents, agents)
        if grow:
            self._dispatch()

    def _accrue(self) -> None:
        now = self.env.now
        dt = now - self._t_acc
        if dt > 0:
            cap = self._capacity
            self.stats.rostered_h += dt * cap
            if self._over:
                self.stats.overtime_h += dt * max(self._busy - cap, 0)
        self._t_acc = now

    def set_roster(self, t0: float, agents_by_hour: np.ndarray, load_by_hour: np.ndarray | None = None,
                   n_hours: int = 730) -> None:
        """Follow a weekly roster from ``t0`` for ``n_hours`` hours: ``agents_by_hour[h]`` agents
        in every hour of the week ``h`` (168 values). Replaces any roster still pending."""
        hours = t0 + np.arange(n_hours)
        on = np.asarray(agents_by_hour)[hour_of_week(hours)]
        change = np.flatnonzero(np.diff(on)) + 1
        idx = np.concatenate([[0], change])
        self._roster = iter(zip(hours[idx].tolist(), on[idx].tolist()))
        self.stats.peak_agents = int(on.max())
        if self.log is not None:
            occ = np.bincount(hour_of_week(hours), minlength=WEEK_H)
            self.log.add_roster(np.asarray(agents_by_hour), load_by_hour, occ)
        self._next_roster()

    def _next_roster(self) -> None:
        step = next(self._roster, None)
        if step is not None:
            Timeout(self.env, max(0.0, step[0] - self.env.now), step[1]).callbacks.append(self._roster_step)

    def _roster_step(self, event: Timeout) -> None:
        agents = event.value
        if agents > self._capacity:
            # more agents: take effect after every ticket joining the queue at this instant
            # (their arrival events were scheduled before this one's relay), so a queue that
            # built up while closed is served in priority order
            Timeout(self.env, 0.0, agents).callbacks.append(self._relay_agents)
        else:
            self.set_agents(agents)
        self._next_roster()

    def _relay_agents(self, event: Timeout) -> None:
        self.set_agents(event.value)

    # ------------------------------------------------------------------ periods

    def begin_period(self, end_h: float) -> None:
        """Start a period ending at ``end_h``; work carried over from the last one is booked to it."""
        self.period_end = end_h
        # each carried service keeps its agent until it ends: at most the period's length of it here
        carry, self._carry = self._carry, []
        for hours, touch in carry:
            self._book(hours, touch=touch)

    def _book(self, hours: float, *, touch: bool = False) -> None:
        """Book ``hours`` of agent time starting now: the part before period_end to this period."""
        if self.env.now + hours <= self.period_end:  # the usual case, on the per-ticket path
            self.stats.busy_h += hours
            if touch:
                self.stats.touch_h += hours
            return
        now_part = max(self.period_end - self.env.now, 0.0)
        self.stats.busy_h += now_part
        self._carry.append((hours - now_part, touch))
        if touch:
            self.stats.touch_h += now_part

    def new_period(self) -> DeskStats:
        """Close the current period: purge expired waiting tickets, return its stats."""
        now = self.env.now
        expired = sorted(item for item in self._queue  # in queue order, as they would have been reached
                         if item[2] == 0 and self._patience_waited(item[3], now) > item[3][2])  # patience ran out
        if expired:
            gone = {item[1] for item in expired}
            self._queue = [item for item in self._queue if item[1] not in gone]
            heapq.heapify(self._queue)
            for item in expired:
                self._abandon(item[3])
        self._accrue()
        # paid >= worked holds exactly in real arithmetic; a gap of float rounding (a fully busy desk
        # sums thousands of service times to the period's length) is booked as overtime, so that
        # utilisation never reads 1 + 1e-16. A larger gap is a bug and is left visible.
        gap = self.stats.busy_h - self.stats.paid_h
        if 0.0 < gap <= 1e-9 * max(self.stats.busy_h, 1.0):
            self.stats.overtime_h += gap
        if self.log is not None:
            self.log.add_tickets(self._served, self._abandoned, self.counters.segment)  # type: ignore[attr-defined]
            self._served, self._abandoned = [], []
        stats, self.stats = self.stats, DeskStats(peak_agents=self.agents)
        return stats

    # ------------------------------------------------------------------ tickets in

    def submit(self, batch: TicketBatch) -> None:
        """Feed a batch of tickets (sorted by arrival) into the queue when their line is open."""
        arrival = batch.arrival_h
        line = np.zeros(len(batch), np.int64)
        if self.hours is None:
            entry = arrival
        else:
            line = (batch.priority == 0).astype(np.int64)
            entry = np.where(line == 1, self.hours.vip.entry(arrival), self.hours.standard.entry(arrival))
        if self._clocks is None:
            clock0 = arrival
        else:
            clock0 = np.where(line == 1, self._clocks[1].clocks(arrival), self._clocks[0].clocks(arrival))
        expect = batch.sla_h if batch.expect_h is None else batch.expect_h
        tolerance = np.full(len(batch), np.inf) if batch.tolerance_h is None else batch.tolerance_h
        fields = [arrival, batch.handle_h, batch.patience_h, batch.priority, batch.sla_h, batch.customer,
                  batch.fee_usd, clock0, line, expect, tolerance]
        if self.hours is not None:
            # queue entry order: time, then priority, then arrival (tickets held while closed
            # join in priority order at opening)
            order = np.lexsort((arrival, batch.priority, entry))
            entry = entry[order]
            fields = [f[order] for f in fields]
        rows = zip(*(f.tolist() for f in fields))
        self._feed(zip(entry.tolist(), rows), self._arrive)

    def submit_touches(self, time_h: np.ndarray, duration_h: np.ndarray, customer: np.ndarray) -> None:
        """VIP touches (welcome, check-ins, outreach): agent work at top priority, in the desk's hours."""
        entry = time_h if self.hours is None else self.hours.standard.entry(time_h)
        order = np.argsort(entry, kind="stable")
        rows = zip(duration_h[order].tolist(), customer[order].tolist())
        self._feed(zip(entry[order].tolist(), rows), self._touch_arrive)

    def _feed(self, items: Any, arrive: Any) -> None:
        """Schedule the next item's entry only when the previous one has entered: one pending
        entry per batch keeps SimPy's event heap small (heap operations cost log of its size).
        ``items`` yields (entry_h, row)."""
        item = next(items, None)
        if item is not None:
            ev = Timeout(self.env, max(0.0, item[0] - self.env.now), (item[1], items, arrive))
            ev.callbacks.append(self._fed)

    def _fed(self, event: Timeout) -> None:
        row, items, arrive = event.value
        arrive(row)
        now = self.env.now
        item = next(items, None)
        while item is not None and item[0] <= now:  # every entry due at this instant, in order
            arrive(item[1])
            item = next(items, None)
        if item is not None:
            Timeout(self.env, item[0] - now, (item[1], items, arrive)).callbacks.append(self._fed)

    def _patience_waited(self, row: tuple, now: float) -> float:
        """Hours ``row`` has waited by ``now`` on the patience clock."""
        if self._patience_business:
            return self._clocks[row[8]].clock(now) - row[7]  # type: ignore[index]
        return now - row[0]

    # ------------------------------------------------------------------ the queue
    # Tickets are chains of SimPy events with callbacks rather than generator processes, and
    # the desk grants agents itself: entry timeout -> (wait in the queue) -> service timeout.
    # Agents are granted when work arrives to a free agent, when an agent finishes, and when
    # agents come on duty; whoever waits longest at the best priority goes first.

    def _arrive(self, row: tuple) -> None:
        if self._busy < self._capacity and not self._queue:  # an agent is free: straight to them
            self._busy += 1
            self._start(row)
            return
        heapq.heappush(self._queue, (row[3], next(self._order), 0, row))
        if self._busy < self._capacity:
            self._dispatch()

    def _touch_arrive(self, row: tuple) -> None:
        heapq.heappush(self._queue, (0, next(self._order), 1, row))
        if self._busy < self._capacity:
            self._dispatch()

    def _dispatch(self) -> None:
        """Start waiting work on free agents, in queue order, until none is free or none waits.

        Agents are granted in rounds, as SimPy's resource grants them: every free agent takes
        the head of the queue, then the work starts in that order; agents whose ticket turns
        out abandoned take the next heads in the following round. (The same tickets are served
        either way; the rounds keep the order in which their outcomes are recorded.)"""
        queue = self._queue
        while queue and self._busy < self._capacity:
            if self._capacity - self._busy == 1:  # the usual case: one agent freed, one ticket
                self._busy += 1
                _, _, kind, row = heapq.heappop(queue)
                if kind:
                    self._touch_start(row)
                else:
                    self._start(row)
                continue
            granted = [heapq.heappop(queue) for _ in range(min(self._capacity - self._busy, len(queue)))]
            self._busy += len(granted)
            for _, _, kind, row in granted:
                if kind:
                    self._touch_start(row)
                else:
                    self._start(row)

    def _start(self, row: tuple) -> None:
        arrival, handle, patience, prio, sla, cust, fee, clock0, line, expect, tolerance = row
        now = self.env.now
        # The arrival timeout is scheduled as a delay from the previous arrival, so float
        # rounding can start service a hair (1e-17 h) before the recorded arrival: a wait is
        # never negative by construction.
        wait = now - arrival if now > arrival else 0.0
        if self._clocks is not None:  # open hours of the ticket's line since it arrived
            business = self._clocks[line].clock(now) - clock0
            business = business if business > 0.0 else 0.0
            waited = business if self._sla_business else wait  # on the SLA clock
            gave_up = (business if self._patience_business else wait) > patience
        else:
            waited = wait
            gave_up = wait > patience
        if gave_up:  # the customer gave up meanwhile: skip at zero cost (the agent is free again)
            self._busy -= 1
            self._abandon(row)
            return
        st, c = self.stats, self.counters
        st.waits_h.append(wait)
        met = waited <= sla
        if met:
            st.sla_met += 1
        if waited <= expect:
            c.on_time[cust] += 1
        else:
            c.late[cust] += 1
            if waited > tolerance:
                c.late_down[cust] += 1
        self._book(handle)
        if fee:
            st.fees_usd += fee
            c.fees_usd[cust] += fee
        if self.ticket_log is not None:
            self.ticket_log.append((cust, arrival, arrival + wait, handle, fee))
        if self.log is not None:
            self._served.append((arrival, cust, prio, wait, met))
        Timeout(self.env, handle).callbacks.append(self._finish)

    def _finish(self, _event: Timeout) -> None:
        if self._over:  # agents above a lowered roster are finishing: book their overtime
            self._accrue()
            self._busy -= 1
            self._over = self._busy > self._capacity
        else:
            self._busy -= 1
        if self._queue and self._busy < self._capacity:
            if self.env.peek() == self.env.now:
                # Something else happens at this very instant (a roster change, a touch ending on
                # the half hour): let it act first, as it would before SimPy's release event.
                Timeout(self.env, 0.0).callbacks.append(self._freed)
            else:
                self._dispatch()

    def _freed(self, _event: Timeout) -> None:
        if self._queue and self._busy < self._capacity:
            self._dispatch()

    def _abandon(self, row: tuple) -> None:
        self.stats.abandoned += 1
        self.counters.abandoned[row[5]] += 1
        if self.ticket_log is not None:
            self.ticket_log.append((row[5], row[0], None, row[1], 0.0))
        if self.log is not None:
            self._abandoned.append((row[0], row[5], row[3]))

    def _touch_start(self, row: tuple) -> None:
        duration, cust = row
        self.stats.touches += 1
        self._book(duration, touch=True)
        self.counters.touches[cust] += 1
        Timeout(self.env, duration).callbacks.append(self._finish)
