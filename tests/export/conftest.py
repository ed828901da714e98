"""A sample database for the export tests (6 weeks ending Sunday 2026-11-22)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_testkit import run_cli  # noqa: E402

from sample_data import generate, load_canonical  # noqa: E402


@pytest.fixture(scope="session")
def export_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export_db")
    db = root / "sample.duckdb"
    load_canonical(generate(seed=11, decisions=40_000, weeks=6), root / "data", db)
    return db


@pytest.fixture
def export_db(export_db_master: Path, tmp_path: Path) -> Path:
    """A private copy (tests that change data change only theirs)."""
    db = tmp_path / "db" / "sample.duckdb"
    db.parent.mkdir()
    shutil.copyfile(export_db_master, db)
    return db


@pytest.fixture
def cli() -> Callable[..., tuple[int, str, str]]:
    return run_cli
