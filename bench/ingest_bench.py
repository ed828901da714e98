"""Ingest benchmark: validated ingest (full checks + upsert) against DuckDB's plain load.

For each size and format it prints rows/s of `bpo-kpi ingest decisions` into a new database,
and the time DuckDB alone needs to load the same file into a table (`CREATE TABLE AS SELECT *
FROM read_csv/read_parquet`, type detection included), with the ratio (median over
alternating pairs of runs; times are the best of each). Goal: validated ingest within 1.5x of
that. Then the same file again: recognised as already loaded (hash only; goal: at most a
quarter of the first load), and forced (`--force`: read and validated, every row unchanged).

    python bench/ingest_bench.py --sizes 1000000,10000000 --formats csv,parquet

Figures, not assertions: nothing here fails on a slow machine. Results also go to
bench/out/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

import duckdb

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from sample_data.generate import write_parquet_chunks

OUT = Path(__file__).resolve().parent / "out"


def make_files(rows: int, work: Path) -> dict[str, Path]:
    """One decisions file per format with `rows` generated decisions (cached between runs)."""
    base = work / f"decisions_{rows}"
    parquet = base / "decisions.parquet"
    csv = base / "decisions.csv"
    if not parquet.exists():
        tmp = base / "chunks"
        write_parquet_chunks(tmp, seed=42, decisions=rows, weeks=52, chunk_rows=max(rows, 1))
        chunk = sorted(tmp.glob("decisions-*.parquet"))
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "COPY (SELECT * FROM read_parquet($f)) TO $o (FORMAT parquet)",
            {"f": [str(c) for c in chunk], "o": str(parquet)},
        )
        shutil.rmtree(tmp)
    if not csv.exists():
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        # ISO 8601 with offset, as vendors send it.
        con.execute(
            "COPY (SELECT * FROM read_parquet($f)) TO $o "
            "(HEADER, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S%z')",
            {"f": str(parquet), "o": str(csv)},
        )
    return {"parquet": parquet, "csv": csv}


def raw_load(file: Path, db: Path) -> float:
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    reader = "read_parquet" if file.suffix == ".parquet" else "read_csv"
    start = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}($f)", {"f": str(file)})
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def validated_ingest(file: Path, db: Path) -> tuple[float, float, float, dict[str, object]]:
    """(first load, unchanged file recognised, forced re-ingest) seconds, and the report."""
    db.unlink(missing_ok=True)
    con = connect(db)
    config = Config()
    start = time.perf_counter()
    first = ingest_files(con, "decisions", [file], config=config)[0]
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    again = ingest_files(con, "decisions", [file], config=config)[0]
    recognised = time.perf_counter() - start
    start = time.perf_counter()
    forced = ingest_files(con, "decisions", [file], config=config, force=True)[0]
    reingest = time.perf_counter() - start
    con.close()
    assert first.inserted == first.rows_read and again.status == "already_loaded"
    assert forced.unchanged == forced.rows_read
    return seconds, recognised, reingest, first.as_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--work", type=Path, default=OUT / "data")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; best is kept")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, duckdb {duckdb.__version__}")
    print(
        f"{'rows':>11} {'format':>8} {'raw load s':>11} {'ingest s':>9} {'rows/s':>11} "
        f"{'ratio':>6} {'unchanged s':>12} {'share':>6} {'forced s':>9}"
    )
    for rows in (int(s) for s in args.sizes.split(",")):
        files = make_files(rows, args.work)
        for fmt in args.formats.split(","):
            file = files[fmt]
            # Raw load and ingest alternate, and the ratio is the median of each pair's: on a
            # shared machine the speed drifts by 20-30% between minutes, which a ratio of two
            # separately taken minima would carry.
            raws, runs, ratios = [], [], []
            for _ in range(args.repeat):
                raws.append(raw_load(file, args.work / "raw.duckdb"))
                runs.append(validated_ingest(file, args.work / "ingest.duckdb"))
                ratios.append(runs[-1][0] / raws[-1])
            raw = min(raws)
            ours, recognised, reingest, detail = min(runs, key=lambda r: r[0])
            ratio = statistics.median(ratios)
            row = {
                "rows": rows,
                "format": fmt,
                "file_mb": round(file.stat().st_size / 2**20, 1),
                "raw_load_s": round(raw, 2),
                "ingest_s": round(ours, 2),
                "ingest_rows_per_s": round(rows / ours),
                "ratio": round(ratio, 2),
                "ratios": [round(r, 2) for r in ratios],
                "unchanged_recognised_s": round(recognised, 3),
                "unchanged_share_of_first_load": round(recognised / ours, 3),
                "forced_reingest_s": round(reingest, 2),
                "detail": detail,
            }
            results.append(row)
            print(
                f"{rows:>11,} {fmt:>8} {raw:>11.2f} {ours:>9.2f} {rows / ours:>11,.0f} "
                f"{ratio:>6.2f} {recognised:>12.3f} {recognised / ours:>6.2f} {reingest:>9.2f}",
                flush=True,
            )
    for name in ("raw.duckdb", "ingest.duckdb"):
        (args.work / name).unlink(missing_ok=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "ingest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
