"""The desk and its effect on churn from the exports: hours, arrival profile, SLA clock, hazard model.

Where it sits: ``ingest`` (tables) -> ``deskhours``, ``panel``, ``hazard`` -> **supportfit** ->
``estimate`` (which adds it to the calibration) -> ``write``. One call, :func:`fit_support`:

1. opening hours and the arrival profile from ticket timestamps (``deskhours``);
2. each ticket's wait on the business clock of those hours and on the calendar;
3. the churn hazard model (``hazard``) on customer-months with lateness measured on each clock:
   customers react to lateness on the clock their expectations run on, so the clock whose
   lateness explains churn better (log-likelihood less the number of coefficients, Akaike) is
   the SLA clock;
4. the model's satisfaction parameters from that fit (``hazard.fit_mechanics``).

Pure computation: nothing is read, written or printed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.calibrate import deskhours as dh
from sim.calibrate import hazard as hz
from sim.calibrate.catalogue import MAX_CUSTOMERS
from sim.calibrate.deskfit import still_open
from sim.calibrate.ingest import CustomerTable, TicketTable, release_free_memory
from sim.calibrate.panel import Panel, build_panel
from sim.params.schema import Churn, HelpSeeking, Satisfaction

MIN_CHURNED = 30  # fewer cancellations in the panel than this: no hazard model


@dataclass
class SupportFit:
    """What the tickets say about the desk's week and about support's effect on churn."""

    hours: dh.Hours | None
    profile: dh.Profile | None
    clock: str  # 'business' or 'calendar': the SLA clock chosen
    attainment: dict[str, float]  # share answered within the promise on each clock
    clock_loglik: dict[str, float]  # the hazard model's log-likelihood less its coefficients, lateness on each clock
    sla_waits: np.ndarray  # per ticket, on the chosen clock (NaN if unanswered)
    patience_waits: np.ndarray  # per ticket, on the patience clock
    expectation_h: float
    reduced: hz.ReducedForm | None = None
    mechanics: hz.Mechanics | None = None
    event_counts: dict[str, int] = field(default_factory=dict)
    customers_used: int = 0
    customers_total: int = 0
    agents_by_hour: np.ndarray | None = None
    patience_clock: str = "business"
    abandon_ratio: float = float("nan")  # P(abandoned | arrived closed) / P(abandoned | arrived open)

    @property
    def fitted(self) -> bool:
        return self.mechanics is not None

    def open_share(self) -> float:
        """Share of the week the desk is open (1 when the hours are not known)."""
        return 1.0 if self.hours is None else float(self.hours.schedule.open_h.mean())

    def counted_agents(self) -> tuple[int, str] | None:
        """(agents, comment) from an agent column: distinct agents answering per open hour, or None."""
        if self.agents_by_hour is None:
            return None
        mask = self.hours.schedule.open_h if self.hours is not None else np.ones(len(self.agents_by_hour), bool)
        mean = float(np.mean(self.agents_by_hour[mask])) if mask.any() else 0.0
        if mean <= 0:
            return None
        return max(1, int(round(mean))), (f"distinct agents giving a first response per open hour, averaged over the "
                                          f"hours of the week ({mean:.2f}; a lower bound on agents on duty; busiest "
                                          f"hour {float(self.agents_by_hour.max()):.2f})")


def defaults() -> dict[str, float]:
    """The satisfaction and churn parameters as the schema sets them (the prior centre and fixed values)."""
    s = Satisfaction()
    return {"p_down_unresolved": s.p_down_unresolved, "p_down_effort": s.p_down_effort,
            "late_half_ratio": s.late_half_ratio, "m_below": Churn().level_hazard_multiplier[0],
            "p_recover_from_below": s.p_recover_from_below, "resentment_per_usd": s.resentment_per_usd}


ABANDON_RATIO_CALENDAR = 2.0  # tickets raised while closed abandoned this many times as often: patience runs on


def patience_clock(t: TicketTable, hours: dh.Hours | None, open_now: np.ndarray) -> tuple[str, float]:
    """The clock customers' patience runs on: on the business clock a ticket raised while the desk is closed loses
    no patience until it opens, so it is abandoned about as often as one raised while open; on the calendar it waits
    the night out and is abandoned far more often (:data:`ABANDON_RATIO_CALENDAR`)."""
    if hours is None or hours.always:
        return "business", float("nan")
    closed = ~hours.schedule.open_h[dh.week_hour(t.opened_h)]
    abandoned = ~np.isfinite(t.first_response_h) & ~open_now
    if closed.sum() < dh.MIN_TICKETS // 4 or (~closed).sum() < dh.MIN_TICKETS // 4:
        return "business", float("nan")
    ratio = float(abandoned[closed].mean() / max(abandoned[~closed].mean(), 1e-9))
    return ("calendar" if ratio >= ABANDON_RATIO_CALENDAR else "business"), ratio


def unseen_unresolved(ticket_rate: np.ndarray) -> np.ndarray:
    """Issues per customer-month never raised and not gone on their own, as the calibrated scenario makes them:
    issue rate (ticket rate / P(ask)) x (1 - P(ask)) x (1 - P(self-resolve)) at the schema's defaults."""
    h = HelpSeeking()
    return np.asarray(ticket_rate) / h.base_ask_prob * (1 - h.base_ask_prob) * (1 - h.self_resolve_prob)


def fit_support(c: CustomerTable, t: TicketTable, *, seg_code: np.ndarray, n_segments: int, w0: float,
                export_h: float, promise_h: float, ticket_rate: np.ndarray, base0: np.ndarray,
                notes: list[str], agent_codes: np.ndarray | None = None,
                max_customers: int = MAX_CUSTOMERS, seed: int = 0) -> SupportFit:
    """Hours, profile, SLA clock and the support -> churn fit (see the module docstring)."""
    hours = dh.fit_hours(t.opened_h, t.first_response_h)
    profile = dh.fit_profile(t.opened_h, w0, export_h)
    if hours is None:
        notes.append(f"fewer than {dh.MIN_TICKETS} answered tickets: opening hours and the arrival profile keep "
                     "their defaults")
    elif hours.off_schedule_share > dh.OFF_SCHEDULE_NOTE:
        notes.append(f"{hours.off_schedule_share:.1%} of first responses fall outside the hours written "
                     f"({hours.label()}): the desk's hours are not one weekly block")
    calendar = t.first_response_h - t.opened_h
    business = (calendar if hours is None or hours.always  # one clock when the desk never closes
                else dh.business_waits(t.opened_h, t.first_response_h, hours))
    expect = min(promise_h, Satisfaction().market_norm_h)
    answered = np.isfinite(calendar)
    attainment = {k: float(np.mean(w[answered] <= promise_h + 1e-9)) if answered.any() else float("nan")
                  for k, w in (("business", business), ("calendar", calendar))}
    open_now = still_open(t, export_h)
    fit = SupportFit(hours, profile, "business", attainment, {}, business, business, expect)
    fit.patience_clock, fit.abandon_ratio = patience_clock(t, hours, open_now)
    fit.patience_waits = business if fit.patience_clock == "business" else calendar
    if agent_codes is not None and (agent_codes >= 0).any():
        fit.agents_by_hour = dh.agents_by_hour(t.first_response_h, agent_codes, w0, export_h)
    clocks = ["business"] if hours is None or hours.always else ["business", "calendar"]
    fits: dict[str, tuple[Panel, hz.Design, hz.ReducedForm]] = {}
    for clock in clocks:
        waits = business if clock == "business" else calendar
        panel = build_panel(c, t, seg_code=seg_code, w0=w0, export_h=export_h, sla_waits=waits,
                            expectation_h=expect, still_open=open_now, max_customers=max_customers, seed=seed)
        if panel.churned.sum() < MIN_CHURNED:
            notes.append(f"{int(panel.churned.sum())} cancellations among customers with observed months "
                         f"(< {MIN_CHURNED}): support's effect on churn is not estimated; satisfaction defaults kept")
            return fit
        fee_step = float(np.median(panel.fees[panel.fees > 0])) if (panel.fees > 0).any() else 1.0
        d = hz.design(panel, fee_step_usd=fee_step)
        if len(d.names) <= len(set(panel.segment.tolist())):
            notes.append("no support outcome (abandoned, late, unresolved, fees) in enough customer-months "
                         f"(>= {hz.MIN_EVENTS}): support's effect on churn is not estimated; satisfaction defaults kept")
            return fit
        fits[clock] = (panel, d, hz.fit_reduced(d, panel))
        release_free_memory()
        fit.clock_loglik[clock] = fits[clock][2].loglik - len(fits[clock][2].beta)  # Akaike's penalty
    # Akaike: lateness on a clock customers do not use still adds covariates, and a little likelihood with them
    best = max(fits, key=lambda k: fit.clock_loglik[k])
    panel, d, rf = fits[best]
    fit.clock = best
    fit.sla_waits = business if best == "business" else calendar
    fit.reduced, fit.event_counts = rf, d.counts
    fit.customers_used, fit.customers_total = panel.customers, panel.customers_total
    fits.clear()  # the other clock's panel
    if panel.sampled:
        notes.append(f"support's effect on churn fitted on a seeded sample of {panel.customers:,} of "
                     f"{panel.customers_total:,} customers")
    fit.mechanics = hz.fit_mechanics(d, rf, panel, defaults=defaults(), n_segments=n_segments,
                                     base0=np.clip(base0, 1e-4, 0.5), unseen_unresolved=unseen_unresolved(ticket_rate))
    if not fit.mechanics.converged:
        notes.append("the support -> churn mapping did not converge: its estimates are the last iterate")
    return fit
