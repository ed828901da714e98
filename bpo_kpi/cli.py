"""The `bpo-kpi` command line: one entry point dispatching to ingest, kpi and sample_data."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import ValidationError

from bpo_kpi.config import Config, ConfigError, format_validation_error, load_config
from bpo_kpi.db import DB_ENV, DatabaseBusy, connect, default_db_path

if TYPE_CHECKING:
    import duckdb

    from ingest.load import FileResult
    from ingest.mapping import VendorMapping
    from kpi.query import KpiQuery

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        type=Path,
        default=None,
        help=f"DuckDB database file (default: ${DB_ENV} or ./bpo_kpi.duckdb)",
    )
    p.add_argument(
        "--config", type=Path, default=None, help="configuration TOML (default: $BPO_KPI_CONFIG)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpo-kpi",
        description="KPIs of outsourced content review: quality, agreement, turnaround.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser(
        "ingest",
        help="load vendor files (decisions, audits, calibration) into the database",
        description="Validate and upsert vendor files. Every row is inserted, updated, "
        "unchanged, stale (a re-sent older version: not applied) or rejected with a reason; "
        "rows kept with a fixed or emptied field carry warnings. Files given by name load in "
        "one transaction; a FOLDER loads each file not loaded before, in name order, as its "
        "own run (--watch: keep doing so as files arrive). A file already loaded with the same "
        "content, mapping and configuration is reported as such and not read again.",
    )
    ing.add_argument("kind", choices=["decisions", "audits", "calibration"])
    ing.add_argument("files", nargs="+", type=Path, metavar="FILE|FOLDER")
    ing.add_argument("--vendor", help="vendor name for rows that carry none (checked if they do)")
    ing.add_argument("--mapping", type=Path, help="vendor mapping TOML (see sample_data/vendors)")
    ing.add_argument("--force", action="store_true", help="load files even if already loaded")
    ing.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="how long to wait for another ingest holding the database "
        "(default: the configuration's ingest.lock_wait_seconds, 600)",
    )
    ing.add_argument("--watch", action="store_true", help="with a FOLDER: keep loading new files")
    ing.add_argument(
        "--every", type=float, default=30.0, metavar="SECONDS", help="with --watch: poll interval"
    )
    ing.add_argument(
        "--settle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with a FOLDER: a file modified more recently than this is still being written",
    )
    ing.add_argument("--format", choices=["table", "json"], default="table", dest="fmt")
    ing.add_argument("--quiet", action="store_true", help="no progress messages")
    _add_common(ing)
    ing.set_defaults(func=cmd_ingest)

    rt = sub.add_parser(
        "retry",
        help="validate a run's rejected rows again (after fixing a mapping or the config)",
        description="Re-validate the rejected rows of ingest run RUN still outstanding, with "
        "the current configuration and mapping (--mapping, else the run's mapping file as it "
        "is now), and load those now valid. The retry is a run of its own; rows rejected again "
        "are recorded under it with their original lines.",
    )
    rt.add_argument("run", type=int, metavar="RUN")
    rt.add_argument("--mapping", type=Path, help="vendor mapping TOML (default: the run's)")
    rt.add_argument("--wait", type=float, metavar="SECONDS", help="as for ingest")
    rt.add_argument("--format", choices=["table", "json"], default="table", dest="fmt")
    rt.add_argument("--quiet", action="store_true", help="no progress messages")
    _add_common(rt)
    rt.set_defaults(func=cmd_retry)

    runs = _listing(
        sub, "runs", cmd_runs, "ingest runs: counts, status and why a run failed",
        "The latest ingest runs with their reconciliation (read = inserted + updated + "
        "unchanged + stale + rejected), warnings, status (ok, ok_with_rejects, failed, "
        "rolled_back, interrupted, running) and error.",
        limit=50,
    )  # fmt: skip
    runs.add_argument("--status", help="only runs with this status (e.g. failed)")
    _listing(
        sub, "warnings", cmd_warnings,
        "warnings of ingest runs: rows loaded with a field fixed or emptied",
        "Show warnings (of one run with --run): the row's line, the column, the value as read "
        "and what was done (clamped, emptied, kept as an unknown error type).",
    ).add_argument("--run", type=int, help="ingest run id (default: all runs)")  # fmt: skip

    kp = sub.add_parser(
        "kpis",
        help="KPI table by dimensions and period",
        description="Compute every KPI of the catalog (or --kpis) grouped by dimensions and "
        "period. JSON/CSV fields are the KPI names; empty values are null.",
    )
    _add_query_args(kp)
    kp.add_argument("--kpis", help="comma-separated KPI names (default: all)")
    kp.add_argument(
        "--time-keys",
        default="",
        help="also group by local arrival time: weekday (1 = Monday) and/or hour "
        "(the Turnaround page's hour x weekday heatmap: --time-keys weekday,hour)",
    )
    kp.set_defaults(func=cmd_kpis)

    pub = sub.add_parser(
        "publish",
        help="write the canonical tables to Parquet files (for Spark, or readers during ingest)",
        description="Write decisions, audit_facts and calibration_ratings to DIR/<table>.parquet "
        "(each file replaced whole), in time order. `bpo-kpi kpis --engine spark --parquet DIR` "
        "reads them.",
    )
    pub.add_argument("--out", type=Path, required=True, metavar="DIR")
    _add_common(pub)
    pub.set_defaults(func=cmd_publish)

    gp = sub.add_parser(
        "gaps",
        help="quality gaps: segments above target error rate with confidence",
        description="Segments (combinations of dimensions) whose Wilson lower bound of the "
        "error rate is above the target error rate, ranked by excess errors. With --segment, "
        "drill into one segment: --drill reviewers | error-types | decisions.",
    )
    _add_query_args(gp)
    gp.add_argument(
        "--dims",
        default="vendor,site,workflow,market",
        help="dimensions to search (policy is opt-in: see kpi/gaps.py)",
    )
    gp.add_argument("--depth", type=int, default=3, help="max dimensions per segment")
    gp.add_argument("--min-audits", type=int, default=20, help="skip smaller segments")
    gp.add_argument("--all", action="store_true", help="include gaps explained by a narrower one")
    gp.add_argument("--segment", help="DIM=VALUE[,DIM=VALUE...]: drill into this segment")
    gp.add_argument(
        "--drill", choices=["reviewers", "error-types", "decisions"], default="reviewers"
    )
    gp.set_defaults(func=cmd_gaps)

    cal = sub.add_parser(
        "calibration",
        help="calibration sessions: agreement, accuracy vs golden, contested items",
        description="Per session and vendor: accuracy against the golden answer, Fleiss' "
        "kappa, Krippendorff's alpha and Gwet's AC1 with bootstrap intervals; --items lists "
        "every item with its majority, golden label and contested flag.",
    )
    cal.add_argument("--session", action="append", default=[], help="session id (repeatable)")
    cal.add_argument("--workflow")
    cal.add_argument("--vendor")
    cal.add_argument("--from", dest="start", type=_date)
    cal.add_argument("--to", dest="end", type=_date)
    cal.add_argument("--items", action="store_true", help="per-item table instead of summary")
    cal.add_argument("--bootstrap", type=int, default=500, help="bootstrap replicates")
    cal.add_argument("--role", default="admin")
    cal.add_argument("--format", choices=["table", "json", "csv"], default="table", dest="fmt")
    _add_engine_args(cal)
    _add_common(cal)
    cal.set_defaults(func=cmd_calibration)

    al = sub.add_parser(
        "alerts",
        help="the daily monitor's alert list (the dashboard's Overview)",
        description="Alerts for one day within the filters, most severe first: data not "
        "fresh, error rates out of control (daily p-chart per vendor over the window), SLA "
        "breaches on the day and backlog past due at its end (per vendor x workflow), QA "
        "coverage below target over the window's fully audited days. Definitions: kpi/monitor.py. "
        "With the dashboard's From/To days and filters, the same alerts as its Overview page.",
    )
    al.add_argument(
        "--day",
        "--to",
        dest="day",
        type=_date,
        help="the monitored day, the window's last day (default: the newest day with data)",
    )
    al.add_argument(
        "--from",
        dest="start",
        type=_date,
        help="the window's first day (default: 27 days before --day, not before the data)",
    )
    al.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE[,VALUE]",
        help="keep only these values of a dimension (repeatable)",
    )
    al.add_argument("--vendor", action="append", default=[], help="same as --where vendor=...")
    al.add_argument("--workflow", action="append", default=[], help="same as --where workflow=...")
    al.add_argument("--role", default="admin", help="viewer role from the configuration")
    al.add_argument(
        "--as-of",
        type=_datetime,
        help="instant of the freshness check, the audit lag and an unfinished day's backlog "
        "(default: now)",
    )
    al.add_argument(
        "--qa-lag-days",
        type=int,
        default=3,
        help="days after which a day's QA audits count as complete (default: 3)",
    )
    al.add_argument("--format", choices=["table", "json", "csv"], default="table", dest="fmt")
    _add_engine_args(al)
    _add_common(al)
    al.set_defaults(func=cmd_alerts)

    _listing(
        sub, "rejects", cmd_rejects, "rejected rows of ingest runs, with line and reason",
        "Show the rejected rows not loaded since (of one run with --run), with source line "
        "and reason; `bpo-kpi retry RUN` validates a run's rows again after a fix.",
    ).add_argument("--run", type=int, help="ingest run id (default: all runs)")  # fmt: skip

    demo = sub.add_parser(
        "demo",
        help="generate sample data, ingest it and start the dashboard",
        description="Generate seeded sample data (with injected quality gaps), ingest it into "
        "the database and serve the dashboard.",
    )
    demo.add_argument("--decisions", type=int, default=200_000, help="decisions to generate")
    demo.add_argument("--weeks", type=int, default=10, help="weeks of history")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--data-dir", type=Path, default=Path("demo_data"), help="where files go")
    demo.add_argument("--no-serve", action="store_true", help="only generate and ingest")
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--force", action="store_true", help="regenerate even if the db has data")
    _add_common(demo)
    demo.set_defaults(func=cmd_demo)

    srv = sub.add_parser(
        "serve",
        help="start the dashboard on a database",
        description="Serve the Streamlit dashboard on the database (it reads a replica that "
        "`bpo-kpi ingest` refreshes after each commit, so ingests and the dashboard never wait "
        "for each other).",
    )
    srv.add_argument("--port", type=int, default=8501)
    srv.add_argument("--role", help="viewer role from the configuration (default: admin)")
    _add_common(srv)
    srv.set_defaults(func=cmd_serve)

    up = sub.add_parser(
        "upgrade",
        help="bring a database written by an older bpo-kpi to the current schema",
        description="Open the database for writing once: missing tables and columns are added "
        "and derived values filled (any ingest does the same).",
    )
    up.add_argument("--wait", type=float, metavar="SECONDS", help="as for ingest")
    _add_common(up)
    up.set_defaults(func=cmd_upgrade)

    bench = sub.add_parser(
        "bench",
        help="run a benchmark from bench/ (ingest, kpi or dashboard); figures, not pass/fail",
        description="Run bench/<NAME>_bench.py with the arguments that follow, e.g. "
        "`bpo-kpi bench kpi --sizes 1000000`. `bpo-kpi bench kpi --help` lists its options.",
    )
    bench.add_argument("name", choices=list(BENCHMARKS), help="which benchmark")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    bench.set_defaults(func=cmd_bench)
    return parser


def _listing(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
    limit: int = 1000,
) -> argparse.ArgumentParser:
    """A command that lists rows of the database (runs, rejects, warnings)."""
    p = sub.add_parser(name, help=help, description=description)
    p.add_argument("--limit", type=int, default=limit)
    p.add_argument("--role", default="admin", help="viewer role from the configuration")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table", dest="fmt")
    _add_engine_args(p)
    _add_common(p)
    p.set_defaults(func=func)
    return p


BENCHMARKS = {
    "ingest": "ingest_bench.py",
    "kpi": "kpi_bench.py",
    "dashboard": "dashboard_bench.py",
}


def cmd_bench(args: argparse.Namespace) -> int:
    import runpy

    script = Path(__file__).resolve().parent.parent / "bench" / BENCHMARKS[args.name]
    if not script.exists():
        raise FileNotFoundError(f"{script} not found: benchmarks run from a clone of the repo")
    saved = sys.argv
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    finally:
        sys.argv = saved
    return EXIT_OK


def _add_engine_args(p: argparse.ArgumentParser) -> None:
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


def _engine(args: argparse.Namespace, config: Config | None = None) -> Any:
    """The engine a read command runs on (a context manager): the DuckDB gateway over the
    database (or its replica while an ingest writes), or Spark over published Parquet files."""
    config = config or load_config(args.config)
    if getattr(args, "engine", "duckdb") == "spark":
        from kpi.engines import SparkEngine

        if args.parquet is None:
            raise ValueError("--engine spark reads Parquet files: give --parquet DIR")
        return SparkEngine(args.parquet, config=config, role=args.role, master=args.spark_master)
    if getattr(args, "parquet", None) is not None:
        raise ValueError("--parquet is read by --engine spark only")
    from kpi.gateway import Gateway

    return Gateway(args.db, config=config, role=args.role, notify=_note)


def _add_query_args(p: argparse.ArgumentParser) -> None:
    from kpi.catalog import DIMENSIONS

    p.add_argument("--by", default="", help=f"comma-separated dimensions: {', '.join(DIMENSIONS)}")
    p.add_argument("--period", choices=["day", "week", "month"], help="group by period")
    p.add_argument("--from", dest="start", type=_date, help="first day (YYYY-MM-DD), inclusive")
    p.add_argument("--to", dest="end", type=_date, help="last day (YYYY-MM-DD), inclusive")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE[,VALUE]",
        help="keep only these values of a dimension (repeatable)",
    )
    p.add_argument("--role", default="admin", help="viewer role from the configuration")
    p.add_argument("--as-of", type=_datetime, help="instant for the backlog (default: now)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table", dest="fmt")
    _add_engine_args(p)
    _add_common(p)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _datetime(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO timestamp") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _query_from_args(args: argparse.Namespace, kpis: str | None) -> KpiQuery:
    from kpi.query import KpiQuery

    where: dict[str, tuple[str, ...]] = {}
    for item in args.where:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--where {item!r}: use DIM=VALUE or DIM=VALUE1,VALUE2")
        where[dim.strip()] = tuple(v.strip() for v in values.split(","))
    return KpiQuery.model_validate(
        {
            "by": tuple(d.strip() for d in args.by.split(",") if d.strip()),
            "period": args.period,
            "start": args.start,
            "end": args.end,
            "where": where,
            "kpis": tuple(k.strip() for k in kpis.split(",")) if kpis else None,
        }
    )


def _emit(frame: pd.DataFrame, fmt: str) -> None:
    from kpi.compute import records

    if fmt == "json":
        print(json.dumps(records(frame), indent=2))
    elif fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context(
            "display.max_rows", 500, "display.max_columns", 200, "display.width", 200
        ):
            print(frame.to_string(index=False) if not frame.empty else "(no rows)")


def cmd_kpis(args: argparse.Namespace) -> int:
    from kpi.compute import kpi_table

    query = _query_from_args(args, args.kpis)
    time_keys = tuple(k.strip() for k in args.time_keys.split(",") if k.strip())
    with _engine(args) as engine:
        frame = kpi_table(engine, query, as_of=args.as_of, time_keys=time_keys)
    _emit(frame, args.fmt)
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from bpo_kpi.replica import open_for_reading
    from kpi.engines import export_tables

    wait = load_config(args.config).ingest.lock_wait_seconds
    con, _ = open_for_reading(args.db or default_db_path(), wait=wait, notify=_note)
    try:
        written = export_tables(con, args.out)
    finally:
        con.close()
    for table, path in written.items():
        print(f"{table}: {path}")
    return EXIT_OK


def cmd_gaps(args: argparse.Namespace) -> int:
    from kpi import gaps

    base = _query_from_args(args, None)
    with _engine(args) as gw:
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
    _emit(frame, args.fmt)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    from kpi import monitor
    from kpi.data_summary import database_summary

    where = list(args.where)
    where += [f"vendor={v}" for v in args.vendor]
    where += [f"workflow={w}" for w in args.workflow]
    merged: dict[str, list[str]] = {}
    for item in where:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--where {item!r}: use DIM=VALUE or DIM=VALUE1,VALUE2")
        merged.setdefault(dim.strip(), []).extend(v.strip() for v in values.split(","))
    with _engine(args) as gw:
        day, start = args.day, args.start
        if day is None or start is None:
            summary = database_summary(gw)
            if summary.last_day is None or summary.first_day is None:
                raise ValueError("no decisions in the database (or none your role may see)")
            day = day or summary.last_day
            default_start = day - dt.timedelta(days=monitor.DEFAULT_WINDOW_DAYS - 1)
            start = start or max(summary.first_day, default_start)
        if start > day:
            raise ValueError(f"--from {start} is after --day {day}")
        ns = argparse.Namespace(
            by="", period=None, start=start, end=day,
            where=[f"{d}={','.join(v)}" for d, v in merged.items()],
        )  # fmt: skip
        base = _query_from_args(ns, None)
        frame = monitor.alerts(gw, base, day, as_of=args.as_of, qa_lag_days=args.qa_lag_days)
    if args.fmt != "table":
        _emit(frame, args.fmt)
        return EXIT_OK
    print(f"alerts for {day:%a %d %b %Y} (window {start} – {day})")
    if frame.empty:
        print("(no alerts)")
        return EXIT_OK
    counts = monitor.alert_counts(frame)
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    table = monitor.readable_alerts(frame)
    widths = {c: max(len(c), *(len(str(v)) for v in table[c])) for c in table.columns}
    print("  ".join(c.ljust(widths[c]) for c in table.columns).rstrip())
    for row in table.itertuples(index=False):
        cells = (str(v).ljust(widths[c]) for c, v in zip(table.columns, row, strict=True))
        print("  ".join(cells).rstrip())
    return EXIT_OK


def cmd_rejects(args: argparse.Namespace) -> int:
    from kpi import health

    with _engine(args) as gw:
        frame = health.rejected_rows(gw, args.run, args.limit)
    _emit(frame, args.fmt)
    return EXIT_OK


def cmd_calibration(args: argparse.Namespace) -> int:
    from kpi import calibration

    config = load_config(args.config)
    with _engine(args, config) as gw:
        frame = calibration.ratings(
            gw, args.session or None, args.workflow, args.vendor, args.start, args.end
        )
    if args.items:
        out = calibration.items(frame, config.contested_agreement)
    else:
        out = calibration.summary(frame, n_boot=args.bootstrap)
    _emit(out, args.fmt)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        print(f"error: {format_validation_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseBusy as exc:  # another process held the database longer than we would wait
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (ConfigError, ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; nothing was committed by the unfinished step", file=sys.stderr)
        return 130


def _progress(quiet: bool) -> Callable[[str], None]:
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def _note(message: str) -> None:
    """A notice on stderr (not progress: shown with --quiet too), e.g. that we wait for a lock."""
    print(message, file=sys.stderr, flush=True)


def _open_for_writing(args: argparse.Namespace, config: Config) -> duckdb.DuckDBPyConnection:
    """The ingest's connection: waits for another writer (saying so on stderr) up to `--wait`
    seconds if given, else the configuration's `ingest.lock_wait_seconds`; then `DatabaseBusy`."""
    wait = getattr(args, "wait", None)
    if wait is None:
        wait = config.ingest.lock_wait_seconds
    return connect(args.db, wait=wait, on_wait=_note)


def _publish_replica(db: Path, report: Callable[[str], None]) -> None:
    """Publish the committed state as the read replica (creating it if there is none): the
    dashboard reads it, and so do CLI readers while a later ingest holds the database."""
    from bpo_kpi import replica

    # Not waiting: if another writer took the database right after our commit, it publishes
    # (our data included) when it commits, and the dashboard refreshes a stale replica.
    if replica.refresh(db, wait=0.0):
        report(f"replica published: {replica.replica_path(db)}")
    else:
        report("replica not published now (another process writes the database)")


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest import IngestError, ingest_files, load_mapping

    config = load_config(args.config)
    mapping = load_mapping(args.mapping) if args.mapping else None
    folders = [f for f in args.files if f.is_dir()]
    if folders:
        if len(args.files) > 1:
            raise ValueError("give one FOLDER, or files: not both, nor several folders")
        return _ingest_folder(args, config, mapping, folders[0])
    if args.watch:
        raise ValueError("--watch needs a FOLDER to watch")
    con = _open_for_writing(args, config)
    if sys.stderr.isatty() and not args.quiet:
        con.execute("SET enable_progress_bar = true")
    try:
        results = ingest_files(
            con,
            args.kind,
            args.files,
            config=config,
            mapping=mapping,
            vendor=args.vendor,
            progress=_progress(args.quiet),
            force=args.force,
        )
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _print_not_loaded(exc)
        return EXIT_ERROR
    finally:
        con.close()
    if any(r.status != "already_loaded" for r in results):
        _publish_replica(args.db or default_db_path(), _progress(args.quiet))
    if args.fmt == "json":
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print_reconciliation(results)
    return EXIT_OK


def _ingest_folder(
    args: argparse.Namespace, config: Config, mapping: VendorMapping | None, folder: Path
) -> int:
    """`bpo-kpi ingest KIND FOLDER [--watch]`: see `ingest.folder`."""
    if args.force:
        raise ValueError("--force loads named files again; with a FOLDER, name the file instead")
    report = _progress(args.quiet)
    json_results: list[dict[str, object]] = []

    def show(result: FileResult) -> None:
        if args.fmt == "json":
            json_results.append(result.as_dict())
        else:
            print_reconciliation([result])

    try:
        return _watch_folder(args, config, mapping, folder, report, show, json_results)
    except KeyboardInterrupt:
        # Ctrl-C stops a watch: an ingest it cut short was rolled back and is recorded as
        # interrupted; its file loads on the next start.
        print(f"stopped watching {folder}", file=sys.stderr)
        return EXIT_OK


def _watch_folder(
    args: argparse.Namespace,
    config: Config,
    mapping: VendorMapping | None,
    folder: Path,
    report: Callable[[str], None],
    show: Callable[[FileResult], None],
    json_results: list[dict[str, object]],
) -> int:
    from ingest.folder import Seen, load_folder

    seen: Seen = {}
    reported_failure: Path | None = None
    while True:
        settle = args.settle
        one_pass = load_folder(
            lambda: _open_for_writing(args, config), args.kind, folder, config=config,
            mapping=mapping, vendor=args.vendor, settle=settle, seen=seen, progress=report,
            on_result=show,
        )  # fmt: skip
        if one_pass.committed:
            _publish_replica(args.db or default_db_path(), report)
        if one_pass.already_loaded:
            report(f"{len(one_pass.already_loaded)} file(s) already loaded")
        failed = one_pass.failed
        if failed is not None and (one_pass.error is not None or failed != reported_failure):
            print(f"error: {one_pass.error or f'{failed}: failed earlier; fix or replace it'}",
                  file=sys.stderr)  # fmt: skip
            if one_pass.error is not None:
                _print_not_loaded(one_pass.error)
            if one_pass.waiting:
                names = ", ".join(p.name for p in one_pass.waiting)
                print(f"not loaded yet, to keep the order of the feed: {names}", file=sys.stderr)
            reported_failure = failed
        if not args.watch:
            if one_pass.settling:
                # One-shot: wait for files still being written, then take them in a next pass.
                time.sleep(settle)
                if failed is None:
                    continue
            if args.fmt == "json":
                print(json.dumps(json_results, indent=2))
            elif not one_pass.loaded and failed is None and not json_results:
                print(f"no new files in {folder}")
            return EXIT_ERROR if failed is not None else EXIT_OK
        time.sleep(args.every)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from bpo_kpi.db import SCHEMA_VERSION, TIMES_CHECKED, get_meta, schema_version, set_meta
    from kpi.gateway import Gateway

    db = args.db or default_db_path()
    if not Path(db).exists():
        raise FileNotFoundError(f"database {db} does not exist")
    config = load_config(args.config)
    con = _open_for_writing(args, config)
    try:
        version = schema_version(con)
        checked = get_meta(con, TIMES_CHECKED) is not None
    finally:
        con.close()
    print(f"{db}: schema {version} (current: {SCHEMA_VERSION})")
    if not checked:
        # Times stored before ingest checked them: look once; a clean database is marked so
        # that readers skip the look.
        with Gateway(db, config=config, wait=0) as gw:
            found = gw.implausible
        if found.empty:
            con = _open_for_writing(args, config)
            try:
                set_meta(con, TIMES_CHECKED, "upgrade")
            finally:
                con.close()
            print("stored times: all plausible")
        else:
            print(f"stored times: {int(found['rows'].sum()):,} implausible values, read as "
                  "ingest would load them today (Data health lists them)")  # fmt: skip
    _publish_replica(db, _progress(False))
    return EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    from ingest import IngestError, load_mapping
    from ingest.load import retry_rejected

    config = load_config(args.config)
    mapping = load_mapping(args.mapping) if args.mapping else None
    con = _open_for_writing(args, config)
    try:
        result = retry_rejected(
            con, args.run, config=config, mapping=mapping, progress=_progress(args.quiet)
        )
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _print_not_loaded(exc)
        return EXIT_ERROR
    finally:
        con.close()
    _publish_replica(args.db or default_db_path(), _progress(args.quiet))
    if args.fmt == "json":
        print(json.dumps([result.as_dict()], indent=2))
    else:
        print_reconciliation([result])
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from kpi import health

    with _engine(args) as gw:
        frame = health.ingest_runs(gw, args.limit, status=args.status)
    _emit(frame, args.fmt)
    return EXIT_OK


def cmd_warnings(args: argparse.Namespace) -> int:
    from kpi import health

    with _engine(args) as gw:
        frame = health.ingest_warnings(gw, args.run, args.limit)
    _emit(frame, args.fmt)
    return EXIT_OK


def _print_not_loaded(exc: Exception) -> None:
    runs = list(getattr(exc, "runs", []))
    if runs:
        word = "run" if len(runs) == 1 else "runs"
        listed = ", ".join(str(r) for r in runs)
        print(f"nothing was loaded; the attempt is recorded as {word} {listed} (bpo-kpi runs)",
              file=sys.stderr)  # fmt: skip
    else:
        print("nothing was loaded: the database is unchanged", file=sys.stderr)


def print_reconciliation(results: Sequence[FileResult]) -> None:
    counts = ("read", "inserted", "updated", "unchanged", "stale", "rejected", "warnings")
    header = f"{'file':<32} " + " ".join(f"{c:>9}" for c in counts)
    print(header)
    print("-" * len(header))
    for r in results:
        name = Path(r.file).name
        if r.status == "already_loaded":
            print(f"{name[-32:]:<32} already loaded in run {r.run_id} (same content, mapping and "
                  "configuration; --force loads it again)")  # fmt: skip
            continue
        print(
            f"{name[-32:]:<32} {r.rows_read:>9,} {r.inserted:>9,} {r.updated:>9,} "
            f"{r.unchanged:>9,} {r.stale:>9,} {r.rejected:>9,} {r.warnings:>9,}"
        )
        status = "reconciled" if r.reconciles else "DOES NOT RECONCILE"
        retry = f" (retry of run {r.retry_of})" if r.retry_of is not None else ""
        print(
            f"  run {r.run_id}{retry}: read {r.rows_read:,} = {r.inserted:,} inserted + "
            f"{r.updated:,} updated + {r.unchanged:,} unchanged + {r.stale:,} stale + "
            f"{r.rejected:,} rejected ({status}, {r.seconds:.1f}s)"
        )
        if r.ignored_columns:
            print(f"  ignored columns: {', '.join(r.ignored_columns)}")
        if r.stale:
            print(f"  {r.stale:,} stale: versions already superseded (or older than the stored "
                  "one), kept in the history and not applied")  # fmt: skip
        for reason, n in r.reasons:
            print(f"  rejected {n:,}x: {reason}")
        if r.rejected:
            print(f"  see all: bpo-kpi rejects --run {r.run_id}; after fixing the mapping or "
                  f"configuration: bpo-kpi retry {r.run_id}")  # fmt: skip
        for reason, n in r.warning_reasons:
            print(f"  warning {n:,}x: {reason}")
        if r.warnings:
            print(f"  {r.warnings:,} warnings (rows loaded, a field fixed or emptied): "
                  f"bpo-kpi warnings --run {r.run_id}")  # fmt: skip
        if r.edits_after_audit:
            print(f"  {r.edits_after_audit:,} decisions QA had audited changed label or policy: "
                  "their audits stay scored against the version QA saw (Data health)")  # fmt: skip


def cmd_demo(args: argparse.Namespace) -> int:
    from ingest import ingest_files, load_mapping
    from sample_data import generate, load_canonical

    config = load_config(args.config)
    db = args.db or default_db_path()
    report = _progress(False)
    con = connect(db)
    try:
        existing = con.execute("SELECT count(*) FROM decisions").fetchone()[0]  # type: ignore[index]
        if existing and not args.force:
            report(f"{db} already holds {existing:,} decisions; serving it (--force regenerates)")
        else:
            report(f"generating {args.decisions:,} decisions, {args.weeks} weeks, seed {args.seed}")
            data = generate(seed=args.seed, decisions=args.decisions, weeks=args.weeks)
            load_canonical(data, args.data_dir, con, config=config, progress=report)
            vendors = Path(__file__).resolve().parent.parent / "sample_data"
            for vendor in ("northwind", "apex_bpo"):
                raw_dir = vendors / "raw" / vendor
                mapping = load_mapping(vendors / "vendors" / f"{vendor}.toml")
                raw_kinds: tuple[Literal["decisions", "audits"], ...] = ("decisions", "audits")
                for raw_kind in raw_kinds:
                    for file in sorted(raw_dir.glob(f"{raw_kind}.*")):
                        ingest_files(
                            con, raw_kind, [file], config=config, mapping=mapping, progress=report
                        )
            report(f"database ready: {db}")
    finally:
        con.close()
    if args.no_serve:
        return EXIT_OK
    report(f"starting the dashboard on http://localhost:{args.port}")
    return _serve(Path(db), args.config, args.port)


def cmd_serve(args: argparse.Namespace) -> int:
    db = args.db or default_db_path()
    if not Path(db).exists():
        print(f"note: {db} does not exist yet; the dashboard explains how to load data")
    print(f"starting the dashboard on http://localhost:{args.port}", flush=True)
    return _serve(Path(db), args.config, args.port, role=args.role)


def _serve(db: Path, config: Path | None, port: int, role: str | None = None) -> int:
    app = Path(__file__).resolve().parent.parent / "app.py"
    env = {**os.environ, DB_ENV: str(db.resolve())}
    # A bad file or an unknown role fails here, with the field named, not in the browser.
    loaded = load_config(config)
    if config:
        env["BPO_KPI_CONFIG"] = str(Path(config).resolve())
    if role and role not in loaded.roles:
        raise ValueError(f"unknown role {role!r}; configured roles: {', '.join(loaded.roles)}")
    if role:
        env["BPO_KPI_ROLE"] = role
    return subprocess.call(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env=env,
        cwd=app.parent,  # so the project's .streamlit/config.toml applies
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
