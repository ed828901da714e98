"""The canonical tables as the generator holds them: Arrow schemas and the `SampleData` frames.

Column names and types come from `bpo_kpi.db` (the one definition of the canonical schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from bpo_kpi import db

TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "TIMESTAMPTZ": TIMESTAMP,
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
}


def _schema(columns: list[tuple[str, str, bool]]) -> pa.Schema:
    # The generated vendors send no update time of their own (`updated_at`): their rows are
    # versioned by arrival, as most vendors' are.
    return pa.schema(
        [(name, _ARROW_TYPES[typ]) for name, typ, _ in columns if name != "updated_at"]
    )


DECISION_SCHEMA = _schema(db.DECISION_COLUMNS)
AUDIT_SCHEMA = _schema(db.AUDIT_COLUMNS)
CALIBRATION_SCHEMA = _schema(db.CALIBRATION_COLUMNS)

# SampleData attribute / file stem -> (ingest kind, Arrow schema).
TABLES: dict[str, tuple[str, pa.Schema]] = {
    "decisions": ("decisions", DECISION_SCHEMA),
    "qa_audits": ("audits", AUDIT_SCHEMA),
    "calibration_ratings": ("calibration", CALIBRATION_SCHEMA),
}


@dataclass
class SampleData:
    """Canonical frames plus the manifest of what was generated and which gaps were injected.

    Frames hold exactly the canonical columns: ids and labels as strings (pandas `str`, missing
    = NaN), timestamps as tz-aware UTC datetimes (`datetime64[us, UTC]`, NaT = missing),
    `session_date` as `datetime.date`, `is_golden` as bool.
    """

    decisions: pd.DataFrame
    qa_audits: pd.DataFrame
    calibration_ratings: pd.DataFrame
    manifest: dict[str, Any]


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table of one of the schemas above as a pandas frame (see `SampleData`)."""
    frame = table.to_pandas()
    for name, typ in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_string(typ):
            frame[name] = frame[name].astype("str")
    return frame


def to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A frame back to its Arrow table (column order and types from `schema`)."""
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
