"""Findings of the desk charts: the best policy against the runner-up, with the paired CI."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.output import findings, study_plots
from sim.params.scenario import load
from tests.conftest import SCENARIOS


def fake_results(wait_by_policy: dict[str, float], noise: float, reps: int = 6, months: int = 4):
    """A results stand-in whose monthly table has the given mean waits (h) per policy."""
    sc = load(SCENARIOS / "smoke.toml")
    rng = np.random.default_rng(7)
    rows = []
    shifts = rng.normal(0, noise, reps)
    shifts -= shifts.mean()  # policy means stay as given; a replication's common level (paired across policies)
    for p, w in wait_by_policy.items():
        for r in range(reps):
            shift = shifts[r]
            for m in range(months):
                rows.append({"policy": p, "replication": r, "month": m, "wait_mean_h": w + shift + rng.normal(0, 0.01),
                             "sla_met_share": 0.5, "tickets_resolved": 100 + m})
    return SimpleNamespace(monthly=pd.DataFrame(rows), policies=list(wait_by_policy), scenario=sc)


def test_shortest_wait_is_named_against_the_runner_up():
    res = fake_results({"flat": 6.0, "tiered": 4.0, "per_ticket": 5.0}, noise=0.3)
    text = findings.desk_headline(res, "wait_mean_h")
    labels = {p: findings.policy_label(res.scenario, p) for p in res.policies}
    assert text.startswith(f"{labels['tiered']} has the shortest mean first-response wait, 4.0 h vs 5.0 h "
                           f"for {labels['per_ticket']}"), text
    lo, hi = (float(x) for x in text.split("95% CI ")[1].rstrip(" h)").split(" to "))
    assert 0 < lo <= 1.0 <= hi < 1.1  # the paired difference is 1 h, its CI tight (the shift is common)


def test_no_clear_difference_when_the_interval_spans_zero():
    res = fake_results({"flat": 5.0, "tiered": 5.0}, noise=0.0)
    res.monthly["wait_mean_h"] += np.random.default_rng(1).normal(0, 0.5, len(res.monthly))
    assert findings.desk_headline(res, "wait_mean_h").startswith("No clear difference in mean first-response wait")


@pytest.mark.parametrize("measure", list(findings.DESK_MEASURES))
def test_weighted_by_tickets(measure):
    """A month with no tickets does not count: its value is far off and moves nothing."""
    res = fake_results({"flat": 6.0, "tiered": 4.0}, noise=0.3)
    before = findings.desk_headline(res, measure)
    extra = res.monthly[res.monthly["month"] == 0].assign(month=99, tickets_resolved=0, wait_mean_h=1e3,
                                                           sla_met_share=0.0)
    res.monthly = pd.concat([res.monthly, extra], ignore_index=True)
    assert findings.desk_headline(res, measure) == before


def test_sweep_title_says_who_leads_and_where_the_lead_changes():
    def table(means: dict[str, list[float]]) -> pd.DataFrame:
        return pd.DataFrame([{"support.agents": x, "policy": p, "kpi": "value_usd", "mean": m, "ci_low": m - 1,
                              "ci_high": m + 1} for p, ms in means.items() for x, m in zip([1, 2, 3], ms)])

    same = study_plots._sweep_finding(table({"flat": [3, 3, 3], "tiered": [1, 2, 2.5]}), "support.agents", "value_usd", None)
    assert same.startswith("flat has the best mean value across agents from 1 to 3"), same
    cross = study_plots._sweep_finding(table({"flat": [3, 2, 1], "tiered": [1, 2.5, 3]}), "support.agents", "value_usd", None)
    assert "flat at 1; tiered at 2–3" in cross, cross
    cost = study_plots._sweep_finding(table({"flat": [3, 2, 1], "tiered": [1, 2.5, 3]}), "support.agents", "cac_realised_usd", None)
    assert "tiered at 1; flat at 2–3" in cost, cost  # a cost: lower is better
    assert study_plots._sweep_finding(table({"flat": [1, 2, 3]}), "support.agents", "value_usd", None) == ""
