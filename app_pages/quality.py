"""Quality & gaps page: quality and agreement trends with Wilson bands, a p-chart of the error
rate, precision and recall of enforcement per vendor and workflow, the ranked quality-gap
list, and a drill-down from a vendor x workflow heatmap to policies, error types, reviewers
and the audited decisions with auditor comments.

The drill path lives in the URL as repeated `drill` parameters (see `app_pages.common`), in this
order, so a copied link reproduces the view:

    drill=cell:<vendor>|<workflow>   a heatmap cell
    drill=policy:<policy>            a policy the reviewer cited, or `(all)` for the whole cell
    drill=error_type:<type>          an error type, or `(all)` for every error type
    drill=reviewer:<reviewer_id>     a reviewer (a pseudonym when the role may not see ids)

Each level is chosen by a click on its chart (plotly point selection) or by selecting a row of
the table under it; both append the step to the URL. Every number a chart shows is also in a
table next to it, straight from kpi/ (each section is a keyed container, so tests can find it).

Approvals cite no policy, so a policy step can only isolate decisions that cited one; the cell's
"(no policy cited)" row is shown but not drillable alone, and `(all)` keeps the whole cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import actions_ui, common, timefmt
from app_pages.text import md, plot_text
from kpi import gaps, monitor, targets
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.query import KpiQuery
from kpi.targets import status

ALL = "(all)"
NO_POLICY = "(no policy cited)"
LEVELS = ("cell", "policy", "error_type", "reviewer")
LEVEL_LABELS = {
    "cell": "Cell",
    "policy": "Policy",
    "error_type": "Error type",
    "reviewer": "Reviewer",
}
TREND_KPIS = ("audits", "quality_score", "agreement_rate")
CELL_KPIS = ("decisions", "audits", "quality_score")
STATUS_WORDS = {**targets.STATUS_WORDS, "no data": "no audits"}
SHARE_COLUMNS = {
    "quality_score", "quality_score_low", "quality_score_high", "agreement_rate",
    "agreement_rate_low", "agreement_rate_high", "error_rate", "error_rate_low",
    "error_rate_high", "target_error_rate", "peer_error_rate", "target", "center", "lcl", "ucl",
    "share", "cumulative_share", "enforcement_precision", "enforcement_precision_low",
    "enforcement_precision_high", "enforcement_recall", "enforcement_recall_low",
    "enforcement_recall_high",
}  # fmt: skip
ENFORCEMENT_KPIS = ("enforcement_precision", "enforcement_recall")
# What each enforcement KPI's n counts (its denominator), in words for the hover and the table.
ENFORCEMENT_BASIS = {
    "enforcement_precision": "audits the vendor actioned",
    "enforcement_recall": "audits where the truth actions",
}
AUDIT_COLUMNS = [
    "audit_id", "decided_at", "decision", "policy", "qa_decision", "qa_policy", "error_type",
    "severity", "dispute_status", "auditor_id", "comment", "decision_id", "item_id", "site",
    "market", "audited_at",
]  # fmt: skip
REVIEWER_COLUMNS = [
    "reviewer_id", "flag", "site", "audits", "errors", "error_rate", "error_rate_low",
    "error_rate_high", "peer_error_rate", "q_value",
]  # fmt: skip
MAX_REVIEWER_BARS = 25
# Okabe-Ito blue and vermillion (colour-blind safe); series also differ by marker or text.
BLUE, ORANGE, GREY = "#0072B2", "#D55E00", "#7f7f7f"


# --- helpers ---------------------------------------------------------------------------------


def pct(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def status_words(value: Any, target: float | None) -> str:
    v = None if value is None or pd.isna(value) else float(value)
    return STATUS_WORDS[status("quality_score", v, target)]


def mark(value: Any, target: float) -> str:
    """A cell's value with its status as a symbol, so status never rests on colour alone."""
    v = None if value is None or pd.isna(value) else float(value)
    return f"{pct(value)} {'✘' if status('quality_score', v, target) == 'missed' else '✔'}"


def weights_text(config: Any) -> str:
    """The severity weights behind the weighted quality score, in words."""
    w = config.quality_weights
    critical = "fails the audit" if w.critical_fails_audit else f"−{w.critical:g}"
    return f"critical {critical}, major −{w.major:g}, minor −{w.minor:g}"


def quality_target(workflow: str | None, vendor: str | None) -> float:
    tgt = common.target("quality_score", workflow, vendor)
    assert tgt is not None  # the catalog gives quality_score a target key
    return tgt


def picked_point(event: Any) -> dict[str, Any] | None:
    """The first point of a plotly selection event, if any."""
    points = event["selection"]["points"] if event else []
    return points[0] if points else None


def picked_row(event: Any) -> int | None:
    """The selected row position of a dataframe selection event, if any."""
    rows = event["selection"]["rows"] if event else []
    return int(rows[0]) if rows else None


def chart(fig: go.Figure, key: str, height: int = 340, select: bool = False) -> Any:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    if not select:
        return st.plotly_chart(fig, key=key)
    return st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")


def table(frame: pd.DataFrame, key: str, select: bool = False, **config: Any) -> Any:
    """A dataframe of raw kpi/ values (shares shown as percentages); `select`: one row."""
    column_config: dict[str, Any] = {
        c: st.column_config.NumberColumn(format="percent") for c in frame if c in SHARE_COLUMNS
    }
    column_config.update(config)
    if not select:
        return common.dataframe(frame, key=key, hide_index=True, column_config=column_config)
    return common.dataframe(
        frame,
        key=key,
        hide_index=True,
        column_config=column_config,
        on_select="rerun",
        selection_mode="single-row",
    )


def parse_path(raw: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The valid prefix of a drill path (levels in order, well-formed values) and the rest."""
    valid: list[tuple[str, str]] = []
    for i, (level, value) in enumerate(raw):
        ok = i < len(LEVELS) and level == LEVELS[i] and value != ""
        if ok and level == "cell":
            vendor, sep, workflow = value.rpartition("|")
            ok = bool(sep and vendor and workflow)
        if ok and level == "policy":
            ok = value != NO_POLICY
        if not ok:
            return valid, raw[i:]
        valid.append((level, value))
    return valid, []


def describe(segment: Mapping[str, str]) -> str:
    """A segment as Markdown: its values (from the data) as text."""
    return " · ".join(f"{k} **{md(v)}**" for k, v in segment.items())


# --- figures ---------------------------------------------------------------------------------


def _band(fig: go.Figure, x: Any, low: Any, high: Any, colour: str, name: str) -> None:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    fig.add_scatter(
        x=x, y=high, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
        legendgroup=name,
    )  # fmt: skip
    fig.add_scatter(
        x=x, y=low, mode="lines", line={"width": 0}, fill="tonexty",
        fillcolor=f"rgba({r},{g},{b},0.15)", name=f"{name} 95% interval", hoverinfo="skip",
        legendgroup=name,
    )  # fmt: skip


def trend_figure(trend: pd.DataFrame, target: float, period: str) -> go.Figure:
    fig = go.Figure()
    x = common.period_axis(trend["period_start"], period)
    for kpi, colour, symbol in (
        ("quality_score", BLUE, "circle"),
        ("agreement_rate", ORANGE, "diamond"),
    ):
        name = common.label(kpi)
        _band(fig, x, trend[f"{kpi}_low"], trend[f"{kpi}_high"], colour, name)
        fig.add_scatter(
            x=x, y=trend[kpi], mode="lines+markers", name=name, legendgroup=name,
            line={"color": colour}, marker={"symbol": symbol, "size": 7},
            hovertemplate=f"{name} %{{y:.1%}}<extra></extra>",
        )  # fmt: skip
    fig.add_hline(
        y=target, line_dash="dash", line_color=GREY, annotation_text=f"quality target {target:.0%}"
    )
    fig.update_layout(
        title=f"Quality score and agreement rate by {period}",
        yaxis_tickformat=".0%",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def segment_name(vendor: Any, workflow: Any) -> str:
    return f"{monitor.group_label(vendor)} · {'–' if pd.isna(workflow) else workflow}"


def enforcement_figure(cells: pd.DataFrame) -> go.Figure:
    """Precision and recall of enforcement per vendor x workflow (one row each, the worse of
    the two at the top), 95% Wilson intervals as error bars, counts in the hover."""
    fig = go.Figure()
    y = [plot_text(segment_name(v, w)) for v, w in zip(cells["vendor"], cells["workflow"],
                                                        strict=True)]  # fmt: skip
    tp = cells["enforcement_true_positives"]
    for kpi, den, colour, symbol in (
        ("enforcement_precision", "actioning_audits", BLUE, "circle"),
        ("enforcement_recall", "truth_actioning_audits", ORANGE, "diamond"),
    ):
        name = common.label(kpi)
        value = cells[kpi]
        fig.add_scatter(
            x=value, y=y, mode="markers", name=name, orientation="h",
            marker={"color": colour, "symbol": symbol, "size": 9},
            error_x={"type": "data", "symmetric": False, "array": cells[f"{kpi}_high"] - value,
                     "arrayminus": value - cells[f"{kpi}_low"], "color": colour, "thickness": 1.5},
            customdata=np.column_stack([cells[f"{kpi}_low"], cells[f"{kpi}_high"], tp,
                                        cells[den]]),
            hovertemplate=(
                f"%{{y}}<br>{name} %{{x:.1%}} (95%: %{{customdata[0]:.1%}}–"
                "%{customdata[1]:.1%})<br>%{customdata[2]:,} both action of n=%{customdata[3]:,} "
                f"{ENFORCEMENT_BASIS[kpi]}<extra></extra>"
            ),
        )  # fmt: skip
    # Shares near 100% on a 0-100% axis would crowd into its last fifth: start the axis a
    # little below the lowest interval bound (in steps of 5 pp), never below 0.
    lows = cells[[f"{k}_low" for k in ENFORCEMENT_KPIS]].to_numpy(dtype=float)
    lowest = float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0
    start = max(0.0, np.floor((lowest - 0.01) * 20) / 20)
    fig.update_layout(
        title="Precision and recall of enforcement by vendor and workflow",
        scattermode="group",
        xaxis={
            "tickformat": ".0%",
            "title": "share (95% Wilson interval)",
            "range": [start, 1.01],
        },
        yaxis={"autorange": "reversed", "type": "category"},
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def p_chart_figure(pc: pd.DataFrame, period: str) -> go.Figure:
    fig = go.Figure()
    x = common.period_axis(pc["period_start"], period)
    limits = {"shape": "hvh", "dash": "dot", "color": GREY}
    fig.add_scatter(x=x, y=pc["ucl"], mode="lines", line=limits, name="3σ control limits",
                    legendgroup="limits")  # fmt: skip
    fig.add_scatter(x=x, y=pc["lcl"], mode="lines", line=limits, showlegend=False,
                    legendgroup="limits")  # fmt: skip
    fig.add_scatter(x=x, y=pc["center"], mode="lines", line={"color": GREY}, name="centre p̄")
    fig.add_scatter(
        x=x, y=pc["error_rate"], mode="lines+markers", name="error rate", line={"color": BLUE},
        hovertemplate="%{y:.1%}<extra></extra>",
    )  # fmt: skip
    out = pc[pc["out_of_control"]]
    if len(out):
        fig.add_scatter(
            x=common.period_axis(out["period_start"], period), y=out["error_rate"],
            mode="markers+text",
            name="out of control", marker={"symbol": "x", "size": 12, "color": ORANGE},
            text=[f"{d} limit" for d in out["direction"]], textposition="top center",
        )  # fmt: skip
    fig.update_layout(
        title=f"p-chart: error rate by {period}",
        yaxis_tickformat=".1%",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def heatmap_figure(cells: pd.DataFrame) -> go.Figure:
    """Quality vs target per vendor x workflow, with an invisible scatter point on every cell.

    Plotly heatmap traces produce no selection events, so clicks land on the scatter points:
    with `hoverdistance=-1` the point nearest the cursor (the centre of the cell under it) is
    hovered, and a click selects it. Every grid cell has a point, so a click on a blank cell
    selects that cell, never a neighbour.
    """
    vendors = sorted(cells["vendor"].unique())
    workflows = sorted(cells["workflow"].unique())
    grid = pd.MultiIndex.from_product([vendors, workflows], names=["vendor", "workflow"])
    full = cells.set_index(["vendor", "workflow"]).reindex(grid).reset_index()
    has = (full["audits"].fillna(0) > 0).to_numpy()
    quality, target = full["quality_score"].to_numpy(float), full["target"].to_numpy(float)
    ahead = [targets.margin("quality_score", q, t) for q, t in zip(quality, target, strict=True)]
    z = np.where(has, np.array(ahead) * 100, np.nan).reshape(len(vendors), len(workflows))
    text = [mark(q, t) if ok else "" for q, t, ok in zip(quality, target, has, strict=True)]
    span = max(1.0, float(np.nanmax(np.abs(z)))) if np.isfinite(z).any() else 1.0
    fig = go.Figure()
    fig.add_heatmap(
        x=[plot_text(w) for w in workflows], y=[plot_text(v) for v in vendors], z=z, zmid=0,
        zmin=-span, zmax=span, colorscale="RdBu",
        text=np.array(text, dtype=object).reshape(z.shape), texttemplate="%{text}",
        hoverinfo="skip", xgap=2, ygap=2,
        colorbar={"title": {"text": "vs target"}, "ticksuffix": " pp"},
    )  # fmt: skip
    hover = []
    for rec, ok in zip(full.to_dict(orient="records"), has, strict=True):
        head = f"<b>{plot_text(rec['vendor'])} × {plot_text(rec['workflow'])}</b><br>"
        if not ok:
            hover.append(head + "no QA audits")
            continue
        hover.append(
            head + f"Quality {pct(rec['quality_score'])} (95% {pct(rec['quality_score_low'])} – "
            f"{pct(rec['quality_score_high'])})<br>Target {pct(rec['target'])}: "
            f"{status_words(rec['quality_score'], rec['target'])}<br>"
            f"{int(rec['audits']):,} audits of {int(rec['decisions']):,} decisions"
        )
    fig.add_scatter(
        x=full["workflow"].map(plot_text), y=full["vendor"].map(plot_text), mode="markers",
        showlegend=False, name="cells",
        marker={"symbol": "square", "size": 30, "color": "rgba(0,0,0,0)"},
        customdata=np.column_stack([full["vendor"], full["workflow"]]),
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(hoverdistance=-1, hovermode="closest", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(type="category", side="top", fixedrange=True, showgrid=False)
    fig.update_yaxes(type="category", autorange="reversed", fixedrange=True, showgrid=False)
    return fig


def policy_figure(policies: pd.DataFrame, target: float) -> go.Figure:
    """Quality per cited policy as points with their intervals (a dot plot, not bars: the axis
    does not start at zero)."""
    below = [status("quality_score", q, target) == "missed" for q in policies["quality_score"]]
    fig = go.Figure()
    fig.add_scatter(
        x=policies["policy"].map(plot_text), y=policies["quality_score"], mode="markers+text",
        marker={"size": 14, "color": [ORANGE if b else BLUE for b in below],
                "symbol": ["x" if b else "circle" for b in below]},
        error_y={
            "type": "data", "symmetric": False,
            "array": policies["quality_score_high"] - policies["quality_score"],
            "arrayminus": policies["quality_score"] - policies["quality_score_low"],
        },
        text=[mark(q, target) for q in policies["quality_score"]], textposition="middle right",
        customdata=policies[["policy", "audits"]],
        hovertemplate="%{x}: %{y:.1%} over %{customdata[1]} audits<extra></extra>",
    )  # fmt: skip
    fig.add_hline(
        y=target, line_dash="dash", line_color=GREY, annotation_text=f"target {target:.0%}"
    )
    low = float(policies["quality_score_low"].min())
    fig.update_layout(
        title="Quality score by cited policy (95% interval)",
        yaxis={"tickformat": ".0%", "range": [max(0.0, min(low, target) - 0.03), 1.02]},
        showlegend=False,
    )
    return fig


def pareto_figure(pareto: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(
        x=pareto["error_type"].map(plot_text), y=pareto["errors"], name="errors",
        marker_color=BLUE,
        text=pareto["errors"], textposition="inside", insidetextanchor="middle",
        customdata=pareto[["error_type"]], hovertemplate="%{x}: %{y} errors<extra></extra>",
    )  # fmt: skip
    fig.add_scatter(
        x=pareto["error_type"].map(plot_text), y=pareto["cumulative_share"], yaxis="y2",
        mode="lines+markers+text", name="cumulative share", line={"color": ORANGE},
        text=[pct(v) for v in pareto["cumulative_share"]], textposition="top center",
        hoverinfo="skip",
    )  # fmt: skip
    fig.update_layout(
        title="Pareto of error types",
        yaxis={"title": "errors", "range": [0, float(pareto["errors"].max()) * 1.2]},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.2],
            "tickformat": ".0%",
            "tickvals": [0, 0.25, 0.5, 0.75, 1],
            "showgrid": False,
        },
        bargap=0.4,
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def reviewer_figure(top: pd.DataFrame, rate: float, what: str) -> go.Figure:
    """Error rate per reviewer; `what` (plain text) names the errors counted."""
    top = top.iloc[::-1]  # largest at the top of a horizontal bar chart
    ids = top["reviewer_id"].map(plot_text)
    fig = go.Figure()
    fig.add_bar(
        y=[f"{r} ▲" if o else r for r, o in zip(ids, top["outlier"], strict=True)],
        x=top["error_rate"], orientation="h",
        marker_color=[ORANGE if o else BLUE for o in top["outlier"]],
        error_x={
            "type": "data", "symmetric": False,
            "array": top["error_rate_high"] - top["error_rate"],
            "arrayminus": top["error_rate"] - top["error_rate_low"],
        },
        text=[
            f"{e}/{a}" + (" ▲ stands out" if o else "")
            for e, a, o in zip(top["errors"], top["audits"], top["outlier"], strict=True)
        ],
        customdata=np.column_stack([top["reviewer_id"], ids]),
        hovertemplate="%{customdata[1]}: %{x:.1%} (%{text})<extra></extra>",
    )  # fmt: skip
    fig.add_vline(x=rate, line_dash="dash", line_color=GREY, annotation_text=f"segment {rate:.1%}")
    fig.update_layout(
        title=f"Rate of {plot_text(what)}s by reviewer (95% interval)",
        xaxis_tickformat=".0%",
        showlegend=False,
    )
    return fig


# --- page sections ---------------------------------------------------------------------------


def headline(f: common.Filters, target: float) -> None:
    kpis = (*TREND_KPIS, "cohen_kappa", "weighted_quality_score")
    totals = common.call(kpi_table, f.query(kpis=kpis))
    row = totals.iloc[0] if len(totals) else pd.Series(dtype=object)
    c1, c5, c2, c4, c3 = st.columns(5)
    quality, agreement = row.get("quality_score"), row.get("agreement_rate")
    c1.metric(common.label("quality_score"), common.fmt("quality_score", quality))
    c1.markdown(
        f"95% interval {pct(row.get('quality_score_low'))} – "
        f"{pct(row.get('quality_score_high'))}  \n"
        + common.status_text("quality_score", quality, target)
    )
    weighted = row.get("weighted_quality_score")
    c5.metric(
        common.label("weighted_quality_score"),
        common.fmt("weighted_quality_score", weighted),
        help=KPIS["weighted_quality_score"].definition,
    )
    c5.markdown(
        f"95% interval {pct(row.get('weighted_quality_score_low'))} – "
        f"{pct(row.get('weighted_quality_score_high'))}  \n"
        f":gray[{weights_text(common.config())}]"
    )
    c2.metric(common.label("agreement_rate"), common.fmt("agreement_rate", agreement))
    c2.markdown(
        f"95% interval {pct(row.get('agreement_rate_low'))} – {pct(row.get('agreement_rate_high'))}"
    )
    c3.metric(common.label("audits"), common.fmt("audits", row.get("audits", 0)))
    n = int(row.get("audits", 0))
    minimum = targets.min_shown(common.config(), "cohen_kappa")
    kappa = row.get("cohen_kappa")
    c4.metric(
        common.label("cohen_kappa"),
        "too few audits" if n < minimum else common.fmt("cohen_kappa", kappa),
        help=KPIS["cohen_kappa"].definition,
    )
    c4.markdown(
        targets.interval_text("cohen_kappa", kappa, row.get("cohen_kappa_low"),
                      row.get("cohen_kappa_high"), n, minimum)
        + "  \n"
        + common.status_text(
            "cohen_kappa", None if n < minimum else kappa,
            targets.target_for(common.config(), "cohen_kappa", f.single("workflow"),
                               f.single("vendor")),
        )
    )  # fmt: skip


def trends(f: common.Filters, target: float) -> None:
    st.subheader(f"Trends by {f.period}")
    numbers = common.call(monitor.quality_control, f.query(period=f.period, kpis=TREND_KPIS))
    if numbers.empty:
        common.empty_state("No QA audits in this view, so there is no quality trend to show.")
        return
    trend = numbers
    marked = actions_ui.actions_in_view(f)
    left, right = st.columns(2)
    with left:
        fig = actions_ui.action_markers(trend_figure(trend, target, f.period), marked)
        chart(fig, "quality_trend_chart", height=380)
    with right:
        fig = actions_ui.action_markers(p_chart_figure(numbers, f.period), marked)
        chart(fig, "quality_p_chart", height=380)
    if marked:
        st.caption(actions_ui.markers_caption(marked))
    flagged = numbers[numbers["out_of_control"]]
    if len(flagged):
        st.markdown(
            "**Out of control:** "
            + ", ".join(
                f"{when} (error rate {pct(r.error_rate)}, {r.direction} the limits)"
                for r, when in zip(
                    flagged.itertuples(),
                    common.period_axis(flagged["period_start"], f.period),
                    strict=True,
                )
            )
        )
    with st.expander("Numbers behind the trend charts"):
        table(numbers, "quality_trend_table")


def enforcement(f: common.Filters) -> None:
    """Precision and recall of enforcement per vendor x workflow, chart and table."""
    st.subheader("Precision and recall of enforcement")
    cells = common.call(
        kpi_table, f.query(by=("vendor", "workflow"), kpis=("audits", *ENFORCEMENT_KPIS)),
        counts=True,
    )  # fmt: skip
    cells = cells[cells["audits"] > 0]
    if cells.empty:
        common.empty_state("No QA audits in this view, so no precision or recall to show.")
        return
    # The weakest first: the lower of the two, then the segment's name.
    cells = cells.assign(_worst=cells[list(ENFORCEMENT_KPIS)].min(axis=1, skipna=True))
    cells = cells.sort_values(["_worst", "vendor", "workflow"], na_position="last")
    cells = cells.drop(columns="_worst").reset_index(drop=True)
    chart(enforcement_figure(cells), "quality_enforcement_chart", height=120 + 28 * len(cells))
    actioning = ", ".join(common.config().actioning_labels)
    st.caption(
        "Precision: of the audits where the vendor's label actions, the share where the truth "
        "actions too (low: over-enforcement). Recall: of the audits where the truth actions, "
        "the share the vendor actioned (low: under-enforcement). The truth is QA's label, or "
        "the vendor's own where a dispute overturned QA; actioning labels: "
        f"{md(actioning)}. Bars: 95% Wilson intervals; n in the hover and the table."
    )
    shown = cells[["vendor", "workflow", "audits", "enforcement_true_positives",
                   "actioning_audits", "enforcement_precision", "enforcement_precision_low",
                   "enforcement_precision_high", "truth_actioning_audits", "enforcement_recall",
                   "enforcement_recall_low", "enforcement_recall_high"]]  # fmt: skip
    with st.expander("Numbers behind the precision and recall chart"):
        table(
            shown, "quality_enforcement_table",
            enforcement_true_positives=st.column_config.NumberColumn("both action"),
            actioning_audits=st.column_config.NumberColumn("vendor actioned (precision n)"),
            truth_actioning_audits=st.column_config.NumberColumn("truth actions (recall n)"),
        )  # fmt: skip


def gap_list(f: common.Filters) -> None:
    st.subheader("Quality gaps")
    st.caption(
        "Segments (up to three of vendor, site, workflow, market, at least 20 audits) whose "
        "error rate is above the target error rate with 95% confidence (Wilson lower bound "
        "above target), ranked by excess errors = decisions × (error rate − target error rate)."
    )
    found = common.call(gaps.quality_gaps, f.query())
    if found.empty:
        common.empty_state("No segment's error rate is above its target with confidence here.")
        return
    cols = ["segment", "decisions", "audits", "errors", "error_rate", "error_rate_low",
            "error_rate_high", "target_error_rate", "excess_errors"]  # fmt: skip
    excess = st.column_config.NumberColumn(format="%.1f")
    shown = found[cols].assign(open=[gap_link(rec, f) for rec in found.to_dict("records")])
    opener = st.column_config.LinkColumn(
        "open", display_text="drill in", help="This segment: its filters, dates and drill-down"
    )
    event = table(shown, "quality_gap_table", select=True, excess_errors=excess, open=opener)
    row = picked_row(event)
    if row is None or row >= len(found):  # none, or a selection of an earlier, longer list
        st.caption("Select a gap's row to record an action for it.")
        return
    rec = found.iloc[row]
    segment = {d: str(rec[d]) for d in str(rec["dimensions"]).split(",")}
    with st.container(horizontal=True, vertical_alignment="center", key="quality_gap_action"):
        st.markdown(f"Selected gap: {describe(segment)}")
        actions_ui.action_form(
            segment, actions_ui.gap_source(segment), key="quality_gap_action_form",
            label="Record an action for this gap",
        )  # fmt: skip


def gap_link(rec: dict[str, Any], f: common.Filters) -> str:
    """A gap's drill-down: its market and site as filters, its vendor x workflow cell as the
    first drill step (when the segment names both), the sidebar's dates and other filters."""
    where = {d: list(v) for d, v in f.where.items()}
    for dim in ("vendor", "workflow", "market", "site"):
        value = rec.get(dim)
        if isinstance(value, str):
            where[dim] = [value]
    drill = []
    if isinstance(rec.get("vendor"), str) and isinstance(rec.get("workflow"), str):
        drill = [("cell", f"{rec['vendor']}|{rec['workflow']}")]
    return common.view_link("quality", f.start, f.end, where, drill)


@dataclass
class Drill:
    """The drill path being shown and the filters it is read within."""

    steps: list[tuple[str, str]]
    filters: common.Filters

    @property
    def path(self) -> dict[str, str]:
        return dict(self.steps)

    @property
    def base(self) -> KpiQuery:
        return self.filters.query()

    @property
    def cell(self) -> tuple[str, str]:
        vendor, _, workflow = self.path["cell"].rpartition("|")
        return vendor, workflow

    @property
    def segment(self) -> dict[str, str]:
        vendor, workflow = self.cell
        segment = {"vendor": vendor, "workflow": workflow}
        if self.path.get("policy", ALL) != ALL:
            segment["policy"] = self.path["policy"]
        return segment

    def to(self, level: str, value: str) -> None:
        """Append a step to the drill path (in the URL) and rerun at the new level."""
        common.set_drill_path([*self.steps, (level, value)])
        st.rerun()

    # What each level offers to pick from (shared with the checks of a linked drill path, so
    # both read the same cached results).

    def policies(self) -> pd.DataFrame:
        """The cell's KPIs by cited policy."""
        vendor, workflow = self.cell
        where = {"vendor": (vendor,), "workflow": (workflow,)}
        return common.call(kpi_table, self.filters.query(by=("policy",), where=where,
                                                         kpis=CELL_KPIS))  # fmt: skip

    def error_types(self) -> pd.DataFrame:
        """The segment's errors by error type (a Pareto)."""
        return common.call(gaps.error_types, self.segment, self.base)

    def reviewers(self) -> pd.DataFrame:
        """The segment's reviewers with their error rates (of the path's error type)."""
        error_type = self.path["error_type"]
        if error_type == ALL:
            return common.call(gaps.reviewer_outliers, self.segment, self.base)
        return common.call(gaps.reviewer_error_type_outliers, self.segment, error_type, self.base)


def available(steps: list[tuple[str, str]], f: common.Filters) -> list[tuple[str, str]]:
    """The longest prefix of a (well-formed) drill path whose every value is one the viewer
    could pick at its level: a cell of the vendors and workflows in the viewer's scope, a
    policy, error type or reviewer that the level above lists. A value from a link naming
    something out of scope is thus treated like one that does not exist: not shown at all."""
    values = common.context().summary.values
    kept: list[tuple[str, str]] = []
    for level, value in steps:
        above = Drill(kept, f)
        if level == "cell":
            vendor, _, workflow = value.rpartition("|")
            ok = vendor in values.get("vendor", ()) and workflow in values.get("workflow", ())
        elif level == "policy":
            ok = value == ALL or value in set(above.policies()["policy"].dropna())
        elif level == "error_type":
            ok = value == ALL or value in set(above.error_types()["error_type"])
        else:
            ok = value in set(above.reviewers()["reviewer_id"])
        if not ok:
            break
        kept.append((level, value))
    return kept


def heatmap_level(drill: Drill) -> None:
    f = drill.filters
    cells = common.call(kpi_table, f.query(by=("vendor", "workflow"), kpis=CELL_KPIS))
    if cells.empty:
        common.empty_state("No decisions in this view.")
        return
    cells = cells.assign(
        target=[
            quality_target(w, v) for v, w in zip(cells["vendor"], cells["workflow"], strict=True)
        ]
    )
    cells["vs_target"] = [
        status_words(q, t) for q, t in zip(cells["quality_score"], cells["target"], strict=True)
    ]
    st.caption(
        "Quality score per vendor and workflow; colour: percentage points above (blue) or below "
        "(red) the cell's target, ✘ marks a cell below target, blank cells have no audits. Click "
        "a cell, or select a row of the table, to break it down by policy."
    )
    height = 110 + 60 * cells["vendor"].nunique()
    point = picked_point(chart(heatmap_figure(cells), "quality_heatmap", height, select=True))
    picked: tuple[str, str] | None = None
    if point is not None:
        vendor, workflow = (point.get("customdata") or [point.get("y"), point.get("x")])[:2]
        picked = str(vendor), str(workflow)
    shown = ["vendor", "workflow", "decisions", "audits", "quality_score", "quality_score_low",
             "quality_score_high", "target", "vs_target"]  # fmt: skip
    row = picked_row(table(cells[shown], "quality_cells", select=True))
    if row is not None:
        picked = str(cells["vendor"].iat[row]), str(cells["workflow"].iat[row])
    if picked is not None:
        match = cells[(cells["vendor"] == picked[0]) & (cells["workflow"] == picked[1])]
        if len(match) and match["audits"].iat[0] > 0:
            drill.to("cell", "|".join(picked))
        common.empty_state(f"{md(picked[0])} × {md(picked[1])} has no QA audits in this view.")


def policy_level(drill: Drill) -> None:
    f = drill.filters
    vendor, workflow = drill.cell
    where = {"vendor": (vendor,), "workflow": (workflow,)}
    whole = common.call(kpi_table, f.query(where=where, kpis=CELL_KPIS))
    if whole.empty or whole["decisions"].iat[0] == 0:
        common.empty_state(f"{md(vendor)} × {md(workflow)} has no decisions in this view.")
        return
    target = quality_target(workflow, vendor)
    cell = whole.iloc[0]
    st.markdown(
        f"**{md(vendor)} × {md(workflow)}**: "
        f"Quality score **{pct(cell['quality_score'])}** (95% {pct(cell['quality_score_low'])} – "
        f"{pct(cell['quality_score_high'])}) over {int(cell['audits']):,} audits: "
        + common.status_text("quality_score", cell["quality_score"], target)
    )
    policies = drill.policies()
    policies = policies.assign(policy=policies["policy"].fillna(NO_POLICY))
    rows = pd.concat([whole.assign(policy=ALL), policies], ignore_index=True)
    rows = rows.assign(
        target=target, vs_target=[status_words(q, target) for q in rows["quality_score"]]
    )
    st.caption(
        "Quality by the policy the reviewer cited. Approvals cite none, so under-enforcement "
        f"errors sit in “{NO_POLICY}”; “{ALL}” is the whole cell. Click a bar or select a row "
        "to see the error types."
    )
    picked: str | None = None
    audited = policies[policies["audits"] > 0]
    if len(audited):
        point = picked_point(
            chart(policy_figure(audited, target), "quality_policy_chart", select=True)
        )
        if point is not None:
            picked = str((point.get("customdata") or [point.get("x")])[0])
    shown = ["policy", "decisions", "audits", "quality_score", "quality_score_low",
             "quality_score_high", "target", "vs_target"]  # fmt: skip
    row = picked_row(table(rows[shown], "quality_policies", select=True))
    if row is not None:
        picked = str(rows["policy"].iat[row])
    if picked == NO_POLICY:
        common.empty_state(
            f"Decisions without a cited policy cannot be isolated by policy; choose “{ALL}” for "
            "the error types of the whole cell, these decisions included."
        )
    elif picked is not None:
        drill.to("policy", picked)


def error_type_level(drill: Drill) -> None:
    pareto = drill.error_types()
    st.markdown(f"**Error types** · {describe(drill.segment)}")
    picked: str | None = None
    if pareto.empty:
        common.empty_state("No errors in this segment in this view.")
    else:
        point = picked_point(chart(pareto_figure(pareto), "quality_error_chart", select=True))
        if point is not None and point.get("customdata"):
            picked = str(point["customdata"][0])
    total = pd.DataFrame(
        {
            "error_type": [ALL],
            "errors": [int(pareto["errors"].sum())],
            "critical": [int(pareto["critical"].sum())],
            "share": [1.0 if len(pareto) else np.nan],
            "cumulative_share": [1.0 if len(pareto) else np.nan],
        }
    )
    rows = pd.concat([total, pareto], ignore_index=True) if len(pareto) else total
    st.caption(f"Select a row to see the reviewers; “{ALL}” counts every error type.")
    row = picked_row(table(rows, "quality_error_types", select=True))
    if row is not None:
        picked = str(rows["error_type"].iat[row])
    if picked is not None:
        drill.to("error_type", picked)


def reviewer_level(drill: Drill) -> None:
    error_type = drill.path["error_type"]
    reviewers = drill.reviewers()
    if error_type == ALL:
        what, test = "error", "an exact binomial test against the rest of the segment's rate"
    else:
        what, test = f"{error_type} error", "Fisher's exact test against the rest of the segment"
    st.markdown(f"**Reviewers** · {describe(drill.segment)} · {md(what)}s")
    if reviewers.empty:
        common.empty_state("No audited decisions in this segment in this view.")
        return
    flag = np.where(reviewers["sample"] == "ok", "", "too few audits")
    reviewers = reviewers.assign(flag=np.where(reviewers["outlier"], "▲ stands out", flag))
    st.caption(
        f"Error rate = {md(what)}s / audits. ▲ marks a reviewer who stands out: {test} (one-sided) "
        "is significant after Benjamini-Hochberg correction (5% false discovery rate); "
        "reviewers with fewer than 10 audits are never flagged. Click a bar or select a row "
        "for the audited decisions."
    )
    rate = gaps.pooled_error_rate(reviewers)
    top = reviewers.head(MAX_REVIEWER_BARS)
    height = 160 + 22 * len(top)
    fig = reviewer_figure(top, rate, what)
    picked: str | None = None
    point = picked_point(chart(fig, "quality_reviewer_chart", height, select=True))
    if point is not None and point.get("customdata"):
        picked = str(point["customdata"][0])
    q_value = st.column_config.NumberColumn(format="%.4f")
    event = table(reviewers[REVIEWER_COLUMNS], "quality_reviewers", select=True, q_value=q_value)
    row = picked_row(event)
    if row is not None:
        picked = str(reviewers["reviewer_id"].iat[row])
    if picked is not None:
        drill.to("reviewer", picked)


def audits_level(drill: Drill) -> None:
    error_type, reviewer = drill.path["error_type"], drill.path["reviewer"]
    st.markdown(f"**Audited decisions** · {describe(drill.segment)} · reviewer **{md(reviewer)}**")
    everything = st.toggle(
        "Include audits without an error",
        key="quality_all_audits",
        bind="query-params",
        help="By default only audits that count as errors are listed.",
    )
    rows = common.call(
        gaps.audited_decisions,
        drill.segment,
        drill.base,
        errors_only=not everything,
        error_type=None if error_type == ALL else error_type,
        reviewer_id=reviewer,
    )
    if rows.empty:
        common.empty_state("No audited decisions match this drill path in this view.")
        return
    st.caption(f"{len(rows):,} audited decisions, newest first (at most 500).")
    comment = st.column_config.TextColumn("auditor comment", width="large")
    tz = common.config().reporting_timezone
    shown = timefmt.local_times(rows[AUDIT_COLUMNS], ("decided_at", "audited_at"), tz)
    table(
        shown, "quality_audits", comment=comment,
        decided_at=timefmt.column("decided_at", tz), audited_at=timefmt.column("audited_at", tz),
    )  # fmt: skip


def drill_action(drill: Drill) -> None:
    """The "Record an action" form for the drilled segment: its cell and policy, the reviewer
    (for roles that see reviewers) and the sidebar's one site or market, if any."""
    f = drill.filters
    segment = dict(drill.segment)
    for dim in ("site", "market"):
        value = f.single(dim)
        if value is not None:
            segment[dim] = value
    reviewer = drill.path.get("reviewer")
    if reviewer and common.engine().scope.see_reviewers:
        segment["reviewer_id"] = reviewer
    vendor, workflow = drill.cell
    source = actions_ui.gap_source({"vendor": vendor, "workflow": workflow})
    actions_ui.action_form(segment, source, key="quality_drill_action")


def actions_section(f: common.Filters) -> None:
    st.subheader("Actions")
    st.caption(
        "What was done about segments these filters include (recorded here, on Calibration "
        "review or with `bpo-kpi actions add`), newest first, and whether it worked: the KPI "
        "before and after the action's date, and the change against peer segments that had no "
        "action over the same days (difference in differences)."
    )
    shown = actions_ui.actions_in_view(where=f.where)
    actions_ui.actions_table(shown, key="quality_actions")
    segment = {d: v for d in ("vendor", "site", "workflow", "market") if (v := f.single(d))}
    if segment:
        actions_ui.action_form(segment, None, key="quality_view_action",
                               label="Record an action for these filters")  # fmt: skip


def drill_down(f: common.Filters) -> None:
    st.subheader("Drill-down: vendor × workflow")
    linked = common.drill_path()
    steps = available(parse_path(linked)[0], f)
    if steps != linked:
        # Never named: a value out of the viewer's scope reads like one that does not exist.
        common.set_drill_path(steps)
        st.warning(
            "Part of the drill-down in this link is not available and was left out.",
            icon=":material/link_off:",
        )
    common.breadcrumb(
        steps, "Vendor × workflow", LEVEL_LABELS, show=lambda level, v: v.replace("|", " × ")
    )
    drill = Drill(steps, f)
    if not steps:
        heatmap_level(drill)
        return
    vendor, workflow = drill.cell
    for dim, value in (("vendor", vendor), ("workflow", workflow)):
        chosen = f.where.get(dim, ())
        if chosen and value not in chosen:
            common.empty_state(
                f"{md(vendor)} × {md(workflow)} is outside the sidebar filters ({dim}: "
                f"{', '.join(map(md, chosen))}); step back or widen the filters."
            )
            return
    drill_action(drill)
    level = LEVELS[len(steps)] if len(steps) < len(LEVELS) else "audits"
    {
        "policy": policy_level,
        "error_type": error_type_level,
        "reviewer": reviewer_level,
        "audits": audits_level,
    }[level](drill)


# --- the page --------------------------------------------------------------------------------

filters = common.filters()
overall_target = quality_target(filters.single("workflow"), filters.single("vendor"))
st.title("Quality & gaps")
st.caption(
    f"{filters.describe()} · quality score = 1 − errors / QA audits; intervals are Wilson 95%."
)
with st.container(key="quality_headline"):
    headline(filters, overall_target)
with st.container(key="quality_trends"):
    trends(filters, overall_target)
with st.container(key="quality_enforcement"):
    enforcement(filters)
with st.container(key="quality_gaps"):
    gap_list(filters)
with st.container(key="quality_drill"):
    drill_down(filters)
with st.container(key="quality_actions_section"):
    actions_section(filters)
