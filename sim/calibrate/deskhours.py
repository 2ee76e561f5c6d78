"""The desk's week from ticket timestamps: opening hours, the arrival profile, the SLA clock, agents.

Where it sits: ``ingest`` (the tickets table) -> **deskhours** -> ``deskfit`` (waits on the
chosen clocks), ``hazard`` (lateness on the SLA clock) and ``write`` (``support.hours``,
``open_hour``, ``close_hour``, ``open_days``, ``arrival_*``, ``sla_clock``, ``agents``).

Times are read as the desk's local time: naive timestamps as written, timestamps with an offset
converted to UTC (``--utc-offset`` shifts them back). The model's hour 0 is a Monday 00:00, so an
hour of the week here is ``(hours since 1970 + 72) mod 168`` (1970-01-01 was a Thursday).

* **Opening hours.** An hour of the week in which the desk is closed sees tickets arrive but no
  first response; an open one answers about as many as arrive (more at opening). Each hour is
  labelled open when its first responses reach :data:`OPEN_RATIO` of its arrivals, and the
  schema's forms (24/7, or ``open_hour``-``close_hour`` on the first ``open_days`` days) are
  scored by the tickets they classify right (weighted by arrivals + responses); the best wins.
* **Arrival profile.** Tickets opened per hour of the week over the hours observed: the five
  ``support.arrival_*`` parameters are fitted by Poisson maximum likelihood (each factor is a
  ratio of rates, with a delta-method SE), the working day by a search over start and end.
* **Agents.** With an agent column: distinct agents giving a first response in each clock hour,
  averaged per hour of the week (a lower bound on agents on duty).

Pure computation: nothing is read, written or printed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.engine.hours import WEEK_H, Schedule, weekly_mask

EPOCH_TO_MONDAY_H = 72.0  # 1970-01-01 00:00 was a Thursday: +72 h puts hour 0 on a Monday 00:00
OPEN_RATIO = 0.25  # first responses / arrivals at or above this in an hour of the week: open
MIN_TICKETS = 200  # fewer answered tickets than this: opening hours and profile keep their defaults
OFF_SCHEDULE_NOTE = 0.02  # first responses outside the chosen hours above this share are noted


def week_hour(hours: np.ndarray) -> np.ndarray:
    """Hour of the week (0 = Monday 00-01) of times in hours since 1970."""
    return (np.floor(np.asarray(hours) + EPOCH_TO_MONDAY_H).astype(np.int64)) % WEEK_H


def hour_occurrences(start_h: float, end_h: float) -> np.ndarray:
    """How many times each hour of the week is (wholly or partly) inside [start_h, end_h)."""
    first, last = math.floor(start_h), math.ceil(end_h)
    n = max(0, last - first)
    whole, rest = divmod(n, WEEK_H)
    occ = np.full(WEEK_H, float(whole))
    if rest:
        occ[week_hour(first + np.arange(rest, dtype=np.float64) + whole * WEEK_H)] += 1.0
    return occ


@dataclass(frozen=True)
class Hours:
    """The desk's opening hours as the schema writes them, and how well they fit the responses."""

    always: bool
    open_hour: int
    close_hour: int
    open_days: int
    agreement: float  # weighted share of hours of the week classified as the data say
    off_schedule_share: float  # share of first responses outside these hours
    responses: int

    @property
    def schedule(self) -> Schedule:
        return Schedule(np.ones(WEEK_H, bool) if self.always else
                        weekly_mask(self.open_hour, self.close_hour, self.open_days))

    def label(self) -> str:
        if self.always:
            return "24/7"
        days = ("Mon", "Mon-Tue", "Mon-Wed", "Mon-Thu", "Mon-Fri", "Mon-Sat", "every day")[self.open_days - 1]
        return f"{days} {self.open_hour:02d}-{self.close_hour:02d}"


@dataclass(frozen=True)
class Profile:
    """The arrival profile's five parameters (schema ``support.arrival_*``) with SEs of the factors."""

    day_start: int
    day_end: int
    offhours: float
    weekend: float
    monday: float
    se: dict[str, float] = field(default_factory=dict)
    tickets: int = 0
    loglik_gain: float = 0.0  # over a flat profile (Poisson log-likelihood)


def fit_hours(opened_h: np.ndarray, first_response_h: np.ndarray) -> Hours | None:
    """Opening hours from when tickets arrive and when first responses are given (None: too few)."""
    answered = np.isfinite(first_response_h)
    if answered.sum() < MIN_TICKETS:
        return None
    arr = np.bincount(week_hour(opened_h), minlength=WEEK_H).astype(float)
    resp = np.bincount(week_hour(first_response_h[answered]), minlength=WEEK_H).astype(float)
    label = resp >= OPEN_RATIO * np.maximum(arr, 1.0)
    weight = arr + resp
    best: tuple[float, tuple[bool, int, int, int]] = (float(np.sum(weight * label)), (True, 0, 24, 7))
    for days in range(1, 8):
        for o in range(24):
            for c in range(o + 1, 25):
                mask = weekly_mask(o, c, days)
                score = float(np.sum(weight * (mask == label)))
                if score > best[0] + 1e-9:
                    best = (score, (False, o, c, days))
    always, o, c, days = best[1]
    mask = np.ones(WEEK_H, bool) if always else weekly_mask(o, c, days)
    off = float(resp[~mask].sum() / max(resp.sum(), 1.0))
    return Hours(always, o, c, days, best[0] / max(weight.sum(), 1.0), off, int(resp.sum()))


def fit_profile(opened_h: np.ndarray, start_h: float, end_h: float) -> Profile | None:
    """The arrival profile's parameters by Poisson maximum likelihood over the hours observed."""
    if len(opened_h) < MIN_TICKETS:
        return None
    count = np.bincount(week_hour(opened_h), minlength=WEEK_H).astype(float).reshape(7, 24)
    occ = hour_occurrences(start_h, end_h).reshape(7, 24)
    flat_rate = count.sum() / occ.sum()
    flat_ll = float(np.sum(count * np.log(max(flat_rate, 1e-300))) - count.sum())
    best: tuple[float, Profile] | None = None
    for s in range(24):
        for e in range(s + 1, 25):
            groups = np.full((7, 24), 1)  # 0 Tue-Fri working, 1 weekday off-hours, 2 weekend, 3 Monday working
            groups[:5, s:e] = 0
            groups[0, s:e] = 3
            groups[5:] = 2
            n = np.bincount(groups.ravel(), weights=count.ravel(), minlength=4)
            x = np.bincount(groups.ravel(), weights=occ.ravel(), minlength=4)
            if n[0] <= 0 or x.min() <= 0:
                continue
            rate = n / x
            ll = float(np.sum(n * np.log(np.maximum(rate, 1e-300))) - n.sum())
            if best is None or ll > best[0] + 1e-9:
                f = rate / rate[0]
                # SE of a ratio of Poisson rates: f sqrt(1/n_k + 1/n_0)
                se = {k: float(f[i] * math.sqrt(1 / max(n[i], 1) + 1 / n[0]))
                      for k, i in (("offhours", 1), ("weekend", 2), ("monday", 3))}
                best = (ll, Profile(s, e, float(f[1]), float(f[2]), float(f[3]), se, int(count.sum()), ll - flat_ll))
    return None if best is None else best[1]


def clipped_profile(p: Profile) -> Profile:
    """Factors inside the schema's range (0 to 10)."""
    hi = 10.0
    return Profile(p.day_start, p.day_end, min(p.offhours, hi), min(p.weekend, hi), min(p.monday, hi), p.se,
                   p.tickets, p.loglik_gain)


def business_waits(opened_h: np.ndarray, first_response_h: np.ndarray, hours: Hours | None) -> np.ndarray:
    """First-response waits on the desk's business clock (calendar waits when it never closes)."""
    if hours is None or hours.always:
        return first_response_h - opened_h
    sched = hours.schedule
    out = np.full(len(opened_h), np.nan)
    ok = np.isfinite(first_response_h) & np.isfinite(opened_h)
    out[ok] = (sched.clocks(first_response_h[ok] + EPOCH_TO_MONDAY_H)
               - sched.clocks(opened_h[ok] + EPOCH_TO_MONDAY_H))
    return out


def agents_by_hour(first_response_h: np.ndarray, agent_codes: np.ndarray, start_h: float,
                   end_h: float) -> np.ndarray:
    """Mean distinct agents giving a first response in each hour of the week (168 values)."""
    ok = np.isfinite(first_response_h) & (agent_codes >= 0)
    clock_hour = np.floor(first_response_h[ok]).astype(np.int64)
    pairs = np.unique(np.stack([clock_hour, agent_codes[ok]]), axis=1)
    per_hour = np.bincount(week_hour(pairs[0].astype(float)), minlength=WEEK_H).astype(float)
    return per_hour / np.maximum(hour_occurrences(start_h, end_h), 1.0)
