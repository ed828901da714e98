"""Export benchmark: a week's snapshot and every export format at 10M decisions.

Uses the KPI benchmark's database (52 weeks of generated data, built and cached by
`kpi_bench.build_db`). In a fresh process per run it times `kpi.snapshot.build` for the data's
last ISO week (cold: the first call of the process; warm: the next), then each format's
writer on that snapshot, alternating runs (--repeat) and printing medians:

    python bench/export_bench.py --sizes 10000000

Figures, not assertions. Results also go to bench/out/export.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kpi_bench import END, OUT, _load, build_db  # noqa: E402

FORMATS = ("pptx", "xlsx", "csv", "parquet", "json", "html")


def worker(db: Path, out: Path) -> dict[str, Any]:
    import export
    from kpi import snapshot
    from kpi.gateway import Gateway
    from kpi.periods import week_period

    period = week_period(END)
    result: dict[str, Any] = {"period": period.label}
    with Gateway(db) as gw:
        start = time.perf_counter()
        snap = snapshot.build(gw, period)
        result["snapshot_cold_s"] = time.perf_counter() - start
        start = time.perf_counter()
        snapshot.build(gw, period)
        result["snapshot_warm_s"] = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS:
            start = time.perf_counter()
            written = export.write(snap, fmt, Path(tmp) / f"s.{fmt}")
            result[f"{fmt}_s"] = time.perf_counter() - start
            result[f"{fmt}_kb"] = sum(
                p.stat().st_size if p.is_file() else 0 for w in written
                for p in ([w] if w.is_file() else w.iterdir())
            ) // 1024  # fmt: skip
    result["content_hash"] = snap.content_hash
    result["decisions_in_week"] = int(snap.tables["kpis_overall"]["decisions"].iat[0])
    out.write_text(json.dumps(result))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000000")
    parser.add_argument("--work", type=Path, default=OUT / "data")
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs (medians)")
    parser.add_argument("--keep-files", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.db, args.result)
        return 0
    summary = []
    for rows in (int(s) for s in args.sizes.split(",")):
        print(f"== {rows:,} decisions ==", flush=True)
        info = build_db(rows, args.work, args.keep_files)
        runs = []
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                result = Path(tmp) / "r.json"
                subprocess.run(
                    [sys.executable, __file__, "--worker", "--db", info["db"], "--result",
                     str(result)], check=True,
                )  # fmt: skip
                runs.append(json.loads(result.read_text()))
            r = runs[-1]
            print(f"  run {i + 1}: snapshot cold {r['snapshot_cold_s']:.2f}s warm "
                  f"{r['snapshot_warm_s']:.2f}s; " + ", ".join(
                      f"{f} {r[f'{f}_s']:.2f}s" for f in FORMATS) + f" ({_load()})",
                  flush=True)  # fmt: skip
        keys = [k for k in runs[0] if k.endswith("_s")]
        med = {k: statistics.median(r[k] for r in runs) for k in keys}
        assert len({r["content_hash"] for r in runs}) == 1, "same data, different hash"
        deck = med["snapshot_cold_s"] + med["pptx_s"]
        print(f"  medians: snapshot of {runs[0]['period']} ({runs[0]['decisions_in_week']:,} "
              f"decisions) cold {med['snapshot_cold_s']:.2f}s, warm {med['snapshot_warm_s']:.2f}s;"
              f" deck end to end {deck:.2f}s; xlsx end to end "
              f"{med['snapshot_cold_s'] + med['xlsx_s']:.2f}s")  # fmt: skip
        summary.append({"rows": rows, **med, "deck_end_to_end_s": deck, "runs": runs})
    OUT.mkdir(exist_ok=True)
    (OUT / "export.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
