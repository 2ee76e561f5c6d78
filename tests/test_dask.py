"""Dask distributed: a LocalCluster on 127.0.0.1 gives the same results as serial runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.output.files import run_to_dir
from sim.params.scenario import ScenarioError, load
from sim.runs import studies as analysis
from sim.runs.executors import DaskExecutor
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("dask")

distributed = pytest.importorskip("distributed")

SMOKE = SCENARIOS / "smoke.toml"


@pytest.fixture(scope="module")
def cluster():
    """One in-process worker with two threads, reached over TCP on the loopback interface only."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as c:
        assert c.scheduler_address.startswith("tcp://127.0.0.1:")
        yield c.scheduler_address


@pytest.fixture(scope="module")
def smoke():
    return load(SMOKE, ["run.replications=2"])


def test_run_on_dask_is_byte_identical_to_serial(cluster, smoke, tmp_path):
    run_to_dir(smoke, tmp_path / "serial", plots=False, options=RunOptions(workers=1))
    res = run_to_dir(smoke, tmp_path / "dask", plots=False, options=RunOptions(cluster=cluster))
    for name in ("monthly.csv", "kpis.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes(), name
    assert res.replications == 2 and not res.partial


def test_sweep_on_dask_matches_serial(cluster, smoke):
    grid = {"churn.switching_ease": [0.5, 1.5]}
    serial = analysis.sweep(smoke, grid=grid, policies=["flat", "per_ticket"], options=RunOptions(workers=1))
    on_dask = analysis.sweep(smoke, grid=grid, policies=["flat", "per_ticket"], options=RunOptions(cluster=cluster))
    pd.testing.assert_frame_equal(serial, on_dask)


def test_cli_run_with_cluster(cluster, tmp_path):
    from sim.cli import main

    out = tmp_path / "o"
    assert main(["run", str(SMOKE), "--out", str(out), "--quiet", "--no-plots", "--set", "run.replications=2",
                 "--cluster", cluster]) == 0
    assert json.loads((out / "summary.json").read_text())["replications"] == 2


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ScenarioError, match="cannot connect to the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout_s=1)
