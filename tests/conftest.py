"""Shared fixtures: the repo paths and a tiny scenario run once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from sim.runs.options import RunOptions

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


# A scenario whose name and description carry what must never be interpreted: a spreadsheet
# formula, $ (matplotlib mathtext), <script>, a markdown image and link, newlines, emoji.
HOSTILE_NAME = "=cmd|' /C calc'!A0 $5 off $10 <script>x</script> 🚀"
HOSTILE_DESCRIPTION = "![x](http://tracker.example/p.png) [link](http://e.example)\nline two $x$ @SUM(1) 💥"
HOSTILE_FAST = ["--replications", "1", "--workers", "1", "--quiet", "--set", "run.months=2"]


def hostile_scenario_file(folder: Path) -> Path:
    """The smoke scenario renamed and described with :data:`HOSTILE_NAME` and :data:`HOSTILE_DESCRIPTION`."""
    import tomli_w

    from sim.params.scenario import load

    data = load(SCENARIOS / "smoke.toml").model_dump(mode="json", exclude_none=True)
    data["scenario"]["name"] = HOSTILE_NAME
    data["scenario"]["description"] = HOSTILE_DESCRIPTION
    path = folder / "hostile.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


@pytest.fixture(scope="session")
def run_with_plots(tmp_path_factory) -> Path:
    """One ``supportsim run`` with plots of the hostile scenario: test_hostile_text checks that
    nothing in it is interpreted, test_cli that every figure is written as PNG, SVG and PDF. The
    figures are the costly part, so both read this one folder (their tests share an xdist group)."""
    from sim.cli import main

    folder = tmp_path_factory.mktemp("run_with_plots")
    out = folder / "run"
    assert main(["run", str(hostile_scenario_file(folder)), "--out", str(out), "--pdf", *HOSTILE_FAST]) == 0
    return out


@pytest.fixture(scope="session")
def smoke_results():
    from sim.params.scenario import load
    from sim.runs.experiment import run_scenario

    return run_scenario(load(SCENARIOS / "smoke.toml"), options=RunOptions(workers=1))
