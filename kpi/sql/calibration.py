"""Calibration queries (`kpi.calibration`): ratings, sessions and the sessions a review can
pick from. A vendor filter keeps that vendor's raters plus the golden answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kpi.sql.core import Params, Statement, in_values, statement

_RATER = "NOT coalesce(is_golden, false)"


def ratings(
    session_ids: Sequence[str] | None,
    workflow: str | None,
    vendor: str | None,
    start: dt.date | None,
    end: dt.date | None,
) -> Statement:
    """Ratings in session order (a vendor filter keeps golden answers)."""
    params = Params()
    conds = ["true"]
    if session_ids:
        conds.append(in_values("session_id", session_ids, params))
    if workflow:
        conds.append(f"workflow = {params.bind(workflow)}")
    if vendor:
        conds.append(f"(vendor = {params.bind(vendor)} OR is_golden)")
    if start:
        conds.append(f"session_date >= {params.bind(start)}")
    if end:
        conds.append(f"session_date <= {params.bind(end)}")
    sql = (
        "SELECT session_id, session_date, workflow, item_id, rater_id, vendor, label, policy, "
        f"coalesce(is_golden, false) AS is_golden FROM calibration_ratings "
        f"WHERE {' AND '.join(conds)} ORDER BY session_date, session_id, item_id, rater_id"
    )
    return statement(sql, params)


def sessions(workflow: str | None) -> Statement:
    """Sessions with date, workflow, items, raters and vendors, newest first (a golden answer
    shown to a vendor-restricted role as the reference carries no vendor: none listed)."""
    params = Params()
    where = f"WHERE workflow = {params.bind(workflow)}" if workflow else ""
    sql = (
        "SELECT session_id, session_date, workflow, count(DISTINCT item_id) AS items, "
        f"count(DISTINCT rater_id) FILTER (WHERE {_RATER}) AS raters, "
        "list(DISTINCT vendor ORDER BY vendor) FILTER (WHERE vendor IS NOT NULL) AS vendors "
        f"FROM calibration_ratings {where} GROUP BY ALL ORDER BY session_date DESC, session_id"
    )
    return statement(sql, params)


def session_choices(
    start: dt.date | None,
    end: dt.date | None,
    workflows: Sequence[str],
    vendors: Sequence[str],
) -> Statement:
    """Sessions between `start` and `end` in `workflows` rated by `vendors`' raters (empty:
    no restriction), with items, raters and the raters' vendors, newest first."""
    params = Params()
    conds = ["true"]
    if start:
        conds.append(f"session_date >= {params.bind(start)}")
    if end:
        conds.append(f"session_date <= {params.bind(end)}")
    if workflows:
        conds.append(in_values("workflow", workflows, params))
    if vendors:
        conds.append(f"(coalesce(is_golden, false) OR {in_values('vendor', vendors, params)})")
    sql = (
        "SELECT session_id, session_date, workflow, count(DISTINCT item_id) AS items, "
        f"count(DISTINCT rater_id) FILTER (WHERE {_RATER}) AS raters, "
        f"list(DISTINCT vendor ORDER BY vendor) FILTER (WHERE {_RATER}) AS rater_vendors "
        f"FROM calibration_ratings WHERE {' AND '.join(conds)} GROUP BY ALL "
        f"HAVING count(*) FILTER (WHERE {_RATER}) > 0 ORDER BY session_date DESC, session_id"
    )
    return statement(sql, params)
