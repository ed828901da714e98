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
import math
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


def cpu_seconds() -> float:
    """CPU time of this process, every thread (DuckDB's and the digest's) included."""
    t = os.times()
    return t.user + t.system


def raw_load(file: Path, db: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of DuckDB's plain load."""
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    reader = "read_parquet" if file.suffix == ".parquet" else "read_csv"
    start, cpu = time.perf_counter(), cpu_seconds()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}($f)", {"f": str(file)})
    con.execute("CHECKPOINT")
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    con.close()
    return seconds, cpu


def validated_ingest(
    file: Path, db: Path, again: bool = True
) -> tuple[float, float, float, float, dict[str, object]]:
    """(first load, its CPU, unchanged file recognised, forced re-ingest) seconds, and the
    report; without `again` only the first load (the others are NaN)."""
    db.unlink(missing_ok=True)
    con = connect(db)
    config = Config()
    start, cpu = time.perf_counter(), cpu_seconds()
    first = ingest_files(con, "decisions", [file], config=config)[0]
    con.execute("CHECKPOINT")
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    assert first.inserted == first.rows_read
    if not again:
        con.close()
        return seconds, cpu, math.nan, math.nan, first.as_dict()
    start = time.perf_counter()
    known = ingest_files(con, "decisions", [file], config=config)[0]
    recognised = time.perf_counter() - start
    start = time.perf_counter()
    forced = ingest_files(con, "decisions", [file], config=config, force=True)[0]
    reingest = time.perf_counter() - start
    con.close()
    assert known.status == "already_loaded"
    assert forced.unchanged == forced.rows_read
    return seconds, cpu, recognised, reingest, first.as_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--work", type=Path, default=OUT / "data")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; best is kept")
    parser.add_argument(
        "--first-only",
        action="store_true",
        help="time only the first load (not the unchanged file and the forced re-ingest)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, duckdb {duckdb.__version__}")
    print(
        f"{'rows':>11} {'format':>8} {'raw load s':>11} {'ingest s':>9} {'rows/s':>11} "
        f"{'ratio':>6} {'cpu':>5} {'unchanged s':>12} {'share':>6} {'forced s':>9}"
    )
    for rows in (int(s) for s in args.sizes.split(",")):
        files = make_files(rows, args.work)
        for fmt in args.formats.split(","):
            file = files[fmt]
            # Raw load and ingest alternate, and the ratio is the median of each pair's: on a
            # shared machine the speed drifts by 20-30% between minutes, which a ratio of two
            # separately taken minima would carry.
            # The CPU ratio (all threads of the process) is less moved by other processes than
            # wall time; both DuckDB's load and ours use every core, so the two agree on an
            # idle machine.
            raws, runs, ratios, cpu_ratios = [], [], [], []
            for _ in range(args.repeat):
                raws.append(raw_load(file, args.work / "raw.duckdb"))
                runs.append(
                    validated_ingest(file, args.work / "ingest.duckdb", not args.first_only)
                )
                ratios.append(runs[-1][0] / raws[-1][0])
                cpu_ratios.append(runs[-1][1] / raws[-1][1])
            raw = min(r[0] for r in raws)
            ours, _, recognised, reingest, detail = min(runs, key=lambda r: r[0])
            ratio = statistics.median(ratios)
            cpu_ratio = statistics.median(cpu_ratios)
            row = {
                "rows": rows,
                "format": fmt,
                "file_mb": round(file.stat().st_size / 2**20, 1),
                "raw_load_s": round(raw, 2),
                "ingest_s": round(ours, 2),
                "ingest_rows_per_s": round(rows / ours),
                "ratio": round(ratio, 2),
                "ratios": [round(r, 2) for r in ratios],
                "cpu_ratio": round(cpu_ratio, 2),
                "cpu_ratios": [round(r, 2) for r in cpu_ratios],
                "raw_load_cpu_s": [round(r[1], 2) for r in raws],
                "ingest_cpu_s": [round(r[1], 2) for r in runs],
                "unchanged_recognised_s": round(recognised, 3),
                "unchanged_share_of_first_load": round(recognised / ours, 3),
                "forced_reingest_s": round(reingest, 2),
                "detail": detail,
            }
            results.append(row)
            print(
                f"{rows:>11,} {fmt:>8} {raw:>11.2f} {ours:>9.2f} {rows / ours:>11,.0f} "
                f"{ratio:>6.2f} {cpu_ratio:>5.2f} {recognised:>12.3f} {recognised / ours:>6.2f} "
                f"{reingest:>9.2f}",
                flush=True,
            )
    for name in ("raw.duckdb", "ingest.duckdb"):
        (args.work / name).unlink(missing_ok=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "ingest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
