"""The dashboard's read replica: a published copy of the database file.

DuckDB lets one process write a database file or many processes read it, never both at once
(docs/ARCHITECTURE.md §7). The dashboard must keep serving while `bpo-kpi ingest` writes, and an
ingest must not wait for a dashboard that is open all day. So the dashboard never opens the
database itself; it reads a *replica* next to it (`bpo_kpi.duckdb` -> `bpo_kpi.replica.duckdb`,
a link to the current copy `bpo_kpi.replica-<time>.duckdb`):

- `refresh` takes a read lock on the database (a read-only connection: no writer can be
  active while it is held), copies the file to a new name and repoints the link with
  `os.replace`, which is atomic. Readers that have an old copy open keep reading it (its inode
  lives until they close it); nothing they see is ever half-written. The previous copy is
  kept; older ones are deleted.
- `bpo-kpi ingest` publishes the replica right after its transaction commits (`publish`,
  creating it if there is none), so the dashboard shows new data once the ingest has
  committed, and CLI readers have a copy to read while the next ingest writes
  (`open_for_reading`).
- The dashboard calls `ensure` on every rerun: when the database file is newer than the replica
  and no writer holds it, the replica is refreshed; when a writer holds it, the dashboard keeps
  serving the replica it has. `version` identifies the replica file so caches and connections
  can be keyed by it; readers open `current(db)`, the link's target.

A copy costs one sequential read and write of the file (0.3 s for the 10M-decision benchmark
database, 408 MB) and doubles the disk the database takes. A refresh that was killed can leave
its unfinished copy (`.<name>.replica-<time>.duckdb.tmp`) or link behind; the next refresh
deletes them under the refresh lock, before it copies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import glob
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from bpo_kpi.db import (
    DEFAULT_LOCK_WAIT,
    SCHEMA_VERSION,
    DatabaseBusy,
    connect,
    ensure_schema,
    schema_version,
)


def replica_path(db: str | os.PathLike[str]) -> Path:
    """The replica's name: a symbolic link to the current replica file."""
    db = Path(db)
    return db.with_name(f"{db.stem}.replica{db.suffix or '.duckdb'}")


def _files(db: Path) -> list[Path]:
    link = replica_path(db)
    return sorted(link.parent.glob(f"{link.stem}-*{link.suffix}"))


def current(db: str | os.PathLike[str]) -> Path | None:
    """The current replica file (the link's target), or None if there is none.

    Each refresh writes a new file with its own name, because DuckDB caches open databases by
    path within a process: a reader that opened the old file would otherwise be handed that
    same (old) database when it opens the path again.
    """
    link = replica_path(db)
    try:
        target = link.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return None
    return target


def version(db: str | os.PathLike[str]) -> str | None:
    """Identity of the current replica (its file path), or None if there is none."""
    target = current(db)
    return None if target is None else str(target)


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
    target = current(db)
    return target is None or target.stat().st_mtime_ns < db_mtime


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
        _remove_leftovers(db)
        if not is_stale(db):
            return True
        try:
            con = connect(db, read_only=True, wait=wait)
        except duckdb.IOException:
            return False  # a writer holds the database; keep the replica we have
        link = replica_path(db)
        target = link.with_name(f"{link.stem}-{time.time_ns()}{link.suffix}")
        tmp = link.with_name(f".{target.name}.tmp")
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
            _upgrade(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            new_link = link.with_name(f".{link.name}.{os.getpid()}.link")
            new_link.unlink(missing_ok=True)
            new_link.symlink_to(target.name)
            os.replace(new_link, link)  # atomic: readers see the old or the new replica
        finally:
            con.close()
            tmp.unlink(missing_ok=True)
        # Keep the previous file for readers that are just opening it; older ones go (a reader
        # that still has one open keeps reading it until it closes).
        for old in _files(db)[:-2]:
            old.unlink(missing_ok=True)
    return True


def publish(db: str | os.PathLike[str], report: Callable[[str], None] = lambda _: None) -> bool:
    """After a writer commits: publish the committed state as the replica (creating it if there
    is none), which the dashboard reads, and CLI readers too while a later ingest holds the
    database. Says what happened through `report`; returns True if it was published.

    Not waiting: if another writer took the database right after our commit, it publishes (our
    data included) when it commits, and the dashboard refreshes a stale replica.
    """
    if refresh(db, wait=0.0):
        report(f"replica published: {replica_path(db)}")
        return True
    report("replica not published now (another process writes the database)")
    return False


def _remove_leftovers(db: Path) -> None:
    """Delete the unfinished copies and links of refreshes that were killed.

    Only called under the refresh lock: no other process is writing one at the time.
    """
    link = replica_path(db)
    patterns = (
        f".{glob.escape(link.stem)}-*{glob.escape(link.suffix)}.tmp*",  # copy (and its .wal)
        f".{glob.escape(link.name)}.*.link",
    )
    for pattern in patterns:
        for leftover in link.parent.glob(pattern):
            leftover.unlink(missing_ok=True)


def open_for_reading(
    db: str | os.PathLike[str],
    *,
    wait: float = DEFAULT_LOCK_WAIT,
    notify: Callable[[str], None] | None = None,
) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """Open `db` for reading without waiting for a writer; returns the connection and the file
    it reads.

    When another process writes the database, this reads the current replica instead (the
    state the last ingest published) and tells `notify` so: "database busy (an ingest is
    running, pid 1234): reading the copy published at 2026-12-05 12:03 UTC". Only when there is
    no replica yet does it wait for the writer, as `connect` does, up to `wait` seconds (then
    `DatabaseBusy`).
    """
    db = Path(db)
    try:
        return connect(db, read_only=True, wait=0), db
    except DatabaseBusy as busy:
        holder = busy.holder
    for _ in range(3):  # a refresh may delete the file we resolved before we open it: look again
        target = current(db)
        if target is None:
            break
        try:
            at = dt.datetime.fromtimestamp(target.stat().st_mtime, dt.UTC)
            con = connect(target, read_only=True, wait=0)
        except (FileNotFoundError, duckdb.IOException):
            continue
        if notify is not None:
            activity = "an ingest is running" if holder.is_ingest else "another process writes it"
            if holder.pid is not None:
                activity += f", pid {holder.pid}"
            notify(
                f"database busy ({activity}): reading the copy published at {at:%Y-%m-%d %H:%M} UTC"
            )
        return con, target

    def waiting(message: str) -> None:
        if notify is not None:
            notify(f"no published copy to read; {message}")

    return connect(db, read_only=True, wait=wait, on_wait=waiting), db


def _upgrade(copy: Path) -> None:
    """A database written by an older bpo-kpi gets the current schema in its (private) copy,
    so the dashboard can read it before the next ingest upgrades the database itself."""
    con = duckdb.connect(str(copy))
    try:
        if schema_version(con) < SCHEMA_VERSION:
            ensure_schema(con)
    finally:
        con.close()


def ensure(db: str | os.PathLike[str]) -> str | None:
    """Refresh the replica if it is stale and nobody is writing; return its version.

    While a replica exists, a session that finds another one refreshing reads the current
    replica (the refresh publishes the next). Without one yet, it waits for that refresh:
    giving up would read as "no data" (several sessions opening a new server at once)."""
    if is_stale(db):
        refresh(db, wait=0.0, block=current(db) is None)
    return version(db)
