"""A snapshot as data files: JSON (one document), CSV and Parquet (a folder, or a `.zip`, with one
file per table and `manifest.json`), XLSX (a sheet per table, a definitions sheet and a
manifest sheet) and HTML (one page of tables).

CSV, JSON and Parquet of the same snapshot are byte-identical (no wall-clock time inside; zip
entries carry a fixed date). XLSX and HTML are for people and also carry `generated_at`.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from export.safety import csv_text, is_formula_like, xml_text
from kpi.catalog import KPIS
from kpi.snapshot import TABLE_TITLES, Snapshot, table_records

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same bytes on every export

# Units of non-KPI columns, for spreadsheet number formats.
_COLUMN_UNITS = {
    "error_rate": "share",
    "error_rate_low": "share",
    "error_rate_high": "share",
    "target_error_rate": "share",
    "peer_error_rate": "share",
    "share": "share",
    "cumulative_share": "share",
    "agreement_share": "share",
    "accuracy": "share",
    "accuracy_low": "share",
    "accuracy_high": "share",
    "excess_errors": "decimal",
    "fleiss_kappa": "kappa",
    "gwet_ac1": "kappa",
    "krippendorff_alpha": "kappa",
    "percent_agreement": "share",
}
NUMBER_FORMATS = {
    "share": "0.0%",
    "minutes": "#,##0.0",
    "count": "#,##0",
    "kappa": "0.000",
    "decimal": "#,##0.0",
}


def column_unit(column: str) -> str | None:
    """The unit of a snapshot column: a KPI's (its `_low` / `_high` too) or a known one."""
    for suffix in ("_low", "_high"):
        if column.endswith(suffix) and column[: -len(suffix)] in KPIS:
            return KPIS[column[: -len(suffix)]].unit
    if column in KPIS:
        return KPIS[column].unit
    base = column.removesuffix("_low").removesuffix("_high")
    return _COLUMN_UNITS.get(column) or _COLUMN_UNITS.get(base)


# --- JSON ----------------------------------------------------------------------------------


def _restated_frame(snapshot: Snapshot) -> pd.DataFrame | None:
    if snapshot.restated is None:
        return None
    return snapshot.restated.drop(columns=["_key"], errors="ignore")


def snapshot_document(snapshot: Snapshot) -> dict[str, Any]:
    doc = {
        "manifest": snapshot.manifest,
        "tables": {
            name: {
                "title": TABLE_TITLES[name],
                "columns": [str(c) for c in frame.columns],
                "rows": table_records(frame),
            }
            for name, frame in snapshot.tables.items()
        },
    }
    restated = _restated_frame(snapshot)
    if restated is not None:
        doc["restated"] = {"compared_with": snapshot.compared_with, "rows": table_records(restated)}
    return doc


def json_bytes(snapshot: Snapshot) -> bytes:
    text = json.dumps(snapshot_document(snapshot), indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def manifest_bytes(snapshot: Snapshot) -> bytes:
    text = json.dumps(snapshot.manifest, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


# --- CSV and Parquet -------------------------------------------------------------------------


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates and instants as ISO text, lists as JSON text: what CSV and Parquet hold alike."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype == object or str(values.dtype).startswith(("datetime", "date")):
            cells = table_records(out[[col]])
            out[col] = [
                json.dumps(c[str(col)]) if isinstance(c[str(col)], (list, dict)) else c[str(col)]
                for c in cells
            ]
    return out


def _texty(values: pd.Series) -> bool:
    """A column that may hold text (pandas' str dtype, objects or categories)."""
    return (
        values.dtype == object
        or pd.api.types.is_string_dtype(values.dtype)
        or isinstance(values.dtype, pd.CategoricalDtype)
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as CSV: text cells and column names (a pivot's columns are values from the data)
    that a spreadsheet would run are neutralised (`csv_text`); numbers stay numbers."""
    plain = _plain_frame(frame)
    columns = [plain.iloc[:, i] for i in range(plain.shape[1])]  # by position: names may repeat
    cells = {
        i: [csv_text(v) for v in values.astype(object)] if _texty(values) else values
        for i, values in enumerate(columns)
    }
    names = [csv_text(str(c)) for c in plain.columns]
    plain = pd.DataFrame(cells, index=plain.index)
    plain.columns = names
    buffer = io.StringIO()
    plain.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    plain = _plain_frame(frame)
    table = pa.Table.from_pandas(plain, preserve_index=False)
    table = table.replace_schema_metadata(None)  # no pandas/library metadata: same bytes
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _files(
    snapshot: Snapshot, suffix: str, encode: Callable[[pd.DataFrame], bytes]
) -> dict[str, bytes]:
    files = {f"{name}.{suffix}": encode(frame) for name, frame in snapshot.tables.items()}
    restated = _restated_frame(snapshot)
    if restated is not None:
        files[f"restated.{suffix}"] = encode(restated)
    files["manifest.json"] = manifest_bytes(snapshot)
    return files


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip of `files` whose bytes depend on their contents only (fixed entry dates)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_files(files: dict[str, bytes], out: Path) -> list[Path]:
    """`files` into folder `out`, or into one zip when `out` ends with `.zip`."""
    if out.suffix.lower() == ".zip":
        _atomic_write(out, zip_bytes(files))
        return [out]
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file: give a folder (or a .zip) for this format")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        _atomic_write(out / name, data)
        written.append(out / name)
    return written


def write_single(out: Path, data: bytes) -> None:
    """One file at `out` (its folder created), replaced whole."""
    if out.is_dir():
        raise ValueError(f"{out} is a folder: give a file name for this format")
    _atomic_write(out, data)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write next to the target and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def csv_files(snapshot: Snapshot) -> dict[str, bytes]:
    return _files(snapshot, "csv", csv_bytes)


def parquet_files(snapshot: Snapshot) -> dict[str, bytes]:
    return _files(snapshot, "parquet", parquet_bytes)


# --- XLSX ------------------------------------------------------------------------------------


def _xlsx_value(value: Any) -> Any:
    """A value openpyxl can store: naive UTC datetimes, plain numbers, text fit for XML."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return xml_text(value)
    return value


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # arrays
        pass
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        return value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def xlsx_bytes(snapshot: Snapshot) -> bytes:
    sheets = [*snapshot.tables.items(), ("manifest", _manifest_frame(snapshot))]
    restated = _restated_frame(snapshot)
    if restated is not None:
        sheets.insert(0, ("restated", restated))
    return workbook_bytes(sheets)


def workbook_bytes(
    sheets: list[tuple[str, pd.DataFrame]], units: dict[str, str] | None = None
) -> bytes:
    """A workbook with a sheet per (name, frame): bold frozen header, numbers with the number
    format of their unit (`column_unit`, or `units` by column), widths that fit, text cells
    that never run as formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for name, frame in sheets:
        ws = wb.create_sheet(title=xml_text(name)[:31])
        columns = [str(c) for c in frame.columns]
        ws.append([xml_text(c) for c in columns])
        for cell in ws[1]:
            cell.font = bold
            cell.data_type = "s"  # a column name (from the data, in a pivot) is text too
            if is_formula_like(str(cell.value)):
                cell.quotePrefix = True
        ws.freeze_panes = "A2"
        widths = [len(c) for c in columns]
        per_row_unit = "kpi" in frame.columns and name == "scorecard"
        for r, row in enumerate(frame.itertuples(index=False), start=2):
            unit_of_row = KPIS[row[columns.index("kpi")]].unit if per_row_unit else None
            for c, raw in enumerate(row, start=1):
                value = _xlsx_value(_cell_value(raw))
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula, whatever it starts with
                    if is_formula_like(value):
                        cell.quotePrefix = True
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    column = columns[c - 1]
                    unit = (units or {}).get(column) or column_unit(column)
                    if unit_of_row and column in ("value", "low", "high", "target", "margin"):
                        unit = unit_of_row
                    if unit:
                        cell.number_format = NUMBER_FORMATS[unit]
                elif isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                elif isinstance(value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
                shown = _shown_width(value, cell.number_format)
                widths[c - 1] = max(widths[c - 1], shown)
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
        if frame.shape[0] == 0:
            ws.cell(row=2, column=1, value="(no rows)")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _shown_width(value: Any, number_format: str) -> int:
    if value is None:
        return 0
    if isinstance(value, float):
        if number_format.endswith("%"):
            return len(f"{value:.1%}")
        return len(f"{value:,.3f}")
    if isinstance(value, dt.datetime):
        return 19
    if isinstance(value, dt.date):
        return 10
    return min(60, max((len(line) for line in str(value).splitlines()), default=0))


def _manifest_frame(snapshot: Snapshot) -> pd.DataFrame:
    """The manifest as key / value rows (nested values as JSON), with `generated_at`."""
    rows: list[tuple[str, Any]] = [("generated_at", snapshot.generated_at.isoformat())]

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value and prefix not in ("scope.filters",):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, inner in enumerate(value):
                walk(f"{prefix}[{i}]", inner)
        elif isinstance(value, (list, dict)):
            rows.append((prefix, json.dumps(value, ensure_ascii=False)))
        else:
            rows.append((prefix, value))

    walk("", snapshot.manifest)
    return pd.DataFrame(rows, columns=["key", "value"])


# --- HTML ------------------------------------------------------------------------------------


def html_bytes(snapshot: Snapshot) -> bytes:
    """One self-contained page; every text is escaped (no markup from data reaches the page)."""
    period = snapshot.period
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>bpo-kpi snapshot {html.escape(period.label)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}"
        "td.n{text-align:right}</style></head><body>",
        f"<h1>KPI snapshot {html.escape(period.label)} ({period.start} – {period.end})</h1>",
        f"<p>Generated {html.escape(snapshot.generated_at.isoformat())}; content hash "
        f"<code>{html.escape(snapshot.content_hash)}</code></p>",
    ]
    sections = [*snapshot.tables.items(), ("manifest", _manifest_frame(snapshot))]
    restated = _restated_frame(snapshot)
    if restated is not None:
        sections.insert(0, ("restated", restated))
    titles = {**TABLE_TITLES, "restated": "Restated since the previous snapshot"}
    for name, frame in sections:
        title = titles.get(name, "Manifest")
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if frame.empty:
            parts.append("<p>(no rows)</p>")
            continue
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        body = []
        for rec in table_records(frame):
            cells = []
            for col, value in rec.items():
                unit = column_unit(col)
                if isinstance(value, float) and unit == "share":
                    cells.append(f"<td class='n'>{value:.1%}</td>")
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    cells.append(f"<td class='n'>{value:,.4g}</td>")
                else:
                    text = "" if value is None else str(value)
                    cells.append(f"<td>{html.escape(text)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")
