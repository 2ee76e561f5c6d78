"""A killed or interrupted ``supportsim run`` leaves the previous complete output, or none.

Each case starts a real ``supportsim run`` subprocess on a folder that (usually) already
holds a complete earlier output, stops it at a known phase (``SUPPORTSIM_TEST_PAUSE_AT``:
while it simulates, while it writes its files, when the swap is due, after the swap), sends
the signal there (SIGKILL: no chance to clean up; SIGINT / SIGTERM: the CLI's one way out)
and then checks the folder: byte for byte the earlier output, or absent, never a mixture or
a partial file; after the swap, the new output whole and a message that says so. After
SIGKILL the only debris allowed is a hidden temporary folder beside it (``.NAME.*.tmp`` /
``.NAME.old-PID``), which a later run ignores. The phase is a state the test waits for, so
the outcome of each case is known in advance and no case depends on timing.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS
from tests.procs import cli, start

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("interrupt")

SCENARIO = str(SCENARIOS / "smoke.toml")
MONTHS, REPS, POLICIES = 4, 2, 3  # at least two runs: "simulating" pauses after the first, with more due
SMALL = ["--set", "customers.initial=120", "--set", f"run.months={MONTHS}", "--set", f"run.replications={REPS}"]
TIMEOUT_S = 120


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def is_complete_new_output(folder: Path) -> bool:
    """Every file of a finished run, whole: the summary parses and the table has every row."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        rows = (folder / "monthly.csv").read_text().splitlines()
    except (OSError, ValueError):
        return False
    return (summary.get("months") == MONTHS and summary.get("partial") is False
            and len(rows) == 1 + MONTHS * REPS * POLICIES and (folder / "kpis.csv").is_file())


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory) -> Path:
    """A complete earlier output (no plots, in-process: quick) to be protected."""
    from sim.cli import main

    out = tmp_path_factory.mktemp("prev") / "out"
    assert main(["run", SCENARIO, "--out", str(out), "--workers", "1", "--quiet", "--no-plots"]) == 0
    assert (out / "summary.json").exists()
    return out


def interrupt_run(parent: Path, work: Path, sigs: list[int], phase: str, workers: int) -> tuple[int | None, str]:
    """`supportsim run --out parent/out`, stopped at ``phase``, then sent ``sigs`` one after the other.
    Returns the exit code (None for SIGKILL) and stderr."""
    child = start(cli("run", SCENARIO, "--out", str(parent / "out"), "--workers", str(workers), "--no-plots",
                      *SMALL), work, pause=phase)
    try:
        child.wait_paused()
        for sig in sigs:
            child.send(sig)
        code, err = child.finish()
    finally:
        child.kill()
    return (None if sigs[0] == signal.SIGKILL else code), err


CASES = [
    # signal(s), phase, previous output present, workers
    ([signal.SIGKILL], "writing", True, 1),
    ([signal.SIGKILL], "writing", False, 1),  # then a fresh run over the debris
    ([signal.SIGKILL], "swapping", True, 1),
    ([signal.SIGINT], "simulating", True, 1),
    ([signal.SIGINT], "writing", False, 1),
    ([signal.SIGTERM], "writing", True, 1),
    ([signal.SIGINT], "simulating", True, 2),
    ([signal.SIGINT], "swapping", True, 1),  # held until the swap is complete: the new output, and it says so
    ([signal.SIGTERM], "written", False, 1),
    ([signal.SIGINT, signal.SIGTERM, signal.SIGINT], "writing", True, 2),  # more signals during the clean-up
]
SWAPPED = {"swapping", "written"}  # phases at which the new output is (or is about to be) in place


@pytest.mark.parametrize("sigs,phase,previous,workers", CASES,
                         ids=[f"{'+'.join(s.name for s in ss)}-{ph}-{'prev' if pr else 'none'}-w{w}"
                              for ss, ph, pr, w in CASES])
def test_interrupted_run_leaves_previous_output_or_none(tmp_path, previous_output, sigs, phase, previous, workers):
    parent = tmp_path / "results"
    parent.mkdir()
    out = parent / "out"
    if previous:
        shutil.copytree(previous_output, out)
    before = snapshot(out) if previous else None
    code, err = interrupt_run(parent, tmp_path / "work", sigs, phase, workers)
    killed = sigs[0] == signal.SIGKILL

    if phase in SWAPPED and not killed:  # the signal waited for the swap: the new output, whole, and said so
        assert is_complete_new_output(out), sorted(snapshot(out))
        assert f"interrupted after the results were written to {out}" in err, err
    elif previous:  # the earlier output byte for byte
        assert snapshot(out) == before
    else:
        assert not out.exists()
    debris = sorted(p.name for p in parent.iterdir() if p.name != "out")
    if killed:
        assert all(n.startswith(".out.") and (n.endswith(".tmp") or ".old-" in n) for n in debris), debris
    else:  # Ctrl-C and SIGTERM clean up after themselves and say so, once
        assert code == 130, (code, err)
        assert len([line for line in err.splitlines() if line.startswith("interrupted")]) == 1, err
        assert "Traceback" not in err, err
        assert phase in SWAPPED or "interrupted: no results written" in err, err
        assert debris == [], debris
    if killed and not previous:
        rerun_after_kill(parent)


def rerun_after_kill(parent: Path) -> None:
    """Debris from a SIGKILL does not stop the next run, and the next run replaces the output whole."""
    out = parent / "out"
    r = subprocess.run(cli("run", SCENARIO, "--out", str(out), "--workers", "1", "--quiet", "--no-plots",
                           "--seed", "5", *SMALL), cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} >= {"monthly.csv", "kpis.csv", "summary.json"}
    assert json.loads((out / "summary.json").read_text())["seed"] == 5
