"""Arguments shared by several commands, and the parsers of their values.

This module is on the `--help` path (`bpo_kpi_cli.main` builds the parser from it), so it
imports only the standard library and the KPI catalog's names, never pandas, DuckDB or
pydantic. Turning parsed arguments into objects that need those (a `KpiQuery`, an engine, a
write connection) is done by the command modules that use them.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from kpi.catalog import DIMENSIONS, PERIODS

# bpo_kpi.db's DB_ENV and DEFAULT_DB, and bpo_kpi.config's CONFIG_ENV: written out here because
# importing those modules would import DuckDB and pydantic for `--help` (a test checks the
# names agree).
DB_HELP = "DuckDB database file (default: $BPO_KPI_DB or ./bpo_kpi.duckdb)"
CONFIG_HELP = "configuration TOML (default: $BPO_KPI_CONFIG)"


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def parse_datetime(text: str) -> dt.datetime:
    """An ISO timestamp; one without a time zone is UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO timestamp") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def lag_days(text: str) -> int:
    """A lag in whole days, 0 to 365 (a QA lag of more than a year means no audit counts)."""
    try:
        days = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from exc
    if not 0 <= days <= 365:
        raise argparse.ArgumentTypeError(f"{days} days: give 0 to 365")
    return days


def parse_date_or_datetime(text: str) -> dt.date | dt.datetime:
    """A day (YYYY-MM-DD) or an ISO timestamp (one without a time zone is UTC)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parse_datetime(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a day (YYYY-MM-DD) nor an ISO timestamp"
        ) from exc


def add_common(p: argparse.ArgumentParser) -> None:
    """--db and --config: every command has them."""
    p.add_argument("--db", type=Path, default=None, help=DB_HELP)
    p.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)


def add_format(p: argparse.ArgumentParser, *formats: str) -> None:
    p.add_argument("--format", choices=list(formats), default=formats[0], dest="fmt")


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """--engine and what Spark needs: the engine a read command runs on."""
    p.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb: the database (default); spark: Parquet files from `bpo-kpi publish` "
        "(needs the `spark` extra and Java 17+)",
    )
    p.add_argument(
        "--parquet", type=Path, metavar="DIR", help="with --engine spark: the published tables"
    )
    p.add_argument(
        "--spark-master", default="local[*]", help="with --engine spark: Spark master URL"
    )


def add_where(p: argparse.ArgumentParser) -> None:
    """--where DIM=VALUE[,VALUE], repeatable: read by `kpi.query.parse_where`."""
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE[,VALUE]",
        help="keep only these values of a dimension (repeatable)",
    )


def add_query_args(p: argparse.ArgumentParser) -> None:
    """The arguments of a KPI query (`kpi.query.KpiQuery`): grouping, days and filters."""
    p.add_argument("--by", default="", help=f"comma-separated dimensions: {', '.join(DIMENSIONS)}")
    p.add_argument(
        "--period",
        choices=list(PERIODS),
        help="group by period of the reporting time zone: day, ISO week (from Monday), month "
        "or calendar quarter (period_start is the period's first local day)",
    )
    p.add_argument(
        "--from", dest="start", type=parse_date, help="first day (YYYY-MM-DD), inclusive"
    )
    p.add_argument("--to", dest="end", type=parse_date, help="last day (YYYY-MM-DD), inclusive")
    add_where(p)
    p.add_argument("--role", default="admin", help="viewer role from the configuration")
    p.add_argument("--as-of", type=parse_datetime, help="instant for the backlog (default: now)")
    add_format(p, "table", "json", "csv")
    add_engine_args(p)
    add_common(p)


def add_listing(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    description: str,
    limit: int = 1000,
) -> argparse.ArgumentParser:
    """A command that lists rows of the database (runs, rejects, warnings)."""
    p = sub.add_parser(name, help=help, description=description)
    p.add_argument("--limit", type=int, default=limit)
    p.add_argument("--role", default="admin", help="viewer role from the configuration")
    add_format(p, "table", "json", "csv")
    add_engine_args(p)
    add_common(p)
    return p
