"""The daily monitor's alert list, computed without pandas: what `bpo-kpi alerts` runs.

The definitions (what each kind of alert means, its severity, the order) are `kpi.monitor`'s
module docstring; `kpi.monitor.alerts` gives this list as a DataFrame (the dashboard), and
`alert_columns` as numpy columns (`kpi.columns`) for the CLI, whose run on a small database is
otherwise mostly imports: pandas and the pyarrow it loads are ~0.3 s of a process. SciPy
(the exact binomial test) is imported only when a segment could be alerted, i.e. when its
errors beyond target reach `monitor.min_impact`: a test that cannot fire is not run.

Queries per alert list: one KPI table per quality window (vendor x workflow cut by every gap
dimension at once: the segments' counts are sums of its rows, so the cuts by one dimension
and the queue totals are exact), the daily p-chart's, the day's SLA and backlog, the QA
coverage, freshness, edits after audit, pending disputes and the newest audit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from bpo_kpi.config import Config
from kpi import columns as cols
from kpi.catalog import KPIS
from kpi.columns import Columns, is_empty
from kpi.compute import kpi_columns
from kpi.data_summary import decision_days
from kpi.disputes import pending_dispute_columns
from kpi.engines import Engine
from kpi.health import freshness_columns
from kpi.query import KpiQuery
from kpi.sql import bounds
from kpi.sql import monitor as sql
from kpi.stats import exact_excess_test, p_chart_columns
from kpi.targets import target_for

DEFAULT_WINDOW_DAYS = 28  # the dashboard's default window (app_pages.common)
QA_LAG_DAYS = 3  # audits arrive up to ~72 h after the decision

SEVERITIES = ("critical", "warning", "info")
ALERT_KINDS = {
    "stale_data": "Data not fresh",
    "quality_gap": "Error rate above target",
    "critical_errors": "Critical error rate above target",
    "out_of_control": "Error rate out of control",
    "sla_breach": "SLA breach",
    "backlog_past_due": "Backlog past due",
    "qa_coverage": "QA coverage below target",
    "edited_after_audit": "Decisions edited after QA audit",
    "dispute_pending": "Disputes pending too long",
}
ALERT_COLUMNS = [
    "severity",
    "kind",
    "vendor",
    "workflow",
    "start",
    "end",
    "measure",
    "value",
    "threshold",
    "n",
    "message",
    "segment",
    "key",
]
# Kinds whose alert is about one day: the same condition on another day is another alert.
DAY_KINDS = ("out_of_control", "sla_breach", "backlog_past_due", "dispute_pending")
FINDING_COLUMNS = ["vendor", "workflow", "dimension", "value", "segment", "decisions", "audits",
                   "errors", "error_rate", "low", "target_error_rate", "p_value",
                   "excess_errors"]  # fmt: skip
# The error counts of the KPIs quality alerts test (`kpi.catalog`): errors, critical errors.
FINDING_KPIS = ("quality_score", "critical_error_rate")


# --- window ----------------------------------------------------------------------------------


def monitored_day(base: KpiQuery, day: dt.date | None = None) -> dt.date:
    """The day being monitored: `day`, else the query's last day."""
    day = day or base.end
    if day is None:
        raise ValueError("the monitored day is needed: give `day` or a query with an end date")
    return day


def days_before(day: dt.date, days: int) -> dt.date:
    """`day` minus `days` days, or the calendar's first day when that is earlier: a window
    asked for in year 1 (`--day 0001-01-01`) starts there instead of failing."""
    try:
        return day - dt.timedelta(days=days)
    except OverflowError:
        return dt.date.min


def window_start(base: KpiQuery, day: dt.date) -> dt.date:
    """First day of the window ending on `day`: the query's start (not after `day`), else
    `DEFAULT_WINDOW_DAYS` days up to `day`."""
    if base.start is not None:
        return min(base.start, day)
    return days_before(day, DEFAULT_WINDOW_DAYS - 1)


def audits_complete_through(
    gw: Engine, as_of: dt.datetime | None = None, qa_lag_days: int = QA_LAG_DAYS
) -> dt.date:
    """The last local day whose QA audits can be taken as complete: `qa_lag_days` days have
    passed between its end and the newest audit (or `as_of`, default now, if that is earlier).
    Without any audit, `as_of` is the reference."""
    reference = as_of or dt.datetime.now(dt.UTC)
    newest = gw.columns(*sql.newest_audit())["newest"][0]  # UTC datetime64, NaT without any
    if not np.isnat(newest):
        reference = min(reference, cols.utc_instant(newest))
    # Absolute time first (a day earlier across a clock change is 23 or 25 hours), then local.
    try:
        local = (reference - dt.timedelta(days=qa_lag_days)).astimezone(
            ZoneInfo(gw.config.reporting_timezone)
        )
    except OverflowError:  # an `as_of` in the calendar's first days: no day is complete
        return dt.date.min
    return days_before(local.date(), 1)


def last_complete_day(gw: Engine, as_of: dt.datetime | None = None) -> dt.date | None:
    """The monitor's default day: the newest day with data the viewer may see, but never today
    (a day still under way in the reporting time zone is partial, not comparable with full
    days); None without data."""
    return _last_complete(gw, decision_days(gw, as_of)[1], as_of)


def _last_complete(
    gw: Engine, last_day: dt.date | None, as_of: dt.datetime | None
) -> dt.date | None:
    if last_day is None:
        return None
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(gw.config.reporting_timezone))
    return min(last_day, now.date() - dt.timedelta(days=1))


def alert_window(
    gw: Engine, day: dt.date | None = None, start: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The alert list's window `(start, day)`, defaulted as the dashboard's: `day` (the
    monitored day, the window's last) is the last complete day (`last_complete_day`), `start`
    `DEFAULT_WINDOW_DAYS` days up to `day` but not before the first day with data."""
    if day is None or start is None:
        first_day, last_day = decision_days(gw)
        last = _last_complete(gw, last_day, None)
        if first_day is None or last is None:
            raise ValueError("no decisions in the database (or none your role may see)")
        day = day or last
        default_start = days_before(day, DEFAULT_WINDOW_DAYS - 1)
        start = start or min(max(first_day, default_start), day)
    if start > day:
        raise ValueError(f"--from {start} is after --day {day}")
    return start, day


# --- wording ---------------------------------------------------------------------------------


def fmt_day(day: dt.date) -> str:
    return f"{day:%a %d %b}"


def describe_period(start: Any, end: Any) -> str:
    """ "Sun 22 Nov", "12 Oct – 19 Nov", or "now" for an alert without a period."""
    if is_empty(start):
        return "now"
    if is_empty(end) or start == end:
        return fmt_day(start)
    return f"{start:%d %b} – {end:%d %b}"


def format_measure(measure: str, value: Any) -> str:
    """An alert's value or threshold for people: shares in %, counts, hours."""
    if is_empty(value):
        return "–"
    if measure == "hours_since_data":
        return f"{value:,.0f} h"
    if measure in ("backlog_over_sla", "disputes_pending_past_age"):
        return f"{int(value):,}"
    if measure == "dispute_age_days":
        return f"{value:,.0f} d"
    return f"{value:.1%}"


def readable_alert_columns(frame: Mapping[str, Any]) -> Columns:
    """The alert list as people read it (dashboard and `bpo-kpi alerts`): severity, alert (the
    kind's label), vendor, workflow, when, value and limit formatted, details (the message).
    `frame`: the alert list's columns, or its DataFrame."""
    return {
        "severity": cols.object_array(list(frame["severity"])),
        "alert": cols.object_array([ALERT_KINDS.get(k) for k in frame["kind"]]),
        "vendor": cols.object_array(["–" if is_empty(v) else str(v) for v in frame["vendor"]]),
        "workflow": cols.object_array(["–" if is_empty(w) else str(w) for w in frame["workflow"]]),
        "when": cols.object_array(
            [describe_period(s, e) for s, e in zip(frame["start"], frame["end"], strict=True)]
        ),
        "value": cols.object_array(
            [format_measure(m, v) for m, v in zip(frame["measure"], frame["value"], strict=True)]
        ),
        "limit": cols.object_array(
            [
                format_measure(m, v)
                for m, v in zip(frame["measure"], frame["threshold"], strict=True)
            ]
        ),
        "details": cols.object_array(list(frame["message"])),
    }


def alert_counts(frame: Mapping[str, Any]) -> dict[str, int]:
    """Alerts per severity, every severity present (0 when none)."""
    counts = Counter(frame["severity"])
    return {s: int(counts.get(s, 0)) for s in SEVERITIES}


# --- the list --------------------------------------------------------------------------------


def _alert(
    severity: str,
    kind: str,
    vendor: Any,
    workflow: Any,
    start: dt.date | None,
    end: dt.date | None,
    measure: str,
    value: float,
    threshold: float,
    n: int | None,
    message: str,
    impact: float,
    segment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One alert row; `segment` (default: its vendor and workflow) names what it is about."""
    if segment is None:
        segment = {d: v for d, v in (("vendor", vendor), ("workflow", workflow)) if v is not None}
    label = ", ".join(f"{d}={v}" for d, v in segment.items())
    key = f"{kind}|{label}" + (f"|{start.isoformat()}" if kind in DAY_KINDS and start else "")
    return {
        "severity": severity,
        "kind": kind,
        "vendor": vendor,
        "workflow": workflow,
        "start": start,
        "end": end,
        "measure": measure,
        "value": float(value),
        "threshold": float(threshold),
        "n": n,
        "message": message,
        "segment": label,
        "key": key,
        "_impact": float(impact),
    }


def alert_rows(
    gw: Engine,
    base: KpiQuery,
    day: dt.date | None = None,
    as_of: dt.datetime | None = None,
    qa_lag_days: int = QA_LAG_DAYS,
) -> list[dict[str, Any]]:
    """The alert list (`kpi.monitor.alerts`) as one dict per alert (keys `ALERT_COLUMNS`),
    most severe first: by severity, critical-harm workflows first, kind, impact (largest
    first), vendor and workflow (empty first)."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    day = monitored_day(base, day)
    start = window_start(base, day)
    findings = _FindingCounts(gw, base, day, as_of)
    rows = [
        *_stale_alerts(gw, base, as_of),
        *_quality_alerts(gw, findings),
        *_critical_error_alerts(gw, findings),
        *_out_of_control_alerts(gw, base, start, day),
        *_sla_and_backlog_alerts(gw, base, day, as_of),
        *_qa_coverage_alerts(gw, base, start, day, as_of, qa_lag_days),
        *_edited_after_audit_alerts(gw, base, start, day),
        *_dispute_alerts(gw, base, day, as_of),
    ]
    harms = set(gw.config.monitor.critical_workflows)
    kinds = list(ALERT_KINDS)

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        vendor, workflow = row["vendor"], row["workflow"]
        return (
            SEVERITIES.index(row["severity"]),
            0 if workflow in harms else 1,
            kinds.index(row["kind"]),
            -row["_impact"],
            vendor is not None,
            "" if vendor is None else vendor,
            workflow is not None,
            "" if workflow is None else workflow,
        )

    rows.sort(key=order)  # stable, as the DataFrame's sort was
    return [{c: row[c] for c in ALERT_COLUMNS} for row in rows]


def alert_columns(
    gw: Engine,
    base: KpiQuery,
    day: dt.date | None = None,
    as_of: dt.datetime | None = None,
    qa_lag_days: int = QA_LAG_DAYS,
) -> Columns:
    """`alert_rows` as numpy columns: `value` and `threshold` float64, `n` whole numbers
    (Python ints, None where an alert has no count), the rest object columns."""
    return rows_to_columns(alert_rows(gw, base, day, as_of, qa_lag_days))


def rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> Columns:
    """Alert rows (`alert_rows`) as numpy columns (see `alert_columns`)."""
    out: Columns = {}
    for name in ALERT_COLUMNS:
        values = [row[name] for row in rows]
        if name in ("value", "threshold"):
            out[name] = np.asarray(values, dtype="float64")
        else:
            out[name] = cols.object_array(values)
    return out


# --- quality and critical error findings -----------------------------------------------------


def quality_windows(config: Config) -> tuple[int, ...]:
    """The rolling windows quality alerts test (days): the short one reacts to a new gap, the
    long one (if set) gives a thin segment's persistent gap enough audits."""
    short, long = config.monitor.quality_window_days, config.monitor.quality_long_window_days
    return (short, long) if long and long > short else (short,)


def target_error_rate(config: Config, kpi: str, workflow: str, vendor: str) -> float | None:
    """The error rate a segment may have: 1 - the quality target, or the critical-error
    target itself (an error rate)."""
    target = target_for(config, kpi, workflow, vendor)
    if kpi == "quality_score":
        return 1.0 - (target or 1.0)
    return target


class _FindingCounts:
    """Decisions, audits and the error counts of `kpis` per vendor x workflow x every gap
    dimension, one KPI table per quality window (read on first use, then kept): the counts of
    every segment the quality and critical-error findings test are sums of its rows."""

    def __init__(
        self,
        gw: Engine,
        base: KpiQuery,
        day: dt.date,
        as_of: dt.datetime | None,
        kpis: tuple[str, ...] = FINDING_KPIS,
        dims: tuple[str, ...] | None = None,
    ) -> None:
        self.gw, self.base, self.day, self.as_of, self.kpis = gw, base, day, as_of, kpis
        self.dims = tuple(gw.config.monitor.gap_dimensions if dims is None else dims)
        self._tables: dict[int, Columns] = {}

    def table(self, days: int) -> Columns:
        if days not in self._tables:
            start = days_before(self.day, days - 1)
            base = self.base
            window = base.model_copy(
                update={
                    "start": base.start if base.start and base.start > start else start,
                    "end": self.day,
                    "period": None,
                    "by": ("vendor", "workflow", *self.dims),
                    "kpis": ("decisions", "audits", *self.kpis),
                }
            )
            self._tables[days] = kpi_columns(self.gw, window, as_of=self.as_of, counts=True)
        return self._tables[days]

    def segments(self, days: int, kpi: str, dims: tuple[str, ...]) -> Columns:
        """Decisions, audits and errors (the numerator of `kpi`) of every vendor x workflow,
        and of each cut by one of `dims`, over the `days` up to the day; segments with at least
        `monitor.min_audits` audits. Columns vendor, workflow, dimension ("" for the whole
        queue), value, decisions, audits, errors."""
        errors = KPIS[kpi].numerator
        assert errors is not None
        table = self.table(days)
        counts = [table["decisions"].tolist(), table["audits"].tolist(), table[errors].tolist()]
        vendors, workflows = table["vendor"].tolist(), table["workflow"].tolist()
        min_audits = self.gw.config.monitor.min_audits
        rows: list[tuple[str, str, str, str, int, int, int]] = []
        for dim in (None, *dims):
            values = [""] * len(vendors) if dim is None else table[dim].tolist()
            sums: dict[tuple[str, str, str], list[int]] = {}
            for i, (v, w, x) in enumerate(zip(vendors, workflows, values, strict=True)):
                if v is None or w is None or x is None:
                    continue
                total = sums.setdefault((v, w, str(x)), [0, 0, 0])
                for j in range(3):
                    total[j] += int(counts[j][i])
            for (v, w, x), (n, audits, errs) in sorted(sums.items()):
                if audits >= min_audits:
                    rows.append((v, w, dim or "", x, n, audits, errs))
        names = ("vendor", "workflow", "dimension", "value", "decisions", "audits", "errors")
        out = {name: cols.object_array([r[j] for r in rows]) for j, name in enumerate(names)}
        for name in ("decisions", "audits", "errors"):
            out[name] = np.asarray([int(v) for v in out[name]], dtype="int64")
        return out


def classify_finding_columns(counts: Mapping[str, Any], alpha: float, min_impact: float) -> Columns:
    """`kpi.monitor.classify_findings` on numpy columns: the exact one-sided test at `alpha`
    (run only where the excess errors reach `min_impact`, the only segments it could make a
    finding) and the impact floor; findings by excess errors (largest first), then segment."""
    errors = np.asarray(counts["errors"], dtype="float64")
    audits = np.asarray(counts["audits"], dtype="float64")
    decisions = np.asarray(counts["decisions"], dtype="float64")
    target = np.asarray(
        [math.nan if is_empty(t) else float(t) for t in counts["target_error_rate"]],
        dtype="float64",
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = errors / audits
        excess = decisions * (error_rate - target)
        tested = excess >= min_impact  # NaN (no target) compares False
    p_value = np.full(len(errors), np.nan)
    low = np.full(len(errors), np.nan)
    if tested.any():
        p_value[tested], low[tested] = exact_excess_test(
            errors[tested], audits[tested], target[tested], alpha
        )
    fired = tested & (p_value < alpha)
    segment = [
        f"vendor={v}, workflow={w}" + (f", {d}={x}" if d else "")
        for v, w, d, x in zip(counts["vendor"], counts["workflow"], counts["dimension"],
                              counts["value"], strict=True)
    ]  # fmt: skip
    found: Columns = {
        "vendor": cols.object_array(list(counts["vendor"])),
        "workflow": cols.object_array(list(counts["workflow"])),
        "dimension": cols.object_array(list(counts["dimension"])),
        "value": cols.object_array(list(counts["value"])),
        "segment": cols.object_array(segment),
        "decisions": np.asarray(counts["decisions"], dtype="int64"),
        "audits": np.asarray(counts["audits"], dtype="int64"),
        "errors": np.asarray(counts["errors"], dtype="int64"),
        "error_rate": error_rate,
        "low": low,
        "target_error_rate": target,
        "p_value": p_value,
        "excess_errors": excess,
    }
    at = np.flatnonzero(fired)
    order = sorted(at.tolist(), key=lambda i: (-excess[i], segment[i]))
    return cols.take(found, np.asarray(order, dtype=np.int64))


def windowed_finding_columns(
    gw: Engine,
    base: KpiQuery,
    day: dt.date,
    as_of: dt.datetime | None,
    kpi: str,
    gap_dimensions: tuple[str, ...] | None,
    counts: _FindingCounts | None = None,
) -> Columns:
    """`classify_finding_columns` on the error counts of `kpi` (the quality score's errors, or
    the critical error rate's) over each of `quality_windows`, each at its share of the
    false-alarm rate, against the target error rate of each segment's workflow and vendor; a
    segment found in both windows keeps the stronger evidence (smaller p, then the shorter
    window); largest excess first, then segment. Columns `FINDING_COLUMNS` and
    `window_days`."""
    settings = gw.config.monitor
    dims = tuple(settings.gap_dimensions if gap_dimensions is None else gap_dimensions)
    counts = counts or _FindingCounts(gw, base, day, as_of, (kpi,), dims)
    windows = quality_windows(gw.config)
    alpha = settings.false_alarm_rate / len(windows)  # union bound over the windows
    found: list[Columns] = []
    for days in windows:
        segments = counts.segments(days, kpi, dims)
        segments["target_error_rate"] = cols.object_array(
            [
                target_error_rate(gw.config, kpi, w, v)
                for v, w in zip(segments["vendor"], segments["workflow"], strict=True)
            ]
        )
        part = classify_finding_columns(segments, alpha, settings.min_impact)
        part["window_days"] = np.full(cols.length(part), days, dtype="int64")
        found.append(part)
    out = cols.concat(found)
    best: dict[str, int] = {}
    for i, (segment, p, days) in enumerate(
        zip(out["segment"], out["p_value"], out["window_days"], strict=True)
    ):
        j = best.get(segment)
        if j is None or (p, days) < (out["p_value"][j], out["window_days"][j]):
            best[segment] = i
    keep = sorted(best.values(), key=lambda i: (-out["excess_errors"][i], out["segment"][i]))
    return cols.take(out, np.asarray(keep, dtype=np.int64))


def _finding_records(findings: Columns) -> list[dict[str, Any]]:
    n = cols.length(findings)
    return [{name: values[i] for name, values in findings.items()} for i in range(n)]


def _quality_alerts(gw: Engine, counts: _FindingCounts) -> list[dict[str, Any]]:
    """One alert per vendor x workflow with findings (`kpi.monitor.quality_findings`): about
    its narrowest segment when that one carries most (>= 80 %) of the excess errors of the
    whole queue, else about the queue, naming its worst segments. Critical when the test is
    strong (p below a tenth of the false-alarm rate) and at least 10 x `min_impact` decisions
    are affected."""
    settings, day = gw.config.monitor, counts.day
    findings = _finding_records(
        windowed_finding_columns(gw, counts.base, day, counts.as_of, "quality_score", None, counts)
    )
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in findings:
        groups.setdefault((rec["vendor"], rec["workflow"]), []).append(rec)
    rows = []
    for (vendor, workflow), group in sorted(groups.items()):
        whole = [r for r in group if r["dimension"] == ""]
        parts = [r for r in group if r["dimension"] != ""]
        parent = whole[0] if whole else None
        top = parts[0] if parts else None
        explains = top is not None and (
            parent is None or top["excess_errors"] >= 0.8 * parent["excess_errors"]
        )
        lead = top if explains else parent
        assert lead is not None
        segment = {"vendor": vendor, "workflow": workflow}
        if explains and top is not None:
            segment[str(top["dimension"])] = top["value"]
        start = days_before(day, int(lead["window_days"]) - 1)
        strong = float(lead["p_value"]) < settings.false_alarm_rate / 10
        big = float(lead["excess_errors"]) >= 10 * settings.min_impact
        severity = "critical" if strong and big else "warning"
        others = [r for r in parts if lead is parent or r["segment"] != lead["segment"]]
        also = ""
        if others:
            named = "; ".join(
                f"{r['dimension']} {r['value']}: {r['error_rate']:.1%} over {r['audits']} audits"
                for r in others[:3]
            )
            also = f" Also above target within it: {named}."
        where = ", ".join(f"{d}={v}" for d, v in segment.items() if d not in ("vendor", "workflow"))
        rows.append(
            _alert(
                severity, "quality_gap", vendor, workflow, start, day, "error_rate",
                float(lead["error_rate"]), float(lead["target_error_rate"]), int(lead["audits"]),
                f"{vendor} / {workflow}{' / ' + where if where else ''}: error rate "
                f"{lead['error_rate']:.1%} ({int(lead['errors'])} errors in {int(lead['audits'])} "
                f"audits, {start:%d %b} – {day:%d %b}) against a {lead['target_error_rate']:.1%} "
                f"target; above it with confidence (exact test, p = {lead['p_value']:.2g}; lower "
                f"bound {lead['low']:.1%}), about {lead['excess_errors']:,.0f} decisions wrong "
                f"beyond target.{also} Drill into the segment on Quality & gaps.",
                float(lead["excess_errors"]), segment,
            )
        )  # fmt: skip
    return rows


def _critical_error_alerts(gw: Engine, counts: _FindingCounts) -> list[dict[str, Any]]:
    """One alert per vendor x workflow in `kpi.monitor.critical_error_findings`; critical when
    the test is strong (p below a tenth of the false-alarm rate) and at least 10 x
    `min_impact` decisions have a critical error beyond target, else warning."""
    settings, day = gw.config.monitor, counts.day
    findings = windowed_finding_columns(
        gw, counts.base, day, counts.as_of, "critical_error_rate", (), counts
    )
    rows = []
    for rec in _finding_records(findings):
        start = days_before(day, int(rec["window_days"]) - 1)
        strong = float(rec["p_value"]) < settings.false_alarm_rate / 10
        big = float(rec["excess_errors"]) >= 10 * settings.min_impact
        vendor, workflow = rec["vendor"], rec["workflow"]
        rows.append(
            _alert(
                "critical" if strong and big else "warning", "critical_errors", vendor,
                workflow, start, day, "critical_error_rate", float(rec["error_rate"]),
                float(rec["target_error_rate"]), int(rec["audits"]),
                f"{vendor} / {workflow}: critical error rate {rec['error_rate']:.1%} "
                f"({int(rec['errors'])} critical errors in {int(rec['audits'])} audits, "
                f"{start:%d %b} – {day:%d %b}) against a {rec['target_error_rate']:.1%} target; "
                f"above it with confidence (exact test, p = {rec['p_value']:.2g}; lower bound "
                f"{rec['low']:.1%}), about {rec['excess_errors']:,.0f} decisions with a "
                "critical error beyond target. Drill into the segment on Quality & gaps.",
                float(rec["excess_errors"]),
            )
        )  # fmt: skip
    return rows


# --- the other kinds -------------------------------------------------------------------------


def _stale_alerts(gw: Engine, base: KpiQuery, as_of: dt.datetime) -> list[dict[str, Any]]:
    """One alert for every vendor whose newest decision or enqueue is older than the
    freshness limit at `as_of` (they share a cause: the feeds, or the ingest, stopped)."""
    limit = gw.config.freshness_hours
    tz = ZoneInfo(gw.config.reporting_timezone)
    fresh = freshness_columns(gw, as_of)
    vendors = base.where.get("vendor")
    stale = []
    for vendor, ok, hours, newest in zip(
        fresh["vendor"].tolist(), fresh["fresh"].tolist(), fresh["hours_since_data"].tolist(),
        fresh["newest"].tolist(), strict=True,
    ):  # fmt: skip
        if ok or (vendors and vendor not in vendors):
            continue
        at = None if newest is None else newest.replace(tzinfo=dt.UTC)
        stale.append((float(hours), str(vendor), at))
    if not stale:
        return []
    stale.sort(key=lambda s: (-s[0], s[1]))
    hours = stale[0][0]
    listed = "; ".join(
        f"{v} {h:,.0f} h" + (f" (newest item {t.astimezone(tz):%d %b %H:%M %Z})" if t else "")
        for h, v, t in stale
    )
    one = stale[0][1] if len(stale) == 1 else None
    who = f"from {one}" if one else f"from {len(stale)} vendors"
    return [
        _alert(
            "critical", "stale_data", one, None, None, None, "hours_since_data", hours, limit,
            None,
            f"No new data {who} for longer than the {limit:g} h freshness limit: {listed}. The "
            "latest days may be incomplete. Check the vendors' feeds and the ingest runs (Data "
            "health).",
            hours, {"vendor": one} if one else {"vendors": ", ".join(v for _, v, _ in stale)},
        )
    ]  # fmt: skip


def _records(table: Columns) -> list[dict[str, Any]]:
    """Rows of a KPI table as dicts of Python values (None where empty)."""
    lists = {name: cols.key_values(values) for name, values in table.items()}
    return [dict(zip(lists, row, strict=True)) for row in zip(*lists.values(), strict=True)]


def _by_vendor(rows: Iterable[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Rows grouped by vendor, vendors in order (rows without one left out), rows in order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["vendor"] is not None:
            groups.setdefault(row["vendor"], []).append(row)
    return sorted(groups.items(), key=lambda item: item[0])


def _out_of_control_alerts(
    gw: Engine, base: KpiQuery, start: dt.date, day: dt.date
) -> list[dict[str, Any]]:
    query = base.model_copy(
        update={
            "by": ("vendor",),
            "period": "day",
            "start": start,
            "end": day,
            "kpis": ("quality_score",),
        }
    )
    table = _records(kpi_columns(gw, query, counts=True))
    rows = []
    for vendor, group in _by_vendor(table):
        errors = [int(r["errors"]) for r in group]
        chart = p_chart_columns(errors, [int(r["audits"]) for r in group])
        centre = float(chart["center"][0]) if len(group) else math.nan
        for i, rec in enumerate(group):
            audits = int(chart["n"][i])
            if not chart["out_of_control"][i] or audits < gw.config.monitor.min_audits:
                continue  # a day's point resting on few audits is not a signal
            d, p = rec["period_start"], float(chart["p"][i])
            period = f"{start:%d %b} – {day:%d %b}"
            if chart["direction"][i] == "above":
                ucl = float(chart["ucl"][i])
                rows.append(
                    _alert(
                        "critical", "out_of_control", vendor, None, d, d, "error_rate", p,
                        ucl, audits,
                        f"{vendor}'s error rate on {fmt_day(d)} was {p:.1%} ({errors[i]} "
                        f"errors in {audits} audits), above the upper control limit "
                        f"{ucl:.1%} (daily p-chart, centre line {centre:.1%} over "
                        f"{period}): more errors than day-to-day variation explains. Look for "
                        "a special cause: new reviewers, a policy change, a queue mix shift.",
                        d.toordinal(),
                    )
                )  # fmt: skip
            else:
                lcl = float(chart["lcl"][i])
                rows.append(
                    _alert(
                        "info", "out_of_control", vendor, None, d, d, "error_rate", p,
                        lcl, audits,
                        f"{vendor}'s error rate on {fmt_day(d)} was {p:.1%} ({errors[i]} "
                        f"errors in {audits} audits), below the lower control limit "
                        f"{lcl:.1%} (centre line {centre:.1%} over {period}): unusually "
                        "few errors. Check that QA sampled and graded as usual.",
                        d.toordinal(),
                    )
                )  # fmt: skip
    return rows


def _day_is_over(gw: Engine, query: KpiQuery, day: dt.date, as_of: dt.datetime) -> str:
    """How a state at the end of `day` is worded: "at the end of Fri 04 Dec", or "now" for a
    day that has not ended at `as_of`."""
    day_ended = bounds(query, gw.config.reporting_timezone, as_of).end  # None: no such instant
    return f"at the end of {fmt_day(day)}" if day_ended and as_of >= day_ended else "now"


def _sla_and_backlog_alerts(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime
) -> list[dict[str, Any]]:
    """SLA breaches per vendor x workflow on the day, and the backlog past due at the day's end
    grouped per vendor. An SLA breach needs `min_decisions` decisions with a due time, a late
    share above the target's with confidence (exact test at `false_alarm_rate`) and at least
    `min_impact` decisions late beyond what the target allows; it is critical when the test is
    strong (p below a tenth of that) and 10 x `min_impact` decisions are affected. Backlog past
    due is a count, not an estimate: a vendor is alerted from `min_impact` items past due, and
    critically from 10 x that when they are a fifth of its pending items or more."""
    settings = gw.config.monitor
    query = base.model_copy(
        update={
            "by": ("vendor", "workflow"),
            "period": None,
            "start": day,
            "end": day,
            "kpis": ("sla_attainment", "backlog", "backlog_over_sla"),
        }
    )
    table = _records(kpi_columns(gw, query, as_of=as_of, counts=True))
    at = _day_is_over(gw, query, day, as_of)
    rows = []
    for rec in table:
        vendor, workflow = rec["vendor"], rec["workflow"]
        attainment = math.nan if rec["sla_attainment"] is None else rec["sla_attainment"]
        known = int(rec["sla_known"])
        target = target_for(gw.config, "sla_attainment", workflow, vendor)
        if known < settings.min_decisions or target is None or not attainment < target:
            continue
        met = int(rec["sla_met"])
        late = known - met
        excess = late - (1.0 - target) * known
        if excess < settings.min_impact:
            continue  # too few decisions affected (the test is not needed to say so)
        (p_value,), _ = exact_excess_test(
            [late], [known], [1.0 - target], settings.false_alarm_rate
        )
        if not p_value < settings.false_alarm_rate:
            continue  # within noise of the target
        strong = p_value < settings.false_alarm_rate / 10 and excess >= 10 * settings.min_impact
        rows.append(
            _alert(
                "critical" if strong else "warning", "sla_breach", vendor, workflow, day, day,
                "sla_attainment", attainment, target, known,
                f"{vendor} / {workflow}: {attainment:.1%} of decisions on {fmt_day(day)} met "
                f"their SLA ({met:,} of {known:,}; {late:,} late), below the {target:.1%} target "
                f"beyond day-to-day noise (exact test, p = {p_value:.2g}): about {excess:,.0f} "
                "more late decisions than the target allows.",
                excess,
            )
        )  # fmt: skip
    backlog = [r for r in table if r["backlog_over_sla"] > 0]
    for vendor, group in _by_vendor(backlog):
        past_due = sum(int(r["backlog_over_sla"]) for r in group)
        pending = sum(int(r["backlog"]) for r in group)
        if past_due < settings.min_impact:
            continue
        big = past_due >= 10 * settings.min_impact and past_due >= 0.2 * pending
        worst = sorted(
            group,
            key=lambda r: (-r["backlog_over_sla"], r["workflow"] is None, r["workflow"] or ""),
        )
        listed = ", ".join(f"{r['workflow']} {int(r['backlog_over_sla']):,}" for r in worst)
        rows.append(
            _alert(
                "critical" if big else "warning", "backlog_past_due", vendor, None, day, day,
                "backlog_over_sla", past_due, settings.min_impact, pending,
                f"{vendor}: {past_due:,} pending "
                f"{'item is past its' if past_due == 1 else 'items are past their'} SLA due "
                f"time {at} ({pending:,} pending in all), in {listed}: content waiting for "
                "review beyond its deadline.",
                past_due, {"vendor": vendor},
            )
        )  # fmt: skip
    return rows


def _edited_after_audit_alerts(
    gw: Engine, base: KpiQuery, start: dt.date, day: dt.date
) -> list[dict[str, Any]]:
    window = bounds(
        KpiQuery(start=start, end=day), gw.config.reporting_timezone, dt.datetime.now(dt.UTC)
    )
    rows = []
    for rec in _records(gw.columns(*sql.edits_after_audit(window, base.where))):
        n = int(rec["decisions"])
        runs = ", ".join(str(r) for r in rec["runs"])
        what = (
            f"{int(rec['label_changes'])} label change(s)" if rec["label_changes"] else
            "policy changes only"
        )  # fmt: skip
        rows.append(
            _alert(
                "warning", "edited_after_audit", rec["vendor"], rec["workflow"], start, day,
                "decisions_edited", n, 0, int(rec["audits"]),
                f"{rec['vendor']} / {rec['workflow']}: {n:,} decision(s) QA had already "
                f"audited were changed afterwards ({what}; ingest run(s) {runs}). Their "
                f"{int(rec['audits']):,} audit(s) stay scored against the version QA saw; ask "
                "the vendor why (Data health lists the edits).",
                n,
            )
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class _Short:
    """A workflow of a vendor below its QA coverage target."""

    workflow: str
    coverage: float
    audited: int
    decisions: int
    target: float
    missing: int


def _qa_coverage_alerts(
    gw: Engine,
    base: KpiQuery,
    start: dt.date,
    day: dt.date,
    as_of: dt.datetime,
    qa_lag_days: int,
) -> list[dict[str, Any]]:
    end = min(day, audits_complete_through(gw, as_of, qa_lag_days))
    if end < start:
        return []  # no day of the window is fully audited yet
    query = base.model_copy(
        update={
            "by": ("vendor", "workflow"),
            "period": None,
            "start": start,
            "end": end,
            "kpis": ("qa_coverage",),
        }
    )
    short: dict[str, list[_Short]] = {}
    for rec in _records(kpi_columns(gw, query, counts=True)):
        vendor, workflow = rec["vendor"], rec["workflow"]
        coverage = math.nan if rec["qa_coverage"] is None else rec["qa_coverage"]
        decisions = int(rec["decisions"])
        target = target_for(gw.config, "qa_coverage", workflow, vendor)
        if decisions == 0 or target is None or not coverage < target:
            continue
        audited = int(rec["audited_decisions"])
        # The tolerance keeps float noise (0.05 * 300 = 15.000000000000002) from adding one.
        missing = math.ceil(target * decisions - 1e-9) - audited
        short.setdefault(vendor, []).append(
            _Short(workflow, coverage, audited, decisions, target, missing)
        )
    lag = (
        f" Decisions after {end:%d %b} are left out: their audits are still arriving."
        if end < day
        else ""
    )
    rows = []
    for vendor, items in sorted(short.items()):
        missing = sum(i.missing for i in items)
        if missing < gw.config.monitor.min_impact:
            continue  # a handful of audits short: not worth an alert
        audited, decisions = sum(i.audited for i in items), sum(i.decisions for i in items)
        target = sum(i.target * i.decisions for i in items) / decisions
        items.sort(key=lambda i: (-i.missing, i.workflow))
        listed = "; ".join(
            f"{i.workflow} {i.coverage:.1%} ({i.audited:,} of {i.decisions:,}, {i.missing:,} "
            f"short of {i.target:.1%})"
            for i in items
        )
        rows.append(
            _alert(
                "warning", "qa_coverage", vendor, None, start, end, "qa_coverage",
                audited / decisions, target, decisions,
                f"{vendor}: QA audited fewer decisions than the target from {start:%d %b} to "
                f"{end:%d %b} in {len(items)} workflow{'s' if len(items) != 1 else ''}: "
                f"{listed}. {missing:,} more audited decisions needed.{lag}",
                missing, {"vendor": vendor},
            )
        )  # fmt: skip
    return rows


def _dispute_alerts(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime
) -> list[dict[str, Any]]:
    """Per vendor, disputes pending at the end of `day` (now, for a day not ended) raised more
    than `monitor.dispute_pending_days` days before (`kpi.disputes.pending_disputes`): one is
    enough (each is a vendor waiting for an answer). Critical from 10 x `min_impact` of them."""
    settings = gw.config.monitor
    query = base.model_copy(update={"start": None, "end": day})
    pending = pending_dispute_columns(gw, query, as_of)
    at = _day_is_over(gw, query, day, as_of)
    listing = {"vendor": pending["vendor"], "workflow": pending["workflow"],
               "age_days": pending["age_days"]}  # fmt: skip
    rows = []
    for vendor, group in _by_vendor(_records(listing)):
        n = len(group)
        counts = Counter(r["workflow"] for r in group if r["workflow"] is not None)
        listed = ", ".join(
            f"{w} {c:,}" for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
        )
        oldest = max(float(r["age_days"]) for r in group)
        days = settings.dispute_pending_days
        rows.append(
            _alert(
                "critical" if n >= 10 * settings.min_impact else "warning", "dispute_pending",
                vendor, None, day, day, "disputes_pending_past_age", n, 1, n,
                f"{vendor}: {n:,} {'dispute has' if n == 1 else 'disputes have'} been pending "
                f"more than {days:g} days {at} (oldest {oldest:,.0f} days), in {listed}: the "
                "vendor is waiting for QA's answer, and the quality score counts these errors "
                "until they are resolved.",
                n + oldest / 1000, {"vendor": vendor},
            )
        )  # fmt: skip
    return rows
