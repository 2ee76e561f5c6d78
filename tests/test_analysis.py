"""Sweeps, break-even, sensitivity (tornado) and staffing: the tables other code plots, their
statistics, their agreement with plain runs, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.params.scenario import ScenarioError, load, resolve_policies
from sim.runs import metrics, paths, staffing
from sim.runs import studies as analysis
from sim.runs import tornado as tornado_mod
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("analysis")

SMOKE = SCENARIOS / "smoke.toml"
KPIS = list(metrics.KPIS)


@pytest.fixture(scope="module")
def smoke():
    return load(SMOKE)


@pytest.fixture(scope="module")
def fixed():
    return load(SMOKE, ["support.staffing=fixed", "run.replications=3"])


# ---------------------------------------------------------------------------- values and paths


@pytest.mark.parametrize("spec,expected", [
    ("4:16:4", [4, 8, 12, 16]),
    ("1:3", [1, 2, 3]),
    ("0.5:1.5:0.25", [0.5, 0.75, 1.0, 1.25, 1.5]),
    ("0:1:0.3", [0.0, 0.3, 0.6, 0.9]),
    ("3,5,8", [3, 5, 8]),
    ("0.1, 2", [0.1, 2]),
    ("flat,tiered", ["flat", "tiered"]),
])
def test_parse_values(spec, expected):
    got = paths.parse_values(spec)
    assert got == pytest.approx(expected) if not isinstance(expected[0], str) else got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]


@pytest.mark.parametrize("spec", ["5:1", "1:5:0", "1:5:-1", "", "1,,2", "0:100000:1"])
def test_parse_values_errors(spec):
    with pytest.raises(ScenarioError, match="--param"):
        paths.parse_values(spec)


def test_base_path_also_moves_policies_that_override_it(smoke):
    s = paths.with_values(smoke, {"pricing.per_ticket_fee_usd": 33.0})
    fees = {p.name: p.params.pricing.per_ticket_fee_usd for p in resolve_policies(s)}
    assert fees == {"flat": 33.0, "per_ticket": 33.0, "flat_vip": 33.0}
    one = paths.with_values(smoke, {"policies.per_ticket.pricing.per_ticket_fee_usd": 7.0})
    fees = {p.name: p.params.pricing.per_ticket_fee_usd for p in resolve_policies(one)}
    assert fees == {"flat": 0.0, "per_ticket": 7.0, "flat_vip": 0.0}
    star = paths.with_values(smoke, {"customers.segments.*.issue_rate_per_month": 2.0})
    assert {seg.issue_rate_per_month for seg in star.customers.segments} == {2.0}


@pytest.mark.parametrize("values,needle", [
    ({"support.agents": 0}, r"support\.agents.*\[1, 5000\]"),
    ({"support.agnets": 3}, "did you mean 'agents'"),
    ({"policies.nope.support.agents": 3}, "no policy named 'nope'"),
    ({"customers.segments.9.share": 1}, "list index"),
])
def test_with_values_errors_name_the_field(smoke, values, needle):
    with pytest.raises(ScenarioError, match=needle):
        paths.with_values(smoke, values)


# ---------------------------------------------------------------------------- sweep


@pytest.fixture(scope="module")
def tidy2d(fixed):
    return analysis.sweep(fixed, grid={"support.agents": [1, 3], "pricing.per_ticket_fee_usd": [5.0, 40.0]},
                          policies=["flat", "per_ticket"])


def test_sweep_tidy_layout(tidy2d):
    assert list(tidy2d.columns) == ["support.agents", "pricing.per_ticket_fee_usd", "policy", "replication", *KPIS]
    assert len(tidy2d) == 2 * 2 * 2 * 3
    assert set(tidy2d["policy"]) == {"flat", "per_ticket"}
    assert tidy2d.groupby(["support.agents", "pricing.per_ticket_fee_usd", "policy"]).size().eq(3).all()
    assert tidy2d.attrs["params"] == ["support.agents", "pricing.per_ticket_fee_usd"]


def test_sweep_point_equals_a_plain_run_with_that_value(tidy2d):
    """Same seed, same replications: a grid point reproduces `run` with --set of its values
    (a swept base path also moves the policies that override it: per_ticket's own fee)."""
    plain = run_scenario(load(SMOKE, ["support.staffing=fixed", "run.replications=3", "support.agents=3",
                                      "pricing.per_ticket_fee_usd=40.0",
                                      "policies.per_ticket.pricing.per_ticket_fee_usd=40.0"]))
    got = tidy2d[(tidy2d["support.agents"] == 3) & (tidy2d["pricing.per_ticket_fee_usd"] == 40.0)]
    want = plain.kpis[plain.kpis["policy"].isin(["flat", "per_ticket"])]
    pd.testing.assert_frame_equal(got[["policy", "replication", *KPIS]].reset_index(drop=True),
                                  want[["policy", "replication", *KPIS]].reset_index(drop=True), check_dtype=False)


def test_sweep_moves_the_kpis(tidy2d):
    """Metered demand falls as the fee rises; flat pricing ignores the per-ticket fee."""
    mean = tidy2d.groupby(["policy", "pricing.per_ticket_fee_usd"])["suppressed_share"].mean()
    assert mean["per_ticket", 40.0] > mean["per_ticket", 5.0]
    assert mean["flat", 40.0] == mean["flat", 5.0]


def test_sweep_summary_matches_the_tidy_table(tidy2d):
    summary = analysis.sweep_summary(tidy2d)
    assert list(summary.columns) == ["support.agents", "pricing.per_ticket_fee_usd", "policy", "kpi", "mean",
                                     "ci_low", "ci_high", "n"]
    assert len(summary) == 2 * 2 * 2 * len(KPIS)
    row = summary[(summary["support.agents"] == 1) & (summary["pricing.per_ticket_fee_usd"] == 5.0)
                  & (summary["policy"] == "per_ticket") & (summary["kpi"] == "cumulative_profit")].iloc[0]
    x = tidy2d[(tidy2d["support.agents"] == 1) & (tidy2d["pricing.per_ticket_fee_usd"] == 5.0)
               & (tidy2d["policy"] == "per_ticket")]["cumulative_profit"].to_numpy()
    half = 4.302652729911275 * x.std(ddof=1) / np.sqrt(3)  # t(0.975, 2 df)
    assert row["mean"] == pytest.approx(x.mean())
    assert row["ci_high"] - row["mean"] == pytest.approx(half) and row["n"] == 3


def test_sweep_differences_are_paired_by_replication(tidy2d):
    diffs = analysis.sweep_differences(tidy2d)
    assert set(diffs["policy"]) == {"per_ticket"}
    row = diffs[(diffs["support.agents"] == 3) & (diffs["pricing.per_ticket_fee_usd"] == 40.0)
                & (diffs["kpi"] == "customers_at_horizon")].iloc[0]
    at = tidy2d[(tidy2d["support.agents"] == 3) & (tidy2d["pricing.per_ticket_fee_usd"] == 40.0)]
    a = at[at["policy"] == "flat"].set_index("replication")["customers_at_horizon"]
    b = at[at["policy"] == "per_ticket"].set_index("replication")["customers_at_horizon"]
    assert row["mean"] == pytest.approx((b - a).mean())


def test_sweep_ctrl_c_keeps_the_finished_runs(fixed):
    def stop(done, total):
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(analysis.SweepInterrupted) as info:
        analysis.sweep(fixed, grid={"support.agents": [1, 2]}, options=RunOptions(on_progress=stop))
    assert len(info.value.tidy) == 4 and info.value.tidy.attrs["partial"] is True


def test_cli_sweep_keep_partial_takes_the_one_way_out(tmp_path, monkeypatch, capsys):
    """`sweep --keep-partial` stopped after 4 runs: the finished runs written, marked partial, and
    the same exit as every interrupted verb (130, one message saying what was kept where)."""
    from sim.cli import main
    from sim.cli import studies as studies_cli

    real = studies_cli.analysis.sweep

    def stopped_after_4(*args, **kwargs):  # noqa: ANN002, ANN003
        def stop(done, total):  # noqa: ANN001
            if done >= 4:
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "options": kwargs["options"].but(on_progress=stop)})

    monkeypatch.setattr(studies_cli.analysis, "sweep", stopped_after_4)
    out = tmp_path / "sw"
    assert main(["sweep", str(SMOKE), "--param", "support.agents=1,2", "--set", "support.staffing=fixed", "--out",
                 str(out), "--keep-partial", "--workers", "1", "--quiet", "--set", "run.months=3",
                 "--set", "run.replications=2"]) == 130
    err = capsys.readouterr().err
    assert err.splitlines() == [f"interrupted: 4 finished runs kept in {out} (partial)"], err
    assert len(pd.read_csv(out / "tidy.csv")) == 4
    assert json.loads((out / "sweep.json").read_text())["partial"] is True


def test_sweep_refuses_three_parameters_and_bad_values(fixed):
    with pytest.raises(ScenarioError, match="one or two"):
        analysis.sweep(fixed, grid={"support.agents": [1], "churn.switching_ease": [1.0], "wom.referral_rate_wow": [0]})
    with pytest.raises(ScenarioError, match=r"support\.agents"):
        analysis.sweep(fixed, grid={"support.agents": [2, -1]})
    with pytest.raises(ScenarioError, match="--policies.*allowed values: flat"):
        analysis.sweep(fixed, grid={"support.agents": [1]}, policies=["flat", "nope"])


def test_sweep_guardrail(fixed):
    with pytest.raises(ScenarioError, match="workload too large"):
        analysis.sweep(fixed, grid={"support.agents": list(range(1, 11))}, options=RunOptions(max_work=10_000))


# ---------------------------------------------------------------------------- break-even


def test_breakeven_interval_from_a_known_curve():
    """Mean v - 5 with a band of +-1: the tie is at 5, noise cannot separate 4 to 6."""
    xs = np.linspace(0, 10, 11)
    table = pd.DataFrame({"value": xs, "mean": xs - 5, "ci_low": xs - 6, "ci_high": xs - 4})
    out = analysis._breakeven_of(table, 0, 10)
    assert out["breakeven"] == pytest.approx(5.0)
    assert out["breakeven_ci"] == pytest.approx([4.0, 6.0], abs=0.01)
    assert not out["breakeven_ci_clipped"]
    never = table.assign(mean=xs + 1, ci_low=xs + 0.5, ci_high=xs + 2)
    out = analysis._breakeven_of(never, 0, 10)
    assert out["breakeven"] is None and out["sign"] == "policy_b ahead everywhere"
    # identical policies at the first value (a per-ticket fee of 0 is flat pricing): a tie, not a break-even
    tie = table.assign(mean=-xs, ci_low=-xs - 0.5 * (xs > 0), ci_high=-xs + 0.5 * (xs > 0))
    out = analysis._breakeven_of(tie, 0, 10)
    assert out["breakeven"] is None and out["ties"] == [0.0]
    shifted = table.assign(mean=xs - 5.5, ci_low=xs - 6.5, ci_high=xs - 4.5)  # root between grid points
    assert analysis._breakeven_of(shifted, 0, 10)["breakeven"] == pytest.approx(5.5)


@pytest.fixture(scope="module")
def price_breakeven(smoke):
    # flat's price multiplier: cheap flat support loses to per-ticket, dear flat support wins
    return analysis.breakeven(smoke, param="policies.flat.pricing.price_multiplier", between=(0.6, 1.4),
                              kpi="cumulative_profit", policy_a="flat", policy_b="per_ticket", points=3, refine=3,
                              options=RunOptions(replications=4))


def test_breakeven_curve_table(price_breakeven):
    curve = price_breakeven
    assert list(curve.columns) == ["value", "mean", "ci_low", "ci_high"]
    assert curve["value"].is_monotonic_increasing and len(curve) == 3 + 3
    assert {"param", "kpi", "policy_a", "policy_b", "breakeven", "breakeven_ci"} <= set(curve.attrs)
    assert (curve["ci_low"] <= curve["mean"]).all() and (curve["mean"] <= curve["ci_high"]).all()


def test_breakeven_lies_where_the_difference_changes_sign(price_breakeven):
    curve, a = price_breakeven, price_breakeven.attrs
    assert a["breakeven"] is not None
    below = curve[curve["value"] < a["breakeven"]]["mean"]
    above = curve[curve["value"] > a["breakeven"]]["mean"]
    assert (below > 0).all() and (above < 0).all()
    lo, hi = a["breakeven_ci"]
    assert 0.6 <= lo <= a["breakeven"] <= hi <= 1.4
    # bisection put the added points inside the first bracket
    assert ((curve["value"] > 0.6) & (curve["value"] < 1.4)).sum() == 1 + 3


def test_breakeven_at_a_policy_path_matches_a_plain_paired_run(price_breakeven, smoke):
    v = 1.0
    row = price_breakeven[price_breakeven["value"] == v].iloc[0]
    plain = run_scenario(load(SMOKE, ["run.replications=4", f"policies.flat.pricing.price_multiplier={v}"]))
    d = plain.differences()["per_ticket"]["cumulative_profit"]
    assert row["mean"] == pytest.approx(d["mean"]) and row["ci_low"] == pytest.approx(d["ci_low"])


@pytest.mark.parametrize("kwargs,needle", [
    ({"between": (5, 1)}, "--between"),
    ({"kpi": "profit"}, "--kpi.*cumulative_profit"),
    ({"policy_a": "flat", "policy_b": "flat"}, "two different policies"),
    ({"policy_b": "nope"}, "--policies"),
    ({"param": "support.agnets"}, "did you mean 'agents'"),
    ({"between": (-5, 5)}, r"per_ticket_fee_usd.*\[0, 10000\]"),
])
def test_breakeven_errors(smoke, kwargs, needle):
    args = {"param": "pricing.per_ticket_fee_usd", "between": (0, 50), **kwargs}
    with pytest.raises(ScenarioError, match=needle):
        analysis.breakeven(smoke, **args)


# ---------------------------------------------------------------------------- sensitivity


@pytest.fixture(scope="module")
def tornado(smoke):
    return tornado_mod.sensitivity(
        smoke, policy_a="flat", policy_b="per_ticket", delta=0.25,
        parameters=["churn.switching_ease", "customers.segments.*.fee_sensitivity_per_usd"],
        ranges={"acquisition.cac_multiple": (5.0, 25.0)}, options=RunOptions(replications=3))


TORNADO_COLUMNS = ["parameter", "label", "low_value", "high_value", "base_mean", "low_mean", "low_ci_low",
                   "low_ci_high", "high_mean", "high_ci_low", "high_ci_high", "swing"]


def test_tornado_layout_and_order(tornado):
    assert list(tornado.columns) == TORNADO_COLUMNS
    assert set(tornado["parameter"]) == {"churn.switching_ease", "customers.segments.*.fee_sensitivity_per_usd",
                                         "acquisition.cac_multiple"}
    assert tornado["swing"].is_monotonic_decreasing
    assert np.allclose(tornado["swing"], (tornado["high_mean"] - tornado["low_mean"]).abs())
    # value_usd is the default decision KPI (issue 11)
    assert tornado.attrs == {**tornado.attrs, "kpi": "value_usd", "policy_a": "flat", "policy_b": "per_ticket"}


def test_tornado_values(tornado, smoke):
    row = tornado.set_index("parameter")
    assert row.loc["churn.switching_ease", "low_value"] == pytest.approx(0.75)
    assert row.loc["churn.switching_ease", "high_value"] == pytest.approx(1.25)
    assert row.loc["acquisition.cac_multiple", ["low_value", "high_value"]].tolist() == [5.0, 25.0]
    segs = smoke.customers.segments
    weighted = sum(s.share * s.fee_sensitivity_per_usd for s in segs)
    assert row.loc["customers.segments.*.fee_sensitivity_per_usd", "high_value"] == pytest.approx(1.25 * weighted)
    # dearer acquisition hurts the policy that loses more customers: per_ticket - flat falls
    assert row.loc["acquisition.cac_multiple", "high_mean"] < row.loc["acquisition.cac_multiple", "low_mean"]


def test_tornado_base_matches_a_plain_run(tornado):
    plain = run_scenario(load(SMOKE, ["run.replications=3"]))
    assert tornado["base_mean"].iloc[0] == pytest.approx(plain.differences()["per_ticket"]["value_usd"]["mean"])


def test_sensitivity_errors(smoke):
    with pytest.raises(ScenarioError, match="base value is 0"):
        tornado_mod.sensitivity(smoke, parameters=["acquisition.growth_per_month"])
    with pytest.raises(ScenarioError, match="--delta"):
        tornado_mod.sensitivity(smoke, delta=1.5)
    with pytest.raises(ScenarioError, match="not a numeric"):
        tornado_mod.sensitivity(smoke, parameters=["pricing.scheme"])
    with pytest.raises(ScenarioError, match="out of range"):
        tornado_mod.sensitivity(smoke, parameters=[], ranges={"help_seeking.base_ask_prob": (0.5, 1.5)})


def test_default_sensitivity_parameters_exist_and_move(smoke):
    for path, _, documented in tornado_mod.SENSITIVITY_PARAMETERS:
        swing = tornado_mod._swing_for(smoke, path, path, 0.2, None, documented)
        assert swing.low_value < swing.high_value, path
        paths.with_values(smoke, swing.high)  # valid values


# ---------------------------------------------------------------------------- staff


@pytest.fixture(scope="module")
def busy():
    # SLAs on the business clock: with calendar SLAs a Mon-Fri desk misses every off-hours ticket
    # whatever its staff, and no number of agents reaches 95%
    return load(SMOKE, ["customers.initial=1500", "run.replications=2", "support.sla_clock=business"])


def test_staff_search_agrees_with_a_full_scan(busy):
    searched = staffing.staff(busy, sla=0.95, policies=["flat", "per_ticket"])
    scanned = staffing.staff(busy, sla=0.95, policies=["flat", "per_ticket"], agents=[1, 2, 3, 4])
    assert list(searched.columns) == ["policy", "agents", "sla_met_share", "ci_low", "ci_high", "support_cost"]
    assert searched.attrs["answer"] == scanned.attrs["answer"]
    for policy, n in scanned.attrs["answer"].items():
        rows = scanned[scanned["policy"] == policy].set_index("agents")
        assert rows.loc[n, "sla_met_share"] >= 0.95
        assert (rows.loc[rows.index < n, "sla_met_share"] < 0.95).all()
    # more agents never answer fewer tickets on time, and cost more
    for _, g in scanned.groupby("policy"):
        assert g["sla_met_share"].is_monotonic_increasing and g["support_cost"].is_monotonic_increasing


def test_metering_needs_no_more_agents_than_flat(busy):
    """The cost side of the Netflix argument: flat pricing invites tickets that need staff."""
    t = staffing.staff(busy, sla=0.95, policies=["flat", "per_ticket"], agents=[1, 2, 3, 4, 5])
    answer = t.attrs["answer"]
    assert answer["per_ticket"] is not None and answer["flat"] is not None
    assert answer["per_ticket"] <= answer["flat"]
    flat1 = t[(t["policy"] == "flat") & (t["agents"] == 1)]["sla_met_share"].iloc[0]
    meter1 = t[(t["policy"] == "per_ticket") & (t["agents"] == 1)]["sla_met_share"].iloc[0]
    assert meter1 > flat1


def test_staff_strict_needs_at_least_as_many(busy):
    loose = staffing.staff(busy, sla=0.9, policies=["flat"], agents=[1, 2, 3])
    strict = staffing.staff(busy, sla=0.9, policies=["flat"], agents=[1, 2, 3], strict=True)
    assert strict.attrs["answer"]["flat"] is None or strict.attrs["answer"]["flat"] >= loose.attrs["answer"]["flat"]


def test_staff_errors(busy):
    with pytest.raises(ScenarioError, match="--sla"):
        staffing.staff(busy, sla=1.5)
    with pytest.raises(ScenarioError, match="--agents"):
        staffing.staff(busy, agents=[0, 2])


# ---------------------------------------------------------------------------- the CLI verbs


def _main(*args: str) -> int:
    from sim.cli import main

    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code)


@pytest.mark.parametrize("verb,option", [("sweep", "--param"), ("breakeven", "--between"),
                                         ("sensitivity", "--delta"), ("staff", "--sla")])
def test_every_verb_has_help(verb, option, capsys):
    assert _main(verb, "--help") == 0
    out = capsys.readouterr().out
    assert option in out and "--cluster" in out and "--set" in out


def test_cli_sweep_writes_tables_atomically(tmp_path, capsys):
    out = tmp_path / "sw"
    assert _main("sweep", str(SMOKE), "--param", "support.agents=1:2", "--set", "support.staffing=fixed",
                 "--replications", "2", "--policies", "flat,per_ticket", "--workers", "1", "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == [".supportsim-manifest.json", "differences.csv", "summary.csv",
                                                     "sweep.json", "sweep.png", "sweep.svg", "tidy.csv"]
    tidy = pd.read_csv(out / "tidy.csv")
    assert len(tidy) == 2 * 2 * 2 and {"support.agents", "seed", "scenario_sha256"} <= set(tidy.columns)
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["grid"] == {"support.agents": [1, 2]} and meta["partial"] is False
    assert metrics.KPIS["value_usd"].title in capsys.readouterr().out  # the default KPI
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sw"]


def test_cli_sweep_refuses_agents_without_fixed_staffing(capsys):
    """support.agents is read only under fixed staffing: a sweep of it over Erlang-staffed policies
    cannot move anything, so it is refused (exit 2) with the way to make it act."""
    assert _main("sweep", str(SMOKE), "--param", "support.agents=1", "--replications", "1", "--workers", "1",
                 "--policies", "flat") == 2
    assert "support.staffing=fixed" in capsys.readouterr().err


def test_cli_breakeven_sensitivity_staff(tmp_path, capsys):
    assert _main("breakeven", str(SMOKE), "--param", "policies.flat.pricing.price_multiplier", "--between", "0.6",
                 "1.4", "--points", "3", "--refine", "1", "--policies", "flat,per_ticket", "--replications", "2",
                 "--workers", "1", "--out", str(tmp_path / "be")) == 0
    meta = json.loads((tmp_path / "be" / "breakeven.json").read_text())
    assert meta["param"] == "policies.flat.pricing.price_multiplier" and "breakeven_ci" in meta
    assert "break-even" in capsys.readouterr().out
    assert {f"breakeven.{x}" for x in ("png", "svg")} <= {p.name for p in (tmp_path / "be").iterdir()}
    assert _main("sensitivity", str(SMOKE), "--param", "churn.switching_ease", "--replications", "2", "--workers",
                 "1", "--out", str(tmp_path / "se")) == 0
    out = capsys.readouterr().out
    assert "paired by replication" in out and "95% CI" in out  # the paired difference at the base values
    assert "e+" not in out  # one number format per column, no scientific notation
    assert (tmp_path / "se" / "tornado.png").exists()
    assert list(pd.read_csv(tmp_path / "se" / "tornado.csv").columns[:12]) == TORNADO_COLUMNS
    assert _main("staff", str(SMOKE), "--agents", "1:2", "--replications", "2", "--workers", "1",
                 "--out", str(tmp_path / "st")) == 0
    meta = json.loads((tmp_path / "st" / "staff.json").read_text())
    assert set(meta["answer"]) == {"flat", "per_ticket", "flat_vip"}
    assert "fewest agents" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (["sweep", str(SMOKE), "--param", "support.agents=0:2"], "support.agents"),
    (["sweep", str(SMOKE), "--param", "support.agents"], "path=values"),
    (["breakeven", str(SMOKE), "--param", "pricing.per_ticket_fee_usd", "--between", "9", "1"], "--between"),
    (["breakeven", str(SMOKE), "--param", "x", "--between", "0", "1", "--kpi", "nope"], "--kpi"),
    (["breakeven", str(SMOKE), "--param", "x", "--between", "0", "1", "--policies", "flat"], "exactly two"),
    # a fee no compared policy charges cannot move their difference: refused before any run
    (["breakeven", str(SMOKE), "--param", "pricing.per_hour_fee_usd", "--between", "0", "60"],
     "cannot change their difference"),
    (["breakeven", str(SMOKE), "--param", "pricing.per_ticket_fee_usd", "--between", "0", "60", "--policies",
      "flat,flat_vip"], "try --policies flat,per_ticket"),
    (["sensitivity", str(SMOKE), "--range", "churn.switching_ease=2:1"], "--range"),
    (["staff", str(SMOKE), "--agents", "1.5,2"], "--agents"),
    (["staff", str(SMOKE), "--cluster", "nowhere"], "--cluster"),
])
def test_cli_bad_input_exits_2_naming_the_problem(args, needle, capsys, tmp_path):
    assert _main(*args, "--out", str(tmp_path / "o")) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_errors_have_no_traceback(tmp_path):
    from tests.procs import supportsim

    r = supportsim("sweep", str(SMOKE), "--param", "churn.switching_ease=9")
    assert r.returncode == 2, r.stderr
    assert "churn.switching_ease" in r.stderr and "[0, 5]" in r.stderr and "Traceback" not in r.stderr


def test_breakeven_without_policies_picks_a_policy_the_parameter_acts_on():
    from sim.cli.studies import breakeven_pair

    sc = load(SMOKE, ["scenario.reference_policy=flat"])
    assert breakeven_pair(sc, "pricing.per_ticket_fee_usd", None, None) == ("flat", "per_ticket")
    assert breakeven_pair(sc, "vip.sla_h", None, None) == ("flat", "flat_vip")
    assert breakeven_pair(sc, "churn.switching_ease", None, None)[0] == "flat"


def test_cli_sweep_writes_its_plot_and_the_paired_difference(tmp_path, capsys):
    assert _main("sweep", str(SMOKE), "--param", "churn.switching_ease=0.5,1.5", "--replications", "2",
                 "--workers", "1", "--out", str(tmp_path / "sw")) == 0
    assert (tmp_path / "sw" / "sweep.png").exists() and (tmp_path / "sw" / "sweep.svg").exists()
    assert "paired difference vs the reference" in capsys.readouterr().out
