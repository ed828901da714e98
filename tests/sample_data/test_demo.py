"""`bpo-kpi demo`: data that end on the chosen day (yesterday by default, in the reporting time
zone), vendor samples moved to end then too, and a last day whose backlog looks like any other
day's (no pile of past-due items the day the demo is opened on)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bpo_kpi.config import Config
from bpo_kpi_cli.main import main
from ingest.mapping import load_mapping
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from sample_data import DEFAULT_END
from sample_data.writers import RAW_DIR, RAW_END, _shift_file, shift_raw_samples

REPO = Path(__file__).resolve().parents[2]

DECISIONS = "30000"
END = dt.date(2026, 6, 30)


def demo(tmp_path: Path, *extra: str) -> Path:
    db = tmp_path / "demo.duckdb"
    args = ["demo", "--no-serve", "--decisions", DECISIONS, "--weeks", "3", "--db", str(db),
            "--data-dir", str(tmp_path / "demo_data"), *extra]  # fmt: skip
    assert main(args) == 0
    return db


def last_days(db: Path) -> tuple[dt.date, dt.datetime]:
    """(last local day with a decision, newest stored time of any kind)."""
    with Gateway(db) as gw:
        day = gw.scalar("SELECT CAST(max(decided_at) AS DATE) FROM decisions")
        newest = gw.scalar(
            "SELECT greatest((SELECT max(greatest(enqueued_at, claimed_at, decided_at)) "
            "FROM decisions), (SELECT max(audited_at) FROM qa_audits))"
        )
    return day, newest


@pytest.fixture(scope="module")
def chosen_end(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo(tmp_path_factory.mktemp("demo_end"), "--end", END.isoformat())


def test_end_chooses_the_last_day_of_the_data_and_of_the_vendor_samples(chosen_end: Path):
    day, newest = last_days(chosen_end)
    assert day == END
    midnight = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    assert midnight - dt.timedelta(hours=1) < newest <= midnight  # the snapshot instant
    with Gateway(chosen_end) as gw:
        samples = gw.frame(
            "SELECT vendor, CAST(max(enqueued_at) AS DATE) AS last, count(*) AS n, "
            "count(*) FILTER (WHERE decided_at IS NULL) AS pending FROM decisions "
            "WHERE decision_id LIKE '___-9%' GROUP BY 1 ORDER BY 1"
        )
        runs = gw.frame("SELECT kind, rows_rejected, warnings FROM ingest_runs")
    # The vendor samples came in through their own mappings and moved with the data.
    assert samples["vendor"].tolist() == ["apex_bpo", "northwind"]
    assert (pd.to_datetime(samples["last"]).dt.date == END).all()
    assert (samples["n"] > 150).all()
    assert (samples["pending"] > 0).all()
    assert runs["rows_rejected"].sum() == 0 and runs["warnings"].sum() == 0


def test_last_day_backlog_past_due_is_like_the_other_days(chosen_end: Path):
    with Gateway(chosen_end) as gw:
        days = kpi_table(
            gw,
            KpiQuery(
                period="day",
                start=END - dt.timedelta(days=13),
                end=END,
                kpis=("decisions", "backlog", "backlog_over_sla"),
            ),  # fmt: skip
        ).set_index("period_start")
    assert pd.Timestamp(days.index[-1]).date() == END
    before, last = days.iloc[:-1], days.iloc[-1]
    assert last["decisions"] > 0.5 * before["decisions"].median()  # a whole, ordinary day
    for kpi in ("backlog", "backlog_over_sla"):
        assert before[kpi].min() <= last[kpi] <= before[kpi].max(), (kpi, days[kpi].tolist())


def test_injected_gaps_are_still_there(tmp_path: Path):
    data_dir = tmp_path / "demo_data"
    demo(tmp_path, "--end", END.isoformat())
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["window"]["end"] == END.isoformat()
    assert {g["id"] for g in manifest["gaps"]} == {
        "meridian_gv_es_mx_under_enforcement",
        "northwind_berlin_weekend_tat",
        "outlier_reviewers",
        "hs2_contested_calibration",
    }


def test_without_end_the_data_end_yesterday_in_the_reporting_time_zone(tmp_path: Path):
    zone = ZoneInfo(Config().reporting_timezone)
    before = dt.datetime.now(zone).date() - dt.timedelta(days=1)
    db = demo(tmp_path)
    after = dt.datetime.now(zone).date() - dt.timedelta(days=1)
    day, _ = last_days(db)
    assert day in (before, after)


def test_samples_shift_as_instants_and_leave_out_repeated_local_hours(tmp_path: Path):
    """Moved 12 days, northwind's naive Berlin times cross the 25 Oct 2026 fall-back: rows that
    would land in the repeated hour are left out (with their audits); the rest keep their
    intervals to the second."""
    assert RAW_END == DEFAULT_END
    shift_raw_samples(tmp_path, 12)
    read = {
        name: pd.read_csv(folder / "northwind" / "decisions.csv", sep=";", dtype=str)
        for name, folder in (("raw", RAW_DIR), ("moved", tmp_path))
    }
    raw, moved = read["raw"].set_index("Vorgang"), read["moved"].set_index("Vorgang")
    assert 0 < len(raw) - len(moved) < 5
    zone = "Europe/Berlin"
    for column in ("Eingang", "Erledigt"):

        def instants(frame: pd.DataFrame, column: str = column) -> pd.Series:
            local = pd.to_datetime(frame[column], format="%d.%m.%Y %H:%M:%S")
            return local.dt.tz_localize(zone).dt.tz_convert("UTC")

        shift = instants(moved) - instants(raw.loc[moved.index])
        assert (shift.dropna() == pd.Timedelta(days=12)).all()
    apex = [
        [json.loads(line) for line in (folder / "apex_bpo" / "decisions.jsonl").open()]
        for folder in (RAW_DIR, tmp_path)
    ]
    assert [r["queuedTs"] + 12 * 86400 for r in apex[0]] == [r["queuedTs"] for r in apex[1]]


def test_an_export_without_an_optional_mapped_time_shifts_as_it_is(tmp_path: Path):
    """northwind's mapping names dispute times; an export without those columns (as the vendor
    sent before it had them) is shifted with its own header, not given columns it lacks."""
    raw = pd.read_csv(RAW_DIR / "northwind" / "audits.csv", sep=";", dtype=str)
    assert {"Einspruch am", "Einspruch entschieden"} <= set(raw.columns)
    older = tmp_path / "raw" / "northwind"
    older.mkdir(parents=True)
    without = raw.drop(columns=["Einspruch am", "Einspruch entschieden"])
    without.to_csv(older / "audits.csv", sep=";", index=False, encoding="utf-8-sig")
    mapping = load_mapping(REPO / "sample_data" / "vendors" / "northwind.toml")
    out = tmp_path / "moved.csv"
    _shift_file(older / "audits.csv", out, mapping, "audits", 12, set())
    moved = pd.read_csv(out, sep=";", dtype=str)
    assert list(moved.columns) == list(without.columns)
    assert 0.9 * len(without) <= len(moved) <= len(without)  # less any repeated local hour
    moved, without = moved.set_index("Prüfung"), without.set_index("Prüfung")

    def instants(times: pd.Series) -> pd.Series:
        local = pd.to_datetime(times, format="%d.%m.%Y %H:%M:%S")
        return local.dt.tz_localize("Europe/Berlin", ambiguous="NaT").dt.tz_convert("UTC")

    shift = instants(moved["Geprüft"]) - instants(without.loc[moved.index, "Geprüft"])
    assert len(shift.dropna()) > 50 and (shift.dropna() == pd.Timedelta(days=12)).all()
