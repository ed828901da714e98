"""The backlog as a state read at each period's end: only the rows that can be pending then.

The backlog KPI at a period's end E counts the decisions pending at E (`pending_at`) and,
among them, those past their due time (`past_due_at`): the definition of
`kpi.sql.measures`, read directly instead of as running sums of events over the whole history
(`kpi.sql.measures._backlog_sql`, still used for many periods).

A decision pending at E was decided at or after E, or not yet. The first kind is read from
`decisions` with `enqueued_at < E AND decided_at >= E`: the table is kept in enqueued_at order
and decisions take hours, not weeks, so per-row-group min/max skip every row group but the few
around E (a window reads its own weeks; a year of weeks one or two row groups per week). The
second kind (`decided_at IS NULL`, the open items) is read once and counted against every E.
One part per period end, so this is for a bounded number of periods (`MAX_STATE_PERIODS`).
"""

from __future__ import annotations

import datetime as dt

from kpi.query import KpiQuery, Scope
from kpi.sql.core import Params, Statement, filters, group_by, statement
from kpi.sql.measures import past_due_at

# Up to this many period ends are read as states (a year of weeks, five years of months);
# more (e.g. a year of days) take the event sums of `kpi.sql.measures`.
MAX_STATE_PERIODS = 60


def backlog_first_sql(query: KpiQuery, scope: Scope, cut: dt.datetime) -> Statement:
    """The first enqueued_at before `cut` within the query's filters and scope: the backlog's
    first period when the query has no start."""
    params = Params()
    where = [f"enqueued_at < {params.bind(cut, 't')}", *filters("decisions", query, scope, params)]
    sql = f"SELECT min(enqueued_at) AS first_at FROM decisions WHERE {' AND '.join(where)}"
    return statement(sql, params)


def backlog_state_sql(
    query: KpiQuery, scope: Scope, ends: list[tuple[dt.date | None, dt.datetime]]
) -> Statement:
    """Backlog and backlog past SLA per group at each `(period_start, end)` of `ends` (a
    period's local start date, None without a period, and the instant its state is read at):
    one row per group and period with a pending decision."""
    params = Params()
    dims = list(query.by)
    conds = filters("decisions", query, scope, params)
    cols = ", ".join([*dims, "enqueued_at", "due_at"])
    open_where = " AND ".join(["decided_at IS NULL", *conds])
    parts = []
    for start, end in ends:
        e = params.bind(end, "t")
        period = (
            "CAST(NULL AS DATE)" if start is None else f"CAST({params.bind(start, 'd')} AS DATE)"
        )
        decided = " AND ".join([f"enqueued_at < {e}", f"decided_at >= {e}", *conds])
        pending = (
            f"SELECT {cols} FROM decisions WHERE {decided}\n"
            f"    UNION ALL SELECT {cols} FROM open_items WHERE enqueued_at < {e}"
        )
        grouped = f" GROUP BY {group_by(len(dims))}" if dims else ""
        parts.append(
            f"SELECT {', '.join([*dims, ''])}{period} AS period_start, count(*) AS backlog, "
            f"count(*) FILTER (WHERE {past_due_at(e)}) AS backlog_over_sla FROM (\n"
            f"    {pending}\n){grouped}"
        )
    union = "\nUNION ALL\n".join(parts)
    # Sorted: the parts' short chunks come as one result (`Gateway.frame` reads it at once).
    sql = (
        f"WITH open_items AS (SELECT {cols} FROM decisions WHERE {open_where})\n"
        f"SELECT * FROM (\n{union}\n) ORDER BY {group_by(len(dims) + 1)}"
    )
    return statement(sql, params)
