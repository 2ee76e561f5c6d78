"""supportsim optimise (issue 22): the search space and its errors, the selection procedures,
determinism across executors, constraints, robust and Pareto modes, the files and the CLI.
Small and deterministic: the smoke scenario (300 customers, 6 months), a dozen trials."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from sim.cli.main import main
from sim.output import files
from sim.output.optimise_files import answer, guarantee_text, optimum_toml, write_optimise
from sim.params.scenario import ScenarioError, load, load_text, resolve_policies
from sim.runs import optimise as opt
from sim.runs.executors import ProcessExecutor
from sim.runs.experiment import Job, run_job_kpis
from sim.runs.options import RunOptions
from sim.runs.search_space import Constraint, check_dimensions, parse_constraint, parse_dimension
from sim.runs.selection import kim_nelson, screen_to_the_best
from tests.conftest import SCENARIOS

SMOKE = load(SCENARIOS / "smoke.toml")
BASELINE = load(SCENARIOS / "baseline.toml")
SMALL = dict(trials=10, candidates=2, first_stage=4, max_fresh=40, batch=4, options=RunOptions(replications=2))


def _params(scenario, name):
    return next(p.params for p in resolve_policies(scenario) if p.name == name)


def _check(*args, policy="per_ticket", scenario=BASELINE):
    return check_dimensions([parse_dimension(a) for a in args], policy=policy, params=_params(scenario, policy))


# ---------------------------------------------------------------------------- the search space


def test_dimensions_parse_ranges_logs_integers_and_choices():
    fee, sla, days, scheme = _check("pricing.per_ticket_fee_usd=0:60", "support.sla_target_h=1:48:log",
                                    "support.open_days=5:7", "pricing.scheme=per_ticket,per_hour")
    assert (fee.kind, fee.low, fee.high, fee.log) == ("float", 0.0, 60.0, False)
    assert sla.log and sla.kind == "float"
    assert days.kind == "int"  # an integer field searches whole numbers without :int
    assert scheme.kind == "choice" and scheme.choices == ("per_ticket", "per_hour")
    assert fee.snap(12.34567) == 12.35 and sla.snap(3.14159265) == 3.142 and days.snap(5.6) == 6
    (tier,) = _check("policies.tiered.customers.segments.*.tier_sla_h=2:48", policy="tiered")
    assert tier.path == "customers.segments.*.tier_sla_h"


@pytest.mark.parametrize("arg,policy,words", [
    ("pricing.per_tiket_fee_usd=0:60", "per_ticket", ["unknown parameter", "did you mean 'per_ticket_fee_usd'"]),
    ("pricing.per_ticket_fee_usd=-5:60", "per_ticket", ["-5 is out of range", "[0, 10000]"]),
    ("pricing.price_multiplier=0.05:2", "flat", ["0.05 is out of range", "[0.1, 10]"]),
    ("customers.segments.0.tier_sla_h=0:24", "tiered", ["0 is out of range", "(0, 720]"]),
    ("pricing.per_ticket_fee_usd=0:60", "flat", ["acts only when pricing.scheme is per_ticket", "'flat'"]),
    ("customers.segments.0.tier_sla_h=1:24", "flat", ["acts only when pricing.scheme is tiered"]),
    ("support.agents=2:9", "flat", ["acts only when support.staffing is fixed"]),
    ("vip.min_funding_usd=1e5:1e7", "flat", ["acts only when vip.enabled is true"]),
    ("customers.segments.7.tier_sla_h=1:24", "tiered", ["no such item", "3 segments"]),
    ("pricing.scheme=flat,bogus", "flat", ["bogus not allowed", "'per_hour'"]),
    ("pricing.scheme=0:3", "flat", ["a choice parameter takes a list"]),
    ("support.open_hour=3.5:9", "flat", ["whole-number range needs whole ends"]),
    ("support.sla_target_h=0:48:log", "flat", ["(0, 720]"]),
    ("pricing.price_multiplier=2:1", "flat", ["LO must be below HI"]),
    ("pricing.price_multiplier=1.2", "flat", ["at least two values", "--set"]),
    ("policies.tiered.pricing.price_multiplier=1:2", "flat", ["changes policy 'flat' only"]),
    ("run.months=6:12", "flat", ["not part of a policy's design"]),
    ("customers.segments.0.name=a,b", "flat", ["not a numeric or choice parameter"]),
])
def test_bad_dimensions_name_the_field_and_what_is_allowed(arg, policy, words):
    with pytest.raises(ScenarioError) as exc:
        _check(arg, policy=policy)
    text = str(exc.value)
    assert "--param" in text and all(w in text for w in words), text


def test_a_parameter_acts_when_the_design_also_sets_its_switch():
    dims = _check("pricing.scheme=flat,per_ticket", "pricing.per_ticket_fee_usd=0:60", policy="flat")
    assert [d.path for d in dims] == ["pricing.scheme", "pricing.per_ticket_fee_usd"]
    with pytest.raises(ScenarioError, match="none of the values --param pricing.scheme tries"):
        _check("pricing.scheme=flat,tiered", "pricing.per_ticket_fee_usd=0:60", policy="flat")


def test_constraints_parse_with_percentages():
    assert parse_constraint("support_cost_share<=10%") == Constraint("support_cost_share", "<=", 0.1)
    assert parse_constraint("avg_retention_rate_pct >= 95%") == Constraint("avg_retention_rate_pct", ">=", 95.0)
    assert parse_constraint("sla_met_share=>0.8").op == ">="
    c = parse_constraint("value_usd>=1e6")
    assert c.met(2e6) and not c.met(5e5) and not c.met(float("nan"))
    for bad, words in (("retention>95", "expected KPI>=X"), ("value>=1", "did you mean 'value_usd'"),
                       ("value_usd<=10%", "not a percentage")):
        with pytest.raises(ScenarioError, match=words):
            parse_constraint(bad)


# ---------------------------------------------------------------------------- selection procedures


def _slippage(rng, k=5, delta=1.0, sd=3.0, n=600):
    mu = np.zeros(k)
    mu[2] = delta
    common = rng.standard_normal(n)  # common random numbers: a shared part of every system's noise
    return mu[:, None] + sd * (0.8 * common + 0.6 * rng.standard_normal((k, n)))


def test_kim_nelson_picks_the_best_with_its_stated_probability():
    rng = np.random.default_rng(11)
    wins = sum(kim_nelson(lambda s, n, x=_slippage(rng): x[list(s), :n], 5, n0=10, delta=1.0).chosen == 2
               for _ in range(300))
    assert wins / 300 >= 0.93  # >= 0.95 by the theorem; 0.93 leaves room for 300 Monte Carlo trials


def test_kim_nelson_in_batches_is_the_one_at_a_time_procedure():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = _slippage(rng, delta=0.5)
        one = kim_nelson(lambda s, n, x=x: x[list(s), :n], 5, n0=10, delta=0.5, step=1)
        batched = kim_nelson(lambda s, n, x=x: x[list(s), :n], 5, n0=10, delta=0.5, step=7)
        assert (one.chosen, one.replications, one.eliminated_at) == (
            batched.chosen, batched.replications, batched.eliminated_at)


def test_kim_nelson_edge_cases():
    x = np.arange(20.0).reshape(1, 20)
    assert kim_nelson(lambda s, n: x[list(s), :n], 1, n0=5, delta=1.0).chosen == 0
    same = np.tile(np.arange(30.0), (3, 1))  # identical systems (identical runs): the first, at once
    sel = kim_nelson(lambda s, n: same[list(s), :n], 3, n0=5, delta=1.0)
    assert (sel.chosen, sel.replications, sel.truncated) == (0, [5, 5, 5], False)
    noisy = np.random.default_rng(0).standard_normal((3, 50)) * 100
    capped = kim_nelson(lambda s, n: noisy[list(s), :n], 3, n0=5, delta=0.01, max_n=12)
    assert capped.truncated and max(capped.replications) == 12
    with pytest.raises(ValueError):
        kim_nelson(lambda s, n: x[list(s), :n], 1, n0=1, delta=1.0)


def test_screen_to_the_best_keeps_the_best():
    rng = np.random.default_rng(5)
    kept = [4 in screen_to_the_best(np.linspace(0, 1, 5)[:, None] + 3 * rng.standard_normal((5, 30)))
            for _ in range(300)]
    assert np.mean(kept) >= 0.93
    clear = np.array([[0.0] * 10, [10.0] * 10]) + np.random.default_rng(1).standard_normal((2, 10))
    assert screen_to_the_best(clear) == [1]


# ---------------------------------------------------------------------------- the optimiser


@pytest.fixture(scope="module")
def fee_result():
    return opt.optimise(SMOKE, policy="per_ticket", params=["pricing.per_ticket_fee_usd=0:80",
                                                              "support.sla_target_h=1:48:log"], **SMALL)


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    files.write_table(df, {}, buf)
    return buf.getvalue()


def test_serial_and_processes_give_the_same_answer_byte_for_byte(fee_result):
    with ProcessExecutor(2) as ex:
        again = opt.optimise(SMOKE, policy="per_ticket", params=["pricing.per_ticket_fee_usd=0:80",
                                                                  "support.sla_target_h=1:48:log"],
                             **{**SMALL, "options": SMALL["options"].but(executor=ex)})
    assert _csv(again.trials) == _csv(fee_result.trials)
    assert _csv(again.candidates) == _csv(fee_result.candidates)
    assert json.dumps(again.summary(), default=str) == json.dumps(fee_result.summary(), default=str)


def test_trials_are_paired_and_the_selection_uses_fresh_replications(fee_result):
    r = fee_result
    assert len(r.trials) == 10 and r.trials["state"].eq("complete").all()
    assert r.trials.loc[0, "pricing.per_ticket_fee_usd"] == 20.0  # the file's own design is trial 0
    assert r.fresh["first_observation"] == 2 and min(r.fresh["replication_numbers"]) == 2
    assert r.chosen is not None and r.chosen_label
    n = r.fresh["observations"]
    assert r.estimates["value_usd"]["n"] == n >= 4
    # the estimate is the chosen policy's own runs on replications 2 .. 2 + n - 1, never the search's 0 and 1
    params = opt.apply_design(_params(SMOKE, "per_ticket").model_dump(), r.chosen)
    values = [run_job_kpis(Job("x", j, params, SMOKE.run.months, r.seed))["value_usd"] for j in range(2, 2 + n)]
    assert r.estimates["value_usd"]["mean"] == pytest.approx(np.mean(values), rel=1e-12)
    cands = r.candidates
    assert cands["chosen"].sum() == 1 and cands["label"].iloc[-1] == "the file's own design"
    assert r.guarantee["delta"] > 0 and r.guarantee["candidates"] == len(cands)


def test_optimum_toml_reproduces_the_chosen_design(fee_result, tmp_path):
    r = fee_result
    sc = load_text(optimum_toml(r))
    name = r.optimised_name()
    assert name == "per_ticket_optimised"
    resolved = {p.name: p for p in resolve_policies(sc)}
    assert set(resolved) == {"flat", "per_ticket", "flat_vip", name}
    assert resolved[name].label.endswith("(optimised)")
    params = resolved[name].params
    assert params.pricing.per_ticket_fee_usd == r.chosen["pricing.per_ticket_fee_usd"]
    j = r.fresh["replication_numbers"][0]
    assert run_job_kpis(Job(name, j, params, sc.run.months, sc.run.seed)) == run_job_kpis(
        Job("x", j, opt.apply_design(_params(SMOKE, "per_ticket").model_dump(), r.chosen), SMOKE.run.months, r.seed))


def test_outputs_are_written_atomically_with_provenance(fee_result, tmp_path):
    out = write_optimise(fee_result, tmp_path / "opt", plots=False)
    body = json.loads((out / "optimum.json").read_text())
    assert body["chosen"] == fee_result.chosen and body["scenario_sha256"] == fee_result.scenario_sha256
    assert body["seed"] == SMOKE.run.seed and "statement" in body["guarantee"]
    assert body["estimates_fresh"]["value_usd"]["n"] == fee_result.fresh["observations"]
    trials = pd.read_csv(out / "trials.csv")
    assert {"trial", "pricing.per_ticket_fee_usd", "value_usd", "feasible", "scenario_sha256"} <= set(trials.columns)
    assert (out / "optimum.toml").is_file() and (out / "candidates.csv").is_file()
    assert "within" in guarantee_text(fee_result) and "95%" in guarantee_text(fee_result)


def test_an_impossible_constraint_chooses_nothing():
    r = opt.optimise(SMOKE, policy="flat", params=["pricing.price_multiplier=0.8:1.5"],
                     constraints=["avg_retention_rate_pct>=99.99"], **SMALL)
    assert not r.trials["feasible"].any() and r.chosen is None
    assert "none of the" in guarantee_text(r).lower() and answer(r) == [guarantee_text(r)]
    assert set(r.candidates["status"]) == {"breaks a constraint on the first stage"}


def test_constraints_hold_on_the_fresh_replications():
    free = opt.optimise(SMOKE, policy="flat", params=["pricing.price_multiplier=0.5:2.5"], **SMALL)
    cap = free.estimates["avg_retention_rate_pct"]["mean"] + 0.3
    r = opt.optimise(SMOKE, policy="flat", params=["pricing.price_multiplier=0.5:2.5"],
                     constraints=[f"avg_retention_rate_pct>={cap}"], **SMALL)
    assert r.trials["feasible"].any() and not r.trials["feasible"].all()
    assert r.chosen is not None and r.constraints_met == {f"avg_retention_rate_pct >= {cap:g}": True}
    assert r.estimates["avg_retention_rate_pct"]["mean"] >= cap
    assert r.chosen["pricing.price_multiplier"] < free.chosen["pricing.price_multiplier"]


def test_robust_mode_and_a_pareto_front():
    worlds = pd.DataFrame({"satisfaction.resentment_per_usd": [0.0, 0.02, 0.04]})
    r = opt.optimise(SMOKE, policy="per_ticket", params=["pricing.per_ticket_fee_usd=0:80"],
                     kpi=["value_usd", "avg_retention_rate_pct"], worlds=worlds, delta=1e5, **{**SMALL, "trials": 6})
    assert r.robust["worlds"] == 3 and 0 <= r.robust["share_of_worlds_better_than_current"] <= 1
    assert len(r.robust["difference_by_world"]) == 3
    assert r.fresh["replication_numbers"][:3] == [6, 7, 8]  # observation 2 of world w runs replication 2 x 3 + w
    front = r.pareto[["value_usd", "avg_retention_rate_pct"]].to_numpy()
    assert len(front) >= 1 and all(not ((front >= p).all(axis=1) & (front > p).any(axis=1)).any() for p in front)


def test_invalid_designs_fail_the_trial_not_the_search():
    r = opt.optimise(SMOKE, policy="flat", params=["support.open_hour=6:12", "support.close_hour=8:20"],
                     **{**SMALL, "trials": 12})
    bad = r.trials[r.trials["state"] == "invalid"]
    assert len(bad) and bad["note"].str.contains("open_hour").all()
    assert r.chosen is not None and r.chosen["support.open_hour"] < r.chosen["support.close_hour"]


# ---------------------------------------------------------------------------- the command line


def _cli(tmp_path, *extra):
    return main(["optimise", str(SCENARIOS / "smoke.toml"), "--policy", "per_ticket", "--quiet", "--workers", "1",
                 "--param", "pricing.per_ticket_fee_usd=0:80", "--trials", "6", "--replications", "2",
                 "--candidates", "2", "--first-stage", "3", *extra])


@pytest.mark.parametrize("extra,words", [
    (["--param", "pricing.nope=1:2"], "unknown parameter 'nope'"),
    (["--param", "pricing.price_multiplier=0:2"], "0 is out of range; allowed range [0.1, 10]"),
    (["--param", "customers.segments.0.tier_sla_h=1:4"], "acts only when pricing.scheme is tiered"),
    (["--constraint", "retention>95"], "expected KPI>=X or KPI<=X"),
    (["--kpi", "suppressed_share"], "neither direction is better"),
    (["--robust"], "no [uncertainty] table"),
    (["--max-work", "1000"], "workload too large"),
])
def test_cli_bad_input_exits_2_naming_the_field(tmp_path, capsys, extra, words):
    assert _cli(tmp_path, *extra) == 2
    assert words in capsys.readouterr().err


def test_cli_writes_and_ctrl_c_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    out = tmp_path / "opt"
    assert _cli(tmp_path, "--out", str(out)) == 0
    before = (out / "optimum.json").read_text()
    assert "Chosen for policy per_ticket" in capsys.readouterr().out
    calls = {"n": 0}

    def interrupted(job):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return run_job_kpis(job)

    monkeypatch.setattr(opt, "run_job_kpis", interrupted)
    assert _cli(tmp_path, "--out", str(out), "--seed", "9") == 130
    assert (out / "optimum.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt"]  # no temporary folder left


def test_supportsim_run_on_optimum_toml_reproduces_the_chosen_design(fee_result, tmp_path):
    out = write_optimise(fee_result, tmp_path / "opt", plots=False)
    run = tmp_path / "run"
    assert main(["run", str(out / "optimum.toml"), "--out", str(run), "--replications", "2", "--workers", "1",
                 "--no-plots", "--quiet"]) == 0
    kpis = pd.read_csv(run / "kpis.csv")
    mine = kpis[kpis["policy"] == "per_ticket_optimised"].set_index("replication")["value_usd"]
    params = opt.apply_design(_params(SMOKE, "per_ticket").model_dump(), fee_result.chosen)
    for j in (0, 1):
        assert mine[j] == pytest.approx(run_job_kpis(Job("x", j, params, SMOKE.run.months, SMOKE.run.seed))["value_usd"],
                                        rel=1e-9)
