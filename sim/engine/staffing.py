"""The roster: agents on duty per hour of the week, set each month.

Where it sits: schema + ``sim.engine.hours`` (opening hours, arrival profile) +
``sim.engine.erlang`` -> **staffing** -> the model, which hands the roster to the desk
(capacity over time) and pays its hours. Pure functions; it must not import the desk or the
model.

``fixed`` staffing puts ``support.agents`` on duty in every hour a line of the desk is open.
``erlang`` staffing forecasts the month's offered load per hour of the week and staffs each
hour with the fewest agents whose Erlang C service level meets the target:

1. The month's tickets (the number actually raised: a perfect volume forecast, as before) are
   spread over the hours of the week by the arrival profile, per line (VIP tickets on the VIP
   line when it is on, every other ticket on the standard line).
2. Tickets that arrive while their line is closed join the queue when it opens; the roster
   plans to answer them within the target, so their load is spread evenly over the first
   ``ceil(target)`` open hours after the closed stretch (or the whole open stretch when it is
   shorter). The target is what customers expect of the promise:
   ``min(support.sla_target_h, satisfaction.market_norm_h)`` (a looser promise does not lower
   what customers expect, so it does not lower the roster either).
3. VIP touch hours are spread evenly over the standard line's open hours.
4. Each open hour gets ``agents_for_service_level(load, handle mean, target,
   support.staffing_service_level)`` agents, within ``[support.min_agents, support.max_agents]``;
   closed hours get none.

Agents are paid for rostered hours only, plus overtime when they finish a ticket past the end
of their shift (measured by the desk).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from sim.engine import erlang, hours
from sim.engine.hours import WEEK_H, Schedule
from sim.params.schema import HOURS_PER_MONTH, Params


@dataclass(frozen=True)
class Roster:
    """Agents on duty and offered load (Erlangs) per hour of the week, for one month."""

    agents: np.ndarray  # int, 168
    load: np.ndarray  # float, 168: expected agent-hours of work entering the queue per hour

    def by_hour(self, t0: float, n_hours: int = int(HOURS_PER_MONTH)) -> np.ndarray:
        """Agents on duty in each hour of ``[t0, t0 + n_hours)``."""
        return self.agents[hours.hour_of_week(t0 + np.arange(n_hours))]


@functools.lru_cache(maxsize=64)
def _entry_matrix(open_bytes: bytes, spread: int) -> np.ndarray:
    """M[i, j]: share of the tickets arriving in hour-of-week i that join the queue in hour j.

    An open hour keeps its own arrivals; a closed hour's arrivals are spread evenly over the
    first ``spread`` open hours of the next open stretch (the week wraps round)."""
    is_open = np.frombuffer(open_bytes, dtype=bool)
    m = np.zeros((WEEK_H, WEEK_H))
    if not is_open.any():
        return m
    for i in range(WEEK_H):
        if is_open[i]:
            m[i, i] = 1.0
            continue
        j = i
        while not is_open[j % WEEK_H]:
            j += 1
        targets = []
        while is_open[j % WEEK_H] and len(targets) < spread:
            targets.append(j % WEEK_H)
            j += 1
        m[i, targets] = 1.0 / len(targets)
    m.setflags(write=False)
    return m


def _entries(arrivals: np.ndarray, schedule: Schedule, spread: int) -> np.ndarray:
    if schedule.always:
        return arrivals
    return arrivals @ _entry_matrix(schedule.open_h.tobytes(), spread)


def staffing_target_h(params: Params) -> float:
    """The first response the roster staffs for: what customers expect of the flat promise."""
    return min(params.support.sla_target_h, params.satisfaction.market_norm_h)


def month_roster(params: Params, priority: np.ndarray, touch_h: float, t0: float) -> Roster:
    """The roster of the month starting at ``t0`` for tickets of desk ``priority`` (0 = VIP) and
    ``touch_h`` hours of VIP touches (see the module docstring)."""
    sup = params.support
    dh = hours.desk_hours(sup)
    # a VIP line is staffed only when there are VIPs to answer on it (the programme is on)
    line = sup.vip_line and params.vip.enabled
    std_open, vip_open = dh.standard.open_h, (dh.vip.open_h if line else dh.standard.open_h)
    n_vip = int(np.count_nonzero(priority == 0)) if line and not dh.standard.always else 0
    n_std = len(priority) - n_vip
    occ = hours.occurrences(t0)
    w = hours.profile(sup)
    per_ticket = w / float((w * occ).sum())  # expected arrivals per hour of the week, per ticket of the month
    target_h = staffing_target_h(params)
    spread = max(1, math.ceil(target_h))
    entries = _entries(n_std * per_ticket, dh.standard, spread)
    if n_vip:
        entries = entries + _entries(n_vip * per_ticket, dh.vip, spread)
    open_std_h = float((std_open * occ).sum())
    load = entries * sup.handle_time_mean_h + (touch_h / open_std_h if open_std_h else 0.0) * std_open
    on_duty = std_open | vip_open
    if sup.staffing == "fixed":
        agents = np.where(on_duty, sup.agents, 0)
    else:
        agents = np.zeros(WEEK_H, dtype=np.int64)
        agents[on_duty] = erlang.agents_for_loads(
            load[on_duty], sup.handle_time_mean_h, target_h, sup.staffing_service_level,
            lo=sup.min_agents, hi=sup.max_agents)
    return Roster(agents.astype(np.int64), load)
