"""Overview (placeholder)."""

import streamlit as st

from app_pages import common
from kpi.compute import kpi_table

f = common.filters()
st.title("Overview")
table = common.call(kpi_table, f.query(by=("vendor",)))
st.dataframe(table)
