"""Overview (daily monitor): the alert list, then KPI tiles per vendor for the monitored day (the
filters' "To" day) against targets, with the change since the day before and since the same
weekday a week earlier (significance for shares) and a sparkline over the window.

Numbers come from kpi.monitor; `bpo-kpi alerts` prints the same alert list for the same filters.
"""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from app_pages import actions_ui, common
from app_pages.text import code_span, md
from bpo_kpi.state import AlertStatus, StateError, open_state
from export.notify import status_text
from kpi import actions, monitor
from kpi.catalog import KPIS
from kpi.targets import basis_word, interval_text, min_shown

SEVERITY_TEXT = {"critical": "🔴 critical", "warning": "🟠 warning", "info": "🔵 info"}
PERIOD_WORD = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly"}


def cli_command(f: common.Filters) -> str:
    """The `bpo-kpi alerts` call that prints this page's alert list."""
    parts = ["bpo-kpi alerts", f"--from {f.start}", f"--day {f.end}"]
    # Values come from the data (and the URL): quoted, so a copied command means what it shows.
    parts += [
        f"--where {shlex.quote(dim + '=' + ','.join(values))}"
        for dim, values in f.where.items()
        if values
    ]
    role = common.context().role
    if role != "admin":
        parts.append(f"--role {role}")
    return " ".join(parts)


def alert_link(rec: dict[str, Any], f: common.Filters) -> str:
    """Where an alert leads: its segment on Quality & gaps (quality), Turnaround & SLA or
    Disputes (disputes pending), over the alert's own days (the window's, for a day-bound
    alert), the filters kept."""
    segment = dict(part.split("=", 1) for part in str(rec["segment"]).split(", ") if "=" in part)
    where = {d: list(v) for d, v in f.where.items()}
    for dim in ("vendor", "workflow", "market", "site"):
        if dim in segment and dim != "vendors":
            where[dim] = [segment[dim]]
    start = rec["start"] if isinstance(rec["start"], dt.date) else f.start
    end = rec["end"] if isinstance(rec["end"], dt.date) else f.end
    if rec["kind"] in ("quality_gap", "critical_errors", "out_of_control"):
        drill = []
        if "vendor" in segment and "workflow" in segment:
            drill = [("cell", f"{segment['vendor']}|{segment['workflow']}")]
        return common.view_link("quality", min(start, f.start), end, where, drill)
    if rec["kind"] in ("sla_breach", "backlog_past_due"):
        return common.view_link("tat", min(start, f.start), end, where)
    if rec["kind"] == "qa_coverage":
        return common.view_link("health", min(start, f.start), end, where)
    if rec["kind"] == "dispute_pending":  # the list of disputes pending at the day's end
        return common.view_link("disputes", f.start, end, where)
    return common.view_link("health", f.start, f.end, where)


def alert_table(
    alerts: pd.DataFrame,
    f: common.Filters | None = None,
    statuses: dict[str, AlertStatus] | None = None,
) -> pd.DataFrame:
    """The library's readable alert list, severity in words and symbol, and (with the filters)
    a link to each alert's segment and its status (new, acknowledged, snoozed)."""
    table = monitor.readable_alerts(alerts)
    table["severity"] = table["severity"].map(SEVERITY_TEXT)
    table = table.rename(columns=str.capitalize)
    if f is not None:
        table["Open"] = [alert_link(rec, f) for rec in alerts.to_dict("records")]
    if statuses is not None:
        tz = common.config().reporting_timezone
        table["Status"] = [status_text(statuses.get(k), tz) for k in alerts["key"]]
    return table


def acknowledge_form(alerts: pd.DataFrame, statuses: dict[str, AlertStatus]) -> None:
    """Acknowledge, snooze or reopen one alert, with who and why (kept in the state file
    beside the database: it survives re-ingests and is written while an ingest runs)."""
    labels = {
        rec["key"]: f"{rec['severity']} · {monitor.ALERT_KINDS[rec['kind']]} · {rec['segment']}"
        for rec in alerts.to_dict("records")
    }
    with st.expander("Acknowledge or snooze an alert"):
        with st.form("overview_ack"):
            key = st.selectbox("Alert", list(labels), format_func=labels.__getitem__)
            action = st.radio("Action", ["Acknowledge", "Snooze until", "Reopen"],
                              horizontal=True)  # fmt: skip
            until = st.date_input("Until (with Snooze)", value=common.local_today()
                                  + dt.timedelta(days=1))  # fmt: skip
            by = st.text_input("Your name", max_chars=80)
            reason = st.text_input("Why", max_chars=500)
            if not st.form_submit_button("Save"):
                return
        store = open_state(common.db_path())
        assert store is not None
        try:
            with store:
                if action == "Acknowledge":
                    store.acknowledge(str(key), by, reason)
                elif action == "Reopen":
                    store.clear(str(key), by or None, reason or None)
                else:
                    zone = ZoneInfo(common.config().reporting_timezone)
                    store.snooze(str(key), dt.datetime.combine(until, dt.time(), zone), by, reason)
        except StateError as exc:
            st.error(md(exc))  # it may quote the key or the reason
            return
        st.rerun()


def colour_change(kpi: str, text: str, change: float, significant: bool) -> str:
    """Significant changes in green (better) or red (worse); the words say it either way."""
    verdict = monitor.change_verdict(kpi, change)
    if significant and verdict:
        return f":{'green' if verdict == 'better' else 'red'}[{text}]"
    return text


def tile(
    col: Any, rec: dict[str, Any], points: pd.DataFrame, window_label: str, key: str,
    partial: bool,
) -> None:  # fmt: skip
    kpi = rec["kpi"]
    value = rec["value"]
    target = None if pd.isna(rec["target"]) else float(rec["target"])
    # The metric's own sparkline (daily values over the window): a plotly chart per tile made
    # the page several times slower to draw in the browser (30 charts), for a line this small.
    series = points[kpi].dropna()
    # Lead with a number that rests on enough data: the window's when the day's basis is thin.
    # A kappa on a handful of audits reads 1.00 with a zero-width interval: not shown.
    first = monitor.tile_lead(rec, common.config())
    lead, shown, n, low, high, too_few = (first.day, first.value, first.n, first.low,
                                          first.high, first.too_few)  # fmt: skip
    minimum = min_shown(common.config(), kpi)
    col.metric(
        common.label(kpi) + ("" if lead else f" ({window_label})"),
        f"too few {basis_word(kpi)}" if too_few else common.fmt(kpi, shown),
        help=KPIS[kpi].definition,
        chart_data=series.tolist() if len(series) > 1 else None,
        chart_type="line",
    )
    status = common.status_text(kpi, None if pd.isna(shown) or too_few else shown, target)
    if rec["provisional"]:
        why = "the day is still under way" if partial else "audits still arriving"
        status = f":gray[⏳ provisional: {why}]"
    basis = monitor.basis_text(kpi, int(rec["n"]))
    if lead:
        second = f"{basis} · {window_label}: {common.fmt(kpi, rec['window_value'])}"
    else:
        second = (f"the day: {common.fmt(kpi, value)} on {basis}, too few to lead with · "
                  f"{window_label}: {monitor.basis_text(kpi, int(rec['window_n']))}")  # fmt: skip
    lines = [status or ":gray[no target]", f":gray[{second}]"]
    if KPIS[kpi].unit == "kappa":  # every kappa with its interval and its n
        lines.insert(1, f":gray[{interval_text(kpi, shown, low, high, n, minimum)}]")
    for name, against in monitor.COMPARISON_TEXT.items():
        change, p, sig = rec[f"change_{name}"], rec[f"p_{name}"], rec[f"significant_{name}"]
        text = monitor.change_text(kpi, change, p, bool(sig), against, rec["provisional"])
        lines.append(colour_change(kpi, text, change, bool(sig)))
    col.markdown("  \n".join(lines))


f = common.filters()
day = f.end
base = f.query()
partial = day >= common.local_today()
st.title("Overview")
st.caption(
    f"Daily monitor for **{day:%A %d %b %Y}** (the “To” day), compared with the day before and "
    f"the same weekday a week earlier · {f.describe()}"
)
if partial:
    st.info(
        f"{day:%A %d %b} is still under way ({common.config().reporting_timezone}): its numbers "
        "cover the day so far, so they are shown as provisional and not compared with full "
        "days. The last complete day is the default “To” day.",
        icon=":material/schedule:",
    )

# --- alerts -----------------------------------------------------------------------------------

alerts = common.call(monitor.alerts, base, day)
complete_through = common.call(monitor.audits_complete_through)
store = open_state(common.db_path(), create=False)
statuses: dict[str, AlertStatus] = {}
if store is not None:
    with store:
        statuses = store.statuses(alerts["key"])
st.subheader("Alerts")
if alerts.empty:
    st.success("No alerts for this day and these filters.", icon=":material/check_circle:")
else:
    counts = monitor.alert_counts(alerts[~alerts["key"].isin(list(statuses))])
    handled = f" ({len(statuses)} acknowledged or snoozed)" if statuses else ""
    st.markdown(
        " · ".join(f"**{n}** {SEVERITY_TEXT[s]}" for s, n in counts.items() if n)
        + f"{handled} — most severe first; within a severity, the largest impact first."
    )
    common.dataframe(
        alert_table(alerts, f, statuses),
        hide_index=True,
        key="overview_alerts",
        column_order=[
            "Severity",
            "Alert",
            "Open",
            "Status",
            "Vendor",
            "Workflow",
            "When",
            "Value",
            "Limit",
            "Details",
        ],  # fmt: skip
        column_config={
            "Details": st.column_config.TextColumn(width="large"),
            "When": st.column_config.TextColumn(width="small"),
            "Open": st.column_config.LinkColumn(
                "Open", display_text="drill in", help="The alert's segment, its days and filters"
            ),
        },
    )
    acknowledge_form(alerts, statuses)
st.caption(
    f"Definitions: error rate above target = a vendor × workflow, or one of its markets, sites "
    "or policies, whose error rate over the last "
    f"{' or '.join(str(d) for d in monitor.quality_windows(common.config()))} days is above "
    "target with confidence (exact test; the narrowest segment that explains it is named); "
    "critical error rate above target = the same test on a vendor × workflow's critical errors "
    "against its critical-error target; out of control = a day's error rate outside its "
    "vendor's p-chart limits; SLA "
    "breach = a vendor × workflow below its SLA target on the day beyond day-to-day noise; "
    "backlog past due = a vendor's pending items past their due time at the day's end; QA "
    "coverage = a vendor's workflows audited below target"
    + (
        f", counting days through {complete_through:%d %b} (later days' audits are still arriving)"
        if complete_through < day
        else ""
    )
    + "; disputes pending too long = a vendor's disputes still pending at the day's end more "
    f"than {common.config().monitor.dispute_pending_days:g} days after they were raised"
    + "; data not fresh = nothing new for longer than the freshness limit. Nothing is alerted "
    f"on fewer than {common.config().monitor.min_audits} audits (quality) or "
    f"{common.config().monitor.min_decisions} decisions (SLA), nor when fewer than "
    f"{common.config().monitor.min_impact:g} decisions are affected; critical needs both a "
    "strong test and a large impact. Critical Harms workflows come first. The same list on "
    f"the command line: {code_span(cli_command(f))}"
)

with st.expander("Link to this view"):
    st.caption("Every filter and the dates are in the link: it shows this view tomorrow too.")
    common.copy_link("overview", f)

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

# Actions dated in the window (the sparklines' span) that touch the filters: one line per
# vendor block, since a metric's sparkline takes no markers.
marked = actions_ui.actions_in_view(f, end=day)
for frame, totals, by in sections:
    tiles = monitor.tiles(
        frame, day, config, workflow=pinned_workflow, vendor=pinned_vendor, window=totals,
        complete_through=complete_through, partial=partial,
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
                f"**{md(name)}** · {decided:,} {'decision' if decided == 1 else 'decisions'} and "
                f"{audited:,} {'audit' if audited == 1 else 'audits'} on {day:%a %d %b}"
            )
            where = {d: list(v) for d, v in f.where.items()}
            if by:
                where["vendor"] = [str(vendor)]
            st.page_link(  # by absolute path: the main script's folder differs when installed
                str(Path(__file__).with_name("quality.py")), label="Quality & gaps for this view",
                query_params=common.view_params(f.start, day, where),
            )  # fmt: skip
            mine = actions.touching(marked, {"vendor": (str(vendor),)}) if by else marked
            if mine:
                st.caption(actions_ui.actions_line(mine, leave_out=by))
            cols = st.columns(len(monitor.TILE_KPIS))
            for col, rec in zip(cols, group.to_dict("records"), strict=True):
                key = f"overview_spark_{name}_{rec['kpi']}"
                tile(col, rec, points.sort_values("period_start"), window_label, key, partial)
