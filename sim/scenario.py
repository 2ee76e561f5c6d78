"""Load, validate and resolve scenario files.

Where it sits: ``scenarios/*.toml`` -> **scenario** -> model. It reads TOML, applies
``--set path=value`` overrides, validates against :mod:`sim.schema`, resolves each named
policy into a full :class:`~sim.schema.Params`, and hashes the result. Every failure is a
:class:`ScenarioError` whose lines name the field path, the bad value and the allowed
range; callers print it and exit 2. It must not run the model.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.schema import Params, Scenario

MAX_FILE_BYTES = 1_000_000  # a scenario is a few kB; refuse anything absurd before parsing
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"


class ScenarioError(ValueError):
    """A scenario could not be loaded; ``str()`` is a user-facing, multi-line message."""

    def __init__(self, problems: list[str], source: str = "scenario") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: invalid scenario\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Policy:
    """One named policy: its name and its fully resolved parameters."""

    name: str
    params: Params


# ---------------------------------------------------------------- field look-up and messages


def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The pydantic FieldInfo at ``loc`` inside ``model`` (list indices skipped), or None."""
    info = None
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        ann = info.annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), ann)
    return info


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    info = _field_at(model, loc) if loc else None
    if not loc:
        return model
    if info is None:
        return None
    ann = info.annotation
    for a in (ann, *getattr(ann, "__args__", ())):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def allowed_range(info: Any) -> str:
    """Human-readable allowed range or choices of a field, from its schema constraints."""
    if info is None:
        return ""
    lo = hi = None
    lo_open = False
    for m in info.metadata:
        for attr, is_open in (("ge", False), ("gt", True)):
            if getattr(m, attr, None) is not None:
                lo, lo_open = getattr(m, attr), is_open
        if getattr(m, "le", None) is not None:
            hi = m.le
    choices = getattr(info.annotation, "__args__", None)
    if lo is not None or hi is not None:
        left = "(" if lo_open else "["
        return f"allowed range {left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
    if choices and all(isinstance(c, str) for c in choices):
        return "allowed values: " + ", ".join(repr(c) for c in choices)
    if info.annotation in (int, float, bool, str):
        return f"expected {info.annotation.__name__}"
    return ""


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _messages(err: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> list[str]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        path = format_loc(prefix + loc)
        if e["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            names = list(parent.model_fields) if parent else []
            hint = difflib.get_close_matches(str(loc[-1]), names, n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else (f"; known keys: {', '.join(names)}" if names else "")
            problems.append(f"{path}: unknown key{extra}")
            continue
        info = _field_at(model, loc)
        rng = allowed_range(info)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            problems.append(f"{path}: required field is missing")
        elif "input" in e and e["type"] not in ("model_type",):
            problems.append(f"{path}: {msg} (got {_short(e['input'])})" + (f"; {rng}" if rng and rng not in msg else ""))
        else:
            problems.append(f"{path}: {msg}")
    return problems


# ---------------------------------------------------------------- loading


def parse_toml_text(text: str, source: str = "scenario") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"not valid TOML: {exc}"], source) from None


def read_scenario_dict(path: str | Path) -> dict[str, Any]:
    """Read a scenario file into a plain dict, with clear errors for unreadable files."""
    p = Path(path)
    source = str(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ScenarioError([f"cannot read file: {exc.strerror}"], source) from None
    if size > MAX_FILE_BYTES:
        raise ScenarioError([f"file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes"], source)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"file is not UTF-8 text (byte {exc.start})"], source) from None
    except OSError as exc:
        raise ScenarioError([f"cannot read file: {exc.strerror}"], source) from None
    return parse_toml_text(text, source)


def parse_set(expr: str) -> tuple[str, Any]:
    """Parse ``path=value``; the value is read as a TOML value, else taken as a string."""
    if "=" not in expr:
        raise ScenarioError([f"--set {expr!r}: expected path=value, e.g. support.agents=8"], "--set")
    path, raw = expr.split("=", 1)
    path, raw = path.strip(), raw.strip()
    if not path or any(not part for part in path.split(".")):
        raise ScenarioError([f"--set {expr!r}: empty parameter path"], "--set")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError([f"{path}: value must be finite (got {raw})"], "--set")
    return path, value


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` (list items as ``segments.0.share``) inside nested dicts, in place."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            node = _list_item(node, part, path)
            continue
        if part not in node or not isinstance(node[part], (dict, list)):
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        idx = _index(last, len(node), path)
        node[idx] = value
    else:
        node[last] = value


def _index(part: str, n: int, path: str) -> int:
    if not part.isdigit() or int(part) >= n:
        raise ScenarioError([f"{path}: list index {part!r} out of range (the list has {n} items)"], "--set")
    return int(part)


def _list_item(node: list[Any], part: str, path: str) -> Any:
    return node[_index(part, len(node), path)]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_dict(data: dict[str, Any], overrides: list[str] | None = None, source: str = "scenario") -> Scenario:
    """Validate a scenario dict (plus ``--set`` overrides) and every policy it defines."""
    if overrides:
        # fill in defaults first, so --set can reach fields the file leaves out (e.g. segment lists)
        data = deep_merge(Scenario().model_dump(mode="python", exclude={"policies"}), data)
    else:
        data = copy.deepcopy(data)
    for expr in overrides or []:
        path, value = parse_set(expr)
        try:
            set_path(data, path, value)
        except (TypeError, AttributeError):
            raise ScenarioError([f"{path}: cannot set a value inside a non-table"], source) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_messages(err, Scenario), source) from None
    problems = []
    for name in scenario.policies:
        if not _valid_policy_name(name):
            problems.append(f"policies.{name}: policy names use letters, digits, _ + - (at most 40 characters)")
    ref = scenario.scenario.reference_policy
    if ref is not None and scenario.policies and ref not in scenario.policies:
        hint = difflib.get_close_matches(ref, list(scenario.policies), n=1)
        problems.append(
            f"scenario.reference_policy: no policy named {ref!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else f"; policies: {', '.join(scenario.policies)}")
        )
    if problems:
        raise ScenarioError(problems, source)
    resolve_policies(scenario, source)  # validates each policy's overrides
    return scenario


def _valid_policy_name(name: str) -> bool:
    import re

    from sim.schema import POLICY_NAME_PATTERN

    return re.match(POLICY_NAME_PATTERN, name) is not None


def load(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override and validate a scenario file."""
    return validate_dict(read_scenario_dict(path), overrides, str(path))


def load_text(text: str, overrides: list[str] | None = None, source: str = "scenario") -> Scenario:
    return validate_dict(parse_toml_text(text, source), overrides, source)


def base_params_dict(scenario: Scenario) -> dict[str, Any]:
    data = scenario.model_dump(mode="python")
    for key in ("scenario", "run", "policies"):
        data.pop(key)
    return data


def resolve_policies(scenario: Scenario, source: str = "scenario") -> list[Policy]:
    """Each named policy as full parameters (base merged with its overrides), in file order.

    A scenario without policies has one policy, ``base``.
    """
    base = base_params_dict(scenario)
    if not scenario.policies:
        return [Policy("base", Params.model_validate(base))]
    out, problems = [], []
    for name, override in scenario.policies.items():
        bad = [k for k in override if k not in Params.model_fields]
        if bad:
            for k in bad:
                hint = difflib.get_close_matches(k, list(Params.model_fields), n=1)
                problems.append(
                    f"policies.{name}.{k}: unknown or not overridable by a policy"
                    + (f"; did you mean '{hint[0]}'?" if hint else "")
                )
            continue
        try:
            out.append(Policy(name, Params.model_validate(deep_merge(base, override))))
        except ValidationError as err:
            problems.extend(_messages(err, Params, ("policies", name)))
    if problems:
        raise ScenarioError(problems, source)
    return out


def reference_policy(scenario: Scenario) -> str:
    policies = resolve_policies(scenario)
    return scenario.scenario.reference_policy or policies[0].name


def canonical_json(scenario: Scenario) -> str:
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (defaults filled in), independent of file formatting."""
    return hashlib.sha256(canonical_json(scenario).encode()).hexdigest()


def to_toml(scenario: Scenario) -> str:
    """The full resolved scenario as TOML; loading it gives the same hash."""
    import tomli_w

    data = scenario.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)
