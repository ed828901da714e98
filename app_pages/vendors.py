"""Vendor comparison: every KPI side by side for the sidebar's window and filters, each vendor's
value against its target, with the status in words and the vendor's rank on that KPI.

Numbers, targets, statuses, ranks and their wording come from `kpi.compare` (the same frame and
text `bpo-kpi scorecard` prints): each vendor is held to its own targets per workflow
(per-vendor overrides honoured), combined over its workflows by volume; ranks respect each
KPI's direction (1 = best; ties share a rank; volumes and the dispute rate are not ranked; the
backlog and pending disputes are ranked per 1,000 decisions / audits). The chart's KPI is bound
to the URL (`vendors_chart`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import common
from app_pages.text import md, plot_text
from kpi.catalog import KPIS
from kpi.compare import (
    rank_text,
    readable_scorecard,
    single_workflow,
    target_summary,
    value_text,
    vendor_comparison,
)

DIRECTION_TEXT = {"higher": "↑ higher is better", "lower": "↓ lower is better", "neutral": "–"}


def cell(row: pd.Series) -> str:
    """One vendor's value on one KPI: value (interval, n) · rank · status against the target."""
    text = value_text(row)
    if pd.notna(row["rank"]):
        text += f" · {rank_text(row)}"
    if row["status"] == "met":
        text += f" · ✔ meets {common.fmt(row['kpi'], row['target'])}"
    elif row["status"] == "missed":
        text += f" · ✘ misses {common.fmt(row['kpi'], row['target'])}"
    return text


st.title("Vendor comparison")
f = common.filters()
query = f.query()
workflow = single_workflow(query)
st.caption(
    f"{f.describe()} · targets: "
    + (
        f"workflow **{md(workflow)}** (each vendor's own where set)"
        if workflow
        else "each vendor's per workflow, weighted by its volume in each"
    )
)
comparison = common.call(vendor_comparison, query)
if comparison.empty:
    common.empty_state("No decisions for these filters. Widen the dates or clear a filter.")
    st.stop()
vendors = sorted(comparison["vendor"].unique())

# --- targets met per vendor -----------------------------------------------------------------------

summary = target_summary(comparison).set_index("vendor")
cols = st.columns(min(len(vendors), 6))
for i, vendor in enumerate(vendors):
    s = summary.loc[vendor]
    missed = comparison[(comparison["vendor"] == vendor) & (comparison["status"] == "missed")]
    with cols[i % len(cols)]:
        st.metric(f"{md(vendor)}: targets met", f"{s['met']} of {s['with_target']}", border=True)
        if len(missed):
            st.caption("✘ Misses: " + ", ".join(missed["label"]))

# --- every KPI side by side ----------------------------------------------------------------------

st.subheader("Every KPI, side by side")
st.caption(
    "Each cell: value (95% interval and n, where it has them) · rank among the vendors (#1 = "
    "best in the KPI's direction; ties share a rank; the backlog and pending disputes per 1,000 "
    "decisions / audits) · status against that vendor's target. Kappa on fewer than "
    f"{common.config().monitor.min_kappa_audits} audits is not shown, judged or ranked."
)
comparison = comparison.assign(cell=comparison.apply(cell, axis=1))
matrix = comparison.pivot(index="kpi", columns="vendor", values="cell")
order = [k for k in KPIS if k in matrix.index]
matrix = matrix.loc[order, vendors]
matrix.columns.name = None
matrix.insert(0, "Better", [DIRECTION_TEXT[KPIS[k].direction] for k in order])
matrix.insert(0, "KPI", [KPIS[k].label for k in order])
common.dataframe(
    matrix.reset_index(drop=True),
    hide_index=True,
    column_config={
        "KPI": st.column_config.TextColumn(pinned=True),
        # wide enough for a value with its interval, n, rank and status (scrolls sideways)
        **{v: st.column_config.TextColumn(width="large") for v in vendors},
    },
)

# --- chart ----------------------------------------------------------------------------------------

st.subheader("One KPI by vendor")
ranked_kpis = [k for k in KPIS if k in set(comparison["kpi"])]
chart_kpi = st.selectbox(
    "KPI",
    ranked_kpis,
    index=ranked_kpis.index("quality_score") if "quality_score" in ranked_kpis else 0,
    format_func=common.label,
    key="vendors_chart",
    bind="query-params",
)
part = comparison[comparison["kpi"] == chart_kpi].sort_values("vendor")
# No bar for a kappa on too few audits (the table says "too few audits").
part = part.assign(**{c: part[c].where(part["enough"]) for c in ("value", "low", "high")})
kpi = KPIS[chart_kpi]
fig = go.Figure(
    go.Bar(
        x=part["vendor"].map(plot_text),
        y=part["value"],
        name=kpi.label,
        error_y=None
        if part["low"].isna().all()
        else {
            "type": "data",
            "symmetric": False,
            "array": part["high"] - part["value"],
            "arrayminus": part["value"] - part["low"],
        },
        text=[common.fmt(chart_kpi, v) for v in part["value"]],
        textposition="inside",
        hovertemplate="%{x}: %{text}<extra></extra>",
    )
)
if part["target"].notna().any():
    fig.add_trace(
        go.Scatter(
            x=part["vendor"].map(plot_text),
            y=part["target"],
            mode="markers",
            name="Target",
            marker={"symbol": "line-ew-open", "size": 40, "line": {"width": 3, "color": "black"}},
            hovertemplate="target %{y}<extra></extra>",
        )
    )
fig.update_layout(
    yaxis_title=kpi.label + (f" ({kpi.interval_method})" if kpi.interval else ""),
    yaxis_tickformat=".0%" if kpi.unit == "share" else None,
    height=380,
    margin={"t": 20},
)
st.plotly_chart(fig, key="vendors_kpi_chart")

# --- long table -----------------------------------------------------------------------------------

st.subheader("Details")
detail = readable_scorecard(comparison)
detail.insert(4, "n", ["" if pd.isna(n) else f"{int(n):,}" for n in comparison["n"]])
detail["Ranked vendors"] = comparison["ranked"]
common.dataframe(detail, hide_index=True)
