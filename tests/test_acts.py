"""Where a parameter acts only under a setting (sim.params.walk.ACTS_ONLY_WHEN), it is inert
otherwise: with the switch off, the lever's change leaves every output of a run unchanged. The
studies that refuse an inert parameter (breakeven, optimise) rely on it."""

from __future__ import annotations

import typing
from dataclasses import replace

import pandas as pd
import pytest

from sim.engine import model
from sim.params.schema import Params
from sim.params.walk import ACTS_ONLY_WHEN, acts_only_when, field_info, generic_path
from sim.runs import levers

BASE = Params.model_validate({"customers": {"initial": 300}})
RULED = [lv for lv in levers.LEVERS if acts_only_when(lv.path) is not None]


def _off(switch: str, values: tuple) -> object:
    ann = field_info(switch).annotation
    choices = (True, False) if ann is bool else typing.get_args(ann)
    return next(c for c in choices if c not in values)


def test_every_rule_is_checked_by_a_lever():
    keys = {k for k in ACTS_ONLY_WHEN}
    covered = {k for k in keys for lv in RULED if lv.path == k or (k.endswith(".") and lv.path.startswith(k))}
    assert keys == covered


def test_generic_path():
    assert generic_path("customers.segments.0.tier_sla_h") == "customers.segments[].tier_sla_h"
    assert generic_path("policies.tiered.customers.segments.*.tier_sla_h") == "customers.segments[].tier_sla_h"
    assert acts_only_when("policies.x.vip.sla_h") == ("vip.enabled", (True,))
    assert acts_only_when("vip.enabled") is None  # the switch itself always acts
    assert acts_only_when("support.sla_target_h") is None


@pytest.mark.parametrize("lever", RULED, ids=lambda lv: lv.path)
def test_a_parameter_is_inert_where_its_switch_is_off(lever):
    switch, values = acts_only_when(lever.path)
    off = replace(lever, context={**lever.context, switch: _off(switch, values)})
    ctx, changed, old = levers.params_pair(off, BASE)
    assert changed != ctx, f"{lever.path}: the change {lever.describe(old)} changes nothing"
    a = pd.DataFrame(model.run(ctx, months=4, seed=3))
    b = pd.DataFrame(model.run(changed, months=4, seed=3))
    pd.testing.assert_frame_equal(a, b, obj=f"{lever.path} with {switch} off")
