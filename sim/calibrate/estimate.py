"""Estimate the parameters the exports identify, each with its uncertainty and the rows behind it.

Where it sits: ``ingest`` (parsed tables) -> **estimate** -> ``write`` (scenario file, report).
Segment shares and prices, ticket and issue rates, monthly churn and the sBG retention curve
(``retention``, ``fits``), the desk (``deskfit``) and satisfaction shares. Pure computation on
the parsed tables: no file is read or written and nothing is printed here.

Time: hours internally, months of 730 h (``schema.HOURS_PER_MONTH``) like the model. A paid
period is a 730-h month from the signup date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.calibrate import fits as sbg
from sim.calibrate.deskfit import HandleFit, WaitStats, desk_stats, fit_handle_times, patience_from_waits
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
from sim.calibrate.quantities import (
    MONTH_H,
    PERIOD_SLACK,
    Z95,
    Estimate,
    clamp_to_schema,
    mean_se,
    schema_bound,
)
from sim.calibrate.retention import (
    PERIODS_SHOWN,
    cohort_report,
    cohort_table,
    ladder_base_churn,
    renewal_periods,
    retention_rate,
)
from sim.calibrate.supportfit import MAX_CUSTOMERS, SupportFit, fit_support
from sim.engine.customers import relieved
from sim.params.schema import (
    LADDER,
    Churn,
    Customers,
    HelpSeeking,
    Satisfaction,
    Scenario,
    Segment,
    Support,
)

MIN_SCORED_CUSTOMERS = 20  # fewer satisfaction answers than this: keep the default ladder shares
# A year without a single ticket between a few tickets and the rest: those few are typos (2042 for 2024).
ISOLATED_GAP_H = 365 * 24.0
ISOLATED_SHARE = 0.01  # ... if they are at most this share of the tickets
# Signups and cancellations may run a little past the last ticket (exports taken days apart);
# further than this is a typo (signups) or a "not cancelled" marker (cancellations).
AHEAD_SLACK_H = 31 * 24.0
MAX_LISTED_DATES = 5
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
    support: SupportFit | None = None  # the desk's week and support's effect on churn
    funding_sigma: float | None = None
    notes: list[str] = field(default_factory=list)
    text: str = ""
    scenario: Scenario | None = None


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
                 sla_h: float | None = None, max_hazard_customers: int = MAX_CUSTOMERS) -> Calibration:
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

    desk_notes: list[str] = []
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
        price = Estimate(float(rev.mean()), mean_se(rev) if n_seg > 1 else 0.0, n_seg,
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

    # the desk's week and support's effect on churn, then the desk's statistics on its clocks
    agent_codes = None
    if t.agent is not None:
        labels, inverse = np.unique(t.agent.astype(str), return_inverse=True)
        agent_codes = np.where(t.agent == "", -1, inverse)
    support = fit_support(c, t, seg_code=seg_code, n_segments=k, w0=w0, export_h=export_h, promise_h=sla,
                          ticket_rate=np.array([s.ticket_rate.value if math.isfinite(s.ticket_rate.value) else 0.0
                                                for s in segments]),
                          base0=np.array([s.base_churn.value for s in segments]), notes=desk_notes,
                          agent_codes=agent_codes, max_customers=max_hazard_customers)
    release_free_memory()
    handle, wait_stats, patience, staffing_level, agents = desk_stats(
        t, sla=sla, export_h=export_h, window_months=window_months, notes=desk_notes, sla_waits=support.sla_waits,
        patience_waits=support.patience_waits, clock=support.clock, open_share=support.open_share())
    if support.mechanics is not None:
        mech = support.mechanics
        for j, s in enumerate(segments):
            name = f"base_churn_{j}"
            if name in mech.names:
                sd, lo, hi = mech.interval(name)
                s.base_churn = Estimate(mech.estimate(name), None, s.churn_monthly.rows,
                                        f"monthly churn at 'meet' from the support -> churn fit (SD {sd:.2g}, 95% CI "
                                        f"{lo:.4g} to {hi:.4g}; the observed {s.churn_monthly.value:.4g} includes "
                                        "customers at 'below')")

    # pooled sBG (all segments) and the cohort table
    cnt_all = sbg.counts_from_customers(churn_period=churn_t[is_churn], censored_tenure=tenure[is_cens],
                                        entry_tenure=entry[in_window])
    sbg_all = sbg.fit(cnt_all) if cnt_all.churned > 0 else None
    if sbg_all is None:
        notes.append("no cancellations in the window: no sBG fit")
    cohorts = cohort_table(c, w0=w0, export_h=export_h, churn_t=churn_t, tenure=tenure, is_churn=is_churn)
    retention = retention_rate(c, w0=w0, export_h=export_h)

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
        ladder_se=ladder_se, sbg_all=sbg_all, cohorts=cohorts, retention_rate_pct=retention, window=window,
        counts=counts, sources=(c.source, t.source), charged_share=charged_share, fee_median_usd=fee_median, support=support,
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


__all__ = [
    "MONTH_H", "PERIODS_SHOWN", "PERIOD_SLACK", "Z95", "Calibration", "Estimate", "HandleFit", "SegmentFit",
    "WaitStats", "clamp_to_schema", "cohort_report", "estimate_all", "fit_handle_times", "ladder_base_churn",
    "patience_from_waits", "renewal_periods", "schema_bound",
]
