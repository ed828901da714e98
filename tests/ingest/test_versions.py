"""Versions of a fact row: corrections apply, stale re-sends never revert newer data, a vendor
update time decides whatever the order of arrival, and edits after a QA audit are flagged."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_testkit import DEC, Env, audit, counts, decision, utc, write_csv

from bpo_kpi.config import Config
from kpi import health, monitor
from kpi.gateway import Gateway
from kpi.query import KpiQuery

# A realistic month in miniature: the original export (d3, d4 pending), a file of corrections
# and late decisions, QA audits, then the vendor re-sending the original export.
ORIGINAL = [
    decision("d1"),
    decision("d2", decision="approve", policy=""),
    decision("d3", decision="", policy="", claimed_at="", decided_at=""),
    decision("d4", decision="", policy="", claimed_at="", decided_at=""),
    decision("d5", enqueued_at="2026-03-02T09:00:00Z", claimed_at="2026-03-02T09:05:00Z",
             decided_at="2026-03-02T09:20:00Z"),
]  # fmt: skip
CORRECTIONS = [
    decision("d2", decision="remove", policy="hs_2"),  # label corrected
    decision("d3", decided_at="2026-03-02T10:00:00Z", claimed_at=""),  # decided late
    decision("d4", decision="limit", decided_at="2026-03-03T08:00:00Z", claimed_at=""),
    decision("d5", enqueued_at="2026-03-02T08:55:00Z", claimed_at="2026-03-02T09:05:00Z",
             decided_at="2026-03-02T09:20:00Z"),  # corrected enqueue time
]  # fmt: skip
AUDITS = [audit("a1", "d1"), audit("a2", "d2", qa_decision="remove", qa_policy="hs_2")]


def final_rows(env: Env) -> list[tuple]:
    return env.rows("decisions", "decision_id, decision, policy, enqueued_at, decided_at")


def test_a_resent_original_export_never_reverts_corrections(env):
    original = write_csv(env.path("export_0301.csv"), ORIGINAL)
    env.one("decisions", original)
    fixed = env.one("decisions", write_csv(env.path("corrections_0303.csv"), CORRECTIONS))
    assert counts(fixed) == (4, 0, 4, 0, 0)
    env.one("audits", write_csv(env.path("qa_0304.csv"), AUDITS))
    expected = [
        ("d1", "remove", "hs_1", utc(2026, 3, 2, 8), utc(2026, 3, 2, 8, 30)),
        ("d2", "remove", "hs_2", utc(2026, 3, 2, 8), utc(2026, 3, 2, 8, 30)),
        ("d3", "remove", "hs_1", utc(2026, 3, 2, 8), utc(2026, 3, 2, 10)),
        ("d4", "limit", "hs_1", utc(2026, 3, 2, 8), utc(2026, 3, 3, 8)),
        ("d5", "remove", "hs_1", utc(2026, 3, 2, 8, 55), utc(2026, 3, 2, 9, 20)),
    ]
    assert final_rows(env) == expected

    # The same file again: recognised by its content, not read.
    again = env.one("decisions", original)
    assert (again.status, again.run_id) == ("already_loaded", 1)
    # Re-exported (other bytes: rows in another order, CRLF): every row read, the four that
    # the corrections replaced are stale (equal to superseded versions), d1 unchanged.
    shuffled = ORIGINAL[::-1]
    resent = env.one("decisions", write_csv(env.path("export_0301_v2.csv"), shuffled, crlf=True))
    assert (resent.rows_read, resent.unchanged, resent.stale, resent.updated) == (5, 1, 4, 0)
    assert final_rows(env) == expected  # nothing reverted: pending items stay decided
    # Every version is kept: the originals of d2..d5, each once.
    assert env.rows("decisions_history", "decision_id, decision, decided_at IS NULL") == [
        ("d2", "approve", False),
        ("d3", None, True),
        ("d4", None, True),
        ("d5", "remove", False),
    ]


def test_a_pending_row_never_reopens_a_decided_item(env):
    env.one("decisions", write_csv(env.path("a.csv"), [decision("d1")]))
    # A pending version never seen before (an older export the vendor never sent us).
    pending = [decision("d1", decision="", policy="", claimed_at="", decided_at="")]
    result = env.one("decisions", write_csv(env.path("b.csv"), pending))
    assert (result.stale, result.updated) == (1, 0)
    assert env.row("decisions", "decision_id", "d1", "decided_at") == (utc(2026, 3, 2, 8, 30),)
    # The late-arrived version is kept in the history (once, even if sent again).
    env.one("decisions", write_csv(env.path("c.csv"), pending, crlf=True))
    assert env.rows("decisions_history", "decision_id, decided_at") == [("d1", None)]


def test_a_correction_equal_to_no_earlier_version_applies(env):
    """Only versions already superseded are stale: a new value is an update, even back and
    forth once the vendor's own update time says so."""
    env.one("decisions", write_csv(env.path("a.csv"), [decision("d1", policy="hs_1")]))
    env.one("decisions", write_csv(env.path("b.csv"), [decision("d1", policy="hs_2")]))
    result = env.one("decisions", write_csv(env.path("c.csv"), [decision("d1", policy="hs_3")]))
    assert result.updated == 1
    back = env.one("decisions", write_csv(env.path("d.csv"), [decision("d1", policy="hs_1")]),
                   force=True)  # the same bytes as a.csv  # fmt: skip
    assert (back.stale, back.updated) == (1, 0)  # by arrival alone: a stale re-send
    assert env.row("decisions", "decision_id", "d1", "policy") == ("hs_3",)


UPDATE = [*DEC, "updated_at"]


def test_update_time_decides_whatever_the_arrival_order(env):
    newer = decision("d1", policy="hs_2", updated_at="2026-03-05T10:00:00Z")
    older = decision("d1", policy="hs_1", updated_at="2026-03-04T10:00:00Z")
    env.one("decisions", write_csv(env.path("new.csv"), [newer], header=UPDATE))
    late = env.one("decisions", write_csv(env.path("old.csv"), [older], header=UPDATE))
    assert (late.stale, late.updated) == (1, 0)
    assert env.row("decisions", "decision_id", "d1", "policy, updated_at") == (
        "hs_2", utc(2026, 3, 5, 10)
    )  # fmt: skip
    assert env.rows("decisions_history", "policy, updated_at") == [("hs_1", utc(2026, 3, 4, 10))]
    # With an update time a value may return: a newer version equal in content to an older.
    again = decision("d1", policy="hs_1", updated_at="2026-03-06T10:00:00Z")
    result = env.one("decisions", write_csv(env.path("newest.csv"), [again], header=UPDATE))
    assert result.updated == 1
    assert env.row("decisions", "decision_id", "d1", "policy") == ("hs_1",)


def test_a_change_log_file_holds_several_versions_of_a_key(env):
    """Copies of a key with distinct update times are versions: the newest loads, the older
    ones are stale (kept in the history). Copies without them contradict each other."""
    rows = [
        decision("d1", policy="hs_1", updated_at="2026-03-04T10:00:00Z"),
        decision("d2", updated_at="2026-03-04T10:00:00Z"),
        decision("d1", policy="hs_3", updated_at="2026-03-06T10:00:00Z"),
        decision("d1", policy="hs_2", updated_at="2026-03-05T10:00:00Z"),
    ]
    result = env.one("decisions", write_csv(env.path("log.csv"), rows, header=UPDATE))
    assert (result.rows_read, result.inserted, result.stale, result.rejected) == (4, 2, 2, 0)
    assert env.rows("decisions", "decision_id, policy") == [("d1", "hs_3"), ("d2", "hs_1")]
    assert env.rows("decisions_history", "policy") == [("hs_1",), ("hs_2",)]


VERSION_TIMES = [f"2026-03-{d:02d}T{h:02d}:00:00Z" for d in (4, 5) for h in (8, 12)]


@st.composite
def versioned_files(draw):
    """Versions of a few keys (distinct update times per key), split across files."""
    versions = []
    for key in range(draw(st.integers(1, 4))):
        times = draw(st.lists(st.sampled_from(VERSION_TIMES), min_size=1, max_size=3, unique=True))
        for t in times:
            label = draw(st.sampled_from(["remove", "limit", "approve", ""]))
            decided = "" if not label else "2026-03-02T09:00:00Z"
            versions.append(
                decision(f"d{key}", decision=label, policy="hs_1" if label else "",
                         decided_at=decided, claimed_at="", updated_at=t)
            )  # fmt: skip
    files = draw(st.integers(1, len(versions)))
    # One version of a key per file (a file may not contradict itself); the rest spread.
    assignment = [draw(st.integers(0, files - 1)) for _ in versions]
    return versions, assignment, files


@settings(max_examples=12, deadline=None, database=None)
@given(data=st.data())
def test_any_order_of_arrival_gives_the_same_final_table(data):
    versions, assignment, n_files = data.draw(versioned_files())
    order = data.draw(st.permutations(range(n_files)))
    results = []
    for permutation in (list(range(n_files)), list(order)):
        with tempfile.TemporaryDirectory() as tmp:
            env = Env.create(Path(tmp))
            try:
                for i, f in enumerate(permutation):
                    rows = [v for v, a in zip(versions, assignment, strict=True) if a == f]
                    if rows:
                        env.ingest(
                            "decisions", write_csv(env.path(f"{i}.csv"), rows, header=UPDATE)
                        )
                results.append(
                    (
                        env.rows("decisions", ", ".join([*DEC, "updated_at", "due_at_source"])),
                        env.rows("decisions_history", ", ".join([*DEC, "updated_at"])),
                    )
                )
            finally:
                env.close()
    (table_a, history_a), (table_b, history_b) = results
    assert table_a == table_b
    # Each key's current row is its newest version.
    newest = {}
    for v in versions:
        if v["decision_id"] not in newest or v["updated_at"] > newest[v["decision_id"]]:
            newest[v["decision_id"]] = v["updated_at"]
    assert len(table_a) == len(newest)
    # The history holds the same versions (a version may be met more than once: the set).
    assert set(history_a) == set(history_b)


def test_decisions_edited_after_audit_are_flagged_and_scored_as_audited(env, tmp_path):
    env.one("decisions", write_csv(env.path("d.csv"), [decision("d1"), decision("d2")]))
    env.one("audits", write_csv(env.path("a.csv"), [
        audit("a1", "d1", qa_decision="approve"),  # QA: over-enforcement
        audit("a2", "d2"),
    ]))  # fmt: skip
    edit = [decision("d1", decision="approve", policy=""), decision("d2", policy="hs_7")]
    result = env.one("decisions", write_csv(env.path("edit.csv"), edit))
    assert result.edits_after_audit == 2
    facts = env.rows("audit_facts", "audit_id, decision, policy, is_error, edited_after_audit")
    assert facts == [("a1", "remove", "hs_1", True, True), ("a2", "remove", "hs_1", False, True)]
    env.close()
    with Gateway(env.db) as gw:
        edits = health.edits_after_audit(gw)
        shown = edits[["decision_id", "old_decision", "new_decision", "old_policy", "new_policy"]]
        assert shown.astype(object).where(shown.notna(), None).values.tolist() == [
            ["d1", "remove", "approve", "hs_1", None],
            ["d2", "remove", "remove", "hs_1", "hs_7"],
        ]  # fmt: skip
        integrity = health.vendor_integrity(gw).iloc[0]
        assert (integrity["decided"], integrity["corrected"], integrity["edited_after_audit"]) == (
            2, 2, 2
        )  # fmt: skip
        assert integrity["correction_rate"] == 1.0
        today = edits["recorded_at"].iloc[0].date()
        base = KpiQuery(start=today, end=today)
        alerts = monitor.alerts(gw, base, today)
        [row] = alerts[alerts["kind"] == "edited_after_audit"].to_dict("records")
        assert (row["vendor"], row["workflow"], row["value"], row["n"]) == (
            "acme", "hate_speech", 2.0, 2
        )  # fmt: skip
        assert "1 label change(s)" in row["message"]


def test_correction_rate_counts_changes_to_decided_rows_only(env):
    """A pending item being decided is its normal course; a decided row changed is a
    correction."""
    env.one("decisions", write_csv(env.path("a.csv"), [
        decision("d1"), decision("d2", decision="", policy="", decided_at="", claimed_at=""),
        decision("d3"), decision("d4"),
    ]))  # fmt: skip
    env.one("decisions", write_csv(env.path("b.csv"), [
        decision("d2"),  # decided
        decision("d3", policy="hs_9"),  # corrected
    ]))  # fmt: skip
    env.close()
    with Gateway(env.db) as gw:
        row = health.vendor_integrity(gw).iloc[0]
    assert (row["decided"], row["corrected"], row["correction_rate"]) == (4, 1, 0.25)


def test_row_order_of_a_resend_does_not_matter(env):
    env.one("decisions", write_csv(env.path("a.csv"), ORIGINAL))
    env.one("decisions", write_csv(env.path("b.csv"), CORRECTIONS))
    before = final_rows(env)
    rows = ORIGINAL + CORRECTIONS[:1]
    random.Random(3).shuffle(rows)
    rows = [r for i, r in enumerate(rows) if r["decision_id"] not in
            {x["decision_id"] for x in rows[:i]}]  # fmt: skip
    result = env.one("decisions", write_csv(env.path("c.csv"), rows))
    assert result.updated == 0 and result.stale + result.unchanged == result.rows_read
    assert final_rows(env) == before


def test_config_for_audits_scored_pins_survive_a_configuration_change(env):
    """A configuration change re-derives audit_facts from the pinned labels, not the edited."""
    env.one("decisions", write_csv(env.path("d.csv"), [decision("d1")]))
    env.one("audits", write_csv(env.path("a.csv"), [audit("a1", "d1", qa_decision="approve")]))
    env.one("decisions", write_csv(env.path("e.csv"), [decision("d1", decision="approve",
                                                                 policy="")]))  # fmt: skip
    other = Config.model_validate({"default_severity": "critical"})
    empty = env.path("empty.csv")
    empty.write_text(",".join(DEC) + "\n")
    env.one("decisions", empty, config=other)
    assert env.rows("audit_facts", "decision, error_type, severity") == [
        ("remove", "over_enforcement", "critical")
    ]
