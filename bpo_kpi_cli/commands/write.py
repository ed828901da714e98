"""Write commands: `ingest` (files, or a drop folder: `ingest.folder`), `retry` and `upgrade`.

`upgrade_database` is the one piece of logic kept in the shell: it looks for implausible stored
times with the read path's gateway (`kpi.gateway`), and of the packages that could hold it,
`bpo_kpi` and `ingest` may not import `kpi` (docs/ARCHITECTURE.md §1).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb

from bpo_kpi import replica
from bpo_kpi.config import Config, load_config
from bpo_kpi.db import (
    SCHEMA_VERSION,
    TIMES_CHECKED,
    connect,
    default_db_path,
    get_meta,
    schema_version,
    set_meta,
)
from bpo_kpi_cli.output import (
    EXIT_ERROR,
    EXIT_OK,
    command,
    note,
    print_not_loaded,
    print_reconciliation,
    progress,
)
from ingest import FileResult, IngestError, VendorMapping, ingest_files, load_mapping
from ingest.folder import FolderPass, watch_folder
from ingest.load import refresh_derived_if_config_changed, retry_rejected
from kpi.gateway import Gateway


def open_for_writing(args: argparse.Namespace, config: Config) -> duckdb.DuckDBPyConnection:
    """The ingest's connection: waits for another writer (saying so on stderr) up to `--wait`
    seconds if given, else the configuration's `ingest.lock_wait_seconds`; then `DatabaseBusy`."""
    wait = getattr(args, "wait", None)
    if wait is None:
        wait = config.ingest.lock_wait_seconds
    return connect(args.db, wait=wait, on_wait=note)


@command
def cmd_ingest(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    mapping = load_mapping(args.mapping) if args.mapping else None
    folders = [f for f in args.files if f.is_dir()]
    if folders:
        if len(args.files) > 1:
            raise ValueError("give one FOLDER, or files: not both, nor several folders")
        return _ingest_folder(args, config, mapping, folders[0])
    if args.watch:
        raise ValueError("--watch needs a FOLDER to watch")
    con = open_for_writing(args, config)
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
            progress=progress(args.quiet),
            force=args.force,
        )
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print_not_loaded(exc)
        return EXIT_ERROR
    finally:
        con.close()
    if any(r.status != "already_loaded" for r in results):
        replica.publish(args.db or default_db_path(), progress(args.quiet))
    if args.fmt == "json":
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print_reconciliation(results)
    return EXIT_OK


def _ingest_folder(
    args: argparse.Namespace, config: Config, mapping: VendorMapping | None, folder: Path
) -> int:
    """`bpo-kpi ingest KIND FOLDER [--watch]`: `ingest.folder.watch_folder`, printing."""
    if args.force:
        raise ValueError("--force loads named files again; with a FOLDER, name the file instead")
    report = progress(args.quiet)
    json_results: list[dict[str, object]] = []

    def show(result: FileResult) -> None:
        if args.fmt == "json":
            json_results.append(result.as_dict())
        else:
            print_reconciliation([result])

    def failed(one_pass: FolderPass) -> None:
        print(f"error: {one_pass.error or f'{one_pass.failed}: failed earlier; fix or replace it'}",
              file=sys.stderr)  # fmt: skip
        if one_pass.error is not None:
            print_not_loaded(one_pass.error)
        if one_pass.waiting:
            names = ", ".join(p.name for p in one_pass.waiting)
            print(f"not loaded yet, to keep the order of the feed: {names}", file=sys.stderr)

    # In a watch, Ctrl-C (or SIGTERM from a service manager) stops at the next pause between
    # passes, so a load or a replica refresh under way finishes; a second Ctrl-C stops at
    # once (an ingest it cuts short is rolled back and recorded as interrupted; its file
    # loads on the next start).
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set() or not args.watch:
            raise KeyboardInterrupt
        stop.set()
        print("stopping after the current step (Ctrl-C again to stop now)", file=sys.stderr)

    def pause(seconds: float) -> None:
        if stop.wait(seconds):
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        last = watch_folder(
            lambda: open_for_writing(args, config), args.kind, folder, config=config,
            mapping=mapping, vendor=args.vendor, settle=args.settle,
            every=args.every if args.watch else None, progress=report, on_result=show,
            on_failure=failed, publish=lambda: _publish(args.db, report), sleep=pause,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"stopped watching {folder}", file=sys.stderr)
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.fmt == "json":
        print(json.dumps(json_results, indent=2))
    elif not last.loaded and last.failed is None:
        print(f"no new files in {folder}")
    return EXIT_ERROR if last.failed is not None else EXIT_OK


def _publish(db: Path | None, report: Callable[[str], None]) -> None:
    replica.publish(db or default_db_path(), report)


@command
def cmd_retry(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    mapping = load_mapping(args.mapping) if args.mapping else None
    con = open_for_writing(args, config)
    try:
        result = retry_rejected(
            con, args.run, config=config, mapping=mapping, progress=progress(args.quiet)
        )
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print_not_loaded(exc)
        return EXIT_ERROR
    finally:
        con.close()
    replica.publish(args.db or default_db_path(), progress(args.quiet))
    if args.fmt == "json":
        print(json.dumps([result.as_dict()], indent=2))
    else:
        print_reconciliation([result])
    return EXIT_OK


def upgrade_database(
    db: Path, config: Config, open_db: Callable[[], duckdb.DuckDBPyConnection]
) -> tuple[int, int | None]:
    """Bring `db` to the current schema (opening it for writing does, as any ingest does) and,
    if its stored times were never checked, look for implausible ones once: a clean database
    is marked (`TIMES_CHECKED`) so that readers skip the look. Returns the schema version and
    the number of implausible values found (None: the times were checked before)."""
    con = open_db()
    try:
        version = schema_version(con)
        checked = get_meta(con, TIMES_CHECKED) is not None
    finally:
        con.close()
    if checked:
        return version, None
    with Gateway(db, config=config, wait=0) as gw:
        found = gw.implausible
    if found.empty:
        con = open_db()
        try:
            set_meta(con, TIMES_CHECKED, "upgrade")
        finally:
            con.close()
    return version, int(found["rows"].sum())


@command
def cmd_upgrade(args: argparse.Namespace) -> int:
    db = args.db or default_db_path()
    if not Path(db).exists():
        raise FileNotFoundError(f"database {db} does not exist")
    config = load_config(args.config)
    version, implausible = upgrade_database(db, config, lambda: open_for_writing(args, config))
    print(f"{db}: schema {version} (current: {SCHEMA_VERSION})")
    if implausible == 0:
        print("stored times: all plausible")
    elif implausible is not None:
        print(f"stored times: {implausible:,} implausible values, read as ingest would load "
              "them today (Data health lists them)")  # fmt: skip
    replica.publish(db, progress(False))
    return EXIT_OK


@command
def cmd_recompute(args: argparse.Namespace) -> int:
    db = args.db or default_db_path()
    if not Path(db).exists():
        raise FileNotFoundError(f"database {db} does not exist")
    config = load_config(args.config)
    con = open_for_writing(args, config)
    try:
        con.execute("BEGIN TRANSACTION")
        ran = refresh_derived_if_config_changed(con, config, progress(False))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    if not ran:
        print(f"{db}: stored values already match the configuration ({config.derivation_hash()})")
        return EXIT_OK
    replica.publish(db, progress(False))
    print(f"{db}: due times, error types and severities derived again "
          f"({config.derivation_hash()})")  # fmt: skip
    return EXIT_OK
