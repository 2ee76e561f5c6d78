"""The one schema walker: every question about a parameter path is answered here.

Where it sits: **params** (lowest layer) beside the schema and the loader. The loader's
messages, ``docs/parameters.md``, the report's assumptions table, the app's controls, plot
axis labels and the studies (sweep, break-even, sensitivity) all read a parameter's field,
unit, bounds and source through these functions, so none of them walks the pydantic models
on its own. It must never import anything above ``sim.params``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from sim.params.schema import LADDER, Scenario, field_bounds


def submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``X``, ``list[X]``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = submodel(arg)
        if found is not None:
            return found
    return None


def _extra(info: Any) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def unit_of(info: Any) -> str:
    """A field's unit; "on/off" for switches and "choice" for enumerations without one."""
    unit = str(_extra(info).get("unit", "") or "")
    if unit:
        return unit
    ann = info.annotation
    if ann is bool:
        return "on/off"
    if typing.get_origin(ann) is typing.Literal:
        return "choice"
    return ""


def source_of(info: Any) -> str:
    """Where a field's default comes from, as the schema records it."""
    return str(_extra(info).get("source", "") or "")


def field_info(path: str, model: type[BaseModel] = Scenario) -> Any:
    """The pydantic FieldInfo of a dotted parameter path, or None.

    List items may be given as indices or ``*`` (every item, in sweeps); a policy override
    path ``policies.NAME.rest`` resolves to the base parameter ``rest``.
    """
    parts = path.split(".")
    if model is Scenario and len(parts) > 2 and parts[0] == "policies":
        parts = parts[2:]
    info = None
    current: type[BaseModel] | None = model
    for part in parts:
        if part.isdigit() or part == "*":  # a list item, or every item
            continue
        if current is None or part not in current.model_fields:
            return None
        info = current.model_fields[part]
        current = submodel(info.annotation)
    return info


def field_unit(path: str) -> str:
    """Unit of a parameter path from the schema ("" if unknown)."""
    info = field_info(path)
    return unit_of(info) if info is not None else ""


def acts_when(path: str) -> tuple[str, tuple[Any, ...]] | None:
    """(switch path, values) under which parameter ``path`` is read, as the schema declares it (the
    field's own ``acts_when``, else its section's ``ACTS_WHEN``, never for the switch itself); None
    when it always acts. ``policies.NAME.x`` answers for ``x``."""
    parts = [p.removesuffix("[]") for p in path.split(".")]  # docs' "segments[]" is any segment
    if len(parts) > 2 and parts[0] == "policies":
        parts = parts[2:]
    info = field_info(".".join(parts))
    if info is None:
        return None
    rule = _extra(info).get("acts_when")
    if rule is not None:
        return rule[0], tuple(rule[1])
    model: type[BaseModel] | None = Scenario
    owner: type[BaseModel] | None = None
    for part in parts[:-1]:
        if part.isdigit() or part == "*" or model is None or part not in model.model_fields:
            continue
        owner = model = submodel(model.model_fields[part].annotation)
    section_rule = getattr(owner, "ACTS_WHEN", None)
    if section_rule is not None and section_rule[0] != ".".join(p for p in parts if not p.isdigit()):
        return section_rule[0], tuple(section_rule[1])
    return None


def walk(obj: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, value, FieldInfo) of every leaf parameter of ``obj``; list items as ``name[i=label]``."""
    for name, info in type(obj).model_fields.items():
        value = getattr(obj, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from walk(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for i, item in enumerate(value):
                label = getattr(item, "name", None)
                yield from walk(item, f"{path}[{i}{'=' + label if label else ''}].")
        else:
            yield path, value, info


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


def iter_params(model: type[BaseModel] = Scenario, prefix: str = "") -> Iterator[ParamDoc]:
    """Every leaf parameter of ``model``, depth first in declaration order."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = submodel(info.annotation)
        if sub is not None and name != "policies":
            is_list = typing.get_origin(info.annotation) is list
            yield from iter_params(sub, f"{path}[]." if is_list else f"{path}.")
            continue
        extra = _extra(info)
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
