"""Row counts of the canonical tables, for the first dashboard page and health checks."""

from __future__ import annotations

from kpi.gateway import Gateway

TABLES = ("decisions", "qa_audits", "calibration_ratings", "ingest_runs")


def database_summary(path: str | None = None, role: str = "admin") -> dict[str, object] | None:
    """Counts per canonical table as `role` sees them, or None when there is no database yet."""
    try:
        gw = Gateway(path, role=role)
    except FileNotFoundError:
        return None
    with gw:
        counts: dict[str, object] = {"path": str(gw.path)}
        for table in TABLES:
            # Table names come from the constant tuple above, never from input.
            counts[table] = int(gw.scalar(f"SELECT count(*) FROM {table}"))
        return counts
