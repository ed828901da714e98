"""KPI tables: run the catalog's measures through the gateway and derive ratios and intervals.

`kpi_columns` is the single implementation behind the dashboard, the CLI, exports and
notebooks; `kpi_table` is the same table as a DataFrame, what every caller but the CLI's
`bpo-kpi kpis` takes. The table is assembled on numpy columns (`kpi.columns`), so that command
never imports pandas (see that module).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from kpi import columns as cols
from kpi.catalog import KPIS, MEASURES, measures_for, needs_agreement, output_columns
from kpi.columns import Columns
from kpi.engines import Engine
from kpi.periods import period_of
from kpi.query import KpiQuery
from kpi.sql import (
    MAX_STATE_PERIODS,
    TIME_KEYS,
    Bounds,
    backlog_first_sql,
    backlog_state_sql,
    bounds,
    kappa_sql,
    local_midnight_utc,
    source_sql,
    window_extent_sql,
)
from kpi.stats import kappa_interval_arrays, mean_interval_arrays, wilson_interval_arrays

if TYPE_CHECKING:
    import pandas as pd

COUNT_AGGS = ("count", "sum", "count_distinct")
# The label-count sums of `kpi.sql.kappa_sql` behind an agreement KPI and its interval.
KAPPA_SUMS = ("kappa_pe_num", "kappa_s1_num", "kappa_s2_num")

# Exact quantiles hold every value of a group in memory until the group is complete, and
# DuckDB cannot spill them. A source with quantile measures is therefore queried in slices of
# whole periods holding about this many rows each (a period is part of every group, so each
# group lies in one slice and the values are the same). The table is kept in time order, so
# each slice reads only its own row groups. At 50M decisions this took the KPI table's peak
# memory from 2.2-2.5 GB to the figure in the README.
QUANTILE_SLICE_ROWS = 4_000_000


def kpi_table(
    gw: Engine,
    query: KpiQuery,
    as_of: dt.datetime | None = None,
    *,
    time_keys: tuple[str, ...] = (),
    counts: bool = False,
) -> pd.DataFrame:
    """`kpi_columns` as a DataFrame: text columns of pandas' string type, `period_start`
    Python dates, counts int64, KPIs and intervals float64."""
    return cols.to_frame(kpi_columns(gw, query, as_of, time_keys=time_keys, counts=counts))


def kpi_columns(
    gw: Engine,
    query: KpiQuery,
    as_of: dt.datetime | None = None,
    *,
    time_keys: tuple[str, ...] = (),
    counts: bool = False,
) -> Columns:
    """One row per group (dimensions x period) with every requested KPI, as named columns.

    Ratios with a zero denominator are NaN, never 0. `as_of` (default: now) is the instant
    at which the backlog of the current period is measured.

    `time_keys` (`kpi.sql.TIME_KEYS`) also groups by the local time of week at which the item
    entered the queue: `weekday` (ISO, 1 = Monday .. 7 = Sunday) and `hour` (0-23) of
    enqueued_at in the reporting time zone, placed after the dimensions. Decisions still belong
    to the window by decided_at. The backlog (a state at a period's end) has no such cut.

    `counts=True` also returns the count measures behind the requested KPIs that are not KPIs
    themselves (e.g. `errors` and `audits` for quality_score, `sla_met` and `sla_known` for
    sla_attainment), after the KPI columns: `kpi.monitor` tests changes on these counts.
    """
    cfg = gw.config
    tz = cfg.reporting_timezone
    as_of = as_of or dt.datetime.now(dt.UTC)
    b = bounds(query, tz, as_of)
    kpis = query.kpi_list()
    needed = measures_for(kpis)
    time_keys = tuple(time_keys)
    unknown = [k for k in time_keys if k not in TIME_KEYS]
    if unknown or len(set(time_keys)) != len(time_keys):
        raise ValueError(f"time_keys: use distinct values of {', '.join(TIME_KEYS)}")
    keys = [*query.by, *time_keys, "period_start"]
    by_source: dict[str, list[str]] = {}
    for name in needed:
        by_source.setdefault(MEASURES[name].source, []).append(name)
    if time_keys and "backlog" in by_source:
        backlog = [k for k in kpis if KPIS[k].measure in by_source["backlog"]]
        raise ValueError(f"{', '.join(backlog)} cannot be cut by time keys (a state, not events)")

    # Points an error of each severity takes off its audit (weighted_quality_score).
    penalties = cfg.severity_penalties()
    parts: list[Columns] = []
    for source, measures in by_source.items():
        if source == "backlog":
            parts.append(_backlog(gw, measures, query, b))
            continue
        quantiles = any(MEASURES[m].agg == "quantile" for m in measures)
        slices = []
        for part in _period_slices(gw, source, query, b) if quantiles else [b]:
            sql, params = source_sql(
                source, measures, query, gw.scope, tz, cfg.actioning_labels, part, time_keys,
                penalties,
            )  # fmt: skip
            slices.append(gw.columns(sql, params))
        parts.append(cols.concat(slices))
    if needs_agreement(kpis):
        sql, params = kappa_sql(query, gw.scope, tz, b, time_keys)
        parts.append(gw.columns(sql, params))

    out = cols.outer_join(parts, keys)
    n = cols.length(out)
    for name in needed:
        agg = MEASURES[name].agg
        if agg in COUNT_AGGS:
            values = out.get(name, np.zeros(n))
            out[name] = np.nan_to_num(values.astype("float64"), nan=0.0).astype("int64")
        elif agg == "fsum":
            out[name] = np.nan_to_num(out.get(name, np.zeros(n)).astype("float64"), nan=0.0)
    _derive(out, kpis, n)
    if query.period is None:
        out.pop("period_start", None)
        keys = [*query.by, *time_keys]
    else:
        out["period_start"] = cols.dates(out["period_start"])
    names = [*keys, *output_columns(kpis)]
    if counts:
        names += [m for m in needed if m not in names and MEASURES[m].agg in COUNT_AGGS]
    return cols.sort_rows({name: out[name] for name in names}, keys)


def _period_slices(gw: Engine, source: str, query: KpiQuery, b: Bounds) -> list[Bounds]:
    """The query window cut at period starts into slices of about `QUANTILE_SLICE_ROWS` rows.

    Rows are assumed spread evenly over the periods between the first and the last decision
    in the window; a skewed spread gives slices of unequal size, never wrong numbers. Without
    a period (one group spans the window) the window stays whole.
    """
    if query.period is None:
        return [b]
    sql, params = window_extent_sql(source, query, gw.scope, b)
    row = gw.columns(sql, params)
    n = int(row["n"][0])
    if n <= QUANTILE_SLICE_ROWS:
        return [b]
    tz = gw.config.reporting_timezone
    first, last = (cols.local_date(row[c][0], tz) for c in ("first_at", "last_at"))
    starts = _period_starts(first, last, query.period)
    per_slice = -(-len(starts) // -(-n // QUANTILE_SLICE_ROWS))  # ceil(periods / slices)
    cuts = [local_midnight_utc(d, tz) for d in starts[per_slice::per_slice]]
    edges = [b.start, *cuts, b.end]
    return [Bounds(lo, hi, b.as_of) for lo, hi in zip(edges, edges[1:], strict=False)]


def _period_starts(first: dt.date, last: dt.date, period: str) -> list[dt.date]:
    """Start dates of the periods (day, ISO week, month, quarter) from the one containing `first`
    to the one containing `last` (at least the first)."""
    starts = [period_of(period, first).start]
    while True:
        following = period_of(period, starts[-1]).end + dt.timedelta(days=1)
        if following > last:
            return starts
        starts.append(following)


def _backlog(gw: Engine, measures: list[str], query: KpiQuery, b: Bounds) -> Columns:
    """Backlog and backlog past SLA per group at each period's end (the current period's: the
    as-of instant), read as states (`kpi.sql.backlog`) for up to `MAX_STATE_PERIODS` periods,
    else as running sums of events (`kpi.sql.measures`)."""
    tz = gw.config.reporting_timezone
    cut = min(b.end, b.as_of) if b.end is not None else b.as_of
    last = query.end or b.as_of.astimezone(ZoneInfo(tz)).date()
    ends: list[tuple[dt.date | None, dt.datetime]] | None = [(None, cut)]
    if query.period is not None:
        if b.start is not None and query.start is not None:
            first = query.start
        else:
            first_at = gw.columns(*backlog_first_sql(query, gw.scope, cut))["first_at"][0]
            # Nothing enqueued before the cut: one period, read as empty (typed columns).
            first = last if np.isnat(first_at) else cols.local_date(first_at, tz)
        starts = _period_starts(first, last, query.period)
        ends = None
        if len(starts) <= MAX_STATE_PERIODS:
            after = period_of(query.period, starts[-1]).end
            nexts = [*starts[1:], after + dt.timedelta(days=1)]
            ends = [
                (s, min(local_midnight_utc(n, tz), cut)) for s, n in zip(starts, nexts, strict=True)
            ]
    if ends is None:
        sql, params = source_sql("backlog", measures, query, gw.scope, tz, [], b)
        return _running_backlog(gw.columns(sql, params), query, last)
    states = gw.columns(*backlog_state_sql(query, gw.scope, ends))
    return cols.take(states, (states["backlog"] != 0) | (states["backlog_over_sla"] != 0))


def _running_backlog(events: Columns, query: KpiQuery, last: dt.date | None) -> Columns:
    """Turn per-period backlog increments into the state at each period's end.

    Periods in which a group had no event still carry its backlog forward (up to the period
    containing `last`), so a day with no throughput shows the backlog it had.
    """
    dims = list(query.by)
    names = ("backlog", "backlog_over_sla")
    n = cols.length(events)
    if n == 0:
        return events
    keys = [cols.key_values(events[d]) for d in dims]
    groups = list(zip(*keys, strict=True)) if dims else [()] * n
    starts = cols.dates(events["period_start"])
    steps = [events[c].astype("float64") for c in names]
    per_group: dict[tuple[object, ...], dict[object, tuple[float, float]]] = {}
    for i, (group, start) in enumerate(zip(groups, starts, strict=True)):
        per_group.setdefault(group, {})[start] = (steps[0][i], steps[1][i])
    grid: list[dt.date] | None = None
    if query.period is not None and last is not None:
        # Every group at every period from the first event's to the one holding `last`.
        grid = _period_starts(min(s for s in starts if s is not None), last, query.period)
    rows: list[tuple[tuple[object, ...], object, float, float]] = []
    for group, per in per_group.items():
        backlog = over = 0.0
        periods = grid if grid is not None else sorted(per, key=lambda s: (s is not None, s or 0))
        for start in periods:
            step = per.get(start)
            if step is not None:
                backlog, over = backlog + step[0], over + step[1]
            if backlog != 0 or over != 0:
                rows.append((group, start, backlog, over))
    out: Columns = {}
    for j, d in enumerate(dims):
        out[d] = cols.object_array([r[0][j] for r in rows])
    out["period_start"] = np.array([r[1] for r in rows], dtype="datetime64[us]")  # None: NaT
    out["backlog"] = np.array([r[2] for r in rows], dtype="int64")
    out["backlog_over_sla"] = np.array([r[3] for r in rows], dtype="int64")
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = num.astype("float64")
    den = den.astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _derive(out: Columns, kpis: list[str], n: int) -> None:
    def floats(name: str | None) -> np.ndarray:
        values = out.get(name) if name else None
        return np.full(n, np.nan) if values is None else values.astype("float64")

    for name in kpis:
        kpi = KPIS[name]
        if kpi.kind == "measure":
            out[name] = out[kpi.measure] if kpi.measure in out else np.full(n, np.nan)
            continue
        assert kpi.numerator and kpi.denominator
        if kpi.kind == "agreement":
            pe, s1, s2 = (np.nan_to_num(floats(c), nan=0.0) for c in KAPPA_SUMS)
            kappa, _, low, high = kappa_interval_arrays(
                floats(kpi.denominator), floats(kpi.numerator), pe, s1, s2
            )
            out[name] = kappa
            if kpi.interval:
                out[f"{name}_low"], out[f"{name}_high"] = low, high
            continue
        if kpi.kind == "mean":
            mean, low, high = mean_interval_arrays(
                floats(kpi.numerator),
                floats(kpi.squares) if kpi.squares else np.nan,
                floats(kpi.denominator),
            )
            out[name] = mean
            if kpi.interval:
                out[f"{name}_low"], out[f"{name}_high"] = low, high
            continue
        num, den = floats(kpi.numerator), floats(kpi.denominator)
        value = _ratio(num, den)
        out[name] = 1 - value if kpi.kind == "complement" else value
        if kpi.interval:
            successes = (den - num) if kpi.kind == "complement" else num
            low, high = wilson_interval_arrays(successes, den)
            out[f"{name}_low"], out[f"{name}_high"] = low, high


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready records of a DataFrame: ISO dates, None for empty values, plain Python
    numbers (`kpi.columns.records` on its columns)."""
    return cols.records(
        {
            str(k): frame[k].to_numpy()
            if _numeric(frame[k])
            else frame[k].astype(object).to_numpy()
            for k in frame.columns
        }  # fmt: skip
    )


def _numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    return isinstance(dtype, np.dtype) and dtype.kind in "fiub"
