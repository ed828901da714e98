"""A clean file goes straight from the validating scan into the table (`ingest.load._load_direct`);
it must give exactly what the staged path gives — inserts, updates in place, unchanged rows —
in time order, and fall back to the staged path when anything is rejected."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from ingest_testkit import counts, decision, write_csv

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files, load
from sample_data.generate import generate, write_canonical


def _table(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def test_first_load_equals_staged_load_and_is_time_ordered(tmp_path) -> None:
    data = generate(seed=11, decisions=4_000, weeks=2)
    shuffled = data.decisions.sample(frac=1.0, random_state=1)  # file not in time order
    data.decisions = shuffled
    files = write_canonical(data, tmp_path / "d", fmt="csv")
    direct = connect(tmp_path / "direct.duckdb")
    ingest_files(direct, "decisions", [files["decisions"]], config=Config())
    # The staged path: the same rows into a table that already holds one unrelated row.
    staged = connect(tmp_path / "staged.duckdb")
    seed_row = tmp_path / "seed.csv"
    seed = pd.read_csv(files["decisions"], dtype=str, keep_default_na=False).head(1).copy()
    seed["decision_id"] = "zz-seed"
    seed.to_csv(seed_row, index=False)
    ingest_files(staged, "decisions", [seed_row], config=Config())
    ingest_files(staged, "decisions", [files["decisions"]], config=Config())
    cols = "* EXCLUDE (run_id, version_run)"
    a = _table(direct, f"SELECT {cols} FROM decisions ORDER BY decision_id")
    b = _table(staged, f"SELECT {cols} FROM decisions WHERE decision_id <> 'zz-seed' "
                       "ORDER BY decision_id")  # fmt: skip
    pd.testing.assert_frame_equal(a, b)
    order = direct.execute("SELECT enqueued_at FROM decisions").df()["enqueued_at"]
    assert order.is_monotonic_increasing  # stored in time order although the file was not
    assert len(a) == len(data.decisions)


def test_first_load_with_a_duplicate_falls_back_and_reports_it(tmp_path) -> None:
    data = generate(seed=12, decisions=1_000, weeks=1)
    data.decisions = pd.concat([data.decisions, data.decisions.tail(1)], ignore_index=True)
    files = write_canonical(data, tmp_path / "d", fmt="parquet")
    con = connect(tmp_path / "x.duckdb")
    (result,) = ingest_files(con, "decisions", [files["decisions"]], config=Config())
    assert (result.rows_read, result.inserted, result.rejected) == (1_001, 1_000, 1)
    line, reason = con.execute("SELECT source_line, reason FROM rejected_rows").fetchone()
    assert line == 1_001 and reason.startswith("duplicate decision_id")
    assert con.execute("SELECT count(*) FROM decisions").fetchone()[0] == 1_000


def _day(i: int, hour: int) -> dict[str, str]:
    return {
        "enqueued_at": f"2026-03-{i:02d}T{hour:02d}:00:00Z",
        "claimed_at": f"2026-03-{i:02d}T{hour:02d}:10:00Z",
        "decided_at": f"2026-03-{i:02d}T{hour:02d}:30:00Z",
    }


def test_clean_upsert_goes_direct_and_equals_the_staged_path(tmp_path, monkeypatch) -> None:
    """Inserted, updated and unchanged rows of a clean file against a populated table: the
    direct path (the staged classification is never called) gives the staged path's table
    and counts, and an updated row keeps its place in the table's time order."""
    first = [decision(f"d{i}", **_day(i, 8)) for i in range(1, 7)]
    second = [
        decision("d2", **_day(2, 8)),  # unchanged
        decision("d3", **_day(3, 8), decision="limit"),  # late correction
        decision("d5", **_day(5, 8), policy="hs_2"),  # late correction
        decision("d9", **_day(9, 8)),  # new
    ]
    bad = decision("x1", decision="no_such_label")

    def load_both(con: duckdb.DuckDBPyConnection, rows: list, name: str):
        ingest_files(
            con, "decisions", [write_csv(tmp_path / f"{name}1.csv", first)], config=Config()
        )
        return ingest_files(
            con, "decisions", [write_csv(tmp_path / f"{name}2.csv", rows)], config=Config()
        )[0]

    staged_con = connect(tmp_path / "staged.duckdb")
    staged = load_both(staged_con, [*second, bad], "s")  # one reject: the staged path
    assert counts(staged) == (5, 1, 2, 1, 1)

    def no_staging(*_args, **_kw):
        raise AssertionError("a clean file took the staged path")

    monkeypatch.setattr(load, "_load_staged", no_staging)
    direct_con = connect(tmp_path / "direct.duckdb")
    direct = load_both(direct_con, second, "d")
    assert counts(direct) == (4, 1, 2, 1, 0)
    table = "SELECT * EXCLUDE (run_id, version_run) FROM decisions"
    # Same rows in the same physical order: d3 and d5 were updated where they were.
    pd.testing.assert_frame_equal(_table(direct_con, table), _table(staged_con, table))
    ids = _table(direct_con, "SELECT decision_id FROM decisions")["decision_id"].tolist()
    assert ids == ["d1", "d2", "d3", "d4", "d5", "d6", "d9"]
    runs = dict(direct_con.execute("SELECT decision_id, run_id FROM decisions").fetchall())
    assert runs["d2"] == runs["d1"] != runs["d3"] == runs["d5"] == runs["d9"]
    ingested = direct_con.execute(
        "SELECT rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected "
        "FROM ingest_runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    assert ingested == (4, 1, 2, 1, 0)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rejected_rows_send_a_file_the_staged_way_with_lines(tmp_path, fmt) -> None:
    """A file with a bad row is first loaded directly, found not clean (fewer rows inserted
    than the file has) and loaded again the staged way: nothing of the first try remains."""
    data = generate(seed=13, decisions=500, weeks=1)
    data.decisions.loc[data.decisions.index[10], "decision"] = "no_such_label"
    files = write_canonical(data, tmp_path / "d", fmt=fmt)
    con = connect(tmp_path / "x.duckdb")
    (result,) = ingest_files(con, "decisions", [files["decisions"]], config=Config())
    assert (result.rows_read, result.inserted, result.rejected) == (500, 499, 1)
    line, reason = con.execute("SELECT source_line, reason FROM rejected_rows").fetchone()
    assert line == (12 if fmt == "csv" else 11)  # CSV counts the header line
    assert reason.startswith("decision no_such_label is not a known label")
    assert con.execute(
        "SELECT count(*), count(DISTINCT decision_id) FROM decisions"
    ).fetchone() == (
        499,
        499,
    )
