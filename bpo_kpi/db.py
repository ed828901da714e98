"""The embedded DuckDB database: where it lives, how to open it, and the canonical schema."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

DB_ENV = "BPO_KPI_DB"
DEFAULT_DB = "bpo_kpi.duckdb"
SCHEMA_VERSION = 2

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
    ("comment", "VARCHAR", False),
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
]

# Attributes of the audited decision copied onto each audit in `audit_facts` (DESIGN §5).
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


SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE SEQUENCE IF NOT EXISTS ingest_run_seq START 1;

CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id BIGINT PRIMARY KEY,
    file VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
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
    config_hash VARCHAR
);

-- Rows that were NOT loaded, with the reason. Rows loaded with a flaw go to ingest_warnings.
CREATE TABLE IF NOT EXISTS rejected_rows (
    run_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    source_line BIGINT,
    raw VARCHAR,
    reason VARCHAR NOT NULL
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
CREATE TABLE IF NOT EXISTS decisions (
    {_columns_ddl(DECISION_COLUMNS)},
    due_at_source VARCHAR,   -- 'queue' (from the file) or 'config' (enqueued_at + configured SLA)
    run_id BIGINT            -- ingest run that last inserted or changed the row
);

CREATE TABLE IF NOT EXISTS qa_audits (
    {_columns_ddl(AUDIT_COLUMNS)},
    run_id BIGINT
);

CREATE TABLE IF NOT EXISTS calibration_ratings (
    {_columns_ddl(CALIBRATION_COLUMNS)},
    run_id BIGINT
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
    comment VARCHAR,
    is_error BOOLEAN,
    is_orphan BOOLEAN,
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


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    retries: float = 30.0,
) -> duckdb.DuckDBPyConnection:
    """Open the database (creating the schema when writable), in UTC.

    DuckDB allows one writing process or many reading ones. A reader that finds the file locked
    by an ingest, or a writer that finds readers, retries for up to `retries` seconds.
    """
    db = Path(path) if path is not None else default_db_path()
    if read_only and not db.exists():
        raise FileNotFoundError(
            f"database {db} does not exist; run `bpo-kpi demo` or `bpo-kpi ingest` first"
        )
    deadline = time.monotonic() + retries
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(db), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        ensure_schema(con)
    return con


# Columns added after schema version 1: a database written by an older bpo-kpi gets them on
# its next writable open (ADD COLUMN IF NOT EXISTS is idempotent).
MIGRATIONS_SQL = """
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS rows_stale BIGINT DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS warnings BIGINT DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS error VARCHAR;
"""

# Run statuses: `running` is written (and committed) before a run's work begins, so a killed
# ingest leaves a trace; the next writer marks such rows `interrupted`.
RUN_STATUSES = (
    "running", "ok", "ok_with_rejects", "failed", "rolled_back", "interrupted",
)  # fmt: skip


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the canonical tables if they are missing and add newer columns (idempotent)."""
    con.execute(SCHEMA_SQL)
    con.execute(MIGRATIONS_SQL)
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [str(SCHEMA_VERSION)],
    )


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
