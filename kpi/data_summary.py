"""What the database holds, as a viewer sees it: row counts, filter values and the data's dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from kpi.catalog import FILTER_DIMENSIONS
from kpi.columns import local_date
from kpi.engines import Engine
from kpi.scope import plausible_range
from kpi.sql import summary as sql


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


def database_summary(gw: Engine, as_of: dt.datetime | None = None) -> DataSummary:
    """Counts per canonical table, filter values and decision-day range within `gw`'s scope.

    Days are local days of the reporting time zone, by decided_at (enqueued_at for decisions
    still pending), the same days the KPI tables group by. The range ends on the newest such
    day that is not in the future (`as_of`, default now): decisions dated after today (a clock
    or time zone off by a few days, which ingest tolerates up to `ingest.max_future_days`) do
    not move the dashboard's default window past today. Days outside the plausible range
    (`kpi.scope.plausible_range`, e.g. year 9999 or 0001 in a database written before ingest
    checked it) never count: the gateway leaves such rows out, and they are ignored here too.
    """
    counts = {}
    for table in sql.COUNTED_TABLES:
        counts[table] = int(gw.frame(*sql.row_count(table))["n"].iat[0])
    values: dict[str, tuple[str, ...]] = {}
    for dim in FILTER_DIMENSIONS:
        frame = gw.frame(*sql.dimension_values(dim))
        values[dim] = tuple(str(v) for v in frame["v"])
    first_day, last_day = decision_days(gw, as_of) if counts["decisions"] else (None, None)
    return DataSummary(counts, values, first_day, last_day)


def decision_days(
    gw: Engine, as_of: dt.datetime | None = None
) -> tuple[dt.date | None, dt.date | None]:
    """The first and last local decision day within `gw`'s scope (`database_summary`'s
    `first_day` and `last_day`), from one query: (None, None) without decisions."""
    now = as_of or dt.datetime.now(dt.UTC)
    lo, hi = plausible_range(gw.config, now)
    days = gw.columns(*sql.decision_time_range(lo, hi))
    first, last = days["first"][0], days["last"][0]  # UTC datetime64, NaT without any
    if np.isnat(last):
        return None, None
    tz = gw.config.reporting_timezone
    last_day = min(local_date(last, tz), now.astimezone(ZoneInfo(tz)).date())
    return min(local_date(first, tz), last_day), last_day
