"""Every input format stores exactly the same canonical rows (canonical files need no mapping)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_testkit import (
    AUD,
    CAL,
    DEC,
    Env,
    audit,
    counts,
    decision,
    rating,
    utc,
    write_csv,
    write_jsonl,
)

from bpo_kpi.config import Config

TRICKY = 'hs_1; "quoted", with comma\nand a second line'

DECISIONS = [
    decision("d1"),
    decision(
        "d2",
        item_id="item-2",
        site="",
        market="",
        priority="p0",
        decision="",
        policy="",
        enqueued_at="2026-03-02T10:00:00+02:00",
        claimed_at="",
        decided_at="",
        due_at="2026-03-02T10:45:00+02:00",
    ),
    decision(
        "d3",
        workflow="graphic_violence",
        priority="p2",
        reviewer_id="rev-2",
        decision="limit",
        policy=TRICKY,
        enqueued_at="2026-03-02 07:00:00",
        claimed_at="",
        decided_at="2026-03-02 07:05:00",
    ),
]
# decisions columns + due_at_source; p1 SLA is 240 min, p2 1440 min (default config).
DECISIONS_STORED = [
    ("d1", "item-d1", "acme", "manila", "hate_speech", "en", "p1", "rev-1", "remove", "hs_1",
     utc(2026, 3, 2, 8), utc(2026, 3, 2, 8, 10), utc(2026, 3, 2, 8, 30), utc(2026, 3, 2, 12),
     "config"),
    ("d2", "item-2", "acme", None, "hate_speech", None, "p0", "rev-1", None, None,
     utc(2026, 3, 2, 8), None, None, utc(2026, 3, 2, 8, 45), "queue"),
    ("d3", "item-d3", "acme", "manila", "graphic_violence", "en", "p2", "rev-2", "limit", TRICKY,
     utc(2026, 3, 2, 7), None, utc(2026, 3, 2, 7, 5), utc(2026, 3, 3, 7), "config"),
]  # fmt: skip

AUDITS = [
    audit(
        "a1",
        "d1",
        qa_decision="approve",
        comment="no violation;\nsee screenshot, 2",
        disputed_at="",
        dispute_resolved_at="",
    ),
    audit(
        "a2",
        "d3",
        audited_at="2026-03-03T11:00:00+01:00",
        qa_decision="remove",
        qa_policy="gv_2",
        error_type="wrong_action",
        severity="Critical",
        dispute_status="overturned",
        disputed_at="2026-03-04T09:30:00+01:00",
        dispute_resolved_at="2026-03-06 12:00:00",
    ),
]
AUDITS_STORED = [
    ("a1", "d1", "qa-1", utc(2026, 3, 3, 9), "approve", None, None, None, "none", None, None,
     "no violation;\nsee screenshot, 2"),
    ("a2", "d3", "qa-1", utc(2026, 3, 3, 10), "remove", "gv_2", "wrong_action", "critical",
     "overturned", utc(2026, 3, 4, 8, 30), utc(2026, 3, 6, 12), None),
]  # fmt: skip

RATINGS = [
    rating("s1", "it1", "expert", vendor="internal", is_golden="true"),
    rating("s1", "it1", "rater-a", label="limit", policy="", is_golden=""),
    rating("s1", "it2", "rater-a", label="approve", policy="", is_golden="no"),
]
RATINGS_STORED = [
    ("s1", date(2026, 3, 2), "hate_speech", "it1", "expert", "internal", "remove", "hs_1", True),
    ("s1", date(2026, 3, 2), "hate_speech", "it1", "rater-a", "acme", "limit", None, False),
    ("s1", date(2026, 3, 2), "hate_speech", "it2", "rater-a", "acme", "approve", None, False),
]

CASES = {
    "decisions": (DECISIONS, DECISIONS_STORED, ", ".join([*DEC, "due_at_source"])),
    "audits": (AUDITS, AUDITS_STORED, ", ".join(AUD)),
    "calibration": (RATINGS, RATINGS_STORED, ", ".join(CAL)),
}
TABLE = {"decisions": "decisions", "audits": "qa_audits", "calibration": "calibration_ratings"}


def _csv(name: str, **options: Any) -> Callable[[Path, list[dict[str, Any]]], Path]:
    return lambda folder, rows: write_csv(folder / name, rows, **options)


def _parquet_strings(folder: Path, rows: list[dict[str, Any]]) -> Path:
    # Columns in reverse order: the reader maps by name, not by position.
    names = list(reversed(rows[0]))
    table = pa.table({n: pa.array([r[n] for r in rows], pa.string()) for n in names})
    pq.write_table(table, folder / "rows.parquet")
    return folder / "rows.parquet"


def _jsonl(folder: Path, rows: list[dict[str, Any]]) -> Path:
    # Empty values as JSON null, and one empty key left out altogether on the last line.
    records = [{k: (v if v != "" else None) for k, v in r.items()} for r in rows]
    last = records[-1]
    del last[next(k for k, v in last.items() if v is None)]
    return write_jsonl(folder / "rows.jsonl", records)


def _jsonl_bom_crlf(folder: Path, rows: list[dict[str, Any]]) -> Path:
    path = _jsonl(folder, rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    return path


def _xlsx(folder: Path, rows: list[dict[str, Any]]) -> Path:
    pd.DataFrame(rows).to_excel(folder / "rows.xlsx", index=False)
    return folder / "rows.xlsx"


WRITERS = {
    "csv-comma": _csv("rows.csv"),
    "csv-semicolon": _csv("rows.csv", delimiter=";"),
    "tsv-tab": _csv("rows.tsv", delimiter="\t"),
    "csv-bom-crlf": _csv("rows.csv", bom=True, crlf=True),
    "csv-semicolon-bom-crlf": _csv("rows.txt", delimiter=";", bom=True, crlf=True),
    "parquet-strings": _parquet_strings,
    "jsonl": _jsonl,
    "jsonl-bom-crlf": _jsonl_bom_crlf,
    "xlsx": _xlsx,
}


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_format_stores_the_same_rows(env, kind, fmt):
    rows, stored, columns = CASES[kind]
    file = WRITERS[fmt](env.dir, [dict(r) for r in rows])
    result = env.one(kind, file)
    assert counts(result) == (len(rows), len(rows), 0, 0, 0)
    assert result.ignored_columns == []
    assert env.rows(TABLE[kind], columns) == stored
    assert env.rows(TABLE[kind], "DISTINCT run_id") == [(result.run_id,)]


def test_stored_rows_equal_across_formats(tmp_path):
    """The same decisions in CSV and Parquet give byte-identical tables (run ids aside)."""
    snaps = []
    for fmt in ("csv-comma", "parquet-strings", "jsonl", "xlsx"):
        folder = tmp_path / fmt
        folder.mkdir()
        e = Env.create(folder)
        e.one("decisions", WRITERS[fmt](folder, [dict(r) for r in DECISIONS]))
        snaps.append(e.rows("decisions", "* EXCLUDE (run_id)"))
        e.close()
    assert snaps[0] == snaps[1] == snaps[2] == snaps[3]


def test_extra_columns_are_reported_as_ignored(env):
    rows = [{**decision("d1"), "notes": "x", "Vendor Score": "9"}]
    result = env.one("decisions", write_csv(env.path("extra.csv"), rows))
    assert counts(result) == (1, 1, 0, 0, 0)
    assert result.ignored_columns == ["notes", "Vendor Score"]


def test_parquet_typed_timestamp_columns(env):
    """TIMESTAMP (naive) columns are read in input_timezone; TIMESTAMPTZ columns as they are."""
    berlin = Config(input_timezone="Europe/Berlin")
    table = pa.table(
        {
            "decision_id": ["t1", "t2"],
            "item_id": pa.array([101, 102], pa.int64()),  # numbers become text ids
            "vendor": ["acme", "acme"],
            "workflow": ["hate_speech", "hate_speech"],
            "priority": ["p1", None],
            "reviewer_id": ["rev-1", "rev-2"],
            "decision": ["remove", None],
            # naive wall-clock times in Berlin: CET (+01:00) before 29 March 02:00, CEST after
            "enqueued_at": pa.array(
                [datetime(2026, 3, 28, 23, 30), datetime(2026, 3, 29, 3, 30)], pa.timestamp("us")
            ),
            "claimed_at": pa.array([utc(2026, 3, 29, 1, 0), None], pa.timestamp("ms", tz="UTC")),
            "decided_at": pa.array(
                [utc(2026, 3, 29, 1, 30), None], pa.timestamp("us", tz="America/New_York")
            ),
        }
    )
    pq.write_table(table, env.path("typed.parquet"))
    result = env.one("decisions", env.path("typed.parquet"), config=berlin)
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.rows(
        "decisions", "decision_id, item_id, priority, decision, enqueued_at, claimed_at, "
        "decided_at, due_at, due_at_source"
    ) == [
        ("t1", "101", "p1", "remove", utc(2026, 3, 28, 22, 30), utc(2026, 3, 29, 1),
         utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30), "config"),
        ("t2", "102", None, None, utc(2026, 3, 29, 1, 30), None, None, None, None),
    ]  # fmt: skip


def test_parquet_typed_calibration_columns(env):
    table = pa.table(
        {
            "session_id": ["s9", "s9"],
            "session_date": pa.array([date(2026, 3, 5), date(2026, 3, 5)], pa.date32()),
            "workflow": ["hate_speech"] * 2,
            "item_id": ["it1", "it1"],
            "rater_id": ["expert", "r1"],
            "vendor": ["internal", "acme"],
            "label": ["remove", "approve"],
            "is_golden": pa.array([True, None], pa.bool_()),
        }
    )
    pq.write_table(table, env.path("cal.parquet"))
    result = env.one("calibration", env.path("cal.parquet"))
    assert counts(result) == (2, 2, 0, 0, 0)
    assert result.ignored_columns == []
    assert env.rows("calibration_ratings", ", ".join(CAL)) == [
        ("s9", date(2026, 3, 5), "hate_speech", "it1", "expert", "internal", "remove", None, True),
        ("s9", date(2026, 3, 5), "hate_speech", "it1", "r1", "acme", "approve", None, False),
    ]


def test_xlsx_real_datetime_cells_and_numbers(env):
    """Excel datetime cells are naive (input_timezone); numeric cells become text ids."""
    frame = pd.DataFrame(
        {
            "decision_id": ["x1", "x2"],
            "item_id": [5001, 5002],
            "vendor": ["acme", "acme"],
            "workflow": ["hate_speech", "hate_speech"],
            "reviewer_id": ["rev-1", "rev-1"],
            "decision": ["approve", None],
            "enqueued_at": [datetime(2026, 7, 1, 9, 0), datetime(2026, 7, 1, 10, 0)],
            "decided_at": [datetime(2026, 7, 1, 9, 45), None],
        }
    )
    frame.to_excel(env.path("typed.xlsx"), index=False)
    result = env.one(
        "decisions", env.path("typed.xlsx"), config=Config(input_timezone="Asia/Manila")
    )
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.rows("decisions", "decision_id, item_id, decision, enqueued_at, decided_at") == [
        ("x1", "5001", "approve", utc(2026, 7, 1, 1, 0), utc(2026, 7, 1, 1, 45)),
        ("x2", "5002", None, utc(2026, 7, 1, 2, 0), None),
    ]


def test_ingest_run_is_recorded(env):
    file = write_csv(env.path("d.csv"), DECISIONS)
    result = env.one("decisions", file)
    run = env.con.execute(
        "SELECT file, sha256, kind, vendor, mapping, started_at <= finished_at, status, "
        "config_hash FROM ingest_runs"
    ).fetchall()
    assert run == [
        (
            str(file.resolve()),
            hashlib.sha256(file.read_bytes()).hexdigest(),
            "decisions",
            None,
            None,
            True,
            "ok",
            Config().content_hash(),
        )
    ]
    assert result.run_id == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_text_values_are_trimmed_of_spaces_only(env, fmt):
    """Leading and trailing spaces are cut (labels then match); other blanks inside or at the
    ends (a tab) are part of the value; a value of spaces only is empty."""
    rows = [
        decision(" d1 ", vendor="  acme", workflow="hate_speech  ", decision=" remove "),
        decision("d2", reviewer_id="\trev-2 ", policy="hs 1", market="   "),
        decision("d3", reviewer_id="   "),  # required, only spaces: empty
    ]
    if fmt == "csv":
        path = write_csv(env.path("pad.csv"), rows)
    else:
        path = env.path("pad.parquet")
        pq.write_table(pa.Table.from_pylist(rows), path)
    result = env.one("decisions", path)
    assert counts(result) == (3, 2, 0, 0, 1)
    assert env.rows(
        "decisions", "decision_id, vendor, workflow, decision, reviewer_id, policy, market"
    ) == [
        ("d1", "acme", "hate_speech", "remove", "rev-1", "hs_1", "en"),
        ("d2", "acme", "hate_speech", "remove", "\trev-2", "hs 1", None),
    ]
    (reason,) = env.con.execute("SELECT reason FROM rejected_rows").fetchone()
    assert reason == "reviewer_id is empty (required)"
