"""A 16:9 PowerPoint deck of a scenario run (python-pptx).

Where it sits: runs (``Results``) -> figures, findings -> **deck** (one .pptx) -> readers;
``supportsim deck`` (in :mod:`sim.cli`) and the app call :func:`build_deck`. It never runs
the model. Slides: the recommendation (title), the KPI table with 95% intervals, the value
bridge of each policy against the reference, the mechanisms (tickets raised vs suppressed,
the satisfaction ladder), with a decision under uncertainty (``decision``, from
``supportsim decide``) a "How sure are we?" slide (probability of being best, EVPPI) and the
decision map, and the assumptions that differ between policies with their sources. Every
slide's speaker notes carry the command that reproduces its numbers (and the decide command
on the decision's slides). Figures are the same 16:9 PNGs as ``supportsim run`` saves, placed
full-bleed; the two panels of the "How sure" slide are drawn at half the width instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

from matplotlib.axes import Axes
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Inches, Pt

from sim import __version__
from sim.base.atomic import atomic_write
from sim.decision.psa import DEFAULT_KPI, EVPPI_NOT_ADDITIVE, DecisionResult
from sim.output import figures, findings, fmt
from sim.output.decision_plots import (
    DecisionMeta,
    panel_axes,
    plot_decision_map,
    plot_evppi,
    plot_probability_best,
)
from sim.output.optimise_read import Optimum
from sim.output.optimise_slide import add_best_design_slide
from sim.output.plots import Meta, figure_png
from sim.output.report import assumptions, held_fixed_rows, uncertainty_headline, uncertainty_line
from sim.output.terms import terms_rows
from sim.params.names import parameter_names, readable_name
from sim.params.scenario import policy_labels
from sim.params.sources import readable
from sim.runs.metrics import KPIS
from sim.runs.results import Results

DECK_NAME = "deck.pptx"
SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
DARK, GREY = RGBColor(0x22, 0x22, 0x22), RGBColor(0x55, 0x55, 0x55)
MAX_ASSUMPTION_ROWS = 12


def _text(slide, text: str, *, left: float, top: float, width: float, height: float, size: int = 20,
          bold: bool = False, color: RGBColor = DARK) -> None:
    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(text.split("\n")):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        para.text = line
        para.font.size = Pt(size)
        para.font.bold = bold
        para.font.color.rgb = color


def _notes(slide, text: str) -> None:
    slide.notes_slide.notes_text_frame.text = text


def _blank(prs: Presentation):
    return prs.slides.add_slide(prs.slide_layouts[6])  # the blank layout of the default template


def _footer(slide, res: Results) -> None:
    _text(slide, Meta.of(res).footer(), left=0.3, top=7.05, width=12.5, height=0.4, size=11, color=GREY)


def _picture(slide, ax: Axes, *, left: float, top: float, width: float | None = None,
             height: float | None = None, name: str = "figure", alt: str | None = None) -> str:
    """Place ``ax``'s figure on ``slide`` (alt text: ``alt``, else its title, the finding); return that text."""
    title = alt if alt is not None else (ax.figure.get_suptitle() or ax.get_title()).replace("\n", " ")
    png = figure_png(ax.figure)
    pic = slide.shapes.add_picture(io.BytesIO(png), Inches(left), Inches(top),
                                   width=SLIDE_W if width is None else Inches(width),
                                   height=SLIDE_H if height is None else Inches(height))
    pic.name = name
    pic._element.nvPicPr.cNvPr.set("descr", title)
    return title


TITLE_H = 1.1  # inches: a figure slide's native title above its figure


def _figure_slide(prs: Presentation, draw: Callable[[], Axes], notes: str) -> None:
    """A slide with the figure's finding as its native title (editable in PowerPoint) and the
    figure, without its own title, across the rest of the slide (redrawn at that size: its type
    keeps its point size)."""
    slide = _blank(prs)
    ax = draw()
    fig = ax.figure
    title = (fig.get_suptitle() or ax.get_title()).replace("\n", " ")
    if fig.get_suptitle():  # small multiples: the panels keep their own titles
        fig.suptitle("")
    else:
        ax.set_title("")
    fig.set_size_inches(SLIDE_W.inches, SLIDE_H.inches - TITLE_H)
    # two lines at most above the figure: a long finding is set smaller (about 58 characters a line at 24 pt)
    size = 24 if len(title) <= 110 else 20 if len(title) <= 135 else 18
    _text(slide, title, left=0.4, top=0.15, width=12.5, height=TITLE_H - 0.15, size=size, bold=True)
    _picture(slide, ax, left=0, top=TITLE_H, width=SLIDE_W.inches, height=SLIDE_H.inches - TITLE_H, alt=title)
    _notes(slide, f"{title}\n\n{notes}")


# ---------------------------------------------------------------- a decision under uncertainty

# inches: two panels side by side under the title; the EVPPI bars need room for parameter names
LEFT_W, RIGHT_W, PANEL_H, PANEL_TOP = 5.9, 6.7, 5.3, 1.6
MAX_EVPPI_BARS = 8  # two-line parameter names stay apart


def decide_command(decision: DecisionResult) -> str:
    """The command that made ``decision`` (as recorded by the CLI), else its equivalent with
    the scenario file and output folder left for the reader to fill in."""
    if decision.command:
        return decision.command
    extra = ([] if decision.design == "lhs" else ["--design", decision.design]) + (
        [] if decision.kpi == DEFAULT_KPI else ["--kpi", decision.kpi])
    return " ".join(["supportsim decide SCENARIO.toml", "--samples", str(decision.samples), "--replications",
                     str(decision.replications), "--seed", str(decision.seed), *extra, "--out", "DIR"])


def _decision_notes(decision: DecisionResult, reproduce: str) -> str:
    return ("\n".join(decision.answer()) + f"\n{EVPPI_NOT_ADDITIVE}\n\nDecision: {decide_command(decision)} (decision sha256 "
            f"{decision.decision_sha256}; {decision.samples} parameter samples x {decision.replications} "
            f"replication(s) per policy)\n\n{reproduce}")


def _decision_slides(prs: Presentation, res: Results, decision: DecisionResult, reproduce: str) -> None:
    """"How sure are we?": the finding as the title, the probability that each policy is best and
    the EVPPI of each assumption side by side, the three-line answer in the notes; then the
    decision map (when there is one), full-bleed."""
    labels = policy_labels(decision.scenario)
    names = parameter_names(decision.scenario, list(decision.parameters))
    notes = _decision_notes(decision, reproduce)
    slide = _blank(prs)
    _text(slide, "How sure are we?", left=0.4, top=0.2, width=12.5, height=0.4, size=16, color=GREY)
    _text(slide, uncertainty_headline(decision), left=0.4, top=0.55, width=12.5, height=1.0, size=24, bold=True)
    ax = plot_probability_best(decision.policies, ax=panel_axes(LEFT_W, PANEL_H), samples=decision.samples,
                               labels=labels)
    ax.set_title("How often each policy is best")
    _picture(slide, ax, left=0.3, top=PANEL_TOP, width=LEFT_W, height=PANEL_H, name="probability_best")
    top = min(len(decision.evppi), MAX_EVPPI_BARS)
    ax = plot_evppi(decision.evppi, evpi=decision.evpi, ax=panel_axes(RIGHT_W, PANEL_H), names=names, max_params=top,
                    shares=False)
    # a panel's texts stay narrower than its axes, so nothing runs off the picture
    ax.set_title(f"What knowing each assumption is worth\n(dashed: all together, EVPI {fmt.usd(decision.evpi)})")
    ax.set_xlabel("EVPPI (USD)")
    ax.set_ylabel(f"The {top} most valuable of {len(decision.evppi)}" if top < len(decision.evppi) else "")
    ax.get_legend().remove()  # half a slide has no room beside the bars: the x label says what the line is
    _picture(slide, ax, left=13.333 - 0.3 - RIGHT_W, top=PANEL_TOP, width=RIGHT_W, height=PANEL_H, name="evppi")
    _footer(slide, res)
    _notes(slide, f"{uncertainty_headline(decision)}\n\n{notes}")
    if decision.decision_map is not None:
        _figure_slide(prs, lambda: plot_decision_map(
            decision.decision_map, decision.psa, kpi=decision.kpi, policies=decision.policy_names,
            meta=DecisionMeta.of(decision), names=names), notes)
    slide = _blank(prs)  # what the answer rests on: the settings the decision does not sample
    _text(slide, "What the decision holds fixed", left=0.4, top=0.3, width=12.5, height=0.7, size=28, bold=True)
    _text(slide, "Not sampled: the decision is which policy is best given these settings.", left=0.4, top=0.95,
          width=12.5, height=0.4, size=14, color=GREY)
    head, *body = held_fixed_rows(decision.scenario)
    half = (len(body) + 1) // 2
    for left, part in ((0.4, body[:half]), (6.85, body[half:])):
        if part:
            _table(slide, [head, *part], top=1.45, col_widths=[2.3, 3.8], size=11, left=left)
    _footer(slide, res)
    _notes(slide, notes)


def _table(slide, rows: list[list[str]], *, top: float, col_widths: list[float], size: int = 14,
           left: float = 0.4) -> None:
    shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(left), Inches(top),
                                   Inches(sum(col_widths)), Inches(0.4 * len(rows)))
    table = shape.table
    for j, w in enumerate(col_widths):
        table.columns[j].width = Inches(w)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            cell = table.cell(i, j)
            cell.text = value
            for para in cell.text_frame.paragraphs:
                para.font.size = Pt(size)
                para.font.bold = i == 0 or j == 0


def kpi_rows(res: Results) -> list[list[str]]:
    """The KPI table: a row per KPI, a column per policy, "mean (95% CI low to high)"."""
    labels = policy_labels(res.scenario)
    summary = res.summary()
    rows = [["KPI", *(labels.get(p, p) for p in res.policies)]]
    for k, kpi in KPIS.items():
        cells = []
        for p in res.policies:
            s = summary[p][k]
            ci = fmt.interval(k, s)
            cells.append(fmt.kpi(k, s["mean"]) + ("" if ci == fmt.DASH else f"\n({ci})"))
        rows.append([kpi.title, *cells])
    return rows


def assumption_rows(res: Results) -> list[list[str]]:
    """The assumptions that differ between policies, then the run settings, with their sources."""
    labels = policy_labels(res.scenario)
    rows = [["Parameter", "Value", "Source"]]
    params = assumptions(res.scenario)
    differ = [r for r in params if r.overrides]
    run = [r for r in params if r.path.startswith("run.")]
    for r in (differ + run)[:MAX_ASSUMPTION_ROWS]:
        unit = f" {r.unit}" if r.unit and r.unit not in ("choice", "on/off") else ""
        value = fmt.param(r.value) + unit
        if r.overrides:
            value += "; " + "; ".join(f"{labels.get(k, k)}: {fmt.param(v)}" for k, v in r.overrides.items())
        rows.append([readable_name(r.path), value, readable(r.source)])
    return rows


def build_deck(res: Results, *, command: str | None = None, decision: DecisionResult | None = None,
               optimum: Optimum | None = None) -> Presentation:
    """The deck of ``res`` as a python-pptx ``Presentation`` (see the module docstring). With
    ``decision`` (made on the same scenario: see
    :func:`sim.output.decision_files.check_same_scenario`) the title slide says how often the
    recommendation is best and the uncertainty slides come before the assumptions; without one
    the deck is exactly as before."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    sc = res.scenario
    reproduce = (f"Reproduce: {command}\n" if command else "") + (
        f"Scenario '{sc.scenario.name}'" + (f", edited ({'; '.join(sc.edits)})" if sc.edits else "")
        + f", sha256 {res.scenario_sha256}, seed {res.seed}, "
        f"{res.replications} replications per policy, {sc.run.months} months, supportsim {__version__}.")
    rec = findings.recommend(res)
    one = findings.answer(res, decision)  # with a decision, the recommendation is its best under uncertainty
    labels = policy_labels(sc)

    slide = _blank(prs)
    _text(slide, f"Support pricing: {sc.scenario.name}{fmt.edited_suffix(sc.edits)}", left=0.6, top=0.6, width=12, height=0.8, size=20,
          color=GREY)
    headline = f"Recommendation: {labels.get(one.policy, one.policy)}"
    # one line above the text: about 33 characters fit at 36 pt, 43 at 28 pt
    _text(slide, headline, left=0.6, top=1.4, width=12, height=1.0, bold=True,
          size=36 if len(headline) <= 33 else 28 if len(headline) <= 43 else 22)
    sure = uncertainty_line(decision, one.policy) if decision is not None else ""
    lines = (rec.sentence, rec.clarity, rec.trade_off, rec.terminal, sure) if decision is None else (
        one.sentence + ".", f"On the point estimate: {rec.sentence}", rec.clarity, rec.trade_off, rec.terminal, sure)
    _text(slide, "\n".join(x for x in lines if x), left=0.6, top=2.5, width=12, height=4.2,
          size=18 if decision is None else 16)
    _footer(slide, res)
    _notes(slide, reproduce)

    slide = _blank(prs)
    _text(slide, "Headline KPIs per policy: mean (95% CI)", left=0.4, top=0.3, width=12.5, height=0.7, size=28,
          bold=True)
    first = 3.3
    rest = (12.5 - first) / max(len(res.policies), 1)
    _table(slide, kpi_rows(res), top=1.2, col_widths=[first] + [rest] * len(res.policies),
           size=13 if len(res.policies) > 3 else 14)
    _footer(slide, res)
    _notes(slide, reproduce)

    for f in figures.for_report(len(res.policies)):
        if f.each_policy:
            for _, make in figures.expand(f, res):
                _figure_slide(prs, make, reproduce)
    for name in ("tickets", "satisfaction"):
        _figure_slide(prs, lambda name=name: figures.draw(name, res), reproduce)
    if decision is not None:
        _decision_slides(prs, res, decision, reproduce)
    if optimum is not None:  # checked to be of the same scenario: sim.output.optimise_read
        add_best_design_slide(prs, optimum, reproduce=reproduce, footer=lambda slide: _footer(slide, res))

    slide = _blank(prs)  # what a customer gets under each policy: the rows that decide the comparison
    _text(slide, "What each policy promises and charges", left=0.4, top=0.3, width=12.5, height=0.7, size=28,
          bold=True)
    rows = terms_rows(sc)
    first = 3.1
    _table(slide, rows, top=1.2, col_widths=[first] + [(12.5 - first) / (len(rows[0]) - 1)] * (len(rows[0]) - 1),
           size=13 if len(rows[0]) <= 4 else 12)
    _footer(slide, res)
    _notes(slide, reproduce)

    slide = _blank(prs)
    _text(slide, "Assumptions: what differs between policies", left=0.4, top=0.3, width=12.5,
          height=0.7, size=28, bold=True)
    _table(slide, assumption_rows(res), top=1.1, col_widths=[3.6, 3.6, 5.3], size=12)
    _text(slide, "Every parameter, its range and source: report.html and docs/parameters.md.", left=0.4, top=6.6,
          width=12.5, height=0.4, size=12, color=GREY)
    _footer(slide, res)
    _notes(slide, reproduce)
    prs.core_properties.title = f"supportsim: {sc.scenario.name}"
    props = prs.core_properties  # core properties hold at most 255 characters each
    props.subject = rec.sentence[:255]
    props.comments = (f"scenario sha256 {res.scenario_sha256}; seed {res.seed}; {res.replications} replications; "
                      f"supportsim {__version__}")
    if command and len(command) <= 255:
        props.keywords = command
    return prs


def write_deck(res: Results, path: Path, *, command: str | None = None,
               decision: DecisionResult | None = None, optimum: Optimum | None = None) -> Path:
    """Write the deck of ``res`` (with ``decision``, ``optimum``: see :func:`build_deck`) to ``path`` atomically."""
    prs = build_deck(res, command=command, decision=decision, optimum=optimum)
    path = Path(path)

    def write(tmp: Path) -> None:
        prs.save(str(tmp))
        os.chmod(tmp, 0o644)

    atomic_write(path, write)
    return path


def deck_bytes(res: Results, *, command: str | None = None, decision: DecisionResult | None = None,
               optimum: Optimum | None = None) -> bytes:
    """The deck as bytes (the app's download); ``decision``, ``optimum``: see :func:`build_deck`."""
    buf = io.BytesIO()
    build_deck(res, command=command, decision=decision, optimum=optimum).save(buf)
    return buf.getvalue()


__all__ = ["DECK_NAME", "KPIS", "assumption_rows", "build_deck", "deck_bytes", "decide_command", "kpi_rows",
           "write_deck"]
