"""A decision under uncertainty on disk: decision.json, psa.csv, plots/ — written and read back.

Where it sits: :class:`sim.decision.psa.DecisionResult` -> **decision_files** -> users, the
report and the deck (``--decision DIR``). Everything is written into a temporary folder and
swapped in whole (:func:`sim.output.files.atomic_dir`), so an interrupted or failed write
leaves the previous output or none. :func:`read_decision` rebuilds the result from
decision.json and psa.csv (the decision map is recomputed from the samples, as ``decide``
computed it); :func:`check_same_scenario` refuses to pair a decision with a run of another
scenario.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.base.atomic import json_safe
from sim.decision.psa import (
    EVPPI_COLUMNS,
    MAX_SAMPLES,
    DecisionResult,
    analyse,
    decision_hash,
    decision_map_table,
    design_points,
    draw,
    numeric_inputs,
)
from sim.output import files
from sim.output.decision_plots import save_decision_plots
from sim.output.plots import FORMATS, WITH_PDF
from sim.params.scenario import (
    ScenarioError,
    read_regular_file,
    resolve_policies,
    scenario_hash,
    too_deep,
    uncertain_parameters,
    validate_dict,
)
from sim.params.schema import Scenario
from sim.runs import metrics

__all__ = ["check_same_scenario", "decision_json", "differences_between", "read_decision", "scenario_differences",
           "write_decision"]

DECISION_JSON = "decision.json"
PSA_CSV = "psa.csv"
# Run settings that do not change what a decision is about: ``decide`` runs its own count of
# replications per parameter set (and never records --replications in the scenario), while a
# report or deck runs as many as it likes to narrow the intervals of the same model.
IGNORED = frozenset({"run.replications"})


def decision_json(result: Any) -> dict[str, Any]:
    """decision.json: the decision summary plus the resolved scenario it was made on."""
    body = result.summary()
    body["scenario"] = {**result.scenario.model_dump(mode="json"), "uncertainty": result.scenario.uncertainty}
    body["evppi_method"] = {r.parameter: r.method for r in result.evppi.itertuples()}
    body["command"] = result.command
    body["scenario_edits"] = result.scenario.edits  # the --set changes (footers name an edited scenario)
    return json_safe(body)


def write_decision(result: Any, out_dir: Path, *, plots: bool = True, pdf: bool = False) -> Path:
    """decision.json, psa.csv (one row per sample x policy, with provenance columns) and plots/."""
    out_dir = Path(out_dir)
    with files.atomic_dir(out_dir) as tmp:
        (tmp / DECISION_JSON).write_text(json.dumps(decision_json(result), indent=2) + "\n")
        files.write_table(result.psa, files.provenance(result.seed, result.scenario_sha256), tmp / PSA_CSV)
        if plots:
            save_decision_plots(result, tmp / "plots", formats=WITH_PDF if pdf else FORMATS)
    return out_dir


# ---------------------------------------------------------------------------- reading back

MAX_JSON_BYTES = 32 * 2**20  # decision.json: the scenario (at most 1 MB as TOML) and a few small tables
MAX_PSA_BYTES = 2**30  # psa.csv: 100,000 samples of a few policies and a few dozen columns fit easily
MAX_JSON_DEPTH = 16  # decision.json nests 6 deep (scenario.policies.NAME.customers.segments[i])
# Figures recomputed from psa.csv must match decision.json to this share of the largest |value|
# (psa.csv keeps 10 significant digits; the regressions move by less on such rounding).
REL_TOL = 1e-6
HEX64 = re.compile(r"[0-9a-f]{64}")


def _bad(folder: Path, name: str, why: str) -> ScenarioError:
    return ScenarioError([f"{Path(folder) / name}: {why}"], "--decision", title="cannot read the decision")


def without_none(obj: Any) -> Any:
    """A JSON dump as TOML would hold it: no nulls (the loader fills the defaults back in)."""
    if isinstance(obj, dict):
        return {k: without_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [without_none(v) for v in obj]
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


Bad = Callable[[Path, str, str], ScenarioError]


def read_output_file(folder: Path, name: str, limit: int, bad: Bad, *, missing: str = "missing") -> bytes:
    """The bytes of ``folder/name``, a regular file of at most ``limit`` bytes that a verb wrote;
    ``bad(folder, name, why)`` makes the error that names the file (FIFOs, links out, oversize:
    :func:`sim.params.scenario.read_regular_file`)."""
    path = folder / name
    if not path.exists() and not path.is_symlink():
        raise bad(folder, name, missing)
    try:
        return read_regular_file(path, limit, str(path))
    except ScenarioError as exc:
        raise bad(folder, name, "; ".join(exc.problems)) from None


def read_output_table(folder: Path, name: str, limit: int, bad: Bad) -> pd.DataFrame:
    """:func:`read_output_file` of a CSV table, parsed (an unreadable one is ``bad``)."""
    raw = read_output_file(folder, name, limit, bad)
    try:
        return pd.read_csv(io.BytesIO(raw))
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise bad(folder, name, f"not a readable table ({str(exc)[:200]})") from None


def read_output_json(folder: Path, name: str, bad: Bad, *, missing: str, not_object: str = "") -> dict[str, Any]:
    """The JSON object in ``folder/name`` (strict: no NaN, at most :data:`MAX_JSON_DEPTH` deep, an
    object at the top; ``not_object`` prefixes the error when it is not one)."""
    raw = read_output_file(folder, name, MAX_JSON_BYTES, bad, missing=missing)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise bad(folder, name, f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise bad(folder, name, f"not readable JSON ({str(exc)[:200]})") from None
    deep = too_deep(body, MAX_JSON_DEPTH)
    if deep is not None:
        raise bad(folder, name, f"{deep}: nested more than {MAX_JSON_DEPTH} levels deep")
    if not isinstance(body, dict):
        raise bad(folder, name, f"{not_object}expected an object (got {type(body).__name__})")
    return body


def _read_json(folder: Path) -> dict[str, Any]:
    return read_output_json(folder, DECISION_JSON, _bad,
                            missing="missing (is this the --out folder of `supportsim decide`?)",
                            not_object="incomplete or inconsistent: ")


class _Schema:
    """Collects what is wrong with decision.json, field by field (name, bad value, what is allowed)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.problems: list[str] = []

    def bad(self, field: str, value: Any, allowed: str) -> None:
        shown = json.dumps(value)[:60] if not isinstance(value, str) or len(value) < 60 else repr(value[:57] + "...")
        self.problems.append(f"{field} = {shown}: {allowed}")

    def get(self, field: str, kind: type | tuple[type, ...], allowed: str, *, optional: bool = False) -> Any:
        if field not in self.body:
            if not optional:
                self.problems.append(f"{field}: missing")
            return None
        value = self.body[field]
        if value is None and optional:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple)
                                                                                   else (kind,))):
            self.bad(field, value, allowed)
            return None
        return value

    def integer(self, field: str, low: int, high: int) -> int | None:
        value = self.get(field, int, f"a whole number in [{low}, {high}]")
        if value is not None and not low <= value <= high:
            self.bad(field, value, f"a whole number in [{low}, {high}]")
            return None
        return value

    def number(self, field: str, value: Any, low: float = -math.inf, high: float = math.inf) -> float | None:
        allowed = "a finite number" + (f" in [{low:g}, {high:g}]" if math.isfinite(low) or math.isfinite(high) else "")
        try:
            ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                  and low <= value <= high)
        except OverflowError:  # an integer beyond the floating-point range
            ok = False
        if not ok:
            self.bad(field, value, allowed)
            return None
        return float(value)


def _schema(body: dict[str, Any], names: list[str], paths: list[str]) -> _Schema:
    """Check decision.json's fields against what ``decide`` writes for this scenario's policies
    ``names`` and uncertain parameters ``paths``."""
    sc = _Schema(body)
    sc.get("supportsim_version", str, "text")
    for field in ("scenario_sha256", "decision_sha256"):
        value = sc.get(field, str, "a SHA-256 (64 hexadecimal digits)")
        if value is not None and not HEX64.fullmatch(value):
            sc.bad(field, value, "a SHA-256 (64 hexadecimal digits)")
    sc.integer("seed", 0, 2**63 - 1)
    kpi = sc.get("kpi", str, f"one of {', '.join(metrics.KPIS)}")
    if kpi is not None and kpi not in metrics.KPIS:
        sc.bad("kpi", kpi, f"one of {', '.join(metrics.KPIS)}")
    sc.integer("samples", 2, MAX_SAMPLES)
    sc.integer("months", 1, 10_000)
    sc.integer("replications", 1, 10_000)
    design = sc.get("design", str, "'lhs' or 'sobol'")
    if design is not None and design not in ("lhs", "sobol"):
        sc.bad("design", design, "'lhs' or 'sobol'")
    rec = sc.get("recommended_policy", str, f"one of the scenario's policies ({', '.join(names)})")
    if rec is not None and rec not in names:
        sc.bad("recommended_policy", rec, f"one of the scenario's policies ({', '.join(names)})")
    pol = sc.get("policies", dict, "an object with one entry per policy")
    if pol is not None:
        if list(pol) != names:
            unknown = [p for p in pol if p not in names]
            sc.bad("policies", list(pol), f"the scenario's policies {names}" + (
                f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
        for p in [p for p in pol if p in names]:
            entry = pol[p]
            if not isinstance(entry, dict):
                sc.bad(f"policies.{p}", entry, "an object")
                continue
            for col, low, high in (("expected_value", -math.inf, math.inf), ("prob_best", 0.0, 1.0),
                                   ("prob_best_se", 0.0, 0.5), ("expected_loss", 0.0, math.inf)):
                sc.number(f"policies.{p}.{col}", entry.get(col), low, high)
    evpi = sc.number("evpi", body.get("evpi"), 0.0)
    sc.number("evpi_sample", body.get("evpi_sample"), 0.0)
    evppi = sc.get("evppi", dict, "an object with one entry per uncertain parameter")
    if evppi is not None:
        if sorted(evppi) != sorted(paths):
            sc.bad("evppi", sorted(evppi), f"the [uncertainty] table's parameters {sorted(paths)}")
        for path, value in evppi.items():
            sc.number(f"evppi.{path}", value, 0.0, evpi if evpi is not None else math.inf)
    se = sc.get("evppi_se", dict, "an object with one entry per uncertain parameter", optional=True) or {}
    for path, value in se.items():
        if path not in paths:
            sc.bad("evppi_se", path, f"one of the [uncertainty] table's parameters {sorted(paths)}")
        elif value is not None:
            sc.number(f"evppi_se.{path}", value, 0.0)
    groups = sc.get("evppi_groups", dict, "an object with one entry per group of assumptions", optional=True) or {}
    for name, value in groups.items():
        sc.number(f"evppi_groups.{name}", value, 0.0, evpi if evpi is not None else math.inf)
    methods = sc.get("evppi_method", dict, "an object", optional=True) or {}
    for path, value in methods.items():
        if not isinstance(value, str):
            sc.bad(f"evppi_method.{path}", value, "text")
    sc.get("answer", list, "a list of lines", optional=True)
    notes = sc.get("notes", list, "a list of lines", optional=True) or []
    if not all(isinstance(n, str) for n in notes):
        sc.bad("notes", notes, "a list of lines")
    sc.get("command", str, "text", optional=True)
    sobol = sc.get("sobol", dict, "an object or null", optional=True)
    if sobol is not None:
        indices = sobol.get("indices")
        if not isinstance(indices, dict) or sorted(indices) != sorted(paths):
            sc.bad("sobol.indices", indices if not isinstance(indices, dict) else sorted(indices),
                   f"one entry per uncertain parameter {sorted(paths)}")
        else:
            for path, idx in indices.items():
                if not isinstance(idx, dict) or set(idx) != {"S1", "S1_conf", "ST", "ST_conf"}:
                    sc.bad(f"sobol.indices.{path}", idx, "S1, S1_conf, ST and ST_conf")
                    continue
                for k, v in idx.items():
                    if v is not None:
                        sc.number(f"sobol.indices.{path}.{k}", v)
        for field in ("leader", "runner_up"):
            if sobol.get(field) not in names:
                sc.bad(f"sobol.{field}", sobol.get(field), f"one of the scenario's policies ({', '.join(names)})")
    return sc


def read_decision(folder: Path) -> DecisionResult:
    """The :class:`DecisionResult` that ``supportsim decide --out folder`` wrote, rebuilt from
    decision.json and psa.csv, and checked on the way, so that an edited or forged folder is refused
    (:class:`ScenarioError` naming the file and the field) rather than shown:

    - both files regular (a FIFO or device is refused without blocking) and of bounded size;
      decision.json strict JSON (no NaN or Infinity), nested at most :data:`MAX_JSON_DEPTH` deep;
    - every field of the schema ``decide`` writes, with finite numbers, probabilities in [0, 1],
      the scenario's own policies and uncertain parameters, EVPPI within [0, EVPI];
    - the scenario's and the decision's SHA-256 recomputed and compared;
    - psa.csv: one row per sample and policy, its provenance columns those of decision.json, the
      sampled values those the design draws from the seed;
    - every figure (expected values, probabilities of being best, expected losses, EVPI, EVPPI,
      the recommendation) recomputed from psa.csv as ``decide`` computes it, and compared.

    The decision map is recomputed from the samples, as ``decide`` computed it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _bad(folder, "", "no such folder (give the --out folder of `supportsim decide`)")
    body = _read_json(folder)
    try:
        scenario_body = body.get("scenario")
        if not isinstance(scenario_body, dict):
            raise _bad(folder, DECISION_JSON, "incomplete or inconsistent: scenario: missing or not an object")
        scenario = validate_dict(without_none(scenario_body), source=str(folder / DECISION_JSON))
        edits = body.get("scenario_edits") or []
        if isinstance(edits, list) and all(isinstance(e, str) for e in edits):
            scenario.record_edits(edits[:1000])  # as decide recorded them
        parameters = uncertain_parameters(scenario)
    except ScenarioError as exc:
        if exc.source == "--decision":
            raise
        raise _bad(folder, DECISION_JSON, "its scenario is not valid here: " + "; ".join(exc.problems)) from None
    names = [p.name for p in resolve_policies(scenario)]
    sc = _schema(body, names, list(parameters))
    if sc.problems:
        raise _bad(folder, DECISION_JSON, "incomplete or inconsistent: " + "; ".join(sc.problems[:10]))
    try:
        return _rebuild(folder, body, scenario, parameters, names)
    except ScenarioError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:  # a case the schema missed
        raise _bad(folder, DECISION_JSON, f"incomplete or inconsistent ({type(exc).__name__}: {str(exc)[:200]})") from None


def _read_psa(folder: Path, names: list[str], kpi: str, samples: int, stamp: dict[str, Any]) -> pd.DataFrame:
    psa = read_output_table(folder, PSA_CSV, MAX_PSA_BYTES, _bad)
    for col, want in stamp.items():  # the provenance columns: the run the file says it belongs to
        if col not in psa.columns or len(psa) == 0 or set(psa[col].astype(str)) != {str(want)}:
            raise _bad(folder, PSA_CSV, f"column {col} is not {want} throughout, as decision.json records")
    psa = psa.drop(columns=list(stamp))
    expected = pd.MultiIndex.from_product([range(samples), names])
    if not {"sample", "policy", kpi} <= set(psa.columns) or len(psa) != samples * len(names) \
            or not pd.api.types.is_integer_dtype(psa["sample"]) \
            or not pd.MultiIndex.from_arrays([psa["sample"], psa["policy"].astype(str)]).sort_values().equals(
                expected.sort_values()):
        raise _bad(folder, PSA_CSV, f"expected one row per sample and policy ({samples} x {len(names)}: samples 0 to "
                                    f"{samples - 1}, policies {', '.join(names)}) with columns sample, policy and {kpi}")
    psa["policy"] = psa["policy"].astype(str)
    if not np.isfinite(pd.to_numeric(psa[kpi], errors="coerce").to_numpy(dtype=float)).all():
        raise _bad(folder, PSA_CSV, f"column {kpi} must hold a finite number in every row")
    order = {p: i for i, p in enumerate(names)}
    return psa.sort_values(["sample", "policy"], key=lambda s: s.map(order) if s.name == "policy" else s,
                           kind="stable").reset_index(drop=True)


def _same(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= REL_TOL * scale


def _rebuild(folder: Path, body: dict[str, Any], scenario: Scenario, parameters: dict[str, Any],
             names: list[str]) -> DecisionResult:
    kpi, samples, replications = str(body["kpi"]), int(body["samples"]), int(body["replications"])
    design, seed = str(body["design"]), int(body["seed"])
    mismatch = []
    if body["scenario_sha256"] != scenario_hash(scenario):
        mismatch.append(f"scenario_sha256 is {body['scenario_sha256'][:12]}..., the scenario it holds hashes to "
                        f"{scenario_hash(scenario)[:12]}...")
    if seed != scenario.run.seed or int(body.get("months", scenario.run.months)) != scenario.run.months:
        mismatch.append(f"seed {seed} and months {body.get('months')} are not the scenario's "
                        f"({scenario.run.seed}, {scenario.run.months})")
    specs = body.get("uncertainty")
    if specs != {p: d.to_spec() for p, d in parameters.items()}:
        mismatch.append("uncertainty is not the scenario's [uncertainty] table")
    want = decision_hash(scenario, parameters, samples, replications, design, kpi)  # type: ignore[arg-type]
    if body["decision_sha256"] != want:
        mismatch.append(f"decision_sha256 is {body['decision_sha256'][:12]}..., its scenario, table, samples, "
                        f"replications, design and KPI hash to {want[:12]}...")
    if mismatch:
        raise _bad(folder, DECISION_JSON, "inconsistent: " + "; ".join(mismatch))
    stamp = files.provenance(seed, str(body["scenario_sha256"]))
    stamp["supportsim_version"] = body["supportsim_version"]
    psa = _read_psa(folder, names, kpi, samples, stamp)
    values = draw(parameters, design_points(samples, len(parameters), seed=seed, design=design))  # type: ignore[arg-type]
    first = psa.drop_duplicates("sample").reset_index(drop=True)
    for path in parameters:
        if path not in first.columns or not _same_values(first[path], values[path]):
            raise _bad(folder, PSA_CSV, f"column {path} does not hold the values the design draws from seed {seed} "
                                        f"({design}, {samples} samples)")
    nb = psa.pivot(index="sample", columns="policy", values=kpi)[names].to_numpy(dtype=float)
    x = numeric_inputs(parameters, values)
    found = analyse(nb, x, parameters, names)
    _check_figures(folder, body, found, nb)
    recommended = found.recommended
    policies = found.policies.copy()
    evpi = float(body["evpi"])
    methods = body.get("evppi_method") or {}
    se = body.get("evppi_se") or {}
    evppi = pd.DataFrame([{"parameter": p, "evppi_usd": float(v), "share_of_evpi": float(v) / evpi if evpi > 0
                           else float("nan"), "method": methods.get(p, ""), "distribution": str(parameters[p]),
                           "evppi_se": _number(se.get(p))}
                          for p, v in body["evppi"].items()], columns=EVPPI_COLUMNS)
    evppi = evppi.sort_values("evppi_usd", ascending=False, kind="stable").reset_index(drop=True)
    psa = psa.drop(columns=list(parameters)).merge(values.rename_axis("sample").reset_index(), on="sample")
    psa = psa[["sample", "policy", *parameters, *[c for c in psa.columns if c not in ("sample", "policy", *parameters)]]]
    decision_map = decision_map_table(nb, x, parameters, evppi, names)
    sobol, sobol_meta = _sobol_table(body.get("sobol"))
    return DecisionResult(
        scenario=scenario, scenario_sha256=str(body["scenario_sha256"]),
        decision_sha256=str(body["decision_sha256"]), seed=seed, kpi=kpi, samples=samples,
        replications=replications, design=design, parameters=parameters,
        policy_names=names, policies=policies, evppi=evppi, psa=psa, recommended=recommended, evpi=evpi,
        evppi_groups=found.evppi_groups,
        evpi_sample=float(body["evpi_sample"]), decision_map=decision_map, sobol=sobol, sobol_meta=sobol_meta,
        version=str(body["supportsim_version"]), command=body.get("command"), notes=list(body.get("notes") or []),
    )


def _same_values(read: pd.Series, drawn: pd.Series) -> bool:
    """psa.csv's column (as pandas read it) holds the drawn values (10 significant digits for numbers)."""
    if len(read) != len(drawn):
        return False
    numeric = pd.to_numeric(drawn, errors="coerce")
    if numeric.notna().all() and not pd.api.types.is_bool_dtype(drawn) and not any(isinstance(v, bool) for v in drawn):
        got = pd.to_numeric(read, errors="coerce").to_numpy(dtype=float)
        want = numeric.to_numpy(dtype=float)
        return bool(np.all(np.abs(got - want) <= 1e-9 * np.maximum(np.abs(want), 1e-300)))
    return [str(v).lower() for v in read] == [str(v).lower() for v in drawn]


def _check_figures(folder: Path, body: dict[str, Any], found: Any, nb: np.ndarray) -> None:
    """decision.json's figures against those recomputed from psa.csv (see :data:`REL_TOL`)."""
    scale = max(1.0, float(np.abs(nb).max()))
    pol = found.policies.set_index("policy")
    wrong = []
    for p, entry in body["policies"].items():
        for col in ("expected_value", "prob_best", "prob_best_se", "expected_loss"):
            got = float(pol.at[p, col])
            if not _same(float(entry[col]), got, scale if col in ("expected_value", "expected_loss") else 1.0):
                wrong.append(f"policies.{p}.{col} is {float(entry[col]):.6g}, psa.csv gives {got:.6g}")
    if body["recommended_policy"] != found.recommended:
        wrong.append(f"recommended_policy is {body['recommended_policy']}, psa.csv gives {found.recommended}")
    for field, got in (("evpi", found.evpi), ("evpi_sample", found.evpi_sample)):
        if not _same(float(body[field]), got, scale):
            wrong.append(f"{field} is {float(body[field]):.6g}, psa.csv gives {got:.6g}")
    recomputed = dict(zip(found.evppi["parameter"], found.evppi["evppi_usd"]))
    for path, value in body["evppi"].items():
        if not _same(float(value), float(recomputed[path]), scale):
            wrong.append(f"evppi.{path} is {float(value):.6g}, psa.csv gives {float(recomputed[path]):.6g}")
    regrouped = {} if found.evppi_groups is None else dict(zip(found.evppi_groups["group"],
                                                                 found.evppi_groups["evppi_usd"]))
    for name, value in (body.get("evppi_groups") or {}).items():
        if name not in regrouped or not _same(float(value), float(regrouped[name]), scale):
            wrong.append(f"evppi_groups.{name} is {value}, psa.csv gives {regrouped.get(name, 'no such group')}")
    spread = dict(zip(found.evppi["parameter"], found.evppi["evppi_se"]))
    for path, value in (body.get("evppi_se") or {}).items():
        got = float(spread[path])
        if (value is None) != (got != got) or (value is not None and not _same(float(value), got, scale)):
            wrong.append(f"evppi_se.{path} is {value}, psa.csv gives {got:.6g}")
    if wrong:
        raise _bad(folder, DECISION_JSON, "does not match psa.csv (edited?): " + "; ".join(wrong[:5])
                   + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""))


def _sobol_table(stored: dict[str, Any] | None) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    if not stored:
        return None, {}
    meta = {k: v for k, v in stored.items() if k != "indices"}
    table = pd.DataFrame([{"parameter": p, **{k: _number(v) for k, v in idx.items()}}
                          for p, idx in stored["indices"].items()],
                         columns=["parameter", "S1", "S1_conf", "ST", "ST_conf"])
    table.attrs = dict(meta)
    return table, meta


def _number(x: Any) -> float:
    return float("nan") if x is None else float(x)


# ---------------------------------------------------------------------------- same scenario?


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flat(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: obj}


def _comparable(scenario: Scenario, *, uncertainty: bool = True) -> dict[str, Any]:
    data = _flat({**scenario.model_dump(mode="json"), **({"uncertainty": scenario.uncertainty} if uncertainty else {})})
    return {k: v for k, v in data.items() if k not in IGNORED}


def scenario_differences(decision: DecisionResult, scenario: Scenario) -> list[str]:
    """Where ``scenario`` differs from the one ``decision`` was made on, as "path (decision X,
    run Y)" lines; empty when they are the same. Compared: the resolved scenario (every
    parameter, policies and their labels, months, seed) and the ``[uncertainty]`` table; not
    ``run.replications`` (see :data:`IGNORED`)."""
    return differences_between(decision.scenario, scenario, a_is="decision", b_is="run")


def differences_between(first: Scenario, second: Scenario, *, a_is: str, b_is: str,
                        uncertainty: bool = True) -> list[str]:
    """Where two scenarios differ (every parameter, the policies and their labels, months, seed,
    and with ``uncertainty`` the ``[uncertainty]`` table; not ``run.replications``), as "path (A
    x, B y)" lines, A and B named ``a_is`` and ``b_is``; empty when they are the same."""
    a, b = _comparable(first, uncertainty=uncertainty), _comparable(second, uncertainty=uncertainty)
    out = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, "(not set)"), b.get(path, "(not set)")
        same = va == vb or (isinstance(va, float) and isinstance(vb, float) and math.isclose(va, vb, rel_tol=1e-12))
        if not same:
            out.append(f"{path} ({a_is} {json.dumps(va)}, {b_is} {json.dumps(vb)})")
    return out


def check_same_scenario(decision: DecisionResult, scenario: Scenario, *, folder: Path | str = "--decision") -> None:
    """Refuse (:class:`ScenarioError`) a decision made on another scenario than ``scenario``,
    naming both (name, sha256, seed) and the first parameters that differ."""
    diffs = scenario_differences(decision, scenario)
    if not diffs:
        return
    shown = ", ".join(diffs[:5]) + (f" and {len(diffs) - 5} more" if len(diffs) > 5 else "")
    raise ScenarioError([
        f"the decision in {folder} was made on scenario '{decision.scenario.scenario.name}' (sha256 "
        f"{decision.scenario_sha256[:12]}, seed {decision.seed}); this run is scenario "
        f"'{scenario.scenario.name}' (sha256 {scenario_hash(scenario)[:12]}, seed {scenario.run.seed})",
        f"they differ in: {shown}",
        "run `supportsim decide` on the same file with the same --set and --seed options (--replications may "
        "differ), or leave out --decision",
    ], "--decision", title="the decision does not belong to this scenario")
