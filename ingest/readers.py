"""Readers: put one vendor file into a temporary DuckDB table of raw values with source lines.

Every reader produces the temp table `_raw(_line BIGINT, c1, c2, ...)` (source column k becomes
`c{k}`, so no name taken from a file ever appears in query text) and a `RawFile` describing it.
Rows the reader itself cannot parse (wrong number of fields, broken JSON) are returned as
`structural_rejects`, with their line and a reason; they count as read and rejected.

Text files (CSV, JSON Lines) may be compressed with gzip or zstd: `x.csv.gz`, `x.jsonl.zst`, or
any name when the file's first bytes say so. The file's SHA-256 is of its bytes as stored; lines
are those of the decompressed text.

Hostile CSV files are read in two steps. The fast scans (DuckDB, parallel) skip rows they cannot
parse without recording them, and a clean read is confirmed by counting the file's lines. Any
other file takes the careful path: a Python pass over the text (`_scan_records`) finds each
physical record independently of DuckDB, rejects what DuckDB handles badly or not at all (rows
with too many fields, overlong rows, a quote that swallows the rows after it) and blanks those
lines in a temporary copy, which DuckDB then reads with line numbers unchanged; the counts of the
two must agree before anything is loaded.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import hashlib
import io
import mmap
import os
import tempfile
from array import array
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.mapping import VendorMapping

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "xlsx",
}
# Compression of text files, by the last suffix (x.csv.gz). The first bytes decide in the end:
# a gzip file named x.csv is read as gzip, a plain file named x.csv.gz as plain text.
COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))

# Longest CSV row read, in characters: DuckDB's own limit (`max_line_size`, 2,000,000 bytes),
# so the fast scans and the careful path accept the same rows. Longer rows are rejected.
MAX_ROW_CHARS = 2_000_000
# Raw text kept for a rejected row that is huge (a 50 MB value, 200,000 fields).
MAX_RAW_CHARS = 10_000


class IngestError(Exception):
    """A file that cannot be loaded at all; the message says which file and what to do.

    `runs` lists the ingest runs recorded for the failed attempt (failed or rolled back).
    """

    runs: list[int] = []


@dataclass
class RawFile:
    path: Path
    fmt: str
    columns: list[str]  # source column names, in order: column k is `c{k+1}` in `_raw`
    types: list[str]  # DuckDB type of each raw column
    rows: int  # rows in `_raw`
    # (line, raw, reason) of rows the reader itself could not parse
    structural_rejects: list[tuple[int, str, str]] = field(default_factory=list)
    line_unit: str = "line"  # what `_line` counts: "line" (text files) or "row" (parquet, xlsx)
    # When set, `_raw` has no `_line` column: a row's line is `_rec + line_offset`, computed by
    # the staging query (saves rewriting the whole table in the common case).
    line_offset: int | None = None
    # What staging reads: the temp table `_raw`, or (CSV, single-scan path) a subquery over
    # the file itself with its own parameters; `finish` then checks what the scan rejected.
    source_sql: str = "_raw"
    source_params: dict[str, object] = field(default_factory=dict)
    mapping: VendorMapping | None = None
    numbered: bool = True  # False: `_line` is unknown (NULL) in this scan

    def line_sql(self, bind: Callable[[object], str]) -> str:
        """SQL for a row's source line in `_raw`."""
        if self.line_offset is None:
            return "_line"
        return f"(_rec + {bind(self.line_offset)})"

    def column_ref(self, name: str) -> str | None:
        """`c{k}` for a source column name, or None when the file has no such column."""
        try:
            return f"c{self.columns.index(name) + 1}"
        except ValueError:
            return None


def _split_suffix(path: Path) -> tuple[str, str | None]:
    """(format suffix, compression by name): x.csv.gz -> (".csv", "gzip")."""
    suffix = path.suffix.lower()
    compression = COMPRESSED_SUFFIXES.get(suffix)
    if compression is None:
        return suffix, None
    return Path(path.stem).suffix.lower(), compression


def format_of(path: Path) -> str | None:
    """The format a file name says (x.csv, x.csv.gz), or None when unknown; never raises."""
    inner, compression = _split_suffix(path)
    fmt = FORMATS.get(inner)
    return None if compression is not None and fmt not in ("csv", "jsonl") else fmt


def detect_format(path: Path) -> str:
    inner, compression = _split_suffix(path)
    fmt = FORMATS.get(inner)
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        found = inner or "(no extension)"
        if compression is not None:
            found = f"{found} inside {path.suffix}"
        raise IngestError(
            f"{path}: unknown file format {found!r}; use one of {known} (CSV and JSON Lines "
            "files may also be compressed: name them like decisions.csv.gz or decisions.jsonl.zst)"
        )
    if compression is not None and fmt not in ("csv", "jsonl"):
        raise IngestError(
            f"{path}: a compressed {inner} file cannot be read; decompress it first "
            f"({fmt} files compress their data themselves)"
        )
    return fmt


def compression_of(path: Path) -> str | None:
    """'gzip' or 'zstd' when the file's first bytes say so (whatever its name), else None."""
    with path.open("rb") as fh:
        head = fh.read(4)
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _chunks(path: Path, size: int = 1 << 22) -> Generator[bytes, None, None]:
    """The file's (decompressed) bytes in chunks; a damaged compressed file is an IngestError."""
    compression = compression_of(path)
    if compression is None:
        with path.open("rb") as fh:
            yield from iter(lambda: fh.read(size), b"")
        return
    # pyarrow (already a dependency) decompresses gzip and zstd, multi-member/-frame included,
    # and, unlike DuckDB (which reads a cut zstd file up to the cut without a word), notices a
    # stream that ends early.
    lines = 0
    try:
        with pa.input_stream(str(path), compression=compression) as stream:
            while chunk := stream.read(size):
                lines += chunk.count(b"\n")
                yield chunk
    except (OSError, pa.ArrowException) as exc:
        raise IngestError(
            f"{path}: compressed file ({compression}) is truncated or damaged "
            f"({_first_line(exc)}, after line {lines:,}): re-send it"
        ) from exc


def sha256_and_lines(path: Path, lines: bool) -> tuple[str, int | None]:
    """SHA-256 of a file and, with `lines`, its line count (`_line_count`): one read."""
    sha, count, _ = file_digest(path, lines)
    return sha, count


def file_digest(path: Path, lines: bool) -> tuple[str, int | None, bool]:
    """SHA-256 of the file's bytes as stored and, with `lines`, the line count of its
    (decompressed) text and whether that text holds a NUL byte."""
    digest = hashlib.sha256()
    if compression_of(path) is None:
        count, nul = _scan(path, digest.update, lines, _newline_of(path) if lines else b"\n")
        return digest.hexdigest(), count if lines else None, nul
    # Compressed: hash the stored bytes, count lines in the decompressed text (a second read).
    _scan(path, digest.update, False)
    if not lines:
        return digest.hexdigest(), None, False
    count, nul = _count_lines(path)
    return digest.hexdigest(), count, nul


def _scan(
    path: Path,
    consume: Callable[[bytes], object] | None,
    lines: bool,
    newline: bytes = b"\n",
) -> tuple[int, bool]:
    """Read `path` once in chunks, passing each to `consume`; with `lines`, return its line
    count (a last line without newline counts; ~0.2 s/GB) and whether it holds a NUL byte."""
    newlines = 0
    last = b""
    nul = False
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            if consume is not None:
                consume(chunk)
            if lines:
                newlines += _count_byte(chunk, newline)
                nul = nul or b"\0" in chunk
                last = chunk[-1:]
    if not lines:
        return 0, False
    return newlines + (0 if last in (newline, b"") else 1), nul


def _count_lines(path: Path) -> tuple[int, bool]:
    newline = _newline_of(path)
    newlines = 0
    last = b""
    nul = False
    for chunk in _chunks(path):
        newlines += _count_byte(chunk, newline)
        nul = nul or b"\0" in chunk
        last = chunk[-1:]
    return newlines + (0 if last in (newline, b"") else 1), nul


def _count_byte(chunk: bytes, byte: bytes) -> int:
    """How often `byte` occurs in `chunk`: numpy compares 16 or 32 bytes at a time, 3x faster
    than bytes.count (10M-row file, 2 GB: 0.2 s of CPU instead of 0.6 s)."""
    return int(np.count_nonzero(np.frombuffer(chunk, np.uint8) == byte[0]))


def _newline_of(path: Path) -> bytes:
    """What ends a line: LF (and CRLF), or CR for a file whose lines end in CR alone (old Mac
    exports), judged from its start."""
    chunks = _chunks(path, 1 << 16)
    try:
        head = next(chunks, b"")
    finally:
        chunks.close()
    return b"\r" if b"\n" not in head and b"\r" in head else b"\n"


def holds_space(path: Path) -> bool:
    """Whether a file's bytes as stored hold a space (0x20); True when that is not known (a
    compressed file, a file that cannot be mapped).

    A text file without one has no value that starts or ends with a space, in UTF-8, Latin-1
    and UTF-16 alike: what a clean load needs to know to take every value as it is
    (`ingest.validate.build_stage`). One memchr over the mapped file, stopped by the first
    space: ~0.01 s of CPU for 200 MB.
    """
    if compression_of(path) is not None:
        return True
    try:
        with path.open("rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return False
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if hasattr(mm, "madvise"):
                    mm.madvise(mmap.MADV_SEQUENTIAL)
                return mm.find(b" ") >= 0
    except (OSError, ValueError):
        return True


def _split_lines(text: str) -> list[str]:
    """Lines of a text sample, as `_newline_of` would split the file."""
    return text.split("\n") if "\n" in text or "\r" not in text else text.split("\r")


def _line_count(path: Path) -> int:
    """Lines in a file's (decompressed) text (a last line without newline counts)."""
    return _count_lines(path)[0]


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, mapping: VendorMapping) -> RawFile:
    """Load `path` into temp table `_raw`; raise IngestError when the file cannot be read."""
    if not path.exists():
        raise IngestError(f"{path}: file does not exist")
    if not path.is_file():
        raise IngestError(f"{path}: not a file")
    fmt = detect_format(path)
    con.execute("DROP TABLE IF EXISTS _raw")
    if fmt in ("csv", "jsonl") and compression_of(path) is not None:
        # A cut or damaged stream is found only at its end: check the whole file now, so the
        # message is this one (DuckDB would read a cut zstd file up to the cut and say nothing).
        _line_count(path)
    if fmt == "csv":
        _drop_rejects(con)
        return _read_csv_lazy(path, mapping)
    if fmt == "parquet":
        return _read_parquet(con, path)
    if fmt == "jsonl":
        return _read_jsonl(con, path, mapping)
    return _read_xlsx(con, path, mapping)


# --- text checks -----------------------------------------------------------------------------

# Files that are no text at all, by their first bytes: what they are and what to do.
_BINARY_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one: if it is, name it .xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook (save it as .xlsx or CSV)"),
    (b"\xfd7zXZ\x00", "xz-compressed (use gzip or zstd, or decompress it)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
# C0 control bytes other than tab, line feed, carriage return and NUL (NUL bytes in values are
# handled when staging): plain text has next to none, binary data ~11%.
_CONTROL = bytes([*range(1, 9), 11, 12, *range(14, 32), 127])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)


def _check_text(path: Path, data: bytes, encoding: str, what: str) -> None:
    """Refuse a file whose first bytes are not text (an image, an archive, random bytes)."""
    for magic, name in _BINARY_MAGIC:
        if data.startswith(magic):
            raise IngestError(
                f"{path}: this is {name}, not {what}; check that you picked the right file"
            )
    if encoding != "utf-16" and _looks_utf16(data):
        raise IngestError(
            f'{path}: this is UTF-16 text; set encoding = "utf-16" in the vendor mapping, or '
            "re-export the file as UTF-8"
        )
    if encoding == "utf-16":
        text = data.decode("utf-16", errors="replace")
        controls = sum(text.count(chr(b)) for b in _CONTROL)
    else:
        controls = len(data.translate(None, _NOT_CONTROL))
    nuls = 0 if encoding == "utf-16" else data.count(b"\0")
    if data and (controls * 30 > len(data) or nuls * 3 > len(data)):
        raise IngestError(
            f"{path}: does not look like text ({controls + nuls:,} control or NUL bytes in "
            f"the first {len(data):,}); this is not {what}: check that you picked the right file"
        )


def _looks_utf16(data: bytes) -> bool:
    """A UTF-16 byte order mark, or mostly-ASCII text with every other byte NUL."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = data[:4096]
    half = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return half >= 8 and max(even, odd) * 10 > half * 9 and min(even, odd) * 10 < half


def _sample_bytes(path: Path, size: int, min_lines: int) -> bytes:
    """The first `size` bytes of the (decompressed) text, more if needed to hold `min_lines`
    whole lines (a header longer than the sample)."""
    parts: list[bytes] = []
    got = 0
    newlines = 0
    chunks = _chunks(path, size)
    for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        newlines += chunk.count(b"\n")
        if got >= size and (newlines >= min_lines or got > 4 * MAX_ROW_CHARS):
            chunks.close()
            break
    return b"".join(parts)


def _sample_text(path: Path, encoding: str, size: int = 1 << 16, min_lines: int = 1) -> str:
    data = _sample_bytes(path, size, min_lines)
    _check_text(path, data, encoding, "a CSV or JSON Lines text file")
    if encoding == "utf-8":
        data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.end >= len(data) - 4:  # sample cut a multi-byte character in half
            return data[: exc.start].decode(encoding)
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            _encoding_message(
                path, encoding, f"undecodable byte 0x{data[exc.start]:02x} on line {line}"
            )
        ) from exc


def _encoding_message(path: Path, encoding: str, where: str) -> str:
    return (
        f"{path}: not {encoding} text ({where}); re-export the file as UTF-8, or set "
        'encoding = "latin-1" in the vendor mapping'
    )


# --- CSV -------------------------------------------------------------------------------------

_DUCKDB_ENCODING = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}
_CANDIDATE_DELIMITERS = ",;\t|"
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _sniff_delimiter(path: Path, sample: str, quote: str = '"', skip: int = 0) -> str:
    """The separator for which the sample's rows most often have the header's number of
    fields (the header having more than one); on a tie, the one giving more fields.

    csv.Sniffer looks at character frequencies and picked ';' for a comma-separated file with a
    few semicolons inside values; parsing the sample with each candidate and comparing field
    counts with the header's does not.
    """
    if not sample.strip():
        raise IngestError(f"{path}: the file is empty (no header row)")
    lines = _split_lines(sample)[skip:]
    if len(lines) > 2:
        lines = lines[:-1]  # the sample may end in the middle of a row
    body = "\n".join(lines)
    best: tuple[float, int, int] | None = None
    chosen = ","
    for order, candidate in enumerate(_CANDIDATE_DELIMITERS):
        try:
            rows = [
                r for r in csv.reader(io.StringIO(body), delimiter=candidate, quotechar=quote) if r
            ]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        data = rows[1:]
        consistent = sum(len(r) == width for r in data) / len(data) if data else 1.0
        key = (consistent, width, -order)
        if best is None or key > best:
            best, chosen = key, candidate
    return chosen


@dataclass
class _Dialect:
    delimiter: str
    quote: str
    skip: int  # lines above the header row
    header: list[str]  # header fields as in the file (names are these, stripped)
    compression: str | None


def _dialect(path: Path, mapping: VendorMapping) -> _Dialect:
    """Separator, quote and header of a CSV file; refuse a file without a usable header."""
    skip = mapping.csv.header_row - 1
    sample = _sample_text(path, mapping.encoding, min_lines=skip + 1)
    quote = mapping.csv.quote or '"'
    delimiter = mapping.csv.delimiter or _sniff_delimiter(path, sample, quote, skip)
    # Header first, with the dialect fixed, so the column list does not depend on the sniffer.
    header = _header(path, sample, delimiter, quote, skip)
    if not header or all(not h.strip() for h in header):
        raise IngestError(f"{path}: the file has no header row")
    check_unique_columns(path, header, f"line {skip + 1} (the header)")
    return _Dialect(delimiter, quote, skip, header, compression_of(path))


def check_unique_columns(path: Path, names: list[str], where: str | None = None) -> None:
    """Refuse a file that names a column twice (compared without surrounding spaces): which
    of the two holds the value would be a guess."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if str(name).strip():
            positions.setdefault(str(name).strip(), []).append(i + 1)
    repeated = [(name, found) for name, found in positions.items() if len(found) > 1]
    if not repeated:
        return
    problems = []
    for name, found in repeated:
        times = "twice" if len(found) == 2 else f"{len(found)} times"
        cols = ", ".join(str(p) for p in found[:-1]) + f" and {found[-1]}"
        problems.append(f"column {name!r} appears {times} (columns {cols})")
    place = f"{where}: " if where else ""
    raise IngestError(f"{path}: {place}{'; '.join(problems)}; rename or remove one")


def _scan_sql(
    path: Path,
    encoding: str,
    dialect: _Dialect,
    compression: str | None,
    *,
    numbered: bool,
    careful: bool,
) -> tuple[str, dict[str, object]]:
    """The SELECT that reads a CSV file as text, and its parameters.

    With `numbered`, rows carry `_rec` (their ordinal). Numbering is a streaming window, which
    makes DuckDB's whole pipeline single-threaded, so a first pass goes without it.

    The fast scans skip unparsable rows without recording them: DuckDB records one error per
    surplus field, each with the row's text, so a row of 200,000 fields took minutes. A skipped
    row still shows (fewer rows than lines), and such a file takes the careful path, which
    reads with `store_rejects` only after `_scan_records` has removed such rows.
    """
    options: dict[str, object] = dict(
        delim=dialect.delimiter,
        quote=dialect.quote,
        escape=dialect.quote,
        header=True,
        skip=dialect.skip,
        all_varchar=True,
        encoding=_DUCKDB_ENCODING[encoding],
        compression=compression or "none",
        null_padding=False,
        auto_detect=False,
    )
    if careful:
        options.update(
            store_rejects=True,
            rejects_table="_rejects_errors",
            rejects_scan="_rejects_scans",
            # Rows up to MAX_ROW_CHARS characters, in bytes (UTF-8: up to 4 per character), so
            # that DuckDB never drops a row the line scan let through.
            max_line_size=4 * MAX_ROW_CHARS + 64,
        )
    else:
        options["ignore_errors"] = True
    columns = {f"c{i + 1}": "VARCHAR" for i in range(len(dialect.header))}
    args = ", ".join(f"{k} := $csv_{k}" for k in options)
    sql = (
        f"SELECT {'row_number() OVER ()' if numbered else 'CAST(NULL AS BIGINT)'} AS _rec, * "
        f"FROM read_csv($csv_path, columns := $csv_columns, {args})"
    )
    params: dict[str, object] = {"csv_path": str(path), "csv_columns": columns}
    params.update({f"csv_{k}": v for k, v in options.items()})
    return sql, params


def _drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """Forget a scan's rejects. The fast scans record none (see `_scan_sql`): empty tables
    stand in for them, so that counting them is valid (and gives 0) after any scan."""
    _drop_reject_tables(con)
    con.execute(
        "CREATE TEMP TABLE _rejects_errors (line BIGINT, error_type VARCHAR, csv_line VARCHAR, "
        "error_message VARCHAR)"
    )
    con.execute("CREATE TEMP TABLE _rejects_scans (scan_id BIGINT)")


def _drop_reject_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS _rejects_errors")
    con.execute("DROP TABLE IF EXISTS _rejects_scans")


def _read_csv_lazy(path: Path, mapping: VendorMapping, numbered: bool = False) -> RawFile:
    """Single-scan path: staging reads the file directly; `finish_csv` checks the scan.

    Unnumbered (the default first pass), rows have no line numbers: fine for a file in which
    nothing is rejected. Otherwise `read_csv_numbered` gives the same scan with numbers.
    """
    dialect = _dialect(path, mapping)
    sql, params = _scan_sql(
        path, mapping.encoding, dialect, dialect.compression, numbered=numbered, careful=False
    )
    return RawFile(
        path=path,
        fmt="csv",
        columns=[h.strip() for h in dialect.header],
        types=["VARCHAR"] * len(dialect.header),
        rows=-1,
        line_offset=dialect.skip + 1,
        source_sql=f"({sql})",
        source_params=params,
        mapping=mapping,
        numbered=numbered,
    )


def with_typed_times(raw: RawFile, columns: list[int]) -> RawFile:
    """The fast CSV scan with `columns` (0-based) read by DuckDB's reader as TIMESTAMPTZ.

    Parsing in the reader saves making a text vector per value: a clean 1M-row file loaded in
    1.04-1.19 s typed against 1.44-1.8 s as text. A value the reader cannot parse skips its
    row, like any unreadable row of the fast scan: the file then has fewer rows than lines and
    takes the careful path, which reads text and rejects the row with its reason. Only for
    ISO 8601 times in UTC sessions (the caller checks the mapping asks for nothing else).
    """
    if raw.fmt != "csv" or raw.numbered or raw.rows >= 0 or not columns:
        return raw
    params = dict(raw.source_params)
    typed = dict(params["csv_columns"])  # type: ignore[call-overload]
    types = list(raw.types)
    for i in columns:
        typed[f"c{i + 1}"] = "TIMESTAMPTZ"
        types[i] = "TIMESTAMP WITH TIME ZONE"
    params["csv_columns"] = typed
    params["csv_all_varchar"] = False
    return replace(raw, source_params=params, types=types)


def read_csv_numbered(path: Path, mapping: VendorMapping) -> RawFile:
    return _read_csv_lazy(path, mapping, numbered=True)


def finish_csv(con: duckdb.DuckDBPyConnection, raw: RawFile, staged_rows: int) -> RawFile | None:
    """After a single-scan staging: the file as read, or None when it needs the careful path.

    The single scan numbers lines as `_rec + header` and skips rows it cannot parse. Both are
    right only when every line of the file is one row that was read; otherwise (a skipped row,
    a record over several lines, a blank line) the file is read again the careful way
    (materialized, with physical line numbers): rare, and correct.
    """
    assert raw.mapping is not None
    skip = raw.mapping.csv.header_row - 1
    if _line_count(raw.path) > staged_rows + 1 + skip:
        return None
    raw.rows = staged_rows
    return raw


def read_csv_materialized(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: VendorMapping
) -> RawFile:
    """Careful path: materialize the file as text with physical line numbers.

    `_scan_records` first finds every physical record and rejects those DuckDB would mishandle;
    their lines are blanked in a temporary copy that DuckDB reads instead (same line numbers).
    DuckDB's own rejects are then mapped to physical lines, and its count of records must equal
    the scan's: a file the two read differently is refused rather than loaded wrongly.
    """
    encoding = mapping.encoding
    dialect = _dialect(path, mapping)
    skip = dialect.skip
    layout = _scan_records(path, encoding, dialect)
    source, source_encoding, compression = path, encoding, dialect.compression
    copy: Path | None = None
    _drop_reject_tables(con)
    try:
        if layout.blanked:
            copy = _copy_without(path, encoding, layout.blanked)
            source, source_encoding, compression = copy, "utf-8", None
        sql, params = _scan_sql(
            source, source_encoding, dialect, compression, numbered=True, careful=True
        )
        try:
            con.execute(f"CREATE TEMP TABLE _raw AS {sql}", params)
        except duckdb.Error as exc:
            raise IngestError(f"{path}: cannot be read as CSV: {_first_line(exc)}") from exc
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)
    rejects = con.execute(
        "SELECT line, error_type, csv_line, error_message FROM _rejects_errors ORDER BY line"
    ).fetchall()
    encoding_errors = [r for r in rejects if r[1] == "INVALID ENCODING"]
    if encoding_errors:  # the line scan decodes first, so this is a safety net
        raise IngestError(
            _encoding_message(
                path, encoding, f"first undecodable bytes on line {encoding_errors[0][0]}"
            )
        )
    good = int(con.execute("SELECT count(*) FROM _raw").fetchall()[0][0])
    # DuckDB numbers rows from the top (skipped lines, header and blank lines count; a line break
    # inside quotes does not). Map them to data records and to physical lines, so a reported
    # line is the one a text editor shows.
    first_line = skip + 2
    structural: list[tuple[int, str, str]] = list(layout.rejects)
    seen: set[int] = set()
    for line, error_type, raw, message in rejects:
        record = layout.record_of_row(int(line) - 1 - skip)
        if record is None or record in seen:
            continue
        seen.add(record)
        src_line = layout.starts[record - 1] if 0 < record <= len(layout.starts) else -1
        # DuckDB's csv_line of a CRLF file starts with the previous line's "\n": strip it.
        reason = _structural_reason(error_type, message, dialect.delimiter)
        structural.append((src_line, _shorten((raw or "").strip("\r\n")), reason))
    if good + len(seen) != len(layout.starts) or any(line < 0 for line, _, _ in structural):
        raise IngestError(
            f"{path}: the CSV reader found {good + len(seen):,} rows but the file has "
            f"{len(layout.starts):,} (after {len(layout.rejects):,} rejected by the line scan), "
            "so rows cannot be matched to their lines; check the file's quotes (a quote that "
            "opens a value must close it, a quote inside a value is written twice) and re-send it"
        )
    structural.sort(key=lambda s: s[0])
    # Line of each good record: skip the rejected record numbers, then map to physical lines.
    reject_records = sorted(seen)
    if reject_records:
        _renumber_after_rejects(con, reject_records)
    if not layout.identity:
        starts = np.frombuffer(layout.starts, dtype=np.int64)
        lines = pa.table({"line": starts, "rec": np.arange(1, len(starts) + 1, dtype=np.int64)})
        con.register("_lines_arrow", lines)
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _raw AS SELECT l.line AS _line, r.* EXCLUDE (_rec) "
                "FROM _raw r JOIN _lines_arrow l ON l.rec = r._rec ORDER BY r._rec"
            )
        finally:
            con.unregister("_lines_arrow")
    return RawFile(
        path=path,
        fmt="csv",
        columns=[h.strip() for h in dialect.header],
        types=["VARCHAR"] * len(dialect.header),
        rows=good,
        structural_rejects=structural,
        line_offset=None if not layout.identity else first_line - 1,
    )


def _renumber_after_rejects(con: duckdb.DuckDBPyConnection, reject_records: list[int]) -> None:
    """Turn good-row ordinals into data-record numbers, given the rejected record numbers."""
    # Good ordinal g sits at record g + k, where k counts rejected records before it; with the
    # rejected records sorted, k is found by comparing each rejected record r_i with g + i.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rej AS SELECT x - (i - 1) AS threshold "
        "FROM (SELECT unnest($r::BIGINT[]) AS x, generate_subscripts($r::BIGINT[], 1) AS i)",
        {"r": reject_records},
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _raw AS SELECT "
        "_rec + (SELECT count(*) FROM _rej WHERE threshold <= _rec) AS _rec, * EXCLUDE (_rec) "
        "FROM _raw"
    )


def _header(path: Path, sample: str, delimiter: str, quote: str, skip: int = 0) -> list[str]:
    lines = _split_lines(sample)
    if len(lines) <= skip:
        return []
    line = lines[skip].rstrip("\r")
    fields, open_quote = _parse_line(line, False, delimiter, quote)
    if open_quote >= 0:  # a quote never closed: the "header" would swallow the rows below
        raise IngestError(
            f"{path}: line {skip + 1} (the header), column {open_quote + 1}: a quote opens a "
            "name that is not closed on the line; close the quote or remove it"
        )
    try:
        return next(csv.reader([line], delimiter=delimiter, quotechar=quote), [])
    except csv.Error as exc:  # a name longer than the csv module's field limit
        raise IngestError(
            f"{path}: line {skip + 1} (the header) cannot be read ({exc}); check that the "
            "file starts with a header row of column names"
        ) from exc


def _parse_line(text: str, in_quote: bool, delimiter: str, quote: str) -> tuple[int, int]:
    """Separators outside quotes in one line of CSV text, and the column (0-based) of the quote
    whose value is still open at the end of the line (-1: none).

    As DuckDB reads: a quote opens a value only at its start, a doubled quote inside is a
    literal one, and text after a closing quote runs to the next separator. `in_quote`: the
    line continues a quoted value from the line before.
    """
    separators = 0
    i = 0
    n = len(text)
    opened = 0
    while True:
        if in_quote or (i < n and text[i] == quote):
            if not in_quote:
                opened = i
                i += 1
            in_quote = False
            while True:
                j = text.find(quote, i)
                if j < 0:
                    return separators, opened
                if j + 1 < n and text[j + 1] == quote:
                    i = j + 2
                    continue
                i = j + 1
                break
        k = text.find(delimiter, i)
        if k < 0:
            return separators, -1
        separators += 1
        i = k + 1


@dataclass
class _Layout:
    """Where the records of a CSV file are, as the careful read will see them."""

    starts: array[int]  # physical first line of data record k, at k - 1
    blank_rows: list[int]  # DuckDB rows (0 = header) that are blank lines
    blanked: set[int]  # lines emptied before DuckDB reads the file (their rows are in rejects)
    rejects: list[tuple[int, str, str]]  # (line, raw, reason) found by the scan
    identity: bool  # every data record is one line, in order, right after the header

    def record_of_row(self, row: int) -> int | None:
        """Data record number (1-based) of a DuckDB row counted after the skipped lines."""
        i = bisect.bisect_left(self.blank_rows, row)
        if i < len(self.blank_rows) and self.blank_rows[i] == row:
            return None
        record = row - i
        return record if record >= 1 else None


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines as text, without their "\\n" (a "\\r" of CRLF stays; CR-only files are
    split at "\\r"); a last line without newline counts. A byte that is not `encoding` is an
    IngestError naming its line."""
    # "utf-8-sig" drops a byte order mark, as DuckDB does; "utf-16" reads its own.
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding == "utf-8" else encoding)()
    newline = _newline_of(path)
    end = newline.decode()
    lines = 0
    tail = ""
    for chunk in _chunks(path):
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            line = lines + chunk[: max(exc.start, 0)].count(newline) + 1
            raise IngestError(
                _encoding_message(path, encoding, f"first undecodable bytes on line {line}")
            ) from exc
        if end not in text:
            tail += text
            continue
        pieces = (tail + text).split(end)
        tail = pieces.pop()
        lines += len(pieces)
        yield from pieces
    tail += decoder.decode(b"", final=True)
    if tail:
        yield tail


def _scan_records(path: Path, encoding: str, dialect: _Dialect) -> _Layout:
    """Find every record of a CSV file with a pass of our own (`_parse_line`), and reject the
    ones DuckDB must not see:

    - a row with more fields than the header (DuckDB records one error per surplus field, each
      with the row's text: minutes for a row of 200,000 fields; the reason given is DuckDB's);
    - a row longer than MAX_ROW_CHARS (DuckDB drops one beyond its buffer without a word);
    - a line whose quote is never closed and so swallows the rows after it. A quoted value over
      several lines is legitimate (a comment with a line break), but when a line inside it
      reads on its own as a complete row of the header's width, or the value never ends (end
      of file, or longer than a row may be), the quote is stray: that line is rejected and the
      lines after it are read again as rows of their own.

    Every physical line ends in exactly one record, blank line or rejected row. ~1 s per
    million lines, paid only by files that take the careful path.
    """
    delimiter, quote, skip = dialect.delimiter, dialect.quote, dialect.skip
    width = len(dialect.header)
    starts: array[int] = array("q")
    blank_rows: list[int] = []
    blanked: set[int] = set()
    rejects: list[tuple[int, str, str]] = []
    row = 0  # DuckDB's row number counted after the skipped lines (0: the header)
    identity = True
    source = enumerate(_text_lines(path, encoding), start=1)
    pending: deque[tuple[int, str]] = deque()  # lines to read (again) before the next one
    record: list[tuple[int, str]] = []  # lines of the current record
    separators = 0
    size = 0
    opened = (0, 0)  # (field index, column) of the quote that opened a value left open

    def feed() -> Iterator[tuple[int, str]]:
        while True:
            if pending:
                yield pending.popleft()
            elif (item := next(source, None)) is not None:
                yield item
            else:
                return

    def reject(lines: list[tuple[int, str]], reason: str) -> None:
        nonlocal row
        text = "\n".join(t.rstrip("\r") for _, t in lines)
        rejects.append((lines[0][0], _shorten(text), reason))
        blanked.update(n for n, _ in lines)
        blank_rows.extend(range(row + 1, row + 1 + len(lines)))
        row += len(lines)

    def stray(what: str) -> None:
        """The open record's first line has a stray quote: reject that line alone and read
        the lines after it again."""
        nonlocal record
        (line, text), rest = record[0], record[1:]
        field_index, col = opened
        name = dialect.header[field_index].strip() if field_index < width else ""
        where = f"field {field_index + 1}" + (f", {name}" if name else "")
        reject(
            [(line, text)],
            f"unclosed quote on line {line}, column {col + 1} ({where}): the quoted value "
            f'{what}; close the quote, or write a quote inside a value twice ("")',
        )
        pending.extendleft(reversed(rest))
        record = []

    def complete(lines: list[tuple[int, str]]) -> None:
        nonlocal row, identity
        fields = separators + 1
        if fields > width:
            reject(lines, _too_many_fields(width, fields, delimiter))
        elif size > MAX_ROW_CHARS:
            reject(lines, _too_long(lines, size, delimiter, dialect.header))
        else:
            row += 1
            if len(lines) > 1 or lines[0][0] != skip + 2 + len(starts):
                identity = False
            starts.append(lines[0][0])

    while True:
        for number, text in feed():
            if number <= skip + 1:  # lines above the header, and the header (see `_header`)
                continue
            if record:  # inside a quoted value opened on an earlier line
                if width >= 3 and _alone_width(text, delimiter, quote) == width:
                    pending.appendleft((number, text))
                    stray(f"swallows line {number}, which reads as a row of its own")
                    continue
                more, open_col = _parse_line(text.rstrip("\r"), True, delimiter, quote)
                record.append((number, text))
                separators += more
                size += len(text) + 1
                if open_col >= 0:
                    if size > MAX_ROW_CHARS:
                        stray(f"runs on for more than {MAX_ROW_CHARS:,} characters")
                    continue
            else:
                if not text or text == "\r":
                    row += 1
                    blank_rows.append(row)
                    continue
                if quote in text:
                    separators, open_col = _parse_line(text.rstrip("\r"), False, delimiter, quote)
                else:
                    separators, open_col = text.count(delimiter), -1
                record = [(number, text)]
                size = len(text)
                if open_col >= 0:
                    opened = (separators, open_col)
                    continue
            complete(record)
            record = []
        if len(record) > 1:  # end of file inside a quoted value: read what it swallowed
            stray("is never closed")
            continue
        if record:  # one line: DuckDB rejects it ("unterminated quote") as one row
            complete(record)
            record = []
        break
    return _Layout(starts, blank_rows, blanked, rejects, identity and not blank_rows)


def _alone_width(text: str, delimiter: str, quote: str) -> int:
    """Fields of one line read as a row on its own (-1: it leaves a quote open)."""
    text = text.rstrip("\r")
    if quote not in text:
        return text.count(delimiter) + 1
    separators, open_col = _parse_line(text, False, delimiter, quote)
    return -1 if open_col >= 0 else separators + 1


def _copy_without(path: Path, encoding: str, blanked: set[int]) -> Path:
    """A temporary UTF-8 copy of the file's text with the `blanked` lines emptied (each stays a
    line, so every other line keeps its number)."""
    fd, name = tempfile.mkstemp(prefix="bpo-kpi-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            for number, text in enumerate(_text_lines(path, encoding), start=1):
                if number in blanked:
                    text = "\r" if text.endswith("\r") else ""
                out.write(text)
                out.write("\n")
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _shorten(text: str) -> str:
    """Raw text of a rejected row, cut when huge (the reason says what was wrong with it)."""
    if len(text) <= MAX_RAW_CHARS:
        return text
    return f"{text[:MAX_RAW_CHARS]}... [cut: {len(text):,} characters in all]"


def _too_many_fields(width: int, fields: int, delimiter: str) -> str:
    return _structural_reason(
        "TOO MANY COLUMNS", f"Expected Number of Columns: {width} Found: {fields}", delimiter
    )


def _too_long(lines: list[tuple[int, str]], size: int, delimiter: str, header: list[str]) -> str:
    values = "\n".join(t for _, t in lines).split(delimiter)  # quotes aside: for the message
    longest = max(range(len(values)), key=lambda i: len(values[i]))
    name = header[longest].strip() if longest < len(header) else ""
    where = f"field {longest + 1}" + (f", {name}" if name else "")
    return (
        f"row longer than {MAX_ROW_CHARS:,} characters ({size:,}; the longest value, "
        f"{len(values[longest]):,} characters, is in {where}): shorten that value and re-send "
        "the row"
    )


def _structural_reason(error_type: str, message: str, delimiter: str) -> str:
    shown = _SEPARATOR_NAMES.get(delimiter, delimiter)
    if error_type in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        return (
            f"wrong number of fields ({_first_line(message)}; separator is {shown}): "
            "check for an unquoted separator or a truncated line"
        )
    if error_type == "UNQUOTED VALUE" or "quote" in message.lower():
        return f"badly quoted field ({_first_line(message)}): close the quote or escape it"
    if error_type == "LINE SIZE OVER MAXIMUM":
        return f"row longer than {MAX_ROW_CHARS:,} characters: shorten its longest value"
    return f"unreadable row ({error_type.lower()}: {_first_line(message)})"


def _first_line(message: object) -> str:
    return str(message).strip().splitlines()[0] if str(message).strip() else ""


# --- Parquet ---------------------------------------------------------------------------------


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> RawFile:
    try:
        desc = con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(path)}).fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from exc
    # DuckDB renames a repeated column (vendor, vendor_1): check the names as stored.
    try:
        stored = pq.read_schema(path).names
    except (OSError, pa.ArrowException):
        stored = []
    check_unique_columns(path, stored)
    names = [d[0] for d in desc]
    types = [str(d[1]) for d in desc]
    select = ", ".join(f"#{i + 1} AS c{i + 1}" for i in range(len(names)))
    # Staging reads the file directly (one scan); the row count is known after staging.
    return RawFile(
        path,
        "parquet",
        names,
        types,
        rows=-1,
        line_unit="row",
        source_sql=(
            f"(SELECT file_row_number + 1 AS _line, {select} "
            "FROM read_parquet($pq_path, file_row_number := true))"
        ),
        source_params={"pq_path": str(path)},
    )


# --- JSON Lines ------------------------------------------------------------------------------


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, mapping: VendorMapping) -> RawFile:
    # Fail early and clearly on a wrong encoding or a file that is no text.
    _sample_text(path, mapping.encoding)
    # Each line as one text value; a JSON text cannot contain a raw control character, so the
    # unit separator never splits a valid line.
    try:
        con.execute(
            "CREATE TEMP TABLE _jl AS SELECT row_number() OVER () AS _line, j FROM read_csv($p, "
            "columns := {'j': 'VARCHAR'}, delim := chr(31), quote := '', escape := '', "
            "header := false, auto_detect := false, encoding := $enc, strict_mode := false, "
            "compression := $comp) ",
            {
                "p": str(path),
                "enc": _DUCKDB_ENCODING[mapping.encoding],
                "comp": compression_of(path) or "none",
            },
        )
    except duckdb.Error as exc:
        message = _first_line(exc)
        if "Maximum line size" in str(exc) or "CSV Error on Line" in message:
            line = message.rsplit(":", 1)[-1].strip()
            raise IngestError(
                f"{path}: line {line} is longer than {MAX_ROW_CHARS:,} bytes; JSON Lines rows "
                "must be shorter: shorten its longest value and re-send the file"
            ) from exc
        raise IngestError(f"{path}: cannot be read as JSON Lines: {message}") from exc
    con.execute("DELETE FROM _jl WHERE j IS NULL OR trim(j) = ''")
    # `ok` once, guarded by CASE: json_type() raises on malformed JSON, and AND/NOT do not
    # short-circuit in DuckDB expressions. A key twice in one object (after trimming spaces) is
    # no valid row either: which value counts would be a guess.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _jl AS SELECT _line, j, ok, CASE WHEN ok THEN "
        "list_filter(k, lambda x: len(list_filter(k, lambda y: y = x)) > 1)[1] END AS twice "
        "FROM ("
        "SELECT _line, j, ok, CASE WHEN ok THEN list_transform(json_keys(j), lambda x: trim(x)) "
        "END "
        "AS k FROM (SELECT _line, j, CASE WHEN json_valid(j) THEN json_type(j) = 'OBJECT' "
        "ELSE false END AS ok FROM _jl))"
    )
    con.execute("UPDATE _jl SET ok = false WHERE twice IS NOT NULL")
    keys = [
        r[0]
        for r in con.execute(
            "SELECT k FROM (SELECT unnest(json_keys(j)) AS k, min(_line) AS first FROM _jl "
            "WHERE ok GROUP BY k) ORDER BY first, k"
        ).fetchall()
    ]
    if not keys:
        con.execute("DROP TABLE _jl")
        raise IngestError(f"{path}: no JSON objects found; expected one JSON object per line")
    paths = ['$."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys]
    select = ", ".join(f"v[{i + 1}] AS c{i + 1}" for i in range(len(keys)))
    structural = [
        (
            int(line),
            str(raw)[:2000],
            "not a valid JSON object: fix the line's JSON syntax"
            if twice is None
            else f"key {twice!r} appears more than once in this object: remove all but one",
        )
        for line, raw, twice in con.execute(
            "SELECT _line, j, twice FROM _jl WHERE NOT ok ORDER BY _line"
        ).fetchall()
    ]
    con.execute(
        f"CREATE TEMP TABLE _raw AS SELECT _line, {select} FROM (SELECT _line, "
        "json_extract_string(j, $paths) AS v FROM _jl WHERE ok)",
        {"paths": paths},
    )
    con.execute("DROP TABLE _jl")
    rows = con.execute("SELECT count(*) FROM _raw").fetchone()[0]  # type: ignore[index]
    return RawFile(path, "jsonl", keys, ["VARCHAR"] * len(keys), rows, structural)


# --- XLSX ------------------------------------------------------------------------------------


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, mapping: VendorMapping) -> RawFile:
    header = mapping.csv.header_row - 1
    try:
        frame = pd.read_excel(path, dtype=str, header=header, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise IngestError(f"{path}: not a readable XLSX workbook: {_first_line(exc)}") from exc
    names = [str(c).strip() for c in frame.columns]
    # pandas renames a repeated header (vendor, vendor.1): when that may have happened, check
    # the names as they are in the sheet.
    if any("." in n and n.rsplit(".", 1)[1].isdigit() for n in names):
        names_in_sheet = _xlsx_header(path, header + 1)
    else:
        names_in_sheet = names
    check_unique_columns(path, names_in_sheet, f"row {header + 1} (the header)")
    frame.columns = [f"c{i + 1}" for i in range(len(names))]
    frame.insert(0, "_line", range(header + 2, header + 2 + len(frame)))
    frame = frame.dropna(how="all", subset=list(frame.columns[1:]))
    con.register("_xlsx_frame", frame)
    con.execute("CREATE TEMP TABLE _raw AS SELECT * FROM _xlsx_frame")
    con.unregister("_xlsx_frame")
    return RawFile(path, "xlsx", names, ["VARCHAR"] * len(names), len(frame), line_unit="row")


def _xlsx_header(path: Path, row: int) -> list[str]:
    """The header cells of the first sheet as written (pandas' read would de-duplicate them)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        cells = next(sheet.iter_rows(min_row=row, max_row=row, values_only=True), ())
    finally:
        book.close()
    return ["" if c is None else str(c) for c in cells]
