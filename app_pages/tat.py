"""Turnaround & SLA: how fast vendors decide, whether they meet their SLAs, when they fall
behind, and how old the open backlog is.

Layout (top to bottom), every chart followed by its numbers in a table:
1. Priority selector (`tat_priority`, in the URL) — applies to the whole page — and headline
   tiles: decisions, SLA attainment against target, TAT p50 / p90, backlog, backlog past SLA.
2. TAT distribution: share of each vendor's decisions per log-spaced TAT bin (log x axis).
3. TAT p50 / p90 / p95 per period against the configured SLA of the priority (one panel per
   priority when all are shown: pooled priorities have no single SLA).
4. SLA attainment by vendor x workflow, coloured by the distance to that pair's target.
5. SLA attainment or TAT p90 (`tat_heat_kpi`) by the local weekday and hour of arrival.
6. Backlog ageing per vendor (and workflow), past-due items hatched.

All numbers come from kpi/ (`kpi_table`, `kpi.tat`) through `common.call`.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative, sequential
from plotly.subplots import make_subplots

from app_pages import actions_ui, common
from app_pages.text import md, plot_text
from kpi import targets, tat
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.targets import status

ALL = "All priorities"
NO_PRIORITY = "(none)"
MIN_CELL = 10  # hour x weekday cells with fewer decisions are left blank in the chart
HEADLINE_KPIS = ("decisions", "sla_attainment", "tat_p50", "tat_p90", "backlog", "backlog_over_sla")
QUANTILE_KPIS = ("decisions", "tat_p50", "tat_p90", "tat_p95")
QUANTILE_STYLE = {"tat_p50": "solid", "tat_p90": "dash", "tat_p95": "dot"}
HEAT_KPIS = ("sla_attainment", "tat_p90")
ATTAINMENT_COLUMNS = {
    "vendor": "Vendor",
    "workflow": "Workflow",
    "decisions": "Decisions",
    "sla_attainment": "SLA attainment",
    "sla_attainment_low": "95% low",
    "sla_attainment_high": "95% high",
    "target": "Target",
    "status": "Status",
    "vs_target": "Interval vs target",
}
STATUS_WORDS = targets.STATUS_WORDS


def minutes_text(value: float) -> str:
    return common.fmt("tat_p50", value)


def vendor_colors(vendors: list[str]) -> dict[str, str]:
    palette = qualitative.Safe
    return {v: palette[i % len(palette)] for i, v in enumerate(sorted(vendors))}


f = common.filters()
cfg = common.config()
tz = cfg.reporting_timezone
# Backlog instant: now, to the minute (so cached results are reused within a minute).
as_of = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)

st.title("Turnaround & SLA")

# --- priority and headline --------------------------------------------------------------------

by_priority = common.call(kpi_table, f.query(by=("priority",), kpis=("decisions",)))
in_data = {str(p) for p in by_priority["priority"].dropna()}
priorities = sorted(in_data | set(tat.configured_priorities(cfg)))
top = st.columns([1, 3])
priority = top[0].selectbox(
    "Priority",
    [ALL, *priorities],
    key="tat_priority",
    bind="query-params",
    help="Applies to the whole page. Each priority has its own SLA; pick one to see TAT "
    "against its SLA line.",
)
where = {} if priority == ALL else {"priority": (priority,)}
top[1].caption(
    f"{f.describe()} · {md(priority)}  \nDecisions belong to the local day ({tz}) they were "
    "decided; TAT = decided_at − enqueued_at."
)

headline = common.call(kpi_table, f.query(where=where, kpis=HEADLINE_KPIS), as_of).iloc[0]
if headline["decisions"] == 0 and headline["backlog"] == 0:
    common.empty_state("No decisions and no backlog for these filters. Widen the dates or filters.")
    st.stop()

sla_target = common.target("sla_attainment", f.single("workflow"), f.single("vendor"))
tiles = st.columns(len(HEADLINE_KPIS))
for col, name in zip(tiles, HEADLINE_KPIS, strict=True):
    col.metric(common.label(name), common.fmt(name, headline[name]), help=KPIS[name].definition)
tiles[1].markdown(common.status_text("sla_attainment", headline["sla_attainment"], sla_target))

# Pairs in view and where their due times come from (for the SLA reference line).
attain = common.call(
    kpi_table, f.query(by=("vendor", "workflow"), where=where, kpis=("decisions", "sla_attainment"))
)
attain = attain[attain["decisions"] > 0]
pairs = list(zip(attain["workflow"], attain["vendor"], strict=True))
reference = tat.sla_reference(cfg, pairs, priorities)
sources = common.call(tat.due_time_sources, f.query(where=where)).set_index("due_source")
share = sources["share"].fillna(0)


def sla_caption(prio: str | None) -> str:
    lines = tat.sla_lines(reference, prio) if prio else pd.DataFrame()
    if prio is None:
        head = (
            "Each panel is one priority with its configured SLA as a dashed line (targets."
            "sla_minutes; several lines where workflows or vendors configure different SLAs)."
        )
    elif lines.empty:
        head = f"No SLA is configured for {md(prio)}: no reference line."
    else:
        head = f"Dashed line: the configured SLA for {md(prio)} (targets.sla_minutes)."
    return (
        f"{head} It is a reference, not the measure: SLA attainment counts each decision "
        f"against its own due time — {share['queue']:.0%} of these decisions carry the queue's "
        f"due time, {share['config']:.0%} enqueued_at + the configured SLA, {share['none']:.0%} "
        "none (left out of SLA attainment). A p90 under the line means 90% of decisions were "
        "decided within the configured SLA."
    )


def add_sla_lines(fig: go.Figure, prio: str, vertical: bool = False, **cell: int) -> float:
    """Dashed SLA line(s) of `prio`; returns the largest SLA (for axis ranges) or 0."""
    lines = tat.sla_lines(reference, prio)
    for i, row in enumerate(lines.itertuples()):
        text = f"SLA {plot_text(prio)} {minutes_text(row.sla_minutes)}"
        if row.applies_to != "all":
            text += f" · {plot_text(row.applies_to)}"
        if vertical:
            # On a log axis the line takes minutes, the annotation their log10.
            fig.add_vline(x=row.sla_minutes, line_dash="dash", line_color="#555")
            fig.add_annotation(
                x=math.log10(row.sla_minutes), y=1 - 0.07 * i, yref="paper", text=text,
                showarrow=False, xanchor="left", font_size=10,
            )  # fmt: skip
        else:
            fig.add_hline(
                y=row.sla_minutes, line_dash="dash", line_color="#555", annotation_text=text,
                annotation_font_size=10, **cell,
            )  # fmt: skip
    return float(lines["sla_minutes"].max()) if len(lines) else 0.0


# --- sections, one tab each ------------------------------------------------------------------
# Only the selected tab runs and is drawn (on_change=rerun makes tabs lazy): in a browser
# without a GPU each plotly chart costs ~0.2-0.3 s to draw, and five on one page took the
# page switch past 2 s at 10M decisions. The tab is in the URL (`tat_view`).

tabs = st.tabs(
    [
        "TAT distribution",
        "Quantiles over time",
        "SLA by vendor × workflow",
        "Hour × weekday",
        "Backlog ageing",
    ],
    key="tat_view",
    bind="query-params",
    on_change="rerun",
)

# --- TAT distribution -------------------------------------------------------------------------
with tabs[0]:
    if tabs[0].open:
        st.subheader("TAT distribution")
        hist = common.call(tat.tat_histogram, f.query(by=("vendor",), where=where))
        colors = vendor_colors(list(hist["vendor"].unique()))
        bins = tat.tat_bins()
        ratio = 10**0.25
        x_lo = [
            lo if lo > 0 else hi / ratio
            for lo, hi in zip(bins["lower_minutes"], bins["upper_minutes"], strict=True)
        ]
        x_end = bins["lower_minutes"].iat[-1] * ratio
        fig = go.Figure()
        for vendor, grp in hist.groupby("vendor", sort=True):
            grp = grp.sort_values("bin")
            fig.add_trace(
                go.Scatter(
                    x=[*x_lo, x_end],
                    y=[*(grp["share"] * 100), grp["share"].iat[-1] * 100],
                    mode="lines",
                    line_shape="hv",
                    name=plot_text(vendor),
                    line_color=colors[str(vendor)],
                    customdata=[*zip(grp["label"], grp["decisions"], strict=True), ("", 0)],
                    hovertemplate="%{customdata[0]}: %{y:.1f}% (%{customdata[1]:,} decisions)"
                    "<extra>%{fullData.name}</extra>",
                )
            )
        if priority != ALL:
            add_sla_lines(fig, priority, vertical=True)
        fig.update_xaxes(type="log", title="TAT (minutes, log scale)")
        fig.update_yaxes(title="% of the vendor's decisions", rangemode="tozero")
        fig.update_layout(height=360, margin=dict(t=30, b=10), legend_title="Vendor")
        st.plotly_chart(fig, key="tat_hist_chart")
        st.caption(
            "Decided decisions by TAT, in bins of equal width on the log axis (4 per decade, "
            "from 1 minute to 22 days; the first bin holds everything under a minute, the last "
            "everything longer). Shares of each vendor's own decisions, so vendors of different "
            "volume compare."
        )
        with st.expander("Distribution table (decisions per bin)"):
            table = hist.pivot_table(
                index=["bin", "label"], columns="vendor", values="decisions", aggfunc="sum"
            )
            table["All vendors"] = table.sum(axis=1)
            table = table.reset_index(level="bin", drop=True).rename_axis("TAT bin")
            common.dataframe(table, key="tat_hist_table")


# --- quantiles over time ----------------------------------------------------------------------
with tabs[1]:
    if tabs[1].open:
        st.subheader("TAT quantiles over time")
        period = f.period
        if priority == ALL:
            quant = common.call(
                kpi_table, f.query(by=("priority",), period=period, kpis=QUANTILE_KPIS)
            )
            quant["priority"] = quant["priority"].fillna(NO_PRIORITY)
        else:
            quant = common.call(kpi_table, f.query(period=period, where=where, kpis=QUANTILE_KPIS))
            quant.insert(0, "priority", priority)
        quant = quant[quant["decisions"] > 0]
        marked = actions_ui.actions_in_view(f)
        panels = sorted(quant["priority"].unique(), key=lambda p: (p == NO_PRIORITY, p))
        if not panels:
            common.empty_state("No decided decisions for these filters.")
        else:
            n_cols = 1 if len(panels) == 1 else 2
            n_rows = math.ceil(len(panels) / n_cols)
            fig = make_subplots(
                rows=n_rows,
                cols=n_cols,
                subplot_titles=[f"Priority {plot_text(p)}" for p in panels],
                shared_xaxes=True,
                vertical_spacing=0.12,
            )
            for i, prio in enumerate(panels):
                r, c = i // n_cols + 1, i % n_cols + 1
                grp = quant[quant["priority"] == prio]
                for name, dash in QUANTILE_STYLE.items():
                    fig.add_trace(
                        go.Scatter(
                            x=common.period_axis(grp["period_start"], period),
                            y=grp[name],
                            name=common.label(name),
                            mode="lines+markers",
                            line_dash=dash,
                            line_color="#1f5f99",
                            legendgroup=name,
                            showlegend=i == 0,
                            customdata=grp["decisions"],
                            hovertemplate="%{x}: %{y:,.0f} min (%{customdata:,} decisions)",
                        ),
                        row=r,
                        col=c,
                    )
                top_sla = add_sla_lines(fig, prio, row=r, col=c) if prio != NO_PRIORITY else 0.0
                high = max(float(grp["tat_p95"].max()), top_sla) * 1.1
                fig.update_yaxes(
                    range=[0, high], title_text="minutes" if c == 1 else None, row=r, col=c
                )
                actions_ui.action_markers(fig, marked, row=r, col=c)
            fig.update_layout(height=300 * n_rows + 40, margin=dict(t=40, b=10))
            st.plotly_chart(fig, key="tat_quantile_chart")
            st.caption(sla_caption(None if priority == ALL else priority))
            if marked:
                st.caption(actions_ui.markers_caption(marked, "on Quality & gaps, under Actions"))
            with st.expander("Quantile table (minutes) and SLA reference"):
                common.dataframe(
                    quant[["priority", "period_start", *QUANTILE_KPIS]],
                    hide_index=True,
                    key="tat_quantile_table",
                    column_config={
                        k: st.column_config.NumberColumn(common.label(k), format="%.1f")
                        for k in QUANTILE_KPIS[1:]
                    },
                )
                common.dataframe(
                    reference.rename(columns={"sla_minutes": "configured SLA (min)"}),
                    hide_index=True,
                    key="tat_sla_reference",
                )


# --- SLA attainment by vendor x workflow ------------------------------------------------------
with tabs[2]:
    if tabs[2].open:
        st.subheader("SLA attainment by vendor and workflow")
        if attain.empty:
            common.empty_state("No decided decisions for these filters.")
        else:
            att = attain.copy()
            att["target"] = [
                common.target("sla_attainment", w, v)
                for w, v in zip(att["workflow"], att["vendor"], strict=True)
            ]
            att["status"] = [
                STATUS_WORDS[status("sla_attainment", v, t)]
                for v, t in zip(att["sla_attainment"], att["target"], strict=True)
            ]
            att["vs_target"] = [
                targets.confidence_words("sla_attainment", lo, hi, t)
                for lo, hi, t in zip(
                    att["sla_attainment_low"],
                    att["sla_attainment_high"],
                    att["target"],
                    strict=True,
                )
            ]
            z = att.pivot(index="vendor", columns="workflow", values="sla_attainment")
            ahead = [
                targets.margin("sla_attainment", v, t) * 100
                for v, t in zip(att["sla_attainment"], att["target"], strict=True)
            ]
            gap = att.assign(gap=ahead).pivot(index="vendor", columns="workflow", values="gap")
            mark = att.assign(
                m=[
                    f"{s[0]} {common.fmt('sla_attainment', v)}" if s[:1] in ("✔", "✘") else ""
                    for s, v in zip(att["status"], att["sla_attainment"], strict=True)
                ]
            )
            text = mark.pivot(index="vendor", columns="workflow", values="m").reindex_like(z)
            span = max(5.0, float(gap.abs().max().max()) if gap.notna().any().any() else 5.0)
            fig = go.Figure(
                go.Heatmap(
                    z=gap.reindex_like(z).to_numpy(),
                    x=[plot_text(w) for w in z.columns],
                    y=[plot_text(v) for v in z.index],
                    text=text.fillna("").to_numpy(),
                    texttemplate="%{text}",
                    colorscale="RdBu",
                    zmid=0,
                    zmin=-span,
                    zmax=span,
                    colorbar=dict(title="points vs<br>target"),
                    hovertemplate="%{y} · %{x}: %{text} (%{z:+.1f} pts vs target)<extra></extra>",
                )
            )
            fig.update_layout(height=max(180, 80 + 45 * len(z.index)), margin=dict(t=10, b=10))
            fig.update_yaxes(autorange="reversed")
            st.plotly_chart(fig, key="tat_attainment_chart")
            st.caption(
                "SLA attainment = decided by their due time / decided decisions with a due time. "
                "Colour is the distance to the target of that workflow and vendor "
                "(targets.sla_attainment), in "
                "percentage points; ✔ meets, ✘ misses. The table gives the 95% Wilson interval."
            )
            common.dataframe(
                att[list(ATTAINMENT_COLUMNS)],
                hide_index=True,
                key="tat_attainment_table",
                column_config={
                    name: st.column_config.NumberColumn(label, format="percent")
                    if name.startswith(("sla", "target"))
                    else label
                    for name, label in ATTAINMENT_COLUMNS.items()
                },
            )


# --- hour x weekday ---------------------------------------------------------------------------
with tabs[3]:
    if tabs[3].open:
        st.subheader("When items arrive: hour × weekday")
        heat_kpi = st.radio(
            "Show",
            HEAT_KPIS,
            format_func=common.label,
            key="tat_heat_kpi",
            bind="query-params",
            horizontal=True,
        )
        week = common.call(
            tat.time_of_week, f.query(where=where, kpis=("decisions", "sla_attainment", "tat_p90"))
        )
        values = tat.time_of_week_grid(week, heat_kpi)
        counts = tat.time_of_week_grid(week, "decisions")
        shown = values.where(counts >= MIN_CELL)
        is_share = heat_kpi == "sla_attainment"
        sparse = int((counts >= MIN_CELL).sum().sum()) < int((counts > 0).sum().sum()) / 2
        fig = go.Figure(
            go.Heatmap(
                z=(shown * 100 if is_share else shown).to_numpy(),
                x=list(values.columns),
                y=list(values.index),
                customdata=counts.to_numpy(),
                colorscale="RdYlBu" if is_share else "YlOrRd",
                zmid=sla_target * 100 if is_share and sla_target is not None else None,
                colorbar=dict(title="%" if is_share else "min"),
                hovertemplate="%{y} %{x}:00 · %{z:.1f}"
                + ("%" if is_share else " min")
                + " (%{customdata:,} decisions)<extra></extra>",
            )
        )
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(title=f"hour the item entered the queue ({tz})")
        fig.update_layout(height=320, margin=dict(t=10, b=10))
        if sparse:
            common.empty_state(
                f"Too few decisions per hour of the week for a heatmap: most cells have fewer than "
                f"{MIN_CELL}. Widen the dates or filters; the table below still shows every cell."
            )
        else:
            st.plotly_chart(fig, key="tat_week_chart")
        st.caption(
            f"{common.label(heat_kpi)} of the window's decided decisions by the local weekday "
            f"and hour ({tz}) at which they entered the queue (enqueued_at) — the same KPI "
            f"definition, cut by arrival time. Cells with fewer than {MIN_CELL} decisions are "
            "blank in the chart; the table shows every cell."
            + (
                f" Colours are centred on the SLA attainment target ({sla_target:.0%}): red is "
                "below it."
                if is_share and sla_target is not None
                else ""
            )
        )
        with st.expander("Hour × weekday table"):
            st.markdown(f"**{common.label(heat_kpi)}**")
            common.dataframe(values, key="tat_week_table")
            st.markdown("**Decisions**")
            common.dataframe(counts, key="tat_week_counts")


# --- backlog ageing ---------------------------------------------------------------------------
with tabs[4]:
    if tabs[4].open:
        st.subheader("Backlog ageing")
        backlog_query = f.query(by=("vendor", "workflow"), where=where)
        ageing = common.call(tat.backlog_ageing, backlog_query, as_of)
        cut = tat.backlog_instant(backlog_query, tz, as_of).astimezone(ZoneInfo(tz))
        if ageing["backlog"].sum() == 0:
            common.empty_state(f"No pending decisions at {cut:%d %b %Y %H:%M} ({tz}).")
        else:
            per_vendor = ageing.groupby(["vendor", "bucket", "age"], as_index=False)[
                ["backlog", "backlog_over_sla"]
            ].sum()
            vendors = sorted(per_vendor["vendor"].unique(), reverse=True)
            shades = sequential.YlOrRd[1:]
            fig = go.Figure()
            for bucket, (label, _) in enumerate(tat.AGE_BUCKETS):
                grp = (
                    per_vendor[per_vendor["bucket"] == bucket].set_index("vendor").reindex(vendors)
                )
                color = shades[min(bucket, len(shades) - 1)]
                within = grp["backlog"] - grp["backlog_over_sla"]
                for part, values_, pattern in (
                    ("within SLA", within, ""),
                    ("past due", grp["backlog_over_sla"], "/"),
                ):
                    fig.add_trace(
                        go.Bar(
                            y=[plot_text(v) for v in vendors],
                            x=values_.fillna(0),
                            orientation="h",
                            name=label,
                            legendgroup=label,
                            showlegend=part == "within SLA",
                            marker_color=color,
                            marker_pattern_shape=pattern,
                            hovertemplate=f"%{{y}} · {label} · {part}: %{{x:,}}<extra></extra>",
                        )
                    )
            fig.update_layout(
                barmode="stack",
                height=140 + 40 * len(vendors),
                margin=dict(t=40, b=10),
                legend=dict(title="Age", orientation="h", x=0, y=1.02, yanchor="bottom"),
            )
            fig.update_xaxes(title="pending decisions (hatched: past their due time)")
            st.plotly_chart(fig, key="tat_backlog_chart")
            st.caption(
                f"Decisions pending at {cut:%d %b %Y %H:%M} ({tz}) — the end of the window, or "
                "now if earlier — by age since they entered the queue; hatched: already past "
                "their due time. The totals are the Backlog and Backlog past SLA tiles above."
            )
            table = ageing.pivot_table(
                index=["vendor", "workflow"], columns="bucket", values="backlog", aggfunc="sum"
            )
            table.columns = [label for label, _ in tat.AGE_BUCKETS]
            sums = ageing.groupby(["vendor", "workflow"])[["backlog", "backlog_over_sla"]].sum()
            table["Backlog"] = sums["backlog"]
            table["Past SLA"] = sums["backlog_over_sla"]
            table["Oldest (h)"] = (
                ageing.groupby(["vendor", "workflow"])["oldest_minutes"].max() / 60
            )
            table = table[table["Backlog"] > 0].reset_index()
            common.dataframe(
                table,
                hide_index=True,
                key="tat_backlog_table",
                column_config={
                    "vendor": "Vendor",
                    "workflow": "Workflow",
                    "Oldest (h)": st.column_config.NumberColumn(format="%.1f"),
                },
            )
