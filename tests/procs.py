"""Child processes that tests signal, and waits on states (never on durations).

Every test that starts a process it will signal starts it with :func:`start`:

* The child gets the default handling of SIGINT and SIGTERM back before it runs. A suite
  started with SIGINT ignored (a background shell, ``nohup``, ``trap "" INT`` in a CI harness)
  hands SIG_IGN down to its children, and Python then installs no KeyboardInterrupt handler: the
  child would shrug off the test's Ctrl-C and the test would fail for a reason of its own.
* With ``pause=PHASE`` the child stops at that phase of a verb and says so by writing a marker
  file (``SUPPORTSIM_TEST_PAUSE_AT``, see ``sim.base.atomic.pause_point``), so the test knows
  where the signal lands instead of racing the child.
* stderr goes to a file, not a pipe: a child that writes a lot while the test waits for a state
  cannot block on a full pipe.

Tests that only need a command's exit code and output (no signals) use :func:`supportsim`: each
command still runs in a process of its own, which exits as the real one does, but that process
is forked from a helper that imported the CLI once, instead of importing everything again.

Deadlines here only turn a hang into a failure with a message; nothing waits for a duration.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.base.atomic import PAUSE_ENV
from tests.conftest import ROOT

DEADLINE_S = 300  # a child that neither reaches its state nor ends in this long has hung: fail, with its stderr
POLL_S = 0.01


def cli(*args: str) -> list[str]:
    """The ``supportsim`` command line (as ``python -m sim.cli``)."""
    return [sys.executable, "-m", "sim.cli", *args]


def _default_signals() -> None:  # in the child, between fork and exec
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Child:
    """A started child: its process, its stderr file and (when paused) its marker file."""

    def __init__(self, proc: subprocess.Popen, stderr: Path, pause: str | None, marker: Path | None) -> None:
        self.proc = proc
        self.stderr_path = stderr
        self.pause = pause
        self.marker = marker

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def wait_paused(self) -> None:
        """Until the child has written its marker: it is then blocked in its phase, waiting for a signal."""
        assert self.marker is not None, "started without pause="
        wait_for(self.marker.exists, f"the child pausing at {self.pause}", child=self)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> tuple[int, str]:
        """Wait for the child to end; its exit code and stderr."""
        try:
            code = self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the child did not end in {DEADLINE_S} s:\n{self.stderr()[-3000:]}") from None
        return code, self.stderr()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start(cmd: Sequence[str], workdir: Path, *, pause: str | None = None, env: dict[str, str] | None = None,
          **popen: Any) -> Child:
    """Start ``cmd`` (cwd: the repository) with default signal handling; stderr to a file in
    ``workdir``; with ``pause`` the child stops at that phase (see :meth:`Child.wait_paused`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    n = len(list(workdir.glob("child-*.stderr")))
    stderr = workdir / f"child-{n}.stderr"
    marker = workdir / f"child-{n}.paused" if pause else None
    child_env = {**os.environ, **(env or {})}
    child_env.pop(PAUSE_ENV, None)
    if pause:
        child_env[PAUSE_ENV] = f"{pause}:{marker}"
    popen.setdefault("stdout", subprocess.DEVNULL)
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(list(cmd), cwd=popen.pop("cwd", ROOT), env=child_env, stderr=err,
                                preexec_fn=_default_signals, **popen)
    return Child(proc, stderr, pause, marker)


def wait_for(ready: Callable[[], Any], what: str, *, child: Child | None = None, deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``ready()`` until it is truthy and return it. Fails, with the child's stderr, when the
    child ends first or nothing happens before the deadline (a hang, not a slow machine)."""
    end = time.monotonic() + deadline_s
    while True:
        value = ready()
        if value:
            return value
        if child is not None and child.proc.poll() is not None:
            value = ready()  # it may have got there just before it ended
            if value:
                return value
            raise AssertionError(f"the child ended (exit {child.proc.returncode}) before {what}:\n"
                                 f"{child.stderr()[-3000:]}")
        if time.monotonic() > end:
            raise AssertionError(f"no sign of {what} in {deadline_s} s" +
                                 (f":\n{child.stderr()[-3000:]}" if child is not None else ""))
        time.sleep(POLL_S)


# ---------------------------------------------------------------- commands without signals

SERVER = r"""
import json, os, signal, sys, traceback
from sim.cli.main import main
# what the commands import, once (main itself loads a verb's modules only when the verb runs)
import sim.cli.execute, sim.cli.run, sim.cli.studies, sim.cli.report, sim.cli.deck, sim.cli.decide  # noqa: E401
import sim.cli.optimise, sim.cli.calibrate  # noqa: E401
for line in sys.stdin:
    req = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the command, in a process of its own that ends as `python -m sim.cli ...` ends
        code = 1
        try:
            signal.alarm(req["deadline"])  # a hang becomes a failure (killed by SIGALRM)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
            os.dup2(os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            os.chdir(req["cwd"])
            os.environ.update(req["env"])
            sys.argv = ["supportsim", *req["args"]]
            code = main()
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code
        except BaseException:
            traceback.print_exc()
        sys.exit(code)  # the interpreter's own shutdown, as at the end of a real command
    print(json.dumps(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])), flush=True)
"""


@dataclass
class Done:
    """A finished command: exit code, stdout, stderr (as ``subprocess.CompletedProcess``)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class _Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, preexec_fn=_default_signals)
        self.lock = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="supportsim-cli-"))
        atexit.register(self.close)

    def run(self, args: list[str], cwd: Path, env: dict[str, str]) -> Done:
        with self.lock:
            out, err = self.folder / "stdout", self.folder / "stderr"
            self.proc.stdin.write(json.dumps({"args": args, "cwd": str(cwd), "env": env, "stdout": str(out),
                                              "stderr": str(err), "deadline": DEADLINE_S}) + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline()
            if not reply:
                raise AssertionError(f"the command helper died (exit {self.proc.wait()})")
            return Done(args, json.loads(reply), out.read_text(errors="replace"), err.read_text(errors="replace"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: _Server | None = None


def supportsim(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, fresh: bool = False) -> Done:
    """Run ``supportsim ARGS`` to its end in a process of its own; its exit code and output.

    The process is forked from a helper that imported the CLI once (an interpreter start and the
    imports cost more than most commands); it ends through the interpreter's own shutdown, as
    the real command does. ``fresh``: a new interpreter instead (``python -m sim.cli``), for the
    tests of the entry point itself. ``env`` is added to the environment.
    """
    global _server
    if fresh:
        done = subprocess.run(cli(*args), cwd=cwd, capture_output=True, text=True, timeout=DEADLINE_S,
                              env={**os.environ, **(env or {})}, preexec_fn=_default_signals)
        return Done(list(args), done.returncode, done.stdout, done.stderr)
    if _server is None or _server.proc.poll() is not None:
        _server = _Server()
    return _server.run(list(args), cwd, env or {})
