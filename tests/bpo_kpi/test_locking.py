"""DuckDB lets one process write a database file or many read it, never both. A writer that
finds the database locked waits, says for whom, and gives up with a one-line error; CLI readers
never wait for a writer (they read the published replica); killed replica refreshes leave no
litter. Each scenario holds the lock in a real second process."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpo_kpi import replica
from bpo_kpi.db import DatabaseBusy, LockHolder, connect, lock_holder, writer_file
from bpo_kpi.replica import publish as _publish_replica
from bpo_kpi_cli.main import main
from kpi.gateway import Gateway

# A writer that holds the database (through bpo_kpi, so it records who it is) with an
# uncommitted change: readers that get through see the state before it.
HOLD = """
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

# A writer that does not go through bpo_kpi (a notebook, the duckdb CLI): no sidecar.
RAW_HOLD = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def make_db(db: Path, rows: int) -> None:
    con = connect(db)
    con.execute(
        "INSERT INTO decisions (decision_id, item_id, vendor, workflow, reviewer_id, decision, "
        "enqueued_at, decided_at) "
        "SELECT 'd' || i, 'i' || i, 'northwind', 'hate_speech', 'r' || (i % 7), 'remove', "
        "TIMESTAMPTZ '2026-11-02 08:00:00+00' + i * INTERVAL 1 MINUTE, "
        "TIMESTAMPTZ '2026-11-02 08:20:00+00' + i * INTERVAL 1 MINUTE FROM range(?) t(i)",
        [rows],
    )
    con.close()


def count(path: Path) -> int:
    with Gateway(path) as gw:
        return int(gw.scalar("SELECT count(*) FROM decisions"))


class Holder:
    def __init__(self, script: str, db: Path, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "holding"
        self.since = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid


@pytest.fixture
def hold() -> Iterator[type[Holder]]:
    started: list[Holder] = []

    class Tracked(Holder):
        def __init__(self, script: str, db: Path, seconds: float) -> None:
            super().__init__(script, db, seconds)
            started.append(self)

    yield Tracked
    for holder in started:
        holder.proc.kill()
        holder.proc.wait()
        if holder.proc.stdout is not None:  # else an unclosed pipe warns in a later test
            holder.proc.stdout.close()


def wait_config(tmp_path: Path, seconds: float) -> Path:
    cfg = tmp_path / "wait.toml"
    cfg.write_text(f"[ingest]\nlock_wait_seconds = {seconds}\n")
    return cfg


def test_a_writer_gives_up_after_the_wait_naming_the_holder(tmp_path: Path, hold) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 10)
    holder = hold(HOLD, db, 30)
    said: list[str] = []
    started = time.monotonic()
    with pytest.raises(DatabaseBusy) as info:
        connect(db, wait=2, on_wait=said.append)
    assert 1.9 <= time.monotonic() - started < 4
    # Told once that it waits, and for whom (from the holder's sidecar: pid, command, since).
    assert len(said) == 1
    assert said[0].startswith(
        f"waiting for the database: another process holds it (pid {holder.pid}, `"
    )
    assert (
        "-c ..." in said[0] and " since " in said[0] and said[0].endswith("; giving up after 2 s")
    )
    message = str(info.value)
    assert message.startswith(
        f"the database {db} is busy: another process holds it (pid {holder.pid},"
    )
    assert message.endswith("; gave up after 2 s") and "\n" not in message
    assert info.value.holder.pid == holder.pid


def test_the_cli_gives_up_with_one_line_and_exit_code_1(tmp_path: Path, hold, capsys) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 10)
    file = tmp_path / "more.csv"
    with file.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["decision_id", "item_id", "vendor", "workflow", "reviewer_id", "enqueued_at"],
             ["x1", "i1", "northwind", "hate_speech", "r1", "2026-11-03T08:00:00Z"]]
        )  # fmt: skip
    cfg = wait_config(tmp_path, 1)
    holder = hold(HOLD, db, 30)
    run = subprocess.run(
        [sys.executable, "-m", "bpo_kpi_cli", "ingest", "decisions", str(file), "--db", str(db),
         "--config", str(cfg), "--quiet"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith(
        f"waiting for the database: another process holds it (pid {holder.pid}"
    )
    assert lines[-1].startswith(f"error: the database {db} is busy: ")
    assert lines[-1].endswith("; gave up after 1 s")
    # A reader with no published copy to fall back to waits the same configured time.
    assert not replica.current(db)
    assert main(["kpis", "--db", str(db), "--config", str(cfg), "--format", "json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("no published copy to read; waiting for the database: ")
    assert err.strip().splitlines()[-1].endswith("; gave up after 1 s")


def test_a_waiting_writer_proceeds_as_soon_as_the_holder_exits(tmp_path: Path, hold) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 10)
    holder = hold(HOLD, db, 1.5)
    said: list[str] = []
    con = connect(db, wait=60, on_wait=said.append)
    waited = time.monotonic() - holder.since
    assert 1.0 < waited < 3.5  # the holder's 1.5 s, then at most one 0.5 s poll (and its exit)
    assert len(said) == 1 and said[0].startswith("waiting for the database: ")
    assert con.execute("SELECT count(*) FROM decisions").fetchone() == (10,)  # rolled back
    # Now this process holds it, and says so.
    record = json.loads(writer_file(db).read_text())
    assert record["pid"] == os.getpid() and record["command"]
    con.close()
    del con
    gc.collect()
    assert not writer_file(db).exists()


def test_a_second_ingest_waits_for_the_first_then_loads_and_publishes(
    tmp_path: Path, hold, capsys
) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 10)
    file = tmp_path / "more.csv"
    with file.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["decision_id", "item_id", "vendor", "workflow", "reviewer_id", "enqueued_at"],
             ["x1", "i1", "northwind", "hate_speech", "r1", "2026-11-03T08:00:00Z"]]
        )  # fmt: skip
    holder = hold(HOLD, db, 1.5)
    assert main(["ingest", "decisions", str(file), "--db", str(db), "--quiet"]) == 0
    assert time.monotonic() - holder.since < 5
    err = capsys.readouterr().err
    assert err.startswith(f"waiting for the database: another process holds it (pid {holder.pid}")
    assert count(db) == 11
    assert count(replica.current(db)) == 11  # published, although there was no replica


def test_a_reader_without_a_copy_waits_for_the_writer_then_reads(tmp_path: Path, hold) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 10)
    hold(HOLD, db, 1.5)
    said: list[str] = []
    started = time.monotonic()
    with Gateway(db, wait=60, notify=said.append) as gw:
        assert gw.source == db
        assert int(gw.scalar("SELECT count(*) FROM decisions")) == 10
    assert time.monotonic() - started < 5
    assert len(said) == 1
    assert said[0].startswith("no published copy to read; waiting for the database: ")


def test_cli_readers_read_the_published_copy_while_a_writer_holds_the_database(
    tmp_path: Path, hold, capsys
) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 40)
    assert replica.refresh(db)
    kpis = ["kpis", "--db", str(db), "--format", "json", "--as-of", "2026-11-10T00:00:00Z"]
    assert main(kpis) == 0
    expected = json.loads(capsys.readouterr().out)
    assert expected[0]["decisions"] == 40
    published = dt.datetime.fromtimestamp(replica.current(db).stat().st_mtime, dt.UTC)

    holder = hold(HOLD, db, 30)  # the writer has deleted every decision, uncommitted
    started = time.monotonic()
    assert main(kpis) == 0  # default configuration: would wait 600 s if it waited at all
    assert time.monotonic() - started < 5
    captured = capsys.readouterr()
    assert json.loads(captured.out) == expected
    assert captured.err == (
        f"database busy (another process writes it, pid {holder.pid}): reading the copy "
        f"published at {published:%Y-%m-%d %H:%M} UTC\n"
    )
    # Every read command does the same.
    for command in (
        ["gaps", "--format", "json"],
        ["alerts", "--format", "json", "--as-of", "2026-11-10T00:00:00Z"],
        ["rejects", "--format", "json"],
        ["calibration", "--format", "json"],
        ["publish", "--out", str(tmp_path / "published")],
    ):
        started = time.monotonic()
        assert main([*command, "--db", str(db)]) == 0, command
        assert time.monotonic() - started < 10
        assert "database busy (" in capsys.readouterr().err, command
    assert (tmp_path / "published" / "decisions.parquet").exists()
    # The dashboard never opens the database itself: only the replica.
    assert replica.ensure(db) == replica.version(db)
    assert count(replica.current(db)) == 40


def test_publishing_after_an_ingest_creates_the_replica(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 12)
    assert replica.current(db) is None
    said: list[str] = []
    _publish_replica(db, said.append)
    assert said == [f"replica published: {replica.replica_path(db)}"]
    assert count(replica.current(db)) == 12


def test_refresh_deletes_what_killed_refreshes_left_behind(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 5)
    assert replica.refresh(db)
    leftovers = [
        tmp_path / ".k.replica-1764900000000000000.duckdb.tmp",  # an unfinished copy
        tmp_path / ".k.replica-1764900000000000000.duckdb.tmp.wal",
        tmp_path / ".k.replica-1764900000000000001.duckdb.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"\0" * 4096)
    link = tmp_path / ".k.replica.duckdb.99999.link"  # a link that was never swapped in
    link.symlink_to("k.replica-1764900000000000000.duckdb")
    leftovers.append(link)
    others = [tmp_path / ".other.replica-1.duckdb.tmp", tmp_path / "k.replica-notes.txt"]
    for path in others:
        path.write_text("not ours")

    # While another process refreshes (it holds the refresh lock), its copy is left alone.
    with replica._refresh_lock(db, block=True):
        assert replica.refresh(db, block=False) is False
    assert all(os.path.lexists(p) for p in leftovers)

    current = replica.current(db)
    assert replica.refresh(db)  # up to date: no copy needed, the litter goes all the same
    assert not any(os.path.lexists(p) for p in leftovers)
    assert all(p.exists() for p in others)
    assert replica.current(db) == current and count(current) == 5


def test_a_sidecar_is_believed_only_for_the_live_process_holding_the_lock(
    tmp_path: Path, hold
) -> None:
    db = tmp_path / "k.duckdb"
    make_db(db, 3)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = {"pid": gone.pid, "command": "bpo-kpi ingest decisions old.csv",
             "since": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    writer_file(db).write_text(json.dumps(stale))
    holder = hold(RAW_HOLD, db, 30)  # a plain duckdb writer: records nothing
    with pytest.raises(DatabaseBusy) as info:
        connect(db, wait=0)
    assert info.value.holder.pid == holder.pid  # the PID DuckDB's lock error names
    assert "old.csv" not in str(info.value) and "-c ..." in str(info.value)
    # A live process that is not the one DuckDB names is not believed either.
    writer_file(db).write_text(json.dumps({**stale, "pid": os.getpid()}))
    error = f"Conflicting lock is held in /usr/bin/python3 (PID {holder.pid})."
    assert lock_holder(db, error).pid == holder.pid
    assert "old.csv" not in lock_holder(db, error).describe()


def test_how_a_holder_is_described() -> None:
    since = dt.datetime.now(dt.UTC).replace(hour=12, minute=3, second=10, microsecond=0)
    ingest = LockHolder(1234, "bpo-kpi ingest decisions big.csv", since)
    assert str(ingest) == (
        "another ingest holds it (pid 1234, `bpo-kpi ingest decisions big.csv`, since 12:03:10 UTC)"
    )
    old = LockHolder(
        1234, "bpo-kpi ingest decisions big.csv", dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    )
    assert "since 2026-12-01 09:00:00 UTC" in str(old)
    assert str(LockHolder(77, "python3 notebook.py", reader=True)) == (
        "a reader holds it (pid 77, `python3 notebook.py`)"
    )
    assert str(LockHolder()) == "another process holds it"
