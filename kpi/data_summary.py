"""Row counts of the canonical tables, for the first dashboard page and health checks."""

from __future__ import annotations

from bpo_kpi.db import connect, default_db_path

TABLES = ("decisions", "qa_audits", "calibration_ratings", "ingest_runs")


def database_summary(path: str | None = None) -> dict[str, object] | None:
    """Counts per canonical table, or None when the database does not exist yet."""
    db = default_db_path() if path is None else path
    try:
        con = connect(db, read_only=True)
    except FileNotFoundError:
        return None
    try:
        counts: dict[str, object] = {"path": str(db)}
        for table in TABLES:
            # Table names come from the constant tuple above, never from input.
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        return counts
    finally:
        con.close()
