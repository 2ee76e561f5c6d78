"""Writing files so that nobody sees half of one: the bottom layer every other may use.

Where it sits: **base**, below params (imports nothing of ``sim``). ``atomic_write`` writes a
temporary file beside the target and renames it over the target with SIGINT and SIGTERM held, so
an interrupted verb leaves the previous file or the new one, never half of one; the output layer
builds whole folders on it (``sim.output.files.atomic_dir``), calibrate and the deck/report write
single files with it. ``pause_point`` is the test hook that stops a verb at a known phase
(``$SUPPORTSIM_TEST_PAUSE_AT``), and ``json_safe`` the one cleaner of every JSON file written.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)  # the signals that stop a verb cleanly (exit 130)
# Test-only: "PHASE:MARKER" makes this process stop at PHASE once (see pause_point); unset, it does nothing.
PAUSE_ENV = "SUPPORTSIM_TEST_PAUSE_AT"
PHASES = ("simulating", "writing", "swapping", "written")
_paused: set[str] = set()
_written: list[Path] = []  # every output swapped in by this process, in order (see outputs_written)


def record_written(path: Path) -> None:
    """Note that ``path`` (a file or folder) was swapped in whole by this process."""
    _written.append(path)


def outputs_written() -> list[Path]:
    """Every output (folder or file) this process has swapped in so far, in order: a caller that
    is interrupted can tell "no results written" from "written, then interrupted"."""
    return list(_written)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def json_safe(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null (strict JSON). The one cleaner of
    every JSON file supportsim writes."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pause_point("writing")
        write(Path(tmp))
        if not path.is_symlink():  # mkstemp makes 0600: give the file the umask's mode
            os.chmod(tmp, 0o666 & ~current_umask())
        with signals_held():  # replaced and recorded as written, or neither
            pause_point("swapping")
            os.replace(tmp, path.resolve() if path.is_symlink() else path)
            record_written(path)
        pause_point("written")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_signal_handlers(handlers: dict[int, Any]) -> tuple[dict[int, Any], BaseException | None]:
    """Install ``handlers`` (signal -> Python handler), every one of them, and return the previous
    handlers and the exception (a KeyboardInterrupt) that a signal pending meanwhile raised, if any.

    ``signal.signal`` runs pending handlers before it changes one, so a signal that lands between
    two changes can raise in the middle of them; stopping there would leave a handler swapped for
    good (a SIGTERM recorded and ignored forever). So each change is retried until it is made,
    and the exception is handed back for the caller to raise once everything is in place.
    """
    previous: dict[int, Any] = {}
    raised: BaseException | None = None
    for signum, handler in handlers.items():
        while signum not in previous:
            try:
                previous[signum] = signal.signal(signum, handler)
            except KeyboardInterrupt as exc:  # a pending signal's handler raised; the change was not made
                raised = raised or exc
    return previous, raised


@contextmanager
def _signals_recorded() -> Iterator[list[int | BaseException]]:
    """Record SIGINT and SIGTERM instead of acting on them while the block runs (main thread
    only), then put the previous handlers back and act: an exception a handler raised while
    they were being swapped is raised, else a recorded signal is sent again, to be handled as
    usual. Yields the record (signal numbers, or that exception)."""
    got: list[int | BaseException] = []
    previous, raised = set_signal_handlers({s: (lambda signum, _frame: got.append(signum)) for s in SIGNALS})
    if raised is not None:
        got.append(raised)
    try:
        yield got
    finally:
        _, raised = set_signal_handlers(previous)
        first = raised if raised is not None else (got[0] if got else None)
        if isinstance(first, BaseException):
            raise first
        if first is not None:
            os.kill(os.getpid(), first)


def pause_point(phase: str) -> None:
    """A test hook, inert unless ``$SUPPORTSIM_TEST_PAUSE_AT`` is ``PHASE:MARKER`` with this ``phase``.

    Then, the first time the main thread gets here, it writes MARKER (this process's id) and waits
    until SIGINT or SIGTERM arrives, which is then handled as it would have been here. A test that
    waits for MARKER knows the process is in that phase when it sends its signal, instead of
    guessing with timing. Phases: ``simulating`` (a run has finished and more are due),
    ``writing`` (the temporary output exists; nothing is swapped in), ``swapping`` (everything
    is written; the swap is due, with signals held) and ``written`` (swapped in; the verb has not
    returned yet).
    """
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    want, _, marker = spec.partition(":")
    if want != phase or phase in _paused or not marker or threading.current_thread() is not threading.main_thread():
        return
    _paused.add(phase)
    with _signals_recorded() as got:
        part = f"{marker}.{os.getpid()}.part"
        Path(part).write_text(f"{os.getpid()}\n")
        os.replace(part, marker)  # the marker appears whole
        while not got:  # a handler records the signal; the sleep only bounds how soon that is seen
            time.sleep(0.005)


@contextmanager
def signals_held() -> Iterator[None]:
    """Defer Ctrl-C and SIGTERM until the block ends, so a swap or a clean-up of temporary
    output cannot be cut in half; a no-op outside the main thread.

    The Python-level handlers are swapped for one that only records the signal (blocking
    with a signal mask would not do: a process-directed signal goes to any thread that does
    not block it, and the main thread then raises at its next bytecode); on leaving, the
    previous handlers come back and a recorded signal is sent again, to be handled as usual
    (see :func:`_signals_recorded`).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _signals_recorded():
        yield
