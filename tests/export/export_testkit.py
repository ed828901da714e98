"""Helpers of the export tests: the period under test and the CLI run in process."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from bpo_kpi_cli.main import main

PERIOD = "2026-W47"  # 16 - 22 Nov 2026, the sample's last week
START, END = "2026-11-16", "2026-11-22"


def run_cli(*args: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def kpis_json(db: Path, *args: str) -> list[dict[str, Any]]:
    """`bpo-kpi kpis ... --format json` for the export period: the reference numbers."""
    code, out, err = run_cli("kpis", "--db", db, "--from", START, "--to", END, *args,
                             "--format", "json")  # fmt: skip
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows
