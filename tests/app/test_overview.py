"""The dashboard entry point renders on an empty and on a loaded database (AppTest, headless)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from sample_data.generate import generate, write_canonical

APP = Path(__file__).resolve().parents[2] / "app.py"


def _run(monkeypatch: pytest.MonkeyPatch, db) -> AppTest:
    monkeypatch.setenv("BPO_KPI_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    return at.run()


def test_first_run_without_database_explains_what_to_do(monkeypatch, tmp_path) -> None:
    at = _run(monkeypatch, tmp_path / "missing.duckdb")
    assert not at.exception
    assert "bpo-kpi demo" in at.info[0].value


def test_counts_shown_equal_the_database(monkeypatch, tmp_path) -> None:
    data = generate(seed=3, decisions=5_000, weeks=3)
    files = write_canonical(data, tmp_path / "data", fmt="parquet")
    db = tmp_path / "demo.duckdb"
    con = connect(db)
    for kind, file in files.items():
        ingest_files(con, kind, [file], config=Config())
    con.close()
    at = _run(monkeypatch, db)
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Decisions"] == f"{len(data.decisions):,}"
    assert shown["QA audits"] == f"{len(data.qa_audits):,}"
    assert shown["Calibration ratings"] == f"{len(data.calibration_ratings):,}"
