"""Data health page: freshness, QA coverage adequacy, ingest runs, rejected rows and orphan audits
as the database holds them (read here with plain queries and the sample-size formula), for the
default view, a filtered one with a rejected file, and a role that may not see raw rows; and,
on a database built through the real ingest with every kind of trouble (a whole-file failure
by a missing column, another by bad encoding, a rolled-back file loaded later, a warning, a
stale re-send, a correction, an edit after QA audit, a rejected row whose text looks like
Markdown), that what needs action comes first and every number and row equals kpi.health's."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from bpo_kpi.config import Config
from bpo_kpi.db import AUDIT_COLUMNS, DECISION_COLUMNS, connect
from ingest import IngestError, ingest_files
from kpi import health, monitor
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
        # Up to the last day whose audits are complete, as QA coverage counts them.
        end = max(start, min(last, monitor.audits_complete_through(gw)))
        query = KpiQuery(by=("vendor", "workflow"), start=start, end=end, where=where or {},
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
    assert tiles["Audit sample adequate"] == f"{n_ok} of {len(want)}"
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
    assert "Access log" not in [s.value for s in at.subheader]  # admins only


def test_admins_see_the_access_log(sample_db, run_page):
    from bpo_kpi.state import StateStore

    with StateStore(sample_db) as store:
        store.log_access("eve@elsewhere.example", None, "denied")
    at = run_page(PAGE, {"vendor": "northwind"})
    assert not at.exception
    assert "Access log" in [s.value for s in at.subheader]
    (log,) = in_section(at, "health_access")
    # newest first: this run's views (the Overview, then Data health with its filters), and
    # the refusal logged before
    assert log["event"].tolist() == ["view", "view", "denied"]
    assert log["page"].tolist()[:2] == ["Data health", "Overview"]
    assert "vendor=northwind" in log["detail"].iat[0]
    assert log["who"].iat[0].endswith("(single-user)") and log["role"].iat[0] == "admin"
    assert log["who"].iat[2] == "eve@elsewhere.example"


# --- a database with every kind of trouble, through the real ingest -----------------------------

DEC = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
AUD = [c for c, _, _ in AUDIT_COLUMNS if c != "updated_at"]
HOSTILE_LABEL = "**nuke**<br>"  # Markdown / HTML in a file's value: must show as text
SECTIONS = [
    "Runs that loaded nothing",
    "Freshness per vendor",
    "Rejected rows",
    "Warnings: rows loaded with a field fixed",
    "Vendor integrity",
    "Audit sample adequacy",
    "Ingest runs",
    "Orphan audits",
    "Access log",  # unrestricted roles only
]


def _decision(did: str, label: str = "remove", policy: str = "HS1", **values: str) -> dict:
    row = dict.fromkeys(DEC, "")
    row.update(
        decision_id=did, item_id=f"item-{did}", vendor="northwind", site="northwind_berlin",
        workflow="hate_speech", market="de_DE", priority="p1",
        reviewer_id="northwind_berlin-r0001", decision=label, policy=policy,
        enqueued_at="2026-11-20T08:00:00Z", claimed_at="2026-11-20T08:05:00Z",
        decided_at="2026-11-20T08:30:00Z",
    )  # fmt: skip
    row.update(values)
    return row


def _csv(path, rows, columns=DEC):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


@pytest.fixture
def issues_db(sample_db, tmp_path):
    """The sample database plus, through the real ingest (runs 4-11):

    4 northwind_1.csv: hx-stale (approve) and hx-edit (remove, HS1), inserted;
    5 qa.csv: an audit of hx-edit;
    6 northwind_2.csv: hx-stale corrected, hx-edit changed after its audit (limit, HS3),
      hx-warn with claimed_at 0001 (loaded, emptied: a warning), hx-bad rejected (its label
      is Markdown);
    7 northwind_3.csv: hx-stale's first version again: stale, not applied;
    8 no_enqueued.csv: failed, no enqueued_at column;
    9 + 10 late.csv with latin1.csv in one command: latin1.csv is not UTF-8 (failed), so
      late.csv is rolled back; 11 late.csv alone: loaded (so run 9 needs nothing).
    """
    cfg = Config()
    first = _csv(tmp_path / "northwind_1.csv", [_decision("hx-stale", "approve", ""),
                                                _decision("hx-edit")])  # fmt: skip
    audit = dict.fromkeys(AUD, "")
    audit.update(
        audit_id="hx-a1", decision_id="hx-edit", auditor_id="qa-9",
        audited_at="2026-11-21T09:00:00Z", qa_decision="remove", qa_policy="HS1",
    )  # fmt: skip
    audits = _csv(tmp_path / "qa.csv", [audit], AUD)
    second = _csv(tmp_path / "northwind_2.csv", [
        _decision("hx-stale", "remove", "HS2"),
        _decision("hx-edit", "limit", "HS3"),
        _decision("hx-warn", claimed_at="0001-01-01T00:00:00Z"),
        _decision("hx-bad", HOSTILE_LABEL, ""),
    ])  # fmt: skip
    resend = _csv(tmp_path / "northwind_3.csv", [_decision("hx-stale", "approve", "")])
    no_column = _csv(tmp_path / "no_enqueued.csv", [_decision("hx-x")],
                     [c for c in DEC if c != "enqueued_at"])  # fmt: skip
    latin1 = tmp_path / "latin1.csv"
    text = ",".join(DEC) + "\n" + ",".join(_decision("hx-é").values()) + "\n"
    latin1.write_bytes(text.encode("latin-1"))
    late = _csv(tmp_path / "late.csv", [_decision("hx-late")])
    con = connect(sample_db)
    try:
        for kind, files in [("decisions", [first]), ("audits", [audits]),
                            ("decisions", [second]), ("decisions", [resend])]:  # fmt: skip
            ingest_files(
                con, kind, files, config=cfg, vendor="northwind" if kind != "audits" else None
            )
        for files in ([no_column], [late, latin1]):
            with pytest.raises(IngestError):
                ingest_files(con, "decisions", files, config=cfg, vendor="northwind")
        ingest_files(con, "decisions", [late], config=cfg, vendor="northwind")
    finally:
        con.close()
    return sample_db


def in_section(at, key: str) -> list[pd.DataFrame]:
    return [d.value for d in at.container(key=key).dataframe]


def texts(at) -> list[str]:
    """Every text the page rendered as Markdown (messages, captions, Markdown)."""
    elements = [*at.markdown, *at.caption, *at.error, *at.warning, *at.success, *at.info]
    return [e.value for e in elements]


def test_what_needs_action_comes_first(issues_db, run_page):
    at = run_page(PAGE)
    assert not at.exception
    with Gateway(issues_db) as gw:
        unfinished = health.unfinished_runs(gw)
        runs = health.ingest_runs(gw)
        reasons = health.rejection_reasons(gw)
        warnings = health.warning_summary(gw)
        integrity = health.vendor_integrity(gw)
    assert [s.value for s in at.subheader] == SECTIONS
    tiles = {m.label: m.value for m in at.metric}
    assert list(tiles)[:4] == ["Runs that loaded nothing", "Rejected rows",
                               "Edited after QA audit", "Vendors with stale data"]  # fmt: skip
    assert tiles["Runs that loaded nothing"] == str(len(unfinished)) == "2"
    assert tiles["Rejected rows"] == str(reasons["rows"].sum()) == "1"
    assert tiles["Warnings"] == str(warnings["rows"].sum()) == "1"
    assert tiles["Edited after QA audit"] == str(integrity["edited_after_audit"].sum()) == "1"
    assert tiles["Ingest runs"] == str(len(runs)) == "11"

    # Whole-file failures, newest first, with the ingest's reason; the rolled-back file was
    # loaded later (run 11), so it needs nothing.
    assert any(e.value.startswith("2 ingest runs loaded nothing") for e in at.error)
    (shown,) = in_section(at, "health_unfinished")
    assert shown["run_id"].tolist() == unfinished["run_id"].tolist() == [10, 8]
    assert shown["status"].tolist() == unfinished["status"].tolist() == ["failed", "failed"]
    assert shown["file"].tolist() == unfinished["file"].tolist()
    assert shown["file"].iat[0].endswith("latin1.csv")
    errors = [e.removeprefix(f + ": ") for f, e in zip(unfinished["file"], unfinished["error"],
                                                       strict=True)]  # fmt: skip
    assert shown["why"].tolist() == errors
    assert errors[0].startswith("not utf-8 text (undecodable byte 0xe9 on line 2)")
    assert errors[1].startswith("missing required column(s) enqueued_at")
    status = dict(zip(runs["run_id"], runs["status"], strict=True))
    assert status[9] == "rolled_back" and status[11] == "ok"


def test_runs_show_the_new_counts(issues_db, run_page):
    at = run_page(PAGE)
    with Gateway(issues_db) as gw:
        want = health.ingest_runs(gw)
    (shown,) = in_section(at, "health_runs")
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), want, check_dtype=False)
    by_file = {
        f.rsplit("/", 1)[-1]: r for f, r in zip(want["file"], want.itertuples(), strict=False)
    }
    second, resend = by_file["northwind_2.csv"], by_file["northwind_3.csv"]
    assert (second.rows_inserted, second.rows_updated, second.rows_rejected, second.warnings) == (
        1, 2, 1, 1)  # fmt: skip
    assert (resend.rows_read, resend.rows_stale, resend.rows_updated) == (1, 1, 0)
    assert want.loc[want["run_id"] == 10, "error"].iat[0].endswith("vendor mapping")


def test_warnings_are_kept_apart_from_rejected_rows(issues_db, run_page):
    at = run_page(PAGE)
    with Gateway(issues_db) as gw:
        summary = health.warning_summary(gw)
        rows = health.ingest_warnings(gw)
        reasons = health.rejection_reasons(gw)
        rejected = health.rejected_rows(gw)
    got_summary, got_rows = in_section(at, "health_warnings")
    pd.testing.assert_frame_equal(got_summary.reset_index(drop=True), summary, check_dtype=False)
    pd.testing.assert_frame_equal(got_rows.reset_index(drop=True), rows, check_dtype=False)
    assert rows["column_name"].tolist() == ["claimed_at"]
    assert rows["value"].tolist() == ["0001-01-01T00:00:00Z"]
    assert "emptied" in rows["reason"].iat[0]

    by_reason, got_rejected = in_section(at, "health_rejected")
    assert by_reason["Run"].tolist() == reasons["run_id"].tolist()
    assert by_reason["Reason"].tolist() == reasons["reason"].tolist()
    assert by_reason["Rows"].tolist() == reasons["rows"].tolist() == [1]
    assert by_reason["retry"].tolist() == [f"bpo-kpi retry {r}" for r in reasons["run_id"]]
    pd.testing.assert_frame_equal(got_rejected.reset_index(drop=True), rejected, check_dtype=False)
    # The Markdown in the rejected label is shown as it was read, and only in tables.
    assert HOSTILE_LABEL in rejected["reason"].iat[0] and HOSTILE_LABEL in rejected["raw"].iat[0]
    assert any("`bpo-kpi retry RUN`" in t for t in texts(at))
    # Apart: the warned row was loaded (line 4), the rejected one was not (line 5).
    assert rows["source_line"].tolist() == [4] and rejected["source_line"].tolist() == [5]
    # Nothing from a file reached Markdown: no value, reason or file name.
    for t in texts(at):
        assert "nuke" not in t and ".csv" not in t and "0001-01-01" not in t, t


def test_vendor_integrity_and_edits_after_audit(issues_db, run_page):
    at = run_page(PAGE)
    with Gateway(issues_db) as gw:
        integrity = health.vendor_integrity(gw)
        edits = health.edits_after_audit(gw)
    (shown,) = in_section(at, "health_integrity")
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), integrity, check_dtype=False)
    northwind = integrity.set_index("vendor").loc["northwind"]
    # hx-stale and hx-edit were changed after their first decided version; hx-edit after QA.
    assert (northwind["corrected"], northwind["edited_after_audit"], northwind["edits"]) == (
        2, 1, 1)  # fmt: skip
    assert northwind["correction_rate"] == pytest.approx(2 / northwind["decided"])
    assert any("Audits stay scored against the version QA saw" in t for t in texts(at))

    (got,) = in_section(at, "health_edits")
    assert got["decision_id"].tolist() == edits["decision_id"].tolist() == ["hx-edit"]
    assert got["run_id"].tolist() == edits["run_id"].tolist()
    assert got["audits"].tolist() == edits["audits"].tolist() == [1]
    assert got["label"].tolist() == ["remove → limit"]
    assert got["policy"].tolist() == ["HS1 → HS3"]
    assert (edits["old_decision"].iat[0], edits["new_decision"].iat[0]) == ("remove", "limit")


def test_vendor_filter_applies_to_integrity(issues_db, run_page):
    at = run_page(PAGE, {"vendor": ["apex_bpo"]})
    assert not at.exception
    (shown,) = in_section(at, "health_integrity")
    assert shown["vendor"].tolist() == ["apex_bpo"]
    assert in_section(at, "health_edits") == []
    assert any("No decision was edited" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Edited after QA audit"] == "0"
    # Runs, rejects and warnings are about the whole database.
    assert {m.label: m.value for m in at.metric}["Runs that loaded nothing"] == "2"


def test_role_without_access_to_people_sees_no_warning_values(
    issues_db, run_page, monkeypatch, tmp_path
):
    config = tmp_path / "roles.toml"
    config.write_text("[roles.admin]\n[roles.analyst]\nsee_reviewers = false\n")
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_ROLE", "analyst")
    at = run_page(PAGE)
    assert not at.exception
    _, rows = in_section(at, "health_warnings")
    assert "value" not in rows.columns and rows["column_name"].tolist() == ["claimed_at"]
    _, rejected = in_section(at, "health_rejected")
    assert "raw" not in rejected.columns
    assert any("Values as read are hidden" in c.value for c in at.caption)


def test_healthy_database_says_so(sample_db, run_page):
    at = run_page(PAGE)
    successes = [s.value for s in at.success]
    assert any(s.startswith("No file is missing") for s in successes)
    assert "No warnings." in successes and "No rejected rows waiting." in successes
    assert in_section(at, "health_unfinished") == []
