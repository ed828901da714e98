"""Query engines: the same KPI SQL on DuckDB (default) or on Apache Spark.

`kpi.compute.kpi_table` needs only an `Engine`: something with the viewer's `config` and
`scope` that runs one query text with bound parameters and returns a pandas DataFrame.

- **DuckDB** is the `kpi.gateway.Gateway` itself (the scope is applied by temporary views).
- **Spark** (`SparkEngine`) reads the canonical tables from Parquet files (written by
  `export_tables` / `bpo-kpi publish`), registers temporary views `decisions`, `audit_facts`
  (and `calibration_ratings` when present) that apply the same scope, and runs the *same* text
  that `kpi.sql` renders for DuckDB after transpiling it with sqlglot (`to_spark_sql`).
  Parameters stay bound: DuckDB's `$name` markers become Spark's named `:name` markers and the
  values go to `spark.sql(text, args=...)` (lists become Spark arrays).

sqlglot translates most of the DuckDB dialect correctly (`count(*) FILTER (WHERE ...)`,
`list_contains` -> `array_contains`, `x IN ($a, $b)` -> `x IN (:a, :b)`,
1-based list indexes -> 0-based, `IS NOT DISTINCT FROM`, `GROUP BY ALL`, `greatest`, which
skips NULLs on both engines, `date_trunc('week', ...)`, Monday on both). Three functions it
gets wrong are rewritten on the syntax tree (`_rewrite_for_spark`), never by string replacement:

- `epoch(ts)`: sqlglot writes `unix_timestamp(ts)`, whole seconds (the microseconds are lost,
  and the integer then turns `/ 60.0` into DECIMAL arithmetic) -> `(unix_micros(ts) / 1e6)`,
  a DOUBLE as in DuckDB.
- `timezone(tz, ts)`: kept as is, but Spark has no such function -> `from_utc_timestamp(ts, tz)`.
- `epoch_us(ts)` (fixed-offset zones bucket periods from the epoch) -> `unix_micros(ts)`;
  `make_timestamp(us)` becomes `timestamp_micros(us)` in sqlglot already.
- `quantile_cont(x, [p, ...])`: sqlglot writes `percentile_cont(x, array(...))`, which Spark
  rejects (one argument) -> `percentile(x, array(p, ...))`.

Spark's `percentile` is exact with linear interpolation, as DuckDB's `quantile_cont`, and one
list quantile per expression stays one aggregate. `from_utc_timestamp` yields the local wall
time as seen in the session time zone, so the Spark session must run in UTC (it is set here).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import connect
from kpi.columns import Columns, from_frame
from kpi.query import Scope
from kpi.scope import POLICY, SOURCE, STORED, ScopePolicy, implausible_frame

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession
    from sqlglot import exp

# sqlglot and pyspark are the optional `spark` extra: imported only when Spark is used.
SPARK_EXTRA_HINT = "the spark engine needs the `spark` extra: pip install 'bpo-kpi[spark]'"

# Canonical tables published for other engines (every table a reader may query); the first
# two are needed for KPI tables.
EXPORT_TABLES = tuple(POLICY)
REQUIRED_TABLES = ("decisions", "audit_facts")
TIMESTAMP_COLUMNS = (
    "enqueued_at",
    "claimed_at",
    "decided_at",
    "due_at",
    "audited_at",
)


class Engine(Protocol):
    """What every analysis needs from an engine: the viewer's configuration and scope, the
    stored times found implausible (`kpi.scope`), and `frame(sql, params)` running one
    DuckDB-dialect query of `kpi/` with bound `$name` values within the viewer's scope (a
    DataFrame; `columns`: the same as numpy columns, `kpi.columns`).
    `kpi.gateway.Gateway` (DuckDB) and `SparkEngine` are the two."""

    @property
    def config(self) -> Config: ...

    @property
    def scope(self) -> Scope: ...

    @property
    def implausible(self) -> pd.DataFrame: ...

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame: ...

    def columns(self, sql: str, params: dict[str, Any] | None = None) -> Columns: ...

    def close(self) -> None: ...


# --- publishing the canonical tables as Parquet ---------------------------------------------


def export_tables(
    db: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    out_dir: str | os.PathLike[str],
    tables: tuple[str, ...] = EXPORT_TABLES,
) -> dict[str, Path]:
    """Write the canonical tables of DuckDB database `db` (a path or an open connection) to
    `<out_dir>/<table>.parquet`, in the tables' stored (time) order.

    Each file is written next to its final name and then renamed over it, so a reader never
    sees a half-written file. Timestamps are written as UTC instants (Parquet
    `isAdjustedToUTC`), which Spark reads as `TIMESTAMP`. Returns the files by table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(db, duckdb.DuckDBPyConnection):
        return _export(db, out, tables)
    con = connect(db, read_only=True)
    try:
        return _export(con, out, tables)
    finally:
        con.close()


def _export(con: duckdb.DuckDBPyConnection, out: Path, tables: tuple[str, ...]) -> dict[str, Path]:
    written: dict[str, Path] = {}
    cur = con.cursor()
    try:
        for table in tables:
            if table not in EXPORT_TABLES:
                raise ValueError(f"unknown table {table!r}; use {', '.join(EXPORT_TABLES)}")
            final = out / f"{table}.parquet"
            tmp = out / f".{table}.parquet.tmp"
            tmp.unlink(missing_ok=True)
            # `table()` names the table through the API: no query text is built here.
            cur.table(table).write_parquet(str(tmp), compression="zstd")
            os.replace(tmp, final)
            written[table] = final
    finally:
        cur.close()
    return written


# --- DuckDB SQL -> Spark SQL ------------------------------------------------------------------


def _rewrite_for_spark(node: exp.Expression) -> exp.Expression:
    from sqlglot import exp

    # `transform` does not descend into a node that was replaced: rewrite arguments first.
    if isinstance(node, exp.TimeToUnix):  # DuckDB epoch(ts): seconds with microseconds
        micros = exp.Anonymous(this="unix_micros", expressions=[_spark(node.this)])
        return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number("1e6")))
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":
        return exp.Anonymous(this="unix_micros", expressions=[_spark(e) for e in node.expressions])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone":
        if len(node.expressions) != 2:
            raise ValueError("timezone() takes (zone, timestamp)")
        zone, ts = (_spark(e) for e in node.expressions)
        return exp.Anonymous(this="from_utc_timestamp", expressions=[ts, zone])
    if isinstance(node, exp.Filter) and _ordered_list(node.this) is not None:
        # list(x ORDER BY x) FILTER (WHERE c): the sort goes outside the filtered aggregate.
        agg = exp.ArrayAgg(this=_ordered_list(node.this))
        filtered = exp.Filter(this=agg, expression=_spark(node.expression))
        return exp.Anonymous(this="array_sort", expressions=[filtered])
    if isinstance(node, exp.ArrayAgg) and _ordered_list(node) is not None:
        # sqlglot drops the ORDER BY of an ordered list aggregate (Spark's collect_list has
        # none): sort the collected array instead.
        agg = exp.ArrayAgg(this=_ordered_list(node))
        return exp.Anonymous(this="array_sort", expressions=[agg])
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        # DuckDB quantile_cont(x, p | [p, ...]) -> Spark percentile(x, p | array(p, ...)).
        args = [_spark(node.this), _spark(node.expression)]
        return exp.Anonymous(this="percentile", expressions=args)
    return node


def _ordered_list(node: exp.Expression) -> exp.Expression | None:
    """The aggregated expression of `list(x ORDER BY x)` (ascending, by the value itself), or
    None for any other node; other orders cannot be translated and raise."""
    from sqlglot import exp

    if not isinstance(node, exp.ArrayAgg) or not isinstance(node.this, exp.Order):
        return None
    order = node.this
    value = order.this
    plain = value.expressions[0] if isinstance(value, exp.Distinct) else value
    keys = order.expressions
    if len(keys) != 1 or keys[0].args.get("desc") or keys[0].this != plain:
        raise ValueError(f"cannot translate {node.sql('duckdb')} to Spark: only a list ordered "
                         "by its own values (ascending) is supported")  # fmt: skip
    return value


def _spark(node: exp.Expression) -> exp.Expression:
    return node.transform(_rewrite_for_spark)


@functools.lru_cache(maxsize=1024)
def to_spark_sql(sql: str) -> str:
    """Transpile one DuckDB-dialect query of `kpi.sql` to Spark SQL (`$name` -> `:name`)."""
    try:
        import sqlglot
        from sqlglot.errors import ErrorLevel
    except ImportError as exc:
        raise ImportError(SPARK_EXTRA_HINT) from exc

    tree = sqlglot.parse_one(sql, read="duckdb").transform(_rewrite_for_spark)
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)


def spark_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameter values for `spark.sql(args=...)`: naive datetimes are UTC, as in the DuckDB
    session (pyspark would read them in the Python process's local time zone)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


# --- Spark ------------------------------------------------------------------------------------


def spark_session(master: str = "local[*]", **conf: str) -> SparkSession:
    """A Spark session for KPI queries: session time zone UTC, no UI, quiet logs."""
    SparkSession = _spark_session_class()  # noqa: N806
    builder = (
        SparkSession.builder.master(master)
        .appName("bpo-kpi")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _spark_session_class() -> type[SparkSession]:
    try:
        with warnings.catch_warnings():
            # pyspark warns about pandas >= 3 on import; results come through Arrow here.
            warnings.filterwarnings("ignore", category=FutureWarning)
            import pyspark.testing.utils  # noqa: F401  (warns on first use otherwise)
            from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(SPARK_EXTRA_HINT) from exc
    return SparkSession


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas the way DuckDB's `.df()` does it: dates as datetime64[us]."""
    import pandas as pd
    import pyarrow as pa

    frame = table.to_pandas()
    for field in table.schema:
        if pa.types.is_date(field.type):
            frame[field.name] = pd.to_datetime(frame[field.name]).astype("datetime64[us]")
    return frame


class SparkEngine:
    """Runs `kpi.sql`'s queries on Spark over Parquet files of the canonical tables, within
    one viewer's scope: the same policy (`kpi.scope`) as `Gateway`, rendered by the same code."""

    # Published Parquet files carry no derivation record: a recompute runs on the database
    # before `bpo-kpi publish`.
    recompute_pending = False

    def __init__(
        self,
        parquet_dir: str | os.PathLike[str],
        *,
        config: Config | None = None,
        role: str = "admin",
        spark: SparkSession | None = None,
        master: str = "local[*]",
    ) -> None:
        self.config = config or load_config()
        self.scope = Scope.for_role(self.config, role)
        self.policy = ScopePolicy(self.config, self.scope)
        self._found: list[dict[str, Any]] = []
        self.path = Path(parquet_dir)
        missing = [t for t in REQUIRED_TABLES if not (self.path / f"{t}.parquet").exists()]
        if missing:
            raise FileNotFoundError(
                f"{', '.join(f'{t}.parquet' for t in missing)} not found in {self.path}; "
                "write them with `bpo-kpi publish --out DIR`"
            )
        if spark is None:
            # Stop the session on close only if this engine started it.
            self._owns = _spark_session_class().getActiveSession() is None
            spark = spark_session(master)
        else:
            self._owns = False
        self._root = spark
        # A session of its own: private temporary views and configuration, shared SparkContext.
        self.spark = self._root.newSession()
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self._install_scope()

    def _install_scope(self) -> None:
        """The same views as the gateway's, from the same policy (`kpi.scope`): each Parquet
        file is registered as the table's source, then the policy's SQL makes the view."""
        from pyspark.sql import functions as F  # noqa: N812
        from pyspark.sql.types import (
            StringType,
            StructField,
            StructType,
            TimestampNTZType,
            TimestampType,
        )

        policy = self.policy
        for name, (column, values) in policy.helper_rows().items():
            schema = StructType([StructField(column, StringType())])
            helper = self.spark.createDataFrame([(v,) for v in values], schema)
            helper.createOrReplaceTempView(name)
        for table in POLICY:
            path = self.path / f"{table}.parquet"
            if not path.exists():
                continue
            df: SparkDataFrame = self.spark.read.parquet(str(path))
            for f in df.schema.fields:
                # Instants written without the UTC flag hold UTC wall times (as DuckDB stores).
                if isinstance(f.dataType, TimestampNTZType):
                    df = df.withColumn(f.name, F.col(f.name).cast(TimestampType()))
            df.createOrReplaceTempView(SOURCE(table))
            types = dict(df.dtypes)
            scoped = policy.select(table, list(types))
            probe = policy.probe(table, types)
            if probe is None:
                self._view(table, scoped)
                continue
            self._view(STORED(table), scoped)
            flags = self.spark.sql(to_spark_sql(probe)).collect()[0]
            checks = policy.checks(table, types)
            bad = [c for (c, _), flag in zip(checks, flags, strict=True) if flag]
            if bad:
                stats = self.spark.sql(to_spark_sql(policy.stats(table, types, bad))).collect()
                self._found += policy.found(table, types, bad, list(stats[0]))
            self._view(table, policy.plausible_select(table, list(types), types, bad))

    @property
    def implausible(self) -> pd.DataFrame:
        return implausible_frame(self._found)

    def _view(self, name: str, select: str) -> None:
        self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {to_spark_sql(select)}")

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one DuckDB-dialect query of `kpi.sql` (transpiled) and return a DataFrame."""
        result = self.spark.sql(to_spark_sql(sql), args=spark_params(params))
        return _to_pandas(result.toArrow())

    def columns(self, sql: str, params: dict[str, Any] | None = None) -> Columns:
        return from_frame(self.frame(sql, params))

    def close(self) -> None:
        for table in EXPORT_TABLES:
            for name in (table, SOURCE(table), STORED(table)):
                self.spark.catalog.dropTempView(name)
        if self._owns:
            self._root.stop()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
