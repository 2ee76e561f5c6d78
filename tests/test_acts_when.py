"""Where each parameter acts is declared once, next to it in the schema, and the engine agrees.

For every parameter the schema says is read only under some setting (``acts_when`` on the field,
or ``ACTS_WHEN`` on its section), the lever audit's change of it (sim/runs/levers.py) is made under
every value of that setting: the model's outputs must change exactly under the declared values.
"""

from __future__ import annotations

import typing

import pandas as pd
import pytest

from sim.engine import model
from sim.output.paramdocs import iter_params
from sim.params.schema import Params
from sim.params.walk import acts_when, field_info
from sim.runs import levers

BASE = Params.model_validate({"customers": {"initial": 400}})
# every paid scheme with a fee of its own, so "acts under a paid scheme" can show
FEES = {"pricing.per_ticket_fee_usd": 15.0, "pricing.per_hour_fee_usd": 40.0}
DECLARED = {p.path: acts_when(p.path) for p in iter_params() if acts_when(p.path) is not None}
LEVER = {lv.path: lv for lv in levers.LEVERS}


def _switch_values(switch: str) -> tuple:
    ann = field_info(switch).annotation
    return (True, False) if ann is bool else typing.get_args(ann)


def test_the_declared_rules_cover_the_schemes_fees_staffing_hours_and_programmes():
    assert {"pricing.per_ticket_fee_usd", "pricing.per_hour_fee_usd", "pricing.included_tickets_per_month",
            "customers.segments[].tier_sla_h", "support.agents", "vip.sla_h", "loyalty.p_up_per_month"} <= set(DECLARED)
    assert acts_when("pricing.included_tickets_per_month")[1] == ("tiered", "per_ticket", "per_hour")
    assert acts_when("vip.enabled") is None and acts_when("support.sla_target_h") is None


@pytest.mark.parametrize("path", sorted(DECLARED))
def test_a_parameter_acts_exactly_where_the_schema_says(path):
    switch, values = DECLARED[path]
    lever = LEVER[path]
    acted = {}
    for value in _switch_values(switch):
        context = {**(FEES if switch == "pricing.scheme" else {}), **lever.context, switch: value}
        ctx, changed, _ = levers.params_pair(levers.Lever(path, lever.to, context), BASE)
        a = pd.DataFrame(model.run(ctx, months=8, seed=3))
        b = pd.DataFrame(model.run(changed, months=8, seed=3))
        acted[value] = not a.equals(b)
    assert {v for v, moved in acted.items() if moved} == set(values), acted
