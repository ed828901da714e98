"""Turnaround queries (`kpi.tat`): decisions per TAT bin, decisions per source of their due
time, and the backlog's ageing at one instant. Decisions are those of the KPI table's window
(`window_filters`), TAT is the catalog's `tat_minutes`, the backlog is `measures.pending_at`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kpi.query import KpiQuery, Scope
from kpi.sql.core import Params, Statement, bounds, filters, group_by, statement, window_filters
from kpi.sql.measures import DECISION_COLUMNS, past_due_at, pending_at


def _window(query: KpiQuery, scope: Scope, tz: str, params: Params) -> list[str]:
    params.values["tz"] = tz
    b = bounds(query, tz, dt.datetime.now(dt.UTC))
    return window_filters("decisions", query, scope, b, params)


def tat_histogram(query: KpiQuery, scope: Scope, tz: str, uppers: Sequence[float]) -> Statement:
    """Decided decisions per group of `query.by` and TAT bin: bin i holds TAT < uppers[i]
    (and >= the bin before's); the last bin, index len(uppers), everything above."""
    params = Params()
    where = _window(query, scope, tz, params)
    dims: list[str] = list(query.by)  # declared dimension names (KpiQuery validates them)
    cases = " ".join(f"WHEN tat < {params.bind(e, 'e')} THEN {i}" for i, e in enumerate(uppers))
    inner = (
        f"SELECT {', '.join([*dims, ''])}{DECISION_COLUMNS['tat_minutes']} AS tat "
        f"FROM decisions WHERE {' AND '.join(where)}"
    )
    sql = (
        f"SELECT {', '.join([*dims, ''])}CASE {cases} ELSE {len(uppers)} END AS bin, "
        f"count(*) AS decisions\nFROM (\n{inner}\n)\nGROUP BY {group_by(len(dims) + 1)}"
    )
    return statement(sql, params)


def due_time_sources(query: KpiQuery, scope: Scope, tz: str) -> Statement:
    """Decided decisions per group and source of their due time: queue, config or none."""
    params = Params()
    where = _window(query, scope, tz, params)
    dims: list[str] = list(query.by)
    source = (
        "CASE WHEN due_at IS NULL THEN 'none' WHEN due_at_source = 'queue' THEN 'queue' "
        "ELSE 'config' END"
    )
    sql = (
        f"SELECT {', '.join([*dims, ''])}{source} AS due_source, count(*) AS decisions\n"
        f"FROM decisions WHERE {' AND '.join(where)}\nGROUP BY {group_by(len(dims) + 1)}"
    )
    return statement(sql, params)


def backlog_ageing(
    query: KpiQuery, scope: Scope, cut: dt.datetime, age_limits: Sequence[float]
) -> Statement:
    """Decisions pending at instant `cut` per group and age bucket: bucket i holds ages below
    `age_limits[i]` minutes (and not below the one before), the last bucket, index
    len(age_limits), the rest; with the bucket's past-due count and oldest enqueued_at.
    Filters and scope apply; the window's start does not (an item enqueued earlier is still
    pending)."""
    params = Params()
    dims: list[str] = list(query.by)
    conds = filters("decisions", query, scope, params)
    end = params.bind(cut, "t")
    conds += pending_at(end)
    # age < limit  <=>  enqueued_at > E - limit: compared as instants, exactly.
    cases = " ".join(
        f"WHEN enqueued_at > {params.bind(cut - dt.timedelta(minutes=limit), 't')} THEN {i}"
        for i, limit in enumerate(age_limits)
    )
    sql = (
        f"SELECT {', '.join([*dims, ''])}CASE {cases} ELSE {len(age_limits)} END AS bucket, "
        f"count(*) AS backlog, count(*) FILTER (WHERE {past_due_at(end)}) AS backlog_over_sla, "
        f"min(enqueued_at) AS oldest_enqueued_at\nFROM decisions WHERE {' AND '.join(conds)}\n"
        f"GROUP BY {group_by(len(dims) + 1)}"
    )
    return statement(sql, params)
