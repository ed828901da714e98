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

**Alerts** (`alerts`; computed by `kpi.alerting` on numpy columns, which `bpo-kpi alerts`
prints without pandas), one row per alert, most severe first:

- `stale_data` (critical): a vendor's newest decision or enqueue is older than the
  configuration's `freshness_hours` at `as_of` (now). The vendor filter applies, the other
  filters do not: freshness is a property of the vendor's feed.
- `quality_gap`: a vendor x workflow with a segment (the queue, or its cut by one of
  `monitor.gap_dimensions`) whose error rate over a rolling window is above target with
  confidence (`quality_findings`: exact one-sided test, `monitor.min_audits`,
  `monitor.min_impact` decisions wrong beyond target); about the narrowest segment when it
  carries most of the queue's excess errors. Critical when the test is strong (p below a
  tenth of the false-alarm rate) and the impact 10x, else warning.
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
  (per workflow and vendor) beyond day-to-day noise: at least `monitor.min_decisions`
  decisions with a due time, the late share above the target's by the exact one-sided test at
  the false-alarm rate, and at least `monitor.min_impact` decisions late beyond what the target
  allows. Critical when the test is strong (p below a tenth of the rate) and 10x that many
  are late, else warning.
- `backlog_past_due`: a vendor with at least `monitor.min_impact` pending items past their due
  time at the end of the day (now, for a day that has not ended), listed per workflow;
  critical from 10x that when they are a fifth of its pending items or more, else warning.
- `edited_after_audit` (warning): a vendor x workflow that changed the label or policy of
  decisions QA had already audited, in files loaded during the window (by the ingest's time).
  The audits stay scored against the version QA saw (see ingest.load), so the quality score
  is not affected; the edits themselves are a red flag for the score's integrity.
- `qa_coverage` (warning): a vendor whose workflows' QA coverage (audited decisions / decided
  decisions) over the window is below target (per workflow and vendor) by at least
  `monitor.min_impact` audited decisions in all. Only days whose audits are complete count
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

import numpy as np
import pandas as pd

from bpo_kpi.config import Config
from kpi.alerting import (  # noqa: F401 (the alert list's names, as kpi.monitor's)
    ALERT_COLUMNS,
    ALERT_KINDS,
    DAY_KINDS,
    DEFAULT_WINDOW_DAYS,
    FINDING_COLUMNS,
    QA_LAG_DAYS,
    SEVERITIES,
    alert_counts,
    alert_rows,
    alert_window,
    audits_complete_through,
    classify_finding_columns,
    days_before,
    describe_period,
    format_measure,
    last_complete_day,
    monitored_day,
    quality_windows,
    readable_alert_columns,
    window_start,
    windowed_finding_columns,
)
from kpi.catalog import KPIS, MEASURES
from kpi.columns import to_frame
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.stats import p_chart, two_proportion_test
from kpi.targets import format_value, min_shown, status, target_for

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
# How a tile's value is backed: the count shown next to it.
_BASIS = {"tat_p90": "decisions", "backlog_over_sla": "backlog"}
_BASIS_UNIT = {  # (one, many)
    "audits": ("audit", "audits"),
    "sla_known": ("decision with a due time", "decisions with a due time"),
    "decisions": ("decision", "decisions"),
    "backlog": ("item pending at the day's end", "items pending at the day's end"),
}


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
    start = min(window_start(base, day), days_before(day, max(COMPARISONS.values())))
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
                # No day before the calendar's first: nothing to compare with.
                earlier = days_before(day, days)
                before = by_day.get(earlier, {}) if earlier < day else {}
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


# --- alerts (kpi.alerting, as DataFrames) ---------------------------------------------------


def alerts(
    gw: Engine,
    base: KpiQuery,
    day: dt.date | None = None,
    as_of: dt.datetime | None = None,
    qa_lag_days: int = QA_LAG_DAYS,
) -> pd.DataFrame:
    """The alert list for the monitored `day` (default: the query's end) within the query's
    filters: one row per alert, columns `ALERT_COLUMNS`, most severe first (see the module
    docstring for the definitions; `kpi.alerting.alert_rows` computes it).

    `start` / `end` is the period a value covers (None for data freshness, which is measured at
    `as_of`); `measure` names the value (`error_rate`, `sla_attainment`, `backlog_over_sla`,
    `qa_coverage`, `hours_since_data`); `threshold` is the target, control limit or freshness
    limit it is compared with; `n` the count it rests on (audits, decisions with a due time,
    pending items, decisions). `as_of` (default now) is the instant of the freshness check and
    of the backlog of a day that has not ended.
    """
    return alert_frame(alert_rows(gw, base, day, as_of, qa_lag_days))


def alert_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Alert rows (`kpi.alerting.alert_rows`) as the alert list's DataFrame: `value` and
    `threshold` float, `n` nullable integers (once there is an alert)."""
    out = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    if out.empty:
        return out.astype({"value": float, "threshold": float})
    out["n"] = out["n"].astype("Int64")
    return out


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
    return to_frame(windowed_finding_columns(gw, base, day, as_of, "quality_score", None))


def critical_error_findings(
    gw: Engine, base: KpiQuery, day: dt.date, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Vendor x workflow segments whose critical error rate is above its target with
    confidence: `quality_findings`' windows and rule (`classify_findings`) on critical errors,
    against `targets.*.critical_error_rate` of the segment's workflow and vendor."""
    return to_frame(windowed_finding_columns(gw, base, day, as_of, "critical_error_rate", ()))


def classify_findings(counts: pd.DataFrame, alpha: float, min_impact: float) -> pd.DataFrame:
    """The decision rule of quality alerts, on a window's counts per segment (columns vendor,
    workflow, dimension, value, decisions, audits, errors, target_error_rate; segments already
    holding the minimum of audits): the exact one-sided test at `alpha` and the impact floor.
    Findings first by excess errors. Pure, so its false-alarm rate and detection delay are
    measured on simulated audit streams (tests/kpi/test_quality_alerts.py)."""
    return to_frame(classify_finding_columns(counts, alpha, min_impact))


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


def readable_alerts(frame: pd.DataFrame) -> pd.DataFrame:
    """The alert list as people read it (`kpi.alerting.readable_alert_columns`)."""
    return to_frame(readable_alert_columns(frame))


def group_label(vendor: Hashable | None) -> str:
    """A tile row's name: the vendor, or "All vendors" for the total row."""
    missing = vendor is None or (isinstance(vendor, float) and np.isnan(vendor))
    return "All vendors" if missing else str(vendor)
