"""The dashboard's read replica: a published copy of the database file.

DuckDB lets one process write a database file or many processes read it, never both at once
(see FIELD_NOTES). The dashboard must keep serving while `bpo-kpi ingest` writes, and an ingest
must not wait for a dashboard that is open all day. So the dashboard never opens the database
itself; it reads a *replica* next to it (`bpo_kpi.duckdb` -> `bpo_kpi.replica.duckdb`):

- `refresh` takes a read lock on the database (a read-only connection: no writer can be
  active while it is held), copies the file to a temporary name and swaps it in with
  `os.replace`, which is atomic. Readers that have the old replica open keep reading the old
  file (its inode lives until they close it); nothing they see is ever half-written.
- `bpo-kpi ingest` refreshes the replica right after its transaction commits (when a replica
  exists), so the dashboard shows new data once the ingest has committed.
- The dashboard calls `ensure` on every rerun: when the database file is newer than the replica
  and no writer holds it, the replica is refreshed; when a writer holds it, the dashboard keeps
  serving the replica it has. `version` identifies the replica file so caches and connections
  can be keyed by it.

A copy costs one sequential read and write of the file (0.3 s for the 10M-decision benchmark
database, 408 MB) and doubles the disk the database takes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from bpo_kpi.db import connect


def replica_path(db: str | os.PathLike[str]) -> Path:
    db = Path(db)
    return db.with_name(f"{db.stem}.replica{db.suffix or '.duckdb'}")


def version(db: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """Identity of the current replica file (inode, mtime, size), or None if there is none."""
    try:
        st = replica_path(db).stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def is_stale(db: str | os.PathLike[str]) -> bool:
    """True when the database exists and the replica is missing or older than it."""
    db = Path(db)
    try:
        db_mtime = db.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        db_mtime = max(db_mtime, wal.stat().st_mtime_ns)
    try:
        return replica_path(db).stat().st_mtime_ns < db_mtime
    except FileNotFoundError:
        return True


@contextlib.contextmanager
def _refresh_lock(db: Path, block: bool) -> Iterator[bool]:
    lock = replica_path(db).with_suffix(".lock")
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def refresh(db: str | os.PathLike[str], wait: float = 30.0, block: bool = True) -> bool:
    """Publish the database's committed state as the replica.

    Waits up to `wait` seconds for a writer to finish (0: give up at once). With `block=False`
    it also gives up when another process is already refreshing. Returns True if the replica
    now matches the database.
    """
    db = Path(db)
    if not db.exists():
        return False
    with _refresh_lock(db, block) as locked:
        if not locked:
            return False
        if not is_stale(db):
            return True
        try:
            con = connect(db, read_only=True, retries=wait)
        except duckdb.IOException:
            return False  # a writer holds the database; keep the replica we have
        target = replica_path(db)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            wal = db.with_name(db.name + ".wal")
            if wal.exists() and wal.stat().st_size > 0:
                # Uncheckpointed changes (e.g. after a crash): let DuckDB write a clean copy.
                catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
                con.execute("ATTACH ? AS replica_out", [str(tmp)])
                con.execute(f'COPY FROM DATABASE "{catalog}" TO replica_out')
                con.execute("DETACH replica_out")
            else:
                shutil.copyfile(db, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            con.close()
            tmp.unlink(missing_ok=True)
    return True


def ensure(db: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """Refresh the replica if it is stale and nobody is writing; return its version."""
    if is_stale(db):
        refresh(db, wait=0.0, block=False)
    return version(db)
