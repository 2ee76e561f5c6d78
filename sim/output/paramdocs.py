"""Generate ``docs/parameters.md`` from the schema (``python -m sim.output.paramdocs``).

Where it sits: beside ``sim.params.schema``, read-only: it walks the pydantic models and writes
one table row per parameter (path, unit, default, allowed range, source, description),
the default segments and the sources the defaults cite. Nothing here is typed twice: a
parameter added to the schema appears in the file the next time this runs, and
``tests/test_docs.py`` fails while the committed file is stale. It must not run the model.

``python -m sim.output.paramdocs`` rewrites the file; ``--check`` only exits 1 if it is stale.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ValidationError

from sim.params import schema
from sim.params.schema import LADDER, Scenario, field_bounds

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
    "uncertainty": "Distributions of uncertain parameters for `supportsim decide` (ignored by every other verb).",
}


@dataclass(frozen=True)
class ParamDoc:
    """One parameter as documented: everything comes from its pydantic field."""

    path: str  # e.g. "support.agents", "customers.segments[].share"
    section: str
    type: str
    unit: str
    default: Any
    allowed: str
    source: str
    description: str


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for a in (annotation, *typing.get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "choice"
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{origin.__name__}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def _list_rule(model: type[BaseModel], name: str) -> str:
    """Allowed values of a per-ladder-level list, read from its validator's own error messages."""
    rules = [f"{len(LADDER)} values, one per level"]
    try:
        model.model_validate({name: [-1e300] * len(LADDER)})
    except ValidationError as err:
        m = re.search(r"lie in (\[[^\]]+\])", str(err))
        if m:
            rules.append(f"each in {m.group(1)}")
    try:
        model.model_validate({name: [1e-3] * len(LADDER)})
    except ValidationError as err:
        if "sum to 1" in str(err):
            rules.append("sum to 1")
    return "; ".join(rules)


def _allowed(model: type[BaseModel], name: str, info: Any) -> str:
    ann = info.annotation
    if typing.get_origin(ann) is Literal:
        return "one of " + ", ".join(f"`{c}`" for c in typing.get_args(ann))
    if ann is bool:
        return "`true` / `false`"
    if typing.get_origin(ann) is list and typing.get_args(ann) == (float,):
        return _list_rule(model, name)
    rng = _range(info)
    if rng:
        return rng
    lengths = {type(m).__name__: m for m in info.metadata}
    if name == "policies":
        return "tables `[policies.NAME]` of overrides"
    if ann is str or ann == (str | None):
        lo = getattr(lengths.get("MinLen"), "min_length", 0)
        hi = getattr(lengths.get("MaxLen"), "max_length", None)
        return f"text, {lo} to {hi} characters" if hi else "text"
    return ""


def number(x: float) -> str:
    """A bound or default as a reader wants it: 0.999, 5000, 2e6, 1e11 (not 100000000000.0)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if float(x).is_integer():
        if abs(x) >= 1e6:
            short = f"{x:.3g}".replace("e+0", "e").replace("e+", "e")
            return short if float(short) == x else f"{int(x):_}"
        return str(int(x))
    return f"{x:g}"


def _range(info: Any) -> str:
    """[lo, hi] / (lo, hi] from the field's ge/gt/le constraints; '' if it has none."""
    lo, hi, lo_open = field_bounds(info)
    if lo is None and hi is None:
        return ""
    left = "(" if lo_open else "["
    return f"{left}{number(lo) if lo is not None else '-inf'}, {number(hi) if hi is not None else 'inf'}]"


def _default(info: Any) -> Any:
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


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


def iter_params(model: type[BaseModel] = Scenario, prefix: str = "") -> Iterator[ParamDoc]:
    """Every leaf parameter of ``model``, depth first in declaration order."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = _model_of(info.annotation)
        if sub is not None and name != "policies":
            is_list = typing.get_origin(info.annotation) is list
            yield from iter_params(sub, f"{path}[]." if is_list else f"{path}.")
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        yield ParamDoc(
            path=path,
            section=path.split(".")[0].split("[")[0],
            type=_type_name(info.annotation),
            unit=str(extra.get("unit", "")),
            default=_default(info),
            allowed=_allowed(model, name, info),
            source=str(extra.get("source", "")),
            description=info.description or "",
        )


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
    ap = argparse.ArgumentParser(prog="python -m sim.output.paramdocs", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is stale, write nothing")
    ap.add_argument("--out", type=Path, default=DOC_PATH, help=f"output file (default {DOC_PATH})")
    args = ap.parse_args(argv)
    text = render()
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != text:
            sys.stderr.write(f"{args.out} is stale: run `python -m sim.output.paramdocs`\n")
            return 1
        return 0
    if current != text:
        from sim.output.files import atomic_write

        atomic_write(args.out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    sys.stdout.write(f"wrote {args.out} ({len(text.splitlines())} lines)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
