"""Data health: ingest runs, rejected rows, orphan audits, data freshness per vendor and whether
QA audits enough of each vendor x workflow to estimate its quality score; warnings, edits after
audit, vendor integrity, and stored times outside the plausible range."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.sql import Params, used
from kpi.stats import audit_sample_size
from kpi.targets import target_for

RUN_COLUMNS = (
    "run_id, kind, vendor, file, started_at, finished_at, rows_read, rows_inserted, "
    "rows_updated, rows_unchanged, rows_stale, rows_rejected, warnings, status, error, retry_of"
)


def ingest_runs(gw: Engine, limit: int = 200, status: str | None = None) -> pd.DataFrame:
    """Latest ingest runs with their reconciliation (read = inserted + updated + unchanged +
    stale + rejected), warnings, status and, for a run that failed, why."""
    params = Params()
    where = f"WHERE status = {params.bind(status)}" if status else ""
    sql = (
        f"SELECT {RUN_COLUMNS} FROM ingest_runs {where} ORDER BY run_id DESC "
        f"LIMIT {params.bind(int(limit))}"
    )
    return gw.frame(sql, used(sql, params.values))


def unfinished_runs(gw: Engine) -> pd.DataFrame:
    """Runs that loaded nothing — failed, rolled back with a failing file, interrupted — whose
    file has not been loaded by a later run: the data they should have brought is missing."""
    return gw.frame(
        f"SELECT {RUN_COLUMNS} FROM ingest_runs r "
        "WHERE status IN ('failed', 'rolled_back', 'interrupted') AND NOT EXISTS ("
        "  SELECT 1 FROM ingest_runs l WHERE l.file = r.file AND l.kind = r.kind "
        "  AND l.run_id > r.run_id AND l.status IN ('ok', 'ok_with_rejects')) "
        "ORDER BY run_id DESC"
    )


def rejected_rows(gw: Engine, run_id: int | None = None, limit: int = 1000) -> pd.DataFrame:
    """Rejected rows not yet loaded by a retry (all runs, or one) with file, source line,
    reason and raw content."""
    params = Params()
    where = "WHERE resolved_run IS NULL"
    if run_id is not None:
        where += f" AND run_id = {params.bind(int(run_id))}"
    sql = (
        f"SELECT run_id, file, source_line, reason, raw FROM rejected_rows {where} "
        f"ORDER BY run_id DESC, source_line LIMIT {params.bind(int(limit))}"
    )
    return gw.frame(sql, used(sql, params.values))


def rejection_reasons(gw: Engine) -> pd.DataFrame:
    """Outstanding rejected rows per run and reason, most frequent first."""
    return gw.frame(
        "SELECT run_id, file, reason, count(*) AS rows FROM rejected_rows "
        "WHERE resolved_run IS NULL GROUP BY ALL ORDER BY run_id DESC, rows DESC"
    )


def ingest_warnings(gw: Engine, run_id: int | None = None, limit: int = 1000) -> pd.DataFrame:
    """Warnings (all runs, or one): rows loaded with a field fixed or emptied, with file,
    source line, column, the value as read and what was done."""
    params = Params()
    where = f"WHERE run_id = {params.bind(int(run_id))}" if run_id is not None else ""
    sql = (
        f"SELECT run_id, file, source_line, column_name, value, reason FROM ingest_warnings "
        f"{where} ORDER BY run_id DESC, source_line, column_name LIMIT {params.bind(int(limit))}"
    )
    return gw.frame(sql, used(sql, params.values))


def warning_summary(gw: Engine) -> pd.DataFrame:
    """Warnings per run, column and kind of flaw (the reason with its values left out), most
    frequent first: what to fix in a vendor's export."""
    return gw.frame(
        "SELECT w.run_id, r.vendor, w.file, w.column_name, "
        "regexp_replace(w.reason, ' [^ ]*[0-9][^ ]* ', ' … ', 'g') AS warning, "
        "count(*) AS rows FROM ingest_warnings w JOIN ingest_runs r USING (run_id) "
        "GROUP BY ALL ORDER BY w.run_id DESC, rows DESC"
    )


def edits_after_audit(gw: Engine, limit: int = 1000) -> pd.DataFrame:
    """Vendor rows that changed the label or policy of a decision QA had already audited,
    newest first, with the old and new values and the run that brought them."""
    return gw.frame(
        "SELECT recorded_at, run_id, vendor, workflow, market, decision_id, audits, "
        "old_decision, new_decision, old_policy, new_policy FROM edits_after_audit "
        "ORDER BY recorded_at DESC, decision_id LIMIT $limit",
        {"limit": int(limit)},
    )


def vendor_integrity(gw: Engine) -> pd.DataFrame:
    """Per vendor: decisions, how many were changed after their first decided version
    (`corrected`, a version superseded while decided: a pending item being decided is its
    normal course, not a correction) and the *correction rate* (corrected / decided
    decisions), and decisions edited after QA had audited them (label or policy)."""
    return gw.frame(
        """
        WITH d AS (SELECT vendor, count(*) FILTER (WHERE decided_at IS NOT NULL) AS decided
                   FROM decisions GROUP BY ALL),
             c AS (SELECT vendor, count(DISTINCT decision_id) AS corrected
                   FROM decisions_history WHERE decided_at IS NOT NULL GROUP BY ALL),
             e AS (SELECT vendor, count(*) AS edits, count(DISTINCT decision_id) AS edited,
                          max(recorded_at) AS last_edit
                   FROM edits_after_audit GROUP BY ALL)
        SELECT d.vendor, d.decided, coalesce(c.corrected, 0) AS corrected,
               coalesce(c.corrected, 0) / nullif(d.decided, 0) AS correction_rate,
               coalesce(e.edited, 0) AS edited_after_audit, coalesce(e.edits, 0) AS edits,
               e.last_edit
        FROM d LEFT JOIN c USING (vendor) LEFT JOIN e USING (vendor)
        ORDER BY d.vendor
        """
    )


def implausible_values(gw: Engine) -> pd.DataFrame:
    """Stored times outside the plausible range (`kpi.scope.plausible_range`), per table and
    column within the viewer's scope: how many rows, the earliest and latest such value (as
    text: year 294247 converts to no Python date) and how every query treats them
    (`kpi.scope.TREATMENTS`: the row left out, the value read as empty, or an audit counted
    as an orphan), as ingest would load the row today. Empty for a database that only the
    current ingest wrote. Found when the gateway opened (see `kpi.gateway`)."""
    return gw.implausible.copy()


def orphan_audits(gw: Engine, limit: int = 1000) -> pd.DataFrame:
    """Audits whose decision has not arrived (yet)."""
    return gw.frame(
        "SELECT audit_id, decision_id, auditor_id, audited_at, qa_decision, comment "
        "FROM audit_facts WHERE is_orphan ORDER BY audited_at DESC LIMIT $limit",
        {"limit": int(limit)},
    )


def freshness(gw: Engine, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Per vendor: newest decision, hours since, and whether it is older than the threshold."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    out = gw.frame(
        "SELECT vendor, max(decided_at) AS last_decided_at, max(enqueued_at) AS last_enqueued_at, "
        "count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions GROUP BY 1 ORDER BY 1"
    )
    newest = pd.to_datetime(out[["last_decided_at", "last_enqueued_at"]].max(axis=1), utc=True)
    out["hours_since_data"] = (pd.Timestamp(as_of) - newest).dt.total_seconds() / 3600
    out["fresh"] = out["hours_since_data"] <= gw.config.freshness_hours
    return out


# --- QA coverage adequacy ---------------------------------------------------------------------

DEFAULT_MARGIN = 0.05
MIN_PLANNING_RATE = 0.01
ADEQUACY_STATUS = ("adequate", "too few audits", "no decisions")


def planning_error_rate(target_error_rate: float, observed_error_rate: float | None) -> float:
    """The error rate a sample size is planned for: the larger of the target error rate
    (1 - quality target) and the observed one, within [1 %, 50 %].

    Planning for the worse of the two keeps a vendor that runs above its target error rate
    (whose estimate is noisier) from looking adequately sampled; 50 % is the variance's
    maximum, and the 1 % floor keeps a 100 % target (or no errors at all) from asking for a
    single audit.

    >>> planning_error_rate(0.05, 0.02), planning_error_rate(0.05, 0.12), planning_error_rate(0, 0)
    (0.05, 0.12, 0.01)
    """
    rate = target_error_rate
    if observed_error_rate is not None and not np.isnan(observed_error_rate):
        rate = max(rate, observed_error_rate)
    return float(min(0.5, max(MIN_PLANNING_RATE, rate)))


def achieved_margin(
    audits: int, decisions: int, error_rate: float, confidence: float = 0.95
) -> float:
    """Half-width of the normal-approximation interval that `audits` give on a quality score
    with `error_rate`, among `decisions` (finite-population corrected, the inverse of
    `kpi.stats.audit_sample_size`): ``z·sqrt(p(1-p)/n · (N-n)/(N-1))``. NaN without audits;
    0 when every decision was audited.
    """
    if audits <= 0 or decisions <= 0:
        return math.nan
    n = min(audits, decisions)
    z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    fpc = (decisions - n) / (decisions - 1) if decisions > 1 else 0.0
    return z * math.sqrt(error_rate * (1.0 - error_rate) / n * fpc)


def qa_coverage_adequacy(
    gw: Engine, query: KpiQuery, margin: float = DEFAULT_MARGIN, confidence: float = 0.95
) -> pd.DataFrame:
    """Per vendor x workflow: are there enough audits to estimate the quality score to ±`margin`?

    Over the query's window and filters (its `by` and period are ignored): decisions, audits
    and quality score from `kpi_table`; the planning error rate (`planning_error_rate`: the
    larger of 1 - quality target for that workflow and vendor and the observed error rate);
    the `required` audits from `kpi.stats.audit_sample_size(margin, planning rate,
    confidence, population=decisions)`; the margin the actual audits achieve; the shortfall;
    and a status: `adequate` (audits >= required), `too few audits` or `no decisions`.
    `margin` is a share (0.05 = ±5 percentage points).
    """
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin!r}")
    grouped = query.model_copy(
        update={
            "by": ("vendor", "workflow"),
            "period": None,
            "kpis": ("decisions", "audits", "quality_score"),
        }
    )
    table = kpi_table(gw, grouped)
    columns = ["vendor", "workflow", "decisions", "audits", "quality_score", "target_error_rate",
               "planning_error_rate", "required", "achieved_margin", "shortfall", "adequate",
               "status"]  # fmt: skip
    rows = []
    for rec in table.to_dict(orient="records"):
        vendor, workflow = rec["vendor"], rec["workflow"]
        decisions, audits = int(rec["decisions"]), int(rec["audits"])
        quality = float(rec["quality_score"])
        target = target_for(gw.config, "quality_score", workflow, vendor)
        target_error = 1.0 - (target if target is not None else 1.0)
        rate = planning_error_rate(target_error, 1.0 - quality)
        if decisions > 0:
            required = audit_sample_size(margin, rate, confidence, population=decisions)
            state = "adequate" if audits >= required else "too few audits"
        else:
            required, state = 0, "no decisions"
        rows.append(
            {
                "vendor": vendor,
                "workflow": workflow,
                "decisions": decisions,
                "audits": audits,
                "quality_score": quality,
                "target_error_rate": target_error,
                "planning_error_rate": rate,
                "required": required,
                "achieved_margin": achieved_margin(audits, decisions, rate, confidence),
                "shortfall": max(0, required - audits),
                "adequate": state == "adequate",
                "status": state,
            }
        )
    return pd.DataFrame(rows, columns=columns)
