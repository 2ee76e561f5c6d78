"""A hostile scenario (``$``, ``<script>``, a markdown image, a spreadsheet formula, newlines,
emoji in its name, description and sweep values) goes through every output and verb: nothing
crashes and nothing is interpreted."""

from __future__ import annotations

import csv
import json

import matplotlib.pyplot as plt
import tomli_w

from sim.app.kit import md_literal
from sim.cli import main
from sim.output import files, plots
from sim.params.scenario import load
from tests.conftest import SCENARIOS

NAME = "=cmd|' /C calc'!A0 $5 off $10 <script>x</script> 🚀"
DESCRIPTION = "![x](http://tracker.example/p.png) [link](http://e.example)\nline two $x$ @SUM(1) 💥"
FAST = ["--replications", "1", "--workers", "1", "--quiet", "--set", "run.months=2"]


def _hostile(tmp_path):
    s = load(SCENARIOS / "smoke.toml")
    data = s.model_dump(mode="json", exclude_none=True)
    data["scenario"]["name"] = NAME
    data["scenario"]["description"] = DESCRIPTION
    path = tmp_path / "hostile.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def _cells(folder):
    for path in folder.rglob("*.csv"):
        with open(path, newline="") as f:
            for row in csv.reader(f):
                yield from row


def test_hostile_text_through_every_output_and_verb(tmp_path, capsys):
    path = _hostile(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), *FAST]) == 0  # with plots: a $ no longer crashes
    assert json.loads((out / "summary.json").read_text())["scenario_name"] == NAME
    assert (out / "plots").is_dir() and any((out / "plots").iterdir())
    assert main(["report", str(path), "--out", str(tmp_path / "rep"), *FAST]) == 0
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(path), "--param", "support.agents=2,3", "--set", "support.staffing=fixed", "--out", str(sweep),
                 *FAST[:5]]) == 0
    capsys.readouterr()
    for folder in (out, sweep):
        bad = [c for c in _cells(folder) if c.startswith(("=", "+", "@")) or (c.startswith("-") and not files._is_number(c))]
        assert bad == []


def test_cells_neutralised_numbers_untouched():
    assert files.neutral_cell("=1+1") == "'=1+1" and files.neutral_cell("@SUM(A1)") == "'@SUM(A1)"
    assert files.neutral_cell("-cmd|x") == "'-cmd|x" and files.neutral_cell("+x") == "'+x"
    assert files.neutral_cell("-0.5") == "-0.5" and files.neutral_cell(-3) == -3 and files.neutral_cell("flat") == "flat"


def test_matplotlib_and_streamlit_text_is_literal():
    assert plots.literal("a $5 off $10\nb") == "a $5 off $10 b"
    with plots.deck_style():  # every figure is drawn in the style: "$" is money, never mathtext
        fig, ax = plt.subplots()
        ax.set_title(plots.literal("Per ticket ($15) vs $20 $x^2$"))
        ax.set_xticks([0], [plots.literal("a $5 off $10")])
        fig.canvas.draw()
        texts = [ax.title, *ax.get_xticklabels()]
        assert not any(t.get_parse_math() for t in texts)
        assert ax.title.get_text() == "Per ticket ($15) vs $20 $x^2$"
        plt.close(fig)
    with plots.deck_style():
        ax = plots._axes(None)
        title = ax.set_title(plots.literal(NAME))
        assert title._preprocess_math(title.get_text()) == (NAME, False)  # what is drawn: every $, no backslash
    shown = md_literal(DESCRIPTION)
    assert "![" not in shown and "](" not in shown and "\n" not in shown
