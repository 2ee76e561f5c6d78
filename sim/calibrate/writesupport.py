"""The scenario lines of the desk's week, support's effect on churn and the ``[uncertainty]`` table.

Where it sits: ``supportfit`` (what was estimated) -> **writesupport** -> ``write`` (which owns the
document being built and checks that the text reads back as the values meant). Each value
carries its estimate, 95% interval and the rows behind it; the ``[uncertainty]`` table holds the
estimates' sampling distributions (docs/calibration.md, "Support and churn"). Nothing is
estimated, read or printed here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.calibrate.supportfit import ABANDON_RATIO_CALENDAR, SupportFit
from sim.params.schema import Churn, Satisfaction

PROFILE_CHI2_99 = 15.09  # chi-square(5) 99% point: a profile gaining less log-likelihood x 2 is written flat
MECHANICS = ("p_down_unresolved", "p_down_effort", "late_half_ratio", "p_recover_from_below", "resentment_per_usd")


def _r(v: float, digits: int = 4) -> float:
    return float(format(float(v), f".{digits}g"))


def desk_lines(doc: Any, fit: SupportFit, promise_h: float) -> None:
    """``support.hours`` (and the weekly hours), the arrival profile, the SLA and patience clocks, agents."""
    h = fit.hours
    if h is not None:
        doc.put("hours", "24/7" if h.always else "weekly",
                f"from {h.responses:,} first responses by hour of the week: open where responses reach a quarter of "
                f"arrivals; {h.label()} classifies {h.agreement:.1%} of the week's tickets so, "
                f"{h.off_schedule_share:.1%} of responses fall outside it")
        if not h.always:
            doc.put("open_hour", h.open_hour)
            doc.put("close_hour", h.close_hour)
            doc.put("open_days", h.open_days)
    p = fit.profile
    if p is not None:
        flat = 2 * p.loglik_gain < PROFILE_CHI2_99
        if flat:
            for key in ("arrival_offhours_factor", "arrival_weekend_factor", "arrival_monday_factor"):
                doc.put(key, 1.0, f"flat: tickets arrive evenly over the week (a fitted profile gains only "
                        f"{p.loglik_gain:.1f} log-likelihood over a flat one, {p.tickets:,} tickets)")
        else:
            doc.put("arrival_day_start_hour", p.day_start, f"working day of the arrival profile, by Poisson maximum "
                    f"likelihood over {p.tickets:,} opening times (log-likelihood {p.loglik_gain:.0f} above a flat profile)")
            doc.put("arrival_day_end_hour", p.day_end)
            for key, name in (("arrival_offhours_factor", "offhours"), ("arrival_weekend_factor", "weekend"),
                              ("arrival_monday_factor", "monday")):
                v, se = min(getattr(p, name), 10.0), p.se[name]
                doc.put(key, _r(v), f"estimate {v:.4g} (SE {se:.2g}, 95% CI {v - 1.96 * se:.4g} to {v + 1.96 * se:.4g}) "
                        f"from {p.tickets:,} tickets: rate relative to Tuesday-Friday working hours")
    if h is not None and not h.always:
        ll = fit.clock_loglik
        why = (f"the hazard model explains churn better with lateness on this clock (log-likelihood business "
               f"{ll['business']:.1f}, calendar {ll['calendar']:.1f}, less one per coefficient)" if len(ll) == 2 else
               "schema default: too little churn to tell the clocks apart")
        doc.put("sla_clock", fit.clock, f"{why}; answered within {promise_h:g} h: {fit.attainment['business']:.1%} "
                f"on the business clock, {fit.attainment['calendar']:.1%} on the calendar")
        ratio = fit.abandon_ratio
        doc.put("patience_clock", fit.patience_clock, (f"tickets raised while the desk is closed are abandoned "
                f"{ratio:.2g} times as often as those raised while it is open (calendar from "
                f"{ABANDON_RATIO_CALENDAR:g}: their patience runs out overnight)") if math.isfinite(ratio) else
                "too few tickets raised while closed or open to tell: schema default")


def mechanics_lines(doc: Any, fit: SupportFit, put: Any) -> None:
    """The satisfaction parameters the support -> churn fit moved, each with estimate, interval and rows."""
    m, rf = fit.mechanics, fit.reduced
    assert m is not None and rf is not None
    rows = (f"from {rf.cells:,} customer-months of {fit.customers_used:,} customers, {rf.churned:,} cancellations "
            f"(cloglog hazard; mapping J = {m.j_stat:.2f} on {m.j_df} df"
            + (f", p = {m.j_pvalue:.2f})" if m.j_df else ")"))
    estimated = set(m.estimated())
    for name in MECHANICS:
        if name not in estimated:
            continue
        v = m.estimate(name)
        sd, lo, hi = m.interval(name)
        doc.put(name, put(v, Satisfaction, name, f"satisfaction.{name}"),
                f"estimate {v:.4g} (SD {sd:.2g}, 95% CI {lo:.4g} to {hi:.4g}) {rows}")
    doc.put("initial_mix", "steady_state", "start at the ladder's steady state under the mechanics above")


def churn_lines(doc: Any, fit: SupportFit) -> None:
    """``churn.level_hazard_multiplier`` with the estimated factor at 'below'."""
    m = fit.mechanics
    assert m is not None
    levels = list(Churn().level_hazard_multiplier)
    v = min(m.estimate("m_below"), 100.0)
    levels[0] = _r(v, 5)
    doc.section("churn")
    if "m_below" in m.names:
        sd, lo, hi = m.interval("m_below")
        note = (f"'below' estimated: {v:.4g} (SD {sd:.2g}, 95% CI {lo:.4g} to {hi:.4g}) from the support -> churn fit; "
                "the other levels keep the schema default")
    else:
        note = "'below' kept at the default: not identified by these data"
    doc.put("level_hazard_multiplier", levels, note)


def _distribution(name: str, draws: np.ndarray, *, high: float = 1.0) -> dict[str, Any] | None:
    """A beta (probabilities) or lognormal (ratios, rates) with the draws' mean and sd, inside the field's range."""
    x = draws[np.isfinite(draws)]
    if len(x) < 10:
        return None
    mean, sd = float(np.mean(x)), float(np.std(x))
    if sd <= 1e-9 or mean <= 0:
        return None
    if name in ("late_half_ratio", "resentment_per_usd"):
        return {"dist": "lognormal", "mean": _r(mean), "sd": _r(sd)}
    mean = min(max(mean, 1e-4), high - 1e-4)
    limit = math.sqrt(mean * (high - mean))
    spec: dict[str, Any] = {"dist": "beta", "mean": _r(mean), "sd": _r(min(sd, 0.95 * limit))}
    if high != 1.0:
        spec["high"] = high
    return spec


def uncertainty_lines(doc: Any, cal: Any) -> None:
    """``[uncertainty]``: each estimated parameter's sampling distribution, the hazard factor at 'below' held at its
    estimate (a list's entries cannot be uncertain one by one), the others drawn given it."""
    fit: SupportFit = cal.support
    m = fit.mechanics
    draws = m.draws(given=("m_below",))
    doc.section("uncertainty")
    doc.comment("What the data leave open: the sampling distributions of the support -> churn estimates (normal on "
                "the estimation scale, carried back), given the hazard factor at 'below' at its estimate "
                "(docs/calibration.md, 'Support and churn').")
    for name in MECHANICS:
        if name in draws and name in m.estimated():
            spec = _distribution(name, draws[name])
            if spec:
                doc.put_inline(f"satisfaction.{name}", spec)
    for j, s in enumerate(cal.segments):
        key = f"base_churn_{j}"
        if key in draws:
            spec = _distribution(key, draws[key], high=0.99)
            if spec:
                doc.put_inline(f"customers.segments.{j}.base_churn_per_month", spec, f"{s.name}: monthly churn at 'meet'")
