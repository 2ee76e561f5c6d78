"""Value of information against closed forms (sim.decision.voi).

Net benefit linear in Gaussian inputs has exact EVPI and EVPPI: with two options and an
incremental net benefit INB ~ N(m, s^2), E[max(INB, 0)] - max(m, 0) = s phi(m/s) + m Phi(m/s)
- max(m, 0); the EVPPI of a subset of the inputs is the same expression with s the standard
deviation of E[INB | subset]. Tolerances are a few Monte Carlo standard errors of the sample,
so a wrong estimator fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from sim import decision
from sim.decision import voi


def gaussian_voi(m: float, s: float) -> float:
    """E[max(Y, 0)] - max(E[Y], 0) for Y ~ N(m, s^2)."""
    if s == 0:
        return 0.0
    return float(s * norm.pdf(m / s) + m * norm.cdf(m / s) - max(m, 0.0))


def _se(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def two_options(inb: np.ndarray) -> np.ndarray:
    return np.column_stack([np.zeros(len(inb)), inb])


@pytest.fixture(scope="module")
def linear():
    """INB = a + b1 x1 + b2 x2 (+ x3 irrelevant), inputs standard normal."""
    rng = np.random.default_rng(2014)
    n = 4000
    x = rng.standard_normal((n, 3))
    a, b1, b2 = 0.3, 1.0, 0.7
    inb = a + b1 * x[:, 0] + b2 * x[:, 1]
    return {"x": x, "nb": two_options(inb), "a": a, "b1": b1, "b2": b2, "inb": inb}


def test_public_api_from_the_package():
    assert decision.evpi is voi.evpi and decision.evppi is voi.evppi


def test_evpi_matches_the_gaussian_closed_form(linear):
    exact = gaussian_voi(linear["a"], np.hypot(linear["b1"], linear["b2"]))
    got = decision.evpi(linear["nb"])
    assert got == pytest.approx(exact, abs=4 * _se(np.maximum(linear["inb"], 0)))


def test_evpi_is_the_expected_loss_of_the_best_option(linear):
    loss = decision.expected_loss(linear["nb"])
    best = int(np.argmax(linear["nb"].mean(axis=0)))
    assert decision.evpi(linear["nb"]) == pytest.approx(loss[best])
    assert np.argmin(loss) == best


@pytest.mark.parametrize("column, coef", [(0, "b1"), (1, "b2")])
def test_evppi_of_one_input_matches_closed_form(linear, column, coef):
    b = linear[coef]
    exact = gaussian_voi(linear["a"], b)
    g = linear["a"] + b * linear["x"][:, column]  # the true conditional mean
    got = decision.evppi(linear["nb"], linear["x"][:, column])
    assert got == pytest.approx(exact, abs=4 * _se(np.maximum(g, 0)) + 0.01 * exact)


def test_evppi_of_two_inputs_by_the_tensor_spline(linear):
    got = decision.evppi(linear["nb"], linear["x"][:, [0, 2]])  # x3 adds nothing
    exact = gaussian_voi(linear["a"], linear["b1"])
    g = linear["a"] + linear["b1"] * linear["x"][:, 0]
    assert got == pytest.approx(exact, abs=4 * _se(np.maximum(g, 0)) + 0.01 * exact)


def test_irrelevant_input_is_worth_about_nothing(linear):
    evpi = decision.evpi(linear["nb"])
    assert decision.evppi(linear["nb"], linear["x"][:, 2]) < 0.02 * evpi
    # the hardest case: options tie on average, so any spurious wiggle shows as value
    rng = np.random.default_rng(7)
    n = 2000
    inb = rng.standard_normal(n)
    nb = two_options(inb)
    assert decision.evppi(nb, rng.standard_normal(n)) < 0.05 * decision.evpi(nb)


@pytest.mark.parametrize("columns, method", [([0, 1], "gam"), ([0, 1, 2], "gp")])
def test_evppi_of_every_input_equals_evpi(linear, columns, method):
    sub = slice(0, 1500) if method == "gp" else slice(None)
    nb, x = linear["nb"][sub], linear["x"][sub][:, columns]
    assert decision.evppi(nb, x, method=method) == pytest.approx(decision.evpi(nb), rel=0.02)


def test_gaussian_process_recovers_a_partial_evppi(linear):
    n = 1500
    x = linear["x"][:n]
    inb = linear["inb"][:n] + 0.4 * x[:, 2]  # three relevant inputs; ask about two and a third
    got = decision.evppi(two_options(inb), np.column_stack([x[:, 0], x[:, 1], np.linspace(0, 1, n)]),
                         method="gp")
    exact = gaussian_voi(linear["a"], np.hypot(linear["b1"], linear["b2"]))
    g = linear["a"] + linear["b1"] * x[:, 0] + linear["b2"] * x[:, 1]
    assert got == pytest.approx(exact, abs=4 * _se(np.maximum(g, 0)) + 0.02 * exact)


def test_evppi_never_exceeds_evpi(linear):
    evpi = decision.evpi(linear["nb"])
    for cols in ([0], [1], [2], [0, 1], [1, 2]):
        assert decision.evppi(linear["nb"], linear["x"][:, cols]) <= evpi * 1.001


def test_nonlinear_net_benefit_with_noise():
    """INB = x1^2 - 1 + noise: EVPPI(x1) = E[max(x1^2 - 1, 0)] = 2 phi(1) (the noise is not learnable)."""
    rng = np.random.default_rng(11)
    n = 4000
    x1 = rng.standard_normal(n)
    inb = x1**2 - 1 + rng.normal(0, 1.0, n)
    exact = 2 * norm.pdf(1.0)
    got = decision.evppi(two_options(inb), x1)
    assert got == pytest.approx(exact, abs=4 * _se(np.maximum(x1**2 - 1, 0)))
    assert decision.evpi(two_options(inb)) > got  # the noise inflates the sample EVPI


def test_three_options_one_input_against_quadrature():
    """NB_d = a_d + b_d x with x ~ N(0, 1): E[max_d NB_d] by numerical integration."""
    a = np.array([0.0, 0.2, -0.1])
    b = np.array([0.0, 0.8, -1.1])
    expect_max = integrate.quad(lambda t: np.max(a + b * t) * norm.pdf(t), -12, 12, points=[-0.5, 0.25])[0]
    exact = expect_max - a.max()
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.standard_normal(n)
    z = rng.standard_normal(n)
    nb = a + np.outer(x, b) + np.outer(z, [0.0, 0.3, 0.3])  # z: noise common to options 1 and 2
    got = decision.evppi(nb, x)
    assert got == pytest.approx(exact, abs=4 * _se(np.max(a + np.outer(x, b), axis=1)))


def test_discrete_input_uses_group_means():
    rng = np.random.default_rng(3)
    n = 3000
    level = rng.integers(0, 3, n)
    effect = np.array([-1.0, 0.5, 2.0])
    inb = effect[level] + rng.normal(0, 2, n)
    fitted = voi.conditional_mean(two_options(inb), level)
    assert fitted.method == "groups"
    share = np.bincount(level) / n
    exact = float(share @ np.maximum(effect, 0) - max(share @ effect, 0))
    assert decision.evppi(two_options(inb), level) == pytest.approx(exact, abs=0.15)


def test_prediction_off_the_sample():
    rng = np.random.default_rng(9)
    x = rng.uniform(0, 10, 800)
    nb = two_options(3 * np.sin(x) + rng.normal(0, 0.3, 800))
    cm = voi.conditional_mean(nb, x)
    grid = np.linspace(0.5, 9.5, 19)
    np.testing.assert_allclose(cm.predict(grid)[:, 1], 3 * np.sin(grid), atol=0.25)


@pytest.mark.parametrize("nb, x, match", [
    (np.zeros(5), np.zeros(5), "2-D"),
    (np.zeros((5, 2)), np.zeros(4), "rows like nb"),
    (np.array([[0.0, np.nan], [1.0, 2.0]]), np.zeros(2), "NaN"),
    (np.zeros((5, 2)), np.full(5, np.inf), "NaN or infinite"),
])
def test_bad_arrays_are_clear_errors(nb, x, match):
    with pytest.raises(ValueError, match=match):
        decision.evppi(nb, x)


def test_unknown_method():
    with pytest.raises(ValueError, match="method"):
        decision.evppi(np.zeros((5, 2)), np.arange(5.0), method="spline")


def test_a_dominant_option_leaves_exactly_nothing_to_learn():
    rng = np.random.default_rng(4)
    base = 1e6 + 1e5 * rng.standard_normal(300)
    nb = np.column_stack([base, base + 5.0 + rng.uniform(0, 1, 300), base - 50.0])  # option 1 always best
    x = rng.standard_normal((300, 3))
    assert decision.evpi(nb) == 0.0
    assert decision.evppi(nb, x[:, 0]) == 0.0 and decision.evppi(nb, x) == 0.0
