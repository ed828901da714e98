"""Data health queries (`kpi.health`): ingest runs and their rejects and warnings, edits after
audit, vendor integrity, orphan audits and freshness."""

from __future__ import annotations

from kpi.sql.core import Params, Statement, statement

RUN_COLUMNS = (
    "run_id, kind, vendor, file, started_at, finished_at, rows_read, rows_inserted, "
    "rows_updated, rows_unchanged, rows_stale, rows_rejected, warnings, status, error, retry_of"
)


def ingest_runs(limit: int, status: str | None = None) -> Statement:
    """The latest runs (of one status), newest first."""
    params = Params()
    where = f"WHERE status = {params.bind(status)}" if status else ""
    sql = (
        f"SELECT {RUN_COLUMNS} FROM ingest_runs {where} ORDER BY run_id DESC "
        f"LIMIT {params.bind(int(limit))}"
    )
    return statement(sql, params)


def unfinished_runs() -> Statement:
    """Runs that loaded nothing and whose file no later run loaded."""
    return statement(
        f"SELECT {RUN_COLUMNS} FROM ingest_runs r "
        "WHERE status IN ('failed', 'rolled_back', 'interrupted') AND NOT EXISTS ("
        "  SELECT 1 FROM ingest_runs l WHERE l.file = r.file AND l.kind = r.kind "
        "  AND l.run_id > r.run_id AND l.status IN ('ok', 'ok_with_rejects')) "
        "ORDER BY run_id DESC"
    )


def rejected_rows(run_id: int | None, limit: int) -> Statement:
    """Outstanding rejected rows (all runs, or one)."""
    params = Params()
    where = "WHERE resolved_run IS NULL"
    if run_id is not None:
        where += f" AND run_id = {params.bind(int(run_id))}"
    sql = (
        f"SELECT run_id, file, source_line, reason, raw FROM rejected_rows {where} "
        f"ORDER BY run_id DESC, source_line LIMIT {params.bind(int(limit))}"
    )
    return statement(sql, params)


def rejection_reasons() -> Statement:
    """Outstanding rejected rows per run and reason."""
    return statement(
        "SELECT run_id, file, reason, count(*) AS rows FROM rejected_rows "
        "WHERE resolved_run IS NULL GROUP BY ALL ORDER BY run_id DESC, rows DESC"
    )


def ingest_warnings(run_id: int | None, limit: int) -> Statement:
    """Warnings (all runs, or one)."""
    params = Params()
    where = f"WHERE run_id = {params.bind(int(run_id))}" if run_id is not None else ""
    sql = (
        f"SELECT run_id, file, source_line, column_name, value, reason FROM ingest_warnings "
        f"{where} ORDER BY run_id DESC, source_line, column_name LIMIT {params.bind(int(limit))}"
    )
    return statement(sql, params)


def warning_summary() -> Statement:
    """Warnings per run, column and kind of flaw (the reason with its values left out)."""
    return statement(
        "SELECT w.run_id, r.vendor, w.file, w.column_name, "
        "regexp_replace(w.reason, ' [^ ]*[0-9][^ ]* ', ' … ', 'g') AS warning, "
        "count(*) AS rows FROM ingest_warnings w JOIN ingest_runs r USING (run_id) "
        "GROUP BY ALL ORDER BY w.run_id DESC, rows DESC"
    )


def edits_after_audit(limit: int) -> Statement:
    """Edits after audit, newest first."""
    return statement(
        "SELECT recorded_at, run_id, vendor, workflow, market, decision_id, audits, "
        "old_decision, new_decision, old_policy, new_policy FROM edits_after_audit "
        "ORDER BY recorded_at DESC, decision_id LIMIT $limit",
        {"limit": int(limit)},
    )


def vendor_integrity() -> Statement:
    """Per vendor: decided decisions, those corrected after their first decided version, the
    correction rate, and edits after audit."""
    return statement(
        """
        WITH d AS (SELECT vendor, count(*) FILTER (WHERE decided_at IS NOT NULL) AS decided
                   FROM decisions GROUP BY ALL),
             c AS (SELECT vendor, count(DISTINCT decision_id) AS corrected
                   FROM decisions_history WHERE decided_at IS NOT NULL GROUP BY ALL),
             e AS (SELECT vendor, count(*) AS edits, count(DISTINCT decision_id) AS edited,
                          max(recorded_at) AS last_edit
                   FROM edits_after_audit GROUP BY ALL)
        SELECT d.vendor, d.decided, coalesce(c.corrected, 0) AS corrected,
               coalesce(c.corrected, 0) / nullif(d.decided, 0) AS correction_rate,
               coalesce(e.edited, 0) AS edited_after_audit, coalesce(e.edits, 0) AS edits,
               e.last_edit
        FROM d LEFT JOIN c USING (vendor) LEFT JOIN e USING (vendor)
        ORDER BY d.vendor
        """
    )


def orphan_audits(limit: int) -> Statement:
    """Audits whose decision has not arrived, newest first."""
    return statement(
        "SELECT audit_id, decision_id, auditor_id, audited_at, qa_decision, comment "
        "FROM audit_facts WHERE is_orphan ORDER BY audited_at DESC LIMIT $limit",
        {"limit": int(limit)},
    )


def freshness() -> Statement:
    """Per vendor: newest decided_at and enqueued_at, and pending decisions."""
    return statement(
        "SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at, "
        "count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1"
    )
