"""Vendor comparison: every KPI side by side for the sidebar's window and filters, each vendor's
value against its target, with the status in words and the vendor's rank on that KPI.

Numbers, targets, statuses and ranks come from `kpi.compare.vendor_comparison` (the same frame an
export or the CLI would use): targets are those of the one filtered workflow when exactly one is
selected, else the default targets; ranks respect each KPI's direction (1 = best; ties share a
rank; volumes and the dispute rate are not ranked). The chart's KPI is bound to the URL
(`vendors_chart`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import common
from app_pages.text import md, plot_text
from kpi import targets
from kpi.catalog import KPIS
from kpi.compare import single_workflow, target_summary, vendor_comparison

DIRECTION_TEXT = {"higher": "↑ higher is better", "lower": "↓ lower is better", "neutral": "–"}
STATUS_WORDS = {**targets.STATUS_WORDS, "no target": "no target"}


def value_text(row: pd.Series) -> str:
    """The value; a kappa with its interval and n (`κ 0.71 (0.62–0.80, n=340)`), or "too few
    audits" below the minimum n."""
    if KPIS[row["kpi"]].unit != "kappa":
        return common.fmt(row["kpi"], row["value"])
    minimum = targets.min_shown(common.config(), row["kpi"])
    return targets.interval_text(
        row["kpi"], row["value"], row["low"], row["high"], row["n"], minimum
    )


def cell(row: pd.Series) -> str:
    """One vendor's value on one KPI: value · rank · status against the target."""
    text = value_text(row)
    if pd.notna(row["rank"]):
        text += f" · #{int(row['rank'])}"
    if row["status"] == "met":
        text += f" · ✔ meets {common.fmt(row['kpi'], row['target'])}"
    elif row["status"] == "missed":
        text += f" · ✘ misses {common.fmt(row['kpi'], row['target'])}"
    return text


def interval(row: pd.Series) -> str:
    if pd.isna(row["low"]) or not row["enough"]:
        return ""
    return f"{common.fmt(row['kpi'], row['low'])} – {common.fmt(row['kpi'], row['high'])}"


st.title("Vendor comparison")
f = common.filters()
query = f.query()
workflow = single_workflow(query)
st.caption(
    f"{f.describe()} · targets: "
    + (
        f"workflow **{md(workflow)}**"
        if workflow
        else "default (filter to one workflow for its own)"
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
    "Each cell: value · rank among the vendors (#1 = best in the KPI's direction; ties share a "
    "rank) · status against that vendor's target. Kappa with its 95% interval and its n "
    f"(audits); on fewer than {common.config().monitor.min_kappa_audits} audits it is not "
    "shown, judged or ranked."
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
    column_config={"KPI": st.column_config.TextColumn(pinned=True)},
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
detail = pd.DataFrame(
    {
        "KPI": comparison["label"],
        "Vendor": comparison["vendor"],
        "Value": comparison.apply(value_text, axis=1),
        "95% interval": comparison.apply(interval, axis=1),
        "n": comparison["n"].astype("Int64"),
        "Target": [
            "" if pd.isna(t) else common.fmt(k, t)
            for k, t in zip(comparison["kpi"], comparison["target"], strict=True)
        ],
        "Status": comparison["status"].map(STATUS_WORDS),
        "Rank": comparison["rank"],
        "Ranked vendors": comparison["ranked"],
    }
)
common.dataframe(detail, hide_index=True)
