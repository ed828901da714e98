"""First-run page: shown instead of the dashboard while the database holds no decisions."""

import streamlit as st

from app_pages import common

st.title("Welcome to bpo-kpi")
db = common.db_path()
if db.exists():
    st.info(f"The database `{db}` holds no decisions yet (or none your role may see).")
else:
    st.info(f"There is no database at `{db}` yet.")
st.markdown(
    """
**To explore with sample data** (a seeded vendor dataset with known quality gaps), stop this app
and run:

```bash
bpo-kpi demo
```

**To load your vendors' files:**

```bash
bpo-kpi ingest decisions path/to/decisions.csv --vendor northwind
bpo-kpi ingest audits path/to/qa_audits.csv
bpo-kpi ingest calibration path/to/calibration.csv
```

Vendor exports with their own column names, labels or time formats load through a mapping
(`--mapping sample_data/vendors/northwind.toml`). The dashboard picks up new data as soon as an
ingest commits: reload this page.

The database is `./bpo_kpi.duckdb` unless `BPO_KPI_DB` names another file.
"""
)
