"""Generate ``docs/parameters.md`` from the schema (``python -m sim.output.paramdocs``).

Where it sits: beside ``sim.params.schema``, read-only: it walks the pydantic models and writes
one table row per parameter (path, unit, default, allowed range, source, description),
the default segments and the sources the defaults cite. Nothing here is typed twice: a
parameter added to the schema appears in the file the next time this runs, and
``tests/test_docs.py`` fails while the committed file is stale. It must not run the model.

``python -m sim.output.paramdocs`` rewrites the file; ``--check`` only exits 1 if it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel

from sim.output.files import atomic_write
from sim.params import schema
from sim.params.schema import LADDER
from sim.params.walk import iter_params, number

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"

# What the short source keys in the schema stand for (shared/DOMAIN.md holds the claims).
SOURCES = {
    schema.SRC_NETFLIX: "`shared/DOMAIN.md` §1, article [000_51ea8901c0cc391d.txt]: flat vs metered support, "
    "demand suppression, resentment, switching, advocates.",
    schema.SRC_RETENTION: "`shared/DOMAIN.md` §2, article [001_e031e4f3bddfec19.txt]: the retention formula and "
    "retention levers (proactive communication, feedback, rewards, support quality).",
    schema.SRC_LADDER: "`shared/DOMAIN.md` §3, article [002_7519b70d94e23f59.txt]: the four levels of "
    "satisfaction (meet, exceed, delight, wow) and what falling below costs.",
    schema.SRC_VIP: "`shared/DOMAIN.md` §4, article [003_7882d87e804711fd.txt]: VIP selection, welcome, concierge "
    "onboarding, lifecycle check-ins, activity-churn alerts, limits of manual care.",
    schema.SRC_BENCH: "`shared/DOMAIN.md`, 'Plausible ranges for defaults': public industry benchmarks (tickets per "
    "customer, cost per ticket, churn by segment, first-response targets, Erlang C worked example).",
    schema.SRC_LS2006: "Lambrecht, A. & Skiera, B. (2006), 'Paying too much and being happy about it', Journal of "
    "Marketing Research 43(2): pay-per-use tariffs raise churn relative to flat rates.",
    "DOMAIN §1 (6-7x); public range 5-25x": "`shared/DOMAIN.md` §1 (acquisition costs 6-7x retention) and the "
    "benchmarks note that public estimates range from 5x to 25x.",
    schema.ASSUMPTION: "A modelling assumption with no published figure behind it: move it, and read the "
    "sensitivity before relying on a result that depends on it.",
}

# Rules that involve more than one field (model validators in sim/params/schema.py and policy
# checks in sim/params/scenario.py); tests/test_docs.py checks that each one is really enforced.
CROSS_FIELD_RULES = [
    "`customers.segments[].share` must sum to 1 over the segments (within 1e-6).",
    "Segment names (`customers.segments[].name`) must be unique.",
    "`satisfaction.initial_shares` must sum to 1 (within 1e-6).",
    "`support.min_agents` must not exceed `support.max_agents`.",
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
    "trial": "Trial-to-paid conversion.",
    "vip": "The VIP programme: selection, welcome, concierge onboarding, check-ins, activity-churn alerts.",
    "loyalty": "A loyalty / reward programme.",
    "proactive": "Automated proactive communication to every customer.",
    "feedback": "Satisfaction surveys, acted upon.",
    "policies": "Named policies: tables of overrides of the base parameters.",
}


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
            f"{_cell(p.source) or '—'} | {_cell(p.description)} |"
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
    out += ["", "## Sources", "",
            "The `source` column cites where a default comes from; the claims are in `shared/DOMAIN.md`.", "",
            "| source | what it is |", "|---|---|"]
    for key in sorted({p.source for p in params if p.source}):
        out.append(f"| {_cell(key)} | {_cell(SOURCES.get(key, 'see shared/DOMAIN.md'))} |")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the file (``--check``: only exit 1 if it is stale). A developer tool, so two
    plain flags rather than a command-line parser (argparse lives in ``sim.cli`` only)."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    out = Path(args[args.index("--out") + 1]) if "--out" in args else DOC_PATH
    text = render()
    current = out.read_text(encoding="utf-8") if out.exists() else None
    if check:
        if current != text:
            sys.stderr.write(f"{out} is stale: run `python -m sim.output.paramdocs`\n")
            return 1
        return 0
    if current != text:
        atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    sys.stdout.write(f"wrote {out} ({len(text.splitlines())} lines)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
