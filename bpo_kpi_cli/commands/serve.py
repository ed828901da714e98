"""`serve` (the Streamlit dashboard on a database) and `demo` (sample data, ingested, served).

The demo's data end yesterday in the reporting time zone (`--end` chooses another day), the
vendor samples moved to end then too, so the Overview opens on a whole, ordinary day.

Launching Streamlit is the shell's work: `app.py` is found next to the packages, as in a clone
or an editable install, and run with the project's `.streamlit/config.toml`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from bpo_kpi.config import CONFIG_ENV, load_config
from bpo_kpi.db import DB_ENV, connect, default_db_path
from bpo_kpi_cli.output import EXIT_OK, command, progress
from sample_data import generate, load_canonical, load_raw_samples

APP = Path(__file__).resolve().parents[2] / "app.py"


@command
def cmd_demo(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = args.db or default_db_path()
    report = progress(False)
    con = connect(db)
    try:
        existing = con.execute("SELECT count(*) FROM decisions").fetchone()[0]  # type: ignore[index]
        if existing and not args.force:
            report(f"{db} already holds {existing:,} decisions; serving it (--force regenerates)")
        else:
            end = args.end or yesterday(config.reporting_timezone)
            report(
                f"generating {args.decisions:,} decisions, {args.weeks} weeks to {end}, "
                f"seed {args.seed}"
            )
            data = generate(seed=args.seed, decisions=args.decisions, weeks=args.weeks, end=end)
            load_canonical(data, args.data_dir, con, config=config, progress=report)
            # The vendor samples move to the same last day (their files' copies go here).
            samples = Path(args.data_dir) / "vendor_samples"
            load_raw_samples(con, config=config, progress=report, end=end, work_dir=samples)
            report(f"database ready: {db}")
    finally:
        con.close()
    if args.no_serve:
        return EXIT_OK
    report(f"starting the dashboard on http://localhost:{args.port}")
    return serve(Path(db), args.config, args.port)


def yesterday(timezone: str) -> dt.date:
    """The last complete day in `timezone` (the demo's data end there by default, so the
    Overview's monitored day is a whole day of data)."""
    return dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


@command
def cmd_serve(args: argparse.Namespace) -> int:
    db = args.db or default_db_path()
    if not Path(db).exists():
        print(f"note: {db} does not exist yet; the dashboard explains how to load data")
    print(f"starting the dashboard on http://localhost:{args.port}", flush=True)
    return serve(Path(db), args.config, args.port, role=args.role)


def serve(db: Path, config: Path | None, port: int, role: str | None = None) -> int:
    """Run the dashboard on `db` until it stops; returns Streamlit's exit code."""
    env = {**os.environ, DB_ENV: str(db.resolve())}
    # A bad file or an unknown role fails here, with the field named, not in the browser.
    loaded = load_config(config)
    if config:
        env[CONFIG_ENV] = str(Path(config).resolve())
    if role and role not in loaded.roles:
        raise ValueError(f"unknown role {role!r}; configured roles: {', '.join(loaded.roles)}")
    if role:
        env["BPO_KPI_ROLE"] = role
    return subprocess.call(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env=env,
        cwd=APP.parent,  # so the project's .streamlit/config.toml applies
    )  # fmt: skip
