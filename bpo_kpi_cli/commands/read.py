"""Read commands: `kpis`, `gaps`, `calibration`, `runs`, `rejects`, `warnings` (on the DuckDB
gateway or Spark) and `publish` (the tables as Parquet files); `alerts` is in
`commands.alerts` (it needs the monitor, the state file and notifications, which these
commands should not pay for at start-up)."""

from __future__ import annotations

import argparse
from typing import Any

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import default_db_path
from bpo_kpi.replica import open_for_reading
from bpo_kpi_cli.output import EXIT_OK, UsageError, command, emit, note
from kpi.columns import whole_numbers
from kpi.compute import kpi_columns
from kpi.engines import SparkEngine, export_tables
from kpi.gateway import Gateway
from kpi.query import KpiQuery, parse_where

# Each command imports the analysis it runs: `kpis`, `gaps` (but its reviewer drill-downs),
# `runs`, `rejects` and `warnings` read numpy columns (kpi.columns) and import no pandas;
# kpi.calibration does.


def engine(args: argparse.Namespace, config: Config | None = None) -> Gateway | SparkEngine:
    """The engine a read command runs on (a context manager): the DuckDB gateway over the
    database (or its replica while an ingest writes), or Spark over published Parquet files."""
    config = config or load_config(args.config)
    if getattr(args, "engine", "duckdb") == "spark":
        if args.parquet is None:
            raise ValueError("--engine spark reads Parquet files: give --parquet DIR")
        return SparkEngine(args.parquet, config=config, role=args.role, master=args.spark_master)
    if getattr(args, "parquet", None) is not None:
        raise ValueError("--parquet is read by --engine spark only")
    gw = Gateway(args.db, config=config, role=args.role, notify=note)
    if gw.recompute_pending:
        note("note: SLA minutes, error types or severity rules changed since the data was "
             "derived; due times, error categories and severities are as of the earlier "
             "settings until `bpo-kpi recompute` runs")  # fmt: skip
    return gw


def query_from_args(args: argparse.Namespace, kpis: str | None = None) -> KpiQuery:
    """The KPI query of `bpo_kpi_cli.args.add_query_args`'s arguments."""
    return KpiQuery.model_validate(
        {
            "by": tuple(d.strip() for d in args.by.split(",") if d.strip()),
            "period": args.period,
            "start": args.start,
            "end": args.end,
            "where": parse_where(args.where),
            "kpis": tuple(k.strip() for k in kpis.split(",")) if kpis else None,
        }
    )


@command
def cmd_kpis(args: argparse.Namespace) -> int:
    query = query_from_args(args, args.kpis)
    time_keys = tuple(k.strip() for k in args.time_keys.split(",") if k.strip())
    with engine(args) as gw:
        table = kpi_columns(gw, query, as_of=args.as_of, time_keys=time_keys)
    emit(table, args.fmt)
    return EXIT_OK


@command
def cmd_scorecard(args: argparse.Namespace) -> int:
    from kpi.compare import readable_scorecard_columns, vendor_comparison_columns

    if args.by or args.period:
        raise UsageError("the scorecard is per vendor over the window: no --by or --period")
    query = query_from_args(args, args.kpis)
    with engine(args) as gw:
        table = vendor_comparison_columns(gw, query, as_of=args.as_of)
    if args.fmt == "table":
        emit(readable_scorecard_columns(table), "table")
        return EXIT_OK
    # Counts and ranks as whole numbers (`3`, empty when there is none), not floats.
    emit({k: whole_numbers(v) if k in ("n", "rank") else v for k, v in table.items()}, args.fmt)
    return EXIT_OK


@command
def cmd_gaps(args: argparse.Namespace) -> int:
    from kpi import gaps

    base = query_from_args(args)
    with engine(args) as gw:
        if args.segment:
            segment = dict(
                (k.strip(), v.strip())
                for k, _, v in (part.partition("=") for part in args.segment.split(","))
            )
            if args.drill == "reviewers":  # SciPy's tests on a DataFrame
                table: Any = gaps.reviewer_outliers(gw, segment, base)
            elif args.drill == "error-types":
                table = gaps.error_type_columns(gw, segment, base)
            else:
                table = gaps.audited_decision_columns(gw, segment, base)
        else:
            table = gaps.quality_gap_columns(
                gw,
                base,
                dimensions=[d.strip() for d in args.dims.split(",") if d.strip()],
                max_depth=args.depth,
                min_audits=args.min_audits,
                include_explained=args.all,
            )
    emit(table, args.fmt)
    return EXIT_OK


@command
def cmd_calibration(args: argparse.Namespace) -> int:
    from kpi import calibration

    config = load_config(args.config)
    with engine(args, config) as gw:
        frame = calibration.ratings(
            gw, args.session or None, args.workflow, args.vendor, args.start, args.end
        )
    if args.items:
        out = calibration.items(frame, config.contested_agreement)
    else:
        out = calibration.summary(frame, n_boot=args.bootstrap)
    emit(out, args.fmt)
    return EXIT_OK


@command
def cmd_runs(args: argparse.Namespace) -> int:
    from kpi import health

    with engine(args) as gw:
        table = health.ingest_run_columns(gw, args.limit, status=args.status)
    emit(table, args.fmt)
    return EXIT_OK


@command
def cmd_rejects(args: argparse.Namespace) -> int:
    from kpi import health

    with engine(args) as gw:
        table = health.rejected_row_columns(gw, args.run, args.limit)
    emit(table, args.fmt)
    return EXIT_OK


@command
def cmd_warnings(args: argparse.Namespace) -> int:
    from kpi import health

    with engine(args) as gw:
        table = health.ingest_warning_columns(gw, args.run, args.limit)
    emit(table, args.fmt)
    return EXIT_OK


@command
def cmd_publish(args: argparse.Namespace) -> int:
    wait = load_config(args.config).ingest.lock_wait_seconds
    con, _ = open_for_reading(args.db or default_db_path(), wait=wait, notify=note)
    try:
        written = export_tables(con, args.out)
    finally:
        con.close()
    for table, path in written.items():
        print(f"{table}: {path}")
    return EXIT_OK
