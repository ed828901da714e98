"""Read path: KPI catalog, statistics and queries (no Streamlit, no writes)."""
