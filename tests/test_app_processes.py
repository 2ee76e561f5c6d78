"""Killing the app's server takes its children with it.

``kill -9`` of the server (what the OOM killer does) used to leave its forkserver, the pool's
workers, the figure process and the multiprocessing resource tracker alive for good (each
kept another alive: sim.app.procs explains how). The test starts the server as ``make app``
does, waits for its health check and for its children, kills it with SIGKILL and waits,
reading process states from /proc, until none of them is left. Every wait is for a state,
bounded by a generous deadline; nothing sleeps for a fixed time to let things happen.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.xdist_group("browser"),  # a server of its own: not beside the browser tests' one
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")]

STARTUP_S = 120  # bounds on a loaded 2-core machine, never waited for when the state comes sooner
GONE_S = 60
POLL_S = 0.1
WORKERS = 2  # -> children: resource tracker, forkserver; grandchildren: 2 workers, 1 figure process


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of process ``pid``, or None if there is none."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
    except OSError:
        return "?"


def descendants(root: int) -> dict[int, int]:
    """Every descendant of ``root`` (pid -> start time), by the parent links in /proc."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := proc_stat(int(entry))) is not None:
            children.setdefault(st[1], []).append((int(entry), st[2]))
    out, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            out[pid] = start
            todo.append(pid)
    return out


def alive(procs: dict[int, int]) -> dict[int, str]:
    """Those of ``procs`` still running (the same process: same pid and start time; a zombie
    waiting to be reaped holds nothing and counts as gone)."""
    out = {}
    for pid, start in procs.items():
        st = proc_stat(pid)
        if st is not None and st[2] == start and st[0] not in ("Z", "X"):
            out[pid] = cmdline(pid)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def test_kill_9_of_the_server_leaves_no_process_behind(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "sim.app.serve", "--server.headless", "true", "--server.address", "127.0.0.1",
           "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "SUPPORTSIM_APP_WORKERS": str(WORKERS), "SUPPORTSIM_APP_CACHE": ""})
    family: dict[int, int] = {}
    try:
        deadline = time.monotonic() + STARTUP_S
        while not healthy(f"http://127.0.0.1:{port}"):
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no health check in {STARTUP_S} s:\n{log.read_text()[-3000:]}"
            time.sleep(POLL_S)
        # the launcher started the workers and the figure process before the server answered;
        # wait until every one of them is there (and they have registered as the family)
        while len(family := descendants(server.pid)) < 2 + WORKERS + 1:
            assert time.monotonic() < deadline, f"children: {family}"
            time.sleep(POLL_S)
        kinds = " ".join(cmdline(p) for p in family)
        assert "forkserver" in kinds and "resource_tracker" in kinds, kinds

        server.send_signal(signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + GONE_S
        while left := alive(family):
            assert time.monotonic() < deadline, f"still running {GONE_S} s after the server's kill -9: {left}"
            time.sleep(POLL_S)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for pid in alive(family):  # a failed test leaves nothing either
            os.kill(pid, signal.SIGKILL)
