"""Streamlit entry point: opens the data, renders the shared sidebar filters and routes between
the dashboard pages (each page reads the filters, calls kpi/ and draws plotly charts)."""

import streamlit as st

from app_pages import common

st.set_page_config(page_title="bpo-kpi", page_icon=":bar_chart:", layout="wide")

ctx = common.start()
if ctx is None or ctx.summary.empty:
    st.navigation(
        [st.Page("app_pages/first_run.py", title="Get started", icon=":material/rocket_launch:")]
    ).run()
else:
    pages = [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/monitoring:",
                default=True),
        st.Page("app_pages/quality.py", title="Quality & gaps", icon=":material/troubleshoot:"),
        st.Page("app_pages/tat.py", title="Turnaround & SLA", icon=":material/timer:"),
        st.Page("app_pages/calibration.py", title="Calibration review",
                icon=":material/balance:"),
        st.Page("app_pages/vendors.py", title="Vendor comparison",
                icon=":material/compare_arrows:"),
        st.Page("app_pages/health.py", title="Data health", icon=":material/health_and_safety:"),
        st.Page("app_pages/export.py", title="Export", icon=":material/ios_share:"),
    ]  # fmt: skip
    nav = st.navigation(pages)
    common.sidebar(ctx.summary)
    nav.run()
