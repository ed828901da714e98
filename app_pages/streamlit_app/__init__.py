"""The folder `bpo-kpi serve` runs Streamlit in: `app.py` (the dashboard's main script) and
`.streamlit/config.toml` beside it, which Streamlit applies over the global and the working
directory's settings whatever folder the server is started from.

The script has a folder of its own because Streamlit puts the main script's folder first on the
module path: from `app_pages/` itself, the page `export.py` would hide the `export` package.
"""

from pathlib import Path

SCRIPT = Path(__file__).resolve().with_name("app.py")
