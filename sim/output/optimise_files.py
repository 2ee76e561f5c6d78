"""An optimisation on disk, and in words: optimum.json, trials.csv, optimum.toml, plots/.

Where it sits: :class:`sim.runs.optimise.OptimiseResult` -> **optimise_files** -> users (and
the CLI, which prints :func:`answer`). Everything is written into a temporary folder and
swapped in whole (:func:`sim.output.files.atomic_dir`), so an interrupted or failed write
leaves the previous output or none.

- ``optimum.json``: the chosen design, its KPI means and 95% intervals on fresh replications,
  the constraints met, the guarantee in words and numbers, the command, scenario hash, seed
  and version;
- ``trials.csv``: one row per trial (parameters, search means of every KPI, feasible);
- ``candidates.csv``: the designs re-run on fresh replications and what the selection did;
- ``pareto.csv`` (two KPIs): the feasible designs no other beats on both;
- ``worlds.csv`` (robust): the parameter sets the objective averaged over;
- ``optimum.toml``: the scenario with the chosen design added as policy ``NAME_optimised``
  (``supportsim run optimum.toml`` reproduces it);
- ``plots/``: convergence, response per parameter, Pareto (:mod:`sim.output.optimise_plots`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.base.atomic import json_safe
from sim.output import files, fmt
from sim.output.optimise_plots import save_optimise_plots
from sim.params.scenario import to_toml
from sim.runs import metrics

__all__ = ["answer", "guarantee_text", "optimum_json", "optimum_toml", "write_optimise"]


def _n(x: int, what: str) -> str:
    return f"{x} {what}{'' if x == 1 else 's'}"


def guarantee_text(result: Any) -> str:
    """What the selection guarantees, in one paragraph (or why it does not)."""
    g = result.guarantee
    kpi = g["kpi"]
    k, feasible = g["candidates"], g["feasible_candidates"]
    who = (f"these {feasible} candidates" + (f" ({k - feasible} of {k} broke a constraint on the first "
                                               f"{g['first_stage']} fresh replications)" if feasible < k else "")
           + ": the best designs of the search and the file's own")
    delta = fmt.kpi(kpi, g["delta"])
    if result.chosen is None:
        return (f"No design is chosen: none of the {k} candidates met the constraints on fresh replications "
                "(loosen a constraint, widen a range or run more trials).")
    if feasible == 1:
        return (f"Only one of the {k} candidates met the constraints on the first {g['first_stage']} fresh "
                "replications; it is chosen without a comparison, so no selection guarantee applies.")
    if g["truncated"]:
        return (f"The selection reached its cap of {g['max_fresh']} fresh replications before one candidate was "
                f"left; the highest fresh mean was taken and the 95% guarantee does not hold (raise --max-fresh or "
                f"--delta, now {delta}).")
    return (f"With probability at least {g['confidence']:.0%}, the chosen design's expected "
            f"{metrics.KPIS[kpi].label.lower()} is within {delta} of the best of {who} (Kim & Nelson's fully "
            f"sequential selection on fresh replications, paired by common random numbers; δ = {delta}, "
            f"{g['delta_source']}). The search space beyond these candidates carries no such guarantee.")


def answer(result: Any) -> list[str]:
    """The result in a few lines: the design, its KPI on fresh replications, the guarantee."""
    lines = []
    if result.chosen is None:
        return [guarantee_text(result)]
    design = ", ".join(f"{p} = {fmt.param(v)}" for p, v in result.chosen.items())
    lines.append(f"Chosen for policy {result.policy} ({result.chosen_label}): {design}.")
    n = result.fresh["observations"]
    for kpi in result.kpis:
        e, d = result.estimates[kpi], result.vs_current[kpi]
        lines.append(f"{metrics.KPIS[kpi].label}: {fmt.kpi(kpi, e['mean'])} (95% CI {fmt.interval(kpi, e)}) on "
                     f"{_n(n, 'fresh replication')}; {fmt.kpi(kpi, d['mean'], signed=True)} "
                     f"(95% CI {fmt.interval(kpi, d, signed=True)}) vs the file's own design, paired.")
    for c in result.constraints:
        e = result.estimates[c.kpi]
        met = "met" if result.constraints_met.get(c.describe()) else "NOT met"
        lines.append(f"Constraint {c.kpi} {c.op} {fmt.kpi(c.kpi, c.threshold)}: {fmt.kpi(c.kpi, e['mean'])} "
                     f"(95% CI {fmt.interval(c.kpi, e)}), {met} on the fresh replications' mean.")
    if result.robust:
        r = result.robust
        lines.append(f"Robust: better than the file's own design in {r['worlds_better']} of {r['worlds']} worlds "
                     f"({r['share_of_worlds_better_than_current']:.0%}) of the [uncertainty] table, "
                     f"{_n(r['observations_per_world'], 'fresh replication')} in each.")
    lines.append(guarantee_text(result))
    return lines


def optimum_json(result: Any) -> dict[str, Any]:
    """optimum.json: :meth:`OptimiseResult.summary` with the text and the resolved scenario."""
    body = result.summary()
    body["guarantee"] = {**body["guarantee"], "statement": guarantee_text(result)}
    body["answer"] = answer(result)
    body["candidates"] = _records(result.candidates)
    body["pareto"] = _records(result.pareto) if result.pareto is not None else None
    body["scenario"] = {**result.scenario.model_dump(mode="json"), "uncertainty": result.scenario.uncertainty}
    return json_safe(body)


def _records(df: Any) -> list[dict[str, Any]]:
    out = []
    for row in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                        v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return out


def optimum_toml(result: Any) -> str:
    """The scenario with the optimised policy added, as TOML, with a header saying where it came from."""
    name = result.optimised_name()
    head = [f"# Written by supportsim {result.version} optimise: the scenario '{result.scenario.scenario.name}' "
            f"(sha256 {result.scenario_sha256[:12]})",
            f"# with policy {name!r} added, the design chosen for {result.policy!r}:"]
    head += [f"#   {p} = {fmt.param(v)}" for p, v in result.chosen.items()]
    if result.command:
        head.append(f"# {result.command}")
    head.append(f"# supportsim run <this file> --out DIR reproduces it (policy {name}).")
    return "\n".join(head) + "\n\n" + to_toml(result.optimised_scenario())


def write_optimise(result: Any, out_dir: Path, *, force: bool = False, plots: bool = True) -> Path:
    """Every output of an optimisation into ``out_dir``, atomically (module docstring)."""
    out_dir = Path(out_dir)
    stamp = files.provenance(result.seed, result.scenario_sha256)
    toml = optimum_toml(result) if result.chosen is not None else None  # built (and checked) before writing
    with files.atomic_dir(out_dir, force=force) as tmp:
        (tmp / "optimum.json").write_text(json.dumps(optimum_json(result), indent=2) + "\n")
        files.write_table(result.trials, stamp, tmp / "trials.csv")
        files.write_table(result.candidates, stamp, tmp / "candidates.csv")
        if result.pareto is not None:
            files.write_table(result.pareto, stamp, tmp / "pareto.csv")
        if result.worlds is not None:
            files.write_table(result.worlds.rename_axis("world").reset_index(), stamp, tmp / "worlds.csv")
        if toml is not None:
            (tmp / "optimum.toml").write_text(toml)
        if plots:
            save_optimise_plots(result, tmp / "plots", command=result.command)
    return out_dir
