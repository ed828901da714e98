"""The app without data shows a first-run page that says what to do, never a traceback."""

from __future__ import annotations

import pytest

from bpo_kpi.db import connect


def test_no_database_explains_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path, run_page
) -> None:
    monkeypatch.setenv("BPO_KPI_DB", str(tmp_path / "missing.duckdb"))
    at = run_page()
    assert not at.exception
    assert "no database" in at.info[0].value
    assert "bpo-kpi demo" in at.markdown[0].value
    assert not (tmp_path / "missing.duckdb").exists()  # the app never creates a database


def test_empty_database_explains_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path, run_page
) -> None:
    db = tmp_path / "empty.duckdb"
    connect(db).close()
    monkeypatch.setenv("BPO_KPI_DB", str(db))
    at = run_page()
    assert not at.exception
    assert "holds no decisions" in at.info[0].value
    assert [t.value for t in at.title] == ["Welcome to bpo-kpi"]
