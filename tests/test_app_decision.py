"""The app's Decision tab and deck download (AppTest, no browser), and the decision helpers
the page uses (sim.app.studies and sim.app.views).

The page tests use the tiny smoke fixture: as shipped it has no ``[uncertainty]`` table (the
tab says how to add one); uploaded with a two-parameter table it runs in seconds.
"""

from __future__ import annotations

import io
import json
import shlex

import pytest
from pptx import Presentation

from sim.app import drawing, sources, studies, views
from sim.decision.psa import run_decision
from sim.output.decision_files import write_decision
from sim.params.scenario import load, load_text, policy_label
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS
from tests.test_app import app_cache_dir, assert_clean, fixtures_in_picker, media, open_app  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("app")  # one process with tests/test_app.py: shared caches and workers

UNCERTAINTY = """
[uncertainty]
"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, high = 25.0 }
"policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 0.0, high = 60.0 }
"""
SMOKE_TEXT = (SCENARIOS / "smoke.toml").read_text()
UNCERTAIN_TEXT = SMOKE_TEXT.replace('name = "smoke"', 'name = "smoke_uncertain"') + UNCERTAINTY
SAMPLES = 6


@pytest.fixture(scope="module")
def uncertain():
    return load_text(UNCERTAIN_TEXT, source="smoke_uncertain.toml")


@pytest.fixture(scope="module")
def result(uncertain):
    return run_decision(uncertain, samples=SAMPLES, options=RunOptions(workers=1))


def open_decision(upload: bool) -> object:
    at = open_app()
    if upload:
        at.sidebar.file_uploader[0].upload("smoke_uncertain.toml", UNCERTAIN_TEXT.encode(), "application/toml")
    at.session_state["tab"] = "Decision"
    return at.run()


def answer_lines(at) -> list[str]:
    return [m.value.replace("\\", "") for m in at.main.markdown if ":material/" in m.value and "Choose" in m.value
            or "Expected loss of that choice" in m.value or "Research first" in m.value]


# ---------------------------------------------------------------- helpers (no page)


def test_the_answer_names_policies_by_their_display_label(result, uncertain):
    line = result.answer()[0]
    label = policy_label(uncertain, result.recommended)
    assert label != result.recommended  # smoke's policies have labels
    assert line.startswith(f"Choose {label} (highest expected value)")
    assert all(name not in " ".join(result.answer()) for name in ("flat_vip", "per_ticket"))


def test_decision_table_uses_labels_and_the_number_formats(result, uncertain):
    table = views.decision_table(result)
    pol = result.policies.set_index("policy")
    assert list(table["policy"]) == [policy_label(uncertain, p) for p in result.policy_names]
    assert list(table.columns) == ["policy", "probability best", "expected value", "expected loss", "recommended"]
    assert table["recommended"].sum() == 1
    rec = table[table["recommended"]].iloc[0]
    assert rec["policy"] == policy_label(uncertain, result.recommended)
    assert rec["expected loss"] == views.fmt.usd(pol.loc[result.recommended, "expected_loss"])
    assert all(v.startswith("$") or v.startswith("-$") for v in table["expected value"])
    # an exact binomial interval over the sampled worlds, never "± 0%"
    assert all(" to " in v and v.endswith("%)") and "±" not in v for v in table["probability best"])


def test_decision_downloads_are_the_files_decide_writes(result, tmp_path):
    write_decision(result, tmp_path / "out", plots=False)
    assert views.psa_csv(result) == (tmp_path / "out" / "psa.csv").read_bytes()
    assert views.decision_json_bytes(result) == (tmp_path / "out" / "decision.json").read_bytes()
    assert json.loads(views.decision_json_bytes(result))["samples"] == SAMPLES


def test_decision_runs_and_the_samples_limit(uncertain):
    n = len(uncertain.policies)
    assert studies.decision_runs(uncertain, 10) == 10 * n
    per_sample = studies.sample_work(uncertain, 1)  # at the worst case of the table, as run_decision checks
    assert studies.decision_max_samples(uncertain, int(per_sample * 7.5)) == 7
    assert studies.decision_max_samples(uncertain, int(per_sample) - 1) == 0


def test_every_decision_figure_draws(result):
    for name in drawing.DECISION_FIGURES:
        png = drawing.draw_bytes(lambda name=name: drawing.decision_figure(result, name), "png", dpi=40)
        assert png.startswith(b"\x89PNG"), name
    with pytest.raises(KeyError):
        drawing.decision_figure(result, "no_such_figure")


def test_decision_figures_name_policies_by_their_display_label(result, uncertain):
    ax = drawing.decision_figure(result, "probability_best")
    labels = [policy_label(uncertain, p) for p in result.policy_names]
    assert any("$" in x for x in labels)  # "Per ticket ($20)": drawn as is, no mathtext, no backslash
    ticks = ax.get_xticklabels()
    shown = [" ".join(t.get_text().replace("(recommended)", "").split()) for t in ticks]  # wrapped to fit
    assert shown == labels and not any(t._preprocess_math(t.get_text())[1] for t in ticks)
    assert ax.get_title().startswith(policy_label(uncertain, result.recommended))
    legend = drawing.decision_figure(result, "decision_map").get_legend()
    assert [t.get_text().rsplit(" (", 1)[0] for t in legend.get_texts()] == labels


def test_decision_figure_titles_fit_the_slide(uncertain):
    """A long display label in a title over an axes that a legend outside has moved: wrapped,
    not cut off at the figure's edge."""
    long = UNCERTAIN_TEXT.replace('label = "Flat (included)"', 'label = "Flat support included in every plan"')
    res = run_decision(load_text(long, source="long.toml"), samples=SAMPLES, options=RunOptions(workers=1))
    res.decision_map = res.decision_map.assign(best="flat")  # one policy everywhere: the longest title
    res.decision_map.attrs = {"x": res.evppi["parameter"][0], "y": res.evppi["parameter"][1]}
    for name in drawing.DECISION_FIGURES:
        fig = drawing.decision_figure(res, name).figure
        fig.canvas.draw()
        box = fig.axes[0].title.get_window_extent()
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (name, fig.axes[0].get_title(), box, fig.bbox)


def test_every_scenario_in_the_picker_has_an_uncertainty_table():
    """The tab's message for a scenario without one says so ("pick baseline")."""
    for name, path in sources.shipped_scenarios(fixtures=False).items():
        assert load(path).uncertainty, name


# ---------------------------------------------------------------- the page


def test_decision_tab_without_an_uncertainty_table_says_how_to_add_one():
    at = open_decision(upload=False)
    assert_clean(at)
    message = at.main.info[0].value
    assert "[uncertainty]" in message and "Use your own scenario file" in message
    example = next(c.value for c in at.main.code if "[uncertainty]" in c.value)
    assert load_text(SMOKE_TEXT + "\n" + example, source="example").uncertainty  # the example is valid TOML + table
    assert not [b for b in at.button if b.key == "dec_run"]


def test_decision_tab_runs_on_the_button_and_keeps_its_result_across_tabs():
    at = open_decision(upload=True)
    assert_clean(at)
    assert not at.main.image  # nothing runs until asked
    at.number_input(key="dec_samples").set_value(SAMPLES)
    at.button(key="dec_run").click().run()
    assert_clean(at)
    lines = answer_lines(at)
    assert len(lines) == 3 and "Choose " in lines[0] and "flat_vip" not in lines[0], lines
    assert len(at.main.image) == len(drawing.DECISION_FIGURES)
    frames = [d.value for d in at.main.dataframe]
    table = next(f for f in frames if "probability best" in f.columns)
    assert any(list(f.columns) == ["setting", "value"] for f in frames)  # what the decision holds fixed
    sc = sources.load_upload("u.toml", UNCERTAIN_TEXT.encode()).scenario
    assert list(table["policy"]) == [policy_label(sc, p) for p in sc.policies]
    assert any(f"--samples {SAMPLES}" in c.value and c.value.startswith("supportsim decide") for c in at.main.code)

    at.session_state["tab"] = "Money"
    at.run()
    assert_clean(at)
    at.session_state["tab"] = "Decision"
    at.run()  # no click: the cached result is shown again
    assert_clean(at)
    assert answer_lines(at) == lines
    assert len(at.main.image) == len(drawing.DECISION_FIGURES)


def test_the_decision_download_is_what_the_command_shown_writes(media, tmp_path):  # noqa: F811
    at = open_decision(upload=True)
    at.number_input(key="dec_samples").set_value(SAMPLES)
    at.button(key="dec_run").click().run()
    assert_clean(at)
    command = next(c.value for c in at.main.code if c.value.startswith("supportsim decide"))
    assert shlex.split(command)[1:] == ["decide", "smoke_uncertain.toml", "--out", "results/decide", "--samples",
                                        str(SAMPLES)]
    (tmp_path / "smoke_uncertain.toml").write_text(UNCERTAIN_TEXT)
    from tests.procs import supportsim

    done = supportsim(*shlex.split(command)[1:], "--workers", "1", "--quiet", "--no-plots", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "results" / "decide"
    assert media(at, "dl_decision_json") == (out / "decision.json").read_bytes()
    assert media(at, "dl_psa_csv") == (out / "psa.csv").read_bytes()


def test_too_many_samples_is_a_clear_error_and_nothing_runs():
    at = open_decision(upload=True)
    sc = sources.load_upload("u.toml", UNCERTAIN_TEXT.encode()).scenario
    most = studies.decision_max_samples(sc, sources.app_max_work())
    at.number_input(key="dec_samples").set_value(most + 1).run()
    assert not at.exception
    message = at.main.error[0].value
    assert f"{most + 1:,} samples are too many" in message and f"at most {most:,}" in message
    assert "SUPPORTSIM_APP_MAX_WORK" in message
    assert at.button(key="dec_run").disabled
    assert not at.main.image


def test_deck_download_is_a_pptx_of_the_run(media):  # noqa: F811  (the imported fixture)
    at = open_app()
    assert_clean(at)
    data = media(at, "dl_deck")
    prs = Presentation(io.BytesIO(data))
    assert len(prs.slides) >= 3
    text = " ".join(sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame)
    assert "smoke" in text


def test_deck_download_carries_the_decision_once_it_has_run(media):  # noqa: F811
    at = open_decision(upload=True)
    at.number_input(key="dec_samples").set_value(SAMPLES + 1)  # a count no other test has run (the cache is shared)
    at.run()

    def how_sure() -> bool:
        prs = Presentation(io.BytesIO(media(at, "dl_deck")))
        return any("How sure" in sh.text_frame.text or "plausible worlds" in sh.text_frame.text
                   for s in prs.slides for sh in s.shapes if sh.has_text_frame)

    assert not how_sure()  # no decision yet: the deck has no uncertainty slide
    at.button(key="dec_run").click().run()
    assert_clean(at)
    at.run()  # the next page, as a person clicks the download after the analysis has run
    assert how_sure()
