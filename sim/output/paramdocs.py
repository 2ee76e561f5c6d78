"""Generate ``docs/parameters.md`` from the schema (``python -m sim.output.paramdocs``).

Where it sits: beside ``sim.params.schema``, read-only: it walks the pydantic models and writes
one table row per parameter (path, unit, default, allowed range, source, description),
the default segments and how often each source is cited; ``docs/sources.md`` is written beside
it from the source registry (``sim.output.sourcedocs``). Nothing here is typed twice: a
parameter added to the schema appears in the file the next time this runs, and
``tests/test_docs.py`` fails while the committed file is stale. It must not run the model.

``python -m sim.output.paramdocs`` rewrites both files; ``--check`` only exits 1 if one is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel

from sim.base.atomic import atomic_write
from sim.output import sourcedocs
from sim.params import schema
from sim.params.schema import LADDER
from sim.params.sources import SOURCES, parse
from sim.params.walk import acts_when, iter_params, number

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"

# Rules that involve more than one field (model validators in sim/params/schema.py and policy
# checks in sim/params/scenario.py); tests/test_docs.py checks that each one is really enforced.
CROSS_FIELD_RULES = [
    "`customers.segments[].share` must sum to 1 over the segments (within 1e-6).",
    "Segment names (`customers.segments[].name`) must be unique.",
    "`satisfaction.initial_shares` must sum to 1 (within 1e-6).",
    "`support.min_agents` must not exceed `support.max_agents`.",
    "`support.open_hour` must be before `support.close_hour` (likewise `support.vip_line_open_hour` / "
    "`support.vip_line_close_hour` and `support.arrival_day_start_hour` / `support.arrival_day_end_hour`).",
    "Policy names use letters, digits, `_`, `+` and `-` (1 to 40 characters).",
    "`scenario.reference_policy` must name a policy of the file (`base` when the file has none).",
    "A policy may override any base parameter but not `scenario`, `run` or `policies`.",
]

SECTION_TEXT = {  # also the order of sections in the file
    "scenario": "Metadata shown on plots and in `summary.json`.",
    "run": "Horizon, replications and the master seed (not overridable by a policy).",
    "customers": "The customer base and its segments (usually one per plan).",
    "pricing": "How support is priced: the policy lever.",
    "help_seeking": "Whether a customer with an issue asks for help.",
    "support": "The support desk: agents, staffing rule, SLA, handle times, patience, cost.",
    "satisfaction": "The satisfaction ladder (below, meet, exceed, delight, wow) and what moves customers on it.",
    "churn": "Monthly churn hazard of paying customers.",
    "wom": "Word of mouth: referrals from advocates, signups lost to unhappy churners.",
    "acquisition": "Paid acquisition at a multiple of the cost of retention; organic signups.",
    "demand": "What the offer sells: trial conversion answers price, expected fees and the support promise.",
    "trial": "Trial-to-paid conversion.",
    "vip": "The VIP programme: selection, welcome, concierge onboarding, check-ins, activity-churn alerts.",
    "loyalty": "A loyalty / reward programme.",
    "proactive": "Automated proactive communication to every customer.",
    "feedback": "Satisfaction surveys, acted upon.",
    "policies": "Named policies: tables of overrides of the base parameters.",
    "uncertainty": "Distributions of uncertain parameters for `supportsim decide` (ignored by every other verb).",
}


def acts_note(path: str) -> str:
    """" Read only when `switch` is v1 or v2." for a parameter the schema says acts only there."""
    rule = acts_when(path)
    if rule is None:
        return ""
    values = " or ".join(f"`{toml_value(v)}`" for v in rule[1])
    return f" Read only when `{rule[0]}` is {values}."


def toml_value(value: Any) -> str:
    """A value as it would be written in a scenario file."""
    if value is None:
        return "(none)"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} segments (below)"
    if isinstance(value, dict) and not value:
        return "(none)"
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return "[" + ", ".join(number(v) for v in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value)
    text = tomli_w.dumps({"v": value}).strip()
    return text.removeprefix("v = ")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def source_cell(text: str) -> str:
    """A source string as a table cell: the cited sources linked to their entry in sources.md."""
    try:
        c = parse(text)
    except ValueError:
        return _cell(text)  # tests/test_sources.py fails on it; the table still renders
    if c.is_assumption:
        return _cell(f"assumption: {c.note}")
    links = "; ".join(f"[{SOURCES[k].short}](sources.md#{k})" for k in c.keys)
    return f"{links}: {_cell(c.note)}"


def render() -> str:
    """The whole of docs/parameters.md."""
    order = {name: i for i, name in enumerate(SECTION_TEXT)}
    params = sorted(iter_params(), key=lambda p: order.get(p.section, len(order)))  # stable: fields keep order
    out = [
        "# Parameters",
        "",
        "<!-- Generated by `python -m sim.output.paramdocs` from sim/params/schema.py. Do not edit by hand:",
        "     change the schema and run the generator (tests/test_docs.py fails while this file is stale). -->",
        "",
        "Every parameter a scenario file (or `--set path=value`) can set: its path, unit, default,",
        "allowed range, the source of its default and what it does. Ranges are enforced when a",
        "scenario is loaded: a value outside them stops the run with a message naming the path, the",
        "value and the range. Square brackets include the bound, round ones exclude it. How each",
        "parameter enters the model: [model.md](model.md). The file format: [guide.md](guide.md).",
        "",
        f"One time unit and one currency throughout: hours on the desk (a month is {schema.HOURS_PER_MONTH:g} h,",
        "the desk runs 24/7), months for customers, US dollars for money. Ladder lists have one value",
        "per level, in the order " + ", ".join(f"`{x}`" for x in LADDER) + ".",
        "",
        "Sections: " + ", ".join(f"[`{s}`](#{s})" for s in dict.fromkeys(p.section for p in params)) + ".",
        "",
    ]
    section = None
    for p in params:
        if p.section != section:
            section = p.section
            out += ["", f"## {section}", "", SECTION_TEXT.get(section, ""), "",
                    "| parameter | unit | default | allowed | source | description |",
                    "|---|---|---|---|---|---|"]
        out.append(
            f"| `{p.path}` | {_cell(p.unit)} | `{_cell(toml_value(p.default))}` | {_cell(p.allowed)} | "
            f"{source_cell(p.source) if p.source else '—'} | {_cell(p.description + acts_note(p.path))} |"
        )
    out += ["", "## Default segments", "",
            "`customers.segments` when a scenario does not list its own. A file that lists segments replaces",
            "this list whole; a field a listed segment leaves out takes the per-field default in the",
            "`customers` table above.", ""]
    segs = schema.Customers().segments
    names = list(schema.Segment.model_fields)
    out.append("| field | " + " | ".join(f"`{s.name}`" for s in segs) + " |")
    out.append("|---|" + "---|" * len(segs))
    for n in names:
        if n == "name":
            continue
        out.append(f"| `{n}` | " + " | ".join(f"`{_cell(toml_value(getattr(s, n)))}`" for s in segs) + " |")
    out += ["", "## Rules across fields", ""] + [f"- {r}" for r in CROSS_FIELD_RULES]
    cited = [p.source for p in params if p.source]
    n_assumed = sum(1 for t in cited if t.startswith("assumption: "))
    counts = sourcedocs._count_citations(cited)
    out += ["", "## Sources", "",
            f"Of the {len(cited)} parameters with a source, {len(cited) - n_assumed} cite at least one entry of",
            f"[sources.md](sources.md) and {n_assumed} are assumptions with their reason. Entries cited by",
            "parameter defaults:", "",
            "| source | cited by |", "|---|---|"]
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"| [{SOURCES[key].short}](sources.md#{key}) | {n} |")
    return "\n".join(out).rstrip() + "\n"


def render_sources() -> str:
    """The whole of docs/sources.md (written beside parameters.md)."""
    return sourcedocs.render(p.source for p in iter_params())


def main(argv: list[str] | None = None) -> int:
    """Rewrite parameters.md and sources.md beside it (``--check``: only exit 1 if one is
    stale; ``--out FILE``: another parameters.md). A developer tool, so plain flags rather
    than a command-line parser (argparse lives in ``sim.cli`` only)."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    out = Path(args[args.index("--out") + 1]) if "--out" in args else DOC_PATH
    stale = False
    for path, text in ((out, render()), (out.parent / "sources.md", render_sources())):
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if check:
            if current != text:
                sys.stderr.write(f"{path} is stale: run `python -m sim.output.paramdocs`\n")
                stale = True
            continue
        if current != text:
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        sys.stdout.write(f"wrote {path} ({len(text.splitlines())} lines)\n")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
