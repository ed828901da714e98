"""Every read query's text, built in one place.

Analyses (`kpi.compute`, `kpi.gaps`, `kpi.tat`, `kpi.monitor`, `kpi.health`,
`kpi.calibration`, `kpi.data_summary`) contain no SQL: they call a builder here, which returns
a `Statement` (DuckDB-dialect text and its bound parameters), and run it on any engine
(`engine.frame(*statement)`; Spark transpiles the text, see `kpi.engines`). Texts are made from
the catalog's declared measures and dimensions and from constant column names; every value is a
bound parameter. `tests/kpi/snapshots/sql/` keeps each analysis's rendered texts per dialect.

- `core`: parameters, the window as UTC instants, local periods and time keys, filters and
  the viewer's scope as conditions, `Statement`;
- `measures`: the catalog's measures per fact source, the backlog (defined once), kappa's
  label counts, the window's extent;
- `backlog`: the backlog read as a state at each period's end (the rows pending then only);
- `drill`: a quality segment's error types, reviewers and audited decisions;
- `tat`: the TAT histogram, due-time sources and the backlog's ageing;
- `monitor`, `health`, `calibration`, `summary`: the queries of those analyses.

The scope policy's views are rendered by `kpi.scope.ScopePolicy` (one policy, every engine);
an engine's own catalog introspection stays in the engine.
"""

from kpi.sql.backlog import MAX_STATE_PERIODS, backlog_first_sql, backlog_state_sql
from kpi.sql.core import (
    TIME_KEYS,
    Bounds,
    Params,
    Statement,
    backlog_instant,
    bounds,
    filters,
    in_values,
    local_midnight_utc,
    period_expr,
    statement,
    window_filters,
)
from kpi.sql.measures import (
    AUDIT_COLUMNS,
    DECISION_COLUMNS,
    kappa_sql,
    source_sql,
    window_extent_sql,
)

__all__ = [
    "AUDIT_COLUMNS",
    "DECISION_COLUMNS",
    "MAX_STATE_PERIODS",
    "TIME_KEYS",
    "Bounds",
    "Params",
    "Statement",
    "backlog_first_sql",
    "backlog_instant",
    "backlog_state_sql",
    "bounds",
    "filters",
    "in_values",
    "kappa_sql",
    "local_midnight_utc",
    "period_expr",
    "source_sql",
    "statement",
    "window_extent_sql",
    "window_filters",
]
