"""Hostile input holds (issue 14): text that came from a file or a link is shown as text on every
page, in every export and in every notification, and a link naming something outside the
viewer's scope shows nothing of it.

A small database goes through the real ingest with hostile values in every text field it
accepts: vendor, site, workflow, market, priority, policy, reviewer and auditor ids, auditor
comments, error types, calibration session and item ids, a rejected row's raw text and file
names. Every page is run (AppTest) and everything it renders as Markdown (Markdown, captions,
alerts, metric labels and help, widget, tab and expander labels, radio options) must hold the
hostile values only escaped, and every plotly figure's text (titles, labels, legend, hover,
annotations) no HTML tag but our own.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import requests
from pptx import Presentation
from streamlit.testing.v1 import AppTest

import export
from app_pages.common import shown_table
from app_pages.text import code_span, md, plot_text
from bpo_kpi.config import Config
from bpo_kpi.db import DECISION_COLUMNS, connect
from bpo_kpi.state import StateStore
from export import notify
from export.safety import markdown_text
from export.tables import csv_bytes, workbook_bytes
from ingest import IngestError, ingest_files
from kpi import monitor, snapshot
from kpi.gateway import Gateway
from kpi.periods import month_period
from kpi.query import KpiQuery
from sample_data import generate, load_canonical

V_BOLD = "**bold** ![p](https://evil.example/pixel.png)"
V_HTML = "<img src=x onerror=alert(1)>"
V_DIRECTIVE = ":red[alert] :material/warning: $x^2$"
VENDORS = {"apex_bpo": V_BOLD, "meridian": V_HTML, "tessera": V_DIRECTIVE}  # northwind stays
W_PHISH = "[Your session expired - sign in again](https://evil.example/login)"
FORMULA = '=HYPERLINK("https://evil.example")'
W_FORMULA = '=HYPERLINK("https://evil.example","spam")'
WORKFLOWS = {"harassment": W_PHISH, "spam": W_FORMULA}
SITES = {"apex_cebu": f"{FORMULA} cebu"}
MARKETS = {"es_MX": "**es** :material/warning: <b>MX</b>"}
PRIORITIES = {"p3": "p3 **now** [x](https://evil.example/p3)"}
POLICY = "HR2 <a href='https://evil.example'>threats</a> ![p](https://evil.example/hr2.png)"
POLICIES = {"HR2_threats": POLICY}
REVIEWER = "[Your session expired](https://evil.example/r) "  # + the reviewer's id (apex)
AUDITOR = "@SUM(1) :blue[qa] "  # + the auditor's id
ERROR_TYPE = "<img src=x onerror=alert(2)>"
SESSION = "[session](https://evil.example/s) "  # + the session's id
ITEM = "**item** "  # + the item's id
BAD_FILE = "**bold** ![p](evil) :red[alert] <img src=x> =HYPERLINK.csv"
FAILED_FILE = "=HYPERLINK(x) [Your session expired](evil).csv"
SLACK_VENDOR = "*x* <https://evil|click>"
RUNS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a text cell starting so

# What must never reach Markdown unescaped (after code spans and backslash escapes are taken
# out): links, images, emphasis, colour directives, icons, HTML, LaTeX, a bare URL.
LIVE = ("](", "![", "**bold", "**es", "**now", "**item", ":red[alert", ":blue[qa", "<img", "<a ",
        "<b>", "$x", "https://evil")  # fmt: skip
ICONS = (":material/warning:", ":material_warning:")
PLOTLY_TAGS = {"<b>", "</b>", "<br>", "<extra>", "</extra>"}  # our own markup in figures
PAGES = {
    "overview": "app_pages/overview.py",
    "quality": "app_pages/quality.py",
    "tat": "app_pages/tat.py",
    "calibration": "app_pages/calibration.py",
    "vendors": "app_pages/vendors.py",
    "disputes": "app_pages/disputes.py",
    "health": "app_pages/health.py",
    "export": "app_pages/export.py",
}
TAT_TABS = ("TAT distribution", "Quantiles over time", "SLA by vendor × workflow",
            "Hour × weekday", "Backlog ageing")  # fmt: skip
CALIBRATION_TABS = ("Agreement by vendor", "Rater accuracy", "Confusion matrix",
                    "Contested items", "Trend across sessions")  # fmt: skip
ROLES_TOML = """
[roles.northwind_liaison]
vendors = ["northwind"]
see_reviewers = false
"""


# --- the hostile database ------------------------------------------------------------------------


def _hostile(frame: pd.DataFrame, column: str, mapping: dict[str, str]) -> None:
    frame[column] = frame[column].map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)


@pytest.fixture(scope="module")
def hostile_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    data = generate(seed=7, decisions=12_000, weeks=4)
    dec, aud, cal = data.decisions, data.qa_audits, data.calibration_ratings
    apex = set(dec.loc[dec["vendor"] == "apex_bpo", "reviewer_id"])
    for frame in (dec, cal):
        _hostile(frame, "vendor", VENDORS)
        _hostile(frame, "workflow", WORKFLOWS)
        _hostile(frame, "policy", POLICIES)
    _hostile(dec, "site", SITES)
    _hostile(dec, "market", MARKETS)
    _hostile(dec, "priority", PRIORITIES)
    dec["reviewer_id"] = [REVIEWER + r if r in apex else r for r in dec["reviewer_id"]]
    cal["rater_id"] = [REVIEWER + r if r in apex else r for r in cal["rater_id"]]
    _hostile(aud, "qa_policy", POLICIES)
    aud["auditor_id"] = AUDITOR + aud["auditor_id"]
    aud["comment"] = FORMULA
    aud.loc[aud.index[::25], "error_type"] = ERROR_TYPE
    cal["session_id"] = SESSION + cal["session_id"]
    cal["item_id"] = ITEM + cal["item_id"]
    db = root / "hostile.duckdb"
    load_canonical(data, root / "files", db)
    # A rejected row (its raw text hostile) in a file with a hostile name, and a file that
    # fails as a whole (a missing column: the error quotes the columns found).
    columns = [c for c, _, _ in DECISION_COLUMNS if c != "updated_at"]
    bad = dict.fromkeys(columns, "")
    bad.update(decision_id=V_BOLD, item_id=W_PHISH, vendor=V_HTML, workflow=FORMULA,
               decision="remove", enqueued_at="2026-11-20T08:00:00Z")  # fmt: skip
    bad_file = root / BAD_FILE
    pd.DataFrame([bad], columns=columns).to_csv(bad_file, index=False)
    failed_file = root / FAILED_FILE
    pd.DataFrame([bad], columns=[*columns[:-5], W_PHISH]).to_csv(failed_file, index=False)
    con = connect(db)
    try:
        ingest_files(con, "decisions", [bad_file], config=Config())
        with pytest.raises(IngestError):
            ingest_files(con, "decisions", [failed_file], config=Config())
    finally:
        con.close()
    return db


@pytest.fixture
def hostile_db(hostile_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "hostile.duckdb"
    shutil.copyfile(hostile_master, db)
    monkeypatch.setenv("BPO_KPI_DB", str(db))
    monkeypatch.delenv("BPO_KPI_ROLE", raising=False)
    monkeypatch.delenv("BPO_KPI_CONFIG", raising=False)
    return db


@pytest.fixture
def gw(hostile_db: Path) -> Iterator[Gateway]:
    gateway = Gateway(hostile_db)
    yield gateway
    gateway.close()


def test_the_hostile_values_are_in_the_database(gw):
    """Ingest keeps every hostile value (none is a reason to reject a row), so the pages below
    really show them."""

    def distinct(sql: str) -> set[str]:
        return set(gw.frame(sql).iloc[:, 0].dropna())

    assert set(VENDORS.values()) <= distinct("SELECT DISTINCT vendor FROM decisions")
    assert W_PHISH in distinct("SELECT DISTINCT workflow FROM decisions")
    assert POLICY in distinct("SELECT DISTINCT policy FROM decisions")
    assert FORMULA in distinct("SELECT DISTINCT comment FROM qa_audits")
    assert ERROR_TYPE in distinct("SELECT DISTINCT error_type FROM qa_audits")
    assert any(
        s.startswith(SESSION) for s in distinct("SELECT session_id FROM calibration_ratings")
    )
    files = distinct("SELECT file FROM ingest_runs")
    assert any(f.endswith(BAD_FILE) for f in files) and any(f.endswith(FAILED_FILE) for f in files)
    assert len(distinct("SELECT raw FROM rejected_rows")) == 1


# --- what a page renders ------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_ESCAPED = re.compile(r"\\(.)", re.S)
_TAG = re.compile(r"</?[A-Za-z][^>]*>?")
_MARKDOWN_BODIES = ("markdown", "caption", "info", "warning", "error", "success", "title",
                    "header", "subheader")  # fmt: skip
_PLAIN = ("text", "code", "dataframe", "plotly_chart", "json", "selectbox", "multiselect")


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def markdown_texts(at: AppTest) -> list[str]:
    """Every text the page gave Streamlit to render as Markdown: bodies, and the labels, help
    and radio options of every element (Streamlit reads Markdown in all of them)."""
    texts = []
    for node in _nodes(at._tree):
        kind = getattr(node, "type", "")
        if kind in _MARKDOWN_BODIES:
            texts.append(str(node.value))
        if kind in _PLAIN:
            if kind in ("selectbox", "multiselect"):
                texts.append(node.label)  # options are plain text, the label is not
            continue
        for name in ("label", "help"):
            value = getattr(node.proto, name, None) if hasattr(node, "proto") else None
            if isinstance(value, str) and value:
                texts.append(value)
        if kind == "radio":
            texts += [str(o) for o in node.options]
    return texts


def live_markup(text: str) -> list[str]:
    """What in a Markdown text would render as markup: code spans and backslash-escaped
    characters are taken out first (they show as typed)."""
    bare = _CODE_SPAN.sub("", text)
    found = [m for m in LIVE if m in _ESCAPED.sub("\x00", bare)]
    parsed = _ESCAPED.sub(r"\1", bare)  # the text Streamlit then finds icons and emoji in
    return found + [m for m in ICONS if m in parsed]


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def figure_strings(value: Any, key: str = "") -> Iterator[str]:
    """Every string plotly shows of a figure (its data and layout; not `customdata`, which it
    only shows through a template, nor the theme)."""
    if key in ("customdata", "template"):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from figure_strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from figure_strings(v, key)


def all_strings(at: AppTest) -> list[str]:
    """Everything the page shows: Markdown, plain text, code, options, tables and figures."""
    out = markdown_texts(at)
    for node in _nodes(at._tree):
        kind = getattr(node, "type", "")
        if kind in ("text", "code"):
            out.append(str(node.value))
        elif kind in ("selectbox", "multiselect", "radio"):
            out += [str(o) for o in node.options]
    out += [d.value.to_csv() for d in at.dataframe]
    out += [json.dumps(f, ensure_ascii=False) for f in figures(at)]
    return out


def check_inert(at: AppTest) -> list[str]:
    """Assert that the page ran and shows no hostile markup; its Markdown texts."""
    assert not at.exception, at.exception
    texts = markdown_texts(at)
    for text in texts:
        assert not live_markup(text), (live_markup(text), text)
    for figure in figures(at):
        for text in figure_strings(figure):
            tags = set(_TAG.findall(text)) - PLOTLY_TAGS
            assert not tags, (tags, text)
    return texts


def run(page: str, query: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"),
                           default_timeout=180)  # fmt: skip
    for key, value in (query or {}).items():
        at.query_params[key] = value  # type: ignore[assignment]
    at.run()
    at.switch_page(page)
    at.run()
    return at


def table(at: AppTest, key: str) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if d.key == key]
    assert len(frames) == 1, [d.key for d in at.dataframe]
    return frames[0]


def drill(at: AppTest) -> list[str]:
    value = at.query_params.get("drill", [])
    return [value] if isinstance(value, str) else list(value)


def shown(texts: list[str], value: str) -> bool:
    """Whether `value` is among the texts, escaped."""
    return any(md(value) in t for t in texts)


# --- every page ----------------------------------------------------------------------------------


def test_overview_shows_hostile_names_as_text(hostile_db):
    at = run(PAGES["overview"])
    texts = check_inert(at)
    assert all(shown(texts, v) for v in VENDORS.values())  # the tiles' headers
    at = run(PAGES["overview"], {"market": MARKETS["es_MX"]})
    texts = check_inert(at)
    assert shown(texts, MARKETS["es_MX"])  # the filters in the caption
    # The command line is a code span of the quoted command (shown as typed).
    command = next(t for t in texts if "The same list on the command line" in t)
    assert "--where 'market=**es** :material/warning: <b>MX</b>'" in command


def test_quality_drill_down_shows_hostile_values_as_text(hostile_db):
    at = run(PAGES["quality"])
    check_inert(at)
    cell = f"cell:{V_BOLD}|{W_PHISH}"
    at = run(PAGES["quality"], {"drill": [cell]})
    texts = check_inert(at)
    assert shown(texts, V_BOLD) and shown(texts, W_PHISH)
    assert shown([b.label for b in at.button], f"{V_BOLD}|{W_PHISH}".replace("|", " × "))
    policies = table(at, "quality_policies")
    assert POLICY in set(policies["policy"])  # the hostile policy is in this cell
    path = [cell, f"policy:{POLICY}", "error_type:(all)"]
    at = run(PAGES["quality"], {"drill": path})
    texts = check_inert(at)
    assert shown(texts, POLICY) and not at.warning
    reviewers = table(at, "quality_reviewers")["reviewer_id"]
    reviewer = next(r for r in reviewers if r.startswith(REVIEWER))
    at = run(PAGES["quality"], {"drill": [*path, f"reviewer:{reviewer}"],
                                "quality_all_audits": "true"})  # fmt: skip
    texts = check_inert(at)
    assert not at.warning and shown(texts, reviewer)
    audits = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert set(audits["comment"]) == {FORMULA}  # a table cell: plain text, as stored
    # The table's CSV and Excel downloads never run the comment (common.dataframe makes them
    # from shown_table's frame).
    frame, units = shown_table(audits, {"comment": {"label": "auditor comment"}}, None, True)
    rows = pd.read_csv(io.BytesIO(csv_bytes(frame)), dtype=str)
    assert set(rows["auditor comment"]) == {"'" + FORMULA}
    assert all(a.startswith("'@") for a in rows["auditor_id"])
    sheet = openpyxl.load_workbook(io.BytesIO(workbook_bytes([("audits", frame)], units))).active
    comments = [r[list(frame.columns).index("auditor comment")] for r in sheet.iter_rows(min_row=2)]
    assert {(c.value, c.data_type, c.quotePrefix) for c in comments} == {(FORMULA, "s", True)}


def test_an_error_type_is_shown_as_text(hostile_db, gw):
    """The Pareto and the reviewers of a hostile error type."""
    found = gw.frame(
        "SELECT vendor, workflow FROM audit_facts WHERE error_type = $e GROUP BY ALL "
        "ORDER BY count(*) DESC LIMIT 1",
        {"e": ERROR_TYPE},
    )
    vendor, workflow = found.iloc[0]
    path = [f"cell:{vendor}|{workflow}", "policy:(all)"]
    at = run(PAGES["quality"], {"drill": path})
    check_inert(at)
    if ERROR_TYPE not in set(table(at, "quality_error_types")["error_type"]):
        pytest.skip("the hostile error type is outside the default window")
    at = run(PAGES["quality"], {"drill": [*path, f"error_type:{ERROR_TYPE}"]})
    texts = check_inert(at)
    assert not at.warning and shown(texts, ERROR_TYPE)


@pytest.mark.parametrize("tab", TAT_TABS)
def test_turnaround_shows_hostile_values_as_text(hostile_db, tab):
    at = run(PAGES["tat"], {"tat_view": tab, "tat_priority": PRIORITIES["p3"]})
    texts = check_inert(at)
    assert shown(texts, PRIORITIES["p3"])
    if tab in ("TAT distribution", "SLA by vendor × workflow", "Backlog ageing"):
        shown_in_figure = " ".join(s for f in figures(at) for s in figure_strings(f))
        assert plot_text(V_HTML) in shown_in_figure


def test_calibration_shows_hostile_values_as_text(hostile_db):
    at = run(PAGES["calibration"])
    check_inert(at)
    sessions = at.selectbox(key="calibration_session").options[1:]
    session = next(s for s in sessions if s.startswith(SESSION))
    for tab in CALIBRATION_TABS:
        at = run(PAGES["calibration"], {"calibration_view": tab, "calibration_session": session})
        texts = check_inert(at)
        assert shown(texts, session)
    at = run(PAGES["calibration"], {"calibration_vendor": V_BOLD})
    assert shown(check_inert(at), V_BOLD)


def test_vendor_comparison_shows_hostile_names_as_text(hostile_db):
    at = run(PAGES["vendors"], {"workflow": W_PHISH})
    texts = check_inert(at)
    assert shown([m.label for m in at.metric], V_BOLD)
    assert shown(texts, W_PHISH)


def test_disputes_show_hostile_names_as_text(hostile_db):
    at = run(PAGES["disputes"])
    texts = check_inert(at)
    by_vendor = next(d.value for d in at.dataframe if "Dispute rate" in d.value.columns)
    assert V_BOLD in set(by_vendor["Vendor"])  # in the table, as plain text
    pending = [d.value for d in at.dataframe if "Age (days)" in d.value.columns]
    # (this small database may hold no dispute pending that long; test_disputes.py checks
    # the list's names on the sample database)
    for frame in pending:  # the list's summary line names its vendors, escaped
        for vendor in set(frame["Vendor"]):
            assert shown(texts, vendor)


def test_data_health_shows_hostile_files_and_rows_as_text(hostile_db):
    at = run(PAGES["health"])
    check_inert(at)
    tables = " ".join(d.value.to_csv() for d in at.dataframe)
    assert BAD_FILE in tables and FAILED_FILE in tables  # in tables, as plain text


def test_export_page_shows_hostile_names_as_text(hostile_db):
    at = run(PAGES["export"], {"export_vendor": V_BOLD, "export_format": "json"})
    check_inert(at)
    at.button(key="export_build").click().run()
    texts = check_inert(at)
    assert any(t.startswith(f"Download {md('bpo-kpi_2026-W47_')}") for t in texts)
    assert any(V_BOLD in t.value for t in at.text)  # the summary: st.text, plain


# --- links ----------------------------------------------------------------------------------------


def test_a_crafted_drill_link_shows_no_link(sample_db, run_page):
    """The tester's link: a Markdown link as the cell's vendor. Nothing of it is shown (not as
    a link, not as text), the URL is cleaned, and a neutral message says a part was left
    out; a valid cell with a crafted policy keeps the cell."""
    crafted = "cell:[Your session expired - sign in again](https://evil.example/login)|spam"
    at = run_page(PAGES["quality"], {"drill": [crafted]})
    check_inert(at)
    assert not any("evil" in t or "session expired" in t for t in all_strings(at))
    assert [w.value for w in at.warning] == [
        "Part of the drill-down in this link is not available and was left out."
    ]
    assert drill(at) == []
    at = run_page(PAGES["quality"], {"drill": ["cell:northwind|hate_speech",
                                               "policy:[x](https://evil.example)"]})  # fmt: skip
    check_inert(at)
    assert not any("evil" in t for t in all_strings(at))
    assert drill(at) == ["cell:northwind|hate_speech"]
    assert len(at.warning) == 1 and len(table(at, "quality_policies"))


@pytest.fixture
def liaison(hostile_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    config = tmp_path / "roles.toml"
    config.write_text(ROLES_TOML)
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_ROLE", "northwind_liaison")
    return hostile_db


@pytest.mark.parametrize("page", ["quality", "overview", "vendors", "calibration", "export"])
def test_a_link_naming_a_vendor_out_of_scope_shows_nothing_of_it(liaison, page):
    """A restricted viewer's link with another vendor (in the filters, in the drill path)
    reads exactly like one with a vendor that does not exist: neither is named anywhere."""
    pages = {}
    for name, vendor in (("out of scope", V_BOLD), ("unknown", "no such vendor")):
        query: dict[str, Any] = {"vendor": vendor}
        bound = {"quality": "drill", "calibration": "calibration_vendor",
                 "export": "export_vendor"}.get(page)  # fmt: skip
        if bound == "drill":
            query["drill"] = [f"cell:{vendor}|hate_speech", "policy:(all)"]
        elif bound:
            query[bound] = vendor
        at = run(PAGES[page], query)
        check_inert(at)
        params = [str(at.query_params.get(k, "")) for k in ("vendor", bound) if k]
        everything = all_strings(at) + params
        assert not any("pixel" in t or "no such" in t for t in everything), name
        assert at.sidebar.multiselect(key="vendor").value == []
        pages[name] = at
    said = [
        [(e.type, e.value) for e in [*at.warning, *at.info, *at.error]] for at in pages.values()
    ]
    assert said[0] == said[1]


# --- exports --------------------------------------------------------------------------------------


def test_spreadsheet_text_never_runs_also_in_headers_and_categories():
    """A pivot's column names are values from the data (vendors in the TAT histogram table),
    and a categorical column is text too: both neutralised in CSV, text cells in XLSX."""
    frame = pd.DataFrame({"bin": ["< 1 min"], FORMULA: [3], "site": pd.Categorical([FORMULA]),
                          "n": [-2]})  # fmt: skip
    rows = list(csv_bytes(frame).decode().splitlines())
    assert rows[0].split(",")[1].startswith("\"'=HYPERLINK")
    assert rows[1].split(",")[2].startswith("\"'=HYPERLINK") and rows[1].endswith(",-2")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook_bytes([("t", frame)]))).active
    head, row = list(sheet.iter_rows())
    assert (head[1].value, head[1].data_type, head[1].quotePrefix) == (FORMULA, "s", True)
    assert (row[2].value, row[2].data_type, row[2].quotePrefix) == (FORMULA, "s", True)
    assert (row[3].value, row[3].data_type) == (-2, "n")


def test_cli_tables_keep_hostile_text_inert(hostile_db, capsys):
    """`bpo-kpi kpis` (numpy columns) and `bpo-kpi gaps` (a DataFrame) as CSV: every text cell
    a spreadsheet would run starts with an apostrophe, numbers stay numbers, and the same
    rows as the library's table; as aligned text, the names are printed as they are."""
    import csv

    from bpo_kpi_cli.main import main
    from kpi.compute import kpi_table

    argv = ["--db", str(hostile_db), "--format", "csv"]
    assert main(["kpis", "--by", "vendor,workflow,site", "--kpis", "decisions,quality_score",
                 *argv]) == 0  # fmt: skip
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["vendor", "workflow", "site", "decisions", "quality_score",
                       "quality_score_low", "quality_score_high"]  # fmt: skip
    with Gateway(hostile_db) as gw:
        want = kpi_table(gw, KpiQuery(by=("vendor", "workflow", "site"),
                                      kpis=("decisions", "quality_score")))  # fmt: skip
    assert len(rows) - 1 == len(want) > 10
    cells = [c for r in rows[1:] for c in r[:3]]
    assert "'" + W_FORMULA in cells and f"'{FORMULA} cebu" in cells
    assert not [c for c in cells if c.startswith(RUNS)]
    assert [int(r[3]) for r in rows[1:]] == want["decisions"].tolist()
    assert main(["gaps", "--dims", "workflow,site", *argv]) == 0
    gap_rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    text = [c for r in gap_rows[1:] for c in r if not _number(c)]
    assert any(c.startswith("'=HYPERLINK") for c in text)
    assert not [c for c in text if c.startswith(RUNS)]
    assert main(["kpis", "--by", "workflow", "--kpis", "decisions", "--db", str(hostile_db)]) == 0
    assert W_FORMULA in capsys.readouterr().out  # a terminal runs no formula: shown as it is


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def hostile_snapshot(hostile_master: Path) -> snapshot.Snapshot:
    with Gateway(hostile_master, config=Config()) as gw:
        return snapshot.build(gw, month_period(2026, 11))


def test_snapshot_exports_keep_hostile_text_inert(hostile_snapshot):
    snap = hostile_snapshot
    texts = [str(v) for frame in snap.tables.values() for v in frame.to_numpy().ravel()]
    assert any(V_BOLD in t for t in texts) and W_FORMULA in texts
    # XLSX: no formula cell anywhere; every text that would run is a quote-prefixed text cell.
    book = openpyxl.load_workbook(io.BytesIO(export.render(snap, "xlsx")))
    risky = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(RUNS):
                    assert cell.quotePrefix and cell.data_type == "s"
                    risky += 1
    assert risky
    # CSV: no cell or column name starts with a formula character.
    with zipfile.ZipFile(io.BytesIO(export.render(snap, "csv"))) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                frame = pd.read_csv(archive.open(name), dtype=str, keep_default_na=False)
                cells = [*frame.columns, *frame.to_numpy().ravel()]
                assert not [c for c in cells if c.startswith(RUNS) and c[:1] != "-"], name
    # HTML: escaped.
    page = export.render(snap, "html").decode()
    assert html.escape(V_HTML) in page and "<img" not in page


def test_the_deck_holds_hostile_text_as_plain_text(hostile_snapshot):
    """python-pptx text frames and table cells are plain text: the literal characters, no
    markup, no hyperlink; chart categories (stored in the chart's workbook) never run."""
    deck = Presentation(io.BytesIO(export.render(hostile_snapshot, "pptx")))
    texts, links = [], []
    for slide in deck.slides:
        for shape in slide.shapes:
            frames = []
            if shape.has_text_frame:
                frames.append(shape.text_frame)
            if shape.has_table:
                frames += [c.text_frame for row in shape.table.rows for c in row.cells]
            for frame in frames:
                for p in frame.paragraphs:
                    texts.append(p.text)
                    links += [r.hyperlink.address for r in p.runs if r.hyperlink.address]
            if shape.has_chart:
                for plot in shape.chart.plots:
                    texts += [str(c) for c in plot.categories]
                    texts += [s.name for s in plot.series]
    assert not links
    assert any(V_HTML[:23] in t for t in texts) and any(V_BOLD[:23] in t for t in texts)
    assert not any("&lt;" in t or "\\*" in t for t in texts)  # as typed, not escaped


# --- notifications --------------------------------------------------------------------------------


class Captured:
    """Requests apprise sends (their JSON bodies), answered with 200 and `{"ok": true}`."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        url = kwargs.get("url") or (args[1] if len(args) > 1 else args[0])
        body = kwargs.get("data") or kwargs.get("json")
        self.bodies.append((str(url), json.loads(body) if isinstance(body, (str, bytes)) else body))
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"ok": true}'
        return response

    def to(self, host: str) -> list[Any]:
        return [body for url, body in self.bodies if host in url]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Captured:
    captured = Captured()
    monkeypatch.setattr(requests, "post", captured)
    monkeypatch.setattr(requests, "request", captured)
    return captured


def hostile_alerts(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, notify.Context]:
    """The day's alerts of the hostile database (its vendors are stale: an alert each), one of
    them copied for a vendor named like a Slack link; the vendor tiles; the run's context."""
    day = dt.date(2026, 11, 22)
    start = day - dt.timedelta(days=27)
    as_of = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    with Gateway(db, config=Config()) as gw:
        base = KpiQuery(start=start, end=day)
        frame = monitor.alerts(gw, base, day, as_of=as_of)
        tiles = monitor.vendor_snapshot(gw, base, day, as_of=as_of)
    assert set(VENDORS.values()) <= set(frame["vendor"].dropna())
    extra = frame[frame["vendor"] == V_BOLD].head(1).copy()
    for column in ("segment", "message", "key"):
        extra[column] = extra[column].str.replace(V_BOLD, SLACK_VENDOR, regex=False)
    extra["vendor"] = SLACK_VENDOR
    frame = pd.concat([frame, extra], ignore_index=True)
    ctx = notify.Context(day, start, {"market": [MARKETS["es_MX"]]}, "http://localhost:8501")
    return frame, tiles, ctx


SLACK = "slack://xoxb-1234-1234-abc124/#kpis"
DISCORD = "discord://123456/abcdefg"
TEAMS = "workflows://prod-01.westus.logic.azure.com:443/abcdefg123/abcdefg123?signature=abc"


def test_notifications_carry_hostile_names_inert(hostile_db, sent):
    frame, tiles, ctx = hostile_alerts(hostile_db)
    with StateStore(hostile_db) as store:
        targets = notify.prepare_targets([SLACK, DISCORD, TEAMS], store)
        deliveries = notify.notify(targets, frame, {}, store, ctx, tiles=tiles)
    assert all(not d.errors for d in deliveries), [d.errors for d in deliveries]

    # Slack: plain text, `&`, `<`, `>` as entities: `<https://evil|click>` is no link, no
    # mention; `*x*` is not bold (mrkdwn off).
    alerts, digest = sent.to("slack.com")
    assert alerts["mrkdwn"] is False
    body = alerts["attachments"][0]["text"]
    assert "&lt;https://evil|click&gt;" in body and "<https://evil|click>" not in body
    assert html.escape(V_HTML, quote=False) in body and "<img" not in body
    assert "<" not in body.replace("<http://localhost", "")  # only apprise's own links
    assert "<img" not in json.dumps(digest) and "<https://evil" not in json.dumps(digest)

    # Discord renders Markdown in what apprise passes on as it is: escaped here.
    alerts, digest = sent.to("discord.com")
    for text in (alerts["content"], digest["content"]):
        assert not [m for m in LIVE if m in _ESCAPED.sub("\x00", text)], text
    assert markdown_text(SLACK_VENDOR) in alerts["content"]
    assert markdown_text(V_BOLD) in digest["content"]

    # Teams (Workflows): apprise escapes the text for its Markdown.
    alerts, digest = sent.to("logic.azure.com")
    for doc in (alerts, digest):
        text = json.dumps(doc, ensure_ascii=False)
        assert "](https://evil" not in text and "**bold**" not in text


def test_the_digest_escapes_html_and_on_request_markdown(hostile_db):
    frame, tiles, ctx = hostile_alerts(hostile_db)
    page = notify.digest_html(tiles, frame, {}, ctx)
    assert html.escape(V_HTML) in page and "<img" not in page
    assert html.escape(V_BOLD) in page and html.escape(SLACK_VENDOR) in page
    assert '<a href="https://evil' not in page and "<b>MX</b>" not in page
    page = notify.digest_html(tiles, frame, {}, ctx, markdown=True)
    assert html.escape(markdown_text(V_BOLD)) in page


# --- the helpers themselves -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [V_BOLD, W_PHISH, FORMULA, V_HTML, V_DIRECTIVE, "a\\*b\\", "# head\n- item\n> quote",
     "`code` ``x``", "www.evil.example and x@y.z", ":smile: :streamlit: 12:30:45", "~~s~~ _i_"],
)  # fmt: skip
def test_md_leaves_no_markup(value):
    escaped = md(value)
    assert not live_markup(escaped)
    assert "\n" not in escaped
    # What Streamlit shows: the escapes resolved, the colons followed by a word joiner.
    assert _ESCAPED.sub(r"\1", escaped).replace("\u2060", "") == " ".join(value.splitlines())
    assert not re.search(r":[\w+-]", _ESCAPED.sub(r"\1", escaped))  # no :icon: or :emoji:


def test_plot_text_and_code_span():
    assert plot_text("<a href='x'>&amp;</a>") == "&lt;a href='x'&gt;&amp;amp;&lt;/a&gt;"
    assert plot_text(None) == ""
    assert code_span("a ` b") == "`` a ` b ``"
    assert code_span("x") == "` x `"


def test_markdown_text_is_every_ascii_punctuation_escaped():
    punctuation = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())
    assert markdown_text(punctuation) == "".join("\\" + c for c in punctuation)
    assert markdown_text("a\r\nb\nc") == "a b c"


@pytest.mark.parametrize(
    ("value", "autolink"),
    [
        ("nora@northwind.example", "@northwind"),
        ("see www.evil.example now", "www\\."),
        ("WWW.EVIL.EXAMPLE", "WWW\\."),
        ("https://evil.example/login", "https\\://"),
    ],
)
def test_autolinks_do_not_form_from_escaped_text(value: str, autolink: str) -> None:
    # GitHub-flavoured autolinks are made even from backslash-escaped text (seen in
    # Chromium: a mailto link and a www link); a word joiner breaks each pattern.
    shown = md(value)
    assert autolink not in shown
    assert shown.replace("\u2060", "").replace("\\", "") == value
