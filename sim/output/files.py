"""Write a run's results to disk, atomically.

Where it sits: experiment -> **results** (monthly.csv, summary.json, plots/) -> users.
Everything is first written into a temporary folder beside the target, then swapped in
with renames, so an interrupted or failed run leaves either the previous complete output
or none, never a half-written one. Single files use :func:`atomic_write` (temp + rename).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import __version__
from sim.runs.experiment import Results

if TYPE_CHECKING:
    import pandas as pd

FLOAT_FORMAT = "%.10g"  # fixed text form of floats: byte-identical files across machines


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target`` whole, on failure it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def summary_dict(res: Results) -> dict[str, Any]:
    return _clean({
        "supportsim_version": __version__,
        "scenario_name": res.scenario.scenario.name,
        "scenario_sha256": res.scenario_sha256,
        "seed": res.seed,
        "replications": res.replications,
        "months": res.scenario.run.months,
        "policies": res.policies,
        "reference_policy": res.reference,
        "kpis": res.summary(),
        "differences_vs_reference": res.differences(),
        "bridge": res.bridge(),
        "scenario": res.scenario.model_dump(mode="json"),
    })


def provenance_columns(res: Results) -> dict[str, object]:
    """Constant columns appended to every results table, so a CSV alone is traceable."""
    return {"seed": res.seed, "scenario_sha256": res.scenario_sha256, "supportsim_version": __version__}


def write_table(df: pd.DataFrame, res: Results, path: Path) -> None:
    df.assign(**provenance_columns(res)).to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_monthly_csv(res: Results, path: Path) -> None:
    write_table(res.monthly, res, path)


def write_results(res: Results, out_dir: Path, *, plots: bool = True) -> Path:
    """Write monthly.csv, kpis.csv, segments.csv (when kept), summary.json and plots/ into
    ``out_dir`` atomically."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        write_monthly_csv(res, tmp / "monthly.csv")
        write_table(res.kpis, res, tmp / "kpis.csv")
        if res.segments is not None:
            write_table(res.segments, res, tmp / "segments.csv")
        (tmp / "summary.json").write_text(json.dumps(summary_dict(res), indent=2, sort_keys=False) + "\n")
        if plots:
            from sim.output import plots as plotting

            plotting.save_standard_plots(res, tmp / "plots")
    return out_dir
