"""Process hygiene and no tracebacks: workers die with their parent, --workers bounded, a
cluster address checked within a bounded wait, lost replications retried once then named,
unexpected errors one line, a boolean into a number refused."""

from __future__ import annotations

import http.server
import importlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sim.cli import main
from sim.params.scenario import ScenarioError
from sim.runs import executors
from tests.conftest import BOUNDED_S, ROOT, SCENARIOS


def _die_once(item: tuple[str, int]) -> int:
    marker, value = item
    if value == 2 and not os.path.exists(marker):
        Path(marker).write_text("died")
        os._exit(9)  # a worker killed mid-run
    return value * 10


def _always_die(value: int) -> int:
    if value == 1:
        os._exit(9)
    return value


def test_lost_replications_retried_once_then_named(tmp_path):
    marker = str(tmp_path / "marker")
    with executors.ProcessExecutor(2) as ex:
        got = dict(ex.imap_unordered(_die_once, [(marker, v) for v in range(4)]))
    assert got == {0: 0, 1: 10, 2: 20, 3: 30}
    with executors.ProcessExecutor(2) as ex, pytest.raises(executors.WorkersLost, match="retried once"):
        list(ex.imap_unordered(_always_die, [0, 1, 2]))


def test_workers_bounded_by_jobs_and_cores():
    with pytest.raises(ScenarioError, match="at most"):
        executors.make_executor(workers=10**20)
    with executors.ProcessExecutor(50) as ex:
        assert sorted(i for i, _ in ex.imap_unordered(abs, [-1, -2, -3])) == [0, 1, 2]
        assert ex.workers == 3


def test_cluster_address_must_be_a_dask_scheduler_within_a_bounded_wait():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        t = time.perf_counter()
        with pytest.raises(ScenarioError, match="not a Dask scheduler"):
            executors.probe_scheduler(f"tcp://127.0.0.1:{server.server_address[1]}", timeout_s=1.0)
        assert time.perf_counter() - t < BOUNDED_S
    finally:
        server.shutdown()
    with pytest.raises(ScenarioError, match="inproc"):
        executors.check_cluster_address("inproc://10.0.0.1/1/2")


def test_workers_die_with_their_parent_even_on_sigkill(tmp_path):
    """Both workers are busy (each has written its pid and naps for an hour); the parent is
    SIGKILLed; the workers must go too. The test waits for those states, never for a time."""
    from tests.procs import start, wait_for

    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        import os, time
        from sim.runs.executors import ProcessExecutor
        def nap(x):
            with open({str(pids)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(3600)
        with ProcessExecutor(2) as ex:
            list(ex.imap_unordered(nap, [1, 2]))
    """)
    parent = start([sys.executable, "-c", script], tmp_path / "work")
    workers: list[int] = []
    try:
        lines = wait_for(lambda: pids.exists() and len(pids.read_text().split()) >= 2 and pids.read_text().split(),
                         "both workers busy", child=parent)
        workers = [int(p) for p in lines]
        parent.send(signal.SIGKILL)
        parent.finish()
        wait_for(lambda: not [p for p in workers if os.path.exists(f"/proc/{p}") and "zombie" not in _state(p)],
                 "the workers gone after their parent")
    finally:
        parent.kill()
        for pid in workers:  # only if the test failed: do not leave them napping
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def test_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys):
    run_module = importlib.import_module("sim.cli.run")  # the module of validate

    def boom(args):  # noqa: ANN001
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(run_module, "cmd_validate", boom)
    assert main(["validate", str(SCENARIOS / "smoke.toml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "something broke" in err and "Traceback" not in err


def test_boolean_into_a_number_names_the_field(capsys):
    assert main(["validate", str(SCENARIOS / "smoke.toml"), "--set", "support.agents=true"]) == 2
    assert "support.agents" in capsys.readouterr().err
    assert main(["validate", str(SCENARIOS / "smoke.toml"), "--set", "policies.flat.support.agents=false"]) == 2


TOOLS = sorted(p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("bench/*.py"), *ROOT.glob("scripts/*.py")])
# What the tools import in common, imported once by the driver below before it forks a process per tool.
SHARED = ["numpy", "pandas", "scipy.stats", "matplotlib.pyplot", "simpy", "sim.cli", "sim.app.procs",
          "sim.decision.psa", "sim.output.plots"]
HELP_DRIVER = r"""
import json, os, runpy, sys, traceback
tools, shared = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in shared:
    __import__(name)
results = {}
for tool in tools:  # each in a process of its own, forked from this one, run as `python TOOL --help` runs it
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        os.dup2(w, 2)
        sys.argv, sys.path[0] = [tool, "--help"], os.path.dirname(os.path.abspath(tool))
        code = 0
        try:
            runpy.run_path(tool, run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(w)
    with os.fdopen(r, errors="replace") as f:
        out = f.read()
    results[tool] = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), out]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def tools_help() -> dict[str, tuple[int, str]]:
    """Every bench/ and scripts/ tool run with --help, each in a fresh process forked from one
    that imported what they share (one interpreter start instead of one per tool)."""
    import json

    out = subprocess.run([sys.executable, "-c", HELP_DRIVER, json.dumps(TOOLS), json.dumps(SHARED)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return {tool: (code, text) for tool, (code, text) in json.loads(out.stdout.splitlines()[-1]).items()}


@pytest.mark.xdist_group("tools_help")  # one worker: the driver runs once
@pytest.mark.parametrize("tool", TOOLS)
def test_every_bench_and_script_answers_help(tool, tools_help):
    # a stale import (bench/run_benchmarks.py imported run_to_dir from its old home) fails here,
    # not the day someone needs the figure
    code, out = tools_help[tool]
    assert code == 0 and "usage" in out.lower(), out[-2000:]
