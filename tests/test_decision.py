"""Decisions under uncertainty: the PSA runner, its tables, files, plots and the `decide` verb."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sim.decision import psa, sampling
from sim.decision.psa import DEFAULT_KPI, run_decision, sobol_indices
from sim.params.scenario import ScenarioError, load_text, resolve_policies
from sim.params.uncertainty import Uniform
from sim.runs import metrics
from sim.runs.experiment import Job, run_job_kpis
from sim.runs.options import RunOptions
from sim.runs.paths import with_values

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("decision")

TINY = """
[scenario]
name = "tiny-decide"
reference_policy = "flat"
[run]
months = 4
seed = 11
[customers]
initial = 150
[policies.flat]
pricing.scheme = "flat"
[policies.per_ticket]
pricing.scheme = "per_ticket"
pricing.per_ticket_fee_usd = 20.0
[uncertainty]
"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, high = 25.0 }
"satisfaction.resentment_per_usd" = { dist = "uniform", low = 0.0, high = 0.03 }
"vip.concierge_conversion_uplift" = { dist = "uniform", low = 0.0, high = 0.3 }
"policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 0.0, high = 60.0 }
"""
SAMPLES = 24
INERT = "vip.concierge_conversion_uplift"  # no policy runs a VIP programme


@pytest.fixture(scope="module")
def tiny():
    return load_text(TINY, source="tiny")


@pytest.fixture(scope="module")
def result(tiny):
    return run_decision(tiny, samples=SAMPLES, options=RunOptions(workers=1))


def test_default_kpi_is_the_value_metric_once_registered():
    assert DEFAULT_KPI == ("value_usd" if "value_usd" in metrics.KPIS else "cumulative_profit")


def test_tables_are_consistent(result):
    names = ["flat", "per_ticket"]
    assert result.policy_names == names and result.kpi == DEFAULT_KPI
    assert len(result.psa) == SAMPLES * len(names)
    assert list(result.psa.columns[:2]) == ["sample", "policy"]
    assert set(result.parameters) <= set(result.psa.columns) and DEFAULT_KPI in result.psa.columns
    pol = result.policies.set_index("policy")
    assert pol["prob_best"].sum() == pytest.approx(1.0)
    nb = result.net_benefit
    assert pol["expected_value"].to_numpy() == pytest.approx(nb.mean(axis=0))
    assert result.recommended == names[int(np.argmax(nb.mean(axis=0)))]
    assert pol.loc[result.recommended, "expected_loss"] == pytest.approx(result.evpi_sample)
    p = pol["prob_best"].to_numpy()
    assert pol["prob_best_se"].to_numpy() == pytest.approx(np.sqrt(p * (1 - p) / SAMPLES))
    assert list(result.evppi["evppi_usd"]) == sorted(result.evppi["evppi_usd"], reverse=True)
    assert set(result.evppi["parameter"]) == set(result.parameters)
    assert (result.evppi["evppi_usd"] >= 0).all()
    assert (result.evppi["evppi_usd"] <= max(result.evpi, result.evpi_sample) * 1.05 + 1e-9).all()


def test_sampled_values_lie_in_their_distributions(result):
    per_sample = result.psa.drop_duplicates("sample")
    for path, dist in result.parameters.items():
        lo, hi = dist.support
        assert per_sample[path].between(lo, hi).all(), path


def test_latin_hypercube_fills_every_stratum_once():
    u = sampling.design_points(50, 3, seed=4)
    for j in range(3):
        assert sorted(np.floor(u[:, j] * 50).astype(int)) == list(range(50))
    assert np.array_equal(u, sampling.design_points(50, 3, seed=4))
    assert not np.array_equal(u, sampling.design_points(50, 3, seed=5))


def test_each_sample_is_its_own_replication_shared_by_the_policies(tiny, result):
    """Sample i runs replication i of every policy with the sampled values applied like --param."""
    i = 5
    row = result.psa[result.psa["sample"] == i].set_index("policy")
    values = {p: _plain(row.iloc[0][p]) for p in result.parameters}
    for policy in resolve_policies(with_values(tiny, values)):
        kpis = run_job_kpis(Job(policy.name, i, policy.params, tiny.run.months, tiny.run.seed))
        assert kpis[DEFAULT_KPI] == row.loc[policy.name, DEFAULT_KPI]


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def test_identical_policies_tie_in_every_sample(tiny):
    twin = TINY.replace('[uncertainty]', '[policies.flat_again]\npricing.scheme = "flat"\n[uncertainty]')
    res = run_decision(load_text(twin), samples=6, options=RunOptions(workers=1))
    wide = res.psa.pivot(index="sample", columns="policy", values=DEFAULT_KPI)
    assert (wide["flat"] == wide["flat_again"]).all()


def test_an_inert_parameter_is_worth_nothing(result):
    e = result.evppi.set_index("parameter")["evppi_usd"]
    assert e[INERT] <= 0.05 * max(result.evpi_sample, 1.0)


def test_reproducible_and_identical_with_processes(tiny, result):
    again = run_decision(tiny, samples=SAMPLES, options=RunOptions(workers=2))
    pd.testing.assert_frame_equal(result.psa, again.psa)
    pd.testing.assert_frame_equal(result.policies, again.policies)
    assert result.decision_sha256 == again.decision_sha256


def test_on_dask_identical_to_serial(tiny, result):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        on_dask = run_decision(tiny, samples=SAMPLES, options=RunOptions(cluster=cluster.scheduler_address))
    pd.testing.assert_frame_equal(result.psa, on_dask.psa)


def test_replications_are_averaged_per_sample(tiny):
    res = run_decision(tiny, samples=3, options=RunOptions(replications=2, workers=1))
    row = res.psa[(res.psa["sample"] == 1) & (res.psa["policy"] == "flat")].iloc[0]
    values = {p: _plain(row[p]) for p in res.parameters}
    params = {p.name: p.params for p in resolve_policies(with_values(tiny, values))}["flat"]
    runs = [run_job_kpis(Job("flat", r, params, tiny.run.months, tiny.run.seed))[DEFAULT_KPI] for r in (2, 3)]
    assert row[DEFAULT_KPI] == pytest.approx(np.mean(runs))


def test_seed_and_design_change_the_draws(tiny, result):
    other = run_decision(tiny.model_copy(update={"run": tiny.run.model_copy(update={"seed": 12})}), samples=4)
    assert not np.allclose(other.psa["acquisition.cac_multiple"].iloc[:4],
                           result.psa["acquisition.cac_multiple"].iloc[:4])
    sob = run_decision(tiny, samples=4, design="sobol")
    assert sob.design == "sobol" and len(sob.psa) == 8


@pytest.mark.parametrize("kwargs, match", [
    ({"samples": 1}, "--samples"),
    ({"options": RunOptions(replications=0)}, "--replications"),
    ({"kpi": "nope"}, "unknown KPI"),
    ({"design": "grid", "samples": 2}, "--design"),
])
def test_bad_arguments_are_scenario_errors(tiny, kwargs, match):
    with pytest.raises(ScenarioError, match=match):
        run_decision(tiny, **kwargs)


def test_no_table_or_one_policy_is_refused(tiny):
    with pytest.raises(ScenarioError, match=r"no \[uncertainty\] table"):
        run_decision(load_text(TINY[: TINY.index("[uncertainty]")]), samples=2)
    one = TINY.replace('[policies.per_ticket]\npricing.scheme = "per_ticket"\npricing.per_ticket_fee_usd = 20.0\n', "")
    one = one.replace('"policies.per_ticket.pricing.per_ticket_fee_usd"', '"pricing.per_ticket_fee_usd"')
    with pytest.raises(ScenarioError, match="at least two"):
        run_decision(load_text(one), samples=2)


def test_guardrail_counts_every_run(tiny):
    with pytest.raises(ScenarioError, match="workload too large"):
        run_decision(tiny, samples=100, options=RunOptions(max_work=150 * 4 * 2 * 99))


def test_three_line_answer(result):
    lines = result.answer()
    assert len(lines) == 3
    assert lines[0].startswith(f"Choose {result.recommended} (highest expected value): best in ")
    assert "Expected loss" in lines[1] and lines[2].startswith("Research first:")


def test_research_first_says_when_its_top_two_cannot_be_ranked(result):
    """Two EVPPIs whose difference lies within their Monte Carlo noise are not ranked as if it did not."""
    from dataclasses import replace

    names = list(result.parameters)[:2]
    assert len(names) == 2

    def with_evppi(a, b, se):
        evppi = pd.DataFrame({"parameter": names, "evppi_usd": [a, b], "share_of_evpi": [a / 1e5, b / 1e5],
                              "method": "gam", "distribution": "", "evppi_se": [se, se]})
        return replace(result, evppi=evppi, evpi=1e5, evppi_groups=None).answer()[2]

    close = with_evppi(50_000, 45_000, 5_000)  # 5k apart, 1.96 x 7.1k of noise: a tie
    assert close.startswith("Research first:") and "too few samples to rank it above" in close
    clear = with_evppi(50_000, 10_000, 5_000)
    assert "too few samples" not in clear
    assert "too few samples" not in with_evppi(50_000, 45_000, float("nan"))  # no standard error: nothing to say


def test_the_decision_map_shades_only_policies_some_sampled_world_has_best(result):
    if result.decision_map is None:
        pytest.skip("no decision map: fewer than two uncertain parameters")
    won = {result.policy_names[i] for i in result.net_benefit.argmax(axis=1)}
    assert set(result.decision_map["best"]) <= won


# ---------------------------------------------------------------------------- Sobol indices


def test_sobol_indices_of_the_ishigami_function():
    """Known indices (Ishigami & Homma 1990, a = 7, b = 0.1): S1 = .314, .442, 0; ST = .558, .442, .244."""
    params = {f"x{i}": Uniform(-math.pi, math.pi) for i in (1, 2, 3)}

    def ishigami(v: pd.DataFrame) -> np.ndarray:
        x = v.to_numpy(dtype=float)
        return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])

    t = sobol_indices(params, ishigami, n_base=2048, seed=3).set_index("parameter")
    for name, s1, st in (("x1", 0.3139, 0.5576), ("x2", 0.4424, 0.4424), ("x3", 0.0, 0.2437)):
        assert t.at[name, "S1"] == pytest.approx(s1, abs=max(0.05, 1.5 * t.at[name, "S1_conf"]))
        assert t.at[name, "ST"] == pytest.approx(st, abs=max(0.05, 1.5 * t.at[name, "ST_conf"]))


def test_sobol_on_the_model(tiny):
    res = run_decision(tiny, samples=6, sobol=True, sobol_samples=4)
    assert set(res.sobol["parameter"]) == set(res.parameters)
    assert res.sobol_meta["points"] == 4 * (len(res.parameters) + 2)
    assert res.sobol_meta["leader"] == res.recommended
    assert res.sobol.attrs["difference"].startswith(res.recommended)


# ---------------------------------------------------------------------------- files, plots, CLI


def test_write_decision(result, tmp_path):
    from sim.output.decision_files import write_decision

    out = write_decision(result, tmp_path / "d")
    body = json.loads((out / "decision.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert body["recommended_policy"] == result.recommended
    assert body["scenario_sha256"] == result.scenario_sha256 and body["seed"] == 11
    assert set(body["policies"]["flat"]) == {"expected_value", "prob_best", "prob_best_se", "expected_loss"}
    assert set(body["evppi"]) == set(result.parameters) and body["evpi"] == pytest.approx(result.evpi)
    assert body["scenario"]["uncertainty"] == result.scenario.uncertainty
    assert len(body["answer"]) == 3
    table = pd.read_csv(out / "psa.csv")
    assert len(table) == SAMPLES * 2 and {"scenario_sha256", "seed", "supportsim_version"} <= set(table.columns)
    assert {p.stem for p in (out / "plots").glob("*.png")} == {"probability_best", "evppi", "decision_map"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary debris


def test_plots_state_their_finding(result):
    from sim.output import decision_plots as D
    from sim.output import plots as P

    figs = dict(D.decision_figures(result))
    assert set(figs) == {"probability_best", "evppi", "decision_map"}
    for name, ax in figs.items():
        fig = ax.figure
        assert tuple(round(v, 2) for v in fig.get_size_inches()) == P.SLIDE_SIZE_IN, name
        assert ax.get_title(), name
        assert "parameter samples" in P.footer_text(fig), name
        pass  # figures are not registered with pyplot: nothing to close
    ax = D.plot_probability_best(result.policies, samples=SAMPLES)
    assert result.recommended in ax.get_title() and f"of {SAMPLES} plausible worlds" in ax.get_title()


def test_decision_map_single_region_title(result):
    from sim.output import decision_plots as D

    one = result.decision_map.assign(best="flat")
    one.attrs = dict(result.decision_map.attrs)
    ax = D.plot_decision_map(one, result.psa, kpi=result.kpi, policies=result.policy_names)
    assert ax.get_title().startswith("flat is best over the whole range")


def _tiny_file(tmp_path):
    f = tmp_path / "tiny.toml"
    f.write_text(TINY)
    return f


def test_cli_decide_prints_the_answer_and_writes(tmp_path, capsys):
    from sim.cli import main

    out = tmp_path / "dec"
    assert main(["decide", str(_tiny_file(tmp_path)), "--samples", "6", "--out", str(out), "--workers", "1",
                 "--quiet", "--no-plots"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Choose ")
    assert (out / "decision.json").is_file() and not (out / "plots").exists()
    assert main(["decide", str(_tiny_file(tmp_path)), "--samples", "6", "--workers", "1",
                 "--set", "run.seed=3"]) == 0
    printed = capsys.readouterr().out
    assert "EVPPI per parameter" in printed and "seed 3" in printed


def test_cli_decide_bad_input_exits_2(tmp_path, capsys):
    from sim.cli import main

    plain = tmp_path / "plain.toml"
    plain.write_text(TINY[: TINY.index("[uncertainty]")])
    assert main(["decide", str(plain), "--samples", "4"]) == 2
    assert "no [uncertainty] table" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["decide", str(plain), "--workers", "2", "--cluster", "tcp://127.0.0.1:1"])
    assert info.value.code == 2


@pytest.mark.parametrize("sig_name, phase", [("SIGINT", "simulating"), ("SIGINT", "writing"), ("SIGTERM", "writing"),
                                             ("SIGINT", "swapping")])
def test_interrupted_decide_leaves_the_previous_output(tmp_path, sig_name, phase):
    """A real `supportsim decide`, stopped while it simulates, writes or swaps its folder in
    (``SUPPORTSIM_TEST_PAUSE_AT``: the test waits for that state, not for time): exit 130 and one
    message; the earlier output stays whole, or (signal held during the swap) the new one is
    complete and the message says so."""
    import signal

    from sim.cli import main
    from tests.procs import cli, start

    scenario = _tiny_file(tmp_path)
    out = tmp_path / "out"
    base = ["decide", str(scenario), "--out", str(out), "--workers", "1"]
    assert main([*base, "--samples", "2", "--quiet", "--no-plots"]) == 0  # the earlier output (in-process: quick)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    child = start(cli(*base, "--samples", "4", "--no-plots"), tmp_path / "work", pause=phase)
    try:
        child.wait_paused()
        child.send(getattr(signal, sig_name))
        code, err = child.finish()
    finally:
        child.kill()
    assert code == 130, (code, err)
    assert len([line for line in err.splitlines() if line.startswith("interrupted")]) == 1, err
    assert "Traceback" not in err, err
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    if phase == "swapping":  # held until the swap is complete: the new output, and the message says so
        assert after != before and {"decision.json", "psa.csv"} <= set(after), sorted(after)
        assert json.loads(after["decision.json"])["samples"] == 4
        assert f"interrupted after the results were written to {out}" in err, err
    else:
        assert after == before
        assert "interrupted: no results written" in err, err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_probability_best_title_calls_a_close_call():
    from sim.output import decision_plots as D

    table = pd.DataFrame({"policy": ["flat", "tiered"], "expected_value": [2.0, 1.0], "prob_best": [0.49, 0.51],
                          "prob_best_se": [0.05, 0.05], "expected_loss": [3.0, 4.0], "recommended": [True, False]})
    ax = D.plot_probability_best(table, samples=100)
    assert ax.get_title() == "A close call: flat is best in 49%, tiered in 51% of 100 plausible worlds"
    assert psa.percent(0.995) == "99.5%" and psa.percent(0.004) == "0.4%" and psa.percent(0.5) == "50%"
