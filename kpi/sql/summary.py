"""What the database holds as a viewer sees it (`kpi.data_summary`)."""

from __future__ import annotations

import datetime as dt

from kpi.catalog import DIMENSIONS
from kpi.sql.core import Statement, statement

# The tables whose rows a summary counts.
COUNTED_TABLES = ("decisions", "qa_audits", "calibration_ratings", "ingest_runs")


def row_count(table: str) -> Statement:
    """Rows of one of `COUNTED_TABLES`. Calibration ratings count those of a vendor the viewer
    sees: a golden answer shown to a vendor-restricted role as the reference carries no vendor
    (`kpi.scope`) and is not counted."""
    if table not in COUNTED_TABLES:
        raise ValueError(f"not a counted table: {table!r}")
    if table == "calibration_ratings":
        return statement("SELECT count(vendor) AS n FROM calibration_ratings")
    return statement(f"SELECT count(*) AS n FROM {table}")


def dimension_values(dim: str) -> Statement:
    """The values a declared dimension takes among decisions, sorted."""
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}")
    return statement(
        f"SELECT DISTINCT {dim} AS v FROM decisions WHERE {dim} IS NOT NULL ORDER BY 1"
    )


def decision_time_range(lo: dt.datetime, hi: dt.datetime) -> Statement:
    """First and last decided_at (enqueued_at while pending) between `lo` and `hi`."""
    return statement(
        "SELECT min(t) AS first, max(t) AS last FROM ("
        "SELECT coalesce(decided_at, enqueued_at) AS t FROM decisions"
        ") WHERE t BETWEEN $lo AND $hi",
        {"lo": lo, "hi": hi},
    )
