"""Disputes: how often vendors dispute QA, how often QA is overturned, quality before and after
disputes, how long resolution takes, and which disputes have waited too long.

- `dispute_table`: the catalog's dispute KPIs (`DISPUTE_KPIS`) per group of `query.by`, with
  the counts behind them (`kpi_table(..., counts=True)`): dispute rate (n: audits with an
  error type that counts), overturn rate (n: resolved disputes), both with Wilson 95%
  intervals; the quality score as QA first said (`quality_score_before_disputes`) and after
  overturns (`quality_score`); pending disputes; the median resolution time (n: resolved
  disputes with both times).
- `pending_disputes`: disputes pending at the window's end (or `as_of`, if earlier) raised
  more than `monitor.dispute_pending_days` days before it, oldest first. A dispute is pending
  at instant E when raised before E (`disputed_at`, else the audit's time) and not resolved
  before E (still `pending`, or resolved at or after E). The daily monitor alerts on these
  (`kpi.monitor`, kind `dispute_pending`).

Every read is scoped like any other (a vendor role sees its own disputes only).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kpi.columns import Columns, utc_datetime64
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.sql import Statement, backlog_instant
from kpi.sql import disputes as sql

if TYPE_CHECKING:
    import pandas as pd

DISPUTE_KPIS = (
    "dispute_rate",
    "overturn_rate",
    "quality_score_before_disputes",
    "quality_score",
    "disputes_pending",
    "dispute_resolution_p50",
)
PENDING_COLUMNS = ["audit_id", "decision_id", "vendor", "workflow", "market", "reviewer_id",
                   "auditor_id", "error_type", "severity", "audited_at", "raised_at",
                   "raised_at_from_audit", "age_days"]  # fmt: skip


def dispute_table(gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The dispute KPIs per group of `query.by` (and period, if any) with their intervals and
    counts: `disputed`, `error_typed`, `overturned`, `dispute_resolved`, `errors`, `audits`,
    `dispute_timed`."""
    q = query.model_copy(update={"kpis": DISPUTE_KPIS})
    return kpi_table(gw, q, as_of=as_of, counts=True)


def pending_disputes(
    gw: Engine,
    query: KpiQuery,
    as_of: dt.datetime | None = None,
    older_than_days: float | None = None,
) -> pd.DataFrame:
    """Disputes pending at the window's end (`kpi.sql.backlog_instant`) raised more than
    `older_than_days` (default `monitor.dispute_pending_days`) before it, oldest first:
    `PENDING_COLUMNS`, `age_days` the days since raised, `raised_at_from_audit` true where the
    vendor sent no dispute time (the audit's time stands in)."""
    import pandas as pd

    cut, statement = _pending(gw, query, as_of, older_than_days)
    frame = gw.frame(*statement)
    raised = pd.to_datetime(frame["raised_at"], utc=True)
    frame["age_days"] = (pd.Timestamp(cut) - raised).dt.total_seconds() / 86_400
    frame["raised_at_from_audit"] = frame["raised_at_from_audit"].astype(bool)
    return frame[PENDING_COLUMNS].reset_index(drop=True)


def pending_dispute_columns(
    gw: Engine,
    query: KpiQuery,
    as_of: dt.datetime | None = None,
    older_than_days: float | None = None,
) -> Columns:
    """`pending_disputes` as numpy columns (`kpi.columns`; times UTC datetime64), without
    pandas: what the alert list (`kpi.alerting`) reads."""
    cut, statement = _pending(gw, query, as_of, older_than_days)
    out = gw.columns(*statement)
    raised = out["raised_at"].astype("datetime64[us]")
    out["age_days"] = (utc_datetime64(cut) - raised).astype("int64") / 86_400e6
    out["raised_at_from_audit"] = out["raised_at_from_audit"].astype(bool)
    return {name: out[name] for name in PENDING_COLUMNS}


def _pending(
    gw: Engine, query: KpiQuery, as_of: dt.datetime | None, older_than_days: float | None
) -> tuple[dt.datetime, Statement]:
    """The instant pending disputes are counted at, and their query."""
    days = gw.config.monitor.dispute_pending_days if older_than_days is None else older_than_days
    cut = backlog_instant(query, gw.config.reporting_timezone, as_of)
    return cut, sql.pending_disputes(query, gw.scope, cut, dt.timedelta(days=days))
