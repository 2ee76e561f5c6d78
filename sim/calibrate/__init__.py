"""Calibrate a scenario from a company's own data: customers.csv and tickets.csv exports.

Where it sits: company exports -> **calibrate** -> ``scenarios/NAME.toml`` -> ``sim.params.scenario``
-> model. It reads two plain CSV files, estimates the parameters the data identify (segment
shares and prices, ticket and issue rates, churn and the sBG retention curve, handle-time
distribution, waits, patience, satisfaction shares), and writes a scenario file in which every
estimated value carries a comment: the estimate, its uncertainty and the rows it came from.
Everything else keeps the schema default (and says so). The file is validated with
:func:`sim.params.scenario.load_text` before it is written, atomically.

Time: hours internally, months of 730 h (``schema.HOURS_PER_MONTH``) like the model. A paid
period is a 730-h month from the signup date. Bad input raises :class:`ScenarioError` naming the
file, row, column and what was expected. Only the command-line handlers at the end
(``add_command``, ``cmd_calibrate``) print; nothing here runs the model (:func:`exports_from_trace`
turns a trace the caller made into exports, for round trips and the bundled example).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sim.calibrate import fits as sbg
from sim.engine import erlang
from sim.output.files import atomic_write
from sim.params.scenario import ScenarioError, load_text
from sim.params.schema import (
    HOURS_PER_MONTH,
    LADDER,
    Churn,
    Customers,
    HelpSeeking,
    Pricing,
    Satisfaction,
    Scenario,
    Segment,
    Support,
)

MONTH_H = HOURS_PER_MONTH
# A cancellation dated up to 0.1 month (~3 days) past a renewal still counts as before it:
# exports often carry dates only, and customers cancel just before they are billed again.
PERIOD_SLACK = 0.1
MAX_LISTED = 5  # bad rows listed per problem; the rest are counted
MIN_SCORED_CUSTOMERS = 20  # fewer satisfaction answers than this: keep the default ladder shares
PERIODS_SHOWN = 12  # renewal periods shown in cohort tables and projections
Z95 = 1.959963984540054


def _limit(model: Any, name: str, attr: str) -> float:
    """A bound (``le``, ``ge``, ``gt`` or ``max_length``) of a schema field: clamps follow the schema, not copies."""
    for m in model.model_fields[name].metadata:
        if getattr(m, attr, None) is not None:
            return getattr(m, attr)
    raise KeyError(f"{model.__name__}.{name} has no {attr}")


def _clamp(value: float, model: Any, name: str, notes: list[str], label: str) -> float:
    """Clamp an estimate into the schema's range for ``model.name``, noting it when it had to move."""
    hi = _limit(model, name, "le")
    lo = next((getattr(m, a) for m in model.model_fields[name].metadata for a in ("ge", "gt")
               if getattr(m, a, None) is not None), -math.inf)
    out = min(max(value, lo if lo > -math.inf else value), hi)
    if out == lo and any(getattr(m, "gt", None) is not None for m in model.model_fields[name].metadata):
        out = lo + 1e-6 * max(1.0, abs(lo))
    if out != value:
        notes.append(f"{label}: estimate {value:.6g} is outside the schema range; {out:.6g} written")
    return out


class CalibrationError(ScenarioError):
    """Bad calibration input (file, row, column, expected); a ScenarioError, so the CLI exits 2."""

    def __init__(self, problems: list[str], source: str = "calibration") -> None:
        super().__init__(problems, source)
        ValueError.__init__(self, f"{source}: cannot calibrate\n" + "\n".join(f"  - {p}" for p in problems))


# ----------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One expected column: canonical name, accepted header aliases, kind and whether required."""

    name: str
    aliases: tuple[str, ...]
    kind: Literal["id", "text", "date", "number", "bool"]
    required: bool
    expect: str


CUSTOMER_COLUMNS = (
    Column("customer_id", ("customer_id", "customer", "id", "customerid", "account_id", "account", "client_id"),
           "id", True, "a customer id"),
    Column("signup_date", ("signup_date", "signup", "signed_up", "signed_up_at", "signup_at", "start_date",
                           "started_at", "created_at", "subscribed_at", "subscription_start"),
           "date", True, "an ISO date such as 2024-01-31 or 2024-01-31T14:05:00"),
    Column("cancel_date", ("cancel_date", "cancelled_at", "canceled_at", "cancellation_date", "cancelled",
                           "canceled", "churn_date", "churned_at", "end_date", "ended_at"),
           "date", True, "an ISO date such as 2024-01-31, or empty if the customer is active"),
    Column("plan", ("plan", "plan_name", "tier", "product", "subscription_plan"), "text", True, "a plan name"),
    Column("monthly_revenue_usd", ("monthly_revenue_usd", "monthly_revenue", "mrr", "mrr_usd", "revenue",
                                   "revenue_usd", "monthly_price", "price", "price_usd"),
           "number", True, "a plain non-negative number such as 49.00"),
    Column("segment", ("segment", "segment_name", "customer_segment"), "text", False, "a segment name"),
    Column("vip", ("vip", "is_vip"), "bool", False, "true/false, yes/no or 1/0"),
    Column("big_name", ("big_name", "is_big_name", "known_brand"), "bool", False, "true/false, yes/no or 1/0"),
    Column("funding_usd", ("funding_usd", "funding", "total_funding", "total_funding_usd"),
           "number", False, "a plain non-negative number"),
)

TICKET_COLUMNS = (
    Column("ticket_id", ("ticket_id", "ticket", "id", "ticketid", "case_id"), "id", True, "a ticket id"),
    Column("customer_id", ("customer_id", "customer", "customerid", "account_id", "account", "requester_id",
                           "client_id"), "id", True, "the id of a customer"),
    Column("opened", ("opened", "opened_at", "created", "created_at", "submitted_at", "received_at"),
           "date", True, "an ISO timestamp such as 2024-01-31T14:05:00"),
    Column("first_response", ("first_response", "first_response_at", "first_reply", "first_reply_at",
                              "responded_at", "answered_at"),
           "date", True, "an ISO timestamp, or empty if never answered"),
    Column("resolved", ("resolved", "resolved_at", "closed", "closed_at", "solved_at"),
           "date", True, "an ISO timestamp, or empty if not resolved"),
    Column("channel", ("channel", "via", "source"), "text", False, "a channel name"),
    Column("fee_usd", ("fee_usd", "fee", "fee_charged", "fee_charged_usd", "charged_usd"),
           "number", False, "a plain non-negative number (0 if free)"),
    Column("satisfaction", ("satisfaction", "satisfaction_score", "csat", "csat_score", "rating", "score"),
           "number", False, "a score on a 1-5 or 0-10 scale"),
    Column("handle_time_h", ("handle_time_h", "handle_h", "agent_time_h", "handle_hours"),
           "number", False, "agent hours spent on the ticket"),
)

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})


def _normalise(header: str) -> str:
    return header.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


@dataclass
class _Raw:
    """A CSV file as text columns, matched to canonical names."""

    source: str
    rows: int
    columns: dict[str, pd.Series]  # canonical name -> text
    headers: dict[str, str]  # canonical name -> header as written in the file


def _read_csv(path: str | Path, spec: tuple[Column, ...], what: str) -> _Raw:
    source = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CalibrationError([f"cannot read {what} file: no such file"], source) from None
    except IsADirectoryError:
        raise CalibrationError([f"cannot read {what} file: it is a folder"], source) from None
    except UnicodeDecodeError as exc:
        raise CalibrationError([f"{what} file is not UTF-8 text (byte {exc.start})"], source) from None
    except pd.errors.EmptyDataError:
        raise CalibrationError([f"{what} file is empty: expected a header row and data rows"], source) from None
    except (pd.errors.ParserError, OSError) as exc:
        raise CalibrationError([f"cannot read {what} file as CSV: {exc}"], source) from None
    found: dict[str, list[str]] = {}
    for header in df.columns:
        norm = _normalise(str(header))
        for col in spec:
            if norm in col.aliases:
                found.setdefault(col.name, []).append(str(header))
                break
    problems = []
    for col in spec:
        hits = found.get(col.name, [])
        if len(hits) > 1:
            problems.append(f"columns {', '.join(repr(h) for h in hits)} all mean '{col.name}': keep one")
        elif not hits and col.required:
            problems.append(
                f"missing column '{col.name}' ({col.expect}); accepted names: {', '.join(col.aliases)}; "
                f"columns found: {', '.join(repr(str(c)) for c in df.columns) or 'none'}"
            )
    if not problems and len(df) == 0:
        problems.append(f"{what} file has a header but no data rows")
    if problems:
        raise CalibrationError(problems, source)
    columns = {name: df[hits[0]].astype(str).str.strip() for name, hits in found.items()}
    return _Raw(source, len(df), columns, {name: hits[0] for name, hits in found.items()})


class _Problems:
    """Collects row-level problems, a few listed per column, so one error names them all."""

    def __init__(self, raw: _Raw) -> None:
        self.raw = raw
        self.lines: list[str] = []

    def rows(self, mask: np.ndarray, column: str, expected: str, *, show_value: bool = True) -> None:
        bad = np.flatnonzero(mask)
        if not len(bad):
            return
        header = self.raw.headers.get(column, column)
        values = self.raw.columns[column].to_numpy() if column in self.raw.columns else None
        for i in bad[:MAX_LISTED]:
            got = f", got {values[i]!r}" if show_value and values is not None else ""
            self.lines.append(f"row {i + 1} (line {i + 2}), column '{header}': expected {expected}{got}")
        if len(bad) > MAX_LISTED:
            self.lines.append(f"... and {len(bad) - MAX_LISTED} more rows with a bad '{header}'")

    def raise_if_any(self) -> None:
        if self.lines:
            raise CalibrationError(self.lines, self.raw.source)


def _parse_dates(text: pd.Series) -> np.ndarray:
    """ISO dates or timestamps -> hours since 1970 (UTC; a time zone offset is honoured); NaN if empty/bad."""
    stamps = pd.to_datetime(text.where(text != ""), format="ISO8601", utc=True, errors="coerce")
    ms = stamps.dt.tz_localize(None).to_numpy("datetime64[ms]").view(np.int64)
    out = ms.astype(np.float64) / 3_600_000.0
    out[stamps.isna().to_numpy()] = np.nan
    return out


def parse_date(value: str, *, what: str) -> float:
    """One ISO date from the command line -> hours since 1970."""
    hours = _parse_dates(pd.Series([value.strip()]))[0]
    if not np.isfinite(hours):
        raise CalibrationError([f"{what}: expected an ISO date such as 2024-01-31, got {value!r}"], "command line")
    return float(hours)


def iso(hours: float) -> str:
    """Hours since 1970 -> ISO timestamp (date only at midnight)."""
    stamp = np.datetime64(int(round(hours * 3600)), "s")
    text = str(stamp)
    return text[:10] if text.endswith("T00:00:00") else text


def _column(raw: _Raw, p: _Problems, col: Column) -> np.ndarray | None:
    """Parse one column by its kind; row problems go to ``p``. None if the optional column is absent."""
    if col.name not in raw.columns:
        return None
    text = raw.columns[col.name]
    empty = (text == "").to_numpy()
    if col.kind in ("id", "text"):
        return text.to_numpy(dtype=object)
    if col.kind == "date":
        hours = _parse_dates(text)
        p.rows(~empty & np.isnan(hours), col.name, col.expect)
        return hours
    if col.kind == "number":
        values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=np.float64, copy=True)
        p.rows(~empty & ~np.isfinite(values), col.name, col.expect)
        values[~np.isfinite(values)] = np.nan
        return values
    lower = text.str.lower()
    truth = lower.isin(TRUE_WORDS).to_numpy()
    p.rows(~truth & ~lower.isin(FALSE_WORDS).to_numpy(), col.name, col.expect)
    return truth


# ----------------------------------------------------------------------------- tables


@dataclass
class CustomerTable:
    """customers.csv, parsed: one row per customer; times in hours since 1970 (NaN = empty)."""

    source: str
    id: np.ndarray
    signup_h: np.ndarray
    cancel_h: np.ndarray
    plan: np.ndarray
    revenue_usd: np.ndarray
    segment: np.ndarray
    vip: np.ndarray | None = None
    big_name: np.ndarray | None = None
    funding_usd: np.ndarray | None = None
    has_segment_column: bool = False

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class TicketTable:
    """tickets.csv, parsed: one row per ticket; times in hours since 1970 (NaN = empty)."""

    source: str
    id: np.ndarray
    customer: np.ndarray
    opened_h: np.ndarray
    first_response_h: np.ndarray
    resolved_h: np.ndarray
    channel: np.ndarray | None = None
    fee_usd: np.ndarray | None = None
    satisfaction: np.ndarray | None = None
    handle_h: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.id)


def read_customers(path: str | Path) -> CustomerTable:
    """Read and check customers.csv (columns matched by name; problems name row and column)."""
    raw = _read_csv(path, CUSTOMER_COLUMNS, "customers")
    p = _Problems(raw)
    cols = {c.name: _column(raw, p, c) for c in CUSTOMER_COLUMNS}
    ids, signup, cancel = cols["customer_id"], cols["signup_date"], cols["cancel_date"]
    plan, revenue = cols["plan"], cols["monthly_revenue_usd"]
    p.rows(ids == "", "customer_id", "a customer id (this one is empty)", show_value=False)
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids != "")
    p.rows(dup, "customer_id", "each customer id once (this one repeats an earlier row)")
    p.rows(raw.columns["signup_date"].to_numpy() == "", "signup_date", "a signup date (it is empty)",
           show_value=False)
    p.rows(plan == "", "plan", "a plan name (it is empty)", show_value=False)
    p.rows(raw.columns["monthly_revenue_usd"].to_numpy() == "", "monthly_revenue_usd",
           "a monthly revenue (it is empty)", show_value=False)
    p.rows(revenue < 0, "monthly_revenue_usd", "a non-negative number")
    p.rows(cancel < signup, "cancel_date", "a date on or after the signup date")
    funding = cols["funding_usd"]
    if funding is not None:
        p.rows(funding < 0, "funding_usd", "a non-negative number")
    p.raise_if_any()
    seg_text = cols["segment"]
    segment = plan if seg_text is None else np.where(seg_text == "", plan, seg_text)
    return CustomerTable(raw.source, ids, signup, cancel, plan, revenue, segment, cols["vip"], cols["big_name"],
                         funding, seg_text is not None)


def read_tickets(path: str | Path) -> TicketTable:
    """Read and check tickets.csv (columns matched by name; problems name row and column)."""
    raw = _read_csv(path, TICKET_COLUMNS, "tickets")
    p = _Problems(raw)
    cols = {c.name: _column(raw, p, c) for c in TICKET_COLUMNS}
    ids, cust = cols["ticket_id"], cols["customer_id"]
    opened, first, resolved = cols["opened"], cols["first_response"], cols["resolved"]
    p.rows(ids == "", "ticket_id", "a ticket id (it is empty)", show_value=False)
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids != "")
    p.rows(dup, "ticket_id", "each ticket id once (this one repeats an earlier row)")
    p.rows(cust == "", "customer_id", "a customer id (it is empty)", show_value=False)
    p.rows(raw.columns["opened"].to_numpy() == "", "opened", "an opening time (it is empty)", show_value=False)
    p.rows(first < opened, "first_response", "a time on or after 'opened'")
    p.rows(resolved < np.where(np.isnan(first), opened, first), "resolved",
           "a time on or after the first response (or 'opened')")
    for name in ("fee_usd", "handle_time_h"):
        if cols[name] is not None:
            p.rows(cols[name] < 0, name, "a non-negative number")
    p.raise_if_any()
    return TicketTable(raw.source, ids, cust, opened, first, resolved, cols["channel"], cols["fee_usd"],
                       cols["satisfaction"], cols["handle_time_h"])


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
    """The result: the validated scenario, its commented TOML text and every estimate behind it."""

    scenario: Scenario
    text: str
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
    funding_sigma: float | None = None
    notes: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """Every estimate as plain JSON-able data."""
        def clean(o: Any) -> Any:
            if isinstance(o, float):
                return o if math.isfinite(o) else None
            if isinstance(o, dict):
                return {k: clean(v) for k, v in o.items()}
            if isinstance(o, (list, tuple)):
                return [clean(v) for v in o]
            if isinstance(o, np.generic):
                return clean(o.item())
            return o

        def fit_dict(f: sbg.SBGFit | None) -> dict[str, Any] | None:
            if f is None:
                return None
            t = np.arange(1, PERIODS_SHOWN + 1)
            return {**asdict(f), "mean_churn": f.mean_churn, "survival": f.survival(t).tolist(),
                    "retention": f.retention(t).tolist()}

        return clean({
            "window": self.window,
            "counts": self.counts,
            "segments": [{**{k: v for k, v in asdict(s).items() if k != "sbg"}, "sbg": fit_dict(s.sbg)}
                         for s in self.segments],
            "handle_time": asdict(self.handle) if self.handle else None,
            "waits": asdict(self.waits) if self.waits else None,
            "patience_mean_h": asdict(self.patience) if self.patience else None,
            "staffing_service_level": asdict(self.staffing_level) if self.staffing_level else None,
            "agents_erlang_c": self.agents,
            "ladder": {"levels": list(LADDER), "shares": self.ladder_shares, "se": self.ladder_se,
                       "customers": int(self.ladder.value) if self.ladder else 0},
            "sbg_all": fit_dict(self.sbg_all),
            "cohorts": json.loads(self.cohorts.to_json(orient="records")),
            "retention_rate_pct": asdict(self.retention_rate_pct) if self.retention_rate_pct else None,
            "notes": self.notes,
        })


def _mean_se(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


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
    ks_exp = float(stats.kstest(x, "expon", args=(0, mean)).statistic)
    ks_ln = float(stats.kstest(x, "lognorm", args=(sigma, 0, math.exp(mu))).statistic)
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


def calibrate(*, customers: CustomerTable, tickets: TicketTable, as_of: str | None = None,
              observed_from: str | None = None, export_date: str | None = None, sla_h: float | None = None,
              name: str = "calibrated") -> Calibration:
    """Estimate a scenario from parsed exports.

    ``export_date``: when the data were exported (default: the latest date in either file).
    ``observed_from``: start of the observation window for ticket rates and churn (default: the
    first ticket); customers signed up earlier enter it at their tenure then (left truncation,
    which also makes exports that omit long-gone customers safe). ``as_of``: the date the
    simulation starts from; its active customers give ``customers.initial`` and segment shares
    (default: the export date). ``sla_h``: first-response target (default: the schema's).
    """
    notes: list[str] = []
    c, t = customers, tickets
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

    # --- segments ---------------------------------------------------------------------------------
    seg_names, seg_code = _segment_order(c)
    k = len(seg_names)
    max_segments = _limit(Customers, "segments", "max_length")
    if k > max_segments:
        raise CalibrationError([f"{k} plans or segments: a scenario holds at most {max_segments}; add a 'segment' column that "
                             "groups plans"], c.source)
    end_h = np.where(np.isnan(c.cancel_h), np.inf, c.cancel_h)
    active_at = (c.signup_h < as_of_h) & (end_h >= as_of_h)
    n_active = int(active_at.sum())
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
    span_lo = np.maximum(c.signup_h, w0)
    span_hi = np.minimum(np.where(churned_any, c.cancel_h, export_h), export_h)
    exposure_m = np.clip(span_hi - span_lo, 0, None) / MONTH_H
    idx = pd.Index(c.id).get_indexer(t.customer)
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
        frame = pd.DataFrame({"c": t.customer[has][order], "s": t.satisfaction[has][order]})
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
    multipliers = list(Churn().level_hazard_multiplier)

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
                            f"(churn.level_hazard_multiplier, satisfaction.initial_shares)")
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

    # --- desk: handle times, waits, patience, staffing ----------------------------------------------
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
        level = _clamp(within, Support, "staffing_service_level", notes, "support.staffing_service_level")
        staffing_level = Estimate(level, wait_stats.within_sla_se, n_ans,
                                  f"share of {n_ans:,} answered tickets with a first response within {sla:g} h "
                                  "(erlang staffing then aims at the same service level)")
        if handle is not None:
            per_hour = len(t) / (window_months * MONTH_H)
            load = per_hour * handle.mean_h
            agents = erlang.agents_for_service_level(load, handle.mean_h, sla, level, lo=1,
                                                     hi=int(_limit(Support, "agents", "le")))
    else:
        notes.append("fewer than 2 answered tickets: wait, patience and staffing defaults kept")

    window = {"export_date": iso(export_h), "observed_from": iso(w0), "as_of": iso(as_of_h),
              "window_months": f"{window_months:.2f}"}
    counts = {"customers": len(c), "tickets": len(t), "active_as_of": n_active, "segments": k,
              "tickets_in_rates": int(in_span.sum()), "tickets_unknown_customer": unknown,
              "tickets_charged": int(charged.sum())}
    cal = Calibration(
        scenario=Scenario(), text="", segments=segments, handle=handle, waits=wait_stats, patience=patience,
        staffing_level=staffing_level, agents=agents, ladder=ladder_est, ladder_shares=ladder_shares,
        ladder_se=ladder_se, sbg_all=sbg_all, cohorts=cohorts, retention_rate_pct=retention_rate, window=window,
        counts=counts, funding_sigma=math.sqrt(log_ss / log_df) if log_df > 0 else None, notes=notes,
    )
    cal.text = _scenario_text(cal, name=name, sources=(c.source, t.source), n_active=n_active,
                              charged_share=charged_share, fee_median=fee_median, fees_present=fees is not None,
                              channels=t.channel)
    cal.scenario = load_text(cal.text, source="calibrated scenario")
    return cal


def calibrate_files(*, customers: str | Path, tickets: str | Path, **options: Any) -> Calibration:
    """Read both exports and calibrate (options as for :func:`calibrate`)."""
    return calibrate(customers=read_customers(customers), tickets=read_tickets(tickets), **options)


def write_scenario(cal: Calibration, path: str | Path) -> Path:
    """Write the calibrated scenario atomically (temporary file + rename), after validating it again."""
    path = Path(path)
    load_text(cal.text, source=str(path))
    atomic_write(path, lambda tmp: tmp.write_text(cal.text, encoding="utf-8"))
    return path


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
    stamps = pd.to_datetime(c.signup_h[inside] * 3600, unit="s")
    month = stamps.strftime("%Y-%m").to_numpy()
    frame = pd.DataFrame({"cohort": month, "churn": is_churn[inside], "t": churn_t[inside], "c": tenure[inside],
                          "signup": c.signup_h[inside]})
    rows = []
    for cohort, g in frame.groupby("cohort", sort=True):
        n0 = len(g)
        seen = int(math.floor((export_h - g["signup"].max()) / MONTH_H + PERIOD_SLACK))
        row: dict[str, Any] = {"cohort": cohort, "customers": n0}
        for p in range(1, PERIODS_SHOWN + 1):
            alive = int(((g["churn"] & (g["t"] > p)) | (~g["churn"] & (g["c"] >= p))).sum())
            row[f"m{p}"] = round(100.0 * alive / n0, 1) if p <= seen else None
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


# ----------------------------------------------------------------------------- the scenario file


def _num(v: float, digits: int = 6) -> str:
    """A TOML float with ``digits`` significant digits (always with a decimal point or exponent)."""
    s = format(float(v), f".{digits}g")
    return s if any(ch in s for ch in ".en") else s + ".0"


def _line(key: str, value: str, comment: str = "") -> str:
    comment = " ".join(comment.split())
    return f"{key} = {value}" + (f"  # {comment}" if comment else "")


def _fixed_sum(values: list[float], digits: int = 6) -> list[float]:
    """Round to ``digits`` decimals keeping the sum exactly 1 (the largest absorbs the remainder)."""
    out = [round(v, digits) for v in values]
    i = int(np.argmax(out))
    out[i] = round(1.0 - sum(x for j, x in enumerate(out) if j != i), digits)
    return out


def _scenario_text(cal: Calibration, *, name: str, sources: tuple[str, str], n_active: int, charged_share: float,
                   fee_median: float, fees_present: bool, channels: np.ndarray | None) -> str:
    """The scenario as TOML: a header on retention and data, then every section with commented estimates.

    The body is built first, since clamping a value into the schema range adds a note to the header.
    """
    notes = cal.notes

    def put(value: float, model: Any, fld: str, label: str, digits: int = 6) -> str:
        return _num(_clamp(value, model, fld, notes, label), digits)

    w = cal.window
    body = [
        "",
        "[scenario]",
        _line("name", json.dumps(name[:80])),
        _line("description", json.dumps(f"Calibrated from {Path(sources[0]).name} and {Path(sources[1]).name}, "
                                        f"{w['observed_from']} to {w['export_date']}.")),
        "",
        "[customers]",
        _line("initial", str(int(_clamp(n_active, Customers, "initial", notes, "customers.initial"))),
              f"customers active on {w['as_of']} (signed up before it, not cancelled by then): the population "
              "the simulation starts from"),
    ]
    if cal.funding_sigma is not None:
        body.append(_line("funding_sigma", put(cal.funding_sigma, Customers, "funding_sigma",
                                               "customers.funding_sigma", 4),
                          "pooled within-segment sd of log funding"))
    shares = _fixed_sum([s.share.value for s in cal.segments])
    top = len(cal.segments) - 1
    max_rank = int(_limit(Segment, "tier_priority", "le"))
    for i, (s, share) in enumerate(zip(cal.segments, shares)):
        label = f"customers.segments.{i}"
        churn_note = f"; observed monthly churn {s.churn_monthly.comment()}" if s.churn_monthly.se else ""
        body += [
            "",
            "[[customers.segments]]",
            _line("name", json.dumps(s.name), f"plans: {', '.join(s.plans)}"[:300] if s.plans != [s.name] else ""),
            _line("share", _num(share), s.share.comment()),
            _line("plan_price_usd_per_month", put(s.price.value, Segment, "plan_price_usd_per_month",
                                                  f"{label}.plan_price_usd_per_month"), s.price.comment()),
            _line("issue_rate_per_month", put(s.issue_rate.value, Segment, "issue_rate_per_month",
                                              f"{label}.issue_rate_per_month"), s.issue_rate.comment()),
            _line("base_churn_per_month", put(s.base_churn.value, Segment, "base_churn_per_month",
                                              f"{label}.base_churn_per_month"), s.base_churn.comment() + churn_note),
            _line("tier_priority", str(min(len(cal.segments) - i, max_rank)),
                  "rank by price, dearest first (assumption; used only by tiered policies)"),
            _line("is_top_plan", "true" if (i == top and top > 0) else "false",
                  "the dearest segment" if (i == top and top > 0) else ""),
        ]
        if s.big_name_share is not None:
            body.append(_line("big_name_share", _num(s.big_name_share.value), s.big_name_share.comment()))
        if s.funding_median is not None:
            body.append(_line("funding_median_usd", put(s.funding_median.value, Segment, "funding_median_usd",
                                                        f"{label}.funding_median_usd"), s.funding_median.comment()))
    body += ["", "[pricing]"]
    if charged_share > 0:
        body += [
            _line("scheme", '"per_ticket"', f"{charged_share:.1%} of tickets carry a fee "
                  f"({cal.counts['tickets_charged']:,} rows); a free allowance is not inferred"),
            _line("per_ticket_fee_usd", put(fee_median, Pricing, "per_ticket_fee_usd", "pricing.per_ticket_fee_usd"),
                  "median fee of charged tickets"),
        ]
    else:
        body.append(_line("scheme", '"flat"', "no ticket carries a fee" if fees_present
                          else "no fee column: support assumed included"))
    body += [
        "",
        "[help_seeking]",
        _line("base_ask_prob", _num(HelpSeeking().base_ask_prob), "schema default, not identifiable from tickets "
              "alone: issue rates above are ticket rates divided by it"),
        "",
        "[support]",
    ]
    if cal.staffing_level is not None:
        body.append(_line("staffing", '"erlang"', "staff each month for the observed service level"))
        body.append(_line("staffing_service_level", _num(cal.staffing_level.value, 4), cal.staffing_level.comment()))
        if cal.agents is not None:
            body.append(_line("agents", str(cal.agents), "Erlang C agents for the average month at that service "
                              "level (used under fixed staffing)"))
            if cal.agents > Support().max_agents:
                body.append(_line("max_agents", str(int(min(2 * cal.agents, _limit(Support, "max_agents", "le")))),
                                  "room above the Erlang C estimate"))
    wt = cal.waits
    sla_h = wt.sla_h if wt else Support().sla_target_h
    body.append(_line("sla_target_h", _num(sla_h), "the first-response target the service level is measured against"
                      + (f"; observed waits mean {wt.mean_h:.3g} h (SE {wt.mean_se:.2g}), p90 {wt.p90_h:.3g} h "
                         f"(95% CI {wt.p90_ci[0]:.3g} to {wt.p90_ci[1]:.3g}), {wt.answered:,} answered, "
                         f"{wt.abandoned:,} abandoned" if wt else "")))
    if cal.handle is not None:
        h = cal.handle
        fit_note = (f"MLE fits of {h.n:,} handle times: exponential KS D {h.exp_ks:.3f} AIC {h.exp_aic:.1f}; "
                    f"lognormal KS D {h.lognormal_ks:.3f} AIC {h.lognormal_aic:.1f} (mu {h.lognormal_mu:.3g}, "
                    f"sigma {h.lognormal_sigma:.3g}); lower AIC chosen")
        body.append(_line("handle_time_dist", json.dumps(h.chosen), fit_note))
        body.append(_line("handle_time_mean_h", put(h.mean_h, Support, "handle_time_mean_h", "support.handle_time_mean_h"),
                          Estimate(h.mean_h, h.mean_se, h.n, f"mean of the {h.chosen} fit (sample mean "
                                   f"{h.sample_mean_h:.4g} h)").comment()))
        if h.chosen == "lognormal":
            body.append(_line("handle_time_cv", put(h.cv, Support, "handle_time_cv", "support.handle_time_cv"),
                              Estimate(h.cv, h.cv_se, h.n, "sqrt(exp(sigma^2) - 1) of the lognormal fit").comment()))
    if cal.patience is not None:
        body.append(_line("patience_mean_h", put(cal.patience.value, Support, "patience_mean_h",
                                                 "support.patience_mean_h"), cal.patience.comment()))
    body += ["", "[satisfaction]"]
    shares_text = "[" + ", ".join(_num(x) for x in _fixed_sum(cal.ladder_shares)) + "]"
    if cal.ladder is not None:
        detail = ", ".join(f"{lv} {p:.3f} SE {se:.3f}" for lv, p, se in zip(LADDER, cal.ladder_shares, cal.ladder_se))
        body.append(_line("initial_shares", shares_text,
                          f"{cal.ladder.how} ({detail}), from {cal.ladder.rows:,} scored tickets"))
    else:
        body.append(_line("initial_shares", shares_text, "schema default: no satisfaction scores"))
    if any(s.vip_share is not None for s in cal.segments):
        n_vip = sum(round(s.vip_share * s.customers) for s in cal.segments if s.vip_share is not None)
        body += ["", "[vip]", _line("enabled", "true" if n_vip > 0 else "false",
                                    f"{n_vip:,} customers flagged VIP; the selection rules keep their defaults")]

    head = [
        f"# Calibrated by `supportsim calibrate` from {Path(sources[0]).name} ({cal.counts['customers']:,} rows) "
        f"and {Path(sources[1]).name} ({cal.counts['tickets']:,} rows).",
        f"# Window: {w['observed_from']} to {w['export_date']} ({w['window_months']} months of 730 h); "
        f"the simulation starts from the customers active on {w['as_of']}.",
        "# Each estimated value says: estimate (SE, 95% CI) from N rows: how. Parameters without a comment keep",
        "# the schema default (docs/parameters.md); docs/calibration.md explains every mapping.",
        "#",
        "# Retention (shifted-beta-geometric, Fader & Hardie 2007; periods of 730 h from each signup):",
    ]
    if cal.sbg_all is not None:
        f = cal.sbg_all
        surv = f.survival(np.array([1, 3, 6, 12, 24]))
        head += [
            f"#   all customers: {f.summary()}; {f.customers:,} customers, {f.churned:,} cancellations.",
            "#   projected survival after 1/3/6/12/24 months: " + ", ".join(f"{x:.1%}" for x in surv)
            + f"; retention at renewal 1/12/24: {f.retention(1):.1%}, {f.retention(12):.1%}, {f.retention(24):.1%}.",
        ]
    for s in cal.segments:
        if s.sbg is not None:
            head.append(f"#   {s.name}: {s.sbg.summary()}; exposure churn {s.churn_monthly.value:.4g}/month.")
    head += [
        "#   Mapping: the scenario's churn is a constant monthly hazard per customer given the ladder level, so",
        "#   base_churn_per_month reproduces the exposure-weighted monthly churn (cancellations / renewal",
        "#   opportunities), not the first-period churn alpha/(alpha+beta) of a new cohort. The sBG curve shows",
        "#   how retention rises with tenure; the scenario reproduces that only through segments and ladder moves.",
    ]
    if cal.retention_rate_pct is not None:
        head.append(f"# Monthly retention rate ((C - B) / A) x 100: {cal.retention_rate_pct.comment()}.")
    if channels is not None:
        ch, n = np.unique(channels[channels != ""].astype(str), return_counts=True)
        if len(ch):
            head.append("# Channels (one desk in the model): "
                        + ", ".join(f"{a} {b / n.sum():.0%}" for a, b in zip(ch, n)) + ".")
    head += [f"# Note: {note}." for note in notes]
    return "\n".join(head + body) + "\n"


# ----------------------------------------------------------------------------- model trace -> exports


def exports_from_trace(trace: Any, *, params: Any, start: str = "2024-01-01", seed: int = 0,
                       survey_share: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn a :class:`sim.engine.model.Trace` into customers and tickets tables in the export format.

    Paying customers only (signup = start of the month they converted, cancel = end of the month
    they churned, dates only); every logged ticket (opened / first response / resolved as ISO
    timestamps, empty if abandoned). A share of answered tickets carries a 1-5 satisfaction score:
    the customer's level at the end of the run (the trace keeps no level history).
    """
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(start, "s")
    prices = {s.name: s.plan_price_usd_per_month * params.pricing.price_multiplier
              for s in params.customers.segments}
    cust = pd.DataFrame(trace.customers)
    paying = cust[cust["converted_month"].notna()].copy()

    def stamp(hours: np.ndarray, unit: str) -> np.ndarray:
        ok = np.isfinite(hours)
        out = np.full(len(hours), "", dtype=object)
        secs = np.round(hours[ok] * 3600).astype(np.int64).astype("timedelta64[s]")
        out[ok] = np.datetime_as_string(t0 + secs, unit=unit)
        return out

    conv = paying["converted_month"].to_numpy(dtype=np.float64)
    churn = paying["churn_month"].to_numpy(dtype=np.float64)
    customers = pd.DataFrame({
        "customer_id": [f"C{i:06d}" for i in paying["slot"]],
        "signup_date": stamp(conv * MONTH_H, "D"),
        "cancel_date": stamp((churn + 1) * MONTH_H, "D"),
        "plan": paying["segment"].to_numpy(),
        "monthly_revenue_usd": [f"{prices[s]:.2f}" for s in paying["segment"]],
        "vip": np.where(paying["vip"].to_numpy(), "true", "false"),
        "big_name": np.where(paying["big_name"].to_numpy(), "true", "false"),
        "funding_usd": [f"{x:.0f}" for x in paying["funding_usd"]],
    })
    level_of = {lv: i for i, lv in enumerate(LADDER)}
    levels = cust["level"].map(level_of).to_numpy()
    tk = np.array([(s, a, np.nan if f is None else f, h, fee) for s, a, f, h, fee in trace.tickets],
                  dtype=np.float64).reshape(-1, 5)
    tk = tk[np.argsort(tk[:, 1], kind="stable")]
    slot = tk[:, 0].astype(np.int64)
    answered = np.isfinite(tk[:, 2])
    scored = answered & (rng.random(len(tk)) < survey_share)
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i:07d}" for i in range(1, len(tk) + 1)],
        "customer_id": [f"C{i:06d}" for i in slot],
        "opened": stamp(tk[:, 1], "s"),
        "first_response": stamp(tk[:, 2], "s"),
        "resolved": stamp(np.where(answered, tk[:, 2] + tk[:, 3], np.nan), "s"),
        "channel": np.where(rng.random(len(tk)) < 0.7, "email", "chat"),
        "fee_usd": [f"{x:.2f}" for x in tk[:, 4]],
        "satisfaction": np.where(scored, (levels[slot] + 1).astype(str), ""),
    })
    return customers, tickets


def parse_cohort(text: str) -> list[float]:
    parts = [x.strip() for x in text.replace(";", ",").split(",") if x.strip()]
    out = []
    for i, x in enumerate(parts):
        try:
            v = float(x)
        except ValueError:
            raise CalibrationError([f"--cohort value {i + 1}: expected a number, got {x!r}"], "command line") from None
        out.append(v)
    try:
        sbg.counts_from_survivors(out)
    except ValueError as exc:
        raise CalibrationError([f"--cohort: {exc}"], "command line") from None
    return out


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
