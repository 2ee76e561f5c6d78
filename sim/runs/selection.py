"""Ranking and selection: the best of a few simulated designs, with a stated guarantee.

Where it sits: **runs**, beside the experiments; pure numpy on observations, no model. The
optimiser (:mod:`sim.runs.optimise`) hands it the designs a search found best and a function
that simulates more replications of them; a test hands it a sweep's table.

- :func:`kim_nelson`: the fully sequential procedure of Kim & Nelson (2001). Among ``k``
  systems whose replications are paired (common random numbers), it selects one whose mean is
  within ``delta`` of the best mean with probability at least ``1 - alpha`` whenever the best
  leads the rest by ``delta`` or more (and, in any case, one within ``delta`` of the best, the
  "indifference zone"). Each system gets ``n0`` replications first; the variances of the
  pairwise differences set how fast the others are screened out, one replication at a time.
- :func:`screen_to_the_best`: the subset of systems that cannot be told from the best at
  ``1 - alpha`` (Nelson, Swann, Goldsman & Song 2001, with paired differences): the best is in
  it with probability at least ``1 - alpha``. Used to validate a choice against a sweep.

Observations are "higher is better"; negate a KPI whose lower values are better. The
procedures assume normally distributed replication means (each replication here is a whole
run's KPI, a sum over thousands of customers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["Selection", "kim_nelson", "kn_constants", "screen_to_the_best"]


def kn_constants(k: int, n0: int, alpha: float) -> tuple[float, float]:
    """(eta, h^2) of Kim & Nelson's procedure for ``k`` systems, ``n0`` first-stage replications
    and error ``alpha``: eta = ((2 alpha / (k - 1))^(-2 / (n0 - 1)) - 1) / 2, h^2 = 2 eta (n0 - 1)."""
    if k < 2:
        return 0.0, 0.0
    eta = 0.5 * ((2 * alpha / (k - 1)) ** (-2.0 / (n0 - 1)) - 1.0)
    return eta, 2.0 * eta * (n0 - 1)


@dataclass
class Selection:
    """What :func:`kim_nelson` did: the system chosen, and how many replications each took.

    ``replications[i]``: replications of system i the procedure used (at its elimination);
    ``eliminated_at[i]``: the replication count at which i was screened out (None: chosen);
    ``truncated``: the cap ``max_n`` stopped it before one system was left (the choice is then
    the highest mean among those left and the guarantee does not hold); ``bound``: the most
    replications any system could need (floor(h^2 max S^2 / delta^2) + 1).
    """

    chosen: int
    replications: list[int]
    eliminated_at: list[int | None]
    delta: float
    alpha: float
    n0: int
    eta: float
    h2: float
    bound: int
    truncated: bool = False
    variances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def kim_nelson(sample: Callable[[Sequence[int], int], np.ndarray], k: int, *, n0: int = 10, delta: float,
               alpha: float = 0.05, step: int = 5, max_n: int = 1000) -> Selection:
    """Kim & Nelson's fully sequential selection of the best of ``k`` paired systems.

    ``sample(systems, n)`` returns an array (len(systems), n): the first ``n`` replications of
    each listed system (the same replication numbers for every system, so they are paired);
    the caller simulates only those it has not run yet. After ``n0`` replications each, the
    systems still in contention get ``step`` more at a time (a batch, so runs can go to many
    workers; the screening is still applied after every single replication, so the result is
    that of the one-at-a-time procedure), until one is left or ``max_n`` is reached.
    """
    if k < 1:
        raise ValueError("kim_nelson needs at least one system")
    if n0 < 2:
        raise ValueError("kim_nelson needs n0 >= 2 first-stage replications")
    if not (delta > 0 and math.isfinite(delta)):
        raise ValueError(f"the indifference zone delta must be positive (got {delta!r})")
    x = np.asarray(sample(list(range(k)), n0), dtype=float)
    eta, h2 = kn_constants(k, n0, alpha)
    if k == 1:
        return Selection(0, [n0], [None], delta, alpha, n0, eta, h2, n0, variances=np.zeros((1, 1)))
    diffs = x[:, None, :] - x[None, :, :]
    s2 = diffs.var(axis=2, ddof=1)
    bound = int(math.floor(h2 * float(s2.max()) / delta**2)) + 1
    alive = list(range(k))
    eliminated: list[int | None] = [None] * k
    used = [n0] * k
    data = {i: x[i] for i in range(k)}
    r = n0
    while True:
        alive = _screen(alive, data, r, s2, h2, delta, eliminated, used)
        if len(alive) == 1:
            return Selection(alive[0], used, eliminated, delta, alpha, n0, eta, h2, bound, variances=s2)
        if r >= max_n:
            means = {i: data[i][:r].mean() for i in alive}
            best = max(alive, key=lambda i: (means[i], -i))
            for i in alive:
                if i != best:
                    eliminated[i] = r
            return Selection(best, used, eliminated, delta, alpha, n0, eta, h2, bound, truncated=True, variances=s2)
        upto = min(r + step, max_n)
        more = np.asarray(sample(alive, upto), dtype=float)
        for row, i in enumerate(alive):
            data[i] = more[row]
        for n in range(r + 1, upto):  # screen after every replication but the last of the batch
            alive = _screen(alive, data, n, s2, h2, delta, eliminated, used)
            if len(alive) == 1:
                return Selection(alive[0], used, eliminated, delta, alpha, n0, eta, h2, bound, variances=s2)
        r = upto


def _screen(alive: list[int], data: dict[int, np.ndarray], r: int, s2: np.ndarray, h2: float, delta: float,
            eliminated: list[int | None], used: list[int]) -> list[int]:
    """Kim & Nelson's screening after ``r`` replications: i stays if its mean is at least every
    other's mean less W_il(r) = max(0, delta / (2r) (h^2 S_il^2 / delta^2 - r))."""
    means = {i: float(data[i][:r].mean()) for i in alive}
    for i in alive:
        used[i] = r
    if all(h2 * s2[i, j] / delta**2 <= r for i in alive for j in alive):
        # every W is 0: the highest mean wins outright (exact ties, which only identical runs
        # give, go to the first: they are all equally good)
        best = max(alive, key=lambda i: (means[i], -i))
        for i in alive:
            if i != best:
                eliminated[i] = r
        return [best]
    keep = []
    for i in alive:
        if all(means[i] >= means[j] - max(0.0, delta / (2 * r) * (h2 * s2[i, j] / delta**2 - r))
               for j in alive if j != i):
            keep.append(i)
        else:
            eliminated[i] = r
    return keep


def screen_to_the_best(x: np.ndarray, alpha: float = 0.05) -> list[int]:
    """Rows of ``x`` (systems x paired replications, higher is better) that cannot be told from
    the best at ``1 - alpha``: i is kept if mean_i >= mean_l - t S_il / sqrt(n) for every l, with
    S_il the standard deviation of the paired differences and t the (1 - alpha)^(1 / (k - 1))
    quantile of Student's t with n - 1 degrees of freedom. The best system is in the subset
    with probability at least 1 - alpha."""
    x = np.asarray(x, dtype=float)
    k, n = x.shape
    if k == 1:
        return [0]
    t = float(stats.t.ppf((1 - alpha) ** (1.0 / (k - 1)), n - 1))
    means = x.mean(axis=1)
    sd = (x[:, None, :] - x[None, :, :]).std(axis=2, ddof=1)
    w = t * sd / math.sqrt(n)
    return [i for i in range(k) if all(means[i] >= means[j] - w[i, j] for j in range(k) if j != i)]
