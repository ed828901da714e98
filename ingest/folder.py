"""A drop folder: vendor feeds land as files in a folder; each new one is loaded as its own run.

`load_folder` makes one pass: the folder's files of a known format, in name order (daily feeds
are named by date), each not loaded before (same content, mapping and configuration: see
`ingest.load.already_loaded`) loaded in its own transaction, so one file's rows are committed
before the next file is read. The pass stops at the first file that fails: a later file may
correct an earlier one, so loading it first would apply the correction before the original.
`watch_folder` repeats passes: until no file is still being written (one-shot), or until
interrupted (watching). The CLI (`bpo-kpi ingest KIND FOLDER [--watch]`) only prints.

Files are skipped while they may still be being written (modified within `settle` seconds), and
hidden or temporary files (`.name`, `name~`, `*.part`, `*.tmp`, `*.crdownload`) are ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bpo_kpi.config import Config
from ingest.load import FileResult, ingest_files
from ingest.mapping import Kind, VendorMapping
from ingest.readers import IngestError, detect_format

TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart")


def candidate_files(folder: Path) -> list[Path]:
    """Files in `folder` a pass would consider: known formats, not hidden or temporary, by
    name."""
    if not folder.is_dir():
        raise IngestError(f"{folder}: not a folder")
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = path.name
        if name.startswith(".") or name.endswith("~") or name.lower().endswith(TEMPORARY_SUFFIXES):
            continue
        if not path.is_file():
            continue
        try:
            detect_format(path)
        except IngestError:
            continue
        found.append(path)
    return found


@dataclass
class FolderPass:
    """What one pass did."""

    loaded: list[FileResult] = field(default_factory=list)
    already_loaded: list[FileResult] = field(default_factory=list)
    settling: list[Path] = field(default_factory=list)  # still being written: next pass
    failed: Path | None = None  # failed in this pass, or earlier and not changed since
    error: IngestError | None = None  # this pass's failure (None: an earlier one still holds)
    waiting: list[Path] = field(default_factory=list)  # after a failed file: not tried

    @property
    def committed(self) -> bool:
        return bool(self.loaded)


# A file handled in this process, by (size, modification time, loaded): not hashed again until
# it changes; one that failed holds back the files after it until it changes.
Seen = dict[Path, tuple[int, int, bool]]


def load_folder(
    open_db: Callable[[], duckdb.DuckDBPyConnection],
    kind: Kind,
    folder: Path,
    *,
    config: Config,
    mapping: VendorMapping | None = None,
    vendor: str | None = None,
    settle: float = 5.0,
    seen: Seen | None = None,
    progress: Callable[[str], None] = lambda _: None,
    on_result: Callable[[FileResult], None] = lambda _: None,
) -> FolderPass:
    """One pass over `folder` (see the module docstring). The database is opened with
    `open_db` only when there is a file to look at, and closed after the pass, so a watching
    process does not hold the write lock while it waits."""
    seen = {} if seen is None else seen
    result = FolderPass()
    todo: list[Path] = []
    now = time.time()
    candidates = candidate_files(folder)
    for i, path in enumerate(candidates):
        stat = path.stat()
        earlier = seen.get(path)
        if earlier is not None and earlier[:2] == (stat.st_size, stat.st_mtime_ns):
            if not earlier[2]:  # failed before and not changed: later files wait for it
                result.failed = path
                result.waiting = [p for p in candidates[i + 1 :] if p not in seen]
                break
            continue
        if now - stat.st_mtime < settle:
            result.settling.append(path)
            continue
        todo.append(path)
    if not todo:
        return result
    con = open_db()
    try:
        for i, path in enumerate(todo):
            stat = path.stat()
            try:
                (outcome,) = ingest_files(
                    con, kind, [path], config=config, mapping=mapping, vendor=vendor,
                    progress=progress,
                )  # fmt: skip
            except IngestError as exc:
                result.failed, result.error = path, exc
                result.waiting = todo[i + 1 :]
                seen[path] = (stat.st_size, stat.st_mtime_ns, False)  # retried once it changes
                break
            seen[path] = (stat.st_size, stat.st_mtime_ns, True)
            if outcome.status == "already_loaded":
                result.already_loaded.append(outcome)
            else:
                result.loaded.append(outcome)
                on_result(outcome)
    finally:
        con.close()
    return result


def watch_folder(
    open_db: Callable[[], duckdb.DuckDBPyConnection],
    kind: Kind,
    folder: Path,
    *,
    config: Config,
    mapping: VendorMapping | None = None,
    vendor: str | None = None,
    settle: float = 5.0,
    every: float | None = None,
    progress: Callable[[str], None] = lambda _: None,
    on_result: Callable[[FileResult], None] = lambda _: None,
    on_failure: Callable[[FolderPass], None] = lambda _: None,
    publish: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> FolderPass:
    """Passes over `folder` (`load_folder`) that share what they have seen.

    After a pass that committed files, `publish` is called (e.g. to refresh the read replica);
    files found already loaded are counted through `progress`. A pass stopped by a failed file
    is handed to `on_failure` when that file fails, and again only when it fails anew (a new
    error, or another file), not on every pass it holds the feed back.

    One-shot (`every=None`): files still being written are waited for (`settle` seconds) and
    taken in a next pass, unless a file failed; returns the last pass. Watching (`every`
    seconds between passes): returns only by an exception, e.g. KeyboardInterrupt, after which
    an ingest cut short is rolled back and recorded as interrupted, and its file loads on the
    next start.
    """
    seen: Seen = {}
    reported_failure: Path | None = None
    while True:
        one_pass = load_folder(
            open_db, kind, folder, config=config, mapping=mapping, vendor=vendor, settle=settle,
            seen=seen, progress=progress, on_result=on_result,
        )  # fmt: skip
        if one_pass.committed:
            publish()
        if one_pass.already_loaded:
            progress(f"{len(one_pass.already_loaded)} file(s) already loaded")
        failed = one_pass.failed
        if failed is not None and (one_pass.error is not None or failed != reported_failure):
            on_failure(one_pass)
            reported_failure = failed
        if every is None:
            if one_pass.settling:
                sleep(settle)
                if failed is None:
                    continue
            return one_pass
        sleep(every)
