"""Distributions of uncertain parameters: the ``[uncertainty]`` table of a scenario file.

Where it sits: scenario file -> ``sim.params.scenario`` (which checks each path against the
schema and calls :meth:`Distribution.within` with the field's allowed range) -> **these
objects** -> ``sim.decision.psa`` (which maps uniform design points through :meth:`ppf`).

Each distribution validates on construction (a ``ValueError`` naming the bad shape
parameter), prints readably (``triangular(low=5, mode=6.5, high=25)``) and knows its
analytic mean and support. Sampling is by the inverse CDF, so a Latin hypercube or Sobol
design on the unit cube carries over to every distribution unchanged.

A table entry is ``"path" = { dist = "NAME", ... }``:

============  ==========================================  ==============================
dist          parameters                                  support
============  ==========================================  ==============================
uniform       low, high                                   [low, high]
triangular    low, mode, high                             [low, high]
normal        mean, sd (optional low, high)               truncated to the field's range
lognormal     mean, sd  or  mu, sigma (of log x)          truncated to the field's range
beta          mean, sd  or  a, b; optional low, high      [low, high] (default [0, 1])
choice        values = [...], optional weights = [...]    the values
============  ==========================================  ==============================

Shape parameters are checked too, so that every draw is a finite number: lognormal mu in
[-700, 700], sigma in (0, 50] and sd / mean in (0, 1000]; beta shapes in [0.001, 1e7]; every
distribution's quantiles finite and inside its support from 1e-12 to 1 - 1e-12.

This module must not read files or know the schema; it is told the field's range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np
from scipy import stats

__all__ = [
    "DISTRIBUTIONS", "Beta", "Choice", "Distribution", "LogNormal", "Normal", "Rounded", "Triangular", "Uniform",
    "from_spec",
]

MIN_MASS = 0.01  # a normal/lognormal with less than 1% of its mass inside the field's range is a typo
# Shape parameters whose draws stay representable in floating point (beyond them exp() overflows,
# a beta's quantiles collapse onto its ends, or a moment conversion divides by an underflowed 0).
MAX_ABS_MU = 700.0  # lognormal mu (log scale): exp(709.8) is the largest double
MAX_SIGMA = 50.0  # lognormal sigma (log scale)
MAX_CV = 1000.0  # lognormal sd / mean
SHAPE_RANGE = (1e-3, 1e7)  # beta shapes a, b
PROBES = np.array([1e-12, 1e-6, 0.001, 0.5, 0.999, 1 - 1e-6, 1 - 1e-12])  # where draws are checked


def _num(x: float) -> str:
    return f"{x:.6g}"


def _finite(name: str, value: Any) -> float:
    try:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:  # an integer beyond the floating-point range
        ok = False
    if not ok:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ValueError(f"{name} must be a finite number (got {shown})")
    return float(value)


def _within(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> float:
    """``value`` if it lies in [low, high] (``low_open``: (low, high]), else a ValueError naming the range."""
    if (value <= low if low_open else value < low) or value > high:
        raise ValueError(f"{name} must lie in {'(' if low_open else '['}{_num(low)}, {_num(high)}] "
                         f"(got {_num(value)})")
    return value


def _check_draws(dist: Distribution) -> None:
    """Every draw of ``dist`` is a finite number inside its support (checked at probabilities from
    1e-12 to 1 - 1e-12): a distribution whose quantiles overflow or are undefined is refused when
    the scenario loads, not met by a run."""
    with np.errstate(all="ignore"):
        x = np.asarray(dist.ppf(PROBES), dtype=float)
    lo, hi = dist.support
    if not (np.isfinite(x).all() and (x >= lo).all() and (x <= hi).all()):
        raise ValueError(f"{dist} cannot be sampled in floating point (its quantiles overflow or are undefined); "
                         "check its parameters")


class Distribution:
    """A one-dimensional distribution for an uncertain parameter."""

    dist: ClassVar[str] = ""
    discrete: ClassVar[bool] = False

    @property
    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    @property
    def mean(self) -> float:
        raise NotImplementedError

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The quantiles at probabilities ``u`` in [0, 1] (inverse CDF)."""
        raise NotImplementedError

    def within(self, low: float | None, high: float | None, *, low_open: bool = False, integer: bool = False) -> Distribution:
        """This distribution checked against a field's allowed range [low, high] (None: unbounded).

        Bounded distributions must lie inside it (``ValueError`` otherwise); unbounded ones are
        truncated to it. ``integer``: the field takes whole numbers (continuous draws are rounded).
        """
        lo, hi = self.support
        lo_ok = low is None or (lo > low if low_open else lo >= low)
        hi_ok = high is None or hi <= high
        if not (lo_ok and hi_ok):
            left = "(" if low_open else "["
            rng = f"{left}{_num(low) if low is not None else '-inf'}, {_num(high) if high is not None else 'inf'}]"
            raise ValueError(f"support [{_num(lo)}, {_num(hi)}] of {self} lies outside the allowed range {rng}")
        return Rounded(self) if integer and not self.discrete else self

    def to_spec(self) -> dict[str, Any]:
        """The table entry that rebuilds this distribution (``from_spec(d.to_spec()) == d``)."""
        out: dict[str, Any] = {"dist": self.dist}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def __str__(self) -> str:
        spec = self.to_spec()
        spec.pop("dist")
        args = ", ".join(f"{k}={_num(v) if isinstance(v, float) else v}" for k, v in spec.items())
        return f"{self.dist}({args})"


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float
    dist: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        lo, hi = _finite("low", self.low), _finite("high", self.high)
        if not lo < hi:
            raise ValueError(f"low must be below high (got low={_num(lo)}, high={_num(hi)})")
        _finite("high - low", hi - lo)

    @property
    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + np.asarray(u, dtype=float) * (self.high - self.low)


@dataclass(frozen=True)
class Triangular(Distribution):
    low: float
    mode: float
    high: float
    dist: ClassVar[str] = "triangular"

    def __post_init__(self) -> None:
        lo, mo, hi = _finite("low", self.low), _finite("mode", self.mode), _finite("high", self.high)
        if not (lo <= mo <= hi and lo < hi):
            raise ValueError(f"need low <= mode <= high and low < high (got {_num(lo)}, {_num(mo)}, {_num(hi)})")
        _finite("high - low", hi - lo)

    @property
    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def ppf(self, u: np.ndarray) -> np.ndarray:
        width = self.high - self.low
        return stats.triang.ppf(u, (self.mode - self.low) / width, loc=self.low, scale=width)


class _Truncatable(Distribution):
    """A distribution on an unbounded support, truncated to [low, high] (at least the field's range).

    Subclasses are frozen dataclasses with the fields ``low`` and ``high`` (None: not truncated).
    """

    low: float | None
    high: float | None

    def _frozen(self) -> Any:
        raise NotImplementedError

    def _bounds(self) -> tuple[float, float]:
        base = self._frozen().support()
        lo = base[0] if self.low is None else max(base[0], self.low)
        hi = base[1] if self.high is None else min(base[1], self.high)
        return float(lo), float(hi)

    def _check_bounds(self) -> None:
        for name in ("low", "high"):
            if getattr(self, name) is not None:
                _finite(name, getattr(self, name))
        lo, hi = self._bounds()
        if not lo < hi:
            raise ValueError(f"low must be below high (got low={_num(lo)}, high={_num(hi)})")
        f = self._frozen()
        mass = float(f.cdf(hi) - f.cdf(lo))
        if mass < MIN_MASS:
            raise ValueError(f"only {mass:.2%} of {self} lies in [{_num(lo)}, {_num(hi)}]; check its parameters")

    @property
    def support(self) -> tuple[float, float]:
        return self._bounds()

    @property
    def mean(self) -> float:
        lo, hi = self._bounds()
        return float(self._frozen().expect(lambda t: t, lb=lo, ub=hi, conditional=True))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        lo, hi = self._bounds()
        f = self._frozen()
        a, b = f.cdf(lo), f.cdf(hi)
        return np.clip(f.ppf(a + np.asarray(u, dtype=float) * (b - a)), lo, hi)

    def within(self, low: float | None, high: float | None, *, low_open: bool = False, integer: bool = False) -> Distribution:
        new_lo = low if self.low is None or (low is not None and low > self.low) else self.low
        new_hi = high if self.high is None or (high is not None and high < self.high) else self.high
        if low_open and new_lo is not None and new_lo == low:
            new_lo = math.nextafter(low, math.inf)
        out = replace(self, low=new_lo, high=new_hi)  # type: ignore[type-var]
        return Rounded(out) if integer else out


@dataclass(frozen=True)
class Normal(_Truncatable):
    """N(loc, sd^2), given as mean and sd, truncated to [low, high]."""

    loc: float
    sd: float
    low: float | None = None
    high: float | None = None
    dist: ClassVar[str] = "normal"

    def __post_init__(self) -> None:
        _finite("mean", self.loc)
        if _finite("sd", self.sd) <= 0:
            raise ValueError(f"sd must be positive (got {self.sd!r})")
        self._check_bounds()
        _check_draws(self)

    def _frozen(self) -> Any:
        return stats.norm(self.loc, self.sd)

    def to_spec(self) -> dict[str, Any]:
        out = super().to_spec()
        out["mean"] = out.pop("loc")
        return {k: out[k] for k in ("dist", "mean", "sd", "low", "high") if k in out}


@dataclass(frozen=True)
class LogNormal(_Truncatable):
    """ln x ~ N(mu, sigma^2), truncated to [low, high]; given by (mu, sigma) or by the mean and sd of x."""

    mu: float
    sigma: float
    low: float | None = None
    high: float | None = None
    dist: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        _within("mu", _finite("mu", self.mu), -MAX_ABS_MU, MAX_ABS_MU)
        _within("sigma", _finite("sigma", self.sigma), 0.0, MAX_SIGMA, low_open=True)
        self._check_bounds()
        _check_draws(self)

    @classmethod
    def from_moments(cls, mean: float, sd: float, **bounds: Any) -> LogNormal:
        m, s = _finite("mean", mean), _finite("sd", sd)
        if m <= 0 or s <= 0:
            raise ValueError(f"mean and sd must be positive (got mean={_num(m)}, sd={_num(s)})")
        _within("mean", m, math.exp(-MAX_ABS_MU), math.exp(MAX_ABS_MU))
        cv = s / m
        if not cv <= MAX_CV:  # also inf, when the division overflows
            raise ValueError(f"sd / mean must lie in (0, {_num(MAX_CV)}] (got sd={_num(s)}, mean={_num(m)})")
        sigma2 = math.log1p(cv**2)
        return cls(mu=math.log(m) - sigma2 / 2, sigma=math.sqrt(sigma2), **bounds)

    def _frozen(self) -> Any:
        return stats.lognorm(self.sigma, scale=math.exp(self.mu))


@dataclass(frozen=True)
class Beta(Distribution):
    """Beta(a, b) rescaled to [low, high]; given by shapes or by its mean and sd (on that scale)."""

    a: float
    b: float
    low: float = 0.0
    high: float = 1.0
    dist: ClassVar[str] = "beta"

    def __post_init__(self) -> None:
        for name in ("a", "b"):
            if _finite(name, getattr(self, name)) <= 0:
                raise ValueError(f"shape {name} must be positive (got {getattr(self, name)!r})")
            _within(f"shape {name}", float(getattr(self, name)), *SHAPE_RANGE)
        if not _finite("low", self.low) < _finite("high", self.high):
            raise ValueError(f"low must be below high (got low={_num(self.low)}, high={_num(self.high)})")
        _check_draws(self)

    @classmethod
    def from_moments(cls, mean: float, sd: float, low: float = 0.0, high: float = 1.0) -> Beta:
        m, s = _finite("mean", mean), _finite("sd", sd)
        lo, hi = _finite("low", low), _finite("high", high)
        if not lo < m < hi:
            raise ValueError(f"mean must lie strictly between low and high (got mean={_num(m)} in [{_num(lo)}, {_num(hi)}])")
        width = hi - lo
        if not math.isfinite(width):
            raise ValueError(f"high - low must be a finite number (got low={_num(lo)}, high={_num(hi)})")
        p, v = (m - lo) / width, (s / width) ** 2
        k_max = SHAPE_RANGE[1] / max(p, 1 - p)  # the largest shapes a beta may have
        least = width * math.sqrt(p * (1 - p) / (k_max + 1))
        limit = math.sqrt(p * (1 - p)) * width
        if not least <= s < limit:
            raise ValueError(f"sd must lie in [{_num(least)}, {_num(limit)}) for a beta with mean {_num(m)} on "
                             f"[{_num(lo)}, {_num(hi)}] (got {_num(s)})")
        k = p * (1 - p) / v - 1
        return cls(a=p * k, b=(1 - p) * k, low=lo, high=hi)

    @property
    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    @property
    def mean(self) -> float:
        return self.low + (self.high - self.low) * self.a / (self.a + self.b)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return stats.beta.ppf(u, self.a, self.b, loc=self.low, scale=self.high - self.low)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``values`` with probabilities ``weights`` (default: equal)."""

    values: tuple[Any, ...]
    weights: tuple[float, ...] | None = None
    dist: ClassVar[str] = "choice"
    discrete: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple) or not self.values:
            raise ValueError("values must be a non-empty list")
        if len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(f"values must differ from one another (got {list(self.values)})")
        for v in self.values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"values must be finite (got {v!r})")
            if not isinstance(v, (bool, int, float, str)):
                raise ValueError(f"values must be numbers, true/false or text (got {v!r})")
        if self.weights is not None:
            w = [_finite("weights", x) for x in self.weights]
            if len(w) != len(self.values):
                raise ValueError(f"weights needs one number per value ({len(self.values)}; got {len(w)})")
            if any(x < 0 for x in w) or abs(sum(w) - 1) > 1e-6:
                raise ValueError(f"weights must be non-negative and sum to 1 (got {w})")

    @property
    def probabilities(self) -> np.ndarray:
        if self.weights is None:
            return np.full(len(self.values), 1 / len(self.values))
        return np.asarray(self.weights, dtype=float)

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)

    @property
    def support(self) -> tuple[float, float]:
        if not self.numeric:
            return (0.0, float(len(self.values) - 1))
        return float(min(self.values)), float(max(self.values))

    @property
    def mean(self) -> float:
        if not self.numeric:
            return float("nan")
        return float(self.probabilities @ np.asarray(self.values, dtype=float))

    def index(self, u: np.ndarray) -> np.ndarray:
        """The position of the value drawn at probabilities ``u``."""
        cum = np.cumsum(self.probabilities)
        return np.minimum(np.searchsorted(cum, np.asarray(u, dtype=float), side="right"), len(self.values) - 1)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self.values, dtype=object)[self.index(u)]

    def within(self, low: float | None, high: float | None, *, low_open: bool = False, integer: bool = False) -> Distribution:
        if not self.numeric:
            raise ValueError(f"values must be numbers for a numeric parameter (got {list(self.values)})")
        if integer and any(float(v) != int(v) for v in self.values):
            raise ValueError(f"values must be whole numbers for this parameter (got {list(self.values)})")
        return super().within(low, high, low_open=low_open)

    def among(self, allowed: Sequence[Any]) -> Choice:
        """Check the values against a choice field's allowed values."""
        bad = [v for v in self.values if v not in allowed or isinstance(v, bool) != isinstance(allowed[0], bool)]
        if bad:
            raise ValueError(f"values {bad} are not allowed; allowed values: {', '.join(map(repr, allowed))}")
        return self


@dataclass(frozen=True)
class Rounded(Distribution):
    """A continuous distribution for a whole-number parameter: draws rounded to the nearest integer."""

    inner: Distribution

    def __post_init__(self) -> None:
        if self.inner.discrete:
            raise ValueError("a choice is already whole numbers")

    @property
    def dist(self) -> str:  # type: ignore[override]
        return self.inner.dist

    @property
    def support(self) -> tuple[float, float]:
        return self.inner.support

    @property
    def mean(self) -> float:
        """The mean of the unrounded draws (rounding moves it by less than 0.5)."""
        return self.inner.mean

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.rint(self.inner.ppf(u))

    def to_spec(self) -> dict[str, Any]:
        return self.inner.to_spec()

    def __str__(self) -> str:
        return f"{self.inner}, rounded"


# ---------------------------------------------------------------------------- table entries

DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    # dist -> accepted sets of keys (besides "dist"); optional keys are listed in OPTIONAL
    "uniform": (("low", "high"),),
    "triangular": (("low", "mode", "high"),),
    "normal": (("mean", "sd"),),
    "lognormal": (("mean", "sd"), ("mu", "sigma")),
    "beta": (("mean", "sd"), ("a", "b")),
    "choice": (("values",),),
}
OPTIONAL = {"normal": ("low", "high"), "lognormal": ("low", "high"), "beta": ("low", "high"), "choice": ("weights",)}


def from_spec(spec: Mapping[str, Any]) -> Distribution:
    """A distribution from its table entry, e.g. ``{"dist": "uniform", "low": 0, "high": 0.03}``."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"expected a table like {{ dist = \"uniform\", low = 0, high = 1 }} (got {spec!r})")
    name = spec.get("dist")
    if name not in DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {', '.join(map(repr, DISTRIBUTIONS))} (got {name!r})")
    keys = set(spec) - {"dist"}
    optional = set(OPTIONAL.get(name, ()))
    forms = DISTRIBUTIONS[name]
    form = next((f for f in forms if set(f) <= keys and not keys - set(f) - optional), None)
    if form is None:
        wanted = " or ".join(", ".join(f) for f in forms)
        extra = f"; optional: {', '.join(sorted(optional))}" if optional else ""
        raise ValueError(f"{name} takes {wanted}{extra} (got {', '.join(sorted(keys)) or 'nothing'})")
    kw = {k: spec[k] for k in keys}
    if name == "uniform":
        return Uniform(**kw)
    if name == "triangular":
        return Triangular(**kw)
    if name == "normal":
        return Normal(loc=kw.pop("mean"), **kw)
    if name == "lognormal":
        return LogNormal.from_moments(**kw) if "mean" in kw else LogNormal(**kw)
    if name == "beta":
        return Beta.from_moments(**kw) if "mean" in kw else Beta(**kw)
    values = kw["values"]
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"values must be a list (got {values!r})")
    weights = kw.get("weights")
    if weights is not None and not isinstance(weights, (list, tuple)):
        raise ValueError(f"weights must be a list (got {weights!r})")
    return Choice(tuple(values), None if weights is None else tuple(weights))
