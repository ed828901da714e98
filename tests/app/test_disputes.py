"""Disputes page: the numbers it shows against pandas over the database's audit rows (not
through kpi/), for the default window; a vendor role sees its own disputes only."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from bpo_kpi.config import Config
from kpi.data_summary import database_summary
from kpi.gateway import Gateway

PAGE = "app_pages/disputes.py"
WINDOW_DAYS = 28
TZ = Config().reporting_timezone
DAYS = Config().monitor.dispute_pending_days


def rows(db) -> tuple[pd.DataFrame, dt.date]:
    with Gateway(db) as gw:
        last = database_summary(gw).last_day
    con = duckdb.connect(str(db), read_only=True)
    try:
        audits = con.sql("SELECT * FROM audit_facts WHERE NOT is_orphan").df()
    finally:
        con.close()
    return audits, last


def in_window(audits: pd.DataFrame, last: dt.date) -> pd.DataFrame:
    day = pd.to_datetime(audits["decided_at"], utc=True).dt.tz_convert(TZ).dt.date
    start = last - dt.timedelta(days=WINDOW_DAYS - 1)
    return audits[day.notna() & (day >= start) & (day <= last)]


def rate_text(x: int, n: int) -> str:
    low, high = proportion_confint(x, n, method="wilson")
    return f"{x / n:.1%} ({low:.1%}–{high:.1%}, n={n:,})"


def pending(audits: pd.DataFrame, last: dt.date) -> pd.DataFrame:
    midnight = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), ZoneInfo(TZ))
    cut = pd.Timestamp(min(midnight, dt.datetime.now(dt.UTC)))
    raised = pd.to_datetime(audits["disputed_at"], utc=True).fillna(
        pd.to_datetime(audits["audited_at"], utc=True)
    )
    resolved = pd.to_datetime(audits["dispute_resolved_at"], utc=True)
    status = audits["dispute_status"]
    open_ = (status == "pending") | (status.isin(["upheld", "overturned"]) & (resolved >= cut))
    return audits[open_ & (raised < cut - pd.Timedelta(days=DAYS))]


def test_disputes_page_shows_rates_counts_intervals_and_the_pending_list(sample_db, run_page):
    audits, last = rows(sample_db)
    a = in_window(audits, last)
    typed = a["error_counts"].fillna(False).astype(bool)
    disputed = typed & a["dispute_status"].isin(["pending", "upheld", "overturned"])
    resolved = a["dispute_status"].isin(["upheld", "overturned"])
    overturned = a["dispute_status"] == "overturned"
    assert disputed.sum() >= 3 and resolved.sum() >= 2  # a small sample: few disputes

    at = run_page(PAGE)
    assert not at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Dispute rate"] == f"{disputed.sum() / typed.sum():.1%}"
    assert tiles["Overturn rate"] == f"{overturned.sum() / resolved.sum():.1%}"
    assert tiles["Quality after disputes"] == f"{1 - a['is_error'].sum() / len(a):.1%}"
    late = pending(audits, last)
    assert len(late) > 0
    assert tiles[f"Pending > {DAYS:g} days"] == f"{len(late):,}"
    captions = " ".join(c.value for c in at.caption)
    assert rate_text(int(disputed.sum()), int(typed.sum())) in captions
    assert f"{int(disputed.sum()):,} of {int(typed.sum()):,} error audits disputed" in captions
    assert rate_text(int(overturned.sum()), int(resolved.sum())) in captions
    before = rate_text(int(len(a) - typed.sum()), len(a))
    assert f"before {before}" in captions

    took = (
        pd.to_datetime(a["dispute_resolved_at"], utc=True)
        - pd.to_datetime(a["disputed_at"], utc=True)
    ).dt.total_seconds() / 60
    took = took[resolved & (took >= 0)]
    hours = took.median() / 60
    assert tiles["Median time to resolve"] == (
        f"{took.median():,.0f} min" if took.median() < 120 else f"{hours:,.1f} h"
    )

    by_vendor = next(d.value for d in at.dataframe if "Dispute rate" in d.value.columns)
    by_vendor = by_vendor.set_index("Vendor")
    for vendor, grp in a.groupby("vendor"):
        t = grp["error_counts"].fillna(False).astype(bool)
        d = t & grp["dispute_status"].isin(["pending", "upheld", "overturned"])
        if t.sum():
            assert by_vendor.at[vendor, "Dispute rate"] == rate_text(int(d.sum()), int(t.sum()))
        assert by_vendor.at[vendor, "Disputed"] == d.sum()
        assert by_vendor.at[vendor, "Pending"] == (grp["dispute_status"] == "pending").sum()

    listed = next(d.value for d in at.dataframe if "Age (days)" in d.value.columns)
    assert sorted(listed["Audit"]) == sorted(late["audit_id"])
    assert listed["Age (days)"].is_monotonic_decreasing


def test_a_vendor_role_sees_its_own_disputes_only(sample_db, run_page, monkeypatch, tmp_path):
    config = tmp_path / "roles.toml"
    config.write_text('[roles.northwind_liaison]\nvendors = ["northwind"]\n')
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_ROLE", "northwind_liaison")
    audits, last = rows(sample_db)
    mine = audits[audits["vendor"] == "northwind"]
    at = run_page(PAGE)
    assert not at.exception
    listed = next(d.value for d in at.dataframe if "Age (days)" in d.value.columns)
    assert set(listed["Vendor"]) == {"northwind"}
    assert sorted(listed["Audit"]) == sorted(pending(mine, last)["audit_id"])
    by_vendor = next(d.value for d in at.dataframe if "Dispute rate" in d.value.columns)
    assert by_vendor["Vendor"].tolist() == ["northwind"]
