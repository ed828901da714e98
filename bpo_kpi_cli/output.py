"""What the shell prints and returns: tables, reconciliations, progress, errors and exit
codes (the alert list is printed by `commands.alerts`). Commands compute nothing here; they
hand over what the library returned."""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import ValidationError

from bpo_kpi.config import ConfigError, format_validation_error
from bpo_kpi.db import DatabaseBusy
from export.safety import csv_text
from kpi import columns as cols
from kpi.columns import Columns

if TYPE_CHECKING:
    import pandas as pd

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
        except BrokenPipeError:
            # The reader stopped early (`bpo-kpi kpis | head`): no traceback, and none when
            # Python flushes stdout at exit (the recipe of Python's `signal` documentation).
            _quiet_stdout()
            return EXIT_ERROR

    return run


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test's capture): nothing to flush at exit


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


def emit(table: pd.DataFrame | Columns, fmt: str) -> None:
    """A result table (a DataFrame, or numpy columns: `kpi.columns`) on stdout: aligned text
    (`text_table`), JSON records (empty values null) or CSV (text a spreadsheet would run as a
    formula gets a leading apostrophe, `export.safety.csv_text`; numbers stay numbers).

    JSON is indented for a terminal and compact (one line, no spaces) into a pipe or file:
    the same records, and json's C encoder writes them several times faster than its
    indenting one (a year of vendor x workflow x week: ~3 MB). Columns are printed without
    pandas (`bpo-kpi kpis` never imports it)."""
    if isinstance(table, dict):
        if fmt == "json":
            _print_json(cols.records(table))
        elif fmt == "csv":
            _write_csv(table)
        else:
            print(text_table(table))
        return
    if fmt == "json":
        from kpi.compute import records

        _print_json(records(table))
    elif fmt == "csv":
        _write_csv(cols.from_frame(table))
    else:
        print(text_table(cols.from_frame(table)))


def _print_json(rows: list[dict[str, object]]) -> None:
    if sys.stdout.isatty():
        print(json.dumps(rows, indent=2))
    else:
        print(json.dumps(rows, separators=(",", ":")))


def _write_csv(table: Columns) -> None:
    """CSV as pandas' `to_csv` writes a KPI table: numbers in full (Python's repr), empty
    values as empty fields, dates ISO; text made formula-safe."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([csv_text(name) for name in table])
    lists = [_cells(values) for values in table.values()]
    writer.writerows(zip(*lists, strict=True))


def _cells(values: np.ndarray) -> list[object]:
    kind = values.dtype.kind
    if kind == "f":
        return ["" if v != v else v for v in values.tolist()]
    if kind in "iub":
        return values.tolist()
    if kind == "M":  # as pandas writes UTC times: `2026-11-20 08:15:00+00:00`
        return ["" if v is None else v for v in cols.instants(values, sep=" ")]
    return ["" if v is None else csv_text(cols.plain(v)) for v in values.tolist()]


TABLE_WIDTH = 200  # characters per line of aligned text; wider tables wrap into blocks


def text_table(table: Columns, width: int = TABLE_WIDTH) -> str:
    """Aligned text of numpy columns, as a terminal shows a KPI table: one line per row, each
    column right-aligned under its name, numbers to 6 significant digits, empty values `NaN`
    (numbers) or `None`; columns that do not fit in `width` continue in a block below."""
    if not table or cols.length(table) == 0:
        return "(no rows)"
    rendered = []
    for name, values in table.items():
        cells = [str(name), *(_text_cell(v) for v in _cells_for_text(values))]
        size = max(len(c) for c in cells)
        rendered.append([c.rjust(size) for c in cells])
    blocks: list[list[list[str]]] = []
    block: list[list[str]] = []
    used = 0
    for column in rendered:
        size = len(column[0]) + (1 if block else 0)
        if block and used + size > width:
            blocks.append(block)
            block, used = [], 0
            size = len(column[0])
        block.append(column)
        used += size
    blocks.append(block)
    return "\n\n".join(
        "\n".join(" ".join(column[i] for column in b) for i in range(len(b[0]))) for b in blocks
    )


def _cells_for_text(values: np.ndarray) -> list[object]:
    """Times as days when each is a midnight (periods), else with the time and offset."""
    if values.dtype.kind != "M":
        return values.tolist()
    return list(cols.instants(values.astype("datetime64[s]"), sep=" "))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text_cell(value: object) -> str:
    """One cell as text; control characters from the data (a terminal would act on escape
    sequences, a line break would break the row) shown as U+FFFD."""
    if value is None:
        return "None"
    if isinstance(value, float):
        return "NaN" if value != value else f"{value:.6g}"
    return _CONTROL.sub("\ufffd", str(cols.plain(value)))


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
