"""What a snapshot's numbers rest on (`kpi.snapshot`): the ingest runs whose rows are counted in
a window, the data's as-of instant and each vendor's newest data."""

from __future__ import annotations

import datetime as dt

from kpi.query import KpiQuery, Scope
from kpi.sql.core import Params, Statement, bounds, statement, window_filters

RUN_COLUMNS = "run_id, kind, vendor, file, sha256, finished_at, status"
_LOADED = "('ok', 'ok_with_rejects')"


def runs_behind(query: KpiQuery, scope: Scope, tz: str) -> Statement:
    """Ingest runs that wrote a decision or an audit counted in `query`'s window and filters,
    or a calibration rating of its days, oldest first."""
    params = Params()
    params.values["tz"] = tz
    b = bounds(query, tz, dt.datetime.now(dt.UTC))
    decisions = " AND ".join(window_filters("decisions", query, scope, b, params))
    audits = " AND ".join(window_filters("audits", query, scope, b, params))
    days = ["true"]
    if query.start is not None:
        days.append(f"session_date >= {params.bind(query.start)}")
    if query.end is not None:
        days.append(f"session_date <= {params.bind(query.end)}")
    sql = (
        f"SELECT {RUN_COLUMNS} FROM ingest_runs WHERE run_id IN (\n"
        f"SELECT run_id FROM decisions WHERE {decisions}\n"
        f"UNION SELECT run_id FROM qa_audits WHERE audit_id IN "
        f"(SELECT audit_id FROM audit_facts WHERE {audits})\n"
        f"UNION SELECT run_id FROM calibration_ratings WHERE {' AND '.join(days)}\n"
        ") ORDER BY run_id"
    )
    return statement(sql, params)


def data_as_of() -> Statement:
    """When the data last changed: the newest finished run that loaded rows (NULL: none)."""
    return statement(f"SELECT max(finished_at) AS as_of FROM ingest_runs WHERE status IN {_LOADED}")


def newest_data() -> Statement:
    """Per vendor: the newest decided_at and enqueued_at (its data's freshness)."""
    return statement(
        "SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at "
        "FROM decisions GROUP BY 1 ORDER BY 1"
    )
