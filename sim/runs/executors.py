"""Where replications run: in this process, in local worker processes, or on a Dask cluster.

Where it sits: experiment / analysis -> **executors** -> model runs. An executor maps a
module-level function over a list of jobs and yields ``(index, result)`` pairs as jobs
finish, in any order; callers put results back in job order. Every job's randomness
depends only on its own (seed, replication, stream), so the three executors give
identical results for the same jobs.

Memory stays flat: at most a small window of jobs is in flight, and each result is
handed to the caller as soon as it arrives. On Ctrl-C the local pool is terminated at
once (workers ignore SIGINT, so only this process decides) and a Dask cluster's pending
tasks are cancelled; the caller keeps whatever had already finished.

Nothing here changes process-wide settings: a pool is created per executor and closed
with it.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from sim.params.scenario import ScenarioError

T = TypeVar("T")
MAX_WORKERS_PER_CORE = 4  # --workers above this many per core only adds memory and start-up time
CLUSTER_PROBE_S = 5.0  # a cluster address must answer like a Dask scheduler within this time


class WorkersLost(RuntimeError):
    """Workers died (killed, out of memory, scheduler lost) and the retry failed too: the
    message names the replications lost."""

    def __init__(self, what: str, lost: Sequence[Any]) -> None:
        names = ", ".join(_job_name(j) for j in lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
        super().__init__(f"{what}; retried once, still lost: {names}")
        self.lost = list(lost)


def _job_name(job: Any) -> str:
    policy, rep = getattr(job, "policy", None), getattr(job, "replication", None)
    return f"{policy} replication {rep}" if policy is not None and rep is not None else repr(job)[:60]
R = TypeVar("R")


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Executor:
    """Runs ``fn`` over jobs; use as a context manager (or call :meth:`close`)."""

    name = "executor"
    workers = 1

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (idempotent)."""

    def abort(self) -> None:
        """Stop at once, dropping jobs not yet finished (used on Ctrl-C)."""
        self.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.abort()
        else:
            self.close()

    def describe(self) -> str:
        return self.name


class SerialExecutor(Executor):
    """Every job in this process, one after another (the reference for identical results)."""

    name = "serial"

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for i, item in enumerate(items):
            yield i, fn(item)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies, even by SIGKILL (Linux
    ``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread ends the process once the parent
    is gone (reparented). Called in every worker's initializer."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before the call
                    os._exit(1)
                return
        except (OSError, AttributeError):  # no libc symbol: fall back to watching
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="supportsim-parent-watch", daemon=True).start()


def limit_memory(max_bytes: int | None) -> None:
    """Cap this process's address space at ``max_bytes`` (RLIMIT_AS, where the OS has it): a
    run that needs more fails with MemoryError in this worker instead of taking the machine."""
    if not max_bytes:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = max_bytes if hard == resource.RLIM_INFINITY else min(max_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def worker_init(max_bytes: int | None = None) -> None:
    """Initializer of every worker process: signals, death with the parent, memory cap."""
    _worker_signals()
    die_with_parent()
    limit_memory(max_bytes)


def _worker_signals() -> None:
    # Workers leave Ctrl-C to the parent, which terminates the pool; otherwise every
    # worker would print its own KeyboardInterrupt traceback. SIGTERM gets its default
    # action back (a forked worker inherits the parent's Python handler, which might turn
    # it into an exception instead of ending the worker when the pool is terminated).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Indexed:
    """Picklable wrapper returning (index, fn(item)), so unordered results can be placed."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, pair: tuple[int, Any]) -> tuple[int, Any]:
        i, item = pair
        return i, self.fn(item)


class ProcessExecutor(Executor):
    """Local worker processes (default: all cores).

    Workers are forked on Linux (no re-import of the caller's main module, so scripts and
    notebooks without an ``if __name__ == "__main__"`` guard work), spawned elsewhere. A
    worker that dies (e.g. killed for memory) fails the run with BrokenProcessPool rather
    than hanging it.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, *, start_method: str | None = None) -> None:
        self.workers = max(1, workers or default_workers())
        method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
        self._ctx = mp.get_context(method)
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=worker_init)
        return self._pool

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if not items:
            return
        self.workers = min(self.workers, len(items)) if self._pool is None else self.workers  # no idle forks
        retried = False
        todo = list(enumerate(items))
        while todo:
            lost: list[tuple[int, T]] = []
            yield from self._window(fn, todo, lost)
            if not lost:
                return
            if retried:
                raise WorkersLost("a worker process died (killed or out of memory)", [item for _, item in lost])
            retried, todo = True, lost  # a fresh pool, the lost jobs once more
            self._pool = None

    def _window(self, fn: Callable[[T], R], todo: list[tuple[int, T]],
                lost: list[tuple[int, T]]) -> Iterator[tuple[int, R]]:
        """Run ``todo`` in a bounded window; jobs lost to a broken pool are put in ``lost``."""
        pool = self._ensure()
        # A bounded window of jobs in flight: finished results are handed over at once
        # instead of piling up, and Ctrl-C has little to cancel.
        window = 2 * self.workers
        pending = iter(todo)
        running: dict[Future, tuple[int, T]] = {}
        for pair in itertools.islice(pending, window):
            running[pool.submit(fn, pair[1])] = pair
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                pair = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    lost.extend([pair, *running.values(), *pending])
                    pool.shutdown(wait=False, cancel_futures=True)
                    return
                nxt = next(pending, None)
                if nxt is not None:
                    running[pool.submit(fn, nxt[1])] = nxt
                yield pair[0], result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def abort(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # No public way to stop running jobs before Python 3.14 (terminate_workers):
            # terminate the worker processes, then let the executor notice and clean up.
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=5)

    def describe(self) -> str:
        return f"{self.workers} local processes"


class DaskExecutor(Executor):
    """A Dask distributed cluster at ``address`` (e.g. ``tcp://10.0.0.5:8786``).

    Workers need supportsim installed (same version). Jobs are submitted in a bounded
    window (twice the cluster's threads) so neither the scheduler nor this process holds
    more than a few results at a time.
    """

    name = "dask"

    def __init__(self, address: str, *, timeout_s: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - the optional extra is missing
            raise ScenarioError(
                ["--cluster needs dask.distributed: pip install 'supportsim[dask]'"], "--cluster"
            ) from None
        self.address = address
        probe_scheduler(address)
        try:
            self._client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ScenarioError([f"cannot connect to the Dask scheduler at {address!r}: {exc}"], "--cluster") from None
        self.workers = max(1, sum(self._client.nthreads().values()))
        self._futures: list[Any] = []

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        from distributed import as_completed

        if not items:
            return
        window = max(2, 2 * self.workers)
        indexed = _Indexed(fn)
        pending = iter(enumerate(items))

        pairs: dict[Any, tuple[int, Any]] = {}

        def submit(pair: tuple[int, Any]) -> Any:
            # pure=False: two identical jobs are still two runs (never deduplicated by key).
            fut = self._client.submit(indexed, pair, pure=False)
            pairs[fut.key] = pair  # which job to retry if its worker dies
            self._futures.append(fut)
            return fut

        first = [submit(pair) for _, pair in zip(range(window), pending)]
        ac = as_completed(first, loop=self._client.loop)  # our client is not the process default
        retried: set[int] = set()
        for fut in ac:
            try:
                i, result = fut.result()
            except Exception as exc:  # noqa: BLE001 - only worker and scheduler losses are retried
                kind = type(exc).__name__
                if kind not in ("KilledWorker", "CommClosedError", "CancelledError") and not isinstance(exc, OSError):
                    raise
                pair = pairs.pop(fut.key, None)
                self._futures.remove(fut)
                if pair is None or pair[0] in retried or kind != "KilledWorker":
                    lost = [pair[1]] if pair is not None else []
                    raise WorkersLost(f"the Dask cluster lost work ({kind})", lost) from None
                retried.add(pair[0])
                ac.add(submit(pair))
                continue
            self._futures.remove(fut)
            pairs.pop(fut.key, None)
            fut.release()
            nxt = next(pending, None)
            if nxt is not None:
                ac.add(submit(nxt))
            yield i, result

    def close(self) -> None:
        if self._client is not None:
            if self._futures:
                self._client.cancel(self._futures)
                self._futures = []
            self._client.close()
            self._client = None

    def describe(self) -> str:
        return f"Dask cluster {self.address} ({self.workers} threads)"


def check_cluster_address(address: str) -> str:
    """Accept ``tcp://HOST:PORT`` (or tls://, ucx://, ws://, wss://); clear error otherwise.
    ``inproc://`` names a scheduler inside one process: unreachable from the command line."""
    import re

    if (address or "").startswith("inproc://"):
        raise ScenarioError([f"--cluster {address!r}: inproc:// addresses live inside one Python process; "
                             "start a scheduler (dask scheduler) and give its tcp://HOST:PORT"], "--cluster")
    if not re.fullmatch(r"(tcp|tls|ucx|ws|wss)://[^\s/]+(:\d+)?(/[^\s]*)?", address or ""):
        raise ScenarioError(
            [f"--cluster {address!r}: expected a scheduler address like tcp://HOST:PORT"], "--cluster"
        )
    return address


def probe_scheduler(address: str, timeout_s: float = CLUSTER_PROBE_S) -> None:
    """Check within ``timeout_s`` that a tcp:// address is a Dask scheduler: one greets every
    connection with its handshake at once, while an HTTP server (the dashboard, port 8787)
    says nothing until asked. Other protocols are left to Dask's own timeout."""
    import socket

    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].split("/", 1)[0].rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    hint = " (8786 is the scheduler's usual port, 8787 its dashboard)"
    try:
        with socket.create_connection((host, int(port or 8786)), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            first = sock.recv(16)
    except TimeoutError:
        raise ScenarioError([f"--cluster {address}: no Dask handshake within {timeout_s:g} s; not a Dask "
                             f"scheduler{hint}"], "--cluster") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError([f"cannot connect to the Dask scheduler at {address!r}: {exc}"], "--cluster") from None
    if not first or first[:4] in (b"HTTP", b"<!DO", b"<htm") or len(first) < 8:
        raise ScenarioError([f"--cluster {address}: answered, but not as a Dask scheduler{hint}"], "--cluster")


def max_workers() -> int:
    return MAX_WORKERS_PER_CORE * default_workers()


def make_executor(*, workers: int | None = 1, cluster: str | None = None) -> Executor:
    """The executor for a run: Dask if ``cluster`` is given, else processes if ``workers`` != 1.

    ``workers`` 0 or None means all cores; more than :func:`max_workers` is refused, and no
    more processes start than there are jobs.
    """
    if cluster:
        return DaskExecutor(check_cluster_address(cluster))
    if workers is not None and workers < 0:
        raise ScenarioError([f"--workers: must be 0 (all cores) or a positive number (got {workers})"], "--workers")
    if workers is not None and workers > max_workers():
        raise ScenarioError([f"--workers {workers}: at most {max_workers()} ({MAX_WORKERS_PER_CORE} per core on "
                             f"{default_workers()} cores); 0 uses every core"], "--workers")
    n = workers or default_workers()
    return SerialExecutor() if n <= 1 else ProcessExecutor(n)


class _Borrowed(Executor):
    """An executor owned by the caller: used, never closed here."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name
        self.workers = inner.workers

    def imap_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        return self.inner.imap_unordered(fn, items)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        self.inner.abort()

    def describe(self) -> str:
        return self.inner.describe()


def use_executor(executor: Executor | None = None, *, workers: int | None = 1, cluster: str | None = None) -> Executor:
    """``executor`` as a context manager that leaves it open, or a new one closed on exit."""
    if executor is not None:
        return _Borrowed(executor)
    return make_executor(workers=workers, cluster=cluster)
