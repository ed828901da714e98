"""`bpo-kpi export`: a period's KPI snapshot or deck (`kpi.snapshot`, written by `export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import export
from bpo_kpi_cli.commands.read import engine
from bpo_kpi_cli.output import EXIT_OK, command, emit, progress
from export import previous
from kpi import snapshot
from kpi.periods import ReportPeriod, custom_period, parse_period
from kpi.query import parse_where

SUFFIX_FORMATS = {".pptx": "pptx", ".xlsx": "xlsx", ".json": "json", ".html": "html",
                  ".htm": "html", ".zip": "csv"}  # fmt: skip


def period_from_args(args: argparse.Namespace) -> ReportPeriod:
    if args.period and (args.start or args.end):
        raise ValueError("give --period, or --from and --to: not both")
    if args.period:
        return parse_period(args.period)
    if args.start and args.end:
        return custom_period(args.start, args.end)
    raise ValueError(
        "which period? give --period 2026-W41 (or 2026-10, 2026-Q4), or --from and --to"
    )


def format_from_args(args: argparse.Namespace) -> str:
    if args.fmt:
        return str(args.fmt)
    out: Path = args.out
    if out.suffix.lower() in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[out.suffix.lower()]
    if not out.suffix:
        return "csv"  # a folder
    raise ValueError(f"--out {out}: say which --format ({', '.join(export.FORMATS)})")


@command
def cmd_export(args: argparse.Namespace) -> int:
    period = period_from_args(args)
    fmt = format_from_args(args)
    where = parse_where(args.where)
    if args.vendor:
        if "vendor" in where and where["vendor"] != (args.vendor,):
            raise ValueError("--vendor and --where vendor=... name different vendors")
        where["vendor"] = (args.vendor,)
    report = progress(args.quiet)
    report(f"building the {period.label} snapshot ({period.start} – {period.end})")
    with engine(args) as gw:
        snap = snapshot.build(gw, period, where, args.trend_weeks, args.top_gaps)
    if args.compare_to is not None:
        before = previous.load(args.compare_to, like=snap)
        report(f"comparing with {before.source}")
        snap.restated = snapshot.restatements(before.tables, snap)
        snap.compared_with = {
            "source": before.source,
            "content_hash": before.manifest.get("content_hash"),
            "data_as_of": before.manifest.get("data_as_of"),
        }
    report(f"writing {fmt}")
    written = export.write(snap, fmt, args.out)
    if args.archive is not None:
        kept = previous.archive(snap, args.archive)
        report(f"archived as {kept}")
    for path in written:
        print(path)
    print(f"content hash {snap.content_hash}")
    if snap.restated is not None:
        if snap.restated.empty:
            print("restated: nothing changed since the earlier snapshot")
        else:
            print(f"restated: {len(snap.restated)} number(s) changed since the earlier snapshot")
            emit(snap.restated.drop(columns=["_key"]), "table")
    return EXIT_OK
