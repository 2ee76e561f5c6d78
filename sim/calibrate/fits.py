"""The shifted-beta-geometric (sBG) model of contractual churn (Fader & Hardie 2007).

Where it sits: company data -> ``sim.calibrate`` -> **sbg** (fit and projection) -> the
comments and churn figures of a calibrated scenario. Pure functions of counts; no I/O.

Story: each customer has a constant churn probability theta per period (a coin flip at
every renewal); theta varies across customers as Beta(alpha, beta). Then, for T the period
in which a customer churns (T >= 1),

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)
    S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)
    r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)   (retention rises with tenure)

The likelihood here is individual-level, so it takes left truncation: a customer first seen
at tenure ``a`` (already through ``a`` renewals when the data start) contributes
P(T = t) / S(a) if churned at ``t`` or S(c) / S(a) if still there after ``c`` renewals. With
``a = 0`` everywhere and one cohort this is exactly the cohort likelihood of the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

# Search box for log(alpha), log(beta): wide enough for any real cohort; a fit on the edge
# means "no measurable heterogeneity" (theta is the same for everyone: a geometric model).
LOG_BOUND = (-9.0, 14.0)


@dataclass(frozen=True)
class Counts:
    """Customers by tenure (in periods): churned at period t, still there after c, first seen at a."""

    churn_t: np.ndarray  # distinct churn periods (>= 1)
    churn_n: np.ndarray  # customers churned at each
    censor_c: np.ndarray  # distinct tenures of customers still there (>= 0)
    censor_n: np.ndarray
    entry_a: np.ndarray  # distinct tenures at which customers were first seen (left truncation)
    entry_n: np.ndarray

    @property
    def customers(self) -> int:
        return int(self.entry_n.sum())

    @property
    def churned(self) -> int:
        return int(self.churn_n.sum())

    @property
    def periods_at_risk(self) -> int:
        """Renewal opportunities observed: the denominator of the geometric (no heterogeneity) rate."""
        return int((self.churn_t * self.churn_n).sum() + (self.censor_c * self.censor_n).sum()
                   - (self.entry_a * self.entry_n).sum())


def _tally(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, n = np.unique(np.asarray(values, dtype=np.int64), return_counts=True)
    return t, n.astype(np.float64)


def counts_from_customers(*, churn_period: np.ndarray, censored_tenure: np.ndarray,
                          entry_tenure: np.ndarray | None = None) -> Counts:
    """Tally individual customers: churn periods of churners, tenures of the others, entry tenures of all."""
    churn_period = np.asarray(churn_period, dtype=np.int64)
    censored_tenure = np.asarray(censored_tenure, dtype=np.int64)
    if entry_tenure is None:
        entry_tenure = np.zeros(len(churn_period) + len(censored_tenure), dtype=np.int64)
    if len(churn_period) and churn_period.min() < 1:
        raise ValueError("churn periods start at 1")
    if len(censored_tenure) and censored_tenure.min() < 0:
        raise ValueError("tenures are >= 0")
    return Counts(*_tally(churn_period), *_tally(censored_tenure), *_tally(entry_tenure))


def counts_from_survivors(survivors: Sequence[float]) -> Counts:
    """One cohort's survivor counts n_0 >= n_1 >= ... >= n_k (n_0 customers at the start)."""
    n = np.asarray(survivors, dtype=np.float64)
    if n.ndim != 1 or len(n) < 2:
        raise ValueError("need at least two survivor counts (the cohort size and one later count)")
    if not np.all(np.isfinite(n)) or n[0] <= 0 or np.any(n < 0):
        raise ValueError("survivor counts must be finite, non-negative, and the first must be positive")
    if np.any(np.diff(n) > 0):
        raise ValueError("survivor counts must not increase (a cohort only loses customers)")
    lost = -np.diff(n)
    t = np.arange(1, len(n))
    keep = lost > 0
    return Counts(t[keep], lost[keep], np.array([len(n) - 1]), np.array([n[-1]]),
                  np.array([0]), np.array([n[0]]))


def log_survival(alpha: float, beta: float, t: np.ndarray | float) -> np.ndarray:
    """log S(t) = log B(alpha, beta + t) - log B(alpha, beta)."""
    return special.betaln(alpha, beta + np.asarray(t, dtype=np.float64)) - special.betaln(alpha, beta)


def survival(alpha: float, beta: float, t: np.ndarray | float) -> np.ndarray:
    """Share of a cohort still there after ``t`` renewals."""
    return np.exp(log_survival(alpha, beta, t))


def retention(alpha: float, beta: float, t: np.ndarray | float) -> np.ndarray:
    """Retention rate at renewal ``t`` (>= 1): S(t) / S(t - 1)."""
    t = np.asarray(t, dtype=np.float64)
    return (beta + t - 1) / (alpha + beta + t - 1)


def log_likelihood(alpha: float, beta: float, counts: Counts) -> float:
    c = counts
    b0 = special.betaln(alpha, beta)
    ll = (c.churn_n * (special.betaln(alpha + 1, beta + c.churn_t - 1) - b0)).sum()
    ll += (c.censor_n * (special.betaln(alpha, beta + c.censor_c) - b0)).sum()
    ll -= (c.entry_n * (special.betaln(alpha, beta + c.entry_a) - b0)).sum()
    return float(ll)


def _gradient(alpha: float, beta: float, counts: Counts) -> np.ndarray:
    """d log-likelihood / d(alpha, beta), from d/da log B(a + x, b + y) = psi(a + x) - psi(a + b + x + y)."""
    c = counts
    psi = special.digamma
    d_b0 = np.array([psi(alpha) - psi(alpha + beta), psi(beta) - psi(alpha + beta)])

    def d(n: np.ndarray, a: float, b: np.ndarray) -> np.ndarray:
        s = psi(a + b)
        return np.array([(n * (psi(a) - s)).sum(), (n * (psi(b) - s)).sum()]) - n.sum() * d_b0

    return (d(c.churn_n, alpha + 1, beta + c.churn_t - 1) + d(c.censor_n, alpha, beta + c.censor_c)
            - d(c.entry_n, alpha, beta + c.entry_a))


@dataclass(frozen=True)
class SBGFit:
    """Maximum-likelihood sBG fit; standard errors from the observed information."""

    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    log_likelihood: float
    customers: int
    churned: int
    periods_at_risk: int
    at_bound: bool  # an estimate hit the search box: no measurable heterogeneity (or too little data)

    @property
    def mean_churn(self) -> float:
        """Mean churn probability of a new customer in its first period, alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def geometric_churn(self) -> float:
        """Churned / renewal opportunities: the rate if every customer had the same theta."""
        return self.churned / self.periods_at_risk if self.periods_at_risk else float("nan")

    def survival(self, t: np.ndarray | float) -> np.ndarray:
        return survival(self.alpha, self.beta, t)

    def retention(self, t: np.ndarray | float) -> np.ndarray:
        return retention(self.alpha, self.beta, t)

    def summary(self) -> str:
        edge = "; at the edge of the search box (no measurable heterogeneity)" if self.at_bound else ""
        return (f"sBG alpha {self.alpha:.4g} (SE {self.alpha_se:.2g}), beta {self.beta:.4g} "
                f"(SE {self.beta_se:.2g}), mean churn alpha/(alpha+beta) {self.mean_churn:.4g}{edge}")


def fit(counts: Counts) -> SBGFit:
    """Fit alpha and beta by maximum likelihood (bounded Newton-CG on the logs, analytic gradient)."""
    if counts.customers <= 0:
        raise ValueError("no customers to fit")

    def neg(x: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = np.exp(x)
        g = _gradient(a, b, counts) * np.array([a, b])  # chain rule to the log scale
        return -log_likelihood(a, b, counts), -g

    best = None
    for start in ((0.0, 0.0), (-1.0, 1.0), (2.0, 4.0)):  # a few starts: the surface can be flat
        # TNC rather than L-BFGS-B: same answers here, and far less overhead per iteration on a 2-D problem
        res = optimize.minimize(neg, np.array(start), jac=True, method="TNC", bounds=[LOG_BOUND] * 2,
                                options={"ftol": 1e-12, "xtol": 1e-10, "gtol": 1e-10, "maxfun": 2000})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    x = best.x
    a, b = np.exp(x)
    at_bound = bool(np.any(x <= LOG_BOUND[0] + 1e-3) or np.any(x >= LOG_BOUND[1] - 1e-3))
    se = _standard_errors(x, counts)
    return SBGFit(float(a), float(b), float(se[0]), float(se[1]), log_likelihood(a, b, counts),
                  counts.customers, counts.churned, counts.periods_at_risk, at_bound)


def _standard_errors(x: np.ndarray, counts: Counts) -> np.ndarray:
    """SEs of alpha and beta: invert the observed information on the log scale, then delta method."""
    def grad(z: np.ndarray) -> np.ndarray:
        a, b = np.exp(z)
        return _gradient(a, b, counts) * np.array([a, b])

    h = 1e-5
    hess = np.empty((2, 2))
    for i in range(2):
        step = np.zeros(2)
        step[i] = h
        hess[:, i] = (grad(x + step) - grad(x - step)) / (2 * h)
    hess = (hess + hess.T) / 2
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return np.array([np.inf, np.inf])
    var = np.diag(cov)
    if np.any(~np.isfinite(var)) or np.any(var < 0):
        return np.array([np.inf, np.inf])
    return np.exp(x) * np.sqrt(var)
