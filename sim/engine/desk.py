"""The support desk: a finite team of agents as a SimPy priority resource.

Where it sits: the model (``sim.engine.model``) hands the desk each month's tickets and VIP
touches; the desk queues them by priority (VIP work 0, then plan tiers), serves them with
agents, and records per ticket whether it was answered within its expectation (SLA), late,
or abandoned, plus fees charged. It knows nothing about pricing or satisfaction.

Abandonment without a timeout per ticket: a waiting ticket whose customer's patience
has run out is skipped at zero cost when it reaches an agent ("virtual waiting time").
Because skipped tickets consume no agent time, every served ticket starts at exactly the
time it would in a queue where impatient customers leave when patience runs out; the
saving is one SimPy event per ticket. Expired tickets still waiting at a month boundary
are purged so the queue never carries more than a month of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import Timeout


def set_capacity(resource: simpy.Resource, capacity: int) -> None:
    """Set the number of servers of a SimPy resource while it runs.

    SimPy (4.1) has no public way to change a resource's capacity: ``capacity`` is a read-only
    property over ``_capacity``. This is the only place the project touches SimPy's private
    API: it sets ``_capacity`` and calls ``_trigger_put``, the hook SimPy itself calls after a
    release, so that waiting requests are granted at once when capacity grows. Requests in
    service beyond a lowered capacity keep their server until they release it (nothing is
    pre-empted). ``tests/test_desk.py::test_set_capacity_*`` pins this behaviour, so a SimPy
    upgrade that changes the private names fails there, not silently in the model.
    """
    resource._capacity = capacity  # type: ignore[attr-defined]
    resource._trigger_put(None)


class Counters(Protocol):
    """Per-customer outcome counters the desk increments (numpy arrays indexed by customer)."""

    on_time: np.ndarray
    late: np.ndarray
    abandoned: np.ndarray
    fees_usd: np.ndarray
    touches: np.ndarray


@dataclass
class TicketBatch:
    """One month's tickets, sorted by arrival time (hours since the start of the run)."""

    arrival_h: np.ndarray
    handle_h: np.ndarray
    patience_h: np.ndarray
    priority: np.ndarray
    sla_h: np.ndarray
    customer: np.ndarray
    fee_usd: np.ndarray

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


class Desk:
    """A support desk of ``agents`` agents in a SimPy environment."""

    def __init__(self, env: simpy.Environment, agents: int, counters: Counters,
                 ticket_log: list[tuple] | None = None) -> None:
        self.env = env
        self.resource = simpy.PriorityResource(env, capacity=agents)
        self.counters = counters
        self.stats = DeskStats()
        # Optional per-ticket log (customer, arrival_h, first_response_h or None, handle_h, fee_usd);
        # off by default so memory does not grow with events.
        self.ticket_log = ticket_log
        # Agent time is booked in the period it is worked: service that runs past the period's
        # end is carried into the next period (busy and touch hours).
        self.period_end = np.inf
        self._carry_busy_h = 0.0
        self._carry_touch_h = 0.0

    @property
    def agents(self) -> int:
        return self.resource.capacity

    def set_agents(self, agents: int) -> None:
        """Change the number of agents on duty. Agents above the new number finish the
        ticket in hand first; new agents start on waiting tickets at once."""
        set_capacity(self.resource, agents)

    def begin_period(self, end_h: float) -> None:
        """Start a period ending at ``end_h``; work carried over from the last one is booked to it."""
        self.period_end = end_h
        # agent-hours available: agents on the roster, or more while agents above a reduced
        # roster finish the work in hand (paid as overtime, see model.run)
        span = (end_h - self.env.now) * max(self.agents, len(self.resource.users))
        busy, self._carry_busy_h = self._split(self._carry_busy_h, span)
        touch, self._carry_touch_h = self._split(self._carry_touch_h, span)
        self.stats.busy_h += busy
        self.stats.touch_h += touch

    def _book(self, hours: float, *, touch: bool = False) -> None:
        """Book ``hours`` of agent time starting now: the part before period_end to this period."""
        if self.env.now + hours <= self.period_end:  # the usual case, on the per-ticket path
            self.stats.busy_h += hours
            if touch:
                self.stats.touch_h += hours
            return
        now_part, later = self._split(hours, self.period_end - self.env.now)
        self.stats.busy_h += now_part
        self._carry_busy_h += later
        if touch:
            self.stats.touch_h += now_part
            self._carry_touch_h += later

    @staticmethod
    def _split(hours: float, span: float) -> tuple[float, float]:
        inside = min(hours, max(span, 0.0))
        return inside, hours - inside

    def new_period(self) -> DeskStats:
        """Close the current period: purge expired waiting tickets, return its stats."""
        now = self.env.now
        for req in list(self.resource.put_queue):
            row = getattr(req, "row", None)
            if row is not None and row[0] + row[2] < now:  # arrival + patience has passed
                req.cancel()
                self._abandon(row)
        stats, self.stats = self.stats, DeskStats()
        return stats

    def submit(self, batch: TicketBatch) -> None:
        """Feed a batch of tickets (sorted by arrival) into the queue at their arrival times."""
        rows = zip(
            batch.arrival_h.tolist(), batch.handle_h.tolist(), batch.patience_h.tolist(), batch.priority.tolist(),
            batch.sla_h.tolist(), batch.customer.tolist(), batch.fee_usd.tolist(),
        )
        self._feed(rows, self._arrive)

    def submit_touches(self, time_h: np.ndarray, duration_h: np.ndarray, customer: np.ndarray) -> None:
        """VIP touches (welcome, check-ins, outreach): agent work at top priority."""
        order = np.argsort(time_h, kind="stable")
        rows = zip(time_h[order].tolist(), duration_h[order].tolist(), customer[order].tolist())
        self._feed(rows, self._touch_arrive)

    def _feed(self, rows: Any, arrive: Any) -> None:
        """Schedule the next row's arrival only when the previous one has arrived: one pending
        arrival per batch keeps SimPy's event heap small (heap operations cost log of its size)."""
        row = next(rows, None)
        if row is not None:
            ev = Timeout(self.env, max(0.0, row[0] - self.env.now), (row, rows, arrive))
            ev.callbacks.append(self._fed)

    def _fed(self, event: Timeout) -> None:
        row, rows, arrive = event.value
        arrive(row)
        self._feed(rows, arrive)

    # ------------------------------------------------------------------ event callbacks
    # Tickets are chains of SimPy events with callbacks rather than generator processes:
    # the same resource semantics with about half the events and no generator overhead
    # (arrival timeout -> request granted -> service timeout -> release).

    def _arrive(self, row: tuple) -> None:
        req = self.resource.request(priority=row[3])
        req.row = row  # type: ignore[attr-defined]
        req.callbacks.append(self._start)

    def _start(self, req: Any) -> None:
        arrival, handle, patience, _prio, sla, cust, fee = req.row
        now = self.env.now
        # The arrival timeout is scheduled as a delay from the previous arrival, so float
        # rounding can start service a hair (1e-17 h) before the recorded arrival: a wait is
        # never negative by construction.
        wait = now - arrival if now > arrival else 0.0
        if wait > patience:  # the customer gave up meanwhile: skip at zero cost
            self.resource.release(req)
            self._abandon(req.row)
            return
        st, c = self.stats, self.counters
        st.waits_h.append(wait)
        if wait <= sla:
            st.sla_met += 1
            c.on_time[cust] += 1
        else:
            c.late[cust] += 1
        self._book(handle)
        if fee:
            st.fees_usd += fee
            c.fees_usd[cust] += fee
        if self.ticket_log is not None:
            self.ticket_log.append((cust, arrival, arrival + wait, handle, fee))
        Timeout(self.env, handle, req).callbacks.append(self._finish)

    def _finish(self, event: Timeout) -> None:
        self.resource.release(event.value)

    def _abandon(self, row: tuple) -> None:
        self.stats.abandoned += 1
        self.counters.abandoned[row[5]] += 1
        if self.ticket_log is not None:
            self.ticket_log.append((row[5], row[0], None, row[1], 0.0))

    def _touch_arrive(self, row: tuple) -> None:
        req = self.resource.request(priority=0)
        req.touch = row[1:]  # type: ignore[attr-defined]  (duration_h, customer)
        req.callbacks.append(self._touch_start)

    def _touch_start(self, req: Any) -> None:
        duration, cust = req.touch
        self.stats.touches += 1
        self._book(duration, touch=True)
        self.counters.touches[cust] += 1
        Timeout(self.env, duration, req).callbacks.append(self._finish)
