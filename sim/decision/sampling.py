"""The uncertain worlds of a decision: reproducible points in the unit cube, mapped to parameter values.

Where it sits: **decision**, beneath ``sim.decision.psa`` (``decide``) and the optimiser's
``--robust`` worlds. A Latin hypercube (or a scrambled Sobol sequence) on [0, 1)^k seeded from the
scenario seed, mapped through each distribution's inverse CDF (``sim.params.uncertainty``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.engine.rng import stream_key
from sim.params.scenario import ScenarioError
from sim.params.uncertainty import Choice, Distribution

Design = Literal["lhs", "sobol"]


def design_points(n: int, k: int, *, seed: int, design: Design = "lhs") -> np.ndarray:
    """``n`` points in the unit cube [0, 1)^k, reproducible from ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream_key("psa-design"),)))
    if design == "lhs":
        return qmc.LatinHypercube(d=k, seed=rng).random(n)
    if design == "sobol":
        with warnings.catch_warnings():  # n need not be a power of two; balance is then approximate
            warnings.simplefilter("ignore", UserWarning)
            return qmc.Sobol(d=k, scramble=True, seed=rng).random(n)
    raise ScenarioError([f"--design: allowed values: 'lhs', 'sobol' (got {design!r})"], "--design")


def draw(parameters: Mapping[str, Distribution], u: np.ndarray) -> pd.DataFrame:
    """Parameter values at unit-cube points ``u`` (n x k): one column per parameter, in table order."""
    cols = {}
    for j, (path, dist) in enumerate(parameters.items()):
        cols[path] = [as_python(v) for v in dist.ppf(u[:, j])]
    return pd.DataFrame(cols)


def as_python(v: Any) -> Any:
    """A numpy scalar as the plain Python value (what a scenario file holds)."""
    return v.item() if isinstance(v, np.generic) else v


def numeric_inputs(parameters: Mapping[str, Distribution], values: pd.DataFrame) -> np.ndarray:
    """The sampled values as numbers for regression (a non-numeric choice by its position)."""
    cols = []
    for path, dist in parameters.items():
        col = values[path]
        if isinstance(dist, Choice) and not dist.numeric:
            lookup = {repr(v): i for i, v in enumerate(dist.values)}
            cols.append(np.array([lookup[repr(v)] for v in col], dtype=float))
        else:
            cols.append(col.to_numpy(dtype=float))
    return np.column_stack(cols)
