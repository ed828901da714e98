"""Read commands: `kpis`, `gaps`, `alerts`, `calibration`, `runs`, `rejects`, `warnings` (on
the DuckDB gateway or Spark) and `publish` (the tables as Parquet files)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import default_db_path
from bpo_kpi.replica import open_for_reading
from bpo_kpi.state import StateStore, check_key, check_status, open_state
from bpo_kpi_cli.output import EXIT_OK, UsageError, command, emit, note, print_alerts
from export import notify
from kpi import calibration, gaps, health, monitor
from kpi.compute import kpi_table
from kpi.engines import SparkEngine, export_tables
from kpi.gateway import Gateway
from kpi.query import KpiQuery, parse_where


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
        frame = kpi_table(gw, query, as_of=args.as_of, time_keys=time_keys)
    emit(frame, args.fmt)
    return EXIT_OK


@command
def cmd_scorecard(args: argparse.Namespace) -> int:
    from export.tables import csv_bytes
    from kpi.compare import readable_scorecard, vendor_comparison

    if args.by or args.period:
        raise UsageError("the scorecard is per vendor over the window: no --by or --period")
    query = query_from_args(args, args.kpis)
    with engine(args) as gw:
        frame = vendor_comparison(gw, query, as_of=args.as_of)
    if args.fmt == "csv":
        sys.stdout.write(csv_bytes(frame).decode("utf-8"))
    elif args.fmt == "json":
        emit(frame, "json")
    else:
        emit(readable_scorecard(frame), "table")
    return EXIT_OK


@command
def cmd_gaps(args: argparse.Namespace) -> int:
    base = query_from_args(args)
    with engine(args) as gw:
        if args.segment:
            segment = dict(
                (k.strip(), v.strip())
                for k, _, v in (part.partition("=") for part in args.segment.split(","))
            )
            if args.drill == "reviewers":
                frame = gaps.reviewer_outliers(gw, segment, base)
            elif args.drill == "error-types":
                frame = gaps.error_types(gw, segment, base)
            else:
                frame = gaps.audited_decisions(gw, segment, base)
        else:
            frame = gaps.quality_gaps(
                gw,
                base,
                dimensions=[d.strip() for d in args.dims.split(",") if d.strip()],
                max_depth=args.depth,
                min_audits=args.min_audits,
                include_explained=args.all,
            )
    emit(frame, args.fmt)
    return EXIT_OK


def check_alert_options(args: argparse.Namespace) -> None:
    """The `alerts` options that go together (argparse cannot say it): UsageError otherwise."""
    change = next((f"--{name}" for name in ("ack", "snooze", "unack") if getattr(args, name)), None)
    if change:
        others = [f for f, on in (("--notify", args.notify), ("--digest", args.digest),
                                  ("--exit-status", args.exit_status)) if on]  # fmt: skip
        if others:
            raise UsageError(f"{change} changes an alert's status; it does not go with {others[0]}")
        if change != "--unack" and not (args.by and args.reason):
            raise UsageError(f"{change} needs --by NAME and --reason TEXT (who and why)")
        if change == "--snooze" and args.until is None:
            raise UsageError("--snooze needs --until YYYY-MM-DD (or an ISO time)")
    elif args.by or args.reason:
        raise UsageError("--by and --reason go with --ack, --snooze or --unack")
    if args.until is not None and change != "--snooze":
        raise UsageError("--until goes with --snooze")
    if args.digest and not args.notify:
        raise UsageError("--digest is sent with --notify URL")


def state_db(args: argparse.Namespace) -> Path:
    """The database whose state file (`bpo_kpi.state`) records acknowledgements and sent
    alerts; it must exist before a state file is made beside it."""
    db = Path(args.db or default_db_path())
    if args.engine == "duckdb" and not db.is_file():
        raise FileNotFoundError(f"database {db} does not exist (alert state is kept beside it)")
    return db


def change_alert_state(args: argparse.Namespace, config: Config, now: dt.datetime) -> int:
    """--ack, --snooze or --unack: record it in the state file and say what was recorded."""
    db = state_db(args)
    tz = config.reporting_timezone
    if args.unack:
        key = check_key(args.unack)
        store = open_state(db, create=False)  # nothing to clear without a state file
        cleared = None
        if store is not None:
            with store:
                cleared = store.clear(key, args.by, args.reason, now)
        if cleared is None:
            print(f"{key}: was neither acknowledged nor snoozed (unchanged)")
        else:
            print(f"{key}: new again (was {notify.status_text(cleared, tz)})")
        return EXIT_OK
    # Everything is checked before the state file is opened (or made).
    key = notify.check_alert_key(args.ack or args.snooze)
    until = notify.snooze_until(args.until, tz) if args.snooze else None
    by, reason, until = check_status(args.by, args.reason, until, now)
    with StateStore(db) as store:
        if until is None:
            done = store.acknowledge(key, by, reason, now)
        else:
            done = store.snooze(key, until, by, reason, now)
    print(f"{done.key}: {notify.status_text(done, tz)}")
    return EXIT_OK


@command
def cmd_alerts(args: argparse.Namespace) -> int:
    check_alert_options(args)
    config = load_config(args.config)
    now = args.as_of or dt.datetime.now(dt.UTC)
    if args.ack or args.snooze or args.unack:
        return change_alert_state(args, config, now)
    vendors = (f"vendor={v}" for v in args.vendor)
    workflows = (f"workflow={w}" for w in args.workflow)
    where = parse_where([*args.where, *vendors, *workflows])
    db = Path(args.db or default_db_path())
    if args.notify:
        notify.check_urls(args.notify)  # before anything is read or created
    store = StateStore(state_db(args)) if args.notify else open_state(db, create=False)
    try:
        targets = notify.prepare_targets(args.notify, store) if store and args.notify else []
        with engine(args, config) as gw:
            start, day = monitor.alert_window(gw, args.day, args.start)
            base = KpiQuery.model_validate({"start": start, "end": day, "where": where})
            frame = monitor.alerts(gw, base, day, as_of=args.as_of, qa_lag_days=args.qa_lag_days)
            tiles = monitor.vendor_snapshot(gw, base, day, args.as_of) if args.digest else None
        statuses = store.statuses(frame["key"], now) if store else {}
        # The status column appears once the database has a state file (nothing changes for
        # those who never acknowledge, snooze or notify).
        listed = notify.with_status(frame, statuses, config.reporting_timezone) if store else frame
        if args.fmt == "table":
            print_alerts(frame, start, day, listed["status"].tolist() if store else None)
        else:
            emit(listed, args.fmt)
        status = notify.exit_status(frame, statuses)
        if store is None or not targets:
            return status if args.exit_status else EXIT_OK
        filters = {str(dim): values for dim, values in base.where.items()}
        ctx = notify.Context(day, start, filters, config.dashboard.url, config.reporting_timezone)
        deliveries = notify.notify(targets, frame, statuses, store, ctx, tiles, now)
    finally:
        if store is not None:
            store.close()
    for delivery in deliveries:
        for line in delivery.lines():
            note(line)
    return notify.delivery_status(deliveries, status)


@command
def cmd_calibration(args: argparse.Namespace) -> int:
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
    with engine(args) as gw:
        frame = health.ingest_runs(gw, args.limit, status=args.status)
    emit(frame, args.fmt)
    return EXIT_OK


@command
def cmd_rejects(args: argparse.Namespace) -> int:
    with engine(args) as gw:
        frame = health.rejected_rows(gw, args.run, args.limit)
    emit(frame, args.fmt)
    return EXIT_OK


@command
def cmd_warnings(args: argparse.Namespace) -> int:
    with engine(args) as gw:
        frame = health.ingest_warnings(gw, args.run, args.limit)
    emit(frame, args.fmt)
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
