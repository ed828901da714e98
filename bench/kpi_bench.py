"""KPI benchmark: the vendor x workflow x week KPI table, bpo-kpi against pandas, polars and a
hand-written DuckDB query (issue 16).

For each size N (decisions; 52 weeks of generated data, built with the real ingest and cached
under bench/out/kpidata/) it runs, as whole processes (interpreter start, imports, loading,
computing and writing the table: what a user waits for), alternated A B C D A B C D ... for
--rounds rounds, and keeps the median of each:

- `bpo-kpi kpis --by vendor,workflow --period week --format json` (the real command line);
- `kpi_scripts/pandas_script.py`: the straightforward pandas script (load the two tables into
  pandas, group by vendor, workflow and week);
- `kpi_scripts/polars_lazy.py`: the same with polars' lazy API (`pip install -e '.[bench]'`);
- `kpi_scripts/duckdb_sql.py`: one hand-written DuckDB query of the same KPIs.

The three scripts compute the same KPIs as bpo-kpi's table (counts, exact quantiles, SLA, QA
rates with Wilson intervals, Cohen's kappa, the backlog at each week's end): their numbers are
checked against bpo-kpi's output (rows on one side only, max |difference| per KPI). Then, in
one fresh process, `kpi.compute.kpi_table` against the hand-written query on the same database
(cold, then --repeat alternated warm runs; medians and their ratio).

Printed, and written to bench/out/kpi_compare.json (machine, versions, every run). --details
adds the older per-size details (kpi_table cold/warm and peak RSS, the drill-down, the 8-week
dashboard window and the rows its scans read, pandas in process; bench/out/kpis.json).

    bpo-kpi bench kpi --sizes 3000000,10000000        # or: python bench/kpi_bench.py ...

Figures, not assertions: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from sample_data.generate import DEFAULT_END, write_parquet_chunks

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "kpi_scripts"
sys.path.insert(0, str(SCRIPTS))
from duckdb_sql import kpis as hand_written_kpis  # noqa: E402
from pandas_script import load as pandas_load  # noqa: E402
from pandas_script import pandas_kpis  # noqa: E402

OUT = HERE / "out"
SEED, WEEKS, CHUNK_ROWS = 42, 52, 5_000_000
BY = ("vendor", "workflow")
END = DEFAULT_END  # last day of the generated data (a Sunday)
AS_OF = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
DASHBOARD_WEEKS = 8
SEGMENT = {"vendor": "meridian", "workflow": "graphic_violence", "market": "es_MX"}
# Columns whose pandas and DuckDB values are printed side by side (all are compared).
SHOWN = ("decisions", "tat_p50", "tat_p99", "sla_attainment", "handle_minutes_p90",
         "qa_coverage", "quality_score", "cohen_kappa", "backlog")  # fmt: skip
GIB, MIB = 2**30, 2**20


def _maxrss_bytes() -> int:
    """Peak resident set size of this process (VmHWM; ru_maxrss would carry the parent's peak
    across fork + exec on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: KiB or bytes


def _load() -> str:
    return "load avg " + " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- data ------------------------------------------------------------------------------------


def build_db(rows: int, work: Path, keep_files: bool) -> dict[str, Any]:
    """Generate and ingest `rows` decisions into work/kpi_<rows>/kpi.duckdb (cached)."""
    base = work / f"kpi_{rows}"
    db = base / "kpi.duckdb"
    marker = base / "ready.json"
    if marker.exists() and db.exists():
        info = json.loads(marker.read_text())
        if info.get("seed") == SEED and info.get("weeks") == WEEKS:
            return {**info, "cached": True, "db": str(db)}
    shutil.rmtree(base, ignore_errors=True)
    files = base / "files"
    print(f"  generating {rows:,} decisions ({WEEKS} weeks) ...", flush=True)
    start = time.perf_counter()
    write_parquet_chunks(files, seed=SEED, decisions=rows, weeks=WEEKS, chunk_rows=CHUNK_ROWS)
    generate_s = time.perf_counter() - start
    config = Config()
    con = connect(db)
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    for kind, prefix in (("decisions", "decisions"), ("audits", "qa_audits")):
        chunks = sorted(files.glob(f"{prefix}-*.parquet"))
        print(f"  ingesting {len(chunks)} {prefix} file(s) ... ({_load()})", flush=True)
        start = time.perf_counter()
        results = ingest_files(con, kind, chunks, config=config)
        con.execute("CHECKPOINT")
        timings[kind] = time.perf_counter() - start
        counts[kind] = sum(r.inserted for r in results)
        assert all(r.reconciles for r in results)
    con.close()
    if not keep_files:
        shutil.rmtree(files)
    info = {
        "rows": rows,
        "seed": SEED,
        "weeks": WEEKS,
        "generate_s": round(generate_s, 1),
        "ingest_decisions_s": round(timings["decisions"], 1),
        "ingest_audits_s": round(timings["audits"], 1),
        "decisions_inserted": counts["decisions"],
        "audits_inserted": counts["audits"],
        "db_mb": round(db.stat().st_size / 2**20),
        "built_with": _load(),
    }
    marker.write_text(json.dumps(info, indent=2))
    return {**info, "cached": False, "db": str(db)}


# --- DuckDB side (subprocess) ----------------------------------------------------------------


def _scans(profile: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    top: list[tuple[float, str]] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("type") == "TABLE_SCAN":
            found.append(
                {
                    "table": node.get("extra_info", {}).get("Table"),
                    "rows_scanned": node.get("rows_scanned"),
                    "row_groups_scanned": node.get("row_groups_scanned"),
                    "row_groups_total": node.get("total_row_groups_to_scan"),
                }
            )
        if "timing" in node:
            top.append((float(node["timing"]), str(node.get("name"))))
        for child in node.get("children", []):
            walk(child)

    for op in profile.get("operator", []):
        walk(op)
    top.sort(reverse=True)
    return {"scans": found, "top_operators": [[n, round(t, 3)] for t, n in top[:3]]}


def profile_sources(gw: Any, query: Any) -> dict[str, Any]:
    """Run the SQL kpi_table renders for `query`, source by source, under DuckDB's profiler."""
    from kpi.catalog import MEASURES, measures_for
    from kpi.sql import bounds, kappa_sql, source_sql

    cfg = gw.config
    tz = cfg.reporting_timezone
    b = bounds(query, tz, AS_OF)
    by_source: dict[str, list[str]] = {}
    for name in measures_for(query.kpi_list()):
        by_source.setdefault(MEASURES[name].source, []).append(name)
    sqls = {
        s: source_sql(
            s, ms, query, gw.scope, tz, cfg.actioning_labels, b, (), cfg.severity_penalties()
        )
        for s, ms in by_source.items()
    }
    sqls["kappa"] = kappa_sql(query, gw.scope, tz, b)
    con = gw._cursor()  # the bench may look behind the gateway; product code may not
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        for source, (sql, params) in sqls.items():
            con.execute("PRAGMA enable_profiling='json'")
            con.execute(f"PRAGMA profiling_output='{path}'")
            con.execute(sql, params).fetchall()
            con.execute("PRAGMA disable_profiling")
            prof = json.loads(path.read_text())
            q = prof.get("query", {})
            detail = _scans(prof)
            out[source] = {
                "seconds": round(float(q.get("total_time", float("nan"))), 3),
                "rows_scanned": q.get("total_rows_scanned"),
                "peak_buffer_mb": round(prof.get("system", {}).get("peak_buffer_memory", 0) / MIB),
                **detail,
            }
    return out


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def duckdb_worker(db: Path, out: Path, repeat: int, drill_repeat: int) -> dict[str, Any]:
    from kpi.compute import kpi_table
    from kpi.gaps import audited_decisions
    from kpi.gateway import Gateway
    from kpi.query import KpiQuery

    res: dict[str, Any] = {"rss_after_imports_mb": round(_maxrss_bytes() / 2**20)}
    start = time.perf_counter()
    gw = Gateway(db, config=Config())
    res["open_s"] = time.perf_counter() - start
    full = KpiQuery(by=BY, period="week")
    start = time.perf_counter()
    table = kpi_table(gw, full, as_of=AS_OF)
    res["cold_s"] = time.perf_counter() - start
    res["warm_s"], _ = _best(lambda: kpi_table(gw, full, as_of=AS_OF), repeat)
    res["peak_rss_mb"] = round(_maxrss_bytes() / 2**20)  # the KPI runs only, before the rest
    res["groups"] = len(table)
    table.to_parquet(out.with_suffix(".duckdb.parquet"))

    # Drill-down to audited decision rows, one segment, warm.
    drill = {}
    for label, start_day in (("last_week", END - dt.timedelta(days=6)),
                             ("whole_year", END - dt.timedelta(days=7 * WEEKS - 1))):  # fmt: skip
        q = KpiQuery(start=start_day, end=END)
        rows = audited_decisions(gw, SEGMENT, q)  # warm-up
        seconds, _ = _best(lambda q=q: audited_decisions(gw, SEGMENT, q), drill_repeat)
        drill[label] = {"seconds": seconds, "rows": len(rows)}
    res["drill"] = drill

    # Dashboard window: the last 8 weeks.
    first = END - dt.timedelta(days=7 * DASHBOARD_WEEKS - 1)
    window = KpiQuery(by=BY, period="week", start=first, end=END)
    kpi_table(gw, window, as_of=AS_OF)  # warm-up
    res["window_s"], wt = _best(lambda: kpi_table(gw, window, as_of=AS_OF), repeat)
    res["window_groups"] = len(wt)
    res["window_first_day"] = first.isoformat()
    res["decisions_rows"] = gw.scalar("SELECT count(*) FROM decisions")
    res["audit_facts_rows"] = gw.scalar("SELECT count(*) FROM audit_facts")
    res["profile_window"] = profile_sources(gw, window)
    res["profile_full"] = profile_sources(gw, full)
    gw.close()
    return res


# --- pandas side (subprocess) ----------------------------------------------------------------


def pandas_worker(db: Path, out: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"rss_after_imports_mb": round(_maxrss_bytes() / 2**20)}
    config = Config()
    start = time.perf_counter()
    dec, aud = pandas_load(str(db))
    res["load_s"] = time.perf_counter() - start
    res["loaded_mb"] = round(
        (dec.memory_usage(deep=True).sum() + aud.memory_usage(deep=True).sum()) / 2**20
    )
    start = time.perf_counter()
    table = pandas_kpis(dec, aud, config.reporting_timezone, config.actioning_labels, AS_OF)
    res["compute_s"] = time.perf_counter() - start
    res["peak_rss_mb"] = round(_maxrss_bytes() / 2**20)
    res["groups"] = len(table)
    table.to_parquet(out.with_suffix(".pandas.parquet"))
    return res


# --- driver ----------------------------------------------------------------------------------


def run_worker(kind: str, db: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    out = tmp / f"{kind}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--db", str(db),
           "--result", str(out), "--repeat", str(args.repeat),
           "--drill-repeat", str(args.drill_repeat)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - start
    return {**json.loads(out.read_text()), "process_wall_s": round(wall, 1), "during": _load()}


def compare(duck: pd.DataFrame, pand: pd.DataFrame) -> dict[str, Any]:
    keys = [*BY, "period_start"]
    duck = duck.copy()
    pand = pand.copy()
    for f in (duck, pand):
        f["period_start"] = pd.to_datetime(f["period_start"])
        for c in BY:
            f[c] = f[c].astype(str)
    m = duck.merge(pand, on=keys, how="outer", suffixes=("_d", "_p"), indicator=True)
    diffs: dict[str, float] = {}
    for col in duck.columns:
        if col in keys or f"{col}_p" not in m:
            continue
        a = m[f"{col}_d"].astype(float).to_numpy()
        b = m[f"{col}_p"].astype(float).to_numpy()
        both_nan = np.isnan(a) & np.isnan(b)
        d = np.abs(a - b)
        d[both_nan] = 0.0
        d[np.isnan(d)] = np.inf  # value on one side only
        diffs[col] = float(d.max()) if len(d) else 0.0
    return {
        "rows_duckdb": len(duck),
        "rows_pandas": len(pand),
        "rows_unmatched": int((m["_merge"] != "both").sum()),
        "max_abs_diff": diffs,
    }


# --- the comparison: whole processes, alternated -----------------------------------------------

ROOT = HERE.parent
# Contenders in the order of each round (A B C D A B C D ...).
TOOLS = ("bpo-kpi", "pandas", "polars", "duckdb-sql")
LABELS = {
    "bpo-kpi": "bpo-kpi kpis",
    "pandas": "pandas (straightforward script)",
    "polars": "polars (lazy)",
    "duckdb-sql": "hand-written DuckDB query",
}
# The KPIs all four compute (kpi_table's other columns, the kappa interval, are bpo-kpi's own).
COMPARED = ("decisions", "tat_p50", "tat_p90", "tat_p95", "tat_p99", "tat_mean",
            "sla_attainment", "sla_attainment_low", "sla_attainment_high", "handle_minutes_mean",
            "handle_minutes_p90", "backlog", "backlog_over_sla", "audits", "qa_coverage",
            "quality_score", "quality_score_low", "quality_score_high", "critical_error_rate",
            "critical_error_rate_low", "critical_error_rate_high", "agreement_rate",
            "agreement_rate_low", "agreement_rate_high", "cohen_kappa", "over_enforcement_rate",
            "over_enforcement_rate_low", "over_enforcement_rate_high", "under_enforcement_rate",
            "under_enforcement_rate_low", "under_enforcement_rate_high", "dispute_rate",
            "overturn_rate")  # fmt: skip


def tool_command(tool: str, db: Path, out: Path) -> list[str]:
    """The whole process of `tool` for the vendor x workflow x week table of `db`."""
    config = Config()
    common = [
        "--tz",
        config.reporting_timezone,
        "--as-of",
        AS_OF.isoformat(),
        "--actioning",
        ",".join(config.actioning_labels),
    ]
    if tool == "bpo-kpi":  # the real command line; its JSON goes to `out` (stdout)
        return [
            sys.executable,
            "-m",
            "bpo_kpi_cli",
            "kpis",
            "--by",
            ",".join(BY),
            "--period",
            "week",
            "--as-of",
            AS_OF.isoformat(),
            "--db",
            str(db),
            "--format",
            "json",
        ]
    script = {"pandas": "pandas_script", "polars": "polars_lazy", "duckdb-sql": "duckdb_sql"}[tool]
    return [sys.executable, str(SCRIPTS / f"{script}.py"), str(db), str(out), *common]


def run_process(cmd: list[str], stdout: Path) -> dict[str, Any]:
    """Run `cmd` to completion: its wall time, CPU time and peak RSS (os.wait4: this child's
    own, not the largest child's so far)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    # As a user's install runs: with bytecode caches (a sandbox may set this to keep source
    # trees clean, which makes every process compile bpo-kpi's modules again, ~0.05 s).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with open(stdout, "wb") as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.read().decode()[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }


def read_result(tool: str, path: Path) -> pd.DataFrame:
    if tool == "bpo-kpi":
        return pd.DataFrame(json.loads(path.read_text()))
    return pd.read_parquet(path)


def check(reference: pd.DataFrame, other: pd.DataFrame) -> dict[str, Any]:
    """`other`'s numbers against bpo-kpi's, on the compared KPIs: rows on one side only and
    the largest absolute difference per KPI (both empty counts as equal)."""
    got = compare(reference[[*BY, "period_start", *COMPARED]], other)
    diffs = {k: v for k, v in got["max_abs_diff"].items() if k in COMPARED}
    missing = sorted(set(COMPARED) - set(diffs))
    return {
        **got,
        "max_abs_diff": diffs,
        "max_abs_diff_all": max(diffs.values()),
        "missing_kpis": missing,
    }


def inprocess_worker(db: Path, repeat: int) -> dict[str, Any]:
    """kpi_table against the hand-written query in one process on one connection: the first
    (cold) run of each, then `repeat` alternated warm runs; medians."""
    from kpi.compute import kpi_table
    from kpi.gateway import Gateway
    from kpi.query import KpiQuery

    config = Config()
    gw = Gateway(db, config=config)
    query = KpiQuery(by=BY, period="week")
    con = duckdb.connect(str(db), read_only=True)

    def ours() -> Any:
        return kpi_table(gw, query, as_of=AS_OF)

    def hand() -> Any:
        return hand_written_kpis(
            con, config.reporting_timezone, AS_OF, config.actioning_labels
        ).fetchall()

    res: dict[str, Any] = {}
    for name, fn in (("kpi_table", ours), ("hand_written", hand)):
        start = time.perf_counter()
        fn()
        res[f"{name}_cold_s"] = time.perf_counter() - start
    times: dict[str, list[float]] = {"kpi_table": [], "hand_written": []}
    for _ in range(repeat):
        for name, fn in (("kpi_table", ours), ("hand_written", hand)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    res["kpi_table_s"] = float(np.median(times["kpi_table"]))
    res["hand_written_s"] = float(np.median(times["hand_written"]))
    res["ratio"] = res["kpi_table_s"] / res["hand_written_s"]
    res["runs"] = times
    gw.close()
    con.close()
    return res


def versions() -> dict[str, str]:
    found = {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
    try:
        import polars

        found["polars"] = polars.__version__
    except ImportError:
        found["polars"] = "not installed (pip install -e '.[bench]')"
    return found


def machine() -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB),
        "system": platform.platform(),
    }


def _ratio_text(seconds: float, reference: float) -> str:
    """`seconds` against bpo-kpi's `reference`: "2.7x slower" (than bpo-kpi) or "1.7x faster"."""
    r = seconds / reference
    return f"{r:.1f}x slower" if r >= 1 else f"{1 / r:.1f}x faster"


def compare_all(args: argparse.Namespace) -> dict[str, Any]:
    """For each size: the whole processes of `TOOLS`, alternated for --rounds rounds (medians),
    their numbers checked against bpo-kpi's, and kpi_table against the hand-written query in
    process. Printed, and written to bench/out/kpi_compare.json."""
    tools = [t for t in TOOLS if t in args.only.split(",")]
    if "polars" in tools and "not installed" in versions()["polars"]:
        print("polars is not installed (pip install -e '.[bench]'): skipping it")
        tools.remove("polars")
    report: dict[str, Any] = {
        "what": "vendor x workflow x week KPI table, whole processes alternated, medians",
        "machine": machine(),
        "versions": versions(),
        "as_of": AS_OF.isoformat(),
        "rounds": args.rounds,
        "compared_kpis": list(COMPARED),
        "sizes": [],
    }
    m = report["machine"]
    print(
        f"machine: {m['cores']} cores, {m['memory_gib']} GiB; "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
        + f"; {_load()}"
    )
    for rows in (int(s) for s in args.sizes.split(",")):
        print(f"\n== {rows:,} decisions, {WEEKS} weeks: " + " / ".join(tools), flush=True)
        data = build_db(rows, args.work, args.keep_files)
        db = Path(data["db"])
        runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        checks: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp:
            outs = {t: Path(tmp) / f"{t}.{'json' if t == 'bpo-kpi' else 'parquet'}" for t in tools}
            for r in range(args.rounds):
                for tool in tools:
                    # bpo-kpi prints its table; the scripts write theirs and print a line
                    stdout = outs[tool] if tool == "bpo-kpi" else outs[tool].with_suffix(".log")
                    res = run_process(tool_command(tool, db, outs[tool]), stdout)
                    res["during"] = _load()
                    runs[tool].append(res)
                    print(
                        f"  round {r + 1} {tool:<11} {res['wall_s']:6.2f}s "
                        f"(cpu {res['cpu_s']:.2f}s, peak {res['peak_rss_mb']:,} MB; "
                        f"{res['during']})",
                        flush=True,
                    )
            if "bpo-kpi" in tools:
                ref = read_result("bpo-kpi", outs["bpo-kpi"])
                for tool in tools[1:]:
                    checks[tool] = check(ref, read_result(tool, outs[tool]))
        inproc = None
        if "bpo-kpi" in tools and "duckdb-sql" in tools:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "inprocess.json"
                subprocess.run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--worker",
                        "inprocess",
                        "--db",
                        str(db),
                        "--result",
                        str(out),
                        "--repeat",
                        str(args.repeat),
                    ],
                    check=True,
                )
                inproc = json.loads(out.read_text())
        medians = {t: float(np.median([x["wall_s"] for x in runs[t]])) for t in tools}
        # CPU seconds (user + system) too: on a shared machine they drift less than wall time.
        cpu = {t: float(np.median([x["cpu_s"] for x in runs[t]])) for t in tools}
        size: dict[str, Any] = {
            "rows": rows,
            "data": data,
            "median_s": medians,
            "median_cpu_s": cpu,
            "runs": runs,
            "checks": checks,
            "in_process": inproc,
        }
        if "bpo-kpi" in tools:
            size["ratio_to_bpo_kpi"] = {t: medians[t] / medians["bpo-kpi"] for t in tools}
        report["sizes"].append(size)
        print(f"  medians of {args.rounds}:")
        for tool in tools:
            ratio = ""
            if "bpo-kpi" in tools and tool != "bpo-kpi":
                ratio = f"  {_ratio_text(medians[tool], medians['bpo-kpi'])} than bpo-kpi"
            print(f"    {LABELS[tool]:<33} {medians[tool]:6.2f}s (cpu {cpu[tool]:.2f}s){ratio}")
        for tool, c in checks.items():
            print(
                f"  check {tool} vs bpo-kpi: {c['rows_duckdb']:,} vs {c['rows_pandas']:,} rows, "
                f"{c['rows_unmatched']} unmatched, max |diff| over {len(c['max_abs_diff'])} "
                f"KPIs {c['max_abs_diff_all']:.2g}"
                + (f" (missing: {', '.join(c['missing_kpis'])})" if c["missing_kpis"] else "")
            )
        if inproc:
            print(
                f"  in process (median of {args.repeat} alternated warm runs): kpi_table "
                f"{inproc['kpi_table_s']:.2f}s vs hand-written query "
                f"{inproc['hand_written_s']:.2f}s = {inproc['ratio']:.2f}x (cold: "
                f"{inproc['kpi_table_cold_s']:.2f}s vs {inproc['hand_written_cold_s']:.2f}s)"
            )
    if report["sizes"] and "bpo-kpi" in tools:
        print("\nsummary (whole process, median seconds; x = time / bpo-kpi's)")
        print(f"{'size':>12} " + " ".join(f"{t:>18}" for t in tools) + f" {'in process':>11}")
        for size in report["sizes"]:
            cells = [
                f"{size['median_s'][t]:6.2f}s"
                + (f" ({size['ratio_to_bpo_kpi'][t]:.2f}x)" if t != "bpo-kpi" else "")
                for t in tools
            ]
            inp = size["in_process"]
            print(
                f"{size['rows']:>12,} "
                + " ".join(f"{c:>18}" for c in cells)
                + (f" {inp['ratio']:>10.2f}x" if inp else "")
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten: {args.out}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3000000,10000000")
    parser.add_argument("--work", type=Path, default=OUT / "kpidata")
    parser.add_argument(
        "--rounds", type=int, default=3, help="whole-process rounds (A B C D each); median kept"
    )
    parser.add_argument(
        "--only",
        default=",".join(TOOLS),
        help=f"whole-process contenders, comma-separated (default: all of {','.join(TOOLS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT / "kpi_compare.json",
        help="where the comparison's JSON goes (default: bench/out/kpi_compare.json)",
    )
    parser.add_argument(
        "--details",
        action="store_true",
        help="also the older per-size details: cold/warm kpi_table, drill-down, dashboard "
        "window and its scans, the pandas comparison in process (bench/out/kpis.json)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="warm KPI runs; best is kept")
    parser.add_argument("--drill-repeat", type=int, default=5, help="warm drill-down runs")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas comparison")
    parser.add_argument(
        "--pandas-max-gib",
        type=float,
        default=18.0,
        help="skip pandas at a size whose peak, extrapolated from a smaller size, exceeds this",
    )
    parser.add_argument("--keep-files", action="store_true", help="keep the generated Parquet")
    parser.add_argument(
        "--worker", choices=["duckdb", "pandas", "inprocess"], help=argparse.SUPPRESS
    )
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.worker == "duckdb":
            res = duckdb_worker(args.db, args.result, args.repeat, args.drill_repeat)
        elif args.worker == "inprocess":
            res = inprocess_worker(args.db, args.repeat)
        else:
            res = pandas_worker(args.db, args.result)
        args.result.write_text(json.dumps(res, indent=2, default=str))
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    compare_all(args)
    if not args.details:
        return 0
    return details(args)


def details(args: argparse.Namespace) -> int:
    """The per-size details (--details): kpi_table cold and warm, drill-down, dashboard window
    and its scans, pandas in process; bench/out/kpis.json."""
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB, "
        f"duckdb {duckdb.__version__}, pandas {pd.__version__}; {_load()}"
    )
    results = []
    pandas_gib_per_row: float | None = None
    for rows in (int(s) for s in args.sizes.split(",")):
        print(f"\n== {rows:,} decisions, {WEEKS} weeks ==", flush=True)
        data = build_db(rows, args.work, args.keep_files)
        db = Path(data["db"])
        how = "cached" if data["cached"] else "built"
        print(
            f"  database ({how}, {data['db_mb']:,} MB): generate {data['generate_s']}s, ingest "
            f"decisions {data['ingest_decisions_s']}s + audits {data['ingest_audits_s']}s "
            f"({data['built_with']})",
            flush=True,
        )
        row: dict[str, Any] = {"rows": rows, "data": data}
        with tempfile.TemporaryDirectory() as tmp:
            duck = run_worker("duckdb", db, Path(tmp), args)
            row["duckdb"] = duck
            print(
                f"  duckdb kpi_table: cold {duck['cold_s']:.2f}s, warm {duck['warm_s']:.2f}s, "
                f"peak RSS {duck['peak_rss_mb']:,} MB, {duck['groups']:,} groups "
                f"({duck['during']})",
                flush=True,
            )
            skip = None
            if args.no_pandas:
                skip = "--no-pandas"
            elif pandas_gib_per_row is not None and pandas_gib_per_row * rows > args.pandas_max_gib:
                skip = (
                    f"extrapolated peak {pandas_gib_per_row * rows:.1f} GiB > "
                    f"{args.pandas_max_gib} GiB"
                )
            if skip:
                row["pandas"] = {"skipped": skip}
                print(f"  pandas: skipped ({skip})")
            else:
                pand = run_worker("pandas", db, Path(tmp), args)
                pandas_gib_per_row = pand["peak_rss_mb"] / 1024 / rows
                check = compare(
                    pd.read_parquet(Path(tmp) / "duckdb.duckdb.parquet"),
                    pd.read_parquet(Path(tmp) / "pandas.pandas.parquet"),
                )
                total = pand["load_s"] + pand["compute_s"]
                pand["total_s"] = total
                pand["speedup_cold"] = total / duck["cold_s"]
                pand["speedup_warm"] = pand["compute_s"] / duck["warm_s"]
                row["pandas"] = pand
                row["check"] = check
                print(
                    f"  pandas: load {pand['load_s']:.2f}s + compute {pand['compute_s']:.2f}s = "
                    f"{total:.2f}s, peak RSS {pand['peak_rss_mb']:,} MB ({pand['during']})"
                )
                print(
                    f"  speedup: pandas load+compute / duckdb cold = {pand['speedup_cold']:.1f}x;"
                    f" pandas compute / duckdb warm = {pand['speedup_warm']:.1f}x"
                )
                diffs = check["max_abs_diff"]
                print(
                    f"  check: {check['rows_duckdb']:,} vs {check['rows_pandas']:,} rows, "
                    f"{check['rows_unmatched']} unmatched; max |diff| "
                    + ", ".join(f"{c} {diffs.get(c, float('nan')):.2g}" for c in SHOWN)
                    + f"; over all {len(diffs)} columns {max(diffs.values()):.2g}"
                )
        d = duck["drill"]
        print(
            f"  drill-down {SEGMENT['vendor']}/{SEGMENT['workflow']}/{SEGMENT['market']}: "
            f"last week {d['last_week']['seconds'] * 1000:.1f} ms ({d['last_week']['rows']} rows), "
            f"whole year {d['whole_year']['seconds'] * 1000:.1f} ms "
            f"({d['whole_year']['rows']} rows)"
        )
        pw, pf = duck["profile_window"], duck["profile_full"]
        dec_w = pw["decisions"]["scans"][0]
        dec_f = pf["decisions"]["scans"][0]
        print(
            f"  dashboard window ({DASHBOARD_WEEKS} of {WEEKS} weeks from "
            f"{duck['window_first_day']}): {duck['window_s']:.2f}s vs full year "
            f"{duck['warm_s']:.2f}s; decisions scan read {dec_w['rows_scanned']:,} of "
            f"{duck['decisions_rows']:,} rows ({dec_w['row_groups_scanned']}/"
            f"{dec_w['row_groups_total']} row groups; full year: {dec_f['rows_scanned']:,})"
        )
        for label, prof in (("window", pw), ("full", pf)):
            parts = []
            for source, p in prof.items():
                scanned = sum(s["rows_scanned"] or 0 for s in p["scans"])
                parts.append(f"{source} {p['seconds']:.2f}s/{scanned / 1e6:.1f}M rows")
            print(f"    per source ({label}): " + ", ".join(parts))
        results.append(row)

    print("\nsummary (goals: >= 5x pandas, < 2 GiB at 50M, drill-down < 50 ms, window skip)")
    print(
        f"{'rows':>11} {'ingest s':>9} {'duck cold':>10} {'duck warm':>10} {'duck MB':>8} "
        f"{'pandas s':>9} {'pandas MB':>10} {'speedup':>8} {'drill ms':>9} {'window s':>9} "
        f"{'win rows':>9}"
    )
    for r in results:
        d, p = r["duckdb"], r["pandas"]
        ingest = r["data"]["ingest_decisions_s"] + r["data"]["ingest_audits_s"]
        scanned = d["profile_window"]["decisions"]["scans"][0]["rows_scanned"]
        print(
            f"{r['rows']:>11,} {ingest:>9.1f} {d['cold_s']:>10.2f} {d['warm_s']:>10.2f} "
            f"{d['peak_rss_mb']:>8,} "
            + (
                f"{p['total_s']:>9.2f} {p['peak_rss_mb']:>10,} {p['speedup_cold']:>7.1f}x "
                if "total_s" in p
                else f"{'-':>9} {'-':>10} {'-':>8} "
            )
            + f"{max(x['seconds'] for x in d['drill'].values()) * 1000:>9.1f} "
            f"{d['window_s']:>9.2f} {scanned / d['decisions_rows']:>8.0%}"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "kpis.json").write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
