"""Streamlit entry point: routes between dashboard pages (logic lives in kpi/ and app_pages/)."""

import streamlit as st

st.set_page_config(page_title="bpo-kpi", page_icon=":bar_chart:", layout="wide")

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
]
st.navigation(pages).run()
