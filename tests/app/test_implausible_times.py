"""No page and no command fails on a stored time outside the plausible range.

Databases written before ingest checked timestamps (or by other tools) may hold enqueued /
decided / claimed / due / audited times in year 9999, 294247 (DuckDB's largest TIMESTAMPTZ)
or 0001, and calibration session dates in 9999 or 0001. They once crashed every page ("date
value out of range", pandas out-of-bounds), `bpo-kpi alerts` (OverflowError), and one of them
made a vendor's TAT mean 25,000x larger.

Such rows are inserted here directly (bypassing ingest) into a copy of the sample database
(`dirty`). The gateway reads them as ingest would load them today (kpi.gateway): a row with an
implausible required time is left out (an audit of such a decision counts as an orphan), an
implausible optional time reads as empty. So every number must equal that of a database into
which the same rows were written the way ingest would have loaded them (`clean`: the rows left
out, the optional times empty, the audits of left-out decisions as orphans); the default date
range must not stretch to year 9999 or 0001; every page must render, with the default window
and with the widest one the date pickers allow; the CLI must answer; and Data health must list
what was found.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

import bpo_kpi_cli.main as cli
from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest.load import refresh_audit_facts
from kpi import calibration, gaps, health, monitor
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery

PAGES = [
    "app_pages/overview.py",
    "app_pages/quality.py",
    "app_pages/tat.py",
    "app_pages/calibration.py",
    "app_pages/vendors.py",
    "app_pages/health.py",
]
TAT_TABS = ["TAT distribution", "Quantiles over time", "SLA by vendor × workflow",
            "Hour × weekday", "Backlog ageing"]  # fmt: skip
CALIBRATION_TABS = ["Agreement by vendor", "Rater accuracy", "Confusion matrix",
                    "Contested items", "Trend across sessions"]  # fmt: skip
AS_OF = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)  # the sample data ends on 22 Nov

Y9999, YMAX, Y0001 = "9999-12-31 23:59:59+00", "294247-01-01 00:00:00+00", "0001-01-01 00:00:00+00"
IN_WINDOW = "2026-11-20 10:00:00+00"  # inside the sample's default window
DECIDED = "2026-11-20 11:00:00+00"

# decision_id: (enqueued_at, claimed_at, decided_at, due_at) as stored in `dirty`.
LEFT_OUT = {  # an implausible required time: ingest would reject the row
    "bad-decided-9999": (IN_WINDOW, None, Y9999, None),
    "bad-decided-max": (IN_WINDOW, YMAX, YMAX, YMAX),
    "bad-all-0001": (Y0001, "0001-01-01 00:10:00+00", "0001-01-01 01:00:00+00", Y0001),
    "bad-pending-9999": ("9999-06-01 00:00:00+00", None, None, "9999-06-02 00:00:00+00"),
    "bad-enqueued-max": (YMAX, None, DECIDED, None),
}
EMPTIED = {  # an implausible optional time: ingest would empty it
    "opt-claimed-0001": (IN_WINDOW, Y0001, DECIDED, "2026-11-20 12:00:00+00"),
    "opt-due-9999": (IN_WINDOW, None, DECIDED, Y9999),
    "opt-due-0001": (IN_WINDOW, None, DECIDED, Y0001),
    "opt-pending-due-max": ("2026-11-21 10:00:00+00", YMAX, None, YMAX),
}
# audit_id: (decision_id, audited_at); audits of `dirty` only are marked.
AUDITS = {
    "xa-of-left-out": ("bad-decided-9999", "2026-11-21 09:00:00+00"),  # an orphan in both
    "xa-claimed": ("opt-claimed-0001", "2026-11-21 09:00:00+00"),
    "xa-due": ("opt-due-0001", "2026-11-21 10:00:00+00"),
}
DIRTY_AUDITS = {
    "xa-audited-9999": (None, Y9999),  # of a sample decision; None: filled in below
    "xa-ghost-max": ("ghost-decision", YMAX),
}


def _plausible(value: str | None) -> bool:
    return value is None or value[:5] == "2026-"


def _write(db: Path, dirty: bool) -> None:
    """Insert the rows above into `db`, as stored (`dirty`) or as ingest would load them."""
    con = connect(db)
    try:
        template = con.execute(
            "SELECT vendor, site, workflow, market, reviewer_id FROM decisions "
            "WHERE vendor = 'northwind' AND decided_at IS NOT NULL LIMIT 1"
        ).fetchone()
        sample_decision = con.execute("SELECT min(decision_id) FROM decisions").fetchone()[0]
        assert template is not None
        rows = {**EMPTIED, **(LEFT_OUT if dirty else {})}
        # A database written before ingest checked times (or by another tool) lacks the mark.
        con.execute("DELETE FROM meta WHERE key = 'times_checked'")
        for did, times in rows.items():
            if not dirty:
                times = tuple(t if _plausible(t) else None for t in times)
            enqueued, claimed, decided, due = times
            con.execute(
                "INSERT INTO decisions (decision_id, item_id, vendor, site, workflow, market, "
                "priority, reviewer_id, decision, policy, enqueued_at, claimed_at, decided_at, "
                "due_at, updated_at, due_at_source, run_id, version_run) VALUES ($id, $id, $v, "
                "$s, $w, $m, 'p1', $r, $label, NULL, CAST($enq AS TIMESTAMPTZ), "
                "CAST($claimed AS TIMESTAMPTZ), CAST($decided AS TIMESTAMPTZ), "
                "CAST($due AS TIMESTAMPTZ), CAST($updated AS TIMESTAMPTZ), 'queue', 1, 1)",
                {
                    "id": did, "v": template[0], "s": template[1], "w": template[2],
                    "m": template[3], "r": template[4], "enq": enqueued, "claimed": claimed,
                    "decided": decided, "due": due,
                    "label": "remove" if decided is not None else None,
                    "updated": Y9999 if dirty and did == "opt-due-9999" else None,
                },
            )  # fmt: skip
        audits = {**AUDITS, **(DIRTY_AUDITS if dirty else {})}
        for aid, (did, audited) in audits.items():
            con.execute(
                "INSERT INTO qa_audits (audit_id, decision_id, auditor_id, audited_at, "
                "qa_decision, run_id, version_run, scored_decision, scored_policy) VALUES "
                "($a, $d, 'qa-x', CAST($t AS TIMESTAMPTZ), 'approve', 2, 2, 'remove', NULL)",
                {"a": aid, "d": did or sample_decision, "t": audited},
            )
        if dirty:
            con.execute(
                "INSERT INTO calibration_ratings (session_id, session_date, workflow, item_id, "
                "rater_id, vendor, label, is_golden, run_id, version_run) VALUES "
                "('cal-9999', DATE '9999-12-31', 'hate_speech', 'ci', 'r', 'northwind', "
                "'remove', false, 3, 3), "
                "('cal-0001', DATE '0001-01-01', 'hate_speech', 'ci', 'r', 'northwind', "
                "'remove', false, 3, 3)"
            )
        refresh_audit_facts(con, Config())
    finally:
        con.close()


@pytest.fixture(scope="module")
def dbs(sample_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("implausible")
    out = {}
    for name in ("clean", "dirty"):
        out[name] = root / f"{name}.duckdb"
        shutil.copyfile(sample_db_master, out[name])
        _write(out[name], dirty=name == "dirty")
    return out


@pytest.fixture
def dirty_db(dbs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the dirty database, selected through BPO_KPI_DB."""
    db = tmp_path / "dirty.duckdb"
    shutil.copyfile(dbs["dirty"], db)
    monkeypatch.setenv("BPO_KPI_DB", str(db))
    monkeypatch.delenv("BPO_KPI_ROLE", raising=False)
    monkeypatch.delenv("BPO_KPI_CONFIG", raising=False)
    return db


def test_the_stored_values_are_there(dbs):
    """The dirty database really holds the values (the gateway is what hides them)."""
    con = connect(dbs["dirty"], read_only=True)
    try:
        top = con.execute("SELECT CAST(max(decided_at) AS VARCHAR) FROM decisions").fetchone()
        low = con.execute("SELECT CAST(min(enqueued_at) AS VARCHAR) FROM decisions").fetchone()
    finally:
        con.close()
    assert top == ("294247-01-01 00:00:00+00",)
    assert low == ("0001-01-01 00:00:00+00",)


def test_the_gateway_reports_what_it_leaves_out(dbs):
    with Gateway(dbs["clean"]) as gw:
        assert gw.implausible.empty
        assert health.implausible_values(gw).empty
    with Gateway(dbs["dirty"]) as gw:
        found = health.implausible_values(gw)
    got = {(r.table, r.column): (r.rows, r.earliest, r.latest) for r in found.itertuples()}
    assert got == {
        ("decisions", "enqueued_at"): (3, "0001-01-01 00:00:00+00", "294247-01-01 00:00:00+00"),
        ("decisions", "decided_at"): (3, "0001-01-01 01:00:00+00", "294247-01-01 00:00:00+00"),
        ("decisions", "claimed_at"): (4, "0001-01-01 00:00:00+00", "294247-01-01 00:00:00+00"),
        ("decisions", "due_at"): (6, "0001-01-01 00:00:00+00", "294247-01-01 00:00:00+00"),
        ("decisions", "updated_at"): (1, "9999-12-31 23:59:59+00", "9999-12-31 23:59:59+00"),
        ("audit_facts", "audited_at"): (2, "9999-12-31 23:59:59+00", "294247-01-01 00:00:00+00"),
        ("audit_facts", "decided_at"): (1, "9999-12-31 23:59:59+00", "9999-12-31 23:59:59+00"),
        ("audit_facts", "due_at"): (1, "0001-01-01 00:00:00+00", "0001-01-01 00:00:00+00"),
        ("calibration_ratings", "session_date"): (2, "0001-01-01", "9999-12-31"),
    }
    treatment = dict(zip(found["column"] + "@" + found["table"], found["treatment"], strict=True))
    assert treatment["enqueued_at@decisions"] == "row left out"
    assert treatment["claimed_at@decisions"] == "read as empty"
    assert treatment["decided_at@audit_facts"].startswith("audit counted as an orphan")


def test_every_number_equals_the_database_written_as_ingest_would(dbs):
    with Gateway(dbs["clean"]) as clean, Gateway(dbs["dirty"]) as dirty:
        want, got = database_summary(clean, AS_OF), database_summary(dirty, AS_OF)
        assert got == want
        assert got.last_day == dt.date(2026, 11, 22) and got.first_day.year == 2026
        last = got.last_day
        window = KpiQuery(start=last - dt.timedelta(days=27), end=last)
        queries = [
            KpiQuery(by=("vendor", "workflow")),  # the whole history
            KpiQuery(by=("vendor",), period="week"),
            window.model_copy(update={"by": ("vendor",), "period": "day"}),
            window.model_copy(update={"by": ("vendor",), "start": dt.date(2000, 1, 1)}),
        ]
        for q in queries:
            pd.testing.assert_frame_equal(kpi_table(dirty, q, AS_OF), kpi_table(clean, q, AS_OF))
        northwind = kpi_table(dirty, KpiQuery(by=("vendor",)), AS_OF).set_index("vendor")
        assert northwind.at["northwind", "tat_mean"] < 24 * 60  # not 25,000x larger
        assert northwind.at["northwind", "handle_minutes_mean"] < 24 * 60
        for fn, args in [
            (health.orphan_audits, ()),
            (health.freshness, (AS_OF,)),
            (health.vendor_integrity, ()),
            (monitor.alerts, (window, None, AS_OF)),
            (gaps.quality_gaps, (window,)),
            (calibration.sessions, ()),
        ]:
            pd.testing.assert_frame_equal(fn(dirty, *args), fn(clean, *args), obj=fn.__name__)
        orphans = health.orphan_audits(dirty)
        assert "xa-of-left-out" in set(orphans["audit_id"])
        assert not {"xa-audited-9999", "xa-ghost-max"} & set(orphans["audit_id"])


def _app_ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize(
    ("query", "tabs"),
    [
        ({}, True),  # the default window: the 28 days up to the newest plausible day
        ({"from": "2026-10-12", "to": "2026-11-22"}, True),  # the widest the pickers allow
        ({"from": "2026-10-12", "to": "2026-10-20"}, False),  # without the inserted rows
        ({"vendor": ["northwind"]}, False),
    ],
    ids=["default", "widest", "early", "northwind"],
)
def test_every_page_renders(dirty_db, dbs, run_page, query, tabs):
    with Gateway(dbs["dirty"]) as gw:
        summary = database_summary(gw)
    assert (summary.first_day, summary.last_day) == (dt.date(2026, 10, 12), dt.date(2026, 11, 22))
    for page in PAGES:
        at = run_page(page, query)
        _app_ok(at)
        assert at.date_input(key="to").value == dt.date.fromisoformat(query.get("to", "2026-11-22"))
    for tab in TAT_TABS if tabs else ():
        _app_ok(run_page("app_pages/tat.py", {**query, "tat_view": tab}))
    for tab in CALIBRATION_TABS if tabs else ():
        _app_ok(run_page("app_pages/calibration.py", {**query, "calibration_view": tab}))
    with Gateway(dbs["dirty"]) as gw:  # the drill-down to the audited decisions of the rows
        vendor, workflow, reviewer = gw.frame(
            "SELECT vendor, workflow, reviewer_id FROM decisions WHERE decision_id = "
            "'opt-claimed-0001'"
        ).iloc[0]
    drill = [f"cell:{vendor}|{workflow}", "policy:(all)", "error_type:(all)",
             f"reviewer:{reviewer}"]  # fmt: skip
    at = run_page("app_pages/quality.py", {**query, "drill": drill, "quality_all_audits": "true"})
    _app_ok(at)


def test_data_health_lists_the_values(dirty_db, dbs, run_page):
    at = run_page("app_pages/health.py")
    _app_ok(at)
    with Gateway(dbs["dirty"]) as gw:
        want = health.implausible_values(gw)
    shown = list(at.container(key="health_implausible").dataframe)
    assert len(shown) == 1
    got = shown[0].value
    assert got["column"].tolist() == want["column"].tolist()
    assert got["rows"].tolist() == want["rows"].tolist()
    assert got["earliest"].tolist() == want["earliest"].tolist()
    assert got["latest"].tolist() == want["latest"].tolist()
    assert got["table"].tolist()[0] == "Decisions"
    assert any("left out of every KPI" in w.value for w in at.warning)


def test_clean_database_shows_no_such_section(sample_db, run_page):
    at = run_page("app_pages/health.py")
    _app_ok(at)
    assert "Stored times outside the plausible range" not in [s.value for s in at.subheader]


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts"],
        ["alerts", "--from", "2026-10-12", "--day", "2026-11-20", "--format", "json"],
        ["alerts", "--day", "9999-12-31"],  # a day without a next day, from the command line
        ["kpis"],
        ["kpis", "--by", "vendor", "--period", "week"],
        ["kpis", "--by", "vendor", "--from", "2026-11-01", "--to", "9999-12-31"],
        [
            "kpis",
            "--by",
            "vendor",
            "--time-keys",
            "weekday,hour",
            "--kpis",
            "decisions,sla_attainment,tat_p90",
        ],
        ["gaps"],
        ["gaps", "--segment", "vendor=northwind", "--drill", "decisions"],
        ["calibration"],
        ["calibration", "--items"],
    ],  # fmt: skip
    ids=lambda argv: "-".join(argv[:3]),
)
def test_cli_answers(dbs, argv, capsys):
    assert cli.main([*argv, "--db", str(dbs["dirty"])]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "error:" not in out.err, out.err
    assert out.out.strip()


def test_cli_kpis_equal_the_clean_database(dbs, capsys):
    outputs = []
    for name in ("clean", "dirty"):
        argv = ["kpis", "--by", "vendor", "--format", "json", "--db", str(dbs[name])]
        assert cli.main(argv) == 0
        outputs.append(capsys.readouterr().out)
    clean, dirty = (pd.read_json(io.StringIO(o)) for o in outputs)
    pd.testing.assert_frame_equal(dirty, clean)
