"""How a verb runs: its module imported, its signals handled, its errors one line.

Where it sits: **cli**, between :mod:`sim.cli.main` (which parsed the command line without
loading the model) and the verb modules. Exit codes: 0 success, 1 could not write output (e.g.
disk full, no permission), 2 invalid input (message names field, value and allowed range; also a
workload above the guardrail), 130 interrupted by Ctrl-C or SIGTERM (no partial output is left
behind). Every verb is interrupted the same way (:class:`_Interrupts`, :func:`run_verb`): one
message, exit 130, wherever the signal lands.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.base.atomic import SIGNALS, outputs_written, set_signal_handlers
from sim.cli.common import PartialKept
from sim.cli.parser import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID
from sim.output.files import Interrupted
from sim.output.fmt import terminal
from sim.params.scenario import ScenarioError
from sim.runs.executors import WorkersLost


def handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """The function a verb runs: its parser's ``handler`` ("sim.cli.MODULE:FUNCTION"), looked up
    when it runs (a test may replace it in its module)."""
    module, _, name = args.handler.partition(":")
    return getattr(importlib.import_module(module), name)


class _Interrupts:
    """SIGINT and SIGTERM while a command runs: one way out, exit 130 and one message.

    The first signal raises KeyboardInterrupt wherever the main thread is, so the verb's clean-up
    runs on the way out (temporary output removed, worker processes stopped). Every later one,
    and any after the command has its outcome, is only counted: a second Ctrl-C cannot cut the
    clean-up short or escape as a traceback (or kill the process by the signal, exit -2), and
    :func:`main` still reports the interrupt. Blocks that must not be cut in half (a swap of
    folders) hold signals themselves (``sim.output.files``) and send them on afterwards.

    SIGTERM is always handled, SIGINT unless it was ignored when the command started: a shell
    starts background jobs with Ctrl-C ignored on purpose (Ctrl-C at the terminal is not for
    them), as Python itself respects.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.raising = True
        self.previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        if self.raising and len(self.received) == 1:
            raise KeyboardInterrupt

    def install(self) -> None:
        """Handle the signals (a no-op outside the main thread: signals are left alone there)."""
        if threading.current_thread() is not threading.main_thread():
            return
        wanted = {s: self for s in SIGNALS if not (s == signal.SIGINT and signal.getsignal(s) == signal.SIG_IGN)}
        self.previous, raised = set_signal_handlers(wanted)
        if raised is not None:  # a signal that came before: the command is interrupted before it starts
            raise raised

    def uninstall(self) -> None:
        """Put back the handlers there were before :meth:`install`."""
        if self.previous:
            set_signal_handlers(self.previous)
            self.previous = {}


def _interrupted_message(stop: BaseException | None, written: list[Path]) -> str:
    """The one line an interrupted verb prints (paths and messages shown as text: no control characters)."""
    if isinstance(stop, (Interrupted, PartialKept)) and str(stop):  # --keep-partial: what was kept, and where
        return f"interrupted: {terminal(stop)}"
    if written:
        return f"interrupted after the results were written to {' and '.join(terminal(p) for p in written)}"
    return "interrupted: no results written"


def _memory_advice(verb: str) -> str:
    """What holds memory in ``verb``, so an out-of-memory message names the real cause."""
    runs = "customers (and the growth that compounds them) or months per run, or --workers (each holds a run)"
    if verb == "decide":
        return ("the decision analysis holds every sample's results: reduce --samples, --sobol-samples or --replications, "
                f"or the {runs}")
    if verb in ("sweep", "breakeven", "sensitivity", "staff"):
        return f"a study holds every point's results: use fewer points, policies or replications, or reduce the {runs}"
    return f"reduce the {runs}; the results of every replication are kept, so fewer replications help too"


def run_verb(args: argparse.Namespace, *, in_process: bool) -> int:
    """Run the parsed command; return its exit code. Not ``in_process`` (the ``supportsim``
    program), signals stay handled, only counted, until the process has exited."""
    interrupts = _Interrupts()
    before = len(outputs_written())
    stop: KeyboardInterrupt | None = None
    code = EXIT_INTERRUPTED
    try:
        try:
            interrupts.install()
            code = _run(args)
        finally:
            interrupts.raising = False  # from here on a signal is only counted
    except KeyboardInterrupt as exc:  # the one way out of an interrupted verb
        stop = exc
    if stop is not None or interrupts.received:
        print(_interrupted_message(stop, outputs_written()[before:]), file=sys.stderr)
        code = EXIT_INTERRUPTED
    if in_process:  # called in-process: the caller's handlers come back
        interrupts.uninstall()
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; an error is one line on stderr, never a traceback (KeyboardInterrupt
    goes to :func:`main`)."""
    try:
        return int(handler(args)(args))
    except ScenarioError as exc:
        print(f"error: {terminal(exc, keep_newlines=True)}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # disk full, permission denied, ...: one line, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(terminal(f"error: {exc.strerror or exc}{where}; no results written"), file=sys.stderr)
        return EXIT_FAILED
    except MemoryError:
        print(f"error: out of memory; {_memory_advice(args.command)}; no results written", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user: one line, exit 1
        line = str(exc).splitlines()[0] if str(exc) else "unexpected failure"
        print(terminal(f"error: {line}" if isinstance(exc, WorkersLost) else
                       f"error: {type(exc).__name__}: {line} (a bug: please report it with the command line)"),
              file=sys.stderr)
        return EXIT_FAILED
