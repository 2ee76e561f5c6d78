"""Every verb is guarded, not only `run`: a benign file whose [uncertainty] table, --param values,
--range or agent counts compound the funnel or the work is refused up front (exit 2) with the
estimate and what to reduce; the studies cost each point with its own parameters, decide each
sample at the worst case of its uncertainty ranges, and run/report/deck count their figures."""

from __future__ import annotations

import time

import pytest

from sim.cli import main
from sim.decision import psa
from sim.params.scenario import ScenarioError, load, load_text, uncertain_parameters
from sim.runs import guardrails, paths
from sim.runs.options import RunOptions
from tests.conftest import BOUNDED_S, SCENARIOS

# Every value in range, nothing compounds: churn 5%, replacement 1 (each churner replaced once).
BENIGN = """
[scenario]
name = "benign base"
[customers]
initial = 2000
[[customers.segments]]
name = "all"
share = 1.0
base_churn_per_month = 0.05
trial_conversion = 0.5
[acquisition]
replacement_share = 1.0
[run]
months = 36
replications = 1
[policies.flat]
pricing.scheme = "flat"
[policies.per_ticket]
pricing.scheme = "per_ticket"
"""
# ... but its ranges reach churn 0.99 with replacement 5 and conversion 1: the base x5 a month.
COMPOUNDING = """
[uncertainty]
"customers.segments.0.base_churn_per_month" = { dist = "uniform", low = 0.05, high = 0.99 }
"acquisition.replacement_share" = { dist = "uniform", low = 1.0, high = 5.0 }
"customers.segments.0.trial_conversion" = { dist = "uniform", low = 0.5, high = 1.0 }
"satisfaction.resentment_per_usd" = { dist = "uniform", low = 0.0, high = 0.03 }
"""


@pytest.fixture
def files(tmp_path):
    benign = tmp_path / "benign.toml"
    benign.write_text(BENIGN)
    table = tmp_path / "table.toml"
    table.write_text(BENIGN + COMPOUNDING)
    return benign, table


def _refused(capsys, argv, *needles):
    t = time.perf_counter()
    rc = main([str(a) for a in argv])
    elapsed = time.perf_counter() - t
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and "a bug" not in err, err
    assert "run refused before it started" in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert elapsed < BOUNDED_S, elapsed  # refused up front, not after running out of memory
    return err


def test_the_benign_base_is_accepted(files):
    benign, table = files
    guardrails.check(load(benign))
    guardrails.check(load(table))  # the table is not a run's parameter: run does not use it


def test_decide_costs_every_sample_at_the_worst_case_of_its_table(files, capsys, tmp_path):
    _, table = files
    err = _refused(capsys, ["decide", table, "--samples", "20", "--quiet", "--out", tmp_path / "d"],
                   "worst case of the [uncertainty] table", "acquisition.replacement_share")
    assert "Narrow the [uncertainty] ranges" in err  # the population compounds: no sample count fits
    assert not (tmp_path / "d").exists()


def test_decide_names_what_to_reduce_when_the_table_multiplies_the_work(files, capsys, tmp_path):
    """No compounding, but the table's dearest end has fifty times the customers: refused at a limit
    the file's own values fit, naming the samples, the parameter and what the file alone costs."""
    benign, _ = files
    path = tmp_path / "bigger.toml"
    path.write_text(BENIGN + '[uncertainty]\n"customers.initial" = { dist = "uniform", low = 2000, high = 100000 }\n')
    scenario = load(path)
    base = guardrails.work(scenario, 1) * 10
    err = _refused(capsys, ["decide", path, "--samples", "10", "--quiet", "--max-work", int(base * 2)],
                   "workload too large", "worst case", "customers.initial=100000", "--samples",
                   "the file's own values cost")
    assert "Narrow" not in err or "narrow the [uncertainty] ranges of customers.initial" in err


def test_the_worst_case_takes_the_dearest_end_of_each_range(files):
    _, table = files
    scenario = load(table)
    worst, values = paths.worst_case(scenario, uncertain_parameters(scenario))
    assert values["acquisition.replacement_share"] == 5.0  # with churn at its top end: the base x5 a month
    assert values["customers.segments.0.base_churn_per_month"] == 0.99
    assert guardrails.work(worst) > guardrails.work(scenario)


def test_the_apps_decision_tab_is_refused_with_a_page_message(files):
    """The app's Decision tab calls run_decision through run_analysis, which shows a ScenarioError
    on the page; its sample limit is the same worst-case work per sample."""
    from sim.app import studies as apprun

    _, table = files
    scenario = load(table)
    with pytest.raises(ScenarioError, match="worst case"):
        psa.run_decision(scenario, samples=2, options=RunOptions(max_work=guardrails.DEFAULT_MAX_WORK))
    assert apprun.decision_max_samples(scenario, guardrails.DEFAULT_MAX_WORK) == 0


@pytest.mark.parametrize("verb", [
    ["sweep", "--param", "acquisition.replacement_share=1,5", "--set", "customers.segments.0.base_churn_per_month=0.99",
     "--set", "customers.segments.0.trial_conversion=1"],
    ["breakeven", "--param", "acquisition.replacement_share", "--between", "1", "5", "--set",
     "customers.segments.0.base_churn_per_month=0.99", "--set", "customers.segments.0.trial_conversion=1"],
    ["sensitivity", "--param", "acquisition.replacement_share", "--range", "acquisition.replacement_share=1:5",
     "--set", "customers.segments.0.base_churn_per_month=0.99", "--set", "customers.segments.0.trial_conversion=1"],
])
def test_studies_cost_each_point_with_its_own_values(files, capsys, tmp_path, verb):
    """At replacement 1 the funnel is steady; a point at 5 compounds it: refused before any run
    (it ran until memory was gone: sweep ended in MemoryError)."""
    benign, _ = files
    base = load(benign, ["customers.segments.0.base_churn_per_month=0.99", "customers.segments.0.trial_conversion=1"])
    guardrails.check(base)  # the base values alone are accepted
    _refused(capsys, [verb[0], benign, *verb[1:], "--replications", "1", "--workers", "1", "--quiet",
                      "--out", tmp_path / "out"], "at acquisition.replacement_share=")


def test_staff_costs_every_agent_count(capsys, tmp_path):
    counts = "1:200"
    scenario = load(SCENARIOS / "smoke.toml", ["run.months=2"])
    one = guardrails.work(load(SCENARIOS / "smoke.toml", ["run.months=2", "support.staffing=fixed",
                                                         "support.agents=1"]), 1)
    limit = int(one * 50)  # fifty points' worth: 200 counts x 3 policies are far more, one count is not
    _refused(capsys, ["staff", SCENARIOS / "smoke.toml", "--agents", counts, "--replications", "1", "--workers", "1",
                      "--set", "run.months=2", "--quiet", "--out", tmp_path / "refused", "--max-work", limit],
             "200 agent counts", "--agents")
    assert main(["staff", str(SCENARIOS / "smoke.toml"), "--agents", "2", "--replications", "1", "--workers", "1",
                 "--set", "run.months=2", "--quiet", "--out", str(tmp_path / "staff"), "--max-work", str(limit)]) == 0
    assert scenario.run.months == 2


def test_run_report_and_deck_count_their_figures(capsys, tmp_path):
    """Figures cost per policy drawn (1.8 CPU-s each measured): with many policies they outweigh the runs."""
    text = "[customers]\ninitial = 1\n[run]\nmonths = 2\nreplications = 1\n" + "".join(
        f"[policies.p{i}]\n" for i in range(30))
    scenario = load_text(text)
    runs_only = guardrails.check(scenario, 1)
    limit = int(runs_only) + 1  # the runs fit; their figures do not
    path = tmp_path / "many.toml"
    path.write_text(text)
    for verb in (["run", "--out", tmp_path / "r"], ["report", "--out", tmp_path / "rep"],
                 ["deck", "--out", tmp_path / "deck.pptx"]):
        _refused(capsys, [verb[0], path, *verb[1:], "--workers", "1", "--quiet", "--max-work", limit],
                 "for the figures")
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--no-plots", "--workers", "1", "--quiet",
                 "--max-work", str(limit)]) == 0


def test_every_run_has_a_fixed_cost():
    """A one-customer run costs a run's and its months' fixed costs (20,000 such policies took 417 s
    on 2 cores against an estimate of 10 s)."""
    tiny = load_text("[customers]\ninitial = 1\n[run]\nmonths = 36\n")
    per_run = guardrails.work(tiny, 1)
    assert per_run >= guardrails.RUN_COST + 36 * guardrails.MONTH_COST
    many = load_text("[customers]\ninitial = 1\n[run]\nmonths = 36\nreplications = 1\n" + "".join(
        f"[policies.p{i}]\n" for i in range(200)))
    assert guardrails.work(many) == pytest.approx(200 * per_run)


