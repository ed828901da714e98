"""Property tests: the order of rows, and how rows are split across files, does not matter."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_testkit import audit, counts, decision, write_csv

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files

CONFIG = Config()
TIMES = ["2026-03-02T08:00:00Z", "2026-03-02 09:30:00", "2026-03-02T10:00:00+02:00", "someday"]
DECIDED = ["", "2026-03-02T07:00:00Z", "2026-03-02T12:00:00Z", "2026-03-03 00:00:00"]


@st.composite
def decision_rows(draw, min_size=1, max_size=12):
    """Rows with distinct ids; some are invalid (bad label, time, order, missing reviewer)."""
    ids = draw(st.lists(st.integers(0, 40), min_size=min_size, max_size=max_size, unique=True))
    rows = []
    for i in ids:
        decided = draw(st.sampled_from(DECIDED))
        label = draw(st.sampled_from(["remove", "approve", "limit", "bogus"])) if decided else ""
        rows.append(
            decision(
                f"d{i:02}",
                workflow=draw(st.sampled_from(["hate_speech", "graphic_violence"])),
                priority=draw(st.sampled_from(["p0", "p1", "p2", "", "p7"])),
                reviewer_id=draw(st.sampled_from(["rev-1", "rev-2", ""])),
                decision=label,
                enqueued_at=draw(st.sampled_from(TIMES)),
                claimed_at="",
                decided_at=decided,
            )
        )
    return rows


# Audits of some of the possible decisions (and of some that never arrive).
AUDITS = [
    audit(f"a{i:02}", f"d{i:02}", qa_decision=qa, qa_policy="hs_2" if i % 3 else "")
    for i, qa in zip(range(0, 44, 4), ["remove", "approve", "limit"] * 4, strict=False)
]


def load(folder: Path, name: str, files: list[list[dict]], with_audits: bool = False):
    """Ingest each list of rows as its own file into a fresh in-memory database."""
    con = connect(":memory:")
    results = []
    if with_audits:
        ingest_files(con, "audits", [write_csv(folder / f"{name}-a.csv", AUDITS)], config=CONFIG)
    for n, rows in enumerate(files):
        file = write_csv(folder / f"{name}-{n}.csv", rows, header=list(decision("x")))
        results += ingest_files(con, "decisions", [file], config=CONFIG)
    tables = {
        "decisions": con.execute(
            "SELECT * EXCLUDE (run_id, version_run) FROM decisions ORDER BY ALL"
        ).fetchall(),
        "audit_facts": con.execute("SELECT * FROM audit_facts ORDER BY ALL").fetchall(),
        "rejects": con.execute("SELECT raw, reason FROM rejected_rows ORDER BY ALL").fetchall(),
    }
    con.close()
    return tables, results


# Each example loads fresh databases (~60 ms per file): few examples keep the suite fast.
SETTINGS = settings(max_examples=15, deadline=None, database=None)


@SETTINGS
@given(data=st.data())
def test_row_order_does_not_matter(data):
    rows = data.draw(decision_rows())
    shuffled = data.draw(st.permutations(rows))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first, [r1] = load(folder, "orig", [rows])
        second, [r2] = load(folder, "perm", [shuffled])
    assert first == second
    assert counts(r1) == counts(r2)
    assert r1.reasons == r2.reasons
    assert r1.rows_read == len(rows) == r1.inserted + r1.rejected


@settings(SETTINGS, max_examples=8)
@given(data=st.data())
def test_split_across_two_files_in_either_order(data):
    rows = data.draw(decision_rows(min_size=2))
    cut = data.draw(st.integers(1, len(rows) - 1))
    head, tail = rows[:cut], rows[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        whole, [w] = load(folder, "whole", [rows], with_audits=True)
        forward, [f1, f2] = load(folder, "fwd", [head, tail], with_audits=True)
        backward, [b1, b2] = load(folder, "bwd", [tail, head], with_audits=True)
    assert whole == forward == backward
    assert counts(f1) == counts(b2)
    assert counts(f2) == counts(b1)
    assert w.inserted == f1.inserted + f2.inserted
    assert w.rejected == f1.rejected + f2.rejected
