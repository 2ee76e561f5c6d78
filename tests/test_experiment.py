"""The Monte Carlo layer: common random numbers, streaming output, executors, precision mode,
Ctrl-C keeping finished replications."""

from __future__ import annotations

import json
import random
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.output.files import Interrupted, MonthlySpool, run_to_dir, write_monthly_csv, write_results
from sim.params.scenario import ScenarioError, load, resolve_policies
from sim.runs import metrics
from sim.runs.executors import ProcessExecutor, SerialExecutor, make_executor
from sim.runs.experiment import Precision, execute, jobs, run_job, run_scenario
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

SMOKE = SCENARIOS / "smoke.toml"


@pytest.fixture(scope="module")
def smoke():
    return load(SMOKE)


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("monthly.csv", "kpis.csv")}


# ---------------------------------------------------------------------------- common random numbers


def _half_width(res, policy: str, kpi: str) -> float:
    d = res.differences()[policy][kpi]
    return (d["ci_high"] - d["ci_low"]) / 2


def test_common_random_numbers_shrink_the_paired_interval(smoke):
    """Same streams for every policy (CRN) vs streams salted per policy: the interval of a
    paired difference is much narrower with CRN, while each policy's own mean stays put."""
    crn = run_scenario(smoke, crn=True, options=RunOptions(replications=10))
    indep = run_scenario(smoke, crn=False, options=RunOptions(replications=10))
    assert not crn.kpis.equals(indep.kpis)  # the switch really changes the streams
    for policy in ("per_ticket", "flat_vip"):
        with_crn = _half_width(crn, policy, "value_usd")
        without = _half_width(indep, policy, "value_usd")
        # value_usd carries the terminal value of a 300-customer book after 6 months, the noisiest
        # part of the run: CRN still shrinks its paired interval by ~half or more
        assert with_crn < 0.6 * without, (policy, with_crn, without)
    # the marginal distribution is unchanged: for each policy the two means differ by no more than
    # their difference's own 99% interval (independent samples; 2.58 / 1.96 of the 95% half-widths)
    for policy in crn.policies:
        a = crn.summary()[policy]["customers_at_horizon"]
        b = indep.summary()[policy]["customers_at_horizon"]
        half = np.hypot(a["ci_high"] - a["ci_low"], b["ci_high"] - b["ci_low"]) / 2
        assert abs(a["mean"] - b["mean"]) <= 2.58 / 1.96 * half, (policy, a, b)


def test_replication_r_sees_the_same_streams_in_every_policy(smoke):
    """Two policies with identical parameters give identical runs replication by replication."""
    p = resolve_policies(smoke)[0]
    twins = [replace(p, name="a"), replace(p, name="b")]
    out = {job.policy: table.drop(columns="policy") for job, table in
           execute(jobs(twins, replications=1, months=3, seed=4), workers=1)}
    pd.testing.assert_frame_equal(out["a"], out["b"])


def test_adding_a_stream_does_not_shift_the_others(monkeypatch):
    """Streams are keyed by name, not position: a new stream leaves every other draw as it was."""
    from sim.engine import rng

    before = {name: rng.Streams(7, 3) for name in rng.STREAMS}
    draws = {}
    for name, st in before.items():
        st.month(2)
        draws[name] = st[name].random(5)
    monkeypatch.setattr(rng, "STREAMS", ("a_new_source", *rng.STREAMS))
    for name in draws:
        st = rng.Streams(7, 3)
        st.month(2)
        assert np.array_equal(st[name].random(5), draws[name]), name
    other = rng.Streams(7, 4)
    other.month(2)
    assert not np.array_equal(other["churn"].random(5), draws["churn"])  # replications differ


# ---------------------------------------------------------------------------- streaming output


def test_streamed_output_is_the_same_bytes_as_in_memory_output(smoke, tmp_path):
    write_results(run_scenario(smoke), tmp_path / "memory", plots=False)
    res = run_to_dir(smoke, tmp_path / "stream", plots=False)
    assert _files(tmp_path / "stream") == _files(tmp_path / "memory")
    assert res.monthly.empty  # the monthly rows went to disk, not into memory
    summary = json.loads((tmp_path / "stream" / "summary.json").read_text())
    assert summary["partial"] is False and summary["replications"] == smoke.run.replications
    assert summary["replications_completed"] == {p: smoke.run.replications for p in summary["policies"]}


def test_spool_orders_runs_whatever_order_they_finish_in(smoke, tmp_path):
    policies = resolve_policies(smoke)
    job_list = jobs(policies, replications=2, months=2, seed=3)
    tables = [(j, run_job(j)) for j in job_list]
    res = run_scenario(smoke, options=RunOptions(replications=2))  # only for the provenance columns

    def writer(df, buf):
        write_monthly_csv(replace(res, monthly=df), buf)

    outputs = []
    for shuffle_seed in (0, 1):
        order = tables[:]
        random.Random(shuffle_seed).shuffle(order)
        spool = MonthlySpool(tmp_path / f"s{shuffle_seed}", writer)
        for job, table in order:
            spool.add(job.policy, job.replication, table)
        spool.assemble(tmp_path / f"o{shuffle_seed}.csv", [p.name for p in policies])
        outputs.append((tmp_path / f"o{shuffle_seed}.csv").read_bytes())
    assert outputs[0] == outputs[1]
    back = pd.read_csv(tmp_path / "o0.csv")
    assert list(back["policy"].drop_duplicates()) == [p.name for p in policies]
    assert len(back) == len(job_list) * 2


def test_serial_and_process_executors_give_identical_files(smoke, tmp_path):
    run_to_dir(smoke, tmp_path / "serial", plots=False, options=RunOptions(workers=1))
    run_to_dir(smoke, tmp_path / "procs", plots=False, options=RunOptions(workers=2))
    assert _files(tmp_path / "serial") == _files(tmp_path / "procs")


def test_execute_keeps_submission_order_with_processes(smoke):
    job_list = jobs(resolve_policies(smoke), replications=2, months=2, seed=9)
    with ProcessExecutor(2) as ex:
        got = [job for job, _ in execute(job_list, executor=ex)]
    assert got == job_list


def test_make_executor_choices():
    assert isinstance(make_executor(workers=1), SerialExecutor)
    ex = make_executor(workers=2)
    assert isinstance(ex, ProcessExecutor) and ex.workers == 2
    ex.close()
    with pytest.raises(ScenarioError, match="--cluster"):
        make_executor(cluster="not-an-address")
    with pytest.raises(ScenarioError, match="--workers"):
        make_executor(workers=-1)


# ---------------------------------------------------------------------------- precision mode


def test_precision_parse_and_errors():
    p = Precision.parse("2%")
    assert p.relative and p.target == pytest.approx(0.02)
    q = Precision.parse("5000", kpi="customers_at_horizon")
    assert not q.relative and q.target == 5000
    for bad in ("abc", "-1", "0%", "nan"):
        with pytest.raises(ScenarioError, match="--precision"):
            Precision.parse(bad)
    with pytest.raises(ScenarioError, match="--precision-kpi.*cumulative_profit"):
        Precision(target=0.1, kpi="profit")
    with pytest.raises(ScenarioError, match="--max-replications"):
        Precision(target=0.1, max_replications=1)


def test_precision_adds_replications_until_the_target_is_met(smoke, tmp_path):
    loose = run_to_dir(smoke, tmp_path / "loose", plots=False, precision=Precision(target=0.9, max_replications=40))
    assert loose.precision["met"] and loose.precision["replications"] == smoke.run.replications

    target = 0.12
    res = run_to_dir(smoke, tmp_path / "tight", plots=False, precision=Precision(target=target, max_replications=60))
    n = res.precision["replications"]
    assert res.precision["met"] and smoke.run.replications < n < 60
    # the report agrees with the intervals recomputed from the written KPI table
    kpis = pd.read_csv(tmp_path / "tight" / "kpis.csv")
    for p in res.policies:
        s = metrics.t_interval(kpis.loc[kpis["policy"] == p, "value_usd"])
        assert s["n"] == n
        assert (s["ci_high"] - s["ci_low"]) / 2 / abs(s["mean"]) <= target
    summary = json.loads((tmp_path / "tight" / "summary.json").read_text())
    assert summary["precision"]["replications"] == n and summary["replications"] == n


def test_precision_stops_at_the_cap(smoke, tmp_path):
    res = run_to_dir(smoke, tmp_path / "cap", plots=False, precision=Precision(target=1e-6, max_replications=5))
    assert res.precision["replications"] == 5 and not res.precision["met"]
    assert len(pd.read_csv(tmp_path / "cap" / "kpis.csv")) == 5 * len(res.policies)


def test_precision_on_paired_differences_absolute(smoke, tmp_path):
    rule = Precision(target=20.0, kpi="customers_at_horizon", relative=False, on="differences", max_replications=30)
    res = run_to_dir(smoke, tmp_path / "d", plots=False, precision=rule)
    for policy, d in res.differences().items():
        half = (d["customers_at_horizon"]["ci_high"] - d["customers_at_horizon"]["ci_low"]) / 2
        assert half <= 20.0 or not res.precision["met"], policy


# ---------------------------------------------------------------------------- interruption


def _interrupt_after(k: int):
    def on_progress(done: int, total: int) -> None:
        if done >= k:
            raise KeyboardInterrupt

    return on_progress


def test_ctrl_c_keeps_finished_replications_marked_partial(smoke, tmp_path):
    out = tmp_path / "out"
    run_to_dir(smoke, out, plots=False)  # an earlier complete output, replaced by the partial one
    with pytest.raises(Interrupted) as info:
        run_to_dir(smoke, out, plots=False, keep_partial=True,
                   options=RunOptions(replications=4, seed=8, on_progress=_interrupt_after(5)))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and summary["seed"] == 8
    assert sum(summary["replications_completed"].values()) == 5
    assert summary["replications"] == 1  # replication 0 finished for every policy, replication 1 for two
    monthly = pd.read_csv(out / "monthly.csv")
    assert len(monthly) == 5 * smoke.run.months
    assert info.value.results.partial
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left


def test_ctrl_c_without_keep_partial_leaves_previous_output(smoke, tmp_path):
    out = tmp_path / "out"
    run_to_dir(smoke, out, plots=False)
    before = _files(out)
    with pytest.raises(KeyboardInterrupt):
        run_to_dir(smoke, out, plots=False, options=RunOptions(seed=8, on_progress=_interrupt_after(2)))
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sigint_stops_worker_processes_and_keeps_finished_runs(tmp_path):
    """A real Ctrl-C on `supportsim run --workers 2 --keep-partial`, sent once a run has finished
    and more are due (the test waits for that state): exit 130, the finished runs written and
    marked partial, no worker process left behind."""
    psutil = pytest.importorskip("psutil")
    from tests.procs import cli, start

    out = tmp_path / "out"
    reps, months = 4, 6
    child = start(cli("run", str(SMOKE), "--out", str(out), "--workers", "2", "--no-plots", "--keep-partial",
                      "--quiet", "--set", f"run.months={months}", "--set", f"run.replications={reps}"),
                  tmp_path / "work", pause="simulating")
    try:
        child.wait_paused()
        children = psutil.Process(child.pid).children(recursive=True)
        assert children  # the worker processes, busy with the runs still due
        child.send(signal.SIGINT)
        code, err = child.finish()
    finally:
        child.kill()
    assert code == 130, err
    assert "partial" in err and "Traceback" not in err, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True
    done = sum(summary["replications_completed"].values())
    assert 0 < done < reps * len(summary["policies"])
    assert len(pd.read_csv(out / "monthly.csv")) == done * months
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, alive


# ---------------------------------------------------------------------------- the CLI's run options


def _main(*args: str) -> int:
    from sim.cli import main

    return main(list(args))


def test_cli_run_precision_writes_the_report(tmp_path, capsys):
    out = tmp_path / "p"
    assert _main("run", str(SMOKE), "--out", str(out), "--no-plots", "--workers", "1", "--precision", "90%") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"]["met"] is True and summary["precision"]["kpi"] == "value_usd"
    assert "precision:" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (["--precision", "lots"], "--precision"),
    (["--precision", "5%", "--max-replications", "1"], "--max-replications"),
    (["--cluster", "localhost"], "--cluster"),
])
def test_cli_run_bad_options_exit_2(tmp_path, capsys, args, needle):
    assert _code("run", str(SMOKE), "--out", str(tmp_path / "o"), "--quiet", *args) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _code(*args: str) -> int:
    """Exit code of the CLI, whether it returns one or argparse exits."""
    try:
        return _main(*args)
    except SystemExit as exc:
        return int(exc.code)


def test_cli_bad_precision_has_no_traceback(tmp_path):
    from tests.procs import supportsim

    r = supportsim("run", str(SMOKE), "--out", str(tmp_path / "o"), "--quiet", "--precision", "-3%")
    assert r.returncode == 2 and "--precision" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_run_aggregates_weight_sla_share_by_tickets():
    from sim.runs.experiment import run_aggregates

    monthly = pd.DataFrame({"tickets_resolved": [10, 30, 0], "sla_met_share": [1.0, 0.5, np.nan],
                            "support_cost": [100.0, 300.0, 200.0], "agents": [1, 3, 2]})
    agg = run_aggregates(monthly)
    assert agg["sla_met_share"] == pytest.approx((10 * 1.0 + 30 * 0.5) / 40)
    assert agg["support_cost_per_month"] == pytest.approx(200.0)
    assert agg["agents_mean"] == pytest.approx(2.0)
