"""What leaves the tool: a `kpi.snapshot.Snapshot` written as a deck, a workbook or data files.

`write(snapshot, fmt, out)` is the one entry point (the CLI's `bpo-kpi export` and the
dashboard's Export page both call it); every format writes the same tables and manifest.
"""

from __future__ import annotations

from pathlib import Path

from export import tables
from kpi.snapshot import Snapshot

FORMATS = ("pptx", "xlsx", "csv", "parquet", "json", "html")


def write(snapshot: Snapshot, fmt: str, out: Path) -> list[Path]:
    """Write `snapshot` as `fmt` to `out`; the paths written."""
    out = Path(out)
    if fmt == "json":
        tables.write_single(out, tables.json_bytes(snapshot))
        return [out]
    if fmt == "csv":
        return tables.write_files(tables.csv_files(snapshot), out)
    if fmt == "parquet":
        return tables.write_files(tables.parquet_files(snapshot), out)
    if fmt == "xlsx":
        tables.write_single(out, tables.xlsx_bytes(snapshot))
        return [out]
    if fmt == "html":
        tables.write_single(out, tables.html_bytes(snapshot))
        return [out]
    if fmt == "pptx":
        from export import deck

        tables.write_single(out, deck.pptx_bytes(snapshot))
        return [out]
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
