"""Read-path benchmark: the KPI table, the dashboard window and the first drill-down of a
process, for this checkout against another one (e.g. the code before a change), alternated.

Each round runs one fresh process per code version, in turn (A, B, A, B, ...), on the same
database; the figures are medians over rounds. A process measures, in this order:

- `first_drill_ms`: the first `kpi.gaps.audited_decisions` call after opening the gateway
  (one segment, last week), then `drill_ms`, the median of five more;
- `table_s`: `kpi.compute.kpi_table` for vendor x workflow x week over the whole history,
  every KPI (backlog, exact quantiles, kappa), the median of three;
- `window_s`: the same for the last 8 weeks (the dashboard's window), the median of three;
- `backlog_s` / `backlog_window_s`: only the backlog KPIs, whole history and window;
- `handwritten_s`: one hand-written DuckDB query of the same KPIs but kappa (below), the
  median of three, on the gateway's connection; `handwritten_no_backlog_s` the same without
  the backlog, against `table_no_backlog_s`, the KPI table without backlog and kappa.

    python bench/read_bench.py --db bench/out/kpidata/kpi_10000000/kpi.duckdb \\
        --other /path/to/other/checkout --rounds 5

Figures, not assertions. Results go to bench/out/read_<decisions>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BY = ("vendor", "workflow")
# The generated data's last day and a segment it holds (bench/kpi_bench.py's).
END = dt.date(2026, 11, 22)
SEGMENT = {"vendor": "meridian", "workflow": "graphic_violence", "market": "es_MX"}
WINDOW_WEEKS = 8

# Every KPI of the table but kappa (its marginals need a query of their own), as a user who
# knows DuckDB would write it: one statement, week = ISO week of decided_at (UTC; truncated
# as a plain TIMESTAMP, as a TIMESTAMPTZ it takes a time-zone calendar and is ~5x slower), backlog
# = decisions pending at each week's end (the as-of instant for the last).
HANDWRITTEN = """
WITH d AS (
  SELECT vendor, workflow, CAST(date_trunc('week', CAST(decided_at AS TIMESTAMP)) AS DATE) AS week,
         count(*) AS decisions,
         quantile_cont(epoch(decided_at - enqueued_at) / 60, [0.5, 0.9, 0.95, 0.99]) AS tat_q,
         avg(epoch(decided_at - enqueued_at) / 60) AS tat_mean,
         count(*) FILTER (WHERE due_at IS NOT NULL AND decided_at <= due_at) AS sla_met,
         count(*) FILTER (WHERE due_at IS NOT NULL) AS sla_known,
         quantile_cont(epoch(decided_at - claimed_at) / 60, 0.9) AS handle_p90,
         avg(epoch(decided_at - claimed_at) / 60) AS handle_mean
  FROM decisions WHERE decided_at IS NOT NULL AND decided_at < $as_of GROUP BY ALL),
a AS (
  SELECT vendor, workflow, CAST(date_trunc('week', CAST(decided_at AS TIMESTAMP)) AS DATE) AS week,
         count(*) AS audits, count(DISTINCT decision_id) AS audited,
         count(*) FILTER (WHERE is_error) AS errors,
         count(*) FILTER (WHERE is_error AND severity = 'critical') AS critical,
         count(*) FILTER (WHERE decision = qa_decision) AS agreements,
         count(*) FILTER (WHERE list_contains($actioning, decision)) AS actioning,
         count(*) FILTER (WHERE is_error AND error_category = 'over_enforcement'
                          AND list_contains($actioning, decision)) AS over_errors,
         count(*) FILTER (WHERE list_contains($actioning, qa_decision)) AS qa_actioning,
         count(*) FILTER (WHERE is_error AND error_category = 'under_enforcement'
                          AND list_contains($actioning, qa_decision)) AS under_errors,
         count(*) FILTER (WHERE error_counts) AS typed,
         count(*) FILTER (WHERE error_counts AND dispute_status IN ('pending', 'upheld',
                          'overturned')) AS disputed,
         count(*) FILTER (WHERE dispute_status IN ('upheld', 'overturned')) AS resolved,
         count(*) FILTER (WHERE dispute_status = 'overturned') AS overturned
  FROM audit_facts WHERE decided_at IS NOT NULL AND NOT is_orphan AND decided_at < $as_of
  GROUP BY ALL),
ev AS (
  SELECT vendor, workflow, CAST(date_trunc('week', CAST(enqueued_at AS TIMESTAMP)) AS DATE) AS week,
         1 AS n, 0 AS o FROM decisions
  WHERE enqueued_at < $as_of
  UNION ALL
  SELECT vendor, workflow, CAST(date_trunc('week', CAST(decided_at AS TIMESTAMP)) AS DATE), -1, NULL
  FROM decisions WHERE decided_at < $as_of
  UNION ALL
  SELECT vendor, workflow, CAST(date_trunc('week', CAST(due_at AS TIMESTAMP)) AS DATE), 0, 1
  FROM decisions WHERE due_at < $as_of AND (decided_at IS NULL OR decided_at > due_at)
  UNION ALL
  SELECT vendor, workflow, CAST(date_trunc('week', CAST(decided_at AS TIMESTAMP)) AS DATE), 0, -1
  FROM decisions WHERE decided_at < $as_of AND due_at < decided_at),
b AS (
  SELECT vendor, workflow, week,
         sum(sum(n)) OVER w AS backlog, sum(sum(coalesce(o, 0))) OVER w AS backlog_over_sla
  FROM ev GROUP BY 1, 2, 3
  WINDOW w AS (PARTITION BY vendor, workflow ORDER BY week))
SELECT * FROM d FULL JOIN a USING (vendor, workflow, week)
FULL JOIN b USING (vendor, workflow, week)
"""


def worker(db: str, drill_only: bool = False) -> dict[str, Any]:
    """One process's figures (run with this checkout's or the other's code on sys.path)."""
    started = time.perf_counter()
    import pandas  # noqa: F401  (a dashboard process has it; `bpo-kpi gaps` drills without it)

    from bpo_kpi.config import Config
    from kpi.catalog import KPIS
    from kpi.compute import kpi_table
    from kpi.gaps import audited_decisions
    from kpi.gateway import Gateway
    from kpi.query import KpiQuery

    res: dict[str, Any] = {"imports_s": time.perf_counter() - started}
    gw = Gateway(db, config=Config())
    end = END
    as_of = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    # The first query of the process after opening the gateway: nothing before it has
    # warmed the cursor or the conversion to pandas.
    week = KpiQuery(start=end - dt.timedelta(days=6), end=end)
    t = time.perf_counter()
    audited_decisions(gw, SEGMENT, week)
    res["first_drill_ms"] = (time.perf_counter() - t) * 1000
    segment = SEGMENT
    res["drill_ms"] = _median(lambda: audited_decisions(gw, segment, week), 5) * 1000
    res["decisions"] = int(gw.scalar("SELECT count(*) FROM decisions"))
    if drill_only:
        gw.close()
        return res
    full = KpiQuery(by=BY, period="week")
    first = end - dt.timedelta(days=7 * WINDOW_WEEKS - 1)
    window = KpiQuery(by=BY, period="week", start=first, end=end)
    backlog = ("backlog", "backlog_over_sla")
    res["table_s"] = _median(lambda: kpi_table(gw, full, as_of=as_of), 3)
    res["window_s"] = _median(lambda: kpi_table(gw, window, as_of=as_of), 3)
    full_b = full.model_copy(update={"kpis": backlog})
    window_b = window.model_copy(update={"kpis": backlog})
    res["backlog_s"] = _median(lambda: kpi_table(gw, full_b, as_of=as_of), 3)
    res["backlog_window_s"] = _median(lambda: kpi_table(gw, window_b, as_of=as_of), 3)
    params = {"as_of": as_of, "actioning": gw.config.actioning_labels}
    res["handwritten_s"] = _median(lambda: gw.frame(HANDWRITTEN, params), 3)
    no_backlog = HANDWRITTEN.split("ev AS (")[0].rstrip().rstrip(",") + (
        "\nSELECT * FROM d FULL JOIN a USING (vendor, workflow, week)"
    )
    res["handwritten_no_backlog_s"] = _median(lambda: gw.frame(no_backlog, params), 3)
    kpis = tuple(k for k in KPIS if k not in ("backlog", "backlog_over_sla", "cohen_kappa"))
    full_nb = full.model_copy(update={"kpis": kpis})
    res["table_no_backlog_s"] = _median(lambda: kpi_table(gw, full_nb, as_of=as_of), 3)
    gw.close()
    return res


def _median(fn: Any, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _run(code: Path, db: str, drill_only: bool = False) -> dict[str, Any]:
    """This script's worker in a fresh process, with `code`'s packages on the path."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", "--db", db]
        + (["--drill-only"] if drill_only else []),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--other", type=Path, help="another checkout to alternate with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--drill-only", action="store_true", help="only the drill-downs")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.db, args.drill_only)))
        return 0
    codes = {"this": HERE.parent}
    if args.other is not None:
        codes["other"] = args.other.resolve()
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in codes}
    for r in range(args.rounds):
        for name, code in codes.items():
            runs[name].append(_run(code, args.db, args.drill_only))
            print(f"round {r + 1} {name}: {runs[name][-1]}", flush=True)
    summary = {
        name: {k: round(statistics.median(x[k] for x in rs), 3) for k in rs[0]}
        for name, rs in runs.items()
    }
    for name, s in summary.items():
        ratio = s["table_s"] / s["handwritten_s"] if "table_s" in s else float("nan")
        print(f"{name}: {s}  table / hand-written query = {ratio:.2f}")
    if "other" in summary:
        for k in summary["this"]:
            if k.endswith(("_s", "_ms")) and summary["this"][k]:
                print(f"  {k}: other / this = {summary['other'][k] / summary['this'][k]:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    n = summary["this"]["decisions"]
    path = OUT / f"read_{n}{'_drill' if args.drill_only else ''}.json"
    path.write_text(json.dumps({"summary": summary, "runs": runs, "load": os.getloadavg()}))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
