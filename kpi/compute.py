"""KPI tables: run the catalog's measures through the gateway and derive ratios and intervals.

`kpi_table` is the single implementation behind the dashboard, the CLI, exports and notebooks.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from kpi.catalog import KPIS, MEASURES, measures_for, needs_agreement, output_columns
from kpi.engines import Engine
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
    """One row per group (dimensions x period) with every requested KPI.

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
    frames = []
    for source, measures in by_source.items():
        if source == "backlog":
            frames.append(_backlog(gw, measures, query, b))
            continue
        quantiles = any(MEASURES[m].agg == "quantile" for m in measures)
        parts = []
        for part in _period_slices(gw, source, query, b) if quantiles else [b]:
            sql, params = source_sql(
                source, measures, query, gw.scope, tz, cfg.actioning_labels, part, time_keys,
                penalties,
            )  # fmt: skip
            parts.append(gw.frame(sql, params))
        frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        frames.append(frame)
    if needs_agreement(kpis):
        sql, params = kappa_sql(query, gw.scope, tz, b, time_keys)
        frames.append(gw.frame(sql, params))

    out = _merge(frames, keys)
    for name in needed:
        if MEASURES[name].agg in COUNT_AGGS:
            out[name] = out[name].fillna(0).astype("int64") if name in out else 0
        elif MEASURES[name].agg == "fsum":
            out[name] = out[name].fillna(0.0).astype("float64") if name in out else 0.0
    _derive(out, kpis)
    if query.period is None:
        out = out.drop(columns=["period_start"])
        keys = [*query.by, *time_keys]
    else:
        out["period_start"] = pd.to_datetime(out["period_start"]).dt.date
    cols = [*keys, *output_columns(kpis)]
    if counts:
        cols += [m for m in needed if m not in cols and MEASURES[m].agg in COUNT_AGGS]
    out = out[cols]
    return out.sort_values(keys, na_position="last").reset_index(drop=True) if keys else out


def _period_slices(gw: Engine, source: str, query: KpiQuery, b: Bounds) -> list[Bounds]:
    """The query window cut at period starts into slices of about `QUANTILE_SLICE_ROWS` rows.

    Rows are assumed spread evenly over the periods between the first and the last decision
    in the window; a skewed spread gives slices of unequal size, never wrong numbers. Without
    a period (one group spans the window) the window stays whole.
    """
    if query.period is None:
        return [b]
    sql, params = window_extent_sql(source, query, gw.scope, b)
    row = gw.frame(sql, params).iloc[0]
    n = int(row["n"])
    if n <= QUANTILE_SLICE_ROWS:
        return [b]
    tz = gw.config.reporting_timezone
    first, last = (_local_date(row[c], tz) for c in ("first_at", "last_at"))
    starts = [d.date() for d in _period_starts(first, last, query.period)]
    per_slice = -(-len(starts) // -(-n // QUANTILE_SLICE_ROWS))  # ceil(periods / slices)
    cuts = [local_midnight_utc(d, tz) for d in starts[per_slice::per_slice]]
    edges = [b.start, *cuts, b.end]
    return [Bounds(lo, hi, b.as_of) for lo, hi in zip(edges, edges[1:], strict=False)]


def _local_date(value: object, tz: str) -> dt.date:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts  # Spark returns naive UTC
    return ts.tz_convert(tz).date()


def _merge(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    out: pd.DataFrame | None = None
    for frame in frames:
        for k in keys:
            if k not in frame:
                frame[k] = None
        out = frame if out is None else out.merge(frame, on=keys, how="outer")
    assert out is not None
    return out


_FREQ = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS"}


def _period_starts(first: object, last: object, period: str) -> pd.DatetimeIndex:
    """Start dates of the periods (day, ISO week, month, quarter) from the one containing `first` to
    the one containing `last`."""
    start = pd.Timestamp(first).to_period(_FREQ[period][0]).start_time
    stop = pd.Timestamp(last).to_period(_FREQ[period][0]).start_time
    return pd.date_range(start, max(stop, start), freq=_FREQ[period])


def _backlog(gw: Engine, measures: list[str], query: KpiQuery, b: Bounds) -> pd.DataFrame:
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
            first_at = gw.frame(*backlog_first_sql(query, gw.scope, cut)).iloc[0]["first_at"]
            # Nothing enqueued before the cut: one period, read as empty (typed columns).
            first = last if pd.isna(first_at) else _local_date(first_at, tz)
        starts = [d.date() for d in _period_starts(first, last, query.period)]
        ends = None
        if len(starts) <= MAX_STATE_PERIODS:
            after = pd.Timestamp(starts[-1]).to_period(_FREQ[query.period][0]).end_time.date()
            nexts = [*starts[1:], after + dt.timedelta(days=1)]
            ends = [
                (s, min(local_midnight_utc(n, tz), cut)) for s, n in zip(starts, nexts, strict=True)
            ]
    if ends is None:
        sql, params = source_sql("backlog", measures, query, gw.scope, tz, [], b)
        return _running_backlog(gw.frame(sql, params), query, last)
    frame = gw.frame(*backlog_state_sql(query, gw.scope, ends))
    frame = frame[(frame["backlog"] != 0) | (frame["backlog_over_sla"] != 0)]
    return frame.reset_index(drop=True)


def _running_backlog(frame: pd.DataFrame, query: KpiQuery, last: dt.date | None) -> pd.DataFrame:
    """Turn per-period backlog increments into the state at each period's end.

    Periods in which a group had no event still carry its backlog forward (up to the period
    containing `last`), so a day with no throughput shows the backlog it had.
    """
    dims = list(query.by)
    cols = ["backlog", "backlog_over_sla"]
    if frame.empty:
        return frame
    frame = frame.sort_values([*dims, "period_start"], na_position="first")
    if query.period is not None and last is not None:
        grid = _period_starts(frame["period_start"].min(), last, query.period)
        groups = frame[dims].drop_duplicates() if dims else pd.DataFrame(index=[0])
        dense = groups.merge(pd.DataFrame({"period_start": grid}), how="cross")
        frame["period_start"] = pd.to_datetime(frame["period_start"])
        frame = dense.merge(frame, on=[*dims, "period_start"], how="left")
        frame[cols] = frame[cols].fillna(0)
    if dims:
        frame[cols] = frame.groupby(dims, dropna=False, sort=False)[cols].cumsum()
    else:
        frame[cols] = frame[cols].cumsum()
    return frame[(frame["backlog"] != 0) | (frame["backlog_over_sla"] != 0)]


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num = num.astype("float64")
    den = den.astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num / den).where(den > 0)


def _derive(out: pd.DataFrame, kpis: list[str]) -> None:
    for name in kpis:
        kpi = KPIS[name]
        if kpi.kind == "measure":
            out[name] = out.get(kpi.measure, np.nan)
            continue
        assert kpi.numerator and kpi.denominator
        if kpi.kind == "agreement":
            sums = [
                out.get(c, pd.Series(0.0, index=out.index)).fillna(0).to_numpy(dtype="float64")
                for c in KAPPA_SUMS
            ]
            kappa, _, low, high = kappa_interval_arrays(
                out[kpi.denominator].to_numpy(dtype="float64"),
                out[kpi.numerator].to_numpy(dtype="float64"),
                *sums,
            )
            out[name] = kappa
            if kpi.interval:
                out[f"{name}_low"], out[f"{name}_high"] = low, high
            continue
        if kpi.kind == "mean":
            mean, low, high = mean_interval_arrays(
                out[kpi.numerator].to_numpy(dtype="float64"),
                out[kpi.squares].to_numpy(dtype="float64") if kpi.squares else np.nan,
                out[kpi.denominator].to_numpy(dtype="float64"),
            )
            out[name] = mean
            if kpi.interval:
                out[f"{name}_low"], out[f"{name}_high"] = low, high
            continue
        num, den = out[kpi.numerator], out[kpi.denominator]
        value = _ratio(num, den)
        out[name] = 1 - value if kpi.kind == "complement" else value
        if kpi.interval:
            successes = (den - num) if kpi.kind == "complement" else num
            low, high = wilson_interval_arrays(
                successes.to_numpy(dtype="float64"), den.to_numpy(dtype="float64")
            )
            out[f"{name}_low"], out[f"{name}_high"] = low, high


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready records: ISO dates, None for empty values, plain Python numbers.

    Column by column: a float or plain integer column converts in one `tolist` (NaN to None);
    other columns value by value. A year of vendor x workflow x week (1,060 rows x 70
    columns) takes ~0.01 s instead of ~0.1 s row by row."""
    columns: list[list[object]] = []
    for name in frame.columns:
        column = frame[name]
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            columns.append([None if v != v else v for v in column.to_numpy().tolist()])
        elif isinstance(dtype, np.dtype) and dtype.kind in "iub":
            columns.append(column.to_numpy().tolist())
        else:
            columns.append([_plain(v) for v in column.tolist()])
    keys = [str(k) for k in frame.columns]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def _plain(value: object) -> object:
    """One value as JSON takes it: ISO date text, None for empty, Python numbers."""
    if value is None or value is pd.NA or value is pd.NaT:  # NaT first: it is a datetime
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()[:10]
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
