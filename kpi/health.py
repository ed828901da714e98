"""Data health: ingest runs, rejected rows, orphan audits, data freshness per vendor and whether
QA audits enough of each vendor x workflow to estimate its quality score; warnings, edits after
audit, vendor integrity, and stored times outside the plausible range."""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from kpi.columns import Columns, utc_datetime64
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.sql import health as sql
from kpi.stats import audit_sample_size
from kpi.targets import target_for

if TYPE_CHECKING:
    import pandas as pd

# The CLI's `runs`, `rejects` and `warnings` read the `*_columns` versions (numpy columns, no
# pandas: `kpi.columns`); the Data health page the DataFrames.


def ingest_runs(gw: Engine, limit: int = 200, status: str | None = None) -> pd.DataFrame:
    """Latest ingest runs with their reconciliation (read = inserted + updated + unchanged +
    stale + rejected), warnings, status and, for a run that failed, why."""
    return gw.frame(*sql.ingest_runs(limit, status))


def ingest_run_columns(gw: Engine, limit: int = 200, status: str | None = None) -> Columns:
    return gw.columns(*sql.ingest_runs(limit, status))


def unfinished_runs(gw: Engine) -> pd.DataFrame:
    """Runs that loaded nothing — failed, rolled back with a failing file, interrupted — whose
    file has not been loaded by a later run: the data they should have brought is missing."""
    return gw.frame(*sql.unfinished_runs())


def rejected_rows(gw: Engine, run_id: int | None = None, limit: int = 1000) -> pd.DataFrame:
    """Rejected rows not yet loaded by a retry (all runs, or one) with file, source line,
    reason and raw content."""
    return gw.frame(*sql.rejected_rows(run_id, limit))


def rejected_row_columns(gw: Engine, run_id: int | None = None, limit: int = 1000) -> Columns:
    return gw.columns(*sql.rejected_rows(run_id, limit))


def rejection_reasons(gw: Engine) -> pd.DataFrame:
    """Outstanding rejected rows per run and reason, most frequent first."""
    return gw.frame(*sql.rejection_reasons())


def ingest_warnings(gw: Engine, run_id: int | None = None, limit: int = 1000) -> pd.DataFrame:
    """Warnings (all runs, or one): rows loaded with a field fixed or emptied, with file,
    source line, column, the value as read and what was done."""
    return gw.frame(*sql.ingest_warnings(run_id, limit))


def ingest_warning_columns(gw: Engine, run_id: int | None = None, limit: int = 1000) -> Columns:
    return gw.columns(*sql.ingest_warnings(run_id, limit))


def warning_summary(gw: Engine) -> pd.DataFrame:
    """Warnings per run, column and kind of flaw (the reason with its values left out), most
    frequent first: what to fix in a vendor's export."""
    return gw.frame(*sql.warning_summary())


def edits_after_audit(gw: Engine, limit: int = 1000) -> pd.DataFrame:
    """Vendor rows that changed the label or policy of a decision QA had already audited,
    newest first, with the old and new values and the run that brought them."""
    return gw.frame(*sql.edits_after_audit(limit))


def vendor_integrity(gw: Engine) -> pd.DataFrame:
    """Per vendor: decisions, how many were changed after their first decided version
    (`corrected`, a version superseded while decided: a pending item being decided is its
    normal course, not a correction) and the *correction rate* (corrected / decided
    decisions), and decisions edited after QA had audited them (label or policy)."""
    return gw.frame(*sql.vendor_integrity())


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
    return gw.frame(*sql.orphan_audits(limit))


def freshness(gw: Engine, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Per vendor: newest decision, hours since, and whether it is older than the threshold."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    out = gw.frame(*sql.freshness())
    import pandas as pd

    newest = pd.to_datetime(out[["last_decided_at", "last_enqueued_at"]].max(axis=1), utc=True)
    out["hours_since_data"] = (pd.Timestamp(as_of) - newest).dt.total_seconds() / 3600
    out["fresh"] = out["hours_since_data"] <= gw.config.freshness_hours
    return out


def freshness_columns(gw: Engine, as_of: dt.datetime | None = None) -> Columns:
    """`freshness` as numpy columns (`kpi.columns`), without pandas, with `newest` (the later
    of the two times, UTC datetime64; NaT and NaN hours for a vendor with neither)."""
    as_of = as_of or dt.datetime.now(dt.UTC)
    out = gw.columns(*sql.freshness())
    decided = out["last_decided_at"].astype("datetime64[us]")
    enqueued = out["last_enqueued_at"].astype("datetime64[us]")
    newest = np.where(np.isnat(decided), enqueued, decided)
    later = ~np.isnat(enqueued) & (enqueued > newest)
    newest[later] = enqueued[later]
    since = (utc_datetime64(as_of) - newest).astype("int64") / 3_600e6
    out["newest"] = newest
    out["hours_since_data"] = np.where(np.isnat(newest), np.nan, since)
    with np.errstate(invalid="ignore"):
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
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)  # SciPy's norm.ppf, without SciPy
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
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)
