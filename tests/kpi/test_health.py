"""Data health (kpi.health) on a small database whose runs, rejects and orphans are known.

Runs (in order):
1. decisions_v1.csv (--vendor v1): d1, d2 and d-bad (label "nuke": rejected, CSV line 4).
2. decisions_v2.csv (--vendor v2): e1 (decided) and e2 (pending).
3. audits.csv: a1 (of d1), a2 (of e1) and a-orphan (of a decision that never arrived).
4. decisions_v1.csv again with d1's label corrected: d1 updated, d2 unchanged, d-bad rejected.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from bpo_kpi.config import Config, Role
from bpo_kpi.db import AUDIT_COLUMNS, DECISION_COLUMNS, connect
from ingest import IngestError, ingest_files
from kpi import health
from kpi.gateway import Gateway

CONFIG = Config(
    roles={
        "admin": Role(),
        "v1_lead": Role(vendors=["v1"]),
        "v2_lead": Role(vendors=["v2"]),
        "privacy": Role(see_reviewers=False),
    }
)
DEC_COLS = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
AUD_COLS = [c for c, _, _ in AUDIT_COLUMNS if c != "updated_at"]


def _decision(did: str, vendor: str, label: str | None, enq: str, dec: str | None) -> dict:
    return {
        "decision_id": did,
        "item_id": f"item-{did}",
        "vendor": vendor,
        "site": f"{vendor}-site",
        "workflow": "hate_speech",
        "market": "en_US",
        "priority": "p1",
        "reviewer_id": f"{vendor}-r1",
        "decision": label,
        "policy": None,
        "enqueued_at": enq,
        "claimed_at": None,
        "decided_at": dec,
        "due_at": None,
    }


def _audit(aid: str, did: str, qa: str, comment: str) -> dict:
    return {
        "audit_id": aid,
        "decision_id": did,
        "auditor_id": "qa-1",
        "audited_at": "2026-03-03T15:00:00+00:00",
        "qa_decision": qa,
        "qa_policy": None,
        "error_type": None,
        "severity": None,
        "dispute_status": None,
        "comment": comment,
    }


def _csv(rows: list[dict], columns: list[str], path: Path) -> Path:
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


V1_ROWS = [
    _decision("d1", "v1", "approve", "2026-03-02T09:00:00+00:00", "2026-03-02T10:00:00+00:00"),
    _decision("d2", "v1", "remove", "2026-03-03T11:30:00+00:00", "2026-03-03T12:00:00+00:00"),
    _decision("d-bad", "v1", "nuke", "2026-03-03T11:00:00+00:00", "2026-03-03T11:10:00+00:00"),
]
V2_ROWS = [
    _decision("e1", "v2", "approve", "2026-03-01T08:00:00+00:00", "2026-03-01T09:00:00+00:00"),
    _decision("e2", "v2", None, "2026-03-02T20:00:00+00:00", None),
]
AUDITS = [
    _audit("a1", "d1", "approve", "fine"),
    _audit("a2", "e1", "remove", "missed it"),
    _audit("a-orphan", "ghost-1", "remove", "decision not delivered"),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("health")
    path = root / "health.duckdb"
    v1 = _csv(V1_ROWS, DEC_COLS, root / "decisions_v1.csv")
    con = connect(path)
    try:
        ingest_files(con, "decisions", [v1], config=CONFIG, vendor="v1")
        ingest_files(
            con, "decisions", [_csv(V2_ROWS, DEC_COLS, root / "decisions_v2.csv")],
            config=CONFIG, vendor="v2",
        )  # fmt: skip
        ingest_files(con, "audits", [_csv(AUDITS, AUD_COLS, root / "audits.csv")], config=CONFIG)
        corrected = [dict(V1_ROWS[0], decision="remove"), *V1_ROWS[1:]]
        fixed = _csv(corrected, DEC_COLS, root / "decisions_v1_fix.csv")
        ingest_files(con, "decisions", [fixed], config=CONFIG, vendor="v1")
    finally:
        con.close()
    return path


def test_ingest_runs(db):
    with Gateway(db, config=CONFIG) as gw:
        runs = health.ingest_runs(gw)
        limited = health.ingest_runs(gw, limit=2)
    assert runs["run_id"].tolist() == [4, 3, 2, 1]  # newest first
    counts = runs.set_index("run_id")[
        ["kind", "vendor", "rows_read", "rows_inserted", "rows_updated", "rows_unchanged",
         "rows_rejected", "status"]
    ]  # fmt: skip
    rows = {k: tuple(None if pd.isna(x) else x for x in v) for k, v in counts.iterrows()}
    assert rows == {
        1: ("decisions", "v1", 3, 2, 0, 0, 1, "ok_with_rejects"),
        2: ("decisions", "v2", 2, 2, 0, 0, 0, "ok"),
        3: ("audits", None, 3, 3, 0, 0, 0, "ok"),
        4: ("decisions", "v1", 3, 0, 1, 1, 1, "ok_with_rejects"),
    }
    # Every run reconciles: read = inserted + updated + unchanged + rejected.
    parts = runs[["rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected"]]
    assert (parts.sum(axis=1) == runs["rows_read"]).all()
    assert runs["file"].str.endswith(".csv").all()
    assert (runs["finished_at"] >= runs["started_at"]).all()
    assert limited["run_id"].tolist() == [4, 3]


def test_rejected_rows(db):
    with Gateway(db, config=CONFIG) as gw:
        rejected = health.rejected_rows(gw)
        first = health.rejected_rows(gw, run_id=1)
        none = health.rejected_rows(gw, run_id=2)
        reasons = health.rejection_reasons(gw)
        limited = health.rejected_rows(gw, limit=1)
    assert rejected["run_id"].tolist() == [4, 1]
    assert rejected["source_line"].tolist() == [4, 4]  # header is line 1; d-bad is the 3rd row
    assert rejected["file"].tolist()[1].endswith("decisions_v1.csv")
    assert all("nuke" in r and "not a known label" in r for r in rejected["reason"])
    assert all("d-bad" in raw for raw in rejected["raw"])
    assert len(first) == 1 and first["run_id"].iat[0] == 1
    assert none.empty
    assert reasons["rows"].tolist() == [1, 1] and reasons["run_id"].tolist() == [4, 1]
    assert limited["run_id"].tolist() == [4]


def test_orphan_audits(db):
    with Gateway(db, config=CONFIG) as gw:
        orphans = health.orphan_audits(gw)
        n_facts = gw.scalar("SELECT count(*) FROM audit_facts")
    assert orphans["audit_id"].tolist() == ["a-orphan"]
    assert orphans["decision_id"].tolist() == ["ghost-1"]
    assert orphans["comment"].tolist() == ["decision not delivered"]
    assert n_facts == 3


def test_freshness(db):
    as_of = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
    with Gateway(db, config=CONFIG) as gw:
        fresh = health.freshness(gw, as_of=as_of).set_index("vendor")
    assert fresh.index.tolist() == ["v1", "v2"]
    # v1: newest event d2 decided 2026-03-03 12:00 -> 24 h; v2: e2 enqueued 03-02 20:00 -> 40 h.
    assert fresh.at["v1", "hours_since_data"] == pytest.approx(24.0)
    assert fresh.at["v2", "hours_since_data"] == pytest.approx(40.0)
    assert bool(fresh.at["v1", "fresh"]) and not bool(fresh.at["v2", "fresh"])  # threshold 36 h
    assert fresh["pending"].to_dict() == {"v1": 0, "v2": 1}
    assert fresh.at["v2", "last_decided_at"] == pd.Timestamp("2026-03-01T09:00:00Z")
    assert fresh.at["v2", "last_enqueued_at"] == pd.Timestamp("2026-03-02T20:00:00Z")
    later = Config(freshness_hours=48, roles=CONFIG.roles)
    with Gateway(db, config=later) as gw:
        assert health.freshness(gw, as_of=as_of)["fresh"].all()


def test_scoped_roles(db):
    """A vendor lead sees their vendor's runs, rejects and freshness, and no orphans (whose
    vendor is unknown); a role without access to people sees no raw rejected content."""
    as_of = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
    with Gateway(db, config=CONFIG, role="v1_lead") as gw:
        assert health.ingest_runs(gw)["run_id"].tolist() == [4, 1]
        assert health.rejected_rows(gw)["run_id"].tolist() == [4, 1]
        assert health.orphan_audits(gw).empty
        assert health.freshness(gw, as_of=as_of)["vendor"].tolist() == ["v1"]
    with Gateway(db, config=CONFIG, role="privacy") as gw:
        rejected = health.rejected_rows(gw)
        assert len(rejected) == 2 and rejected["raw"].isna().all()
        assert health.orphan_audits(gw)["comment"].isna().all()


# --- runs that loaded nothing, warnings, stored values outside the plausible range ---------------


@pytest.fixture
def troubled_db(tmp_path: Path) -> Path:
    """Runs: 1 v1 ok; 2 a file without enqueued_at (failed); 3 + 4 v2.csv with a non-UTF-8
    file in one command (v2.csv rolled back, the other failed); 5 v2.csv alone (ok: run 3 is
    resolved); 6 v1_again.csv interrupted before its commit; 7 warned.csv (v1) with two
    claimed_at values outside the plausible range and one pending row whose due_at is."""
    path = tmp_path / "troubled.duckdb"
    v1 = _csv(V1_ROWS[:2], DEC_COLS, tmp_path / "v1.csv")
    v2 = _csv(V2_ROWS, DEC_COLS, tmp_path / "v2.csv")
    no_enqueued = _csv(V1_ROWS[:1], [c for c in DEC_COLS if c != "enqueued_at"],
                       tmp_path / "no_enqueued.csv")  # fmt: skip
    latin1 = tmp_path / "latin1.csv"
    _csv([_decision("d-é", "v2", "approve", "2026-03-03T09:00:00+00:00", None)], DEC_COLS, latin1)
    latin1.write_bytes(latin1.read_text(encoding="utf-8").encode("latin-1"))
    again = _csv([dict(V1_ROWS[0], decision="remove")], DEC_COLS, tmp_path / "v1_again.csv")
    warned = _csv(
        [
            dict(_decision("w1", "v1", "approve", "2026-03-03T09:00:00+00:00",
                           "2026-03-03T10:00:00+00:00"), claimed_at="0001-01-01T00:00:00Z"),
            dict(_decision("w2", "v1", "approve", "2026-03-03T09:00:00+00:00",
                           "2026-03-03T10:00:00+00:00"), claimed_at="9999-12-31T00:00:00Z"),
            dict(_decision("w3", "v1", None, "2026-03-03T09:00:00+00:00", None),
                 due_at="9999-12-31T00:00:00Z"),
        ],
        DEC_COLS,
        tmp_path / "warned.csv",
    )  # fmt: skip

    def interrupt(step: str) -> None:
        if step == "before_commit":
            raise KeyboardInterrupt

    con = connect(path)
    try:
        ingest_files(con, "decisions", [v1], config=CONFIG, vendor="v1")
        with pytest.raises(IngestError):
            ingest_files(con, "decisions", [no_enqueued], config=CONFIG, vendor="v1")
        with pytest.raises(IngestError):
            ingest_files(con, "decisions", [v2, latin1], config=CONFIG, vendor="v2")
        ingest_files(con, "decisions", [v2], config=CONFIG, vendor="v2")
        with pytest.raises(KeyboardInterrupt):
            ingest_files(con, "decisions", [again], config=CONFIG, vendor="v1", fault=interrupt)
        ingest_files(con, "decisions", [warned], config=CONFIG, vendor="v1")
    finally:
        con.close()
    return path


def test_unfinished_runs(troubled_db):
    with Gateway(troubled_db, config=CONFIG) as gw:
        runs = health.ingest_runs(gw).set_index("run_id")
        unfinished = health.unfinished_runs(gw)
        failed = health.ingest_runs(gw, status="failed")
    assert runs["status"].to_dict() == {
        1: "ok", 2: "failed", 3: "rolled_back", 4: "failed", 5: "ok", 6: "interrupted", 7: "ok"
    }  # fmt: skip
    # Run 3's file was loaded by run 5; the others' files never were. Newest first.
    assert unfinished["run_id"].tolist() == [6, 4, 2]
    assert unfinished["status"].tolist() == ["interrupted", "failed", "failed"]
    why = dict(zip(unfinished["run_id"], unfinished["error"], strict=True))
    assert "missing required column(s) enqueued_at" in why[2]
    assert "not utf-8 text" in why[4]
    assert why[6]  # an interrupted run keeps a reason too
    assert unfinished["file"].str.endswith(("no_enqueued.csv", "latin1.csv", "v1_again.csv")).all()
    assert (unfinished[["rows_inserted", "rows_updated"]] == 0).all().all()
    assert failed["run_id"].tolist() == [4, 2]
    assert runs.at[3, "error"].startswith("not loaded: latin1.csv failed in the same command")


def test_unfinished_runs_are_scoped(troubled_db):
    with Gateway(troubled_db, config=CONFIG, role="v1_lead") as gw:
        assert health.unfinished_runs(gw)["run_id"].tolist() == [6, 2]


def test_warning_summary(troubled_db):
    with Gateway(troubled_db, config=CONFIG) as gw:
        rows = health.ingest_warnings(gw)
        summary = health.warning_summary(gw)
        one_run = health.ingest_warnings(gw, run_id=7, limit=1)
        none = health.ingest_warnings(gw, run_id=1)
    assert rows["source_line"].tolist() == [2, 3, 4]  # the header is line 1
    assert rows["column_name"].tolist() == ["claimed_at", "claimed_at", "due_at"]
    assert rows["value"].tolist() == ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z",
                                      "9999-12-31T00:00:00Z"]  # fmt: skip
    assert all("outside the plausible range" in r and r.endswith("emptied") for r in rows["reason"])
    assert len(one_run) == 1 and none.empty
    # Per run, column and kind of flaw: the two claimed_at values are one kind.
    assert summary[["run_id", "vendor", "column_name", "rows"]].values.tolist() == [
        [7, "v1", "claimed_at", 2],
        [7, "v1", "due_at", 1],
    ]
    assert all("0001" not in w and "9999" not in w for w in summary["warning"])
    with Gateway(troubled_db, config=CONFIG, role="privacy") as gw:
        assert health.ingest_warnings(gw)["value"].isna().all()
    with Gateway(troubled_db, config=CONFIG, role="v1_lead") as gw:
        assert len(health.ingest_warnings(gw)) == 3
    with Gateway(troubled_db, config=CONFIG, role="v2_lead") as gw:
        assert health.ingest_warnings(gw).empty and health.warning_summary(gw).empty


def test_implausible_values_empty_for_a_database_ingest_wrote(db, troubled_db):
    for path in (db, troubled_db):
        with Gateway(path, config=CONFIG) as gw:
            assert health.implausible_values(gw).empty
