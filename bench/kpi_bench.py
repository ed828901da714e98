"""KPI benchmark: the vendor x workflow x week KPI table on DuckDB against plain pandas.

For each size N (decisions; 52 weeks of generated data, cached under bench/out/data/) it
builds the database with the real ingest, then measures in fresh subprocesses:

- `kpi.compute.kpi_table` for vendor x workflow x week, every KPI (backlog included): cold
  (first query of a new process; the OS file cache is warm) and warm (best of --repeat), and
  the process's peak RSS;
- a straightforward pandas implementation of the same KPIs: load `decisions` and `audit_facts`
  into pandas (timed, and included: a pandas user has to), then groupby vendor/workflow/week.
  Its numbers are checked against kpi_table's (max abs difference per KPI), and its peak RSS;
- the drill-down to audited decision rows (`kpi.gaps.audited_decisions`) for one segment, last
  week and whole year, warm (best of --drill-repeat);
- a dashboard window (last 8 of 52 weeks): rows of `decisions` the scan reads (DuckDB's JSON
  profiler on the SQL `kpi.sql.source_sql` renders) against the table's rows, and its time
  against the full-year table.

Goals: DuckDB >= 5x faster than pandas, < 2 GiB peak at 50M, drill-down < 50 ms, and a
dashboard window that reads only its weeks.

    python bench/kpi_bench.py --sizes 10000000,50000000

Figures, not assertions: nothing here fails on a slow machine. Results also go to
bench/out/kpis.json.
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

OUT = Path(__file__).resolve().parent / "out"
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


def _week(ts: pd.Series, tz: str) -> pd.Series:
    """Monday (local midnight, naive) of the ISO week containing each instant."""
    local = ts.dt.tz_convert(tz).dt.tz_localize(None)
    return local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")


def _wilson(x: pd.Series, n: pd.Series, z: float = 1.959963984540054) -> tuple[Any, Any]:
    x, n = x.astype(float), n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    ok = n > 0
    return (centre - half).where(ok), (centre + half).where(ok)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num.astype(float) / den.astype(float)).where(den > 0)


def pandas_kpis(
    dec: pd.DataFrame,
    aud: pd.DataFrame,
    tz: str,
    actioning: list[str],
    penalties: dict[str, float] | None = None,
) -> Any:
    """The KPI table computed the way a pandas user would write it; `penalties`: points an
    error of each severity costs (`Config.severity_penalties`, default the defaults)."""
    penalties = penalties or Config().severity_penalties()
    keys = [*BY, "period_start"]

    # Decisions: counts, TAT quantiles and mean, SLA, handle time.
    d = dec[dec["decided_at"].notna()]
    d = pd.DataFrame(
        {
            "vendor": d["vendor"],
            "workflow": d["workflow"],
            "period_start": _week(d["decided_at"], tz),
            "tat": (d["decided_at"] - d["enqueued_at"]).dt.total_seconds() / 60.0,
            "handle": (d["decided_at"] - d["claimed_at"]).dt.total_seconds() / 60.0,
            "sla_known": d["due_at"].notna(),
            "sla_met": d["due_at"].notna() & (d["decided_at"] <= d["due_at"]),
        }
    )
    g = d.groupby(keys, observed=True, sort=False)
    out = g.agg(
        decisions=("tat", "size"),
        tat_mean=("tat", "mean"),
        handle_minutes_mean=("handle", "mean"),
        sla_known=("sla_known", "sum"),
        sla_met=("sla_met", "sum"),
    )
    tq = g["tat"].quantile([0.5, 0.9, 0.95, 0.99]).unstack()
    tq.columns = ["tat_p50", "tat_p90", "tat_p95", "tat_p99"]
    out = out.join(tq).join(g["handle"].quantile(0.9).rename("handle_minutes_p90"))
    del d, g

    # Audits (of decided, non-orphan decisions; they belong to their decision's week).
    a = aud[aud["decided_at"].notna() & ~aud["is_orphan"].fillna(False).astype(bool)]
    a_src = a
    err = a["is_error"].fillna(False).astype(bool)
    typed = a["error_type"].notna()
    a = pd.DataFrame(
        {
            "vendor": a["vendor"],
            "workflow": a["workflow"],
            "period_start": _week(a["decided_at"], tz),
            "decision_id": a["decision_id"],
            "decision": a["decision"],
            "qa_decision": a["qa_decision"],
            "errors": err,
            "critical_errors": err & a["severity"].eq("critical").fillna(False),
            "agreements": a["decision"].eq(a["qa_decision"]).fillna(False).astype(bool),
            "actioning_audits": a["decision"].isin(actioning),
            "qa_actioning_audits": a["qa_decision"].isin(actioning),
            "over_enforcement_errors": err & a["error_type"].eq("over_enforcement").fillna(False),
            "under_enforcement_errors": err & a["error_type"].eq("under_enforcement").fillna(False),
            "error_typed": typed,
            "disputed": typed & a["dispute_status"].isin(["pending", "upheld", "overturned"]),
            "dispute_resolved": a["dispute_status"].isin(["upheld", "overturned"]),
            "overturned": a["dispute_status"].eq("overturned").fillna(False),
        }
    )
    # weighted_quality_score's points and precision / recall of enforcement (issue 17)
    penalty = a_src["severity"].map(penalties).fillna(penalties["default"])
    a["quality_points"] = 1.0 - penalty.where(err, 0.0)
    a["quality_points_sq"] = a["quality_points"] ** 2
    overturned = a["overturned"].to_numpy()
    truth = np.where(overturned, a["actioning_audits"], a["qa_actioning_audits"])
    a["truth_actioning_audits"] = truth
    a["enforcement_true_positives"] = a["actioning_audits"] & truth
    ga = a.groupby(keys, observed=True, sort=False)
    flags = [c for c in a.columns if c not in (*keys, "decision_id", "decision", "qa_decision")]
    audits = ga[flags].sum()
    audits["audits"] = ga.size()
    audits["audited_decisions"] = ga["decision_id"].nunique()
    # Cohen's kappa: expected agreement from the two label distributions per group.
    v = a.groupby([*keys, "decision"], observed=True).size().rename("cv")
    q = a.groupby([*keys, "qa_decision"], observed=True).size().rename("cq")
    v.index = v.index.set_names([*keys, "label"])
    q.index = q.index.set_names([*keys, "label"])
    pe = pd.concat([v, q], axis=1, join="inner").eval("cv * cq").groupby(level=keys).sum()
    audits["kappa_pe_num"] = pe
    del a, ga

    # Backlog at each week's end: running sums of enqueue / decide / due events.
    cut = pd.Timestamp(AS_OF)
    events = []
    greatest = (
        dec[["due_at", "decided_at"]]
        .max(axis=1)
        .where(dec["due_at"].notna() & dec["decided_at"].notna())
    )
    for column, d_backlog, d_over in (
        (dec["enqueued_at"], 1, 0),
        (dec["decided_at"], -1, 0),
        (dec["due_at"], 0, 1),
        (greatest, 0, -1),
    ):
        hit = column < cut
        events.append(
            pd.DataFrame(
                {
                    "vendor": dec["vendor"][hit],
                    "workflow": dec["workflow"][hit],
                    "period_start": _week(column[hit], tz),
                    "backlog": d_backlog,
                    "backlog_over_sla": d_over,
                }
            )
        )
    ev = pd.concat(events, ignore_index=True)
    del events, greatest
    inc = ev.groupby(keys, observed=True).sum()
    del ev
    last = _week(pd.Series([cut]), tz).iloc[0]  # kpi_table: up to the period holding as_of
    grid = pd.date_range(inc.index.get_level_values("period_start").min(), last, freq="7D")
    groups = inc.index.droplevel("period_start").unique()
    dense = pd.MultiIndex.from_tuples([(*gk, p) for gk in groups for p in grid], names=keys)
    backlog = inc.reindex(dense, fill_value=0).groupby(level=list(BY)).cumsum()
    backlog = backlog[(backlog["backlog"] != 0) | (backlog["backlog_over_sla"] != 0)]

    table = out.join(audits, how="outer").join(backlog, how="outer").reset_index()
    points = ["quality_points", "quality_points_sq"]
    table[points] = table[points].fillna(0.0)
    counts = ["decisions", "sla_known", "sla_met", "audits", "audited_decisions",
              *[f for f in flags if f not in points], "backlog", "backlog_over_sla"]  # fmt: skip
    for c in counts:
        table[c] = table[c].fillna(0).astype("int64")
    r = table
    for name, num, den, ci, comp in (
        ("sla_attainment", "sla_met", "sla_known", True, False),
        ("qa_coverage", "audited_decisions", "decisions", False, False),
        ("quality_score", "errors", "audits", True, True),
        ("critical_error_rate", "critical_errors", "audits", True, False),
        ("agreement_rate", "agreements", "audits", True, False),
        ("over_enforcement_rate", "over_enforcement_errors", "actioning_audits", True, False),
        ("under_enforcement_rate", "under_enforcement_errors", "qa_actioning_audits", True, False),
        ("dispute_rate", "disputed", "error_typed", False, False),
        ("overturn_rate", "overturned", "dispute_resolved", False, False),
        ("enforcement_precision", "enforcement_true_positives", "actioning_audits", True, False),
        ("enforcement_recall", "enforcement_true_positives", "truth_actioning_audits", True, False),
    ):
        value = _ratio(r[num], r[den])
        r[name] = 1 - value if comp else value
        if ci:
            succ = r[den] - r[num] if comp else r[num]
            r[f"{name}_low"], r[f"{name}_high"] = _wilson(succ, r[den])
    n = r["audits"].astype(float)
    # the mean score per audit; Wilson's interval at the effective n = n m(1 - m) / s**2
    m = _ratio(r["quality_points"], r["audits"])
    with np.errstate(divide="ignore", invalid="ignore"):
        var = ((r["quality_points_sq"] - r["quality_points"] * m) / (n - 1)).clip(lower=0)
        effect = (var / (m * (1 - m))).where((n > 1) & (m * (1 - m) > 0) & (var >= 1e-12), 1.0)
    n_eff = n / effect.clip(upper=1.0)
    r["weighted_quality_score"] = m
    r["weighted_quality_score_low"], r["weighted_quality_score_high"] = _wilson(m * n_eff, n_eff)
    po = _ratio(r["agreements"], r["audits"])
    with np.errstate(divide="ignore", invalid="ignore"):
        pe = r["kappa_pe_num"].fillna(0) / n**2
        r["cohen_kappa"] = ((po - pe) / (1 - pe)).where((n > 0) & (pe < 1))
    return r


def pandas_worker(db: Path, out: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"rss_after_imports_mb": round(_maxrss_bytes() / 2**20)}
    config = Config()
    start = time.perf_counter()
    con = connect(db, read_only=True)
    dec = con.execute(
        "SELECT vendor, workflow, enqueued_at, claimed_at, decided_at, due_at FROM decisions"
    ).df()
    aud = con.execute(
        "SELECT decision_id, vendor, workflow, decided_at, is_orphan, is_error, severity, "
        "decision, qa_decision, error_type, dispute_status FROM audit_facts"
    ).df()
    con.close()
    for frame in (dec, aud):  # what a careful pandas user does with low-cardinality keys
        for c in BY:
            frame[c] = frame[c].astype("category")
    res["load_s"] = time.perf_counter() - start
    res["loaded_mb"] = round(
        (dec.memory_usage(deep=True).sum() + aud.memory_usage(deep=True).sum()) / 2**20
    )
    start = time.perf_counter()
    table = pandas_kpis(dec, aud, config.reporting_timezone, config.actioning_labels,
                        config.severity_penalties())  # fmt: skip
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000000,50000000")
    parser.add_argument("--work", type=Path, default=OUT / "data")
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
    parser.add_argument("--worker", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.worker == "duckdb":
            res = duckdb_worker(args.db, args.result, args.repeat, args.drill_repeat)
        else:
            res = pandas_worker(args.db, args.result)
        args.result.write_text(json.dumps(res, indent=2, default=str))
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
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
