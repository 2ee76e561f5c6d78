"""The app's disk cache (sim.app.store) refuses whatever it did not write itself.

Each test plants one kind of bad entry where a genuine one lies (or would lie) — a pickle
whose unpickling runs code, data of the wrong shape, data sealed with another key, a
truncated file, a figure that is not a PNG, an unsafe folder, a folder over its cap — and
checks that nothing runs, the entry is not used, and the run (or figure) is recomputed to
exactly the genuine numbers (or bytes).
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import stat
import time
import zlib
from pathlib import Path

import pandas as pd
import pytest

from sim.app import drawing, progressive, store
from sim.params.scenario import load
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS

SMOKE = load(SCENARIOS / "smoke.toml", ["run.replications=2", "run.months=3"])
RUNS = SMOKE.run.replications * len(SMOKE.policies)


@pytest.fixture(scope="module")
def genuine():
    return run_scenario(SMOKE, options=RunOptions(workers=1))


class Payload:
    """A pickle that creates ``marker`` when loaded: what a planted pickle could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def entries(folder: Path, kind: str = "run") -> list[Path]:
    return sorted(folder.glob(f"*.{kind}"))


def fresh_server_run(folder: Path) -> list[progressive.Update]:
    """The updates a freshly started server (empty memory) gives for SMOKE with ``folder`` on disk."""
    cache = store.LayeredCache(store.DictCache(), store.DiskCache(store.DiskStore(folder)))
    return list(progressive.progressive_run(SMOKE, cache=cache))


def assert_genuine(updates: list[progressive.Update], genuine, recomputed: int) -> None:
    final = updates[-1]
    assert final.final and final.jobs_total == recomputed, (final.jobs_total, recomputed)
    pd.testing.assert_frame_equal(final.results.monthly, genuine.monthly, check_exact=True)
    pd.testing.assert_frame_equal(final.results.kpis, genuine.kpis, check_exact=True)
    pd.testing.assert_frame_equal(final.results.segments, genuine.segments, check_exact=True)


@pytest.fixture
def filled(tmp_path, genuine):
    """A cache folder holding every run of SMOKE, as a server leaves it."""
    folder = tmp_path / "cache"
    assert_genuine(fresh_server_run(folder), genuine, RUNS)
    assert len(entries(folder)) == RUNS
    return folder


def sealed(folder: Path, kind: str, name: str, payload: bytes) -> bytes:
    """An entry sealed with the folder's own key: what only this user (or a bug) could write."""
    key = (folder / store.KEY_FILE).read_bytes()
    return store.DiskStore._seal(key, kind, name, payload)


# ---------------------------------------------------------------- what is kept, and how


def test_runs_round_trip_exactly_in_a_private_folder(filled, genuine):
    assert stat.S_IMODE(filled.stat().st_mode) == 0o700
    assert stat.S_IMODE((filled / store.KEY_FILE).stat().st_mode) == 0o600
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in entries(filled))
    assert not list(filled.glob("*.tmp"))
    assert_genuine(fresh_server_run(filled), genuine, 0)  # a fresh server: every run from disk
    for p in entries(filled):
        assert p.read_bytes().startswith(store.MAGIC) and b"pickle" not in p.read_bytes()


def test_keys_follow_the_package_source(monkeypatch):
    key = store.entry_key("run", {"a": 1})
    assert key == store.entry_key("run", {"a": 1}) != store.entry_key("figure", {"a": 1})
    monkeypatch.setattr(store, "source_fingerprint", lambda: "other source")
    assert store.entry_key("run", {"a": 1}) != key


# ---------------------------------------------------------------- planted, foreign, damaged


def test_a_planted_pickle_never_runs_and_the_run_is_recomputed(filled, genuine, tmp_path):
    marker = tmp_path / "pwned"
    bomb = pickle.dumps(Payload(marker))
    for p in entries(filled):
        p.write_bytes(bomb)
    (filled / "planted.pkl").write_bytes(bomb)
    assert_genuine(fresh_server_run(filled), genuine, RUNS)
    assert not marker.exists()
    assert len(entries(filled)) == RUNS  # the planted files were replaced by genuine ones


def _rewrite(folder: Path, edit) -> None:
    """Re-seal every entry with the folder's key after ``edit(monthly, segments)``: data a MAC
    cannot tell from genuine, so the content checks alone must refuse it."""
    for p in entries(folder):
        name = p.name.removesuffix(".run")
        rep = int(name.rsplit("-", 1)[1])
        monthly, segments = store.decode_run(store.DiskStore._unseal(
            (folder / store.KEY_FILE).read_bytes(), "run", name, p.read_bytes()), rep)
        p.write_bytes(sealed(folder, "run", name, store.encode_run(edit(monthly.copy(), segments.copy()))))


@pytest.mark.parametrize("edit", [
    lambda m, s: (m.drop(columns=["customers_end"]), s),  # a column missing
    lambda m, s: (m.assign(extra=1.0), s),  # a column too many
    lambda m, s: (m.assign(customers_end=m["customers_end"].astype(float)), s),  # a wrong dtype
    lambda m, s: (m.assign(profit=float("inf")), s),  # a number that is not finite
    lambda m, s: (m.assign(replication=m["replication"] + 1), s),  # another replication
    lambda m, s: (m.iloc[::-1].reset_index(drop=True), s),  # months out of order
    lambda m, s: (m, s.drop(columns=["segment"])),  # the segment table's shape
], ids=["missing-column", "extra-column", "wrong-dtype", "infinite", "other-replication", "months-shuffled",
        "segment-columns"])
def test_data_of_the_wrong_shape_is_refused_even_when_sealed(filled, genuine, edit):
    _rewrite(filled, edit)
    assert_genuine(fresh_server_run(filled), genuine, RUNS)


def test_a_parquet_file_with_wrong_columns_is_refused(filled, genuine):
    for p in entries(filled):
        buf = io.BytesIO()
        pd.DataFrame({"policy": ["flat"], "value_usd": [1e12]}).to_parquet(buf)
        p.write_bytes(buf.getvalue())
    assert_genuine(fresh_server_run(filled), genuine, RUNS)


def test_valid_looking_runs_with_a_bad_mac_are_refused(filled, genuine, caplog):
    """A planted 'genuine' run: the right format and plausible numbers (the real ones, with
    profit doubled), sealed with a key that is not the folder's."""
    key = (filled / store.KEY_FILE).read_bytes()
    other = bytes(b ^ 0xFF for b in key)
    for p in entries(filled):
        name = p.name.removesuffix(".run")
        monthly, segments = store.decode_run(store.DiskStore._unseal(key, "run", name, p.read_bytes()),
                                             int(name.rsplit("-", 1)[1]))
        forged = store.encode_run((monthly.assign(profit=monthly["profit"] * 2), segments))
        p.write_bytes(store.DiskStore._seal(other, "run", name, forged))
    with caplog.at_level(logging.WARNING, logger="sim.app.store"):
        assert_genuine(fresh_server_run(filled), genuine, RUNS)
    assert sum("signature does not match" in r.getMessage() for r in caplog.records) == RUNS


def test_an_entry_swapped_for_another_is_refused(filled, genuine):
    first, second = entries(filled)[:2]
    data = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(data)
    assert_genuine(fresh_server_run(filled), genuine, 2)


@pytest.mark.parametrize("cut", [0, 10, 40, 0.5, -1])
def test_a_truncated_file_is_refused(filled, genuine, cut):
    for p in entries(filled):
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    assert_genuine(fresh_server_run(filled), genuine, RUNS)


def test_a_wrong_format_version_is_refused(filled, genuine, monkeypatch):
    key = (filled / store.KEY_FILE).read_bytes()
    for p in entries(filled):
        name = p.name.removesuffix(".run")
        payload = store.DiskStore._unseal(key, "run", name, p.read_bytes())
        monkeypatch.setattr(store, "FORMAT", store.FORMAT + 1)
        p.write_bytes(store.DiskStore._seal(key, "run", name, payload))
        monkeypatch.undo()
    assert_genuine(fresh_server_run(filled), genuine, RUNS)


def test_a_decompression_bomb_is_refused(filled, genuine):
    key = (filled / store.KEY_FILE).read_bytes()
    bomb = zlib.compress(b"[" + b" " * (50 * 2**20) + b"]", 1)  # 50 MB of JSON in a few hundred kB
    for p in entries(filled):
        p.write_bytes(store.DiskStore._seal(key, "run", p.name.removesuffix(".run"), bomb))
    assert_genuine(fresh_server_run(filled), genuine, RUNS)


# ---------------------------------------------------------------- figures


@pytest.fixture
def figure_folder(tmp_path, monkeypatch, smoke_results):
    folder = tmp_path / "figs"
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(folder))
    name = drawing.figure_specs(len(smoke_results.policies))[0].name
    png = drawing.display_png(None, smoke_results, name, dpi=40)
    assert png == drawing.render_figure(smoke_results, name, "png", dpi=40)
    assert len(entries(folder, "png")) == 1
    return folder, name, png


@pytest.mark.parametrize("planted", [
    "raw-png",  # a real PNG, but not sealed
    "sealed-not-png",  # sealed with the right key, not a PNG
    "sealed-png-signature-then-garbage",  # sealed, PNG signature, does not decode
    "pickle",
])
def test_a_figure_that_is_not_a_valid_png_is_redrawn(figure_folder, smoke_results, planted, tmp_path):
    folder, name, png = figure_folder
    (path,) = entries(folder, "png")
    key = path.name.removesuffix(".png")
    marker = tmp_path / "pwned"
    path.write_bytes({
        "raw-png": png,
        "sealed-not-png": sealed(folder, "png", key, b"<svg onload=alert(1)>"),
        "sealed-png-signature-then-garbage": sealed(folder, "png", key, store.PNG_SIGNATURE + os.urandom(200)),
        "pickle": pickle.dumps(Payload(marker)),
    }[planted])
    assert drawing.display_png(None, smoke_results, name, dpi=40) == png
    assert not marker.exists()
    assert path.read_bytes() != png and path.read_bytes().startswith(store.MAGIC)  # kept again, sealed


def test_figures_of_partial_runs_are_not_kept(figure_folder, smoke_results):
    import dataclasses

    folder, name, _ = figure_folder
    partial = dataclasses.replace(smoke_results, replications=smoke_results.replications - 1)
    drawing.display_png(None, partial, name, dpi=40)  # refining: drawn, not kept
    assert len(entries(folder, "png")) == 1


# ---------------------------------------------------------------- the folder itself


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o755, 0o701])
def test_a_folder_others_can_enter_is_not_used(filled, genuine, mode, caplog):
    os.chmod(filled, mode)
    before = {p.name: p.read_bytes() for p in filled.iterdir()}
    with caplog.at_level(logging.WARNING, logger="sim.app.store"):
        assert_genuine(fresh_server_run(filled), genuine, RUNS)  # nothing read: every run recomputed
    assert {p.name: p.read_bytes() for p in filled.iterdir()} == before  # nothing written either
    assert any(f"mode {mode:04o}" in r.getMessage() for r in caplog.records)


def test_a_folder_of_another_owner_is_not_used(filled, genuine, monkeypatch, caplog):
    if os.getuid() == 0:
        os.chown(filled, 4242, -1)  # root: really another owner
    else:
        real = os.getuid()
        monkeypatch.setattr(store.os, "getuid", lambda: real + 1)  # as if another user ran the server
    with caplog.at_level(logging.WARNING, logger="sim.app.store"):
        assert_genuine(fresh_server_run(filled), genuine, RUNS)
    assert any("owned by uid" in r.getMessage() for r in caplog.records)


def test_a_symbolic_link_for_the_folder_is_not_followed(filled, genuine, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(filled, target_is_directory=True)
    assert_genuine(fresh_server_run(link), genuine, RUNS)


def test_a_key_others_can_read_is_not_used(filled, genuine):
    os.chmod(filled / store.KEY_FILE, 0o644)
    assert_genuine(fresh_server_run(filled), genuine, RUNS)


def test_a_new_folder_and_its_parents_are_made_and_private(tmp_path, genuine):
    folder = tmp_path / "a" / "b" / "cache"
    assert_genuine(fresh_server_run(folder), genuine, RUNS)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# ---------------------------------------------------------------- bounded


def test_the_folder_is_capped_least_recently_used_first_and_stale_temporaries_go(tmp_path, genuine):
    folder = tmp_path / "capped"
    fresh_server_run(folder)
    size = max(p.stat().st_size for p in entries(folder))
    disk = store.DiskStore(folder, max_bytes=3 * size)
    stale = folder / ".left-by-a-killed-server.tmp"
    stale.write_bytes(b"x" * 100)
    old = time.time() - 2 * store.STALE_TMP_S
    os.utime(stale, (old, old))
    live = folder / ".being-written.tmp"
    live.write_bytes(b"x")
    names = [p.name.removesuffix(".run") for p in entries(folder)]
    for i, p in enumerate(entries(folder)):  # oldest first, one second apart
        os.utime(p, (old + i, old + i))
    cache = store.DiskCache(disk)
    keep = names[0]
    key, rep = keep.rsplit("-", 1)
    assert cache.get(key, int(rep)) is not None  # used now: the most recently used
    disk.write("run", "new-entry-0", store.encode_run(cache.get(key, int(rep))))
    total = sum(p.stat().st_size for p in folder.iterdir() if p.name != store.KEY_FILE and not p.name.endswith(".tmp"))
    assert total <= 3 * size
    left = {p.name.removesuffix(".run") for p in entries(folder)}
    assert keep in left and "new-entry-0" in left and left < set(names) | {"new-entry-0"}
    assert not stale.exists() and live.exists()


def test_the_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE_MB", "12.5")
    assert store.cache_mb() == 12.5
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE_MB", "lots")
    assert store.cache_mb() == store.DEFAULT_MB
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", "")
    assert store.disk_store() is None


def test_json_payload_is_json_and_never_pickle(filled):
    key = (filled / store.KEY_FILE).read_bytes()
    p = entries(filled)[0]
    payload = store.DiskStore._unseal(key, "run", p.name.removesuffix(".run"), p.read_bytes())
    tables = json.loads(zlib.decompress(payload))
    assert [c[0] for c in tables[0]] == [c for c, _ in store.run_schema()[0]]
