"""The desk from the tickets alone: handle times, waits, abandonment and patience, staffing.

Where it sits: ``ingest`` (the tickets table) -> **deskfit** -> ``estimate`` (the calibration)
-> ``write``. Pure computation: nothing is read, written or printed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, special

from sim.calibrate.ingest import TicketTable
from sim.calibrate.quantities import MONTH_H, Z95, Estimate, clamp_to_schema, mean_se, schema_bound
from sim.engine import erlang
from sim.params.schema import Support


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



def _ks_statistic(cdf_sorted: np.ndarray) -> float:
    """Kolmogorov-Smirnov D of a sample against a distribution, given the CDF at the sorted sample."""
    n = len(cdf_sorted)
    step = np.arange(1, n + 1, dtype=np.float64)
    step /= n
    step -= cdf_sorted
    d_plus = float(step.max())
    step += cdf_sorted
    step -= 1.0 / n
    np.subtract(cdf_sorted, step, out=step)
    return max(d_plus, float(step.max()))


def fit_handle_times(hours: np.ndarray) -> HandleFit:
    """Fit exponential and lognormal distributions by maximum likelihood; choose by AIC; KS for each."""
    x = np.asarray(hours, dtype=np.float64)
    n = len(x)
    mean = float(x.mean())
    ll_exp = -n * math.log(mean) - n
    # in place where it can be: millions of handle times hold 8 bytes each per temporary
    logs = np.log(x)
    log_sum = float(logs.sum())
    mu = log_sum / n
    logs -= mu
    sigma = max(math.sqrt(float(np.dot(logs, logs)) / n), 1e-9)
    del logs
    ll_ln = float(-log_sum - n * math.log(sigma) - 0.5 * n * math.log(2 * math.pi) - 0.5 * n)
    xs = np.sort(x)
    cdf = np.divide(xs, -mean)
    np.expm1(cdf, out=cdf)
    np.negative(cdf, out=cdf)
    ks_exp = _ks_statistic(cdf)
    np.log(xs, out=cdf)
    del xs
    cdf -= mu
    cdf /= sigma
    special.ndtr(cdf, out=cdf)
    ks_ln = _ks_statistic(cdf)
    del cdf
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



def still_open(t: TicketTable, export_h: float) -> np.ndarray:
    """Unanswered tickets opened within the 99th-percentile wait of the export: still open, not abandoned."""
    answered = np.isfinite(t.first_response_h)
    if answered.sum() < 2:
        return np.zeros(len(t), bool)
    p99 = float(np.quantile(t.first_response_h[answered] - t.opened_h[answered], 0.99))
    return ~answered & (t.opened_h > export_h - p99)


def desk_stats(t: TicketTable, *, sla: float, export_h: float, window_months: float, notes: list[str],
               sla_waits: np.ndarray | None = None, patience_waits: np.ndarray | None = None,
               clock: str = "calendar", open_share: float = 1.0,
               ) -> tuple[HandleFit | None, WaitStats | None, Estimate | None, Estimate | None, int | None]:
    """Handle times, waits, patience and staffing from the tickets alone: (handle, waits, patience,
    staffing level, Erlang C agents). ``sla_waits`` / ``patience_waits``: each ticket's wait on the
    SLA / patience clock (default: calendar hours); ``clock`` names the SLA clock in comments."""
    answered = np.isfinite(t.first_response_h)
    handle = None
    if t.handle_h is not None and np.isfinite(t.handle_h).any():
        h_src = "handle-time column"
        h = t.handle_h[np.isfinite(t.handle_h)]
        zeros = int((h <= 0).sum())
    else:
        h_src = "resolved - first response"
        h = np.subtract(t.resolved_h, t.first_response_h)  # NaN where either is missing
        zeros = int(np.count_nonzero(h <= 0))
    h = h[h > 0]
    if zeros:
        notes.append(f"{zeros:,} tickets with zero handle time ({h_src}) left out of the handle-time fit")
    if len(h) >= 2:
        handle = fit_handle_times(h)
    else:
        notes.append("fewer than 2 handle times: handle-time defaults kept")
    del h
    waits = t.first_response_h[answered] - t.opened_h[answered]
    on_sla = waits if sla_waits is None else sla_waits[answered]
    on_patience = waits if patience_waits is None else patience_waits[answered]
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
        within = float((on_sla <= sla + 1e-9).mean())
        wait_stats = WaitStats(n_ans, n_ab, int(still_open.sum()), float(waits.mean()), mean_se(waits), p90,
                               (float(srt[lo_i]), float(srt[hi_i])), sla, within,
                               math.sqrt(within * (1 - within) / n_ans))
        if still_open.any():
            notes.append(f"{int(still_open.sum()):,} unanswered tickets opened within the 99th-percentile wait "
                         f"({p99:.3g} h) of the export date count as still open, not abandoned")
        patience = patience_from_waits(on_patience, abandoned=n_ab)
        if patience is None:
            notes.append("no abandoned tickets (or no waits): patience is not identifiable; default kept")
        level = clamp_to_schema(within, Support, "staffing_service_level", notes, "support.staffing_service_level")
        staffing_level = Estimate(level, wait_stats.within_sla_se, n_ans,
                                  f"share of {n_ans:,} answered tickets with a first response within {sla:g} {clock} h "
                                  "(erlang staffing then aims at the same service level)")
        if handle is not None:
            # the desk as it was staffed: the agent count whose Erlang C mean wait, on the load of an average
            # open hour, is closest (on a log scale) to the observed mean wait on the SLA clock
            per_hour = len(t) / (window_months * MONTH_H * max(open_share, 1e-3))
            load = per_hour * handle.mean_h
            observed = max(float(np.mean(on_sla)), 1e-3)
            lo = max(1, int(math.floor(load)) + 1)
            hi = min(int(schema_bound(Support, "agents", "le")), lo + 50)
            candidates = [(abs(math.log(max(erlang.mean_wait(n, load, handle.mean_h), 1e-6) / observed)), n)
                          for n in range(lo, hi + 1)]
            agents = min(candidates)[1]
    else:
        notes.append("fewer than 2 answered tickets: wait, patience and staffing defaults kept")
    return handle, wait_stats, patience, staffing_level, agents
