"""report and deck --from DIR (issue 23): a run's folder read back instead of simulating again,
refused when it is another scenario's, incomplete or edited."""

from __future__ import annotations

import json

import pytest
from pptx import Presentation

from sim.cli import common, main
from sim.output import report
from sim.output.runfolder import check_same_run, read_run
from sim.params.scenario import ScenarioError, load
from tests.conftest import SCENARIOS

SMOKE = str(SCENARIOS / "smoke.toml")
SETS = ["--set", "run.months=2", "--set", "customers.initial=150"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runfolder") / "run"
    assert main(["run", SMOKE, "--out", str(out), "--no-plots", "--quiet", "--workers", "1", "--replications", "2",
                 *SETS]) == 0
    return out


def test_the_folder_reads_back_as_the_run(run_dir):
    res = read_run(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert res.scenario_sha256 == summary["scenario_sha256"] and res.replications == 2
    assert res.policies == summary["policies"] and list(res.kpis.columns[:2]) == ["policy", "replication"]
    for p in res.policies:  # the summary recomputed from kpis.csv is the one the run wrote
        for k, s in res.summary()[p].items():
            written = summary["kpis"][p][k]["mean"]  # JSON writes NaN as null
            assert s["mean"] != s["mean"] if written is None else s["mean"] == pytest.approx(written, rel=1e-6)
    assert "supportsim_version" not in res.monthly.columns and res.segments is not None


def test_report_and_deck_from_the_folder_do_not_simulate(run_dir, tmp_path, monkeypatch, capsys):
    def no_runs(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("simulated again")

    monkeypatch.setattr(common, "run_scenario", no_runs)
    assert main(["report", SMOKE, "--out", str(tmp_path / "rep"), "--from", str(run_dir), *SETS]) == 0
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "2 replications per policy" in page and "--replications 2" in page  # the command reproduces it
    sc = load(SCENARIOS / "smoke.toml", ["run.months=2", "customers.initial=150", "run.replications=2"])
    assert report.render(check_same_run(read_run(run_dir), sc, folder=run_dir), plots=False).count("Per ticket ($20)")
    out = tmp_path / "d.pptx"
    assert main(["deck", SMOKE, "--out", str(out), "--from", str(run_dir), "--quiet", *SETS]) == 0
    assert len(Presentation(str(out)).slides) > 3


@pytest.mark.parametrize("argv,why", [
    (["--set", "run.months=3", "--set", "customers.initial=150"], "run.months (folder 2, command 3)"),
    ([*SETS, "--seed", "7"], "run.seed (folder 1, command 7)"),
    ([*SETS, "--replications", "5"], "--replications 5: the run in"),
])
def test_a_folder_of_another_scenario_is_refused(run_dir, tmp_path, capsys, argv, why):
    assert main(["report", SMOKE, "--out", str(tmp_path / "r"), "--from", str(run_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert why in err and err.startswith("error: ") and not (tmp_path / "r").exists()


def test_a_broken_or_edited_folder_is_refused(run_dir, tmp_path):
    import shutil

    with pytest.raises(ScenarioError, match="no such folder"):
        read_run(tmp_path / "nowhere")
    edited = tmp_path / "edited"
    shutil.copytree(run_dir, edited)
    body = json.loads((edited / "summary.json").read_text())
    body["scenario"]["run"]["months"] = 5
    (edited / "summary.json").write_text(json.dumps(body))
    with pytest.raises(ScenarioError, match="edited after the run"):
        read_run(edited)
    body["scenario"]["run"]["months"] = 2
    body["partial"] = True
    (edited / "summary.json").write_text(json.dumps(body))
    with pytest.raises(ScenarioError, match="a partial run"):
        read_run(edited)
    shutil.copytree(run_dir, tmp_path / "other")
    (tmp_path / "other" / "kpis.csv").write_text((run_dir / "kpis.csv").read_text().replace(
        body["scenario_sha256"], "0" * 64))
    with pytest.raises(ScenarioError, match="files of different runs"):
        read_run(tmp_path / "other")


def test_a_scenario_with_an_uncertainty_table_reads_back(tmp_path, capsys):
    """summary.json does not keep the [uncertainty] table (a run does not read it): the folder is
    still the command's scenario (regression: netflix was refused for its table)."""
    baseline = str(SCENARIOS / "baseline.toml")
    tiny = ["--set", "run.months=2", "--set", "customers.initial=100"]
    out = tmp_path / "run"
    assert main(["run", baseline, "--out", str(out), "--no-plots", "--quiet", "--workers", "1", "--replications", "2",
                 *tiny]) == 0
    assert main(["report", baseline, "--out", str(tmp_path / "rep"), "--from", str(out), "--quiet", *tiny]) == 0
