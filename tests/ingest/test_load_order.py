"""A first load into an empty table goes straight from the validating scan into the table;
it must give exactly what the staged path gives, in time order, and fall back when needed."""

from __future__ import annotations

import duckdb
import pandas as pd

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
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
    cols = "* EXCLUDE (run_id)"
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
