"""`alerts`: the alert list of a day (as the dashboard's Overview shows it), acknowledging,
snoozing and notifying; in its own module because the monitor, the state file and the
notifications are more than the other read commands import (start-up time). The list is
computed and printed without pandas (`kpi.alerting`); sending it (`--notify`) and the digest's
tiles build the DataFrames the messages are written from."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bpo_kpi.config import Config, load_config
from bpo_kpi.db import default_db_path
from bpo_kpi.state import StateStore, check_key, check_status, open_state
from bpo_kpi_cli.commands.read import engine
from bpo_kpi_cli.output import EXIT_OK, UsageError, command, emit, note
from export import notify
from kpi import alerting
from kpi.columns import Columns, length, object_array
from kpi.query import KpiQuery, parse_where


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
            start, day = alerting.alert_window(gw, args.day, args.start)
            base = KpiQuery.model_validate({"start": start, "end": day, "where": where})
            rows = alerting.alert_rows(gw, base, day, as_of=args.as_of,
                                       qa_lag_days=args.qa_lag_days)  # fmt: skip
            tiles = None
            if args.digest:
                from kpi.monitor import vendor_snapshot  # pandas: the digest's tiles

                tiles = vendor_snapshot(gw, base, day, args.as_of)
        frame = alerting.rows_to_columns(rows)
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
        ctx = notify.Context(day, start, filters, config.dashboard.url, config.reporting_timezone,
                             config)  # fmt: skip
        from kpi.monitor import alert_frame  # pandas: messages are written from a DataFrame

        deliveries = notify.notify(targets, alert_frame(rows), statuses, store, ctx, tiles, now)
    finally:
        if store is not None:
            store.close()
    for delivery in deliveries:
        for line in delivery.lines():
            note(line)
    return notify.delivery_status(deliveries, status)


def print_alerts(
    frame: Columns, start: dt.date, day: dt.date, status: Sequence[str] | None = None
) -> None:
    """The alert list as the dashboard's Overview words it: counts per severity, then a table;
    with `status` (one per alert: new, acknowledged..., snoozed...), a status column before the
    details."""
    print(f"alerts for {day:%a %d %b %Y} (window {start} – {day})")
    if not length(frame):
        print("(no alerts)")
        return
    counts = alerting.alert_counts(frame)
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    table = dict(alerting.readable_alert_columns(frame))
    if status is not None:
        details = table.pop("details")
        table["status"], table["details"] = object_array(list(status)), details
    widths = {c: max(len(c), *(len(str(v)) for v in values)) for c, values in table.items()}
    print("  ".join(c.ljust(widths[c]) for c in table).rstrip())
    for row in zip(*table.values(), strict=True):
        cells = (str(v).ljust(widths[c]) for c, v in zip(table, row, strict=True))
        print("  ".join(cells).rstrip())
