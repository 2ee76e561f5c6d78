"""Shared fixtures: the repo paths and a tiny scenario run once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Randomised tests never decide a test run by luck: hypothesis runs derandomised (the same
# examples every run), with no example database and no wall-clock deadline (a slow shared
# machine must not turn into a failure) -- under `make test` and CI alike, whatever the
# environment says. To explore with fresh random examples, ask for it:
# HYPOTHESIS_PROFILE=explore. A failure a random search finds is pinned with @example next to
# its test.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile("explore" if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else "ci")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
# A wall-clock bound that tells "refused at once" from "ran" (minutes, or never ends) on a
# shared, loaded machine: generous on purpose, so it never flakes (speed is measured in bench/).
BOUNDED_S = 60


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    """Make ``--dist loadgroup`` keep each ``xdist_group`` on one worker.

    pytest-xdist names an item's group by appending ``@GROUP`` to ``item._nodeid``, which pytest 9
    no longer reads (a node's id is ``item._id``): the groups were silently ignored, so a group's
    module fixtures (the app server of the browser tests, a decision run) were built on both
    workers and rebuilt whenever a worker came back to the module. Does nothing once xdist's own
    suffix shows in the node id.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups and not item.nodeid.endswith("@" + "_".join(groups)):
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")


@pytest.fixture(scope="session")
def smoke_results():
    from sim.params.scenario import load
    from sim.runs.experiment import run_scenario

    return run_scenario(load(SCENARIOS / "smoke.toml"), workers=1)
