"""Re-ingest idempotence, upserts by key, and the derived audit_facts table."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from ingest_testkit import DEC, audit, counts, decision, rating, utc, write_csv

from bpo_kpi.config import Config

DECISIONS = [
    decision("d1"),
    decision("d2", decision="", policy="", decided_at="", claimed_at=""),
    decision("d3", decision="approve", policy="", priority="p0"),
    decision("d4", decision="nuke"),  # rejected
]
AUDITS = [
    audit("a1", "d1", qa_decision="approve"),
    audit("a2", "d3", qa_decision="remove", qa_policy="hs_1", dispute_status="pending"),
    audit("a3", "d9", qa_decision="limit"),  # orphan: its decision has not arrived
    audit("a4", "d1", audited_at="soon"),  # rejected
]
RATINGS = [
    rating("s1", "it1", "expert", vendor="internal", is_golden="true"),
    rating("s1", "it1", "r1"),
    rating("s1", "it1", "r2", label="approve", policy=""),
    rating("s1", "it1", "r3", label="?"),  # rejected
]

FACT_TABLES = ("decisions", "qa_audits", "calibration_ratings", "audit_facts", "meta")


def test_reingesting_the_same_files_changes_nothing(env):
    files = {
        "decisions": write_csv(env.path("d.csv"), DECISIONS),
        "audits": write_csv(env.path("a.csv"), AUDITS),
        "calibration": write_csv(env.path("c.csv"), RATINGS),
    }
    first = {kind: env.one(kind, f) for kind, f in files.items()}
    assert [counts(r) for r in first.values()] == [(4, 3, 0, 0, 1)] * 3
    before = env.snapshot()

    # The same content, mapping and configuration: recognised by its hash, not read again.
    second = {kind: env.one(kind, f) for kind, f in files.items()}
    assert [(r.status, r.run_id) for r in second.values()] == [
        ("already_loaded", first[kind].run_id) for kind in files
    ]
    assert env.snapshot() == before

    # Forced: read again, every valid row unchanged, the rejects recorded again (new run).
    third = {kind: env.one(kind, f, force=True) for kind, f in files.items()}
    assert [counts(r) for r in third.values()] == [(4, 0, 0, 3, 1)] * 3
    after = env.snapshot()
    for table in FACT_TABLES:
        assert after[table] == before[table], table
    assert len(after["ingest_runs"]) == 6
    assert [r[1:] for r in after["rejected_rows"] if r[0] in (4, 5, 6)] == [
        r[1:] for r in before["rejected_rows"]
    ]


def test_same_rows_in_another_format_are_unchanged(env):
    env.one("decisions", write_csv(env.path("d.csv"), DECISIONS[:3]))
    before = env.snapshot()
    names = list(DECISIONS[0])
    table = pa.table({n: [r[n] for r in DECISIONS[:3]] for n in names})
    pq.write_table(table, env.path("d.parquet"))
    result = env.one("decisions", env.path("d.parquet"))
    assert counts(result) == (3, 0, 0, 3, 0)
    assert env.snapshot()["decisions"] == before["decisions"]


def test_pending_decision_decided_later_and_audit_facts_follow(env):
    env.one("decisions", write_csv(env.path("d1.csv"), DECISIONS[:3]))
    result = env.one("audits", write_csv(env.path("a.csv"), AUDITS[:3]))
    assert counts(result) == (3, 3, 0, 0, 0)
    facts = (
        "audit_id, decision_id, decision, error_type, error_type_source, severity, is_error, "
        "is_orphan, vendor, workflow, decided_at"
    )
    assert env.rows("audit_facts", facts) == [
        ("a1", "d1", "remove", "over_enforcement", "derived", "major", True, False, "acme",
         "hate_speech", utc(2026, 3, 2, 8, 30)),
        ("a2", "d3", "approve", "under_enforcement", "derived", "critical", True, False, "acme",
         "hate_speech", utc(2026, 3, 2, 8, 30)),
        ("a3", "d9", None, None, None, None, False, True, None, None, None),
    ]  # fmt: skip

    # A second file: d2 (pending) gets decided, d3 is re-sent corrected, d9 arrives, d1 the same.
    later = [
        decision("d1"),
        decision("d2", decision="limit", decided_at="2026-03-02T09:00:00Z", claimed_at=""),
        decision("d3", decision="remove", policy="hs_1", priority="p0"),
        decision("d9", decision="age_gate", policy="hs_1", workflow="graphic_violence",
                 enqueued_at="2026-03-01T08:00:00Z", claimed_at="",
                 decided_at="2026-03-01T09:00:00Z"),
    ]  # fmt: skip
    result = env.one("decisions", write_csv(env.path("d2.csv"), later))
    assert counts(result) == (4, 1, 2, 1, 0)
    assert env.row("decisions", "decision_id", "d2", "decision, decided_at, run_id") == (
        "limit",
        utc(2026, 3, 2, 9),
        result.run_id,
    )
    (first_run,) = env.row("decisions", "decision_id", "d1", "run_id")
    assert first_run == 1  # unchanged rows keep the run that wrote them

    # d3's label changed after QA audited it (a2): the audit stays scored against the label QA
    # saw (approve -> QA says remove: under-enforcement), and the edit is recorded.
    assert env.rows("audit_facts", facts + ", edited_after_audit") == [
        ("a1", "d1", "remove", "over_enforcement", "derived", "major", True, False, "acme",
         "hate_speech", utc(2026, 3, 2, 8, 30), False),
        ("a2", "d3", "approve", "under_enforcement", "derived", "critical", True, False,
         "acme", "hate_speech", utc(2026, 3, 2, 8, 30), True),
        # both actioning, QA gave no policy, labels differ
        ("a3", "d9", "age_gate", "wrong_action", "derived", "major", True, False, "acme",
         "graphic_violence", utc(2026, 3, 1, 9), False),
    ]  # fmt: skip
    assert result.edits_after_audit == 1
    assert env.rows(
        "edits_after_audit",
        "run_id, decision_id, vendor, audits, old_decision, new_decision, old_policy, new_policy",
    ) == [(result.run_id, "d3", "acme", 1, "approve", "remove", None, "hs_1")]
    # Re-sending the audit re-scores it against the decision as it now stands.
    rescored = env.one("audits", write_csv(env.path("a2.csv"), [AUDITS[1]]), force=True)
    assert counts(rescored) == (1, 0, 0, 1, 0)  # unchanged: the pin stays
    changed = [audit("a2", "d3", qa_decision="remove", qa_policy="hs_1", comment="re-checked")]
    env.one("audits", write_csv(env.path("a2b.csv"), changed))
    assert env.rows("audit_facts", "audit_id, decision, error_type, is_error",
                    "WHERE audit_id = 'a2'") == [("a2", "remove", None, False)]  # fmt: skip


def test_resent_audit_updates_its_fact_row(env):
    env.one("decisions", write_csv(env.path("d.csv"), DECISIONS[:3]))
    env.one("audits", write_csv(env.path("a1.csv"), [audit("a1", "d1", qa_decision="approve")]))
    corrected = [audit("a1", "d1", qa_decision="remove", comment="my mistake")]
    result = env.one("audits", write_csv(env.path("a2.csv"), corrected))
    assert counts(result) == (1, 0, 1, 0, 0)
    assert env.rows("audit_facts", "audit_id, qa_decision, error_type, is_error, comment") == [
        ("a1", "remove", None, False, "my mistake")
    ]


# Decision (label, policy) and QA (label, policy, error_type, severity, dispute) ->
# expected (error_type, error_type_source, severity, is_error) with the default configuration:
# actioning = remove, limit, age_gate; under-enforcement critical, wrong policy minor, else major.
ERROR_CASES = [
    ("over", ("remove", "hs_1"), ("approve", "", "", "", ""),
     ("over_enforcement", "derived", "major", True)),
    ("under", ("approve", ""), ("limit", "hs_2", "", "", ""),
     ("under_enforcement", "derived", "critical", True)),
    ("policy", ("remove", "hs_1"), ("remove", "hs_2", "", "", ""),
     ("wrong_policy", "derived", "minor", True)),
    ("action", ("remove", "hs_1"), ("limit", "hs_1", "", "", ""),
     ("wrong_action", "derived", "major", True)),
    ("action-no-qa-policy", ("remove", "hs_1"), ("age_gate", "", "", "", ""),
     ("wrong_action", "derived", "major", True)),
    ("correct", ("remove", "hs_1"), ("remove", "hs_1", "", "", ""), (None, None, None, False)),
    ("correct-no-qa-policy", ("limit", "hs_1"), ("limit", "", "", "", ""),
     (None, None, None, False)),
    ("non-actioning-differ", ("approve", ""), ("escalate", "", "", "", ""),
     (None, None, None, False)),
    ("overturned", ("remove", "hs_1"), ("approve", "", "", "", "overturned"),
     ("over_enforcement", "derived", "major", False)),
    ("upheld", ("remove", "hs_1"), ("approve", "", "", "", "upheld"),
     ("over_enforcement", "derived", "major", True)),
    ("pending-dispute", ("approve", ""), ("remove", "hs_1", "", "", "pending"),
     ("under_enforcement", "derived", "critical", True)),
    ("qa-says-none", ("remove", "hs_1"), ("approve", "", "none", "", ""),
     (None, None, None, False)),
    ("qa-severity-wins", ("approve", ""), ("remove", "hs_1", "", "Minor", ""),
     ("under_enforcement", "derived", "minor", True)),
    ("qa-error-type", ("remove", "hs_1"), ("remove", "hs_1", "wrong_policy", "", ""),
     ("wrong_policy", "qa", "minor", True)),
    ("qa-error-type-overturned", ("remove", "hs_1"),
     ("remove", "hs_1", "wrong_action", "", "overturned"),
     ("wrong_action", "qa", "major", False)),
]  # fmt: skip


def test_derived_error_types_and_severities(env):
    decisions, audits = [], []
    for i, (_name, (label, policy), (qa, qa_policy, etype, sev, dispute), _exp) in enumerate(
        ERROR_CASES
    ):
        decisions.append(decision(f"d{i:02}", decision=label, policy=policy))
        audits.append(
            audit(f"a{i:02}", f"d{i:02}", qa_decision=qa, qa_policy=qa_policy, error_type=etype,
                  severity=sev, dispute_status=dispute)
        )  # fmt: skip
    env.one("decisions", write_csv(env.path("d.csv"), decisions))
    result = env.one("audits", write_csv(env.path("a.csv"), audits))
    assert counts(result) == (len(ERROR_CASES), len(ERROR_CASES), 0, 0, 0)
    got = env.rows("audit_facts", "audit_id, error_type, error_type_source, severity, is_error")
    assert got == [(f"a{i:02}", *case[3]) for i, case in enumerate(ERROR_CASES)]


def test_configuration_change_recomputes_severity_and_sla(env):
    env.one("decisions", write_csv(env.path("d.csv"), [
        decision("d1", priority="p1"),  # due from config: 08:00 + 240 min
        decision("d2", priority="p1", due_at="2026-03-02T09:00:00Z"),  # due from the queue
        decision("d3", decision="approve", policy="", workflow="graphic_violence", priority="p0"),
    ]))  # fmt: skip
    env.one("audits", write_csv(env.path("a.csv"), [
        audit("a1", "d1", qa_decision="approve"),
        audit("a3", "d3", qa_decision="remove", qa_policy="gv_1"),
    ]))  # fmt: skip
    assert env.rows("audit_facts", "audit_id, severity") == [("a1", "major"), ("a3", "critical")]

    stricter = Config.model_validate(
        {
            "default_severity": "minor",
            "severity_rules": [{"severity": "critical", "workflow": "hate_speech"}],
            "targets": {"workflows": {"hate_speech": {"sla_minutes": {"p1": 30}}}},
        }
    )
    empty = env.path("empty.csv")
    empty.write_text(",".join(DEC) + "\n")  # header only
    result = env.one("decisions", empty, config=stricter)
    assert counts(result) == (0, 0, 0, 0, 0)
    assert env.rows("audit_facts", "audit_id, severity, due_at") == [
        ("a1", "critical", utc(2026, 3, 2, 8, 30)),
        ("a3", "minor", utc(2026, 3, 2, 9)),
    ]
    assert env.rows("decisions", "decision_id, due_at, due_at_source") == [
        ("d1", utc(2026, 3, 2, 8, 30), "config"),
        ("d2", utc(2026, 3, 2, 9), "queue"),
        ("d3", utc(2026, 3, 2, 9), "config"),
    ]
    assert env.rows("meta", where="WHERE key = 'config_hash'") == [
        ("config_hash", stricter.content_hash())
    ]
