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

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from sim.decision.psa import DecisionResult, decision_map_table, numeric_inputs
from sim.output import files
from sim.output.decision_plots import save_decision_plots
from sim.params.scenario import ScenarioError, scenario_hash, uncertain_parameters, validate_dict
from sim.params.schema import Scenario

__all__ = ["check_same_scenario", "decision_json", "read_decision", "scenario_differences", "write_decision"]

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
    return files.json_safe(body)


def write_decision(result: Any, out_dir: Path, *, plots: bool = True) -> Path:
    """decision.json, psa.csv (one row per sample x policy, with provenance columns) and plots/."""
    out_dir = Path(out_dir)
    with files.atomic_dir(out_dir) as tmp:
        (tmp / DECISION_JSON).write_text(json.dumps(decision_json(result), indent=2) + "\n")
        files.write_table(result.psa, files.provenance(result.seed, result.scenario_sha256), tmp / PSA_CSV)
        if plots:
            save_decision_plots(result, tmp / "plots")
    return out_dir


# ---------------------------------------------------------------------------- reading back


def _bad(folder: Path, name: str, why: str) -> ScenarioError:
    return ScenarioError([f"{Path(folder) / name}: {why}"], "--decision", title="cannot read the decision")


def _without_none(obj: Any) -> Any:
    """A JSON dump as TOML would hold it: no nulls (the loader fills the defaults back in)."""
    if isinstance(obj, dict):
        return {k: _without_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_without_none(v) for v in obj]
    return obj


def _number(x: Any) -> float:
    return float("nan") if x is None else float(x)


def read_decision(folder: Path) -> DecisionResult:
    """The :class:`DecisionResult` that ``supportsim decide --out folder`` wrote, rebuilt from
    decision.json (the scenario, the policy and EVPPI tables, the EVPI, Sobol indices) and
    psa.csv (the samples); the decision map is recomputed from the samples. A missing, unreadable
    or inconsistent file is a :class:`ScenarioError` naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _bad(folder, "", "no such folder (give the --out folder of `supportsim decide`)")
    try:
        body = json.loads((folder / DECISION_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(folder, DECISION_JSON, "missing (is this the --out folder of `supportsim decide`?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(folder, DECISION_JSON, f"not readable JSON ({exc})") from None
    try:
        return _rebuild(folder, body)
    except ScenarioError as exc:
        raise _bad(folder, DECISION_JSON, "its scenario is not valid here: " + "; ".join(exc.problems)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _bad(folder, DECISION_JSON, f"incomplete or inconsistent ({type(exc).__name__}: {exc})") from None


def _read_psa(folder: Path, names: list[str], kpi: str, samples: int) -> pd.DataFrame:
    try:
        psa = pd.read_csv(folder / PSA_CSV)
    except FileNotFoundError:
        raise _bad(folder, PSA_CSV, "missing") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _bad(folder, PSA_CSV, f"not a readable table ({exc})") from None
    psa = psa.drop(columns=[c for c in files.provenance(0, "") if c in psa.columns])
    if not {"sample", "policy", kpi} <= set(psa.columns) or len(psa) != samples * len(names) \
            or set(psa["policy"].astype(str)) != set(names):
        raise _bad(folder, PSA_CSV, f"expected one row per sample and policy ({samples} x {len(names)}) with "
                                    f"columns sample, policy and {kpi}")
    psa["policy"] = psa["policy"].astype(str)
    return psa


def _rebuild(folder: Path, body: dict[str, Any]) -> DecisionResult:
    scenario = validate_dict(_without_none(body["scenario"]), source=str(folder / DECISION_JSON))
    parameters = uncertain_parameters(scenario)
    names = list(body["policies"])
    kpi, samples = str(body["kpi"]), int(body["samples"])
    psa = _read_psa(folder, names, kpi, samples)
    pol = body["policies"]
    recommended = str(body["recommended_policy"])
    policies = pd.DataFrame({
        "policy": names,
        **{col: [_number(pol[p][col]) for p in names]
           for col in ("expected_value", "prob_best", "prob_best_se", "expected_loss")},
    })
    policies["recommended"] = policies["policy"] == recommended
    evpi = _number(body["evpi"])
    methods = body.get("evppi_method") or {}
    evppi = pd.DataFrame([{"parameter": p, "evppi_usd": _number(v),
                           "share_of_evpi": _number(v) / evpi if evpi > 0 else float("nan"),
                           "method": methods.get(p, ""), "distribution": str(parameters[p])}
                          for p, v in body["evppi"].items()],
                         columns=["parameter", "evppi_usd", "share_of_evpi", "method", "distribution"])
    evppi = evppi.sort_values("evppi_usd", ascending=False, kind="stable").reset_index(drop=True)
    nb = psa.pivot(index="sample", columns="policy", values=kpi)[names].to_numpy(dtype=float)
    values = psa.drop_duplicates("sample").sort_values("sample")[list(parameters)].reset_index(drop=True)
    decision_map = decision_map_table(nb, numeric_inputs(parameters, values), parameters, evppi, names)
    sobol, sobol_meta = _sobol_table(body.get("sobol"))
    return DecisionResult(
        scenario=scenario, scenario_sha256=str(body["scenario_sha256"]),
        decision_sha256=str(body["decision_sha256"]), seed=int(body["seed"]), kpi=kpi, samples=samples,
        replications=int(body["replications"]), design=str(body["design"]), parameters=parameters,
        policy_names=names, policies=policies, evppi=evppi, psa=psa, recommended=recommended, evpi=evpi,
        evpi_sample=_number(body["evpi_sample"]), decision_map=decision_map, sobol=sobol, sobol_meta=sobol_meta,
        version=str(body["supportsim_version"]), command=body.get("command"),
    )


def _sobol_table(stored: dict[str, Any] | None) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    if not stored:
        return None, {}
    meta = {k: v for k, v in stored.items() if k != "indices"}
    table = pd.DataFrame([{"parameter": p, **{k: _number(v) for k, v in idx.items()}}
                          for p, idx in stored["indices"].items()],
                         columns=["parameter", "S1", "S1_conf", "ST", "ST_conf"])
    table.attrs = dict(meta)
    return table, meta


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


def _comparable(scenario: Scenario) -> dict[str, Any]:
    data = _flat({**scenario.model_dump(mode="json"), "uncertainty": scenario.uncertainty})
    return {k: v for k, v in data.items() if k not in IGNORED}


def scenario_differences(decision: DecisionResult, scenario: Scenario) -> list[str]:
    """Where ``scenario`` differs from the one ``decision`` was made on, as "path (decision X,
    run Y)" lines; empty when they are the same. Compared: the resolved scenario (every
    parameter, policies and their labels, months, seed) and the ``[uncertainty]`` table; not
    ``run.replications`` (see :data:`IGNORED`)."""
    a, b = _comparable(decision.scenario), _comparable(scenario)
    out = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, "(not set)"), b.get(path, "(not set)")
        same = va == vb or (isinstance(va, float) and isinstance(vb, float) and math.isclose(va, vb, rel_tol=1e-12))
        if not same:
            out.append(f"{path} (decision {json.dumps(va)}, run {json.dumps(vb)})")
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
