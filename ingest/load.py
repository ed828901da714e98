"""Loading: validate, upsert by key and record the run, all in one transaction.

Every input row ends in exactly one of inserted / updated / unchanged / rejected, and
`rows_read` is their sum. A failure anywhere rolls the whole load back: the database is left
exactly as it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bpo_kpi.config import Config
from bpo_kpi.db import AUDIT_FACT_DECISION_COLUMNS, get_meta, set_meta
from ingest.mapping import CANONICAL, Kind, VendorMapping
from ingest.readers import (
    FORMATS,
    IngestError,
    RawFile,
    _drop_rejects,
    finish_csv,
    read_csv_materialized,
    read_csv_numbered,
    read_raw,
    sha256_and_lines,
)
from ingest.validate import (
    COLUMNS,
    KEYS,
    TABLES,
    Query,
    StageSpec,
    build_stage,
    check_required_mapping,
    sla_minutes_sql,
)

Progress = Callable[[str], None]
Fault = Callable[[str], None]

# Time column that keeps each fact table in time order.
TIME_ORDER = {"decisions": "enqueued_at", "audits": "audited_at", "calibration": "session_date"}


@dataclass
class FileResult:
    file: str
    kind: str
    run_id: int
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # equal to a version already superseded: not applied
    rejected: int = 0
    warnings: int = 0  # flaws in loaded rows (ingest_warnings); not a row outcome
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reasons: list[tuple[str, int]] = field(default_factory=list)  # top rejection reasons

    @property
    def reconciles(self) -> bool:
        return self.rows_read == (
            self.inserted + self.updated + self.unchanged + self.stale + self.rejected
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "kind": self.kind,
            "run_id": self.run_id,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "ignored_columns": self.ignored_columns,
            "seconds": round(self.seconds, 3),
        }


def _noop(_: str) -> None:
    return None


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
) -> list[FileResult]:
    """Load `files` of one kind in a single transaction; return one reconciliation per file.

    `fault` is called with the name of each step (tests use it to fail half-way).
    """
    mapping = mapping or CANONICAL
    check_required_mapping(kind, mapping)
    results: list[FileResult] = []
    # Text without an offset is cast in the session time zone: make it UTC for the load (as
    # `bpo_kpi.db.connect` does), whatever the caller's connection says, and restore it after.
    session_tz = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]  # type: ignore[index]
    con.execute("SET TimeZone = 'UTC'")
    con.execute("BEGIN TRANSACTION")
    try:
        refresh_derived_if_config_changed(con, config, progress)
        for file in files:
            results.append(
                _ingest_one(con, kind, Path(file), config, mapping, vendor, progress, fault)
            )
        fault("before_commit")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP VIEW IF EXISTS _cls")
        for table in ("_raw", "_stage", "_act", "_upd", "_dups", "_changed", "_rej", "_lines"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("SET TimeZone = $tz", {"tz": session_tz})
    return results


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    path: Path,
    config: Config,
    mapping: VendorMapping,
    vendor: str | None,
    progress: Progress,
    fault: Fault,
) -> FileResult:
    started = time.time()
    t0 = time.perf_counter()
    if not path.is_file():
        problem = "file does not exist" if not path.exists() else "not a file"
        raise IngestError(f"{path}: {problem}")
    progress(f"{path.name}: reading")
    # The file's digest is computed while DuckDB loads it (hashlib releases the GIL).
    digest = _Digest(path)
    raw = read_raw(con, path, mapping)
    run_id = int(con.execute("SELECT nextval('ingest_run_seq')").fetchone()[0])  # type: ignore[index]
    result = FileResult(file=str(path), kind=kind, run_id=run_id)
    progress(f"{path.name}: validating" + (f" {raw.rows:,} rows" if raw.rows >= 0 else ""))
    spec = build_stage(kind, raw, mapping, config, vendor)
    result.ignored_columns = spec.ignored_columns
    table = TABLES[kind]
    keys = KEYS[kind]
    canon = [c for c, _, _ in COLUMNS[kind]] + (["due_at_source"] if kind == "decisions" else [])
    direct = _load_direct(con, kind, raw, spec, run_id, canon, mapping, digest, progress)
    if direct is not None:
        fault("after_stage")
        result.inserted, result.updated, result.unchanged = direct
        result.rows_read = sum(direct)
        fault("after_update")
        fault("after_insert")
        changed = f"{table} WHERE run_id = {int(run_id)}"  # inserted and updated rows
        _refresh_audit_facts_for(con, config, kind, changed, path, progress)
        fault("after_audit_facts")
        return _record_run(con, result, path, digest, kind, vendor, mapping, config, started, t0)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
    except duckdb.Error as exc:
        if raw.source_sql == "_raw":
            raise
        raise IngestError(f"{path}: cannot be read as {raw.fmt}: {exc}") from exc
    if not raw.numbered and _needs_line_numbers(con, kind):
        # Something is rejected: stage again with line numbers (a serial scan; clean files
        # never pay for it).
        progress(f"{path.name}: numbering lines for the rejected rows")
        _drop_rejects(con)
        raw = read_csv_numbered(path, mapping)
        spec = build_stage(kind, raw, mapping, config, vendor)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
    if raw.rows < 0:  # staging read the file itself: count what it read
        staged = int(con.execute("SELECT count(*) FROM _stage").fetchone()[0])  # type: ignore[index]
        raw.rows = staged
    if raw.fmt == "csv" and raw.source_sql != "_raw":
        checked = finish_csv(con, raw, raw.rows)
        if checked is None:  # rejected rows or multi-line records: the careful path
            progress(f"{path.name}: re-reading with exact line numbers")
            raw = read_csv_materialized(con, path, mapping)
            spec = build_stage(kind, raw, mapping, config, vendor)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {spec.sql}", spec.params)
        else:
            raw = checked
    fault("after_stage")
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

    progress(f"{path.name}: comparing with the database")
    _classify(con, table, keys, canon)
    counts = dict(con.execute("SELECT _action, count(*) FROM _cls GROUP BY ALL").fetchall())
    result.inserted = counts.get("insert", 0)
    result.updated = counts.get("update", 0)
    result.unchanged = counts.get("unchanged", 0)
    result.rejected = counts.get("reject", 0) + len(raw.structural_rejects)
    result.rows_read = raw.rows + len(raw.structural_rejects)

    progress(f"{path.name}: writing {result.inserted:,} new and {result.updated:,} changed rows")
    set_clause = ", ".join(f"{c} = s.{c}" for c in canon)
    key_match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    con.execute(
        f"UPDATE {table} AS t SET {set_clause}, run_id = $run FROM _cls s "
        f"WHERE s._action = 'update' AND {key_match}",
        {"run": run_id},
    )
    fault("after_update")
    con.execute(
        f"INSERT INTO {table} ({', '.join(canon)}, run_id) "
        f"SELECT {', '.join(canon)}, $run FROM _cls WHERE _action = 'insert' "
        f"ORDER BY {TIME_ORDER[kind]}, {', '.join(keys)}",
        {"run": run_id},
    )
    fault("after_insert")
    _record_rejects(con, run_id, path, raw)
    changed = "_cls WHERE _action IN ('insert', 'update')"
    _refresh_audit_facts_for(con, config, kind, changed, path, progress)
    fault("after_audit_facts")
    return _record_run(con, result, path, digest, kind, vendor, mapping, config, started, t0)


class _Digest:
    """SHA-256 of a file (and the line count of a text file), computed in a thread while the
    load runs: hashlib releases the GIL, so the read and the hash overlap DuckDB's work."""

    def __init__(self, path: Path) -> None:
        self._value: tuple[str, int | None] | BaseException = ("", None)
        lines = FORMATS.get(path.suffix.lower()) == "csv"
        self._thread = threading.Thread(target=self._run, args=(path, lines), daemon=True)
        self._thread.start()

    def _run(self, path: Path, lines: bool) -> None:
        try:
            self._value = sha256_and_lines(path, lines)
        except BaseException as exc:  # re-raised in the caller's thread
            self._value = exc

    def _result(self) -> tuple[str, int | None]:
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


def _record_run(
    con: duckdb.DuckDBPyConnection,
    result: FileResult,
    path: Path,
    digest: _Digest,
    kind: Kind,
    vendor: str | None,
    mapping: VendorMapping,
    config: Config,
    started: float,
    t0: float,
) -> FileResult:
    """Check the reconciliation and record the run in ingest_runs."""
    run_id = result.run_id
    result.reasons = [
        (str(r), int(n))
        for r, n in con.execute(
            "SELECT reason, count(*) FROM rejected_rows WHERE run_id = $run "
            "GROUP BY reason ORDER BY count(*) DESC, reason LIMIT 5",
            {"run": run_id},
        ).fetchall()
    ]
    result.seconds = time.perf_counter() - t0
    if not result.reconciles:  # a bug, never a data problem: refuse to commit
        raise RuntimeError(f"reconciliation failed for {path}: {result.as_dict()}")
    con.execute(
        "INSERT INTO ingest_runs (run_id, file, sha256, kind, vendor, mapping, started_at, "
        "finished_at, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected, "
        "status, config_hash, rows_stale, warnings) VALUES ($run, $file, $sha, $kind, $vendor, "
        "$mapping, to_timestamp($started), to_timestamp($finished), $read, $ins, $upd, $unch, "
        "$rej, $status, $cfg, $stale, $warn)",
        {
            "run": run_id,
            "file": str(path.resolve()),
            "sha": digest.value(),
            "kind": kind,
            "vendor": vendor or mapping.vendor,
            "mapping": mapping.source,
            "started": started,
            "finished": time.time(),  # not now(): that is the transaction's start time
            "read": result.rows_read,
            "ins": result.inserted,
            "upd": result.updated,
            "unch": result.unchanged,
            "rej": result.rejected,
            "status": "ok" if result.rejected == 0 else "ok_with_rejects",
            "cfg": config.content_hash(),
            "stale": result.stale,
            "warn": result.warnings,
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
    if kind not in ("decisions", "audits"):
        return
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
) -> tuple[int, int, int] | None:
    """Load a clean file straight from the validating scan; (inserted, updated, unchanged).

    Staging every row in a temporary table and then sorting it on the way into the fact table
    cost more than DuckDB's own load of the file (10M rows: the sort alone ~4.6 s). So the
    scan's valid rows go straight into the table in file order, tagged with this run, and the
    load is then confirmed clean:

    - the file had as many rows as were inserted (nothing failed a check, nothing was
      rejected by the CSV reader, every CSV record is one line),
    - no key appears twice in the file.

    If not, this run's rows are deleted again (same transaction; DuckDB drops them before they
    reach the file) and the caller takes the staged path, which reports every rejected row with
    its line. A file not in time order is re-sorted. Rows whose key the table already held are
    then compared with the stored row: unchanged ones are dropped again, changed ones update
    the stored row in place (so it keeps its place in time order). Calibration files (golden
    answers are checked across rows) always take the staged path.
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
                f"INSERT INTO {table} ({', '.join(canon)}, run_id) "
                f"SELECT {', '.join(canon)}, $run FROM ({spec.sql}) WHERE _reason IS NULL",
                {**spec.params, **run},
            ).fetchone()[0]  # type: ignore[index]
        )
    except duckdb.Error as exc:
        if raw.source_sql == "_raw":
            raise
        raise IngestError(f"{raw.path}: cannot be read as {raw.fmt}: {exc}") from exc
    clean = inserted == _rows_in_file(con, raw, mapping, digest)
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
    unsorted = con.execute(
        f"SELECT count(*) FILTER (WHERE t < prev) FROM (SELECT {order} AS t, "
        f"lag({order}) OVER (ORDER BY rowid) AS prev FROM {mine})",
        run,
    ).fetchone()[0]  # type: ignore[index]
    if unsorted:
        progress(f"{raw.path.name}: putting the rows in time order")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM {mine} ORDER BY {order}, {key}",
            run,
        )
        con.execute(f"DELETE FROM {mine}", run)
        con.execute(f"INSERT INTO {table} SELECT * FROM _stage")
    if not had_rows:
        return inserted, 0, 0
    progress(f"{raw.path.name}: comparing with the database")
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in canon)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _act AS SELECT n.{key}, {same} AS same "
        f"FROM (SELECT * FROM {mine}) n JOIN (SELECT * FROM {table} WHERE run_id <> $run) o "
        f"ON o.{key} = n.{key}",
        run,
    )
    updated, unchanged = con.execute(
        "SELECT count(*) FILTER (WHERE NOT same), count(*) FILTER (WHERE same) FROM _act"
    ).fetchone()  # type: ignore[misc]
    if updated + unchanged:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _upd AS SELECT * FROM {mine} "
            f"AND {key} IN (SELECT {key} FROM _act WHERE NOT same)",
            run,
        )
        con.execute(f"DELETE FROM {mine} AND {key} IN (SELECT {key} FROM _act)", run)
        set_clause = ", ".join(f"{c} = u.{c}" for c in canon)
        con.execute(
            f"UPDATE {table} AS t SET {set_clause}, run_id = $run FROM _upd u "
            f"WHERE t.{key} = u.{key}",
            run,
        )
    return inserted - updated - unchanged, updated, unchanged


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
    """Whether an unnumbered scan rejected anything (a check, a duplicate key, or a row the
    CSV reader could not parse)."""
    keys = ", ".join(KEYS[kind])
    bad = con.execute(
        "SELECT (SELECT count(*) FROM _stage WHERE _reason IS NOT NULL) + "
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
    """Within one file a key may appear once; later copies are rejected, naming the first."""
    keys = KEYS[kind]
    cols = ", ".join(keys)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dups AS SELECT {cols}, min(_line) AS first_line "
        f"FROM _stage WHERE _reason IS NULL GROUP BY {cols} HAVING count(*) > 1"
    )
    if con.execute("SELECT count(*) FROM _dups").fetchone()[0] == 0:  # type: ignore[index]
        return
    match = " AND ".join(f"_stage.{k} = d.{k}" for k in keys)
    key_text = " || '/' || ".join(f"d.{k}" for k in keys)
    con.execute(
        f"UPDATE _stage SET _reason = printf('duplicate %s %s in this file (first on %s %s); "
        f"send corrections in a later file', $keyname, {key_text}, $unit, "
        "CAST(d.first_line AS VARCHAR)) "
        f"FROM _dups d WHERE {match} AND _stage._line > d.first_line AND _stage._reason IS NULL",
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
                WHERE is_golden AND _reason IS NULL
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


def _classify(
    con: duckdb.DuckDBPyConnection, table: str, keys: list[str], canon: list[str]
) -> None:
    """View _cls = staged rows with `_action`: reject / insert / update / unchanged.

    Only rows whose key already exists are materialized (in `_act`); a first load of a table
    copies nothing.
    """
    con.execute("DROP VIEW IF EXISTS _cls")
    con.execute("DROP TABLE IF EXISTS _act")
    empty = con.execute(f"SELECT count(*) = 0 FROM {table}").fetchone()[0]  # type: ignore[index]
    if empty:
        con.execute(
            "CREATE TEMP VIEW _cls AS SELECT *, "
            "CASE WHEN _reason IS NULL THEN 'insert' ELSE 'reject' END AS _action FROM _stage"
        )
        return
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM t.{c}" for c in canon)
    join = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    con.execute(
        f"""
        CREATE TEMP TABLE _act AS
        SELECT {", ".join(f"s.{k}" for k in keys)},
               CASE WHEN {same} THEN 'unchanged' ELSE 'update' END AS _action
        FROM _stage s JOIN {table} t ON {join} WHERE s._reason IS NULL
        """
    )
    # Valid rows are unique by key (duplicates were rejected), so the key identifies a row.
    on = " AND ".join(f"a.{k} = s.{k}" for k in keys)
    con.execute(
        f"""
        CREATE TEMP VIEW _cls AS
        SELECT s.*, CASE WHEN s._reason IS NOT NULL THEN 'reject'
                         ELSE coalesce(a._action, 'insert') END AS _action
        FROM _stage s LEFT JOIN _act a ON {on} AND s._reason IS NULL
        """
    )


def _record_rejects(con: duckdb.DuckDBPyConnection, run_id: int, path: Path, raw: RawFile) -> None:
    con.execute(
        "INSERT INTO rejected_rows SELECT $run, $file, _line, _raw_json, _reason FROM _cls "
        "WHERE _action = 'reject' ORDER BY _line",
        {"run": run_id, "file": str(path)},
    )
    if raw.structural_rejects:
        con.executemany(
            "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?)",
            [(run_id, str(path), line, text, why) for line, text, why in raw.structural_rejects],
        )


# --- derived data -----------------------------------------------------------------------------


def _audit_fact_select(config: Config, where: str) -> tuple[str, dict[str, object]]:
    """SELECT producing audit_facts rows: qa_audits joined once to their decisions."""
    params: dict[str, object] = {"act": config.actioning_labels}
    derived = """
        CASE WHEN d.decision_id IS NULL OR d.decision IS NULL THEN NULL
             WHEN list_contains($act, d.decision) AND NOT list_contains($act, a.qa_decision)
                  THEN 'over_enforcement'
             WHEN NOT list_contains($act, d.decision) AND list_contains($act, a.qa_decision)
                  THEN 'under_enforcement'
             WHEN list_contains($act, d.decision) AND a.qa_policy IS NOT NULL
                  AND d.policy IS DISTINCT FROM a.qa_policy THEN 'wrong_policy'
             WHEN list_contains($act, d.decision) AND d.decision <> a.qa_decision
                  THEN 'wrong_action'
        END"""
    whens = []
    for i, rule in enumerate(config.severity_rules):
        conds = ["true"]
        for attr, expr in (
            ("error_type", "et"),
            ("workflow", "workflow"),
            ("policy", "coalesce(qa_policy, policy)"),
        ):
            value = getattr(rule, attr)
            if value is not None:
                params[f"r{i}_{attr}"] = value
                conds.append(f"{expr} = $r{i}_{attr}")
        params[f"r{i}_sev"] = rule.severity
        whens.append(f"WHEN {' AND '.join(conds)} THEN $r{i}_sev")
    params["default_sev"] = config.default_severity
    decision_cols = ", ".join(f"d.{c}" for c in AUDIT_FACT_DECISION_COLUMNS)
    sql = f"""
        SELECT audit_id, decision_id, auditor_id, audited_at, qa_decision, qa_policy,
               et AS error_type,
               CASE WHEN et IS NULL THEN NULL
                    WHEN error_type IS NOT NULL THEN 'qa' ELSE 'derived' END,
               CASE WHEN et IS NULL THEN NULL WHEN severity IS NOT NULL THEN severity
                    {" ".join(whens)} ELSE $default_sev END,
               dispute_status, comment,
               et IS NOT NULL AND dispute_status <> 'overturned',
               is_orphan,
               {", ".join(AUDIT_FACT_DECISION_COLUMNS)}
        FROM (
            SELECT a.* EXCLUDE (run_id), d.decision_id IS NULL AS is_orphan,
                   {decision_cols.replace("d.decision_id, ", "")},
                   CASE WHEN a.error_type IS NOT NULL THEN nullif(a.error_type, 'none')
                        ELSE {derived} END AS et
            FROM qa_audits a LEFT JOIN decisions d ON d.decision_id = a.decision_id
            {where}
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
        f"INSERT INTO audit_facts SELECT * FROM ({select}) "
        "ORDER BY coalesce(decided_at, audited_at), audit_id",
        params,
    )


def refresh_derived_if_config_changed(
    con: duckdb.DuckDBPyConnection, config: Config, progress: Progress = _noop
) -> bool:
    """Recompute configuration-derived values (SLA due times, error types, severities).

    Runs inside the caller's transaction when the configuration hash differs from the one the
    data was derived with; returns whether it ran.
    """
    current = config.content_hash()
    if get_meta(con, "config_hash") == current:
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
    set_meta(con, "config_hash", current)
    return True
