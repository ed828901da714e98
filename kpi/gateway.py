"""The one query gateway: every read of the database goes through `Gateway.frame`.

A gateway is opened for one viewer role. It shadows each canonical table with a temporary view
of the same name that keeps only the rows the role may see (and pseudonymises reviewers with a
keyed hash and hides auditor comments when the role may not see them). Every query kpi/ builds
names tables unqualified, so it reads the views; only a query that names the database file's
catalog explicitly (`<catalog>.main.decisions`) would pass them, and kpi/ builds none (pages and
the CLI cannot pass SQL in). Values are always bound parameters.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import SCHEMA_VERSION, default_db_path, schema_version
from bpo_kpi.replica import open_for_reading
from kpi.query import Scope

# table -> (columns that carry a vendor / workflow / market) for scoping.
_SCOPED_COLUMNS: dict[str, dict[str, str]] = {
    "decisions": {"vendor": "vendor", "workflow": "workflow", "market": "market"},
    "audit_facts": {"vendor": "vendor", "workflow": "workflow", "market": "market"},
    "calibration_ratings": {"vendor": "vendor", "workflow": "workflow"},
    "ingest_runs": {"vendor": "vendor"},
    "decisions_history": {"vendor": "vendor", "workflow": "workflow", "market": "market"},
    "calibration_ratings_history": {"vendor": "vendor", "workflow": "workflow"},
    "edits_after_audit": {"vendor": "vendor", "workflow": "workflow", "market": "market"},
}


def _pseudonym(column: str) -> str:
    # Keyed with a secret held in a temp table, so pseudonyms cannot be reversed by hashing
    # guessed ids (the key never appears in query text).
    return f"'r-' || left(md5((SELECT k FROM _pseudonym_key) || {column}), 8)"


class Gateway:
    """Runs every KPI query for one viewer, within that viewer's scope.

    Opened on a database file, it never waits for a writer: while one holds the file it reads
    the published replica (`bpo_kpi.replica.open_for_reading`; `notify` is told so, and `source`
    is the file read); only when there is no replica yet does it wait, up to `wait` seconds
    (default: the configuration's `ingest.lock_wait_seconds`), then raises `DatabaseBusy`.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        config: Config | None = None,
        role: str = "admin",
        con: duckdb.DuckDBPyConnection | None = None,
        wait: float | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or load_config()
        self.scope = Scope.for_role(self.config, role)
        self.path = Path(db) if db is not None else default_db_path()
        self._owns = con is None
        self.source = self.path
        if con is not None:
            base = con
        else:
            limit = self.config.ingest.lock_wait_seconds if wait is None else wait
            base, self.source = open_for_reading(self.path, wait=limit, notify=notify)
        # A cursor is a connection of its own: thread-safe use and private temp views.
        self._con = base.cursor()
        self._base = base
        self._lock = threading.Lock()
        try:
            self._install_scope()
        except BaseException:
            self.close()
            raise

    # --- scope ------------------------------------------------------------------------------

    def _install_scope(self) -> None:
        con = self._con
        found = schema_version(con)
        if 0 < found < SCHEMA_VERSION:
            raise ValueError(
                f"{self.source} was written by an older bpo-kpi (schema {found}, now "
                f"{SCHEMA_VERSION}); `bpo-kpi upgrade --db {self.source}` (or any ingest) "
                "upgrades it in place"
            )
        catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        qualified = '"' + str(catalog).replace('"', '""') + '".main.'
        restrictions = self.scope.restrictions()
        key = os.environ.get("BPO_KPI_PSEUDONYM_KEY") or self.config.pseudonym_key
        con.execute("CREATE OR REPLACE TEMP TABLE _pseudonym_key (k VARCHAR)")
        con.execute("INSERT INTO _pseudonym_key VALUES (?)", [key])
        for dim, values in restrictions.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE _scope_{dim} (v VARCHAR)")
            allowed = list(values)
            if dim == "vendor":
                allowed.append("internal")  # golden answers are the platform's own
            con.executemany(f"INSERT INTO _scope_{dim} VALUES (?)", [[v] for v in allowed])
        tables = ["decisions", "audit_facts", "qa_audits", "calibration_ratings", "ingest_runs",
                  "rejected_rows", "ingest_warnings", "decisions_history", "qa_audits_history",
                  "calibration_ratings_history", "edits_after_audit"]  # fmt: skip
        for table in tables:
            conds = []
            for dim, column in _SCOPED_COLUMNS.get(table, {}).items():
                if dim in restrictions:
                    conds.append(f"{column} IN (SELECT v FROM _scope_{dim})")
            if table in ("qa_audits", "qa_audits_history") and restrictions:
                conds.append("audit_id IN (SELECT audit_id FROM audit_facts)")
            if table in ("rejected_rows", "ingest_warnings") and restrictions:
                conds.append("run_id IN (SELECT run_id FROM ingest_runs)")
            replace = []
            if not self.scope.see_reviewers:
                if table in ("decisions", "audit_facts", "decisions_history"):
                    replace.append(f"{_pseudonym('reviewer_id')} AS reviewer_id")
                if table in ("audit_facts", "qa_audits", "qa_audits_history"):
                    replace.append("CAST(NULL AS VARCHAR) AS comment")
                if table in ("calibration_ratings", "calibration_ratings_history"):
                    replace.append(f"{_pseudonym('rater_id')} AS rater_id")
                if table == "rejected_rows":
                    replace.append("CAST(NULL AS VARCHAR) AS raw")
                if table == "ingest_warnings":
                    replace.append("CAST(NULL AS VARCHAR) AS value")
            select = f"* REPLACE ({', '.join(replace)})" if replace else "*"
            where = f" WHERE {' AND '.join(conds)}" if conds else ""
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {select} "
                f"FROM {qualified}{table}{where}"
            )

    # --- queries ----------------------------------------------------------------------------

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one query with bound parameters and return a DataFrame."""
        with self._lock:
            return self._con.execute(sql, params or {}).df()

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self._lock:
            row = self._con.execute(sql, params or {}).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self._con.close()
        if self._owns:
            self._base.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
