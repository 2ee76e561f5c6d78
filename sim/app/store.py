"""The app's caches: finished runs and drawn figures, in memory and in a private, signed,
bounded folder on disk.

Where it sits: under :mod:`sim.app.progressive` (runs) and :mod:`sim.app.drawing` (figures).
One key scheme (:func:`entry_key`: the package's source, the kind of entry and what it
depends on) and one file format for everything kept on disk, so a freshly started server
answers at once for settings run before. Nothing read from disk is ever executed: an entry
is JSON (runs) or PNG (figures) inside a sealed envelope, and it is used only if

- the folder is the user's own and private (owner = this user, no group or other
  permissions, not a symbolic link), checked on every use;
- its HMAC, under a secret key kept in that folder (created 0600), is right: a file
  planted by anyone who could write the folder, or copied from another user, is refused;
- its format version, kind and name are the ones asked for;
- its content passes the checks of its kind: a run has exactly the columns and dtypes the
  model makes, finite numbers (NaN where the model has none) and the replication asked
  for; a figure is a PNG that decodes.

A refused entry is logged, deleted and recomputed; an unsafe folder is logged and the app
runs without a disk cache. Writes are atomic (temporary file, then rename); the folder is
capped (``SUPPORTSIM_APP_CACHE_MB``) by deleting the least recently used entries, and
temporary files left by a killed server are removed. Streamlit is imported lazily, for the
in-memory cache only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import io
import json
import logging
import math
import os
import secrets
import stat
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from PIL import Image

from sim.params.schema import Params
from sim.runs.experiment import Job, run_job_tables

log = logging.getLogger(__name__)

FORMAT = 1  # version of the envelope and of what it holds: bump when either changes
MAGIC = b"supportsim-app-cache\n"
PACKAGE = Path(__file__).resolve().parents[1]

Run = tuple[pd.DataFrame, pd.DataFrame]  # one (policy, replication): monthly rows, segment rows


# ---------------------------------------------------------------- one key scheme


@cache
def source_fingerprint() -> str:
    """Hash of every source file of the ``sim`` package (names and contents), computed once:
    an entry made by other code is never reused, with no list of files to keep by hand."""
    h = hashlib.sha256()
    for f in sorted(PACKAGE.rglob("*.py")):
        h.update(f.relative_to(PACKAGE).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def entry_key(kind: str, *parts: Any) -> str:
    """The key of an entry of ``kind`` (run, figure, analysis…) made from ``parts``: a hash
    of the cache format, the package's source and the parts (JSON)."""
    blob = json.dumps([FORMAT, source_fingerprint(), kind, *parts], sort_keys=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------- in memory


class ReplicationCache(Protocol):
    """Finished runs (a policy's monthly rows and segment rows in one replication) by key."""

    def get(self, key: str, replication: int) -> Any | None: ...

    def put(self, key: str, replication: int, table: Any) -> None: ...


class DictCache:
    """An in-memory :class:`ReplicationCache` (tests, benchmarks)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, int], Any] = {}

    def get(self, key: str, replication: int) -> Any | None:
        return self.tables.get((key, replication))

    def put(self, key: str, replication: int, table: Any) -> None:
        self.tables[(key, replication)] = table


class LayeredCache:
    """Look in each cache in turn; a hit in a later one is copied to the earlier ones."""

    def __init__(self, *caches: ReplicationCache) -> None:
        self.caches = caches

    def get(self, key: str, replication: int) -> Any | None:
        for i, c in enumerate(self.caches):
            hit = c.get(key, replication)
            if hit is not None:
                for earlier in self.caches[:i]:
                    earlier.put(key, replication, hit)
                return hit
        return None

    def put(self, key: str, replication: int, table: Any) -> None:
        for c in self.caches:
            c.put(key, replication, table)


class _Missing(Exception):
    """Cache miss signal: st.cache_data does not store a call that raises."""


@cache
def _streamlit_store() -> Callable[..., Any]:
    import streamlit as st

    @st.cache_data(max_entries=2000, show_spinner=False)
    def replication_table(key: str, replication: int, _table: Any = None) -> Any:
        # Called without _table: a hit returns the stored table, a miss raises (nothing stored).
        # Called with _table after computing it: a miss stores it.
        if _table is None:
            raise _Missing
        return _table

    return replication_table


class StreamlitCache:
    """:class:`ReplicationCache` on ``st.cache_data`` (the server's memory): shared by every
    session of the server; also holds the tabs' analyses (replication 0)."""

    def get(self, key: str, replication: int) -> Any | None:
        try:
            return _streamlit_store()(key, replication)
        except _Missing:
            return None

    def put(self, key: str, replication: int, table: Any) -> None:
        _streamlit_store()(key, replication, _table=table)

    @staticmethod
    def clear() -> None:
        _streamlit_store().clear()


# ---------------------------------------------------------------- the private folder


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/supportsim/app`` (``~/.cache/supportsim/app``): the user's own."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "supportsim" / "app"


DEFAULT_MB = 256


def cache_mb() -> float:
    """The disk cache's cap in MB (``SUPPORTSIM_APP_CACHE_MB``, default :data:`DEFAULT_MB`)."""
    raw = os.environ.get("SUPPORTSIM_APP_CACHE_MB")
    try:
        mb = float(raw) if raw else DEFAULT_MB
    except ValueError:
        mb = DEFAULT_MB
    return mb if math.isfinite(mb) and mb >= 0 else DEFAULT_MB


class BadEntry(Exception):
    """An entry that must not be used (the message says why)."""


KEY_FILE = "secret.key"
KEY_BYTES = 32
STALE_TMP_S = 600.0  # a temporary file older than this was left by a killed writer
_WARNED: set[str] = set()
_LOCK = threading.Lock()


def _warn_once(message: str) -> None:
    with _LOCK:
        if message in _WARNED:
            return
        _WARNED.add(message)
    log.warning(message)


def _private(st_: os.stat_result) -> str | None:
    """Why a folder or file is not private to this user, or None."""
    if st_.st_uid != os.getuid():
        return f"it is owned by uid {st_.st_uid}, not by this user (uid {os.getuid()})"
    if stat.S_IMODE(st_.st_mode) & 0o077:
        return f"its mode {stat.S_IMODE(st_.st_mode):04o} lets others in (expected no group or other permissions)"
    return None


class DiskStore:
    """Sealed entries in a private folder, capped in size (least recently used go first).

    Every use opens the folder without following links and checks that it belongs to this
    user with no group or other permissions; all file operations are relative to that open
    folder, so it cannot be swapped for another one between the check and the use.
    """

    def __init__(self, folder: Path, *, max_bytes: int | None = None) -> None:
        self.folder = Path(folder)
        self.max_bytes = int(cache_mb() * 2**20) if max_bytes is None else max_bytes
        self._written = 0  # bytes written since the last size check
        self._size: int | None = None  # the folder's size at the last check

    # ------------------------------------------------ the folder and its key

    @contextlib.contextmanager
    def _opened(self) -> Iterator[int | None]:
        """The folder's descriptor once checked private (created 0700 if missing), else None."""
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.folder, 0o700)
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as exc:
            why = "a symbolic link" if exc.errno in (errno.ELOOP, errno.ENOTDIR) else exc.strerror
            _warn_once(f"app cache {self.folder} not used ({why}): running without a disk cache")
            yield None
            return
        try:
            why = _private(os.fstat(fd))
            if why:
                _warn_once(f"app cache {self.folder} not used: {why}; running without a disk cache "
                           "(use a folder only you can read and write, or SUPPORTSIM_APP_CACHE=)")
                yield None
            else:
                yield fd
        finally:
            os.close(fd)

    def _secret(self, fd: int) -> bytes | None:
        """The folder's secret key (made at first use: random, 0600), or None if it is not safe."""
        for _ in range(2):
            try:
                kfd = os.open(KEY_FILE, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                self._make_secret(fd)
                continue
            except OSError as exc:
                _warn_once(f"app cache key {self.folder / KEY_FILE} unreadable ({exc.strerror}): no disk cache")
                return None
            try:
                st_ = os.fstat(kfd)
                why = _private(st_) or (None if stat.S_ISREG(st_.st_mode) and st_.st_size == KEY_BYTES
                                        else "not a key file")
                key = os.read(kfd, KEY_BYTES + 1)
            finally:
                os.close(kfd)
            if why or len(key) != KEY_BYTES:
                _warn_once(f"app cache key {self.folder / KEY_FILE} not used: {why or 'wrong size'}; no disk cache")
                return None
            return key
        return None

    def _make_secret(self, fd: int) -> None:
        """Write a new key under a temporary name, then link it into place: a key file is
        either absent or complete, and of two servers starting at once, one key wins."""
        tmp = f".key.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            kfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
            try:
                os.write(kfd, secrets.token_bytes(KEY_BYTES))
            finally:
                os.close(kfd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, KEY_FILE, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)

    # ------------------------------------------------ entries

    @staticmethod
    def _seal(key: bytes, kind: str, name: str, payload: bytes) -> bytes:
        head = json.dumps({"format": FORMAT, "kind": kind, "name": name, "size": len(payload)},
                          sort_keys=True).encode()
        body = head + b"\n" + payload
        return MAGIC + hmac.new(key, body, hashlib.sha256).digest() + body

    @staticmethod
    def _unseal(key: bytes, kind: str, name: str, data: bytes) -> bytes:
        if not data.startswith(MAGIC):
            raise BadEntry("not a supportsim cache entry")
        mac, body = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
            raise BadEntry("its signature does not match (planted, foreign or damaged)")
        head, _, payload = body.partition(b"\n")
        meta = json.loads(head)
        if not isinstance(meta, dict):
            raise BadEntry("no header")
        if meta.get("format") != FORMAT:
            raise BadEntry(f"format {meta.get('format')!r}, expected {FORMAT}")
        if meta.get("kind") != kind or meta.get("name") != name or meta.get("size") != len(payload):
            raise BadEntry("it holds another entry")
        return payload

    def read(self, kind: str, name: str, check: Callable[[bytes], Any]) -> Any | None:
        """Entry ``name`` of ``kind`` as ``check(payload)`` returns it, or None: missing, or
        refused (logged and deleted) if its seal or ``check`` fails. A hit is marked used."""
        with self._opened() as fd:
            if fd is None:
                return None
            key = self._secret(fd)
            if key is None:
                return None
            file = f"{name}.{kind}"
            try:
                efd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                self._refuse(fd, file, exc.strerror or "unreadable")
                return None
            try:
                st_ = os.fstat(efd)
                if not stat.S_ISREG(st_.st_mode) or st_.st_size > max(self.max_bytes, 2**20):
                    raise BadEntry("not a regular file of a plausible size")
                with os.fdopen(os.dup(efd), "rb") as f:
                    data = f.read()
                value = check(self._unseal(key, kind, name, data))
            except Exception as exc:  # noqa: BLE001 - whatever is wrong with an entry, it is not used
                self._refuse(fd, file, str(exc) or type(exc).__name__)
                return None
            finally:
                os.close(efd)
            with contextlib.suppress(OSError):
                os.utime(file, dir_fd=fd, follow_symlinks=False)  # least recently used goes first
            return value

    def _refuse(self, fd: int, file: str, why: str) -> None:
        log.warning("app cache entry %s refused and deleted (%s): it is recomputed", self.folder / file, why)
        with contextlib.suppress(OSError):
            os.unlink(file, dir_fd=fd)

    def write(self, kind: str, name: str, payload: bytes) -> None:
        """Keep ``payload`` as entry ``name`` of ``kind`` (atomically; a full or read-only disk only
        costs speed), then trim the folder to its cap."""
        with self._opened() as fd:
            if fd is None:
                return
            key = self._secret(fd)
            if key is None:
                return
            data = self._seal(key, kind, name, payload)
            tmp = f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            try:
                tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
                try:
                    with os.fdopen(os.dup(tfd), "wb") as f:
                        f.write(data)
                finally:
                    os.close(tfd)
                os.replace(tmp, f"{name}.{kind}", src_dir_fd=fd, dst_dir_fd=fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                return
            self._written += len(data)
            if self._size is None or self._size + self._written > self.max_bytes:
                self.trim(fd)

    def trim(self, fd: int) -> None:
        """Delete temporary files left by killed writers, then the least recently used entries
        until the folder is under its cap (to 90% of it, so that trimming is not done per write)."""
        now = time.time()
        entries = []
        with os.scandir(fd) as it:
            for e in it:
                if e.name == KEY_FILE or not e.is_file(follow_symlinks=False):
                    continue
                try:
                    st_ = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.name.endswith(".tmp"):
                    if now - st_.st_mtime > STALE_TMP_S:
                        with contextlib.suppress(OSError):
                            os.unlink(e.name, dir_fd=fd)
                    continue
                entries.append((st_.st_mtime, st_.st_size, e.name))
        total = sum(size for _, size, _ in entries)
        if total > self.max_bytes:
            for _, size, name in sorted(entries):
                if total <= 0.9 * self.max_bytes:
                    break
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
                    total -= size
        self._size, self._written = total, 0


# ---------------------------------------------------------------- what an entry holds

_MAX_PAYLOAD = 16 * 2**20  # a run's JSON is tens to hundreds of kB: anything near this is not ours


@cache
def run_schema() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The (column, dtype) pairs of a run's monthly rows and segment rows, as the model makes
    them here: from a one-customer, one-month run (milliseconds, once per process)."""
    params = Params()
    params = params.model_copy(update={"customers": params.customers.model_copy(update={"initial": 1})})
    monthly, segments = run_job_tables(Job("schema", 0, params, 1, 0))
    return tuple((c, str(t)) for c, t in monthly.dtypes.items()), tuple((c, str(t)) for c, t in segments.dtypes.items())


def _columns(df: pd.DataFrame) -> list[list[Any]]:
    return [[str(c), str(df[c].dtype), df[c].tolist()] for c in df.columns]


def encode_run(run: Run) -> bytes:
    """A run as compressed JSON: per table, its columns as [name, dtype, values]."""
    return zlib.compress(json.dumps([_columns(run[0]), _columns(run[1])], allow_nan=True).encode(), 1)


def _no_infinity(name: str) -> float:
    if name == "NaN":
        return math.nan
    raise BadEntry(f"a non-finite number ({name})")


_TYPES = {"int64": (int,), "float64": (float,), "str": (str,)}


def _table(columns: Any, schema: tuple[tuple[str, str], ...], replication: int) -> pd.DataFrame:
    shape = [(c[0], c[1]) if isinstance(c, list) and len(c) == 3 else None for c in columns] \
        if isinstance(columns, list) else None
    if shape != list(schema):
        raise BadEntry("its columns or dtypes are not those of a run")
    n = len(columns[0][2]) if columns else 0
    out: dict[str, Any] = {}
    for name, dtype, values in columns:
        kinds = _TYPES[dtype]
        if not isinstance(values, list) or len(values) != n or not all(type(v) in kinds for v in values):
            raise BadEntry(f"column {name} does not hold {n} values of type {dtype}")
        out[name] = pd.array(values, dtype="str") if dtype == "str" else np.array(values, dtype=dtype)
    df = pd.DataFrame(out)
    if "replication" in df and not (df["replication"] == replication).all():
        raise BadEntry("it is another replication")
    return df


def decode_run(payload: bytes, replication: int) -> Run:
    """A run from :func:`encode_run`'s bytes, checked against :func:`run_schema` (BadEntry if not)."""
    inflate = zlib.decompressobj()
    raw = inflate.decompress(payload, _MAX_PAYLOAD)
    if inflate.unconsumed_tail or not inflate.eof:
        raise BadEntry("its data is incomplete or far larger than a run's")
    tables = json.loads(raw, parse_constant=_no_infinity)
    if not isinstance(tables, list) or len(tables) != 2:
        raise BadEntry("not two tables")
    monthly_schema, segment_schema = run_schema()
    monthly = _table(tables[0], monthly_schema, replication)
    segments = _table(tables[1], segment_schema, replication)
    if list(monthly["month"]) != list(range(len(monthly))) or monthly["policy"].nunique() != 1:
        raise BadEntry("its months or policy are not those of one run")
    return monthly, segments


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(payload: bytes) -> bytes:
    """``payload`` if it is a PNG that decodes (BadEntry if not)."""
    if not payload.startswith(PNG_SIGNATURE):
        raise BadEntry("not a PNG")
    try:
        with Image.open(io.BytesIO(payload), formats=["PNG"]) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001 - whatever the decoder says, the image is not used
        raise BadEntry(f"a PNG that does not decode ({exc})") from None
    return payload


class DiskCache:
    """A :class:`ReplicationCache` of runs in a :class:`DiskStore` (one sealed JSON entry per
    policy and replication), so a freshly started server answers at once for settings run before."""

    def __init__(self, store: DiskStore | Path) -> None:
        self.store = store if isinstance(store, DiskStore) else DiskStore(store)

    def get(self, key: str, replication: int) -> Run | None:
        return self.store.read("run", f"{key}-{replication}", lambda p: decode_run(p, replication))

    def put(self, key: str, replication: int, table: Run) -> None:
        self.store.write("run", f"{key}-{replication}", encode_run(table))


def disk_store() -> DiskStore | None:
    """The app's disk cache (``SUPPORTSIM_APP_CACHE``; default :func:`default_folder`; empty:
    none), capped at ``SUPPORTSIM_APP_CACHE_MB``: one store per folder and cap, so that its
    size is checked once, then kept up to date as it is written."""
    folder = os.environ.get("SUPPORTSIM_APP_CACHE")
    if folder == "":
        return None
    return _disk_store(str(Path(folder) if folder else default_folder()), int(cache_mb() * 2**20))


@cache
def _disk_store(folder: str, max_bytes: int) -> DiskStore:
    return DiskStore(Path(folder), max_bytes=max_bytes)


def app_cache() -> ReplicationCache:
    """The page's run cache: the server's memory, then the disk cache, if any."""
    store = disk_store()
    return LayeredCache(StreamlitCache(), DiskCache(store)) if store is not None else StreamlitCache()
