"""Outputs never destroy or leak: a manifest of what supportsim wrote, foreign folders refused
unless --force (their files kept), symlinks written through, the umask honoured, and '.',
'..', '' and '/' refused with a message and no temp folder left behind."""

from __future__ import annotations

import json
import os
import stat

import pytest

from sim.cli import main
from sim.output import files
from tests.conftest import SCENARIOS

FAST = ["--replications", "1", "--workers", "1", "--quiet", "--no-plots", "--set", "run.months=2"]


def _run(out, *extra) -> int:
    return main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), *FAST, *extra])


def test_rerun_keeps_the_users_files_and_lists_its_own(tmp_path):
    out = tmp_path / "o"
    assert _run(out) == 0
    manifest = json.loads((out / files.MANIFEST).read_text())
    assert "monthly.csv" in manifest["files"] and "summary.json" in manifest["files"]
    (out / "deck_notes.txt").write_text("mine")
    assert _run(out) == 0
    assert (out / "deck_notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temp or old folder left


def test_foreign_folder_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert _run(out) == 2
    assert "--force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["sweep", str(SCENARIOS / "smoke.toml"), "--param", "support.agents=2,3", "--out", str(out),
                 *FAST[:5]]) == 2
    assert _run(out, "--force") == 0
    assert (out / "notes.txt").read_text() == "keep" and (out / "kpis.csv").exists()


def test_symlinked_target_is_written_through(tmp_path):
    real = tmp_path / "real"
    assert _run(real) == 0
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    (real / "kpis.csv").write_text("stale")
    assert _run(link) == 0
    assert link.is_symlink() and (real / "kpis.csv").read_text() != "stale"


def test_outputs_honour_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        assert _run(tmp_path / "o") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o").stat().st_mode) == 0o775
    assert stat.S_IMODE((tmp_path / "o" / "kpis.csv").stat().st_mode) == 0o664


@pytest.mark.parametrize("out", [".", "..", "", "/"])
def test_current_parent_empty_and_root_refused(tmp_path, monkeypatch, capsys, out):
    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.chdir(work)
    assert _run(out) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
    assert list(tmp_path.rglob("*")) == [work]
