"""The app's processes: the simulation workers, the figure process, and their lifetime.

Where it sits: under :mod:`sim.app.progressive` and the tabs, which submit jobs to the pools
made here. The server's own process runs no scenario: every run, analysis and decision
summary goes to worker processes capped in memory (``SUPPORTSIM_APP_MAX_MEMORY_MB``), so an
oversized upload fails alone with a MemoryError instead of taking the server with it.

Workers come from a ``forkserver`` (never forked from the threaded Streamlit server), so a
worker's parent is the forkserver, and each worker holds the forkserver's "alive" pipe open
(as multiprocessing passes it): after ``kill -9`` of the server (what the OOM killer does)
the forkserver, its workers (which die with their parent, the forkserver) and the
resource tracker (whose pipe they hold) kept one another alive for good. So every worker
watches the server itself (:func:`die_with`) and exits the moment it ends; the forkserver
then sees its alive pipe close and exits, and the resource tracker sees its pipe close and
exits: nothing outlives the server.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from sim.app.drawing import warm_figures
from sim.runs.executors import Executor, default_workers, worker_init

APP_MAX_MEMORY_MB = 4096  # address space per worker: an upload that needs more fails alone
WATCH_POLL_S = 0.5  # how often a worker checks the server where the OS cannot tell it at once


def app_workers() -> int:
    """Worker processes for the app (SUPPORTSIM_APP_WORKERS; default: all cores)."""
    raw = os.environ.get("SUPPORTSIM_APP_WORKERS")
    try:
        return max(1, int(raw)) if raw else default_workers()
    except ValueError:
        return default_workers()


def app_max_memory() -> int:
    """Memory cap per app worker in bytes (SUPPORTSIM_APP_MAX_MEMORY_MB; 0 = no cap)."""
    raw = os.environ.get("SUPPORTSIM_APP_MAX_MEMORY_MB")
    try:
        mb = int(float(raw)) if raw else APP_MAX_MEMORY_MB
    except (ValueError, OverflowError):
        mb = APP_MAX_MEMORY_MB
    return max(0, mb) * 2**20


# ---------------------------------------------------------------- dying with the server


def _parent_of(pid: int) -> int | None:
    """The parent of process ``pid`` (Linux /proc), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _descends_from(server: int) -> bool:
    """Whether this process is still a child or grandchild of ``server`` (the server itself, or
    the forkserver it started): false once the server has ended, even if its pid is reused.
    Without /proc, whether a process ``server`` exists."""
    parent = os.getppid()
    if parent == server:
        return True
    grandparent = _parent_of(parent)
    if grandparent is not None:
        return grandparent == server
    try:
        os.kill(server, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def die_with(server: int) -> None:
    """End this process as soon as process ``server`` ends, however it ends (SIGKILL included).

    On Linux a pidfd of the server becomes readable when it ends, and a thread waiting on it
    exits the process at once; elsewhere the thread checks every :data:`WATCH_POLL_S`. The
    server is checked to be this process's (grand)parent after the pidfd is opened, so a
    server that ended before (its pid reused or not) is not missed.
    """
    try:
        fd: int | None = os.pidfd_open(server)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux, or before 5.3): poll
        fd = None
    if not _descends_from(server):
        os._exit(1)

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _descends_from(server):
                time.sleep(WATCH_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="supportsim-server-watch", daemon=True).start()


def app_worker_init(max_bytes: int, server: int) -> None:
    """Initializer of every app worker: the CLI's (signals, death with its parent, memory
    cap), and death with the server."""
    worker_init(max_bytes)
    die_with(server)


# ---------------------------------------------------------------- pools, started ahead


def _warm() -> int:
    return os.getpid()


# Pools started ahead by the server launcher (sim.app.serve), each taken once by the page:
# key "workers:N:M" for N simulation workers capped at M bytes, "figures" for the figure process.
_prewarmed: dict[str, Future[ProcessPoolExecutor]] = {}


def _prewarm(key: str, start: Callable[[], ProcessPoolExecutor]) -> Future[ProcessPoolExecutor]:
    """Call ``start`` now, in a background thread, for :func:`_take` to pick up."""
    if key not in _prewarmed:
        starter = ThreadPoolExecutor(1, thread_name_prefix=f"supportsim-prewarm-{key}")
        _prewarmed[key] = starter.submit(start)
        starter.shutdown(wait=False)
    return _prewarmed[key]


def _take(key: str, start: Callable[[], ProcessPoolExecutor]) -> ProcessPoolExecutor:
    """The pool :func:`_prewarm` started under ``key``, or a new one if none was (or it failed)."""
    started = _prewarmed.pop(key, None)
    if started is not None:
        try:
            return started.result()
        except Exception:  # noqa: BLE001 - a failed pre-start: start afresh, which reports the error
            pass
    return start()


def _new_pool(workers: int, warm: Callable[[], int] = _warm) -> ProcessPoolExecutor:
    """``workers`` processes, each capped in memory, watching the server and having run
    ``warm`` once. A pool whose workers cannot even start (too little memory for their
    imports) is shut down and the error raised."""
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=app_worker_init,
                               initargs=(app_max_memory(), os.getpid()))
    try:
        for f in [pool.submit(warm) for _ in range(workers)]:
            f.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool


def _pool_key(workers: int) -> str:
    return f"workers:{workers}:{app_max_memory()}"


def prewarm_pool(workers: int) -> Future[ProcessPoolExecutor]:
    """Start the app's pool now, for the first ``make_pool(workers)`` to take: the server
    launcher calls it at start, so the first page finds warm workers instead of waiting for
    them. Returns the pool's future."""
    return _prewarm(_pool_key(workers), lambda: _new_pool(workers))


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A long-lived pool of ``workers`` processes for the app's runs and analyses.

    Workers are started and warmed here, so the first control change does not pay for
    imports; jobs not yet started can be cancelled when the user changes a control mid-run.
    A pool that :func:`prewarm_pool` started is taken once.
    """
    return _take(_pool_key(workers), lambda: _new_pool(workers))


def _new_figure_pool() -> ProcessPoolExecutor:
    return _new_pool(1, warm_figures)


def make_figure_pool() -> ProcessPoolExecutor:
    """One warm process for the page's figures (the one :func:`prewarm_figure_pool` started, if any)."""
    return _take("figures", _new_figure_pool)


def prewarm_figure_pool() -> Future[ProcessPoolExecutor]:
    """Start the figure process now, for :func:`make_figure_pool` to take."""
    return _prewarm("figures", _new_figure_pool)


# ---------------------------------------------------------------- the pool for sim.runs.studies


def pool_executor(pool: ProcessPoolExecutor | None) -> Executor:
    """The app's pool as a :class:`sim.runs.executors.Executor` for :mod:`sim.runs.studies`.

    Jobs not yet started are cancelled when the caller stops reading (the user changed a
    control): the pool is shared and must not keep computing an abandoned analysis.
    """
    class _AppPool(Executor):
        name = "app pool"
        workers = getattr(pool, "_max_workers", 1) if pool is not None else 1

        def imap_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
            if pool is None:
                for i, item in enumerate(items):
                    yield i, fn(item)
                return
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            try:
                for f in as_completed(futures):
                    yield futures[f], f.result()
            finally:
                for f in futures:
                    f.cancel()

        def describe(self) -> str:
            return f"the app's {self.workers} worker processes"

    return _AppPool()
