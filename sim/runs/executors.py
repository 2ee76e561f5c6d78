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

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import multiprocessing as mp
import os
import signal
import struct
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
CLUSTER_PROBE_S = 3.0  # a cluster address must complete Dask's handshake within this time (twice at most)
# The first 8 bytes a Dask comm sends (over tcp://) are the little-endian length of the message that
# follows; a scheduler's handshake is a few hundred bytes. An SSH or SMTP banner reads as ~10^18.
HANDSHAKE_BYTES = (16, 2**20)


class WorkersLost(RuntimeError):
    """Workers died (killed, out of memory) and the retry failed too, or the Dask scheduler was
    lost: the message says what happened in words and names the replications lost."""

    def __init__(self, what: str, lost: Sequence[Any], *, retried: bool = True) -> None:
        names = ", ".join(_job_name(j) for j in lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
        tail = f"retried once, still lost: {names}" if retried else f"unfinished: {names or 'none'}"
        super().__init__(f"{what}; {tail}")
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


def _quiet(client_class: Any) -> Any:
    """``client_class`` (Dask's Client) with a finaliser that never prints a traceback: a client
    whose start failed, or whose scheduler is gone, otherwise does when it is collected."""

    def __del__(self: Any) -> None:
        with contextlib.suppress(Exception):
            client_class.__del__(self)

    return type("QuietClient", (client_class,), {"__del__": __del__})


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
        self._client = None
        self._quiet = _quiet_dask_logs()
        self._quiet.__enter__()  # Dask logs lost connections with tracebacks; this executor says it in words
        try:
            probe_scheduler(address)
            try:
                self._client = _quiet(Client)(address, timeout=timeout_s, set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - whatever Dask raises, one clear line
                raise ScenarioError([f"cannot connect to the Dask scheduler at {address!r}: {_why(exc)}"],
                                    "--cluster") from None
            self.workers = max(1, sum(self._client.nthreads().values()))
        except BaseException:
            self.close()
            raise
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
        done = 0
        for fut in ac:
            try:
                i, result = fut.result()
            except Exception as exc:  # noqa: BLE001 - only worker and scheduler losses are retried
                kind = type(exc).__name__
                pair = pairs.pop(fut.key, None)
                unfinished = [p[1] for p in pairs.values()] + ([pair[1]] if pair else []) + [p[1] for p in pending]
                if isinstance(exc, concurrent.futures.CancelledError) or kind == "CommClosedError" \
                        or isinstance(exc, OSError):
                    reason = getattr(exc, "reason", None) or kind
                    raise WorkersLost(f"the Dask scheduler at {self.address} was lost mid-run ({reason}) after "
                                      f"{done} of {len(items)} runs; check that it is still running and start again",
                                      unfinished, retried=False) from None
                if kind != "KilledWorker":
                    raise
                self._futures.remove(fut)
                if pair is None or pair[0] in retried:
                    raise WorkersLost("a Dask worker died running it (KilledWorker)",
                                      [pair[1]] if pair is not None else []) from None
                retried.add(pair[0])
                ac.add(submit(pair))
                continue
            self._futures.remove(fut)
            pairs.pop(fut.key, None)
            fut.release()
            nxt = next(pending, None)
            if nxt is not None:
                ac.add(submit(nxt))
            done += 1
            yield i, result

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            with contextlib.suppress(Exception):  # a lost scheduler cannot cancel or say goodbye
                if self._futures:
                    client.cancel(self._futures)
                self._futures = []
            with contextlib.suppress(Exception):
                client.close(timeout=CLUSTER_PROBE_S)
        quiet = getattr(self, "_quiet", None)
        if quiet is not None:
            self._quiet = None
            quiet.__exit__(None, None, None)

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


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask's own loggers silenced for the block: a lost or wrong scheduler is reported once, in words,
    by the caller, not as tracebacks in Dask's log."""
    import distributed  # noqa: F401 - its loggers exist once it is imported

    names = [n for n in list(logging.Logger.manager.loggerDict) if n.split(".")[0] in ("distributed", "tornado")]
    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", *names)]
    before = [(lg, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.disabled = True  # each has its own level from Dask's configuration: disable, not re-level
    try:
        yield
    finally:
        for lg, disabled in before:
            lg.disabled = disabled


def _why(exc: BaseException) -> str:
    """An exception as a short reason (its first line, or its type when it has no message)."""
    text = str(exc).strip().splitlines()
    return (text[0][:200] if text else "") or type(exc).__name__


class _Refused(Exception):
    """The address answered, but not as a Dask scheduler (the message says how)."""


def _sniff_tcp(address: str, timeout_s: float) -> None:
    """Refuse at once what greets first and is not Dask: a Dask comm's first 8 bytes are the
    length of the handshake that follows; an SSH, SMTP or FTP banner is text, an HTTP server
    (the dashboard, port 8787) says nothing until asked, and some servers close at once."""
    import socket

    host, _, port = address[len("tcp://"):].split("/", 1)[0].rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        with socket.create_connection((host, int(port or 8786)), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            first = b""
            while len(first) < 8:
                chunk = sock.recv(8 - len(first))
                if not chunk:
                    break
                first += chunk
    except TimeoutError:
        raise _Refused(f"no Dask handshake within {timeout_s:g} s") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError([f"cannot connect to the Dask scheduler at {address!r}: {_why(exc)}"], "--cluster") from None
    if not first:
        raise _Refused("it closed the connection without a word")
    if len(first) < 8 or not HANDSHAKE_BYTES[0] <= struct.unpack("<Q", first)[0] <= HANDSHAKE_BYTES[1]:
        raise _Refused(f"it greets with {first!r}, not with Dask's handshake")


def _handshake(address: str, timeout_s: float) -> dict[str, Any]:
    """Dask's own connect and handshake, then the ``identity`` request, in a private event loop
    (a thread of its own) bounded by ``timeout_s``; the server's identity (its "type")."""
    from distributed.comm import connect
    from distributed.security import Security

    args = Security().get_connection_args("client")
    if address.startswith(("tls://", "wss://")) and args.get("ssl_context") is None:
        raise ScenarioError([f"--cluster {address}: a {address.split(':')[0]}:// scheduler needs TLS certificates, and "
                             "none are configured for Dask here (distributed.comm.tls.ca-file, .client.cert and "
                             ".client.key in the Dask configuration); use them, or a tcp:// address"], "--cluster")

    async def attempt() -> Any:
        comm = await connect(address, timeout=timeout_s, **args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["identity"] = asyncio.run(asyncio.wait_for(attempt(), timeout_s))
        except BaseException as exc:  # noqa: BLE001 - reported below, in words
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="supportsim-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 1.0)
    if thread.is_alive() or isinstance(outcome.get("error"), (TimeoutError, asyncio.TimeoutError)):
        raise _Refused(f"no Dask handshake within {timeout_s:g} s")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            raise ScenarioError([f"cannot connect to the Dask scheduler at {address!r}: {_why(exc)}"],
                                "--cluster") from None
        raise _Refused(f"Dask's handshake failed ({_why(exc)})")
    identity = outcome.get("identity")
    if not isinstance(identity, dict) or "type" not in identity:
        raise _Refused("it completed a handshake but did not say what it is")
    return identity


def probe_scheduler(address: str, timeout_s: float = CLUSTER_PROBE_S) -> None:
    """Check, within about ``timeout_s`` (twice at most), that ``address`` is a Dask scheduler,
    before a Dask client is made (a client made on anything else waits for its own timeout and
    leaves a traceback from its finaliser). tcp://: the first bytes must be the length prefix of
    Dask's handshake (a banner, silence or a closed connection are refused at once); every
    protocol: Dask's own connect and handshake must complete and the server must call itself a
    Scheduler (a worker's address is refused). A refusal is a :class:`ScenarioError` (exit 2)."""
    hint = " (8786 is the scheduler's usual port, 8787 its dashboard)"
    with _quiet_dask_logs():
        try:
            if address.startswith("tcp://"):
                _sniff_tcp(address, timeout_s)
            identity = _handshake(address, timeout_s)
        except _Refused as exc:
            raise ScenarioError([f"--cluster {address}: not a Dask scheduler: {exc}{hint}"], "--cluster") from None
    if identity.get("type") != "Scheduler":
        raise ScenarioError([f"--cluster {address}: a Dask {identity.get('type')}, not a scheduler; give the "
                             f"scheduler's address{hint}"], "--cluster")


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
