"""`bpo-kpi export`: every number that leaves the tool equals `bpo-kpi kpis` for the same
filters, opened with the format's own library (openpyxl, pyarrow, python-pptx, json)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from export_testkit import END, PERIOD, START, kpis_json
from pptx import Presentation

from bpo_kpi.config import Config
from kpi.catalog import KPIS, output_columns
from kpi.targets import format_value

Cli = Callable[..., tuple[int, str, str]]


def by(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)


def export(cli: Cli, db: Path, fmt: str, out: Path, *extra: str) -> Path:
    code, stdout, err = cli("export", "--db", db, "--period", PERIOD, "--format", fmt,
                            "--out", out, "--quiet", *extra)  # fmt: skip
    assert code == 0, err
    assert any(line.startswith("content hash ") for line in stdout.splitlines())
    return out


def test_xlsx_holds_the_cli_numbers_as_formatted_numbers(
    cli: Cli, export_db: Path, tmp_path: Path
) -> None:
    path = export(cli, export_db, "xlsx", tmp_path / "snap.xlsx")
    wb = openpyxl.load_workbook(path)
    assert {"kpis_by_vendor", "scorecard", "definitions", "manifest", "summary"} <= set(
        wb.sheetnames
    )
    want = by(kpis_json(export_db, "--by", "vendor"), "vendor")
    ws = wb["kpis_by_vendor"]
    header = [c.value for c in ws[1]]
    assert header == ["vendor", *output_columns()]
    assert ws.freeze_panes == "A2"
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == len(want) >= 3
    for row in rows:
        rec = want[(row[0].value,)]
        for cell, column in zip(row[1:], header[1:], strict=True):
            assert same(cell.value, rec[column]), (column, cell.value, rec[column])
            if cell.value is not None:
                assert isinstance(cell.value, (int, float))  # a number, never text
                base = column.removesuffix("_low").removesuffix("_high")
                if KPIS[base].unit == "share":
                    assert cell.number_format == "0.0%"
    # Widths fit the longest shown value of each column (never the default 8.43).
    assert ws.column_dimensions["A"].width >= max(len(v) for (v,) in want) + 2
    # The definitions sheet is the catalog.
    defs = list(wb["definitions"].iter_rows(min_row=2, values_only=True))
    assert [d[0] for d in defs] == list(KPIS)


def test_parquet_and_csv_hold_the_cli_numbers(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    want = by(kpis_json(export_db, "--by", "vendor,workflow"), "vendor", "workflow")
    folder = export(cli, export_db, "parquet", tmp_path / "pq")
    table = pq.read_table(folder / "kpis_by_vendor_workflow.parquet").to_pandas()
    csv = pd.read_csv(export(cli, export_db, "csv", tmp_path / "csv") /
                      "kpis_by_vendor_workflow.csv")  # fmt: skip
    assert len(table) == len(csv) == len(want)
    for frame in (table, csv):
        for rec in frame.to_dict("records"):
            ref = want[(rec["vendor"], rec["workflow"])]
            for column in output_columns():
                value = None if pd.isna(rec[column]) else rec[column]
                assert same(value, ref[column]), (column, value, ref[column])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["period"] == {
        "label": PERIOD, "kind": "week", "start": START, "end": END,
        "trend_from": "2026-09-21", "time_zone": "UTC",
    }  # fmt: skip
    assert manifest["scope"]["role"] == "admin"
    assert len(manifest["config_hash"]) == 12 and len(manifest["content_hash"]) == 64
    assert {r["kind"] for r in manifest["ingest_runs"]} == {"decisions", "audits", "calibration"}
    assert all(len(r["sha256"]) == 64 for r in manifest["ingest_runs"])
    assert [f["vendor"] for f in manifest["freshness"]] == sorted(
        r["vendor"] for r in want.values() if r["workflow"] == "hate_speech"
    )


def test_same_data_same_hash_and_same_bytes(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    hashes = []
    for run in ("a", "b"):
        for fmt, name in (("json", "s.json"), ("csv", "csv.zip"), ("parquet", "pq")):
            export(cli, export_db, fmt, tmp_path / run / name)
        hashes.append(json.loads((tmp_path / run / "s.json").read_text())["manifest"])
    assert hashes[0]["content_hash"] == hashes[1]["content_hash"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "s.json").read_bytes() == (b / "s.json").read_bytes()
    assert (a / "csv.zip").read_bytes() == (b / "csv.zip").read_bytes()
    parquet = sorted(p.name for p in (a / "pq").iterdir())
    assert "weekly_trend.parquet" in parquet
    for name in parquet:
        assert (a / "pq" / name).read_bytes() == (b / "pq" / name).read_bytes(), name
    # The content hash covers the numbers: another period, another hash.
    code, out, _ = cli("export", "--db", export_db, "--period", "2026-W46", "--out",
                       tmp_path / "w46.json", "--quiet")  # fmt: skip
    assert code == 0 and hashes[0]["content_hash"] not in out


def _deck(path: Path) -> tuple[list[str], dict[str, Any], list[list[list[str]]]]:
    """All text of a deck, its charts by slide title, and its tables."""
    prs = Presentation(str(path))
    texts, charts, tables = [], {}, []
    for slide in prs.slides:
        title = None
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
                title = title or shape.text_frame.text
            if shape.has_table:
                rows = [[c.text for c in r.cells] for r in shape.table.rows]
                tables.append(rows)
                texts += [c for r in rows for c in r]
            if shape.has_chart:
                plot = shape.chart.plots[0]
                charts[title] = {
                    "categories": list(plot.categories),
                    "series": {s.name: list(s.values) for s in plot.series},
                }
    return texts, charts, tables


def test_deck_numbers_equal_the_cli(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    # The exact form of the issue.
    code, _, err = cli("export", "--db", export_db, "--period", PERIOD, "--format", "pptx",
                       "--out", tmp_path / "deck.pptx")  # fmt: skip
    assert code == 0, err
    texts, charts, tables = _deck(tmp_path / "deck.pptx")
    vendors = by(kpis_json(export_db, "--by", "vendor"), "vendor")

    sla = charts["SLA attainment by vendor, against the target"]
    assert sla["categories"] == sorted(v for (v,) in vendors)
    for vendor, value in zip(sla["categories"], sla["series"]["SLA attainment"], strict=True):
        assert same(value, vendors[(vendor,)]["sla_attainment"])
    assert set(sla["series"]["Target"]) == {0.95}

    trend = charts["Quality score by week, with the target"]
    code, out, _ = cli("kpis", "--db", export_db, "--from", "2026-09-21", "--to", END, "--by",
                       "vendor", "--period", "week", "--format", "json")  # fmt: skip
    weekly = [r for r in json.loads(out) if r["audits"]]
    weeks = sorted({r["period_start"] for r in weekly})
    assert trend["categories"] == [f"{dt.date.fromisoformat(w):%d %b}" for w in weeks]
    for vendor, values in trend["series"].items():
        if vendor == "Target":
            continue
        ref = {r["period_start"]: r["quality_score"] for r in weekly if r["vendor"] == vendor}
        for week, value in zip(weeks, values, strict=True):
            assert same(value, ref.get(week)), (vendor, week)

    tat = charts["TAT p90 by priority, against the SLA (hours)"]
    by_priority = by(kpis_json(export_db, "--by", "vendor,priority"), "vendor", "priority")
    for vendor, values in tat["series"].items():
        if vendor == "SLA":
            assert values == [1.0, 4.0, 24.0, 72.0]  # the configured SLA minutes / 60
            continue
        for priority, value in zip(tat["categories"], values, strict=True):
            assert same(value, by_priority[(vendor, priority)]["tat_p90"] / 60)

    # The scorecard table: each cell is the CLI's number as the dashboard formats it.
    cells = by(kpis_json(export_db, "--by", "vendor,workflow"), "vendor", "workflow")
    card = [t for t in tables if t[0][:3] == ["Vendor", "Workflow", "Quality score"]]
    rows = [r for t in card for r in t[1:]]
    assert len(rows) == len(cells)
    for row in rows:
        ref = cells[(row[0], row[1])]
        for text, kpi in zip(row[2:], ("quality_score", "sla_attainment", "qa_coverage",
                                       "cohen_kappa"), strict=True):  # fmt: skip
            if kpi != "cohen_kappa":
                assert text.split(" ")[0] == format_value(kpi, ref[kpi]).split(" ")[0], (row, kpi)
                continue
            # A kappa shows its basis: interval and n, or "too few" under the minimum.
            n = int(ref["audits"])
            if n < Config().monitor.min_kappa_audits:
                assert text == f"too few (n={n:,})", row
            else:
                low, high = ref["cohen_kappa_low"], ref["cohen_kappa_high"]
                shown = f"{ref[kpi]:.2f} ({low:.2f}–{high:.2f}, n={n:,})"
                assert text.removesuffix(" ✔").removesuffix(" ✘") == shown, row

    summary = " ".join(texts)
    overall = kpis_json(export_db)[0]
    assert f"{overall['decisions']:,} decisions" in summary
    assert f"{overall['audits']:,} QA audits" in summary
    assert "content " in summary and "data as of" in summary  # the lineage footer


def test_vendor_deck_names_no_other_vendor(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    vendors = {r["vendor"] for r in kpis_json(export_db, "--by", "vendor")}
    mine = "meridian"
    assert mine in vendors and len(vendors) >= 3
    path = export(cli, export_db, "pptx", tmp_path / "qbr.pptx", "--vendor", mine)
    # Every part of the file: slides, charts and the charts' embedded workbooks.
    with zipfile.ZipFile(path) as deck:
        blobs = []
        for name in deck.namelist():
            data = deck.read(name)
            blobs.append(data)
            if name.endswith(".xlsx"):
                with zipfile.ZipFile(io.BytesIO(data)) as book:
                    blobs += [book.read(n) for n in book.namelist()]
    text = b"\n".join(blobs).decode("utf-8", errors="replace")
    assert mine in text
    for other in vendors - {mine}:
        assert other not in text, other
    # And a snapshot of one vendor has only that vendor's rows.
    snap = export(cli, export_db, "json", tmp_path / "qbr.json", "--vendor", mine)
    doc = json.loads(snap.read_text())
    for name, table in doc["tables"].items():
        for row in table["rows"]:
            if "vendor" in row and row["vendor"] not in (None, "all"):
                assert row["vendor"] == mine, name


def test_spreadsheets_never_run_text_from_files(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    import duckdb

    evil = '=HYPERLINK("https://evil.example/x","click")'
    con = duckdb.connect(str(export_db))
    for table in ("decisions", "audit_facts", "calibration_ratings", "decisions_history"):
        con.execute(f"UPDATE {table} SET vendor = $v WHERE vendor = 'meridian'", {"v": evil})
    con.execute("UPDATE audit_facts SET comment = '+cmd|calc'")
    con.close()
    xlsx = export(cli, export_db, "xlsx", tmp_path / "s.xlsx")
    ws = openpyxl.load_workbook(xlsx)["kpis_by_vendor"]
    found = [row for row in ws.iter_rows(min_row=2) if row[0].value == evil]
    assert len(found) == 1
    cell = found[0][0]
    assert cell.data_type == "s" and cell.quotePrefix  # shown as text, never run
    assert all(isinstance(c.value, (int, float)) for c in found[0][1:] if c.value is not None)
    folder = export(cli, export_db, "csv", tmp_path / "csv")
    text = (folder / "kpis_by_vendor.csv").read_text()
    assert not any(line.lstrip('"').startswith("=") for line in text.splitlines())
    frame = pd.read_csv(folder / "kpis_by_vendor.csv")
    assert "'" + evil in set(frame["vendor"])
    assert frame["decisions"].dtype.kind == "i"  # numbers stay numbers
    # The deck's chart workbook would run it as a formula too.
    deck = export(cli, export_db, "pptx", tmp_path / "d.pptx")
    with zipfile.ZipFile(deck) as archive:
        books = [archive.read(n) for n in archive.namelist() if n.endswith(".xlsx")]
    for data in books:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            sheet = b"".join(book.read(n) for n in book.namelist() if "worksheets" in n)
            assert b"<f>" not in sheet  # no formula cell


def test_restated_numbers_after_late_audits(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    import duckdb

    first = export(cli, export_db, "json", tmp_path / "before.json", "--archive", tmp_path / "arc")
    before = json.loads(first.read_text())
    # Late QA audits arrive: five more errors on meridian's decisions of the week.
    con = duckdb.connect(str(export_db))
    n = con.execute(
        "UPDATE audit_facts SET is_error = true, error_counts = true, error_type = 'wrong_label' "
        "WHERE audit_id IN (SELECT audit_id FROM audit_facts WHERE vendor = 'meridian' "
        "AND NOT is_error AND decided_at >= TIMESTAMPTZ '2026-11-16' AND decided_at < "
        "TIMESTAMPTZ '2026-11-23' ORDER BY audit_id LIMIT 5)"
    ).fetchone()
    con.close()
    assert n is not None
    code, out, err = cli("export", "--db", export_db, "--period", PERIOD, "--format", "pptx",
                         "--out", tmp_path / "after.pptx", "--compare-to", tmp_path / "arc",
                         "--quiet")  # fmt: skip
    assert code == 0, err
    assert "number(s) changed since the earlier snapshot" in out
    after = export(cli, export_db, "json", tmp_path / "after.json", "--compare-to", first)
    doc = json.loads(after.read_text())
    restated = {(r["table"], r["key"], r["column"]): r for r in doc["restated"]["rows"]}
    old = by(before["tables"]["kpis_by_vendor"]["rows"], "vendor")[("meridian",)]
    new = by(doc["tables"]["kpis_by_vendor"]["rows"], "vendor")[("meridian",)]
    row = restated[("kpis_by_vendor", "vendor=meridian", "quality_score")]
    assert same(row["before"], old["quality_score"]) and same(row["after"], new["quality_score"])
    assert row["after"] == pytest.approx(row["before"] - 5 / old["audits"])
    assert ("kpis_by_vendor", "vendor=northwind", "quality_score") not in restated
    assert doc["restated"]["compared_with"]["content_hash"] == before["manifest"]["content_hash"]
    # The deck marks the restated scorecard cells and lists the changes.
    texts, _, tables = _deck(tmp_path / "after.pptx")
    assert any(t.startswith("Restated since the previous snapshot") for t in texts)
    card = [r for t in tables if t[0][0] == "Vendor" for r in t[1:]]
    marked = [r for r in card if any(c.endswith("†") for c in r[2:])]
    assert marked and {r[0] for r in marked} == {"meridian"}


def test_export_says_what_is_wrong(cli: Cli, export_db: Path, tmp_path: Path) -> None:
    code, _, err = cli("export", "--db", export_db, "--period", "2026-W60", "--out",
                       tmp_path / "x.json")  # fmt: skip
    assert code == 1 and "no ISO week 60" in err
    code, _, err = cli("export", "--db", export_db, "--out", tmp_path / "x.json")
    assert code == 1 and "which period?" in err
    code, _, err = cli("export", "--db", export_db, "--period", PERIOD, "--out",
                       tmp_path / "x.docx")  # fmt: skip
    assert code == 1 and "say which --format" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = cli("export", "--db", export_db, "--period", PERIOD, "--out",
                       tmp_path / "y.json", "--compare-to", bad)  # fmt: skip
    assert code == 1 and "not a bpo-kpi JSON snapshot" in err
    code, _, err = cli("export", "--db", export_db, "--period", PERIOD, "--role", "nobody",
                       "--out", tmp_path / "z.json")  # fmt: skip
    assert code == 1 and "unknown role" in err
