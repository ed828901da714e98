"""Start-up benchmark: what a CLI command costs before and around its query, as whole processes
on a small database (3,000 decisions over 8 weeks: the queries themselves take milliseconds).

Each round runs every command once, in turn (alternated, so a busier minute hits all of them);
the figures are medians over rounds, in seconds of wall time, for processes started the way
an installed `bpo-kpi` starts them (the interpreter running `bpo_kpi_cli.main`, bytecode caches
kept). Commands: `--help`; `kpis --by vendor` as aligned text, JSON and CSV; `gaps` and
its drill-down to one vendor's audited decisions; `scorecard`; `runs`; `actions list`;
`alerts`. Issue 16's goals: `--help` <= 0.3 s, a query's fixed cost <= 0.5 s.

    bpo-kpi bench startup [--rounds 7]

Figures, not assertions. Results go to bench/out/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
DECISIONS, WEEKS = 3_000, 8

COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "kpis --by vendor": ["kpis", "--by", "vendor"],
    "kpis --by vendor --format json": ["kpis", "--by", "vendor", "--format", "json"],
    "kpis --by vendor --format csv": ["kpis", "--by", "vendor", "--format", "csv"],
    "gaps": ["gaps"],
    "gaps --drill decisions": ["gaps", "--segment", "vendor=meridian", "--drill", "decisions"],
    "scorecard": ["scorecard"],
    "runs": ["runs"],
    "actions list": ["actions", "list"],
    "alerts": ["alerts"],
}


def build(work: Path) -> Path:
    """A small database through the real ingest (generated decisions and audits)."""
    sys.path.insert(0, str(ROOT))
    from bpo_kpi.config import Config
    from bpo_kpi.db import connect
    from ingest import ingest_files
    from sample_data.generate import generate

    data = generate(seed=7, decisions=DECISIONS, weeks=WEEKS)
    db = work / "startup.duckdb"
    files = {}
    for kind, frame in (("decisions", data.decisions), ("audits", data.qa_audits)):
        files[kind] = work / f"{kind}.csv"
        frame.to_csv(files[kind], index=False)
    con = connect(db)
    try:
        for kind, path in files.items():
            ingest_files(con, kind, [path], config=Config())
    finally:
        con.close()
    return db


def run_once(argv: list[str], db: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    extra = [] if argv == ["--help"] else ["--db", str(db)]
    code = "import sys; from bpo_kpi_cli.main import main; sys.exit(main())"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv, *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr[-500:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT / "startup.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = build(Path(tmp))
        for argv in COMMANDS.values():  # warm: bytecode caches written, files in the OS cache
            run_once(argv, db)
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.rounds):
            for name, argv in COMMANDS.items():
                times[name].append(run_once(argv, db))
    load = os.getloadavg()
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average": [round(x, 2) for x in load],
        "database": f"{DECISIONS:,} decisions over {WEEKS} weeks",
        "rounds": args.rounds,
        "median_s": {name: round(statistics.median(t), 3) for name, t in times.items()},
        "min_s": {name: round(min(t), 3) for name, t in times.items()},
    }
    print(f"{report['machine']}; load average {load[0]:.2f}; {report['database']}")
    print(f"{'command':<42} {'median':>8} {'min':>8}   ({args.rounds} alternated rounds)")
    for name in COMMANDS:
        median, least = report["median_s"][name], report["min_s"][name]
        print(f"bpo-kpi {name:<34} {median:>7.3f}s {least:>7.3f}s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
