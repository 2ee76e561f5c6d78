"""Estimate the parameters the exports identify, each with its uncertainty and the rows behind it.

Where it sits: ``ingest`` (parsed tables) -> **estimate** -> ``write`` (scenario file, report).
Segment shares and prices, ticket and issue rates, monthly churn and the sBG retention curve
(``fits``), handle-time distribution, waits, patience, staffing and satisfaction shares. Pure
computation on the parsed tables: no file is read or written and nothing is printed here.

Time: hours internally, months of 730 h (``schema.HOURS_PER_MONTH``) like the model. A paid
period is a 730-h month from the signup date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import optimize, special

from sim.calibrate import fits as sbg
from sim.calibrate.ingest import (
    CalibrationError,
    CustomerTable,
    TicketTable,
    codes,
    iso,
    match_ids,
    parse_date,
    release_free_memory,
    row_label,
    shown,
    system_allocator,
)
from sim.engine import erlang
from sim.engine.customers import relieved
from sim.params.schema import (
    HOURS_PER_MONTH,
    LADDER,
    Churn,
    Customers,
    HelpSeeking,
    Satisfaction,
    Scenario,
    Segment,
    Support,
)

MONTH_H = HOURS_PER_MONTH
# A cancellation dated up to 0.1 month (~3 days) past a renewal still counts as before it:
# exports often carry dates only, and customers cancel just before they are billed again.
PERIOD_SLACK = 0.1
MIN_SCORED_CUSTOMERS = 20  # fewer satisfaction answers than this: keep the default ladder shares
PERIODS_SHOWN = 12  # renewal periods shown in cohort tables and projections
# A year without a single ticket between a few tickets and the rest: those few are typos (2042 for 2024).
ISOLATED_GAP_H = 365 * 24.0
ISOLATED_SHARE = 0.01  # ... if they are at most this share of the tickets
# Signups and cancellations may run a little past the last ticket (exports taken days apart);
# further than this is a typo (signups) or a "not cancelled" marker (cancellations).
AHEAD_SLACK_H = 31 * 24.0
MAX_LISTED_DATES = 5
Z95 = 1.959963984540054


def schema_bound(model: Any, name: str, attr: str) -> float:
    """A bound (``le``, ``ge``, ``gt`` or ``max_length``) of a schema field: clamps follow the schema, not copies."""
    for m in model.model_fields[name].metadata:
        if getattr(m, attr, None) is not None:
            return getattr(m, attr)
    raise KeyError(f"{model.__name__}.{name} has no {attr}")


def clamp_to_schema(value: float, model: Any, name: str, notes: list[str], label: str) -> float:
    """Clamp an estimate into the schema's range for ``model.name``, noting it when it had to move."""
    hi = schema_bound(model, name, "le")
    lo = next((getattr(m, a) for m in model.model_fields[name].metadata for a in ("ge", "gt")
               if getattr(m, a, None) is not None), -math.inf)
    out = min(max(value, lo if lo > -math.inf else value), hi)
    if out == lo and any(getattr(m, "gt", None) is not None for m in model.model_fields[name].metadata):
        out = lo + 1e-6 * max(1.0, abs(lo))
    if out != value:
        notes.append(f"{label}: estimate {value:.6g} is outside the schema range; {out:.6g} written")
    return out



# ----------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class Estimate:
    """One estimated parameter: value, standard error (None if not applicable) and where it came from."""

    value: float
    se: float | None
    rows: int
    how: str

    def ci95(self) -> tuple[float, float] | None:
        if self.se is None or not math.isfinite(self.se):
            return None
        return self.value - Z95 * self.se, self.value + Z95 * self.se

    def comment(self) -> str:
        unc = ""
        if self.se is not None:
            ci = self.ci95()
            unc = f" (SE {self.se:.3g}" + (f", 95% CI {ci[0]:.4g} to {ci[1]:.4g})" if ci else ")")
        return f"estimate {self.value:.5g}{unc} from {self.rows:,} rows: {self.how}"


@dataclass(frozen=True)
class HandleFit:
    """Handle times fitted by maximum likelihood as exponential and lognormal, with goodness of fit."""

    n: int
    sample_mean_h: float
    exp_mean_h: float
    exp_ks: float
    exp_aic: float
    lognormal_mu: float
    lognormal_sigma: float
    lognormal_ks: float
    lognormal_aic: float
    chosen: Literal["exponential", "lognormal"]
    mean_h: float
    mean_se: float
    cv: float
    cv_se: float


@dataclass(frozen=True)
class WaitStats:
    """First-response waits (answered tickets) and abandonment."""

    answered: int
    abandoned: int
    still_open: int
    mean_h: float
    mean_se: float
    p90_h: float
    p90_ci: tuple[float, float]
    sla_h: float
    within_sla: float
    within_sla_se: float


@dataclass
class SegmentFit:
    """Everything estimated for one segment."""

    name: str
    customers: int
    active_as_of: int
    plans: list[str]
    price: Estimate
    share: Estimate
    ticket_rate: Estimate
    issue_rate: Estimate
    exposure_months: float
    tickets: int
    churn_monthly: Estimate  # churned / renewal opportunities (geometric MLE)
    base_churn: Estimate
    sbg: sbg.SBGFit | None
    big_name_share: Estimate | None = None
    funding_median: Estimate | None = None
    vip_share: float | None = None


@dataclass
class Calibration:
    """The result: every estimate, what the scenario file needs to say about the data, and (once
    :func:`sim.calibrate.write.render` has run) the commented TOML text and the validated scenario."""

    segments: list[SegmentFit]
    handle: HandleFit | None
    waits: WaitStats | None
    patience: Estimate | None
    staffing_level: Estimate | None
    agents: int | None
    ladder: Estimate | None  # value: number of scored customers; shares in ladder_shares
    ladder_shares: list[float]
    ladder_se: list[float]
    sbg_all: sbg.SBGFit | None
    cohorts: pd.DataFrame
    retention_rate_pct: Estimate | None
    window: dict[str, str]
    counts: dict[str, int]
    sources: tuple[str, str]  # the customers and tickets files, as given
    charged_share: float  # share of tickets carrying a fee
    fee_median_usd: float  # median fee of charged tickets (0 if none)
    fees_present: bool  # the tickets file has a fee column
    channel_counts: dict[str, int] | None  # tickets per channel (sorted by name); None without the column
    funding_sigma: float | None = None
    notes: list[str] = field(default_factory=list)
    text: str = ""
    scenario: Scenario | None = None


def _mean_se(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def _ks_statistic(cdf_sorted: np.ndarray) -> float:
    """Kolmogorov-Smirnov D of a sample against a distribution, given the CDF at the sorted sample."""
    n = len(cdf_sorted)
    i = np.arange(1, n + 1)
    return float(max((i / n - cdf_sorted).max(), (cdf_sorted - (i - 1) / n).max()))


def fit_handle_times(hours: np.ndarray) -> HandleFit:
    """Fit exponential and lognormal distributions by maximum likelihood; choose by AIC; KS for each."""
    x = np.asarray(hours, dtype=np.float64)
    n = len(x)
    mean = float(x.mean())
    ll_exp = -n * math.log(mean) - n
    logs = np.log(x)
    mu, sigma = float(logs.mean()), float(logs.std())
    sigma = max(sigma, 1e-9)
    ll_ln = float(-logs.sum() - n * math.log(sigma) - 0.5 * n * math.log(2 * math.pi) - 0.5 * n)
    xs = np.sort(x)
    ks_exp = _ks_statistic(-np.expm1(-xs / mean))
    ks_ln = _ks_statistic(special.ndtr(np.log(xs / math.exp(mu)) / sigma))
    aic_exp, aic_ln = 2 - 2 * ll_exp, 4 - 2 * ll_ln
    if aic_ln < aic_exp:
        # lognormal mean exp(mu + s^2/2); delta method with Var(mu) = s^2/n, Var(s^2) = 2 s^4 / n
        m = math.exp(mu + sigma**2 / 2)
        m_se = m * math.sqrt(sigma**2 / n + sigma**4 / (2 * n))
        cv = math.sqrt(math.expm1(sigma**2))
        # d cv / d s^2 = e^{s^2} / (2 cv)
        cv_se = math.exp(sigma**2) / (2 * cv) * math.sqrt(2 * sigma**4 / n) if cv > 0 else float("nan")
        chosen: Literal["exponential", "lognormal"] = "lognormal"
    else:
        m, m_se, cv, cv_se, chosen = mean, mean / math.sqrt(n), 1.0, 0.0, "exponential"
    return HandleFit(n, mean, mean, ks_exp, aic_exp, mu, sigma, ks_ln, aic_ln, chosen, m, m_se, cv, cv_se)


def patience_from_waits(waits_h: np.ndarray, *, abandoned: int) -> Estimate | None:
    """Mean patience (exponential) from answered waits and the count of abandoned tickets.

    With patience ~ Exp(theta) independent of the virtual wait W (the wait a ticket would have
    had; the desk model works this way), answered tickets show W with density g proportional to
    f(w) e^{-theta w}, so the share answered q satisfies E_g[e^{theta W}] = 1 / q. Solved for
    theta; SE by the delta method (sampling of q and of the answered waits).
    """
    w = np.asarray(waits_h, dtype=np.float64)
    n_s = len(w)
    if abandoned <= 0 or n_s < 2 or w.max() <= 0:
        return None
    total = n_s + abandoned
    target = math.log(total / n_s)
    log_n = math.log(n_s)

    def f(theta: float) -> float:
        return float(np.logaddexp.reduce(theta * w) - log_n - target)

    hi = 1.0 / max(w.mean(), 1e-9)
    for _ in range(200):
        if f(hi) > 0:
            break
        hi *= 2.0
    else:
        return None
    theta = optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-12)
    q = n_s / total
    k = theta * w.max()
    u = np.exp(theta * w - k)
    var_inv_q = (1 - q) / (q**3 * total)  # Var(1/q) = q(1-q)/N / q^4
    se_theta = math.sqrt(u.var() / n_s + math.exp(-2 * k) * var_inv_q) / float((w * u).mean())
    patience = 1.0 / theta
    return Estimate(patience, se_theta / theta**2, total,
                    f"exponential patience solving E[exp(W/patience)] = 1/answered share over {n_s:,} answered "
                    f"waits and {abandoned:,} abandoned tickets")


def renewal_periods(*, signup_h: np.ndarray, cancel_h: np.ndarray, window_start_h: float,
                    export_h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tenures in paid periods of 730 h from each signup, for the sBG and the monthly churn rate.

    Returns (entry, churn period, tenure): renewals already passed when the window starts (0 for
    signups inside it); the period in which a cancelled customer left (>= 1, > entry), i.e. the
    periods paid; and the renewals passed by the export date (for customers still there). A
    cancellation up to PERIOD_SLACK of a period past a renewal counts as before it.
    """
    entry = np.where(signup_h < window_start_h,
                     np.floor((window_start_h - signup_h) / MONTH_H + PERIOD_SLACK), 0).astype(np.int64)
    churn_t = np.maximum(1, np.ceil((np.nan_to_num(cancel_h) - signup_h) / MONTH_H - PERIOD_SLACK))
    churn_t = np.maximum(churn_t, entry + 1).astype(np.int64)
    tenure = np.maximum(np.floor((export_h - signup_h) / MONTH_H + PERIOD_SLACK), entry).astype(np.int64)
    return entry, churn_t, tenure


def ladder_base_churn(monthly_churn: float, *, shares: list[float], multipliers: list[float]) -> tuple[float, float]:
    """Base churn b (the 'meet' level) such that sum_l share_l (1 - (1 - b)^m_l) = observed monthly churn.

    The model's hazard is -ln(1 - b) x level multiplier; returns (b, d b / d churn) for the SE.
    """
    s, m = np.asarray(shares, dtype=np.float64), np.asarray(multipliers, dtype=np.float64)

    def g(b: float) -> float:
        return float((s * -np.expm1(m * np.log1p(-b))).sum())

    def dg(b: float) -> float:
        return float((s * m * np.exp((m - 1) * np.log1p(-b))).sum())

    hi = 0.99
    if monthly_churn <= 0:
        return 0.0, 1.0 / max(dg(0.0), 1e-12)
    if g(hi) < monthly_churn:
        return hi, 0.0
    b = optimize.brentq(lambda x: g(x) - monthly_churn, 0.0, hi, xtol=1e-14)
    return float(b), 1.0 / max(dg(b), 1e-12)


def _ladder_levels(scores: np.ndarray, *, source: str = "tickets") -> tuple[np.ndarray, str]:
    """Map satisfaction scores to ladder levels 0..4: a 1-5 scale directly, a 0-10 scale in fifths."""
    lo, hi = float(np.min(scores)), float(np.max(scores))
    if lo >= 1 and hi <= 5:
        a, b, scale = 1.0, 5.0, "1-5"
    elif lo >= 0 and hi <= 10:
        a, b, scale = 0.0, 10.0, "0-10"
    else:
        raise CalibrationError([f"satisfaction scores run from {lo:g} to {hi:g}: expected a 1-5 or a 0-10 scale"],
                              source)
    levels = np.clip(np.floor((scores - a) / (b - a) * len(LADDER)), 0, len(LADDER) - 1).astype(np.int64)
    return levels, scale


# ----------------------------------------------------------------------------- the calibration


@system_allocator
def estimate_all(*, customers: CustomerTable, tickets: TicketTable, as_of: str | None = None,
                 observed_from: str | None = None, export_date: str | None = None,
                 sla_h: float | None = None) -> Calibration:
    """Estimate a scenario's parameters from parsed exports (:func:`sim.calibrate.write.render` writes it).

    ``export_date``: when the data were exported (default: the latest date in either file).
    ``observed_from``: start of the observation window for ticket rates and churn (default: the
    first ticket); customers signed up earlier enter it at their tenure then (left truncation,
    which also makes exports that omit long-gone customers safe). ``as_of``: the date the
    simulation starts from; its active customers give ``customers.initial`` and segment shares
    (default: the export date). ``sla_h``: first-response target (default: the schema's).
    """
    c, t = customers, tickets
    notes: list[str] = [*c.notes, *t.notes]
    if not observed_from:
        _isolated_tickets(t, [t.opened_h], side="before")
    if not export_date:
        activity_end = _isolated_tickets(t, [t.opened_h, t.first_response_h, t.resolved_h], side="after")
        c = _dates_after_activity(c, activity_end, notes)
    all_dates = [c.signup_h, c.cancel_h, t.opened_h, t.first_response_h, t.resolved_h]
    latest = float(max(np.nanmax(d) if np.isfinite(d).any() else -np.inf for d in all_dates))
    export_h = parse_date(export_date, what="--export-date") if export_date else latest
    if export_date and latest > export_h + 1e-9:
        late = sum(int(np.count_nonzero(d > export_h + 1e-9)) for d in all_dates)
        raise CalibrationError([f"--export-date {export_date}: {late:,} dates in the files are later "
                                f"(the latest is {iso(latest)})"], "command line")
    # default window start: midnight (UTC) of the first ticket's day, so date-only signups line up
    w0 = (parse_date(observed_from, what="--observed-from") if observed_from
          else math.floor(float(np.nanmin(t.opened_h)) / 24.0) * 24.0)
    if w0 >= export_h:
        raise CalibrationError([f"the observation window is empty: it starts {iso(w0)} and the data end {iso(export_h)}"],
                            "command line")
    as_of_h = parse_date(as_of, what="--as-of") if as_of else export_h
    window_months = (export_h - w0) / MONTH_H
    sla = Support().sla_target_h if sla_h is None else float(sla_h)
    if not (0 < sla <= 720):
        raise CalibrationError([f"--sla-h: expected hours in (0, 720], got {sla:g}"], "command line")

    # the desk first: its temporaries are gone before the customer arrays are made (peak memory)
    desk_notes: list[str] = []
    handle, wait_stats, patience, staffing_level, agents = _desk(t, sla=sla, export_h=export_h,
                                                                 window_months=window_months, notes=desk_notes)
    release_free_memory()

    # --- segments ---------------------------------------------------------------------------------
    seg_names, seg_code = _segment_order(c)
    k = len(seg_names)
    max_segments = schema_bound(Customers, "segments", "max_length")
    if k > max_segments:
        raise CalibrationError([f"{k} plans or segments: a scenario holds at most {max_segments}; add a 'segment' column that "
                             "groups plans"], c.source)
    end_h = np.where(np.isnan(c.cancel_h), np.inf, c.cancel_h)
    active_at = (c.signup_h < as_of_h) & (end_h >= as_of_h)
    n_active = int(active_at.sum())
    del end_h
    if n_active == 0:
        raise CalibrationError([f"no customer is active on the as-of date {iso(as_of_h)} (signed up before it and "
                             "not cancelled by then): choose another --as-of"], c.source)

    # --- churn: tenure in 730-h periods, left-truncated at the window start -----------------------
    churned_any = np.isfinite(c.cancel_h)
    in_window = np.where(churned_any, c.cancel_h, np.inf) > w0
    entry, churn_t, tenure = renewal_periods(signup_h=c.signup_h, cancel_h=c.cancel_h, window_start_h=w0,
                                             export_h=export_h)
    is_churn = churned_any & in_window
    is_cens = ~churned_any & in_window

    # --- tickets and exposure ---------------------------------------------------------------------
    exposure_m, tickets_by_seg, n_in_rates, unknown = _tickets_in_spans(c, t, w0=w0, export_h=export_h,
                                                                       seg_code=seg_code, k=k, notes=notes)
    release_free_memory()

    # fees: which scheme the data look like
    base_ask = HelpSeeking().base_ask_prob
    sens_default = Segment().fee_sensitivity_per_usd
    fees = t.fee_usd
    charged = np.zeros(len(t), bool) if fees is None else (np.nan_to_num(fees) > 0)
    charged_share = float(charged.mean())
    fee_median = float(np.median(fees[charged])) if charged.any() else 0.0

    # ladder shares from satisfaction scores (latest answer per customer)
    ladder_shares = list(Satisfaction().initial_shares)
    ladder_se = [float("nan")] * len(LADDER)
    ladder_est: Estimate | None = None
    if t.satisfaction is not None and np.isfinite(t.satisfaction).any():
        has = np.isfinite(t.satisfaction)
        order = np.argsort(t.opened_h[has], kind="stable")
        frame = pd.DataFrame({"c": codes(t.customer.filter(pa.array(has)))[order], "s": t.satisfaction[has][order]})
        latest_score = frame.groupby("c", sort=False)["s"].last().to_numpy()
        levels, scale = _ladder_levels(latest_score, source=t.source)
        n_sc = len(levels)
        if n_sc >= MIN_SCORED_CUSTOMERS:
            p_l = np.bincount(levels, minlength=len(LADDER)) / n_sc
            ladder_shares = p_l.tolist()
            ladder_se = np.sqrt(p_l * (1 - p_l) / n_sc).tolist()
            ladder_est = Estimate(float(n_sc), None, int(has.sum()),
                                  f"latest satisfaction score of {n_sc:,} customers, {scale} scale in fifths")
        else:
            notes.append(f"only {n_sc} customers answered a satisfaction score (< {MIN_SCORED_CUSTOMERS}): "
                         "default ladder shares kept")
    # the hazard factors as the model applies them (the part above 'meet' scaled by the default relief)
    multipliers = relieved(Churn().level_hazard_multiplier, Satisfaction().relief_above_meet).tolist()

    segments: list[SegmentFit] = []
    log_ss, log_df = 0.0, 0  # pooled within-segment variance of log funding
    for j, seg in enumerate(seg_names):
        m = seg_code == j
        n_seg = int(m.sum())
        rev = c.revenue_usd[m]
        price = Estimate(float(rev.mean()), _mean_se(rev) if n_seg > 1 else 0.0, n_seg,
                         f"mean monthly revenue of the segment's {n_seg:,} customers (median {np.median(rev):.6g})")
        a_j = int((active_at & m).sum())
        share = Estimate(a_j / n_active, math.sqrt(a_j / n_active * (1 - a_j / n_active) / n_active), n_active,
                         f"{a_j:,} of {n_active:,} customers active on {iso(as_of_h)}")
        expo = float(exposure_m[m].sum())
        n_t = int(tickets_by_seg[j])
        if expo > 0:
            rate = Estimate(n_t / expo, math.sqrt(max(n_t, 1)) / expo, n_t,
                            f"{n_t:,} tickets over {expo:,.1f} paid customer-months from {iso(w0)} to "
                            f"{iso(export_h)} (Poisson SE)")
        else:
            rate = Estimate(float("nan"), None, 0, "no paid customer-months in the window")
        p_ask = base_ask * (1 - charged_share + charged_share * math.exp(-sens_default * fee_median))
        if math.isfinite(rate.value):
            issue = Estimate(min(rate.value / p_ask, 20.0), (rate.se or 0.0) / p_ask, n_t,
                             f"ticket rate {rate.value:.4g}/customer-month / P(ask) {p_ask:.3g} "
                             f"(help_seeking.base_ask_prob {base_ask:g}"
                             + (f" x fee suppression on {charged_share:.0%} charged tickets" if charged_share else "")
                             + "): tickets are the issues customers chose to raise")
        else:
            issue = Estimate(Segment().issue_rate_per_month, None, 0, "no exposure: schema default kept")
        ev = int((is_churn & m).sum())
        cnt = sbg.counts_from_customers(churn_period=churn_t[is_churn & m], censored_tenure=tenure[is_cens & m],
                                        entry_tenure=entry[in_window & m])
        periods = cnt.periods_at_risk
        if periods > 0:
            p = ev / periods
            churn = Estimate(p, math.sqrt(max(p * (1 - p), 1e-12) / periods), int((in_window & m).sum()),
                             f"{ev:,} cancellations over {periods:,} renewal opportunities from {iso(w0)}")
            b, db = ladder_base_churn(p, shares=ladder_shares, multipliers=multipliers)
            base = Estimate(b, (churn.se or 0.0) * db, churn.rows,
                            f"monthly churn {p:.4g} = sum over ladder levels of share x (1-(1-base)^multiplier) "
                            f"(churn.level_hazard_multiplier with satisfaction.relief_above_meet, satisfaction.initial_shares)")
        else:
            churn = Estimate(float("nan"), None, 0, "no renewal opportunity observed in the window")
            base = Estimate(Segment().base_churn_per_month, None, 0, "no renewal observed: schema default kept")
            notes.append(f"segment {seg!r}: no renewal observed in the window; churn default kept")
        fit = sbg.fit(cnt) if ev > 0 else None
        sf = SegmentFit(seg, n_seg, a_j, sorted(set(c.plan[m].tolist())), price, share, rate, issue, expo, n_t,
                        churn, base, fit)
        if c.big_name is not None:
            bn = c.big_name[m]
            ps = float(bn.mean())
            sf.big_name_share = Estimate(ps, math.sqrt(ps * (1 - ps) / n_seg), n_seg,
                                         f"{int(bn.sum()):,} big names among {n_seg:,} customers")
        if c.funding_usd is not None:
            fu = c.funding_usd[m]
            fu = fu[np.isfinite(fu) & (fu > 0)]
            if len(fu) >= 2:
                lg = np.log(fu)
                log_ss += float(((lg - lg.mean()) ** 2).sum())
                log_df += len(fu) - 1
                med = float(np.exp(np.median(lg)))
                # SE of a median ~ 1.2533 sd / sqrt(n) on the log scale (normal approximation)
                sf.funding_median = Estimate(med, med * 1.2533 * float(lg.std(ddof=1)) / math.sqrt(len(fu)),
                                             len(fu), "median funding of customers with a positive funding figure")
        if c.vip is not None:
            sf.vip_share = float(c.vip[m].mean())
        segments.append(sf)

    # pooled sBG (all segments) and the cohort table
    cnt_all = sbg.counts_from_customers(churn_period=churn_t[is_churn], censored_tenure=tenure[is_cens],
                                        entry_tenure=entry[in_window])
    sbg_all = sbg.fit(cnt_all) if cnt_all.churned > 0 else None
    if sbg_all is None:
        notes.append("no cancellations in the window: no sBG fit")
    cohorts = _cohort_table(c, w0=w0, export_h=export_h, churn_t=churn_t, tenure=tenure, is_churn=is_churn)
    retention_rate = _retention_rate(c, w0=w0, export_h=export_h)

    notes += desk_notes

    window = {"export_date": iso(export_h), "observed_from": iso(w0), "as_of": iso(as_of_h),
              "window_months": f"{window_months:.2f}"}
    counts = {"customers": len(c), "tickets": len(t), "active_as_of": n_active, "segments": k,
              "tickets_in_rates": n_in_rates, "tickets_unknown_customer": unknown,
              "tickets_charged": int(charged.sum())}
    channel_counts = None
    if t.channel is not None:
        ch, n_ch = np.unique(t.channel[t.channel != ""].astype(str), return_counts=True)
        channel_counts = {str(x): int(y) for x, y in zip(ch, n_ch)}
    return Calibration(
        segments=segments, handle=handle, waits=wait_stats, patience=patience,
        staffing_level=staffing_level, agents=agents, ladder=ladder_est, ladder_shares=ladder_shares,
        ladder_se=ladder_se, sbg_all=sbg_all, cohorts=cohorts, retention_rate_pct=retention_rate, window=window,
        counts=counts, sources=(c.source, t.source), charged_share=charged_share, fee_median_usd=fee_median,
        fees_present=fees is not None, channel_counts=channel_counts,
        funding_sigma=math.sqrt(log_ss / log_df) if log_df > 0 else None, notes=notes,
    )




def _tickets_in_spans(c: CustomerTable, t: TicketTable, *, w0: float, export_h: float, seg_code: np.ndarray,
                      k: int, notes: list[str]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Paid customer-months in the window per customer, tickets per segment inside them, and the counts
    (tickets counted, tickets of unknown customers). Zero tickets counted is an error."""
    churned_any = np.isfinite(c.cancel_h)
    span_lo = np.maximum(c.signup_h, w0)
    span_hi = np.minimum(np.where(churned_any, c.cancel_h, export_h), export_h)
    exposure_m = np.clip(span_hi - span_lo, 0, None) / MONTH_H
    idx = match_ids(t.customer, c.id)
    known = idx >= 0
    unknown = int((~known).sum())
    ci = np.where(known, idx, 0)
    in_span = known & (t.opened_h >= span_lo[ci]) & (t.opened_h <= span_hi[ci])
    outside = int((known & ~in_span).sum())
    tickets_by_seg = np.bincount(seg_code[ci[in_span]], minlength=k)
    if unknown:
        notes.append(f"{unknown:,} tickets name customers not in {Path(c.source).name} (trial users or other "
                     "accounts): used for waits and handle times, not for ticket rates")
    if outside:
        notes.append(f"{outside:,} tickets fall outside their customer's paid span or the window (e.g. during "
                     "a trial): used for waits and handle times, not for ticket rates")
    if not in_span.any():
        _no_matched_tickets(c, t, known=known, w0=w0, export_h=export_h)
    return exposure_m, tickets_by_seg, int(in_span.sum()), unknown


def _desk(t: TicketTable, *, sla: float, export_h: float, window_months: float,
          notes: list[str]) -> tuple[HandleFit | None, WaitStats | None, Estimate | None, Estimate | None, int | None]:
    """Handle times, waits, patience and staffing from the tickets alone: (handle, waits, patience,
    staffing level, Erlang C agents)."""
    answered = np.isfinite(t.first_response_h)
    waits = t.first_response_h[answered] - t.opened_h[answered]
    handle = None
    if t.handle_h is not None and np.isfinite(t.handle_h).any():
        h_src = "handle-time column"
        h = t.handle_h[np.isfinite(t.handle_h)]
    else:
        h_src = "resolved - first response"
        both = answered & np.isfinite(t.resolved_h)
        h = t.resolved_h[both] - t.first_response_h[both]
    zeros = int((h <= 0).sum())
    h = h[h > 0]
    if zeros:
        notes.append(f"{zeros:,} tickets with zero handle time ({h_src}) left out of the handle-time fit")
    if len(h) >= 2:
        handle = fit_handle_times(h)
    else:
        notes.append("fewer than 2 handle times: handle-time defaults kept")
    wait_stats = None
    patience = None
    staffing_level = None
    agents = None
    if len(waits) >= 2:
        p99 = float(np.quantile(waits, 0.99))
        unanswered = ~answered
        still_open = unanswered & (t.opened_h > export_h - p99)
        n_ab = int((unanswered & ~still_open).sum())
        n_ans = len(waits)
        srt = np.sort(waits)
        r = Z95 * math.sqrt(n_ans * 0.9 * 0.1)
        p90 = float(np.quantile(waits, 0.9))
        lo_i, hi_i = int(max(0, math.floor(0.9 * n_ans - r))), int(min(n_ans - 1, math.ceil(0.9 * n_ans + r)))
        within = float((waits <= sla).mean())
        wait_stats = WaitStats(n_ans, n_ab, int(still_open.sum()), float(waits.mean()), _mean_se(waits), p90,
                               (float(srt[lo_i]), float(srt[hi_i])), sla, within,
                               math.sqrt(within * (1 - within) / n_ans))
        if still_open.any():
            notes.append(f"{int(still_open.sum()):,} unanswered tickets opened within the 99th-percentile wait "
                         f"({p99:.3g} h) of the export date count as still open, not abandoned")
        patience = patience_from_waits(waits, abandoned=n_ab)
        if patience is None:
            notes.append("no abandoned tickets (or no waits): patience is not identifiable; default kept")
        level = clamp_to_schema(within, Support, "staffing_service_level", notes, "support.staffing_service_level")
        staffing_level = Estimate(level, wait_stats.within_sla_se, n_ans,
                                  f"share of {n_ans:,} answered tickets with a first response within {sla:g} h "
                                  "(erlang staffing then aims at the same service level)")
        if handle is not None:
            per_hour = len(t) / (window_months * MONTH_H)
            load = per_hour * handle.mean_h
            agents = erlang.agents_for_service_level(load, handle.mean_h, sla, level, lo=1,
                                                     hi=int(schema_bound(Support, "agents", "le")))
    else:
        notes.append("fewer than 2 answered tickets: wait, patience and staffing defaults kept")
    return handle, wait_stats, patience, staffing_level, agents


def _isolated_tickets(t: TicketTable, columns: list[np.ndarray], *, side: Literal["before", "after"]) -> float:
    """Refuse a few ticket times a year or more apart from all the others (typos such as 2042 for 2024).

    The default window runs from the first ticket to the latest date, so one typo would stretch it
    by years and shrink every rate. Looks for the widest gap among the outermost
    ``ISOLATED_SHARE`` of the times on ``side``; returns the last (or first) time that remains.
    """
    x = np.concatenate([col[np.isfinite(col)] for col in columns])
    k = min(len(x) - 1, max(len(columns), int(len(x) * ISOLATED_SHARE)))  # one ticket gives a time per column
    if k < 1:
        return float(x.max() if side == "after" else x.min())
    tail = np.sort(np.partition(x, -k - 1)[-k - 1:] if side == "after" else np.partition(x, k)[: k + 1])
    gaps = np.diff(tail)
    j = int(np.argmax(gaps))
    if gaps[j] < ISOLATED_GAP_H:
        return float(tail[-1] if side == "after" else tail[0])
    edge = tail[j] if side == "after" else tail[j + 1]
    names = ("opened", "first_response", "resolved")
    lines = []
    for name, col in zip(names, columns):
        bad = np.flatnonzero(col > edge if side == "after" else col < edge)
        header = shown(t.headers.get(name, name))
        for i in bad[: MAX_LISTED_DATES]:
            lines.append(f"{row_label(int(i), t.lines_match)}, column {header}: {iso(col[i])} lies more than a year "
                         f"{side} every other ticket (they {'end' if side == 'after' else 'start'} {iso(edge)}): a typo? "
                         f"(if it is right, give --{'export-date' if side == 'after' else 'observed-from'})")
        if len(bad) > MAX_LISTED_DATES:
            lines.append(f"... and {len(bad) - MAX_LISTED_DATES:,} more in column {header}")
    raise CalibrationError(lines, t.source)


def _dates_after_activity(c: CustomerTable, activity_end_h: float, notes: list[str]) -> CustomerTable:
    """Signups well after the last ticket activity are errors; cancel dates that far ahead mean 'still active'."""
    limit = activity_end_h + AHEAD_SLACK_H
    late_signup = np.flatnonzero(c.signup_h > limit)
    if len(late_signup):
        header = shown(c.headers.get("signup_date", "signup_date"))
        lines = [f"{row_label(int(i), c.lines_match)}, column {header}: {iso(c.signup_h[i])} is more than 31 days "
                 f"after the last ticket activity ({iso(activity_end_h)}): a typo? (if the files were exported at "
                 "different times, give --export-date)" for i in late_signup[:MAX_LISTED_DATES]]
        if len(late_signup) > MAX_LISTED_DATES:
            lines.append(f"... and {len(late_signup) - MAX_LISTED_DATES:,} more signups that late")
        raise CalibrationError(lines, c.source)
    late_cancel = np.flatnonzero(c.cancel_h > limit)
    if not len(late_cancel):
        return c
    i = int(late_cancel[0])
    notes.append(f"{len(late_cancel):,} cancel dates lie more than 31 days after the last ticket activity "
                 f"({iso(activity_end_h)}; e.g. {row_label(i, c.lines_match)}: {iso(c.cancel_h[i])}) and are read as "
                 "'not cancelled by the export': those customers count as still active")
    cancel = c.cancel_h.copy()
    cancel[late_cancel] = np.nan
    return replace(c, cancel_h=cancel)


def _no_matched_tickets(c: CustomerTable, t: TicketTable, *, known: np.ndarray, w0: float, export_h: float) -> None:
    """No ticket can count towards a ticket rate: say why, naming the columns and a few ids."""
    t_col = shown(t.headers.get("customer_id", "customer_id"))
    c_col = shown(c.headers.get("customer_id", "customer_id"))
    if not known.any():
        ticket_ids = ", ".join(shown(v) for v in t.customer.unique()[:3].to_pylist())
        customer_ids = ", ".join(shown(v) for v in c.id[:3].to_pylist())
        raise CalibrationError([f"no ticket's customer id (column {t_col}) matches a customer id in "
                                f"{Path(c.source).name} (column {c_col}): tickets name {ticket_ids}, ...; customers "
                                f"are {customer_ids}, ...; issue rates would be 0"], t.source)
    raise CalibrationError([f"none of the {int(known.sum()):,} tickets of known customers (column {t_col}) was opened "
                            f"within its customer's paid span inside the window {iso(w0)} to {iso(export_h)}: check "
                            "the dates, or --observed-from and --export-date; issue rates would be 0"], t.source)


def _segment_order(c: CustomerTable) -> tuple[list[str], np.ndarray]:
    """Segments ordered by mean price (cheapest first); names cut to the schema's 40 characters."""
    codes, uniques = pd.factorize(pd.Series(c.segment), sort=True)
    means = np.bincount(codes, weights=c.revenue_usd) / np.bincount(codes)
    order = np.argsort(means, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    names: list[str] = []
    for u in np.asarray(uniques, dtype=object)[order]:
        base = str(u)[:40]
        nm, i = base, 2
        while nm in names:
            suffix = f"~{i}"
            nm, i = base[: 40 - len(suffix)] + suffix, i + 1
        names.append(nm)
    return names, rank[codes]


def _cohort_table(c: CustomerTable, *, w0: float, export_h: float, churn_t: np.ndarray, tenure: np.ndarray,
                  is_churn: np.ndarray) -> pd.DataFrame:
    """Survivors by signup month (cohorts signed up inside the window), as % after 1..12 renewals."""
    inside = c.signup_h >= w0
    if not inside.any():
        return pd.DataFrame(columns=["cohort", "customers"])
    signup = c.signup_h[inside]
    month = np.round(signup * 3600).astype(np.int64).astype("datetime64[s]").astype("datetime64[M]")
    cohorts, which = np.unique(month, return_inverse=True)
    n0 = np.bincount(which)
    last_signup = np.full(len(cohorts), -np.inf)
    np.maximum.at(last_signup, which, signup)
    seen = np.floor((export_h - last_signup) / MONTH_H + PERIOD_SLACK)
    churn, t, ten = is_churn[inside], churn_t[inside], tenure[inside]
    alive = [np.bincount(which, weights=(churn & (t > p)) | (~churn & (ten >= p)), minlength=len(cohorts))
             for p in range(1, PERIODS_SHOWN + 1)]
    rows = []
    for j, label in enumerate(np.datetime_as_string(cohorts, unit="M")):
        row: dict[str, Any] = {"cohort": str(label), "customers": int(n0[j])}
        for p in range(1, PERIODS_SHOWN + 1):
            row[f"m{p}"] = round(100.0 * alive[p - 1][j] / n0[j], 1) if p <= seen[j] else None
        rows.append(row)
    return pd.DataFrame(rows)


def _retention_rate(c: CustomerTable, *, w0: float, export_h: float) -> Estimate | None:
    """Mean monthly retention rate ((C - B) / A) x 100 over whole 730-h months of the window."""
    starts = w0 + MONTH_H * np.arange(int((export_h - w0) // MONTH_H) + 1)
    if len(starts) < 2:
        return None
    sig = np.sort(c.signup_h)
    end = np.sort(np.where(np.isnan(c.cancel_h), np.inf, c.cancel_h))

    def active(at: np.ndarray) -> np.ndarray:  # signed up before `at`, not cancelled by then
        return np.searchsorted(sig, at, side="left") - np.searchsorted(end, at, side="right")

    a = active(starts[:-1])
    cc = active(starts[1:])
    b = np.searchsorted(sig, starts[1:], side="left") - np.searchsorted(sig, starts[:-1], side="left")
    ok = a > 0
    if not ok.any():
        return None
    rates = (cc[ok] - b[ok]) / a[ok] * 100
    se = float(np.std(rates, ddof=1) / math.sqrt(len(rates))) if len(rates) > 1 else None
    return Estimate(float(rates.mean()), se, int(len(c)),
                    f"mean of {len(rates)} monthly retention rates ((C - B) / A) x 100, "
                    f"{rates.min():.2f} to {rates.max():.2f}")


def cohort_report(survivors: list[float], *, horizon: int) -> tuple[sbg.SBGFit, pd.DataFrame]:
    """sBG fit of one cohort and a table: period, observed survivors, fitted/projected survival and retention."""
    f = sbg.fit(sbg.counts_from_survivors(survivors))
    n0 = survivors[0]
    periods = np.arange(0, max(horizon, len(survivors) - 1) + 1)
    s = f.survival(periods)
    table = pd.DataFrame({
        "period": periods,
        "observed": [survivors[i] if i < len(survivors) else None for i in periods],
        "observed_pct": [100 * survivors[i] / n0 if i < len(survivors) else None for i in periods],
        "fitted_pct": 100 * s,
        "retention_pct": np.r_[np.nan, 100 * f.retention(periods[1:])],
        "projected": periods >= len(survivors),
    })
    return f, table
