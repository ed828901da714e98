"""The sidebar's trend period `quarter` (calendar quarters of the reporting time zone), headless:
every page that groups by the period runs with it, and its trends are the KPI table's by quarter,
named `2026-Q4`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery

TREND_KPIS = ("audits", "quality_score", "agreement_rate")


@pytest.fixture
def gw(sample_db: Path) -> Iterator[Gateway]:
    gateway = Gateway(sample_db)
    yield gateway
    gateway.close()


def whole_data(gw: Gateway) -> dict[str, str]:
    """URL parameters for every day of the sample, by quarter."""
    summary = database_summary(gw)
    assert summary.first_day and summary.last_day
    return {
        "from": summary.first_day.isoformat(),
        "to": summary.last_day.isoformat(),
        "period": "quarter",
    }


def figure(at: AppTest, key: str) -> dict[str, Any]:
    charts = [c for c in at.get("plotly_chart") if getattr(c, "key", None) == key]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)  # type: ignore[no-any-return]


def test_quality_trends_by_quarter(sample_db, run_page, gw):
    params = whole_data(gw)
    at = run_page("app_pages/quality.py", params)
    assert not at.exception, at.exception
    assert at.selectbox(key="period").value == "quarter"
    assert "Trends by quarter" in [h.value for h in at.subheader]
    query = KpiQuery(
        start=pd.Timestamp(params["from"]).date(),
        end=pd.Timestamp(params["to"]).date(),
        period="quarter",
        kpis=TREND_KPIS,
    )
    want = kpi_table(gw, query)
    want = want[want["audits"] > 0].reset_index(drop=True)
    assert len(want) >= 1
    got = list(at.container("quality_trends").dataframe)[0].value.reset_index(drop=True)
    starts = pd.to_datetime(got["period_start"]).dt.date
    assert starts.tolist() == want["period_start"].tolist()
    assert all(d.day == 1 and d.month in (1, 4, 7, 10) for d in starts)
    pd.testing.assert_series_equal(
        got["quality_score"], want["quality_score"], check_dtype=False, check_names=False
    )
    labels = [f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in starts]
    trend = figure(at, "quality_trend_chart")
    assert [t["x"] for t in trend["data"] if t.get("name") == "Quality score"] == [labels]


def test_overview_and_turnaround_by_quarter(sample_db, run_page, gw):
    params = whole_data(gw)
    at = run_page(None, params)
    assert not at.exception, at.exception
    assert any("Sparklines: quarterly values" in c.value for c in at.caption)
    at = run_page("app_pages/tat.py", {**params, "tat_view": "Quantiles over time"})
    assert not at.exception, at.exception
    quant = [d.value for d in at.dataframe if "tat_p95" in d.value.columns]
    assert len(quant) == 1
    starts = set(pd.to_datetime(quant[0]["period_start"]).dt.date)
    assert starts and all(d.day == 1 and d.month in (1, 4, 7, 10) for d in starts)
    chart = figure(at, "tat_quantile_chart")
    assert {x for t in chart["data"] for x in t["x"]} == {
        f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in starts
    }
