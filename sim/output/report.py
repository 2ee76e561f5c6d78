"""A one-page, self-contained HTML report of a scenario run.

Where it sits: runs (``Results``) and, optionally, a decision under uncertainty
(:class:`sim.decision.psa.DecisionResult`) -> figures -> **report** (one HTML file, images
embedded as base64 PNG) -> readers. The assumptions table lists every parameter through the
schema walker (:mod:`sim.params.walk`). It never runs the model: ``supportsim report`` (in
:mod:`sim.cli`) runs the scenario and hands the ``Results`` (and a decision read back with
``--decision``) over. The sentences about a decision (:func:`uncertainty_headline`,
:func:`uncertainty_line`) are shared with the deck.
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.base.atomic import atomic_write
from sim.decision.fixed import held_fixed
from sim.decision.psa import EVPPI_NOT_ADDITIVE, DecisionResult, percent, prob_best_interval
from sim.output import figures, findings, fmt
from sim.output.decision_plots import decision_figures
from sim.output.plots import figure_png, policy_colors
from sim.output.terms import terms_rows
from sim.params.names import parameter_names, readable_name
from sim.params.scenario import allowed_range, policy_labels, resolve_policies
from sim.params.schema import Params, Scenario, field_bounds
from sim.params.sources import readable
from sim.params.walk import field_unit, source_of, unit_of, walk
from sim.runs.metrics import KPIS
from sim.runs.promises import promises_table, unkeepable_warnings
from sim.runs.results import Results

REPORT_NAME = "report.html"

# ---------------------------------------------------------------- the assumptions table


@dataclass(frozen=True)
class ParamRow:
    """One parameter of the assumptions table."""

    path: str
    value: Any
    unit: str
    allowed: str
    source: str
    description: str
    overrides: dict[str, Any]


def assumptions(scenario: Scenario) -> list[ParamRow]:
    """Every parameter of the scenario: base value, unit, allowed range, source, description,
    and the value each policy that overrides it uses instead. Run settings come last."""
    base = Params.model_validate(scenario.model_dump(include=set(Params.model_fields)))
    policies = {p.name: dict((path, v) for path, v, _ in walk(p.params)) for p in resolve_policies(scenario)}
    rows = []
    for path, value, info in [*walk(base), *walk(scenario.run, "run.")]:
        overrides = {name: vals[path] for name, vals in policies.items() if path in vals and vals[path] != value}
        rows.append(ParamRow(path, value, unit_of(info), allowed_range(info), source_of(info),
                             info.description or "", overrides))
    return rows


def assumptions_table(scenario: Scenario) -> pd.DataFrame:
    """:func:`assumptions` as a pandas table (one row per parameter)."""
    return pd.DataFrame([{"parameter": r.path, "value": r.value, "unit": r.unit, "allowed": r.allowed,
                          "source": r.source, "description": r.description,
                          "policy_overrides": r.overrides} for r in assumptions(scenario)])


# ---------------------------------------------------------------- HTML


def _interval_cell(kpi: str, s: dict[str, float], *, signed: bool = False) -> str:
    mean = fmt.kpi(kpi, s["mean"], signed=signed)
    ci = (f"<span class='ci'>[{fmt.kpi(kpi, s['ci_low'], signed=signed)}, "
          f"{fmt.kpi(kpi, s['ci_high'], signed=signed)}]</span>") if math.isfinite(s.get("ci_low", math.nan)) else ""
    return f"{html.escape(mean)} {ci}"


def _kpi_tables(res: Results) -> str:
    colors = policy_colors(res.policies)
    labels = policy_labels(res.scenario)
    head = "".join(f"<th style='color:{colors[p]}'>{html.escape(labels.get(p, p))}</th>" for p in res.policies)
    summary = res.summary()
    body = []
    for kpi in KPIS:
        name, unit = KPIS[kpi].label, KPIS[kpi].unit
        cells = "".join(f"<td>{_interval_cell(kpi, summary[p][kpi])}</td>" for p in res.policies)
        body.append(f"<tr><th scope='row'>{html.escape(name)} <span class='unit'>({html.escape(unit)})</span></th>"
                    f"{cells}</tr>")
    out = [f"<table class='kpis' id='kpis'><thead><tr><th>KPI</th>{head}</tr></thead>"
           f"<tbody>{''.join(body)}</tbody></table>"]
    diffs = res.differences()
    others = [p for p in res.policies if p != res.reference]
    if others:
        ref = labels.get(res.reference, res.reference)
        head = "".join(f"<th style='color:{colors[p]}'>{html.escape(labels.get(p, p))} − {html.escape(ref)}</th>"
                       for p in others)
        body = []
        for kpi in KPIS:
            name, unit = KPIS[kpi].label, fmt.difference_unit(KPIS[kpi].unit)
            cells = []
            for p in others:
                s = diffs[p][kpi]
                clear = math.isfinite(s["ci_low"]) and (s["ci_low"] > 0 or s["ci_high"] < 0)
                cells.append(f"<td class='{'clear' if clear else ''}'>{_interval_cell(kpi, s, signed=True)}</td>")
            body.append(f"<tr><th scope='row'>{html.escape(name)} <span class='unit'>({html.escape(unit)})</span>"
                        f"</th>{''.join(cells)}</tr>")
        out.append(f"<h3>Difference vs the reference policy <em>{html.escape(ref)}</em> "
                   f"(paired by replication; bold = 95% CI excludes zero)</h3>"
                   f"<table class='kpis' id='differences'><thead><tr><th>KPI</th>{head}</tr></thead>"
                   f"<tbody>{''.join(body)}</tbody></table>")
    return "\n".join(out)


def _compact(x: float) -> str:
    a = abs(x)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if a >= size:
            return f"{x / size:,.4g}{suffix}"
    return f"{x:,.6g}"


def readable_range(info: Any) -> str:
    """Allowed values as a reader wants them: "0 to 720", "above 0 to 1", "flat, tiered, ..."."""
    if info is None:
        return ""
    lo, hi, lo_open = field_bounds(info)
    if lo is not None or hi is not None:
        left = ("above " if lo_open else "") + (_compact(lo) if lo is not None else "any")
        return f"{left} to {_compact(hi)}" if hi is not None else f"{left} or more"
    choices = getattr(info.annotation, "__args__", None)
    if choices and all(isinstance(c, str) for c in choices):
        return ", ".join(choices)
    return allowed_range(info)


def _group(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0].replace("_", " ")


def _assumptions_html(scenario: Scenario) -> str:
    """The assumptions, one collapsed <details> per section (customers, pricing, ...); sections
    with a value that differs between policies say so in their summary."""
    labels = policy_labels(scenario)
    infos = {path: info for path, _, info in [*walk(Params.model_validate(
        scenario.model_dump(include=set(Params.model_fields)))), *walk(scenario.run, "run.")]}
    groups: dict[str, list[str]] = {}
    differ: dict[str, int] = {}
    for r in assumptions(scenario):
        g = _group(r.path)
        over = "; ".join(f"{html.escape(labels.get(k, k))}: {html.escape(fmt.param(v))}" for k, v in r.overrides.items())
        differ[g] = differ.get(g, 0) + bool(r.overrides)
        groups.setdefault(g, []).append(
            f"<tr><td class='name' title='{html.escape(r.path)}'>{html.escape(readable_name(r.path))}</td>"
            f"<td>{html.escape(fmt.param(r.value))}</td><td>{over}</td><td>{html.escape(r.unit) or '–'}</td>"
            f"<td>{html.escape(readable_range(infos.get(r.path)))}</td>"
            f"<td>{html.escape(readable(r.source)) or '–'}</td><td class='doc'>{html.escape(r.description)}"
            f"<br><code class='path'>{html.escape(r.path)}</code></td></tr>")
    head = ("<thead><tr><th>Parameter</th><th>Value</th><th>Policies that differ</th><th>Unit</th><th>Allowed</th>"
            "<th>Source</th><th>Meaning</th></tr></thead>")
    out = []
    for g, rows in groups.items():
        note = f" · {differ[g]} differ between policies" if differ[g] else ""
        out.append(f"<details class='assumptions' data-group='{html.escape(g)}'><summary>{html.escape(g.capitalize())}"
                   f" <span class='unit'>({len(rows)} parameters{note})</span></summary>"
                   f"<table class='assumptions'>{head}<tbody>{''.join(rows)}</tbody></table></details>")
    return f"<div id='assumptions'>{''.join(out)}</div>"


def _summary_html(res: Results, decision: DecisionResult | None = None) -> str:
    """The executive summary: the recommendation, how clear it is, the main trade-off, and
    (with a decision) how sure we are under the uncertain assumptions."""
    rec = findings.recommend(res)
    one = findings.answer(res, decision)  # with a decision, the recommendation is its best under uncertainty
    label = policy_labels(res.scenario).get(one.policy, one.policy)
    finding = rec.sentence if decision is None else f"On the point estimate: {rec.sentence}"
    parts = [f"<p class='rec'><strong>Recommendation: {html.escape(label)}.</strong> {html.escape(finding)}.</p>",
             f"<p><strong>How clear:</strong> {html.escape(rec.clarity)}</p>"]
    if decision is not None:
        parts.insert(0, f"<p class='answer'><strong>{html.escape(one.sentence)}.</strong></p>")
    if rec.trade_off:
        parts.append(f"<p><strong>Main trade-off:</strong> {html.escape(rec.trade_off)}</p>")
    if rec.terminal:
        parts.append(f"<p><strong>What it rests on:</strong> {html.escape(rec.terminal)}</p>")
    if decision is not None:
        parts.append(f"<p><strong>How sure:</strong> {html.escape(uncertainty_line(decision, one.policy))} "
                     f"<a href='#uncertainty'>Uncertainty</a></p>")
    return f"<section id='summary'><h2>Summary</h2>{''.join(parts)}</section>"


# ---------------------------------------------------------------- a decision under uncertainty


def _worlds(decision: DecisionResult) -> str:
    return f"{decision.samples} plausible worlds"


def _prob_best(decision: DecisionResult, policy: str) -> float:
    return float(decision.policies.set_index("policy").at[policy, "prob_best"])


def research_phrase(decision: DecisionResult) -> str:
    """What to research first, as a clause: "the acquisition multiple is worth researching first
    (EVPPI $1.2M)", or that no single assumption is."""
    name = findings.turns_on(decision)
    if name is None:
        return "no single assumption is worth researching on its own"
    return f"{name} is worth researching first (EVPPI {fmt.usd(float(decision.evppi['evppi_usd'].iloc[0]))})"


def uncertainty_headline(decision: DecisionResult) -> str:
    """The finding of a decision in one sentence (the deck's "How sure are we?" title): the
    recommended policy, how often it is best, and what to research first."""
    labels = policy_labels(decision.scenario)
    rec = decision.recommended
    p = _prob_best(decision, rec)
    most = str(decision.policies.sort_values("prob_best", ascending=False, kind="stable")["policy"].iloc[0])
    if most == rec or _prob_best(decision, most) <= p:
        first = f"{labels.get(rec, rec)} is best in {percent(p)} of {_worlds(decision)}"
    else:
        first = (f"{labels.get(rec, rec)} has the highest expected value but is best in only {percent(p)} of "
                 f"{_worlds(decision)} ({labels.get(most, most)}: {percent(_prob_best(decision, most))})")
    return f"{first}; {research_phrase(decision)}"


def uncertainty_line(decision: DecisionResult, policy: str) -> str:
    """How sure the recommendation of a run (``policy``) is under the decision's uncertainty:
    how often it is best, and whether the decision recommends another policy."""
    labels = policy_labels(decision.scenario)
    name = labels.get(policy, policy)
    if policy not in decision.policy_names:
        return f"the decision run did not include {name}."
    line = (f"{name} is best in {percent(_prob_best(decision, policy))} of {_worlds(decision)} drawn from "
            f"the {len(decision.parameters)} uncertain assumptions.")
    if decision.recommended != policy:
        other = decision.recommended
        line += (f" Under that uncertainty {labels.get(other, other)} has the highest expected value (best in "
                 f"{percent(_prob_best(decision, other))}).")
    return line


def decision_rows(decision: DecisionResult) -> list[list[str]]:
    """The per-policy table of a decision: probability of being best (exact 95% binomial interval),
    expected value and expected loss of choosing it; the recommended policy marked."""
    labels = policy_labels(decision.scenario)
    rows = [["Policy", "Probability best (exact 95% interval)", "Expected value", "Expected loss if chosen"]]
    for r in decision.policies.itertuples():
        lo, hi = prob_best_interval(float(r.prob_best), decision.samples)
        mark = " (recommended)" if bool(r.recommended) else ""
        rows.append([labels.get(r.policy, r.policy) + mark, f"{percent(float(r.prob_best))} ({percent(lo)} to "
                     f"{percent(hi)})", fmt.usd(float(r.expected_value)), fmt.usd(float(r.expected_loss))])
    return rows


def _fixed_value(path: str, value: Any) -> str:
    unit = field_unit(path)
    if unit == "1/year" and isinstance(value, float):
        return f"{value:.0%} a year"
    return fmt.param(value) + ("" if unit in ("", "choice", "on/off") else f" {unit}")


def held_fixed_rows(scenario: Scenario) -> list[list[str]]:
    """What a decision on ``scenario`` holds fixed (:func:`sim.decision.fixed.held_fixed`) as
    [setting, value] rows: one value when every policy it acts on has it, else one per policy by
    its label; a setting of every segment in one row ("Plan price by segment")."""
    labels = policy_labels(scenario)
    everyone = len(resolve_policies(scenario))
    rows: dict[str, tuple[list[str], str]] = {}  # setting -> (values, the policies it applies to)
    for f in held_fixed(scenario):
        who = "" if len(f.values) == everyone else f" ({', '.join(labels.get(p, p) for p in f.values)})"
        if f.same:
            value = _fixed_value(f.path, next(iter(f.values.values())))
        else:
            value, who = "; ".join(f"{labels.get(p, p)}: {_fixed_value(f.path, v)}" for p, v in f.values.items()), ""
        name = f.name
        if ".segments." in f.path and f.name.endswith(" segment)"):
            name, segment = f.name.removesuffix(" segment)").rsplit(" (", 1)
            name, value = f"{name} by segment", f"{segment} {value}"
        values, _ = rows.setdefault(name, ([], who))
        values.append(value)
    return [["Held fixed (not sampled)", "Value"]] + [[name, " · ".join(values) + who]
                                                      for name, (values, who) in rows.items()]


def _html_table(rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<{'th scope=row' if j == 0 else 'td'}>{html.escape(c)}"
                                    f"</{'th' if j == 0 else 'td'}>" for j, c in enumerate(row)) + "</tr>"
                   for row in rows[1:])
    return f"<table class='kpis' id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(name: str, caption: str, png: bytes) -> str:
    return (f"<figure id='fig-{html.escape(name)}'><img alt='{html.escape(caption)}' "
            f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _uncertainty_html(decision: DecisionResult, plots: bool) -> str:
    """The Uncertainty section: the three-line answer, the per-policy and EVPPI tables, the plots."""
    names = parameter_names(decision.scenario, list(decision.parameters))
    answer = "".join(f"<li>{html.escape(line)}</li>" for line in decision.answer())
    evppi = [["Uncertain assumption", "EVPPI", "Share of EVPI", "Distribution"]] + [
        [names.get(r.parameter, r.parameter), fmt.usd(float(r.evppi_usd)),
         f"{r.share_of_evpi:.0%}" if r.share_of_evpi == r.share_of_evpi else fmt.DASH, str(r.distribution)]
        for r in decision.evppi.itertuples()]
    figs = ""
    if plots:
        figs = "\n".join(_figure_html(name, ax.figure.get_suptitle() or ax.get_title(), figure_png(ax.figure))
                         for name, ax in decision_figures(decision, names=names))
    return f"""<section id="uncertainty"><h2>Uncertainty: how sure are we?</h2>
<p class="prov">{html.escape(uncertainty_headline(decision))}. Probabilistic sensitivity analysis: {decision.samples}
parameter sets drawn from the scenario's [uncertainty] table ({html.escape(decision.design)}), every policy simulated
on each ({decision.replications} replication{'s' if decision.replications != 1 else ''} per set, common random
numbers), decided on {html.escape(decision.kpi)}; decision sha256 <code>{decision.decision_sha256[:12]}</code>.
EVPI {html.escape(fmt.usd(decision.evpi))}: what perfect knowledge of every uncertain assumption would be worth.</p>
<ul class="answer">{answer}</ul>
{_html_table(decision_rows(decision), "decision-policies")}
<h3>What the decision holds fixed</h3>
<p class="prov">The decision is which policy is best given these settings: they are not sampled (edit the scenario, or
add them to its [uncertainty] table, to see whether the answer moves).</p>
{_html_table(held_fixed_rows(decision.scenario), "decision-fixed")}
<h3>What each assumption is worth knowing (EVPPI)</h3>
{_html_table(evppi, "decision-evppi")}
<p class="prov">{html.escape(EVPPI_NOT_ADDITIVE)}</p>
<div class="grid">
{figs}
</div></section>"""


def _figures(res: Results) -> list[tuple[str, str, bytes]]:
    """(name, caption, PNG bytes) of the report's figures, in registry order."""
    return [(name, caption, figure_png(make().figure)) for name, caption, make in figures.report_figures(res)]


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:24px;color:#222;line-height:1.4}
h1{margin-bottom:0}.sub{color:#555;margin-top:4px}.prov{font-size:13px;color:#555}
table{border-collapse:collapse;margin:8px 0 20px;font-size:14px}th,td{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:right;vertical-align:top}th:first-child,td.path,td.doc{text-align:left}thead th{border-bottom:2px solid #444}
.ci{color:#666;font-size:12px;white-space:nowrap}.unit{color:#666;font-weight:normal}td.clear{font-weight:bold}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
figure{margin:0}figure img{width:100%;height:auto;border:1px solid #eee}figcaption{font-size:14px;color:#444}
table.assumptions{font-size:12px}table.assumptions td{text-align:left}code.path{color:#777;font-size:11px}
details.assumptions summary{cursor:pointer;font-weight:bold;padding:4px 0}#summary{background:#f4f7fb;
border-left:4px solid #0072B2;padding:4px 16px;margin:16px 0}p.rec{font-size:18px}
p.warn{background:#fff4e5;border-left:4px solid #D55E00;padding:6px 12px}table.terms td{text-align:left}
"""
DECISION_CSS = """#decision-policies td,#decision-evppi td{text-align:right}
#decision-evppi td:last-child,#decision-evppi th:last-child{text-align:left}
"""


def _terms_html(sc: Scenario) -> str:
    """What each policy promises and charges (:func:`sim.output.terms.terms_rows`), with a warning
    for each promise the desk's hours cannot keep (:func:`sim.runs.promises.unkeepable_warnings`)."""
    rows = terms_rows(sc)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr><th scope='row'>" + html.escape(r[0]) + "</th>"
                   + "".join(f"<td>{html.escape(c)}</td>" for c in r[1:]) + "</tr>" for r in rows[1:])
    warns = "".join(f"<p class='warn'>Warning: {html.escape(w)}.</p>"
                    for w in unkeepable_warnings(promises_table(sc)))
    return (f"<h2>What each policy promises and charges</h2>{warns}"
            f"<table class='terms'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def render(res: Results, *, command: str | None = None, plots: bool = True,
           decision: DecisionResult | None = None) -> str:
    """The report of ``res`` (``Results``) as one self-contained HTML page (``plots=False``:
    tables only, e.g. for a quick look). With ``decision`` (a decision under uncertainty on
    the same scenario), the summary says how sure the recommendation is and an Uncertainty
    section follows the KPI tables; without one the page is exactly as before."""
    sc = res.scenario
    title = f"supportsim report: {sc.scenario.name}{fmt.edited_suffix(sc.edits)}"
    edits = (f"<br>{html.escape(fmt.scenario_ref(sc.scenario.name, res.scenario_sha256, len(sc.edits)))}: "
             + "; ".join(f"<code>{html.escape(e)}</code>" for e in sc.edits)) if sc.edits else ""
    figs = "\n".join(_figure_html(name, caption, png) for name, caption, png in (_figures(res) if plots else []))
    cmd = f"<br>Reproduce: <code>{html.escape(command)}</code>" if command else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}{DECISION_CSS if decision is not None else ""}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="sub">{html.escape(sc.scenario.description or "")}</p>
<p class="prov">supportsim {html.escape(__version__)} · scenario sha256 <code>{res.scenario_sha256}</code> ·
seed {res.seed} · {res.replications} replications per policy · {sc.run.months} months ·
reference policy <strong>{html.escape(res.reference)}</strong> · intervals are 95% Student-t CIs of the mean{edits}{cmd}</p>
{_summary_html(res, decision) if len(res.policies) > 1 else ""}
<h2>Headline KPIs per policy (mean [95% CI])</h2>
{_kpi_tables(res)}{"" if decision is None else chr(10) + _uncertainty_html(decision, plots)}
{_terms_html(sc)}
<h2>Key plots</h2>
<div class="grid">
{figs}
</div>
<h2>Assumptions</h2>
<p class="prov">Every parameter of the run, grouped (click a group to open it): the base value, the policies
that set it differently, its unit, allowed range and the source of its default.</p>
{_assumptions_html(sc)}
</body></html>
"""


def write_report(res: Results, out_dir: Path, *, command: str | None = None,
                 decision: DecisionResult | None = None) -> Path:
    """Write ``out_dir/report.html`` atomically (other files in ``out_dir`` are left alone);
    ``decision``: see :func:`render`."""
    text = render(res, command=command, decision=decision)
    path = Path(out_dir) / REPORT_NAME

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o666 & ~_umask())  # temp files are private; the report is for sharing

    atomic_write(path, write)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


__all__ = [
    "ParamRow", "assumptions", "assumptions_table", "decision_rows", "render", "research_phrase",
    "uncertainty_headline", "uncertainty_line", "write_report",
]
