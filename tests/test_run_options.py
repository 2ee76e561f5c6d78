"""The run options are one object passed through the library (issue 24, "the run-options object
passed through the library"): every run function takes ``options=RunOptions(...)`` and none keeps
its own copy of the fields, so the CLI, the app and a notebook say "how to run" the same way."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from sim.cli.parser import OPTION_DEFAULTS
from sim.decision.psa import run_decision
from sim.output.files import run_to_dir
from sim.params.scenario import ScenarioError, load
from sim.runs import optimise as opt
from sim.runs.experiment import run_scenario
from sim.runs.options import SERIAL, RunOptions
from sim.runs.staffing import staff
from sim.runs.studies import breakeven, sweep
from sim.runs.tornado import sensitivity
from tests.conftest import SCENARIOS

RUN_FUNCTIONS = [run_scenario, run_to_dir, sweep, breakeven, sensitivity, staff, run_decision, opt.optimise]
FIELDS = {f.name for f in dataclasses.fields(RunOptions)}


@pytest.mark.parametrize("fn", RUN_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_run_function_takes_the_options_whole(fn):
    params = inspect.signature(fn).parameters
    assert "options" in params and params["options"].default is SERIAL
    assert params["options"].kind is inspect.Parameter.KEYWORD_ONLY
    assert not FIELDS & set(params), f"{fn.__name__} keeps its own {sorted(FIELDS & set(params))}"


def test_the_library_default_is_the_file_serial():
    smoke = load(SCENARIOS / "smoke.toml")
    assert SERIAL.workers == 1 and SERIAL.executor is None and SERIAL.cluster is None
    assert SERIAL.replications_for(smoke) == smoke.run.replications and SERIAL.seed_for(smoke) == smoke.run.seed
    assert RunOptions(replications=3, seed=9).replications_for(smoke) == 3
    assert RunOptions(seed=9).seed_for(smoke) == 9
    assert SERIAL.replications_for(smoke, default=1) == 1  # decide's per-sample count


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "3"])
def test_a_bad_replication_count_names_the_field(bad):
    with pytest.raises(ScenarioError, match="--replications"):
        RunOptions(replications=bad).replications_for(load(SCENARIOS / "smoke.toml"))


def test_the_cli_and_the_library_share_optimise_defaults():
    assert OPTION_DEFAULTS["replications"] == opt.DEFAULT_REPLICATIONS


def test_options_change_the_run_as_their_fields_say():
    smoke = load(SCENARIOS / "smoke.toml", ["run.months=2", "customers.initial=120"])
    a = run_scenario(smoke, options=RunOptions(replications=2, seed=5))
    b = run_scenario(smoke, options=RunOptions(replications=2, seed=5, workers=2))
    c = run_scenario(smoke, options=RunOptions(replications=2, seed=6))
    assert a.replications == 2 and a.seed == 5
    assert a.kpis.equals(b.kpis)  # where the runs execute never changes them
    assert not a.kpis["value_usd"].equals(c.kpis["value_usd"])  # the seed does
    seen = []
    run_scenario(smoke, options=RunOptions(replications=1, on_progress=lambda d, t: seen.append((d, t))))
    assert seen[-1] == (len(smoke.policies), len(smoke.policies))
    with pytest.raises(ScenarioError, match="workload"):
        run_scenario(smoke, options=RunOptions(replications=2, max_work=1))
