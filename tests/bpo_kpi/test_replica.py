"""The dashboard's read replica: an ingest never waits for readers, readers never see a half-
written state, and new data shows once the ingest has committed."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bpo_kpi import replica
from bpo_kpi.db import DatabaseBusy, connect
from bpo_kpi_cli.main import main
from kpi.gateway import Gateway

HEADER = ["decision_id", "item_id", "vendor", "site", "workflow", "market", "priority",
          "reviewer_id", "decision", "policy", "enqueued_at", "claimed_at", "decided_at",
          "due_at"]  # fmt: skip


def write_decisions(path: Path, ids: range) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in ids:
            w.writerow([f"d{i}", f"i{i}", "northwind", "northwind_berlin", "hate_speech", "de_DE",
                        "p1", f"r{i % 7}", "remove", "HS-1", "2026-11-02T08:00:00Z",
                        "2026-11-02T08:05:00Z", "2026-11-02T08:20:00Z", ""])  # fmt: skip
    return path


def ingest(db: Path, file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "decisions", str(file), "--db", str(db), "--quiet"]) == 0
    capsys.readouterr()


def count(path: Path) -> int:
    with Gateway(path) as gw:
        return int(gw.scalar("SELECT count(*) FROM decisions"))


def test_replica_path_sits_next_to_the_database(tmp_path: Path) -> None:
    assert replica.replica_path(tmp_path / "bpo_kpi.duckdb") == tmp_path / "bpo_kpi.replica.duckdb"
    assert replica.replica_path(tmp_path / "x") == tmp_path / "x.replica.duckdb"


def test_refresh_copies_the_committed_state(tmp_path: Path, capsys) -> None:
    db = tmp_path / "k.duckdb"
    assert replica.ensure(db) is None  # no database: nothing to publish, nothing created
    assert not db.exists()
    ingest(db, write_decisions(tmp_path / "a.csv", range(50)), capsys)
    # The ingest published the replica, although there was none.
    v1 = replica.version(db)
    assert v1 is not None and not replica.is_stale(db)
    assert count(replica.current(db)) == 50
    assert replica.ensure(db) == v1  # unchanged database: same replica file
    assert replica.replica_path(db).resolve() == replica.current(db)
    # A change by another writer (not an ingest, so not published) makes it stale: the next
    # `ensure` publishes it.
    con = connect(db)
    con.execute("DELETE FROM decisions WHERE decision_id = 'd0'")
    con.close()
    assert replica.is_stale(db)
    v2 = replica.ensure(db)
    assert v2 is not None and v2 != v1 and not replica.is_stale(db)
    assert count(replica.current(db)) == 49


def test_ingest_is_not_blocked_by_an_open_reader_and_publishes_on_commit(
    tmp_path: Path, capsys
) -> None:
    db = tmp_path / "k.duckdb"
    ingest(db, write_decisions(tmp_path / "a.csv", range(50)), capsys)
    replica.ensure(db)
    reader = Gateway(replica.current(db))  # the dashboard, open all day
    try:
        started = time.monotonic()
        ingest(db, write_decisions(tmp_path / "b.csv", range(50, 80)), capsys)
        assert time.monotonic() - started < 10  # no waiting for the reader
        # The open reader keeps a consistent view of the old replica...
        assert int(reader.scalar("SELECT count(*) FROM decisions")) == 50
    finally:
        reader.close()
    # ...and the ingest has already published the new state for the next reader.
    assert not replica.is_stale(db)
    assert count(replica.current(db)) == 80
    assert count(db) == 80
    # Each refresh is a new file (DuckDB caches databases by path within a process); the
    # previous one is kept for readers that are opening it, older ones are deleted.
    ingest(db, write_decisions(tmp_path / "c.csv", range(80, 90)), capsys)
    files = sorted(tmp_path.glob("k.replica-*.duckdb"))
    assert len(files) == 2 and files[-1] == replica.current(db)
    assert count(replica.current(db)) == 90


HOLD_WRITER = """
import sys, time
from bpo_kpi.db import connect
con = connect(sys.argv[1])
con.execute("BEGIN")
con.execute("DELETE FROM decisions")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
con.close()
"""


def test_while_a_writer_holds_the_database_readers_keep_the_last_replica(
    tmp_path: Path, capsys
) -> None:
    db = tmp_path / "k.duckdb"
    ingest(db, write_decisions(tmp_path / "a.csv", range(40)), capsys)
    v1 = replica.ensure(db)
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(db), "20"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
        # Make the database look newer than the replica, as it will once the writer commits:
        # the app's check must give up at once and keep the replica it had.
        later = replica.current(db).stat().st_mtime_ns + 10**10
        os.utime(db, ns=(later, later))
        assert replica.is_stale(db)
        started = time.monotonic()
        assert replica.ensure(db) == v1
        assert replica.refresh(db, wait=0.0) is False
        assert time.monotonic() - started < 2
        assert replica.version(db) == v1
        assert count(replica.current(db)) == 40
        with pytest.raises(DatabaseBusy, match=f"pid {writer.pid}"):
            connect(db, read_only=True, wait=0)
    finally:
        writer.kill()
        writer.wait()
    assert count(replica.current(db)) == 40


def test_without_a_replica_a_session_waits_for_the_refresh_under_way(tmp_path: Path, capsys):
    """Several sessions of a new server open at once and no replica exists yet: one refreshes,
    the others wait for it instead of reading "no data" (they used to give up at once)."""
    db = tmp_path / "k.duckdb"
    ingest(db, write_decisions(tmp_path / "a.csv", range(20)), capsys)
    for path in tmp_path.glob("k.replica*"):
        path.unlink()
    assert replica.current(db) is None and replica.is_stale(db)
    started, release = threading.Event(), threading.Event()

    def another_session_refreshing() -> None:
        with replica._refresh_lock(db, True):  # holds the refresh lock, as a refresh does
            started.set()
            release.wait(5)

    other = threading.Thread(target=another_session_refreshing)
    other.start()
    started.wait(5)
    threading.Timer(0.3, release.set).start()
    version = replica.ensure(db)
    other.join()
    assert version is not None and count(Path(version)) == 20
