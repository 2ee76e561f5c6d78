"""The PowerPoint deck: opened with python-pptx, every slide's pictures, text and notes checked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from sim.cli import main
from sim.output import deck, findings
from sim.params.scenario import policy_labels

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("deck")

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "supportsim deck scenarios/smoke.toml --out deck.pptx"


@pytest.fixture(scope="module")
def prs(smoke_results, tmp_path_factory):
    path = deck.write_deck(smoke_results, tmp_path_factory.mktemp("deck") / "deck.pptx", command=COMMAND)
    return Presentation(str(path))


def _texts(slide) -> str:
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [c.text for row in shape.table.rows for c in row.cells]
    return "\n".join(parts)


def _pictures(slide) -> list:
    return [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]


def test_deck_is_16_9_and_every_slide_carries_the_command(prs):
    assert prs.slide_width * 9 == pytest.approx(prs.slide_height * 16, rel=1e-3)
    for i, slide in enumerate(prs.slides):
        notes = slide.notes_slide.notes_text_frame.text
        assert COMMAND in notes and "sha256" in notes, i


def test_title_slide_states_the_recommendation(prs, smoke_results):
    rec = findings.recommend(smoke_results)
    text = _texts(prs.slides[0])
    assert f"Recommendation: {policy_labels(smoke_results.scenario)[rec.best]}" in text
    assert rec.sentence in text and rec.clarity in text
    assert not _pictures(prs.slides[0])


def test_kpi_slide_has_every_policy_and_interval(prs, smoke_results):
    slide = prs.slides[1]
    table = next(s for s in slide.shapes if s.has_table).table
    labels = policy_labels(smoke_results.scenario)
    assert [c.text for c in table.rows[0].cells][1:] == [labels[p] for p in smoke_results.policies]
    assert len(table.rows) == len(deck.KPIS) + 1
    assert all(" to " in c.text for row in list(table.rows)[1:] for c in list(row.cells)[1:])  # 95% CIs


def test_figure_slides_a_native_title_over_one_picture_each(prs, smoke_results):
    others = [p for p in smoke_results.policies if p != smoke_results.reference]
    figure_slides = [s for s in prs.slides if _pictures(s)]
    assert len(figure_slides) == len(others) + 2  # a bridge per policy, tickets, satisfaction
    labels = policy_labels(smoke_results.scenario)
    for slide, policy in zip(figure_slides, others):
        (pic,) = _pictures(slide)
        assert pic.width == prs.slide_width and pic.top == deck.Inches(deck.TITLE_H)
        assert pic.top + pic.height == prs.slide_height
        assert pic.image.content_type == "image/png"
        alt = pic._element.nvPicPr.cNvPr.get("descr")
        assert labels[policy] in alt and ("95% CI" in alt)  # the finding, as alt text
        (title,) = [s for s in slide.shapes if s.has_text_frame]  # the finding, editable in PowerPoint
        assert title.text_frame.text == alt and title.top + title.height <= pic.top
    assert "suppresses" in figure_slides[-2].notes_slide.notes_text_frame.text


def test_what_each_policy_promises_and_charges(prs, smoke_results):
    slide = prs.slides[len(prs.slides) - 2]
    assert "What each policy promises and charges" in _texts(slide)
    table = next(s for s in slide.shapes if s.has_table).table
    rows = {r.cells[0].text: [c.text for c in list(r.cells)[1:]] for r in list(table.rows)[1:]}
    labels = policy_labels(smoke_results.scenario)
    assert [c.text for c in list(table.rows[0].cells)[1:]] == [labels[p] for p in smoke_results.policies]
    assert rows["Support fee"] == ["none", "$20 a ticket", "none"]
    assert rows["Promise (first response), starter / growth / business"][2] == "4 h (every plan); VIP 1 h"
    assert set(rows["SLA clock"]) == {"business (desk hours only)"} and "Desk hours" in rows


def test_assumptions_slide_names_sources(prs):
    slide = prs.slides[len(prs.slides) - 1]
    text = _texts(slide)
    assert "Scheme" in text and ("Assumption:" in text or "article" in text.lower())


def test_cli_writes_a_deck_and_refuses_a_folder(tmp_path, capsys):
    assert main(["deck", str(ROOT / "scenarios/smoke.toml"), "--out", str(tmp_path), "--quiet"]) == 2
    assert ".pptx" in capsys.readouterr().err
    out = tmp_path / "d.pptx"
    assert main(["deck", str(ROOT / "scenarios/smoke.toml"), "--out", str(out), "--replications", "2",
                 "--quiet"]) == 0
    notes = Presentation(str(out)).slides[0].notes_slide.notes_text_frame.text
    assert "--replications 2" in notes


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="LibreOffice (soffice) and pdftoppm render the slides")
def test_render_script_gives_one_png_per_slide(smoke_results, tmp_path):
    path = deck.write_deck(smoke_results, tmp_path / "deck.pptx", command=COMMAND)
    subprocess.run(["sh", str(ROOT / "scripts/render_deck.sh"), str(path), str(tmp_path / "slides"), "20"],
                   check=True, capture_output=True, timeout=300)
    n = len(Presentation(str(path)).slides)
    assert len(list((tmp_path / "slides").glob("slide-*.png"))) == n
