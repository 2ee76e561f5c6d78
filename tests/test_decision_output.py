"""A decision under uncertainty in the report and the deck: read back from disk, shown, refused
when it belongs to another scenario, and absent (outputs unchanged) without one."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from sim.cli import main
from sim.decision.psa import EVPPI_NOT_ADDITIVE, decision_map_table, run_decision
from sim.decision.sampling import numeric_inputs
from sim.output import deck, report
from sim.output.decision_files import check_same_scenario, read_decision, scenario_differences, write_decision
from sim.output.decision_plots import plot_decision_map, plot_evppi
from sim.params.scenario import ScenarioError, load_text, policy_labels, scenario_hash
from sim.params.uncertainty import from_spec
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("decision_output")

# The smoke scenario, made quick, with a small uncertainty table (three policies, three parameters).
SMALL = ["run.months=3", "customers.initial=150", "run.replications=2"]
UNCERTAINTY = """
[uncertainty]
"satisfaction.resentment_per_usd" = { dist = "uniform", low = 0.0, high = 0.03 }
"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, high = 25.0 }
"policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 5.0, high = 40.0 }
"""
SAMPLES = 8
COMMAND = "supportsim deck smoke-u.toml --out deck.pptx"


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "smoke-u.toml"
    path.write_text((SCENARIOS / "smoke.toml").read_text() + UNCERTAINTY)
    return path


@pytest.fixture(scope="module")
def scenario(scenario_file):
    return load_text(scenario_file.read_text(), SMALL, source="smoke-u")


@pytest.fixture(scope="module")
def decision(scenario):
    return run_decision(scenario, samples=SAMPLES, options=RunOptions(workers=1))


@pytest.fixture(scope="module")
def folder(decision, tmp_path_factory):
    return write_decision(decision, tmp_path_factory.mktemp("dec") / "decision")


@pytest.fixture(scope="module")
def res(scenario):
    return run_scenario(scenario, options=RunOptions(workers=1))


def _texts(slide) -> str:
    parts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
    parts += [c.text for s in slide.shapes if s.has_table for row in s.table.rows for c in row.cells]
    return "\n".join(parts)


def _pictures(slide) -> list:
    return [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]


# ---------------------------------------------------------------------------- read back


def test_round_trip_gives_equal_tables_and_the_same_answer(decision, folder):
    back = read_decision(folder)
    assert back.answer() == decision.answer()
    assert back.recommended == decision.recommended and back.policy_names == decision.policy_names
    pd.testing.assert_frame_equal(back.policies, decision.policies)
    pd.testing.assert_frame_equal(back.evppi, decision.evppi)
    pd.testing.assert_frame_equal(back.psa, decision.psa, check_dtype=False, rtol=1e-9)
    pd.testing.assert_frame_equal(back.decision_map, decision.decision_map, rtol=1e-6)  # recomputed
    assert back.decision_map.attrs == decision.decision_map.attrs
    assert back.evpi == pytest.approx(decision.evpi) and back.evpi_sample == pytest.approx(decision.evpi_sample)
    assert scenario_hash(back.scenario) == decision.scenario_sha256 == back.scenario_sha256
    assert back.scenario.uncertainty == decision.scenario.uncertainty
    assert back.parameters == decision.parameters
    assert (back.seed, back.samples, back.replications, back.design, back.kpi, back.decision_sha256) == (
        decision.seed, decision.samples, decision.replications, decision.design, decision.kpi,
        decision.decision_sha256)
    assert scenario_differences(back, decision.scenario) == []
    # SMALL's --set changes: the decision's charts read back are footed as an edited scenario
    assert back.scenario.edits == decision.scenario.edits == SMALL[:2]


def test_missing_or_corrupt_folder_is_an_error_naming_the_file(folder, tmp_path):
    with pytest.raises(ScenarioError, match="no such folder"):
        read_decision(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "psa.csv").write_text("sample,policy\n0,flat\n")
    with pytest.raises(ScenarioError, match=re.escape(str(broken / "psa.csv"))):
        read_decision(broken)
    (broken / "decision.json").write_text("{not json")
    with pytest.raises(ScenarioError, match=re.escape(str(broken / "decision.json"))):
        read_decision(broken)
    body = json.loads((folder / "decision.json").read_text())
    del body["policies"]
    (broken / "decision.json").write_text(json.dumps(body))
    with pytest.raises(ScenarioError, match="decision.json: incomplete"):
        read_decision(broken)


def test_same_scenario_rule(decision, scenario_file):
    text = scenario_file.read_text()
    more_reps = load_text(text, [*SMALL, "run.replications=5"], source="x")
    check_same_scenario(decision, more_reps)  # replications only narrow the run's intervals: accepted
    for change, path in ((["support.agents=9"], "support.agents"), (["run.seed=2"], "run.seed"),
                         (["run.months=4"], "run.months")):
        other = load_text(text, [*SMALL, *change], source="x")
        with pytest.raises(ScenarioError) as info:
            check_same_scenario(decision, other, folder="DIR")
        msg = str(info.value)
        assert path in msg and decision.scenario_sha256[:12] in msg and scenario_hash(other)[:12] in msg
    no_table = load_text((SCENARIOS / "smoke.toml").read_text(), SMALL, source="x")
    assert any(d.startswith("uncertainty.") for d in scenario_differences(decision, no_table))


# ---------------------------------------------------------------------------- the report


def _strip_decision(text: str) -> str:
    text = text.replace(report.DECISION_CSS, "", 1)
    text = re.sub(r"<p class='answer'>.*?</p>", "", text, flags=re.S).replace("On the point estimate: ", "")
    text = re.sub(r"<p><strong>How sure:</strong>.*?</p>", "", text, flags=re.S)
    return re.sub(r"\n<section id=\"uncertainty\">.*?</section>", "", text, flags=re.S)


def test_report_with_a_decision(res, decision):
    page = report.render(res, decision=decision)
    summary = page[page.index("<section id='summary'>"): page.index("</section>")]
    assert "How sure:" in summary
    assert "What it rests on:</strong> " in summary and "of this lead is terminal value" in summary
    best = report.findings.answer(res, decision).policy
    assert report.uncertainty_line(decision, best).split(" of ")[0] in summary  # "<label> is best in NN%"
    section = page[page.index('<section id="uncertainty">'):]
    section = section[: section.index("</section>")]
    for line in decision.answer():
        assert line in section or line.replace("'", "&#x27;") in section
    for name in ("probability_best", "evppi", "decision_map"):
        assert f"id='fig-{name}'" in section
    assert section.count("data:image/png;base64,") == 3
    labels = policy_labels(decision.scenario)
    rows = re.findall(r"<tr><th scope=row>(.*?)</th>", section)
    assert [r.replace(" (recommended)", "") for r in rows[: len(labels)]] == [
        report.html.escape(labels[p]) for p in decision.policy_names]
    assert "Per ticket fee (Per ticket ($20) policy)" in report.html.unescape(section)  # readable parameter names
    assert report.html.escape(EVPPI_NOT_ADDITIVE) in section  # beside the EVPPI shares


def test_report_without_a_decision_is_unchanged(res, decision):
    plain = report.render(res, plots=False)
    assert 'id="uncertainty"' not in plain and "How sure" not in plain and report.DECISION_CSS not in plain
    assert plain == report.render(res, plots=False, decision=None)
    assert _strip_decision(report.render(res, plots=False, decision=decision)) == plain


# ---------------------------------------------------------------------------- the deck


@pytest.fixture(scope="module")
def decks(res, decision):
    plain = Presentation(deck.io.BytesIO(deck.deck_bytes(res, command=COMMAND)))
    with_decision = Presentation(deck.io.BytesIO(deck.deck_bytes(res, command=COMMAND, decision=decision)))
    return plain, with_decision


def test_deck_has_the_how_sure_slide_and_the_decision_map(decks, decision):
    plain, prs = decks
    slides = list(prs.slides)
    assert len(slides) == len(plain.slides) + 3
    sure = next(s for s in slides if "How sure are we?" in _texts(s))
    text = _texts(sure)
    assert report.uncertainty_headline(decision) in text
    label = policy_labels(decision.scenario)[decision.recommended]
    assert f"{label} is best in" in report.uncertainty_headline(decision)
    pics = {p.name: p for p in _pictures(sure)}
    assert set(pics) == {"probability_best", "evppi"}
    left, right = pics["probability_best"], pics["evppi"]
    assert left.left + left.width <= right.left and right.left + right.width <= prs.slide_width  # no overlap
    assert all(p.image.content_type == "image/png" and p.top + p.height <= prs.slide_height for p in pics.values())
    notes = sure.notes_slide.notes_text_frame.text
    assert all(line in notes for line in decision.answer()) and EVPPI_NOT_ADDITIVE in notes
    assert deck.decide_command(decision) in notes and "supportsim decide" in notes and COMMAND in notes
    map_slide = slides[slides.index(sure) + 1]
    (pic,) = _pictures(map_slide)
    assert pic.width == prs.slide_width and pic.top + pic.height == prs.slide_height  # under its native title
    assert "supportsim decide" in map_slide.notes_slide.notes_text_frame.text
    fixed = slides[slides.index(sure) + 2]
    assert "What the decision holds fixed" in _texts(fixed) and "Months" in _texts(fixed)
    assert "Assumptions" in _texts(slides[-1])  # the uncertainty slides come before the assumptions


def test_title_slide_mentions_the_probability_of_being_best(decks, decision, res):
    plain, prs = decks
    best = report.findings.answer(res, decision).policy
    line = report.uncertainty_line(decision, best)
    assert line in _texts(prs.slides[0]) and line not in _texts(plain.slides[0])
    assert re.search(r"is best in \d+(\.\d)?% of 8 plausible worlds", line)


def test_deck_without_a_decision_is_unchanged(decks, decision, res):
    plain, prs = decks
    one = report.findings.answer(res, decision)
    line = report.uncertainty_line(decision, one.policy)
    extra = [s for s in prs.slides if "How sure are we?" in _texts(s) or
             any(p.name in ("probability_best", "evppi") for p in _pictures(s))]
    assert not any("How sure are we?" in _texts(s) or "supportsim decide" in s.notes_slide.notes_text_frame.text
                   for s in plain.slides)
    kept = [s for i, s in enumerate(prs.slides) if s not in extra and not
            (i > 0 and "supportsim decide" in s.notes_slide.notes_text_frame.text)]
    assert len(kept) == len(plain.slides)
    for i, (a, b) in enumerate(zip(plain.slides, kept)):
        ta, tb = _texts(a), _texts(b)
        if i == 0:
            # the title slide gains the one recommendation and the probability of being best
            tb = tb.replace("\n" + line, "").replace(one.sentence + ".\n", "").replace("On the point estimate: ", "")
        assert ta == tb and a.notes_slide.notes_text_frame.text == b.notes_slide.notes_text_frame.text, i
        assert len(_pictures(a)) == len(_pictures(b)), i


# ---------------------------------------------------------------------------- one recommendation


def _disagreeing(res, decision):
    """The decision with its best under uncertainty moved to a policy the point estimate does not
    choose, best in 58% of the worlds (what a decision of another scenario could say)."""
    point = report.findings.recommend(res).best
    other = next(p for p in decision.policy_names if p != point)
    table = decision.policies.copy()
    table["prob_best"] = [0.58 if p == other else 0.42 / (len(table) - 1) for p in table["policy"]]
    table["recommended"] = table["policy"] == other
    return dataclasses.replace(decision, recommended=other, policies=table), point, other


def test_one_recommendation_when_the_point_estimate_and_the_decision_agree(res, decision):
    one = report.findings.answer(res, decision)
    label = policy_labels(decision.scenario)[decision.recommended]
    assert one.policy == one.point == one.robust == decision.recommended and one.agrees
    assert one.sentence.startswith(f"{label} on the point estimate and under uncertainty (best in ")
    assert re.search(r"of 8 sampled worlds, exact 95% interval \d+% to \d+%\)", one.sentence)
    assert "±" not in one.sentence
    assert report.findings.answer(res).sentence == f"{policy_labels(res.scenario)[one.point]} on the point estimate"


def test_every_output_follows_the_decision_when_they_differ(res, decision):
    moved, point, other = _disagreeing(res, decision)
    labels = policy_labels(decision.scenario)
    one = report.findings.answer(res, moved)
    assert (one.policy, one.point, one.robust, one.agrees) == (other, point, other, False)
    assert one.sentence.startswith(f"{labels[point]} on the point estimate; {labels[other]} under uncertainty "
                                   "(best in 58% of 8 sampled worlds, exact 95% interval ")
    assert ": a close call" in one.sentence
    summary = report.render(res, plots=False, decision=moved)
    summary = report.html.unescape(summary[summary.index("<section id='summary'>"):])
    summary = summary[: summary.index("</section>")]
    assert f"Recommendation: {labels[other]}." in summary and one.sentence in summary
    assert "On the point estimate: " in summary
    title = _texts(deck.build_deck(res, decision=moved).slides[0])
    assert f"Recommendation: {labels[other]}" in title and one.sentence in title
    assert f"Recommendation: {labels[point]}" not in title


# ---------------------------------------------------------------------------- the CLI


def test_cli_report_and_deck_with_decision(scenario_file, folder, tmp_path, capsys):
    sets = [x for s in SMALL for x in ("--set", s)]
    assert main(["report", str(scenario_file), "--out", str(tmp_path / "r"), "--decision", str(folder),
                 "--quiet", "--workers", "1", *sets, "--replications", "3"]) == 0  # replications may differ
    page = (tmp_path / "r" / "report.html").read_text()
    assert 'id="uncertainty"' in page and f"--decision {folder}" in page
    out = tmp_path / "d.pptx"
    capsys.readouterr()
    assert main(["deck", str(scenario_file), "--out", str(out), "--decision", str(folder),
                 "--workers", "1", *sets]) == 0
    assert any("How sure are we?" in _texts(s) for s in Presentation(str(out)).slides)
    printed = capsys.readouterr().out  # the command line states the deck's one recommendation
    assert "recommendation: Flat + VIP + programmes on the point estimate and under uncertainty (best in" in printed


def test_cli_refuses_a_decision_of_another_scenario(scenario_file, folder, tmp_path, capsys):
    sets = [x for s in SMALL for x in ("--set", s)]
    for verb, out in (("report", tmp_path / "r"), ("deck", tmp_path / "d.pptx")):
        assert main([verb, str(scenario_file), "--out", str(out), "--decision", str(folder), "--quiet",
                     "--workers", "1", *sets, "--set", "support.agents=9"]) == 2
        err = capsys.readouterr().err
        assert "does not belong to this scenario" in err and "support.agents" in err and "sha256" in err
        assert "Traceback" not in err and not out.exists()
    assert main(["report", str(scenario_file), "--out", str(tmp_path / "r"), "--decision",
                 str(tmp_path / "missing"), "--quiet", *sets]) == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err


def test_help_names_the_decision_option(capsys):
    for verb in ("report", "deck"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        assert "--decision DIR" in capsys.readouterr().out


def test_decide_records_its_command(scenario_file, tmp_path, capsys):
    out = tmp_path / "dec"
    assert main(["decide", str(scenario_file), "--samples", "3", "--out", str(out), "--workers", "1",
                 "--no-plots", "--set", "run.months=2", "--set", "customers.initial=100"]) == 0
    printed = capsys.readouterr().out
    assert f"note: {EVPPI_NOT_ADDITIVE}" in printed  # beside the EVPPI table
    assert "What the decision holds fixed" in printed and "2 months" in printed
    back = read_decision(out)
    assert back.command.startswith("supportsim decide ") and "--samples 3" in back.command
    assert "--set run.months=2" in back.command and f"--out {out}" in back.command
    assert deck.decide_command(back) == back.command


def test_parameter_names_read_like_prose(scenario):
    names = report.parameter_names(scenario, ["customers.segments.0.fee_sensitivity_per_usd", "acquisition.cac_multiple",
                                              "satisfaction.resentment_per_usd",
                                              "policies.per_ticket.pricing.per_ticket_fee_usd"])
    assert list(names.values()) == ["Fee sensitivity per USD (starter segment)", "CAC multiple", "Resentment per USD",
                                    "Per ticket fee (Per ticket ($20) policy)"]
    assert report.readable_name("support.sla_target_h") == "SLA target"


def test_decision_map_puts_a_choices_points_in_its_own_cells():
    """A non-numeric choice (support.sla_clock) is on the map's grid by its position in the
    distribution; the sampled points must land in the same cells (they once landed in the
    other one: matplotlib placed the strings in the order it first met them)."""
    params = {"support.sla_clock": from_spec({"dist": "choice", "values": ["calendar", "business"]}),
              "churn.switching_ease": from_spec({"dist": "uniform", "low": 0.5, "high": 2})}
    rng = np.random.default_rng(3)
    clock = np.array(["business"] * 20 + ["calendar"] * 20)  # business first, as a sample may draw it
    ease = rng.uniform(0.5, 2, 40)
    gap = np.where(clock == "calendar", 1.0, -1.0) + rng.normal(0, 0.05, 40)  # tiered ahead under calendar
    nb = np.column_stack([np.zeros(40), gap])
    values = pd.DataFrame({"support.sla_clock": clock, "churn.switching_ease": ease})
    evppi = pd.DataFrame({"parameter": ["support.sla_clock", "churn.switching_ease"], "evppi_usd": [1.0, 0.0]})
    dmap = decision_map_table(nb, numeric_inputs(params, values), params, evppi, ["flat", "tiered"])
    assert dmap.attrs["x_categories"] == ["calendar", "business"]
    assert set(dmap.loc[dmap["x"] == 0, "best"]) == {"tiered"} and set(dmap.loc[dmap["x"] == 1, "best"]) == {"flat"}
    psa = pd.concat([values.assign(sample=range(40), policy=p, value_usd=nb[:, j]) for j, p in enumerate(["flat",
                                                                                                       "tiered"])])
    ax = plot_decision_map(dmap, psa, kpi="value_usd", policies=["flat", "tiered"])
    flat_pts, tiered_pts = (c.get_offsets()[:, 0] for c in ax.collections[1:3])
    assert set(flat_pts) == {1.0} and set(tiered_pts) == {0.0}  # business cell, calendar cell
    assert [t.get_text() for t in ax.get_xticklabels()] == ["calendar", "business"]
    assert ax.get_title() == "tiered is best where SLA clock is calendar, flat where it is business"
    plt.close(ax.figure)


def test_the_app_states_the_same_recommendation(res, decision):
    from sim.app import views

    moved, _, _ = _disagreeing(res, decision)
    line = views.one_answer(res, moved)
    assert line.startswith("**Recommendation: ") and views.text(report.findings.answer(res, moved).sentence) in line
    assert views.one_answer(res, None) == ""
    other = dataclasses.replace(res, scenario=res.scenario.model_copy(update={"run": res.scenario.run.model_copy(
        update={"months": res.scenario.run.months + 1})}))
    assert views.one_answer(other, moved) == ""  # a decision of another scenario is not this run's
    assert list(views.held_fixed_frame(res.scenario).columns) == ["setting", "value"]
    page = views.report_html(res, decision=moved).decode()
    assert "<p class='answer'>" in page


def test_the_evppi_chart_says_its_shares_do_not_add_up(decision):
    ax = plot_evppi(decision.evppi, evpi=decision.evpi)
    assert "do not add up" in ax.get_xlabel()
    assert "do not add up" not in plot_evppi(decision.evppi, evpi=decision.evpi, shares=False).get_xlabel()
    plt.close("all")


def test_what_a_decision_holds_fixed(scenario, res, decision):
    """Prices, promises, desk hours and the horizon the table does not sample; each fee only for the
    policies it acts on; nothing the [uncertainty] table varies (here the per-ticket fee)."""
    from sim.decision.fixed import held_fixed

    fixed = {f.path: f for f in held_fixed(scenario)}
    assert fixed["run.months"].values == {p: 3 for p in decision.policy_names}
    assert "pricing.per_ticket_fee_usd" not in fixed  # sampled: policies.per_ticket.pricing.per_ticket_fee_usd
    assert "pricing.per_hour_fee_usd" not in fixed  # no policy charges by the hour
    assert set(fixed["vip.sla_h"].values) == {"flat_vip"} and "support.sla_target_h" in fixed
    rows = dict(report.held_fixed_rows(scenario)[1:])
    assert rows["Months"] == "3 months" and rows["VIP SLA"].endswith("(Flat + VIP + programmes)")
    page = report.html.unescape(report.render(res, plots=False, decision=decision))
    assert "What the decision holds fixed" in page and "Plan price by segment" in page
