"""A killed or interrupted ``supportsim run`` leaves the previous complete output, or none.

Each case starts a real ``supportsim run`` subprocess on a folder that (usually) already
holds a complete earlier output, kills it while it simulates or while it writes its files
(SIGKILL: no chance to clean up; SIGINT / SIGTERM: the CLI's clean-up path), and then
checks the folder: byte for byte the earlier output, or absent, never a mixture or a
partial file. (If the signal lands just after the new output was swapped in, the folder
holds the new output: then it must be complete and the CLI must say so.) After SIGKILL the
only debris allowed is a hidden temporary folder beside it (``.NAME.*.tmp`` /
``.NAME.old-PID``), which a later run ignores.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS

SCENARIO = str(SCENARIOS / "smoke.toml")
# big enough that simulating takes seconds and writing (with plots) a moment; small enough for a test
MONTHS, REPS, POLICIES = 8, 2, 3
SLOW = ["--set", "customers.initial=500", "--set", f"run.months={MONTHS}", "--set", f"run.replications={REPS}"]
TIMEOUT_S = 120


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sim.cli", *args]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def is_complete_new_output(folder: Path) -> bool:
    """Every file of a finished run, whole: the summary parses, the table has every row, plots exist."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        rows = (folder / "monthly.csv").read_text().splitlines()
    except (OSError, ValueError):
        return False
    plots = list((folder / "plots").glob("*.pdf")) if (folder / "plots").is_dir() else []
    return (summary.get("months") == MONTHS and len(rows) == 1 + MONTHS * REPS * POLICIES
            and (folder / "kpis.csv").is_file() and len(plots) > 0)


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory) -> Path:
    """A complete earlier output (no plots: quick) to be protected."""
    out = tmp_path_factory.mktemp("prev") / "out"
    subprocess.run(_cli("run", SCENARIO, "--out", str(out), "--workers", "1", "--quiet", "--no-plots"),
                   cwd=ROOT, check=True, timeout=TIMEOUT_S)
    assert (out / "summary.json").exists()
    return out


def interrupt_run(parent: Path, sig: int, phase: str, workers: int, prepare: Callable[[], None] = lambda: None,
                  attempts: int = 3) -> tuple[int | None, str]:
    """Start `supportsim run --out parent/out`, send ``sig`` once it is simulating or writing.

    Returns the exit code (None for SIGKILL) and stderr. A run that ends before the signal
    could be sent proves nothing: ``prepare()`` restores the starting state and it is tried
    again; the test fails after ``attempts``.
    """
    for _ in range(attempts):
        prepare()
        result = _interrupt_once(parent, sig, phase, workers)
        if result is not None:
            return result
    pytest.fail(f"the run always ended before the {phase} signal could be sent")


def _interrupt_once(parent: Path, sig: int, phase: str, workers: int) -> tuple[int | None, str] | None:
    out = parent / "out"
    proc = subprocess.Popen(
        _cli("run", SCENARIO, "--out", str(out), "--workers", str(workers), *SLOW),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                assert proc.returncode == 0, "".join(err)
                return None
            assert time.monotonic() < deadline, "timed out waiting for the run to reach " + phase
            if phase == "simulating" and "simulating" in "".join(err):  # the progress bar: jobs are running
                break
            if phase == "writing" and any(p.name.startswith(".out.") and p.name.endswith(".tmp")
                                          for p in parent.iterdir()):
                break
            time.sleep(0.002)
        proc.send_signal(sig)
        code = proc.wait(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    return (None if sig == signal.SIGKILL else code), "".join(err)


CASES = [
    # signal, phase, previous output present, workers
    (signal.SIGKILL, "writing", True, 1),
    (signal.SIGKILL, "writing", False, 1),  # then a fresh run over the debris
    (signal.SIGINT, "simulating", True, 1),
    (signal.SIGINT, "writing", False, 1),
    (signal.SIGTERM, "writing", True, 1),
    (signal.SIGINT, "simulating", True, 2),
]


@pytest.mark.parametrize("sig,phase,previous,workers", CASES,
                         ids=[f"{s.name}-{ph}-{'prev' if pr else 'none'}-w{w}" for s, ph, pr, w in CASES])
def test_interrupted_run_leaves_previous_output_or_none(tmp_path, previous_output, sig, phase, previous, workers):
    parent = tmp_path / "results"
    parent.mkdir()
    out = parent / "out"

    def prepare() -> None:
        shutil.rmtree(out, ignore_errors=True)
        if previous:
            shutil.copytree(previous_output, out)

    prepare()
    before = snapshot(out) if previous else None
    code, err = interrupt_run(parent, sig, phase, workers, prepare)

    if out.exists() and snapshot(out) != before:  # the signal came after the new output was swapped in
        assert is_complete_new_output(out), sorted(snapshot(out))
        assert sig == signal.SIGKILL or "after the results were written" in err, err
    elif previous:  # the earlier output byte for byte, or (SIGKILL between the two renames) none
        assert out.exists() or sig == signal.SIGKILL
    else:
        assert not out.exists()
    debris = sorted(p.name for p in parent.iterdir() if p.name != "out")
    if sig == signal.SIGKILL:
        assert all(n.startswith(".out.") and (n.endswith(".tmp") or ".old-" in n) for n in debris), debris
    else:  # Ctrl-C and SIGTERM clean up after themselves and say so
        assert code == 130, (code, err)
        assert "interrupted" in err and "Traceback" not in err, err
        assert debris == [], debris
    if sig == signal.SIGKILL and not previous:
        rerun_after_kill(parent)


def rerun_after_kill(parent: Path) -> None:
    """Debris from a SIGKILL does not stop the next run, and the next run replaces the output whole."""
    out = parent / "out"
    r = subprocess.run(_cli("run", SCENARIO, "--out", str(out), "--workers", "1", "--quiet", "--no-plots",
                            "--seed", "5"), cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} >= {"monthly.csv", "kpis.csv", "summary.json"}
    assert json.loads((out / "summary.json").read_text())["seed"] == 5
