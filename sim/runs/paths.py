"""A parameter named by its path, as in ``--set``: read it, set it, say what it can move.

Where it sits: **runs**, beneath the studies (``sim.runs.studies``, ``tornado``, ``staffing``),
the decision analysis and calibrate's back-test. ``support.agents`` or
``customers.segments.0.issue_rate_per_month``: a base path is set in the base parameters and in
every policy that overrides it (so ``pricing.per_ticket_fee_usd`` moves the per-ticket policy's
own fee); ``policies.NAME.path`` sets it for one policy only; ``customers.segments.*.field``
names the field in every segment. :func:`check_movable` refuses a path no compared policy reads
(from the schema's ``acts_when``), and :func:`worst_case` finds the dearest corner of an
uncertainty table for the guardrail.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.params.scenario import (
    ScenarioError,
    allowed_range,
    resolve_policies,
    set_path,
    validate_dict,
)
from sim.params.schema import Scenario
from sim.params.uncertainty import Choice, Distribution, Rounded
from sim.params.walk import acts_when, field_info
from sim.runs import guardrails

# ---------------------------------------------------------------------------- parameter paths


def bounds_of(path: str) -> tuple[float, float, bool]:
    """Allowed (low, high) of a numeric parameter and whether it is an integer."""
    info = field_info(path)
    lo, hi = -math.inf, math.inf
    if info is not None:
        for m in info.metadata:
            for attr in ("ge", "gt"):
                if getattr(m, attr, None) is not None:
                    lo = float(getattr(m, attr))
            if getattr(m, "le", None) is not None:
                hi = float(m.le)
    is_int = info is not None and info.annotation is int
    return lo, hi, is_int


def get_path(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(path)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def _has(data: Any, path: str) -> bool:
    try:
        get_path(data, path)
    except KeyError:
        return False
    return True


def expand_path(data: dict[str, Any], path: str) -> list[str]:
    """``a.*.b`` as one concrete path per list item (``a.0.b``, ``a.1.b`` ...)."""
    if "*" not in path.split("."):
        return [path]
    head, _, tail = path.partition(".*")
    try:
        items = get_path(data, head)
    except KeyError:
        raise ScenarioError([f"{path}: no list at {head!r}"], "--param") from None
    if not isinstance(items, list):
        raise ScenarioError([f"{path}: {head!r} is not a list; '*' stands for every item of a list"], "--param")
    return [p for i in range(len(items)) for p in expand_path(data, f"{head}.{i}{tail}")]


def with_values(scenario: Scenario, values: Mapping[str, Any], *, source: str = "--param") -> Scenario:
    """A copy of ``scenario`` with each parameter path set to its value, validated like the file.

    A base path is also set inside every policy that overrides it; ``policies.NAME.path``
    sets one policy only. Bad paths or values raise :class:`ScenarioError` naming the
    field and its allowed range.
    """
    if not values:
        return scenario
    data = scenario.model_dump(mode="python")
    expanded: dict[str, Any] = {}
    for path, value in values.items():
        if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
            raise ScenarioError([f"{path!r}: expected a parameter path like support.agents"], source)
        expanded.update(dict.fromkeys(expand_path(data, path), value))
    for path, value in expanded.items():
        if path.startswith("policies."):
            name = path.split(".")[1]
            if name not in data["policies"]:
                raise ScenarioError([f"{path}: no policy named {name!r}; policies: {', '.join(data['policies'])}"],
                                    source)
            _set(data, path, value, source)
            continue
        _set(data, path, value, source)
        for override in data["policies"].values():
            if _has(override, path):
                _set(override, path, value, source)
    return validate_dict(data, None, source)


def _set(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    try:
        set_path(data, path, value)
    except (TypeError, AttributeError):
        raise ScenarioError([f"{path}: cannot set a value inside a non-table"], source) from None


NUMBER = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"


def parse_values(spec: str, *, name: str = "--param") -> list[Any]:
    """``4:16:2`` (start:stop:step, stop included), ``4:16`` (step 1) or ``a,b,c``."""
    text = spec.strip()
    if re.fullmatch(rf"{NUMBER}:{NUMBER}(:{NUMBER})?", text):
        parts = text.split(":")
        as_int = all(re.fullmatch(r"[-+]?\d+", p) for p in parts)
        conv = int if as_int else float
        start, stop = conv(parts[0]), conv(parts[1])
        step = conv(parts[2]) if len(parts) == 3 else 1
        if step <= 0:
            raise ScenarioError([f"{name} {spec!r}: the step must be positive"], name)
        if stop < start:
            raise ScenarioError([f"{name} {spec!r}: start must not exceed stop"], name)
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > 1000:
            raise ScenarioError([f"{name} {spec!r}: {count} values; at most 1000 per parameter"], name)
        return [start + i * step if as_int else float(f"{start + i * step:.12g}") for i in range(count)]
    items = [s.strip() for s in text.split(",")]
    if not text or any(not s for s in items):
        raise ScenarioError([f"{name} {spec!r}: expected start:stop[:step] or a comma-separated list"], name)
    out: list[Any] = []
    for s in items:
        if re.fullmatch(r"[-+]?\d+", s):
            out.append(int(s))
        elif re.fullmatch(NUMBER, s):
            out.append(float(s))
        elif s.lower() in ("true", "false"):
            out.append(s.lower() == "true")
        else:
            out.append(s)
    return out


def parse_grid_arg(arg: str) -> tuple[str, list[Any]]:
    """``path=values`` as given to ``--param``."""
    if "=" not in arg:
        raise ScenarioError([f"--param {arg!r}: expected path=values, e.g. support.agents=4:16:2"], "--param")
    path, spec = arg.split("=", 1)
    return path.strip(), parse_values(spec, name=f"--param {path.strip()}")


def parse_range_arg(arg: str) -> tuple[str, tuple[float, float]]:
    """``path=LOW:HIGH`` as given to ``--range``."""
    m = re.fullmatch(rf"\s*([^=\s]+)\s*=\s*({NUMBER})\s*:\s*({NUMBER})\s*", arg)
    if not m:
        raise ScenarioError([f"--range {arg!r}: expected path=LOW:HIGH, e.g. churn.switching_ease=0.5:1.5"],
                            "--range")
    lo, hi = float(m.group(2)), float(m.group(6))
    if lo >= hi:
        raise ScenarioError([f"--range {arg!r}: LOW must be below HIGH"], "--range")
    return m.group(1), (lo, hi)


# ---------------------------------------------------------------------------- what a parameter can move

# Sections of a scenario file that are not model parameters: no run reads them from a point's values.
NOT_PARAMETERS = ("scenario", "run", "uncertainty")


def _attr(params: Any, path: str) -> Any:
    for part in path.split("."):
        params = getattr(params, part)
    return params


def acting_switch(param: str) -> tuple[str, tuple[Any, ...]] | None:
    """(switch, values where it acts) of a parameter that acts only under some settings, else None:
    what the schema declares (:func:`sim.params.walk.acts_when`)."""
    return acts_when(param)


def acts_on(param: str, policy: Any) -> bool:
    """Whether base parameter ``param`` can change the results of ``policy`` (a resolved policy):
    False when it belongs to a scheme or programme the policy does not use (:func:`acting_switch`)."""
    rule = acting_switch(param)
    return rule is None or _attr(policy.params, rule[0]) in rule[1]


def _base_path(path: str) -> str:
    """``policies.NAME.rest`` -> ``rest``; a base path as it is."""
    parts = path.split(".")
    return ".".join(parts[2:]) if parts[0] == "policies" and len(parts) > 2 else path


def check_movable(scenario: Scenario, path: str, policies: Sequence[str] | None = None, *,
                  flag: str = "--param") -> None:
    """Refuse (:class:`ScenarioError`, naming the path) a parameter a sweep or break-even cannot move:
    a scenario, run or uncertainty setting (no run reads it from a point), a path that is no
    parameter, a parameter that is not a number (a choice, a switch, text: compare those as
    policies), and one that acts on none of ``policies`` (default: every policy; e.g. a per-ticket
    fee when no policy charges per ticket, or ``policies.NAME.x`` for a policy not compared)."""
    resolved = {p.name: p for p in resolve_policies(scenario)}
    chosen = list(policies) if policies is not None else list(resolved)
    head = path.split(".", 1)[0]
    if head in NOT_PARAMETERS:
        raise ScenarioError([f"{flag} {path}: a {head}.* setting, not a model parameter: no run reads it from a "
                             f"point's values; set it with --set {path}=VALUE"], flag)
    info = field_info(path)
    if info is None or "*" in path.split("."):
        if "*" not in path.split("."):
            with_values(scenario, {path: 0}, source=flag)  # the loader's own message ("did you mean ...?")
        raise ScenarioError([f"{flag} {path}: no such parameter (a path like support.agents or "
                             "customers.segments.0.issue_rate_per_month; see `supportsim schema`)"], flag)
    if info.annotation is bool or info.annotation not in (int, float):
        what = "a switch: true or false" if info.annotation is bool else (allowed_range(info) or "not a number")
        raise ScenarioError([f"{flag} {path}: not a numeric parameter ({what}); a sweep or break-even moves a "
                             f"number. Compare its values as policies ([policies.NAME] {_base_path(path)} = ...) or "
                             f"run each with --set {path}=VALUE"], flag)
    parts = path.split(".")
    if parts[0] == "policies":
        name = parts[1] if len(parts) > 1 else ""
        if name not in chosen:
            raise ScenarioError([f"{flag} {path}: policy {name!r} is not among those compared "
                                 f"({', '.join(chosen)}), so moving it changes nothing"], flag)
        targets = [name]
    else:
        targets = chosen
    base = _base_path(path)
    rule = acting_switch(base)
    if rule is not None and not any(acts_on(base, resolved[n]) for n in targets if n in resolved):
        switch, values = rule
        users = [n for n, p in resolved.items() if acts_on(base, p)]
        hint = (f"it acts on {', '.join(users)}" if users else "no policy of this scenario uses it")
        hint += f" (or add --set {switch}={str(values[0]).lower()})"
        raise ScenarioError([f"{flag} {path}: acts only when {switch} is "
                             f"{' or '.join(str(v).lower() for v in values)}, which none of {', '.join(targets)} has, "
                             f"so it cannot change their results; {hint}"], flag)


# ---------------------------------------------------------------------------- the dearest corner of a table

QUANTILE = 1e-3  # an unbounded distribution's ends for the worst case: its 0.1% and 99.9% quantiles


def _ends(dist: Distribution) -> list[Any]:
    """The values of an uncertain parameter the worst case tries: a choice's values, else both ends
    of its support (the 0.1% / 99.9% quantile where the support is unbounded), rounded for a
    whole-number parameter."""
    if isinstance(dist, Choice):
        return [v.item() if isinstance(v, np.generic) else v for v in dist.values]
    lo, hi = dist.support
    q_lo, q_hi = (float(v) for v in np.asarray(dist.ppf(np.array([QUANTILE, 1 - QUANTILE])), dtype=float))
    ends = [lo if math.isfinite(lo) else q_lo, hi if math.isfinite(hi) else q_hi]
    if isinstance(dist, Rounded):
        return [int(round(v)) for v in ends]
    return ends


def worst_case(scenario: Scenario, parameters: Mapping[str, Distribution],
               policies: Sequence[str] | None = None) -> tuple[Scenario, dict[str, Any]]:
    """``scenario`` with every uncertain parameter at the end of its range that makes the work of
    ``policies`` (default: all) largest, and those values: what each PSA sample is costed at by
    the guardrail. A coordinate search over the ends (:func:`_ends`), repeated until no parameter
    changes (at most 3 rounds); combinations the schema refuses (e.g. min_agents above
    max_agents) are skipped."""
    months = scenario.run.months

    def total(values: dict[str, Any]) -> tuple[float, Scenario | None]:
        try:
            sc = with_values(scenario, values, source="uncertainty")
        except ScenarioError:
            return -math.inf, None
        return sum(guardrails.policy_work(p.params, months) for p in resolve_policies(sc)
                   if policies is None or p.name in policies), sc

    chosen: dict[str, Any] = {}
    best, best_sc = total(chosen)
    for _ in range(3):
        changed = False
        for path, dist in parameters.items():
            for value in _ends(dist):
                if path in chosen and value == chosen[path]:
                    continue
                w, sc = total({**chosen, path: value})
                if w > best:
                    best, best_sc, chosen, changed = w, sc, {**chosen, path: value}, True
        if not changed:
            break
    return (best_sc if best_sc is not None else scenario), chosen
