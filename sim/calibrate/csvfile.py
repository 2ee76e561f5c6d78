"""Read the columns of a CSV export into numpy arrays (ids as Arrow text), checking every value.

Where it sits: ``values`` (errors, dates, numbers) -> **csvfile** -> ``ingest`` (the customer and
ticket tables). Only regular files are read (a FIFO, a device such as ``/dev/zero`` or a socket
is refused before anything is read), up to :data:`MAX_CSV_BYTES`. The delimiter (comma,
semicolon or tab) is detected from the header row; columns are matched by name (a
:class:`Column`'s accepted aliases); every value is parsed by the column's kind (decimal commas
are read in semicolon- or tab-separated files, and said so). Parsing runs on Apache Arrow arrays
in 2 MB blocks, so a million rows take about a second and no Python object per value.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import os
import stat
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from sim.calibrate.values import (
    DATE_CEILING,
    DATE_CEILING_H,
    DATE_FLOOR,
    DATE_FLOOR_H,
    DECIMAL_COMMA,
    FALSE_WORDS,
    TRUE_WORDS,
    CalibrationError,
    _coerce_float,
    _european,
    _labels,
    _nullable,
    _parse_dates,
    _to_float,
    release_free_memory,
    row_label,
    shown,
)

MAX_LISTED = 5  # bad rows listed per problem; the rest are counted
MAX_CSV_BYTES = 512 * 2**20  # per file: ~7M tickets; the calibration holds a file in memory about once
HEAD_BYTES = 64 * 1024  # the header row must fit in this
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
ARROW_RELEASE_S = 10  # a bound on the wait for Arrow's threads to let go of our callback (normally no wait)

# ----------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One expected column: canonical name, accepted header aliases, kind and whether required."""

    name: str
    aliases: tuple[str, ...]
    kind: Literal["id", "text", "date", "number", "bool"]
    required: bool
    expect: str
    header: str = ""  # the header a preset expects, as its tool writes it (for messages)




def normalise(header: str) -> str:
    return header.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


@dataclass
class Raw:
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
        score = (sum(normalise(c) in known for c in cells), d == ",")
        if best is None or score > best[:2]:
            best = (*score, d, cells)
    assert best is not None
    return best[2], best[3]


def _match_columns(cells: list[str], spec: tuple[Column, ...], delimiter: str, source: str,
                   label: str | None = None) -> dict[str, int]:
    """Canonical column name -> index in the header; missing or ambiguous columns are errors (under a preset,
    ``label``, one line naming the preset and the first missing column)."""
    found: dict[str, list[int]] = {}
    for i, header in enumerate(cells):
        norm = normalise(header)
        for col in spec:
            if norm in col.aliases:
                found.setdefault(col.name, []).append(i)
                break
    if label is not None:
        missing = [col for col in spec if col.required and not found.get(col.name)]
        if missing:
            col = missing[0]
            more = f" (and {len(missing) - 1} more: {', '.join(repr(c.header) for c in missing[1:])})" if len(missing) > 1 else ""
            raise CalibrationError([f"{label}: no column {col.header!r} ({col.expect}; read as '{col.name.lstrip('_')}')"
                                    f"{more}; columns found: {', '.join(shown(c) for c in cells[:20]) or 'none'}"],
                                   source)
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


def read_csv(path: str | Path, spec: tuple[Column, ...], what: str, label: str | None = None) -> Raw:
    """Read the columns of ``spec`` in blocks, parsing each block at once: only one block of text is held.
    ``label``: the preset the columns follow (named in messages)."""
    source = str(path)
    fh, size = _open_regular(path, what)
    with fh:
        delimiter, cells = _sniff(_header(fh, what, source), spec)
        index = _match_columns(cells, spec, delimiter, source, label)
        lines = _line_count(fh, size)
        names = [f"c{i}" for i in range(len(cells))]
        headers = {name: cells[i] for name, i in index.items()}
        problems = Problems(source, headers)
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
            rows = 0

            def add(n: int, batch: pa.RecordBatch) -> None:
                nonlocal rows
                for name, i in index.items():
                    readers[name].add(_trimmed(batch.column(names[i])), rows)
                rows += batch.num_rows
                if n % 8 == 7:
                    release_free_memory()  # the parsed blocks' text and temporaries (see release_free_memory)

            _each_batch(fh, source, add, on_bad_row, threads=threads, names=names, delimiter=delimiter,
                        used=[names[i] for i in index.values()])
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
    return Raw(source, rows, values, empty, headers, problems.lines_match, notes)


def _each_batch(fh: BinaryIO, source: str, on_batch: Callable[[int, pa.RecordBatch], None],
                on_bad_row: Callable[[pv.InvalidRow], str], *, threads: bool, names: list[str], delimiter: str,
                used: list[str]) -> None:
    """``on_batch(n, batch)`` for each block of the file ``fh`` has open, parsed by Arrow's streaming
    reader; ``on_bad_row`` is called for rows with the wrong number of fields.

    Arrow's reader works on Arrow's own threads, and one of them may drop its last reference
    after the caller is done with it. A Python object it holds then needs the GIL to be released,
    and if the interpreter is exiting by then (an error printed right after a header-only file was
    read) that thread is ended inside C++ and the process aborts ("terminate called without an
    active exception", SIGABRT). So Arrow gets a native file on the same descriptor (never a
    Python file object) and a handler that only Arrow holds, and every way out of here (the end,
    an error, Ctrl-C) waits until that handler has been released: nothing Python is left on
    Arrow's threads.
    """
    released = threading.Event()
    handler: Any = functools.partial(on_bad_row)
    weakref.finalize(handler, released.set)
    stream: Any = _arrow_file(fh, source)
    reader: Any = None
    batch: Any = None
    try:
        reader = pv.open_csv(
            stream,
            read_options=pv.ReadOptions(use_threads=threads, column_names=names, skip_rows=1, block_size=1 << 21),
            parse_options=pv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=handler),
            convert_options=pv.ConvertOptions(column_types=dict.fromkeys(used, pa.string()), include_columns=used,
                                              strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        handler = stream = None  # from here on only Arrow holds them
        for n, batch in enumerate(reader):
            on_batch(n, batch)
    finally:
        handler = stream = reader = batch = None  # an exception's traceback keeps this frame, not them
        released.wait(ARROW_RELEASE_S)


def _arrow_file(fh: BinaryIO, source: str) -> pa.NativeFile:
    """A native Arrow file on the file ``fh`` has open (through ``/dev/fd``, else by name, checked to
    be the same file), so Arrow's threads read it without the GIL."""
    by_fd = f"/dev/fd/{fh.fileno()}"
    try:
        native = pa.OSFile(by_fd if os.path.exists(by_fd) else source)
    except OSError as exc:
        raise CalibrationError([f"cannot read the file again: {exc}"], source) from None
    a, b = os.fstat(fh.fileno()), os.fstat(native.fileno())
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
        native.close()
        raise CalibrationError(["the file was replaced while it was being read"], source)
    return native


def _trimmed(text: pa.Array) -> pa.Array:
    """Surrounding whitespace stripped (the block's text is kept when no value had any)."""
    trimmed = pc.utf8_trim_whitespace(text)
    return trimmed if _text_bytes(trimmed) != _text_bytes(text) else text


def _text_bytes(text: pa.Array) -> int:
    """Bytes of text in a string array (lengths come from its offsets: no pass over the text)."""
    return pc.sum(pc.binary_length(text)).as_py() or 0


class Problems:
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


class _ColumnReader:
    """Parses one column block by block by its kind; row problems go to the shared :class:`Problems`."""

    def __init__(self, col: Column, header: str, delimiter: str, problems: Problems, capacity: int) -> None:
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
