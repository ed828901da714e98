"""Runs: an unchanged file is recognised at once, a drop folder loads each new file as its own
run, rejected rows can be retried after a fix, and a killed ingest leaves a trace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_testkit import DEC, counts, decision, write_csv

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from bpo_kpi_cli.main import main
from ingest import load_mapping


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# --- an unchanged file -------------------------------------------------------------------------


def test_same_content_is_recognised_but_a_changed_mapping_or_configuration_loads_again(env):
    rows = [decision("d1"), decision("d2", decision="Remove")]
    file = write_csv(env.path("d.csv"), rows)
    first = env.one("decisions", file)
    assert counts(first) == (2, 1, 0, 0, 1)
    # Another name, the same bytes: the content is what counts.
    copy = env.path("copy.csv")
    copy.write_bytes(file.read_bytes())
    assert (env.one("decisions", copy).status, env.one("decisions", file).status) == (
        "already_loaded", "already_loaded"
    )  # fmt: skip
    # A mapping that now knows the vendor's spelling: processed again, the row now loads.
    mapping_file = env.path("m.toml")
    mapping_file.write_text('[labels]\n"Remove" = "remove"\n')
    again = env.one("decisions", file, mapping=load_mapping(mapping_file))
    assert counts(again) == (2, 1, 0, 1, 0)
    assert env.one("decisions", file, mapping=load_mapping(mapping_file)).status == (
        "already_loaded"
    )
    # Another configuration: processed again.
    other = Config.model_validate({"freshness_hours": 12})
    assert env.one("decisions", file, config=other).status == "ok_with_rejects"
    # --force: processed again whatever.
    forced = env.one("decisions", file, config=other, force=True)
    assert counts(forced) == (2, 0, 0, 1, 1)


def test_a_file_that_failed_is_not_taken_for_loaded(env):
    file = env.path("d.csv")
    file.write_text("decision_id,item_id\nd1,i1\n")
    with pytest.raises(Exception, match="missing required column"):
        env.ingest("decisions", file)
    write_csv(file, [decision("d1")])
    assert env.one("decisions", file).inserted == 1


# --- a drop folder -----------------------------------------------------------------------------


def _age(path: Path, seconds: float = 60) -> Path:
    """Make a file look written `seconds` ago (the folder waits for files still being written)."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def _feed(folder: Path, name: str, rows: list[dict]) -> Path:
    folder.mkdir(exist_ok=True)
    return _age(write_csv(folder / name, rows))


def test_a_drop_folder_loads_each_new_file_once_in_name_order(env, capsys):
    env.close()
    drop = env.path("drop")
    _feed(drop, "2026-03-02.csv", [decision("d1", decision="", policy="", decided_at="",
                                            claimed_at="")])  # fmt: skip
    _feed(drop, "2026-03-03.csv", [decision("d1"), decision("d2")])
    _feed(drop, ".hidden.csv", [decision("h1")])
    _feed(drop, "notes.txt~", [decision("h2")])
    _feed(drop, "2026-03-04.csv.part", [decision("h3")])
    (drop / "readme.md").write_text("not a feed")
    code, out, err = run(capsys, "ingest", "decisions", drop, "--db", env.db, "--format", "json")
    assert code == 0, err
    reports = json.loads(out)
    # In name order, each its own run: the pending d1 first, then its decision.
    assert [(Path(r["file"]).name, r["run_id"], r["inserted"], r["updated"]) for r in reports] == [
        ("2026-03-02.csv", 1, 1, 0),
        ("2026-03-03.csv", 2, 1, 1),
    ]
    # Nothing new: nothing loaded, and the files already loaded are not listed as work.
    code, out, err = run(capsys, "ingest", "decisions", drop, "--db", env.db)
    assert code == 0
    assert out.strip() == f"no new files in {drop}"
    assert "2 file(s) already loaded" in err
    # A new day's file arrives.
    _feed(drop, "2026-03-04.csv", [decision("d3")])
    code, out, _ = run(capsys, "ingest", "decisions", drop, "--db", env.db, "--quiet")
    assert code == 0 and "2026-03-04.csv" in out and "run 3:" in out
    con = connect(env.db, read_only=True)
    try:
        assert con.execute("SELECT decision_id, decision FROM decisions ORDER BY 1").fetchall() == [
            ("d1", "remove"), ("d2", "remove"), ("d3", "remove")
        ]  # fmt: skip
    finally:
        con.close()


def test_a_drop_folder_stops_at_a_failing_file_and_keeps_the_order(env, capsys):
    env.close()
    drop = env.path("drop")
    _feed(drop, "1.csv", [decision("d1")])
    bad = drop / "2.csv"
    bad.write_text("decision_id,item_id\nd2,i2\n")
    _age(bad)
    _feed(drop, "3.csv", [decision("d1", policy="hs_9")])  # a correction of 1.csv's d1
    code, out, err = run(capsys, "ingest", "decisions", drop, "--db", env.db, "--quiet")
    assert code == 1
    assert "1.csv" in out and "3.csv" not in out
    assert "2.csv: missing required column(s)" in err
    assert "nothing was loaded; the attempt is recorded as run 2 (bpo-kpi runs)" in err
    assert "not loaded yet, to keep the order of the feed: 3.csv" in err
    write_csv(bad, [decision("d2")])  # fixed and re-sent
    _age(bad)
    code, out, err = run(capsys, "ingest", "decisions", drop, "--db", env.db, "--quiet")
    assert code == 0, err
    assert "2.csv" in out and "3.csv" in out
    code, out, _ = run(capsys, "runs", "--db", env.db, "--format", "json")
    runs = json.loads(out)
    assert [(Path(r["file"]).name, r["status"]) for r in reversed(runs)] == [
        ("1.csv", "ok"), ("2.csv", "failed"), ("2.csv", "ok"), ("3.csv", "ok")
    ]  # fmt: skip
    assert "missing required column" in runs[-2]["error"]


def test_watch_loads_files_as_they_arrive(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    db = tmp_path / "w.duckdb"
    cmd = [sys.executable, "-m", "bpo_kpi_cli", "ingest", "decisions", str(drop), "--db",
           str(db), "--watch", "--every", "0.2", "--settle", "0.5"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        write_csv(drop / "a.csv", [decision("d1")])
        write_csv(drop / "b.csv", [decision("d2")])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if db.exists():
                con = connect(db, read_only=True, wait=60)
                try:
                    n = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
                finally:
                    con.close()
                if n == 2:
                    break
            time.sleep(0.3)
        else:
            pytest.fail("the watched files were not loaded")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "a.csv" in out and "b.csv" in out


# --- retrying rejected rows --------------------------------------------------------------------


def test_retry_loads_rejected_rows_after_the_mapping_is_fixed(env, capsys):
    env.close()
    mapping_file = env.path("acme.toml")
    mapping_file.write_text('vendor = "acme"\n[labels]\n"Löschen" = "remove"\n')
    rows = [
        decision("d1", decision="Löschen"),
        decision("d2", decision="Sperren"),  # unknown to the mapping yet
        decision("d3", decision="Sperren", policy="hs_2"),
        decision("d4", enqueued_at="soon"),  # broken whatever the mapping
    ]
    file = write_csv(env.path("d.csv"), rows)
    code, out, _ = run(capsys, "ingest", "decisions", file, "--mapping", mapping_file,
                       "--db", env.db, "--format", "json")  # fmt: skip
    [first] = json.loads(out)
    assert (first["inserted"], first["rejected"]) == (1, 3)
    # d3 arrives corrected in a later file before the retry: the retry must not override it.
    later = write_csv(env.path("later.csv"), [decision("d3", decision="limit", policy="hs_3")])
    run(capsys, "ingest", "decisions", later, "--mapping", mapping_file, "--db", env.db)
    mapping_file.write_text(
        'vendor = "acme"\n[labels]\n"Löschen" = "remove"\n"Sperren" = "limit"\n'
    )
    code, out, err = run(capsys, "retry", 1, "--db", env.db, "--format", "json")
    assert code == 0, err
    [retry] = json.loads(out)
    assert retry["retry_of"] == 1
    assert (retry["rows_read"], retry["inserted"], retry["stale"], retry["rejected"]) == (
        3,
        1,
        1,
        1,
    )
    con = connect(env.db, read_only=True)
    try:
        stored = "SELECT decision_id, decision, policy FROM decisions ORDER BY 1"
        assert con.execute(stored).fetchall() == [
            ("d1", "remove", "hs_1"), ("d2", "limit", "hs_1"), ("d3", "limit", "hs_3")
        ]  # fmt: skip
        # The retried rows are resolved; the one still broken is rejected again, same line.
        assert con.execute(
            "SELECT run_id, source_line, resolved_run FROM rejected_rows ORDER BY run_id, 2"
        ).fetchall() == [(1, 3, 3), (1, 4, 3), (1, 5, 3), (3, 5, None)]
    finally:
        con.close()
    # Nothing outstanding in run 1 any more: a second retry reads nothing.
    code, out, _ = run(capsys, "retry", 1, "--db", env.db, "--format", "json")
    assert json.loads(out)[0]["rows_read"] == 0
    code, out, _ = run(capsys, "rejects", "--db", env.db, "--format", "json")
    assert [(r["run_id"], r["source_line"]) for r in json.loads(out)] == [(3, 5)]


def test_retry_reparses_a_line_the_reader_could_not_split(env, capsys):
    env.close()
    text = ",".join(DEC) + "\n" + "d1;item;acme;manila;hate_speech;en;p1;rev-1;remove;hs_1;" \
        "2026-03-02T08:00:00Z;;2026-03-02T08:30:00Z;\n"  # fmt: skip
    file = env.path("d.csv")
    file.write_text(text)
    code, out, _ = run(capsys, "ingest", "decisions", file, "--db", env.db, "--format", "json")
    assert json.loads(out)[0]["rejected"] == 1
    # The line uses semicolons: a mapping that says so lets the retry split it.
    mapping_file = env.path("m.toml")
    mapping_file.write_text('[csv]\ndelimiter = ";"\n')
    code, out, err = run(capsys, "retry", 1, "--mapping", mapping_file, "--db", env.db,
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)[0]["inserted"] == 1


def test_retry_of_an_unknown_or_failed_run_says_why(env, capsys):
    env.close()
    code, _, err = run(capsys, "retry", 7, "--db", env.db)
    assert code == 1 and "run 7 does not exist" in err


# --- a killed ingest ---------------------------------------------------------------------------

KILLED = """
import sys, time
from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files

def stall(step):
    if step == "after_stage":
        print("staged", flush=True)
        time.sleep(60)

con = connect(sys.argv[1])
ingest_files(con, "decisions", [sys.argv[2]], config=Config(), fault=stall)
"""


def test_a_killed_ingest_is_recorded_and_shows_as_interrupted(env, capsys):
    env.close()
    file = write_csv(env.path("d.csv"), [decision("d1")])
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(env.db), str(file)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "staged"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    code, out, _ = run(capsys, "runs", "--db", env.db, "--format", "json")
    [running] = json.loads(out)
    assert running["status"] == "running"  # committed before the work began
    # The next writer knows the process is gone: the run is marked interrupted, the file loads.
    code, out, _ = run(capsys, "ingest", "decisions", file, "--db", env.db, "--quiet")
    assert code == 0 and "run 2:" in out
    code, out, _ = run(capsys, "runs", "--db", env.db, "--format", "json")
    runs = json.loads(out)
    assert [(r["run_id"], r["status"]) for r in runs] == [(2, "ok"), (1, "interrupted")]
    assert "killed or crashed" in runs[1]["error"]
