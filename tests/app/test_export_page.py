"""The Export page builds the snapshot the CLI builds for the same filters (same content hash),
and every table on the pages comes with CSV and Excel downloads of the table as shown."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.common import shown_table
from export.tables import csv_bytes, workbook_bytes
from kpi import snapshot
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.periods import month_period, week_period


def _expected_hash(db: Path, kind: str, where: dict[str, tuple[str, ...]]) -> str:
    with Gateway(db) as gw:
        last = database_summary(gw).last_day
        assert last is not None
        period = week_period(last) if kind == "ISO week" else month_period(last.year, last.month)
        return snapshot.build(gw, period, where).content_hash


@pytest.mark.parametrize(
    ("kind", "query"),
    [("ISO week", {}), ("Month", {"vendor": "meridian", "export_vendor": "meridian"})],
)
def test_export_page_builds_the_cli_snapshot(
    sample_db: Path, run_page: Callable[..., AppTest], kind: str, query: dict[str, str]
) -> None:
    at = run_page("app_pages/export.py", {"export_period": kind, **query})
    assert not at.exception
    at.button(key="export_build").click().run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    where = {"vendor": ("meridian",)} if query else {}
    want = _expected_hash(sample_db, kind, where)
    assert f"Content hash {want}" in captions
    code = at.code[0].value
    assert code.startswith("bpo-kpi export --period ") and "--format pptx" in code
    assert ("--where vendor=meridian" in code) == bool(query)
    sentences = [t.value for t in at.text]
    assert any("decisions and" in s and "QA audits" in s for s in sentences)


def test_every_table_has_its_downloads(sample_db: Path, run_page: Callable[..., AppTest]) -> None:
    for page in ("app_pages/health.py", "app_pages/vendors.py", "app_pages/overview.py"):
        at = run_page(page)
        assert not at.exception
        tables = len(at.dataframe)
        buttons = [b for b in at.get("download_button")]
        assert tables >= 1 and len(buttons) == 2 * tables, page


def test_a_download_is_the_table_as_shown() -> None:
    import streamlit as st

    data = pd.DataFrame(
        {
            "vendor": ['=HYPERLINK("https://x")', "northwind"],
            "quality_score": [0.91, 0.975],
            "audits": [120, 80],
            "internal": ["a", "b"],
        }
    )
    config = {
        "vendor": "Vendor",
        "quality_score": st.column_config.NumberColumn("Quality", format="percent"),
        "internal": None,  # hidden on the page, so not in the file
    }
    frame, units = shown_table(data, config, None, hide_index=True)
    assert list(frame.columns) == ["Vendor", "Quality", "audits"]
    assert units == {"Quality": "share"}
    csv = pd.read_csv(io.BytesIO(csv_bytes(frame)))
    assert csv["Vendor"].tolist() == ['\'=HYPERLINK("https://x")', "northwind"]
    assert csv["Quality"].tolist() == [0.91, 0.975]
    ws = openpyxl.load_workbook(io.BytesIO(workbook_bytes([("t", frame)], units)))["t"]
    assert ws["A2"].value == '=HYPERLINK("https://x")' and ws["A2"].data_type == "s"
    assert ws["B2"].value == 0.91 and ws["B2"].number_format == "0.0%"
    assert ws["C3"].value == 80 and ws["C3"].number_format == "#,##0"
    # A table that shows its index carries it.
    indexed, _ = shown_table(data.set_index("vendor")[["audits"]], None, None, hide_index=False)
    assert list(indexed.columns) == ["vendor", "audits"]
