"""Value of information and Sobol indices against closed forms: the figures in docs/validation.md.

    .venv/bin/python scripts/validate_voi.py

Seeded: prints the same table on every run of the same code. Each row is one estimator of
``sim.decision`` on a synthetic PSA sample whose exact answer is known: net benefit linear in
standard normal inputs (EVPI and EVPPI of two options are E[max(Y, 0)] - max(E[Y], 0) for a
normal Y, in closed form), a nonlinear case, three options (numerical quadrature), a discrete
input, and the Ishigami function for Sobol indices. "exact" is the population value; "oracle"
is the estimator's target on this very sample: the true conditional means g(x), shifted to the
sample's mean net benefit per option (the other inputs at their sample means), put into
mean(max g) - max(mean g). So estimate - oracle is the regression's own error and
oracle - exact the sampling error, whose size "MC SE" gives (standard error of mean(max g)).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd
from scipy import integrate
from scipy.stats import norm

from sim import decision
from sim.decision.psa import sobol_indices
from sim.params.uncertainty import Uniform

N = 4000


def normal_voi(m: float, s: float) -> float:
    """E[max(Y, 0)] - max(E[Y], 0) for Y ~ N(m, s^2)."""
    return float(s * norm.pdf(m / s) + m * norm.cdf(m / s) - max(m, 0.0)) if s > 0 else 0.0


def se(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def two(inb: np.ndarray) -> np.ndarray:
    return np.column_stack([np.zeros(len(inb)), inb])


def rows() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []

    def add(case: str, method: str, exact: float, estimate: float, g: np.ndarray, nb: np.ndarray) -> None:
        """``g``: the true conditional mean of each option's net benefit on the sample (n x options)."""
        g = g - g.mean(axis=0) + nb.mean(axis=0)
        oracle = max(float(g.max(axis=1).mean() - g.mean(axis=0).max()), 0.0)
        mc_se = se(g.max(axis=1))
        out.append({"case": case, "method": method, "exact": exact, "oracle": oracle, "estimate": estimate,
                    "MC SE": mc_se})

    rng = np.random.default_rng(2014)
    x = rng.standard_normal((N, 3))
    a, b1, b2 = 0.3, 1.0, 0.7
    inb = a + b1 * x[:, 0] + b2 * x[:, 1]
    nb = two(inb)
    add("EVPI, INB = 0.3 + x1 + 0.7 x2", "sample", normal_voi(a, math.hypot(b1, b2)), decision.evpi(nb), nb, nb)
    add("EVPPI(x1)", "GAM", normal_voi(a, b1), decision.evppi(nb, x[:, 0]), two(a + b1 * x[:, 0]), nb)
    add("EVPPI(x2)", "GAM", normal_voi(a, b2), decision.evppi(nb, x[:, 1]), two(a + b2 * x[:, 1]), nb)
    add("EVPPI(x3), x3 irrelevant", "GAM", 0.0, decision.evppi(nb, x[:, 2]), two(np.full(N, a)), nb)
    add("EVPPI(x1, x3)", "GAM (tensor)", normal_voi(a, b1), decision.evppi(nb, x[:, [0, 2]]),
        two(a + b1 * x[:, 0]), nb)
    add("EVPPI(x1, x2) = EVPI", "GAM (tensor)", normal_voi(a, math.hypot(b1, b2)), decision.evppi(nb, x[:, :2]), nb, nb)
    m = 1500
    add("EVPPI(x1, x2, x3) = EVPI", "GP", normal_voi(a, math.hypot(b1, b2)),
        decision.evppi(nb[:m], x[:m], method="gp"), nb[:m], nb[:m])
    inb3 = inb[:m] + 0.4 * x[:m, 2]
    add("EVPPI(x1, x2, noise), INB + 0.4 x3", "GP", normal_voi(a, math.hypot(b1, b2)),
        decision.evppi(two(inb3), np.column_stack([x[:m, 0], x[:m, 1], np.linspace(0, 1, m)]), method="gp"),
        nb[:m], two(inb3))

    rng = np.random.default_rng(11)
    z = rng.standard_normal(N)
    nl = z**2 - 1 + rng.normal(0, 1.0, N)
    add("EVPPI(x), INB = x^2 - 1 + noise", "GAM", 2 * norm.pdf(1.0), decision.evppi(two(nl), z), two(z**2 - 1), two(nl))

    av, bv = np.array([0.0, 0.2, -0.1]), np.array([0.0, 0.8, -1.1])
    exact = integrate.quad(lambda t: np.max(av + bv * t) * norm.pdf(t), -12, 12, points=[-0.5, 0.25])[0] - av.max()
    rng = np.random.default_rng(5)
    t = rng.standard_normal(N)
    nb3 = av + np.outer(t, bv) + np.outer(rng.standard_normal(N), [0.0, 0.3, 0.3])
    add("EVPPI(x), three options", "GAM", exact, decision.evppi(nb3, t), av + np.outer(t, bv), nb3)

    rng = np.random.default_rng(3)
    level = rng.integers(0, 3, N)
    effect = np.array([-1.0, 0.5, 2.0])
    exact = float(np.mean([np.maximum(effect, 0)]) - max(np.mean(effect), 0))  # levels equally likely
    noisy = two(effect[level] + rng.normal(0, 2, N))
    add("EVPPI(discrete level)", "group means", exact, decision.evppi(noisy, level), two(effect[level]), noisy)
    return out


def sobol_rows() -> pd.DataFrame:
    params = {f"x{i}": Uniform(-math.pi, math.pi) for i in (1, 2, 3)}

    def ishigami(v: pd.DataFrame) -> np.ndarray:
        x = v.to_numpy(dtype=float)
        return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])

    t = sobol_indices(params, ishigami, n_base=2048, seed=3).set_index("parameter").loc[["x1", "x2", "x3"]]
    t.insert(0, "S1 exact", [0.3139, 0.4424, 0.0])
    t.insert(3, "ST exact", [0.5576, 0.4424, 0.2437])
    return t


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    table = pd.DataFrame(rows())
    print(f"Value of information, {N:,} samples (1,500 for the GP rows)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nSobol indices of the Ishigami function (a = 7, b = 0.1), Saltelli design, 2,048 x 5 points")
    print(sobol_rows().to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
