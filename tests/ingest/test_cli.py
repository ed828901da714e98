"""`bpo-kpi ingest`: machine-readable reconciliation, help, exit codes, environment defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ingest_testkit import DATA, KNOWN_LABELS, LABEL_HINT, decision, write_csv

from bpo_kpi.config import Config
from bpo_kpi.db import DB_ENV, connect
from bpo_kpi_cli.main import main

ROWS = [decision("d1"), decision("d2", decision="nuke"), decision("d3", reviewer_id="")]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_reconciles(env, capsys):
    env.close()  # the CLI opens the database itself
    file = write_csv(env.path("d.csv"), ROWS)
    code, out, _ = run(capsys, "ingest", "decisions", str(file), "--db", str(env.db),
                       "--format", "json", "--quiet")  # fmt: skip
    assert code == 0  # rejected rows are not a failure
    [report] = json.loads(out)
    assert isinstance(report.pop("seconds"), float)
    assert report == {
        "file": str(file),
        "kind": "decisions",
        "run_id": 1,
        "status": "ok_with_rejects",
        "rows_read": 3,
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
        "stale": 0,
        "rejected": 2,
        "warnings": 0,
        "edits_after_audit": 0,
        "ignored_columns": [],
    }
    # A correction, then the first file again: one report per file, in order. The same
    # content (and mapping and configuration) is recognised as already loaded; forced, its
    # d1 is a stale re-send of the version the correction replaced and is not applied.
    other = write_csv(env.path("e.csv"), [decision("d1", decision="limit"), decision("d4")])
    code, out, _ = run(capsys, "ingest", "decisions", str(other), str(file), "--db",
                       str(env.db), "--format", "json", "--quiet")  # fmt: skip
    assert code == 0
    reports = json.loads(out)
    fields = ("file", "run_id", "status", "rows_read", "inserted", "updated", "unchanged",
              "stale", "rejected")  # fmt: skip
    assert [tuple(r[f] for f in fields) for r in reports] == [
        (str(other), 2, "ok", 2, 1, 1, 0, 0, 0),
        (str(file), 1, "already_loaded", 0, 0, 0, 0, 0, 0),
    ]
    code, out, _ = run(capsys, "ingest", "decisions", str(file), "--db", str(env.db),
                       "--format", "json", "--quiet", "--force")  # fmt: skip
    [forced] = json.loads(out)
    assert tuple(forced[f] for f in fields) == (
        str(file), 3, "ok_with_rejects", 3, 0, 0, 0, 1, 2
    )  # fmt: skip
    for r in [*reports, forced]:
        assert r["rows_read"] == (
            r["inserted"] + r["updated"] + r["unchanged"] + r["stale"] + r["rejected"]
        )

    con = connect(env.db, read_only=True)
    try:
        assert con.execute(
            "SELECT run_id, rows_read, rows_inserted, rows_updated, rows_unchanged, "
            "rows_stale, rows_rejected, status FROM ingest_runs ORDER BY run_id"
        ).fetchall() == [
            (1, 3, 1, 0, 0, 0, 2, "ok_with_rejects"),
            (2, 2, 1, 1, 0, 0, 0, "ok"),
            (3, 3, 0, 0, 0, 1, 2, "ok_with_rejects"),
        ]
        assert con.execute("SELECT decision_id, decision FROM decisions ORDER BY 1").fetchall() == [
            ("d1", "limit"),
            ("d4", "remove"),
        ]
    finally:
        con.close()


def test_table_output_lists_reconciliation_and_reasons(env, capsys):
    env.close()
    rows = [*ROWS, {**decision("d5"), "extra": "1"}]
    file = write_csv(env.path("d.csv"), rows, header=[*decision("x"), "extra"])
    code, out, err = run(capsys, "ingest", "decisions", str(file), "--db", str(env.db))
    assert code == 0
    assert (
        "run 1: read 4 = 2 inserted + 0 updated + 0 unchanged + 0 stale + 2 rejected (reconciled"
        in out
    )
    assert "ignored columns: extra" in out
    assert (f"rejected 1x: decision nuke is not a known label (known: {KNOWN_LABELS}); "
            f"{LABEL_HINT}") in out  # fmt: skip
    assert "rejected 1x: reviewer_id is empty (required)" in out
    assert "d.csv: reading" in err  # progress goes to stderr


def test_mapping_and_vendor_options(env, capsys):
    env.close()
    file = env.path("rw.csv")
    file.write_bytes(
        "\ufeffVorgang;Inhalt;Warteschlange;Prüfer;Entscheidung;Eingang;Entschieden\r\n"
        "N-1;C-1;hate_speech;P-1;Löschen;28.03.2026 23:30;29.03.2026 03:01\r\n".encode()
    )
    args = ["ingest", "decisions", str(file), "--db", str(env.db), "--format", "json",
            "--mapping", str(DATA / "rheinwerk.toml"), "--quiet"]  # fmt: skip
    code, out, _ = run(capsys, *args, "--vendor", "someone-else")
    assert code == 0
    assert [(r["inserted"], r["rejected"]) for r in json.loads(out)] == [(0, 1)]
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert [(r["inserted"], r["rejected"]) for r in json.loads(out)] == [(1, 0)]
    con = connect(env.db, read_only=True)
    try:
        assert con.execute(
            "SELECT vendor, decision, epoch(decided_at) - epoch(enqueued_at) FROM decisions"
        ).fetchall() == [("rheinwerk", "remove", 9060.0)]  # 22:30 -> 01:01 UTC
    finally:
        con.close()


def test_database_and_config_from_the_environment(env, capsys, monkeypatch, tmp_path):
    env.close()
    db = tmp_path / "from_env.duckdb"
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('input_timezone = "Asia/Tokyo"\n')
    monkeypatch.setenv(DB_ENV, str(db))
    monkeypatch.setenv("BPO_KPI_CONFIG", str(cfg))
    pending = decision("d1", enqueued_at="2026-03-02 09:00:00", claimed_at="", decided_at="",
                       decision="", policy="")  # fmt: skip
    file = write_csv(env.path("d.csv"), [pending])
    code, _, _ = run(capsys, "ingest", "decisions", str(file), "--quiet")
    assert code == 0
    con = connect(db, read_only=True)
    try:
        assert con.execute("SELECT epoch(enqueued_at) FROM decisions").fetchall() == [
            (1772409600.0,)  # 2026-03-02T00:00:00Z
        ]
        assert con.execute("SELECT config_hash FROM ingest_runs").fetchall() == [
            (Config(input_timezone="Asia/Tokyo").content_hash(),)
        ]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"cfg.toml": "[targets.default]\nquality = 2\n"},
         "field 'targets.default.quality': Input should be less than or equal to 1"),
        ({"cfg.toml": 'input_timezone = "Berlin"\n'},
         "field 'input_timezone': unknown time zone 'Berlin'"),
        ({"map.toml": 'timezone = "Nowhere/City"\n'},
         "field 'timezone': unknown time zone 'Nowhere/City'"),
        ({"map.toml": "[decisions.columns]\nreviewer = 'Agent'\n"},
         "[decisions.columns] maps unknown canonical column(s) reviewer"),
    ],
)  # fmt: skip
def test_bad_config_or_mapping_exits_1(env, capsys, files, message):
    env.close()
    data = write_csv(env.path("d.csv"), ROWS)
    args = ["ingest", "decisions", str(data), "--db", str(env.db), "--quiet"]
    for name, text in files.items():
        env.path(name).write_text(text)
        args += ["--config" if name == "cfg.toml" else "--mapping", str(env.path(name))]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    con = connect(env.db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM decisions").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM ingest_runs").fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.parametrize(
    "args",
    [["ingest"], ["ingest", "decisions"], ["ingest", "rows", "x.csv"], ["ingest", "decisions",
     "x.csv", "--format", "xml"], []],
)  # fmt: skip
def test_usage_errors_exit_2(capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage: bpo-kpi" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: bpo-kpi")
    assert "ingest" in out

    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: bpo-kpi ingest")
    for option in ("{decisions,audits,calibration}", "--mapping", "--vendor", "--format",
                   "--db", "--config"):  # fmt: skip
        assert option in out


def test_console_script_end_to_end(tmp_path):
    """The installed `bpo-kpi` entry point, once, in a real process (slow: keep it to one)."""
    file = write_csv(tmp_path / "d.csv", ROWS)
    db = tmp_path / "cli.duckdb"
    env = {k: v for k, v in os.environ.items() if k not in (DB_ENV, "BPO_KPI_CONFIG")}
    exe = os.path.join(os.path.dirname(sys.executable), "bpo-kpi")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "bpo_kpi_cli"]
    proc = subprocess.run(
        [*cmd, "ingest", "decisions", str(file), "--db", str(db), "--format", "json", "--quiet"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [report] = json.loads(proc.stdout)
    assert (report["rows_read"], report["inserted"], report["rejected"]) == (3, 1, 2)
