"""SQL for the KPI catalog's measures: one aggregate query per fact source, in DuckDB's dialect.

Query text is built only from this package's own vocabulary (catalog expressions, allow-listed
dimension names); every value — dates, filter values, time zone, actioning labels — is a bound
`$name` parameter. `kpi.engines` runs the same text on Spark after transpiling it with sqlglot.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from kpi.catalog import DIMENSIONS, MEASURES, Measure
from kpi.query import KpiQuery, Scope

# Per-source column vocabulary used by catalog expressions.
DECISION_COLUMNS = {
    "tat_minutes": "(epoch(decided_at) - epoch(enqueued_at)) / 60.0",
    "handle_minutes": "(epoch(decided_at) - epoch(claimed_at)) / 60.0",
}
AUDIT_COLUMNS = {
    "vendor_actioning": "list_contains($actioning, decision)",
    "qa_actioning": "list_contains($actioning, qa_decision)",
}


def used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters the text refers to (DuckDB refuses unused ones)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, prefix: str = "v") -> str:
        name = f"{prefix}{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def local_midnight_utc(day: dt.date, tz: str) -> dt.datetime:
    """The UTC instant at which `day` starts in time zone `tz`."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


@functools.cache
def fixed_offset_us(tz: str) -> int | None:
    """The zone's UTC offset in microseconds if it never changes (1990-2060), else None."""
    zone = ZoneInfo(tz)
    offsets = {
        dt.datetime(year, month, 1, tzinfo=zone).utcoffset()
        for year in range(1990, 2061)
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return None if offset is None else int(offset.total_seconds() * 1_000_000)


def period_expr(period: str | None, column: str, params: Params) -> str:
    """Start date (local, reporting time zone `params.values['tz']`) of the period of `column`.

    For a zone with a fixed offset (UTC, the default) the local time is the epoch plus that
    offset: about 7x cheaper per row than DuckDB's time-zone conversion, which dominated the
    KPI table's cost. Zones with daylight saving time use the full conversion.
    """
    if period is None:
        return "CAST(NULL AS DATE)"
    offset = fixed_offset_us(str(params.values["tz"]))
    if offset is not None:
        params.values["tz_offset_us"] = offset
        local = f"make_timestamp(epoch_us({column}) + $tz_offset_us)"
    else:
        local = f"timezone($tz, {column})"
    return f"CAST(date_trunc('{period}', {local}) AS DATE)"


# Local time-of-week keys of an item's arrival (enqueued_at, reporting time zone): ISO weekday
# 1 = Monday .. 7 = Sunday and hour 0-23. `kpi_table(..., time_keys=...)` groups by them.
TIME_KEYS = ("weekday", "hour")
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000


def local_epoch_us(column: str, params: Params) -> str:
    """Microseconds since 1970-01-01 00:00 *local* (reporting time zone) of instant `column`.

    Same conversion as `period_expr`: the epoch plus the fixed offset when the zone has one,
    else DuckDB's time-zone conversion (daylight saving time).
    """
    offset = fixed_offset_us(str(params.values["tz"]))
    if offset is not None:
        params.values["tz_offset_us"] = offset
        return f"(epoch_us({column}) + $tz_offset_us)"
    return f"epoch_us(timezone($tz, {column}))"


def time_key_expr(key: str, params: Params, column: str = "enqueued_at") -> str:
    """SQL of a time-of-week key (`TIME_KEYS`) of `column` in the reporting time zone.

    Integer arithmetic on the local epoch rather than `hour()` / `isodow()`: it means the same
    on Spark (sqlglot turns DuckDB's `isodow` into a Spark expression with another weekday
    numbering). 1970-01-01 was a Thursday (ISO weekday 4).
    """
    local_us = local_epoch_us(column, params)
    if key == "hour":
        return f"CAST(({local_us} // {_US_PER_HOUR}) % 24 AS INTEGER)"
    if key == "weekday":
        return f"CAST(((({local_us} // {_US_PER_DAY}) + 3) % 7) + 1 AS INTEGER)"
    raise ValueError(f"unknown time key {key!r}; use one of {', '.join(TIME_KEYS)}")


def _dim_expr(source: str, dim: str) -> str:
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}; use one of {', '.join(DIMENSIONS)}")
    # Every source cuts by the decision's own attributes (an audit's `policy` is the policy the
    # reviewer cited, as for decisions), so a ratio across sources compares like with like.
    return dim


def in_values(column: str, values: Any, params: Params) -> str:
    """`column` is one of `values`, each a bound parameter: `col = $v0` or `col IN ($v0, $v1)`.

    DuckDB pushes these into the table scan; `col IN (SELECT unnest($list))` is a semi-join
    instead, which made a whole-year drill-down to audit rows at 50M decisions 4x slower
    (67 ms against 17 ms). An empty list matches nothing.
    """
    names = [params.bind(v) for v in values]
    if not names:
        return "false"
    if len(names) == 1:
        return f"{column} = {names[0]}"
    return f"{column} IN ({', '.join(names)})"


def filters(source: str, query: KpiQuery, scope: Scope, params: Params) -> list[str]:
    """WHERE conditions for dimension filters and the viewer's access scope."""
    conds = []
    for dim, values in query.where.items():
        conds.append(in_values(_dim_expr(source, dim), values, params))
    for scoped, allowed in scope.restrictions().items():
        conds.append(in_values(_dim_expr(source, scoped), allowed, params))
    return conds


def _aggregate(m: Measure, columns: dict[str, str]) -> str:
    expr = m.expr
    for name, sql in columns.items():
        expr = expr.replace(name, f"({sql})")
    if m.agg == "count":
        return "count(*)" if expr == "1" else f"count(*) FILTER (WHERE {expr})"
    if m.agg == "sum":
        return f"sum({expr})"
    if m.agg == "mean":
        return f"avg({expr})"
    if m.agg == "count_distinct":
        return f"count(DISTINCT {expr})"
    raise ValueError(m.agg)


def window_filters(
    source: str, query: KpiQuery, scope: Scope, b: Bounds, params: Params
) -> list[str]:
    """WHERE conditions of a decisions/audits query: decided in the window, filters, scope.

    Audits belong to their decision's period; orphan audits (no decision yet) are excluded.
    """
    where = ["decided_at IS NOT NULL"]
    if source == "audits":
        where.append("NOT is_orphan")
    if b.start is not None:
        where.append(f"decided_at >= {params.bind(b.start, 't')}")
    if b.end is not None:
        end = params.bind(b.end, "t")
        # enqueued_at <= decided_at, and the table is in enqueued_at order: this lets DuckDB
        # skip row groups after the window.
        where += [f"decided_at < {end}", f"enqueued_at < {end}"]
    return where + filters(source, query, scope, params)


@dataclass
class Bounds:
    """Query period as UTC instants: [start, end) plus the backlog's as-of instant."""

    start: dt.datetime | None
    end: dt.datetime | None
    as_of: dt.datetime


def bounds(query: KpiQuery, tz: str, as_of: dt.datetime) -> Bounds:
    start = _midnight_or_open(query.start, 0, tz)
    end = _midnight_or_open(query.end, 1, tz)
    return Bounds(start, end, as_of)


def _midnight_or_open(day: dt.date | None, offset: int, tz: str) -> dt.datetime | None:
    """The UTC instant starting `day` + `offset` days; None (an open bound) without a day or
    when that instant is outside Python's calendar (`--to 9999-12-31`; `--from 0001-01-01`
    east of UTC): no plausible time lies beyond it, so the open bound selects the same rows."""
    if day is None:
        return None
    try:
        return local_midnight_utc(day + dt.timedelta(days=offset), tz)
    except OverflowError:
        return None


def source_sql(
    source: str,
    measures: list[str],
    query: KpiQuery,
    scope: Scope,
    tz: str,
    actioning: list[str],
    b: Bounds,
    time_keys: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """One aggregate query for the measures of `source`, grouped by dimensions, time keys
    (`TIME_KEYS` of enqueued_at; decisions and audits only) and period."""
    params = Params()
    params.values["tz"] = tz
    dims = [f"{_dim_expr(source, d)} AS {d}" for d in query.by]
    if source == "backlog":
        if time_keys:
            raise ValueError("the backlog cannot be cut by time keys")
        return _backlog_sql(measures, query, scope, params, b)
    dims += [f"{time_key_expr(k, params)} AS {k}" for k in time_keys]
    table = "decisions" if source == "decisions" else "audit_facts"
    columns = DECISION_COLUMNS if source == "decisions" else AUDIT_COLUMNS
    if source == "audits":
        params.values["actioning"] = actioning
    where = window_filters(source, query, scope, b, params)
    select = list(dims)
    select.append(f"{period_expr(query.period, 'decided_at', params)} AS period_start")
    quantiles = [MEASURES[m] for m in measures if MEASURES[m].agg == "quantile"]
    by_expr: dict[str, list[Measure]] = {}
    for m in quantiles:
        by_expr.setdefault(m.expr, []).append(m)
    for expr, group in by_expr.items():
        # One list quantile per expression: 1.4-2.4x faster than separate calls
        # (docs/ARCHITECTURE.md §6).
        sql = expr
        for name, col_sql in columns.items():
            sql = sql.replace(name, f"({col_sql})")
        qs = ", ".join(repr(m.quantile) for m in group)
        select.append(f"quantile_cont({sql}, [{qs}]) AS q_{group[0].name}")
    for name in measures:
        m = MEASURES[name]
        if m.agg != "quantile":
            select.append(f"{_aggregate(m, columns)} AS {name}")
    group_by = [str(i + 1) for i in range(len(dims) + 1)]
    sql = (
        f"SELECT {', '.join(select)}\nFROM {table}\nWHERE {' AND '.join(where)}\n"
        f"GROUP BY {', '.join(group_by)}"
    )
    # Unpack list quantiles in an outer query.
    if by_expr:
        outer = [*query.by, *time_keys, "period_start"]
        for group in by_expr.values():
            for i, m in enumerate(group):
                outer.append(f"q_{group[0].name}[{i + 1}] AS {m.name}")
        outer += [n for n in measures if MEASURES[n].agg != "quantile"]
        sql = f"SELECT {', '.join(outer)} FROM (\n{sql}\n)"
    return sql, used(sql, params.values)


def window_extent_sql(
    source: str, query: KpiQuery, scope: Scope, b: Bounds
) -> tuple[str, dict[str, Any]]:
    """Rows of `source` ("decisions" or "audits") in the query's window, and the first and last
    decided_at among them: one cheap scan of one column (36 ms at 50M decisions)."""
    params = Params()
    table = "decisions" if source == "decisions" else "audit_facts"
    where = window_filters(source, query, scope, b, params)
    sql = (
        "SELECT count(*) AS n, min(decided_at) AS first_at, max(decided_at) AS last_at "
        f"FROM {table} WHERE {' AND '.join(where)}"
    )
    return sql, used(sql, params.values)


def _backlog_sql(
    measures: list[str], query: KpiQuery, scope: Scope, params: Params, b: Bounds
) -> tuple[str, dict[str, Any]]:
    """Per-period increments of backlog; the caller takes running sums per group.

    backlog at a period's end E = #(enqueued_at < E) - #(decided_at < E);
    past SLA at E = #(due_at < E) - #(greatest(due_at, decided_at) < E).
    Events before the window start fold into its first period, so running sums are exact.

    One scan: each decision's periods of enqueued_at, decided_at and due_at (the local period
    is the costly part: three per row, not four) and which events fall before E are counted
    per combination, then the few combinations are unpivoted into increments. A decision
    decided before the window start adds and removes all its events (backlog and past-SLA) in
    the first period, so it is left out: no running sum changes, and a window skips old row
    groups.
    """
    dims = [f"{d}" for d in query.by]
    cut = min(b.end, b.as_of) if b.end is not None else b.as_of
    end = params.bind(cut, "t")
    first = params.bind(b.start, "t") if b.start is not None else None
    conds = filters("decisions", query, scope, params)
    if b.start is not None:
        # Decided before the window (so enqueued before it too: ingest rejects decided_at <
        # enqueued_at): every event of the row is in the first period and they cancel. One
        # column, so DuckDB skips row groups by their min/max.
        settled = params.bind(min(b.start, cut), "t")
        conds.append(f"(decided_at IS NULL OR decided_at >= {settled})")
    base_where = " AND ".join(["true", *conds])

    def period(column: str) -> str:
        ts = f"greatest({column}, {first})" if first else column
        return period_expr(query.period, ts, params)

    flags = [
        f"enqueued_at < {end} AS f_enq",
        f"decided_at < {end} AS f_dec",
        f"due_at < {end} AS f_due",
        # DuckDB's greatest() skips NULLs: without a due_at there is no past-SLA event to undo.
        f"(decided_at IS NOT NULL AND due_at IS NOT NULL AND greatest(due_at, decided_at) < {end})"
        " AS f_gd",
        "due_at >= decided_at AS due_last",
    ]
    select = [*dims, f"{period('enqueued_at')} AS p_enq", f"{period('decided_at')} AS p_dec",
              f"{period('due_at')} AS p_due", *flags]  # fmt: skip
    n_keys = len(select)
    combos = (
        f"SELECT {', '.join(select)}, count(*) AS n FROM decisions WHERE {base_where}\n"
        f"GROUP BY {', '.join(str(i + 1) for i in range(n_keys))}"
    )
    events = [
        ("p_enq", "n", "0", "f_enq"),
        ("p_dec", "-n", "0", "f_dec"),
        ("p_due", "0", "n", "f_due"),
        # the period of greatest(due_at, decided_at) is the period of whichever is later
        ("CASE WHEN due_last THEN p_due ELSE p_dec END", "0", "-n", "f_gd"),
    ]
    parts = [
        f"SELECT {', '.join([*dims, ''])}{p} AS period_start, {d_backlog} AS backlog, "
        f"{d_over} AS backlog_over_sla FROM combos WHERE {flag}"
        for p, d_backlog, d_over, flag in events
    ]
    union = "\nUNION ALL\n".join(parts)
    keys = dims + ["period_start"]
    sql = (
        f"WITH combos AS (\n{combos}\n)\n"
        f"SELECT {', '.join(keys)}, sum(backlog) AS backlog, "
        f"sum(backlog_over_sla) AS backlog_over_sla\nFROM (\n{union}\n)\n"
        f"GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}"
    )
    return sql, used(sql, params.values)


def kappa_sql(
    query: KpiQuery, scope: Scope, tz: str, b: Bounds, time_keys: tuple[str, ...] = ()
) -> tuple[str, dict[str, Any]]:
    """Per group: sum over labels k of (#decision = k) * (#qa_decision = k), for Cohen's pe."""
    params = Params()
    params.values["tz"] = tz
    where = window_filters("audits", query, scope, b, params)
    dims = [f"{_dim_expr('audits', d)} AS {d}" for d in query.by]
    dims += [f"{time_key_expr(k, params)} AS {k}" for k in time_keys]
    keys = [*query.by, *time_keys, "period_start"]
    select = ", ".join(
        [*dims, f"{period_expr(query.period, 'decided_at', params)} AS period_start"]
    )
    on = " AND ".join(f"v.{k} IS NOT DISTINCT FROM q.{k}" for k in keys)
    sql = f"""
        WITH a AS (SELECT {select}, decision, qa_decision FROM audit_facts
                   WHERE {" AND ".join(where)}),
             v AS (SELECT {", ".join(keys)}, decision AS label, count(*) AS c FROM a GROUP BY ALL),
             q AS (SELECT {", ".join(keys)}, qa_decision AS label, count(*) AS c FROM a
                   GROUP BY ALL)
        SELECT {", ".join(f"v.{k}" for k in keys)}, sum(v.c * q.c) AS kappa_pe_num
        FROM v JOIN q ON {on} AND v.label = q.label
        GROUP BY {", ".join(str(i + 1) for i in range(len(keys)))}
    """
    return sql, used(sql, params.values)
