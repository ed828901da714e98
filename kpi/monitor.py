"""Daily monitor: per-vendor KPI tiles for one day against targets, the change against the day
before and the same weekday a week earlier (with significance), and the alert list.

"Today" is the day being monitored (the dashboard's "To" day, `bpo-kpi alerts --day`); the
*window* is the filters' date range ending that day (default: the 28 days up to it).

**Tiles** (`daily`, `tiles`): one `kpi_table` by vendor and day from the window's first day (or
a week before the day, if earlier) to the day gives every tile value, both comparisons and the
daily sparklines; `window_table` adds the window's value for context. A change of a share
KPI (quality score, SLA attainment, QA coverage, agreement...) is tested with a pooled
two-proportion z test on its counts (errors / audits, sla_met / sla_known, audited_decisions /
decisions); quantiles (TAT p90), backlog counts and kappa get no test. A
tile's target is resolved for the row's vendor and, when the filters pin one workflow, that
workflow (`kpi.targets.target_for`); a vendor's tile across several workflows is held to the
default target (per-workflow targets apply in the alert list, which is per vendor x workflow).
The tests are not corrected for multiplicity: with 6 tiles x 2 comparisons per vendor, expect
about one "significant" change in 20 tests by chance alone.

**Alerts** (`alerts`), one row per alert, most severe first:

- `stale_data` (critical): a vendor's newest decision or enqueue is older than the
  configuration's `freshness_hours` at `as_of` (now). The vendor filter applies, the other
  filters do not: freshness is a property of the vendor's feed.
- `critical_errors`: a vendor x workflow whose critical error rate (critical errors / audits)
  over a rolling window is above its target (`targets.*.critical_error_rate`, per workflow and
  vendor) with confidence: the quality alerts' rule (windows, exact one-sided test at the
  false-alarm rate, `monitor.min_audits`, `monitor.min_impact` decisions with a critical error
  beyond target; critical when the test is strong and the impact 10x), on critical errors.
- `out_of_control`: a day of the window whose error rate (errors / audits, per vendor) lies
  outside its p-chart limits p̄ ± 3·sqrt(p̄(1-p̄)/n_day), p̄ over the window
  (`kpi.stats.p_chart`). Critical above the upper limit (more errors than day-to-day variation
  explains), info below the lower one (unusually few: worth checking QA sampled as usual).
- `sla_breach`: a vendor x workflow whose SLA attainment on the day is below its target
  (per workflow and vendor). Critical when the Wilson 95% upper bound is below the target too
  (a miss beyond day-to-day noise), else warning.
- `backlog_past_due` (warning): a vendor x workflow with pending items past their due time at
  the end of the day (now, for a day that has not ended).
- `edited_after_audit` (warning): a vendor x workflow that changed the label or policy of
  decisions QA had already audited, in files loaded during the window (by the ingest's time).
  The audits stay scored against the version QA saw (see ingest.load), so the quality score
  is not affected; the edits themselves are a red flag for the score's integrity.
- `qa_coverage` (warning): a vendor x workflow whose QA coverage (audited decisions / decided
  decisions) over the window is below its target. Only days whose audits are complete count
  (`audits_complete_through`): judged on days whose audits are still arriving, every vendor
  would look under-audited every morning. Coverage is a count, not an estimate, so there is
  no significance test: the message says how many more audited decisions meet the target.
- `dispute_pending` (warning; critical from 10 x `min_impact`): a vendor with disputes pending
  at the end of the day (now, for a day that has not ended) raised more than
  `monitor.dispute_pending_days` days before (`kpi.disputes.pending_disputes`); one is enough.

**Audit lag.** QA audits arrive up to `qa_lag_days` (default 3) days after the decision. A day
counts as fully audited once that many days have passed between its end and the newest audit
(or `as_of`, if earlier: a QA feed that stopped does not make days complete). Tiles of
audit-based KPIs (quality score, QA coverage, kappa) on a later day are *provisional*: shown,
but their changes are not tested (coverage there is biased low, not just noisy).

Within a severity, alerts are ordered by kind (in the order above) and then by impact: most recent
day (out of control), late decisions beyond what the target allows (SLA), items past due
(backlog), audits missing (coverage), hours since data (freshness).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bpo_kpi.config import Config
from kpi.catalog import KPIS, MEASURES
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.engines import Engine
from kpi.health import freshness
from kpi.query import KpiQuery
from kpi.sql import bounds
from kpi.sql import monitor as sql
from kpi.stats import exact_excess_test, p_chart, two_proportion_test
from kpi.targets import format_value, min_shown, status, target_for

DEFAULT_WINDOW_DAYS = 28  # the dashboard's default window (app_pages.common)
QA_LAG_DAYS = 3  # audits arrive up to ~72 h after the decision
TILE_KPIS = (
    "quality_score",
    "critical_error_rate",
    "sla_attainment",
    "tat_p90",
    "qa_coverage",
    "backlog_over_sla",
    "cohen_kappa",
)
DAILY_KPIS = ("decisions", "audits", "backlog", *TILE_KPIS)
COMPARISONS = {"yesterday": 1, "last_week": 7}  # name -> days before the monitored day
COMPARISON_TEXT = {"yesterday": "yesterday", "last_week": "a week ago"}

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
# How a tile's value is backed: the count shown next to it.
_BASIS = {"tat_p90": "decisions", "backlog_over_sla": "backlog"}
_BASIS_UNIT = {  # (one, many)
    "audits": ("audit", "audits"),
    "sla_known": ("decision with a due time", "decisions with a due time"),
    "decisions": ("decision", "decisions"),
    "backlog": ("item pending at the day's end", "items pending at the day's end"),
}


# --- window ----------------------------------------------------------------------------------


def monitored_day(base: KpiQuery, day: dt.date | None = None) -> dt.date:
    """The day being monitored: `day`, else the query's last day."""
    day = day or base.end
    if day is None:
        raise ValueError("the monitored day is needed: give `day` or a query with an end date")
    return day


def window_start(base: KpiQuery, day: dt.date) -> dt.date:
    """First day of the window ending on `day`: the query's start (not after `day`), else
    `DEFAULT_WINDOW_DAYS` days up to `day`."""
    if base.start is not None:
        return min(base.start, day)
    return day - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)


def audits_complete_through(
    gw: Engine, as_of: dt.datetime | None = None, qa_lag_days: int = QA_LAG_DAYS
) -> dt.date:
    """The last local day whose QA audits can be taken as complete: `qa_lag_days` days have
    passed between its end and the newest audit (or `as_of`, default now, if that is earlier).
    Without any audit, `as_of` is the reference."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    newest = gw.frame(*sql.newest_audit())["newest"].iat[0]
    reference = pd.Timestamp(as_of)
    if newest is not None and not pd.isna(newest):
        reference = min(reference, pd.Timestamp(newest))
    local = reference.tz_convert(gw.config.reporting_timezone) - pd.Timedelta(days=qa_lag_days)
    return local.date() - dt.timedelta(days=1)


def audit_based(kpi: str) -> bool:
    """Whether a KPI rests on QA audits (and so lags behind decisions)."""
    k = KPIS[kpi]
    measures = [m for m in (k.measure, k.numerator, k.denominator) if m]
    return any(MEASURES[m].source == "audits" for m in measures)


# --- tiles -----------------------------------------------------------------------------------


def daily(
    gw: Engine,
    base: KpiQuery,
    day: dt.date | None = None,
    by: tuple[str, ...] = ("vendor",),
    as_of: dt.datetime | None = None,
) -> pd.DataFrame:
    """The tile KPIs (`DAILY_KPIS`) by `by` and day, with their counts, from the window's first
    day (or 7 days before `day`, whichever is earlier) to `day`: one `kpi_table` query.

    Backlog columns are the state at each day's end (now, for a day that has not ended).
    """
    day = monitored_day(base, day)
    start = min(window_start(base, day), day - dt.timedelta(days=max(COMPARISONS.values())))
    query = base.model_copy(
        update={"by": tuple(by), "period": "day", "start": start, "end": day, "kpis": DAILY_KPIS}
    )
    return kpi_table(gw, query, as_of=as_of, counts=True)


def window_table(
    gw: Engine,
    base: KpiQuery,
    by: tuple[str, ...] = ("vendor",),
    period: str | None = None,
    as_of: dt.datetime | None = None,
) -> pd.DataFrame:
    """The tile KPIs (`DAILY_KPIS`) with their counts by `by` over the query's own window: one
    row per group (the window's totals, for `tiles(window=...)`), or per group and `period`
    (a weekly or monthly sparkline)."""
    query = base.model_copy(update={"by": tuple(by), "period": period, "kpis": DAILY_KPIS})
    return kpi_table(gw, query, as_of=as_of, counts=True)


def _counts(kpi: str) -> tuple[str, str] | None:
    """(numerator, denominator) of a share KPI, or None when its change cannot be tested."""
    k = KPIS[kpi]
    if k.unit == "share" and k.kind in ("ratio", "complement") and k.numerator and k.denominator:
        return k.numerator, k.denominator
    return None


def _basis(kpi: str) -> str:
    counts = _counts(kpi)
    if counts:
        return counts[1]
    return KPIS[kpi].denominator or _BASIS.get(kpi, "decisions")


def _minimum(config: Config, kpi: str) -> int:
    """The basis a tile's value needs to lead: audits for audit-based KPIs, else decisions (a
    count KPI such as the backlog always leads)."""
    if KPIS[kpi].unit == "count":
        return 0
    return config.monitor.min_audits if audit_based(kpi) else config.monitor.min_decisions


def _num(value: Any) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _count(value: Any) -> int:
    n = _num(value)
    return 0 if math.isnan(n) else int(n)


def tiles(
    frame: pd.DataFrame,
    day: dt.date,
    config: Config,
    workflow: str | None = None,
    vendor: str | None = None,
    kpis: tuple[str, ...] = TILE_KPIS,
    window: pd.DataFrame | None = None,
    complete_through: dt.date | None = None,
    partial: bool = False,
) -> pd.DataFrame:
    """One row per (vendor, KPI) from a `daily` frame: the day's value, its basis count `n`,
    target and status, and for each comparison (`yesterday`, `last_week`): the earlier value,
    the change (today - earlier, in the KPI's unit), the two-proportion test's p-value and
    whether it is significant at 5% (share KPIs only; NaN / False otherwise). With `window`
    (a `window_table` by the same dimension, no period), `window_value` and `window_n` give the
    KPI over the whole window: the context for a day with few audits.

    `provisional` marks an audit-based KPI on a day after `complete_through` (its audits are
    still arriving), and every KPI of a `partial` day (today, still under way): its changes
    get no test (p-value NaN, not significant). `enough` says whether the day's value rests on
    enough data to lead with (`monitor.min_audits` audits for audit-based rates and kappa,
    `monitor.min_decisions` for the others' basis); where not, show the window's value first.

    `frame` without a vendor column (a `daily` by no dimension) gives rows with vendor None.
    Targets are resolved for the row's vendor (else `vendor`, the one the filters pin) and
    `workflow` (the one the filters pin, if any).
    """
    has_vendor = "vendor" in frame.columns
    groups = sorted(v for v in frame["vendor"].dropna().unique()) if has_vendor else [None]
    rows: list[dict[str, Any]] = []
    for group in groups:
        sub = frame[frame["vendor"] == group] if has_vendor else frame
        by_day = {
            d: rec for d, rec in zip(sub["period_start"], sub.to_dict("records"), strict=True)
        }
        today = by_day.get(day, {})
        whole: dict[str, Any] = {}
        if window is not None and len(window):
            match = window[window["vendor"] == group] if has_vendor else window
            whole = match.iloc[0].to_dict() if len(match) else {}
        for kpi in kpis:
            value = _num(today.get(kpi))
            provisional = partial or bool(
                complete_through is not None and day > complete_through and audit_based(kpi)
            )
            tgt = target_for(config, kpi, workflow, group if group is not None else vendor)
            row: dict[str, Any] = {
                "vendor": group,
                "kpi": kpi,
                "value": value,
                "n": _count(today.get(_basis(kpi))),
                "enough": _count(today.get(_basis(kpi))) >= _minimum(config, kpi),
                "target": math.nan if tgt is None else tgt,
                "status": status(kpi, None if math.isnan(value) else value, tgt),
                "low": _num(today.get(f"{kpi}_low")),
                "high": _num(today.get(f"{kpi}_high")),
                "window_value": _num(whole.get(kpi)),
                "window_n": _count(whole.get(_basis(kpi))),
                "window_low": _num(whole.get(f"{kpi}_low")),
                "window_high": _num(whole.get(f"{kpi}_high")),
                "provisional": provisional,
            }
            for name, days in COMPARISONS.items():
                before = by_day.get(day - dt.timedelta(days=days), {})
                prev = _num(before.get(kpi))
                row[name] = prev
                row[f"change_{name}"] = value - prev
                p_value, significant = math.nan, False
                counts = _counts(kpi)
                if counts and today and before and not provisional:
                    num, den = counts
                    test = two_proportion_test(
                        _num(before[num]), _num(before[den]), _num(today[num]), _num(today[den])
                    )
                    p_value, significant = test.p_value, test.significant
                row[f"p_{name}"] = p_value
                row[f"significant_{name}"] = significant
            rows.append(row)
    columns = ["vendor", "kpi", "value", "n", "low", "high", "target", "status", "window_value",
               "window_n", "window_low", "window_high", "provisional", "enough"]  # fmt: skip
    for name in COMPARISONS:
        columns += [name, f"change_{name}", f"p_{name}", f"significant_{name}"]
    return pd.DataFrame(rows, columns=columns)


def vendor_snapshot(
    gw: Engine,
    base: KpiQuery,
    day: dt.date | None = None,
    as_of: dt.datetime | None = None,
) -> pd.DataFrame:
    """`tiles` per vendor for the monitored day, with the window's values; the workflow and
    vendor the query pins to a single value resolve targets."""
    day = monitored_day(base, day)
    pinned = {d: v[0] for d, v in base.where.items() if len(v) == 1}
    return tiles(
        daily(gw, base, day, as_of=as_of),
        day,
        gw.config,
        workflow=pinned.get("workflow"),
        vendor=pinned.get("vendor"),
        window=window_table(gw, base.model_copy(update={"end": day}), as_of=as_of),
        complete_through=audits_complete_through(gw, as_of),
    )


def change_magnitude(kpi: str, change: float) -> str:
    """An absolute change in the KPI's unit: percentage points, minutes/hours, count, kappa."""
    size = abs(change)
    if KPIS[kpi].unit == "share":
        return f"{size * 100:.1f} pp"
    return format_value(kpi, round(size) if KPIS[kpi].unit == "count" else size)


def format_p(p_value: float) -> str:
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.3f}"


def change_verdict(kpi: str, change: float) -> str | None:
    """ "better" / "worse" for the KPI's direction, None for no change or a neutral KPI."""
    direction = KPIS[kpi].direction
    if math.isnan(change) or change == 0 or direction == "neutral":
        return None
    up_is_good = direction == "higher"
    return "better" if (change > 0) == up_is_good else "worse"


def change_text(
    kpi: str,
    change: float,
    p_value: float,
    significant: bool,
    against: str = "yesterday",
    provisional: bool = False,
) -> str:
    """A change in words (never colour alone), e.g.
    "▲ 1.2 pp vs yesterday, better (significant, p=0.010)".

    Share KPIs state the two-proportion test's verdict ("no test" when it is undefined: too few
    counts or no variance); other KPIs carry no test.
    """
    if math.isnan(change):
        return f"no data to compare with {against}"
    if change == 0:
        text = f"= no change vs {against}"
    else:
        arrow = "▲" if change > 0 else "▼"
        text = f"{arrow} {change_magnitude(kpi, change)} vs {against}"
        verdict = change_verdict(kpi, change)
        if verdict:
            text += f", {verdict}"
    if provisional:
        text += " (audits still arriving: no test)"
    elif _counts(kpi):
        if math.isnan(p_value):
            text += " (no test: too few counts)"
        else:
            word = "significant" if significant else "not significant"
            text += f" ({word}, {format_p(p_value)})"
    return text


def basis_text(kpi: str, n: int) -> str:
    """What a tile's value rests on, e.g. "57 audits", "312 decisions with a due time"."""
    one, many = _BASIS_UNIT.get(_basis(kpi), (_basis(kpi), _basis(kpi)))
    return f"{n:,} {one if n == 1 else many}"


@dataclass(frozen=True)
class TileLead:
    """What a vendor tile leads with: the day's value when it rests on enough data (or there is
    no window value), else the window's; with its interval and n, and whether it is on too
    few to show at all (a kappa under `monitor.min_kappa_audits`: 1.00 on a handful)."""

    day: bool
    value: float
    low: float
    high: float
    n: int
    too_few: bool


def tile_lead(rec: dict[str, Any], config: Config) -> TileLead:
    """The lead of one `vendor_snapshot` record, as the Overview and the digest show it."""
    day = bool(rec["enough"]) or pd.isna(rec["window_value"])
    prefix = "" if day else "window_"
    n = int(rec[f"{prefix}n"])
    return TileLead(
        day=day,
        value=float(rec[f"{prefix}value"]),
        low=float(rec[f"{prefix}low"]),
        high=float(rec[f"{prefix}high"]),
        n=n,
        too_few=n < min_shown(config, rec["kpi"]),
    )


# --- alerts ----------------------------------------------------------------------------------


def _fmt_day(day: dt.date) -> str:
    return f"{day:%a %d %b}"


def describe_period(start: Any, end: Any) -> str:
    """ "Sun 22 Nov", "12 Oct – 19 Nov", or "now" for an alert without a period."""
    if start is None or pd.isna(start):
        return "now"
    if end is None or pd.isna(end) or start == end:
        return _fmt_day(start)
    return f"{start:%d %b} – {end:%d %b}"


def format_measure(measure: str, value: Any) -> str:
    """An alert's value or threshold for people: shares in %, counts, hours."""
    if value is None or pd.isna(value):
        return "–"
    if measure == "hours_since_data":
        return f"{value:,.0f} h"
    if measure in ("backlog_over_sla", "disputes_pending_past_age"):
        return f"{int(value):,}"
    if measure == "dispute_age_days":
        return f"{value:,.0f} d"
    return f"{value:.1%}"


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


def alerts(
    gw: Engine,
    base: KpiQuery,
    day: dt.date | None = None,
    as_of: dt.datetime | None = None,
    qa_lag_days: int = QA_LAG_DAYS,
) -> pd.DataFrame:
    """The alert list for the monitored `day` (default: the query's end) within the query's
    filters: one row per alert, columns `ALERT_COLUMNS`, most severe first (see the module
    docstring for the definitions).

    `start` / `end` is the period a value covers (None for data freshness, which is measured at
    `as_of`); `measure` names the value (`error_rate`, `sla_attainment`, `backlog_over_sla`,
    `qa_coverage`, `hours_since_data`); `threshold` is the target, control limit or freshness
    limit it is compared with; `n` the count it rests on (audits, decisions with a due time,
    pending items, decisions). `as_of` (default now) is the instant of the freshness check and
    of the backlog of a day that has not ended.
    """
    as_of = as_of or dt.datetime.now(dt.UTC)
    day = monitored_day(base, day)
    start = window_start(base, day)
    rows = [
        *_stale_alerts(gw, base, as_of),
        *_quality_alerts(gw, base, day, as_of),
        *_critical_error_alerts(gw, base, day, as_of),
        *_out_of_control_alerts(gw, base, start, day),
        *_sla_and_backlog_alerts(gw, base, day, as_of),
        *_qa_coverage_alerts(gw, base, start, day, as_of, qa_lag_days),
        *_edited_after_audit_alerts(gw, base, start, day),
        *_dispute_alerts(gw, base, day, as_of),
    ]
    out = pd.DataFrame(rows, columns=[*ALERT_COLUMNS, "_impact"])
    if out.empty:
        return out.drop(columns="_impact").astype({"value": float, "threshold": float})
    out["_severity"] = out["severity"].map(SEVERITIES.index)
    out["_kind"] = out["kind"].map(list(ALERT_KINDS).index)
    harms = set(gw.config.monitor.critical_workflows)
    out["_harm"] = [0 if w in harms else 1 for w in out["workflow"]]
    out = out.sort_values(
        ["_severity", "_harm", "_kind", "_impact", "vendor", "workflow"],
        ascending=[True, True, True, False, True, True],
        na_position="first",
    )
    out["n"] = out["n"].astype("Int64")
    return out[ALERT_COLUMNS].reset_index(drop=True)


# --- quality alerts ------------------------------------------------------------------------

FINDING_COLUMNS = ["vendor", "workflow", "dimension", "value", "segment", "decisions", "audits",
                   "errors", "error_rate", "low", "target_error_rate", "p_value",
                   "excess_errors"]  # fmt: skip


def quality_findings(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Segments whose error rate is above target with confidence over a rolling window.

    Two windows up to `day` (decisions by the day they were decided, audits with their
    decision): `monitor.quality_window_days` (14) to react to a new gap, and
    `monitor.quality_long_window_days` (28) so a thin segment's persistent gap gathers enough
    audits; each is tested at half the false-alarm rate, so the rate holds for the pair.
    Segments: every vendor x workflow, and each of them cut by one of `monitor.gap_dimensions`
    (market, site, policy). A segment is a finding when it has at least `monitor.min_audits`
    audits, a one-sided exact binomial test rejects "error rate <= target error rate" (the
    Clopper-Pearson lower bound is above the target), and its excess errors (decisions x
    (error rate - target error rate): decisions affected beyond target) reach
    `monitor.min_impact`. The target error rate is 1 - the quality target of the segment's
    workflow and vendor. `window_days` says which window found it (the stronger one)."""
    return _windowed_findings(gw, base, day, as_of, "quality_score", None)


def _windowed_findings(
    gw: Engine,
    base: KpiQuery,
    day: dt.date,
    as_of: dt.datetime | None,
    kpi: str,
    gap_dimensions: tuple[str, ...] | None,
) -> pd.DataFrame:
    """`classify_findings` on the error counts of `kpi` (the quality score's errors, or the
    critical error rate's) over each of `quality_windows`, each at its share of the false-alarm
    rate, against the target error rate of each segment's workflow and vendor; a segment
    found in both windows keeps the stronger evidence; largest excess first."""
    settings = gw.config.monitor
    windows = quality_windows(gw.config)
    alpha = settings.false_alarm_rate / len(windows)  # union bound over the windows
    findings = []
    for days in windows:
        counts = _window_counts(gw, base, day, days, as_of, kpi, gap_dimensions)
        if counts.empty:
            continue
        counts["target_error_rate"] = [
            _target_error_rate(gw.config, kpi, w, v)
            for v, w in zip(counts["vendor"], counts["workflow"], strict=True)
        ]
        found = classify_findings(counts, alpha, settings.min_impact)
        findings.append(found.assign(window_days=days))
    if not findings:
        return pd.DataFrame(columns=[*FINDING_COLUMNS, "window_days"])
    out = pd.concat(findings, ignore_index=True)
    out = out.sort_values(["segment", "p_value", "window_days"]).drop_duplicates("segment")
    out = out.sort_values(["excess_errors", "segment"], ascending=[False, True])
    return out.reset_index(drop=True)


def _target_error_rate(config: Config, kpi: str, workflow: str, vendor: str) -> float | None:
    """The error rate a segment may have: 1 - the quality target, or the critical-error
    target itself (an error rate)."""
    target = target_for(config, kpi, workflow, vendor)
    if kpi == "quality_score":
        return 1.0 - (target or 1.0)
    return target


def quality_windows(config: Config) -> tuple[int, ...]:
    """The rolling windows quality alerts test (days): the short one reacts to a new gap, the
    long one (if set) gives a thin segment's persistent gap enough audits."""
    short, long = config.monitor.quality_window_days, config.monitor.quality_long_window_days
    return (short, long) if long and long > short else (short,)


def _window_counts(
    gw: Engine,
    base: KpiQuery,
    day: dt.date,
    days: int,
    as_of: dt.datetime | None,
    kpi: str = "quality_score",
    gap_dimensions: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Decisions, audits and errors (the numerator of `kpi`: errors, or critical errors) per
    vendor x workflow (and each cut by the gap dimensions, default `monitor.gap_dimensions`)
    over the `days` days up to `day`, segments with at least `min_audits` audits."""
    settings = gw.config.monitor
    start = day - dt.timedelta(days=days - 1)
    window = base.model_copy(
        update={"start": max(start, base.start) if base.start and base.start > start else start,
                "end": day, "period": None, "kpis": ("decisions", "audits", kpi)}
    )  # fmt: skip
    errors = KPIS[kpi].numerator
    assert errors is not None
    dims = settings.gap_dimensions if gap_dimensions is None else gap_dimensions
    frames = []
    for dim in (None, *dims):
        by = ("vendor", "workflow") if dim is None else ("vendor", "workflow", dim)
        table = kpi_table(gw, window.model_copy(update={"by": by}), as_of=as_of, counts=True)
        table = table[table[list(by)].notna().all(axis=1)]
        table = table[table["audits"] >= settings.min_audits]
        frames.append(
            pd.DataFrame(
                {
                    "vendor": table["vendor"],
                    "workflow": table["workflow"],
                    "dimension": dim or "",
                    "value": table[dim].astype(str) if dim else "",
                    "decisions": table["decisions"].astype("int64"),
                    "audits": table["audits"].astype("int64"),
                    "errors": table[errors].astype("int64"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def classify_findings(counts: pd.DataFrame, alpha: float, min_impact: float) -> pd.DataFrame:
    """The decision rule of quality alerts, on a window's counts per segment (columns vendor,
    workflow, dimension, value, decisions, audits, errors, target_error_rate; segments already
    holding the minimum of audits): the exact one-sided test at `alpha` and the impact floor.
    Findings first by excess errors. Pure, so its false-alarm rate and detection delay are
    measured on simulated audit streams (tests/kpi/test_quality_alerts.py)."""
    found = counts.copy()
    found["error_rate"] = found["errors"] / found["audits"]
    p_value, low = exact_excess_test(
        found["errors"], found["audits"], found["target_error_rate"], alpha
    )
    found["p_value"], found["low"] = p_value, low
    found["excess_errors"] = found["decisions"] * (found["error_rate"] - found["target_error_rate"])
    found["segment"] = [
        f"vendor={v}, workflow={w}" + (f", {d}={x}" if d else "")
        for v, w, d, x in zip(found["vendor"], found["workflow"], found["dimension"],
                              found["value"], strict=True)
    ]  # fmt: skip
    fired = (found["p_value"] < alpha) & (found["excess_errors"] >= min_impact)
    out = found[fired].sort_values(["excess_errors", "segment"], ascending=[False, True])
    return out[FINDING_COLUMNS].reset_index(drop=True)


def _quality_alerts(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime
) -> list[dict[str, Any]]:
    """One alert per vendor x workflow with findings (`quality_findings`): about its narrowest
    segment when that one carries most (>= 80 %) of the excess errors of the whole queue, else
    about the queue, naming its worst segments. Critical when the test is strong (p below a
    tenth of the false-alarm rate) and at least 10 x `min_impact` decisions are affected."""
    settings = gw.config.monitor
    findings = quality_findings(gw, base, day, as_of)
    rows = []
    for (vendor, workflow), group in findings.groupby(["vendor", "workflow"], sort=True):
        whole = group[group["dimension"] == ""]
        parts = group[group["dimension"] != ""]
        parent = whole.iloc[0] if len(whole) else None
        top = parts.iloc[0] if len(parts) else None
        explains = top is not None and (
            parent is None or top["excess_errors"] >= 0.8 * parent["excess_errors"]
        )
        lead = top if explains else parent
        assert lead is not None
        segment = {"vendor": vendor, "workflow": workflow}
        if explains and top is not None:
            segment[str(top["dimension"])] = top["value"]
        start = day - dt.timedelta(days=int(lead["window_days"]) - 1)
        strong = float(lead["p_value"]) < settings.false_alarm_rate / 10
        big = float(lead["excess_errors"]) >= 10 * settings.min_impact
        severity = "critical" if strong and big else "warning"
        others = [r for r in parts.itertuples() if lead is parent or r.segment != lead["segment"]]
        also = ""
        if others:
            named = "; ".join(
                f"{r.dimension} {r.value}: {r.error_rate:.1%} over {r.audits} audits"
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


def critical_error_findings(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Vendor x workflow segments whose critical error rate is above its target with
    confidence: `quality_findings`' windows and rule (`classify_findings`) on critical errors,
    against `targets.*.critical_error_rate` of the segment's workflow and vendor."""
    return _windowed_findings(gw, base, day, as_of, "critical_error_rate", ())


def _critical_error_alerts(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime
) -> list[dict[str, Any]]:
    """One alert per vendor x workflow in `critical_error_findings`; critical when the test is
    strong (p below a tenth of the false-alarm rate) and at least 10 x `min_impact` decisions
    have a critical error beyond target, else warning."""
    settings = gw.config.monitor
    rows = []
    for rec in critical_error_findings(gw, base, day, as_of).to_dict("records"):
        start = day - dt.timedelta(days=int(rec["window_days"]) - 1)
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


def _stale_alerts(gw: Engine, base: KpiQuery, as_of: dt.datetime) -> list[dict[str, Any]]:
    """One alert for every vendor whose newest decision or enqueue is older than the
    freshness limit at `as_of` (they share a cause: the feeds, or the ingest, stopped)."""
    limit = gw.config.freshness_hours
    tz = ZoneInfo(gw.config.reporting_timezone)
    fresh = freshness(gw, as_of)
    vendors = base.where.get("vendor")
    stale = []
    for rec in fresh.to_dict("records"):
        if rec["fresh"] or (vendors and rec["vendor"] not in vendors):
            continue
        newest = max(
            (pd.Timestamp(t) for t in (rec["last_decided_at"], rec["last_enqueued_at"])
             if t is not None and not pd.isna(t)),
            default=None,
        )  # fmt: skip
        stale.append((float(rec["hours_since_data"]), str(rec["vendor"]), newest))
    if not stale:
        return []
    stale.sort(key=lambda s: (-s[0], s[1]))
    hours = stale[0][0]
    listed = "; ".join(
        f"{v} {h:,.0f} h" + (f" (newest item {t.tz_convert(tz):%d %b %H:%M %Z})" if t else "")
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


def quality_control(gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The quality KPIs of `query` (its groups and period; periods without audits left out)
    with a Shewhart p-chart of the error rate (`kpi.stats.p_chart`, over the rows given, so
    group by nothing but the period, or take one group's rows): `kpi_table`'s columns with
    counts, then `error_rate`, `center`, `lcl`, `ucl`, `out_of_control` and `direction`."""
    table = kpi_table(gw, query, as_of=as_of, counts=True)
    table = table[table["audits"] > 0].reset_index(drop=True)
    chart = p_chart(table["errors"].to_numpy(), table["audits"].to_numpy())
    out = table.assign(error_rate=chart["p"].to_numpy())
    for col in ("center", "lcl", "ucl", "out_of_control", "direction"):
        out[col] = chart[col].to_numpy()
    return out


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
    table = kpi_table(gw, query, counts=True)
    rows = []
    for vendor, group in table.groupby("vendor", sort=True):
        chart = p_chart(group["errors"].to_numpy(), group["audits"].to_numpy())
        chart["day"] = group["period_start"].to_numpy()
        centre = float(chart["center"].iat[0]) if len(chart) else math.nan
        for rec, errors in zip(chart.to_dict("records"), group["errors"].to_numpy(), strict=True):
            if not rec["out_of_control"] or rec["n"] < gw.config.monitor.min_audits:
                continue  # a day's point resting on few audits is not a signal
            d, p, audits = rec["day"], rec["p"], int(rec["n"])
            period = f"{start:%d %b} – {day:%d %b}"
            if rec["direction"] == "above":
                rows.append(
                    _alert(
                        "critical", "out_of_control", vendor, None, d, d, "error_rate", p,
                        rec["ucl"], audits,
                        f"{vendor}'s error rate on {_fmt_day(d)} was {p:.1%} ({int(errors)} "
                        f"errors in {audits} audits), above the upper control limit "
                        f"{rec['ucl']:.1%} (daily p-chart, centre line {centre:.1%} over "
                        f"{period}): more errors than day-to-day variation explains. Look for "
                        "a special cause: new reviewers, a policy change, a queue mix shift.",
                        d.toordinal(),
                    )
                )  # fmt: skip
            else:
                rows.append(
                    _alert(
                        "info", "out_of_control", vendor, None, d, d, "error_rate", p,
                        rec["lcl"], audits,
                        f"{vendor}'s error rate on {_fmt_day(d)} was {p:.1%} ({int(errors)} "
                        f"errors in {audits} audits), below the lower control limit "
                        f"{rec['lcl']:.1%} (centre line {centre:.1%} over {period}): unusually "
                        "few errors. Check that QA sampled and graded as usual.",
                        d.toordinal(),
                    )
                )  # fmt: skip
    return rows


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
    table = kpi_table(gw, query, as_of=as_of, counts=True)
    day_ended = bounds(query, gw.config.reporting_timezone, as_of).end  # None: no such instant
    at = f"at the end of {_fmt_day(day)}" if day_ended and as_of >= day_ended else "now"
    rows = []
    for rec in table.to_dict("records"):
        vendor, workflow = rec["vendor"], rec["workflow"]
        attainment, known = _num(rec["sla_attainment"]), int(rec["sla_known"])
        target = target_for(gw.config, "sla_attainment", workflow, vendor)
        if known < settings.min_decisions or target is None or not attainment < target:
            continue
        met = int(rec["sla_met"])
        late = known - met
        excess = late - (1.0 - target) * known
        (p_value,), _ = exact_excess_test(
            [late], [known], [1.0 - target], settings.false_alarm_rate
        )
        if not p_value < settings.false_alarm_rate or excess < settings.min_impact:
            continue  # within noise of the target, or too few decisions affected
        strong = p_value < settings.false_alarm_rate / 10 and excess >= 10 * settings.min_impact
        rows.append(
            _alert(
                "critical" if strong else "warning", "sla_breach", vendor, workflow, day, day,
                "sla_attainment", attainment, target, known,
                f"{vendor} / {workflow}: {attainment:.1%} of decisions on {_fmt_day(day)} met "
                f"their SLA ({met:,} of {known:,}; {late:,} late), below the {target:.1%} target "
                f"beyond day-to-day noise (exact test, p = {p_value:.2g}): about {excess:,.0f} "
                "more late decisions than the target allows.",
                excess,
            )
        )  # fmt: skip
    backlog = table[table["backlog_over_sla"] > 0]
    for vendor, group in backlog.groupby("vendor", sort=True):
        past_due, pending = int(group["backlog_over_sla"].sum()), int(group["backlog"].sum())
        if past_due < settings.min_impact:
            continue
        big = past_due >= 10 * settings.min_impact and past_due >= 0.2 * pending
        worst = group.sort_values(["backlog_over_sla", "workflow"], ascending=[False, True])
        listed = ", ".join(
            f"{w} {int(n):,}" for w, n in zip(worst["workflow"], worst["backlog_over_sla"],
                                                strict=True)
        )  # fmt: skip
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
    for rec in gw.frame(*sql.edits_after_audit(window, base.where)).to_dict("records"):
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
    table = kpi_table(gw, query, counts=True)
    short: dict[str, list[tuple[str, float, int, int, float, int]]] = {}
    for rec in table.to_dict("records"):
        vendor, workflow = rec["vendor"], rec["workflow"]
        coverage, decisions = _num(rec["qa_coverage"]), int(rec["decisions"])
        target = target_for(gw.config, "qa_coverage", workflow, vendor)
        if decisions == 0 or target is None or not coverage < target:
            continue
        audited = int(rec["audited_decisions"])
        # The tolerance keeps float noise (0.05 * 300 = 15.000000000000002) from adding one.
        missing = math.ceil(target * decisions - 1e-9) - audited
        short.setdefault(vendor, []).append(
            (workflow, coverage, audited, decisions, target, missing)
        )
    lag = (
        f" Decisions after {end:%d %b} are left out: their audits are still arriving."
        if end < day
        else ""
    )
    rows = []
    for vendor, items in sorted(short.items()):
        missing = sum(i[5] for i in items)
        if missing < gw.config.monitor.min_impact:
            continue  # a handful of audits short: not worth an alert
        audited, decisions = sum(i[2] for i in items), sum(i[3] for i in items)
        target = sum(i[4] * i[3] for i in items) / decisions
        items.sort(key=lambda i: (-i[5], i[0]))
        listed = "; ".join(
            f"{w} {c:.1%} ({a:,} of {d:,}, {m:,} short of {t:.1%})" for w, c, a, d, t, m in items
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
    from kpi.disputes import pending_disputes  # kpi.disputes imports kpi.tat, not the monitor

    settings = gw.config.monitor
    query = base.model_copy(update={"start": None, "end": day})
    pending = pending_disputes(gw, query, as_of)
    day_ended = bounds(query, gw.config.reporting_timezone, as_of).end
    at = f"at the end of {_fmt_day(day)}" if day_ended and as_of >= day_ended else "now"
    rows = []
    for vendor, group in pending.groupby("vendor", sort=True):
        n = len(group)
        counts = group.groupby("workflow").size().sort_values(ascending=False, kind="stable")
        listed = ", ".join(f"{w} {int(c):,}" for w, c in counts.items())
        oldest = float(group["age_days"].max())
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


def readable_alerts(frame: pd.DataFrame) -> pd.DataFrame:
    """The alert list as people read it (dashboard and `bpo-kpi alerts`): severity, alert (the
    kind's label), vendor, workflow, when, value and limit formatted, details (the message)."""
    return pd.DataFrame(
        {
            "severity": frame["severity"],
            "alert": frame["kind"].map(ALERT_KINDS),
            "vendor": frame["vendor"].astype(object).fillna("–").astype("str"),
            "workflow": frame["workflow"].astype(object).fillna("–").astype("str"),
            "when": [
                describe_period(s, e) for s, e in zip(frame["start"], frame["end"], strict=True)
            ],
            "value": [
                format_measure(m, v) for m, v in zip(frame["measure"], frame["value"], strict=True)
            ],
            "limit": [
                format_measure(m, v)
                for m, v in zip(frame["measure"], frame["threshold"], strict=True)
            ],
            "details": frame["message"],
        }
    )


def alert_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Alerts per severity, every severity present (0 when none)."""
    counts = frame["severity"].value_counts() if len(frame) else pd.Series(dtype=int)
    return {s: int(counts.get(s, 0)) for s in SEVERITIES}


def group_label(vendor: Hashable | None) -> str:
    """A tile row's name: the vendor, or "All vendors" for the total row."""
    missing = vendor is None or (isinstance(vendor, float) and np.isnan(vendor))
    return "All vendors" if missing else str(vendor)


def last_complete_day(gw: Engine, as_of: dt.datetime | None = None) -> dt.date | None:
    """The monitor's default day: the newest day with data the viewer may see, but never today
    (a day still under way in the reporting time zone is partial, not comparable with full
    days); None without data."""
    summary = database_summary(gw, as_of)
    if summary.last_day is None:
        return None
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(gw.config.reporting_timezone))
    return min(summary.last_day, now.date() - dt.timedelta(days=1))


def alert_window(
    gw: Engine, day: dt.date | None = None, start: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The alert list's window `(start, day)`, defaulted as the dashboard's: `day` (the
    monitored day, the window's last) is the last complete day (`last_complete_day`), `start`
    `DEFAULT_WINDOW_DAYS` days up to `day` but not before the first day with data."""
    if day is None or start is None:
        summary = database_summary(gw)
        last = last_complete_day(gw)
        if summary.last_day is None or summary.first_day is None or last is None:
            raise ValueError("no decisions in the database (or none your role may see)")
        day = day or last
        default_start = day - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)
        start = start or min(max(summary.first_day, default_start), day)
    if start > day:
        raise ValueError(f"--from {start} is after --day {day}")
    return start, day
