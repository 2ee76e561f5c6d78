"""What ``supportsim optimise`` may change, and what it must respect: dimensions, constraints,
the worlds of a robust search and the guardrail.

Where it sits: **runs**, under :mod:`sim.runs.optimise`. A :class:`Dimension` is one parameter
of one policy with its range (``pricing.per_ticket_fee_usd=0:60``, ``support.sla_target_h=1:48:log``,
``support.open_days=5:7``) or its choices (``pricing.scheme=per_ticket,per_hour``); a
:class:`Constraint` is a KPI bound (``avg_retention_rate_pct>=95``, ``support_cost_share<=10%``).
Both are checked before anything runs, against the schema (every range inside the field's
allowed range) and against the policy (a parameter its scheme or programmes never read is
refused: :func:`sim.params.walk.acts_when`, as the schema declares it); every problem is a :class:`ScenarioError`
naming the option, the field and what is allowed. Nothing here runs the model.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ValidationError

from sim.params.scenario import ScenarioError, allowed_range, format_loc, resolve_policies, set_path
from sim.params.schema import Params, Scenario, field_bounds
from sim.params.walk import acts_when, field_info, submodel
from sim.runs import guardrails, metrics
from sim.runs.paths import with_values

__all__ = ["Constraint", "DesignError", "Dimension", "apply_design", "check_dimensions", "concrete_paths",
           "current_value", "guard", "parse_constraint", "parse_dimension", "policy_params", "world_bases"]

_NUMBER = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
_RANGE = re.compile(rf"\s*({_NUMBER})\s*:\s*({_NUMBER})\s*((:\s*(int|log)\s*){{0,2}})")
SNAP = 1000  # a float range is searched in steps of 1/SNAP of its width (a log range: 4 significant digits)


class DesignError(ValueError):
    """A design whose values are each allowed but not together (e.g. opening after closing)."""


@dataclass(frozen=True)
class Dimension:
    """One parameter the optimiser sets: a range (``kind`` "float" or "int", ``log`` spacing) or
    a list of ``choices``. ``path`` is a base path (the policy's own prefix removed);
    ``customers.segments.*.FIELD`` sets the field of every segment to the same value."""

    path: str
    kind: Literal["float", "int", "choice"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def snap(self, value: Any) -> Any:
        """A sampled value as the design records it: an int for "int", a float rounded to the
        search step (1/1000 of the range, 4 significant digits on a log range), a choice as is."""
        if self.kind == "int":
            return int(round(value))
        if self.kind == "choice":
            return value
        x = float(value)
        if self.log:
            x = float(f"{x:.4g}")
        else:
            step = 10.0 ** math.floor(math.log10((self.high - self.low) / SNAP))
            x = round(round(x / step) * step, 12)
        return min(max(x, self.low), self.high)

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.low <= value <= self.high and (self.kind != "int" or float(value).is_integer())

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.path} in {{{', '.join(map(str, self.choices))}}}"
        spec = f"{_num(self.low)} to {_num(self.high)}"
        return f"{self.path} from {spec}" + (" (whole numbers)" if self.kind == "int" else "") + (
            " (log scale)" if self.log else "")


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


@dataclass(frozen=True)
class Constraint:
    """A bound on a KPI's mean: ``kpi >= threshold`` or ``kpi <= threshold``."""

    kpi: str
    op: Literal[">=", "<="]
    threshold: float

    def violation(self, mean: float) -> float:
        """How far ``mean`` is on the wrong side (<= 0: met; NaN counts as not met)."""
        if not math.isfinite(mean):
            return math.inf
        return self.threshold - mean if self.op == ">=" else mean - self.threshold

    def met(self, mean: float) -> bool:
        return self.violation(mean) <= 0

    def describe(self) -> str:
        return f"{self.kpi} {self.op} {self.threshold:g}"


# ---------------------------------------------------------------------------- parsing


def _value(text: str) -> Any:
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(_NUMBER, text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_dimension(arg: str) -> tuple[str, dict[str, Any]]:
    """``PATH=LO:HI[:int|:log]`` or ``PATH=a,b,c`` as given to ``--param``: the path and its
    spec (checked against the schema later, by :func:`check_dimensions`)."""
    if "=" not in arg:
        raise ScenarioError([f"--param {arg!r}: expected PATH=LO:HI[:int|:log] or PATH=a,b,c, e.g. "
                             "pricing.per_ticket_fee_usd=0:60"], "--param")
    path, spec = (s.strip() for s in arg.split("=", 1))
    if not path or any(not p for p in path.split(".")):
        raise ScenarioError([f"--param {arg!r}: expected a parameter path like pricing.price_multiplier"], "--param")
    m = _RANGE.fullmatch(spec)
    if m:
        lo, hi = float(m.group(1)), float(m.group(5))
        flags = set(re.findall(r"int|log", m.group(9) or ""))
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise ScenarioError([f"--param {path}={spec}: LO must be below HI"], "--param")
        return path, {"low": lo, "high": hi, "int": "int" in flags, "log": "log" in flags}
    items = [s.strip() for s in spec.split(",")]
    if len(items) < 2 or any(not s for s in items):
        raise ScenarioError([f"--param {path}={spec}: expected a range LO:HI[:int|:log] or at least two values "
                             "a,b (to fix a parameter, use --set)"], "--param")
    values = [_value(s) for s in items]
    if len({repr(v) for v in values}) < len(values):
        raise ScenarioError([f"--param {path}={spec}: a value is listed twice"], "--param")
    return path, {"choices": tuple(values)}


def parse_constraint(text: str) -> Constraint:
    """``KPI>=X`` or ``KPI<=X`` (``X%`` for a KPI read as a percentage: 10% of a share is 0.1)."""
    m = re.fullmatch(rf"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|=>|=<)\s*({_NUMBER})\s*(%?)\s*", text or "")
    if not m:
        raise ScenarioError([f"--constraint {text!r}: expected KPI>=X or KPI<=X, e.g. avg_retention_rate_pct>=95 "
                             f"or support_cost_share<=10%; KPIs: {', '.join(metrics.KPIS)}"], "--constraint")
    kpi, op, value = m.group(1), m.group(2), float(m.group(3))
    if kpi not in metrics.KPIS:
        hint = difflib.get_close_matches(kpi, list(metrics.KPIS), n=1)
        raise ScenarioError([f"--constraint {text!r}: unknown KPI {kpi!r}" + (f"; did you mean {hint[0]!r}?" if hint
                             else f"; allowed values: {', '.join(metrics.KPIS)}")], "--constraint")
    if m.group(7):
        if metrics.KPIS[kpi].fmt not in ("share", "pct"):
            raise ScenarioError([f"--constraint {text!r}: {kpi} is in {metrics.KPIS[kpi].unit}, not a percentage"],
                                "--constraint")
        value = value / 100 if metrics.KPIS[kpi].fmt == "share" else value
    return Constraint(kpi, ">=" if op in (">=", "=>") else "<=", value)


# ---------------------------------------------------------------------------- checking


def _policy_path(path: str, policy: str) -> str:
    """A path as given, without the policy's own ``policies.NAME.`` prefix; other roots refused."""
    parts = path.split(".")
    if parts[0] == "policies":
        if len(parts) < 3 or parts[1] != policy:
            raise ScenarioError([f"--param {path}: the optimiser changes policy {policy!r} only; give the path "
                                 f"without a prefix or as policies.{policy}.PATH"], "--param")
        return ".".join(parts[2:])
    if parts[0] in ("scenario", "run", "uncertainty"):
        raise ScenarioError([f"--param {path}: {parts[0]}.* settings are not part of a policy's design"], "--param")
    return path


def _unknown(path: str) -> ScenarioError:
    model: type[BaseModel] | None = Params
    for part in path.split("."):
        if part.isdigit() or part == "*":
            continue
        if model is None or part not in model.model_fields:
            names = list(model.model_fields) if model is not None else []
            hint = difflib.get_close_matches(part, names, n=1)
            return ScenarioError([f"--param {path}: unknown parameter {part!r}"
                                  + (f"; did you mean {hint[0]!r}?" if hint else "")], "--param")
        model = submodel(model.model_fields[part].annotation)
    return ScenarioError([f"--param {path}: names a table, not one parameter"], "--param")


def concrete_paths(path: str, data: Mapping[str, Any]) -> list[str]:
    """``customers.segments.*.x`` as one path per segment of ``data`` (a policy's parameters)."""
    if ".*." not in path:
        return [path]
    head, _, tail = path.partition(".*.")
    node: Any = data
    for part in head.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, list):
        raise ScenarioError([f"--param {path}: '*' stands for every item of a list, and {head} is not one"], "--param")
    return [f"{head}.{i}.{tail}" for i in range(len(node))]


def _get(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(part)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def current_value(path: str, data: Mapping[str, Any]) -> Any:
    """The policy's own value at ``path`` (None when a ``*`` path's items differ)."""
    values = [_get(data, p) for p in concrete_paths(path, data)]
    return values[0] if all(v == values[0] for v in values) else None


def _dimension(path: str, spec: dict[str, Any], data: Mapping[str, Any]) -> Dimension:
    info = field_info(path)
    if info is None or submodel(info.annotation) is not None:
        raise _unknown(path)
    for p in concrete_paths(path, data):
        try:
            _get(data, p)
        except KeyError:
            n = len(_get(data, "customers.segments")) if path.startswith("customers.segments.") else 0
            raise ScenarioError([f"--param {path}: no such item" + (f"; the policy has {n} segments (0 to {n - 1})"
                                 if n else "")], "--param") from None
    ann = info.annotation
    literal = typing.get_args(ann) if typing.get_origin(ann) is Literal else None
    numeric = ann in (int, float) or ann == (float | None)
    where = f"--param {path}"
    if ann is bool or literal:
        allowed = (True, False) if ann is bool else literal
        if "choices" not in spec:
            raise ScenarioError([f"{where}: a choice parameter takes a list of values, e.g. {path}="
                                 f"{','.join(str(a).lower() if isinstance(a, bool) else str(a) for a in allowed)}"],
                                "--param")
        bad = [c for c in spec["choices"] if not any(c == a and type(c) is type(a) for a in allowed)]
        if bad:
            shown = ", ".join(str(a).lower() if isinstance(a, bool) else repr(a) for a in allowed)
            raise ScenarioError([f"{where}: {', '.join(map(str, bad))} not allowed; allowed values: {shown}"], "--param")
        return Dimension(path, "choice", choices=tuple(spec["choices"]))
    if not numeric:
        raise ScenarioError([f"{where}: not a numeric or choice parameter (lists and names are not searched)"],
                            "--param")
    lo_b, hi_b, lo_open = field_bounds(info)
    lo_b = -math.inf if lo_b is None else float(lo_b)
    hi_b = math.inf if hi_b is None else float(hi_b)
    is_int = ann is int

    def inside(x: float) -> bool:
        return (x > lo_b if lo_open else x >= lo_b) and x <= hi_b

    if "choices" in spec:
        values = spec["choices"]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise ScenarioError([f"{where}: expected numbers; {allowed_range(info)}"], "--param")
        if is_int and any(not float(v).is_integer() for v in values):
            raise ScenarioError([f"{where}: expected whole numbers"], "--param")
        bad = [v for v in values if not inside(float(v))]
        if bad:
            raise ScenarioError([f"{where}: {', '.join(f'{v:g}' for v in bad)} out of range; {allowed_range(info)}"],
                                "--param")
        return Dimension(path, "choice", choices=tuple(int(v) if is_int else float(v) for v in values))
    lo, hi = spec["low"], spec["high"]
    for x in (lo, hi):
        if not inside(x):
            raise ScenarioError([f"{where}={_num(lo)}:{_num(hi)}: {x:g} is out of range; {allowed_range(info)}"],
                                "--param")
    kind = "int" if is_int or spec["int"] else "float"
    if kind == "int" and not (float(lo).is_integer() and float(hi).is_integer()):
        raise ScenarioError([f"{where}={_num(lo)}:{_num(hi)}: a whole-number range needs whole ends"], "--param")
    if spec["log"] and lo <= 0:
        raise ScenarioError([f"{where}={_num(lo)}:{_num(hi)}: a log range needs LO > 0"], "--param")
    return Dimension(path, kind, low=float(lo), high=float(hi), log=bool(spec["log"]))


def check_dimensions(specs: Sequence[tuple[str, dict[str, Any]]], *, policy: str, params: Params) -> list[Dimension]:
    """:func:`parse_dimension` results checked against the schema and the policy's parameters."""
    if not specs:
        raise ScenarioError(["--param: give at least one parameter to optimise, e.g. "
                             "--param pricing.price_multiplier=0.8:1.5"], "--param")
    data = params.model_dump(mode="python")
    dims: list[Dimension] = []
    for path, spec in specs:
        path = _policy_path(path, policy)
        if path in {d.path for d in dims}:
            raise ScenarioError([f"--param {path}: given twice"], "--param")
        dims.append(_dimension(path, spec, data))
    by_path = {d.path: d for d in dims}
    for d in dims:
        rule = acts_when(d.path)
        if rule is None:
            continue
        switch, values = rule
        if switch in by_path:
            if any(c in values for c in by_path[switch].choices):
                continue
            where = f"none of the values --param {switch} tries"
        elif _get(data, switch) in values:
            continue
        else:
            where = f"policy {policy!r} has {switch} = {_shown(_get(data, switch))}"
        raise ScenarioError([f"--param {d.path}: acts only when {switch} is "
                             f"{' or '.join(_shown(v) for v in values)}, and {where}: it cannot change the result "
                             f"(optimise a policy that uses it, or add --param {switch}=...)"], "--param")
    return dims


def _shown(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def apply_design(base: Mapping[str, Any], design: Mapping[str, Any]) -> Params:
    """The policy's parameters ``base`` (a ``Params`` dump) with each design path set; a design
    whose values do not fit together raises :class:`DesignError` naming the rule."""
    data = copy.deepcopy(dict(base))
    for path, value in design.items():
        for p in concrete_paths(path, data):
            set_path(data, p, value)
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise DesignError(f"{format_loc(tuple(first['loc']))}: {first['msg']}") from None


def policy_params(scenario: Scenario, policy: str) -> Params:
    policies = {p.name: p.params for p in resolve_policies(scenario)}
    if policy not in policies:
        raise ScenarioError([f"--policy: unknown policy {policy!r}; allowed values: {', '.join(policies)}"],
                            "--policy")
    return policies[policy]


def world_bases(scenario: Scenario, policy: str, worlds: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The policy's parameters in each world (one, the file's, without ``worlds``)."""
    if worlds is None:
        return [policy_params(scenario, policy).model_dump(mode="python")]
    if len(worlds) < 1:
        raise ScenarioError(["--robust: no worlds to average over"], "--robust")
    out = []
    for row in worlds.to_dict("records"):
        sc = with_values(scenario, row, source="uncertainty")
        out.append(policy_params(sc, policy).model_dump(mode="python"))
    return out


def guard(bases: list[dict[str, Any]], dims: list[Dimension], current: dict[str, Any], *, policy: str, months: int,
           runs: int, limit: int | None) -> None:
    """The guardrail (:mod:`sim.runs.guardrails`) before anything runs: every planned run costed at
    the dearest corner of the search space (each range at its ends, each choice, the others at the
    file's values), in every world."""
    corners = [{}] + [{d.path: v} for d in dims for v in (d.choices if d.kind == "choice" else (d.low, d.high))]
    parts = []
    for w, b in enumerate(bases):
        estimates = []
        for corner in corners:
            design = {d.path: d.snap(corner[d.path]) if d.path in corner else current[d.path] for d in dims}
            try:
                params = apply_design(b, {k: v for k, v in design.items() if v is not None})
            except DesignError:  # a corner that is not a valid design is never run
                continue
            estimates.append(guardrails.population_bound(params, months))
        where = f" (world {w})" if len(bases) > 1 else ""
        parts.append(guardrails.Part(f"{policy!r}{where} at the dearest corner of the search space",
                                     max(estimates, key=lambda e: e.work), runs))
    guardrails.check_parts(parts, limit=limit, counted="trials x replications and the selection's first stage"
                           + (" x worlds" if len(bases) > 1 else ""),
                           reduce="Use fewer trials, replications, candidates or worlds, or narrower ranges")
