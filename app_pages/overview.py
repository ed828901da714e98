"""Overview (daily monitor): the alert list, then KPI tiles per vendor for the monitored day (the
filters' "To" day) against targets, with the change since the day before and since the same
weekday a week earlier (significance for shares) and a sparkline over the window.

Numbers come from kpi.monitor; `bpo-kpi alerts` prints the same alert list for the same filters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from app_pages import common
from kpi import monitor
from kpi.catalog import KPIS

SEVERITY_TEXT = {"critical": "🔴 critical", "warning": "🟠 warning", "info": "🔵 info"}
PERIOD_WORD = {"day": "daily", "week": "weekly", "month": "monthly"}


def cli_command(f: common.Filters) -> str:
    """The `bpo-kpi alerts` call that prints this page's alert list."""
    parts = ["bpo-kpi alerts", f"--from {f.start}", f"--day {f.end}"]
    parts += [f"--where {dim}={','.join(values)}" for dim, values in f.where.items() if values]
    role = common.context().role
    if role != "admin":
        parts.append(f"--role {role}")
    return " ".join(parts)


def alert_table(alerts: pd.DataFrame) -> pd.DataFrame:
    """The library's readable alert list, severity in words and symbol."""
    table = monitor.readable_alerts(alerts)
    table["severity"] = table["severity"].map(SEVERITY_TEXT)
    return table.rename(columns=str.capitalize)


def colour_change(kpi: str, text: str, change: float, significant: bool) -> str:
    """Significant changes in green (better) or red (worse); the words say it either way."""
    verdict = monitor.change_verdict(kpi, change)
    if significant and verdict:
        return f":{'green' if verdict == 'better' else 'red'}[{text}]"
    return text


def tile(col: Any, rec: dict[str, Any], points: pd.DataFrame, window_label: str, key: str) -> None:
    kpi = rec["kpi"]
    value = rec["value"]
    target = None if pd.isna(rec["target"]) else float(rec["target"])
    # The metric's own sparkline (daily values over the window): a plotly chart per tile made
    # the page several times slower to draw in the browser (30 charts), for a line this small.
    series = points[kpi].dropna()
    col.metric(
        common.label(kpi),
        common.fmt(kpi, value),
        help=KPIS[kpi].definition,
        chart_data=series.tolist() if len(series) > 1 else None,
        chart_type="line",
    )
    status = common.status_text(kpi, None if pd.isna(value) else value, target)
    if rec["provisional"]:
        status = ":gray[⏳ provisional: audits still arriving]"
    lines = [
        status or ":gray[no target]",
        f":gray[{monitor.basis_text(kpi, int(rec['n']))} · "
        f"{window_label}: {common.fmt(kpi, rec['window_value'])}]",
    ]
    for name, against in monitor.COMPARISON_TEXT.items():
        change, p, sig = rec[f"change_{name}"], rec[f"p_{name}"], rec[f"significant_{name}"]
        text = monitor.change_text(kpi, change, p, bool(sig), against, rec["provisional"])
        lines.append(colour_change(kpi, text, change, bool(sig)))
    col.markdown("  \n".join(lines))


f = common.filters()
day = f.end
base = f.query()
st.title("Overview")
st.caption(
    f"Daily monitor for **{day:%A %d %b %Y}** (the “To” day), compared with the day before and "
    f"the same weekday a week earlier · {f.describe()}"
)

# --- alerts -----------------------------------------------------------------------------------

alerts = common.call(monitor.alerts, base, day)
complete_through = common.call(monitor.audits_complete_through)
st.subheader("Alerts")
if alerts.empty:
    st.success("No alerts for this day and these filters.", icon=":material/check_circle:")
else:
    counts = monitor.alert_counts(alerts)
    st.markdown(
        " · ".join(f"**{n}** {SEVERITY_TEXT[s]}" for s, n in counts.items() if n)
        + " — most severe first; within a severity, the largest impact first."
    )
    common.dataframe(
        alert_table(alerts),
        hide_index=True,
        key="overview_alerts",
        column_config={
            "Details": st.column_config.TextColumn(width="large"),
            "When": st.column_config.TextColumn(width="small"),
        },
    )
st.caption(
    "Definitions: out of control = a day's error rate outside its vendor's p-chart limits over "
    "the window; SLA breach = a vendor × workflow below its SLA target on the day (critical when "
    "below it beyond day-to-day noise); backlog past due = pending items past their due time at "
    "the day's end; QA coverage = audited share of the window's decisions below target"
    + (
        f", counting days through {complete_through:%d %b} (later days' audits are still arriving)"
        if complete_through < day
        else ""
    )
    + "; data not fresh = nothing new for longer than the freshness limit. The same list on "
    f"the command line: `{cli_command(f)}`"
)

# --- tiles ------------------------------------------------------------------------------------

st.subheader(f"Vendors on {day:%a %d %b}")
daily = common.call(monitor.daily, base, day)
if daily.empty:
    common.empty_state("No decisions, audits or backlog for these filters up to this day.")
    st.stop()

window = common.call(monitor.window_table, base)
vendors = sorted(daily["vendor"].dropna().unique())
pinned_workflow, pinned_vendor = f.single("workflow"), f.single("vendor")
config = common.config()
sections: list[tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]] = []
if len(vendors) > 1:
    total_daily = common.call(monitor.daily, base, day, ())
    total_window = common.call(monitor.window_table, base, ())
    sections.append((total_daily, total_window, ()))
sections.append((daily, window, ("vendor",)))

window_days = (day - f.start).days + 1
window_label = f"{window_days} days" if window_days > 1 else "day"
st.caption(
    "Each tile: the day's value and its target status, what it rests on, the value over the "
    f"window ({f.start:%d %b} – {day:%d %b}), and the change against "
    f"{day - dt.timedelta(1):%a %d %b} and {day - dt.timedelta(7):%a %d %b}. Changes of shares "
    "are tested with a two-proportion z test (5% level, not corrected for the many tiles). QA "
    f"audits arrive up to {monitor.QA_LAG_DAYS} days after the decision: audits are complete "
    f"through {complete_through:%a %d %b}, quality, QA coverage and kappa of later days are "
    f"provisional. Sparklines: {PERIOD_WORD[f.period]} values over the window."
)

for frame, totals, by in sections:
    tiles = monitor.tiles(
        frame, day, config, workflow=pinned_workflow, vendor=pinned_vendor, window=totals,
        complete_through=complete_through,
    )  # fmt: skip
    if f.period == "day":
        trend = frame[frame["period_start"] >= f.start]
    else:
        trend = common.call(monitor.window_table, base, by, f.period)
    for vendor, group in tiles.groupby("vendor", dropna=False, sort=False):
        name = monitor.group_label(vendor)
        points = trend if not by else trend[trend["vendor"] == vendor]
        today = frame[frame["period_start"] == day] if not by else frame[
            (frame["period_start"] == day) & (frame["vendor"] == vendor)
        ]  # fmt: skip
        decided = int(today["decisions"].sum())
        audited = int(today["audits"].sum())
        with st.container(border=True):
            st.markdown(
                f"**{name}** · {decided:,} {'decision' if decided == 1 else 'decisions'} and "
                f"{audited:,} {'audit' if audited == 1 else 'audits'} on {day:%a %d %b}"
            )
            cols = st.columns(len(monitor.TILE_KPIS))
            for col, rec in zip(cols, group.to_dict("records"), strict=True):
                key = f"overview_spark_{name}_{rec['kpi']}"
                tile(col, rec, points.sort_values("period_start"), window_label, key)
