"""Export: the stakeholder deck and the KPI snapshot for the sidebar's filters.

The period is anchored on the sidebar's last day: its ISO week, month or quarter, or the
sidebar's own dates. The snapshot is `kpi.snapshot.build` (the same call `bpo-kpi export`
makes), so the file holds the numbers this dashboard shows for those filters and the same
content hash as the CLI; the page shows the command that reproduces it.
"""

from __future__ import annotations

import datetime as dt
import shlex

import streamlit as st

import export
from app_pages import common
from app_pages.text import md
from kpi import snapshot
from kpi.periods import ReportPeriod, custom_period, month_period, quarter_period, week_period

FORMATS = {
    "pptx": "Deck (PowerPoint)",
    "xlsx": "Workbook (Excel)",
    "csv": "CSV files (zip)",
    "parquet": "Parquet files (zip)",
    "json": "JSON",
    "html": "HTML page",
}
PERIOD_KINDS = ("ISO week", "Month", "Quarter", "The sidebar's dates")
ALL_VENDORS = "All vendors in view"


def period_of(kind: str, start: dt.date, end: dt.date) -> ReportPeriod:
    if kind == "ISO week":
        return week_period(end)
    if kind == "Month":
        return month_period(end.year, end.month)
    if kind == "Quarter":
        return quarter_period(end.year, (end.month - 1) // 3 + 1)
    return custom_period(start, end)


def command_line(period: ReportPeriod, where: dict[str, tuple[str, ...]], fmt: str) -> str:
    """The `bpo-kpi export` command that writes the same file (shown as code, never run)."""
    if period.kind in ("week", "month", "quarter"):
        when = f"--period {period.label}"
    else:
        when = f"--from {period.start} --to {period.end}"
    # Values come from the data (and the URL): quoted, so a copied command means what it shows.
    filters = "".join(
        " --where " + shlex.quote(d + "=" + ",".join(v)) for d, v in where.items() if v
    )
    ctx_role = common.context().role
    role = f" --role {ctx_role}" if ctx_role != "admin" else ""
    out = f"bpo-kpi_{period.label}{export.SUFFIX[fmt]}"
    return f"bpo-kpi export {when}{filters}{role} --format {fmt} --out {out}"


f = common.filters()
st.title("Export")
st.caption(
    "A deck for stakeholders or a snapshot of the numbers, for the filters in the sidebar. "
    "Every number is the one this dashboard shows; the file carries its lineage (data as of, "
    "ingest runs and file hashes, configuration, content hash)."
)
left, mid, right = st.columns(3)
kind = left.radio("Period", PERIOD_KINDS, key="export_period", bind="query-params")
vendors = list(f.where.get("vendor", ())) or list(common.context().summary.values.get("vendor", ()))
vendor = mid.selectbox(
    "Vendor", [ALL_VENDORS, *vendors], key="export_vendor", bind="query-params",
    help="One vendor's deck (a QBR): only that vendor's numbers, no other vendor named.",
)  # fmt: skip
fmt = right.selectbox(
    "Format", list(FORMATS), format_func=FORMATS.__getitem__, key="export_format",
    bind="query-params",
)  # fmt: skip
period = period_of(str(kind), f.start, f.end)
where = {d: tuple(v) for d, v in f.where.items() if v}
if vendor != ALL_VENDORS:
    where["vendor"] = (str(vendor),)
st.markdown(f"**{period.label}**: {period.start:%d %b %Y} – {period.end:%d %b %Y}")
st.code(command_line(period, where, str(fmt)), language="bash")

if st.button("Build", type="primary", key="export_build"):
    with st.status(f"Building the {period.label} snapshot", expanded=True) as progress:
        st.write("Computing KPIs, scorecard, trend, gaps, calibration and alerts …")
        snap = common.call(snapshot.build, period, where)
        st.write(f"Writing {FORMATS[str(fmt)].lower()} …")
        data = export.render(snap, str(fmt))
        progress.update(label=f"{period.label} ready", state="complete", expanded=False)
    st.session_state["export_file"] = (
        (period, where, fmt, common.context().version),
        (export.file_name(snap, str(fmt)), data, export.MIME[str(fmt)], snap.content_hash,
         list(snap.tables["summary"]["sentence"])),
    )  # fmt: skip

built = st.session_state.get("export_file")
ready = built[1] if built and built[0] == (period, where, fmt, common.context().version) else None
if ready:
    name, data, mime, content, sentences = ready
    logged = common.export_logger()  # the access log records the download
    st.download_button(
        f"Download {md(name)}", lambda: logged(name, data), file_name=name, mime=mime,
        key="export_download",
        on_click="ignore", icon=":material/download:", type="primary",
    )  # fmt: skip
    st.caption(f"Content hash {content}")
    st.subheader("Executive summary")
    for sentence in sentences:
        st.text(f"• {sentence}")
