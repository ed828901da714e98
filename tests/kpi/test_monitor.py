"""The daily monitor (kpi.monitor) and `bpo-kpi alerts` on a small database whose alerts are known.

Window 2026-03-01 .. 2026-03-14 (UTC), monitored day D = Sat 2026-03-14, checked at AS_OF =
2026-03-15 06:00 UTC. Every decision is decided 30 min after it was enqueued; on-time ones are
due after 60 min, late ones after 10 min; audits come 30 min after the decision.

- v1 / hate_speech: 20 decisions a day, all audited, 1 error a day except 10 on OOC_DAY
  (2026-03-07: out of control); on time 20 a day except D-7: 19, D-1: 18, D: 12 (60%: a clear
  SLA breach). Pending: 3 items due D-1 12:00 (past due), 2 due after D.
- v1 / spam: 40 decisions a day, the first one audited (coverage 2.5%); on D 38 on time (95%,
  exactly the target: no breach).
- v2 / spam: 20 decisions on D-1 (all on time) and D (18 on time: 90%, a breach within noise);
  no audits.
- v3 / hate_speech: 5 decisions a day up to D-3, no audits: stale at AS_OF, coverage 0%.

The newest audit is on D at 09:19, so with a 3-day QA lag audits are complete through D-4.
Expected values are computed here from these rows, independently of kpi/.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportions_ztest

from bpo_kpi.config import (
    Config,
    MonitorSettings,
    Role,
    Targets,
    TargetValues,
    WorkflowTargets,
)
from bpo_kpi.db import AUDIT_COLUMNS, DECISION_COLUMNS, connect
from bpo_kpi_cli.main import main
from ingest import ingest_files
from kpi import monitor
from kpi.compute import kpi_table, records
from kpi.gateway import Gateway
from kpi.query import KpiQuery

UTC = dt.UTC
# The alerts' mechanics on a small data set: no minimum of observations or impact (the quiet
# defaults are tested on sample-sized data in test_quality_alerts.py).
CONFIG = Config(
    roles={"admin": Role(), "v2_lead": Role(vendors=["v2"])},
    monitor=MonitorSettings(min_audits=1, min_decisions=1, min_impact=0.5),
)
DEC_COLS = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
AUD_COLS = [c for c, _, _ in AUDIT_COLUMNS if c != "updated_at"]
START = dt.date(2026, 3, 1)
D = dt.date(2026, 3, 14)
OOC_DAY = D - dt.timedelta(days=7)
AS_OF = dt.datetime(2026, 3, 15, 6, 0, tzinfo=UTC)
BASE = KpiQuery(start=START, end=D)
COMPLETE_THROUGH = D - dt.timedelta(days=4)


def _days(last: dt.date = D, first: dt.date = START) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _build() -> tuple[pd.DataFrame, pd.DataFrame]:
    decisions: list[dict] = []
    audits: list[dict] = []

    def add(vendor: str, workflow: str, day: dt.date, i: int, on_time: bool) -> dict:
        enq = dt.datetime.combine(day, dt.time(8), tzinfo=UTC) + dt.timedelta(minutes=i)
        row = {
            "decision_id": f"{vendor}-{workflow}-{day:%m%d}-{i}",
            "item_id": f"item-{vendor}-{workflow}-{day:%m%d}-{i}",
            "vendor": vendor,
            "site": f"{vendor}-site",
            "workflow": workflow,
            "market": "en_US",
            "priority": "p1",
            "reviewer_id": f"{vendor}-r{i % 3}",
            "decision": "approve",
            "policy": None,
            "enqueued_at": enq,
            "claimed_at": enq + dt.timedelta(minutes=5),
            "decided_at": enq + dt.timedelta(minutes=30),
            "due_at": enq + dt.timedelta(minutes=60 if on_time else 10),
        }
        decisions.append(row)
        return row

    def audit(row: dict, error: bool) -> None:
        audits.append(
            {
                "audit_id": f"a-{row['decision_id']}",
                "decision_id": row["decision_id"],
                "auditor_id": "qa-1",
                "audited_at": row["decided_at"] + dt.timedelta(minutes=30),
                "qa_decision": "remove" if error else row["decision"],
                "qa_policy": None,
                "error_type": None,
                "severity": None,
                "dispute_status": None,
                "comment": None,
            }
        )

    hs_on_time = {D: 12, D - dt.timedelta(days=1): 18, OOC_DAY: 19}
    for day in _days():
        errors = 10 if day == OOC_DAY else 1
        for i in range(20):
            audit(add("v1", "hate_speech", day, i, i < hs_on_time.get(day, 20)), i < errors)
        for i in range(40):
            row = add("v1", "spam", day, i, i < (38 if day == D else 40))
            if i == 0:
                audit(row, False)
    for day, on_time in ((D - dt.timedelta(days=1), 20), (D, 18)):
        for i in range(20):
            add("v2", "spam", day, i, i < on_time)
    for day in _days(D - dt.timedelta(days=3)):
        for i in range(5):
            add("v3", "hate_speech", day, i, True)
    pending = [
        (D - dt.timedelta(days=1), 9, 12),  # (day enqueued, hour, hour due that day)
        (D - dt.timedelta(days=1), 9, 12),
        (D - dt.timedelta(days=1), 9, 12),
        (D, 10, 60),
        (D, 10, 60),
    ]
    for k, (day, hour, due) in enumerate(pending):
        enq = dt.datetime.combine(day, dt.time(hour), tzinfo=UTC) + dt.timedelta(minutes=k)
        decisions.append(
            {
                **decisions[0],
                "decision_id": f"pending-{k}",
                "item_id": f"pending-item-{k}",
                "decision": None,
                "enqueued_at": enq,
                "claimed_at": None,
                "decided_at": None,
                "due_at": dt.datetime.combine(day, dt.time(), tzinfo=UTC) + dt.timedelta(hours=due),
            }
        )
    return pd.DataFrame(decisions, columns=DEC_COLS), pd.DataFrame(audits, columns=AUD_COLS)


DECISIONS, AUDITS = _build()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitor")
    path = root / "monitor.duckdb"
    files = {}
    for kind, frame in (("decisions", DECISIONS), ("audits", AUDITS)):
        out = frame.copy()
        for col in out.columns:
            if col.endswith("_at"):
                out[col] = [None if pd.isna(v) else v.isoformat() for v in frame[col]]
        files[kind] = root / f"{kind}.csv"
        out.to_csv(files[kind], index=False)
    con = connect(path)
    try:
        ingest_files(con, "decisions", [files["decisions"]], config=CONFIG)
        ingest_files(con, "audits", [files["audits"]], config=CONFIG)
    finally:
        con.close()
    return path


@pytest.fixture
def gw(db: Path):
    with Gateway(db, config=CONFIG) as gateway:
        yield gateway


# --- the oracle ---------------------------------------------------------------------------------


def _decided(vendor: str | None = None, workflow: str | None = None) -> pd.DataFrame:
    d = DECISIONS[DECISIONS["decided_at"].notna()].copy()
    d["day"] = [t.date() for t in d["decided_at"]]
    if vendor:
        d = d[d["vendor"] == vendor]
    if workflow:
        d = d[d["workflow"] == workflow]
    return d


def _audited(vendor: str | None = None) -> pd.DataFrame:
    a = AUDITS.merge(DECISIONS, on="decision_id")
    a["day"] = [t.date() for t in a["decided_at"]]
    a["error"] = a["qa_decision"] != a["decision"]
    return a if vendor is None else a[a["vendor"] == vendor]


def _by_kind(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return frame[frame["kind"] == kind].reset_index(drop=True)


# --- alerts -------------------------------------------------------------------------------------


def test_out_of_control_day_is_the_injected_one(gw):
    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    ooc = _by_kind(alerts, "out_of_control")
    a = _audited("v1")
    per_day = a.groupby("day").agg(audits=("error", "size"), errors=("error", "sum"))
    pbar = per_day["errors"].sum() / per_day["audits"].sum()
    ucl = pbar + 3 * math.sqrt(pbar * (1 - pbar) / per_day.at[OOC_DAY, "audits"])
    assert len(ooc) == 1
    row = ooc.iloc[0]
    assert (row["severity"], row["vendor"], row["start"], row["end"]) == (
        "critical", "v1", OOC_DAY, OOC_DAY,
    )  # fmt: skip
    assert row["measure"] == "error_rate"
    assert row["value"] == pytest.approx(10 / 21)
    assert row["threshold"] == pytest.approx(ucl)
    assert row["n"] == 21
    assert "Sat 07 Mar" in row["message"] and "10 errors in 21 audits" in row["message"]


def test_sla_breaches_per_vendor_and_workflow_on_the_day(gw):
    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    sla = _by_kind(alerts, "sla_breach").set_index(["vendor", "workflow"])
    d = _decided()
    on_day = d[d["day"] == D]
    met = (on_day["decided_at"] <= on_day["due_at"]).groupby([on_day["vendor"], on_day["workflow"]])
    expected = (met.sum() / met.size()).to_dict()
    assert expected[("v1", "spam")] == 0.95  # exactly on target: not a breach
    below = {k: v for k, v in expected.items() if v < 0.95}
    assert below == {("v1", "hate_speech"): 0.6, ("v2", "spam"): 0.9}
    # A breach is a late share above the target's beyond noise (one-sided exact binomial test
    # at monitor.false_alarm_rate, 1 %): 8 late of 20 is (p = 2.9e-6); 2 late of 20 is not
    # (p = 0.26): quiet.
    assert binomtest(8, 20, 0.05, alternative="greater").pvalue < 0.001
    assert binomtest(2, 20, 0.05, alternative="greater").pvalue > 0.2
    breached = {("v1", "hate_speech"): 0.6}
    assert set(sla.index) == set(breached)
    for key, value in breached.items():
        assert sla.at[key, "value"] == pytest.approx(value)
        assert sla.at[key, "threshold"] == 0.95
        assert (sla.at[key, "start"], sla.at[key, "end"]) == (D, D)
    assert sla.at[("v1", "hate_speech"), "n"] == 20
    # Critical: a strong test (p below a tenth of 1 %) and 8 - 0.05 x 20 = 7 late decisions
    # beyond target, at least 10 x min_impact (0.5 in this file's configuration).
    assert sla.at[("v1", "hate_speech"), "severity"] == "critical"
    assert "(12 of 20; 8 late)" in sla.at[("v1", "hate_speech"), "message"]
    assert "about 7 more late decisions" in sla.at[("v1", "hate_speech"), "message"]
    # The alert's value is the KPI table's.
    table = kpi_table(
        gw, KpiQuery(by=("vendor", "workflow"), start=D, end=D, kpis=("sla_attainment",))
    ).set_index(["vendor", "workflow"])
    for key in breached:
        assert sla.at[key, "value"] == table.at[key, "sla_attainment"]


def test_sla_targets_resolve_per_workflow_and_vendor(db):
    lenient = Config(
        roles=CONFIG.roles,
        targets=Targets(
            workflows={
                "spam": WorkflowTargets(vendors={"v2": TargetValues(sla_attainment=0.9)}),
                "hate_speech": WorkflowTargets(sla_attainment=0.5),
            }
        ),
    )
    with Gateway(db, config=lenient) as gw:
        alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    assert _by_kind(alerts, "sla_breach").empty  # 90% meets v2's 90%; 60% meets 50%


def test_backlog_past_due_at_the_end_of_the_day(gw):
    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    backlog = _by_kind(alerts, "backlog_past_due")
    pending = DECISIONS[DECISIONS["decided_at"].isna()]
    end = dt.datetime(2026, 3, 15, tzinfo=UTC)
    past_due = pending[pending["due_at"] < end]
    assert len(past_due) == 3
    # One alert per vendor, its workflows named.
    assert backlog[["vendor", "workflow"]].fillna("-").values.tolist() == [["v1", "-"]]
    row = backlog.iloc[0]
    assert (row["value"], row["n"]) == (len(past_due), len(pending))
    assert row["threshold"] == CONFIG.monitor.min_impact
    assert row["severity"] == "warning"  # 3 past due: fewer than 10 x min_impact (5)
    assert "at the end of Sat 14 Mar" in row["message"] and "in hate_speech 3" in row["message"]
    # Before the day has ended the backlog is measured at `as_of`: at 09:30 on D the two items
    # enqueued at 10:00 are not in it yet.
    early = monitor.alerts(gw, BASE, D, as_of=dt.datetime(2026, 3, 14, 9, 30, tzinfo=UTC))
    row = _by_kind(early, "backlog_past_due").iloc[0]
    assert (row["value"], row["n"]) == (3, 3)
    assert row["message"].endswith("now (3 pending in all), in hate_speech 3: content waiting "
                                   "for review beyond its deadline.")  # fmt: skip


def test_qa_coverage_counts_only_fully_audited_days(gw):
    assert monitor.audits_complete_through(gw, AS_OF) == COMPLETE_THROUGH
    # A QA feed that stopped does not make later days complete; an earlier as_of limits it.
    assert monitor.audits_complete_through(gw, dt.datetime(2026, 4, 1, tzinfo=UTC)) == (
        COMPLETE_THROUGH
    )
    # 8 Mar ends at 9 Mar 00:00 UTC: complete once 72 h have passed since then.
    at_72h = dt.datetime(2026, 3, 12, tzinfo=UTC)
    assert monitor.audits_complete_through(gw, at_72h) == dt.date(2026, 3, 8)
    before = at_72h - dt.timedelta(seconds=1)
    assert monitor.audits_complete_through(gw, before) == dt.date(2026, 3, 7)

    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    # One alert per vendor, naming its workflows below target.
    qa = _by_kind(alerts, "qa_coverage")
    assert qa["workflow"].isna().all()
    qa = qa.assign(workflow=[m.split(" workflow: ")[1].split(" ")[0] for m in qa["message"]])
    qa = qa.set_index(["vendor", "workflow"])
    d = _decided()
    d = d[d["day"] <= COMPLETE_THROUGH]
    audited = set(AUDITS["decision_id"])
    d["audited"] = d["decision_id"].isin(audited)
    cov = d.groupby(["vendor", "workflow"])["audited"].agg(["sum", "size"])
    cov["coverage"] = cov["sum"] / cov["size"]
    below = cov[cov["coverage"] < 0.05]
    # v2 decided only on D-1 and D, whose audits are still arriving: not judged.
    assert set(below.index) == set(qa.index) == {("v1", "spam"), ("v3", "hate_speech")}
    for key, exp in below.iterrows():
        assert qa.at[key, "value"] == pytest.approx(exp["coverage"])
        assert qa.at[key, "n"] == exp["size"]
        assert (qa.at[key, "start"], qa.at[key, "end"]) == (START, COMPLETE_THROUGH)
        missing = math.ceil(round(0.05 * exp["size"], 9)) - int(exp["sum"])
        assert f"{missing:,} more audited" in qa.at[key, "message"]
    assert "(10 of 400, 10 short of 5.0%)" in qa.at[("v1", "spam"), "message"]
    # Without a lag every day up to the newest audit's previous day counts.
    no_lag = monitor.alerts(gw, BASE, D, as_of=AS_OF, qa_lag_days=0)
    assert set(_by_kind(no_lag, "qa_coverage")["end"]) == {D - dt.timedelta(days=1)}


def test_stale_data_per_vendor(gw):
    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    stale = _by_kind(alerts, "stale_data")
    v3 = DECISIONS[DECISIONS["vendor"] == "v3"]
    newest = max(v3["decided_at"].max(), v3["enqueued_at"].max())
    assert stale["vendor"].tolist() == ["v3"]
    row = stale.iloc[0]
    assert row["value"] == pytest.approx((AS_OF - newest).total_seconds() / 3600)
    assert row["threshold"] == CONFIG.freshness_hours
    assert pd.isna(row["start"]) and pd.isna(row["workflow"])
    # The vendor filter applies to freshness.
    only_v1 = monitor.alerts(gw, BASE.model_copy(update={"where": {"vendor": ("v1",)}}), D, AS_OF)
    assert _by_kind(only_v1, "stale_data").empty


def test_alerts_are_ordered_by_severity_then_kind_then_impact(gw):
    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    assert list(alerts.columns) == monitor.ALERT_COLUMNS
    assert alerts[["severity", "kind", "vendor", "workflow"]].fillna("-").values.tolist() == [
        ["critical", "stale_data", "v3", "-"],
        # every error of this data is critical (under-enforcement): 8.2% against 1%
        ["critical", "critical_errors", "v1", "hate_speech"],
        ["critical", "out_of_control", "v1", "-"],
        ["critical", "sla_breach", "v1", "hate_speech"],
        ["warning", "backlog_past_due", "v1", "-"],
        ["warning", "qa_coverage", "v1", "-"],  # 10 audits short
        ["warning", "qa_coverage", "v3", "-"],  # 3 audits short
    ]
    assert monitor.alert_counts(alerts) == {"critical": 4, "warning": 3, "info": 0}
    assert alerts["key"].is_unique


def test_filters_and_scope_limit_the_alerts(gw, db):
    spam = BASE.model_copy(update={"where": {"workflow": ("spam",)}})
    alerts = monitor.alerts(gw, spam, D, as_of=AS_OF)
    # The p-chart of v1's spam audits (no errors) has nothing out of control; v2's spam SLA miss
    # (2 late of 20) is within noise.
    assert set(alerts["kind"]) == {"stale_data", "qa_coverage"}
    assert "in 1 workflow: spam" in alerts.loc[alerts["kind"] == "qa_coverage", "message"].iat[0]
    with Gateway(db, config=CONFIG, role="v2_lead") as lead:
        scoped = monitor.alerts(lead, BASE, D, as_of=AS_OF)
    assert scoped.empty  # v2's only finding is that noise-level SLA miss


def test_a_window_without_decisions(gw):
    later = KpiQuery(start=dt.date(2027, 1, 1), end=dt.date(2027, 1, 2))
    alerts = monitor.alerts(gw, later, as_of=dt.datetime(2027, 1, 3, tzinfo=UTC))
    # No decisions, audits or SLA in the window; every vendor is stale by then: one alert for
    # the shared cause, the longest silent first; the items still pending are all past due.
    assert alerts[["kind", "vendor"]].fillna("-").values.tolist() == [
        ["stale_data", "-"], ["backlog_past_due", "v1"],
    ]  # fmt: skip
    assert alerts.iloc[0]["segment"] == "vendors=v3, v2, v1"
    assert "No new data from 3 vendors" in alerts.iloc[0]["message"]
    assert alerts.iloc[1][["value", "n"]].tolist() == [5, 5]
    nobody = monitor.alerts(gw, later.model_copy(update={"where": {"vendor": ("x",)}}), as_of=AS_OF)
    assert nobody.empty and list(nobody.columns) == monitor.ALERT_COLUMNS


def test_a_window_at_the_calendars_first_days(gw):
    """`--day 0001-01-01`: the windows, the comparisons and the disputes' age limit reach back
    before the calendar's first day; they start there instead of failing. No data lies there:
    only freshness, measured at `as_of` whatever the day, alerts (as on any other day)."""
    first = dt.date(1, 1, 1)
    stale = monitor.alerts(gw, BASE, D, as_of=AS_OF).query("kind == 'stale_data'")
    for day in (first, dt.date(1, 1, 5)):
        query = KpiQuery(start=first, end=day)
        alerts = monitor.alerts(gw, query, day, as_of=AS_OF)
        assert alerts["key"].tolist() == stale["key"].tolist() == ["stale_data|vendor=v3"]
        tiles = monitor.vendor_snapshot(gw, query, day, AS_OF)
        assert tiles["yesterday"].isna().all()
    assert monitor.days_before(first, 27) == first
    assert monitor.days_before(dt.date(2026, 3, 1), 28) == dt.date(2026, 2, 1)


# --- tiles --------------------------------------------------------------------------------------


def _sla_counts(vendor: str, day: dt.date) -> tuple[int, int]:
    d = _decided(vendor)
    d = d[d["day"] == day]
    return int((d["decided_at"] <= d["due_at"]).sum()), len(d)


def test_tiles_match_the_rows_and_the_two_proportion_test(gw):
    tiles = monitor.vendor_snapshot(gw, BASE, D, as_of=AS_OF).set_index(["vendor", "kpi"])
    assert tiles.index.get_level_values(0).unique().tolist() == ["v1", "v2", "v3"]
    assert tiles.loc["v1"].index.tolist() == list(monitor.TILE_KPIS)

    sla = tiles.loc[("v1", "sla_attainment")]
    met, n = _sla_counts("v1", D)
    assert (met, n) == (50, 60)
    assert sla["value"] == pytest.approx(met / n) and sla["n"] == n
    assert (sla["target"], sla["status"]) == (0.95, "missed")
    for name, days in (("yesterday", 1), ("last_week", 7)):
        met0, n0 = _sla_counts("v1", D - dt.timedelta(days=days))
        assert sla[name] == pytest.approx(met0 / n0)
        assert sla[f"change_{name}"] == pytest.approx(met / n - met0 / n0)
        _, p = proportions_ztest([met, met0], [n, n0])
        assert sla[f"p_{name}"] == pytest.approx(p)
        assert sla[f"significant_{name}"] == (p < 0.05)
    assert sla["significant_yesterday"]  # 58/60 -> 50/60
    d = _decided("v1")
    assert sla["window_value"] == pytest.approx((d["decided_at"] <= d["due_at"]).mean())
    assert sla["window_n"] == len(d)

    tat = tiles.loc[("v1", "tat_p90")]
    assert tat["value"] == pytest.approx(30.0) and np.isnan(tat["p_yesterday"])
    backlog = tiles.loc[("v1", "backlog_over_sla")]
    assert (backlog["value"], backlog["n"], backlog["yesterday"]) == (3, 5, 3)
    assert backlog["change_yesterday"] == 0
    # v3 has no data on D: no value, nothing to compare.
    assert np.isnan(tiles.loc[("v3", "sla_attainment"), "value"])
    assert tiles.loc[("v3", "sla_attainment"), "status"] == "no data"


def test_audit_based_tiles_are_provisional_while_audits_arrive(gw):
    snapshot = monitor.vendor_snapshot(gw, BASE, D, as_of=AS_OF).set_index(["vendor", "kpi"])
    provisional = snapshot["provisional"]
    assert provisional.loc[("v1", "quality_score")] and provisional.loc[("v1", "qa_coverage")]
    assert provisional.loc[("v1", "cohen_kappa")]
    assert not provisional.loc[("v1", "sla_attainment")]
    q = snapshot.loc[("v1", "quality_score")]
    assert np.isnan(q["p_last_week"]) and not q["significant_last_week"]

    # Once complete, the week-over-week quality change is tested: 10 of 21 errors -> 1 of 21.
    frame = monitor.daily(gw, BASE, D, as_of=AS_OF)
    tiles = monitor.tiles(frame, D, CONFIG).set_index(["vendor", "kpi"])
    q = tiles.loc[("v1", "quality_score")]
    assert not q["provisional"]
    assert q["value"] == pytest.approx(20 / 21) and q["last_week"] == pytest.approx(11 / 21)
    _, p = proportions_ztest([1, 10], [21, 21])
    assert q["p_last_week"] == pytest.approx(p) and q["significant_last_week"]
    coverage = tiles.loc[("v1", "qa_coverage")]
    assert coverage["value"] == pytest.approx(21 / 60)
    assert (
        monitor.change_text(
            "quality_score", q["change_last_week"], q["p_last_week"], True, "a week ago"
        )
        == f"▲ {(20 - 11) / 21 * 100:.1f} pp vs a week ago, better (significant, p={p:.3f})"
    )


def test_total_row_and_pinned_targets(gw):
    spam = BASE.model_copy(update={"where": {"workflow": ("spam",)}})
    frame = monitor.daily(gw, spam, D, by=(), as_of=AS_OF)
    lenient = Config(
        targets=Targets(workflows={"spam": WorkflowTargets(sla_attainment=0.5)}),
    )
    tiles = monitor.tiles(frame, D, lenient, workflow="spam").set_index("kpi")
    assert tiles["vendor"].isna().all()
    met = 38 + 18
    assert tiles.at["sla_attainment", "value"] == pytest.approx(met / 60)
    assert tiles.at["sla_attainment", "target"] == 0.5
    assert tiles.at["sla_attainment", "status"] == "met"
    assert monitor.group_label(None) == "All vendors"


@pytest.mark.parametrize(
    ("kpi", "change", "p", "significant", "expected"),
    [
        ("sla_attainment", 0.0123, 0.0101, True,
         "▲ 1.2 pp vs yesterday, better (significant, p=0.010)"),
        ("sla_attainment", -0.05, 0.62, False,
         "▼ 5.0 pp vs yesterday, worse (not significant, p=0.620)"),
        ("quality_score", 0.0, float("nan"), False,
         "= no change vs yesterday (no test: too few counts)"),
        ("tat_p90", 150.0, float("nan"), False, "▲ 2.5 h vs yesterday, worse"),
        ("backlog_over_sla", -4.0, float("nan"), False, "▼ 4 vs yesterday, better"),
        ("sla_attainment", float("nan"), float("nan"), False,
         "no data to compare with yesterday"),
    ],
)  # fmt: skip
def test_change_text(kpi, change, p, significant, expected):
    assert monitor.change_text(kpi, change, p, significant) == expected


# --- CLI ----------------------------------------------------------------------------------------


MONITOR_TOML = """
[monitor]
min_audits = 1
min_decisions = 1
min_impact = 0.5
"""


def _cli(capsys, db: Path, *args: str) -> str:
    config = db.parent / "monitor.toml"
    config.write_text(MONITOR_TOML)
    capsys.readouterr()
    argv = ["alerts", "--db", str(db), "--config", str(config), "--as-of", AS_OF.isoformat()]
    assert main([*argv, *args]) == 0
    return capsys.readouterr().out


def test_cli_json_equals_the_library(db, gw, capsys):
    expected = records(monitor.alerts(gw, BASE, D, as_of=AS_OF))
    explicit = json.loads(_cli(capsys, db, "--day", str(D), "--from", str(START), "--format",
                               "json"))  # fmt: skip
    assert explicit == expected
    # Defaults: the newest day with data and the 28 days up to it (not before the data).
    assert json.loads(_cli(capsys, db, "--format", "json")) == expected
    assert [r["kind"] for r in expected][:4] == ["stale_data", "critical_errors", "out_of_control",
                                                 "sla_breach"]  # fmt: skip


def test_cli_filters_match_the_library(db, gw, capsys):
    query = BASE.model_copy(update={"where": {"vendor": ("v1", "v2"), "workflow": ("spam",)}})
    expected = records(monitor.alerts(gw, query, D, as_of=AS_OF))
    assert expected and {r["vendor"] for r in expected} == {"v1"}  # v2's miss is noise
    by_where = _cli(capsys, db, "--where", "vendor=v1,v2", "--where", "workflow=spam",
                    "--format", "json")  # fmt: skip
    shorthand = _cli(capsys, db, "--vendor", "v1", "--vendor", "v2", "--workflow", "spam",
                     "--format", "json")  # fmt: skip
    assert json.loads(by_where) == json.loads(shorthand) == expected


def test_cli_table_and_csv(db, gw, capsys):
    alerts = monitor.alerts(gw, BASE, D, as_of=AS_OF)
    out = _cli(capsys, db, "--day", str(D))
    lines = out.splitlines()
    assert lines[0] == "alerts for Sat 14 Mar 2026 (window 2026-03-01 – 2026-03-14)"
    assert lines[1] == "4 critical, 3 warning"
    assert lines[2].split() == ["severity", "alert", "vendor", "workflow", "when", "value",
                                "limit", "details"]  # fmt: skip
    assert len(lines) == 3 + len(alerts)
    for line, message in zip(lines[3:], alerts["message"], strict=True):
        assert line.endswith(message)
    csv = pd.read_csv(pd.io.common.StringIO(_cli(capsys, db, "--format", "csv")))
    assert csv["message"].tolist() == alerts["message"].tolist()
    assert csv["value"].tolist() == pytest.approx(alerts["value"].tolist())


def test_cli_rejects_bad_input(db, capsys):
    assert main(["alerts", "--db", str(db), "--day", "2026-03-01", "--from", "2026-03-05"]) == 1
    assert "after --day" in capsys.readouterr().err
    assert main(["alerts", "--db", str(db), "--where", "vendor"]) == 1
    capsys.readouterr()
    for lag, said in (("-1", "-1 days: give 0 to 365"), ("999999999", "give 0 to 365"),
                      ("2.5", "'2.5' is not a whole number of days")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_:
            main(["alerts", "--db", str(db), "--qa-lag-days", lag])
        assert exit_.value.code == 2 and said in capsys.readouterr().err
    # An --as-of in the calendar's first days: no day's audits complete, nothing fails.
    assert main(["alerts", "--db", str(db), "--day", "2026-03-20", "--as-of", "0001-01-02",
                 "--format", "json"]) == 0  # fmt: skip
    listed = json.loads(capsys.readouterr().out)
    assert "qa_coverage" not in {a["kind"] for a in listed}


def test_critical_error_alerts_follow_the_exact_test_and_the_per_vendor_target(db, gw):
    """`critical_errors`: every vendor x workflow whose critical errors (here every error:
    approve -> remove is under-enforcement, critical by the default severity rules) over the
    window are above its critical-error target by scipy's one-sided exact binomial test (at
    half the false-alarm rate: two windows) with enough excess; a per-vendor target in the
    workflow silences it."""
    alerts = _by_kind(monitor.alerts(gw, BASE, D, as_of=AS_OF), "critical_errors")
    a = _audited()
    a = a[a["day"] >= START]
    target = Config().targets.default.critical_error_rate
    assert target is not None
    alpha = CONFIG.monitor.false_alarm_rate / 2
    want = []
    for (vendor, workflow), grp in a.groupby(["vendor", "workflow"]):
        k, n = int(grp["error"].sum()), len(grp)
        decisions = len(_decided(vendor, workflow).query("day >= @START"))
        p = binomtest(k, n, target, alternative="greater").pvalue
        if p < alpha and decisions * (k / n - target) >= CONFIG.monitor.min_impact:
            want.append((vendor, workflow, k / n, n))
    assert want == [("v1", "hate_speech", 23 / 280, 280)]  # 13 days x 1 + 10 on OOC_DAY
    got = [(r["vendor"], r["workflow"], r["value"], r["n"]) for r in alerts.to_dict("records")]
    assert got == want
    (rec,) = alerts.to_dict("records")
    assert rec["threshold"] == target and rec["measure"] == "critical_error_rate"
    assert rec["severity"] == "critical"  # p far below 0.001 and 280 x (8.2% - 1%) >= 5
    assert "23 critical errors in 280 audits" in rec["message"]

    lenient = CONFIG.model_copy(
        update={"targets": Targets(workflows={"hate_speech": WorkflowTargets(
            vendors={"v1": TargetValues(critical_error_rate=0.10)})})}
    )  # fmt: skip
    with Gateway(db, config=lenient) as other:
        quiet = _by_kind(monitor.alerts(other, BASE, D, as_of=AS_OF), "critical_errors")
        assert quiet.empty
        tiles = monitor.tiles(monitor.daily(other, BASE, D), D, lenient, "hate_speech")
    v1 = tiles[(tiles["vendor"] == "v1") & (tiles["kpi"] == "critical_error_rate")].iloc[0]
    on_d = _audited("v1").query("day == @D")  # hate_speech's 20 audits and spam's 1
    assert v1["target"] == 0.10 and v1["value"] == on_d["error"].mean() and v1["status"] == "met"
    assert v1["n"] == len(on_d) == 21
