"""An optimisation read back: what ``supportsim optimise --out DIR`` wrote, checked, for the deck.

Where it sits: an ``optimise`` folder (optimum.json, trials.csv) or an
:class:`sim.runs.optimise.OptimiseResult` (the app) -> **optimise_read** (:class:`Optimum`) ->
"The best design" slide (:mod:`sim.output.optimise_slide`). :func:`read_optimum` refuses an
edited, truncated or foreign folder with a :class:`ScenarioError` naming the file and the field
(the CLI exits 2); :func:`check_optimum_scenario` refuses an optimisation made on another
scenario than the deck's (the same comparison as ``--decision``: every parameter, policy,
month and the seed; not ``run.replications``, which ``optimise`` runs per trial).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from sim.output.decision_files import read_output_json, read_output_table, scenario_differences, without_none
from sim.output.optimise_files import optimum_json
from sim.params.scenario import (
    ScenarioError,
    resolve_policies,
    scenario_hash,
    validate_dict,
)
from sim.params.schema import Scenario
from sim.runs import metrics

__all__ = ["OPTIMUM_JSON", "TRIALS_CSV", "Optimum", "check_optimum_scenario", "optimum_of", "read_optimum"]

OPTIMUM_JSON = "optimum.json"
TRIALS_CSV = "trials.csv"
MAX_TRIALS_BYTES = 64 * 2**20  # trials.csv: 10,000 trials of a few hundred bytes each, with room
HEX64 = re.compile(r"[0-9a-f]{64}")
SCALAR = (str, int, float, bool)


@dataclass(frozen=True)
class Optimum:
    """What the slide shows: ``body`` (optimum.json's content), ``trials`` (trials.csv, for the
    convergence figure) and the ``scenario`` the optimisation was made on."""

    body: dict[str, Any]
    trials: pd.DataFrame
    scenario: Scenario

    @property
    def kpi(self) -> str:
        return str(self.body["kpis"][0])

    @property
    def policy(self) -> str:
        return str(self.body["policy"])


def optimum_of(result: Any) -> Optimum:
    """The :class:`Optimum` of an :class:`~sim.runs.optimise.OptimiseResult` (the app's): the
    same content as the folder ``supportsim optimise --out`` writes for it."""
    return Optimum(optimum_json(result), result.trials, result.scenario)


# ---------------------------------------------------------------- reading


def _bad(folder: Path, name: str, why: str) -> ScenarioError:
    return ScenarioError([f"{Path(folder) / name}: {why}"], "--optimum", title="cannot read the optimisation")


def _read_json(folder: Path) -> dict[str, Any]:
    return read_output_json(folder, OPTIMUM_JSON, _bad,
                            missing="missing (is this the --out folder of `supportsim optimise`?)")


def _finite(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x)


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(body: dict[str, Any], policies: list[str]) -> list[str]:
    """What is wrong with optimum.json's fields, each as "field = value: what is allowed"."""
    out: list[str] = []

    def need(field: str, ok: bool, allowed: str) -> None:
        if field not in body:
            out.append(f"{field}: missing")
        elif not ok:
            out.append(f"{field} = {_shown(body[field])}: {allowed}")

    g = body.get
    need("scenario_sha256", isinstance(g("scenario_sha256"), str) and bool(HEX64.fullmatch(g("scenario_sha256"))),
         "64 hexadecimal digits")
    need("policy", g("policy") in policies, f"one of the scenario's policies ({', '.join(policies)})")
    kpis = g("kpis")
    need("kpis", isinstance(kpis, list) and 1 <= len(kpis) <= 2 and all(k in metrics.KPIS for k in kpis),
         "one or two KPI names")
    for field in ("trials", "replications_per_trial", "seed"):
        need(field, isinstance(g(field), int) and not isinstance(g(field), bool) and g(field) >= 0,
             "a whole number >= 0")
    need("command", g("command") is None or isinstance(g("command"), str), "text or null")
    need("constraints", isinstance(g("constraints"), list) and all(isinstance(c, str) for c in g("constraints")),
         "a list of text")
    need("constraints_met", isinstance(g("constraints_met"), dict)
         and all(isinstance(v, bool) for v in g("constraints_met").values()), "an object of true/false")
    chosen, current = g("chosen"), g("current_design")
    need("chosen", chosen is None or (isinstance(chosen, dict) and chosen
                                      and all(isinstance(v, SCALAR) for v in chosen.values())),
         "null or an object of parameter values")
    need("current_design", isinstance(current, dict) and all(v is None or isinstance(v, SCALAR)
                                                             for v in current.values())
         and (not isinstance(chosen, dict) or set(current) == set(chosen)),
         "an object with the chosen design's parameters")
    gu = g("guarantee")
    ok = isinstance(gu, dict)
    for key, check, allowed in (
            ("confidence", lambda v: _finite(v) and 0 < v < 1, "a number in (0, 1)"),
            ("delta", lambda v: _finite(v) and v > 0, "a positive number"),
            ("kpi", lambda v: isinstance(kpis, list) and kpis and v == kpis[0], "the first of kpis"),
            ("candidates", lambda v: isinstance(v, int) and v >= 1, "a whole number >= 1"),
            ("feasible_candidates", lambda v: isinstance(v, int) and 0 <= v <= gu.get("candidates", 0),
             "a whole number from 0 to candidates"),
            ("first_stage", lambda v: isinstance(v, int) and v >= 2, "a whole number >= 2"),
            ("max_fresh", lambda v: isinstance(v, int) and v >= 2, "a whole number >= 2"),
            ("truncated", lambda v: isinstance(v, bool), "true or false"),
            ("holds", lambda v: isinstance(v, bool), "true or false"),
            ("statement", lambda v: isinstance(v, str) and v, "text")):
        if not ok:
            break
        if key not in gu:
            out.append(f"guarantee.{key}: missing")
        elif not check(gu[key]):
            out.append(f"guarantee.{key} = {_shown(gu[key])}: {allowed}")
    if not ok:
        need("guarantee", False, "an object")
    fresh = g("fresh_replications")
    need("fresh_replications", isinstance(fresh, dict) and isinstance(fresh.get("observations"), int)
         and fresh["observations"] >= 1, "an object with observations >= 1")
    if isinstance(chosen, dict) and isinstance(kpis, list) and kpis and all(k in metrics.KPIS for k in kpis):
        for field in ("estimates_fresh", "difference_vs_current"):
            est = g(field)
            for k in kpis:
                e = est.get(k) if isinstance(est, dict) else None
                if not (isinstance(e, dict) and all(_finite(e.get(x)) for x in ("mean", "ci_low", "ci_high"))
                        and e["ci_low"] <= e["mean"] <= e["ci_high"]):
                    out.append(f"{field}.{k} = {_shown(e)}: mean, ci_low and ci_high, finite and in order")
    return out


def _read_trials(folder: Path, body: dict[str, Any]) -> pd.DataFrame:
    t = read_output_table(folder, TRIALS_CSV, MAX_TRIALS_BYTES, _bad)
    kpi = body["kpis"][0]
    need = ["trial", "state", "feasible", "best_so_far", kpi, "scenario_sha256", "seed"]
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise _bad(folder, TRIALS_CSV, f"missing column(s) {', '.join(missing)}")
    if len(t) != body["trials"] or list(t["trial"]) != list(range(len(t))):
        raise _bad(folder, TRIALS_CSV, f"expected {body['trials']} rows, trials 0 to {body['trials'] - 1} in "
                                       "order, as optimum.json records")
    for col in ("scenario_sha256", "seed"):
        if set(t[col].astype(str)) != {str(body[col])}:
            raise _bad(folder, TRIALS_CSV, f"column {col} is not {body[col]} throughout, as optimum.json records")
    if t["feasible"].dtype != bool or not set(t["state"].astype(str)) <= {"complete", "invalid", "failed"}:
        raise _bad(folder, TRIALS_CSV, "column feasible must be True/False and state complete, invalid or failed")
    for col in (kpi, "best_so_far"):
        x = pd.to_numeric(t[col], errors="coerce").to_numpy(dtype=float)
        if np.isinf(x).any() or (np.isnan(x[(t["state"] == "complete").to_numpy()]).any() and col == kpi):
            raise _bad(folder, TRIALS_CSV, f"column {col} must hold a finite number for every complete trial")
        t[col] = x
    return t


def read_optimum(folder: Path) -> Optimum:
    """The optimisation ``supportsim optimise --out folder`` wrote, checked (module docstring):
    both files regular and bounded, optimum.json strict JSON with every field the slide uses of
    the right type and range, its scenario valid and hashing to its ``scenario_sha256``, its
    policy one of that scenario's, trials.csv one row per trial stamped with the same hash and
    seed. Anything else is a :class:`ScenarioError` naming the file and the field."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _bad(folder, "", "no such folder (give the --out folder of `supportsim optimise`)")
    body = _read_json(folder)
    sc_body = body.get("scenario")
    if not isinstance(sc_body, dict):
        raise _bad(folder, OPTIMUM_JSON, "scenario: missing or not an object")
    try:
        scenario = validate_dict(without_none(sc_body), source=str(folder / OPTIMUM_JSON))
    except ScenarioError as exc:
        raise _bad(folder, OPTIMUM_JSON, "its scenario is not valid here: " + "; ".join(exc.problems[:5])) from None
    problems = _problems(body, [p.name for p in resolve_policies(scenario)])
    if problems:
        raise _bad(folder, OPTIMUM_JSON, "incomplete or inconsistent: " + "; ".join(problems[:8]))
    if scenario_hash(scenario) != body["scenario_sha256"]:
        raise _bad(folder, OPTIMUM_JSON, f"scenario_sha256 = {body['scenario_sha256'][:12]}… is not the hash of the "
                                         f"scenario it holds ({scenario_hash(scenario)[:12]}…): edited or damaged")
    if scenario.run.seed != body["seed"]:
        raise _bad(folder, OPTIMUM_JSON, f"seed = {body['seed']}: its scenario's run.seed is {scenario.run.seed}")
    return Optimum(body, _read_trials(folder, body), scenario)


def _without_replications(scenario: Scenario) -> str:
    return scenario_hash(scenario.model_copy(update={"run": scenario.run.model_copy(update={"replications": 1})}))


def check_optimum_scenario(optimum: Optimum, scenario: Scenario, *, folder: Path | str = "--optimum") -> None:
    """Refuse (:class:`ScenarioError`) an optimisation made on another scenario than ``scenario``
    (compared by hash, ``run.replications`` aside), naming both and the first fields that differ."""
    if _without_replications(optimum.scenario) == _without_replications(scenario):
        return
    diffs = scenario_differences(SimpleNamespace(scenario=optimum.scenario), scenario)
    shown = ", ".join(d.replace("(decision ", "(optimisation ") for d in diffs[:5]) + (
        f" and {len(diffs) - 5} more" if len(diffs) > 5 else "")
    raise ScenarioError([
        f"the optimisation in {folder} was made on scenario '{optimum.scenario.scenario.name}' (sha256 "
        f"{optimum.body['scenario_sha256'][:12]}, seed {optimum.body['seed']}); this deck is of scenario "
        f"'{scenario.scenario.name}' (sha256 {scenario_hash(scenario)[:12]}, seed {scenario.run.seed})",
        *([f"they differ in: {shown}"] if diffs else []),
        "run `supportsim optimise` on the same file with the same --set and --seed options, or leave out --optimum",
    ], "--optimum", title="the optimisation does not belong to this scenario")
