"""Timestamps in the Quality drill-down and on Data health are shown in the reporting time zone
(here America/New_York, not UTC), with the zone named in the column label: the values are the
stored instants, converted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bpo_kpi.config import Config, load_config
from kpi import gaps
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery

NY = "America/New_York"


@pytest.fixture
def ny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    path = tmp_path / "ny.toml"
    path.write_text(f'reporting_timezone = "{NY}"\n', encoding="utf-8")
    monkeypatch.setenv("BPO_KPI_CONFIG", str(path))
    return load_config(path)


def labels(frame: Any) -> dict[str, str]:
    """Column -> label of a shown dataframe, from its column configuration."""
    config = json.loads(frame.proto.columns or "{}")
    return {k.removeprefix("col:"): v.get("label", "") for k, v in config.items()}


def check_local(frame: Any, column: str, label: str, stored: pd.Series) -> None:
    """`column` of the shown `frame` holds `stored`'s instants in New York time, labelled."""
    values = frame.value.reset_index(drop=True)[column]
    assert isinstance(values.dtype, pd.DatetimeTZDtype) and str(values.dt.tz) == NY
    want = pd.to_datetime(stored.reset_index(drop=True), utc=True)
    pd.testing.assert_series_equal(
        values.dt.tz_convert("UTC"), want, check_names=False, check_dtype=False
    )
    assert labels(frame)[column] == f"{label} ({NY})"


def test_drill_down_shows_decided_and_audited_times_in_the_reporting_zone(sample_db, ny, run_page):
    with Gateway(sample_db, config=ny) as gw:
        summary = database_summary(gw)
        assert summary.first_day and summary.last_day
        base = KpiQuery(start=summary.first_day, end=summary.last_day)
        cells = kpi_table(gw, base.model_copy(update={"by": ("vendor", "workflow"),
                                                      "kpis": ("audits",)}))  # fmt: skip
        top = cells.sort_values("audits").iloc[-1]
        segment = {"vendor": str(top["vendor"]), "workflow": str(top["workflow"])}
        reviewers = gaps.reviewer_outliers(gw, segment, base)
        reviewer = str(reviewers.sort_values("errors").iloc[-1]["reviewer_id"])
        rows = gaps.audited_decisions(gw, segment, base, reviewer_id=reviewer)
    assert len(rows) >= 1
    path = [f"cell:{segment['vendor']}|{segment['workflow']}", "policy:(all)",
            "error_type:(all)", f"reviewer:{reviewer}"]  # fmt: skip
    query = {"drill": path, "from": str(summary.first_day), "to": str(summary.last_day)}
    at = run_page("app_pages/quality.py", query)
    assert not at.exception
    (frame,) = list(at.container("quality_drill").dataframe)
    assert frame.value["audit_id"].tolist() == rows["audit_id"].tolist()
    check_local(frame, "decided_at", "decided_at", rows["decided_at"])
    check_local(frame, "audited_at", "audited_at", rows["audited_at"])


def test_data_health_shows_run_orphan_and_freshness_times_in_the_reporting_zone(
    sample_db, ny, run_page
):
    at = run_page("app_pages/health.py")
    assert not at.exception
    with Gateway(sample_db, config=ny) as gw:
        runs = gw.frame("SELECT started_at, finished_at FROM ingest_runs ORDER BY run_id DESC")
        orphans = gw.frame(
            "SELECT audit_id, audited_at FROM audit_facts WHERE is_orphan "
            "ORDER BY audited_at DESC, audit_id"
        )
        fresh = gw.frame(
            "SELECT vendor, max(decided_at) AS d, max(enqueued_at) AS e FROM decisions "
            "GROUP BY 1 ORDER BY 1"
        )

    def shown(*columns: str) -> Any:
        found = [d for d in at.dataframe if set(columns) <= set(d.value.columns)]
        assert len(found) == 1
        return found[0]

    check_local(shown("rows_read", "started_at"), "started_at", "Started", runs["started_at"])
    check_local(shown("rows_read", "finished_at"), "finished_at", "Finished", runs["finished_at"])
    table = shown("audit_id", "auditor_id", "audited_at")
    order = table.value["audit_id"].tolist()
    check_local(table, "audited_at", "audited_at",
                orphans.set_index("audit_id").loc[order, "audited_at"])  # fmt: skip
    freshness = shown("hours_since_data", "last_decided_at")
    check_local(freshness, "last_decided_at", "Last decided", fresh["d"])
    check_local(freshness, "last_enqueued_at", "Last enqueued", fresh["e"])
