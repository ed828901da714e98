"""Disputes (issue 17 item 3): the pending list and its alert against pandas over the rows of
conftest.py, scoped like every read.

The dispute KPIs themselves (rates with Wilson intervals, quality before disputes, pending
count, median resolution time) are in the catalog and checked by test_kpis.py's oracle.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from kpi import disputes, monitor
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery

RESOLVED = ("upheld", "overturned")


def oracle_pending(kpi_data, cut: pd.Timestamp, days: float, vendors=None) -> pd.DataFrame:
    """Disputes pending at `cut` raised more than `days` days before it, by hand."""
    a = kpi_data.audits.merge(
        kpi_data.decisions[["decision_id", "vendor", "workflow"]], on="decision_id"
    )
    if vendors is not None:
        a = a[a["vendor"].isin(vendors)]
    raised = pd.to_datetime(a["disputed_at"], utc=True).fillna(
        pd.to_datetime(a["audited_at"], utc=True)
    )
    resolved = pd.to_datetime(a["dispute_resolved_at"], utc=True)
    status = a["dispute_status"].fillna("none")
    pending = (raised < cut) & ((status == "pending") | (status.isin(RESOLVED) & (resolved >= cut)))
    keep = pending & (raised < cut - pd.Timedelta(days=days))
    out = a[keep].assign(age_days=(cut - raised[keep]).dt.total_seconds() / 86_400)
    return out.set_index("audit_id")


@pytest.fixture(scope="module")
def gw(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config) as gateway:
        yield gateway


def _cut(kpi_data, end: dt.date | None) -> pd.Timestamp:
    if end is None:
        return pd.Timestamp(kpi_data.as_of)
    tz = ZoneInfo(kpi_data.config.reporting_timezone)
    midnight = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    return pd.Timestamp(min(midnight, kpi_data.as_of))


@pytest.mark.parametrize(
    ("end", "days"),
    [(None, 7.0), (dt.date(2026, 3, 12), 7.0), (dt.date(2026, 3, 12), 1.5), (None, 0.5)],
)
def test_pending_disputes_match_pandas(kpi_data, gw, end, days):
    query = KpiQuery(start=dt.date(2026, 3, 10), end=end)  # the window's start does not apply
    got = disputes.pending_disputes(gw, query, kpi_data.as_of, days).set_index("audit_id")
    want = oracle_pending(kpi_data, _cut(kpi_data, end), days)
    assert len(want) > 0
    assert sorted(got.index) == sorted(want.index)
    assert got["vendor"].to_dict() == want["vendor"].to_dict()
    pd.testing.assert_series_equal(
        got["age_days"].sort_index(), want["age_days"].sort_index(), check_names=False
    )
    assert got["raised_at"].is_monotonic_increasing  # oldest first
    no_time = want["disputed_at"].isna()
    assert got.loc[want.index[no_time], "raised_at_from_audit"].all()
    assert not got.loc[want.index[~no_time], "raised_at_from_audit"].any()


def test_a_dispute_resolved_after_the_cut_was_pending_then(kpi_data, gw):
    """At a cut mid-March some disputes resolved since were pending: the list holds them."""
    cut_day = dt.date(2026, 3, 12)
    got = disputes.pending_disputes(gw, KpiQuery(end=cut_day), kpi_data.as_of, 1.0)
    status = kpi_data.audits.set_index("audit_id")["dispute_status"]
    assert set(status[got["audit_id"]]) >= {"pending", "upheld", "overturned"}


def test_pending_disputes_are_scoped_and_filtered(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config, role="meridian_lead") as vendor_gw:
        got = disputes.pending_disputes(vendor_gw, KpiQuery(), kpi_data.as_of, 0.5)
    want = oracle_pending(kpi_data, pd.Timestamp(kpi_data.as_of), 0.5, vendors=["meridian"])
    assert len(want) > 0 and set(got["vendor"]) == {"meridian"}
    assert sorted(got["audit_id"]) == sorted(want.index)
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        filtered = disputes.pending_disputes(
            gw, KpiQuery(where={"workflow": ("hate_speech",)}), kpi_data.as_of, 0.5
        )
    assert set(filtered["workflow"]) == {"hate_speech"}
    assert (
        len(filtered)
        == (
            oracle_pending(kpi_data, pd.Timestamp(kpi_data.as_of), 0.5)["workflow"] == "hate_speech"
        ).sum()
    )


def test_the_configured_age_is_the_default(kpi_data):
    config = kpi_data.config.model_copy(
        update={"monitor": kpi_data.config.monitor.model_copy(update={"dispute_pending_days": 2.0})}
    )
    with Gateway(kpi_data.db, config=config) as gw:
        got = disputes.pending_disputes(gw, KpiQuery(), kpi_data.as_of)
    want = oracle_pending(kpi_data, pd.Timestamp(kpi_data.as_of), 2.0)
    assert sorted(got["audit_id"]) == sorted(want.index)


def test_monitor_alerts_each_vendor_with_disputes_pending_too_long(kpi_data, gw):
    day = dt.date(2026, 3, 12)
    alerts = monitor.alerts(gw, KpiQuery(start=dt.date(2026, 3, 1), end=day), day, kpi_data.as_of)
    got = alerts[alerts["kind"] == "dispute_pending"].set_index("vendor")
    days = kpi_data.config.monitor.dispute_pending_days
    want = oracle_pending(kpi_data, _cut(kpi_data, day), days).groupby("vendor").size()
    assert len(want) > 0
    assert got["value"].astype(int).to_dict() == want.to_dict()
    assert (got["severity"] == "warning").all()  # fewer than 10 x min_impact each
    for vendor, n in want.items():
        assert f"{vendor}: {n:,} dispute" in got.loc[vendor, "message"]
    readable = monitor.readable_alerts(alerts[alerts["kind"] == "dispute_pending"])
    assert set(readable["alert"]) == {"Disputes pending too long"}


def test_dispute_table_has_the_counts_behind_each_rate(kpi_data, gw):
    query = KpiQuery(by=("vendor",))
    table = disputes.dispute_table(gw, query, kpi_data.as_of).set_index("vendor")
    full = kpi_table(gw, query, kpi_data.as_of).set_index("vendor")
    for kpi in disputes.DISPUTE_KPIS:
        pd.testing.assert_series_equal(table[kpi], full[kpi])
    # by hand from the rows: dispute rate = disputed error audits / error audits
    assert (table["dispute_rate"] == table["disputed"] / table["error_typed"]).all()
    assert (table["overturn_rate"] == table["overturned"] / table["dispute_resolved"]).all()
    assert (table["dispute_rate_low"] <= table["dispute_rate"]).all()
    assert (table["quality_score"] >= table["quality_score_before_disputes"]).all()
    assert (table["dispute_timed"] > 0).all()
