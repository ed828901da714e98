"""Fixtures for the ingest tests; helpers live in ingest_testkit.py next to this file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_testkit import Env  # noqa: E402


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A fresh database in tmp_path, closed after the test."""
    e = Env.create(tmp_path)
    yield e
    e.close()
