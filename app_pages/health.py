"""Data health: can the numbers on the other pages be trusted? Freshness per vendor, whether QA
audits enough to estimate each vendor x workflow's quality score, ingest runs with their
reconciliation, rejected rows with their reasons, and audits whose decision never arrived.

Which filters apply: freshness follows the sidebar's vendor filter; QA coverage adequacy follows
every sidebar filter and the date window (audits belong to their decision's day). Ingest runs,
rejected rows and orphan audits are about the whole database (within the viewer's role) and
ignore the filters. Raw rejected rows are shown only to roles that may see people's data (the
gateway blanks them for other roles).
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import streamlit as st

from app_pages import common
from kpi import health

MARGINS_PP = (1, 2, 3, 4, 5, 7, 10)  # ± percentage points offered for the quality estimate
CONFIDENCE = 0.95
RUN_LIMIT = 200
REJECT_LIMIT = 1000
ORPHAN_LIMIT = 1000

st.title("Data health")
f = common.filters()
cfg = common.config()
role = cfg.roles.get(common.context().role)
may_see_raw = bool(role and role.see_reviewers)

# Freshness is measured at the current minute (the cache key), so it never lags by the cache TTL.
now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
freshness = common.call(health.freshness, now)
vendor_filter = f.where.get("vendor", ())
if vendor_filter:
    freshness = freshness[freshness["vendor"].isin(vendor_filter)]
runs = common.call(health.ingest_runs, RUN_LIMIT)
orphans = common.call(health.orphan_audits, ORPHAN_LIMIT)
reasons = common.call(health.rejection_reasons)
rejected = common.call(health.rejected_rows, None, REJECT_LIMIT)

headline = st.container()  # filled once the adequacy margin is known

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
    st.dataframe(
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
        hide_index=True,
        column_config={
            "vendor": "Vendor",
            "last_decided_at": "Last decided (UTC)",
            "last_enqueued_at": "Last enqueued (UTC)",
            "hours_since_data": st.column_config.NumberColumn("Hours since", format="%.1f"),
            "pending": "Pending now",
            "status": "Status",
        },
    )

# --- QA coverage adequacy ------------------------------------------------------------------------

st.subheader("QA coverage adequacy")
margin_pp = st.select_slider(
    "Margin of error for the quality score (± percentage points)",
    MARGINS_PP,
    value=5,
    key="health_margin",
    bind="query-params",
    help="QA coverage is adequate when a vendor x workflow has enough audits in the window to "
    "estimate its quality score to within this margin at 95% confidence.",
)
adequacy = common.call(health.qa_coverage_adequacy, f.query(), margin_pp / 100, CONFIDENCE)
st.markdown(
    f"Audits needed to estimate each vendor x workflow's quality score to **±{margin_pp} "
    f"percentage points** at {CONFIDENCE:.0%} confidence over {f.describe()}: "
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
    groups = view["vendor"] + " · " + view["workflow"]
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
    st.dataframe(
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
    m = st.columns(5)
    m[0].metric(
        "Vendors with stale data",
        f"{stale} of {len(freshness)}",
        help=f"No new decision for more than {cfg.freshness_hours:g} hours.",
    )
    m[1].metric(
        "QA coverage adequate",
        f"{adequate} of {len(adequacy)}",
        help="Vendor x workflow groups with enough audits for the chosen margin.",
    )
    m[2].metric("Ingest runs", f"{len(runs):,}", help=f"The latest {RUN_LIMIT} at most.")
    m[3].metric(
        "Rejected rows",
        f"{int(runs['rows_rejected'].sum()):,}",
        help="Over the listed ingest runs.",
    )
    m[4].metric(
        "Orphan audits", f"{len(orphans):,}", help="Audits whose decision has not arrived (yet)."
    )

# --- ingest runs ---------------------------------------------------------------------------------

st.subheader("Ingest runs")
st.caption("Every input row is inserted, updated, unchanged or rejected; newest run first.")
if runs.empty:
    common.empty_state("No ingest run recorded.")
else:
    st.dataframe(runs, hide_index=True)

# --- rejected rows -------------------------------------------------------------------------------

st.subheader("Rejected rows")
if rejected.empty:
    st.success("No rejected rows.", icon=":material/check_circle:")
else:
    st.markdown("**By reason**")
    st.dataframe(
        reasons.rename(
            columns={"run_id": "Run", "file": "File", "reason": "Reason", "rows": "Rows"}
        ),
        hide_index=True,
    )
    st.markdown(
        "**Rows**" + (f" (latest {REJECT_LIMIT:,})" if len(rejected) >= REJECT_LIMIT else "")
    )
    cols = ["run_id", "file", "source_line", "reason"] + (["raw"] if may_see_raw else [])
    st.dataframe(
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

# --- orphan audits -------------------------------------------------------------------------------

st.subheader("Orphan audits")
st.caption(
    "Audits whose decision has not arrived: they count in no KPI until it does. Usually a "
    "vendor file that is late or missing rows."
)
if orphans.empty:
    st.success("No orphan audits.", icon=":material/check_circle:")
else:
    st.dataframe(orphans, hide_index=True)
