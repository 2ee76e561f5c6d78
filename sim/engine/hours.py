"""Opening hours and the arrival profile over the hour of the week.

Where it sits: schema (``support.hours``, ``support.arrival_by_*``) -> **hours** -> the model
(ticket arrival times), ``sim.engine.staffing`` (the roster) and ``sim.engine.desk`` (when a
ticket may join the queue, waits on the SLA clock). Pure functions of the parameters and of
time; no SimPy, no state. It must not import the model or the desk.

Time is in hours since the start of the run, and hour 0 is Monday 00:00 in the desk's time zone
(customers are taken to be in the same zone). A week is 168 h; a month (730 h) is not a whole
number of weeks, so months start on different weekdays.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sim.params.schema import HOURS_PER_MONTH, Support

WEEK_H = 168
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, eq=False)
class Schedule:
    """When a line of the desk is open: one flag per hour of the week.

    ``open_h`` is a boolean array of 168 flags (hour 0 = Monday 00-01). ``clock(t)`` counts the
    open hours in ``[0, t)``: the "business hours" clock on which SLAs and patience run when
    ``support.sla_clock = "business"``.
    """

    open_h: np.ndarray

    @functools.cached_property
    def always(self) -> bool:
        return bool(self.open_h.all())

    @functools.cached_property
    def _cum(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(self.open_h, dtype=float)])

    @functools.cached_property
    def _wait_to_open(self) -> np.ndarray:
        """Hours from the start of each hour of the week to the start of the next open hour (0 if open)."""
        wait = np.zeros(WEEK_H)
        if not self.open_h.any():
            return np.full(WEEK_H, np.inf)
        nxt = np.inf
        for h in range(2 * WEEK_H - 1, -1, -1):  # two passes round the circular week
            if self.open_h[h % WEEK_H]:
                nxt = h
            if h < WEEK_H:
                wait[h] = nxt - h
        return wait

    @property
    def open_per_week(self) -> float:
        return float(self._cum[-1])

    @functools.cached_property
    def _lists(self) -> tuple[list[float], list[float], float]:
        return self._cum.tolist(), self.open_h.astype(float).tolist(), float(self._cum[-1])

    def clock(self, t: float) -> float:
        """Open hours in ``[0, t)`` (a scalar, on the desk's per-ticket path: plain floats, no numpy)."""
        cum, is_open, per_week = self._lists
        weeks, rest = divmod(t, WEEK_H)
        h = int(rest)
        return weeks * per_week + cum[h] + (rest - h) * is_open[h]

    def clocks(self, t: np.ndarray) -> np.ndarray:
        """:meth:`clock` of an array of times."""
        weeks, rest = np.divmod(t, WEEK_H)
        h = rest.astype(np.int64)
        return weeks * self._cum[-1] + self._cum[h] + (rest - h) * self.open_h[h]

    def entry(self, t: np.ndarray) -> np.ndarray:
        """The first time at or after each ``t`` at which the line is open (a ticket's queue entry)."""
        if self.always:
            return t
        h = (np.floor(t).astype(np.int64)) % WEEK_H
        return np.where(self.open_h[h], t, np.floor(t) + self._wait_to_open[h])


def occurrences(t0: float, hours: float = HOURS_PER_MONTH) -> np.ndarray:
    """How often each hour of the week occurs in ``[t0, t0 + hours)`` (integer ``t0`` and ``hours``)."""
    return np.bincount(hour_of_week(t0 + np.arange(int(hours))), minlength=WEEK_H).astype(float)


def hour_of_week(t: np.ndarray | float) -> np.ndarray:
    """Hour of the week (0 = Monday 00-01, 167 = Sunday 23-24) of times in hours."""
    return (np.floor(t).astype(np.int64)) % WEEK_H


def weekly_mask(open_hour: int, close_hour: int, days: int) -> np.ndarray:
    """Open from ``open_hour`` to ``close_hour`` on the first ``days`` days of the week (Monday first)."""
    day = np.zeros(24, bool)
    day[open_hour:close_hour] = True
    week = np.zeros((7, 24), bool)
    week[:days] = day
    return week.ravel()


@functools.lru_cache(maxsize=64)
def _schedule(key: tuple[int, int, int] | None) -> Schedule:
    return Schedule(np.ones(WEEK_H, bool) if key is None else weekly_mask(*key))


def desk_schedule(sup: Support) -> Schedule:
    """The standard line's opening hours: 24/7 or the weekly schedule of ``support``."""
    if sup.hours == "24/7":
        return _schedule(None)
    return _schedule((sup.open_hour, sup.close_hour, sup.open_days))


def vip_schedule(sup: Support) -> Schedule:
    """When VIP tickets can be answered: the standard hours, plus the VIP line's when it is on."""
    std = desk_schedule(sup)
    if not sup.vip_line or std.always:
        return std
    line = weekly_mask(sup.vip_line_open_hour, sup.vip_line_close_hour, sup.vip_line_days)
    return _vip_union(std, line.tobytes())


@functools.lru_cache(maxsize=64)
def _vip_union(std: Schedule, line: bytes) -> Schedule:
    return Schedule(std.open_h | np.frombuffer(line, dtype=bool))


def profile(sup: Support) -> np.ndarray:
    """Relative ticket arrival rate per hour of the week (168 values, weekday working hours = 1).

    Weekday hours from ``arrival_day_start_hour`` to ``arrival_day_end_hour`` have rate 1
    (Monday's ``arrival_monday_factor``), other weekday hours ``arrival_offhours_factor``, every
    weekend hour ``arrival_weekend_factor``. All factors 1 give a flat profile.
    """
    return _profile(sup.arrival_day_start_hour, sup.arrival_day_end_hour, sup.arrival_offhours_factor,
                    sup.arrival_weekend_factor, sup.arrival_monday_factor)


@functools.lru_cache(maxsize=64)
def _profile(start: int, end: int, offhours: float, weekend: float, monday: float) -> np.ndarray:
    day = np.full(24, offhours)
    day[start:end] = 1.0
    week = np.tile(day, (7, 1))
    week[0, start:end] = monday
    week[5:] = weekend
    w = week.ravel()
    w.setflags(write=False)
    return w


def is_flat(weights: np.ndarray) -> bool:
    return bool(np.all(weights == weights[0]))


def arrivals(sup: Support, t0: float, u: np.ndarray) -> np.ndarray:
    """Arrival times in the month ``[t0, t0 + 730)`` from uniforms ``u``, following the profile.

    The density is piecewise constant over the month's hours, proportional to the profile of
    each hour of the week; one uniform per ticket (inverse CDF), so common random numbers
    hold. A flat profile gives ``t0 + 730 u`` exactly.
    """
    return _place(profile(sup), t0, u)


def open_times(sup: Support, t0: float, u: np.ndarray) -> np.ndarray:
    """Times uniform over the standard line's open hours in the month (VIP touches are scheduled
    work: agents book them in opening hours)."""
    return _place(desk_schedule(sup).open_h.astype(float), t0, u)


def _place(w: np.ndarray, t0: float, u: np.ndarray) -> np.ndarray:
    if is_flat(w):
        return t0 + u * HOURS_PER_MONTH
    cells = w[hour_of_week(t0 + np.arange(int(HOURS_PER_MONTH)))]
    cum = np.concatenate([[0.0], np.cumsum(cells)])
    x = u * cum[-1]
    idx = np.clip(np.searchsorted(cum, x, side="right") - 1, 0, len(cells) - 1)
    frac = np.clip((x - cum[idx]) / cells[idx], 0.0, np.nextafter(1.0, 0.0))
    return t0 + idx + frac


@dataclass(frozen=True)
class DeskHours:
    """What the desk needs to know about time: when each line is open and which clocks run.

    ``standard``: hours of the desk (every ticket and VIP touch); ``vip``: hours VIP tickets
    (desk priority 0) can be answered; ``sla_business`` / ``patience_business``: the SLA /
    customers' patience count only the open hours of the ticket's line (else every hour counts).
    """

    standard: Schedule
    vip: Schedule
    sla_business: bool
    patience_business: bool

    @property
    def always(self) -> bool:
        return self.standard.always and self.vip.always


def desk_hours(sup: Support) -> DeskHours:
    return DeskHours(desk_schedule(sup), vip_schedule(sup), sup.sla_clock == "business",
                     sup.patience_clock == "business")


def unkeepable_share(schedule: Schedule, weights: np.ndarray, promise_h: float, *, per_hour: int = 60) -> float:
    """Share of tickets, arriving by the profile ``weights`` (168 hourly rates, uniform within an
    hour), with no open moment in ``[arrival, arrival + promise_h)`` on the calendar: no roster
    can answer them in time (on the business clock the promise only runs while the line is open,
    so every promise can be kept). Exact up to the ``per_hour`` grid (1 minute by default)."""
    if schedule.always:
        return 0.0
    t = (np.arange(WEEK_H * per_hour) + 0.5) / per_hour
    late = (schedule.entry(t) - t) >= promise_h
    w = np.asarray(weights, dtype=float)[hour_of_week(t)]
    return float(w[late].sum() / w.sum()) if w.sum() > 0 else 0.0
