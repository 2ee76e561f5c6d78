"""Shared fixtures: the repo paths and a tiny scenario run once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Randomised tests explore locally but never decide CI by luck: under CI=true hypothesis runs
# derandomised (the same examples every run), with no example database and no wall-clock
# deadline (a slow shared machine must not turn into a failure). A failure a random search
# finds is pinned with @example next to its test.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
# A wall-clock bound that tells "refused at once" from "ran" (minutes, or never ends) on a
# shared, loaded machine: generous on purpose, so it never flakes (speed is measured in bench/).
BOUNDED_S = 60


@pytest.fixture(scope="session")
def smoke_results():
    from sim.params.scenario import load
    from sim.runs.experiment import run_scenario

    return run_scenario(load(SCENARIOS / "smoke.toml"), workers=1)
