"""KPI snapshots: the numbers that leave the tool for a period, with their lineage.

A snapshot is a set of named tables computed by the same analyses as the dashboard and the CLI
(`kpi_table`, `gaps.quality_gaps`, `calibration.review`, `monitor.alerts`), for one reporting
period (`kpi.periods`), the viewer's scope and the query's filters, plus a manifest saying what
they rest on. Every export format (`export/`) writes these tables and this manifest, so a
number in a spreadsheet, a deck or a JSON file is the number on the dashboard.

Reproducible by construction: the instant the numbers are taken at (`as_of`, e.g. the backlog
of a period that has not ended, data freshness) is the data's own as-of instant, the newest
ingest run that loaded rows, never the wall clock; bootstrap intervals are seeded. The
`content_hash` is a SHA-256 over the tables' canonical JSON: the same data and configuration
give the same hash. The wall-clock `generated_at` is kept apart (`Snapshot.generated_at`) and
written only where a person reads it (XLSX, PPTX, HTML), so CSV, JSON and Parquet exports of
the same data are byte-identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from kpi import calibration, gaps, monitor, narrative
from kpi.catalog import KPIS, MEASURES, output_columns
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.periods import ReportPeriod
from kpi.query import KpiQuery
from kpi.sql import lineage
from kpi.targets import STATUS_WORDS, margin, min_shown, status, target_for

TREND_WEEKS = 8
TOP_GAPS = 10
# The tables of a snapshot, in the order every format writes them.
TABLES = (
    "summary",
    "kpis_overall",
    "kpis_by_vendor",
    "kpis_by_vendor_workflow",
    "scorecard",
    "weekly_trend",
    "tat_by_priority",
    "quality_gaps",
    "calibration",
    "calibration_sessions",
    "contested_items",
    "alerts",
    "definitions",
)
TABLE_TITLES = {
    "summary": "Executive summary",
    "kpis_overall": "KPIs overall",
    "kpis_by_vendor": "KPIs by vendor",
    "kpis_by_vendor_workflow": "KPIs by vendor and workflow",
    "scorecard": "Scorecard: KPIs against their targets",
    "weekly_trend": "Weekly trend by vendor",
    "tat_by_priority": "TAT by vendor and priority against the SLA",
    "quality_gaps": "Top quality gaps",
    "calibration": "Calibration summary (the period's sessions pooled)",
    "calibration_sessions": "Calibration by session",
    "contested_items": "Contested calibration items",
    "alerts": "Alerts on the period's last day",
    "definitions": "KPI definitions",
}
# Columns that identify a row of each table (restatement matching).
KEYS = {
    "summary": ("topic", "rank"),
    "kpis_overall": (),
    "kpis_by_vendor": ("vendor",),
    "kpis_by_vendor_workflow": ("vendor", "workflow"),
    "scorecard": ("vendor", "workflow", "kpi"),
    "weekly_trend": ("vendor", "period_start"),
    "tat_by_priority": ("vendor", "priority"),
    "quality_gaps": ("segment",),
    "calibration": ("session_id", "vendor"),
    "calibration_sessions": ("session_id", "vendor"),
    "contested_items": ("session_id", "item_id"),
    "alerts": ("kind", "vendor", "workflow", "start", "measure"),
    "definitions": ("kpi",),
}


@dataclass
class Snapshot:
    """The tables of one period and what they rest on."""

    period: ReportPeriod
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Set by a comparison with an earlier snapshot (`restatements`): the numbers that changed
    # since, and which snapshot that was. Not part of the content (or its hash).
    restated: pd.DataFrame | None = None
    compared_with: dict[str, Any] | None = None

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])


def version() -> str:
    try:
        return metadata.version("bpo-kpi")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _as_of(gw: Engine, period: ReportPeriod) -> dt.datetime:
    """The instant the numbers are taken at: the data's as-of (newest loaded run), or the end
    of the period's last day if that is earlier; without runs, that day's end."""
    tz = gw.config.reporting_timezone
    end = pd.Timestamp(period.end + dt.timedelta(days=1)).tz_localize(tz).tz_convert("UTC")
    value = gw.frame(*lineage.data_as_of())["as_of"].iat[0]
    if value is None or pd.isna(value):
        return end.to_pydatetime()
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return min(stamp, end).to_pydatetime()


def definitions() -> pd.DataFrame:
    """The catalog's KPIs as people read them."""
    rows = []
    for k in KPIS.values():
        basis = MEASURES[k.denominator].name if k.denominator else None
        rows.append(
            {
                "kpi": k.name,
                "label": k.label,
                "unit": k.unit,
                "better": k.direction,
                "kind": k.kind,
                "definition": k.definition,
                "basis": basis,
                "interval": k.interval_method,
                "target_key": k.target,
            }
        )
    return pd.DataFrame(rows)


def scorecard(table: pd.DataFrame, gw: Engine) -> pd.DataFrame:
    """One row per vendor x workflow x KPI that has a target: value, interval, basis count,
    target (per-vendor overrides honoured), status and margin (positive: better than target).
    A kappa on fewer than `monitor.min_kappa_audits` audits is `too few`, not judged."""
    rows = []
    for rec in table.to_dict("records"):
        vendor, workflow = rec["vendor"], rec["workflow"]
        for name, kpi in KPIS.items():
            if kpi.target is None or name not in rec:
                continue
            value = rec[name]
            value = None if value is None or pd.isna(value) else float(value)
            tgt = target_for(gw.config, name, workflow, vendor)
            n = int(rec[kpi.denominator]) if kpi.denominator in rec else None
            few = n is not None and n < min_shown(gw.config, name)
            state = "too few" if few else status(name, value, tgt)
            rows.append(
                {
                    "vendor": vendor,
                    "workflow": workflow,
                    "kpi": name,
                    "label": kpi.label,
                    "value": value,
                    "low": rec.get(f"{name}_low"),
                    "high": rec.get(f"{name}_high"),
                    "n": n,
                    "target": tgt,
                    "status": state,
                    "status_text": STATUS_WORDS[state],
                    "margin": margin(name, value, tgt),
                }
            )
    columns = ["vendor", "workflow", "kpi", "label", "value", "low", "high", "n", "target",
               "status", "status_text", "margin"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    return out.astype({"value": float, "low": float, "high": float, "target": float})


def tat_by_priority(gw: Engine, base: KpiQuery, as_of: dt.datetime) -> pd.DataFrame:
    """Per vendor and priority: decisions, TAT p90 and SLA attainment, with the default
    configured SLA of that priority (a workflow may set its own, which its due times carry;
    SLA attainment measures each decision against its own due time)."""
    query = base.model_copy(
        update={"by": ("vendor", "priority"), "kpis": ("decisions", "tat_p90", "sla_attainment")}
    )
    out = kpi_table(gw, query, as_of)
    sla = gw.config.targets.resolve().sla_minutes
    out["sla_minutes"] = [float(sla.get(str(p), float("nan"))) for p in out["priority"]]
    return out


def build(
    gw: Engine,
    period: ReportPeriod,
    where: dict[str, tuple[str, ...]] | None = None,
    trend_weeks: int = TREND_WEEKS,
    top_gaps: int = TOP_GAPS,
) -> Snapshot:
    """The snapshot of `period` for the engine's viewer, within `where` (dimension filters)."""
    generated_at = dt.datetime.now(dt.UTC)
    base = KpiQuery.model_validate(
        {"start": period.start, "end": period.end, "where": dict(where or {})}
    )
    as_of = _as_of(gw, period)
    tables: dict[str, pd.DataFrame] = {}
    tables["kpis_overall"] = kpi_table(gw, base, as_of)
    tables["kpis_by_vendor"] = kpi_table(gw, base.model_copy(update={"by": ("vendor",)}), as_of)
    by_cell = kpi_table(gw, base.model_copy(update={"by": ("vendor", "workflow")}), as_of,
                        counts=True)  # fmt: skip
    tables["kpis_by_vendor_workflow"] = by_cell[["vendor", "workflow", *output_columns()]]
    tables["scorecard"] = scorecard(by_cell, gw)
    trend_start = period.start - dt.timedelta(days=7 * trend_weeks)
    trend_start -= dt.timedelta(days=trend_start.weekday())  # whole ISO weeks
    trend = base.model_copy(
        update={"by": ("vendor",), "period": "week", "start": trend_start, "end": period.end}
    )
    tables["weekly_trend"] = kpi_table(gw, trend, as_of, counts=True)
    tables["tat_by_priority"] = tat_by_priority(gw, base, as_of)
    found = gaps.quality_gaps(gw, base)
    tables["quality_gaps"] = found.head(top_gaps).reset_index(drop=True)
    vendors = tuple(base.where.get("vendor", ()))
    workflows = tuple(base.where.get("workflow", ()))
    chosen = calibration.session_choices(gw, period.start, period.end, workflows, vendors)
    review = calibration.review(gw, list(chosen["session_id"]), vendors)
    tables["calibration"] = review.overall.reset_index(drop=True)
    tables["calibration_sessions"] = review.by_session.reset_index(drop=True)
    contested = review.items
    if len(contested):
        contested = contested[contested["contested"]].reset_index(drop=True)
    tables["contested_items"] = contested
    tables["alerts"] = monitor.alerts(gw, base, period.end, as_of=as_of)
    tables["summary"] = narrative.summary(gw, base, period, tables)
    tables["definitions"] = definitions()
    tables = {name: tables[name] for name in TABLES}

    runs_query = base.model_copy(update={"start": trend_start})
    runs = gw.frame(*lineage.runs_behind(runs_query, gw.scope, gw.config.reporting_timezone))
    fresh = gw.frame(*lineage.newest_data())
    if "vendor" in base.where:  # a vendor's snapshot names no other vendor
        fresh = fresh[fresh["vendor"].isin(base.where["vendor"])].reset_index(drop=True)
    manifest: dict[str, Any] = {
        "period": {
            "label": period.label,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "trend_from": trend_start.isoformat(),
            "time_zone": gw.config.reporting_timezone,
        },
        "scope": {
            "role": gw.scope.role,
            "vendors": list(gw.scope.vendors),
            "workflows": list(gw.scope.workflows),
            "markets": list(gw.scope.markets),
            "reviewer_ids": "visible" if gw.scope.see_reviewers else "pseudonymised",
            "filters": {d: list(v) for d, v in sorted(base.where.items())},
        },
        "data_as_of": _iso(as_of),
        "freshness": table_records(fresh),
        "ingest_runs": table_records(runs),
        "config_hash": gw.config.content_hash(),
        "bpo_kpi_version": version(),
        "content_hash": content_hash(tables),
    }
    return Snapshot(period, tables, _plain(manifest), generated_at)


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.isoformat()


def _plain(value: Any) -> Any:
    """JSON-ready values: timestamps as ISO text, NaN as None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def cell(value: Any) -> Any:
    """One value JSON-ready: ISO dates (a midnight timestamp of a date column as its date),
    ISO instants in UTC, None for empty, plain numbers, lists for arrays."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): cell(v) for k, v in value.items()}
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return None
    return _plain(value)


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records, in column order."""
    return [{str(k): cell(v) for k, v in row.items()} for row in frame.to_dict("records")]


def content_hash(tables: dict[str, pd.DataFrame]) -> str:
    """SHA-256 of the tables' canonical JSON (table, column and row order kept). Numbers enter
    with 12 significant digits, so the same numbers computed by another engine (whose last
    binary digits of a float may differ) give the same hash."""
    payload = {
        name: {
            "columns": [str(c) for c in frame.columns],
            "rows": [[_canonical(v) for v in rec.values()] for rec in table_records(frame)],
        }
        for name, frame in tables.items()
    }
    text = json.dumps(payload, sort_keys=False, ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return format(float(value), ".12g")
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


# --- restated numbers --------------------------------------------------------------------------

RESTATEMENT_COLUMNS = ["table", "key", "column", "before", "after", "change"]
_NOT_COMPARED = ("summary", "definitions")


def restatements(
    previous: dict[str, list[dict[str, Any]]], snapshot: Snapshot, tolerance: float = 1e-9
) -> pd.DataFrame:
    """Every number of `snapshot` that differs from the same cell of a `previous` snapshot's
    tables (table name -> JSON records, as `table_records` writes them): the row is matched by
    the table's `KEYS`, the cell by column; a row or number new in either is listed with an
    empty side. Late QA audits restate last week's quality score: this is how a reader learns
    which numbers in a deck they already sent have changed."""
    rows: list[dict[str, Any]] = []
    for name, frame in snapshot.tables.items():
        if name in _NOT_COMPARED or name not in previous:
            continue
        keys = KEYS[name]
        now = {_key(rec, keys): rec for rec in table_records(frame)}
        before = {_key(rec, keys): rec for rec in previous[name]}
        for key in sorted(set(now) | set(before), key=str):
            new, old = now.get(key, {}), before.get(key, {})
            for column in dict.fromkeys([*new, *old]):
                if column in keys:
                    continue
                a, b = _number(old.get(column)), _number(new.get(column))
                if a is None and b is None:
                    continue
                if a is not None and b is not None and abs(a - b) <= tolerance * max(1.0, abs(a)):
                    continue
                rows.append(
                    {
                        "table": name,
                        "key": ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True)),
                        "column": column,
                        "before": a,
                        "after": b,
                        "change": b - a if a is not None and b is not None else None,
                        "_key": key,
                    }
                )
    out = pd.DataFrame(rows, columns=[*RESTATEMENT_COLUMNS, "_key"])
    return out.astype({"before": float, "after": float, "change": float})


def restated_cells(changes: pd.DataFrame) -> set[tuple[str, tuple[Any, ...], str]]:
    """(table, key values, column) of each restated number, for marking them."""
    return {
        (t, tuple(k), c)
        for t, k, c in zip(changes["table"], changes["_key"], changes["column"], strict=True)
    }


def _key(rec: dict[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(rec.get(k) for k in keys)


def _number(value: Any) -> float | None:
    """A cell's number (None for text, empty, booleans and NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)
