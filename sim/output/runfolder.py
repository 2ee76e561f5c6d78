"""A run's folder read back: ``supportsim run --out DIR`` -> **runfolder** -> the report and the deck
(``supportsim report|deck --from DIR``), without simulating the scenario again.

Where it sits: output, beside ``files`` (which writes the folder: monthly.csv, kpis.csv,
segments.csv, summary.json). Checked on the way in: summary.json complete and not partial, its
scenario valid here and hashing to its ``scenario_sha256``, every table stamped with that hash
and seed, every policy with the run's replications; and the folder's scenario is the one the
command names (:func:`check_same_run`). Anything else is a :class:`ScenarioError` naming the
folder and the file (exit 2). Never writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sim.output.decision_files import differences_between
from sim.params.scenario import ScenarioError, scenario_hash, validate_dict
from sim.params.schema import Scenario
from sim.runs.results import Results

SUMMARY_JSON, KPIS_CSV, MONTHLY_CSV, SEGMENTS_CSV = "summary.json", "kpis.csv", "monthly.csv", "segments.csv"
MAX_SUMMARY_BYTES = 64 * 2**20
PROVENANCE = ("seed", "scenario_sha256", "supportsim_version")


def _bad(folder: Path, name: str, why: str) -> ScenarioError:
    return ScenarioError([f"{folder / name if name else folder}: {why}"], "--from")


def _summary(folder: Path) -> dict[str, Any]:
    path = folder / SUMMARY_JSON
    try:
        if path.stat().st_size > MAX_SUMMARY_BYTES:
            raise _bad(folder, SUMMARY_JSON, "too large to be a run's summary")
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(folder, SUMMARY_JSON, "missing (give the --out folder of `supportsim run`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(folder, SUMMARY_JSON, f"cannot be read ({type(exc).__name__})") from None
    need = {"scenario": dict, "scenario_sha256": str, "seed": int, "replications": int, "policies": list,
            "reference_policy": str}
    wrong = [k for k, kind in need.items() if not isinstance(body.get(k) if isinstance(body, dict) else None, kind)]
    if wrong:
        raise _bad(folder, SUMMARY_JSON, f"incomplete: {', '.join(wrong)} missing or of the wrong type")
    if body.get("partial"):
        raise _bad(folder, SUMMARY_JSON, "a partial run (interrupted): run it to the end, or without --from")
    return body


def _table(folder: Path, name: str, body: dict[str, Any], *, required: bool = True) -> pd.DataFrame | None:
    path = folder / name
    if not path.is_file():
        if required:
            raise _bad(folder, name, "missing (give the --out folder of `supportsim run`)")
        return None
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise _bad(folder, name, f"cannot be read ({type(exc).__name__})") from None
    for col, want in (("scenario_sha256", body["scenario_sha256"]), ("seed", body["seed"])):
        if col not in df.columns or not (df[col].astype(str) == str(want)).all():
            raise _bad(folder, name, f"its {col} column is not summary.json's ({str(want)[:12]}): files of "
                                     "different runs")
    if "policy" not in df.columns or not set(df["policy"].astype(str)) <= set(body["policies"]):
        raise _bad(folder, name, "its policy column does not name the run's policies")
    return df.drop(columns=[c for c in PROVENANCE if c in df.columns]).assign(policy=lambda d: d["policy"].astype(str))


def read_run(folder: Path | str) -> Results:
    """The :class:`Results` of the run in ``folder`` (what ``supportsim run --out folder`` wrote),
    checked as the module docstring says."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _bad(folder, "", "no such folder (give the --out folder of `supportsim run`)")
    body = _summary(folder)
    try:
        scenario = validate_dict(body["scenario"], source=str(folder / SUMMARY_JSON))
    except ScenarioError as exc:
        raise _bad(folder, SUMMARY_JSON, "its scenario is not valid here: " + "; ".join(exc.problems[:5])) from None
    if scenario_hash(scenario) != body["scenario_sha256"]:
        raise _bad(folder, SUMMARY_JSON, f"scenario_sha256 is {body['scenario_sha256'][:12]}..., its scenario "
                                         f"hashes to {scenario_hash(scenario)[:12]}...: edited after the run")
    kpis = _table(folder, KPIS_CSV, body)
    monthly = _table(folder, MONTHLY_CSV, body)
    segments = _table(folder, SEGMENTS_CSV, body, required=False)
    policies = [str(p) for p in body["policies"]]
    reps = int(body["replications"])
    counts = kpis["policy"].value_counts()
    short = [p for p in policies if counts.get(p, 0) < reps]
    if short:
        raise _bad(folder, KPIS_CSV, f"fewer than the run's {reps} replications for {', '.join(short)}")
    return Results(scenario=scenario, scenario_sha256=body["scenario_sha256"], seed=int(body["seed"]),
                   replications=reps, policies=policies, reference=str(body["reference_policy"]),
                   monthly=monthly, kpis=kpis, segments=segments)


def check_same_run(res: Results, scenario: Scenario, *, folder: Path | str) -> Results:
    """``res`` (read from ``folder``) as the run of ``scenario`` (the file, ``--set`` and ``--seed``
    the command names; ``run.replications`` may differ, the folder's count is used), or a
    :class:`ScenarioError` naming both hashes and the first settings that differ."""
    # a run does not read the [uncertainty] table (summary.json does not keep it; a decision does)
    diffs = differences_between(res.scenario, scenario, a_is="folder", b_is="command", uncertainty=False)
    if diffs:
        shown = ", ".join(diffs[:5]) + (f" and {len(diffs) - 5} more" if len(diffs) > 5 else "")
        raise ScenarioError([
            f"the run in {folder} is of scenario '{res.scenario.scenario.name}' (sha256 {res.scenario_sha256[:12]}, "
            f"seed {res.seed}); the command names scenario '{scenario.scenario.name}' (sha256 "
            f"{scenario_hash(scenario)[:12]}, seed {scenario.run.seed}); they differ in {shown}"], "--from")
    # the command's scenario object (it knows its --set edits, for the footers), at the folder's replications
    same = scenario.model_copy(update={"run": scenario.run.model_copy(update={"replications": res.replications})})
    if scenario_hash(same) != res.scenario_sha256:  # what the comparison above cannot see
        raise ScenarioError([f"the run in {folder} has scenario sha256 {res.scenario_sha256[:12]}; the command's "
                             f"scenario at {res.replications} replications hashes to {scenario_hash(same)[:12]}"],
                            "--from")
    same.record_edits(scenario.edits)
    return Results(scenario=same, scenario_sha256=res.scenario_sha256, seed=res.seed, replications=res.replications,
                   policies=res.policies, reference=res.reference, monthly=res.monthly, kpis=res.kpis,
                   segments=res.segments)
