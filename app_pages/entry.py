"""The dashboard's router: opens the data, renders the shared sidebar filters and routes between
the pages (each page reads the filters, calls kpi/ and draws plotly charts).

Streamlit runs it through a two-line script: `app.py` in a clone (`streamlit run app.py`, the
AppTest tests) and `app_pages/streamlit_app/app.py` in an installed package (`bpo-kpi serve`).
Pages are named by absolute paths from this folder, so neither script's location matters.
"""

from pathlib import Path

import streamlit as st

from app_pages import common

PAGES = Path(__file__).resolve().parent


def main() -> None:
    """One run of the app (Streamlit runs its script again on every interaction)."""
    st.set_page_config(page_title="bpo-kpi", page_icon=":bar_chart:", layout="wide")

    ctx = common.start()
    if ctx is None or ctx.summary.empty:
        st.navigation(
            [st.Page(PAGES / "first_run.py", title="Get started",
                     icon=":material/rocket_launch:")]
        ).run()  # fmt: skip
        return
    pages = [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/monitoring:",
                default=True),
        st.Page(PAGES / "quality.py", title="Quality & gaps", icon=":material/troubleshoot:"),
        st.Page(PAGES / "disputes.py", title="Disputes", icon=":material/gavel:"),
        st.Page(PAGES / "tat.py", title="Turnaround & SLA", icon=":material/timer:"),
        st.Page(PAGES / "calibration.py", title="Calibration review",
                icon=":material/balance:"),
        st.Page(PAGES / "vendors.py", title="Vendor comparison",
                icon=":material/compare_arrows:"),
        st.Page(PAGES / "health.py", title="Data health", icon=":material/health_and_safety:"),
        st.Page(PAGES / "export.py", title="Export", icon=":material/ios_share:"),
    ]  # fmt: skip
    nav = st.navigation(pages)
    common.sidebar(ctx.summary)
    common.log_view(nav.title)
    nav.run()
