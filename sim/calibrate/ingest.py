"""Read and check the two CSV exports (customers.csv, tickets.csv) into typed tables.

Where it sits: company exports -> **ingest** -> ``estimate`` -> ``write``. Only regular files are
read (a FIFO, a device such as ``/dev/zero`` or a socket is refused before anything is read), up
to :data:`MAX_CSV_BYTES`. The delimiter (comma, semicolon or tab) is detected from the header row;
columns are matched by name (accepted aliases below); every value is parsed by the column's kind
(decimal commas are read in semicolon- or tab-separated files, and said so). Dates must lie in
[:data:`DATE_FLOOR`, :data:`DATE_CEILING`); a cancel date on or after the ceiling (``9999-12-31``
and other "never" markers) means "still active" and is noted. Every problem names the file, row,
column, the value and what was expected (:class:`CalibrationError`, a :class:`ScenarioError`, so
the CLI exits 2). Times become hours since 1970 (UTC). Parsing runs on Apache Arrow arrays (the
CSV reader pandas uses too), so a million rows take about a second and no Python object per
value. No estimates, no printing, no files written here.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import ctypes
import functools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from sim.calibrate import fits as sbg
from sim.params.scenario import ScenarioError

F = TypeVar("F", bound=Any)
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)  # the running process's C library (for malloc_trim)
except OSError:  # pragma: no cover - platforms without a loadable C library
    _LIBC = None
MAX_LISTED = 5  # bad rows listed per problem; the rest are counted
MAX_CSV_BYTES = 512 * 2**20  # per file: ~7M tickets; the calibration holds a file in memory about once
HEAD_BYTES = 64 * 1024  # the header row must fit in this
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
DATE_FLOOR, DATE_CEILING = "1990-01-01", "2100-01-01"  # plausible dates for a subscription business
MAX_SHOWN_CHARS = 60  # a value quoted in a message is cut to this many characters
MAX_COHORT_CUSTOMERS = 1e9  # survivor counts above this are a typo, not a cohort
MAX_COHORT_PERIODS = 1000


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


# ----------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One expected column: canonical name, accepted header aliases, kind and whether required."""

    name: str
    aliases: tuple[str, ...]
    kind: Literal["id", "text", "date", "number", "bool"]
    required: bool
    expect: str


CUSTOMER_COLUMNS = (
    Column("customer_id", ("customer_id", "customer", "id", "customerid", "account_id", "account", "client_id"),
           "id", True, "a customer id"),
    Column("signup_date", ("signup_date", "signup", "signed_up", "signed_up_at", "signup_at", "start_date",
                           "started_at", "created_at", "subscribed_at", "subscription_start"),
           "date", True, "an ISO date such as 2024-01-31 or 2024-01-31T14:05:00"),
    Column("cancel_date", ("cancel_date", "cancelled_at", "canceled_at", "cancellation_date", "cancelled",
                           "canceled", "churn_date", "churned_at", "end_date", "ended_at"),
           "date", True, "an ISO date such as 2024-01-31, or empty if the customer is active"),
    Column("plan", ("plan", "plan_name", "tier", "product", "subscription_plan"), "text", True, "a plan name"),
    Column("monthly_revenue_usd", ("monthly_revenue_usd", "monthly_revenue", "mrr", "mrr_usd", "revenue",
                                   "revenue_usd", "monthly_price", "price", "price_usd"),
           "number", True, "a plain non-negative number such as 49.00"),
    Column("segment", ("segment", "segment_name", "customer_segment"), "text", False, "a segment name"),
    Column("vip", ("vip", "is_vip"), "bool", False, "true/false, yes/no or 1/0"),
    Column("big_name", ("big_name", "is_big_name", "known_brand"), "bool", False, "true/false, yes/no or 1/0"),
    Column("funding_usd", ("funding_usd", "funding", "total_funding", "total_funding_usd"),
           "number", False, "a plain non-negative number"),
)

TICKET_COLUMNS = (
    Column("ticket_id", ("ticket_id", "ticket", "id", "ticketid", "case_id"), "id", True, "a ticket id"),
    Column("customer_id", ("customer_id", "customer", "customerid", "account_id", "account", "requester_id",
                           "client_id"), "id", True, "the id of a customer"),
    Column("opened", ("opened", "opened_at", "created", "created_at", "submitted_at", "received_at"),
           "date", True, "an ISO timestamp such as 2024-01-31T14:05:00"),
    Column("first_response", ("first_response", "first_response_at", "first_reply", "first_reply_at",
                              "responded_at", "answered_at"),
           "date", True, "an ISO timestamp, or empty if never answered"),
    Column("resolved", ("resolved", "resolved_at", "closed", "closed_at", "solved_at"),
           "date", True, "an ISO timestamp, or empty if not resolved"),
    Column("channel", ("channel", "via", "source"), "text", False, "a channel name"),
    Column("fee_usd", ("fee_usd", "fee", "fee_charged", "fee_charged_usd", "charged_usd"),
           "number", False, "a plain non-negative number (0 if free)"),
    Column("satisfaction", ("satisfaction", "satisfaction_score", "csat", "csat_score", "rating", "score"),
           "number", False, "a score on a 1-5 or 0-10 scale"),
    Column("handle_time_h", ("handle_time_h", "handle_h", "agent_time_h", "handle_hours"),
           "number", False, "agent hours spent on the ticket"),
)

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})
# A number with a decimal comma and optional dots between thousands: 49,00  1.234,5  -3
DECIMAL_COMMA = r"^[-+]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$"


def _normalise(header: str) -> str:
    return header.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


@dataclass
class _Raw:
    """A CSV file parsed column by column: canonical name -> parsed values, and where a value was empty."""

    source: str
    rows: int
    values: dict[str, Any]  # np.ndarray, or an Arrow string array for ids
    empty: dict[str, np.ndarray]
    headers: dict[str, str]  # canonical name -> header as written in the file
    lines_match: bool  # every record is one line: row i is on line i + 1
    notes: list[str] = field(default_factory=list)


def _open_regular(path: str | Path, what: str) -> tuple[BinaryIO, int]:
    """Open a regular file for reading; refuse folders, FIFOs, devices, sockets and files over the limit.

    Opened non-blocking so that a FIFO cannot block the open itself; the type is checked on the
    open descriptor, so the file checked is the file read.
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CalibrationError([f"cannot read {what} file: no such file"], source) from None
    except IsADirectoryError:
        raise CalibrationError([f"cannot read {what} file: it is a folder"], source) from None
    except PermissionError:
        raise CalibrationError([f"cannot read {what} file: permission denied"], source) from None
    except (OSError, ValueError) as exc:
        raise CalibrationError([f"cannot read {what} file: {getattr(exc, 'strerror', None) or exc}"], source) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise CalibrationError([f"cannot read {what} file: it is a folder"], source)
        if not stat.S_ISREG(st.st_mode):
            raise CalibrationError([f"cannot read {what} file: not a regular file (a FIFO, device or socket); "
                                    "save the export to a file first"], source)
        if st.st_size > MAX_CSV_BYTES:
            raise CalibrationError([f"{what} file is {st.st_size / 2**20:,.0f} MiB; the limit is "
                                    f"{MAX_CSV_BYTES / 2**20:,.0f} MiB"], source)
        if st.st_size == 0:
            raise CalibrationError([f"{what} file is empty: expected a header row and data rows"], source)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb"), st.st_size


def _utf8_problem(fh: BinaryIO) -> str | None:
    """Where the file stops being UTF-8 text (byte offset and line), or None if it is UTF-8."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    while chunk := fh.read(1 << 22):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at, at_line = offset + exc.start, line + chunk[: exc.start].count(b"\n")
            return f"byte {at:,}, line {at_line:,}"
        offset += len(chunk)
        line += chunk.count(b"\n")
    return None


def _line_count(fh: BinaryIO, size: int) -> int:
    """Lines in the file (a last line without a newline counts)."""
    fh.seek(0)
    newlines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 22), b""))
    fh.seek(size - 1)
    return newlines + (fh.read(1) != b"\n")


def _sniff(line: str, spec: tuple[Column, ...]) -> tuple[str, list[str]]:
    """The delimiter (comma, semicolon or tab) under which the header names the most expected columns."""
    known = {a for col in spec for a in col.aliases}
    best: tuple[int, bool, str, list[str]] | None = None
    for d in DELIMITERS:
        try:
            cells = next(csv.reader([line], delimiter=d))
        except csv.Error:  # e.g. a stray control character: then no column matches under this delimiter
            cells = line.split(d)
        score = (sum(_normalise(c) in known for c in cells), d == ",")
        if best is None or score > best[:2]:
            best = (*score, d, cells)
    assert best is not None
    return best[2], best[3]


def _match_columns(cells: list[str], spec: tuple[Column, ...], delimiter: str, source: str) -> dict[str, int]:
    """Canonical column name -> index in the header; missing or ambiguous columns are errors."""
    found: dict[str, list[int]] = {}
    for i, header in enumerate(cells):
        norm = _normalise(header)
        for col in spec:
            if norm in col.aliases:
                found.setdefault(col.name, []).append(i)
                break
    problems = []
    for col in spec:
        hits = found.get(col.name, [])
        if len(hits) > 1:
            problems.append(f"columns {', '.join(shown(cells[h]) for h in hits)} all mean '{col.name}': keep one")
        elif not hits and col.required:
            problems.append(
                f"missing column '{col.name}' ({col.expect}); accepted names: {', '.join(col.aliases)}; "
                f"columns found ({DELIMITERS[delimiter]}-separated): "
                f"{', '.join(shown(c) for c in cells[:30]) or 'none'}"
            )
    if problems:
        raise CalibrationError(problems, source)
    return {name: hits[0] for name, hits in found.items()}


def _header(fh: BinaryIO, what: str, source: str) -> str:
    """The first line of the file, decoded (the header row)."""
    head = fh.read(HEAD_BYTES)
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]  # '\r' alone ends lines in old exports
    end = min(ends) if ends else -1
    if end < 0 and len(head) == HEAD_BYTES:
        raise CalibrationError([f"the first line of the {what} file is longer than {HEAD_BYTES // 1024} kB: "
                                "expected a header row"], source)
    first = head[: end if end >= 0 else len(head)].rstrip(b"\r")
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalibrationError([f"{what} file is not UTF-8 text (byte {exc.start:,}, line 1)"], source) from None
    if not line.strip():
        raise CalibrationError([f"the first line of the {what} file is empty: expected a header row"], source)
    return line


def _read_csv(path: str | Path, spec: tuple[Column, ...], what: str) -> _Raw:
    """Read the columns of ``spec`` in blocks, parsing each block at once: only one block of text is held."""
    source = str(path)
    fh, size = _open_regular(path, what)
    with fh:
        delimiter, cells = _sniff(_header(fh, what, source), spec)
        index = _match_columns(cells, spec, delimiter, source)
        lines = _line_count(fh, size)
        names = [f"c{i}" for i in range(len(cells))]
        headers = {name: cells[i] for name, i in index.items()}
        problems = _Problems(source, headers)
        capacity = max(lines - 1, 0)  # rows <= lines - 1: parsed columns are filled in place, never concatenated
        readers = {col.name: _ColumnReader(col, headers[col.name], delimiter, problems, capacity)
                   for col in spec if col.name in index}
        bad: list[tuple[int | None, int, int]] = []
        count = [0]

        def on_bad_row(row: pv.InvalidRow) -> str:
            count[0] += 1
            if len(bad) < MAX_LISTED:
                bad.append((row.number, row.actual_columns, row.expected_columns))
            return "skip"

        def read(threads: bool) -> int:
            fh.seek(0)
            used = [names[i] for i in index.values()]
            reader = pv.open_csv(
                fh,
                read_options=pv.ReadOptions(use_threads=threads, column_names=names, skip_rows=1,
                                            block_size=1 << 21),
                parse_options=pv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              invalid_row_handler=on_bad_row),
                convert_options=pv.ConvertOptions(column_types=dict.fromkeys(used, pa.string()),
                                                  include_columns=used, strings_can_be_null=False,
                                                  quoted_strings_can_be_null=False),
            )
            rows = 0
            for n, batch in enumerate(reader):
                for name, i in index.items():
                    readers[name].add(_trimmed(batch.column(names[i])), rows)
                rows += batch.num_rows
                if n % 8 == 7:
                    release_free_memory()  # the parsed blocks' text and temporaries (see release_free_memory)
            return rows

        try:
            rows = read(True)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                where = _utf8_problem(fh) or "somewhere"
                raise CalibrationError([f"{what} file is not UTF-8 text ({where}): save it as UTF-8"],
                                       source) from None
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CalibrationError([f"cannot read {what} file as {DELIMITERS[delimiter]}-separated values: "
                                    f"{shown(message)}"], source) from None
        if bad:
            if any(number is None for number, _, _ in bad):  # row numbers are known when read single-threaded
                bad.clear()
                count[0] = 0
                with contextlib.suppress(pa.ArrowInvalid):
                    read(False)
            lines_out = [f"row {n - 1 if n is not None else '?'}: {got} fields where the header has {want}"
                         + (" (a missing field, or a quote never closed?)" if got < want else "")
                         for n, got, want in bad]
            if count[0] > len(bad):
                lines_out.append(f"... and {count[0] - len(bad):,} more rows with the wrong number of fields")
            raise CalibrationError(lines_out, source)
    if rows == 0:
        raise CalibrationError([f"{what} file has a header but no data rows"], source)
    problems.lines_match = lines == rows + 1
    notes = [f"{Path(source).name} read as {DELIMITERS[delimiter]}-separated values"] if delimiter != "," else []
    values, empty = {}, {}
    for name, reader in readers.items():
        values[name], empty[name] = reader.result()
        notes += reader.notes(Path(source).name, problems.lines_match)
    problems.raise_if_any()
    return _Raw(source, rows, values, empty, headers, problems.lines_match, notes)


def _trimmed(text: pa.Array) -> pa.Array:
    """Surrounding whitespace stripped (the block's text is kept when no value had any)."""
    trimmed = pc.utf8_trim_whitespace(text)
    return trimmed if _text_bytes(trimmed) != _text_bytes(text) else text


def _text_bytes(text: pa.Array) -> int:
    """Bytes of text in a string array (lengths come from its offsets: no pass over the text)."""
    return pc.sum(pc.binary_length(text)).as_py() or 0


class _Problems:
    """Collects row-level problems, a few listed per column and kind, so one error names them all."""

    def __init__(self, source: str, headers: dict[str, str], lines_match: bool = True) -> None:
        self.source = source
        self.headers = headers
        self.lines_match = lines_match
        self.found: dict[tuple[str, str], tuple[list[tuple[int, str]], list[int]]] = {}

    def rows(self, mask: np.ndarray, column: str, expected: str, *, values: Any = None, offset: int = 0) -> None:
        """Rows where ``mask`` is true are bad (``values[i]`` shown if given; ``offset``: rows before this block)."""
        bad = np.flatnonzero(mask)
        if not len(bad):
            return
        listed, total = self.found.setdefault((column, expected), ([], [0]))
        for i in bad[: MAX_LISTED - len(listed)]:
            value = values[int(i)] if values is not None else None
            value = value.as_py() if isinstance(value, pa.Scalar) else value
            listed.append((offset + int(i), f", got {shown(value)}" if values is not None else ""))
        total[0] += len(bad)

    def raise_if_any(self) -> None:
        lines = []
        for (column, expected), (listed, total) in self.found.items():
            header = shown(self.headers.get(column, column))
            lines += [f"{row_label(i, self.lines_match)}, column {header}: expected {expected}{got}"
                      for i, got in listed]
            if total[0] > len(listed):
                lines.append(f"... and {total[0] - len(listed):,} more rows with a bad {header}")
        if lines:
            raise CalibrationError(lines, self.source)


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


def repeats(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a value repeats an earlier row's (codes count up by first appearance)."""
    if pc.count_distinct(text).as_py() == len(text):  # the usual case, without building codes
        return np.zeros(len(text), bool)
    c = codes(text)
    earlier_max = np.maximum.accumulate(np.r_[-1, c[:-1]])
    return c <= earlier_max


def match_ids(values: pa.Array | pa.ChunkedArray, keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (-1 where absent)."""
    found = pc.fill_null(pc.index_in(values, value_set=_whole(keys)), -1)
    return found.to_numpy() if isinstance(found, pa.ChunkedArray) else found.to_numpy(zero_copy_only=False)


class _ColumnReader:
    """Parses one column block by block by its kind; row problems go to the shared :class:`_Problems`."""

    def __init__(self, col: Column, header: str, delimiter: str, problems: _Problems, capacity: int) -> None:
        self.col, self.header, self.delimiter, self.problems = col, header, delimiter, problems
        self.parts: list[pa.Array] = []  # ids stay Arrow text, in blocks
        kind = {"text": object, "bool": bool}.get(col.kind, np.float64)
        self.values = np.empty(capacity if col.kind != "id" else 0, dtype=kind)
        self.empty = np.empty(capacity, dtype=bool)
        self.rows = 0
        self.decimal_comma = False  # a block needed decimal commas: the whole column is read that way
        self.dotted_before = False  # a block read before that had a decimal point: the column mixes both
        self.never: list[tuple[int, str]] = []  # cancel dates read as 'never': (row, text), first few
        self.never_count = 0

    def add(self, text: pa.Array, offset: int) -> None:
        col, p = self.col, self.problems
        empty = pc.equal(text, "").to_numpy(zero_copy_only=False)
        span = slice(offset, offset + len(text))
        if span.stop > len(self.empty):  # more rows than lines ('\r'-only line ends): grow
            size = max(span.stop, 2 * len(self.empty))
            self.empty = np.resize(self.empty, size)
            if col.kind != "id":
                self.values = np.resize(self.values, size)
        self.empty[span] = empty
        self.rows = span.stop
        if col.kind == "id":
            self.parts.append(text)
        elif col.kind == "text":
            self.values[span] = _labels(text)
        elif col.kind == "date":
            self.values[span] = self._dates(text, empty, offset)
        elif col.kind == "number":
            self.values[span] = self._numbers(text, empty, offset)
        else:
            lower = pc.utf8_lower(text)
            truth = pc.is_in(lower, value_set=pa.array(sorted(TRUE_WORDS))).to_numpy(zero_copy_only=False)
            false = pc.is_in(lower, value_set=pa.array(sorted(FALSE_WORDS))).to_numpy(zero_copy_only=False)
            p.rows(~truth & ~false, col.name, col.expect, values=text, offset=offset)
            self.values[span] = truth

    def _dates(self, text: pa.Array, empty: np.ndarray, offset: int) -> np.ndarray:
        col, p = self.col, self.problems
        hours = _parse_dates(text)
        p.rows(~empty & np.isnan(hours), col.name, col.expect, values=text, offset=offset)
        late = hours >= DATE_CEILING_H
        if col.name == "cancel_date" and late.any():
            where = np.flatnonzero(late)
            self.never += [(offset + int(i), text[int(i)].as_py()) for i in where[: 1 - len(self.never)]]
            self.never_count += len(where)
            hours[late] = np.nan
            late[:] = False
        placeholder = " (if it means 'not cancelled', leave it empty)" if col.name == "cancel_date" else ""
        p.rows((hours < DATE_FLOOR_H) | late, col.name, f"a date from {DATE_FLOOR} to before {DATE_CEILING} "
               f"(a typo or a placeholder?){placeholder}", values=text, offset=offset)
        return hours

    def _numbers(self, text: pa.Array, empty: np.ndarray, offset: int) -> np.ndarray:
        """Plain numbers -> float64 (NaN if empty or bad).

        In a semicolon- or tab-separated file, a column written with decimal commas (``49,00``,
        ``1.234,50``) is read that way, all of it; in a comma-separated file a comma cannot be a
        decimal mark (unless quoted) and is an error.
        """
        col, p = self.col, self.problems
        values = _nullable(text)
        if self.decimal_comma:
            out = _european(values)
        else:
            try:
                out = _to_float(values)
                self.dotted_before |= bool(pc.any(pc.match_substring(values, ".")).as_py())
            except pa.ArrowInvalid:
                filled = values.drop_null()
                if (self.delimiter != "," and pc.all(pc.match_substring_regex(filled, DECIMAL_COMMA)).as_py()
                        and pc.any(pc.match_substring(filled, ",")).as_py()):
                    if self.dotted_before:
                        p.rows(np.array([True]), col.name, "one decimal mark in the whole column (earlier rows "
                               "use points, these commas)", values=text, offset=offset)
                    self.decimal_comma = True
                    out = _european(values)
                else:
                    out = _coerce_float(values)
        bad = ~empty & ~np.isfinite(out)
        commas = pc.match_substring(text, ",").to_numpy(zero_copy_only=False)
        p.rows(bad & ~commas, col.name, col.expect, values=text, offset=offset)
        p.rows(bad & commas, col.name, "a plain number with a decimal point and no thousands separator (decimal "
               "commas are read only in semicolon- or tab-separated files, when the column has no decimal "
               "points)", values=text, offset=offset)
        out[~np.isfinite(out)] = np.nan
        return out

    def result(self) -> tuple[Any, np.ndarray]:
        """The whole column (Arrow text in blocks for ids, else numpy) and its 'empty' mask."""
        empty = self.empty[: self.rows]
        if self.col.kind == "id":
            return pa.chunked_array(self.parts, type=pa.string()), empty
        return self.values[: self.rows], empty

    def notes(self, file: str, lines_match: bool) -> list[str]:
        """What reading decided about this column, for the scenario's header."""
        out = []
        if self.decimal_comma:
            out.append(f"column {shown(self.header)} of {file} read with decimal commas (49,00 = 49.00)")
        if self.never_count:
            i, text = self.never[0]
            out.append(f"{self.never_count:,} cancel dates on or after {DATE_CEILING} in column {shown(self.header)} "
                       f"of {file} (e.g. {row_label(i, lines_match)}: {shown(text)}) read as 'never': those "
                       "customers count as still active")
        return out


# ----------------------------------------------------------------------------- tables


@dataclass(kw_only=True)
class _ReadFile:
    """What reading a file found out, kept with its table for later messages and the scenario's header."""

    headers: dict[str, str] = field(default_factory=dict)  # canonical name -> header as written
    lines_match: bool = True  # row i is on line i + 1 (no record spans lines)
    notes: list[str] = field(default_factory=list)  # what reading decided (delimiter, decimal commas, 'never')

    def __len__(self) -> int:
        return len(self.id)  # type: ignore[attr-defined]


@dataclass
class CustomerTable(_ReadFile):
    """customers.csv, parsed: one row per customer; times in hours since 1970 (NaN = empty)."""

    source: str
    id: pa.ChunkedArray
    signup_h: np.ndarray
    cancel_h: np.ndarray
    plan: np.ndarray
    revenue_usd: np.ndarray
    segment: np.ndarray
    vip: np.ndarray | None = None
    big_name: np.ndarray | None = None
    funding_usd: np.ndarray | None = None
    has_segment_column: bool = False


@dataclass
class TicketTable(_ReadFile):
    """tickets.csv, parsed: one row per ticket; times in hours since 1970 (NaN = empty)."""

    source: str
    id: pa.ChunkedArray
    customer: pa.ChunkedArray
    opened_h: np.ndarray
    first_response_h: np.ndarray
    resolved_h: np.ndarray
    channel: np.ndarray | None = None
    fee_usd: np.ndarray | None = None
    satisfaction: np.ndarray | None = None
    handle_h: np.ndarray | None = None


def _dates_shown(hours: np.ndarray) -> Any:
    """Parsed dates as messages show them (the text is gone once a column is parsed)."""
    return _Lazy(lambda i: iso(hours[i]) if np.isfinite(hours[i]) else "")


class _Lazy:
    """Indexable without building the whole sequence: only the few values a message shows are made."""

    def __init__(self, get: Any) -> None:
        self.get = get

    def __getitem__(self, i: int) -> Any:
        return self.get(i)


@system_allocator
def read_customers(path: str | Path) -> CustomerTable:
    """Read and check customers.csv (columns matched by name; problems name row and column)."""
    raw = _read_csv(path, CUSTOMER_COLUMNS, "customers")
    p = _Problems(raw.source, raw.headers, raw.lines_match)
    v, empty = raw.values, raw.empty
    ids, signup, cancel = v["customer_id"], v["signup_date"], v["cancel_date"]
    plan, revenue = v["plan"], v["monthly_revenue_usd"]
    p.rows(empty["customer_id"], "customer_id", "a customer id (this one is empty)")
    p.rows(repeats(ids) & ~empty["customer_id"], "customer_id", "each customer id once (this one repeats an "
           "earlier row)", values=ids)
    p.rows(empty["signup_date"], "signup_date", "a signup date (it is empty)")
    p.rows(empty["plan"], "plan", "a plan name (it is empty)")
    p.rows(empty["monthly_revenue_usd"], "monthly_revenue_usd", "a monthly revenue (it is empty)")
    p.rows(revenue < 0, "monthly_revenue_usd", "a non-negative number", values=revenue)
    p.rows(cancel < signup, "cancel_date", "a date on or after the signup date", values=_dates_shown(cancel))
    funding = v.get("funding_usd")
    if funding is not None:
        p.rows(funding < 0, "funding_usd", "a non-negative number", values=funding)
    p.raise_if_any()
    seg_text = v.get("segment")
    segment = plan if seg_text is None else np.where(empty["segment"], plan, seg_text)
    return CustomerTable(raw.source, ids, signup, cancel, plan, revenue, segment, v.get("vip"), v.get("big_name"),
                         funding, seg_text is not None, headers=raw.headers, lines_match=raw.lines_match,
                         notes=raw.notes)


@system_allocator
def read_tickets(path: str | Path) -> TicketTable:
    """Read and check tickets.csv (columns matched by name; problems name row and column)."""
    raw = _read_csv(path, TICKET_COLUMNS, "tickets")
    p = _Problems(raw.source, raw.headers, raw.lines_match)
    v, empty = raw.values, raw.empty
    ids, cust = v["ticket_id"], v["customer_id"]
    opened, first, resolved = v["opened"], v["first_response"], v["resolved"]
    p.rows(empty["ticket_id"], "ticket_id", "a ticket id (it is empty)")
    p.rows(repeats(ids) & ~empty["ticket_id"], "ticket_id", "each ticket id once (this one repeats an earlier row)",
           values=ids)
    p.rows(empty["customer_id"], "customer_id", "a customer id (it is empty)")
    p.rows(empty["opened"], "opened", "an opening time (it is empty)")
    p.rows(first < opened, "first_response", "a time on or after 'opened'", values=_dates_shown(first))
    p.rows(resolved < np.where(np.isnan(first), opened, first), "resolved",
           "a time on or after the first response (or 'opened')", values=_dates_shown(resolved))
    for name in ("fee_usd", "handle_time_h"):
        if v.get(name) is not None:
            p.rows(v[name] < 0, name, "a non-negative number", values=v[name])
    p.raise_if_any()
    return TicketTable(raw.source, ids, cust, opened, first, resolved, v.get("channel"), v.get("fee_usd"),
                       v.get("satisfaction"), v.get("handle_time_h"), headers=raw.headers,
                       lines_match=raw.lines_match, notes=raw.notes)


def parse_cohort(text: str) -> list[float]:
    """Survivor counts of one cohort from ``N0,N1,...`` (commas or semicolons), checked for the sBG fit."""
    parts = [x.strip() for x in text.replace(";", ",").split(",") if x.strip()]
    if len(parts) > MAX_COHORT_PERIODS + 1:
        raise CalibrationError([f"--cohort: {len(parts):,} counts; at most {MAX_COHORT_PERIODS + 1} (a cohort size "
                                f"and {MAX_COHORT_PERIODS} periods)"], "command line")
    out = []
    for i, x in enumerate(parts):
        try:
            v = float(x)
        except ValueError:
            raise CalibrationError([f"--cohort value {i + 1}: expected a number, got {shown(x)}"],
                                   "command line") from None
        if not (np.isfinite(v) and 0 <= v <= MAX_COHORT_CUSTOMERS and v == round(v)):
            raise CalibrationError([f"--cohort value {i + 1}: expected a whole number of customers from 0 to "
                                    f"{MAX_COHORT_CUSTOMERS:,.0f}, got {shown(x)}"], "command line")
        out.append(v)
    try:
        sbg.counts_from_survivors(out)
    except ValueError as exc:
        raise CalibrationError([f"--cohort: {exc}"], "command line") from None
    return out
