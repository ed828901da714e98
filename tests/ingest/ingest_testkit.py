"""Small helpers shared by the ingest tests: write fixture files, ingest them, read tables back.

Imported by the test modules as `ingest_testkit` (conftest.py puts this folder on sys.path).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from bpo_kpi.config import Config
from bpo_kpi.db import AUDIT_COLUMNS, CALIBRATION_COLUMNS, DECISION_COLUMNS, connect
from ingest import FileResult, VendorMapping, ingest_files, load_mapping

DATA = Path(__file__).resolve().parent / "data"

# Canonical columns a file usually carries (the optional vendor update time aside).
DEC = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
AUD = [c for c, _, _ in AUDIT_COLUMNS if c != "updated_at"]
CAL = [c for c, _, _ in CALIBRATION_COLUMNS if c != "updated_at"]

# Every table an ingest may write.
TABLES = (
    "decisions",
    "qa_audits",
    "calibration_ratings",
    "decisions_history",
    "qa_audits_history",
    "calibration_ratings_history",
    "audit_facts",
    "edits_after_audit",
    "ingest_runs",
    "rejected_rows",
    "ingest_warnings",
    "meta",
)

LABEL_HINT = "add a synonym to the vendor mapping [labels] or the label to the configuration"
KNOWN_LABELS = "approve, remove, limit, escalate, age_gate"


def utc(*args: int) -> datetime:
    """utc(2026, 3, 1, 10, 30) -> aware datetime in UTC (what DuckDB returns for TIMESTAMPTZ)."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def mapping(name: str) -> VendorMapping:
    """One of the test vendor mappings in tests/ingest/data/."""
    return load_mapping(DATA / f"{name}.toml")


# --- canonical rows ----------------------------------------------------------------------------


def decision(decision_id: str, **values: Any) -> dict[str, Any]:
    """A valid, decided canonical decision row; keyword arguments override columns."""
    row: dict[str, Any] = {
        "decision_id": decision_id,
        "item_id": f"item-{decision_id}",
        "vendor": "acme",
        "site": "manila",
        "workflow": "hate_speech",
        "market": "en",
        "priority": "p1",
        "reviewer_id": "rev-1",
        "decision": "remove",
        "policy": "hs_1",
        "enqueued_at": "2026-03-02T08:00:00Z",
        "claimed_at": "2026-03-02T08:10:00Z",
        "decided_at": "2026-03-02T08:30:00Z",
        "due_at": "",
    }
    row.update(values)
    return row


def audit(audit_id: str, decision_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "audit_id": audit_id,
        "decision_id": decision_id,
        "auditor_id": "qa-1",
        "audited_at": "2026-03-03T09:00:00Z",
        "qa_decision": "remove",
        "qa_policy": "",
        "error_type": "",
        "severity": "",
        "dispute_status": "",
        "comment": "",
    }
    row.update(values)
    return row


def rating(session_id: str, item_id: str, rater_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "session_id": session_id,
        "session_date": "2026-03-02",
        "workflow": "hate_speech",
        "item_id": item_id,
        "rater_id": rater_id,
        "vendor": "acme",
        "label": "remove",
        "policy": "hs_1",
        "is_golden": "false",
    }
    row.update(values)
    return row


# --- writing files -----------------------------------------------------------------------------


def csv_text(
    rows: Sequence[dict[str, Any]] | Sequence[Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
    crlf: bool = False,
) -> str:
    """CSV text of `rows` (dicts, or lists with an explicit header)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    if header is None:
        header = list(rows[0].keys())  # type: ignore[union-attr]
    writer.writerow(header)
    for row in rows:
        if isinstance(row, dict):
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])
        else:
            writer.writerow(row)
    return out.getvalue()


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]] | Sequence[Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
    crlf: bool = False,
    bom: bool = False,
    encoding: str = "utf-8",
) -> Path:
    data = csv_text(rows, header, delimiter=delimiter, crlf=crlf).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str]) -> Path:
    """One JSON object per line; a str record is written verbatim (for broken lines)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the database ------------------------------------------------------------------------------


@dataclass
class Env:
    """A fresh database file plus a folder for input files."""

    dir: Path
    db: Path
    con: duckdb.DuckDBPyConnection

    @classmethod
    def create(cls, folder: Path) -> Env:
        db = folder / "test.duckdb"
        return cls(dir=folder, db=db, con=connect(db))

    def path(self, name: str) -> Path:
        return self.dir / name

    def ingest(
        self,
        kind: str,
        *files: Path,
        config: Config | None = None,
        mapping: VendorMapping | None = None,
        vendor: str | None = None,
        fault: Any = None,
        force: bool = False,
    ) -> list[FileResult]:
        kwargs: dict[str, Any] = {
            "config": config or Config(),
            "mapping": mapping,
            "vendor": vendor,
            "force": force,
        }
        if fault is not None:
            kwargs["fault"] = fault
        results = ingest_files(self.con, kind, list(files), **kwargs)  # type: ignore[arg-type]
        for r in results:
            assert_reconciled(self.con, r)
        return results

    def one(self, kind: str, file: Path, **kwargs: Any) -> FileResult:
        (result,) = self.ingest(kind, file, **kwargs)
        return result

    def rows(self, table: str, columns: str = "*", where: str = "") -> list[tuple[Any, ...]]:
        """All rows of `table` (selected columns), sorted by the whole row."""
        sql = f"SELECT {columns} FROM {table} {where} ORDER BY ALL"
        return self.con.execute(sql).fetchall()

    def row(self, table: str, key: str, value: str, columns: str = "*") -> tuple[Any, ...]:
        found = self.con.execute(
            f"SELECT {columns} FROM {table} WHERE {key} = ?", [value]
        ).fetchall()
        assert len(found) == 1, f"{table}.{key}={value}: {found}"
        return found[0]

    def snapshot(
        self, exclude_run_id: bool = False, runs: bool = True
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Full contents of every table (but ingest_runs unless `runs`), in a stable order."""
        snap = {}
        for table in TABLES:
            if table == "ingest_runs" and not runs:
                continue
            cols = "* EXCLUDE (run_id)" if exclude_run_id and table in FACT_TABLES else "*"
            snap[table] = self.con.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").fetchall()
        return snap

    def warnings(self, run_id: int) -> list[tuple[int, str, str, str]]:
        """(source_line, column, value, reason) of one run's warnings, by line."""
        return self.con.execute(
            "SELECT source_line, column_name, value, reason FROM ingest_warnings "
            "WHERE run_id = ? ORDER BY source_line, column_name",
            [run_id],
        ).fetchall()

    def rejects(self, run_id: int) -> list[tuple[int, str, str]]:
        """(source_line, raw, reason) of one run's rejected rows, by line."""
        return self.con.execute(
            "SELECT source_line, raw, reason FROM rejected_rows WHERE run_id = ? "
            "ORDER BY source_line",
            [run_id],
        ).fetchall()

    def reject_files(self, run_id: int) -> set[str]:
        rows = self.con.execute(
            "SELECT DISTINCT file FROM rejected_rows WHERE run_id = ?", [run_id]
        ).fetchall()
        return {r[0] for r in rows}

    def runs_after(self, run_id: int) -> list[tuple[str, str, str | None]]:
        """(file name, status, error) of the runs after `run_id`, in order."""
        rows = self.con.execute(
            "SELECT file, status, error FROM ingest_runs WHERE run_id > ? ORDER BY run_id",
            [run_id],
        ).fetchall()
        return [(Path(f).name, s, e) for f, s, e in rows]

    def last_run(self) -> int:
        (n,) = self.con.execute("SELECT coalesce(max(run_id), 0) FROM ingest_runs").fetchone()  # type: ignore[misc]
        return int(n)

    def close(self) -> None:
        self.con.close()


FACT_TABLES = ("decisions", "qa_audits", "calibration_ratings")


def assert_reconciled(con: duckdb.DuckDBPyConnection, r: FileResult) -> None:
    """Every row read is inserted, updated, unchanged, stale or rejected; the run is recorded
    so, with its rejected rows and warnings."""
    if r.status == "already_loaded":  # not read again: the earlier run stands
        (status,) = con.execute(
            "SELECT status FROM ingest_runs WHERE run_id = ?", [r.run_id]
        ).fetchone()  # type: ignore[misc]
        assert status in ("ok", "ok_with_rejects")
        return
    assert r.rows_read == r.inserted + r.updated + r.unchanged + r.stale + r.rejected, r.as_dict()
    run = con.execute(
        "SELECT rows_read, rows_inserted, rows_updated, rows_unchanged, rows_stale, "
        "rows_rejected, warnings, status FROM ingest_runs WHERE run_id = ?",
        [r.run_id],
    ).fetchall()
    status = "ok" if r.rejected == 0 else "ok_with_rejects"
    assert run == [
        (r.rows_read, r.inserted, r.updated, r.unchanged, r.stale, r.rejected, r.warnings, status)
    ]
    (stored,) = con.execute(
        "SELECT count(*) FROM rejected_rows WHERE run_id = ?", [r.run_id]
    ).fetchone()  # type: ignore[misc]
    assert stored == r.rejected
    (warned,) = con.execute(
        "SELECT count(*) FROM ingest_warnings WHERE run_id = ?", [r.run_id]
    ).fetchone()  # type: ignore[misc]
    assert warned == r.warnings


def counts(r: FileResult) -> tuple[int, int, int, int, int]:
    """(read, inserted, updated, unchanged, rejected)."""
    return (r.rows_read, r.inserted, r.updated, r.unchanged, r.rejected)
