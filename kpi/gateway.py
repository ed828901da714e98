"""The one query gateway: every read of the database goes through `Gateway.frame`.

It protects itself: every query runs under the configuration's `queries` limits (a time
limit, enforced by interrupting the query, and a row cap, checked while the result is read),
and each thread gets a cursor of its own with the scope installed, so a slow query of one
dashboard session never makes another session's query wait.

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

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import SCHEMA_VERSION, TIMES_CHECKED, default_db_path, get_meta, schema_version
from bpo_kpi.replica import open_for_reading
from kpi.columns import Columns, from_numpy
from kpi.query import Scope
from kpi.scope import POLICY, STORED, ScopePolicy, implausible_frame

if TYPE_CHECKING:
    import pandas as pd


class QueryLimit(ValueError):
    """A query stopped by the gateway's limits (time or rows)."""


def _too_many_rows(cap: int) -> QueryLimit:
    return QueryLimit(
        f"the query returned more than {cap:,} rows (queries.max_rows): narrow the filters or "
        "the dates"
    )


# fetch_df_chunk reads this many vectors of 2,048 rows at a time (~130k rows).
_CHUNK_VECTORS = 64


class _deadline:
    """Interrupts the cursor's query if it runs longer than `seconds` (DuckDB has no query
    timeout of its own; `interrupt` is its cancel, safe from another thread)."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.cursor, self.seconds = cursor, seconds
        self.timer = threading.Timer(seconds, cursor.interrupt)
        self.timer.daemon = True

    def __enter__(self) -> None:
        self.timer.start()

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.timer.cancel()
        if isinstance(exc, duckdb.InterruptException):
            raise QueryLimit(
                f"the query took longer than {self.seconds:g} s (queries.timeout_seconds) and "
                "was stopped: narrow the filters or the dates"
            ) from exc


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
        self.policy = ScopePolicy(self.config, self.scope)
        self.plausible = self.policy.plausible
        self._found: list[dict[str, Any]] = []
        self.path = Path(db) if db is not None else default_db_path()
        self._owns = con is None
        self.source = self.path
        if con is not None:
            base = con
        else:
            limit = self.config.ingest.lock_wait_seconds if wait is None else wait
            base, self.source = open_for_reading(self.path, wait=limit, notify=notify)
        self._base = base
        # Each thread gets a cursor of its own (a connection: private temp views), made from
        # one plan of the views: sessions of a role never wait for each other's queries.
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        # Statements that install the scope on a cursor; (table, values) fills a helper table.
        self._plan: list[str | tuple[str, list[str]]] = []
        self.derived_with: str | None = None  # the derivation hash stored values rest on
        try:
            self._make_plan(self._cursor_for_plan())
        except BaseException:
            self.close()
            raise

    @property
    def implausible(self) -> pd.DataFrame:
        """Stored times outside the plausible range, per table and column (within the scope):
        rows, earliest and latest such value (as text: they may not convert to Python)."""
        return implausible_frame(self._found)

    @property
    def recompute_pending(self) -> bool:
        """Whether SLA due times, error types or severities were derived with other settings
        than the configuration's (see `Config.derivation_hash`): `bpo-kpi recompute`."""
        return self.derived_with is not None and self.derived_with != self.config.derivation_hash()

    # --- scope ------------------------------------------------------------------------------

    def _cursor_for_plan(self) -> duckdb.DuckDBPyConnection:
        cursor = self._base.cursor()
        cursor.execute("SET TimeZone = 'UTC'")  # a cursor is a session of its own
        with self._cursors_lock:
            self._cursors.append(cursor)
        self._local.cursor = cursor
        return cursor

    def _make_plan(self, con: duckdb.DuckDBPyConnection) -> None:
        """Work out the scope's statements once (on the first cursor, which runs them): helper
        tables, then each table's view (after probing it for implausible times)."""
        found = schema_version(con)
        if 0 < found < SCHEMA_VERSION:
            raise ValueError(
                f"{self.source} was written by an older bpo-kpi (schema {found}, now "
                f"{SCHEMA_VERSION}); `bpo-kpi upgrade --db {self.source}` (or any ingest) "
                "upgrades it in place"
            )
        catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        qualified = '"' + str(catalog).replace('"', '""') + '".main.'
        policy = self.policy

        def run(statement: str) -> None:
            con.execute(statement)
            self._plan.append(statement)

        for name, (column, values) in policy.helper_rows().items():
            run(f"CREATE OR REPLACE TEMP TABLE {name} ({column} VARCHAR)")
            con.executemany(f"INSERT INTO {name} VALUES (?)", [[v] for v in values])
            self._plan.append((name, values))
        # A database whose every row the checking ingest wrote (or `bpo-kpi upgrade` found
        # clean) holds no implausible time: the scan is skipped.
        checked = get_meta(con, TIMES_CHECKED) is not None
        self.derived_with = get_meta(con, "derivation_hash")
        if self.derived_with is None and get_meta(con, "config_hash") is not None:
            # Derived before the derivation hash was kept: with this configuration, or not.
            same = get_meta(con, "config_hash") == self.config.content_hash()
            self.derived_with = self.config.derivation_hash() if same else "earlier"
        stored = {
            str(row[0])
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                "current_database() AND schema_name = 'main' AND NOT temporary"
            ).fetchall()
        }
        for table in POLICY:
            if table not in stored:
                continue
            described = con.execute(f"DESCRIBE {qualified}{table}").fetchall()
            types = {str(r[0]): str(r[1]) for r in described}
            scoped = policy.select(table, list(types), source=f"{qualified}{table}")
            probe = None if checked else policy.probe(table, types)
            if probe is None:
                run(f"CREATE OR REPLACE TEMP VIEW {table} AS {scoped}")
                continue
            # The scoped rows as stored, then the table as ingest would load it today (see
            # the module docstring): only columns whose min or max is outside are looked at.
            run(f"CREATE OR REPLACE TEMP VIEW {STORED(table)} AS {scoped}")
            flags = con.execute(probe).fetchone() or ()
            checks = policy.checks(table, types)
            bad = [c for (c, _), flag in zip(checks, flags, strict=True) if flag]
            if bad:
                stats = con.execute(policy.stats(table, types, bad)).fetchone() or ()
                self._found += policy.found(table, types, bad, stats)
            view = policy.plausible_select(table, list(types), types, bad)
            run(f"CREATE OR REPLACE TEMP VIEW {table} AS {view}")

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, with the scope installed (from the plan) on first use."""
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is not None:
            return cursor
        cursor = self._base.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        for step in self._plan:
            if isinstance(step, tuple):  # a helper table's rows
                name, values = step
                cursor.executemany(f"INSERT INTO {name} VALUES (?)", [[v] for v in values])
            else:
                cursor.execute(step)
        with self._cursors_lock:
            self._cursors.append(cursor)
        self._local.cursor = cursor
        return cursor

    # --- queries ----------------------------------------------------------------------------

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one query with bound parameters and return a DataFrame, within the limits of
        the configuration's `queries` (time, rows): `QueryLimit` beyond them."""
        cursor = self._cursor()
        limits = self.config.queries
        with _deadline(cursor, limits.timeout_seconds):
            result = cursor.execute(sql, params or {})
            first = result.fetch_df_chunk(_CHUNK_VECTORS)  # typed, even when empty
            if len(first) < _CHUNK_VECTORS * 2048:
                # Most often the whole result. But `fetch_df_chunk` counts DuckDB's chunks, not
                # rows, and chunks may be short (each part of a UNION ALL, a filter's output),
                # so the result may go on: `fetchone` tells without building an empty frame
                # (an empty chunk of audit rows cost 10 ms, a first call's 68 ms). If it does
                # go on, the query runs again and is read to its end.
                if not len(first) or result.fetchone() is None:
                    return self._capped([first], len(first))
                result = cursor.execute(sql, params or {})
                first = result.fetch_df_chunk(_CHUNK_VECTORS)
            chunks, rows = [first], len(first)
            while rows:
                chunk = result.fetch_df_chunk(_CHUNK_VECTORS)
                if len(chunk) == 0:
                    break
                rows += len(chunk)
                self._capped([], rows)
                chunks.append(chunk)
        return self._capped(chunks, rows)

    def columns(self, sql: str, params: dict[str, Any] | None = None) -> Columns:
        """`frame` as numpy columns (`kpi.columns`), for small results (KPI tables: one row per
        group) read without pandas. The row cap is a LIMIT one past it, so a result over the
        cap is never read whole."""
        cursor = self._cursor()
        limits = self.config.queries
        # Line breaks around the query: a comment on its last line cannot swallow the ")".
        capped = f"SELECT * FROM (\n{sql}\n) LIMIT {int(limits.max_rows) + 1}"
        with _deadline(cursor, limits.timeout_seconds):
            result = from_numpy(cursor.execute(capped, params or {}).fetchnumpy())
        rows = len(next(iter(result.values()))) if result else 0
        if rows > limits.max_rows:
            raise _too_many_rows(limits.max_rows)
        return result

    def _capped(self, chunks: list[pd.DataFrame], rows: int) -> pd.DataFrame:
        """The chunks as one frame; `QueryLimit` when more than `queries.max_rows` rows."""
        if rows > self.config.queries.max_rows:
            raise _too_many_rows(self.config.queries.max_rows)
        import pandas as pd  # not at import: `bpo-kpi kpis` reads `columns` only

        if not chunks:
            return pd.DataFrame()
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        cursor = self._cursor()
        with _deadline(cursor, self.config.queries.timeout_seconds):
            row = cursor.execute(sql, params or {}).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        with self._cursors_lock:
            cursors, self._cursors = self._cursors, []
        for cursor in cursors:
            cursor.close()
        if self._owns:
            self._base.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
