"""Data health page: freshness, QA coverage adequacy, ingest runs, rejected rows and orphan audits
as the database holds them (read here with plain queries and the sample-size formula), for the
default view, a filtered one with a rejected file, and a role that may not see raw rows."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery

PAGE = "app_pages/health.py"
WINDOW_DAYS = 28
Z95 = 1.959963984540054
HEADER = (
    "decision_id,item_id,vendor,workflow,priority,reviewer_id,decision,policy,enqueued_at,"
    "decided_at"
)
BAD_ROWS = [
    "nw-bad-1,i-1,northwind,hate_speech,p1,rev-1,nuke,,2026-11-20T08:00:00Z,2026-11-20T08:30:00Z",
    "nw-bad-2,i-2,northwind,hate_speech,p1,rev-1,remove,HS1,yesterday,2026-11-20T08:30:00Z",
]


def frame_with(at, *columns: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def adequacy(db, margin: float, where=None) -> pd.DataFrame:
    """Required audits per vendor x workflow from the formula (default targets: quality 0.95)."""
    with Gateway(db) as gw:
        last = database_summary(gw).last_day
        start = last - dt.timedelta(days=WINDOW_DAYS - 1)
        query = KpiQuery(by=("vendor", "workflow"), start=start, end=last, where=where or {},
                         kpis=("decisions", "audits", "quality_score"))  # fmt: skip
        out = kpi_table(gw, query)
    observed = (1 - out["quality_score"]).fillna(0)
    p = observed.clip(lower=0.05).clip(upper=0.5)
    n0 = Z95**2 * p * (1 - p) / margin**2
    n = n0 / (1 + (n0 - 1) / out["decisions"])
    out["required"] = [max(1, math.ceil(v - 1e-9)) for v in n]
    return out


def check_adequacy(at, want: pd.DataFrame, margin_pp: int) -> None:
    shown = frame_with(at, "required", "shortfall")
    assert list(zip(shown["vendor"], shown["workflow"], strict=True)) == list(
        zip(want["vendor"], want["workflow"], strict=True)
    )
    assert shown["decisions"].tolist() == want["decisions"].tolist()
    assert shown["audits"].tolist() == want["audits"].tolist()
    assert shown["required"].tolist() == want["required"].tolist()
    for row in shown.itertuples():
        if row.audits >= row.required:
            assert row.status == "✔ adequate"
        else:
            assert row.status == f"✘ too few audits: {row.required - row.audits:,} more needed"
    n_ok = int((want["audits"] >= want["required"]).sum())
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["QA coverage adequate"] == f"{n_ok} of {len(want)}"
    assert any(f"±{margin_pp} percentage points" in m.value for m in at.markdown)


def check_freshness(at, db, vendors=None) -> None:
    with Gateway(db) as gw:
        want = gw.frame(
            "SELECT vendor, greatest(max(decided_at), max(enqueued_at)) AS newest, "
            "count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions "
            "GROUP BY 1 ORDER BY 1"
        )
    if vendors:
        want = want[want["vendor"].isin(vendors)]
    now = pd.Timestamp.now(tz="UTC")
    hours = (now - pd.to_datetime(want["newest"], utc=True)).dt.total_seconds() / 3600
    shown = frame_with(at, "hours_since_data", "pending")
    assert shown["vendor"].tolist() == want["vendor"].tolist()
    assert shown["pending"].tolist() == want["pending"].tolist()
    # The page measures at the start of the current minute.
    assert shown["hours_since_data"].to_numpy() == pytest.approx(hours.to_numpy(), abs=0.05)
    statuses = ["fresh" if h <= 36 else "stale (> 36 h)" for h in hours]
    assert shown["status"].tolist() == statuses
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Vendors with stale data"] == f"{statuses.count('stale (> 36 h)')} of {len(want)}"


def test_default_view(sample_db, run_page):
    at = run_page(PAGE)
    assert not at.exception
    with Gateway(sample_db) as gw:
        runs = gw.frame("SELECT run_id, kind, rows_read, rows_rejected FROM ingest_runs")
        orphans = gw.scalar("SELECT count(*) FROM audit_facts WHERE is_orphan")
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Ingest runs"] == str(len(runs)) == "3"
    assert tiles["Rejected rows"] == "0"
    assert tiles["Orphan audits"] == f"{orphans:,}" and orphans > 0
    shown_runs = frame_with(at, "rows_read", "rows_rejected")
    assert sorted(shown_runs["run_id"]) == sorted(runs["run_id"])
    assert shown_runs["run_id"].is_monotonic_decreasing  # newest first
    assert dict(zip(shown_runs["kind"], shown_runs["rows_read"], strict=True)) == dict(
        zip(runs["kind"], runs["rows_read"], strict=True)
    )
    assert len(frame_with(at, "audit_id", "decision_id")) == orphans
    assert any("No rejected rows" in s.value for s in at.success)
    check_freshness(at, sample_db)
    want = adequacy(sample_db, 0.05)
    assert len(want) > 10
    check_adequacy(at, want, 5)


@pytest.fixture
def rejected_db(sample_db, tmp_path):
    """The sample database plus a northwind file whose two rows are both rejected."""
    path = tmp_path / "northwind_late.csv"
    path.write_text("\n".join([HEADER, *BAD_ROWS]) + "\n")
    con = connect(sample_db)
    try:
        ingest_files(con, "decisions", [path], config=Config(), vendor="northwind")
    finally:
        con.close()
    return sample_db


def test_filtered_view_with_rejected_rows(rejected_db, run_page):
    at = run_page(PAGE, {"vendor": ["northwind"], "health_margin": "10"})
    assert not at.exception
    with Gateway(rejected_db) as gw:
        want = gw.frame("SELECT file, source_line, reason, raw FROM rejected_rows ORDER BY 2")
    assert len(want) == 2
    assert "nuke" in want["reason"].iat[0]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Ingest runs"] == "4"
    assert tiles["Rejected rows"] == "2"
    shown = frame_with(at, "source_line", "reason").sort_values("source_line")
    assert shown["file"].tolist() == want["file"].tolist()
    assert all(f.endswith("northwind_late.csv") for f in shown["file"])
    assert shown["source_line"].tolist() == [2, 3]  # the header is line 1
    assert shown["reason"].tolist() == want["reason"].tolist()
    assert shown["raw"].tolist() == want["raw"].tolist()  # an admin sees the raw rows
    assert "nw-bad-1" in shown["raw"].iat[0]
    reasons = frame_with(at, "Reason", "Rows")
    assert sorted(reasons["Reason"]) == sorted(want["reason"])
    assert reasons["Rows"].sum() == 2
    check_freshness(at, rejected_db, vendors=["northwind"])
    wanted = adequacy(rejected_db, 0.10, where={"vendor": ("northwind",)})
    assert set(wanted["vendor"]) == {"northwind"}
    check_adequacy(at, wanted, 10)
    assert (wanted["audits"] >= wanted["required"]).sum() > 0  # a wide margin is met somewhere


def test_role_without_access_to_people_sees_no_raw_rows(
    rejected_db, run_page, monkeypatch, tmp_path
):
    config = tmp_path / "roles.toml"
    config.write_text("[roles.admin]\n[roles.analyst]\nsee_reviewers = false\n")
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_ROLE", "analyst")
    at = run_page(PAGE)
    assert not at.exception
    shown = frame_with(at, "source_line", "reason")
    assert "raw" not in shown.columns
    assert len(shown) == 2 and any("nuke" in r for r in shown["reason"])
    assert any("hidden for your role" in c.value for c in at.caption)
