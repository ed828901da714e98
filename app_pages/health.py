"""Data health: can the numbers on the other pages be trusted? What needs action comes first:
ingest runs that loaded nothing (and whose file has not been loaded since), stored times outside
the plausible range, freshness per vendor, rejected rows (with how to retry them), warnings on
rows that were loaded, and vendor integrity (corrections, edits after QA audit). Then whether QA
audits enough to estimate each vendor x workflow's quality score, every ingest run with its
reconciliation, and audits whose decision never arrived.

Which filters apply: freshness, vendor integrity and edits after audit follow the sidebar's
vendor filter; audit sample adequacy follows every sidebar filter and the date window, up to the
last day whose audits are complete (audits belong to their decision's day; the same days as QA
coverage on the Overview). Ingest runs, rejected rows, warnings and orphan audits are
about the whole database (within the viewer's role) and ignore the filters. Raw rejected rows
and warning values are shown only to roles that may see people's data (the gateway blanks them
for other roles).

Everything that came from a file (values, reasons, file names, vendor names, errors) is shown
in tables (`st.dataframe`), never as Markdown; messages written here carry only numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import access, common, timefmt
from app_pages.text import plot_text
from kpi import health, monitor

MARGINS_PP = (1, 2, 3, 4, 5, 7, 10)  # ± percentage points offered for the quality estimate
CONFIDENCE = 0.95
RUN_LIMIT = 200
ACCESS_LOG_ROWS = 500
REJECT_LIMIT = 1000
WARNING_LIMIT = 1000
EDIT_LIMIT = 1000
ORPHAN_LIMIT = 1000

RUN_STATUS = {
    "failed": "failed: the file could not be loaded",
    "rolled_back": "rolled back: another file of the same command failed",
    "interrupted": "interrupted: the ingest ended before its commit",
}
# Rows tall enough for a whole-file failure's reason to wrap (a missing column's message lists
# the columns found); the summaries by reason get three lines.
UNFINISHED_ROW_HEIGHT = 112
SUMMARY_ROW_HEIGHT = 76
# Ingest runs: the reconciliation first, where the table is read without scrolling sideways.
RUN_ORDER = ["run_id", "status", "kind", "vendor", "rows_read", "rows_inserted", "rows_updated",
             "rows_unchanged", "rows_stale", "rows_rejected", "warnings", "file", "started_at",
             "finished_at", "error", "retry_of"]  # fmt: skip
TABLE_LABELS = {
    "decisions": "Decisions",
    "audit_facts": "QA audits",
    "calibration_ratings": "Calibration ratings",
}
RUN_COLUMNS: dict[str, Any] = {
    "run_id": "Run",
    "kind": "Kind",
    "vendor": "Vendor",
    "file": st.column_config.TextColumn("File", width="medium"),
    "rows_read": "Read",
    "rows_inserted": "Inserted",
    "rows_updated": "Updated",
    "rows_unchanged": "Unchanged",
    "rows_stale": "Stale",
    "rows_rejected": "Rejected",
    "warnings": "Warnings",
    "status": st.column_config.TextColumn("Status", width=120),
    "error": st.column_config.TextColumn("Error", width="large"),
    "retry_of": "Retry of",
}


def reason(file: str, error: object) -> str:
    """A failed run's error without the file's path in front (the table shows the file)."""
    text = "" if error is None or pd.isna(error) else str(error)
    return text.removeprefix(f"{file}: ")


def plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def change(old: object, new: object) -> str:
    """`old → new`, or the one value when it did not change; `–` for an empty value."""
    before, after = ("–" if pd.isna(v) or v == "" else str(v) for v in (old, new))
    return before if before == after else f"{before} → {after}"


st.title("Data health")
f = common.filters()
cfg = common.config()
tz = cfg.reporting_timezone  # every time below is shown in it, the zone named in the label
role = cfg.roles.get(common.context().role)
may_see_raw = bool(role and role.see_reviewers)
vendor_filter = f.where.get("vendor", ())


def for_vendors(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the vendors the sidebar filters to (all without a vendor filter)."""
    return frame[frame["vendor"].isin(vendor_filter)] if vendor_filter else frame


# Freshness is measured at the current minute (the cache key), so it never lags by the cache TTL.
now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
freshness = for_vendors(common.call(health.freshness, now))
runs = common.call(health.ingest_runs, RUN_LIMIT)
unfinished = common.call(health.unfinished_runs)
implausible = common.call(health.implausible_values)
reasons = common.call(health.rejection_reasons)
rejected = common.call(health.rejected_rows, None, REJECT_LIMIT)
warning_kinds = common.call(health.warning_summary)
warning_rows = common.call(health.ingest_warnings, None, WARNING_LIMIT)
integrity = for_vendors(common.call(health.vendor_integrity))
edits = for_vendors(common.call(health.edits_after_audit, EDIT_LIMIT))
orphans = common.call(health.orphan_audits, ORPHAN_LIMIT)

headline = st.container()  # filled once the adequacy margin is known

# --- runs that loaded nothing --------------------------------------------------------------------

with st.container(key="health_unfinished"):
    st.subheader("Runs that loaded nothing")
    if unfinished.empty:
        st.success(
            "No file is missing: every failed, rolled back or interrupted run (if any) has "
            "had its file loaded since.",
            icon=":material/check_circle:",
        )
    else:
        n = len(unfinished)
        st.error(
            f"{n} ingest run{'s' if n != 1 else ''} loaded nothing, and "
            f"{'their files have' if n != 1 else 'its file has'} not been loaded since: the "
            "rows they should have brought are missing from every "
            "KPI. Fix the cause given in each row (re-export the file, or fix the vendor "
            "mapping) and ingest the file again; a later successful load of the same file "
            "clears it from this list.",
            icon=":material/error:",
        )
        st.caption(
            "Status: " + "; ".join(RUN_STATUS.values()) + ". Newest first; the reason is the "
            "ingest's own message."
        )
        common.dataframe(
            unfinished.assign(why=list(map(reason, unfinished["file"], unfinished["error"]))),
            hide_index=True,
            column_order=["run_id", "status", "kind", "vendor", "file", "why"],
            column_config={
                **RUN_COLUMNS,
                "file": st.column_config.TextColumn("File", width="medium"),
                "why": st.column_config.TextColumn("Why", width="large"),
            },
            row_height=UNFINISHED_ROW_HEIGHT,
        )

# --- stored times outside the plausible range ----------------------------------------------------

if not implausible.empty:
    with st.container(key="health_implausible"):
        st.subheader("Stored times outside the plausible range")
        lo, hi = (cfg.ingest.earliest_timestamp, cfg.ingest.max_future_days)
        st.warning(
            f"The database holds times before {lo:%d %b %Y} or more than {hi:g} days in the "
            "future (written before ingest checked them, or by another tool). Every page and "
            "the CLI read those rows as ingest would load them today: a row whose enqueued, "
            "decided, audited or session time is out of range is left out of every KPI, list "
            "and filter (an audit of a left-out decision counts as an orphan); an out-of-range "
            "claimed, due or update time reads as empty. Load the vendor's corrected rows to "
            "bring them back.",
            icon=":material/event_busy:",
        )
        common.dataframe(
            implausible.assign(table=[TABLE_LABELS.get(t, t) for t in implausible["table"]]),
            hide_index=True,
            column_config={
                "table": "Table",
                "column": "Column",
                "rows": "Rows",
                "earliest": "Earliest such value",
                "latest": "Latest such value",
                "treatment": "Read as",
            },
        )

# --- freshness -----------------------------------------------------------------------------------

st.subheader("Freshness per vendor")
st.caption(
    f"Newest decision event (decided or enqueued) per vendor; stale after "
    f"{cfg.freshness_hours:g} hours without one."
)
if freshness.empty:
    common.empty_state("No decisions for these vendors.")
else:
    fresh_view = freshness.assign(
        status=[
            "fresh" if ok else f"stale (> {cfg.freshness_hours:g} h)" for ok in freshness["fresh"]
        ]
    )
    common.dataframe(
        timefmt.local_times(
            fresh_view[
                [
                    "vendor",
                    "last_decided_at",
                    "last_enqueued_at",
                    "hours_since_data",
                    "pending",
                    "status",
                ]
            ],
            ("last_decided_at", "last_enqueued_at"),
            tz,
        ),
        hide_index=True,
        column_config={
            "vendor": "Vendor",
            "last_decided_at": timefmt.column("Last decided", tz),
            "last_enqueued_at": timefmt.column("Last enqueued", tz),
            "hours_since_data": st.column_config.NumberColumn("Hours since", format="%.1f"),
            "pending": "Pending now",
            "status": "Status",
        },
    )

# --- rejected rows -------------------------------------------------------------------------------

outstanding = int(reasons["rows"].sum())
with st.container(key="health_rejected"):
    st.subheader("Rejected rows")
    if rejected.empty:
        st.success("No rejected rows waiting.", icon=":material/check_circle:")
    else:
        st.markdown(
            f"{plural(outstanding, 'row was', 'rows were')} not loaded and "
            f"{'counts' if outstanding == 1 else 'count'} in no KPI. "
            "After fixing the vendor "
            "mapping or the configuration (a label synonym, a date format, a time zone), "
            "`bpo-kpi retry RUN` validates that run's rejected rows again and loads those now "
            "valid; they then leave this list."
        )
        st.markdown("**By reason**")
        common.dataframe(
            reasons.assign(retry=[f"bpo-kpi retry {r}" for r in reasons["run_id"]]).rename(
                columns={"run_id": "Run", "file": "File", "reason": "Reason", "rows": "Rows"}
            ),
            hide_index=True,
            column_config={
                "Reason": st.column_config.TextColumn("Reason", width="large"),
                "retry": "Retry with",
            },
            row_height=SUMMARY_ROW_HEIGHT,
        )
        st.markdown(
            "**Rows**" + (f" (latest {REJECT_LIMIT:,})" if len(rejected) >= REJECT_LIMIT else "")
        )
        cols = ["run_id", "file", "source_line", "reason"] + (["raw"] if may_see_raw else [])
        common.dataframe(
            rejected[cols],
            hide_index=True,
            column_config={
                "run_id": "Run",
                "file": "File",
                "source_line": "Line",
                "reason": st.column_config.TextColumn("Reason", width="large"),
                "raw": "Raw row",
            },
        )
        if not may_see_raw:
            st.caption("Raw row content is hidden for your role.")

# --- warnings ------------------------------------------------------------------------------------

n_warnings = int(warning_kinds["rows"].sum())
with st.container(key="health_warnings"):
    st.subheader("Warnings: rows loaded with a field fixed")
    if warning_kinds.empty:
        st.success("No warnings.", icon=":material/check_circle:")
    else:
        st.markdown(
            f"{plural(n_warnings, 'field', 'fields')} of rows that *were* loaded "
            f"{'was' if n_warnings == 1 else 'were'} clamped, emptied or kept with a fallback "
            "(an unknown error type counts as `other`). The rows count in the "
            "KPIs; the fields below are what to fix in the vendor's export."
        )
        st.markdown("**By run, column and kind**")
        common.dataframe(
            warning_kinds,
            hide_index=True,
            column_config={
                "run_id": "Run",
                "vendor": "Vendor",
                "file": "File",
                "column_name": "Column",
                "warning": st.column_config.TextColumn("Warning", width="large"),
                "rows": "Rows",
            },
            row_height=SUMMARY_ROW_HEIGHT,
        )
        st.markdown(
            "**Rows**"
            + (f" (latest {WARNING_LIMIT:,})" if len(warning_rows) >= WARNING_LIMIT else "")
        )
        cols = ["run_id", "file", "source_line", "column_name"]
        cols += (["value"] if may_see_raw else []) + ["reason"]
        common.dataframe(
            warning_rows[cols],
            hide_index=True,
            column_config={
                "run_id": "Run",
                "file": "File",
                "source_line": "Line",
                "column_name": "Column",
                "value": "Value as read",
                "reason": st.column_config.TextColumn("What was done", width="large"),
            },
        )
        if not may_see_raw:
            st.caption("Values as read are hidden for your role.")

# --- vendor integrity ----------------------------------------------------------------------------

with st.container(key="health_integrity"):
    st.subheader("Vendor integrity")
    st.markdown(
        "*Correction rate*: decisions changed after their first decided version, per decided "
        "decision. *Edited after QA audit*: decisions whose label or policy changed after QA "
        "had audited them. **Audits stay scored against the version QA saw**, so an edit does "
        "not change the quality score; frequent edits after audit are a red flag for the "
        "score's integrity (the Overview alerts on them)."
    )
    if integrity.empty:
        common.empty_state("No decisions for these vendors.")
    else:
        common.dataframe(
            timefmt.local_times(integrity, ("last_edit",), tz),
            hide_index=True,
            column_config={
                "vendor": "Vendor",
                "decided": "Decided",
                "corrected": "Corrected",
                "correction_rate": st.column_config.NumberColumn(
                    "Correction rate", format="percent"
                ),
                "edited_after_audit": "Edited after QA audit",
                "edits": "Edits",
                "last_edit": timefmt.column("Last edit", tz, "YYYY-MM-DD HH:mm"),
            },
        )

with st.container(key="health_edits"):
    st.markdown(
        "**Edits after QA audit**"
        + (f" (latest {EDIT_LIMIT:,})" if len(edits) >= EDIT_LIMIT else "")
    )
    if edits.empty:
        st.success("No decision was edited after its QA audit.", icon=":material/check_circle:")
    else:
        edit_view = edits.assign(
            label=list(map(change, edits["old_decision"], edits["new_decision"])),
            policy=list(map(change, edits["old_policy"], edits["new_policy"])),
        )
        common.dataframe(
            timefmt.local_times(edit_view, ("recorded_at",), tz)[
                [
                    "recorded_at",
                    "run_id",
                    "vendor",
                    "workflow",
                    "market",
                    "decision_id",
                    "audits",
                    "label",
                    "policy",
                ]
            ],  # fmt: skip
            hide_index=True,
            column_config={
                "recorded_at": timefmt.column("Loaded", tz, "YYYY-MM-DD HH:mm"),
                "run_id": "Run",
                "vendor": "Vendor",
                "workflow": "Workflow",
                "market": "Market",
                "decision_id": "Decision",
                "audits": "Audits",
                "label": "Label (old → new)",
                "policy": "Policy (old → new)",
            },
        )

# --- QA coverage adequacy ------------------------------------------------------------------------

st.subheader("Audit sample adequacy")
margin_pp = st.select_slider(
    "Margin of error for the quality score (± percentage points)",
    MARGINS_PP,
    value=5,
    key="health_margin",
    bind="query-params",
    help="A vendor x workflow's audit sample is adequate when it has enough audits in the "
    "window to estimate its quality score to within this margin at 95% confidence. (QA "
    "coverage, the share of decisions audited, is another number: its target is on the "
    "Overview.)",
)
# The same days as QA coverage on the Overview: those whose audits are complete.
complete = common.call(monitor.audits_complete_through)
sample_end = max(f.start, min(f.end, complete))
adequacy = common.call(
    health.qa_coverage_adequacy, f.query(end=sample_end), margin_pp / 100, CONFIDENCE
)
st.markdown(
    f"Audits needed to estimate each vendor x workflow's quality score to **±{margin_pp} "
    f"percentage points** at {CONFIDENCE:.0%} confidence, {f.start:%d %b} – {sample_end:%d %b} "
    "(days whose audits are complete, as for QA coverage): "
    "`z² p(1-p) / margin²`, corrected for the number of decisions in the window, where *p* is "
    "the larger of the target error rate (1 - quality target) and the observed error rate "
    "(1 % to 50 %)."
)
if adequacy.empty:
    common.empty_state("No decisions for these filters.")
else:
    view = adequacy.assign(
        status=[
            "✔ adequate"
            if s == "adequate"
            else f"✘ {s}: {short:,} more needed"
            if s == "too few audits"
            else s
            for s, short in zip(adequacy["status"], adequacy["shortfall"], strict=True)
        ]
    )
    groups = [
        plot_text(f"{v} · {w}") for v, w in zip(view["vendor"], view["workflow"], strict=True)
    ]
    fig = go.Figure(
        [
            go.Bar(x=groups, y=view["audits"], name="Audits"),
            go.Scatter(
                x=groups,
                y=view["required"],
                mode="markers",
                name="Required",
                marker={
                    "symbol": "line-ew-open",
                    "size": 22,
                    "line": {"width": 3, "color": "#d62728"},
                },
            ),
        ]
    )
    fig.update_layout(yaxis_title="Audits in the window", height=360, margin={"t": 20})
    st.plotly_chart(fig, key="health_adequacy_chart")
    common.dataframe(
        view[
            [
                "vendor",
                "workflow",
                "decisions",
                "audits",
                "required",
                "shortfall",
                "achieved_margin",
                "quality_score",
                "planning_error_rate",
                "status",
            ]
        ],
        hide_index=True,
        column_config={
            "vendor": "Vendor",
            "workflow": "Workflow",
            "decisions": "Decisions",
            "audits": "Audits",
            "required": "Required audits",
            "shortfall": "Shortfall",
            "achieved_margin": st.column_config.NumberColumn(
                "Achieved margin (±)", format="percent"
            ),
            "quality_score": st.column_config.NumberColumn("Quality score", format="percent"),
            "planning_error_rate": st.column_config.NumberColumn(
                "Planning error rate", format="percent"
            ),
            "status": "Status",
        },
    )

with headline:
    stale = int((~freshness["fresh"]).sum())
    adequate = int(adequacy["adequate"].sum())
    edited = int(integrity["edited_after_audit"].sum())
    action = st.columns(4)
    action[0].metric(
        "Runs that loaded nothing",
        f"{len(unfinished):,}",
        help="Failed, rolled back or interrupted ingest runs whose file has not been loaded since.",
    )
    action[1].metric(
        "Rejected rows",
        f"{outstanding:,}",
        help="Rows not loaded and not yet loaded by a retry (`bpo-kpi retry RUN`).",
    )
    action[2].metric(
        "Edited after QA audit",
        f"{edited:,}",
        help="Decisions whose label or policy a vendor changed after QA had audited them.",
    )
    action[3].metric(
        "Vendors with stale data",
        f"{stale} of {len(freshness)}",
        help=f"No new decision for more than {cfg.freshness_hours:g} hours.",
    )
    info = st.columns(4)
    info[0].metric(
        "Warnings",
        f"{n_warnings:,}",
        help="Fields of loaded rows that ingest clamped, emptied or kept with a fallback.",
    )
    info[1].metric(
        "Audit sample adequate",
        f"{adequate} of {len(adequacy)}",
        help="Vendor x workflow groups with enough audits for the chosen margin.",
    )
    info[2].metric(
        "Orphan audits", f"{len(orphans):,}", help="Audits whose decision has not arrived (yet)."
    )
    info[3].metric("Ingest runs", f"{len(runs):,}", help=f"The latest {RUN_LIMIT} at most.")

# --- ingest runs ---------------------------------------------------------------------------------

with st.container(key="health_runs"):
    st.subheader("Ingest runs")
    st.caption(
        "Newest run first. Every input row is inserted, updated, unchanged, stale (an older "
        "version re-sent: not applied) or rejected, so read = inserted + updated + unchanged + "
        "stale + rejected; warnings count fields of loaded rows that were fixed."
    )
    if runs.empty:
        common.empty_state("No ingest run recorded.")
    else:
        common.dataframe(
            timefmt.local_times(runs, ("started_at", "finished_at"), tz),
            hide_index=True,
            column_order=RUN_ORDER,
            column_config={
                **RUN_COLUMNS,
                "started_at": timefmt.column("Started", tz),
                "finished_at": timefmt.column("Finished", tz),
            },
        )

# --- orphan audits -------------------------------------------------------------------------------

st.subheader("Orphan audits")
st.caption(
    "Audits whose decision has not arrived: they count in no KPI until it does. Usually a "
    "vendor file that is late or missing rows."
)
if orphans.empty:
    st.success("No orphan audits.", icon=":material/check_circle:")
else:
    common.dataframe(
        timefmt.local_times(orphans, ("audited_at",), tz),
        hide_index=True,
        column_config={"audited_at": timefmt.column("audited_at", tz)},
    )

# --- access log (admins) --------------------------------------------------------------------------

if role is not None and not role.restricted:
    st.subheader("Access log")
    st.caption(
        "Who signed in with which role, who was refused (signed in, no role), each change of "
        "page or filters, and each download or export; newest first (the last 500). Kept in "
        "the state file beside the database; shown to unrestricted roles only."
    )
    events = access.access_log(common.context().db, ACCESS_LOG_ROWS)
    with st.container(key="health_access"):
        if not events:
            common.empty_state("No access recorded yet.")
        else:
            log = pd.DataFrame(events, columns=["at", "who", "role", "event", "page", "detail"])
            common.dataframe(
                timefmt.local_times(log, ("at",), tz),
                hide_index=True,
                key="access_log",
                column_config={"at": timefmt.column("At", tz)},
            )
