"""`bpo-kpi meeting`: a calibration meeting pack for one vendor (`kpi.meeting`), written as a
PPTX deck, a PDF (the deck converted by LibreOffice) or JSON (`export.meeting`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bpo_kpi.config import load_config
from bpo_kpi.db import default_db_path
from bpo_kpi_cli.commands.read import engine
from bpo_kpi_cli.output import EXIT_OK, UsageError, command, progress
from export import meeting as writer
from kpi import meeting

SUFFIX_FORMATS = {".pptx": "pptx", ".pdf": "pdf", ".json": "json"}


def format_from_args(args: argparse.Namespace) -> str:
    if args.fmt:
        return str(args.fmt)
    out = str(args.out)
    if out == "-":
        return "json"
    suffix = Path(out).suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    raise UsageError(f"--out {out}: end it with .pptx, .pdf or .json, or give --format")


def notes_from_args(args: argparse.Namespace) -> str:
    if args.notes is not None and args.notes_file is not None:
        raise UsageError("give --notes or --notes-file, not both")
    if args.notes_file is not None:
        return Path(args.notes_file).read_text(encoding="utf-8")
    return str(args.notes or "")


@command
def cmd_meeting(args: argparse.Namespace) -> int:
    if bool(args.session) == bool(args.week):
        raise UsageError("give --session ID (repeatable) or --week 2026-W47")
    fmt = format_from_args(args)
    if str(args.out) == "-" and fmt != "json":
        raise UsageError("only --format json can be written to stdout (--out -)")
    notes = notes_from_args(args)
    report = progress(args.quiet)
    config = load_config(args.config)
    what = f"week {args.week}" if args.week else f"session {', '.join(args.session)}"
    report(f"building the meeting pack of {what} for {args.vendor}")
    with engine(args, config) as gw:
        pack = meeting.meeting_pack(
            gw,
            args.db or default_db_path(),
            session=tuple(args.session) or None,
            week=args.week,
            vendor=args.vendor,
            workflows=tuple(args.workflow),
            as_of=args.as_of,
            notes=notes,
            kpi=args.kpi,
            days=args.days,
            n_boot=args.bootstrap,
        )
    report(f"writing {fmt}")
    try:
        data = writer.render(pack, fmt)
    except writer.PdfUnavailable as exc:
        raise ValueError(str(exc)) from None
    if str(args.out) == "-":
        sys.stdout.write(data.decode())
        return EXIT_OK
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(out)
    print(
        f"{len(pack.contested)} of {pack.items_total} items contested; "
        f"{len(pack.previous)} earlier action(s), {len(pack.agreed)} agreed at this meeting"
    )
    return EXIT_OK
