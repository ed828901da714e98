"""Writers for generated data: canonical files, and raw exports in two vendors' own formats.

Canonical files (`write_canonical`) hold exactly the canonical columns; CSV timestamps are
ISO 8601 with an explicit offset (`2026-10-05T14:03:11+00:00`), dates `YYYY-MM-DD`, booleans
`true` / `false`, missing values empty.

Vendor exports (`write_vendor_exports`) are produced *from the vendor mapping files* in
`sample_data/vendors/` by inverting them (canonical column -> vendor column, canonical label
-> vendor word, canonical value -> vendor synonym), so a mapping and its sample files cannot
drift apart: ingesting an export with its mapping gives back the canonical rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files, load_mapping
from ingest.mapping import Kind, VendorMapping
from sample_data.schema import TABLES, SampleData, to_table

VENDOR_DIR = Path(__file__).parent / "vendors"
RAW_DIR = Path(__file__).parent / "raw"  # small exports of EXPORT_VENDORS (raw/README.md)
RAW_END = dt.date(2026, 11, 22)  # the samples' last day: generate()'s default end
EXPORT_VENDORS = ("northwind", "apex_bpo")
LABEL_COLUMNS = {"decision", "qa_decision", "label"}
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"


def write_canonical(data: SampleData, out_dir: str | Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write `decisions`, `qa_audits`, `calibration_ratings` (`.parquet` or `.csv`) and
    `manifest.json` to `out_dir`.

    Returns the data files by ingest kind (`decisions`, `audits`, `calibration`), ready for
    `ingest.ingest_files(con, kind, [path], ...)`; the manifest sits next to them.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown format {fmt!r}; use 'parquet' or 'csv'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, (kind, schema) in TABLES.items():
        table = to_table(getattr(data, name), schema)
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(table, path)
        else:
            pcsv.write_csv(_csv_ready(table), path, pcsv.WriteOptions(quoting_style="needed"))
        written[kind] = path
    manifest = dict(data.manifest)
    manifest["files"] = {name: [f"{name}.{fmt}"] for name in TABLES}
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8")
    return written


def load_canonical(
    data: SampleData,
    files_dir: str | Path,
    db: str | Path | duckdb.DuckDBPyConnection,
    config: Any = None,
    progress: Any = None,
) -> None:
    """Write the canonical Parquet files to `files_dir` and ingest them (decisions, then
    audits, then calibration ratings) into `db`: a database file, or an open connection.

    The one way the demo and the tests turn generated data into a database, so all of them go
    through the real ingest.
    """
    files = write_canonical(data, files_dir, fmt="parquet")
    con = db if isinstance(db, duckdb.DuckDBPyConnection) else connect(db)
    try:
        for kind, file in files.items():
            extra = {"progress": progress} if progress is not None else {}
            ingest_files(con, kind, [file], config=config or Config(), **extra)  # type: ignore[arg-type]
    finally:
        if con is not db:
            con.close()


def load_raw_samples(
    con: duckdb.DuckDBPyConnection,
    config: Config | None = None,
    progress: Callable[[str], None] | None = None,
    end: dt.date | None = None,
    work_dir: str | Path | None = None,
) -> None:
    """Ingest the small raw exports in `sample_data/raw/` with their vendors' mappings
    (`sample_data/vendors/`), decisions before audits: the demo adds them to generated data
    (their ids never collide with generated rows), so it shows vendor formats going through
    the real ingest.

    With `end` (the generated data's last day), copies whose every time is moved by whole
    days so that they end on `end` too (`shift_raw_samples`) are written to `work_dir` (a
    temporary folder when None) and ingested instead.
    """
    kinds: tuple[Kind, ...] = ("decisions", "audits")
    days = (end - RAW_END).days if end is not None else 0
    with tempfile.TemporaryDirectory(prefix="bpo_kpi_samples_") as tmp:
        root = RAW_DIR
        if days:
            root = Path(work_dir) if work_dir is not None else Path(tmp)
            shift_raw_samples(root, days)
        for vendor in EXPORT_VENDORS:
            mapping = load_mapping(VENDOR_DIR / f"{vendor}.toml")
            for kind in kinds:
                for file in sorted((root / vendor).glob(f"{kind}.*")):
                    ingest_files(
                        con, kind, [file], config=config or Config(), mapping=mapping,
                        progress=progress or (lambda _: None),
                    )  # fmt: skip


def shift_raw_samples(out_dir: str | Path, days: int) -> list[Path]:
    """Copies of the raw samples with every time `days` days later (earlier when negative),
    in `out_dir/<vendor>/`, in each vendor's own format; returns the files written.

    Times move as instants, so every interval stays as it was. A naive local time that would
    then fall in a repeated hour (the clocks falling back) could not be read back exactly:
    such a decision is left out with its audits, and such an audit too, as the committed
    samples leave those hours out (raw/README.md).
    """
    out = Path(out_dir)
    written: list[Path] = []
    for vendor in EXPORT_VENDORS:
        mapping = load_mapping(VENDOR_DIR / f"{vendor}.toml")
        (out / vendor).mkdir(parents=True, exist_ok=True)
        dropped: set[str] = set()
        kinds: tuple[Kind, ...] = ("decisions", "audits")
        for kind in kinds:
            for file in sorted((RAW_DIR / vendor).glob(f"{kind}.*")):
                target = out / vendor / file.name
                _shift_file(file, target, mapping, kind, days, dropped)
                written.append(target)
    return written


def _shift_file(
    file: Path, target: Path, mapping: VendorMapping, kind: Kind, days: int, dropped: set[str]
) -> None:
    """One raw sample with its times moved; the decision ids it leaves out are added to
    `dropped` (their audits are left out in turn)."""
    columns = mapping.for_kind(kind).columns
    times = [vendor_col for name, vendor_col in columns.items() if name.endswith("_at")]
    key = columns["decision_id"]

    def shifted(record: dict[str, Any]) -> dict[str, Any] | None:
        if record.get(key) in dropped:
            return None
        out = dict(record)
        for column in times:
            if column not in record:  # an optional time this export does not carry
                continue
            value, exact = _shift_time(record.get(column), days, mapping)
            if not exact:
                if kind == "decisions":
                    dropped.add(record[key])
                return None
            out[column] = value
        return out

    if file.suffix == ".jsonl":
        lines = file.read_text(encoding="utf-8").splitlines()
        records = [shifted(json.loads(line)) for line in lines if line.strip()]
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records if r)
        target.write_text(text, encoding="utf-8", newline="\n")
        return
    delimiter = mapping.csv.delimiter or ","
    quote = mapping.csv.quote or '"'
    with file.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter, quotechar=quote)
        header = list(reader.fieldnames or [])
        rows = [shifted(row) for row in reader]
    with target.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(
            fh, header, delimiter=delimiter, quotechar=quote, lineterminator="\r\n"
        )
        writer.writeheader()
        writer.writerows(r for r in rows if r)


def _shift_time(value: Any, days: int, mapping: VendorMapping) -> tuple[Any, bool]:
    """A vendor's time (an epoch number, or text in its format) `days` days later, and whether
    it can be read back exactly (False: a naive local time in a repeated hour)."""
    if value is None or value == "":
        return value, True
    fmt = mapping.timestamp_format
    if fmt in ("epoch_s", "epoch_ms"):
        return int(value) + days * 86400 * (1000 if fmt == "epoch_ms" else 1), True
    zone = ZoneInfo(mapping.timezone)
    parsed = dt.datetime.strptime(value, fmt) if fmt else dt.datetime.fromisoformat(value)
    naive = parsed.tzinfo is None
    aware = parsed.replace(tzinfo=zone) if naive else parsed
    instant = aware.astimezone(dt.UTC) + dt.timedelta(days=days)  # not wall-clock arithmetic
    local = instant.astimezone(zone if naive else parsed.tzinfo)
    wall = local.replace(tzinfo=None)
    if naive and _repeated(wall, zone):
        return value, False
    if fmt:
        return local.strftime(fmt), True
    return (wall if naive else local).isoformat(), True


def _repeated(wall: dt.datetime, zone: ZoneInfo) -> bool:
    """A wall-clock time that happens twice in `zone` (its two readings differ)."""
    first, second = (wall.replace(tzinfo=zone, fold=f).utcoffset() for f in (0, 1))
    return first != second


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text with offset; the rest as Arrow writes it."""
    columns = []
    for column, field in zip(table.columns, table.schema, strict=True):
        if pa.types.is_timestamp(field.type):
            seconds = column.cast(pa.timestamp("s", tz="UTC"))
            column = pc.strftime(seconds, format=ISO_FORMAT)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# --- vendor exports ------------------------------------------------------------------------


def load_vendor_mapping(vendor: str) -> dict[str, Any]:
    """The raw TOML of `sample_data/vendors/<vendor>.toml`."""
    path = VENDOR_DIR / f"{vendor}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _invert(pairs: dict[str, str]) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for vendor_word, canonical in pairs.items():
        inverse.setdefault(canonical, vendor_word)
    return inverse


def _vendor_frame(
    frame: pd.DataFrame, columns: dict[str, str], mapping: dict[str, Any]
) -> pd.DataFrame:
    """Canonical rows -> the vendor's columns, words and time format (no rows dropped)."""
    labels = _invert(mapping.get("labels", {}))
    values = {col: _invert(pairs) for col, pairs in mapping.get("values", {}).items()}
    fmt = mapping.get("timestamp_format")
    tz = mapping.get("timezone", "UTC")
    frame = frame.reset_index(drop=True)
    out: dict[str, Any] = {}
    for canonical, vendor_col in columns.items():
        series = frame[canonical]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[vendor_col] = _vendor_times(series, fmt, tz)
            continue
        inverse = labels if canonical in LABEL_COLUMNS else values.get(canonical)
        if inverse:
            mapped = series.map(inverse)
            series = mapped.where(mapped.notna(), series)
            if all(word.isdigit() for word in inverse.values()):  # codes like apex's prio 0..3
                series = series.astype("Int64")
        out[vendor_col] = series
    return pd.DataFrame(out)


def _vendor_times(series: pd.Series, fmt: str | None, tz: str) -> pd.Series:
    arr = pa.Array.from_pandas(series).cast(pa.timestamp("s", tz="UTC"))
    if fmt in ("epoch_s", "epoch_ms"):
        ints = arr.cast(pa.int64())
        if fmt == "epoch_ms":
            ints = pc.multiply(ints, 1000)
        return ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    if fmt is None:
        local = arr.cast(pa.timestamp("s", tz=tz))
        return pc.strftime(local, format="%Y-%m-%dT%H:%M:%S%z").to_pandas()
    return pc.strftime(arr.cast(pa.timestamp("s", tz=tz)), format=fmt).to_pandas()


def ambiguous_local_times(frame: pd.DataFrame, tz: str) -> np.ndarray:
    """Rows with a timestamp in a repeated local hour (DST fall-back), as a boolean mask: a
    naive local time cannot say which of the two instants it was, so it cannot round-trip."""
    hit = np.zeros(len(frame), dtype=bool)
    if tz == "UTC":
        return hit
    for column in frame.columns:
        series = frame[column]
        if not isinstance(series.dtype, pd.DatetimeTZDtype):
            continue
        naive = series.dt.tz_convert(tz).dt.tz_localize(None)
        back = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        hit |= (series.notna() & back.isna()).to_numpy()
    return hit


def _write_csv(frame: pd.DataFrame, path: Path, options: dict[str, Any]) -> None:
    frame.to_csv(
        path,
        sep=options.get("delimiter", ","),
        index=False,
        lineterminator="\r\n",
        encoding="utf-8-sig",
    )


def _write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    """One JSON object per line, keys in column order, `null` for missing values."""
    columns = list(frame.columns)
    cells = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in columns]
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in zip(*cells, strict=True):
            record = {
                c: int(v) if isinstance(v, np.integer) else v
                for c, v in zip(columns, row, strict=True)
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_vendor_exports(
    data: SampleData,
    out_dir: str | Path,
    vendors: tuple[str, ...] = EXPORT_VENDORS,
    *,
    copy_mappings: bool = True,
) -> dict[str, dict[str, Any]]:
    """Write raw decisions and audits exports of `vendors` in their own formats.

    Layout: `<out_dir>/<vendor>/decisions.<ext>`, `audits.<ext>` and (with `copy_mappings`)
    `<vendor>.toml`. A vendor's audits are those of its task ids (its decision id prefix),
    orphans included. Returns per vendor the files, row counts and the number of rows with an
    ambiguous naive local time (DST fall-back hour) that cannot round-trip exactly.
    """
    out = Path(out_dir)
    result: dict[str, dict[str, Any]] = {}
    prefixes = {
        v: info["decision_id_prefix"] for v, info in data.manifest["entities"]["vendors"].items()
    }
    for vendor in vendors:
        mapping = load_vendor_mapping(vendor)
        folder = out / vendor
        folder.mkdir(parents=True, exist_ok=True)
        decisions = data.decisions[data.decisions["vendor"] == vendor]
        audits = data.qa_audits[data.qa_audits["decision_id"].str.startswith(prefixes[vendor])]
        is_csv = "csv" in mapping
        ext = "csv" if is_csv else "jsonl"
        files = []
        tz = mapping.get("timezone", "UTC")
        ambiguous = 0
        for kind, frame in (("decisions", decisions), ("audits", audits)):
            raw = _vendor_frame(frame, mapping[kind]["columns"], mapping)
            path = folder / f"{kind}.{ext}"
            if is_csv:
                _write_csv(raw, path, mapping["csv"])
            else:
                _write_jsonl(raw, path)
            files.append(path)
            ambiguous += int(ambiguous_local_times(frame, tz).sum())
        if copy_mappings:
            target = folder / f"{vendor}.toml"
            shutil.copyfile(VENDOR_DIR / f"{vendor}.toml", target)
            files.append(target)
        result[vendor] = {
            "files": [str(p) for p in files],
            "rows": {"decisions": len(decisions), "audits": len(audits)},
            "ambiguous_local_rows": ambiguous,
        }
    return result
