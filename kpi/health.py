"""Data health: ingest runs, rejected rows, orphan audits and data freshness per vendor."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from kpi.gateway import Gateway
from kpi.sql import Params, used


def ingest_runs(gw: Gateway, limit: int = 200) -> pd.DataFrame:
    """Latest ingest runs with their reconciliation counts."""
    return gw.frame(
        "SELECT run_id, kind, vendor, file, started_at, finished_at, rows_read, rows_inserted, "
        "rows_updated, rows_unchanged, rows_rejected, status FROM ingest_runs "
        "ORDER BY run_id DESC LIMIT $limit",
        {"limit": int(limit)},
    )


def rejected_rows(gw: Gateway, run_id: int | None = None, limit: int = 1000) -> pd.DataFrame:
    """Rejected rows (all runs, or one) with file, source line, reason and raw content."""
    params = Params()
    where = f"WHERE run_id = {params.bind(int(run_id))}" if run_id is not None else ""
    sql = (
        f"SELECT run_id, file, source_line, reason, raw FROM rejected_rows {where} "
        f"ORDER BY run_id DESC, source_line LIMIT {params.bind(int(limit))}"
    )
    return gw.frame(sql, used(sql, params.values))


def rejection_reasons(gw: Gateway) -> pd.DataFrame:
    """Rejected rows per run and reason, most frequent first."""
    return gw.frame(
        "SELECT run_id, file, reason, count(*) AS rows FROM rejected_rows "
        "GROUP BY ALL ORDER BY run_id DESC, rows DESC"
    )


def orphan_audits(gw: Gateway, limit: int = 1000) -> pd.DataFrame:
    """Audits whose decision has not arrived (yet)."""
    return gw.frame(
        "SELECT audit_id, decision_id, auditor_id, audited_at, qa_decision, comment "
        "FROM audit_facts WHERE is_orphan ORDER BY audited_at DESC LIMIT $limit",
        {"limit": int(limit)},
    )


def freshness(gw: Gateway, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Per vendor: newest decision, hours since, and whether it is older than the threshold."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    out = gw.frame(
        "SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at, "
        "count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1"
    )
    newest = pd.to_datetime(out[["last_decided_at", "last_enqueued_at"]].max(axis=1), utc=True)
    out["hours_since_data"] = (pd.Timestamp(as_of) - newest).dt.total_seconds() / 3600
    out["fresh"] = out["hours_since_data"] <= gw.config.freshness_hours
    return out
