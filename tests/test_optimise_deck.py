""""The best design" slide: `supportsim deck --optimum DIR` reads an optimise folder, checks it
(file, field, scenario) and adds the slide with its guarantee; the app's deck uses the same slide."""

from __future__ import annotations

import json
import shutil

import pytest
from pptx import Presentation

from sim.cli import main
from sim.output import deck
from sim.output.optimise_files import write_optimise
from sim.output.optimise_read import check_optimum_scenario, optimum_of, read_optimum
from sim.output.optimise_slide import guarantee_line
from sim.params.scenario import ScenarioError, load
from sim.runs.optimise import optimise
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.xdist_group("deck")

SMOKE = SCENARIOS / "smoke.toml"
SMALL = dict(trials=8, candidates=2, first_stage=4, max_fresh=40, batch=4, options=RunOptions(replications=2))


@pytest.fixture(scope="module")
def result():
    r = optimise(load(SMOKE), policy="per_ticket", params=["pricing.per_ticket_fee_usd=0:60",
                                                           "pricing.price_multiplier=0.7:1.5"],
                 constraints=["avg_retention_rate_pct>=50"], **SMALL)
    r.command = "supportsim optimise scenarios/smoke.toml --policy per_ticket --out opt"
    return r


@pytest.fixture(scope="module")
def folder(result, tmp_path_factory):
    return write_optimise(result, tmp_path_factory.mktemp("opt") / "opt", plots=False)


def _texts(slide) -> str:
    parts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
    parts += [c.text for s in slide.shapes if s.has_table for row in s.table.rows for c in row.cells]
    return "\n".join(parts)


def _best_design(prs):
    return [s for s in prs.slides if "The best design" in _texts(s)]


def test_a_folder_reads_back_as_the_result_it_was_written_from(result, folder):
    found = read_optimum(folder)
    mine = optimum_of(result)
    assert found.body["chosen"] == mine.body["chosen"] and found.body["guarantee"] == mine.body["guarantee"]
    assert list(found.trials["trial"]) == list(mine.trials["trial"])
    check_optimum_scenario(found, load(SMOKE, ["run.replications=7"]))  # replications may differ


def test_the_slide_states_the_design_its_interval_and_its_guarantee(result, smoke_results):
    prs = deck.build_deck(smoke_results, command="supportsim deck x", optimum=optimum_of(result))
    (slide,) = _best_design(prs)
    text = _texts(slide)
    assert slide.shapes.title.text.startswith("The best design for Per ticket ($20)")  # a native title
    assert "Per ticket fee (USD/ticket)" in text and "95% CI" in text and "fresh replications" in text
    g = result.guarantee
    if g["holds"] and g["feasible_candidates"] > 1:
        assert "of the best of these" in text and "with 95% probability" in text
    assert guarantee_line(optimum_of(result).body) in text
    assert "✓ Average retention rate (%) ≥ 50.00%: " in text and ", met" in text
    notes = slide.notes_slide.notes_text_frame.text
    assert result.command in notes and "supportsim deck x" in notes
    assert [s for s in slide.shapes if s.shape_type == 13][0].name == "convergence"
    titles = [_texts(s) for s in prs.slides]
    assert titles.index(_texts(slide)) == len(titles) - 3  # before what each policy promises and the assumptions


def test_without_an_optimum_the_deck_has_no_such_slide(smoke_results):
    assert not _best_design(deck.build_deck(smoke_results))


def test_cli_deck_with_optimum(folder, tmp_path, capsys):
    out = tmp_path / "deck.pptx"
    assert main(["deck", str(SMOKE), "--out", str(out), "--replications", "2", "--workers", "1", "--quiet",
                 "--optimum", str(folder)]) == 0
    prs = Presentation(str(out))
    (slide,) = _best_design(prs)
    assert f"--optimum {folder}" in slide.notes_slide.notes_text_frame.text


def _deck(folder, tmp_path, *extra):
    return main(["deck", str(SMOKE), "--out", str(tmp_path / "d.pptx"), "--replications", "2", "--workers", "1",
                 "--quiet", "--optimum", str(folder), *extra])


def test_cli_refuses_an_optimum_of_another_scenario(folder, tmp_path, capsys):
    assert _deck(folder, tmp_path, "--set", "customers.initial=301") == 2
    err = capsys.readouterr().err
    assert "does not belong to this scenario" in err and "customers.initial" in err and str(folder) in err
    assert not (tmp_path / "d.pptx").exists()


@pytest.mark.parametrize("edit,words", [
    (lambda b, f: b.__setitem__("policy", "nope"), "optimum.json: incomplete or inconsistent: policy = \"nope\""),
    (lambda b, f: b["guarantee"].__setitem__("delta", -1), "guarantee.delta = -1: a positive number"),
    (lambda b, f: b["estimates_fresh"].pop("value_usd"), "estimates_fresh.value_usd"),
    (lambda b, f: b.__setitem__("scenario_sha256", "0" * 64), "is not the hash of the scenario it holds"),
    (lambda b, f: b["scenario"]["customers"].__setitem__("initial", -3), "its scenario is not valid here"),
    (lambda b, f: (f / "trials.csv").unlink(), "trials.csv: missing"),
    (lambda b, f: (f / "trials.csv").write_text("trial,state\n0,complete\n"), "trials.csv: missing column(s)"),
    (lambda b, f: (f / "optimum.json").unlink(), "optimum.json: missing"),
])
def test_cli_refuses_a_damaged_folder_naming_the_file_and_field(folder, tmp_path, capsys, edit, words):
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    body = json.loads((bad / "optimum.json").read_text())
    edit(body, bad)
    if (bad / "optimum.json").exists():
        (bad / "optimum.json").write_text(json.dumps(body))
    assert _deck(bad, tmp_path) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert not (tmp_path / "d.pptx").exists()


def test_read_optimum_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ScenarioError, match="no such folder"):
        read_optimum(tmp_path / "nowhere")


def test_a_gain_whose_interval_includes_zero_is_not_called_a_gain():
    from types import SimpleNamespace

    from sim.output.optimise_slide import headline

    def optimum(lo, hi):
        body = {"chosen": {}, "estimates_fresh": {"value_usd": {"mean": 2.0e6}},
                "difference_vs_current": {"value_usd": {"mean": 1.0e5, "ci_low": lo, "ci_high": hi}}}
        return SimpleNamespace(body=body, kpi="value_usd", policy="per_ticket",
                               scenario=load(SCENARIOS / "smoke.toml"))

    assert "not distinguishable from its current design" in headline(optimum(-1.1e5, 3.2e5))
    assert "$100.0k more than its current design" in headline(optimum(2.0e4, 1.8e5))
