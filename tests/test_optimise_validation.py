"""The optimiser against brute force (issue 22): on a parameter whose optimum a sweep can find,
the design ``supportsim optimise`` chooses lies inside the sweep's 95% indifference set (the
grid values that cannot be told from the best, :func:`sim.runs.selection.screen_to_the_best`,
on paired replications).

Two cases: the price multiplier of flat support on a small baseline (an interior optimum,
docs/model.md "The offer": about 1.1-1.4 at the defaults), and the per-ticket fee of
metered_wins, whose value peaks near the file's 120 USD a ticket (on this small scenario, 10
replications: $1.16M at 120, $0.23M at 300; a prohibitive fee no longer pays: docs/studies.md,
"What the optimiser finds on metered_wins"). Small and deterministic: 300 customers, 12 months,
fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from sim.params.scenario import load
from sim.runs import optimise as opt
from sim.runs import studies
from sim.runs.options import RunOptions
from sim.runs.selection import screen_to_the_best
from tests.conftest import SCENARIOS

CASES = {
    "price multiplier": ("baseline.toml", "flat", "pricing.price_multiplier", [0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]),
    "per-ticket fee": ("metered_wins.toml", "per_ticket", "pricing.per_ticket_fee_usd", [0.0, 60.0, 120.0, 180.0,
                                                                                          240.0, 300.0]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_optimiser_lands_in_the_sweeps_indifference_set(case):
    file, policy, path, grid = CASES[case]
    sc = load(SCENARIOS / file, ["customers.initial=300", "run.months=12"])
    tidy = studies.sweep(sc, grid={path: grid}, policies=[policy], options=RunOptions(replications=10, workers=1))
    x = tidy.pivot(index=path, columns="replication", values="value_usd")
    best_set = [float(x.index[i]) for i in screen_to_the_best(x.to_numpy())]
    assert len(best_set) < len(grid), f"the sweep cannot tell the grid points apart: {best_set}"
    result = opt.optimise(sc, policy=policy, params=[f"{path}={grid[0]}:{grid[-1]}"], trials=16, candidates=3,
                          first_stage=8, max_fresh=60, batch=4, options=RunOptions(replications=3))
    pick = result.chosen[path]
    assert min(best_set) <= pick <= max(best_set), (
        f"{case}: the optimiser chose {pick}; the sweep's 95% indifference set is {best_set} "
        f"(means {np.round(x.mean(axis=1).to_numpy() / 1e6, 3).tolist()} M USD)")
