"""The support desk: a finite team of agents as a SimPy priority resource.

Where it sits: the model (``sim.model``) hands the desk each month's tickets and VIP
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

    @property
    def agents(self) -> int:
        return self.resource.capacity

    def set_agents(self, agents: int) -> None:
        """Change the number of agents on duty. Agents above the new number finish the
        ticket in hand first; new agents start on waiting tickets at once."""
        # SimPy resources have no public capacity setter; _trigger_put is the hook
        # SimPy itself calls after a release.
        self.resource._capacity = agents
        self.resource._trigger_put(None)

    def new_period(self) -> DeskStats:
        """Close the current period: purge expired waiting tickets, return its stats."""
        now = self.env.now
        for req in list(self.resource.put_queue):
            if getattr(req, "deadline_h", np.inf) < now:
                req.cancel()
                self._abandon(req.customer)
                if self.ticket_log is not None:
                    self.ticket_log.append((req.customer, req.arrival_h, None, req.handle_h, 0.0))
        stats, self.stats = self.stats, DeskStats()
        return stats

    def submit(self, batch: TicketBatch) -> None:
        """Start feeding a batch of tickets into the queue at their arrival times."""
        if len(batch):
            self.env.process(self._feed_tickets(batch))

    def submit_touches(self, time_h: np.ndarray, duration_h: np.ndarray, customer: np.ndarray) -> None:
        """VIP touches (welcome, check-ins, outreach): agent work at top priority."""
        if len(time_h):
            order = np.argsort(time_h, kind="stable")
            self.env.process(
                self._feed_touches(time_h[order].tolist(), duration_h[order].tolist(), customer[order].tolist())
            )

    # ------------------------------------------------------------------ processes

    def _feed_tickets(self, b: TicketBatch) -> Any:
        env, ticket = self.env, self._ticket
        rows = zip(
            b.arrival_h.tolist(), b.handle_h.tolist(), b.patience_h.tolist(), b.priority.tolist(),
            b.sla_h.tolist(), b.customer.tolist(), b.fee_usd.tolist(),
        )
        for arrival, handle, patience, prio, sla, cust, fee in rows:
            delay = arrival - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(ticket(arrival, handle, patience, prio, sla, cust, fee))

    def _ticket(
        self, arrival: float, handle: float, patience: float, prio: int, sla: float, cust: int, fee: float
    ) -> Any:
        res = self.resource
        req = res.request(priority=prio)
        req.deadline_h = arrival + patience  # type: ignore[attr-defined]
        req.customer = cust  # type: ignore[attr-defined]
        req.arrival_h = arrival  # type: ignore[attr-defined]
        req.handle_h = handle  # type: ignore[attr-defined]
        yield req
        wait = self.env.now - arrival
        if wait > patience:
            res.release(req)
            self._abandon(cust)
            if self.ticket_log is not None:
                self.ticket_log.append((cust, arrival, None, handle, 0.0))
            return
        if self.ticket_log is not None:
            self.ticket_log.append((cust, arrival, self.env.now, handle, fee))
        st, c = self.stats, self.counters
        st.waits_h.append(wait)
        if wait <= sla:
            st.sla_met += 1
            c.on_time[cust] += 1
        else:
            c.late[cust] += 1
        st.busy_h += handle
        if fee:
            st.fees_usd += fee
            c.fees_usd[cust] += fee
        yield self.env.timeout(handle)
        res.release(req)

    def _abandon(self, cust: int) -> None:
        self.stats.abandoned += 1
        self.counters.abandoned[cust] += 1

    def _feed_touches(self, times: list[float], durations: list[float], customers: list[int]) -> Any:
        env = self.env
        for t, d, cust in zip(times, durations, customers):
            delay = t - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(self._touch(d, cust))

    def _touch(self, duration: float, cust: int) -> Any:
        res = self.resource
        req = res.request(priority=0)
        yield req
        self.stats.touch_h += duration
        self.stats.touches += 1
        self.stats.busy_h += duration
        self.counters.touches[cust] += 1
        yield self.env.timeout(duration)
        res.release(req)
