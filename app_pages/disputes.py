"""Disputes: how often vendors dispute QA's errors and how often QA is overturned (with counts
and 95% intervals), the quality score as QA first said and after overturns, how long
resolution takes, and the disputes that have waited longer than `monitor.dispute_pending_days`.

Every number comes from `kpi.disputes` (the catalog's dispute KPIs and the pending list), for
the sidebar's window and filters; the pending list is the state at the window's end (its
start does not apply: a dispute raised earlier may still be waiting). The daily monitor alerts
on the same list (`dispute_pending`, on the Overview and `bpo-kpi alerts`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import common
from app_pages.text import md, plot_text
from kpi import targets
from kpi.disputes import dispute_table, pending_disputes

BEFORE, AFTER = "quality_score_before_disputes", "quality_score"


def with_n(kpi: str, row: pd.Series, n: str) -> str:
    """`12.3% (10.1%–14.8%, n=1,234)`: the value, its 95% interval and its n."""
    return targets.interval_text(
        kpi, row.get(kpi), row.get(f"{kpi}_low"), row.get(f"{kpi}_high"), row.get(n)
    )


def headline(row: pd.Series, pending_old: int, days: float) -> None:
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric(common.label("dispute_rate"), common.fmt("dispute_rate", row.get("dispute_rate")),
              help="Disputed error audits / error audits (error types that count).",
              border=True)  # fmt: skip
    c1.caption(
        f"{with_n('dispute_rate', row, 'error_typed')} · {int(row.get('disputed', 0)):,} of "
        f"{int(row.get('error_typed', 0)):,} error audits disputed"
    )
    c2.metric(common.label("overturn_rate"), common.fmt("overturn_rate", row.get("overturn_rate")),
              help="Overturned / resolved disputes.", border=True)  # fmt: skip
    c2.caption(
        f"{with_n('overturn_rate', row, 'dispute_resolved')} · {int(row.get('overturned', 0)):,}"
        f" of {int(row.get('dispute_resolved', 0)):,} resolved disputes overturned"
    )
    before, after = row.get(BEFORE), row.get(AFTER)
    change = (after - before) * 100 if pd.notna(before) and pd.notna(after) else None
    c3.metric("Quality after disputes", common.fmt(AFTER, after), border=True,
              delta=None if change is None else f"{change:+.1f} pp vs before",
              delta_color="off")  # fmt: skip
    c3.caption(f"before {with_n(BEFORE, row, 'audits')}; after {with_n(AFTER, row, 'audits')}")
    median = row.get("dispute_resolution_p50")
    c4.metric("Median time to resolve", common.fmt("dispute_resolution_p50", median),
              border=True)  # fmt: skip
    c4.caption(f"over {int(row.get('dispute_timed', 0)):,} resolved disputes with both times")
    c5.metric(f"Pending > {days:g} days", f"{pending_old:,}", border=True)
    c5.caption(
        f"raised at any time, still pending at the window's end; "
        f"{int(row.get('disputes_pending', 0)):,} of this window's audits are pending"
    )


def vendor_table(by_vendor: pd.DataFrame) -> None:
    shown = pd.DataFrame(
        {
            "Vendor": by_vendor["vendor"].astype(str),
            "Dispute rate": [with_n("dispute_rate", r, "error_typed")
                             for _, r in by_vendor.iterrows()],
            "Disputed": by_vendor["disputed"],
            "Error audits": by_vendor["error_typed"],
            "Overturn rate": [with_n("overturn_rate", r, "dispute_resolved")
                              for _, r in by_vendor.iterrows()],
            "Overturned": by_vendor["overturned"],
            "Resolved": by_vendor["dispute_resolved"],
            "Quality before disputes": [common.fmt(BEFORE, v) for v in by_vendor[BEFORE]],
            "Quality after disputes": [common.fmt(AFTER, v) for v in by_vendor[AFTER]],
            "Pending": by_vendor["disputes_pending"],
            "Median time to resolve": [
                common.fmt("dispute_resolution_p50", v)
                for v in by_vendor["dispute_resolution_p50"]
            ],
        }
    )  # fmt: skip
    common.dataframe(shown, hide_index=True, key="disputes_by_vendor")


def quality_figure(by_vendor: pd.DataFrame) -> go.Figure:
    x = by_vendor["vendor"].map(plot_text)
    fig = go.Figure()
    for kpi, name, colour in ((BEFORE, "As QA first said", "#9aa5b1"),
                              (AFTER, "After overturns", "#1f77b4")):  # fmt: skip
        fig.add_trace(
            go.Bar(
                x=x, y=by_vendor[kpi], name=name, marker_color=colour,
                error_y={"type": "data", "symmetric": False,
                         "array": by_vendor[f"{kpi}_high"] - by_vendor[kpi],
                         "arrayminus": by_vendor[kpi] - by_vendor[f"{kpi}_low"]},
                customdata=[common.fmt(kpi, v) for v in by_vendor[kpi]],
                hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>",
            )
        )  # fmt: skip
    low = min(by_vendor[f"{BEFORE}_low"].min(), by_vendor[f"{AFTER}_low"].min())
    fig.update_layout(
        barmode="group", height=360, margin={"t": 20}, yaxis_tickformat=".0%",
        yaxis_title="Quality score (Wilson 95%)",
        yaxis_range=[max(0.0, (low if pd.notna(low) else 0.0) - 0.05), 1.0],
        legend={"orientation": "h", "y": 1.08},
    )  # fmt: skip
    return fig


def pending_table(pending: pd.DataFrame) -> None:
    shown = pd.DataFrame(
        {
            "Age (days)": pending["age_days"].round(1),
            "Raised": pd.to_datetime(pending["raised_at"], utc=True).dt.tz_convert(
                common.config().reporting_timezone).dt.strftime("%Y-%m-%d %H:%M"),
            "Vendor": pending["vendor"].astype(str),
            "Workflow": pending["workflow"].astype(str),
            "Market": pending["market"].astype(object).fillna("").astype(str),
            "Error type": pending["error_type"].astype(object).fillna("").astype(str),
            "Severity": pending["severity"].astype(object).fillna("").astype(str),
            "Audit": pending["audit_id"].astype(str),
            "Decision": pending["decision_id"].astype(str),
            "Auditor": pending["auditor_id"].astype(str),
            "Time": ["audit's (no dispute time)" if a else "dispute's"
                     for a in pending["raised_at_from_audit"]],
        }
    ).sort_values("Age (days)", ascending=False)  # fmt: skip
    common.dataframe(
        shown, hide_index=True, key="disputes_pending",
        column_config={"Age (days)": st.column_config.NumberColumn(format="%.1f")},
    )  # fmt: skip


st.title("Disputes")
f = common.filters()
days = common.config().monitor.dispute_pending_days
st.caption(
    f"{f.describe()} · audits of the decisions of this window; the pending list is the state at "
    "the window's end. A dispute counts from `disputed_at` (else the audit's time); a rate's n "
    "is the count it divides by."
)
overall = common.call(dispute_table, f.query())
by_vendor = common.call(dispute_table, f.query(by=("vendor",)))
pending = common.call(pending_disputes, f.query())
if overall.empty or int(overall.iloc[0].get("audits", 0)) == 0:
    common.empty_state("No QA audits for these filters, so no disputes to show.")
    st.stop()
headline(overall.iloc[0], len(pending), days)

st.subheader("By vendor")
vendor_table(by_vendor)
st.plotly_chart(quality_figure(by_vendor), key="disputes_quality_chart")
st.caption(
    "Quality score (1 − errors / audits) as QA first said and after overturned disputes, with "
    "Wilson 95% intervals. A large gap means QA's first call is often wrong, or disputes are "
    "granted easily; pending disputes still count as errors."
)

st.subheader(f"Disputes pending more than {days:g} days")
if pending.empty:
    st.success(f"No dispute has been pending more than {days:g} days.", icon=":material/check:")
else:
    oldest = pending["age_days"].max()
    st.markdown(
        f"**{len(pending):,}** disputes waiting for QA's answer, the oldest for "
        f"**{oldest:,.0f} days** (`monitor.dispute_pending_days` = {days:g}). By vendor: "
        + ", ".join(f"{md(v)} {n:,}" for v, n in pending.groupby("vendor").size().items())
    )
    pending_table(pending)
