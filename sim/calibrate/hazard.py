"""What support does to churn: a discrete-time hazard model, mapped onto the model's satisfaction parameters.

Where it sits: ``panel`` (customer-months with their support outcomes) -> **hazard** ->
``estimate`` -> ``write`` (the ``satisfaction`` and ``churn`` sections and the ``[uncertainty]``
table). docs/calibration.md ("Support and churn") derives every step.

1. **The survival model** (the reduced form). A complementary log-log hazard over customer-months,
   fitted by statsmodels' GLM: ``P(leave in month t | there at its start) = 1 - exp(-exp(x'beta))``
   with the segment, this month's abandoned tickets, late answers in bands of ``x = wait /
   expectation``, unresolved tickets and fees, last month's and the two months before's bad
   outcomes, and whether this month had two or more. Every covariate is a small count, so the
   customer-months are grouped by their covariate pattern (a binomial GLM on the groups has the
   same likelihood as the Bernoulli one on the rows). Its covariance is the sandwich clustered by
   customer, so it holds whether or not the reduced form is the true hazard.
2. **The mapping** (indirect inference). The model's own mechanics give, for any parameters
   ``theta`` = (p_down_unresolved, p_down_effort, late_half_ratio, level_hazard_multiplier[below],
   p_recover_from_below, resentment_per_usd, base churn per segment), each customer-month's exact
   chance of leaving given that customer's observed outcomes: a two-level (meet, below) chain
   moved by the month's outcomes exactly as ``sim.engine.customers.ladder_update`` moves it, churn
   at the new level (``churn_table``), survivors re-weighted (:func:`churn_paths`). Fitting the
   same GLM to those chances gives ``beta(theta)``, the coefficients the model implies on these
   very customers (the binding function; no simulation noise). ``theta`` is chosen so that
   ``beta(theta)`` matches the fitted ``beta`` in the metric of its covariance (minimum distance);
   its covariance is ``(J' V^-1 J)^-1`` with ``J = d beta / d theta``, and the distance at the
   optimum is Hansen's J test of the model's mechanics against the data.

Pure computation: nothing is read, written or printed here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats
from statsmodels.genmod.families import Binomial, links
from statsmodels.genmod.generalized_linear_model import GLM

from sim.calibrate.panel import Panel

DRAWS = 4000  # draws from the sampling distribution for intervals and the [uncertainty] table
COUNT_CAP = 2  # counts above this are grouped with it (0, 1, 2+)
MIN_EVENTS = 30  # fewer customer-months with an outcome than this: its parameter is not estimated
MIN_LEAVERS = 10  # ... or fewer cancellations among those customer-months
SCHEMA_PATH = {
    "q_abandon": "satisfaction.p_down_effort (via the chance an abandoned ticket costs a level)",
    "p_down_unresolved": "satisfaction.p_down_unresolved", "p_down_effort": "satisfaction.p_down_effort",
    "late_half_ratio": "satisfaction.late_half_ratio", "m_below": "churn.level_hazard_multiplier[below]",
    "p_recover_from_below": "satisfaction.p_recover_from_below",
    "resentment_per_usd": "satisfaction.resentment_per_usd",
}


@dataclass
class Design:
    """The reduced form's design: covariate patterns, and each observed customer-month's pattern."""

    names: list[str]
    X: np.ndarray  # (K, d) one row per pattern
    pattern: np.ndarray  # (cells,) pattern of each observed customer-month, row-major over the panel
    customer: np.ndarray  # (cells,) its customer row
    cell_weight: np.ndarray  # (cells,) customers the row stands for
    trials: np.ndarray  # (K,) customer-months per pattern
    events: np.ndarray  # (K,) of which churned
    counts: dict[str, int]  # customer-months with each outcome


@dataclass
class ReducedForm:
    """The fitted hazard model: coefficients, clustered covariance, and its log-likelihood."""

    names: list[str]
    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    cells: int
    churned: int

    def table(self) -> list[dict[str, float | str]]:
        se = np.sqrt(np.diag(self.cov))
        return [{"covariate": n, "coef": float(b), "se": float(s), "hazard_ratio": float(math.exp(b)),
                 "hr_low": float(math.exp(b - 1.96 * s)), "hr_high": float(math.exp(b + 1.96 * s))}
                for n, b, s in zip(self.names, self.beta, se)]


@dataclass
class Mechanics:
    """The model's satisfaction and churn parameters implied by the data, with their covariance.

    Estimated on a transformed scale (logit of a probability, log of ``late_half_ratio - 1``,
    ``m - 1`` and ``resentment_per_usd``) where the sampling distribution is closer to normal and
    the search is unbounded; ``z`` and ``cov`` are on that scale, intervals are carried back.
    """

    names: list[str]  # estimated parameters (keys of SCHEMA_PATH, then 'base_churn_<segment code>')
    z: np.ndarray
    cov: np.ndarray
    fixed: dict[str, float]  # parameters held at a default (not identified by these data)
    j_stat: float
    j_df: int
    j_pvalue: float
    converged: bool
    evaluations: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def value(self) -> np.ndarray:
        return np.array([from_z(n, z) for n, z in zip(self.names, self.z)])

    def draws(self, n: int = DRAWS, seed: int = 0, given: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """Draws of every parameter from the estimates' sampling distribution (normal on the estimation
        scale, carried back; ``p_down_effort`` derived from ``q_abandon``, truncated at 0). ``given``:
        parameters held at their estimates (the others drawn from their conditional distribution)."""
        rng = np.random.default_rng(seed)
        cov = (self.cov + self.cov.T) / 2
        held = [self.names.index(g) for g in given if g in self.names]
        if held:
            rest = [i for i in range(len(self.names)) if i not in held]
            s_oo, s_om, s_mm = cov[np.ix_(rest, rest)], cov[np.ix_(rest, held)], cov[np.ix_(held, held)]
            cond = np.zeros_like(cov)
            cond[np.ix_(rest, rest)] = s_oo - s_om @ np.linalg.solve(s_mm, s_om.T)
            cov = (cond + cond.T) / 2
        z = rng.multivariate_normal(self.z, cov, size=n, method="eigh", check_valid="ignore")
        out = {name: _from_z_array(name, z[:, i]) for i, name in enumerate(self.names)}
        if "q_abandon" in out:
            p_u = out.get("p_down_unresolved", np.full(n, self.fixed.get("p_down_unresolved", 0.0)))
            out["p_down_effort"] = np.maximum(0.0, 1.0 - (1.0 - out["q_abandon"]) / (1.0 - p_u))
        return out

    def estimate(self, name: str) -> float:
        """The point estimate of an estimated or derived parameter (the default of a fixed one)."""
        if name in self.names:
            return float(from_z(name, float(self.z[self.names.index(name)])))
        if name == "p_down_effort" and "q_abandon" in self.names:
            q, p_u = self.estimate("q_abandon"), self.estimate("p_down_unresolved")
            return max(0.0, 1.0 - (1.0 - q) / (1.0 - p_u))
        return self.fixed[name]

    def interval(self, name: str, seed: int = 0, given: tuple[str, ...] = ()) -> tuple[float, float, float]:
        """(SE, 2.5% and 97.5% points) of a parameter from :meth:`draws`."""
        x = self.draws(seed=seed, given=given)[name]
        lo, hi = np.quantile(x, [0.025, 0.975])
        return float(np.std(x)), float(lo), float(hi)

    def estimated(self) -> list[str]:
        """Parameter names the data moved (``p_down_effort`` for ``q_abandon``), base churn last."""
        out = [("p_down_effort" if n == "q_abandon" else n) for n in self.names]
        return out



def _from_z_array(name: str, z: np.ndarray) -> np.ndarray:
    return np.array([from_z(name, float(v)) for v in z]) if len(z) < 50 else _vector_from_z(name, z)


def _vector_from_z(name: str, z: np.ndarray) -> np.ndarray:
    z = np.clip(z, -Z_LIMIT - 5, Z_LIMIT + 5)
    kind = _kind(name)
    if kind == "logit":
        return 1.0 / (1.0 + np.exp(-z))
    if kind == "log1":
        return 1.0 + np.exp(z)
    return np.exp(z)


PRIOR_SD = 2.0  # a weak prior on the estimation scale, centred on the default: it weighs nothing against data
Z_LIMIT = 14.0  # |z| beyond this is the edge of the search (a probability of 1e-6 or an odds of 1e6)


def _kind(name: str) -> str:
    if name in ("late_half_ratio", "m_below"):
        return "log1"
    if name == "resentment_per_usd":
        return "log"
    return "logit"


def to_z(name: str, value: float) -> float:
    """A parameter on the scale it is estimated on."""
    kind = _kind(name)
    if kind == "logit":
        v = min(max(value, 1e-6), 1 - 1e-6)
        return math.log(v / (1 - v))
    if kind == "log1":
        return math.log(max(value - 1.0, 1e-6))
    return math.log(max(value, 1e-6))


def from_z(name: str, z: float) -> float:
    kind = _kind(name)
    z = min(max(z, -Z_LIMIT - 5), Z_LIMIT + 5)
    if kind == "logit":
        return 1.0 / (1.0 + math.exp(-z))
    if kind == "log1":
        return 1.0 + math.exp(z)
    return math.exp(z)


# ----------------------------------------------------------------------------- the reduced form


def design(panel: Panel, *, fee_step_usd: float) -> Design:
    """Covariate patterns of every observed customer-month (see the module docstring)."""
    n, width = panel.shape
    valid = panel.valid()
    bands = panel.late_counts()
    bad = panel.abandoned + panel.unresolved + bands.sum(axis=0)
    lag1 = np.zeros_like(bad)
    lag1[:, 1:] = bad[:, :-1]
    lag23 = np.zeros_like(bad)
    lag23[:, 2:] += bad[:, :-2]
    lag23[:, 3:] += bad[:, :-3]
    fee_bin = np.where(panel.fees <= 0, 0, np.where(panel.fees <= fee_step_usd, 1, 2))
    cap = COUNT_CAP
    columns = {
        "abandoned": panel.abandoned, "late x 1-2": bands[0], "late x 2-5": bands[1], "late x >5": bands[2],
        "unresolved": panel.unresolved, "fees": fee_bin, "bad last month": lag1, "bad 2-3 months ago": lag23,
        "two or more bad": (bad >= 2).astype(np.int64),
    }
    counts = {k: int(np.count_nonzero((v > 0) & valid)) for k, v in columns.items()}
    y_all = panel.y()
    leavers = {k: int(np.count_nonzero((v > 0) & valid & (y_all == 1))) for k, v in columns.items()}
    # a covariate needs customer-months with it and some who left among them (else its MLE runs off to -inf)
    used = [k for k in columns if counts[k] >= MIN_EVENTS and leavers[k] >= MIN_LEAVERS]
    seg = np.broadcast_to(panel.segment[:, None], (n, width))
    n_seg = int(panel.segment.max()) + 1 if n else 1
    code = seg.astype(np.int64).copy()
    for k in used:
        code = code * (cap + 1) + np.minimum(columns[k], cap)
    cells = valid.ravel()
    flat = code.ravel()[cells]
    uniq, inverse = np.unique(flat, return_inverse=True)
    y = panel.y().ravel()[cells]
    w = np.broadcast_to(panel.weights()[:, None], (n, width)).ravel()[cells]
    trials = np.bincount(inverse, weights=w, minlength=len(uniq)).astype(float)
    events = np.bincount(inverse, weights=y * w, minlength=len(uniq)).astype(float)
    # decode the patterns back into covariates
    values = {}
    rest = uniq.copy()
    for k in reversed(used):
        values[k] = rest % (cap + 1)
        rest //= cap + 1
    seg_of = rest
    segs_present = np.unique(seg_of)
    X = np.column_stack([(seg_of == s).astype(float) for s in segs_present] + [values[k].astype(float) for k in used])
    names = [f"segment {s}" for s in segs_present] + used
    del n_seg
    customer = np.broadcast_to(np.arange(n)[:, None], (n, width)).ravel()[cells]
    return Design(names, X, inverse, customer, w, trials, events, counts)


def _glm(X: np.ndarray, events: np.ndarray, trials: np.ndarray, start: np.ndarray | None = None) -> Any:
    endog = np.column_stack([events, trials - events])
    model = GLM(endog, X, family=Binomial(link=links.CLogLog()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(start_params=start, maxiter=100, tol=1e-10)


def fit_reduced(d: Design, panel: Panel) -> ReducedForm:
    """The cloglog hazard GLM on the grouped customer-months, with a customer-clustered sandwich."""
    res = _glm(d.X, d.events, d.trials)
    beta = np.asarray(res.params, dtype=float)
    eta = d.X @ beta
    mu = -np.expm1(-np.exp(eta))
    dmu = np.exp(eta - np.exp(eta))
    a = dmu / np.maximum(mu * (1 - mu), 1e-300)
    bread = (d.X * (d.trials * a * dmu)[:, None]).T @ d.X
    y = panel.y().ravel()[panel.valid().ravel()]
    resid = y - mu[d.pattern]
    n = panel.shape[0]
    per = np.column_stack([np.bincount(d.customer, weights=d.X[d.pattern, k] * a[d.pattern] * resid, minlength=n)
                           for k in range(d.X.shape[1])])
    per *= np.sqrt(panel.weights())[:, None]  # a merged row: that many identical customers
    meat = per.T @ per
    inv = np.linalg.pinv(bread)
    cov = inv @ meat @ inv
    ll = float(np.sum(d.events * np.log(np.maximum(mu, 1e-300)) + (d.trials - d.events) * np.log1p(-mu)))
    return ReducedForm(d.names, beta, cov, ll, int(d.trials.sum()), int(d.events.sum()))


# ----------------------------------------------------------------------------- the model's mechanics


def _late_log(panel: Panel, p_u: float, lhr: float) -> tuple[np.ndarray, np.ndarray]:
    """log P(no level lost) from the late answers, per customer-month and per trial month."""
    g = math.log(2.0) / math.log(lhr)
    size = panel.shape[0] * panel.shape[1]
    grid = np.bincount(panel.late_cell, weights=np.log1p(-p_u * -np.expm1(-g * np.log(panel.late_x))),
                       minlength=size).reshape(panel.shape)
    trial = np.bincount(panel.trial_late_row, weights=np.log1p(-p_u * -np.expm1(-g * np.log(panel.trial_late_x))),
                        minlength=panel.shape[0])
    return grid, trial


def churn_paths(panel: Panel, theta: dict[str, float], base: np.ndarray, unseen_unresolved: np.ndarray) -> np.ndarray:
    """(N, P) each observed customer-month's chance of leaving under the model with ``theta``.

    Two levels, meet and below (above 'meet' nobody rises without programmes or recovery gain).
    In a month with outcomes o, a customer keeps their level unless some outcome costs one:
    ``P(no loss) = (1 - q_abandon)^abandoned x prod_late (1 - p_u (1 - x^-g)) x (1 - p_u)^unresolved
    x exp(-k fees) x exp(-p_u u_s)`` (``u_s``: issues met and never raised or self-resolved per
    month, Poisson, so their losses thin to ``exp(-p_u u_s)``). From meet a loss moves to below;
    from below, recovery (``p_recover_from_below``) lifts to meet only in a month without a loss.
    Churn is then drawn at the new level: ``b`` at meet, ``1 - (1 - b)^m`` at below; survivors
    are re-weighted by Bayes. New customers start their trial month at meet; customers already
    there when the window opens start at their segment's steady state.
    """
    p_u, p_e, lhr = theta["p_down_unresolved"], theta["p_down_effort"], theta["late_half_ratio"]
    m, r, k = theta["m_below"], theta["p_recover_from_below"], theta["resentment_per_usd"]
    q_ab = 1.0 - (1.0 - p_u) * (1.0 - p_e)
    late, late_trial = _late_log(panel, p_u, lhr)
    unseen = p_u * unseen_unresolved[panel.segment]
    log_keep = (panel.abandoned * math.log1p(-q_ab) + late + panel.unresolved * math.log1p(-p_u)
                - k * panel.fees - unseen[:, None])
    keep = np.exp(log_keep)
    b = base[panel.segment]
    cb = -np.expm1(m * np.log1p(-b))
    # steady state of each segment, with churners replaced at meet, at its mean monthly P(no loss)
    valid = panel.valid()
    n_seg = len(base)
    wk = keep * panel.weights()[:, None]
    mean_keep = (np.bincount(np.broadcast_to(panel.segment[:, None], keep.shape)[valid], weights=wk[valid],
                             minlength=n_seg) / np.maximum(np.bincount(panel.segment, weights=panel.n_obs * panel.weights(),
                                                                       minlength=n_seg), 1))
    cb_s = -np.expm1(m * np.log1p(-base))
    pi_s = np.zeros(n_seg)
    for _ in range(200):
        pi_s = ((1 - pi_s) * (1 - mean_keep) + pi_s * (1 - r * mean_keep)) * (1 - cb_s)
    trial_keep = np.exp(panel.trial_abandoned * math.log1p(-q_ab) + late_trial
                        + panel.trial_unresolved * math.log1p(-p_u) - k * panel.trial_fees - unseen)
    pi = np.where(panel.new, 1.0 - trial_keep, pi_s[panel.segment])
    out = np.zeros(panel.shape)
    for j in range(panel.shape[1]):
        nd = keep[:, j]
        moved = (1 - pi) * (1 - nd) + pi * (1 - r * nd)
        c = b + moved * (cb - b)
        out[:, j] = c
        pi = moved * (1 - cb) / np.maximum(1 - c, 1e-300)
    return out


def implied_beta(d: Design, panel: Panel, theta: dict[str, float], base: np.ndarray,
                 unseen_unresolved: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The reduced form's coefficients the model implies on these customers (the binding function)."""
    c = churn_paths(panel, theta, base, unseen_unresolved).ravel()[panel.valid().ravel()]
    expected = np.bincount(d.pattern, weights=c * d.cell_weight, minlength=len(d.trials))
    return np.asarray(_glm(d.X, expected, d.trials, start=start).params, dtype=float)


def identified(d: Design) -> list[str]:
    """The parameters these data can move: each needs the outcome it acts through (see :func:`fit_mechanics`)."""
    used = set(d.names)
    late = sum(b in used for b in ("late x 1-2", "late x 2-5", "late x >5"))
    free = []
    if late or "unresolved" in used:
        free.append("p_down_unresolved")
    if "abandoned" in used:
        free.append("q_abandon")
    if late >= 2:
        free.append("late_half_ratio")
    if "fees" in used:
        free.append("resentment_per_usd")
    if free and ("bad last month" in used or "bad 2-3 months ago" in used):
        free.append("p_recover_from_below")
    if free:
        free.append("m_below")
    return free


def fit_mechanics(d: Design, rf: ReducedForm, panel: Panel, *, defaults: dict[str, float], n_segments: int,
                  base0: np.ndarray, unseen_unresolved: np.ndarray, free: list[str] | None = None) -> Mechanics:
    """Minimum-distance fit of the model's parameters to the reduced form (see the module docstring).

    ``free``: the parameters to estimate (default :func:`identified`); the others keep
    ``defaults`` and say so. Base churn per segment is always estimated.
    """
    free = identified(d) if free is None else free
    defaults = {**defaults, "q_abandon": 1.0 - (1.0 - defaults["p_down_unresolved"]) * (1.0 - defaults["p_down_effort"])}
    fixed = {k: v for k, v in defaults.items() if k not in free and k != "q_abandon"}
    if "q_abandon" in free:
        fixed.pop("p_down_effort", None)
    notes = [f"{SCHEMA_PATH[k]} kept at {v:g}: not identified by these data" for k, v in fixed.items()]
    names = free + [f"base_churn_{s}" for s in range(n_segments)]
    z0 = np.array([to_z(k, defaults[k]) for k in free] + [to_z("base", b) for b in base0])
    z0 = np.clip(z0, -Z_LIMIT + 1e-6, Z_LIMIT - 1e-6)
    vinv = np.linalg.pinv(rf.cov)
    w = np.linalg.cholesky(vinv + 1e-12 * np.eye(len(vinv))).T
    prior = z0.copy()

    def unpack(z: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        theta = dict(fixed)
        theta.update({k: from_z(k, float(v)) for k, v in zip(free, z)})
        if "q_abandon" in theta:
            theta["p_down_effort"] = max(0.0, 1.0 - (1.0 - theta.pop("q_abandon")) / (1.0 - theta["p_down_unresolved"]))
        return theta, np.array([from_z("base", float(v)) for v in z[len(free):]])

    def resid(z: np.ndarray) -> np.ndarray:
        theta, base = unpack(z)
        data = w @ (rf.beta - implied_beta(d, panel, theta, base, unseen_unresolved, rf.beta))
        return np.concatenate([data, (z - prior) / PRIOR_SD])

    with np.errstate(all="ignore"):
        sol = optimize.least_squares(resid, z0, bounds=(-Z_LIMIT, Z_LIMIT), x_scale=1.0, diff_step=1e-3,
                                     xtol=1e-8, ftol=1e-10, max_nfev=300)
    cov = np.linalg.pinv(sol.jac.T @ sol.jac)
    j_stat = float(np.sum(sol.fun[: len(rf.beta)] ** 2))
    df = max(len(rf.beta) - len(names), 0)
    p = float(stats.chi2.sf(j_stat, df)) if df > 0 else float("nan")
    at_edge = [names[i] for i in range(len(names)) if abs(sol.x[i]) > Z_LIMIT - 0.5]
    if at_edge:
        notes.append("at the edge of the search (the data push it to 0 or 1): " + ", ".join(at_edge))
    return Mechanics(names, sol.x, cov, fixed, j_stat, df, p, bool(sol.success), int(sol.nfev), notes)
