"""A hostile scenario (``$``, ``<script>``, a markdown image, a spreadsheet formula, newlines,
emoji in its name, description and sweep values) goes through every output and verb: nothing
crashes and nothing is interpreted."""

from __future__ import annotations

import csv
import json
import re

import matplotlib.pyplot as plt
import pytest
import tomli_w

from sim.app.kit import code, text
from sim.cli import main
from sim.output import files, plots
from sim.params.scenario import load
from tests.conftest import HOSTILE_DESCRIPTION as DESCRIPTION
from tests.conftest import HOSTILE_FAST as FAST
from tests.conftest import HOSTILE_NAME as NAME
from tests.conftest import SCENARIOS, hostile_scenario_file


def _cells(folder):
    for path in folder.rglob("*.csv"):
        with open(path, newline="") as f:
            for row in csv.reader(f):
                yield from row


@pytest.mark.xdist_group("run_with_plots")  # with tests/test_cli.py: one run with plots for both
def test_hostile_text_through_every_output_and_verb(tmp_path, capsys, run_with_plots):
    path = hostile_scenario_file(tmp_path)
    out = run_with_plots  # `supportsim run` of this scenario with plots: a $ no longer crashes
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
    shown = text(DESCRIPTION)
    assert "![" not in shown and "](" not in shown and "\n" not in shown


# ---------------------------------------------------------------- the app's page (AppTest)

# What an uploaded scenario may carry in its labels and names (each within its length limit).
SCRIPT = '<iframe srcdoc="<script>parent.__pwned=1</script>">'
IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(1))"
REMOTE = "![x](http://example.invalid/a.png)"
BOLD = "**bold**"
MATH = "$x$"
HOSTILE = (SCRIPT, IMG, LINK, REMOTE, BOLD, MATH)
# what must never reach an element that renders HTML
MARKERS = ("iframe", "srcdoc", "onerror", "javascript", "example.invalid", "__pwned")


def hostile_scenario(*, uncertainty: bool = False) -> str:
    """smoke.toml with every label and name hostile (policy labels, scenario name and
    description, segment names), optionally with a small [uncertainty] table."""
    s = load(SCENARIOS / "smoke.toml")
    data = s.model_dump(mode="json", exclude_none=True)
    data["scenario"]["name"] = REMOTE
    data["scenario"]["description"] = f"{BOLD} {MATH} {LINK} {IMG}"
    for name, label in zip(data["policies"], (SCRIPT, IMG, LINK)):
        data["policies"][name]["label"] = label
    segments = data["customers"]["segments"]
    for seg, name in zip(segments, (BOLD, MATH, IMG)):
        seg["name"] = name
    text_ = tomli_w.dumps(data)
    if uncertainty:
        text_ += ('\n[uncertainty]\n"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, '
                  'high = 25.0 }\n"policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 0.0, '
                  'high = 60.0 }\n')
    return text_


def rendered_as_markdown(at) -> list[tuple[str, str, bool]]:
    """(element, text, HTML allowed) of everything on the page that renders Markdown."""
    out = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader"):
        out += [(kind, e.value, bool(getattr(e.proto, "allow_html", False))) for e in at.get(kind)]
    out += [("expander", e.label, False) for e in at.expander]
    out += [("tab", t.proto.label, False) for t in at.tabs]
    out += [("metric help", m.proto.help, False) for m in at.metric]
    out += [("html", h.proto.body, True) for h in at.get("html")]
    return out


def assert_literal(at) -> None:
    """No hostile text raw in any Markdown, nothing of it in any HTML; each shown escaped."""
    shown = rendered_as_markdown(at)
    for kind, value, html in shown:
        outside_code = re.sub(r"(`+)(.+?)\1", "", value)  # a code span shows its text as is
        for h in HOSTILE:
            assert h not in outside_code, (kind, value)
        if html:
            assert not any(m in value for m in MARKERS), (kind, value)
    everything = " ".join(v for _, v, _ in shown)
    for label in (SCRIPT, IMG, LINK):  # every policy label, shown literally (card headings, verdict)
        assert text(label) in everything, label


def test_hostile_labels_and_names_are_shown_literally_on_every_tab(monkeypatch, tmp_path):
    from sim.app import drawing
    from tests.test_app import open_app

    monkeypatch.setenv("SUPPORTSIM_APP_FIXTURES", "1")
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(tmp_path / "cache"))
    at = open_app(groups=True)
    at.sidebar.file_uploader[0].upload(f"{IMG}.toml", hostile_scenario(uncertainty=True).encode(),
                                       "application/toml")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.metric and at.text[0].value.startswith(REMOTE)  # the header line: plain text
    assert_literal(at)
    at.session_state["group:customers"] = True  # segment names: tab labels and section titles
    at.number_input(key="p:customers.initial").set_value(301)  # a change: "1 change from <file name>"
    next(b for b in at.button if b.label.startswith("Apply customers")).click().run()
    assert not at.exception
    assert any(e.label.endswith(text(f"{IMG}.toml")) for e in at.expander)
    assert_literal(at)
    for tab in drawing.TABS:
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception, (tab, [e.value for e in at.exception])
        assert_literal(at)
    at.session_state["tab"] = "Decision"
    at.run()
    at.number_input(key="dec_samples").set_value(4)
    at.button(key="dec_run").click().run()
    assert not at.exception
    assert any("Choose" in m.value for m in at.markdown)
    assert_literal(at)


def test_text_and_code_make_anything_literal():
    for h in (*HOSTILE, NAME, DESCRIPTION, "`a`` b`", ":red[x] :material/home: &lt; \\* _x_ ~y~"):
        shown = text(h)
        assert "\n" not in shown
        assert re.sub(r"\\(.)", r"\1", shown) == " ".join(h.split())  # the same text once unescaped
        assert all(shown[i - 1] == "\\" for i, c in enumerate(shown) if c in "<>[]()*$`!:&_~" and i)
        fenced = code(h)
        fence = fenced[: len(fenced) - len(fenced.lstrip("`"))]
        assert fence not in fenced[len(fence):-len(fence)]  # no run of backticks inside ends the span
