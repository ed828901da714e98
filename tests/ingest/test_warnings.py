"""Reject only what the KPIs cannot use: a flaw in an optional field keeps the row, fixed or
emptied, with a warning (run, line, column, value, reason) kept apart from rejected rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ingest_testkit import AUD, counts, decision, utc, write_csv

from bpo_kpi.config import Config
from bpo_kpi_cli.main import main
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery

TOL = "within the 60 s clock tolerance"


def test_subsecond_claim_before_enqueue_keeps_the_decision_with_its_tat_and_audits(env):
    """The issue's case: the vendor's tool writes claimed_at at whole seconds, the queue stamps
    enqueued_at with microseconds, so claimed_at falls 0.2 s before enqueued_at."""
    rows = [
        decision("d1", enqueued_at="2026-03-02T08:00:00.200000Z",
                 claimed_at="2026-03-02T08:00:00Z", decided_at="2026-03-02T08:30:00Z"),
        decision("d2"),
    ]  # fmt: skip
    result = env.one("decisions", write_csv(env.path("d.csv"), rows))
    assert counts(result) == (2, 2, 0, 0, 0)
    assert result.warnings == 1
    assert env.warnings(result.run_id) == [
        (2, "claimed_at", "2026-03-02T08:00:00Z",
         "claimed_at 2026-03-02T08:00:00Z is before enqueued_at 2026-03-02T08:00:00.200000Z, "
         f"{TOL}: set to enqueued_at"),
    ]  # fmt: skip
    assert env.rejects(result.run_id) == []
    enq = dt.datetime(2026, 3, 2, 8, 0, 0, 200000, tzinfo=dt.UTC)
    assert env.row("decisions", "decision_id", "d1", "enqueued_at, claimed_at") == (enq, enq)
    audits = [{**dict.fromkeys(AUD, ""), "audit_id": "a1", "decision_id": "d1",
               "auditor_id": "q", "audited_at": "2026-03-03T09:00:00Z",
               "qa_decision": "approve"}]  # fmt: skip
    env.one("audits", write_csv(env.path("a.csv"), audits, header=AUD))
    env.close()
    with Gateway(env.db) as gw:
        row = kpi_table(gw, KpiQuery(kpis=("decisions", "tat_mean", "audits", "quality_score")))
    assert row[["decisions", "audits"]].iloc[0].tolist() == [2, 1]
    assert row["tat_mean"].iloc[0] == pytest.approx((30 - 0.2 / 60 + 30) / 2)
    assert row["quality_score"].iloc[0] == 0.0  # the audit's error counts


@pytest.mark.parametrize(
    ("values", "fixed", "warning"),
    [
        # beyond the tolerance an optional time is emptied
        ({"claimed_at": "2026-03-02T07:00:00Z"}, ("claimed_at", None),
         "claimed_at 2026-03-02T07:00:00Z is before enqueued_at 2026-03-02T08:00:00Z by more "
         "than the 60 s clock tolerance; emptied"),
        ({"claimed_at": "2026-03-02T08:30:20Z"}, ("claimed_at", utc(2026, 3, 2, 8, 30)),
         f"claimed_at 2026-03-02T08:30:20Z is after decided_at 2026-03-02T08:30:00Z, {TOL}: "
         "set to decided_at"),
        ({"claimed_at": "2026-03-02T09:00:00Z"}, ("claimed_at", None),
         "claimed_at 2026-03-02T09:00:00Z is after decided_at 2026-03-02T08:30:00Z by more "
         "than the 60 s clock tolerance; emptied"),
        ({"decided_at": "2026-03-02T07:59:30Z", "claimed_at": ""},
         ("decided_at", utc(2026, 3, 2, 8)),
         f"decided_at 2026-03-02T07:59:30Z is before enqueued_at 2026-03-02T08:00:00Z, {TOL}: "
         "set to enqueued_at"),
        # the queue's due time before the item arrived: emptied, the configured SLA applies
        ({"due_at": "2026-03-01T08:00:00Z"}, ("due_at", utc(2026, 3, 2, 12)),
         "due_at 2026-03-01T08:00:00Z is before enqueued_at 2026-03-02T08:00:00Z by more "
         "than the 60 s clock tolerance; emptied"),
        ({"claimed_at": "soon"}, ("claimed_at", None),
         "claimed_at soon is not a timestamp (expected ISO 8601, e.g. "
         "2026-10-05T14:03:00+02:00); emptied"),
        ({"claimed_at": "9999-12-31T00:00:00Z"}, ("claimed_at", None),
         "claimed_at 9999-12-31T00:00:00Z is outside the plausible range 2000-01-01 to "
         "{latest} (ingest.earliest_timestamp / ingest.max_future_days); emptied"),
        ({"due_at": "0001-01-01T00:00:00Z"}, ("due_at", utc(2026, 3, 2, 12)),
         "due_at 0001-01-01T00:00:00Z is outside the plausible range 2000-01-01 to {latest} "
         "(ingest.earliest_timestamp / ingest.max_future_days); emptied"),
    ],
    ids=["claim-early", "claim-late-tolerated", "claim-late", "decided-early-tolerated",
         "due-early", "claim-unreadable", "claim-far-future", "due-year-1"],
)  # fmt: skip
def test_flaws_in_optional_fields_keep_the_row(env, values, fixed, warning):
    result = env.one("decisions", write_csv(env.path("d.csv"), [decision("d1", **values)]))
    assert counts(result) == (1, 1, 0, 0, 0)
    column, value = fixed
    assert env.row("decisions", "decision_id", "d1", column) == (value,)
    latest = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).strftime("%Y-%m-%d")
    [(line, col, _, reason)] = env.warnings(result.run_id)
    assert (line, col, reason) == (2, column, warning.format(latest=latest))


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"enqueued_at": "9999-01-01T00:00:00Z"}, "enqueued_at 9999-01-01T00:00:00Z is outside "
         "the plausible range"),
        ({"enqueued_at": "0001-01-01T00:00:00Z", "claimed_at": "", "decided_at": ""},
         "enqueued_at 0001-01-01T00:00:00Z is outside the plausible range"),
        ({"decided_at": "294247-01-01T00:00:00Z"}, "decided_at 294247-01-01T00:00:00Z is "),
        ({"decided_at": "2026-03-02T07:00:00Z", "claimed_at": ""},
         "decided_at 2026-03-02T07:00:00Z is before enqueued_at 2026-03-02T08:00:00Z by more "
         "than the 60 s clock tolerance"),
    ],
    ids=["enqueued-9999", "enqueued-year-1", "decided-294247", "decided-an-hour-early"],
)  # fmt: skip
def test_what_the_kpis_need_is_still_rejected(env, values, reason):
    result = env.one("decisions", write_csv(env.path("d.csv"), [decision("d1", **values)]))
    assert counts(result) == (1, 0, 0, 0, 1)
    [(_, _, why)] = env.rejects(result.run_id)
    assert why.startswith(reason)
    assert result.warnings == 0  # a rejected row's flaws are in its reason, not in warnings


def test_the_tolerance_and_the_range_are_configurable(env):
    config = Config.model_validate(
        {"ingest": {"clock_tolerance_seconds": 0, "earliest_timestamp": "2026-03-01",
                    "max_future_days": 1}}
    )  # fmt: skip
    rows = [
        decision("d1", claimed_at="2026-03-02T07:59:59.900Z"),  # a tenth of a second early
        decision("d2", decided_at="2026-03-02T07:59:59.900Z", claimed_at=""),
        decision("d3", enqueued_at="2026-02-27T08:00:00Z", claimed_at="",
                 decided_at="2026-02-27T09:00:00Z"),
    ]  # fmt: skip
    result = env.one("decisions", write_csv(env.path("d.csv"), rows), config=config)
    assert counts(result) == (3, 1, 0, 0, 2)
    assert env.row("decisions", "decision_id", "d1", "claimed_at") == (None,)


def test_error_taxonomy_from_configuration(env, tmp_path):
    """The QA rubric's own error types: a category each, counting against quality or not;
    vendor words map to them; an unknown type is kept as an error of category other."""
    config = Config.model_validate(
        {
            "error_types": {
                "missed_escalation": {"category": "under_enforcement"},
                "wrong_tag": {"category": "wrong_policy"},
                "coaching_note": {"counts_against_quality": False},
            }
        }
    )
    (tmp_path / "m.toml").write_text(
        '[values.error_type]\n"Missed Escalation" = "missed_escalation"\n"Tag" = "wrong_tag"\n'
    )
    from ingest import load_mapping

    mapping = load_mapping(tmp_path / "m.toml")
    env.one("decisions", write_csv(env.path("d.csv"), [
        decision(f"d{i}", decision="approve", policy="") for i in range(1, 6)
    ]), config=config)  # fmt: skip
    audits = [
        {"audit_id": "a1", "decision_id": "d1", "error_type": "Missed Escalation",
         "qa_decision": "remove"},
        {"audit_id": "a2", "decision_id": "d2", "error_type": "Tag", "qa_decision": "approve"},
        {"audit_id": "a3", "decision_id": "d3", "error_type": "coaching_note",
         "qa_decision": "approve"},
        {"audit_id": "a4", "decision_id": "d4", "error_type": "Process Error",
         "qa_decision": "approve"},
        {"audit_id": "a5", "decision_id": "d5", "error_type": "", "qa_decision": "approve"},
    ]  # fmt: skip
    rows = [{**dict.fromkeys(AUD, ""), "auditor_id": "q", "audited_at": "2026-03-03T09:00:00Z",
             **a} for a in audits]  # fmt: skip
    result = env.one("audits", write_csv(env.path("a.csv"), rows, header=AUD),
                     config=config, mapping=mapping)  # fmt: skip
    assert counts(result) == (5, 5, 0, 0, 0)
    assert env.warnings(result.run_id) == [
        (5, "error_type", "Process Error",
         "error_type Process Error is not a configured error type; kept as an error of "
         "category other: add it to [error_types] in the configuration or a synonym to the "
         "vendor mapping's [values.error_type]"),
    ]  # fmt: skip
    assert env.rows(
        "audit_facts", "audit_id, error_type, error_category, error_counts, is_error, severity"
    ) == [
        ("a1", "missed_escalation", "under_enforcement", True, True, "major"),
        ("a2", "wrong_tag", "wrong_policy", True, True, "major"),
        ("a3", "coaching_note", "other", False, False, "major"),
        ("a4", "process error", "other", True, True, "major"),
        ("a5", None, None, False, False, None),
    ]
    env.close()
    with Gateway(env.db, config=config) as gw:
        row = kpi_table(gw, KpiQuery(kpis=("quality_score", "under_enforcement_rate",
                                           "dispute_rate"))).iloc[0]  # fmt: skip
    assert row["quality_score"] == pytest.approx(1 - 3 / 5)  # a1, a2, a4
    assert row["under_enforcement_rate"] == 1.0  # a1: QA's label actions, category under


def test_cli_shows_warnings_next_to_rejects(env, capsys):
    env.close()
    rows = [decision("d1", claimed_at="2026-03-02T07:59:59.800Z"), decision("d2", decision="x")]
    file = write_csv(env.path("d.csv"), rows)
    assert main(["ingest", "decisions", str(file), "--db", str(env.db), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "run 1: read 2 = 1 inserted + 0 updated + 0 unchanged + 0 stale + 1 rejected" in out
    assert (
        "warning 1x: claimed_at: claimed_at … is before enqueued_at … within the 60 s clock "
        "tolerance: set to enqueued_at" in out
    )
    assert "1 warnings (rows loaded, a field fixed or emptied): bpo-kpi warnings --run 1" in out
    assert main(["warnings", "--db", str(env.db), "--format", "json"]) == 0
    out = capsys.readouterr().out
    [row] = json.loads(out)
    assert (row["column_name"], row["source_line"]) == ("claimed_at", 2)
    assert main(["rejects", "--db", str(env.db), "--format", "csv"]) == 0
    assert "decision x is not a known label" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_nul_bytes_are_removed_with_a_warning(env, suffix):
    if suffix == ".csv":
        file = write_csv(env.path("d.csv"), [decision("d1", policy="hs\x00_1"), decision("d2")])
    else:
        file = env.path("d.jsonl")
        rows = [decision("d1", policy="hs\x00_1"), decision("d2")]
        file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = env.one("decisions", file)
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.row("decisions", "decision_id", "d1", "policy") == ("hs_1",)
    assert env.warnings(result.run_id) == [
        (1 if suffix == ".jsonl" else 2, "policy", "hs\\0_1",
         "policy holds NUL bytes (removed); check the export's encoding"),
    ]  # fmt: skip
