"""The disputes view's own query (`kpi.disputes`): disputes pending at an instant, listed. Its
rates, counts and resolution time are catalog KPIs (`kpi.sql.measures`)."""

from __future__ import annotations

import datetime as dt

from kpi.query import KpiQuery, Scope
from kpi.sql.core import Params, Statement, filters, statement

# When a dispute was raised: its own time, else (a vendor that sends no dispute time) the audit's.
RAISED = "coalesce(disputed_at, audited_at)"


def pending_at(end: str) -> list[str]:
    """Conditions for a dispute pending at instant `end` (a bound parameter's name): raised
    before it and not resolved before it (still `pending` as loaded, or resolved at or after
    `end`)."""
    return [
        f"{RAISED} < {end}",
        "(dispute_status = 'pending' OR (dispute_status IN ('upheld', 'overturned') "
        f"AND dispute_resolved_at >= {end}))",
    ]


def pending_disputes(
    query: KpiQuery, scope: Scope, cut: dt.datetime, older_than: dt.timedelta
) -> Statement:
    """Disputes pending at instant `cut` raised more than `older_than` before it, oldest
    first: the audit, its decision's vendor / workflow / market / reviewer, when the audit and
    the dispute were made, the error type and severity. Filters and scope apply; the window's
    start does not (a dispute raised earlier is still pending)."""
    params = Params()
    end = params.bind(cut, "t")
    try:
        raised_before = cut - older_than
    except OverflowError:  # a cut in the calendar's first days: nothing was raised before
        raised_before = dt.datetime.min.replace(tzinfo=dt.UTC)
    conds = ["NOT is_orphan", *pending_at(end), f"{RAISED} < {params.bind(raised_before, 't')}"]
    conds += filters("audits", query, scope, params)
    sql = (
        "SELECT audit_id, decision_id, vendor, workflow, market, reviewer_id, auditor_id, "
        f"error_type, severity, audited_at, {RAISED} AS raised_at, "
        "disputed_at IS NULL AS raised_at_from_audit\n"
        f"FROM audit_facts WHERE {' AND '.join(conds)}\n"
        f"ORDER BY raised_at, audit_id"
    )
    return statement(sql, params)
