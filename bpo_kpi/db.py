"""The embedded DuckDB database: where it lives, how to open it, and the canonical schema."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import shlex
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

DB_ENV = "BPO_KPI_DB"
DEFAULT_DB = "bpo_kpi.duckdb"
SCHEMA_VERSION = 4  # 4: audits' dispute times (disputed_at, dispute_resolved_at)

# Canonical columns per fact table: (name, type, required). Order is the table's column order.
DECISION_COLUMNS: list[tuple[str, str, bool]] = [
    ("decision_id", "VARCHAR", True),
    ("item_id", "VARCHAR", True),
    ("vendor", "VARCHAR", True),
    ("site", "VARCHAR", False),
    ("workflow", "VARCHAR", True),
    ("market", "VARCHAR", False),
    ("priority", "VARCHAR", False),
    ("reviewer_id", "VARCHAR", True),
    ("decision", "VARCHAR", False),
    ("policy", "VARCHAR", False),
    ("enqueued_at", "TIMESTAMPTZ", True),
    ("claimed_at", "TIMESTAMPTZ", False),
    ("decided_at", "TIMESTAMPTZ", False),
    ("due_at", "TIMESTAMPTZ", False),
    ("updated_at", "TIMESTAMPTZ", False),
]

AUDIT_COLUMNS: list[tuple[str, str, bool]] = [
    ("audit_id", "VARCHAR", True),
    ("decision_id", "VARCHAR", True),
    ("auditor_id", "VARCHAR", True),
    ("audited_at", "TIMESTAMPTZ", True),
    ("qa_decision", "VARCHAR", True),
    ("qa_policy", "VARCHAR", False),
    ("error_type", "VARCHAR", False),
    ("severity", "VARCHAR", False),
    ("dispute_status", "VARCHAR", False),
    ("disputed_at", "TIMESTAMPTZ", False),
    ("dispute_resolved_at", "TIMESTAMPTZ", False),
    ("comment", "VARCHAR", False),
    ("updated_at", "TIMESTAMPTZ", False),
]

CALIBRATION_COLUMNS: list[tuple[str, str, bool]] = [
    ("session_id", "VARCHAR", True),
    ("session_date", "DATE", True),
    ("workflow", "VARCHAR", True),
    ("item_id", "VARCHAR", True),
    ("rater_id", "VARCHAR", True),
    ("vendor", "VARCHAR", True),
    ("label", "VARCHAR", True),
    ("policy", "VARCHAR", False),
    ("is_golden", "BOOLEAN", False),
    ("updated_at", "TIMESTAMPTZ", False),
]

# Bookkeeping columns after the canonical ones, per fact table: the run that last wrote the row
# and `version_run`, the run whose file the current version came from (a retry of rejected rows
# loads them as of their original file). qa_audits also pins the vendor label and policy the
# audit is scored against (see ingest.load).
SYSTEM_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "decisions": [("due_at_source", "VARCHAR"), ("run_id", "BIGINT"), ("version_run", "BIGINT")],
    "qa_audits": [("run_id", "BIGINT"), ("version_run", "BIGINT"),
                  ("scored_decision", "VARCHAR"), ("scored_policy", "VARCHAR")],
    "calibration_ratings": [("run_id", "BIGINT"), ("version_run", "BIGINT")],
}  # fmt: skip

# Attributes of the audited decision copied onto each audit in `audit_facts`
# (docs/ARCHITECTURE.md §6).
AUDIT_FACT_DECISION_COLUMNS = [
    "item_id",
    "vendor",
    "site",
    "workflow",
    "market",
    "priority",
    "reviewer_id",
    "decision",
    "policy",
    "enqueued_at",
    "decided_at",
    "due_at",
]


def _columns_ddl(columns: list[tuple[str, str, bool]]) -> str:
    return ",\n    ".join(
        f"{name} {typ}{' NOT NULL' if required and typ != 'BOOLEAN' else ''}"
        for name, typ, required in columns
    )


def _fact_ddl(table: str, columns: list[tuple[str, str, bool]], history: bool = False) -> str:
    system = [*SYSTEM_COLUMNS[table], *([("superseded_run", "BIGINT")] if history else [])]
    extra = "".join(f",\n    {name} {typ}" for name, typ in system)
    name = f"{table}_history" if history else table
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    {_columns_ddl(columns)}{extra}\n);"


def fact_columns(table: str) -> list[str]:
    """Every column of a fact table, canonical then bookkeeping, in DDL order."""
    canon = {"decisions": DECISION_COLUMNS, "qa_audits": AUDIT_COLUMNS,
             "calibration_ratings": CALIBRATION_COLUMNS}[table]  # fmt: skip
    return [c for c, _, _ in canon] + [c for c, _ in SYSTEM_COLUMNS[table]]


SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE SEQUENCE IF NOT EXISTS ingest_run_seq START 1;

CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id BIGINT PRIMARY KEY,
    file VARCHAR NOT NULL,
    sha256 VARCHAR,
    kind VARCHAR NOT NULL,
    vendor VARCHAR,
    mapping VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    rows_read BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_updated BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    status VARCHAR NOT NULL,
    config_hash VARCHAR,
    rows_stale BIGINT DEFAULT 0,
    warnings BIGINT DEFAULT 0,
    error VARCHAR,              -- why a failed run failed
    mapping_hash VARCHAR,       -- content hash of the vendor mapping used
    file_bytes BIGINT,
    source_columns VARCHAR[],   -- the file's header, to re-read rejected lines on a retry
    retry_of BIGINT             -- a retry of this run's rejected rows
);

-- Rows that were NOT loaded, with the reason. Rows loaded with a flaw go to ingest_warnings.
CREATE TABLE IF NOT EXISTS rejected_rows (
    run_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    source_line BIGINT,
    raw VARCHAR,
    reason VARCHAR NOT NULL,
    resolved_run BIGINT         -- the retry run that re-validated this row
);

-- A flaw in a row that WAS loaded (an optional field emptied or clamped, an unknown error type
-- kept as `other`, ...): one row per flaw, with the column, the value as read and the reason.
CREATE TABLE IF NOT EXISTS ingest_warnings (
    run_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    source_line BIGINT,
    column_name VARCHAR,
    value VARCHAR,
    reason VARCHAR NOT NULL
);

-- Fact tables are appended in time order (enqueued_at / audited_at / session_date) so that
-- DuckDB's per-row-group min/max lets period filters skip most of the table.
-- decisions.due_at_source: 'queue' (from the file) or 'config' (enqueued_at + configured SLA).
{_fact_ddl("decisions", DECISION_COLUMNS)}
{_fact_ddl("qa_audits", AUDIT_COLUMNS)}
{_fact_ddl("calibration_ratings", CALIBRATION_COLUMNS)}
-- Every superseded version of a fact row (and older versions that arrived late), with the run
-- that superseded it: a re-sent row equal to one of these is stale and never applied.
{_fact_ddl("decisions", DECISION_COLUMNS, history=True)}
{_fact_ddl("qa_audits", AUDIT_COLUMNS, history=True)}
{_fact_ddl("calibration_ratings", CALIBRATION_COLUMNS, history=True)}
-- A vendor row that changed the label or policy of a decision QA had already audited.
CREATE TABLE IF NOT EXISTS edits_after_audit (
    run_id BIGINT NOT NULL,
    decision_id VARCHAR NOT NULL,
    vendor VARCHAR,
    workflow VARCHAR,
    market VARCHAR,
    audits BIGINT,
    old_decision VARCHAR,
    new_decision VARCHAR,
    old_policy VARCHAR,
    new_policy VARCHAR,
    recorded_at TIMESTAMPTZ
);

-- One row per audit carrying the audited decision's attributes and the effective error type and
-- severity (QA's when given, else derived from configuration); kept in the decision's time order.
-- Rebuilt for the affected keys by every ingest, and whole when the configuration changes.
CREATE TABLE IF NOT EXISTS audit_facts (
    audit_id VARCHAR NOT NULL,
    decision_id VARCHAR NOT NULL,
    auditor_id VARCHAR,
    audited_at TIMESTAMPTZ,
    qa_decision VARCHAR,
    qa_policy VARCHAR,
    error_type VARCHAR,
    error_type_source VARCHAR,
    severity VARCHAR,
    dispute_status VARCHAR,
    disputed_at TIMESTAMPTZ,         -- when the vendor disputed the audit (optional)
    dispute_resolved_at TIMESTAMPTZ, -- when the dispute was upheld or overturned (optional)
    comment VARCHAR,
    is_error BOOLEAN,
    is_orphan BOOLEAN,
    error_category VARCHAR,     -- the error type's category (configuration; unknown -> other)
    error_counts BOOLEAN,       -- an error type that counts against quality, before disputes
    edited_after_audit BOOLEAN, -- the vendor changed the label/policy after this audit
    item_id VARCHAR,
    vendor VARCHAR,
    site VARCHAR,
    workflow VARCHAR,
    market VARCHAR,
    priority VARCHAR,
    reviewer_id VARCHAR,
    decision VARCHAR,
    policy VARCHAR,
    enqueued_at TIMESTAMPTZ,
    decided_at TIMESTAMPTZ,
    due_at TIMESTAMPTZ
);
"""


def default_db_path() -> Path:
    """`$BPO_KPI_DB` if set, else `bpo_kpi.duckdb` in the current directory."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB)


DEFAULT_LOCK_WAIT = 600.0  # seconds; the default of `[ingest] lock_wait_seconds`


@dataclass(frozen=True)
class LockHolder:
    """Who holds a database's lock, as far as can be told (see `lock_holder`)."""

    pid: int | None = None
    command: str | None = None  # e.g. "bpo-kpi ingest decisions big.csv"
    since: dt.datetime | None = None  # when it opened the database for writing (from the sidecar)
    reader: bool = False  # it has the database open read-only (and a writer wanted it)

    @property
    def is_ingest(self) -> bool:
        return "ingest" in (self.command or "").split()

    def describe(self) -> str:
        """E.g. "another ingest holds it (pid 1234, `bpo-kpi ingest ...`, since 12:03:10 UTC)"."""
        if self.is_ingest:
            who = "another ingest"
        elif self.reader and self.since is None:
            who = "a reader"
        else:
            who = "another process"
        details = []
        if self.pid is not None:
            details.append(f"pid {self.pid}")
        if self.command:
            details.append(f"`{self.command}`")
        if self.since is not None:
            since = self.since.astimezone(dt.UTC)
            same_day = since.date() == dt.datetime.now(dt.UTC).date()
            details.append(f"since {since:{'' if same_day else '%Y-%m-%d '}%H:%M:%S} UTC")
        return f"{who} holds it" + (f" ({', '.join(details)})" if details else "")

    __str__ = describe


class DatabaseBusy(duckdb.IOException):
    """Another process held the database's lock for longer than the caller would wait.

    A `duckdb.IOException`, as the lock error it replaces; `holder` says who held the lock.
    """

    def __init__(
        self, message: str, db: Path | None = None, holder: LockHolder | None = None
    ) -> None:
        super().__init__(message)
        self.db = db
        self.holder = holder if holder is not None else LockHolder()


def writer_file(db: str | os.PathLike[str]) -> Path:
    """The sidecar in which the process that has `db` open for writing says who it is
    (`bpo_kpi.duckdb` -> `bpo_kpi.duckdb.writer`, JSON: pid, command, since)."""
    db = Path(db)
    return db.with_name(db.name + ".writer")


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    wait: float = DEFAULT_LOCK_WAIT,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the database (creating the schema when writable), in UTC.

    DuckDB allows one writing process or many reading ones. When another process holds a
    conflicting lock (a writer for anyone, readers for a writer), this waits for it, up to
    `wait` seconds (0: not at all), and then raises `DatabaseBusy` naming the holder.
    `on_wait` is told once that it waits, and for whom (again if the holder changes):
    "waiting for the database: another ingest holds it (pid 1234, `bpo-kpi ingest ...`, since
    12:03:10 UTC); giving up after 600 s".

    A writable connection records who holds it in `writer_file(path)` until the connection is
    released (closed and dropped) or the process exits, so that waiters can be told.
    """
    db = Path(path) if path is not None else default_db_path()
    if read_only and not db.exists():
        raise FileNotFoundError(
            f"database {db} does not exist; run `bpo-kpi demo` or `bpo-kpi ingest` first"
        )
    deadline = time.monotonic() + wait
    delay = 0.05
    announced: tuple[int | None, str | None] | None = None
    while True:
        try:
            con = duckdb.connect(str(db), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "could not set lock" not in str(exc).lower():
                raise  # not a lock conflict (a "block" in a corrupt file's error, say)
            holder = lock_holder(db, str(exc))
            left = deadline - time.monotonic()
            if left <= 0:
                gave_up = f"gave up after {wait:g} s" if wait > 0 else "not waiting for it"
                raise DatabaseBusy(
                    f"the database {db} is busy: {holder}; {gave_up}", db, holder
                ) from exc
            if on_wait is not None and announced != (holder.pid, holder.command):
                announced = (holder.pid, holder.command)
                on_wait(f"waiting for the database: {holder}; giving up after {wait:g} s")
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.5)
    if not read_only and not str(db).startswith(":memory:"):
        _register_writer(con, db)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        ensure_schema(con)
    return con


# DuckDB's lock error names the process holding the lock:
# `Conflicting lock is held in /usr/bin/python3.11 (PID 1234)`, and adds "you would be able to
# open this database in read-only mode" when the holder is a reader.
_HELD_BY = re.compile(r"held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def lock_holder(db: str | os.PathLike[str], error: str = "") -> LockHolder:
    """Who holds `db`'s lock, given DuckDB's lock error message.

    The writer's sidecar (`writer_file`) is believed only when its process is alive and is the
    one DuckDB names; otherwise the PID DuckDB names, with its command line where the system
    shows it (/proc).
    """
    match = _HELD_BY.search(error)
    named = int(match["pid"]) if match else None
    reader = "read-only mode" in error
    recorded = _read_writer_file(Path(db))
    if recorded is not None and _alive(recorded.pid) and named in (None, recorded.pid):
        return LockHolder(recorded.pid, recorded.command, recorded.since, reader)
    if named is None:
        return LockHolder(reader=reader)
    argv = _argv_of(named)
    command = _readable_command(argv) if argv else Path(match["exe"]).name if match else None
    return LockHolder(named, command, None, reader)


def _alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped) holds no locks
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _argv_of(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None


def _readable_command(argv: Sequence[str]) -> str:
    """`bpo-kpi ingest decisions big.csv`, not `/usr/bin/python3 /usr/local/bin/bpo-kpi ...`."""
    head, rest = Path(argv[0]).name, list(argv[1:])
    if head.startswith("python") and rest:
        if rest[0] == "-c":
            head, rest = f"{head} -c ...", rest[2:]
        elif rest[0] == "-m" and len(rest) > 1:
            head, rest = f"{head} -m {rest[1]}", rest[2:]
        elif not rest[0].startswith("-"):
            head, rest = Path(rest[0]).name, rest[1:]
    text = " ".join([head, *(shlex.quote(arg) for arg in rest)])
    return text if len(text) <= 160 else text[:157] + "..."


# Writable connections of this process, per database file: the sidecar goes when the last goes.
_WRITERS: dict[Path, int] = {}
_WRITERS_LOCK = threading.Lock()


def _register_writer(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    key = db.resolve()
    with _WRITERS_LOCK:
        count = _WRITERS.get(key, 0)
        _WRITERS[key] = count + 1
        if count == 0:
            argv = _argv_of(os.getpid()) or [sys.executable, *sys.argv]
            record = {
                "pid": os.getpid(),
                "command": _readable_command(argv),
                "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            side = writer_file(key)
            tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
            try:
                tmp.write_text(json.dumps(record))
                os.replace(tmp, side)
            except OSError:
                tmp.unlink(missing_ok=True)  # e.g. a read-only folder: waiters get DuckDB's PID
        _drain_releases()
    # DuckDB connections cannot be subclassed or given a close hook: the sidecar goes when the
    # connection object is released (or at exit). Waiters never believe a dead process's one.
    weakref.finalize(con, _release_writer, key)


# Releases not yet applied. A finalizer may run during garbage collection at any allocation,
# also while this thread holds _WRITERS_LOCK (inside _register_writer): it must not wait for
# the lock then (a deadlock), so it leaves the release here for the lock's holder.
_PENDING: collections.deque[Path] = collections.deque()


def _release_writer(key: Path) -> None:
    _PENDING.append(key)
    if _WRITERS_LOCK.acquire(blocking=False):
        try:
            _drain_releases()
        finally:
            _WRITERS_LOCK.release()


def _drain_releases() -> None:
    """Apply pending releases (the caller holds _WRITERS_LOCK)."""
    while _PENDING:
        key = _PENDING.popleft()
        count = _WRITERS.pop(key, 1) - 1
        if count > 0:
            _WRITERS[key] = count
            continue
        recorded = _read_writer_file(key)
        if recorded is not None and recorded.pid == os.getpid():
            writer_file(key).unlink(missing_ok=True)


def _read_writer_file(db: Path) -> LockHolder | None:
    try:
        data = json.loads(writer_file(db).read_text())
        since = dt.datetime.fromisoformat(data["since"]) if data.get("since") else None
        return LockHolder(int(data["pid"]), data.get("command"), since)
    except (OSError, ValueError, KeyError, TypeError):
        return None


# Columns added after schema version 1: a database written by an older bpo-kpi gets them on
# its next writable open (ADD COLUMN IF NOT EXISTS is idempotent). Tables added since are
# created by SCHEMA_SQL.
MIGRATIONS_SQL = """
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS rows_stale BIGINT DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS warnings BIGINT DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS error VARCHAR;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS mapping_hash VARCHAR;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS file_bytes BIGINT;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS source_columns VARCHAR[];
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS retry_of BIGINT;
ALTER TABLE ingest_runs ALTER COLUMN sha256 DROP NOT NULL;
ALTER TABLE rejected_rows ADD COLUMN IF NOT EXISTS resolved_run BIGINT;
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ;
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS version_run BIGINT;
ALTER TABLE qa_audits ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ;
ALTER TABLE qa_audits ADD COLUMN IF NOT EXISTS version_run BIGINT;
ALTER TABLE qa_audits ADD COLUMN IF NOT EXISTS scored_decision VARCHAR;
ALTER TABLE qa_audits ADD COLUMN IF NOT EXISTS scored_policy VARCHAR;
ALTER TABLE calibration_ratings ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ;
ALTER TABLE calibration_ratings ADD COLUMN IF NOT EXISTS version_run BIGINT;
ALTER TABLE audit_facts ADD COLUMN IF NOT EXISTS error_category VARCHAR;
ALTER TABLE audit_facts ADD COLUMN IF NOT EXISTS error_counts BOOLEAN;
ALTER TABLE audit_facts ADD COLUMN IF NOT EXISTS edited_after_audit BOOLEAN;
ALTER TABLE qa_audits ADD COLUMN IF NOT EXISTS disputed_at TIMESTAMPTZ;
ALTER TABLE qa_audits ADD COLUMN IF NOT EXISTS dispute_resolved_at TIMESTAMPTZ;
ALTER TABLE qa_audits_history ADD COLUMN IF NOT EXISTS disputed_at TIMESTAMPTZ;
ALTER TABLE qa_audits_history ADD COLUMN IF NOT EXISTS dispute_resolved_at TIMESTAMPTZ;
ALTER TABLE audit_facts ADD COLUMN IF NOT EXISTS disputed_at TIMESTAMPTZ;
ALTER TABLE audit_facts ADD COLUMN IF NOT EXISTS dispute_resolved_at TIMESTAMPTZ;
"""

# Filled once when a database of schema version < 3 is opened for writing: the version each row
# came from is the run that wrote it, and existing audits are scored against the decision as
# it is now (the version they were scored against before).
BACKFILL_V3_SQL = """
UPDATE decisions SET version_run = run_id WHERE version_run IS NULL;
UPDATE calibration_ratings SET version_run = run_id WHERE version_run IS NULL;
UPDATE qa_audits SET version_run = run_id WHERE version_run IS NULL;
UPDATE qa_audits SET scored_decision = d.decision, scored_policy = d.policy
FROM decisions d
WHERE d.decision_id = qa_audits.decision_id AND qa_audits.scored_decision IS NULL
  AND d.decision IS NOT NULL;
DELETE FROM meta WHERE key = 'config_hash';  -- audit_facts gain columns: derive them again
"""

# Run statuses: `running` is written (and committed) before a run's work begins, so a killed
# ingest leaves a trace; the next writer marks such rows `interrupted`.
RUN_STATUSES = (
    "running", "ok", "ok_with_rejects", "failed", "rolled_back", "interrupted",
)  # fmt: skip
FINISHED_OK = ("ok", "ok_with_rejects")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the canonical tables if they are missing and add newer columns (idempotent)."""
    had_tables = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'meta' AND NOT temporary"
    ).fetchone()[0]  # type: ignore[index]
    version = get_meta(con, "schema_version") if had_tables else None
    con.execute(SCHEMA_SQL)
    con.execute(MIGRATIONS_SQL)
    if version is not None and int(version) < 3:
        con.execute(BACKFILL_V3_SQL)
    if not had_tables:
        # Every row of a database created now passes ingest's plausibility checks: readers
        # need not look for implausible stored times (kpi.gateway) unless this is absent.
        set_meta(con, TIMES_CHECKED, "ingest")
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [str(SCHEMA_VERSION)],
    )


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version a database was written with (0: not a bpo-kpi database yet)."""
    has_meta = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'meta' AND NOT temporary "
        "AND database_name = current_database()"
    ).fetchone()[0]  # type: ignore[index]
    if not has_meta:
        return 0
    value = get_meta(con, "schema_version")
    return int(value) if value is not None else 0


TIMES_CHECKED = "times_checked"  # meta key: how the stored times were found plausible


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
