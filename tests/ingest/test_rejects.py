"""A corpus of broken files: exact rejected counts, reasons, source lines and raw rows.

Row-level problems reject the row and load the rest (exit code 0); file-level problems refuse the
whole file with a clear message (exit code 1) and leave the database unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_testkit import KNOWN_LABELS, LABEL_HINT, counts, decision, write_csv

from bpo_kpi_cli.main import main
from ingest import IngestError, load_mapping
from ingest.readers import FORMATS

H = ",".join(
    ["decision_id", "item_id", "vendor", "workflow", "priority", "reviewer_id", "decision",
     "policy", "enqueued_at", "decided_at"]
)  # fmt: skip
ENQ, DEC = "2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z"
ISO = "expected ISO 8601, e.g. 2026-10-05T14:03:00+02:00"
FIELDS = "check for an unquoted separator or a truncated line"


def row(did, decision="remove", enq=ENQ, dec=DEC, reviewer="rev-1", policy="hs_1", sep=","):
    return sep.join([did, f"i-{did}", "acme", "hate_speech", "p1", reviewer, decision, policy,
                     enq, dec])  # fmt: skip


def as_raw(line, header=H, sep=","):
    """rejected_rows.raw of a row rejected by validation: its source columns as JSON."""
    names, values = header.split(sep), line.split(sep)
    return json.dumps(
        {n: (v or None) for n, v in zip(names, values, strict=True)}, separators=(",", ":")
    )


# Expected raw of a row rejected by validation: its own line's columns as JSON (see as_raw).
LINE = "<the row's source columns as JSON>"


def wrong_fields(expected, found, sep="comma"):
    return (
        f"wrong number of fields (Expected Number of Columns: {expected} Found: {found}; "
        f"separator is {sep}): {FIELDS}"
    )


@dataclass
class Case:
    name: str
    lines: list[str]
    loaded: list[str]  # keys stored
    rejects: list[tuple[int, str | dict, str]]  # (physical line, raw, reason)
    kind: str = "decisions"
    suffix: str = ".csv"
    newline: str = "\n"
    trailing_newline: bool = True


CASES = [
    Case(
        "bad-timestamps",
        [H, row("d1"), row("d2", enq="2026-02-30T10:00:00Z"), row("d3", dec="yesterday"),
         row("d4", enq="02/03/2026 08:00")],
        ["d1"],
        [(3, as_raw(row("d2", enq="2026-02-30T10:00:00Z")),
          f"enqueued_at 2026-02-30T10:00:00Z is not a timestamp ({ISO})"),
         (4, as_raw(row("d3", dec="yesterday")),
          f"decided_at yesterday is not a timestamp ({ISO})"),
         (5, as_raw(row("d4", enq="02/03/2026 08:00")),
          f"enqueued_at 02/03/2026 08:00 is not a timestamp ({ISO})")],
    ),
    Case(
        "unknown-label",
        [H, row("d1", decision="nuke"), row("d2", decision="Remove"), row("d3", decision="limit")],
        ["d3"],
        [(2, as_raw(row("d1", decision="nuke")),
          f"decision nuke is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}"),
         (3, as_raw(row("d2", decision="Remove")),
          f"decision Remove is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}")],
    ),
    Case(
        # A second early: clock skew within the tolerance, kept (see the warnings test). An hour
        # early: impossible, rejected.
        "times-out-of-order",
        [H, row("d1", dec="2026-03-02T07:59:59Z"), row("d2", dec="2026-03-02T08:00:00Z"),
         row("d3", dec="2026-03-02T07:00:00Z")],
        ["d1", "d2"],
        [(4, as_raw(row("d3", dec="2026-03-02T07:00:00Z")),
          "decided_at 2026-03-02T07:00:00Z is before enqueued_at 2026-03-02T08:00:00Z by more "
          "than the 60 s clock tolerance (ingest.clock_tolerance_seconds)")],
    ),
    Case(
        "missing-required-values",
        [H, row("d1", reviewer=""), row("d2", enq="", dec=""), row("", decision="approve"),
         row("d4", decision="", policy=""), row("d5", dec=""), row("d6")],
        ["d6"],
        [(2, as_raw(row("d1", reviewer="")), "reviewer_id is empty (required)"),
         (3, as_raw(row("d2", enq="", dec="")),
          "enqueued_at is empty (required); "
          "decided_at is empty but decision is set (a decision needs its time)"),
         (4, as_raw(row("", decision="approve")), "decision_id is empty (required)"),
         (5, as_raw(row("d4", decision="", policy="")),
          "decision is empty but decided_at is set (a decided item needs its label)"),
         (6, as_raw(row("d5", dec="")),
          "decided_at is empty but decision is set (a decision needs its time)")],
    ),
    Case(
        "duplicate-keys",
        [H, row("d1"), row("d2"), row("d1", decision="limit"), row("d3"), row("d1", policy="x")],
        ["d1", "d2", "d3"],
        [(4, as_raw(row("d1", decision="limit")),
          "duplicate decision_id d1 in this file (first on line 2); "
          "send corrections in a later file"),
         (6, as_raw(row("d1", policy="x")),
          "duplicate decision_id d1 in this file (first on line 2); "
          "send corrections in a later file")],
    ),
    Case(
        "too-few-and-too-many-fields",
        [H, row("d1"), "d2,i-d2,acme,hate_speech,p1", row("d3") + ",surplus", row("d4")],
        ["d1", "d4"],
        [(3, "d2,i-d2,acme,hate_speech,p1", wrong_fields(10, 5)),
         (4, row("d3") + ",surplus", wrong_fields(10, 11))],
    ),
    Case(
        # Quoted fields spanning lines come first, so record numbers and physical lines differ
        # (9 data lines, 6 records): every reported line must be the one a text editor shows.
        "multiline-field-before-bad-rows",
        [H, row("d1", policy='"hs_1\nsecond line\nthird, with comma"'),
         "d2,i-d2,acme",
         row("d3", decision="nuke"),
         row("d4", policy='"two\nlines"'),
         row("d1"),
         row("d5", dec="2026-03-01T00:00:00Z")],
        ["d1", "d4"],
        [(5, "d2,i-d2,acme", wrong_fields(10, 3)),
         (6, as_raw(row("d3", decision="nuke")),
          f"decision nuke is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}"),
         (9, as_raw(row("d1")),
          "duplicate decision_id d1 in this file (first on line 2); "
          "send corrections in a later file"),
         (10, as_raw(row("d5", dec="2026-03-01T00:00:00Z")),
          "decided_at 2026-03-01T00:00:00Z is before enqueued_at 2026-03-02T08:00:00Z by more "
          "than the 60 s clock tolerance (ingest.clock_tolerance_seconds)")],
    ),
    Case(
        # Blank lines (which DuckDB counts as rows) around a quoted field spanning lines, CRLF.
        "blank-lines-and-multiline-field",
        [H, "", row("d1", policy='"x\n\ny"'), "", "d2,i-d2,acme", "   ", row("d3"),
         row("d4", enq="bad"), ""],
        ["d1", "d3"],
        [(7, "d2,i-d2,acme", wrong_fields(10, 3)),
         (8, "   ", wrong_fields(10, 1)),
         (10, as_raw(row("d4", enq="bad")), f"enqueued_at bad is not a timestamp ({ISO})")],
        newline="\r\n",
    ),
    Case(
        "crlf-semicolon-bad-row",
        [H.replace(",", ";"), row("d1", sep=";"), "d2;i-d2", row("d3", sep=";")],
        ["d1", "d3"],
        [(3, "d2;i-d2", wrong_fields(10, 2, "semicolon"))],
        newline="\r\n",
    ),
    Case(
        "truncated-mid-row",
        [H, row("d1"), row("d2"), "d3,i-d3,acme,hate_sp"],
        ["d1", "d2"],
        [(4, "d3,i-d3,acme,hate_sp", wrong_fields(10, 4))],
        trailing_newline=False,
    ),
    Case(
        "truncated-in-quote",
        [H, row("d1"), 'd2,i-d2,acme,hate_speech,p1,rev-1,remove,"hs_1 and then the export st'],
        ["d1"],
        [(3, 'd2,i-d2,acme,hate_speech,p1,rev-1,remove,"hs_1 and then the export st',
          "badly quoted field (Value with unterminated quote found.): "
          "close the quote or escape it")],
        trailing_newline=False,
    ),
    Case(
        "jsonl-invalid-lines",
        [json.dumps(decision("j1")),
         "",
         '{"decision_id": "j2", "item_id": "i"',
         "[1, 2, 3]",
         "not json at all",
         json.dumps(decision("j3", decision="nuke")),
         json.dumps(decision("j4"))],
        ["j1", "j4"],
        [(3, '{"decision_id": "j2", "item_id": "i"',
          "not a valid JSON object: fix the line's JSON syntax"),
         (4, "[1, 2, 3]", "not a valid JSON object: fix the line's JSON syntax"),
         (5, "not json at all", "not a valid JSON object: fix the line's JSON syntax"),
         # raw of a JSON line rejected by validation: its keys and values, as one JSON object
         (6, decision("j3", decision="nuke"),
          f"decision nuke is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}")],
        suffix=".jsonl",
    ),
    Case(
        "audit-enums-and-types",
        ["audit_id,decision_id,auditor_id,audited_at,qa_decision,error_type,severity,dispute_status",
         "a1,d1,q1,2026-03-03T09:00:00Z,remove,,fatal,",
         "a2,d1,q1,2026-03-03T09:00:00Z,remove,typo,,",
         "a3,d1,q1,2026-03-03T09:00:00Z,remove,,,maybe",
         "a4,d1,q1,3 March,remove,,,",
         "a5,d1,,2026-03-03T09:00:00Z,,,,",
         "a6,d1,q1,2026-03-03T09:00:00Z,remove,None,MINOR,Upheld"],
        # flaws in optional fields keep the audit (warnings: see test_warnings.py)
        ["a1", "a2", "a3", "a6"],
        [(5, LINE, f"audited_at 3 March is not a timestamp ({ISO})"),
         (6, LINE, "auditor_id is empty (required); qa_decision is empty (required)")],
        kind="audits",
    ),
    Case(
        "calibration-second-golden-answer",
        ["session_id,session_date,workflow,item_id,rater_id,vendor,label,is_golden",
         "s1,2026-03-02,hate_speech,it1,expert-1,internal,remove,true",
         "s1,2026-03-02,hate_speech,it1,rater-1,acme,remove,false",
         "s1,2026-03-02,hate_speech,it1,expert-2,internal,approve,TRUE",
         "s1,2026-03-02,hate_speech,it2,expert-2,internal,approve,yes",
         "s1,2026-03-02,hate_speech,it2,rater-1,acme,approve,",
         "s1,2 March,hate_speech,it3,rater-1,acme,approve,perhaps",
         "s1,2026-03-02,hate_speech,it1,rater-1,acme,approve,false"],
        ["s1/it1/expert-1", "s1/it1/rater-1", "s1/it2/expert-2", "s1/it2/rater-1"],
        [(4, LINE, "a second golden answer for session s1 item it1 (rater expert-2); "
                   "keep one is_golden row per session item"),
         (7, LINE, "session_date 2 March is not a date (expected YYYY-MM-DD)"),
         (8, LINE, "duplicate session_id/item_id/rater_id s1/it1/rater-1 in this file "
                   "(first on line 3); send corrections in a later file")],
        kind="calibration",
    ),
]  # fmt: skip

KEY_SQL = {
    "decisions": ("decisions", "decision_id"),
    "audits": ("qa_audits", "audit_id"),
    "calibration": ("calibration_ratings", "session_id || '/' || item_id || '/' || rater_id"),
}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_broken_rows_are_rejected_with_line_and_reason(env, case):
    text = case.newline.join(case.lines) + (case.newline if case.trailing_newline else "")
    file = env.path(case.name + case.suffix)
    file.write_bytes(text.encode("utf-8"))
    result = env.one(case.kind, file)

    # Every row read is either loaded or rejected (a fresh database: nothing to update).
    assert counts(result) == (
        len(case.loaded) + len(case.rejects),
        len(case.loaded),
        0,
        0,
        len(case.rejects),
    )
    table, key = KEY_SQL[case.kind]
    assert env.rows(table, key) == [(k,) for k in sorted(case.loaded)]

    stored = env.rejects(result.run_id)
    assert [(line, reason) for line, _raw, reason in stored] == [
        (line, reason) for line, _raw, reason in case.rejects
    ]
    for (line, raw, _), (_, expected, _) in zip(stored, case.rejects, strict=True):
        if isinstance(expected, dict):
            assert json.loads(raw) == expected
        elif expected is LINE:
            assert raw == as_raw(case.lines[line - 1], header=case.lines[0])
        else:
            assert raw == expected
    assert env.reject_files(result.run_id) == {str(file)}
    # The run's summary counts the same reasons (every case has at most five distinct ones).
    assert sorted(result.reasons) == sorted(Counter(r for _, _, r in case.rejects).items())


def test_validation_raw_of_a_structurally_sound_row_holds_every_source_column(env):
    """A rejected row's raw text holds all of its source columns, so it can be fixed and resent."""
    lines = ["audit_id,decision_id,auditor_id,audited_at,qa_decision,severity,extra note",
             'a1,d1,q1,3 March,remove,fatal,"said ""no"", twice"']  # fmt: skip
    file = env.path("a.csv")
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = env.one("audits", file)
    assert counts(result) == (1, 0, 0, 0, 1)
    assert result.ignored_columns == ["extra note"]
    [(line, raw, _)] = env.rejects(result.run_id)
    assert line == 2
    assert json.loads(raw) == {
        "audit_id": "a1", "decision_id": "d1", "auditor_id": "q1",
        "audited_at": "3 March", "qa_decision": "remove", "severity": "fatal",
        "extra note": 'said "no", twice',
    }  # fmt: skip


def test_rejected_golden_resend_does_not_make_room_for_a_second_golden(env):
    """The stored golden answer still counts when its re-sent row is itself rejected."""
    head = "session_id,session_date,workflow,item_id,rater_id,vendor,label,is_golden"
    first = env.path("c1.csv")
    first.write_text(f"{head}\ns1,2026-03-02,hate_speech,it1,expert-1,internal,remove,true\n")
    env.one("calibration", first)
    second = env.path("c2.csv")
    second.write_text(
        f"{head}\n"
        "s1,2026-03-02,hate_speech,it1,expert-1,internal,nuke,true\n"
        "s1,2026-03-02,hate_speech,it1,expert-2,internal,remove,true\n"
    )
    result = env.one("calibration", second)
    assert counts(result) == (2, 0, 0, 0, 2)
    assert [(line, reason[:40]) for line, _, reason in env.rejects(result.run_id)] == [
        (2, "label nuke is not a known label (known: "),
        (3, "a second golden answer for session s1 it"),
    ]
    assert env.rows("calibration_ratings", "rater_id, is_golden") == [("expert-1", True)]


def test_golden_answer_already_in_the_database_wins(env):
    head = "session_id,session_date,workflow,item_id,rater_id,vendor,label,is_golden"
    first = env.path("c1.csv")
    first.write_text(f"{head}\ns1,2026-03-02,hate_speech,it1,expert-1,internal,remove,true\n")
    env.one("calibration", first)
    second = env.path("c2.csv")
    second.write_text(
        f"{head}\n"
        "s1,2026-03-02,hate_speech,it1,expert-2,internal,remove,true\n"
        "s1,2026-03-02,hate_speech,it2,expert-2,internal,approve,true\n"
    )
    result = env.one("calibration", second)
    assert counts(result) == (2, 1, 0, 0, 1)
    assert [(line, reason) for line, _, reason in env.rejects(result.run_id)] == [
        (2, "a second golden answer for session s1 item it1 (rater expert-2); "
            "keep one is_golden row per session item"),
    ]  # fmt: skip
    # Moving the golden answer: un-mark the old one and mark the new one in the same file.
    third = env.path("c3.csv")
    third.write_text(
        f"{head}\n"
        "s1,2026-03-02,hate_speech,it1,expert-1,internal,remove,false\n"
        "s1,2026-03-02,hate_speech,it1,expert-2,internal,remove,true\n"
    )
    result = env.one("calibration", third)
    assert counts(result) == (2, 1, 1, 0, 0)
    assert env.rows("calibration_ratings", "item_id, rater_id, is_golden") == [
        ("it1", "expert-1", False),
        ("it1", "expert-2", True),
        ("it2", "expert-2", True),
    ]


# --- whole-file errors -------------------------------------------------------------------------

GOOD = [decision("ok1"), decision("ok2")]


def _latin1(path):
    path.write_bytes(
        (H + "\n" + row("d1") + "\n").encode() + row("d2", policy="Grüße").encode("latin-1") + b"\n"
    )


def _latin1_late(path):
    body = "".join(row(f"d{i}") + "\n" for i in range(1500))  # > 64 KiB before the bad byte
    path.write_bytes((H + "\n" + body).encode() + row("dx", policy="Größe").encode("latin-1"))


def _write(content: str | bytes):
    def make(path):
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    return make


FILE_ERRORS = [
    ("latin1.csv", _latin1,
     "latin1.csv: not utf-8 text (undecodable byte 0xfc on line 3); re-export the file as UTF-8, "
     'or set encoding = "latin-1" in the vendor mapping'),
    ("latin1_late.csv", _latin1_late,
     "latin1_late.csv: not utf-8 text (first undecodable bytes on line 1502); re-export the file "
     'as UTF-8, or set encoding = "latin-1" in the vendor mapping'),
    ("latin1.jsonl", _write('{"decision_id": "Gr\u00fc\u00dfe"}\n'.encode("latin-1")),
     "latin1.jsonl: not utf-8 text (undecodable byte 0xfc on line 1)"),
    ("columns.csv", _write("decision_id,item_id,vendor,enqueued\nd1,i1,acme,2026-03-02\n"),
     "columns.csv: missing required column(s) workflow, reviewer_id, enqueued_at; found columns: "
     "decision_id, item_id, vendor, enqueued; add them to the file or map them in the vendor "
     "mapping's [decisions.columns] section"),
    ("decisions.xml", _write("<decisions/>"),
     "decisions.xml: unknown file format '.xml'; use one of .csv, .json, .jsonl, .ndjson, "
     ".parquet, .pq, .tsv, .txt, .xlsx"),
    ("no_extension", _write(H + "\n"), "no_extension: unknown file format '(no extension)'"),
    ("missing.csv", None, "missing.csv: file does not exist"),
    ("empty.csv", _write(""), "empty.csv: the file is empty (no header row)"),
    ("blank.csv", _write("\n\n  \n"), "blank.csv: the file is empty (no header row)"),
    ("empty.jsonl", _write(""),
     "empty.jsonl: no JSON objects found; expected one JSON object per line"),
    ("garbage.jsonl", _write("nope\n[1]\n"), "garbage.jsonl: no JSON objects found"),
    ("broken.parquet", _write(b"PAR1 this is not parquet"),
     "broken.parquet: not a readable Parquet file"),
    ("broken.xlsx", _write(b"PK\x03\x04 not a workbook"),
     "broken.xlsx: not a readable XLSX workbook"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "message"), FILE_ERRORS, ids=[f[0] for f in FILE_ERRORS])
def test_whole_file_errors_refuse_the_file_and_leave_the_db_unchanged(
    env, capsys, name, make, message
):
    env.one("decisions", write_csv(env.path("good.csv"), GOOD))
    before = env.snapshot(runs=False)
    last = env.last_run()
    file = env.path(name)
    if make is not None:
        make(file)

    with pytest.raises(IngestError) as err:
        env.ingest("decisions", file)
    assert message in str(err.value)
    assert str(file) in str(err.value)
    assert env.snapshot(runs=False) == before
    # A file that was read is recorded as a failed run, with the reason (Data health shows
    # it); a missing file or an unknown format is refused before any run starts.
    tried = file.is_file() and file.suffix in FORMATS
    recorded = env.runs_after(last)
    if tried:
        [(_, status, error)] = recorded
        assert status == "failed" and message in error
    else:
        assert recorded == []

    # The CLI: exit code 1, the message on stderr, nothing on stdout, nothing loaded.
    code = main(["ingest", "decisions", str(file), "--db", str(env.db), "--quiet"])
    out, errtext = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert message in errtext
    if tried:
        assert (
            f"nothing was loaded; the attempt is recorded as run {last + 2} (bpo-kpi runs)"
            in errtext
        )
    else:
        assert "nothing was loaded: the database is unchanged" in errtext
    assert env.snapshot(runs=False) == before


def test_directory_is_not_a_file(env):
    with pytest.raises(IngestError, match="not a file"):
        env.ingest("decisions", env.dir)


def test_header_only_file_reads_zero_rows(env):
    file = env.path("header.csv")
    file.write_text(H + "\n")
    result = env.one("decisions", file)
    assert counts(result) == (0, 0, 0, 0, 0)
    assert env.rows("ingest_runs", "rows_read, status") == [(0, "ok")]


def test_latin1_file_loads_with_a_latin1_mapping(env, tmp_path):
    (tmp_path / "latin.toml").write_text('vendor = "acme"\nencoding = "latin-1"\n')
    file = env.path("latin1.csv")
    _latin1(file)
    result = env.one("decisions", file, mapping=load_mapping(tmp_path / "latin.toml"))
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.rows("decisions", "decision_id, policy") == [("d1", "hs_1"), ("d2", "Grüße")]


def test_parquet_and_xlsx_report_row_numbers(env):
    """Without text lines, rejects name the row: Parquet rows count from 1, sheet rows from 2."""
    rows = [decision("d1"), decision("d2", decision="nuke"), decision("d1", policy="hs_9")]
    nuke = f"decision nuke is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}"
    frame = pd.DataFrame(rows)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), env.path("d.parquet"))
    result = env.one("decisions", env.path("d.parquet"))
    assert counts(result) == (3, 1, 0, 0, 2)
    assert [(line, reason) for line, _, reason in env.rejects(result.run_id)] == [
        (2, nuke),
        (3, "duplicate decision_id d1 in this file (first on row 1); "
            "send corrections in a later file"),
    ]  # fmt: skip

    blank = {k: None for k in rows[0]}
    pd.DataFrame([rows[0], blank, rows[1], rows[2]]).to_excel(env.path("d.xlsx"), index=False)
    result = env.one("decisions", env.path("d.xlsx"))
    assert counts(result) == (3, 0, 0, 1, 2)  # d1 is already stored; the blank row is no row
    assert [(line, reason) for line, _, reason in env.rejects(result.run_id)] == [
        (4, nuke),
        (5, "duplicate decision_id d1 in this file (first on row 2); "
            "send corrections in a later file"),
    ]  # fmt: skip
