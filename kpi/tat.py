"""Turnaround and SLA: the TAT distribution, arrival time-of-week cuts, the configured SLA as a
reference line, where due times come from, and the ageing of the backlog.

Every function takes the same `KpiQuery` as `kpi_table` and reads through the same engine, so
the viewer's scope, the dimension filters and the window (decisions by local day of
decided_at) are the ones of the KPI table:

- TAT is the catalog's `tat_minutes` (decided_at - enqueued_at, minutes).
- SLA attainment, TAT quantiles by hour and weekday come from `kpi_table(..., time_keys=...)`:
  the catalog's own measures, grouped by the local weekday and hour (reporting time zone) at
  which the item *entered the queue* — arrival drives staffing, and an item's TAT starts then.
- The backlog is measured at the instant `kpi_table` measures it (the window's end, or `as_of`
  when that is earlier), so the ageing buckets add up to its `backlog` and `backlog_over_sla`.

Histogram and ageing buckets are counted in the database: only one row per group and bin
comes back, whatever the number of decisions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from bpo_kpi.config import Config
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.sql import TIME_KEYS, backlog_instant
from kpi.sql import tat as sql

# Log-spaced TAT bin edges, minutes: 4 per decade from 1 minute to 10^4.5 min (~22 days), so
# every bar spans the same width on a log axis. Bins: [0, 1), [1, 1.78), ..., [31 623, inf).
DEFAULT_TAT_EDGES: tuple[float, ...] = tuple(10 ** (k / 4) for k in range(19))

# Backlog age buckets (now - enqueued_at): label and upper bound in minutes (exclusive).
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 60),
    ("1–4 h", 240),
    ("4–12 h", 720),
    ("12–24 h", 1440),
    ("1–3 d", 4320),
    ("≥ 3 d", math.inf),
)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TIME_OF_WEEK_KPIS = ("decisions", "sla_attainment", "tat_p50", "tat_p90")
DUE_SOURCES = ("queue", "config", "none")


def _grid(frame: pd.DataFrame, dims: list[str], cells: pd.DataFrame) -> pd.DataFrame:
    """Every group of `frame` (by `dims`) crossed with every row of `cells`, `frame`'s values
    merged in (missing cells stay NaN)."""
    keys = [*dims, *(c for c in cells.columns if c in frame.columns)]
    if dims:
        groups = frame[dims].drop_duplicates().sort_values(dims, na_position="last")
    else:
        groups = pd.DataFrame(index=[0])
    return groups.merge(cells, how="cross").merge(frame, on=keys, how="left")


def _share(out: pd.DataFrame, dims: list[str], col: str) -> pd.Series:
    """`col` as a share of its group's total (empty where the total is 0)."""
    if dims:
        total = out.groupby(dims, dropna=False)[col].transform("sum")
    else:
        total = pd.Series(out[col].sum(), index=out.index)
    return (out[col] / total.where(total > 0)).astype("float64")


# --- TAT distribution -------------------------------------------------------------------------


def _check_edges(edges: Sequence[float]) -> list[float]:
    values = [float(e) for e in edges]
    if not values or any(e <= 0 or not math.isfinite(e) for e in values):
        raise ValueError("TAT bin edges must be positive, finite minutes")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError("TAT bin edges must increase")
    return values


def tat_bins(edges: Sequence[float] = DEFAULT_TAT_EDGES) -> pd.DataFrame:
    """The bins of `tat_histogram`: bin number, [lower_minutes, upper_minutes) and a label."""
    values = _check_edges(edges)
    lower = [0.0, *values]
    upper = [*values, math.inf]
    return pd.DataFrame(
        {
            "bin": range(len(lower)),
            "lower_minutes": lower,
            "upper_minutes": upper,
            "label": [_bin_label(lo, hi) for lo, hi in zip(lower, upper, strict=True)],
        }
    )


def _minutes_text(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:.3g} min"
    if minutes < 2880:
        return f"{minutes / 60:.3g} h"
    return f"{minutes / 1440:.3g} d"


def _bin_label(lower: float, upper: float) -> str:
    if lower == 0:
        return f"< {_minutes_text(upper)}"
    if math.isinf(upper):
        return f"≥ {_minutes_text(lower)}"
    return f"{_minutes_text(lower)} – {_minutes_text(upper)}"


def tat_histogram(
    gw: Engine, query: KpiQuery, edges: Sequence[float] = DEFAULT_TAT_EDGES
) -> pd.DataFrame:
    """Decided decisions of the window per TAT bin, for each group of `query.by`.

    TAT is decided_at - enqueued_at in minutes (the catalog's `tat_minutes`); a decision falls
    in bin i when lower_i <= TAT < upper_i (see `tat_bins`). Columns: the dimensions, `bin`,
    `lower_minutes`, `upper_minutes`, `label`, `decisions` (every bin, zeros included) and
    `share` (of the group's decisions). The counts of a group add up to its `decisions` in
    `kpi_table` for the same query.
    """
    bins = tat_bins(edges)
    dims: list[str] = list(query.by)
    uppers = list(bins["upper_minutes"].iloc[:-1])
    frame = gw.frame(*sql.tat_histogram(query, gw.scope, gw.config.reporting_timezone, uppers))
    frame["bin"] = frame["bin"].astype("int64")
    out = _grid(frame, dims, bins)
    out["decisions"] = out["decisions"].fillna(0).astype("int64")
    out["share"] = _share(out, dims, "decisions")
    cols = [*dims, "bin", "lower_minutes", "upper_minutes", "label", "decisions", "share"]
    return out[cols].sort_values([*dims, "bin"]).reset_index(drop=True)


# --- time of week -----------------------------------------------------------------------------


def time_of_week(gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """KPIs by local weekday (1 = Monday .. 7 = Sunday) and hour (0-23) of enqueued_at.

    The KPI table itself with `time_keys=("weekday", "hour")`: the same measures, filters and
    window (decided_at), so a cell's SLA attainment is the catalog's. KPIs are `query.kpis`
    (default `TIME_OF_WEEK_KPIS`; the backlog has no such cut). Every one of the 7 x 24 cells of
    each group is present: `decisions` 0 and the other KPIs empty where nothing arrived.
    """
    kpis = query.kpis or TIME_OF_WEEK_KPIS
    table = kpi_table(gw, query.model_copy(update={"kpis": kpis}), as_of, time_keys=TIME_KEYS)
    dims = [*query.by, *(["period_start"] if query.period else [])]
    cells = pd.DataFrame(
        [(d, h) for d in range(1, 8) for h in range(24)], columns=["weekday", "hour"]
    )
    table = table.astype({"weekday": "int64", "hour": "int64"})
    out = _grid(table, dims, cells)
    for name in kpis:
        if KPIS[name].unit == "count":
            out[name] = out[name].fillna(0).astype("int64")
    keys = [*query.by, "weekday", "hour", *(["period_start"] if query.period else [])]
    return out[[*keys, *table.columns.difference(keys, sort=False)]].reset_index(drop=True)


def time_of_week_grid(table: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """One KPI of `time_of_week` (a single group) as a 7 x 24 grid: weekdays (Mon..Sun) as
    rows, hours 0..23 as columns."""
    grid = table.pivot(index="weekday", columns="hour", values=kpi)
    grid = grid.reindex(index=range(1, 8), columns=range(24))
    if pd.api.types.is_integer_dtype(table[kpi]) and grid.notna().all().all():
        grid = grid.astype(table[kpi].dtype)  # counts stay counts
    grid.index = pd.Index(WEEKDAYS, name="weekday")
    grid.columns = pd.Index([f"{h:02d}" for h in range(24)], name="hour")
    return grid


# --- SLA reference ----------------------------------------------------------------------------


def configured_priorities(config: Config) -> list[str]:
    """Every priority with a configured SLA in any scope (default, workflow, vendor override)."""
    found = set(config.targets.default.sla_minutes)
    for wf in config.targets.workflows.values():
        found |= set(wf.sla_minutes)
        for override in wf.vendors.values():
            found |= set(override.sla_minutes)
    return sorted(found)


def sla_reference(
    config: Config, pairs: Iterable[tuple[str, str]], priorities: Iterable[str]
) -> pd.DataFrame:
    """Configured SLA minutes for each (workflow, vendor) pair and priority (vendor override >
    workflow > default); pairs without an SLA for a priority are left out.

    This is the SLA that sets `due_at` when the queue stamped none; decisions whose queue
    stamped its own due time are measured against that instead.
    """
    rows = []
    for workflow, vendor in sorted(set(pairs)):
        sla = config.targets.resolve(workflow, vendor).sla_minutes
        for priority in priorities:
            if priority in sla:
                rows.append((workflow, vendor, priority, float(sla[priority])))
    return pd.DataFrame(rows, columns=["workflow", "vendor", "priority", "sla_minutes"])


def sla_lines(reference: pd.DataFrame, priority: str) -> pd.DataFrame:
    """The distinct SLA values of one priority in `reference` (from `sla_reference`): one row per
    value with `sla_minutes`, the number of (workflow, vendor) `pairs` it applies to and
    `applies_to` ("all" when it is the only value, else the workflows, naming vendors where
    only some of a workflow's vendors have it). Ordered by minutes."""
    ref = reference[reference["priority"] == priority]
    rows: list[dict[str, Any]] = []
    values = sorted(ref["sla_minutes"].unique())
    for minutes in values:
        part = ref[ref["sla_minutes"] == minutes]
        if len(values) == 1:
            applies = "all"
        else:
            names = []
            for workflow, grp in part.groupby("workflow", sort=True):
                every = set(ref.loc[ref["workflow"] == workflow, "vendor"])
                vendors = sorted(grp["vendor"])
                names.append(
                    str(workflow) if set(vendors) == every else f"{workflow} ({', '.join(vendors)})"
                )
            applies = "; ".join(names)
        rows.append({"sla_minutes": float(minutes), "pairs": len(part), "applies_to": applies})
    return pd.DataFrame(rows, columns=["sla_minutes", "pairs", "applies_to"])


def due_time_sources(gw: Engine, query: KpiQuery) -> pd.DataFrame:
    """Decided decisions of the window by where their due time comes from: `queue` (stamped by
    the queue), `config` (enqueued_at + configured SLA) or `none` (no due time: outside SLA
    attainment). Columns: the dimensions, `due_source`, `decisions`, `share` of the group."""
    dims: list[str] = list(query.by)
    frame = gw.frame(*sql.due_time_sources(query, gw.scope, gw.config.reporting_timezone))
    out = _grid(frame, dims, pd.DataFrame({"due_source": DUE_SOURCES}))
    out["decisions"] = out["decisions"].fillna(0).astype("int64")
    out["share"] = _share(out, dims, "decisions")
    return out[[*dims, "due_source", "decisions", "share"]]


# --- backlog ageing ---------------------------------------------------------------------------


def backlog_ageing(gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Pending decisions at `backlog_instant(query, ...)` by age bucket, per group of `query.by`.

    Pending at instant E: enqueued_at < E and not decided before E (the `backlog` KPI's
    definition); age = E - enqueued_at, bucketed by `AGE_BUCKETS` (lower bound inclusive);
    past SLA: due_at < E (`backlog_over_sla`). The dimension filters and scope apply, the
    window's start does not (an item enqueued earlier is still in the backlog). Columns: the
    dimensions, `bucket` (0..5), `age`, `backlog`, `backlog_over_sla`, `oldest_minutes` (age
    of the group's oldest item in the bucket); every bucket of every group with a backlog.
    Each group's sums equal `kpi_table`'s `backlog` and `backlog_over_sla` (period None).
    """
    cut = backlog_instant(query, gw.config.reporting_timezone, as_of)
    dims: list[str] = list(query.by)
    limits = [limit for _, limit in AGE_BUCKETS[:-1]]
    frame = gw.frame(*sql.backlog_ageing(query, gw.scope, cut, limits))
    frame["bucket"] = frame["bucket"].astype("int64")
    buckets = pd.DataFrame(
        {"bucket": range(len(AGE_BUCKETS)), "age": [label for label, _ in AGE_BUCKETS]}
    )
    out = _grid(frame, dims, buckets)
    for col in ("backlog", "backlog_over_sla"):
        out[col] = out[col].fillna(0).astype("int64")
    oldest = pd.to_datetime(out["oldest_enqueued_at"], utc=True)
    out["oldest_minutes"] = (pd.Timestamp(cut) - oldest).dt.total_seconds() / 60
    cols = [*dims, "bucket", "age", "backlog", "backlog_over_sla", "oldest_minutes"]
    return out[cols].sort_values([*dims, "bucket"]).reset_index(drop=True)
