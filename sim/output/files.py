"""Write a run's results to disk, atomically.

Where it sits: runs (experiment, ``Results``) -> **files** (monthly.csv, kpis.csv,
summary.json, plots/) -> users. :func:`run_to_dir` runs a scenario and streams each finished
replication to disk (the CLI's ``run``); :func:`write_results` writes a ``Results`` held in
memory. Both write the same bytes for the same runs.
Everything is first written into a temporary folder beside the target, then swapped in
with renames, so an interrupted or failed run leaves either the previous complete output
or none, never a half-written one. Single files use :func:`atomic_write` (temp + rename).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.base.atomic import current_umask, json_safe, pause_point, record_written, signals_held
from sim.output import figures
from sim.params.scenario import ScenarioError, reference_policy, resolve_policies, scenario_hash
from sim.params.schema import Scenario
from sim.runs import guardrails, metrics
from sim.runs.experiment import Precision, jobs, run_job_with_kpis
from sim.runs.options import SERIAL, RunOptions
from sim.runs.results import Results

FLOAT_FORMAT = "%.10g"  # fixed text form of floats: byte-identical files across machines
# Lists what supportsim wrote into a result folder, with each file's SHA-256: only files it lists
# whose content still matches (and whose names supportsim writes) are ever replaced or removed.
MANIFEST = ".supportsim-manifest.json"


def output_target(target: Path | str, *, force: bool = False) -> Path:
    """Check an output folder before anything runs; return the real folder to replace.

    A symlink is followed (results are written through it, the link stays). Refused, with a
    message naming ``--out``: the current folder, one above it or the root (``.``, ``..``,
    ``''``, ``/``: a result replaces its folder), a file, and a non-empty folder that
    supportsim did not write (no :data:`MANIFEST`) unless ``force``; its other files are
    kept either way.
    """
    raw = str(target)
    real = Path(target).resolve()
    cwd = Path.cwd().resolve()
    where = ("the root folder" if real == Path(real.anchor) else "the current folder" if real == cwd
             else "a folder that holds the current one" if real in cwd.parents else None)
    if raw.strip() == "" or where:
        raise ScenarioError([f"--out {raw!r}: names {where or 'no folder'}; results replace their folder whole, so "
                             "give them a folder of their own, e.g. --out results/run1"], "--out")
    if real.exists() and not real.is_dir():
        raise ScenarioError([f"--out {raw}: exists and is not a folder (it would be replaced)"], "--out")
    if real.is_dir() and not force and not (real / MANIFEST).is_file() and any(real.iterdir()):
        raise ScenarioError([f"--out {raw}: the folder holds files supportsim did not write (no {MANIFEST}); "
                             "choose a new or empty folder, or pass --force to write into it (its other files "
                             "are kept)"], "--out")
    return real


# The names supportsim writes into a result folder (run, report, decide and the studies): a
# manifest can make supportsim delete a file only if its name is one of these. Figures go to
# plots/NAME.EXT (run, decide) or, for a study, to the top level.
OUTPUT_FILES = frozenset({
    "monthly.csv", "kpis.csv", "segments.csv", "summary.json", "report.html", "decision.json", "psa.csv",
    "tidy.csv", "summary.csv", "differences.csv", "sweep.json", "curve.csv", "breakeven.json", "tornado.csv",
    "sensitivity.json", "staff.csv", "staff.json",
})
_FIGURE = re.compile(r"(plots/[a-z0-9_]+|sweep|breakeven|tornado)\.(png|svg|pdf)")
MAX_MANIFEST_BYTES = 1_000_000


def is_output_name(relpath: str) -> bool:
    """Whether ``relpath`` (relative, with /) is a name supportsim writes into a result folder."""
    return relpath in OUTPUT_FILES or _FIGURE.fullmatch(relpath) is not None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _regular_inside(folder: Path, relpath: str) -> Path | None:
    """``folder/relpath`` if it is a regular file reached without leaving ``folder`` (no absolute
    path, no '..', no symlink on the way or at the end), else None."""
    parts = relpath.split("/")
    if not relpath or relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    node = folder
    for part in parts:
        node = node / part
        try:
            mode = os.lstat(node).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    return node if stat.S_ISREG(mode) else None


def _ours(folder: Path) -> set[str]:
    """Files of ``folder`` that supportsim verifiably wrote: listed in its :data:`MANIFEST` with
    a SHA-256 that the file's content still matches, at a name supportsim writes
    (:func:`is_output_name`), a regular file inside the folder. Only these may be replaced or
    removed; a planted or edited manifest (or a file changed since) protects the file instead."""
    manifest = folder / MANIFEST
    try:
        st = os.lstat(manifest)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_BYTES:  # a FIFO would hang the read
            return set()
        with open(manifest, "rb") as fh:
            body = json.loads(fh.read(MAX_MANIFEST_BYTES + 1))
        recorded = body.get("sha256") or {}
        if not isinstance(recorded, dict):
            return set()
    except (OSError, ValueError, AttributeError, RecursionError):
        return set()
    ours = set()
    for relpath, digest in recorded.items():
        if not (isinstance(relpath, str) and isinstance(digest, str) and is_output_name(relpath)):
            continue
        path = _regular_inside(folder, relpath)
        try:
            if path is not None and _sha256(path) == digest:
                ours.add(relpath)
        except OSError:
            continue
    return ours


def _write_manifest(folder: Path) -> None:
    """List what supportsim wrote into ``folder``, each file with its SHA-256 (what :func:`_ours` checks)."""
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                     if p.is_file() and not p.is_symlink() and p.name != MANIFEST)
    body = {"written_by": "supportsim", "supportsim_version": __version__, "files": written,
            "sha256": {f: _sha256(folder / f) for f in written}}
    (folder / MANIFEST).write_text(json.dumps(body, indent=2) + "\n")


def _free_name(path: Path) -> Path:
    """``path``, or ``path.kept``, ``path.kept-2`` ... if taken."""
    if not os.path.lexists(path):
        return path
    n = 1
    while True:
        candidate = path.with_name(f"{path.name}.kept" + (f"-{n}" if n > 1 else ""))
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def _keep_the_rest(old: Path, new: Path) -> None:
    """Move every entry of the replaced folder ``old`` that supportsim did not verifiably write
    (:func:`_ours`) into ``new`` at the same place (as NAME.kept beside a new file of the same
    name); what stays in ``old`` is only supportsim's own files. Symlinks are moved as links,
    never followed."""
    ours = _ours(old)
    for dirpath, dirnames, filenames in os.walk(old):  # never follows symlinks
        here = Path(dirpath)
        rel_dir = here.relative_to(old)
        leaves = filenames + [d for d in dirnames if (here / d).is_symlink()]
        if not leaves and not dirnames and rel_dir != Path("."):  # an empty folder of the user's
            (new / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in leaves:
            rel = (rel_dir / name).as_posix()
            if rel in ours or rel == MANIFEST:
                continue
            dest = new / rel
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):  # a new file where the user had a folder
                dest = new / rel.replace("/", "_")
            os.replace(here / name, _free_name(dest))


@contextmanager
def atomic_dir(target: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``target`` whole, on failure it is removed.

    ``target`` is checked first (:func:`output_target`): a symlink is written through, and
    files in the old folder that supportsim did not verifiably write (:func:`_ours`: listed in its
    :data:`MANIFEST` with the SHA-256 they still have, at a name supportsim writes) are moved
    into the new one, never deleted (beside a new file of the same name, as NAME.kept). The new
    folder gets a manifest and the umask's mode.
    Every path out removes the temporary folder: an exception or Ctrl-C in the body, and a
    signal during the swap or the clean-up (those run with signals held).
    """
    target = output_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:  # one try around everything: a held signal is delivered when its hold ends, inside it
        with signals_held():
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
            os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
        pause_point("writing")
        yield tmp
        with signals_held():
            pause_point("swapping")
            _write_manifest(tmp)
            old = None
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                _keep_the_rest(old, target)  # the user's files stay (only ours are replaced)
                shutil.rmtree(old, ignore_errors=True)  # holds nothing but files supportsim wrote
            record_written(target)
        pause_point("written")
    except BaseException:
        if tmp is not None:
            with signals_held():
                shutil.rmtree(tmp, ignore_errors=True)  # gone already if the swap was complete
        raise


def summary_dict(res: Results) -> dict[str, Any]:
    return json_safe({
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


def provenance(seed: int, scenario_sha256: str) -> dict[str, object]:
    """Constant columns appended to every results table, so a CSV alone is traceable."""
    return {"seed": seed, "scenario_sha256": scenario_sha256, "supportsim_version": __version__}


def provenance_columns(res: Results) -> dict[str, object]:
    """:func:`provenance` of a run."""
    return provenance(res.seed, res.scenario_sha256)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutral_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=1+1``, ``@SUM``, ``-cmd|...``) gets a
    leading ``'``; numbers, numeric text (``-0.5``) and everything else are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def _holds_text(column: pd.Series) -> bool:
    """Whether a column can hold text, whatever its dtype: object, the string dtypes (``str``,
    ``string[python]``, ``string[pyarrow]``: pandas 3 reads and builds text columns as these) and
    categories (whose categories may be text)."""
    dtype = column.dtype
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`neutral_cell` applied to every text cell and column name, whatever the
    column's dtype (numeric and boolean columns untouched; a category column is written as text)."""
    text = [c for c in df.columns if _holds_text(df[c])]
    names = {c: neutral_cell(c) for c in df.columns if isinstance(c, str) and neutral_cell(c) != c}
    if not text and not names:
        return df
    out = df.assign(**{c: df[c].astype(object).map(neutral_cell) for c in text}) if text else df
    return out.rename(columns=names) if names else out


def write_table(df: pd.DataFrame, stamp: Results | dict[str, object], path: Path | io.StringIO) -> None:
    """``df`` as CSV with the provenance columns (of a ``Results`` or a :func:`provenance` dict);
    text cells that a spreadsheet would run as formulas are neutralised (:func:`neutral_cell`)."""
    cols = provenance_columns(stamp) if isinstance(stamp, Results) else stamp
    neutralise(df).assign(**cols).to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_monthly_csv(res: Results, path: Path | io.StringIO) -> None:
    write_table(res.monthly, res, path)


def write_results(res: Results, out_dir: Path, *, plots: bool = True, pdf: bool = False, force: bool = False) -> Path:
    """Write monthly.csv, kpis.csv, segments.csv (when kept), summary.json and plots/ into
    ``out_dir`` atomically."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, force=force) as tmp:
        write_monthly_csv(res, tmp / "monthly.csv")
        write_table(res.kpis, res, tmp / "kpis.csv")
        if res.segments is not None:
            write_table(res.segments, res, tmp / "segments.csv")
        (tmp / "summary.json").write_text(json.dumps(summary_dict(res), indent=2, sort_keys=False) + "\n")
        if plots:
            figures.save_run_figures(res, tmp / "plots", pdf=pdf)
    return out_dir


# ---------------------------------------------------------------- streaming runs


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_to_dir`: the finished replications were written, marked partial."""

    def __init__(self, results: Results, out_dir: Path) -> None:
        super().__init__(f"{sum((results.completed or {}).values())} finished runs kept in {out_dir} (partial)")
        self.results = results
        self.out_dir = out_dir


class MonthlySpool:
    """Monthly rows of finished runs, appended to a file as they arrive, any order.

    Only a byte range per (policy, replication) is kept in memory; :meth:`assemble` copies
    the ranges into the final CSV in (policy, replication) order, so the file is the same
    bytes whatever order the runs finished in, and the same bytes
    :func:`sim.output.files.write_results` writes for the same runs.
    """

    def __init__(self, path: Path, write_table: Callable[[pd.DataFrame, Any], None]) -> None:
        self.path = path
        self._write_table = write_table
        self._file = open(path, "wb")  # noqa: SIM115 - closed in assemble/close
        self.header: bytes | None = None
        self.ranges: dict[tuple[str, int], tuple[int, int]] = {}

    def add(self, policy: str, replication: int, table: pd.DataFrame) -> None:
        buf = io.StringIO()
        self._write_table(table, buf)
        header, body = buf.getvalue().encode().split(b"\n", 1)
        if self.header is None:
            self.header = header
        elif header != self.header:
            raise RuntimeError(f"run {policy}/{replication} has different columns from the first run")
        start = self._file.tell()
        self._file.write(body)
        self.ranges[(policy, replication)] = (start, len(body))

    def assemble(self, out: Path, policies: Sequence[str]) -> None:
        self._file.close()
        with open(self.path, "rb") as src, open(out, "wb") as dst:
            if self.header is not None:
                dst.write(self.header + b"\n")
            order = {p: i for i, p in enumerate(policies)}
            for key in sorted(self.ranges, key=lambda k: (order[k[0]], k[1])):
                start, length = self.ranges[key]
                src.seek(start)
                dst.write(src.read(length))
        self.path.unlink()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def run_to_dir(
    scenario: Scenario,
    out_dir: Path | str,
    *,
    options: RunOptions = SERIAL,
    precision: Precision | None = None,
    plots: bool = True,
    pdf: bool = False,
    crn: bool = True,
    keep_partial: bool = False,
    force: bool = False,
) -> Results:
    """Run every policy of ``scenario`` and write monthly.csv, kpis.csv, summary.json and
    plots/ into ``out_dir``, streaming each finished run to disk.

    ``options``: replications, seed, where the runs execute (default the file's, serial).
    The folder is replaced atomically when the run ends. With ``precision`` replications
    are added in rounds until the rule is met or its cap is reached (``options.replications``
    is then the first round, at least 3). On Ctrl-C (KeyboardInterrupt) the previous output is
    left as it was, unless ``keep_partial``: then the runs already finished replace it,
    marked ``"partial": true`` in summary.json, and :class:`Interrupted` is raised.
    The returned :class:`Results` holds the KPI table; ``monthly`` is read back from disk
    only when plots are drawn, else it is empty.
    """
    out_dir = Path(out_dir)
    output_target(out_dir, force=force)  # refused before anything runs
    reps = options.replications_for(scenario)
    seed = options.seed_for(scenario)
    on_progress = options.on_progress
    if precision is not None:
        reps = min(max(reps, 3), precision.max_replications)
    guardrails.check(scenario, precision.max_replications if precision else reps, options.max_work, plots=plots)
    policies = resolve_policies(scenario)
    names = [p.name for p in policies]
    res = Results(scenario=scenario, scenario_sha256=scenario_hash(scenario), seed=seed, replications=0,
                  policies=names, reference=reference_policy(scenario), monthly=pd.DataFrame(),
                  kpis=pd.DataFrame(columns=["policy", "replication", *metrics.RUN_COLUMNS]))
    kpi_rows: dict[tuple[str, int], dict[str, float]] = {}
    report: dict[str, Any] | None = None
    interrupted = False
    executor_cm = options.pool()

    with atomic_dir(out_dir, force=force) as tmp:
        # each run's rows go through the same writer as write_results (same columns and format)
        spool = MonthlySpool(tmp / ".monthly.spool", lambda df, buf: write_monthly_csv(replace(res, monthly=df), buf))
        segment_spool = MonthlySpool(tmp / ".segments.spool", lambda df, buf: write_table(df, res, buf))
        try:
            with executor_cm as ex:
                done, total, have = 0, len(policies) * reps, 0
                target = reps
                while True:
                    batch = jobs(policies, replications=target - have, months=scenario.run.months, seed=seed,
                                 first=have, crn=crn)
                    for i, (monthly, kpis, segments) in ex.imap_unordered(run_job_with_kpis, batch):
                        job = batch[i]
                        with signals_held():  # a finished run is recorded whole or not at all
                            spool.add(job.policy, job.replication, monthly)
                            segment_spool.add(job.policy, job.replication, segments)
                            kpi_rows[(job.policy, job.replication)] = kpis
                        done += 1
                        # in precision mode the last run of a round is reported once the next
                        # round's size is known, so a progress bar never sees done == total early
                        if on_progress and (precision is None or done < total):
                            on_progress(done, total)
                    have = target
                    if precision is None:
                        break
                    widths = precision.half_widths(_kpi_frame(kpi_rows, names), names, res.reference)
                    report = precision.report(have, widths)
                    if report["met"] or have >= precision.max_replications:
                        if on_progress:
                            on_progress(done, done)
                        break
                    target = precision.next_total(have, widths)
                    total = len(policies) * target
                    if on_progress:
                        on_progress(done, total)
        except KeyboardInterrupt:
            spool.close()
            segment_spool.close()
            if not keep_partial:
                raise
            interrupted = True
        spool.close()
        spool.assemble(tmp / "monthly.csv", names)
        segment_spool.close()
        segment_spool.assemble(tmp / "segments.csv", names)
        kpi_df = _kpi_frame(kpi_rows, names)
        completed = {p: int((kpi_df["policy"] == p).sum()) for p in names}
        full = _complete_replications(kpi_df, names)
        if precision is not None and report is not None and interrupted:
            report = {**report, "interrupted": True}
        res = replace(res, replications=full, kpis=kpi_df, partial=interrupted, completed=completed,
                      precision=report)
        write_table(kpi_df, res, tmp / "kpis.csv")
        summary = summary_dict(res)
        summary.update(json_safe({"partial": interrupted, "replications_completed": completed,
                                   "precision": report}))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        if plots and len(kpi_df):
            res = replace(res, monthly=_read_monthly(tmp / "monthly.csv", provenance_columns(res)))
            figures.save_run_figures(res, tmp / "plots", pdf=pdf)
    if interrupted:
        raise Interrupted(res, out_dir)
    return res


def _kpi_frame(rows: dict[tuple[str, int], dict[str, float]], policies: Sequence[str]) -> pd.DataFrame:
    """KPI rows in (policy, replication) order, the layout of :func:`metrics.kpi_table`."""
    order = {p: i for i, p in enumerate(policies)}
    keys = sorted(rows, key=lambda k: (order[k[0]], k[1]))
    df = pd.DataFrame([{"policy": p, "replication": r, **rows[(p, r)]} for p, r in keys],
                      columns=["policy", "replication", *metrics.RUN_COLUMNS])
    return df


def _complete_replications(kpis: pd.DataFrame, policies: Sequence[str]) -> int:
    """Replications that every policy finished."""
    if kpis.empty:
        return 0
    sets = [set(kpis.loc[kpis["policy"] == p, "replication"]) for p in policies]
    return len(set.intersection(*sets))


def _read_monthly(path: Path, provenance: dict[str, Any]) -> pd.DataFrame:
    """monthly.csv back as a table, without the constant provenance columns."""
    df = pd.read_csv(path)
    return df.drop(columns=[c for c in provenance if c in df.columns])
