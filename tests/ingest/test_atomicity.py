"""A failure anywhere in a load leaves every table exactly as it was, except that the runs
are recorded: the failing file's as failed with the reason, the others of the command as
rolled back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ingest_testkit import Env, audit, counts, decision, rating, write_csv

from bpo_kpi.config import Config
from bpo_kpi_cli.main import main

STEPS = ["after_stage", "after_update", "after_insert", "after_audit_facts"]

# A configuration different from the one the data was loaded with: the failing load also
# recomputes SLA due times, audit_facts and meta before it fails.
OTHER_CONFIG = Config.model_validate(
    {
        "default_severity": "critical",
        "targets": {"workflows": {"hate_speech": {"sla_minutes": {"p1": 5}}}},
    }
)


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory) -> Path:
    """The seeded database, built once per module and copied for each test."""
    folder = tmp_path_factory.mktemp("seeded")
    env = Env.create(folder)
    seed(env)
    env.close()
    return env.db


@pytest.fixture
def seeded(seeded_template, tmp_path):
    shutil.copy(seeded_template, tmp_path / "test.duckdb")
    env = Env.create(tmp_path)
    yield env
    env.close()


def seed(env):
    """A database holding decisions, audits, ratings, rejects and two config-derived values."""
    env.one("decisions", write_csv(env.path("d0.csv"), [
        decision("d1"),
        decision("d2", decision="", policy="", decided_at="", claimed_at=""),
        decision("d3", decision="approve", policy=""),
        decision("bad", decision="nuke"),
    ]))  # fmt: skip
    env.one("audits", write_csv(env.path("a0.csv"), [
        audit("a1", "d1", qa_decision="approve"),
        audit("a2", "d3", qa_decision="limit", qa_policy="hs_1"),
        audit("a3", "d7", qa_decision="remove"),
    ]))  # fmt: skip
    env.one("calibration", write_csv(env.path("c0.csv"), [
        rating("s1", "it1", "expert", is_golden="true"),
        rating("s1", "it1", "r1", label="approve", policy=""),
    ]))  # fmt: skip


def new_files(env, kind):
    """Two files that insert, update and reject rows of `kind`."""
    if kind == "decisions":
        rows = [
            [decision("d2", decided_at="2026-03-02T09:00:00Z"), decision("d7"),
             decision("x", vendor="")],
            [decision("d3", decision="limit"), decision("d8", priority="p0")],
        ]  # fmt: skip
    elif kind == "audits":
        rows = [
            [audit("a1", "d1", qa_decision="remove"), audit("a4", "d2"),
             audit("a5", "d1", severity="?")],
            [audit("a2", "d3", dispute_status="overturned"), audit("a6", "d3")],
        ]  # fmt: skip
    else:
        rows = [
            [rating("s1", "it1", "r1", label="remove"), rating("s1", "it2", "r1"),
             rating("s1", "it1", "expert2", is_golden="true")],
            [rating("s2", "it1", "r1"),
             rating("s1", "it1", "expert", label="limit", is_golden="true")],
        ]  # fmt: skip
    return [write_csv(env.path(f"{kind}{i}.csv"), r) for i, r in enumerate(rows)]


@pytest.mark.parametrize("kind", ["decisions", "audits", "calibration"])
@pytest.mark.parametrize(
    ("step", "nth"),
    [(s, n) for s in STEPS for n in (1, 2)] + [("before_commit", 1)],
    ids=lambda v: str(v),
)
def test_fault_at_any_step_rolls_everything_back(seeded, kind, step, nth):
    env = seeded
    before = env.snapshot(runs=False)
    last = env.last_run()
    files = new_files(env, kind)
    seen: list[str] = []

    def fault(name: str) -> None:
        seen.append(name)
        if name == step and seen.count(name) == nth:
            raise Boom(name)

    with pytest.raises(Boom):
        env.ingest(kind, *files, config=OTHER_CONFIG, fault=fault)
    if step == "before_commit":
        expected_calls = [*STEPS, *STEPS, "before_commit"]
    else:  # every step of the files before, then this file's steps up to the failing one
        expected_calls = STEPS * (nth - 1) + STEPS[: STEPS.index(step) + 1]
    assert seen == expected_calls
    assert env.snapshot(runs=False) == before
    if step == "before_commit":
        expected_runs = [(f.name, "failed", f"failed before commit: {step}") for f in files]
    else:
        why = f"not loaded: {files[nth - 1].name} failed in the same command ({step})"
        expected_runs = [
            (f.name, "failed", step) if i == nth - 1 else (f.name, "rolled_back", why)
            for i, f in enumerate(files)
        ]
    assert env.runs_after(last) == expected_runs

    if nth == 2:
        return
    # The connection is still usable and the same load then succeeds as if nothing happened.
    results = env.ingest(kind, *files, config=OTHER_CONFIG)
    assert [counts(r) for r in results] == {
        "decisions": [(3, 1, 1, 0, 1), (2, 1, 1, 0, 0)],
        # a5's severity "?" is emptied with a warning: the audit itself is kept
        "audits": [(3, 2, 1, 0, 0), (2, 1, 1, 0, 0)],
        "calibration": [(3, 1, 1, 0, 1), (2, 1, 1, 0, 0)],
    }[kind]
    assert [r.warnings for r in results] == ([1, 0] if kind == "audits" else [0, 0])
    assert env.snapshot()["meta"] != before["meta"]  # the new configuration is now recorded


def test_interrupt_rolls_back_too(env):
    seed(env)
    before = env.snapshot(runs=False)
    last = env.last_run()

    def interrupt(name: str) -> None:
        if name == "after_insert":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        env.ingest("decisions", *new_files(env, "decisions"), fault=interrupt)
    assert env.snapshot(runs=False) == before
    assert [status for _, status, _ in env.runs_after(last)] == ["interrupted", "rolled_back"]


def test_cli_multi_file_ingest_with_a_bad_second_file_changes_nothing(env, capsys):
    seed(env)
    before = env.snapshot(runs=False)
    last = env.last_run()
    good = write_csv(env.path("good.csv"), [decision("n1"), decision("d2")])
    bad = write_csv(
        env.path("bad.csv"),
        [{"decision_id": "n2", "item_id": "i", "vendor": "acme", "decided": "x"}],
    )
    code = main(["ingest", "decisions", str(good), str(bad), "--db", str(env.db), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err == (
        f"error: {bad}: missing required column(s) workflow, reviewer_id, enqueued_at; "
        "found columns: decision_id, item_id, vendor, decided; add them to the file or map "
        "them in the vendor mapping's [decisions.columns] section\n"
        f"nothing was loaded; the attempt is recorded as runs {last + 1}, {last + 2} "
        "(bpo-kpi runs)\n"
    )
    assert env.snapshot(runs=False) == before
    assert [(f, s) for f, s, _ in env.runs_after(last)] == [
        ("good.csv", "rolled_back"),
        ("bad.csv", "failed"),
    ]
