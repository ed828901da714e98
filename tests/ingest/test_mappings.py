"""Vendor mappings: column renames, label and value synonyms, time formats and zones, constants.

Two test vendors in tests/ingest/data/ that really differ:
- rheinwerk: semicolon CSV with BOM and CRLF, "%d.%m.%Y %H:%M" naive local times in
  Europe/Berlin, German label words and priorities;
- pacifica: JSON Lines with camelCase keys, epoch seconds, upper-case action words.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from ingest_testkit import (
    CAL,
    KNOWN_LABELS,
    LABEL_HINT,
    counts,
    mapping,
    utc,
    write_csv,
    write_jsonl,
)

from ingest import IngestError, MappingError, load_mapping

RHEIN_HEADER = [
    "Vorgang", "Inhalt", "Standort", "Warteschlange", "Markt", "Prio", "Prüfer",
    "Entscheidung", "Richtlinie", "Eingang", "Geöffnet", "Entschieden",
]  # fmt: skip
RHEIN_ROWS = [
    # spring forward, 29 March 2026: 02:00 CET -> 03:00 CEST
    ["N-1", "C-1", "berlin", "hate_speech", "de", "Hoch", "P-7", "Löschen", "hs_3",
     "28.03.2026 23:30", "29.03.2026 01:59", "29.03.2026 03:01"],
    # fall back, 25 October 2026: 03:00 CEST -> 02:00 CET (01:30 is still summer time)
    ["N-2", "C-2", "berlin", "hate_speech", "de", "Niedrig", "P-7", "", "",
     "25.10.2026 01:30", "", ""],
    ["N-3", "C-3", "leipzig", "graphic_violence", "de", "Mittel", "P-8", "Freigeben", "",
     "25.10.2026 03:30", "", "25.10.2026 04:00"],
    # a canonical priority passes through; a German label for limit
    ["N-4", "C-4", "berlin", "hate_speech", "at", "p2", "P-8", "Einschränken", "hs_1",
     "15.07.2026 12:00", "15.07.2026 12:05", "15.07.2026 12:10"],
    # rejected: a label word the mapping does not know; an ISO time instead of the vendor's
    ["N-5", "C-5", "berlin", "hate_speech", "de", "Hoch", "P-7", "Sperren", "hs_3",
     "15.07.2026 12:00", "", "15.07.2026 12:10"],
    ["N-6", "C-6", "berlin", "hate_speech", "de", "Hoch", "P-7", "", "",
     "2026-07-15T12:00:00", "", ""],
]  # fmt: skip

DECISION_COLS = (
    "decision_id, item_id, vendor, site, workflow, market, priority, reviewer_id, decision, "
    "policy, enqueued_at, claimed_at, decided_at, due_at, due_at_source"
)


def write_rheinwerk(path, rows=RHEIN_ROWS, header=RHEIN_HEADER):
    return write_csv(path, rows, header, delimiter=";", bom=True, crlf=True)


def test_rheinwerk_semicolon_csv_berlin_time(env):
    file = write_rheinwerk(env.path("rheinwerk_decisions.csv"))
    assert file.read_bytes().startswith(b"\xef\xbb\xbfVorgang;")
    assert b"\r\n" in file.read_bytes()
    result = env.one("decisions", file, mapping=mapping("rheinwerk"))
    assert counts(result) == (6, 4, 0, 0, 2)
    assert env.rows("decisions", DECISION_COLS) == [
        ("N-1", "C-1", "rheinwerk", "berlin", "hate_speech", "de", "p0", "P-7", "remove", "hs_3",
         utc(2026, 3, 28, 22, 30), utc(2026, 3, 29, 0, 59), utc(2026, 3, 29, 1, 1),
         utc(2026, 3, 28, 23, 30), "config"),
        ("N-2", "C-2", "rheinwerk", "berlin", "hate_speech", "de", "p2", "P-7", None, None,
         utc(2026, 10, 24, 23, 30), None, None, utc(2026, 10, 25, 23, 30), "config"),
        ("N-3", "C-3", "rheinwerk", "leipzig", "graphic_violence", "de", "p1", "P-8", "approve",
         None, utc(2026, 10, 25, 2, 30), None, utc(2026, 10, 25, 3, 0), utc(2026, 10, 25, 6, 30),
         "config"),
        ("N-4", "C-4", "rheinwerk", "berlin", "hate_speech", "at", "p2", "P-8", "limit", "hs_1",
         utc(2026, 7, 15, 10, 0), utc(2026, 7, 15, 10, 5), utc(2026, 7, 15, 10, 10),
         utc(2026, 7, 16, 10, 0), "config"),
    ]  # fmt: skip
    # Across the spring-forward gap, 01:59 CET and 03:01 CEST are two minutes apart.
    (gap,) = env.row("decisions", "decision_id", "N-1", "decided_at - claimed_at")
    assert gap.total_seconds() == 120
    assert env.rejects(result.run_id) == [
        (6, _rheinwerk_raw(RHEIN_ROWS[4]),
         f"decision Sperren is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}"),
        (7, _rheinwerk_raw(RHEIN_ROWS[5]),
         "enqueued_at 2026-07-15T12:00:00 is not a timestamp (expected format %d.%m.%Y %H:%M)"),
    ]  # fmt: skip
    run = env.con.execute("SELECT vendor, mapping FROM ingest_runs").fetchall()
    assert run == [("rheinwerk", str(mapping("rheinwerk").source))]


def _rheinwerk_raw(row):
    """rejected_rows.raw of a validated row: the source columns as a JSON object."""
    return json.dumps(
        {h: (v or None) for h, v in zip(RHEIN_HEADER, row, strict=True)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def test_rheinwerk_audits_and_calibration(env):
    m = mapping("rheinwerk")
    env.one("decisions", write_rheinwerk(env.path("d.csv")), mapping=m)
    audits = write_csv(
        env.path("a.csv"),
        [
            ["Q-1", "N-1", "QA-3", "30.03.2026 10:00", "Freigeben", "", "stattgegeben", "ok"],
            ["Q-2", "N-3", "QA-3", "26.10.2026 10:00", "Löschen", "gv_1", "keiner", ""],
            ["Q-3", "N-4", "QA-3", "16.07.2026 09:00", "Einschränken", "hs_1", "offen", ""],
        ],
        ["Prüfung", "Vorgang", "QA-Prüfer", "Geprüft am", "QA-Entscheidung", "QA-Richtlinie",
         "Einspruch", "Kommentar"],
        delimiter=";", bom=True, crlf=True,
    )  # fmt: skip
    result = env.one("audits", audits, mapping=m)
    assert counts(result) == (3, 3, 0, 0, 0)
    assert env.rows(
        "audit_facts",
        "audit_id, audited_at, qa_decision, dispute_status, error_type, severity, is_error, "
        "vendor",
    ) == [
        ("Q-1", utc(2026, 3, 30, 8), "approve", "overturned", "over_enforcement", "major", False,
         "rheinwerk"),
        ("Q-2", utc(2026, 10, 26, 9), "remove", "none", "under_enforcement", "critical", True,
         "rheinwerk"),
        ("Q-3", utc(2026, 7, 16, 7), "limit", "pending", None, None, False, "rheinwerk"),
    ]  # fmt: skip

    ratings = write_csv(
        env.path("c.csv"),
        [
            ["K-1", "02.03.2026", "hate_speech", "C-1", "P-7", "Löschen", "hs_3", "nein"],
            ["K-1", "02.03.2026", "hate_speech", "C-1", "EXP", "Freigeben", "", "ja"],
            ["K-1", "2026-03-02", "hate_speech", "C-2", "P-7", "Löschen", "", "vielleicht"],
        ],
        ["Sitzung", "Datum", "Warteschlange", "Inhalt", "Prüfer", "Entscheidung", "Richtlinie",
         "Referenz"],
        delimiter=";", bom=True, crlf=True,
    )  # fmt: skip
    result = env.one("calibration", ratings, mapping=m)
    assert counts(result) == (3, 2, 0, 0, 1)
    assert env.rows("calibration_ratings", ", ".join(CAL)) == [
        ("K-1", date(2026, 3, 2), "hate_speech", "C-1", "EXP", "rheinwerk", "approve", None,
         True),
        ("K-1", date(2026, 3, 2), "hate_speech", "C-1", "P-7", "rheinwerk", "remove", "hs_3",
         False),
    ]  # fmt: skip
    [(line, _raw, reason)] = env.rejects(result.run_id)
    assert (line, reason) == (
        4,
        # an unreadable is_golden alone would keep the row (read as false, with a warning)
        "session_date 2026-03-02 is not a date (expected %d.%m.%Y)",
    )


PACIFICA = [
    {"taskId": "T-1", "contentId": "C-1", "queueName": "graphic_violence", "locale": "en-PH",
     "priorityLevel": "URGENT", "agentId": "AG-1", "actionTaken": "TAKEDOWN",
     "policyCode": "gv_2", "createdTs": 1767261600, "claimedTs": 1767261660,
     "resolvedTs": 1767262500, "slaDeadlineTs": 1767265200},
    # the file's site wins over the mapping's constant; epoch seconds as a string
    {"taskId": "T-2", "contentId": "C-2", "siteCode": "davao", "queueName": "graphic_violence",
     "locale": "en-PH", "priorityLevel": "NORMAL", "agentId": "AG-2", "createdTs": "1767261600"},
    {"taskId": "T-3", "contentId": "C-3", "queueName": "hate_speech", "locale": "tl-PH",
     "priorityLevel": "HIGH", "agentId": "AG-2", "actionTaken": "KEEP",
     "createdTs": 1767261600, "resolvedTs": 1767268800},
    # resolved one second before it was created: within the clock tolerance, so kept with
    # decided_at set to enqueued_at and a warning
    {"taskId": "T-4", "contentId": "C-4", "queueName": "hate_speech", "priorityLevel": "HIGH",
     "agentId": "AG-2", "actionTaken": "RESTRICT", "createdTs": 1767261600,
     "resolvedTs": 1767261599},
]  # fmt: skip


def test_pacifica_jsonl_epoch_seconds(env):
    file = write_jsonl(env.path("pacifica.jsonl"), PACIFICA)
    result = env.one("decisions", file, mapping=mapping("pacifica"))
    assert counts(result) == (4, 4, 0, 0, 0)
    assert result.ignored_columns == []
    assert env.rows("decisions", DECISION_COLS) == [
        ("T-1", "C-1", "pacifica", "cebu", "graphic_violence", "en-PH", "p0", "AG-1", "remove",
         "gv_2", utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 1), utc(2026, 1, 1, 10, 15),
         utc(2026, 1, 1, 11), "queue"),
        ("T-2", "C-2", "pacifica", "davao", "graphic_violence", "en-PH", "p2", "AG-2", None, None,
         utc(2026, 1, 1, 10), None, None, utc(2026, 1, 2, 10), "config"),
        ("T-3", "C-3", "pacifica", "cebu", "hate_speech", "tl-PH", "p1", "AG-2", "approve", None,
         utc(2026, 1, 1, 10), None, utc(2026, 1, 1, 12), utc(2026, 1, 1, 14), "config"),
        ("T-4", "C-4", "pacifica", "cebu", "hate_speech", None, "p1", "AG-2", "limit", None,
         utc(2026, 1, 1, 10), None, utc(2026, 1, 1, 10), utc(2026, 1, 1, 14), "config"),
    ]  # fmt: skip
    assert env.rejects(result.run_id) == []
    assert env.warnings(result.run_id) == [
        (4, "decided_at", "1767261599",
         "decided_at 1767261599 is before enqueued_at 1767261600, within the 60 s clock "
         "tolerance: set to enqueued_at"),
    ]  # fmt: skip


def test_pacifica_audits_with_qa_error_types(env):
    m = mapping("pacifica")
    env.one("decisions", write_jsonl(env.path("d.jsonl"), PACIFICA), mapping=m)
    audits = [
        {"auditId": "QA-1", "taskId": "T-1", "qaAgentId": "Q9", "auditTs": 1767344400,
         "qaAction": "TAKEDOWN", "qaPolicyCode": "gv_2"},
        {"auditId": "QA-2", "taskId": "T-3", "qaAgentId": "Q9", "auditTs": 1767344400,
         "qaAction": "AGE_RESTRICT", "errorType": "wrong_action", "severityLevel": "MINOR",
         "disputeState": "UPHELD", "qaNote": "should be age-gated"},
        {"auditId": "QA-3", "taskId": "T-404", "qaAgentId": "Q9", "auditTs": "yesterday",
         "qaAction": "KEEP"},
    ]  # fmt: skip
    result = env.one("audits", write_jsonl(env.path("a.jsonl"), audits), mapping=m)
    assert counts(result) == (3, 2, 0, 0, 1)
    assert env.rows(
        "audit_facts",
        "audit_id, audited_at, qa_decision, error_type, error_type_source, severity, "
        "dispute_status, is_error, comment",
    ) == [
        ("QA-1", utc(2026, 1, 2, 9), "remove", None, None, None, "none", False, None),
        ("QA-2", utc(2026, 1, 2, 9), "age_gate", "wrong_action", "qa", "minor", "upheld", True,
         "should be age-gated"),
    ]  # fmt: skip
    [(line, _raw, reason)] = env.rejects(result.run_id)
    assert (line, reason) == (
        3,
        "audited_at yesterday is not a timestamp (expected seconds since 1970-01-01 UTC)",
    )


def test_mapping_vendor_conflicts_with_vendor_option(env):
    file = write_rheinwerk(env.path("d.csv"), RHEIN_ROWS[:1])
    result = env.one("decisions", file, mapping=mapping("rheinwerk"), vendor="northwind")
    assert counts(result) == (1, 0, 0, 0, 1)
    [(line, _raw, reason)] = env.rejects(result.run_id)
    assert (line, reason) == (2, "vendor rheinwerk differs from --vendor northwind")


def test_vendor_option_fills_a_missing_vendor_column(env):
    rows = [{"decision_id": "v1", "item_id": "i", "workflow": "hate_speech",
             "reviewer_id": "r", "enqueued_at": "2026-03-02T08:00:00Z"}]  # fmt: skip
    result = env.one("decisions", write_csv(env.path("d.csv"), rows), vendor="acme")
    assert counts(result) == (1, 1, 0, 0, 0)
    assert env.rows("decisions", "decision_id, vendor") == [("v1", "acme")]
    assert env.con.execute("SELECT vendor FROM ingest_runs").fetchall() == [("acme",)]


def test_mapped_column_missing_from_the_file_is_named(env):
    header = [h for h in RHEIN_HEADER if h != "Prüfer"]
    rows = [[v for h, v in zip(RHEIN_HEADER, RHEIN_ROWS[0], strict=True) if h != "Prüfer"]]
    file = write_rheinwerk(env.path("d.csv"), rows, header)
    with pytest.raises(IngestError) as err:
        env.ingest("decisions", file, mapping=mapping("rheinwerk"))
    assert "missing required column(s) reviewer_id (mapped from 'Prüfer')" in str(err.value)
    assert env.rows("decisions") == []


def test_mapping_that_names_an_unknown_canonical_column(env, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('vendor = "x"\n[decisions.columns]\nreviewer = "Agent"\n', encoding="utf-8")
    with pytest.raises(IngestError, match=r"\[decisions.columns\] maps unknown canonical column"):
        env.ingest("decisions", tmp_path / "unused.csv", mapping=load_mapping(bad))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('timezone = "Europe/Berlinn"', "field 'timezone': unknown time zone 'Europe/Berlinn'"),
        ('encoding = "cp1252"', "field 'encoding': Input should be 'utf-8', 'latin-1' or 'utf-16'"),
        ("[csv]\nheader_row = 0", "field 'csv.header_row': Input should be greater than or equal"),
        ('vendr = "x"', "field 'vendr': Extra inputs are not permitted"),
        ("vendor = ", "not valid TOML"),
    ],
)
def test_bad_mapping_file_names_the_field(tmp_path, text, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping(bad)
    assert message in str(err.value)
    assert str(bad) in str(err.value)


def test_header_row_below_title_lines(env, tmp_path):
    """csv.header_row: lines above the header are skipped; reported lines stay physical."""
    (tmp_path / "titled.toml").write_text('vendor = "acme"\n[csv]\nheader_row = 3\n')
    file = env.path("titled.csv")
    file.write_text(
        "Decisions export, acme BPO\n"
        "generated 2026-03-03 06:00\n"
        "decision_id,item_id,workflow,reviewer_id,enqueued_at,policy\n"
        'd1,i1,hate_speech,r1,2026-03-02T08:00:00Z,"two\nlines"\n'
        "d2,i2,hate_speech\n"
        "d3,i3,hate_speech,r1,2026-03-02T08:00:00Z,\n"
        "d3,i3,hate_speech,r2,2026-03-02T08:00:00Z,\n"
    )
    result = env.one("decisions", file, mapping=load_mapping(tmp_path / "titled.toml"))
    assert counts(result) == (4, 2, 0, 0, 2)
    assert env.rows("decisions", "decision_id, vendor, policy") == [
        ("d1", "acme", "two\nlines"),
        ("d3", "acme", None),
    ]
    assert [(line, reason) for line, _, reason in env.rejects(result.run_id)] == [
        (6, "wrong number of fields (Expected Number of Columns: 6 Found: 3; separator is "
            "comma): check for an unquoted separator or a truncated line"),
        (8, "duplicate decision_id d3 in this file (first on line 7); "
            "send corrections in a later file"),
    ]  # fmt: skip
