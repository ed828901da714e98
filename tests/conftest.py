"""Suite-wide options."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-sql-snapshots",
        action="store_true",
        help="rewrite tests/kpi/snapshots/sql/ from the queries the code renders now",
    )
