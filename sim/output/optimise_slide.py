""""The best design" slide of the deck: an optimisation's chosen design and its guarantee.

Where it sits: :class:`sim.output.optimise_read.Optimum` (``supportsim deck --optimum DIR``, or
the app's Optimise tab) -> **optimise_slide** -> :mod:`sim.output.deck`, which calls
:func:`add_best_design_slide` before the assumptions. It never runs the model. The slide: the
finding as its (native) title, the chosen design against the policy's current one, the KPI's
mean and 95% interval on the fresh replications (never the search's), the paired difference
from the current design, each constraint met or not, and the guarantee in one sentence
("within $δ of the best of these candidates with 95% probability"); on the right the search's
convergence. The notes carry the optimisation's full answer, its command and the deck's.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Inches, Pt

from sim.output import fmt
from sim.output.decision_plots import panel_axes
from sim.output.optimise_plots import plot_convergence
from sim.output.optimise_read import Optimum
from sim.output.plots import figure_png
from sim.params.names import display_name
from sim.params.scenario import policy_label
from sim.params.walk import field_unit
from sim.runs import metrics

__all__ = ["add_best_design_slide", "design_rows", "guarantee_line", "headline"]

DARK, GREY = RGBColor(0x22, 0x22, 0x22), RGBColor(0x55, 0x55, 0x55)
GREEN, RED = RGBColor(0x1B, 0x7F, 0x3B), RGBColor(0xB0, 0x2A, 0x2A)
TITLE_ONLY = 5  # the default template's "Title Only" layout: a native title, nothing else
LEFT_W, FIG_W, FIG_H, TOP = 6.3, 6.2, 5.0, 1.55  # inches
ROW_H = 0.4  # a table row of 12 pt text on one line, as PowerPoint and LibreOffice draw it
SILENT_UNITS = ("", "choice", "on/off", "fraction", "probability")


def guarantee_line(body: dict[str, Any]) -> str:
    """The selection's guarantee in one sentence: "Within $δ of the best of these N candidates
    with 95% probability", or why no guarantee holds (optimum.json's own statement)."""
    g = body["guarantee"]
    if body.get("chosen") is None or not g.get("holds") or g["feasible_candidates"] < 2:
        return g["statement"]
    return (f"Within {fmt.kpi(g['kpi'], g['delta'])} of the best of these {g['feasible_candidates']} candidates "
            f"with {g['confidence']:.0%} probability (Kim & Nelson selection on fresh replications; the rest of "
            "the search space carries no such guarantee).")


def headline(optimum: Optimum) -> str:
    """The slide's title: the chosen design's KPI on fresh replications and its gain, or that none was chosen."""
    body, kpi = optimum.body, optimum.kpi
    label = policy_label(optimum.scenario, optimum.policy)
    if body.get("chosen") is None:
        return f"The best design for {label}: none of the candidates met the constraints"
    e, d = body["estimates_fresh"][kpi], body["difference_vs_current"][kpi]
    name = metrics.KPIS[kpi].label.lower()
    lo, hi = d.get("ci_low", math.nan), d.get("ci_high", math.nan)
    if math.isfinite(lo) and math.isfinite(hi) and lo <= 0 <= hi:  # a CI of the mean that includes 0 says no more
        return (f"The best design for {label}: {name} {fmt.kpi(kpi, e['mean'])}, not distinguishable from its "
                f"current design (95% CI of the difference {fmt.interval(kpi, d, signed=True)})")
    more = "more" if d["mean"] >= 0 else "less"
    return (f"The best design for {label}: {name} {fmt.kpi(kpi, e['mean'])}, "
            f"{fmt.kpi(kpi, abs(d['mean']))} {more} than its current design")


def _value(v: Any) -> str:
    return "varies" if v is None else fmt.param(v)


def design_rows(optimum: Optimum) -> list[list[str]]:
    """Parameter (with its unit), current value, chosen value: a row per searched parameter."""
    body = optimum.body
    chosen = body.get("chosen") or {}
    rows = [["Parameter", "Now", "Chosen"]]
    for path, now in body["current_design"].items():
        unit = field_unit(path)
        name = display_name(path, optimum.scenario) + (f" ({unit})" if unit and unit not in SILENT_UNITS else "")
        rows.append([name, _value(now), _value(chosen[path]) if path in chosen else fmt.DASH])
    return rows


def _lines(optimum: Optimum) -> list[tuple[str, RGBColor, bool]]:
    """The text under the table: (line, colour, bold)."""
    body, kpi = optimum.body, optimum.kpi
    out: list[tuple[str, RGBColor, bool]] = []
    if body.get("chosen") is not None:
        n = body["fresh_replications"]["observations"]
        out.append((f"Chosen from {body.get('chosen_from') or 'the candidates'} of {body['trials']} trials; every "
                    f"number below comes from {n} fresh replications, never the search's", GREY, False))
        for k in body["kpis"]:
            e, d = body["estimates_fresh"][k], body["difference_vs_current"][k]
            out.append((f"{metrics.KPIS[k].title}: {fmt.kpi(k, e['mean'])} (95% CI {fmt.interval(k, e)}) on {n} "
                        f"fresh replications; {fmt.kpi(k, d['mean'], signed=True)} (95% CI "
                        f"{fmt.interval(k, d, signed=True)}) vs the current design, paired", DARK, k == kpi))
        for text in body["constraints"]:
            out.append(_constraint(text, bool(body["constraints_met"].get(text)), body["estimates_fresh"]))
    out.append(("Guarantee: " + guarantee_line(body), DARK, False))
    return out


def _constraint(text: str, met: bool, estimates: dict[str, Any]) -> tuple[str, RGBColor, bool]:
    """"✓ Average retention rate (%) ≥ 95.00%: 96.07%, met" from optimum.json's "KPI >= X"."""
    parts = text.split(" ")
    mark = "✓" if met else "✗"
    verdict = "met" if met else "not met"
    try:
        kpi, op, x = parts[0], parts[1], float(parts[2])
        mean = estimates.get(kpi, {}).get("mean")
        line = (f"{mark} {metrics.KPIS[kpi].title} {'≥' if op == '>=' else '≤'} {fmt.kpi(kpi, x)}: "
                f"{fmt.kpi(kpi, mean)}, {verdict}")
    except (IndexError, KeyError, ValueError, TypeError):  # a constraint written otherwise: as it is
        line = f"{mark} {text}: {verdict}"
    return line, GREEN if met else RED, False


def _textbox(slide: Any, lines: list[tuple[str, RGBColor, bool]], *, left: float, top: float, width: float,
             height: float, size: int) -> None:
    frame = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height)).text_frame
    frame.word_wrap = True
    for i, (line, color, bold) in enumerate(lines):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        para.text = line
        para.font.size, para.font.bold, para.font.color.rgb = Pt(size), bold, color
        para.space_after = Pt(6)
        para.alignment = PP_ALIGN.LEFT


def _table(slide: Any, rows: list[list[str]], *, top: float) -> float:
    """The design table; returns its bottom (inches)."""
    height = ROW_H * len(rows)
    table = slide.shapes.add_table(len(rows), 3, Inches(0.4), Inches(top), Inches(LEFT_W), Inches(height)).table
    for j, w in enumerate((3.7, 1.3, 1.3)):
        table.columns[j].width = Inches(w)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            cell = table.cell(i, j)
            cell.text = value
            for para in cell.text_frame.paragraphs:
                para.font.size, para.font.bold = Pt(12), i == 0 or j == 2
    return top + height


def _figure(slide: Any, optimum: Optimum) -> None:
    body, kpi = optimum.body, optimum.kpi
    estimate = body["estimates_fresh"].get(kpi) if body.get("chosen") is not None else None
    ax = plot_convergence(optimum.trials, kpi=kpi, estimate=estimate, ax=panel_axes(FIG_W, FIG_H))
    finding = ax.get_title()
    # half a slide: the title, the labels and the legend made to fit the panel
    ax.set_title(f"The search: {len(optimum.trials)} trials × {body['replications_per_trial']} replications each")
    ax.set_xlabel("Trial")
    ax.set_ylabel(f"{metrics.KPIS[kpi].title}, each trial's search mean")
    ax.get_legend().remove()
    ax.legend(loc="best", fontsize=9, framealpha=0.9)
    pic = slide.shapes.add_picture(io.BytesIO(figure_png(ax.figure)), Inches(13.333 - 0.3 - FIG_W), Inches(TOP),
                                   width=Inches(FIG_W), height=Inches(FIG_H))
    pic.name = "convergence"
    pic._element.nvPicPr.cNvPr.set("descr", finding)


def notes(optimum: Optimum, reproduce: str) -> str:
    """The slide's notes: the optimisation's answer, its command and hash, then the deck's command."""
    body = optimum.body
    command = body.get("command") or "supportsim optimise (command not recorded)"
    return ("\n".join(body.get("answer") or [guarantee_line(body)])
            + f"\n\nOptimisation: {command} (scenario sha256 {body['scenario_sha256']}, seed {body['seed']}; "
              f"{body['trials']} trials x {body['replications_per_trial']} replications)\n\n{reproduce}")


def add_best_design_slide(prs: Any, optimum: Optimum, *, reproduce: str, footer: Callable[[Any], None]) -> Any:
    """Add "The best design" slide to ``prs`` (layout: module docstring); ``footer(slide)`` draws
    the deck's footer. Returns the slide."""
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY])
    title = slide.shapes.title
    title.left, title.top, title.width, title.height = Inches(0.4), Inches(0.5), Inches(12.5), Inches(1.0)
    title.text = headline(optimum)
    for para in title.text_frame.paragraphs:
        para.font.size, para.font.bold, para.font.color.rgb = Pt(24), True, DARK
        para.alignment = PP_ALIGN.LEFT
    title.text_frame.word_wrap = True
    kicker = slide.shapes.add_textbox(Inches(0.4), Inches(0.15), Inches(12.5), Inches(0.4)).text_frame
    kicker.word_wrap = True
    kicker.text = "The best design"
    kicker.paragraphs[0].font.size, kicker.paragraphs[0].font.color.rgb = Pt(16), GREY
    kicker.paragraphs[0].alignment = PP_ALIGN.LEFT
    bottom = _table(slide, design_rows(optimum), top=TOP)
    _textbox(slide, _lines(optimum), left=0.4, top=bottom + 0.2, width=LEFT_W, height=6.9 - bottom - 0.2, size=13)
    if len(optimum.trials):
        _figure(slide, optimum)
    footer(slide)
    slide.notes_slide.notes_text_frame.text = notes(optimum, reproduce)
    return slide
