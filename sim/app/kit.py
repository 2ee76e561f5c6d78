"""The app's logic without the page: controls from the schema, overrides, user text.

Where it sits: a scenario (:mod:`sim.app.sources`) + the schema -> **kit** -> the sidebar
(:mod:`sim.app.sidebar`) and ``app.py``. What the page decides is here, so it is unit-tested
without a browser:

- :func:`control_groups` turns :mod:`sim.params.schema` into sidebar controls (label, unit,
  range, step, default, help with the parameter's source), grouped as the page shows them;
  per-policy pricing knobs are controls on ``policies.NAME.*`` paths.
- :func:`overrides_from_values` turns control values into ``--set path=value`` overrides
  (only where a value differs from the file), so the app's scenario is always
  ``load(file, overrides)``: exactly what ``supportsim run FILE --set ...`` builds.
- :func:`text` is how user text (labels, names, descriptions, values from a file) reaches
  any element that renders Markdown: literally; :func:`prose` reads the page's longer text.

It never imports Streamlit and never runs the model.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from sim.params.scenario import (
    allowed_range,
    policy_label,  # noqa: F401  (re-exported: the page labels policies through the kit)
    reference_policy,
    resolve_policies,
)
from sim.params.schema import LADDER, Params, Scenario, field_bounds

JS_MAX_SAFE_INT = 2**53 - 1  # number inputs in the browser are JavaScript numbers
SLIDER_MAX_SPAN = 25  # bounded ranges at most this wide get a slider, wider ones a number box

Kind = Literal["float", "int", "bool", "choice", "text", "ladder"]


# ---------------------------------------------------------------- controls from the schema


@dataclass(frozen=True)
class Control:
    """One sidebar control, generated from a schema field."""

    path: str  # dotted path into the scenario, as --set takes it
    label: str
    kind: Kind
    default: Any  # the value in the source scenario (resolved, for policy knobs)
    doc: str = ""
    unit: str = ""
    source: str = ""
    allowed: str = ""
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    overridden_by: tuple[str, ...] = ()  # policies that set this base parameter themselves
    used_when: str = ""  # e.g. "per_ticket": the knob only matters under that scheme

    @property
    def key(self) -> str:
        """Widget key: stable per path, so AppTest and the browser can find it."""
        return "p:" + self.path

    @property
    def value(self) -> Any:
        """The default as its widget holds it (the app seeds session state with it)."""
        if self.kind == "bool":
            return bool(self.default)
        if self.kind == "ladder":
            return ladder_text(self.default)
        if self.kind in ("choice", "text"):
            return str(self.default)
        return int(self.default) if self.kind == "int" else float(self.default)

    @property
    def widget(self) -> str:
        if self.kind == "bool":
            return "toggle"
        if self.kind == "choice":
            return "select"
        if self.kind in ("text", "ladder"):
            return "text"
        if self.lo is not None and self.hi is not None and self.hi - self.lo <= SLIDER_MAX_SPAN:
            return "slider"
        return "number"

    @property
    def format(self) -> str | None:
        if self.kind == "int":
            return "%d"
        if self.kind != "float" or not self.step:
            return None
        decimals = max(0, -math.floor(math.log10(self.step) + 1e-9))
        decimals = max(decimals, _decimals(self.default))
        return f"%.{min(decimals, 6)}f"

    @property
    def help(self) -> str:
        parts = [self.doc.rstrip(".") + "." if self.doc else ""]
        facts = []
        if self.unit:
            facts.append(f"**Unit:** {self.unit}")
        if self.allowed:
            facts.append(f"**Allowed:** {self.allowed.removeprefix('allowed range ').removeprefix('allowed values: ')}")
        facts.append(f"**Source:** {self.source or 'assumption'}")
        parts.append(" · ".join(facts))
        parts.append(f"Parameter `{self.path}`")
        if self.overridden_by:
            parts.append("Policies " + ", ".join(code(p) for p in self.overridden_by)
                         + " set their own value; this one applies to the others.")
        if self.used_when:
            parts.append(f"Used only under the `{self.used_when}` scheme.")
        return "\n\n".join(p for p in parts if p)


@dataclass(frozen=True)
class Section:
    """Controls under one sub-heading of a group (e.g. one policy, one segment)."""

    title: str | None
    controls: tuple[Control, ...]
    tab: str | None = None  # sections with a tab label are drawn as tabs (one per policy, per segment)


@dataclass(frozen=True)
class Group:
    """A sidebar group; ``form`` groups apply on a button (expensive or coupled controls)."""

    key: str
    title: str
    icon: str
    form: bool
    sections: tuple[Section, ...]
    note: str = ""

    @property
    def controls(self) -> list[Control]:
        return [c for s in self.sections for c in s.controls]


_WORDS = {"usd": "USD", "sla": "SLA", "vip": "VIP", "cac": "CAC", "cv": "CV", "p": "chance", "prob": "probability",
          "dist": "distribution", "checkins": "check-ins", "wom": "word of mouth"}
_IMPLIED_UNITS = ("fraction", "probability", "")  # "Chance ..." and "... share" say it already
_UNIT_SUFFIXES = ("_usd_per_customer_month", "_usd_per_vip_month", "_usd_per_month", "_usd_per_hour", "_per_usd",
                  "_per_month", "_usd", "_h", "_pct")


def label_of(name: str, unit: str = "") -> str:
    """A readable label from a field name and its unit: agent_cost_usd_per_hour -> 'Agent cost (USD/h)'."""
    stem = name
    for suffix in _UNIT_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    text = " ".join(_WORDS.get(w, w) for w in stem.split("_"))
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit not in _IMPLIED_UNITS and not text.lower().endswith(unit.lower()) else text


def _decimals(x: Any) -> int:
    if not isinstance(x, float) or not math.isfinite(x) or x == int(x):
        return 0
    text = f"{x:.10g}"
    if "e" in text:
        mant, exp = text.split("e")
        return max(0, len(mant.split(".")[1]) if "." in mant else 0) - int(exp)
    return len(text.split(".")[1]) if "." in text else 0


def _bounds(info: Any) -> tuple[float | None, float | None, bool]:
    return field_bounds(info)


def _step(kind: Kind, default: float, lo: float | None, hi: float | None) -> float:
    """A step fine enough for the default's magnitude: 0.04 -> 0.001, 6.5 -> 0.1, 799 -> 10."""
    if kind == "int":
        return 1
    span = (hi - lo) if lo is not None and hi is not None else None
    if default:
        step = 10.0 ** (math.floor(math.log10(abs(default))) - 1)
    else:
        step = 1.0 if span is None or span > 20 else span / 100
    if span is not None:
        step = min(step, span / 10)
    return float(f"{step:.1g}")


def _kind(annotation: Any) -> tuple[Kind, tuple[str, ...]]:
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(annotation))
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    if typing.get_origin(annotation) is list:
        return "ladder", ()
    return "text", ()


def field_control(model: type[BaseModel], name: str, path: str, value: Any, *,
                  overridden_by: Sequence[str] = (), used_when: str = "") -> Control:
    """The control of field ``name`` of ``model``, showing ``value``, editing ``path``."""
    info = model.model_fields[name]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    unit = str(extra.get("unit", "") or "")
    kind, choices = _kind(info.annotation)
    lo, hi, lo_open = _bounds(info)
    step = None
    if kind in ("int", "float"):
        step = _step(kind, float(value), lo, hi)
        if lo is not None and lo_open:  # (0, hi]: a tenth of a step above zero
            lo = min(lo + (step if kind == "int" else step / 10), value) if value > lo else lo + step
        if kind == "int":
            lo = max(lo, -JS_MAX_SAFE_INT) if lo is not None else None
            hi = min(hi, JS_MAX_SAFE_INT) if hi is not None else None
    allowed = allowed_range(info)
    if kind == "ladder":
        allowed = f"{len(LADDER)} values, one per level: {', '.join(LADDER)}"
    return Control(
        path=path, label=label_of(name, unit) if kind != "ladder" else label_of(name) + f" ({unit})",
        kind=kind, default=value, doc=info.description or "", unit=unit,
        source=str(extra.get("source", "") or ""), allowed=allowed, lo=lo, hi=hi, step=step, choices=choices,
        overridden_by=tuple(overridden_by), used_when=used_when,
    )


def flat_items(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A policy's overrides table as (dotted path, value) pairs."""
    out: list[tuple[str, Any]] = []
    for k, v in tree.items():
        if isinstance(v, dict):
            out += flat_items(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def policy_overrides(scenario: Scenario) -> dict[str, list[str]]:
    """Base parameter path -> policies whose overrides set it."""
    out: dict[str, list[str]] = {}
    for name, table in scenario.policies.items():
        for path, _ in flat_items(table):
            out.setdefault(path, []).append(name)
    return out


def _section_controls(model_obj: BaseModel, prefix: str, overridden: Mapping[str, list[str]],
                      skip: Sequence[str] = ()) -> tuple[Control, ...]:
    model = type(model_obj)
    out = []
    for name, info in model.model_fields.items():
        if name in skip or isinstance(getattr(model_obj, name), BaseModel):
            continue
        if isinstance(getattr(model_obj, name), list) and typing.get_origin(info.annotation) is list and \
                getattr(model_obj, name) and isinstance(getattr(model_obj, name)[0], BaseModel):
            continue
        path = f"{prefix}{name}"
        out.append(field_control(model, name, path, getattr(model_obj, name),
                                 overridden_by=overridden.get(path, ())))
    return tuple(out)


# The pricing knobs of each policy: (section, field, scheme it is used under, or "").
# Every programme's on/off switch (a section with an ``enabled`` field) is added after them.
POLICY_KNOBS = (
    ("pricing", "scheme", ""),
    ("pricing", "per_ticket_fee_usd", "per_ticket"),
    ("pricing", "per_hour_fee_usd", "per_hour"),
    ("pricing", "included_tickets_per_month", ""),
    ("pricing", "support_fee_usd_per_month", ""),
    ("pricing", "price_multiplier", ""),
)

# Sidebar group of every Params section, and the sub-heading it gets there (None: none).
# A section the schema gains later and this table lacks lands in "Other parameters".
SECTION_GROUPS: dict[str, tuple[str, str | None]] = {
    "customers": ("customers", None),
    "help_seeking": ("customers", "Asking for help"),
    "support": ("support", None),
    "satisfaction": ("satisfaction", "Satisfaction ladder"),
    "churn": ("satisfaction", "Churn"),
    "loyalty": ("satisfaction", "Loyalty programme"),
    "proactive": ("satisfaction", "Proactive communication"),
    "feedback": ("satisfaction", "Feedback surveys"),
    "acquisition": ("acquisition", None),
    "demand": ("acquisition", "Demand: what the offer sells"),
    "wom": ("acquisition", "Word of mouth"),
    "trial": ("acquisition", "Trials"),
    "finance": ("acquisition", "Value: discounting"),
    "vip": ("vip", None),
}
GROUPS = (  # key, title, icon, form (apply on a button), note
    ("pricing", "Pricing policies", ":material/sell:", False,
     "Each policy's own settings; fees apply under the scheme named in their help."),
    ("customers", "Customers and segments", ":material/groups:", True,
     "Segment shares must sum to 1: edit them together, then apply."),
    ("support", "Support desk", ":material/support_agent:", False, ""),
    ("satisfaction", "Satisfaction and churn", ":material/sentiment_satisfied:", False,
     "Switch the programmes on per policy under Pricing policies."),
    ("acquisition", "Acquisition and finance", ":material/campaign:", False, ""),
    ("vip", "VIP programme", ":material/workspace_premium:", False,
     "Switch the programme on per policy under Pricing policies."),
    ("other", "Other parameters", ":material/more_horiz:", False, ""),
    ("run", "Run settings", ":material/tune:", True,
     "Replications refine the estimates; results appear after the first one."),
)


def programmes() -> list[str]:
    """Params sections that are programmes a policy switches on or off (``enabled``)."""
    out = []
    for name, info in Params.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and "enabled" in sub.model_fields:
            out.append(name)
    return out


def _programme_label(section: str) -> str:
    return "VIP programme" if section == "vip" else (SECTION_GROUPS.get(section, ("", None))[1] or label_of(section))


def _pricing_sections(scenario: Scenario) -> tuple[Section, ...]:
    sections = []
    policies = resolve_policies(scenario)
    if scenario.policies:
        names = tuple(p.name for p in policies)
        ref = reference_policy(scenario)
        sections.append(Section(None, (Control(
            path="scenario.reference_policy", label="Reference policy", kind="choice", default=ref, choices=names,
            doc="Policy the others are compared with: KPI deltas and paired differences are against it.",
            source="scenario file"),)))
        for pol in policies:
            ctrls = []
            for section, name, used_when in (*POLICY_KNOBS, *((p, "enabled", "") for p in programmes())):
                obj = getattr(pol.params, section)
                c = field_control(type(obj), name, f"policies.{pol.name}.{section}.{name}", getattr(obj, name),
                                  used_when=used_when)
                if name == "enabled":
                    c = dataclasses.replace(c, label=_programme_label(section))
                ctrls.append(c)
            sections.append(Section(pol.name, tuple(ctrls), tab=pol.name))
    else:
        sections.append(Section(None, _section_controls(scenario.pricing, "pricing.", {})))
    return tuple(sections)


def control_groups(scenario: Scenario) -> list[Group]:
    """Every control of the sidebar for ``scenario``, grouped as the page shows them.

    Values shown are the scenario's (base parameters; each policy's resolved pricing knobs).
    Every leaf parameter of :class:`~sim.params.schema.Params` appears once (pricing per policy
    when the scenario has policies), plus the run settings and the scenario name.
    """
    ov = policy_overrides(scenario)
    sections: dict[str, list[Section]] = {key: [] for key, *_ in GROUPS}
    sections["pricing"] += _pricing_sections(scenario)
    for name in Params.model_fields:
        if name == "pricing":
            continue
        group, title = SECTION_GROUPS.get(name, ("other", label_of(name)))
        sections[group].append(Section(title, _section_controls(getattr(scenario, name), f"{name}.", ov)))
    sections["customers"] += [
        Section(f"Segment {i + 1}: {s.name}", _section_controls(s, f"customers.segments.{i}.", ov), tab=s.name)
        for i, s in enumerate(scenario.customers.segments)
    ]
    sections["run"].append(Section(None, (
        *_section_controls(scenario.run, "run.", ov),
        field_control(type(scenario.scenario), "name", "scenario.name", scenario.scenario.name),
    )))
    return [Group(key, title, icon, form, tuple(sorted(sections[key], key=lambda s: s.title is not None)), note)
            for key, title, icon, form, note in GROUPS if sections[key]]


# ---------------------------------------------------------------- control values -> overrides


def format_value(value: Any) -> str:
    """A value as a TOML literal for ``--set`` (floats rounded to 12 significant digits)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(float(f"{value:.12g}"))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def ladder_text(values: Sequence[float]) -> str:
    """A per-level list as the text box shows it."""
    return ", ".join(f"{v:g}" for v in values)


def parse_ladder(text: str) -> list[float]:
    """'0.05, 0.55, ...' -> floats (ValueError with a readable message)."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"expected {len(LADDER)} numbers separated by commas (got {text!r})") from None
    if len(values) != len(LADDER):
        raise ValueError(f"expected {len(LADDER)} numbers, one per level {', '.join(LADDER)} (got {len(values)})")
    return values


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return float(a) == float(b) or float(f"{float(a):.12g}") == float(f"{float(b):.12g}")
        except (TypeError, ValueError):
            return False
    return a == b


def overrides_from_values(groups: Sequence[Group], values: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``--set`` overrides for controls whose value differs from the file, and problems.

    ``values``: control path -> current widget value (missing paths keep the file's
    value). Ladder controls take their text; an unreadable one is a problem naming it.
    """
    overrides, problems = [], []
    for group in groups:
        for c in group.controls:
            if c.path not in values:
                continue
            v = values[c.path]
            if c.kind == "ladder":
                try:
                    v = parse_ladder(str(v))
                except ValueError as exc:
                    problems.append(f"{c.path}: {exc}")
                    continue
                if len(v) == len(c.default) and all(_same(a, b) for a, b in zip(v, c.default)):
                    continue
            elif v is None or _same(v, c.default):
                continue
            if c.kind == "int":
                v = int(v)
            elif c.kind == "float":
                v = float(v)
            overrides.append(f"{c.path}={format_value(v)}")
    return overrides, problems


def group_of_path(groups: Sequence[Group], path: str) -> str | None:
    """The group whose control edits ``path`` (or a parent of it), for inline errors."""
    best, best_len = None, -1
    for g in groups:
        for c in g.controls:
            if (path == c.path or path.startswith(c.path + ".") or c.path.startswith(path + ".")) and \
                    len(c.path) > best_len:
                best, best_len = g.key, len(c.path)
    return best


def problem_path(problem: str) -> str:
    """The field path a ScenarioError problem line starts with ('a.b[0].c: ...' -> 'a.b.0.c')."""
    head = problem.split(":", 1)[0].strip()
    return head.replace("[", ".").replace("]", "")


# ---------------------------------------------------------------- user text and the page's prose


# Every ASCII punctuation mark: CommonMark lets a backslash make any of them literal.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def text(value: object) -> str:
    """User text (a policy label, a scenario, segment or file name, a description, a value
    from a file) for any Streamlit element that renders Markdown (markdown, captions, errors,
    tab and expander labels, help), shown literally: whitespace collapsed to single spaces and
    every punctuation mark backslash-escaped, so no Markdown, HTML, link, image, LaTeX or
    directive in it is interpreted and nothing is fetched. The one way user text reaches the
    page outside plain-text elements (st.text, tables, widget values)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(value).split()))


def code(value: object) -> str:
    """``value`` as an inline code span, literally: fenced by a longer run of backticks than
    any inside it (Markdown is not interpreted in code)."""
    value = " ".join(str(value).split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def problem_list(problems: Sequence[str]) -> str:
    """Problems (ScenarioError lines, which quote the file's values) as a Markdown list: each
    field path (the text before the colon) as code, the rest literally."""
    lines = []
    for p in problems:
        head, sep, tail = p.partition(":")
        lines.append(f"- {code(head.strip())}: {text(tail)}" if sep and " " not in head.strip() else f"- {text(p)}")
    return "\n".join(lines)


PROSE = Path(__file__).resolve().parent / "prose"


@functools.cache
def prose(name: str) -> str:
    """The page's longer text ``name`` (a file in ``sim/app/prose``), kept out of the code."""
    return (PROSE / name).read_text(encoding="utf-8").strip()
