"""Expected value of perfect (and partial perfect) information from a PSA sample.

Where it sits: a probabilistic sensitivity analysis (``sim.decision.psa``, or any array a
notebook has) -> **voi** -> decision tables. Pure numpy/scipy (scikit-learn for the Gaussian
process); it never runs the model and never prints.

``nb`` is an (n samples x options) array of net benefit (here: a value KPI in USD per
policy); the best option is the one with the highest expected net benefit.

- :func:`evpi`: E[max_d NB_d] - max_d E[NB_d] — what perfect knowledge of everything
  uncertain would be worth (the expected loss of the option chosen now).
- :func:`evppi`: the same for perfect knowledge of some inputs ``x`` only,
  E_x[max_d E[NB_d | x]] - max_d E[NB_d]. The inner conditional expectations are estimated
  by the nonparametric regression method of Strong, Oakley & Brennan (2014, Medical
  Decision Making 34(3) 311-326): regress each option's incremental net benefit
  (NB_d - NB_0) on ``x`` over the PSA sample and take the fitted values as E[NB_d - NB_0 | x].
  One or two inputs: a penalised regression spline (a GAM-like P-spline smoother,
  Eilers & Marx 1996; a tensor product for two inputs) with the smoothing chosen by
  generalised cross-validation; a discrete input with few values: its group means
  (the exact conditional mean). Three or more inputs: a Gaussian process with one length
  scale per input and a noise term (hyperparameters by maximum marginal likelihood), as
  Strong et al. recommend beyond a few inputs.

The regression also removes noise that ``x`` cannot explain (other inputs, simulation
noise), which is why the estimate is unbiased where the plain sample formula is not; for a
very small sample it is biased upwards (Strong et al. section 4).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.interpolate import BSpline
from threadpoolctl import threadpool_limits

__all__ = ["ConditionalMean", "conditional_mean", "evpi", "evppi", "evppi_se", "expected_loss", "method_label",
           "subsample_rows", "value_of_information"]

Method = Literal["auto", "gam", "gp", "groups"]
MAX_GROUPS = 12  # an input with at most this many distinct values is treated as discrete
GP_FIT_POINTS = 600  # hyperparameters of the Gaussian process are fitted on at most this many points
# The Gaussian process itself is conditioned on at most this many points: its kernel matrix is
# n x n (8,000 samples took 3.1 GB, 12,000 over 6 GB), so above it a seeded subsample of this size
# is used (about 32 MB per n x n matrix; predictions are made in blocks of PREDICT_BLOCK rows), and
# the method says so. Memory is then bounded whatever the number of samples.
GP_MAX_POINTS = 2000
GP_SUBSAMPLE_SEED = 20140101  # fixed: the same samples give the same subsample, hence the same result
PREDICT_BLOCK = 4096
LAMBDAS = np.logspace(-4, 6, 41)  # smoothing parameters tried by GCV (on inputs scaled to [0, 1])


# ---------------------------------------------------------------------------- checks


def _as_nb(nb: np.ndarray) -> np.ndarray:
    a = np.asarray(nb, dtype=float)
    if a.ndim == 1:
        raise ValueError("nb must be 2-D (samples x options); a single column has nothing to choose between")
    if a.ndim != 2 or a.shape[1] < 1 or a.shape[0] < 2:
        raise ValueError(f"nb must be an (n samples x options) array with n >= 2 (got shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ValueError("nb contains NaN or infinite values")
    return a


def _as_x(x: np.ndarray, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != n or a.shape[1] < 1:
        raise ValueError(f"x must be (n,) or (n, k) with n = {n} rows like nb (got shape {np.shape(x)})")
    if not np.all(np.isfinite(a)):
        raise ValueError("x contains NaN or infinite values")
    return a


# ---------------------------------------------------------------------------- the two measures


def expected_loss(nb: np.ndarray) -> np.ndarray:
    """Per option, the expected loss (regret) of choosing it: E[max_d NB_d - NB_option]."""
    a = _as_nb(nb)
    return (a.max(axis=1, keepdims=True) - a).mean(axis=0)


def evpi(nb: np.ndarray) -> float:
    """Expected value of perfect information: E[max_d NB_d] - max_d E[NB_d] (>= 0).

    Equal to the expected loss of the option with the highest expected net benefit.
    Simulation noise in ``nb`` counts as uncertainty here; ``evppi(nb, all_inputs)`` counts
    only what the inputs explain.
    """
    a = _as_nb(nb)
    return _value(a.max(axis=1).mean() - a.mean(axis=0).max(), a)


def evppi(nb: np.ndarray, x: np.ndarray, *, method: Method = "auto") -> float:
    """Expected value of partial perfect information about the inputs ``x`` (one or more columns).

    ``method``: "auto" (group means for one discrete input, a GAM-like P-spline for one or
    two inputs, a Gaussian process beyond), or force "groups", "gam" (one or two inputs) or
    "gp". See the module docstring for the estimator.
    """
    fitted = conditional_mean(nb, x, method=method).fitted
    return value_of_information(fitted)


BOOTSTRAP = 20  # resamples for the Monte Carlo standard error of an EVPPI
BOOTSTRAP_MAX_ROWS = 5000  # above this, or for more than two inputs (a Gaussian process), no standard error
BOOTSTRAP_SEED = 1996


def evppi_se(nb: np.ndarray, x: np.ndarray, *, replicates: int = BOOTSTRAP) -> float:
    """Monte Carlo standard error of :func:`evppi` of ``x`` (one or two inputs): the standard deviation
    of the estimate over a seeded bootstrap of the samples (each resample refitted, so the
    regression's own noise counts). NaN when it is not feasible: more than
    :data:`BOOTSTRAP_MAX_ROWS` samples or more than two inputs."""
    a = _as_nb(nb)
    xs = _as_x(x, len(a))
    n = len(a)
    if n > BOOTSTRAP_MAX_ROWS or xs.shape[1] > 2 or replicates < 2:
        return float("nan")
    rng = np.random.default_rng(np.random.SeedSequence([BOOTSTRAP_SEED, n]))
    values = []
    for _ in range(replicates):
        rows = rng.integers(0, n, n)
        values.append(evppi(a[rows], xs[rows]))
    return float(np.std(values, ddof=1))


def value_of_information(fitted: np.ndarray) -> float:
    """mean_i max_d g_id - max_d mean_i g_id for conditional means ``g`` (n x options): the EVPPI
    once ``g`` estimates E[NB_d | x] (rounding noise below 1e-9 of the mean |g| counts as 0)."""
    return _value(fitted.max(axis=1).mean() - fitted.mean(axis=0).max(), fitted)


def _value(diff: float, scale: np.ndarray) -> float:
    """A value of information: never negative, and floating-point noise (when every option is
    best in the same samples, the two means differ only by rounding) is exactly 0."""
    floor = 1e-9 * max(float(np.abs(scale).mean()), 1e-300)
    return float(diff) if diff > floor else 0.0


# ---------------------------------------------------------------------------- regression


@dataclass
class ConditionalMean:
    """E[NB_d | x] estimated on a PSA sample: ``fitted`` at the sample's rows, ``predict`` elsewhere."""

    fitted: np.ndarray  # (n, options)
    method: str
    _models: list[object]
    _base_mean: float

    def predict(self, x_new: np.ndarray) -> np.ndarray:
        """E[NB_d | x] at new input values (m, k) -> (m, options)."""
        xn = np.asarray(x_new, dtype=float)
        xn = xn[:, None] if xn.ndim == 1 else xn
        with threadpool_limits(1):
            cols = [np.zeros(len(xn))] + [m.predict(xn) for m in self._models]  # type: ignore[attr-defined]
        return np.column_stack(cols) + self._base_mean


def conditional_mean(nb: np.ndarray, x: np.ndarray, *, method: Method = "auto") -> ConditionalMean:
    """Regress each option's incremental net benefit on ``x`` (Strong et al. 2014).

    Option 0 is the baseline: the fitted E[NB_0 | x] is taken as its sample mean (only the
    differences between options matter for the decision), the others as that mean plus the
    fitted incremental net benefit.
    """
    a = _as_nb(nb)
    xs = _as_x(x, len(a))
    k = xs.shape[1]
    if method == "auto":
        if k == 1 and len(np.unique(xs[:, 0])) <= MAX_GROUPS:
            method = "groups"
        else:
            method = "gam" if k <= 2 else "gp"
    factory = {"groups": _GroupMeans, "gam": _PSpline, "gp": _GaussianProcess}.get(method)
    if factory is None:
        raise ValueError(f"method must be 'auto', 'groups', 'gam' or 'gp' (got {method!r})")
    if method == "groups" and k != 1:
        raise ValueError("method 'groups' takes one input")
    if method == "gam" and k > 2:
        raise ValueError(f"method 'gam' takes one or two inputs (got {k}); use 'gp'")
    base_mean = float(a[:, 0].mean())
    models = []
    cols = [np.zeros(len(a))]
    # One BLAS thread: the matrices are small, and threads contending for a shared machine's
    # cores made the fits several times slower.
    with threadpool_limits(1):
        for d in range(1, a.shape[1]):
            model = factory(xs, a[:, d] - a[:, 0])
            models.append(model)
            cols.append(model.fitted)
    return ConditionalMean(np.column_stack(cols) + base_mean, method_label(method, len(a)), models, base_mean)


class _GroupMeans:
    """The mean of y within each distinct value of one discrete input."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        values, inverse = np.unique(x[:, 0], return_inverse=True)
        means = np.bincount(inverse, weights=y) / np.bincount(inverse)
        self._table = dict(zip(values.tolist(), means.tolist()))
        self._overall = float(y.mean())
        self.fitted = means[inverse]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.array([self._table.get(float(v), self._overall) for v in x[:, 0]])


def _bspline_basis(u: np.ndarray, segments: int) -> np.ndarray:
    """Cubic B-spline basis on ``segments`` equal intervals of [0, 1] (values outside are clipped)."""
    u = np.clip(u, 0.0, 1.0)
    h = 1.0 / segments
    knots = np.arange(-3, segments + 4) * h
    n_basis = segments + 3
    return BSpline.design_matrix(np.minimum(u, 1.0 - 1e-12), knots, 3, extrapolate=False).toarray()[:, :n_basis]


def _difference_penalty(m: int) -> np.ndarray:
    d = np.diff(np.eye(m), n=2, axis=0)
    return d.T @ d


class _PSpline:
    """Penalised cubic regression spline in one input, or a tensor product in two (Eilers & Marx).

    The second-difference penalty leaves straight lines (planes) unpenalised, so a linear
    relation is recovered exactly as the smoothing grows; the smoothing parameter (one per
    input) is chosen by generalised cross-validation, n RSS / (n - tr H)^2.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        n, k = x.shape
        self._lo = x.min(axis=0)
        span = x.max(axis=0) - self._lo
        self._span = np.where(span > 0, span, 1.0)
        per_input = max(4, min(20 if k == 1 else 8, n // (10 if k == 1 else 12)))
        self._segments = per_input
        basis = self._basis(x)
        m = per_input + 3
        pen = _difference_penalty(m)
        if k == 1:
            penalties = [pen]
        else:
            eye = np.eye(m)
            penalties = [np.kron(pen, eye), np.kron(eye, pen)]
        btb, bty = basis.T @ basis, basis.T @ y
        yty = float(y @ y)
        best: tuple[float, np.ndarray] | None = None
        grid = LAMBDAS if k == 1 else LAMBDAS[::4]
        for lams in (np.array(np.meshgrid(*[grid] * k)).reshape(k, -1).T):
            lhs = btb + sum(lam * p for lam, p in zip(lams, penalties)) + 1e-10 * np.eye(len(btb))
            try:
                coef = np.linalg.solve(lhs, bty)
                edf = float(np.trace(np.linalg.solve(lhs, btb)))
            except np.linalg.LinAlgError:
                continue
            rss = max(yty - 2 * coef @ bty + coef @ btb @ coef, 0.0)
            gcv = n * rss / max(n - edf, 1e-9) ** 2
            if best is None or gcv < best[0]:
                best = (gcv, coef)
        if best is None:  # pragma: no cover - every system singular: fall back to the mean
            best = (0.0, np.linalg.lstsq(basis, y, rcond=None)[0])
        self._coef = best[1]
        self.fitted = basis @ self._coef

    def _basis(self, x: np.ndarray) -> np.ndarray:
        u = (x - self._lo) / self._span
        b = _bspline_basis(u[:, 0], self._segments)
        if x.shape[1] == 2:
            b2 = _bspline_basis(u[:, 1], self._segments)
            b = (b[:, :, None] * b2[:, None, :]).reshape(len(x), -1)
        return b

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._basis(x) @ self._coef


def subsample_rows(n: int) -> np.ndarray:
    """Rows a Gaussian process is conditioned on: all ``n``, or a seeded sample of
    :data:`GP_MAX_POINTS` of them (sorted) when there are more."""
    if n <= GP_MAX_POINTS:
        return np.arange(n)
    rng = np.random.default_rng(np.random.SeedSequence([GP_SUBSAMPLE_SEED, n]))
    return np.sort(rng.choice(n, GP_MAX_POINTS, replace=False))


def method_label(method: str, n: int) -> str:
    """How a conditional mean was fitted, as tables and decision.json show it: "gp", or "gp
    (subsample of 2000 of 8000 samples)" when the Gaussian process was conditioned on a subsample."""
    if method == "gp" and n > GP_MAX_POINTS:
        return f"gp (seeded subsample of {GP_MAX_POINTS} of {n} samples)"
    return method


class _GaussianProcess:
    """Gaussian process regression with a linear mean, one length scale per input and a noise term.

    As in Strong et al. (2014, section 3.3): the mean function is linear in the inputs
    (fitted by least squares), the GP models what the line misses.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        self._mu = x.mean(axis=0)
        sd = x.std(axis=0)
        self._sd = np.where(sd > 0, sd, 1.0)
        u = self._scale(x)
        self._beta = np.linalg.lstsq(self._design(u), y, rcond=None)[0]
        resid = y - self._design(u) @ self._beta
        self._r_sd = float(resid.std())
        self._gp = None
        if self._r_sd > 1e-12 * max(1.0, float(np.abs(y).max())):
            z = resid / self._r_sd
            k = x.shape[1]
            kernel = (ConstantKernel(1.0, (1e-4, 1e2)) * RBF(np.ones(k), (1e-2, 1e3))
                      + WhiteKernel(0.5, (1e-6, 10.0)))
            # Hyperparameters on a deterministic subset (every m-th row), then the fit on all rows,
            # or on a seeded subsample of GP_MAX_POINTS rows when there are more (memory is n^2).
            step = max(1, int(np.ceil(len(u) / GP_FIT_POINTS)))
            rows = subsample_rows(len(u))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                tuner = GaussianProcessRegressor(kernel, normalize_y=False, n_restarts_optimizer=0)
                tuner.fit(u[::step], z[::step])
                self._gp = GaussianProcessRegressor(tuner.kernel_, optimizer=None, normalize_y=False)
                self._gp.fit(u[rows], z[rows])
        self.fitted = self._predict_scaled(u)

    @staticmethod
    def _design(u: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(u)), u])

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return (x - self._mu) / self._sd

    def _predict_scaled(self, u: np.ndarray) -> np.ndarray:
        out = self._design(u) @ self._beta
        if self._gp is not None:  # in blocks: the cross-kernel is rows x fitted points
            gp = np.concatenate([self._gp.predict(u[i:i + PREDICT_BLOCK]) for i in range(0, len(u), PREDICT_BLOCK)])
            out = out + gp * self._r_sd
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._predict_scaled(self._scale(x))
