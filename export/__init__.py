"""What leaves the tool: a `kpi.snapshot.Snapshot` written as a deck, a workbook or data files.

`write(snapshot, fmt, out)` is the one entry point (the CLI's `bpo-kpi export` and the
dashboard's Export page both call it); every format writes the same tables and manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpi.snapshot import Snapshot

# The writers (export.tables: pandas, pyarrow, openpyxl; export.deck: python-pptx) are imported
# when a snapshot is written: `export.safety` alone (the CLI's CSV cells) pays for none of them.

FORMATS = ("pptx", "xlsx", "csv", "parquet", "json", "html")


MIME = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "application/zip",
    "parquet": "application/zip",
    "json": "application/json",
    "html": "text/html",
}
SUFFIX = {"pptx": ".pptx", "xlsx": ".xlsx", "csv": ".csv.zip", "parquet": ".parquet.zip",
          "json": ".json", "html": ".html"}  # fmt: skip


def render(snapshot: Snapshot, fmt: str) -> bytes:
    """`snapshot` as one file's bytes (CSV and Parquet: a zip of their files)."""
    from export import tables

    if fmt == "json":
        return tables.json_bytes(snapshot)
    if fmt == "csv":
        return tables.zip_bytes(tables.csv_files(snapshot))
    if fmt == "parquet":
        return tables.zip_bytes(tables.parquet_files(snapshot))
    if fmt == "xlsx":
        return tables.xlsx_bytes(snapshot)
    if fmt == "html":
        return tables.html_bytes(snapshot)
    if fmt == "pptx":
        from export import deck

        return deck.pptx_bytes(snapshot)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def file_name(snapshot: Snapshot, fmt: str) -> str:
    """A download's file name: bpo-kpi_<period>[_<vendor>]<suffix>, safe for any system."""
    vendors = snapshot.manifest["scope"]["filters"].get("vendor", [])
    parts = ["bpo-kpi", snapshot.period.label, *vendors[:1]]
    name = "_".join(parts)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] + SUFFIX[fmt]


def write(snapshot: Snapshot, fmt: str, out: Path) -> list[Path]:
    """Write `snapshot` as `fmt` to `out`; the paths written."""
    from export import tables

    out = Path(out)
    if fmt == "csv":
        return tables.write_files(tables.csv_files(snapshot), out)
    if fmt == "parquet":
        return tables.write_files(tables.parquet_files(snapshot), out)
    tables.write_single(out, render(snapshot, fmt))
    return [out]
