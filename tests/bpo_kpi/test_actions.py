"""Actions (issue 15): the store in the state file, `bpo-kpi actions add|import|list|close|effect`,
checks of hostile and wrong input, the role's scope, and writing while an ingest holds the
database."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpo_kpi.state import SCHEMA_VERSION, StateError, StateStore, state_path
from bpo_kpi_cli.main import ACTION_KINDS as CLI_KINDS
from bpo_kpi_cli.main import RATE_KPIS as CLI_RATE_KPIS
from bpo_kpi_cli.main import main
from kpi import actions
from kpi.effect import rate_kpis
from kpi.query import Scope
from sample_data import generate, load_canonical

CONFIG = """
[roles.admin]
[roles.meridian_lead]
vendors = ["meridian"]
[roles.hs_only]
workflows = ["hate_speech"]
[roles.privacy]
see_reviewers = false
"""
SEGMENT = "vendor=meridian,workflow=graphic_violence"


@pytest.fixture(scope="module")
def data_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated database (10 weeks to 2026-11-22)."""
    root = tmp_path_factory.mktemp("actions_data")
    db = root / "k.duckdb"
    load_canonical(generate(seed=5, decisions=60_000, weeks=10), root / "files", db)
    return db


@pytest.fixture
def env(tmp_path: Path, data_db: Path) -> tuple[Path, Path]:
    """A copy of the database (with no state file) and the configuration."""
    db = tmp_path / "k.duckdb"
    db.write_bytes(data_db.read_bytes())
    cfg = tmp_path / "team.toml"
    cfg.write_text(CONFIG)
    return db, cfg


def run(
    capsys: pytest.CaptureFixture[str], env: tuple[Path, Path], *argv: str
) -> tuple[int, str, str]:
    """Run `bpo-kpi actions ARGV...` on the test database: (exit code, stdout, stderr)."""
    db, cfg = env
    try:
        code = main(["actions", argv[0], *argv[1:], "--db", str(db), "--config", str(cfg)])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def add(capsys, env, *extra: str, segment: str = SEGMENT, date: str = "2026-10-20") -> int:
    code, out, err = run(capsys, env, "add", "--segment", segment, "--date", date, "--kind",
                         "retraining", "--note", "retrained on GV2", "--format", "json",
                         *extra)  # fmt: skip
    assert code == 0, err
    return int(json.loads(out)["id"])


# --- the CLI round trip ------------------------------------------------------------------------


def test_add_list_close_effect_round_trip(capsys, env) -> None:
    code, out, err = run(capsys, env, "add", "--segment", SEGMENT, "--date", "2026-10-20",
                         "--kind", "retraining", "--note", "retrained on GV2\nall shifts",
                         "--owner", "ana", "--source", f"gap:{SEGMENT.replace(',', '|')}",
                         "--format", "json")  # fmt: skip
    assert (code, err) == (0, "")
    first = json.loads(out)
    assert first == {"id": 1}
    code, out, _ = run(capsys, env, "add", "--segment", "vendor=apex_bpo", "--date",
                       "2026-11-01", "--kind", "staffing", "--note", "two more QA")  # fmt: skip
    assert code == 0 and out.strip() == "2"  # without --format json: the id alone

    code, out, _ = run(capsys, env, "list", "--format", "json")
    listed = json.loads(out)
    assert [a["id"] for a in listed] == [1, 2]
    assert listed[0] | {"created_at": None} == {
        "id": 1, "date": "2026-10-20", "kind": "retraining", "segment": SEGMENT,
        "note": "retrained on GV2\nall shifts", "owner": "ana",
        "source": "gap:vendor=meridian|workflow=graphic_violence", "status": "open",
        "created_at": None, "closed_at": None,
    }  # fmt: skip

    code, out, _ = run(capsys, env, "close", "2", "--by", "bo")
    assert code == 0 and out.startswith("closed action 2")
    code, out, err = run(capsys, env, "close", "2")
    assert code == 1 and err.startswith("error: action 2 was closed already")
    assert err.count("\n") == 1
    code, out, _ = run(capsys, env, "list", "--open", "--format", "json")
    assert [a["id"] for a in json.loads(out)] == [1]
    code, out, _ = run(capsys, env, "list", "--format", "csv")
    assert (
        out.splitlines()[0] == "id,date,kind,segment,note,owner,source,status,created_at,closed_at"
    )
    code, out, _ = run(capsys, env, "list")
    assert "retrained on GV2 all shifts" in out  # a table row per action

    code, out, err = run(capsys, env, "effect", "1", "--as-of", "2026-11-22", "--format", "json")
    assert code == 0, err
    effect = json.loads(out)
    for key in (
        "before",
        "after",
        "difference",
        "difference_low",
        "difference_high",
        "did",
        "did_low",
        "did_high",
        "p_value",
        "did_p_value",
        "peers",
        "complete",
        "note",
    ):
        assert key in effect, key
    assert effect["difference"] == pytest.approx(effect["after"] - effect["before"])
    assert effect["difference_low"] < effect["difference"] < effect["difference_high"]
    assert effect["before_start"] == "2026-09-22" and effect["after_end"] == "2026-11-16"
    assert effect["complete"] is True
    # Peers: the other vendors in graphic_violence; apex_bpo has an action of its own (#2,
    # dated within the windows), so it is left out.
    assert {p["vendor"] for p in effect["peers"]} == {"northwind", "tessera"}
    assert all(p["workflow"] == "graphic_violence" for p in effect["peers"])
    code, out, _ = run(capsys, env, "effect", "1", "--as-of", "2026-11-22", "--kpi",
                       "sla_attainment", "--days", "14")  # fmt: skip
    assert code == 0 and "sla_attainment" in out and "difference_low" in out

    # What the store kept: the file beside the database, schema 3, and a log of changes.
    db, _ = env
    con = sqlite3.connect(state_path(db))
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    events = con.execute("SELECT action_id, event, by FROM action_events ORDER BY id").fetchall()
    assert events == [(1, "add", "ana"), (2, "add", None), (2, "close", "bo")]
    con.close()


def test_effect_refuses_a_kpi_that_is_not_a_rate(capsys, env) -> None:
    add(capsys, env)
    code, _, err = run(capsys, env, "effect", "1", "--kpi", "tat_p90")
    assert code == 2 and "invalid choice: 'tat_p90'" in err
    code, _, err = run(capsys, env, "effect", "1", "--days", "0")
    assert code == 1 and err == "error: days must be a whole number from 1 to 365, not 0\n"


def test_unknown_action_and_empty_state(capsys, env) -> None:
    code, out, _ = run(capsys, env, "list", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    assert not state_path(env[0]).exists()  # listing never creates the state file
    for argv in (("close", "7"), ("effect", "7")):
        code, _, err = run(capsys, env, *argv)
        assert code == 1 and err.startswith("error: there is no action 7")


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("--kind", "retrain"), 2, "invalid choice: 'retrain'"),
        (("--segment", "vendor"), 1, "use DIM=VALUE"),
        (("--segment", "vendor=meridian,vendor=apex_bpo"), 1, "names vendor twice"),
        (("--segment", "vendr=meridian"), 1, "unknown segment dimension 'vendr'"),
        (("--segment", "priority=p1"), 1, "unknown segment dimension 'priority'"),
        (("--segment", "vendor= "), 1, "use DIM=VALUE"),
        (("--date", "2026-13-01"), 2, "is not a date"),
        (("--date", "20/10/2026"), 2, "is not a date"),
        (("--date", "1999-12-31"), 1, "outside the plausible range"),
        (("--date", "2999-01-01"), 1, "outside the plausible range"),
        (("--note", " "), 1, "note must not be empty"),
        (("--note", "x" * 2001), 1, "at most 2,000"),
        (("--note", "bell\x07"), 1, "control character"),
        (("--owner", "o" * 101), 1, "owner is 101 characters long"),
        (("--source", "ticket 42"), 1, "calibration:<session_id> or gap:"),
    ],
)
def test_add_refuses_bad_input_with_one_error_line(capsys, env, argv, code, message) -> None:
    given = {"--segment": SEGMENT, "--date": "2026-10-20", "--kind": "retraining", "--note": "n"}
    given.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    got, out, err = run(capsys, env, "add", *[x for pair in given.items() for x in pair])
    assert (got, out) == (code, "")
    assert message in err
    if code == 1:  # ours: one line; argparse (2) prints its usage first
        assert err.startswith("error: ") and err.count("\n") == 1
    assert actions.load(Scope(), env[0]) == []


def test_text_is_stored_as_given(capsys, env) -> None:
    hostile = '=HYPERLINK("http://x","y") <script>alert(1)</script> \'; DROP TABLE actions;--'
    code, out, _ = run(capsys, env, "add", "--segment", "vendor=meridian", "--date",
                       "2026-10-20", "--kind", "other", "--note", hostile, "--owner",
                       "Robert'); --", "--format", "json")  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, env, "list", "--format", "json")
    (row,) = json.loads(out)
    assert row["note"] == hostile and row["owner"] == "Robert'); --"


# --- CSV import --------------------------------------------------------------------------------


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


GOOD = (
    "date,kind,segment,note,owner,source\n"
    '2026-10-20,retraining,"vendor=meridian,workflow=graphic_violence","retrained, again\n'
    'second line",ana,calibration:cal-2026-W42-graphic_violence\n'
    "2026-10-27,policy_clarification,policy=GV2_graphic_injury,=1+2,,\n"
)


def test_import_round_trip_with_bom_quotes_and_formula_text(capsys, env, tmp_path) -> None:
    file = write(tmp_path / "a.csv", "\ufeff" + GOOD)
    code, out, err = run(capsys, env, "import", str(file), "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"ids": [1, 2]}
    code, out, _ = run(capsys, env, "list", "--format", "json")
    rows = json.loads(out)
    assert rows[0]["note"] == "retrained, again\nsecond line"
    assert rows[0]["source"] == "calibration:cal-2026-W42-graphic_violence"
    assert rows[1]["note"] == "=1+2" and rows[1]["owner"] is None  # text, never a formula
    assert rows[1]["segment"] == "policy=GV2_graphic_injury"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: the first line must name the columns"),
        ("date,kind,segment\n", "no column 'note'"),
        ("date,kind,segment,note,who\n", "unknown column 'who'"),
        ("date,kind,segment,note\n", "has a header but no action"),
        (GOOD + "2026-10-28,retraining,vendor=meridian,n,,,extra\n",
         "line 5: 7 fields where the header has 6"),
        (GOOD + "2026-02-30,retraining,vendor=meridian,n,,\n", "line 5, column date"),
        (GOOD + "2026-10-28,retrain,vendor=meridian,n,,\n", "line 5, column kind"),
        (GOOD + "2026-10-28,retraining,vendor:meridian,n,,\n", "line 5, column segment"),
        (GOOD + "2026-10-28,retraining,vendor=meridian,,,\n", "line 5, column note"),
        (GOOD + "2026-10-28,retraining,vendor=meridian,n," + "o" * 101 + ",\n",
         "line 5, column owner"),
        (GOOD + "2026-10-28,retraining,vendor=meridian,n,,jira-1\n", "line 5, column source"),
        (GOOD + "2026-10-28,retraining,vendor=meridian,\"unclosed\n", "line 5"),
    ],
)  # fmt: skip
def test_a_bad_csv_stores_nothing_and_names_file_line_and_column(
    capsys, env, tmp_path, content, message
) -> None:
    file = write(tmp_path / "bad.csv", content)
    code, out, err = run(capsys, env, "import", str(file))
    assert code == 1 and out == ""
    assert err.startswith(f"error: {file}") and err.count("\n") == 1, err
    assert message in err, err
    assert actions.load(Scope(), env[0]) == []  # all or nothing


def test_a_csv_in_another_encoding_or_too_big_is_refused(capsys, env, tmp_path) -> None:
    latin = write(tmp_path / "latin.csv", GOOD.replace("again", "café"), "latin-1")
    code, _, err = run(capsys, env, "import", str(latin))
    assert code == 1 and "not UTF-8 text" in err and "CSV UTF-8" in err
    big = tmp_path / "big.csv"
    line = "2026-10-20,other,vendor=meridian,n,,\n"
    big.write_text("date,kind,segment,note,owner,source\n" + line * (actions.MAX_IMPORT_ROWS + 1))
    code, _, err = run(capsys, env, "import", str(big))
    assert code == 1 and "more than 10,000 actions; split it" in err
    assert actions.load(Scope(), env[0]) == []
    nul = write(tmp_path / "nul.csv", "date,kind,segment,note\n2026-10-20,other,vendor=m,a\x00b\n")
    code, _, err = run(capsys, env, "import", str(nul))
    assert code == 1 and "line 2" in err


# --- scope ---------------------------------------------------------------------------------------


def test_a_vendor_role_sees_and_adds_only_its_own_actions(capsys, env, tmp_path) -> None:
    add(capsys, env)  # meridian x graphic_violence
    add(capsys, env, segment="vendor=apex_bpo")
    add(capsys, env, segment="workflow=hate_speech")  # all vendors: not meridian's alone
    add(capsys, env, segment="vendor=meridian,reviewer_id=meridian_bogota-r0001")
    lead = ("--role", "meridian_lead", "--format", "json")
    code, out, _ = run(capsys, env, "list", *lead)
    assert [a["id"] for a in json.loads(out)] == [1, 4]
    code, out, _ = run(capsys, env, "list", "--role", "hs_only", "--format", "json")
    assert [a["id"] for a in json.loads(out)] == [3]
    code, out, _ = run(capsys, env, "list", "--role", "privacy", "--format", "json")
    assert [a["id"] for a in json.loads(out)] == [1, 2, 3]  # no action naming a reviewer

    other = ("--date", "2026-10-20", "--kind", "other", "--note", "n", "--role")
    code, _, err = run(capsys, env, "add", "--segment", "vendor=apex_bpo", *other, "meridian_lead")
    assert code == 1 and "outside your scope" in err and "vendor meridian" in err
    code, _, err = run(capsys, env, "add", "--segment", "workflow=hate_speech", *other,
                       "meridian_lead")  # fmt: skip
    assert code == 1 and "outside your scope" in err
    code, _, err = run(capsys, env, "add", "--segment", "vendor=meridian,reviewer_id=x",
                       "--date", "2026-10-20", "--kind", "other", "--note", "n", "--role",
                       "privacy")  # fmt: skip
    assert code == 1 and "may not see reviewers" in err
    for argv in (("close", "2"), ("effect", "2")):  # another vendor's: as if it did not exist
        code, _, err = run(capsys, env, *argv, "--role", "meridian_lead")
        assert code == 1 and err.splitlines()[-1].startswith("error: there is no action 2")
    file = write(
        tmp_path / "other.csv", "date,kind,segment,note\n2026-10-20,other,vendor=apex_bpo,n\n"
    )
    code, _, err = run(capsys, env, "import", str(file), "--role", "meridian_lead")
    assert code == 1 and "line 2, column segment" in err and "outside role" in err
    # The vendor's effect compares with no other vendor (it sees none): no DiD, said so.
    code, out, err = run(capsys, env, "effect", "1", "--as-of", "2026-11-22", *lead)
    assert code == 0, err
    result = json.loads(out)
    assert result["difference"] is not None and result["did"] is None and result["peers"] == []
    assert "none this role may see" in result["note"]


def test_touching_follows_a_views_filters() -> None:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

    def action(i: int, **segment: str) -> actions.Action:
        return actions.Action(i, dt.date(2026, 10, 1), "other", segment, "n", None, None, now, None)

    listed = [action(1, vendor="meridian", workflow="graphic_violence"),
              action(2, vendor="apex_bpo"), action(3, workflow="hate_speech")]  # fmt: skip
    ids = lambda where: [a.id for a in actions.touching(listed, where)]  # noqa: E731
    assert ids({}) == [1, 2, 3]
    assert ids({"vendor": ["meridian"]}) == [1, 3]
    assert ids({"vendor": ["meridian"], "workflow": ["hate_speech"]}) == [3]
    assert ids({"vendor": ["meridian", "apex_bpo"], "workflow": ["graphic_violence"]}) == [1, 2]
    assert ids({"market": ["es_MX"]}) == [1, 2, 3]


def test_parse_segment_orders_and_checks() -> None:
    assert actions.parse_segment(" workflow = hate_speech , vendor=meridian ") == {
        "vendor": "meridian", "workflow": "hate_speech"
    }  # fmt: skip
    with pytest.raises(actions.ActionError, match="empty"):
        actions.parse_segment("")
    with pytest.raises(
        actions.ActionError, match="vendor, site, workflow, market, policy, reviewer_id"
    ):
        actions.parse_segment("priority=p1")


def test_the_parser_lists_what_the_library_accepts() -> None:
    assert CLI_KINDS == actions.ACTION_KINDS
    assert rate_kpis() == CLI_RATE_KPIS


# --- the store ---------------------------------------------------------------------------------


def test_a_version_2_state_file_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    con = sqlite3.connect(state_path(db))
    con.executescript(
        """
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('target_salt', 'ab');
        CREATE TABLE alert_state (key TEXT PRIMARY KEY, state TEXT NOT NULL, by TEXT NOT NULL,
            reason TEXT NOT NULL, at TEXT NOT NULL, until TEXT);
        INSERT INTO alert_state
            VALUES ('k1', 'acknowledged', 'ana', 'why', '2026-11-01T00:00:00+00:00', NULL);
        PRAGMA user_version = 2;
        """
    )  # fmt: skip
    con.close()
    with StateStore(db) as store:
        assert set(store.statuses(["k1"])) == {"k1"}
        added = store.add_action(date=dt.date(2026, 10, 1), kind="other",
                                 segment={"vendor": "v"}, note="n")  # fmt: skip
        assert added.id == 1 and store.actions() == [added]
    con = sqlite3.connect(state_path(db))
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    con.close()


def test_the_store_checks_what_it_is_given(tmp_path: Path) -> None:
    with StateStore(tmp_path / "k.duckdb") as store:
        good = {
            "date": dt.date(2026, 10, 1),
            "kind": "other",
            "segment": {"vendor": "v"},
            "note": "n",
        }
        for change, message in [({"kind": "x"}, "unknown action kind"),
                                ({"segment": {}}, "needs a segment"),
                                ({"segment": {"vendor": ""}}, "must not be empty"),
                                ({"date": "2026-10-01"}, "must be a date"),
                                ({"note": "a\x00"}, "control character")]:  # fmt: skip
            with pytest.raises(StateError, match=message):
                store.add_actions([good, {**good, **change}])
        assert store.actions() == []  # the good first row was not stored either
        with pytest.raises(StateError, match="no action 3"):
            store.close_action(3)


# --- while an ingest holds the database ------------------------------------------------------

HOLD = """
import sys, time
from bpo_kpi.db import connect
con = connect(sys.argv[1])
con.execute("BEGIN")
con.execute("DELETE FROM decisions")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
con.close()
"""


@pytest.fixture
def holder(env: tuple[Path, Path]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(env[0]), "60"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    yield proc
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_actions_are_written_while_another_process_holds_the_database(
    capsys, env, holder, tmp_path
) -> None:
    started = time.monotonic()
    first = add(capsys, env)
    file = write(tmp_path / "a.csv", GOOD)
    code, _, err = run(capsys, env, "import", str(file))
    assert code == 0, err
    code, out, _ = run(capsys, env, "close", str(first))
    assert code == 0
    code, out, _ = run(capsys, env, "list", "--format", "json", "--role", "meridian_lead")
    assert code == 0 and [a["id"] for a in json.loads(out)] == [1, 2]
    assert time.monotonic() - started < 10  # never waited for the holder
    assert holder.poll() is None  # it still holds the database
