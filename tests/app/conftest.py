"""A small sample database shared by the dashboard tests, and a helper to run the app on it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sample_data import SampleData, generate, load_canonical

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="session")
def sample() -> SampleData:
    return generate(seed=7, decisions=30_000, weeks=6)


@pytest.fixture(scope="session")
def sample_db_master(sample: SampleData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app_db")
    db = root / "sample.duckdb"
    load_canonical(sample, root / "data", db)
    return db


@pytest.fixture
def sample_db(sample_db_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the sample database, selected through BPO_KPI_DB."""
    db = tmp_path / "sample.duckdb"
    shutil.copyfile(sample_db_master, db)
    monkeypatch.setenv("BPO_KPI_DB", str(db))
    monkeypatch.delenv("BPO_KPI_ROLE", raising=False)
    return db


def _run_page(page: str | None = None, query: dict[str, object] | None = None) -> AppTest:
    """Run app.py (then switch to `page`, e.g. "app_pages/tat.py") with URL query parameters."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value  # type: ignore[assignment]
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


@pytest.fixture
def run_page() -> Callable[..., AppTest]:
    """`run_page(page=None, query=None)`: run the app headless (see `_run_page`)."""
    return _run_page
