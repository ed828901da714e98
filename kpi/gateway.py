"""The one query gateway: every read of the database goes through `Gateway.frame`.

A gateway is opened for one viewer role. It shadows each canonical table with a temporary view
of the same name that keeps only the rows the role may see (and pseudonymises reviewers with a
keyed hash and hides auditor comments when the role may not see them). Every query kpi/ builds
names tables unqualified, so it reads the views; only a query that names the database file's
catalog explicitly (`<catalog>.main.decisions`) would pass them, and kpi/ builds none (pages and
the CLI cannot pass SQL in). Values are always bound parameters.

**Implausible stored times.** Ingest rejects a row whose required time (enqueued_at, decided_at,
audited_at, session_date) lies outside the plausible range (`plausible_range`: from
`ingest.earliest_timestamp` to `ingest.max_future_days` after now) and empties such an optional
time (claimed_at, due_at, updated_at). A database written before that check (or by another
tool) may still hold e.g. year 9999, 294247 or 0001. The gateway reads such rows the way ingest
would load them today: the rows are left out (an audit of such a decision counts as an orphan,
as if the decision had not arrived) and the optional times read as empty, so every timestamp
kpi/ sees converts to Python and pandas, no window stretches to year 9999 and no mean is
inflated by one row. `kpi.engines.SparkEngine` applies the same rules. Which values were found
is `Gateway.implausible` (the Data health page lists them). The check is one min/max scan per
table when the gateway opens (~0.15 s at 10M decisions), made only for a database that lacks
the `times_checked` mark: one created by this version's ingest (which rejects such values) has
it from the start, and `bpo-kpi upgrade` sets it on an older one found clean.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import SCHEMA_VERSION, TIMES_CHECKED, default_db_path, get_meta, schema_version
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


# Timestamp columns checked against the plausible range, per table, and what a value outside it
# does: "drop" leaves the row out (ingest rejects a row with such a value), "empty" reads the
# value as NULL (ingest empties it), "orphan" (an audit's copy of its decision's times) keeps the
# audit as an orphan whose decision has not arrived, as ingest would have (its decision is
# rejected), with those times empty.
PLAUSIBILITY_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "decisions": (("enqueued_at", "drop"), ("decided_at", "drop"), ("claimed_at", "empty"),
                  ("due_at", "empty"), ("updated_at", "empty")),
    "audit_facts": (("audited_at", "drop"), ("enqueued_at", "orphan"), ("decided_at", "orphan"),
                    ("due_at", "empty")),
    "qa_audits": (("audited_at", "drop"), ("updated_at", "empty")),
    "calibration_ratings": (("session_date", "drop"), ("updated_at", "empty")),
}  # fmt: skip
TREATMENTS = {
    "drop": "row left out",
    "empty": "read as empty",
    "orphan": "audit counted as an orphan (its decision is left out)",
}
# qa_audits holds the same audits (and audited_at) as audit_facts: reported once.
REPORTED_TABLES = ("decisions", "audit_facts", "calibration_ratings")
IMPLAUSIBLE_COLUMNS = ["table", "column", "rows", "earliest", "latest", "treatment"]


def plausible_range(
    config: Config, as_of: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """The instants a stored time can plausibly hold, as ingest checks them (UTC): from
    `ingest.earliest_timestamp` 00:00 to `ingest.max_future_days` after `as_of` (default now)."""
    now = as_of or dt.datetime.now(dt.UTC)
    settings = config.ingest
    earliest = dt.datetime.combine(settings.earliest_timestamp, dt.time(), tzinfo=dt.UTC)
    return earliest, now + dt.timedelta(days=settings.max_future_days)


def _literal(value: dt.datetime, date: bool) -> str:
    # Views cannot take bound parameters: the bounds are written as literals, formatted here
    # from datetimes this module computed (never from input text).
    utc = value.astimezone(dt.UTC)
    if date:
        return f"DATE '{utc:%Y-%m-%d}'"
    return f"TIMESTAMPTZ '{utc:%Y-%m-%d %H:%M:%S.%f}+00'"


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
        self.plausible = plausible_range(self.config)
        self._found: list[dict[str, Any]] = []
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
        # Stored times outside the plausible range, per table and column (within the scope):
        # rows, earliest and latest such value (as text: they may not convert to Python).
        self.implausible = pd.DataFrame(self._found, columns=IMPLAUSIBLE_COLUMNS)

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
        # A database whose every row the checking ingest wrote (or `bpo-kpi upgrade` found
        # clean) holds no implausible time: the scan is skipped.
        checked = get_meta(con, TIMES_CHECKED) is not None
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
            scoped = f"SELECT {select} FROM {qualified}{table}{where}"
            if table not in PLAUSIBILITY_CHECKS or checked:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {scoped}")
                continue
            # The scoped rows as stored (`_stored_<table>`), then the table as ingest would
            # load it today (see the module docstring).
            con.execute(f"CREATE OR REPLACE TEMP VIEW _stored_{table} AS {scoped}")
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {self._plausible_select(table)}")

    def _plausible_select(self, table: str) -> str:
        """The query of `table`'s view: `_stored_<table>` without implausible times (and note
        what was found in `self.implausible`)."""
        checks = PLAUSIBILITY_CHECKS[table]
        lo, hi = self.plausible
        con = self._con
        described = con.execute(f"DESCRIBE _stored_{table}").fetchall()
        types = {str(row[0]): str(row[1]) for row in described}
        checks = tuple((c, t) for c, t in checks if c in types)

        def outside(column: str) -> str:
            date = types[column] == "DATE"
            return f"({column} < {_literal(lo, date)} OR {column} > {_literal(hi, date)})"

        # min/max per column: one cheap scan; only columns with values outside are looked at.
        flags = ", ".join(
            f"(min({c}) < {_literal(lo, types[c] == 'DATE')} OR "
            f"max({c}) > {_literal(hi, types[c] == 'DATE')}) AS {c}"
            for c, _ in checks
        )
        found = con.execute(f"SELECT {flags} FROM _stored_{table}").fetchone() or ()
        bad = [(c, treat) for (c, treat), flag in zip(checks, found, strict=True) if flag]
        if not bad:
            return f"SELECT * FROM _stored_{table}"
        stats = ", ".join(
            f"count(*) FILTER (WHERE {outside(c)}), "
            f"CAST(min({c}) FILTER (WHERE {outside(c)}) AS VARCHAR), "
            f"CAST(max({c}) FILTER (WHERE {outside(c)}) AS VARCHAR)"
            for c, _ in bad
        )
        row = con.execute(f"SELECT {stats} FROM _stored_{table}").fetchone() or ()
        if table in REPORTED_TABLES:
            self._found += [
                {"table": table, "column": c, "rows": int(row[3 * i]),
                 "earliest": row[3 * i + 1], "latest": row[3 * i + 2],
                 "treatment": TREATMENTS[treat]}
                for i, (c, treat) in enumerate(bad)
            ]  # fmt: skip
        orphaned = " OR ".join(outside(c) for c, t in bad if t == "orphan")
        replace = [
            f"CASE WHEN NOT {outside(c)} THEN {c} END AS {c}" for c, t in bad if t == "empty"
        ]
        if orphaned:
            replace += [
                f"CASE WHEN coalesce({orphaned}, false) THEN NULL ELSE {c} END AS {c}"
                for c, t in bad
                if t == "orphan"
            ]
            replace.append(f"is_orphan OR coalesce({orphaned}, false) AS is_orphan")
        drops = [f"({c} IS NULL OR NOT {outside(c)})" for c, t in bad if t == "drop"]
        select = f"* REPLACE ({', '.join(replace)})" if replace else "*"
        where = f" WHERE {' AND '.join(drops)}" if drops else ""
        return f"SELECT {select} FROM _stored_{table}{where}"

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
