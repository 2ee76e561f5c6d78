"""Every lever acts (issue 11): each behavioural parameter of the schema is a lever of
sim.runs.levers (or listed there as not behavioural, with the reason), and its stated change,
in its stated context, changes the model's outputs."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.engine import model
from sim.output.paramdocs import iter_params
from sim.params.schema import Params
from sim.runs import levers

BASE = Params.model_validate({"customers": {"initial": 400}})
MODEL_SECTIONS = ("scenario.", "run.", "policies")


def test_every_schema_parameter_is_audited():
    paths = {p.path for p in iter_params() if not p.path.startswith(MODEL_SECTIONS)}
    audited = {lever.path for lever in levers.LEVERS}
    assert len(audited) == len(levers.LEVERS), "a parameter is audited twice"
    assert paths - audited - set(levers.NOT_LEVERS) == set()
    assert audited - paths == set(), "the audit names a parameter the schema does not have"


@pytest.mark.parametrize("lever", levers.LEVERS, ids=lambda lv: lv.path)
def test_every_lever_acts(lever):
    ctx, changed, old = levers.params_pair(lever, BASE)
    assert changed != ctx, f"{lever.path}: the change {lever.describe(old)} changes nothing"
    a = pd.DataFrame(model.run(ctx, months=8, seed=2))
    b = pd.DataFrame(model.run(changed, months=8, seed=2))
    assert not a.equals(b), f"{lever.path} ({lever.describe(old)}) leaves every output unchanged"
