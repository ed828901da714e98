"""What the database holds, as a viewer sees it: row counts, filter values and the data's dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kpi.engines import Engine

TABLES = ("decisions", "qa_audits", "calibration_ratings", "ingest_runs")
FILTER_DIMENSIONS = ("vendor", "site", "workflow", "market")


@dataclass(frozen=True)
class DataSummary:
    """Row counts, the values each filter dimension takes and the first/last decision day."""

    counts: dict[str, int]
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    @property
    def empty(self) -> bool:
        return self.counts.get("decisions", 0) == 0


def database_summary(gw: Engine) -> DataSummary:
    """Counts per canonical table, filter values and decision-day range within `gw`'s scope.

    Days are local days of the reporting time zone, by decided_at (enqueued_at for decisions
    still pending), the same days the KPI tables group by.
    """
    counts = {}
    for table in TABLES:
        # Table names come from the constant tuple above, never from input.
        counts[table] = int(gw.frame(f"SELECT count(*) AS n FROM {table}")["n"].iat[0])
    values: dict[str, tuple[str, ...]] = {}
    for dim in FILTER_DIMENSIONS:  # constant column names
        frame = gw.frame(
            f"SELECT DISTINCT {dim} AS v FROM decisions WHERE {dim} IS NOT NULL ORDER BY 1"
        )
        values[dim] = tuple(str(v) for v in frame["v"])
    days = gw.frame(
        "SELECT min(coalesce(decided_at, enqueued_at)) AS first, "
        "max(coalesce(decided_at, enqueued_at)) AS last FROM decisions"
    )
    first_day = last_day = None
    if counts["decisions"]:
        tz = gw.config.reporting_timezone
        first_day = days["first"].iat[0].tz_convert(tz).date()
        last_day = days["last"].iat[0].tz_convert(tz).date()
    return DataSummary(counts, values, first_day, last_day)
