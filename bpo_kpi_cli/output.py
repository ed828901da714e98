"""What the shell prints and returns: tables, reconciliations, progress, errors and exit
codes (the alert list is printed by `commands.alerts`). Commands compute nothing here; they
hand over what the library returned."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import ValidationError

from bpo_kpi.config import ConfigError, format_validation_error
from bpo_kpi.db import DatabaseBusy
from kpi.compute import records

if TYPE_CHECKING:
    from ingest.load import FileResult

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], int]


class UsageError(ValueError):
    """Options that do not go together (found after parsing): `error: ...`, exit code 2."""


def command(func: Command) -> Command:
    """Wrap a command function: the errors a user causes or can fix (a bad option, file or
    configuration, a database another process holds for longer than we wait) become one line
    on stderr and an exit code, not a traceback; Ctrl-C exits 130."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args) or 0)
        except ValidationError as exc:
            print(f"error: {format_validation_error(exc)}", file=sys.stderr)
            return EXIT_USAGE
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except DatabaseBusy as exc:  # another process held the database longer than we'd wait
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except (ConfigError, ValueError, FileNotFoundError, PermissionError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt:
            print("interrupted; nothing was committed by the unfinished step", file=sys.stderr)
            return EXIT_INTERRUPTED

    return run


def progress(quiet: bool) -> Callable[[str], None]:
    """Progress messages on stderr with the seconds since this call (none with --quiet)."""
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def note(message: str) -> None:
    """A notice on stderr (not progress: shown with --quiet too), e.g. that we wait for a lock."""
    print(message, file=sys.stderr, flush=True)


def emit(frame: pd.DataFrame, fmt: str) -> None:
    """A result table on stdout: aligned text, JSON records (empty values null) or CSV.

    JSON is indented for a terminal and compact (one line, no spaces) into a pipe or file:
    the same records, and json's C encoder writes them several times faster than its
    indenting one (a year of vendor x workflow x week: ~3 MB)."""
    if fmt == "json":
        rows = records(frame)
        if sys.stdout.isatty():
            print(json.dumps(rows, indent=2))
        else:
            print(json.dumps(rows, separators=(",", ":")))
    elif fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    else:
        with pd.option_context(
            "display.max_rows", 500, "display.max_columns", 200, "display.width", 200
        ):
            print(frame.to_string(index=False) if not frame.empty else "(no rows)")


def print_not_loaded(exc: Exception) -> None:
    """After an ingest error: what was recorded (the failed runs), on stderr."""
    runs = list(getattr(exc, "runs", []))
    if runs:
        word = "run" if len(runs) == 1 else "runs"
        listed = ", ".join(str(r) for r in runs)
        print(f"nothing was loaded; the attempt is recorded as {word} {listed} (bpo-kpi runs)",
              file=sys.stderr)  # fmt: skip
    else:
        print("nothing was loaded: the database is unchanged", file=sys.stderr)


def print_reconciliation(results: Sequence[FileResult]) -> None:
    """One ingested file per block: its counts, whether they reconcile, reasons and hints."""
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
