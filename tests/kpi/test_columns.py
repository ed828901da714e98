"""The numpy columns a KPI table is assembled in (`kpi.columns`), against pandas doing the
same: the outer join on group keys against `DataFrame.merge(how="outer")`, the order against
`sort_values(na_position="last")`, the DataFrame and the records against what the pandas
version of `kpi_table` returned; and the CLI's aligned text."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bpo_kpi_cli.output import text_table
from kpi import columns as cols

VENDORS = st.sampled_from(["a", "b", "c", None])
WEEKS = st.sampled_from([dt.date(2026, 1, 5), dt.date(2026, 1, 12), dt.date(2026, 1, 19)])


def _part(rows: list[tuple[str | None, dt.date, int]], value: str) -> cols.Columns:
    """One source's result as DuckDB hands it over: text with None, times as datetime64."""
    seen: dict[tuple[str | None, dt.date], int] = {}
    for vendor, week, n in rows:  # one row per group, as an aggregate query returns
        seen[(vendor, week)] = n
    return {
        "vendor": cols.object_array([k[0] for k in seen]),
        "period_start": np.array([np.datetime64(k[1], "us") for k in seen], "datetime64[us]"),
        value: np.array(list(seen.values()), dtype="int64"),
    }


def _pandas(part: cols.Columns) -> pd.DataFrame:
    return pd.DataFrame({k: list(v) if v.dtype == object else v for k, v in part.items()})


rows = st.lists(st.tuples(VENDORS, WEEKS, st.integers(0, 50)), max_size=12)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(first=rows, second=rows, third=rows)
def test_outer_join_and_order_match_pandas(first, second, third):
    parts = [_part(first, "decisions"), _part(second, "audits"), _part(third, "errors")]
    keys = ["vendor", "period_start"]
    got = cols.sort_rows(cols.outer_join(parts, keys), keys)
    frames = [_pandas(p) for p in parts]
    want = frames[0].merge(frames[1], on=keys, how="outer").merge(frames[2], on=keys, how="outer")
    want = want.sort_values(keys, na_position="last").reset_index(drop=True)
    frame = cols.to_frame(got)
    assert list(frame.columns) == [*keys, "decisions", "audits", "errors"]
    assert [None if pd.isna(v) else v for v in frame["vendor"]] == [
        None if pd.isna(v) else v for v in want["vendor"]
    ]
    assert frame["period_start"].tolist() == want["period_start"].tolist()
    for name in ("decisions", "audits", "errors"):
        np.testing.assert_array_equal(
            frame[name].to_numpy("float64"), want[name].to_numpy("float64")
        )


def test_a_part_without_a_key_column_has_it_empty():
    """The kappa query has no time keys; its rows join the groups whose key is empty."""
    left = {"vendor": cols.object_array(["a", "b"]), "hour": np.array([1, 2], dtype="int32"),
            "n": np.array([3, 4])}  # fmt: skip
    right = {"vendor": cols.object_array(["a"]), "k": np.array([0.5])}
    out = cols.outer_join([left, right], ["vendor", "hour"])
    assert out["vendor"].tolist() == ["a", "b", "a"]
    assert np.isnan(out["hour"][2]) and out["hour"][:2].tolist() == [1.0, 2.0]
    assert out["n"][:2].tolist() == [3.0, 4.0] and np.isnan(out["n"][2])
    assert np.isnan(out["k"][:2]).all() and out["k"][2] == 0.5


def test_masked_results_become_the_column_forms():
    masked = {
        "v": np.ma.masked_array(np.array(["x", "y"], dtype=object), mask=[False, True]),
        "n": np.ma.masked_array(np.array([1, 2]), mask=[True, False]),
        "f": np.ma.masked_array(np.array([1.5, 2.5]), mask=[False, False]),
        "t": np.ma.masked_array(
            np.array(["2026-01-05", "2026-01-06"], "datetime64[us]"), mask=[False, True]
        ),  # fmt: skip
    }
    out = cols.from_numpy(masked)
    assert out["v"].tolist() == ["x", None]
    assert out["n"].tolist() == [None, 2]  # whole numbers stay whole (JSON 2, CSV "2")
    assert out["f"].dtype == np.float64 and out["f"].tolist() == [1.5, 2.5]
    assert np.isnat(out["t"][1]) and cols.dates(out["t"]).tolist() == [dt.date(2026, 1, 5), None]


def test_records_and_text():
    table = {
        "vendor": cols.object_array(["north\x1b[31m", None]),
        "period_start": cols.object_array([dt.date(2026, 1, 5), None]),
        "decisions": np.array([12, 0]),
        "quality_score": np.array([0.987654321, np.nan]),
    }
    assert cols.records(table) == [
        {"vendor": "north\x1b[31m", "period_start": "2026-01-05", "decisions": 12,
         "quality_score": 0.987654321},
        {"vendor": None, "period_start": None, "decisions": 0, "quality_score": None},
    ]  # fmt: skip
    lines = text_table(table).splitlines()
    assert lines[0].split() == ["vendor", "period_start", "decisions", "quality_score"]
    # The escape sequence is shown as U+FFFD (a terminal would act on it), numbers to 6 digits.
    assert lines[1].split() == ["north\ufffd[31m", "2026-01-05", "12", "0.987654"]
    assert lines[2].split() == ["None", "None", "0", "NaN"]
    # Too wide: the columns that do not fit continue in a block below.
    blocks = text_table(table, width=30).split("\n\n")
    assert [b.splitlines()[0].split() for b in blocks] == [
        ["vendor", "period_start"], ["decisions", "quality_score"]
    ]  # fmt: skip
    assert text_table({"vendor": cols.object_array([])}) == "(no rows)"


def test_times_keep_their_time_of_day():
    """Instants (a drill-down's audited_at) print with time and offset, period starts (every
    one a midnight) as days, in the records as from a DataFrame's values."""
    at = np.array(["2026-11-20T08:15:00", "NaT", "2026-11-21T00:00:00"], "datetime64[us]")
    assert cols.instants(at) == ["2026-11-20T08:15:00+00:00", None, "2026-11-21T00:00:00+00:00"]
    assert cols.instants(at, sep=" ")[0] == "2026-11-20 08:15:00+00:00"
    assert cols.instants(at[1:]) == [None, "2026-11-21"]
    assert cols.records({"t": at[:1]}) == [{"t": "2026-11-20T08:15:00+00:00"}]
    utc = pd.Timestamp("2026-11-20 08:15:00.5", tz="UTC")
    assert cols.plain(utc) == "2026-11-20T08:15:00.500000+00:00"
    assert cols.plain(pd.Timestamp("2026-11-20")) == "2026-11-20"
    assert cols.plain(dt.date(2026, 11, 20)) == "2026-11-20"
    assert cols.plain(pd.NaT) is None and cols.plain(np.float64("nan")) is None


def test_times_between_results_and_aware_datetimes() -> None:
    """A result's time (naive UTC datetime64) as an aware instant and back, and its local day:
    03:30 UTC on 8 March 2026 is 22:30 on the 7th in New York, 05:30 UTC is 00:30 on the 8th
    (EST, the clocks change at 07:00 UTC), 12:30 in Tokyo."""
    value = np.datetime64("2026-03-08T03:30:00.123456")
    instant = cols.utc_instant(value)
    assert instant == dt.datetime(2026, 3, 8, 3, 30, 0, 123456, tzinfo=dt.UTC)
    assert cols.utc_datetime64(instant) == value
    berlin = instant.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert cols.utc_datetime64(berlin) == value  # any offset: the same instant
    assert cols.local_date(value, "America/New_York") == dt.date(2026, 3, 7)
    assert cols.local_date(np.datetime64("2026-03-08T05:30"), "America/New_York") == dt.date(
        2026, 3, 8
    )
    assert cols.local_date(value, "Asia/Tokyo") == dt.date(2026, 3, 8)
