"""Write a decision under uncertainty to disk, atomically: decision.json, psa.csv, plots/.

Where it sits: :class:`sim.decision.psa.DecisionResult` -> **decision_files** -> users, the
deck. Everything is written into a temporary folder and swapped in whole
(:func:`sim.output.files.atomic_dir`), so an interrupted or failed write leaves the previous
output or none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.output import files
from sim.output.decision_plots import save_decision_plots

__all__ = ["decision_json", "write_decision"]


def decision_json(result: Any) -> dict[str, Any]:
    """decision.json: the decision summary plus the resolved scenario it was made on."""
    body = result.summary()
    body["scenario"] = {**result.scenario.model_dump(mode="json"), "uncertainty": result.scenario.uncertainty}
    return files.json_safe(body)


def write_decision(result: Any, out_dir: Path, *, plots: bool = True) -> Path:
    """decision.json, psa.csv (one row per sample x policy, with provenance columns) and plots/."""
    out_dir = Path(out_dir)
    with files.atomic_dir(out_dir) as tmp:
        (tmp / "decision.json").write_text(json.dumps(decision_json(result), indent=2) + "\n")
        files.write_table(result.psa, files.provenance(result.seed, result.scenario_sha256), tmp / "psa.csv")
        if plots:
            save_decision_plots(result, tmp / "plots")
    return out_dir
