"""Readers: put one vendor file into a temporary DuckDB table of raw values with source lines.

Every reader produces the temp table `_raw(_line BIGINT, c1, c2, ...)` (source column k becomes
`c{k}`, so no name taken from a file ever appears in query text) and a `RawFile` describing it.
Rows the reader itself cannot parse (wrong number of fields, broken JSON) are returned as
`structural_rejects`, with their line and a reason; they count as read and rejected.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

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


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise IngestError(
            f"{path}: unknown file format {path.suffix or '(no extension)'!r}; use one of {known}"
        )
    return fmt


def sha256_and_lines(path: Path, lines: bool) -> tuple[str, int | None]:
    """SHA-256 of a file and, with `lines`, its line count (`_line_count`): one read."""
    digest = hashlib.sha256()
    count = _scan(path, digest.update, lines)
    return digest.hexdigest(), count if lines else None


def _scan(path: Path, consume: Callable[[bytes], object] | None, lines: bool) -> int:
    """Read `path` once in chunks, passing each to `consume`; with `lines`, return its line
    count (a last line without newline counts; ~0.2 s/GB), else 0."""
    newlines = 0
    last = b""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            if consume is not None:
                consume(chunk)
            if lines:
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
    return newlines + (0 if last in (b"\n", b"") else 1) if lines else 0


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, mapping: VendorMapping) -> RawFile:
    """Load `path` into temp table `_raw`; raise IngestError when the file cannot be read."""
    if not path.exists():
        raise IngestError(f"{path}: file does not exist")
    if not path.is_file():
        raise IngestError(f"{path}: not a file")
    fmt = detect_format(path)
    con.execute("DROP TABLE IF EXISTS _raw")
    if fmt == "csv":
        _drop_rejects(con)
        return _read_csv_lazy(path, mapping)
    if fmt == "parquet":
        return _read_parquet(con, path)
    if fmt == "jsonl":
        return _read_jsonl(con, path, mapping)
    return _read_xlsx(con, path, mapping)


# --- CSV -------------------------------------------------------------------------------------

_DUCKDB_ENCODING = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}


def _sample_text(path: Path, encoding: str, size: int = 1 << 16) -> str:
    with path.open("rb") as fh:
        data = fh.read(size)
    if encoding == "utf-8":
        data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.end >= len(data) - 4:  # sample cut a multi-byte character in half
            return data[: exc.start].decode(encoding)
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            f"{path}: not {encoding} text (undecodable byte 0x{data[exc.start]:02x} on line "
            f'{line}); re-export the file as UTF-8, or set encoding = "latin-1" in the '
            "vendor mapping"
        ) from exc


def _sniff_delimiter(path: Path, sample: str) -> str:
    if not sample.strip():
        raise IngestError(f"{path}: the file is empty (no header row)")
    header = sample.splitlines()[0]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        # Fall back to the most frequent candidate in the header line.
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _csv_scan(
    path: Path, mapping: VendorMapping, numbered: bool = True
) -> tuple[str, dict[str, object], list[str]]:
    """The SELECT that reads a CSV file as text, its parameters and header.

    With `numbered`, rows carry `_rec` (their ordinal). Numbering is a streaming window, which
    makes DuckDB's whole pipeline single-threaded, so a first pass goes without it.
    """
    encoding = mapping.encoding
    sample = _sample_text(path, encoding)
    delimiter = mapping.csv.delimiter or _sniff_delimiter(path, sample)
    quote = mapping.csv.quote or '"'
    skip = mapping.csv.header_row - 1
    options = dict(
        delim=delimiter,
        quote=quote,
        escape=quote,
        header=True,
        skip=skip,
        all_varchar=True,
        encoding=_DUCKDB_ENCODING[encoding],
        store_rejects=True,
        rejects_table="_rejects_errors",
        rejects_scan="_rejects_scans",
        null_padding=False,
        auto_detect=False,
    )
    # Header first, with the dialect fixed, so the column list does not depend on the sniffer.
    header_row = _header(path, sample, delimiter, quote, skip)
    if not header_row or all(not h.strip() for h in header_row):
        raise IngestError(f"{path}: the file has no header row")
    names = [f"c{i + 1}" for i in range(len(header_row))]
    columns = {n: "VARCHAR" for n in names}
    args = ", ".join(f"{k} := $csv_{k}" for k in options)
    sql = (
        f"SELECT {'row_number() OVER ()' if numbered else 'CAST(NULL AS BIGINT)'} AS _rec, * "
        f"FROM read_csv($csv_path, columns := $csv_columns, {args})"
    )
    params: dict[str, object] = {"csv_path": str(path), "csv_columns": columns}
    params.update({f"csv_{k}": v for k, v in options.items()})
    return sql, params, header_row


def _drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS _rejects_errors")
    con.execute("DROP TABLE IF EXISTS _rejects_scans")


def _read_csv_lazy(path: Path, mapping: VendorMapping, numbered: bool = False) -> RawFile:
    """Single-scan path: staging reads the file directly; `finish_csv` checks the scan.

    Unnumbered (the default first pass), rows have no line numbers: fine for a file in which
    nothing is rejected. Otherwise `read_csv_numbered` gives the same scan with numbers.
    """
    sql, params, header_row = _csv_scan(path, mapping, numbered)
    skip = mapping.csv.header_row - 1
    return RawFile(
        path=path,
        fmt="csv",
        columns=[h.strip() for h in header_row],
        types=["VARCHAR"] * len(header_row),
        rows=-1,
        line_offset=skip + 1,
        source_sql=f"({sql})",
        source_params=params,
        mapping=mapping,
        numbered=numbered,
    )


def read_csv_numbered(path: Path, mapping: VendorMapping) -> RawFile:
    return _read_csv_lazy(path, mapping, numbered=True)


def finish_csv(con: duckdb.DuckDBPyConnection, raw: RawFile, staged_rows: int) -> RawFile | None:
    """After a single-scan staging: the file as read, or None when it needs the full path.

    The single scan numbers lines as `_rec + header`; that holds only when DuckDB rejected no
    row and every record is one line. Otherwise the file is read again the careful way
    (materialized, with physical line numbers): rare, and correct.
    """
    assert raw.mapping is not None
    rejects = con.execute("SELECT count(*) FROM _rejects_errors").fetchone()[0]  # type: ignore[index]
    if rejects:
        return None
    skip = raw.mapping.csv.header_row - 1
    if _line_count(raw.path) > staged_rows + 1 + skip:  # multi-line records or blank lines
        return None
    raw.rows = staged_rows
    return raw


def read_csv_materialized(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: VendorMapping
) -> RawFile:
    """Careful path: materialize the file as text with physical line numbers."""
    encoding = mapping.encoding
    skip = mapping.csv.header_row - 1
    sql, params, header_row = _csv_scan(path, mapping)
    delimiter = str(params["csv_delim"])
    quote = str(params["csv_quote"])
    _drop_rejects(con)
    try:
        con.execute(f"CREATE TEMP TABLE _raw AS {sql}", params)
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot be read as CSV: {_first_line(exc)}") from exc
    rejects = con.execute(
        "SELECT line, error_type, csv_line, error_message FROM _rejects_errors ORDER BY line"
    ).fetchall()
    encoding_errors = [r for r in rejects if r[1] == "INVALID ENCODING"]
    if encoding_errors:
        raise IngestError(
            f"{path}: not {encoding} text (first undecodable bytes on line "
            f"{encoding_errors[0][0]}); re-export the file as UTF-8, or set "
            'encoding = "latin-1" in the vendor mapping'
        )
    good = con.execute("SELECT count(*) FROM _raw").fetchone()[0]  # type: ignore[index]
    # DuckDB numbers rows from the top (skipped lines, header and blank lines count; a line break
    # inside quotes does not). Map them to data records and to physical lines, so a reported
    # line is the one a text editor shows.
    total = good + len({int(r[0]) for r in rejects})
    layout = _record_lines(path, encoding, delimiter, quote, skip, total)
    physical, record_of_row = layout if layout is not None else (None, None)
    first_line = skip + 2
    structural: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    for line, error_type, raw, message in rejects:
        record = int(line) - 1 - skip  # when every row is one line and no line is blank
        if record_of_row is not None and 0 <= int(line) - 1 - skip < len(record_of_row):
            record = record_of_row[int(line) - 1 - skip] or record
        if record in seen:
            continue
        seen.add(record)
        src_line = physical[record - 1] if physical is not None else record + first_line - 1
        # DuckDB's csv_line of a CRLF file starts with the previous line's "\n": strip it.
        reason = _structural_reason(error_type, message, delimiter)
        structural.append((src_line, (raw or "").strip("\r\n"), reason))
    # Line of each good record: skip the rejected record numbers, then map to physical lines.
    reject_records = sorted(seen)
    if reject_records:
        _renumber_after_rejects(con, reject_records)
    if physical is not None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _lines AS SELECT unnest($l) AS line, "
            "generate_subscripts($l, 1) AS rec",
            {"l": physical},
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _raw AS SELECT l.line AS _line, r.* EXCLUDE (_rec) "
            "FROM _raw r JOIN _lines l ON l.rec = r._rec ORDER BY r._rec"
        )
    return RawFile(
        path=path,
        fmt="csv",
        columns=[h.strip() for h in header_row],
        types=["VARCHAR"] * len(header_row),
        rows=good,
        structural_rejects=structural,
        line_offset=None if physical is not None else first_line - 1,
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
    text = io.StringIO(sample)
    for _ in range(skip):  # lines above the header row (csv.header_row), as DuckDB skips them
        text.readline()
    reader = csv.reader(text, delimiter=delimiter, quotechar=quote)
    try:
        return next(reader)
    except StopIteration:
        return []


def _line_count(path: Path) -> int:
    """Lines in a file (a last line without newline counts)."""
    return _scan(path, None, lines=True)


def _record_lines(
    path: Path, encoding: str, delimiter: str, quote: str, skip: int, records: int
) -> tuple[list[int], list[int | None]] | None:
    """Physical start line of each data record, and the data record number of each row after
    the skipped lines as DuckDB numbers them (header and blank rows: None); or None when
    records and lines coincide.

    Counting newlines is cheap; only files whose quoted fields contain line breaks (or that
    have blank lines) pay for a full parse.
    """
    if _line_count(path) <= records + 1 + skip:
        return None
    starts: list[int] = []
    record_of_row: list[int | None] = []
    with path.open(encoding=encoding, newline="") as fh:
        for _ in range(skip):
            fh.readline()
        reader = csv.reader(fh, delimiter=delimiter, quotechar=quote)
        start = skip + 1
        for row in reader:
            if row:  # blank lines are no records, for DuckDB either
                starts.append(start)
            record_of_row.append(len(starts) - 1 if row and len(starts) > 1 else None)
            start = reader.line_num + skip + 1
    data_starts = starts[1:]  # drop the header record
    return (data_starts[:records], record_of_row) if len(data_starts) >= records else None


def _structural_reason(error_type: str, message: str, delimiter: str) -> str:
    shown = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, delimiter)
    if error_type in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        return (
            f"wrong number of fields ({_first_line(message)}; separator is {shown}): "
            "check for an unquoted separator or a truncated line"
        )
    if error_type == "UNQUOTED VALUE" or "quote" in message.lower():
        return f"badly quoted field ({_first_line(message)}): close the quote or escape it"
    return f"unreadable row ({error_type.lower()}: {_first_line(message)})"


def _first_line(message: object) -> str:
    return str(message).strip().splitlines()[0] if str(message).strip() else ""


# --- Parquet ---------------------------------------------------------------------------------


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> RawFile:
    try:
        desc = con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(path)}).fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from exc
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
    _sample_text(path, mapping.encoding)  # fail early and clearly on a wrong encoding
    # Each line as one text value; a JSON text cannot contain a raw control character, so the
    # unit separator never splits a valid line.
    try:
        con.execute(
            "CREATE TEMP TABLE _jl AS SELECT row_number() OVER () AS _line, j FROM read_csv($p, "
            "columns := {'j': 'VARCHAR'}, delim := chr(31), quote := '', escape := '', "
            "header := false, auto_detect := false, encoding := $enc, strict_mode := false) ",
            {"p": str(path), "enc": _DUCKDB_ENCODING[mapping.encoding]},
        )
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot be read as JSON Lines: {_first_line(exc)}") from exc
    con.execute("DELETE FROM _jl WHERE j IS NULL OR trim(j) = ''")
    # `ok` once, guarded by CASE: json_type() raises on malformed JSON, and AND/NOT do not
    # short-circuit in DuckDB expressions.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _jl AS SELECT _line, j, "
        "CASE WHEN json_valid(j) THEN json_type(j) = 'OBJECT' ELSE false END AS ok FROM _jl"
    )
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
        (int(line), str(raw)[:2000], "not a valid JSON object: fix the line's JSON syntax")
        for line, raw in con.execute(
            "SELECT _line, j FROM _jl WHERE NOT ok ORDER BY _line"
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
    frame.columns = [f"c{i + 1}" for i in range(len(names))]
    frame.insert(0, "_line", range(header + 2, header + 2 + len(frame)))
    frame = frame.dropna(how="all", subset=list(frame.columns[1:]))
    con.register("_xlsx_frame", frame)
    con.execute("CREATE TEMP TABLE _raw AS SELECT * FROM _xlsx_frame")
    con.unregister("_xlsx_frame")
    return RawFile(path, "xlsx", names, ["VARCHAR"] * len(names), len(frame), line_unit="row")
