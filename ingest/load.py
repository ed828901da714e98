"""Loading: validate, upsert by key and record the run, all in one transaction.

Every input row ends in exactly one of inserted / updated / unchanged / stale / rejected, and
`rows_read` is their sum. A failure anywhere rolls the whole load back: the database is left
as it was, except that the run is recorded as failed (or rolled back), with the reason.

Versions. A fact row's key (decision_id, audit_id, session/item/rater) may arrive many times.
The table holds the current version; `<table>_history` holds every superseded one. An incoming
row is applied when it is newer: by the vendor's own update time (`updated_at`, when the
mapping names such a column) whatever the order of arrival, else by arrival — except that a
row equal to a version already superseded is a *stale re-send* and never reverts newer data,
a pending decision never re-opens a decided one, and a retried row never overrides a row from
a later file. Stale rows are counted, kept as versions in the history, and not applied.

Runs. A run is recorded (`running`) and committed before its work begins, so an ingest that is
killed leaves a trace (the next writer marks it `interrupted`); a file whose content, mapping
and configuration were already loaded is recognised by its SHA-256 and not read again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bpo_kpi.config import Config
from bpo_kpi.db import AUDIT_FACT_DECISION_COLUMNS, FINISHED_OK, get_meta, set_meta
from ingest.mapping import CANONICAL, Kind, VendorMapping
from ingest.readers import (
    IngestError,
    RawFile,
    _drop_rejects,
    detect_format,
    file_digest,
    finish_csv,
    format_of,
    holds_space,
    read_csv_materialized,
    read_csv_numbered,
    read_raw,
    sha256_and_lines,
    with_typed_times,
)
from ingest.validate import (
    COLUMNS,
    KEYS,
    TABLES,
    WARNING_TYPE,
    Query,
    StageSpec,
    build_stage,
    check_required_mapping,
    input_timezone,
    sla_minutes_sql,
    timestamp_sources,
)

Progress = Callable[[str], None]
Fault = Callable[[str], None]

# Time column that keeps each fact table in time order.
TIME_ORDER = {"decisions": "enqueued_at", "audits": "audited_at", "calibration": "session_date"}
TEMP_TABLES = ("_raw", "_stage", "_act", "_upd", "_dups", "_changed", "_rej", "_lines", "_inc",
               "_chg", "_cls", "_retry_raw")  # fmt: skip


@dataclass
class FileResult:
    file: str
    kind: str
    run_id: int
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # equal to a version already superseded, or older: not applied
    rejected: int = 0
    warnings: int = 0  # flaws in loaded rows (ingest_warnings); not a row outcome
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reasons: list[tuple[str, int]] = field(default_factory=list)  # top rejection reasons
    warning_reasons: list[tuple[str, int]] = field(default_factory=list)  # top warnings
    status: str = "ok"  # ok, ok_with_rejects, already_loaded
    retry_of: int | None = None
    edits_after_audit: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_read == (
            self.inserted + self.updated + self.unchanged + self.stale + self.rejected
        )

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "file": self.file,
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "edits_after_audit": self.edits_after_audit,
            "ignored_columns": self.ignored_columns,
            "seconds": round(self.seconds, 3),
        }
        if self.retry_of is not None:
            out["retry_of"] = self.retry_of
        return out


def _noop(_: str) -> None:
    return None


def mapping_hash(mapping: VendorMapping) -> str:
    """Content hash of a mapping (not its path): a changed mapping means files load again."""
    payload = mapping.model_dump(mode="json", exclude={"source", "description"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def mark_interrupted(con: duckdb.DuckDBPyConnection) -> int:
    """Runs still `running` when a writer opens the database died with their process (only one
    process writes at a time): mark them `interrupted`. Returns how many."""
    n = con.execute(
        "UPDATE ingest_runs SET status = 'interrupted', error = 'the ingest process ended before "
        "the run finished (killed or crashed); nothing of it was committed: load the file again' "
        "WHERE status = 'running'"
    ).fetchone()[0]  # type: ignore[index]
    return int(n)


def already_loaded(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    path: Path,
    config: Config,
    mapping: VendorMapping,
    vendor: str | None,
) -> int | None:
    """The run that already loaded this content with the same mapping and configuration.

    Only runs of a file of the same size are candidates, so a new file is never hashed twice
    (its SHA-256 is computed during the load).
    """
    size = path.stat().st_size
    params = {
        "kind": kind,
        "bytes": size,
        "mh": mapping_hash(mapping),
        "cfg": config.content_hash(),
        "vendor": vendor,
        "ok": list(FINISHED_OK),
    }
    where = (
        "kind = $kind AND file_bytes = $bytes AND mapping_hash = $mh AND config_hash = $cfg "
        "AND vendor IS NOT DISTINCT FROM $vendor AND list_contains($ok, status) "
        "AND retry_of IS NULL"
    )
    if not con.execute(f"SELECT count(*) FROM ingest_runs WHERE {where}", params).fetchone()[0]:  # type: ignore[index]
        return None
    sha, _ = sha256_and_lines(path, lines=False)
    row = con.execute(
        f"SELECT max(run_id) FROM ingest_runs WHERE {where} AND sha256 = $sha",
        {**params, "sha": sha},
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    files: Sequence[str | Path],
    *,
    config: Config,
    mapping: VendorMapping | None = None,
    vendor: str | None = None,
    progress: Progress = _noop,
    fault: Fault = _noop,
    force: bool = False,
) -> list[FileResult]:
    """Load `files` of one kind in a single transaction; return one reconciliation per file.

    A file already loaded with the same content, mapping and configuration is reported as
    `already_loaded` (its earlier run) without being read, unless `force`. `fault` is called
    with the name of each step (tests use it to fail half-way).
    """
    mapping = mapping or CANONICAL
    check_required_mapping(kind, mapping)
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            problem = "file does not exist" if not path.exists() else "not a file"
            raise IngestError(f"{path}: {problem}")
        detect_format(path)
    with _utc(con):
        mark_interrupted(con)
        results: list[FileResult | None] = []
        todo: list[tuple[int, Path, int]] = []  # (position, path, run id)
        for path in paths:
            earlier = None if force else already_loaded(con, kind, path, config, mapping, vendor)
            if earlier is not None:
                progress(f"{path.name}: already loaded in run {earlier}")
                results.append(
                    FileResult(file=str(path), kind=kind, run_id=earlier, status="already_loaded")
                )
                continue
            run_id = _start_run(con, kind, path, config, mapping, vendor)
            todo.append((len(results), path, run_id))
            results.append(None)
        if not todo:
            return [r for r in results if r is not None]
        with _Attempt(con, todo) as attempt:
            refresh_derived_if_config_changed(con, config, progress)
            for position, path, run_id in todo:
                attempt.current = path
                results[position] = _ingest_one(
                    con, kind, path, run_id, config, mapping, vendor, progress, fault
                )
            attempt.current = None
            fault("before_commit")
    return [r for r in results if r is not None]


class _Attempt:
    """One transaction over the runs `todo` (recorded as running before it): committed at the
    end of the block; on any failure rolled back, and the runs recorded as failed (the file
    being processed, `current`) or rolled back with it (`_fail_runs`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, todo: Sequence[tuple[int, Path, int]]):
        self.con, self.todo = con, todo
        self.current: Path | None = None

    def __enter__(self) -> _Attempt:
        self.con.execute("BEGIN TRANSACTION")
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is None:
                self.con.execute("COMMIT")
            else:
                self.con.execute("ROLLBACK")
                _fail_runs(self.con, self.todo, self.current, exc)
        finally:
            _drop_temp(self.con)


class _utc:
    """Text without an offset is cast in the session time zone: make it UTC for the load (as
    `bpo_kpi.db.connect` does), whatever the caller's connection says, and restore it after."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.tz = self.con.execute("SELECT current_setting('TimeZone')").fetchone()[0]  # type: ignore[index]
        self.con.execute("SET TimeZone = 'UTC'")

    def __exit__(self, *exc: object) -> None:
        self.con.execute("SET TimeZone = $tz", {"tz": self.tz})


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP VIEW IF EXISTS _cls")
    for table in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _start_run(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    path: Path,
    config: Config,
    mapping: VendorMapping,
    vendor: str | None,
    *,
    retry_of: int | None = None,
    sha256: str | None = None,
) -> int:
    """Record a run as `running`, committed before its work begins."""
    run_id = int(con.execute("SELECT nextval('ingest_run_seq')").fetchone()[0])  # type: ignore[index]
    con.execute(
        "INSERT INTO ingest_runs (run_id, file, sha256, kind, vendor, mapping, started_at, "
        "rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected, rows_stale, "
        "warnings, status, config_hash, mapping_hash, file_bytes, retry_of) VALUES ($run, $file, "
        "$sha, $kind, $vendor, $mapping, to_timestamp($started), 0, 0, 0, 0, 0, 0, 0, "
        "'running', $cfg, $mh, $bytes, $retry)",
        {
            "run": run_id,
            "file": str(path.resolve()),
            "sha": sha256,
            "kind": kind,
            "vendor": vendor or mapping.vendor,
            "mapping": mapping.source,
            "started": time.time(),
            "cfg": config.content_hash(),
            "mh": mapping_hash(mapping),
            "bytes": path.stat().st_size if path.is_file() else None,
            "retry": retry_of,
        },
    )
    return run_id


def _fail_runs(
    con: duckdb.DuckDBPyConnection,
    todo: Sequence[tuple[int, Path, int]],
    failed: Path | None,
    exc: BaseException,
) -> None:
    """After a rollback: the failing file's run is `failed` with the reason; the others of the
    same command were rolled back with it."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    interrupted = not isinstance(exc, Exception)
    if isinstance(exc, IngestError):
        exc.runs = [run_id for _, _, run_id in todo]
    for _, path, run_id in todo:
        if path == failed or failed is None:
            status = "interrupted" if interrupted else "failed"
            why = message if failed is not None else f"failed before commit: {message}"
        else:
            status = "rolled_back"
            why = f"not loaded: {failed.name} failed in the same command ({message})"
        try:
            con.execute(
                "UPDATE ingest_runs SET status = $s, error = $e, finished_at = to_timestamp($t) "
                "WHERE run_id = $run",
                {"s": status, "e": why, "t": time.time(), "run": run_id},
            )
        except duckdb.Error:  # the connection itself failed: nothing more to record
            return


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    path: Path,
    run_id: int,
    config: Config,
    mapping: VendorMapping,
    vendor: str | None,
    progress: Progress,
    fault: Fault,
) -> FileResult:
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    progress(f"{path.name}: reading")
    # The file's digest is computed while DuckDB loads it (hashlib releases the GIL).
    digest = _Digest(path)
    raw = read_raw(con, path, mapping)
    if mapping.timestamp_format is None and input_timezone(mapping, config) == "UTC":
        # ISO 8601 times (UTC for naive ones): the fast CSV scan lets the reader parse them.
        raw = with_typed_times(raw, timestamp_sources(kind, raw, mapping))
    result = FileResult(file=str(path), kind=kind, run_id=run_id)
    _set_source_columns(con, run_id, raw.columns)
    progress(f"{path.name}: validating" + (f" {raw.rows:,} rows" if raw.rows >= 0 else ""))
    # NUL bytes: JSON Lines and sheets are checked value by value; a CSV file only when its
    # digest found one (then it takes the staged path). Parquet strings are binary-safe and
    # written by programs: they are taken as they are.
    strip_nul = raw.fmt in ("jsonl", "xlsx")
    # A CSV file without a space byte has no value to trim: the clean load takes the values as
    # they are (a file with one tests each value's ends, in the scan).
    spaceless = raw.fmt == "csv" and not holds_space(path)
    spec = build_stage(
        kind, raw, mapping, config, vendor, now=now, strip_nul=strip_nul, spaceless=spaceless
    )
    result.ignored_columns = spec.ignored_columns
    canon = _canon(kind)
    direct = _load_direct(con, kind, raw, spec, run_id, canon, mapping, digest, progress)
    if direct is not None:
        fault("after_stage")
        result.inserted, result.updated, result.unchanged, result.stale = direct
        result.rows_read = sum(direct)
        fault("after_update")
        fault("after_insert")
    else:
        nul = strip_nul or (raw.fmt == "csv" and digest.has_nul())
        raw = _stage(con, kind, path, raw, spec, mapping, config, vendor, now, nul, progress)
        fault("after_stage")
        _load_staged(con, kind, raw, run_id, run_id, canon, result, progress, fault)
    result.edits_after_audit = _after_load(con, config, kind, run_id, path, progress)
    fault("after_audit_facts")
    result.seconds = time.perf_counter() - t0
    return _record_run(con, result, digest.value())


def _canon(kind: Kind) -> list[str]:
    return [c for c, _, _ in COLUMNS[kind]] + (["due_at_source"] if kind == "decisions" else [])


def _set_source_columns(con: duckdb.DuckDBPyConnection, run_id: int, columns: list[str]) -> None:
    con.execute(
        "UPDATE ingest_runs SET source_columns = $c WHERE run_id = $run",
        {"c": columns, "run": run_id},
    )


def _stage(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    path: Path,
    raw: RawFile,
    spec: StageSpec,
    mapping: VendorMapping,
    config: Config,
    vendor: str | None,
    now: dt.datetime,
    strip_nul: bool,
    progress: Progress,
) -> RawFile:
    """Stage the file in `_stage` (every row, with `_reason` and `_warn`); return the RawFile as
    finally read (CSV files with rejected or multi-line records are read again carefully)."""
    if strip_nul:
        spec = build_stage(kind, raw, mapping, config, vendor, now=now, strip_nul=True)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
    except duckdb.Error as exc:
        if raw.source_sql == "_raw":
            raise
        raise IngestError(f"{path}: cannot be read as {raw.fmt}: {exc}") from exc
    if not raw.numbered and _needs_line_numbers(con, kind):
        # Something is rejected or warned about: stage again with line numbers (a serial scan;
        # clean files never pay for it).
        progress(f"{path.name}: numbering lines for the rejected rows")
        _drop_rejects(con)
        raw = read_csv_numbered(path, mapping)
        spec = build_stage(kind, raw, mapping, config, vendor, now=now, strip_nul=strip_nul)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
    if raw.rows < 0:  # staging read the file itself: count what it read
        raw.rows = int(con.execute("SELECT count(*) FROM _stage").fetchone()[0])  # type: ignore[index]
    if raw.fmt == "csv" and raw.source_sql != "_raw":
        checked = finish_csv(con, raw, raw.rows)
        if checked is None:  # rejected rows or multi-line records: the careful path
            progress(f"{path.name}: re-reading with exact line numbers")
            raw = read_csv_materialized(con, path, mapping)
            spec = build_stage(kind, raw, mapping, config, vendor, now=now, strip_nul=strip_nul)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
        else:
            raw = checked
    _reject_duplicates(con, kind, raw)
    if kind == "calibration":
        _reject_extra_golden(con)
    # Rows rejected after staging get their raw content now (staging keeps it only for rows
    # that failed a check, to stay cheap).
    missing_raw = con.execute(
        "SELECT count(*) FROM _stage WHERE _reason IS NOT NULL AND _raw_json IS NULL"
    ).fetchone()[0]  # type: ignore[index]
    if missing_raw:
        _fill_raw_json(con, spec)
    return raw


def _load_staged(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    raw: RawFile,
    run_id: int,
    version_run: int,
    canon: list[str],
    result: FileResult,
    progress: Progress,
    fault: Fault,
) -> None:
    """Apply `_stage` (see `_stage`): new keys inserted in time order, known keys reconciled
    with their stored version, rejects and warnings recorded."""
    table, keys = TABLES[kind], KEYS[kind]
    path = raw.path
    progress(f"{path.name}: comparing with the database")
    key_cols = ", ".join(keys)
    # `_older`: an earlier version of a key that appears again later in the file with a newer
    # update time (a change-log export); it is kept as a version, not applied.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _inc AS SELECT *, $vr AS version_run FROM _stage "
        f"WHERE _reason IS NULL AND ({key_cols}) IN (SELECT ({key_cols}) FROM {table})"
        " OR (_reason IS NULL AND _older)",
        {"vr": version_run},
    )
    existing = _reconcile(con, kind, run_id, canon)
    result.updated, result.unchanged, result.stale = existing
    fault("after_update")
    progress(f"{path.name}: writing new and changed rows")
    inserted = con.execute(
        f"INSERT INTO {table} ({', '.join(canon)}, run_id, version_run) "
        f"SELECT {', '.join(canon)}, $run, $vr FROM _stage s WHERE _reason IS NULL "
        f"AND NOT _older AND ({key_cols}) NOT IN (SELECT ({key_cols}) FROM _inc WHERE NOT _older) "
        f"ORDER BY {TIME_ORDER[kind]}, {key_cols}",
        {"run": run_id, "vr": version_run},
    ).fetchone()[0]  # type: ignore[index]
    result.inserted = int(inserted)
    fault("after_insert")
    rejected = con.execute(
        "INSERT INTO rejected_rows (run_id, file, source_line, raw, reason) "
        "SELECT $run, $file, _line, _raw_json, _reason FROM _stage "
        "WHERE _reason IS NOT NULL ORDER BY _line",
        {"run": run_id, "file": str(path)},
    ).fetchone()[0]  # type: ignore[index]
    if raw.structural_rejects:
        con.executemany(
            "INSERT INTO rejected_rows (run_id, file, source_line, raw, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            [(run_id, str(path), line, text, why) for line, text, why in raw.structural_rejects],
        )
    result.rejected = int(rejected) + len(raw.structural_rejects)
    result.rows_read = raw.rows + len(raw.structural_rejects)
    # Warnings of the rows that were applied (a re-sent row's flaws were reported when it
    # was first loaded).
    applied = (
        f"_reason IS NULL AND _warn IS NOT NULL AND NOT _older AND (({key_cols}) NOT IN "
        f"(SELECT ({key_cols}) FROM _inc WHERE NOT _older) OR ({key_cols}) IN "
        f"(SELECT ({key_cols}) FROM _chg WHERE _action = 'update' AND NOT _older))"
    )
    result.warnings = int(
        con.execute(
            "INSERT INTO ingest_warnings (run_id, file, source_line, column_name, value, reason) "
            "SELECT $run, $file, _line, w.column_name, w.value, w.reason FROM (SELECT _line, "
            f"unnest(from_json(_warn, '{WARNING_TYPE}')) AS w FROM _stage WHERE {applied}) "
            "ORDER BY _line",
            {"run": run_id, "file": str(path)},
        ).fetchone()[0]  # type: ignore[index]
    )


def _reconcile(
    con: duckdb.DuckDBPyConnection, kind: Kind, run_id: int, canon: list[str]
) -> tuple[int, int, int]:
    """Classify and apply the incoming rows in temp table `_inc` (valid rows whose key the
    table holds, and older in-file versions): (updated, unchanged, stale).

    Rows equal to the stored row (most of a re-sent file) are found by one join; only the
    others are classified (`_chg`, with `_action`). An update moves the stored version to the
    history and changes the stored row in place (so it keeps its place in time order); a stale
    row is kept in the history as a version (unless that version is there already) and not
    applied.
    """
    table, keys = TABLES[kind], KEYS[kind]
    history = f"{table}_history"
    on = " AND ".join(f"t.{k} = i.{k}" for k in keys)
    same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM t.{c}" for c in canon)
    h_on = " AND ".join(f"h.{k} = i.{k}" for k in keys)
    h_same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM h.{c}" for c in canon)
    key_cols = ", ".join(keys)
    cols = ", ".join(canon)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _act AS SELECT {', '.join(f'i.{k}' for k in keys)} "
        f"FROM _inc i JOIN {table} t ON {on} WHERE NOT i._older AND {same}"
    )
    unchanged = int(con.execute("SELECT count(*) FROM _act").fetchone()[0])  # type: ignore[index]
    # Equal update times with different content: the larger content hash wins, so the result
    # does not depend on the order of arrival either.
    tie = f"hash({', '.join(f'i.{c}' for c in canon)}) > hash({', '.join(f't.{c}' for c in canon)})"
    newer = (
        "CASE WHEN t.updated_at IS NULL THEN true WHEN i.updated_at IS NULL THEN false "
        f"WHEN i.updated_at <> t.updated_at THEN i.updated_at > t.updated_at ELSE {tie} END"
    )
    reopen = "i.decided_at IS NULL AND t.decided_at IS NOT NULL" if kind == "decisions" else "false"
    known = f"EXISTS (SELECT 1 FROM {history} h WHERE {h_on} AND {h_same})"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _chg AS
        SELECT i.*,
            CASE WHEN i._older THEN 'stale'
                 WHEN i.updated_at IS NOT NULL OR t.updated_at IS NOT NULL
                      THEN CASE WHEN {newer} THEN 'update' ELSE 'stale' END
                 WHEN i.version_run < t.version_run THEN 'stale'   -- a retry of an older file
                 WHEN {known} THEN 'stale'
                 WHEN {reopen} THEN 'stale'          -- a pending row never re-opens a decision
                 ELSE 'update' END AS _action,
            -- a stale version not yet known (older, arrived late): kept in the history
            NOT (t.{keys[0]} IS NOT NULL AND {same}) AND NOT {known} AS _new_version
        FROM (SELECT * FROM _inc WHERE _older OR ({key_cols}) NOT IN (SELECT ({key_cols})
              FROM _act)) i
        LEFT JOIN {table} t ON {on}
        """
    )
    updated, stale = con.execute(
        "SELECT count(*) FILTER (WHERE _action = 'update'), "
        "count(*) FILTER (WHERE _action = 'stale') FROM _chg"
    ).fetchone()  # type: ignore[misc]
    run = {"run": run_id}
    if stale:
        con.execute(
            f"INSERT INTO {history} ({cols}, run_id, version_run, superseded_run) "
            f"SELECT {cols}, $run, version_run, $run FROM _chg "
            "WHERE _action = 'stale' AND _new_version",
            run,
        )
    if updated:
        system = _system_columns(kind)
        con.execute(
            f"INSERT INTO {history} ({cols}, {', '.join(system)}, superseded_run) "
            f"SELECT {', '.join(f't.{c}' for c in [*canon, *system])}, $run "
            f"FROM {table} t JOIN _chg i ON {on} WHERE i._action = 'update'",
            run,
        )
        if kind == "decisions":
            _record_edits_after_audit(con, run_id)
        set_clause = ", ".join(f"{c} = i.{c}" for c in canon)
        con.execute(
            f"UPDATE {table} AS t SET {set_clause}, run_id = $run, version_run = i.version_run "
            f"FROM _chg i WHERE i._action = 'update' AND {on}",
            run,
        )
    return int(updated), unchanged, int(stale)


def _system_columns(kind: Kind) -> list[str]:
    """Bookkeeping columns copied with a version into the history."""
    extra = ["scored_decision", "scored_policy"] if kind == "audits" else []
    return ["run_id", "version_run", *extra]


def _record_edits_after_audit(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Updates in `_chg` that change the label or policy of a decision QA has scored."""
    con.execute(
        """
        INSERT INTO edits_after_audit (run_id, decision_id, vendor, workflow, market, audits,
            old_decision, new_decision, old_policy, new_policy, recorded_at)
        SELECT $run, i.decision_id, i.vendor, i.workflow, i.market, a.n, t.decision, i.decision,
               t.policy, i.policy, to_timestamp($now)
        FROM _chg i
        JOIN decisions t ON t.decision_id = i.decision_id
        JOIN (SELECT decision_id, count(*) AS n FROM qa_audits
              WHERE scored_decision IS NOT NULL GROUP BY ALL) a ON a.decision_id = i.decision_id
        WHERE i._action = 'update' AND t.decision IS NOT NULL
          AND (i.decision IS DISTINCT FROM t.decision OR i.policy IS DISTINCT FROM t.policy)
        """,
        {"run": run_id, "now": time.time()},
    )


def _after_load(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    kind: Kind,
    run_id: int,
    path: Path,
    progress: Progress,
) -> int:
    """Pin audits to the decision version they are scored against, and rebuild audit_facts
    for the keys this run inserted or changed. Returns the run's edits after audit.

    An audit is scored against the vendor's label and policy as they stood when the audit
    was loaded (or, for an audit that arrived first, when its decision's label arrived): a
    later vendor edit cannot make a QA finding disappear. Re-sending the audit re-scores it
    against the decision as it then stands.
    """
    if kind not in ("decisions", "audits"):
        return 0
    run = {"run": run_id}
    if kind == "audits":
        con.execute(
            "UPDATE qa_audits SET scored_decision = d.decision, scored_policy = d.policy "
            "FROM decisions d WHERE qa_audits.run_id = $run AND d.decision_id = "
            "qa_audits.decision_id AND d.decision IS NOT NULL",
            run,
        )
    else:
        con.execute(
            "UPDATE qa_audits SET scored_decision = d.decision, scored_policy = d.policy "
            "FROM decisions d WHERE d.run_id = $run AND d.decision_id = qa_audits.decision_id "
            "AND qa_audits.scored_decision IS NULL AND d.decision IS NOT NULL",
            run,
        )
    table = TABLES[kind]
    _refresh_audit_facts_for(con, config, kind, f"{table} WHERE run_id = {int(run_id)}", path,
                             progress)  # fmt: skip
    if kind != "decisions":
        return 0
    return int(
        con.execute("SELECT count(*) FROM edits_after_audit WHERE run_id = $run", run).fetchone()[0]  # type: ignore[index]
    )


class _Digest:
    """SHA-256 of a file (and the line count of a text file, and whether it holds NUL bytes),
    computed in a thread while the load runs: hashlib releases the GIL, so the read and the
    hash overlap DuckDB's work."""

    def __init__(self, path: Path) -> None:
        self._value: tuple[str, int | None, bool] | BaseException = ("", None, False)
        lines = format_of(path) == "csv"  # x.csv.gz too
        self._thread = threading.Thread(target=self._run, args=(path, lines), daemon=True)
        self._thread.start()

    def _run(self, path: Path, lines: bool) -> None:
        try:
            self._value = file_digest(path, lines)
        except BaseException as exc:  # re-raised in the caller's thread
            self._value = exc

    def _result(self) -> tuple[str, int | None, bool]:
        self._thread.join()
        if isinstance(self._value, BaseException):
            raise self._value
        return self._value

    def value(self) -> str:
        return self._result()[0]

    def lines(self) -> int:
        """Lines in the file (`readers._line_count`)."""
        count = self._result()[1]
        assert count is not None, "line count of a CSV file only"
        return count

    def has_nul(self) -> bool:
        """Whether the (decompressed) text holds a NUL byte."""
        return bool(self._result()[2])


# A warning's kind: its reason with the times and long numbers in it left out, so that the
# same flaw on many rows counts as one kind.
WARNING_KIND_SQL = "regexp_replace(reason, '(^| )[^ ]*([0-9][-:/.T]|[0-9]{6})[^ ]*', '\\1…', 'g')"


def _record_run(con: duckdb.DuckDBPyConnection, result: FileResult, sha256: str) -> FileResult:
    """Check the reconciliation and record the run's outcome in its ingest_runs row."""
    run_id = result.run_id
    run = {"run": run_id}
    result.reasons = [
        (str(r), int(n))
        for r, n in con.execute(
            "SELECT reason, count(*) FROM rejected_rows WHERE run_id = $run "
            "GROUP BY reason ORDER BY count(*) DESC, reason LIMIT 5",
            run,
        ).fetchall()
    ]
    result.warning_reasons = [
        (str(r), int(n))
        for r, n in con.execute(
            f"SELECT column_name || ': ' || {WARNING_KIND_SQL}, count(*) FROM ingest_warnings "
            "WHERE run_id = $run "
            "GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 5",
            run,
        ).fetchall()
    ]
    result.status = "ok" if result.rejected == 0 else "ok_with_rejects"
    if not result.reconciles:  # a bug, never a data problem: refuse to commit
        raise RuntimeError(f"reconciliation failed for {result.file}: {result.as_dict()}")
    con.execute(
        "UPDATE ingest_runs SET sha256 = coalesce($sha, sha256), finished_at = to_timestamp($t), "
        "rows_read = $read, rows_inserted = $ins, rows_updated = $upd, rows_unchanged = $unch, "
        "rows_rejected = $rej, rows_stale = $stale, warnings = $warn, status = $status "
        "WHERE run_id = $run",
        {
            "run": run_id,
            "sha": sha256 or None,
            "t": time.time(),  # not now(): that is the transaction's start time
            "read": result.rows_read,
            "ins": result.inserted,
            "upd": result.updated,
            "unch": result.unchanged,
            "rej": result.rejected,
            "stale": result.stale,
            "warn": result.warnings,
            "status": result.status,
        },
    )
    return result


def _refresh_audit_facts_for(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    kind: Kind,
    changed_rows: str,
    path: Path,
    progress: Progress,
) -> None:
    """Rebuild audit_facts for the keys of `changed_rows` (a FROM clause of this module's)."""
    progress(f"{path.name}: updating audit facts")
    key = "decision_id" if kind == "decisions" else "audit_id"
    # Only decisions that some audit refers to can change audit_facts.
    audited = (
        " AND decision_id IN (SELECT decision_id FROM qa_audits)" if kind == "decisions" else ""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT DISTINCT {key} AS k FROM {changed_rows}"
        f"{audited}"
    )
    refresh_audit_facts(con, config, key)


def _load_direct(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    raw: RawFile,
    spec: StageSpec,
    run_id: int,
    canon: list[str],
    mapping: VendorMapping,
    digest: _Digest,
    progress: Progress,
) -> tuple[int, int, int, int] | None:
    """Load a clean file straight from the validating scan; (inserted, updated, unchanged,
    stale).

    Staging every row in a temporary table and then sorting it on the way into the fact table
    cost more than DuckDB's own load of the file (10M rows: the sort alone ~4.6 s). So the
    scan's valid rows go straight into the table in file order, tagged with this run, and the
    load is then confirmed clean:

    - the file had as many rows as were inserted (nothing failed a check or drew a warning,
      nothing was rejected by the CSV reader, every CSV record is one line, no NUL byte),
    - no key appears twice in the file.

    If not, this run's rows are deleted again (same transaction; DuckDB drops them before they
    reach the file) and the caller takes the staged path, which reports every rejected row with
    its line. A file not in time order is re-sorted. Rows whose key the table already held are
    then taken out again and reconciled with the stored version (`_reconcile`). Calibration
    files (golden answers are checked across rows) always take the staged path.
    """
    if kind == "calibration" or raw.structural_rejects:
        return None
    table, (key,) = TABLES[kind], KEYS[kind]
    had_rows = bool(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    run = {"run": run_id}
    mine = f"{table} WHERE run_id = $run"
    try:
        inserted = int(
            con.execute(
                f"INSERT INTO {table} ({', '.join(canon)}, run_id, version_run) "
                f"SELECT {', '.join(canon)}, $run, $run FROM ({spec.clean_sql})",
                {**spec.clean_params, **run},
            ).fetchone()[0]  # type: ignore[index]
        )
    except duckdb.Error as exc:
        if raw.source_sql == "_raw":
            raise
        raise IngestError(f"{raw.path}: cannot be read as {raw.fmt}: {exc}") from exc
    clean = inserted == _rows_in_file(con, raw, mapping, digest)
    if clean and raw.fmt == "csv":
        clean = not digest.has_nul()
    # Distinct hashes prove distinct keys; a hash collision only sends the file the slow way.
    # Sorting the hashes and comparing neighbours beat count(DISTINCT) (10M: 0.76 s vs 1.0 s).
    if clean and inserted:
        clean = not con.execute(
            "SELECT count(*) FROM (SELECT h, lag(h) OVER (ORDER BY h) AS prev "
            f"FROM (SELECT hash({key}) AS h FROM {mine})) WHERE h = prev",
            run,
        ).fetchone()[0]  # type: ignore[index]
    if not clean:
        con.execute(f"DELETE FROM {mine}", run)
        _drop_rejects(con)
        return None
    order = TIME_ORDER[kind]
    # In the order the rows were appended: DuckDB streams a window without ORDER BY in scan
    # order (insertion order is preserved), 0.03 s at 10M against 0.35 s for ORDER BY rowid,
    # which sorts. Were the order ever other, the cost would be a needless re-sort (or a table
    # less well ordered for skipping): never a wrong number.
    unsorted = con.execute(
        f"SELECT count(*) FILTER (WHERE t < prev) FROM (SELECT {order} AS t, "
        f"lag({order}) OVER () AS prev FROM {mine})",
        run,
    ).fetchone()[0]  # type: ignore[index]
    if unsorted:
        progress(f"{raw.path.name}: putting the rows in time order")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM {mine} ORDER BY {order}, {key}",
            run,
        )
        con.execute(f"DELETE FROM {mine}", run)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _stage")
    if not had_rows:
        return inserted, 0, 0, 0
    progress(f"{raw.path.name}: comparing with the database")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _inc AS SELECT {', '.join(canon)}, version_run, "
        f"false AS _older FROM {mine} AND {key} IN (SELECT {key} FROM {table} "
        "WHERE run_id <> $run)",
        run,
    )
    known = con.execute("SELECT count(*) FROM _inc").fetchone()[0]  # type: ignore[index]
    if not known:
        return inserted, 0, 0, 0
    con.execute(f"DELETE FROM {mine} AND {key} IN (SELECT {key} FROM _inc)", run)
    updated, unchanged, stale = _reconcile(con, kind, run_id, canon)
    return inserted - known, updated, unchanged, stale


def _rows_in_file(
    con: duckdb.DuckDBPyConnection, raw: RawFile, mapping: VendorMapping, digest: _Digest
) -> int | None:
    """Data rows in the file as a clean read sees them, or None when unknown."""
    if raw.rows >= 0:  # materialized (JSON Lines, XLSX, careful CSV)
        return raw.rows
    if raw.fmt == "parquet":
        return int(
            con.execute(
                "SELECT sum(num_rows) FROM parquet_file_metadata($p)", {"p": str(raw.path)}
            ).fetchone()[0]  # type: ignore[index]
        )
    if raw.fmt == "csv":
        if con.execute("SELECT count(*) FROM _rejects_errors").fetchone()[0]:  # type: ignore[index]
            return None
        # Every record on one line: data rows = lines after the header.
        return digest.lines() - mapping.csv.header_row
    return None


def _needs_line_numbers(con: duckdb.DuckDBPyConnection, kind: Kind) -> bool:
    """Whether an unnumbered scan rejected or warned about anything (a check, a duplicate key,
    or a row the CSV reader could not parse): their lines are reported."""
    keys = ", ".join(KEYS[kind])
    bad = con.execute(
        "SELECT (SELECT count(*) FROM _stage WHERE _reason IS NOT NULL OR _warn IS NOT NULL) + "
        "(SELECT count(*) FROM _rejects_errors)"
    ).fetchone()[0]  # type: ignore[index]
    if bad:
        return True
    dups = con.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM _stage GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]  # type: ignore[index]
    return bool(dups) or kind == "calibration"  # golden checks report lines too


def _fill_raw_json(con: duckdb.DuckDBPyConnection, spec: StageSpec) -> None:
    """Raw content for rows rejected after staging (duplicates): read from the source again."""
    con.execute(
        f"UPDATE _stage SET _raw_json = r._raw_json FROM ({spec.raw_sql}) r "
        "WHERE _stage._reason IS NOT NULL AND _stage._raw_json IS NULL AND r._line = _stage._line",
        spec.raw_params,
    )


def _reject_duplicates(con: duckdb.DuckDBPyConnection, kind: Kind, raw: RawFile) -> None:
    """Within one file a key may appear once; later copies are rejected, naming the first.

    Except versions: copies that all carry distinct update times (a change-log export) are
    versions of the key; the newest is loaded and the older ones are marked `_older` (kept
    in the history as versions, counted stale).
    """
    con.execute("ALTER TABLE _stage ADD COLUMN IF NOT EXISTS _older BOOLEAN DEFAULT false")
    keys = KEYS[kind]
    cols = ", ".join(keys)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dups AS SELECT {cols}, min(_line) AS first_line, "
        "count(DISTINCT updated_at) = count(*) AS versions, max(updated_at) AS newest "
        f"FROM _stage WHERE _reason IS NULL GROUP BY {cols} HAVING count(*) > 1"
    )
    if con.execute("SELECT count(*) FROM _dups").fetchone()[0] == 0:  # type: ignore[index]
        return
    match = " AND ".join(f"_stage.{k} = d.{k}" for k in keys)
    con.execute(
        f"UPDATE _stage SET _older = true FROM _dups d WHERE {match} AND d.versions "
        "AND _stage._reason IS NULL AND _stage.updated_at < d.newest"
    )
    key_text = " || '/' || ".join(f"d.{k}" for k in keys)
    con.execute(
        f"UPDATE _stage SET _reason = printf('duplicate %s %s in this file (first on %s %s); "
        f"send corrections in a later file', $keyname, {key_text}, "
        "$unit, CAST(d.first_line AS VARCHAR)) "
        f"FROM _dups d WHERE {match} AND NOT d.versions AND _stage._line > d.first_line "
        "AND _stage._reason IS NULL",
        {"keyname": "/".join(keys), "unit": raw.line_unit},
    )


def _reject_extra_golden(con: duckdb.DuckDBPyConnection) -> None:
    """At most one golden answer per session item, counting what the database already holds."""
    con.execute(
        """
        UPDATE _stage SET _reason = printf(
            'a second golden answer for session %s item %s (rater %s); keep one is_golden row '
            'per session item', s.session_id, s.item_id, s.rater_id)
        FROM (
            SELECT _line, session_id, item_id, rater_id, row_number() OVER (
                PARTITION BY session_id, item_id ORDER BY existing DESC, _line) AS n
            FROM (
                SELECT _line, session_id, item_id, rater_id, false AS existing FROM _stage
                WHERE is_golden AND _reason IS NULL AND NOT _older
                UNION ALL
                SELECT NULL, c.session_id, c.item_id, c.rater_id, true FROM calibration_ratings c
                WHERE c.is_golden AND (c.session_id, c.item_id) IN (
                    SELECT (session_id, item_id) FROM _stage WHERE is_golden)
                  AND NOT EXISTS (SELECT 1 FROM _stage x WHERE x.session_id = c.session_id
                    AND x.item_id = c.item_id AND x.rater_id = c.rater_id
                    AND x._reason IS NULL)  -- a rejected re-send does not replace the row
            )
        ) s
        WHERE s.n > 1 AND s._line = _stage._line
        """
    )


# --- retrying rejected rows ------------------------------------------------------------------


def retry_rejected(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    config: Config,
    mapping: VendorMapping | None = None,
    progress: Progress = _noop,
    fault: Fault = _noop,
) -> FileResult:
    """Validate a run's outstanding rejected rows again, with the current configuration and
    `mapping` (default: the run's mapping file as it is now), and load those now valid.

    The retry is a run of its own (`retry_of`): its rows read are the rows retried, and they
    reconcile as any run's do. Each retried row is marked resolved by it (`resolved_run`);
    rows rejected again are recorded under the retry run, with their original lines. Rows
    load as of the original file: a row from a later file is never overridden by them.
    """
    found = con.execute(
        "SELECT kind, file, sha256, vendor, mapping, source_columns, status FROM ingest_runs "
        "WHERE run_id = $run",
        {"run": run_id},
    ).fetchone()
    if found is None:
        raise IngestError(f"run {run_id} does not exist (bpo-kpi runs lists them)")
    kind, file, sha, vendor, mapping_file, columns, status = found
    if status not in FINISHED_OK:
        raise IngestError(f"run {run_id} is {status}: only a loaded run's rejected rows can be "
                          "retried; load its file again instead")  # fmt: skip
    if mapping is None:
        from ingest.mapping import load_mapping

        mapping = load_mapping(mapping_file) if mapping_file else CANONICAL
    check_required_mapping(kind, mapping)
    rows = con.execute(
        "SELECT source_line, raw, reason FROM rejected_rows WHERE run_id = $run "
        "AND resolved_run IS NULL ORDER BY source_line",
        {"run": run_id},
    ).fetchall()
    path = Path(file)
    with _utc(con):
        mark_interrupted(con)
        new_run = _start_run(con, kind, path, config, mapping, vendor, retry_of=run_id,
                             sha256=sha)  # fmt: skip
        with _Attempt(con, [(0, path, new_run)]) as attempt:
            attempt.current = path
            t0 = time.perf_counter()
            result = FileResult(file=str(path), kind=kind, run_id=new_run, retry_of=run_id)
            raw = _retry_raw(con, path, list(columns or []), rows, mapping)
            _set_source_columns(con, new_run, raw.columns)
            spec = build_stage(kind, raw, mapping, config, vendor)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
            _reject_duplicates(con, kind, raw)
            if kind == "calibration":
                _reject_extra_golden(con)
            _fill_raw_json(con, spec)
            fault("after_stage")
            _load_staged(con, kind, raw, new_run, run_id, _canon(kind), result, progress, fault)
            result.edits_after_audit = _after_load(con, config, kind, new_run, path, progress)
            con.execute(
                "UPDATE rejected_rows SET resolved_run = $new WHERE run_id = $run "
                "AND resolved_run IS NULL",
                {"new": new_run, "run": run_id},
            )
            result.seconds = time.perf_counter() - t0
            _record_run(con, result, "")
            fault("before_commit")
    return result


CUT_MARK = re.compile(r"\.\.\. \[cut: [0-9,]+ characters in all\]$")


def _retry_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    columns: list[str],
    rows: Sequence[tuple[Any, Any, Any]],
    mapping: VendorMapping,
) -> RawFile:
    """Rejected rows as a `_raw` table again: a row rejected by validation from its stored
    columns (JSON), a line the reader could not split from its text, split again with the
    mapping's CSV options (still wrong: rejected again with its reason)."""
    import csv
    import io

    if not columns:
        raise IngestError(
            f"{path}: this run did not record the file's columns (it predates retries); "
            "load the corrected file instead"
        )
    values: list[list[Any]] = []
    lines: list[int] = []
    structural: list[tuple[int, str, str]] = []
    delimiter = mapping.csv.delimiter or ","
    quote = mapping.csv.quote or '"'
    for line, raw, reason in rows:
        record: dict[str, Any] | None = None
        try:
            parsed = json.loads(raw) if raw else None
        except (json.JSONDecodeError, TypeError):
            parsed = None
        if raw is not None and CUT_MARK.search(str(raw)):
            # Stored shortened (a huge row): splitting the rest could invent a value.
            structural.append((int(line), str(raw), str(reason)))
        elif isinstance(parsed, dict) and set(parsed) <= set(columns):
            record = parsed
        elif raw is not None and path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            structural.append((int(line), str(raw), str(reason)))
        elif raw is not None:
            fields = next(csv.reader(io.StringIO(str(raw)), delimiter=delimiter,
                                     quotechar=quote), [])  # fmt: skip
            if len(fields) == len(columns):
                record = dict(zip(columns, fields, strict=True))
            else:
                structural.append((int(line), str(raw), str(reason)))
        else:  # raw content hidden or lost: nothing to validate again
            structural.append((int(line), "", str(reason)))
        if record is not None:
            lines.append(int(line))
            values.append([None if record.get(c) is None else str(record.get(c))
                           for c in columns])  # fmt: skip
    frame = pd.DataFrame(values, columns=[f"c{i + 1}" for i in range(len(columns))], dtype=object)
    frame.insert(0, "_line", pd.Series(lines, dtype="int64"))
    con.execute("DROP TABLE IF EXISTS _raw")
    con.register("_retry_frame", frame)
    cast = ", ".join(f"CAST(c{i + 1} AS VARCHAR) AS c{i + 1}" for i in range(len(columns)))
    con.execute(f"CREATE TEMP TABLE _raw AS SELECT _line, {cast} FROM _retry_frame")
    con.unregister("_retry_frame")
    return RawFile(path, "retry", columns, ["VARCHAR"] * len(columns), len(frame), structural)


# --- derived data -----------------------------------------------------------------------------


AUDIT_FACT_COLUMNS = [
    "audit_id", "decision_id", "auditor_id", "audited_at", "qa_decision", "qa_policy",
    "error_type", "error_type_source", "severity", "dispute_status", "disputed_at",
    "dispute_resolved_at", "comment", "is_error",
    "is_orphan", "error_category", "error_counts", "edited_after_audit",
    *AUDIT_FACT_DECISION_COLUMNS,
]  # fmt: skip


def _audit_fact_select(config: Config, where: str) -> tuple[str, dict[str, object]]:
    """SELECT producing audit_facts rows (AUDIT_FACT_COLUMNS): qa_audits joined once to their
    decisions, scored against the label and policy the audit is pinned to."""
    params: dict[str, object] = {
        "act": config.actioning_labels,
        "uncounted": config.uncounted_error_types(),
    }
    derived = """
        CASE WHEN is_orphan OR label IS NULL THEN NULL
             WHEN list_contains($act, label) AND NOT list_contains($act, qa_decision)
                  THEN 'over_enforcement'
             WHEN NOT list_contains($act, label) AND list_contains($act, qa_decision)
                  THEN 'under_enforcement'
             WHEN list_contains($act, label) AND qa_policy IS NOT NULL
                  AND label_policy IS DISTINCT FROM qa_policy THEN 'wrong_policy'
             WHEN list_contains($act, label) AND label <> qa_decision
                  THEN 'wrong_action'
        END"""
    whens = []
    for i, rule in enumerate(config.severity_rules):
        conds = ["true"]
        for attr, expr in (
            ("error_type", "et"),
            ("workflow", "workflow"),
            ("policy", "coalesce(qa_policy, label_policy)"),
        ):
            value = getattr(rule, attr)
            if value is not None:
                params[f"r{i}_{attr}"] = value
                conds.append(f"{expr} = $r{i}_{attr}")
        params[f"r{i}_sev"] = rule.severity
        whens.append(f"WHEN {' AND '.join(conds)} THEN $r{i}_sev")
    params["default_sev"] = config.default_severity
    categories = []
    for category in ("over_enforcement", "under_enforcement", "wrong_policy", "wrong_action"):
        params[f"cat_{category}"] = config.error_types_in(category)
        categories.append(f"WHEN list_contains($cat_{category}, et) THEN '{category}'")
    decision_cols = ", ".join(
        f"d.{c}" for c in AUDIT_FACT_DECISION_COLUMNS if c not in ("decision", "policy")
    )
    outer = [
        "label AS decision" if c == "decision" else "label_policy AS policy" if c == "policy"
        else c
        for c in AUDIT_FACT_DECISION_COLUMNS
    ]  # fmt: skip
    sql = f"""
        SELECT audit_id, decision_id, auditor_id, audited_at, qa_decision, qa_policy,
               et AS error_type,
               CASE WHEN et IS NULL THEN NULL
                    WHEN error_type IS NOT NULL THEN 'qa' ELSE 'derived' END,
               CASE WHEN et IS NULL THEN NULL WHEN severity IS NOT NULL THEN severity
                    {" ".join(whens)} ELSE $default_sev END,
               dispute_status, disputed_at, dispute_resolved_at, comment,
               counts AND dispute_status <> 'overturned',
               is_orphan,
               CASE WHEN et IS NULL THEN NULL {" ".join(categories)} ELSE 'other' END,
               counts,
               edited,
               {", ".join(outer)}
        FROM (
            SELECT *, et IS NOT NULL AND NOT list_contains($uncounted, et) AS counts
            FROM (
                SELECT *, CASE WHEN error_type IS NOT NULL THEN nullif(error_type, 'none')
                               ELSE {derived} END AS et
                FROM (
                    SELECT a.* EXCLUDE (run_id, version_run, updated_at, scored_decision,
                                        scored_policy),
                           d.decision_id IS NULL AS is_orphan,
                           {decision_cols},
                           -- the version the audit is scored against (see ingest.load)
                           CASE WHEN a.scored_decision IS NOT NULL THEN a.scored_decision
                                ELSE d.decision END AS label,
                           CASE WHEN a.scored_decision IS NOT NULL THEN a.scored_policy
                                ELSE d.policy END AS label_policy,
                           a.scored_decision IS NOT NULL AND d.decision_id IS NOT NULL
                               AND (a.scored_decision IS DISTINCT FROM d.decision
                                    OR a.scored_policy IS DISTINCT FROM d.policy) AS edited
                    FROM qa_audits a LEFT JOIN decisions d ON d.decision_id = a.decision_id
                    {where}
                ) x
            )
        )
    """
    return sql, params


def refresh_audit_facts(
    con: duckdb.DuckDBPyConnection, config: Config, key: str | None = None
) -> None:
    """Rebuild audit_facts rows whose `key` (decision_id / audit_id) is in temp table _changed,
    or the whole table when `key` is None. Rows are appended in the decision's time order."""
    if key is None:
        con.execute("DELETE FROM audit_facts")
        where = ""
    else:
        con.execute(f"DELETE FROM audit_facts WHERE {key} IN (SELECT k FROM _changed)")
        where = f"WHERE a.{key} IN (SELECT k FROM _changed)"
    select, params = _audit_fact_select(config, where)
    con.execute(
        f"INSERT INTO audit_facts ({', '.join(AUDIT_FACT_COLUMNS)}) SELECT * FROM ({select}) "
        "ORDER BY coalesce(decided_at, audited_at), audit_id",
        params,
    )


# The meta key of `Config.derivation_hash` the stored derived values were computed with
# ("config_hash" keeps the whole configuration's hash of that moment).
DERIVATION_HASH = "derivation_hash"


def refresh_derived_if_config_changed(
    con: duckdb.DuckDBPyConnection, config: Config, progress: Progress = _noop
) -> bool:
    """Recompute configuration-derived values (SLA due times, error types, severities).

    Runs inside the caller's transaction when the configuration hash differs from the one the
    data was derived with (`Config.derivation_hash`: only the settings stored values derive
    from); returns whether it ran.
    """
    current = config.derivation_hash()
    stored = get_meta(con, DERIVATION_HASH)
    if stored is None and get_meta(con, "config_hash") == config.content_hash():
        stored = current  # written before the derivation hash existed, with this configuration
    if stored == current:
        if get_meta(con, DERIVATION_HASH) is None and get_meta(con, "config_hash") is not None:
            set_meta(con, DERIVATION_HASH, current)
        return False
    has_data = con.execute("SELECT count(*) FROM decisions").fetchone()[0]  # type: ignore[index]
    if has_data:
        progress("configuration changed: recomputing SLA due times and error types")
        q = Query()
        sla = sla_minutes_sql(q.bind, config)
        con.execute(
            f"""
            UPDATE decisions SET due_at = d.new_due, due_at_source = d.src
            FROM (
                SELECT decision_id,
                       enqueued_at + to_microseconds(CAST(({sla}) * 60000000 AS BIGINT))
                           AS new_due,
                       CASE WHEN ({sla}) IS NOT NULL THEN 'config' END AS src
                FROM decisions
                WHERE due_at_source IS DISTINCT FROM 'queue'
            ) d
            WHERE decisions.decision_id = d.decision_id
              AND (decisions.due_at IS DISTINCT FROM d.new_due
                   OR decisions.due_at_source IS DISTINCT FROM d.src)
            """,
            q.params,
        )
    refresh_audit_facts(con, config, None)
    set_meta(con, "config_hash", config.content_hash())
    set_meta(con, DERIVATION_HASH, current)
    return True
