"""A one-page, self-contained HTML report of a scenario run.

Where it sits: experiment (``Results``) -> plots -> **report** (one HTML file, images
embedded as base64 PNG) -> readers. Also home of the schema walker behind the assumptions
table (every parameter of :mod:`sim.params.schema` with its value, unit, allowed range and source).
It must not run the model except through :func:`sim.runs.experiment.run_scenario` in the
``supportsim report`` command.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sim import __version__
from sim.params.schema import Params, Scenario
from sim.params.sources import readable

REPORT_NAME = "report.html"

# The plots of the report, in reading order: (name in sim.output.plots.STANDARD_PLOTS or difference_<kpi>, caption).
REPORT_PLOTS = [
    ("cumulative_profit", "Cumulative profit: which policy earns most, and when the lines part."),
    ("difference_cumulative_profit", "Paired difference of cumulative profit against the reference policy."),
    ("customers", "Paying customers at each month's end."),
    ("retention_rate", "Retention rate per month, (C − B) / A × 100."),
    ("profit_waterfall", "Where the profit comes from: revenues up, costs down, mean over the horizon."),
    ("tickets", "Demand for support: tickets raised, issues suppressed by fees, tickets abandoned."),
    ("wait_times", "First-response waits per month (mean and 90th percentile)."),
    ("sla_attainment", "Share of answered tickets that met their first-response target."),
    ("satisfaction", "Satisfaction ladder: shares of paying customers on each level."),
]


# ---------------------------------------------------------------- the schema walker


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


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``X``, ``list[X]``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _unit_of(info: Any) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    unit = str(extra.get("unit", "") or "")
    if unit:
        return unit
    ann = info.annotation
    if ann is bool:
        return "on/off"
    if typing.get_origin(ann) is typing.Literal:
        return "choice"
    return ""


def _source_of(info: Any) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("source", "") or "")


def field_info(path: str, model: type[BaseModel] = Scenario) -> Any:
    """The pydantic FieldInfo of a dotted parameter path (list indices allowed), or None."""
    info = None
    current: type[BaseModel] | None = model
    for part in path.split("."):
        if part.isdigit() or part == "*":  # a list item, or every item (sweeps)
            continue
        if current is None or part not in current.model_fields:
            return None
        info = current.model_fields[part]
        current = _submodel(info.annotation)
    return info


def field_unit(path: str) -> str:
    """Unit of a parameter path from the schema ("" if unknown)."""
    info = field_info(path)
    return _unit_of(info) if info is not None else ""


def _walk(obj: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, value, FieldInfo) of every leaf parameter of ``obj``; list items as ``name[i]``."""
    for name, info in type(obj).model_fields.items():
        value = getattr(obj, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _walk(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for i, item in enumerate(value):
                label = getattr(item, "name", None)
                yield from _walk(item, f"{path}[{i}{'=' + label if label else ''}].")
        else:
            yield path, value, info


def assumptions(scenario: Scenario) -> list[ParamRow]:
    """Every parameter of the scenario: base value, unit, allowed range, source, description,
    and the value each policy that overrides it uses instead. Run settings come last."""
    from sim.params.scenario import allowed_range, resolve_policies

    base = Params.model_validate(scenario.model_dump(include=set(Params.model_fields)))
    policies = {p.name: dict((path, v) for path, v, _ in _walk(p.params)) for p in resolve_policies(scenario)}
    rows = []
    for path, value, info in [*_walk(base), *_walk(scenario.run, "run.")]:
        overrides = {name: vals[path] for name, vals in policies.items() if path in vals and vals[path] != value}
        rows.append(ParamRow(path, value, _unit_of(info), allowed_range(info), _source_of(info),
                             info.description or "", overrides))
    return rows


def assumptions_table(scenario: Scenario) -> Any:
    """:func:`assumptions` as a pandas table (one row per parameter)."""
    import pandas as pd

    return pd.DataFrame([{"parameter": r.path, "value": r.value, "unit": r.unit, "allowed": r.allowed,
                          "source": r.source, "description": r.description,
                          "policy_overrides": r.overrides} for r in assumptions(scenario)])


# ---------------------------------------------------------------- HTML


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def _fmt_kpi(kpi: str, x: float, *, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    from sim.output.plots import kpi_name_unit, value_formatter

    text = value_formatter(kpi_name_unit(kpi)[1])(x)
    return ("+" if signed and x > 0 else "") + text


def _interval_cell(kpi: str, s: dict[str, float], *, signed: bool = False) -> str:
    mean = _fmt_kpi(kpi, s["mean"], signed=signed)
    ci = (f"<span class='ci'>[{_fmt_kpi(kpi, s['ci_low'], signed=signed)}, "
          f"{_fmt_kpi(kpi, s['ci_high'], signed=signed)}]</span>") if math.isfinite(s.get("ci_low", math.nan)) else ""
    return f"{html.escape(mean)} {ci}"


def _kpi_tables(res: Any) -> str:
    from sim.output.plots import kpi_name_unit, policy_colors
    from sim.runs.metrics import KPIS

    colors = policy_colors(res.policies)
    head = "".join(f"<th style='color:{colors[p]}'>{html.escape(p)}</th>" for p in res.policies)
    summary = res.summary()
    body = []
    for kpi in KPIS:
        name, unit = kpi_name_unit(kpi)
        cells = "".join(f"<td>{_interval_cell(kpi, summary[p][kpi])}</td>" for p in res.policies)
        body.append(f"<tr><th scope='row'>{html.escape(name)} <span class='unit'>({html.escape(unit)})</span></th>"
                    f"{cells}</tr>")
    out = [f"<table class='kpis' id='kpis'><thead><tr><th>KPI</th>{head}</tr></thead>"
           f"<tbody>{''.join(body)}</tbody></table>"]
    diffs = res.differences()
    others = [p for p in res.policies if p != res.reference]
    if others:
        head = "".join(f"<th style='color:{colors[p]}'>{html.escape(p)} − {html.escape(res.reference)}</th>"
                       for p in others)
        body = []
        for kpi in KPIS:
            name, unit = kpi_name_unit(kpi)
            unit = "percentage points" if unit == "%" else unit
            cells = []
            for p in others:
                s = diffs[p][kpi]
                clear = math.isfinite(s["ci_low"]) and (s["ci_low"] > 0 or s["ci_high"] < 0)
                cells.append(f"<td class='{'clear' if clear else ''}'>{_interval_cell(kpi, s, signed=True)}</td>")
            body.append(f"<tr><th scope='row'>{html.escape(name)} <span class='unit'>({html.escape(unit)})</span>"
                        f"</th>{''.join(cells)}</tr>")
        out.append(f"<h3>Difference vs the reference policy <em>{html.escape(res.reference)}</em> "
                   f"(paired by replication; bold = 95% CI excludes zero)</h3>"
                   f"<table class='kpis' id='differences'><thead><tr><th>KPI</th>{head}</tr></thead>"
                   f"<tbody>{''.join(body)}</tbody></table>")
    return "\n".join(out)


def _assumptions_html(scenario: Scenario) -> str:
    rows = []
    for r in assumptions(scenario):
        over = "; ".join(f"{html.escape(k)}: {html.escape(_fmt_value(v))}" for k, v in r.overrides.items())
        rows.append(
            f"<tr><td class='path'>{html.escape(r.path)}</td><td>{html.escape(_fmt_value(r.value))}</td>"
            f"<td>{over}</td><td>{html.escape(r.unit) or '–'}</td><td>{html.escape(r.allowed)}</td>"
            f"<td>{html.escape(readable(r.source)) or '–'}</td><td class='doc'>{html.escape(r.description)}</td></tr>")
    return ("<table class='assumptions' id='assumptions'><thead><tr><th>Parameter</th><th>Value</th>"
            "<th>Policies that differ</th><th>Unit</th><th>Allowed</th><th>Source</th><th>Meaning</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _figures(res: Any) -> list[tuple[str, str, bytes]]:
    """(name, caption, PNG bytes) of the report's plots."""
    from sim.output.plots import figure_png, standard_figures

    wanted = dict(REPORT_PLOTS)
    drawn = {}
    for name, ax in standard_figures(res):
        if name in wanted:
            drawn[name] = figure_png(ax.figure)
        else:
            import matplotlib.pyplot as plt

            plt.close(ax.figure)
    return [(name, caption, drawn[name]) for name, caption in REPORT_PLOTS if name in drawn]


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:24px;color:#222;line-height:1.4}
h1{margin-bottom:0}.sub{color:#555;margin-top:4px}.prov{font-size:13px;color:#555}
table{border-collapse:collapse;margin:8px 0 20px;font-size:14px}th,td{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:right;vertical-align:top}th:first-child,td.path,td.doc{text-align:left}thead th{border-bottom:2px solid #444}
.ci{color:#666;font-size:12px;white-space:nowrap}.unit{color:#666;font-weight:normal}td.clear{font-weight:bold}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
figure{margin:0}figure img{width:100%;height:auto;border:1px solid #eee}figcaption{font-size:14px;color:#444}
table.assumptions{font-size:12px}table.assumptions td{text-align:left}td.path{font-family:ui-monospace,monospace}
"""


def render(res: Any, *, command: str | None = None, plots: bool = True) -> str:
    """The report of ``res`` (``Results``) as one self-contained HTML page (``plots=False``:
    tables only, e.g. for a quick look)."""
    sc = res.scenario
    title = f"supportsim report: {sc.scenario.name}"
    figs = "\n".join(
        f"<figure id='fig-{html.escape(name)}'><img alt='{html.escape(caption)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption, png in (_figures(res) if plots else []))
    cmd = f"<br>Reproduce: <code>{html.escape(command)}</code>" if command else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="sub">{html.escape(sc.scenario.description or "")}</p>
<p class="prov">supportsim {html.escape(__version__)} · scenario sha256 <code>{res.scenario_sha256}</code> ·
seed {res.seed} · {res.replications} replications per policy · {sc.run.months} months ·
reference policy <strong>{html.escape(res.reference)}</strong> · intervals are 95% Student-t CIs of the mean{cmd}</p>
<h2>Headline KPIs per policy (mean [95% CI])</h2>
{_kpi_tables(res)}
<h2>Key plots</h2>
<div class="grid">
{figs}
</div>
<h2>Assumptions</h2>
<p class="prov">Every parameter of the run: the base value, the policies that set it differently, its unit,
allowed range and the source of its default (– where the schema records none).</p>
{_assumptions_html(sc)}
</body></html>
"""


def write_report(res: Any, out_dir: Path, *, command: str | None = None) -> Path:
    """Write ``out_dir/report.html`` atomically (other files in ``out_dir`` are left alone)."""
    from sim.output.files import atomic_write

    text = render(res, command=command)
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


# ---------------------------------------------------------------- command line


def _command_line(args: argparse.Namespace) -> str:
    import shlex

    parts = ["supportsim", "report", str(args.scenario), "--out", str(args.out)]
    if args.replications is not None:
        parts += ["--replications", str(args.replications)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    for o in args.overrides:
        parts += ["--set", o]
    return " ".join(shlex.quote(p) for p in parts)


def cmd_report(args: argparse.Namespace) -> int:
    import sys

    from sim.cli.main import run_overrides
    from sim.params.scenario import load
    from sim.runs.experiment import default_workers, run_scenario

    scenario = load(args.scenario, list(args.overrides) + run_overrides(args))
    res = run_scenario(scenario, workers=args.workers or default_workers(), max_work=args.max_work)
    path = write_report(res, args.out, command=_command_line(args))
    if not args.quiet:
        sys.stdout.write(f"wrote {path}\n")
    return 0


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``supportsim report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="run a scenario and write a one-page HTML report",
        description="Run every policy of a scenario and write DIR/report.html: headline KPIs with 95% CIs, "
                    "the key plots (embedded) and the assumptions table. Written atomically.")
    p.add_argument("scenario", type=Path, help="scenario file (TOML), e.g. scenarios/baseline.toml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a parameter, e.g. --set support.agents=8 (repeatable; validated like the file)")
    p.add_argument("--out", type=Path, required=True, help="output folder; report.html is written (replaced) there")
    p.add_argument("--replications", type=int, help="replications per policy (default: the file's run.replications)")
    p.add_argument("--seed", type=int, help="master seed (default: the file's run.seed)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: all cores; 1 = serial)")
    p.add_argument("--max-work", type=int, default=None, metavar="CUSTOMER_MONTHS",
                   help="refuse runs above this many customer-months (default: $SUPPORTSIM_MAX_WORK or 2e9)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_report)
    return p


__all__ = ["REPORT_PLOTS", "ParamRow", "add_command", "assumptions", "assumptions_table", "cmd_report",
           "field_info", "field_unit", "render", "write_report"]
