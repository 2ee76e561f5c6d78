"""The [uncertainty] table: distribution objects, validation against the schema, no effect on `run`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from sim.params import uncertainty as U
from sim.params.scenario import (
    ScenarioError,
    load,
    load_text,
    scenario_hash,
    to_toml,
    uncertain_parameters,
)
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

SHIPPED = ["baseline", "netflix", "vip", "metered_wins"]

BASE = """
[run]
months = 3
[customers]
initial = 100
[policies.flat]
pricing.scheme = "flat"
[policies.per_ticket]
pricing.scheme = "per_ticket"
pricing.per_ticket_fee_usd = 15.0
"""


def with_table(*lines: str) -> str:
    return BASE + "\n[uncertainty]\n" + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- distributions

SPECS = [
    {"dist": "uniform", "low": 0.0, "high": 0.03},
    {"dist": "triangular", "low": 5.0, "mode": 6.5, "high": 25.0},
    {"dist": "normal", "mean": 0.3, "sd": 0.2, "low": 0.0, "high": 1.0},
    {"dist": "lognormal", "mean": 0.05, "sd": 0.02},
    {"dist": "lognormal", "mu": -1.0, "sigma": 0.5, "high": 2.0},
    {"dist": "beta", "mean": 0.8, "sd": 0.07},
    {"dist": "beta", "a": 2.0, "b": 5.0, "low": 1.0, "high": 3.0},
    {"dist": "choice", "values": [2, 3, 4], "weights": [0.2, 0.5, 0.3]},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s["dist"])
def test_distribution_round_trips_and_prints(spec):
    d = U.from_spec(spec)
    assert U.from_spec(d.to_spec()) == d
    text = str(d)
    assert text.startswith(spec["dist"] + "(") and text.endswith(")") and "=" in text


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s["dist"])
def test_analytic_mean_matches_the_quantile_function(spec):
    d = U.from_spec(spec)
    if d.discrete:
        u = (np.arange(100_000) + 0.5) / 100_000
        draws = d.ppf(u).astype(float)
        assert draws.mean() == pytest.approx(d.mean, rel=1e-3)
        return
    mean = integrate.quad(lambda u: float(d.ppf(np.array([u]))[0]), 0, 1, limit=200)[0]
    assert mean == pytest.approx(d.mean, rel=1e-4)
    lo, hi = d.support
    q = d.ppf(np.array([0.0, 0.5, 1.0]))
    assert lo <= q[0] <= q[1] <= q[2] <= hi


def test_lognormal_by_moments_has_those_moments():
    d = U.from_spec({"dist": "lognormal", "mean": 0.05, "sd": 0.02})
    assert d.mean == pytest.approx(0.05, rel=1e-6)
    sd = math.sqrt((math.exp(d.sigma**2) - 1) * math.exp(2 * d.mu + d.sigma**2))
    assert sd == pytest.approx(0.02, rel=1e-9)


def test_beta_by_moments_has_those_moments():
    d = U.from_spec({"dist": "beta", "mean": 2.0, "sd": 0.3, "low": 1.0, "high": 4.0})
    var = d.a * d.b / ((d.a + d.b) ** 2 * (d.a + d.b + 1)) * 9
    assert d.mean == pytest.approx(2.0) and math.sqrt(var) == pytest.approx(0.3)


def test_truncated_normal_stays_in_the_field_range():
    d = U.from_spec({"dist": "normal", "mean": 0.01, "sd": 0.02}).within(0.0, 1.0)
    u = np.linspace(0, 1, 101)
    x = d.ppf(u)
    assert x.min() >= 0 and x.max() <= 1 and d.mean > 0.01  # truncation at 0 raises the mean


@pytest.mark.parametrize("spec, match", [
    ({"dist": "uniform", "low": 1, "high": 1}, "low must be below high"),
    ({"dist": "uniform", "low": 0, "high": float("nan")}, "finite"),
    ({"dist": "triangular", "low": 0, "mode": 2, "high": 1}, "low <= mode <= high"),
    ({"dist": "normal", "mean": 0, "sd": 0}, "sd must be positive"),
    ({"dist": "lognormal", "mean": -1, "sd": 1}, "positive"),
    ({"dist": "beta", "mean": 0.5, "sd": 0.6}, "sd must lie in"),
    ({"dist": "beta", "a": 0, "b": 1}, "shape a must be positive"),
    ({"dist": "choice", "values": []}, "non-empty"),
    ({"dist": "choice", "values": [1, 1]}, "differ"),
    ({"dist": "choice", "values": [1, 2], "weights": [0.5, 0.6]}, "sum to 1"),
    ({"dist": "gamma", "low": 0}, "dist must be one of"),
    ({"dist": "uniform", "low": 0, "hi": 1}, "uniform takes low, high"),
    ({"dist": "beta", "mean": 0.5}, "beta takes mean, sd or a, b"),
    ("uniform", "expected a table"),
])
def test_bad_shapes_are_refused_on_construction(spec, match):
    with pytest.raises(ValueError, match=match):
        U.from_spec(spec)


# ---------------------------------------------------------------------------- the scenario table


def test_a_valid_table_resolves_to_distributions():
    sc = load_text(with_table(
        '"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, high = 25.0 }',
        '"satisfaction.resentment_per_usd" = { dist = "normal", mean = 0.01, sd = 0.01 }',
        '"customers.segments.0.fee_sensitivity_per_usd" = { dist = "lognormal", mean = 0.05, sd = 0.02 }',
        '"policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 5, high = 25 }',
        '"policies.per_ticket.pricing.scheme" = { dist = "choice", values = ["per_ticket", "per_hour"] }',
        '"vip.enabled" = { dist = "choice", values = [true, false] }',
        '"support.agents" = { dist = "choice", values = [2, 3, 4] }',
    ))
    dists = uncertain_parameters(sc)
    assert list(dists) == list(sc.uncertainty)
    # unbounded distributions are truncated to the field's range
    assert dists["satisfaction.resentment_per_usd"].support == (0.0, 1.0)
    assert dists["customers.segments.0.fee_sensitivity_per_usd"].support[1] == 1.0


@pytest.mark.parametrize("line, match", [
    ('"acquisition.cac_multiple" = { dist = "uniform", low = 5, high = 30 }',
     r'uncertainty\."acquisition\.cac_multiple": support \[5, 30\].*allowed range \[1, 25\]'),
    ('"acquisition.cac_multipl" = { dist = "uniform", low = 5, high = 6 }', "did you mean 'cac_multiple'"),
    ('"customers.segments.5.share" = { dist = "uniform", low = 0, high = 1 }', "out of range"),
    ('"policies.tiered.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 5, high = 6 }',
     r"policies\.tiered.*policy of the file"),
    ('"policies.per_ticket.pricing.scheme" = { dist = "choice", values = ["per_tick"] }', "not allowed"),
    ('"help_seeking.base_ask_prob" = { dist = "beta", mean = 0.8, sd = 0.5 }', "sd must lie in"),
    ('"support.agents" = { dist = "choice", values = [2, 3.5] }', "whole numbers"),
    ('"pricing.scheme" = { dist = "uniform", low = 0, high = 1 }', 'takes dist = "choice"'),
    ('"scenario.name" = { dist = "choice", values = ["a"] }', "not model parameters"),
    ('"run.months" = { dist = "choice", values = [2, 3] }', "not model parameters"),
    ('"churn.level_hazard_multiplier.0" = { dist = "uniform", low = 3, high = 5 }', "list parameter"),
    ('"support" = { dist = "uniform", low = 3, high = 5 }', "not one parameter"),
    ('"pricing.scheme.x" = { dist = "uniform", low = 3, high = 5 }', "is a value, not a table"),
    ('"satisfaction.resentment_per_usd" = { dist = "normal", mean = 50, sd = 1 }', "check its parameters"),
    ('"support.sla_target_h" = { dist = "uniform", low = 0, high = 5 }', r"allowed range \(0, 720\]"),
    ('"support.agents" = 3', "valid dictionary"),
])
def test_bad_entries_are_scenario_errors_naming_the_path(line, match):
    with pytest.raises(ScenarioError, match=match) as info:
        load_text(with_table(line))
    assert "uncertainty" in str(info.value)


def test_cli_validate_exits_2(tmp_path, capsys):
    from sim.cli import main

    f = tmp_path / "bad.toml"
    f.write_text(with_table('"acquisition.cac_multiple" = { dist = "uniform", low = 5, high = 30 }'))
    assert main(["validate", str(f)]) == 2
    assert 'uncertainty."acquisition.cac_multiple"' in capsys.readouterr().err


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_carry_a_valid_table(name):
    sc = load(SCENARIOS / f"{name}.toml")
    dists = uncertain_parameters(sc)
    assert len(dists) >= 5
    assert "acquisition.cac_multiple" in dists
    assert dists["acquisition.cac_multiple"].support == (5.0, 25.0)  # public estimates 5-25x


def test_table_changes_neither_hash_nor_dump():
    text = (SCENARIOS / "baseline.toml").read_text()
    head = text[: text.index("[uncertainty]")]
    with_u, without = load_text(text), load_text(head)
    assert with_u.uncertainty and not without.uncertainty
    assert scenario_hash(with_u) == scenario_hash(without)
    assert with_u.model_dump(mode="json") == without.model_dump(mode="json")


def test_to_toml_keeps_the_table():
    sc = load(SCENARIOS / "baseline.toml")
    again = load_text(to_toml(sc))
    assert again.uncertainty == sc.uncertainty
    assert scenario_hash(again) == scenario_hash(sc)


def test_run_results_do_not_depend_on_the_table():
    from sim.runs.experiment import run_scenario

    table = '"churn.switching_ease" = { dist = "uniform", low = 0.1, high = 5.0 }'
    a = run_scenario(load_text(BASE), options=RunOptions(replications=1))
    b = run_scenario(load_text(with_table(table)), options=RunOptions(replications=1))
    assert a.monthly.equals(b.monthly) and a.scenario_sha256 == b.scenario_sha256
