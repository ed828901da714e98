"""A database written by an older bpo-kpi (schema 2 or 3) is upgraded on its next writable open
or by `bpo-kpi upgrade`; until then readers say what to do instead of failing on a missing
table or column."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from ingest_testkit import audit, decision, write_csv  # noqa: E402

from bpo_kpi.config import Config  # noqa: E402
from bpo_kpi.db import TIMES_CHECKED, connect, get_meta, schema_version  # noqa: E402
from bpo_kpi_cli.main import main  # noqa: E402
from ingest import ingest_files  # noqa: E402
from kpi.gateway import Gateway  # noqa: E402

# What schema 3 added, removed again to make a schema-2 database.
V3_TABLES = ("decisions_history", "qa_audits_history", "calibration_ratings_history",
             "edits_after_audit")  # fmt: skip
V3_COLUMNS = {
    "ingest_runs": ("mapping_hash", "file_bytes", "source_columns", "retry_of"),
    "rejected_rows": ("resolved_run",),
    "decisions": ("updated_at", "version_run"),
    "qa_audits": ("updated_at", "version_run", "scored_decision", "scored_policy"),
    "calibration_ratings": ("updated_at", "version_run"),
    "audit_facts": ("error_category", "error_counts", "edited_after_audit"),
}
# What schema 4 added: the audits' dispute times.
V4_COLUMNS = {
    table: ("disputed_at", "dispute_resolved_at")
    for table in ("qa_audits", "qa_audits_history", "audit_facts")
}


def schema2_database(tmp_path: Path) -> Path:
    db = tmp_path / "old.duckdb"
    con = connect(db)
    try:
        ingest_files(con, "decisions", [write_csv(tmp_path / "d.csv", [decision("d1")])],
                     config=Config())  # fmt: skip
        ingest_files(con, "audits", [write_csv(tmp_path / "a.csv", [
            audit("a1", "d1", qa_decision="approve")])], config=Config())  # fmt: skip
        for table, columns in V4_COLUMNS.items():
            for column in columns:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        for table in V3_TABLES:
            con.execute(f"DROP TABLE {table}")
        for table, columns in V3_COLUMNS.items():
            for column in columns:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        con.execute("DELETE FROM meta WHERE key IN ('times_checked', 'config_hash')")
    finally:
        con.close()
    return db


def test_readers_ask_for_an_upgrade_and_upgrade_brings_the_schema(tmp_path, capsys):
    db = schema2_database(tmp_path)
    with pytest.raises(ValueError, match=r"older bpo-kpi \(schema 2, now 4\); `bpo-kpi upgrade"):
        Gateway(db, config=Config())
    assert main(["kpis", "--db", str(db)]) == 1
    assert "bpo-kpi upgrade" in capsys.readouterr().err

    assert main(["upgrade", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "schema 4 (current: 4)" in out and "stored times: all plausible" in out
    con = connect(db, read_only=True)
    try:
        assert schema_version(con) == 4
        assert get_meta(con, TIMES_CHECKED) == "upgrade"
        # The existing audit is pinned to the decision as it stood (backfill).
        assert con.execute(
            "SELECT scored_decision, scored_policy, version_run FROM qa_audits"
        ).fetchall() == [("remove", "hs_1", 2)]
    finally:
        con.close()
    with Gateway(db, config=Config()) as gw:
        assert gw.scalar("SELECT count(*) FROM decisions_history") == 0


def test_an_ingest_upgrades_too_and_audit_facts_are_derived_again(tmp_path):
    db = schema2_database(tmp_path)
    con = connect(db)
    try:
        ingest_files(con, "decisions", [write_csv(tmp_path / "e.csv", [
            decision("d1", decision="approve", policy="")])], config=Config())  # fmt: skip
        # The audit stays scored against the label it was pinned to by the backfill.
        assert con.execute(
            "SELECT decision, error_type, error_category, edited_after_audit FROM audit_facts"
        ).fetchall() == [("remove", "over_enforcement", "over_enforcement", True)]
        assert con.execute("SELECT count(*) FROM edits_after_audit").fetchone() == (1,)
    finally:
        con.close()


def test_a_schema_3_database_gets_the_dispute_times(tmp_path, capsys):
    """Schema 4 added the audits' dispute times: a reader of a schema-3 database is told to
    upgrade (not a binder error on a missing column), and the upgrade adds them, empty."""
    db = tmp_path / "v3.duckdb"
    con = connect(db)
    try:
        ingest_files(con, "decisions", [write_csv(tmp_path / "d.csv", [decision("d1")])],
                     config=Config())  # fmt: skip
        ingest_files(con, "audits", [write_csv(tmp_path / "a.csv", [
            audit("a1", "d1", qa_decision="approve")])], config=Config())  # fmt: skip
        for table, columns in V4_COLUMNS.items():
            for column in columns:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    finally:
        con.close()
    assert main(["kpis", "--db", str(db)]) == 1
    assert "schema 3, now 4" in capsys.readouterr().err
    assert main(["upgrade", "--db", str(db)]) == 0
    with Gateway(db, config=Config()) as gw:
        assert gw.scalar("SELECT count(*) FROM qa_audits WHERE disputed_at IS NULL") == 1
    capsys.readouterr()
    assert main(["kpis", "--db", str(db), "--kpis", "audits,dispute_rate", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["audits"] == 1
