"""Load, validate and resolve scenario files.

Where it sits: ``scenarios/*.toml`` -> **scenario** -> model. It reads TOML, applies
``--set path=value`` overrides, validates against :mod:`sim.params.schema`, resolves each named
policy into a full :class:`~sim.params.schema.Params`, and hashes the result. Every failure is a
:class:`ScenarioError` whose lines name the field path, the bad value and the allowed
range; callers print it and exit 2. It must not run the model.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import os
import re
import stat
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ValidationError

from sim.params import labels
from sim.params.labels import LABEL_KEY, LABEL_MAX
from sim.params.schema import POLICY_NAME_PATTERN, Params, Scenario, field_bounds
from sim.params.uncertainty import Choice, Distribution, from_spec

MAX_FILE_BYTES = 1_000_000  # a scenario is a few kB; refuse anything absurd before parsing
MAX_DEPTH = 16  # tables nest 4 deep in a valid scenario (policies.NAME.customers.segments[i].field)
MAX_SET_CHARS = 100_000  # one --set value; the longest valid string field is 2,000 characters
MAX_PROBLEMS = 50  # list at most this many problems; say how many more there are
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.toml"


class ScenarioError(ValueError):
    """A scenario could not be loaded; ``str()`` is a user-facing, multi-line message."""

    def __init__(self, problems: list[str], source: str = "scenario", title: str = "invalid scenario") -> None:
        self.problems = problems
        self.source = source
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        tail = [f"... and {more} more problems"] if more > 0 else []
        super().__init__(f"{source}: {title}\n" + "\n".join(f"  - {p}" for p in shown + tail))


@dataclass(frozen=True)
class Policy:
    """One named policy: its name, its fully resolved parameters and its display label
    (the file's ``label``, or the name)."""

    name: str
    params: Params
    label: str = ""


# Run settings that change how often or with which luck a scenario runs, not the scenario: a
# ``--set`` of them does not make it an edited scenario.
NOT_EDITS = frozenset({"run.seed", "run.replications"})


def policy_label(scenario: Scenario, name: str) -> str:
    """The display label of policy ``name``: its ``label`` in the scenario file while every number
    it states is true, else one made from its settings (:mod:`sim.params.labels`). Every chart,
    table, report and slide shows policies through this function."""
    return labels.policy_label(scenario, name)


def policy_labels(scenario: Scenario) -> dict[str, str]:
    """Policy name -> display label, for every policy of the scenario, in file order."""
    return {p.name: p.label for p in resolve_policies(scenario)}


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
    lo, hi, lo_open = field_bounds(info)
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
    problems: list[str] = []
    errors = err.errors()
    listed: set[tuple[Any, ...]] = set()  # sections whose known keys were already listed (once is enough)
    for i, e in enumerate(errors):
        if i >= MAX_PROBLEMS - 1:  # thousands of unknown keys: do not spend seconds on hints nobody reads
            problems.append(f"... and {len(errors) - i} more problems")
            break
        loc = tuple(e["loc"])
        path = format_loc(prefix + loc)
        if e["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            names = list(parent.model_fields) if parent else []
            hint = difflib.get_close_matches(str(loc[-1]), names, n=1)
            if hint:
                extra = f"; did you mean '{hint[0]}'?"
            elif names and loc[:-1] in listed:
                extra = "; known keys: listed above"
            else:
                extra = f"; known keys: {', '.join(names)}" if names else ""
                listed.add(loc[:-1])
            problems.append(f"{path}: unknown key{extra}")
            continue
        info = _field_at(model, loc)
        rng = allowed_range(info)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            problems.append(f"{path}: required field is missing")
        elif "input" in e and e["type"] not in ("model_type",) and not (
            e["type"] == "value_error" and isinstance(e["input"], dict)  # a whole table: the message says it
        ):
            problems.append(f"{path}: {msg} (got {_short(e['input'])})" + (f"; {rng}" if rng and rng not in msg else ""))
        else:
            problems.append(f"{path}: {msg}")
    return problems


# ---------------------------------------------------------------- loading


def decode_text(data: bytes, source: str = "scenario") -> str:
    """UTF-8 bytes (an optional byte-order mark is dropped) as text, or a ScenarioError."""
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError([f"scenario is {len(data)} bytes; the limit is {MAX_FILE_BYTES} bytes"], source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"file is not UTF-8 text (byte {exc.start})"], source) from None


def too_deep(data: Any, limit: int = MAX_DEPTH) -> str | None:
    """The path of the first value nested deeper than ``limit`` tables/arrays, else None (no recursion)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) > limit:
            return format_loc(loc)
        if isinstance(node, dict):
            stack.extend((v, (*loc, str(k))) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))
    return None


def parse_toml_text(text: str, source: str = "scenario") -> dict[str, Any]:
    """Parse scenario TOML with the same size limit as files; every failure is a ScenarioError."""
    if not isinstance(text, str):
        raise ScenarioError([f"expected TOML text (got {type(text).__name__})"], source)
    if len(text) > MAX_FILE_BYTES:  # checked on characters first: encoding a huge string costs memory
        raise ScenarioError([f"scenario is over {MAX_FILE_BYTES} characters; the limit is {MAX_FILE_BYTES} bytes"],
                            source)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates cannot come from a file
        raise ScenarioError([f"text is not valid Unicode (character {exc.start})"], source) from None
    if size > MAX_FILE_BYTES:
        raise ScenarioError([f"scenario is {size} bytes; the limit is {MAX_FILE_BYTES} bytes"], source)
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"not valid TOML: {exc}"], source) from None
    except RecursionError:
        raise ScenarioError([f"not valid TOML: nested more than {MAX_DEPTH} levels deep"], source) from None
    except ValueError as exc:  # an integer literal beyond Python's 4,300-digit conversion limit
        why = "an integer has too many digits" if "digits" in str(exc) else str(exc)
        raise ScenarioError([f"not valid TOML: {why}"], source) from None
    deep = too_deep(data)
    if deep is not None:
        raise ScenarioError([f"{deep}: nested more than {MAX_DEPTH} levels deep"], source)
    return data


def read_regular_file(path: str | Path, limit: int, source: str | None = None, *,
                      title: str = "invalid scenario") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; every other case a
    :class:`ScenarioError` naming ``source`` (default: the path): missing or unreadable, a folder,
    a FIFO or device (refused without blocking on it: opened non-blocking and checked on the open
    file), a file over the limit (checked before reading, and the read is bounded even if it grows)."""
    source = str(path) if source is None else source
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ScenarioError([f"cannot read file: {getattr(exc, 'strerror', None) or exc}"], source, title) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # a folder, a FIFO that never ends, /dev/zero ...
        os.close(fd)
        raise ScenarioError(["cannot read file: not a regular file"], source, title)
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            raise ScenarioError([f"file is {st.st_size:,} bytes; the limit is {limit:,} bytes"], source, title)
        try:
            data = fh.read(limit + 1)  # bounded even if the file grows meanwhile
        except OSError as exc:
            raise ScenarioError([f"cannot read file: {exc.strerror or exc}"], source, title) from None
    if len(data) > limit:
        raise ScenarioError([f"file is over {limit:,} bytes, the limit"], source, title)
    return data


def read_scenario_dict(path: str | Path) -> dict[str, Any]:
    """Read a scenario file into a plain dict, with clear errors for unreadable files."""
    source = str(path)
    return parse_toml_text(decode_text(read_regular_file(path, MAX_FILE_BYTES, source), source), source)


def parse_set(expr: str) -> tuple[str, Any]:
    """Parse ``path=value``; the value is read as a TOML value, else taken as a string."""
    if "=" not in expr:
        raise ScenarioError([f"--set {expr!r}: expected path=value, e.g. support.agents=8"], "--set")
    path, raw = expr.split("=", 1)
    path, raw = path.strip(), raw.strip()
    if not path or any(not part for part in path.split(".")):
        raise ScenarioError([f"--set {_short(expr)}: empty parameter path"], "--set")
    if len(path) > 1000 or len(path.split(".")) > MAX_DEPTH:
        raise ScenarioError([f"--set {_short(expr)}: parameter path too long"], "--set")
    if len(raw) > MAX_SET_CHARS:
        raise ScenarioError([f"{path}: value is {len(raw)} characters; the limit is {MAX_SET_CHARS}"], "--set")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ScenarioError([f"{path}: value is not valid Unicode (character {exc.start})"], "--set") from None
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        parsed = {"v": raw}  # not a TOML value: take the text as a string
    if set(parsed) != {"v"}:  # e.g. "3\nother = 1": one --set sets one value
        raise ScenarioError([f"{path}: expected one value (got {_short(raw)})"], "--set")
    value = parsed["v"]
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError([f"{path}: value must be finite (got {raw})"], "--set")
    deep = too_deep(value, MAX_DEPTH - len(path.split(".")))
    if deep is not None:
        raise ScenarioError([f"{path}: value nested more than {MAX_DEPTH} levels deep"], "--set")
    return path, value


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` (list items as ``segments.0.share``) inside nested dicts, in place."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = _list_item(node, part, path)
        elif not isinstance(node, dict):
            raise ScenarioError([f"{path}: {'.'.join(parts[:i])} is a value, not a table"], "--set")
        else:
            if node.get(part) is None:  # absent (or an unset optional): create the table
                node[part] = {}
            node = node[part]
    if not isinstance(node, (dict, list)):
        raise ScenarioError([f"{path}: {'.'.join(parts[:-1])} is a value, not a table"], "--set")
    last = parts[-1]
    if isinstance(node, list):
        idx = _index(last, len(node), path)
        node[idx] = value
    else:
        node[last] = value


def _index(part: str, n: int, path: str) -> int:
    if not (part.isascii() and part.isdigit()):  # "²".isdigit() is True, but int("²") fails
        raise ScenarioError([f"{path}: {part!r} is not a list index (0 to {n - 1})"], "--set")
    if int(part) >= n:
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


def _bools_as_numbers(data: Any, model: type[BaseModel], prefix: str = "") -> list[str]:
    """Paths where a boolean is given for a number (pydantic would read true as 1)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return problems
    for key, value in data.items():
        info = model.model_fields.get(key) if isinstance(key, str) else None
        if info is None:
            continue
        path = f"{prefix}{key}"
        sub = _model_at(model, (key,))
        if isinstance(value, bool) and info.annotation in (int, float):
            problems.append(f"{path}: expected a number, got {str(value).lower()} (a switch); "
                            f"{allowed_range(info)}")
        elif sub is not None and isinstance(value, dict):
            problems += _bools_as_numbers(value, sub, path + ".")
        elif sub is not None and isinstance(value, list):
            for i, item in enumerate(value):
                problems += _bools_as_numbers(item, sub, f"{path}[{i}].")
    return problems


def validate_dict(data: dict[str, Any], overrides: list[str] | None = None, source: str = "scenario") -> Scenario:
    """Validate a scenario dict (plus ``--set`` overrides) and every policy it defines."""
    if not isinstance(data, dict):
        raise ScenarioError([f"expected a table of parameters (got {type(data).__name__})"], source)
    deep = too_deep(data)
    if deep is not None:
        raise ScenarioError([f"{deep}: nested more than {MAX_DEPTH} levels deep"], source)
    if isinstance(overrides, str):  # a single "path=value" rather than a list of them
        overrides = [overrides]
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
    flagged = _bools_as_numbers(data, Scenario)
    for name, override in (data.get("policies") or {}).items() if isinstance(data.get("policies"), dict) else ():
        flagged += _bools_as_numbers(override, Params, f"policies.{name}.")
    if flagged:
        raise ScenarioError(flagged, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_messages(err, Scenario), source) from None
    problems = []
    for name in scenario.policies:
        if not _valid_policy_name(name):
            problems.append(f"policies.{name}: policy names use letters, digits, _ + - (at most 40 characters)")
        label = scenario.policies[name].get(LABEL_KEY)
        if label is not None and not (isinstance(label, str) and 0 < len(label.strip()) <= LABEL_MAX):
            problems.append(f"policies.{name}.{LABEL_KEY}: a display label is text of 1 to {LABEL_MAX} characters")
    ref = scenario.scenario.reference_policy
    names = list(scenario.policies) or ["base"]  # without policies the one policy is "base"
    if ref is not None and ref not in names:
        hint = difflib.get_close_matches(ref, names, n=1)
        problems.append(
            f"scenario.reference_policy: no policy named {_short(ref)}"
            + (f"; did you mean {hint[0]!r}?" if hint else f"; policies: {', '.join(names)}")
        )
    if problems:
        raise ScenarioError(problems, source)
    resolved = resolve_policies(scenario, source)  # validates each policy's overrides
    if scenario.uncertainty:
        uncertain_parameters(scenario, source, resolved)
    scenario.record_edits([o for o in overrides or [] if parse_set(o)[0] not in NOT_EDITS])
    if scenario.policies:
        # Store each override as its validated value (15 -> 15.0 for a float, 1 -> true for a
        # switch), so the hash does not depend on how a value was written in the file.
        scenario.policies = {
            p.name: _canonical(scenario.policies[p.name], p.params.model_dump(mode="python")) for p in resolved
        }
    return scenario


def _canonical(override: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    """``override``'s keys with the values they resolved to (the same tables, canonical types)."""
    out: dict[str, Any] = {}
    for key, value in override.items():
        if key == LABEL_KEY and key not in resolved:
            out[key] = value
            continue
        target = resolved[key]
        out[key] = _canonical(value, target) if isinstance(value, dict) and isinstance(target, dict) else target
    return out


MAX_UNCERTAIN = 50  # uncertain parameters in one table


def uncertain_parameters(scenario: Scenario, source: str = "scenario",
                         resolved: list[Policy] | None = None) -> dict[str, Distribution]:
    """The ``[uncertainty]`` table as distributions, each checked against its field.

    A path is any path ``--set`` accepts that names one numeric or choice parameter (base, or
    ``policies.NAME.…`` for one policy). Bounded distributions must lie in the field's allowed
    range; normal and lognormal ones are truncated to it. Every problem is a
    :class:`ScenarioError` line naming the path.
    """
    table = scenario.uncertainty
    if len(table) > MAX_UNCERTAIN:
        raise ScenarioError([f"uncertainty: {len(table)} parameters; at most {MAX_UNCERTAIN}"], source)
    resolved = resolved or resolve_policies(scenario, source)
    policies = {p.name: p.params for p in resolved} if scenario.policies else {}
    base = base_params_dict(scenario)
    out: dict[str, Distribution] = {}
    problems = []
    for path, spec in table.items():
        try:
            info = _parameter_field(path, base, policies)
            dist = _fit_to_field(from_spec(spec), info)
        except (ValueError, ArithmeticError) as exc:  # ArithmeticError: a safety net for overflow in a fit
            problems.append(f"uncertainty.{json.dumps(path)}: {exc}")
            continue
        out[path] = dist
    if problems:
        raise ScenarioError(problems, source)
    return out


def _parameter_field(path: str, base: dict[str, Any], policies: dict[str, Params]) -> Any:
    """The FieldInfo of the one parameter at ``path`` (a ``--set`` path), or a ValueError saying why not."""
    parts = path.split(".")
    if any(not part for part in parts):
        raise ValueError("expected a parameter path like acquisition.cac_multiple")
    node: Any = base
    if parts[0] == "policies":
        names = list(policies)
        if len(parts) < 3 or parts[1] not in names:
            hint = difflib.get_close_matches(parts[1] if len(parts) > 1 else "", names, n=1)
            raise ValueError("expected policies.NAME.PATH with a policy of the file"
                             + (f"; did you mean {hint[0]!r}?" if hint else f" ({', '.join(names) or 'none'})"))
        node, parts = policies[parts[1]].model_dump(mode="python"), parts[2:]
    elif parts[0] in ("scenario", "run", "uncertainty"):
        raise ValueError(f"{parts[0]}.* settings are not model parameters and cannot be uncertain")
    loc: list[Any] = []
    for part in parts:
        if isinstance(node, list):
            try:
                node = _list_item(node, part, path)
            except ScenarioError as exc:
                raise ValueError(exc.problems[0].split(": ", 1)[-1]) from None
            loc.append(int(part))
            continue
        if not isinstance(node, dict) or part not in node:
            parent = _model_at(Params, tuple(loc))
            names = list(parent.model_fields) if parent is not None and isinstance(node, dict) else []
            hint = difflib.get_close_matches(part, names, n=1)
            raise ValueError(f"unknown parameter {part!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                             + ("" if names else f" ({format_loc(tuple(loc))} is a value, not a table)"))
        node = node[part]
        loc.append(part)
    info = _field_at(Params, tuple(loc))
    if info is None or isinstance(node, (dict, list)):
        raise ValueError("names a table or a list, not one parameter")
    return info


def _fit_to_field(dist: Distribution, info: Any) -> Distribution:
    """``dist`` checked against (or truncated to) the field's allowed range or choices."""
    ann = info.annotation
    if ann is bool or typing.get_origin(ann) is Literal:
        if not isinstance(dist, Choice):
            raise ValueError(f"a choice parameter takes dist = \"choice\"; {allowed_range(info) or 'true / false'}")
        return dist.among((True, False) if ann is bool else typing.get_args(ann))
    if typing.get_origin(ann) is list:
        raise ValueError("the entries of a list parameter are checked together (e.g. shares sum to 1); "
                         "they cannot be uncertain one by one")
    if ann not in (int, float):
        raise ValueError("not a numeric or choice parameter")
    lo, hi, lo_open = field_bounds(info)
    return dist.within(lo, hi, low_open=lo_open, integer=ann is int)


def _valid_policy_name(name: str) -> bool:
    return re.match(POLICY_NAME_PATTERN, name) is not None


def load(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override and validate a scenario file."""
    return validate_dict(read_scenario_dict(path), overrides, str(path))


def load_text(text: str | bytes, overrides: list[str] | None = None, source: str = "scenario") -> Scenario:
    """Validate scenario TOML given as text (or UTF-8 bytes), with the same size limit as files."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_text(bytes(text), source)
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
        return [Policy("base", Params.model_validate(base), "base")]
    out, problems = [], []
    for name, override in scenario.policies.items():
        override = {k: v for k, v in override.items() if k != LABEL_KEY}
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
            out.append(Policy(name, Params.model_validate(deep_merge(base, override)), policy_label(scenario, name)))
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
    data = scenario.model_dump(mode="json", exclude_none=True)
    if scenario.uncertainty:  # kept out of dumps (and the hash); written back here
        data["uncertainty"] = scenario.uncertainty
    return tomli_w.dumps(data)
