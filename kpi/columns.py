"""Result tables as named numpy columns: what `kpi.compute.kpi_columns` builds a KPI table in.

A KPI table is small (one row per group) and its assembly is a handful of column operations:
join the sources' results on the group keys, derive ratios and intervals, sort. Doing them on
numpy columns rather than a pandas DataFrame keeps pandas (and the pyarrow it loads: ~0.3 s of
a process) out of the CLI's `bpo-kpi kpis` path, whose whole run on a small database is
otherwise mostly imports. Callers that want a DataFrame get one from `to_frame`, with the
types a DuckDB result gives pandas; `kpi.compute.kpi_table` does that for every other caller.

The column forms (`from_numpy` makes them, every function here keeps them):
- numbers: an integer, bool or float64 array; where some are empty, float64 with NaN (whole
  numbers and booleans: an object array of Python values with None);
- times: numpy datetime64 (UTC, naive) with NaT for empty;
- text and anything else: an object array of Python values with None for empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Columns = dict[str, np.ndarray]


def from_numpy(result: Mapping[str, Any]) -> Columns:
    """DuckDB's `fetchnumpy()` (masked arrays where a column has NULLs) in the column forms."""
    return {str(name): _plain_column(values) for name, values in result.items()}


def _plain_column(values: Any) -> np.ndarray:
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    data = np.ma.getdata(values) if mask is not None else np.asarray(values)
    if mask is None or not mask.any():
        return np.asarray(data)
    kind = data.dtype.kind
    if kind == "f":
        out = data.astype("float64")
        out[mask] = np.nan
        return out
    if kind in "iu":  # whole numbers stay whole: Python ints, None where empty
        pairs = zip(data.tolist(), mask.tolist(), strict=True)
        return object_array([None if m else int(v) for v, m in pairs])
    if kind == "M":
        out = data.copy()
        out[mask] = np.datetime64("NaT")
        return out
    out = data.astype(object)
    out[mask] = None
    return out


def from_frame(frame: pd.DataFrame) -> Columns:
    """A DataFrame (e.g. Spark's result through Arrow) in the column forms."""
    import pandas as pd

    out: Columns = {}
    for name in frame.columns:
        column = frame[name]
        dtype = column.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
            dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "fiubM":
            out[str(name)] = column.to_numpy()
        elif pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            # Nullable numbers: the plain type when nothing is empty, else floats with NaN
            # (whole numbers and booleans: Python values with None).
            empty = column.isna().to_numpy()
            if not empty.any():
                out[str(name)] = column.to_numpy(dtype=dtype.numpy_dtype)
            elif pd.api.types.is_float_dtype(dtype):
                out[str(name)] = column.astype("float64").to_numpy()
            else:
                pairs = zip(column.tolist(), empty, strict=True)
                out[str(name)] = object_array([None if e else v for v, e in pairs])
        else:
            values = column.astype(object).to_numpy()
            out[str(name)] = object_array([None if is_empty(v) else v for v in values])
    return out


def is_empty(value: object) -> bool:
    """None, NaN, or pandas' NA / NaT."""
    return value is None or (isinstance(value, float) and value != value) or _is_pandas_na(value)


def _is_pandas_na(value: object) -> bool:
    return type(value).__name__ in ("NAType", "NaTType")


def whole_numbers(values: np.ndarray) -> np.ndarray:
    """Counts and ranks with empty values (NaN) as Python ints and None: CSV and JSON write
    `3`, not `3.0`."""
    return object_array([None if v != v else int(v) for v in values.astype("float64").tolist()])


def row(columns: Columns, i: int) -> dict[str, Any]:
    """Row `i` as {column: value} (numpy scalars as they are)."""
    return {name: values[i] for name, values in columns.items()}


def length(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def empty_like(values: np.ndarray, n: int) -> np.ndarray:
    """`n` empty values of `values`' form (an integer column becomes float: NaN is empty)."""
    kind = values.dtype.kind
    if kind in "fiu":
        return np.full(n, np.nan)
    if kind == "M":
        return np.full(n, np.datetime64("NaT"), dtype=values.dtype)
    return np.full(n, None, dtype=object)


def take(columns: Columns, rows: np.ndarray) -> Columns:
    """The rows at positions `rows` (or where a boolean mask is true), every column."""
    return {name: values[rows] for name, values in columns.items()}


def concat(parts: Sequence[Columns]) -> Columns:
    """Parts with the same columns one after another."""
    if len(parts) == 1:
        return parts[0]
    names = list(parts[0])
    out: Columns = {}
    for name in names:
        arrays = [p[name] for p in parts]
        kinds = {a.dtype.kind for a in arrays}
        if len(kinds) > 1 and kinds <= set("fiu"):
            arrays = [a.astype("float64") for a in arrays]
        elif len(kinds) > 1 or "O" in kinds:
            arrays = [a.astype(object) for a in arrays]
        out[name] = np.concatenate(arrays)
    return out


def key_values(values: np.ndarray) -> list[object]:
    """A key column as hashable Python values, every empty value None (NaN and NaT too)."""
    if values.dtype.kind == "M":
        return [None if v is None else v for v in values.astype("datetime64[us]").tolist()]
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]
    return values.tolist()


def outer_join(parts: Sequence[Columns], keys: Sequence[str]) -> Columns:
    """Full outer join of results that each hold one row per key (a group): every key found
    in any part, each part's columns beside it (empty where the part lacks the key). A part
    without one of the key columns has it empty. Empty keys match each other (as pandas'
    merge does), so a group with no market is one group."""
    if not parts:
        return {}
    index: dict[tuple[object, ...], int] = {}
    key_rows: list[tuple[object, ...]] = []
    positions: list[np.ndarray] = []
    for part in parts:
        n = length(part)
        lists = [key_values(part[k]) if k in part else [None] * n for k in keys]
        at = np.empty(n, dtype=np.int64)
        for i, key in enumerate(zip(*lists, strict=True) if keys else [()] * n):
            row = index.get(key)
            if row is None:
                row = index[key] = len(key_rows)
                key_rows.append(key)
            at[i] = row
        positions.append(at)
    total = len(key_rows)
    out: Columns = {}
    for j, k in enumerate(keys):
        typed = [p[k] for p in parts if k in p]
        out[k] = _key_column([row[j] for row in key_rows], typed)
    for part, at in zip(parts, positions, strict=True):
        for name, values in part.items():
            if name in keys or name in out:
                continue
            if len(at) == total and np.array_equal(at, np.arange(total)):
                out[name] = values
                continue
            column = empty_like(values, total)
            column[at] = values
            out[name] = column
    return out


def _key_column(values: list[object], typed: list[np.ndarray]) -> np.ndarray:
    """Key values back in the form of the parts' key columns (times as datetime64)."""
    kinds = {a.dtype.kind for a in typed}
    if kinds == {"M"}:
        return np.array(
            [np.datetime64("NaT") if v is None else v for v in values], dtype=typed[0].dtype
        )
    if kinds and kinds <= set("iu") and None not in values:
        return np.array(values, dtype=typed[0].dtype)
    if kinds and kinds <= set("fiu"):
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    return object_array(values)


def sort_rows(columns: Columns, keys: Sequence[str]) -> Columns:
    """Rows ordered by `keys` (each ascending, empty values last), as pandas' `sort_values(keys,
    na_position="last")` orders them (stable)."""
    if not keys or not columns:
        return columns
    lists = [key_values(columns[k]) for k in keys]
    order = sorted(
        range(length(columns)),
        key=lambda i: tuple((v is None, v if v is not None else 0) for v in (c[i] for c in lists)),
    )
    return take(columns, np.asarray(order, dtype=np.int64))


def object_array(values: Sequence[object]) -> np.ndarray:
    """Python values as an object column (never a 2-D array, whatever the values are)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def dates(values: np.ndarray) -> np.ndarray:
    """datetime64 values as Python dates (None where empty), an object column."""
    return object_array(values.astype("datetime64[D]").tolist())


def to_frame(columns: Columns) -> pd.DataFrame:
    """The columns as a DataFrame with the types a DuckDB result gives pandas (text: pandas'
    string type; dates: Python dates in an object column, NaT where empty)."""
    import pandas as pd

    data: dict[str, Any] = {}
    for name, values in columns.items():
        if values.dtype == object and any(isinstance(v, dt.date) for v in values):
            data[name] = pd.Series(
                [pd.NaT if v is None else v for v in values], dtype=object, copy=False
            )
        else:
            data[name] = values
    return pd.DataFrame(data)


def records(columns: Columns) -> list[dict[str, object]]:
    """JSON-ready records: ISO dates and times (`instants`), None for empty values, plain Python
    numbers. Column by column: a float or integer column converts in one `tolist` (NaN to
    None)."""
    lists: list[list[object]] = []
    for values in columns.values():
        kind = values.dtype.kind
        if kind == "f":
            lists.append([None if v != v else v for v in values.tolist()])
        elif kind in "iub":
            lists.append(values.tolist())
        elif kind == "M":
            lists.append(list(instants(values)))
        else:
            lists.append([plain(v) for v in values.tolist()])
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*lists, strict=True)]


def utc_instant(value: np.datetime64) -> dt.datetime:
    """A time as results give it (datetime64, naive UTC) as an aware UTC datetime."""
    instant: dt.datetime = value.astype("datetime64[us]").item()
    return instant.replace(tzinfo=dt.UTC)


def utc_datetime64(instant: dt.datetime) -> np.datetime64:
    """An aware datetime in the form results give times (datetime64[us], naive UTC)."""
    return np.datetime64(instant.astimezone(dt.UTC).replace(tzinfo=None), "us")


def local_date(value: np.datetime64, tz: str) -> dt.date:
    """The local day, in time zone `tz`, of a time as results give it."""
    return utc_instant(value).astimezone(ZoneInfo(tz)).date()


def instants(values: np.ndarray, sep: str = "T") -> list[str | None]:
    """UTC times (datetime64) as ISO text: days (`2026-11-20`) when every one is a midnight
    (period starts), else times with the offset (`2026-11-20T08:15:00+00:00`)."""
    times = values.astype("datetime64[us]")
    known = times[~np.isnat(times)]
    if (known.astype("int64") % 86_400_000_000 == 0).all():
        return [None if v is None else v.isoformat() for v in dates(times)]
    return [None if v is None else v.isoformat(sep) + "+00:00" for v in times.tolist()]


def plain(value: object) -> object:
    """One value as JSON takes it: ISO text for days and times (a time with its offset; a naive
    time at midnight is a day), None for empty, Python numbers."""
    if value is None or _is_pandas_na(value):  # NaT first: it is a datetime
        return None
    if isinstance(value, dt.datetime):  # pandas' Timestamp too
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if value != value else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
