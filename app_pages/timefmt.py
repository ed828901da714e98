"""Timestamps in dashboard tables: shown in the reporting time zone, the zone named in the
column's label ("Audited (Europe/Berlin)").

The values themselves are converted (not only the display), so a table's downloads carry the
same local times as the screen; the column configuration also names the zone, so Streamlit
formats them there whatever the browser's zone.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

FORMAT = "YYYY-MM-DD HH:mm:ss"


def local_times(frame: pd.DataFrame, columns: Iterable[str], timezone: str) -> pd.DataFrame:
    """`frame` with each of `columns` (instants; naive values are UTC) in `timezone`."""
    converted = {
        c: pd.to_datetime(frame[c], utc=True).dt.tz_convert(timezone) for c in columns if c in frame
    }
    return frame.assign(**converted) if converted else frame


def label(text: str, timezone: str) -> str:
    """A column label that names the zone its times are shown in."""
    return f"{text} ({timezone})"


def column(text: str, timezone: str, format: str = FORMAT) -> object:
    """The column configuration of a time shown in `timezone`, labelled with the zone."""
    return st.column_config.DatetimeColumn(label(text, timezone), format=format, timezone=timezone)
