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
from ingest import ingest_files
from kpi import health
from kpi.gateway import Gateway

CONFIG = Config(
    roles={"admin": Role(), "v1_lead": Role(vendors=["v1"]), "privacy": Role(see_reviewers=False)}
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
