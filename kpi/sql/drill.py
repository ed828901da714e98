"""Drill-downs of one quality segment (`kpi.gaps`): its error types, its reviewers' errors and
its audited decisions. Each reads audits in the segment's window, filters and the viewer's
scope (`audit_window`), as the KPI table counts them."""

from __future__ import annotations

import datetime as dt

from kpi.query import KpiQuery, Scope
from kpi.sql.core import Params, Statement, bounds, statement, window_filters

# The columns of an audited decision as the drill-down lists it.
AUDIT_ROW_COLUMNS = (
    "audit_id", "decision_id", "item_id", "vendor", "site", "workflow", "market", "reviewer_id",
    "decision", "policy", "qa_decision", "qa_policy", "error_type", "severity",
    "dispute_status", "auditor_id", "audited_at", "decided_at", "comment",
)  # fmt: skip


def audit_window(query: KpiQuery, scope: Scope, tz: str, params: Params) -> str:
    """WHERE of the audits of `query`'s window, filters and scope (as the KPI table's)."""
    b = bounds(query, tz, dt.datetime.now(dt.UTC))
    return " AND ".join(window_filters("audits", query, scope, b, params))


def error_types(query: KpiQuery, scope: Scope, tz: str) -> Statement:
    """Errors per error type (and how many critical), largest first."""
    params = Params()
    where = audit_window(query, scope, tz, params)
    sql = (
        "SELECT error_type, count(*) AS errors, "
        "count(*) FILTER (WHERE severity = 'critical') AS critical "
        f"FROM audit_facts WHERE is_error AND {where} GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    return statement(sql, params)


def reviewer_errors(
    query: KpiQuery, scope: Scope, tz: str, error_type: str | None = None
) -> Statement:
    """Audits and errors per reviewer (with vendor and site); with `error_type`, only errors of
    that type count."""
    params = Params()
    where = audit_window(query, scope, tz, params)
    errors = "is_error" if error_type is None else (
        f"is_error AND error_type = {params.bind(error_type)}"
    )  # fmt: skip
    sql = (
        "SELECT reviewer_id, vendor, site, count(*) AS audits, "
        f"count(*) FILTER (WHERE {errors}) AS errors "
        f"FROM audit_facts WHERE {where} GROUP BY ALL"
    )
    return statement(sql, params)


def audited_decisions(
    query: KpiQuery,
    scope: Scope,
    tz: str,
    errors_only: bool,
    error_type: str | None,
    limit: int,
) -> Statement:
    """The audited decisions (newest first) with QA's answer and comment."""
    params = Params()
    where = audit_window(query, scope, tz, params)
    if errors_only:
        where += " AND is_error"
    if error_type is not None:
        where += f" AND error_type = {params.bind(error_type)}"
    sql = (
        f"SELECT {', '.join(AUDIT_ROW_COLUMNS)} FROM audit_facts WHERE {where} "
        f"ORDER BY decided_at DESC, audit_id LIMIT {params.bind(int(limit))}"
    )
    return statement(sql, params)
