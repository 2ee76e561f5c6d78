"""Values in the exports: the calibration's error, dates, numbers and id matching on Arrow arrays.

Where it sits: the bottom of ``sim.calibrate``: ``csvfile`` (reading) and ``ingest`` (the tables),
``estimate`` and ``write`` use these. :class:`CalibrationError` (a ``ScenarioError``: the CLI
exits 2) names the file, row, column, value and what was expected. Times are hours since 1970
(UTC). Memory helpers (:func:`system_allocator`, :func:`release_free_memory`) keep a million-row
calibration's peak low. No files are read here.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sim.params.scenario import ScenarioError

F = TypeVar("F", bound=Any)
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)  # the running process's C library (for malloc_trim)
except OSError:  # pragma: no cover - platforms without a loadable C library
    _LIBC = None
MAX_SHOWN_CHARS = 60  # a value quoted in a message is cut to this many characters
DATE_FLOOR, DATE_CEILING = "1990-01-01", "2100-01-01"  # plausible dates for a subscription business
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})
# A number with a decimal comma and optional dots between thousands: 49,00  1.234,5  -3
DECIMAL_COMMA = r"^[-+]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$"



class CalibrationError(ScenarioError):
    """Bad calibration input; a ScenarioError, so the CLI exits 2.

    The message is one line per problem, each naming the file (or "command line"), then the row,
    column, value and what was expected.
    """

    def __init__(self, problems: list[str], source: str = "calibration") -> None:
        super().__init__(problems, source)
        ValueError.__init__(self, "\n".join(f"{source}: {p}" for p in problems))


def system_allocator(func: F) -> F:
    """Run ``func`` with Arrow allocating from the C library's malloc (the previous pool is restored after).

    Arrow's default pool (mimalloc or jemalloc) keeps freed memory cached for reuse; reading a
    million-row export block by block then holds ~130 MB more at its peak than it uses
    (bench/bench_calibrate.py: 557 MB against 428 MB). Each buffer is returned to the pool that
    made it, so switching pools is safe; another thread using Arrow meanwhile only allocates from
    malloc too.
    """
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        previous = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            return func(*args, **kwargs)
        finally:
            pa.set_memory_pool(previous)
            release_free_memory()

    return run  # type: ignore[return-value]


def release_free_memory() -> None:
    """Give memory freed by the C library's malloc back to the OS (glibc's ``malloc_trim``; elsewhere a no-op).

    Blocks of a few MB are parsed and dropped one after another; glibc keeps such freed chunks in
    its heap, so without this the peak RSS of a million-row calibration grows by ~100 MB.
    """
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def shown(value: object) -> str:
    """A value quoted in a message: repr (control characters escaped, so one line), cut to a readable length."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 4] + "...'"


def _hours(iso_text: str) -> float:
    return float(np.datetime64(iso_text, "ms").astype(np.int64)) / 3_600_000.0


DATE_FLOOR_H, DATE_CEILING_H = _hours(DATE_FLOOR), _hours(DATE_CEILING)


def row_label(i: int, lines_match: bool) -> str:
    """'row 3 (line 4)' for the 0-based data row ``i`` (the line only when records are one line each)."""
    return f"row {i + 1}" + (f" (line {i + 2})" if lines_match else "")


def _nullable(text: pa.Array) -> pa.Array:
    """Empty strings as nulls, so casts skip them."""
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _parse_dates(text: pa.Array) -> np.ndarray:
    """ISO dates or timestamps -> hours since 1970 (UTC; a time zone offset is honoured); NaN if empty/bad.

    Arrow's ISO 8601 cast first (all values naive, or all with a zone); pandas' ISO 8601 parser for
    anything else (mixed forms, bad values), which marks the bad ones.
    """
    values = _nullable(text)
    for typ in (pa.timestamp("ms"), pa.timestamp("ms", tz="UTC")):
        try:
            ms = pc.cast(values, typ).cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return ms.to_numpy(zero_copy_only=False).astype(np.float64) / 3_600_000.0
    series = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
    stamps = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    ms = stamps.dt.tz_localize(None).to_numpy("datetime64[ms]").view(np.int64)
    out = ms.astype(np.float64) / 3_600_000.0
    out[stamps.isna().to_numpy()] = np.nan
    return out


def parse_date(value: str, *, what: str) -> float:
    """One ISO date from the command line -> hours since 1970, within the plausible range."""
    hours = _parse_dates(pa.array([value.strip()]))[0]
    if not np.isfinite(hours):
        raise CalibrationError([f"{what}: expected an ISO date such as 2024-01-31, got {shown(value)}"],
                               "command line")
    if not DATE_FLOOR_H <= hours < DATE_CEILING_H:
        raise CalibrationError([f"{what}: expected a date from {DATE_FLOOR} to before {DATE_CEILING}, got "
                                f"{shown(value)}"], "command line")
    return float(hours)


def iso(hours: float) -> str:
    """Hours since 1970 -> ISO timestamp (date only at midnight)."""
    stamp = np.datetime64(int(round(hours * 3600)), "s")
    text = str(stamp)
    return text[:10] if text.endswith("T00:00:00") else text


def _to_float(values: pa.Array) -> np.ndarray:
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def _coerce_float(values: pa.Array) -> np.ndarray:
    """Numbers where they parse, NaN elsewhere (the slow path, for blocks with bad values)."""
    return pd.to_numeric(pd.Series(values.to_numpy(zero_copy_only=False), dtype=object),
                         errors="coerce").to_numpy(dtype=np.float64, copy=True)


def _european(values: pa.Array) -> np.ndarray:
    """Decimal-comma numbers (``1.234,5``) -> float; NaN where a value is not written that way."""
    ok = pc.fill_null(pc.match_substring_regex(values, DECIMAL_COMMA), True)
    dotted = pc.replace_substring(pc.replace_substring(values, ".", ""), ",", ".")
    out = _to_float(pc.if_else(ok, dotted, pa.scalar(None, pa.string())))
    return out


def _labels(text: pa.Array) -> np.ndarray:
    """Text with few distinct values (plans, segments, channels) as an object array sharing one str per value."""
    enc = pc.dictionary_encode(text)
    return np.asarray(enc.dictionary.to_pylist(), dtype=object)[enc.indices.to_numpy(zero_copy_only=False)]


def _whole(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def codes(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Integer codes of text values (equal text, equal code; numbered by first appearance)."""
    return pc.dictionary_encode(_whole(text)).indices.to_numpy(zero_copy_only=False).astype(np.int64)


FNV_OFFSET, FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def fingerprints(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit FNV-1a hash of each string, from the Arrow buffers block by block (no Python object per value;
    about 8 bytes per row where Arrow's hash kernels hold several hundred MB for millions of ids)."""
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    out = np.empty(len(text), np.uint64)
    at = 0
    for chunk in chunks:
        chunk = chunk.cast(pa.large_string()) if chunk.type != pa.large_string() else chunk
        n = len(chunk)
        if n == 0:
            continue
        _, offsets, data = chunk.buffers()
        off = np.frombuffer(offsets, np.int64)[chunk.offset: chunk.offset + n + 1]
        raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(1, np.uint8)
        length = np.diff(off)
        h = np.full(n, FNV_OFFSET, np.uint64)
        with np.errstate(over="ignore"):
            for j in range(int(length.max(initial=0))):
                live = length > j
                byte = raw[np.minimum(off[:-1] + j, len(raw) - 1)].astype(np.uint64)
                h = np.where(live, (h ^ byte) * FNV_PRIME, h)
            h = (h ^ length.astype(np.uint64)) * FNV_PRIME
        out[at: at + n] = h
        at += n
    return out


def repeats(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a value repeats an earlier row's. Candidates share a 64-bit fingerprint; only they are compared
    as text, so a hash collision can never make two different ids a repeat."""
    h = fingerprints(text)
    order = np.argsort(h, kind="stable")
    same = h[order][1:] == h[order][:-1]
    if not same.any():  # the usual case
        return np.zeros(len(text), bool)
    rows = np.unique(np.concatenate([order[1:][same], order[:-1][same]]))
    values = _whole(text).take(pa.array(rows)).to_pylist()
    out = np.zeros(len(text), bool)
    seen: set[str] = set()
    for i, v in zip(rows.tolist(), values):  # rows in file order: the first of equal values is not a repeat
        if v in seen:
            out[i] = True
        seen.add(v)
    return out


def match_ids(values: pa.Array | pa.ChunkedArray, keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (-1 where absent)."""
    found = pc.fill_null(pc.index_in(values, value_set=_whole(keys)), -1)
    return found.to_numpy() if isinstance(found, pa.ChunkedArray) else found.to_numpy(zero_copy_only=False)
