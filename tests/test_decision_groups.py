"""What the decision says about how sure it is (issue 20): exact intervals for the probability of being
best, and the value of learning named groups of assumptions together."""

from __future__ import annotations

import numpy as np
import pytest

from sim.decision import psa, voi
from sim.params.groups import group_of, grouped
from sim.params.uncertainty import Uniform


def test_probability_best_has_an_exact_interval_never_plus_minus_zero():
    low, high = psa.prob_best_interval(1.0, 24)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 24), rel=1e-9)  # Clopper-Pearson at k = n
    low, high = psa.prob_best_interval(0.0, 24)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 24), rel=1e-9)
    low, high = psa.prob_best_interval(0.58, 100)
    assert low < 0.58 < high and 0.45 < low < 0.50 and 0.66 < high < 0.70


def test_groups_follow_the_declared_order():
    assert group_of("support.sla_clock") == "promise and clock"
    assert group_of("customers.segments.2.tier_sla_h") == "promise and clock"
    assert group_of("satisfaction.resentment_per_usd") == "fees and resentment"
    assert group_of("satisfaction.late_half_ratio") == "satisfaction mechanics"
    assert group_of("customers.segments.0.base_churn_per_month") == "churn and switching"
    assert group_of("demand.wtp_sigma") == "what the offer sells"
    assert list(grouped(["finance.discount_rate_annual", "support.sla_clock"])) == ["promise and clock", "discounting"]


def test_a_group_learnt_together_sees_an_interaction_its_members_alone_miss():
    """Net benefit turns on the product of two assumptions (the clock x the ladder): each alone is worth
    little, the two together most of the EVPI, and no EVPPI exceeds the EVPI."""
    rng = np.random.default_rng(4)
    n = 400
    x = rng.random((n, 3))
    a, b, c = x[:, 0] - 0.5, x[:, 1] - 0.5, x[:, 2]
    nb = np.column_stack([np.zeros(n), 4e5 * a * b + 1e3 * c + rng.normal(0, 1e3, n)])
    parameters = {"satisfaction.late_half_ratio": Uniform(1.25, 8.0), "satisfaction.recovery_gain": Uniform(0.0, 0.05),
                  "finance.discount_rate_annual": Uniform(0.05, 0.2)}
    found = psa.analyse(nb, x, parameters, ["flat", "tiered"])
    single = dict(zip(found.evppi["parameter"], found.evppi["evppi_usd"]))
    groups = found.evppi_groups.set_index("group")
    together = float(groups.at["satisfaction mechanics", "evppi_usd"])
    assert together > 0.6 * found.evpi
    assert max(single["satisfaction.late_half_ratio"], single["satisfaction.recovery_gain"]) < 0.25 * together
    assert together <= found.evpi + 1e-9 and (found.evppi["evppi_usd"] <= found.evpi + 1e-9).all()
    assert "discounting" not in groups.index  # a group of one is its parameter's own EVPPI
    assert voi.evpi(nb) >= 0
