"""Dashboard pages: each reads the shared filters, calls kpi/, and draws plotly charts."""
