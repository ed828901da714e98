"""Suite-wide options."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-sql-snapshots",
        action="store_true",
        help="rewrite tests/kpi/snapshots/sql/ from the queries the code renders now",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Restricted roles create a pseudonym key file on first use (bpo_kpi.keys): in the tests,
    # in a folder of this run, never in the user's ~/.config. Subprocesses inherit it.
    import os
    import tempfile

    if "BPO_KPI_TEST_CONFIG_HOME" not in os.environ:
        home = tempfile.mkdtemp(prefix="bpo-kpi-test-config-")
        os.environ["BPO_KPI_TEST_CONFIG_HOME"] = home
        os.environ["XDG_CONFIG_HOME"] = home
        os.environ.pop("BPO_KPI_PSEUDONYM_KEY_FILE", None)
