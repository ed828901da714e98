"""Overview page (placeholder until the dashboard issue): what the database holds."""

import streamlit as st

from kpi.data_summary import database_summary

st.title("bpo-kpi")
summary = database_summary()
if summary is None:
    st.info("No database yet. Run `bpo-kpi demo` to generate sample data, or `bpo-kpi ingest`.")
else:
    st.caption(f"Database: {summary['path']}")
    cols = st.columns(4)
    for col, (label, key) in zip(
        cols,
        [
            ("Decisions", "decisions"),
            ("QA audits", "qa_audits"),
            ("Calibration ratings", "calibration_ratings"),
            ("Ingest runs", "ingest_runs"),
        ],
        strict=True,
    ):
        col.metric(label, f"{summary[key]:,}")
