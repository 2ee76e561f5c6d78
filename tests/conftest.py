"""Shared fixtures: the repo paths and a tiny scenario run once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def smoke_results():
    from sim.experiment import run_scenario
    from sim.scenario import load

    return run_scenario(load(SCENARIOS / "smoke.toml"), workers=1)
