"""The vendor x workflow x week KPI table as one hand-written DuckDB query: what someone who
knows SQL writes for the KPIs of `pandas_script.py` (counts, exact TAT and handle-time
quantiles, SLA, QA rates with 95% Wilson intervals, Cohen's kappa, the backlog at each week's
end), with none of bpo-kpi's generality (filters, scopes, periods, late-data rules).

    python bench/kpi_scripts/duckdb_sql.py DB OUT.parquet [--tz UTC] [--as-of ISO]
        [--actioning remove,limit,age_gate]

Imports DuckDB only; the table goes to a Parquet file (DuckDB's COPY). `bench/kpi_bench.py`
runs it as a whole process and, in process, against `kpi.compute.kpi_table`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import duckdb
from contract import RATES, arguments  # the scripts' shared command line and rates

Z95 = 1.959963984540054  # the two-sided 95% normal quantile
US_DAY = 86_400_000_000


def week(column: str) -> str:
    """The week of an instant as an integer (weeks since Monday 1969-12-29, local time): epoch
    microseconds plus the zone's fixed offset ($offset_us), integer-divided. Much cheaper per
    row than `date_trunc('week', timezone(zone, t))`; a zone with daylight saving time has no
    fixed offset (main() refuses it)."""
    return f"(epoch_us({column}) + $offset_us + {3 * US_DAY}) // {7 * US_DAY}"


def monday(week_number: str) -> str:
    return f"DATE '1970-01-01' + ({week_number} * 7 - 3)::INTEGER"


def _wilson(x: str, n: str, bound: str) -> str:
    sign = "-" if bound == "low" else "+"
    p = f"({x})::DOUBLE / ({n})"
    return (
        f"CASE WHEN ({n}) > 0 THEN (({p} + {Z95}^2 / (2 * ({n}))) {sign} {Z95} * "
        f"sqrt({p} * (1 - {p}) / ({n}) + {Z95}^2 / (4 * ({n})^2))) / (1 + {Z95}^2 / ({n})) END"
    )


# (KPI, numerator, denominator, with interval, complement: 1 - share)


def _rates() -> str:
    out = []
    for name, num, den, ci, comp in RATES:
        share = f"CASE WHEN {den} > 0 THEN {num}::DOUBLE / {den} END"
        out.append(f"{'1 - ' if comp else ''}{share} AS {name}")
        if ci:
            succ = f"{den} - {num}" if comp else num
            out.append(f"{_wilson(succ, den, 'low')} AS {name}_low")
            out.append(f"{_wilson(succ, den, 'high')} AS {name}_high")
    return ",\n    ".join(out)


SQL = f"""
WITH d AS (
  SELECT vendor, workflow,
    {week("decided_at")} AS period_start,
    (epoch(decided_at) - epoch(enqueued_at)) / 60.0 AS tat,
    (epoch(decided_at) - epoch(claimed_at)) / 60.0 AS handle,
    due_at IS NOT NULL AS sla_known,
    due_at IS NOT NULL AND decided_at <= due_at AS sla_met
  FROM decisions WHERE decided_at IS NOT NULL
), dec AS (
  SELECT vendor, workflow, period_start, count(*) AS decisions,
    quantile_cont(tat, [0.5, 0.9, 0.95, 0.99]) AS tq, avg(tat) AS tat_mean,
    avg(handle) AS handle_minutes_mean, quantile_cont(handle, 0.9) AS handle_minutes_p90,
    count_if(sla_known) AS sla_known, count_if(sla_met) AS sla_met
  FROM d GROUP BY ALL
), a AS (
  SELECT vendor, workflow, {week("decided_at")} AS period_start,
    decision_id, decision, qa_decision, coalesce(is_error, false) AS err, severity, error_type,
    dispute_status
  FROM audit_facts WHERE decided_at IS NOT NULL AND NOT coalesce(is_orphan, false)
), aud AS (
  SELECT vendor, workflow, period_start, count(*) AS audits,
    count(DISTINCT decision_id) AS audited_decisions,
    count_if(err) AS errors,
    count_if(err AND severity = 'critical') AS critical_errors,
    count_if(decision = qa_decision) AS agreements,
    count_if(list_contains($actioning, decision)) AS actioning_audits,
    count_if(list_contains($actioning, qa_decision)) AS qa_actioning_audits,
    count_if(err AND error_type = 'over_enforcement') AS over_enforcement_errors,
    count_if(err AND error_type = 'under_enforcement') AS under_enforcement_errors,
    count_if(error_type IS NOT NULL) AS error_typed,
    count_if(error_type IS NOT NULL AND dispute_status IN ('pending', 'upheld', 'overturned'))
      AS disputed,
    count_if(dispute_status IN ('upheld', 'overturned')) AS dispute_resolved,
    count_if(dispute_status = 'overturned') AS overturned
  FROM a GROUP BY ALL
), labels AS (
  SELECT vendor, workflow, period_start, label, count(*) FILTER (WHERE side = 0) AS cv,
    count(*) FILTER (WHERE side = 1) AS cq
  FROM (SELECT vendor, workflow, period_start, decision AS label, 0 AS side FROM a
        UNION ALL
        SELECT vendor, workflow, period_start, qa_decision, 1 FROM a)
  WHERE label IS NOT NULL GROUP BY ALL
), pe AS (
  SELECT vendor, workflow, period_start, sum(cv * cq) AS kappa_pe_num FROM labels GROUP BY ALL
), ev0 AS (
  -- One scan for the backlog's four events: decisions by the weeks they entered, left, fell
  -- due and stopped being overdue (few distinct combinations), then one row per event.
  SELECT vendor, workflow,
    CASE WHEN enqueued_at < $as_of THEN {week("enqueued_at")} END AS w_in,
    CASE WHEN decided_at < $as_of THEN {week("decided_at")} END AS w_out,
    CASE WHEN due_at < $as_of THEN {week("due_at")} END AS w_due,
    CASE WHEN greatest(due_at, decided_at) < $as_of AND decided_at IS NOT NULL
      THEN {week("greatest(due_at, decided_at)")} END AS w_due_out,
    count(*) AS n
  FROM decisions GROUP BY ALL
), ev AS (
  SELECT vendor, workflow, period_start, sum(b) AS b, sum(o) AS o FROM (
    SELECT vendor, workflow, w_in AS period_start, n AS b, 0 AS o FROM ev0 WHERE w_in NOT NULL
    UNION ALL SELECT vendor, workflow, w_out, -n, 0 FROM ev0 WHERE w_out NOT NULL
    UNION ALL SELECT vendor, workflow, w_due, 0, n FROM ev0 WHERE w_due NOT NULL
    UNION ALL SELECT vendor, workflow, w_due_out, 0, -n FROM ev0 WHERE w_due_out NOT NULL)
  GROUP BY ALL
), grid AS (
  SELECT g.vendor, g.workflow, w.period_start
  FROM (SELECT DISTINCT vendor, workflow FROM ev) g,
    (SELECT unnest(generate_series((SELECT min(period_start) FROM ev), {week("$as_of")}))
       AS period_start) w
), bl AS (
  SELECT * FROM (
    SELECT grid.vendor, grid.workflow, grid.period_start,
      sum(coalesce(ev.b, 0)) OVER w AS backlog, sum(coalesce(ev.o, 0)) OVER w AS backlog_over_sla
    FROM grid LEFT JOIN ev USING (vendor, workflow, period_start)
    WINDOW w AS (PARTITION BY grid.vendor, grid.workflow ORDER BY grid.period_start))
  WHERE backlog <> 0 OR backlog_over_sla <> 0
), t AS (
  SELECT * EXCLUDE (tq), tq[1] AS tat_p50, tq[2] AS tat_p90, tq[3] AS tat_p95, tq[4] AS tat_p99
  FROM dec FULL JOIN aud USING (vendor, workflow, period_start)
    FULL JOIN pe USING (vendor, workflow, period_start)
    FULL JOIN bl USING (vendor, workflow, period_start)
), c AS (
  SELECT * REPLACE (
    coalesce(decisions, 0) AS decisions, coalesce(sla_known, 0) AS sla_known,
    coalesce(sla_met, 0) AS sla_met, coalesce(audits, 0) AS audits,
    coalesce(audited_decisions, 0) AS audited_decisions, coalesce(errors, 0) AS errors,
    coalesce(backlog, 0) AS backlog, coalesce(backlog_over_sla, 0) AS backlog_over_sla)
  FROM t
)
SELECT vendor, workflow, {monday("period_start")} AS period_start, decisions,
  tat_p50, tat_p90, tat_p95, tat_p99, tat_mean, handle_minutes_mean, handle_minutes_p90,
  backlog::BIGINT AS backlog, backlog_over_sla::BIGINT AS backlog_over_sla, audits,
  {_rates()},
  CASE WHEN audits > 0 AND coalesce(kappa_pe_num, 0) < audits^2 THEN
    (agreements::DOUBLE / audits - coalesce(kappa_pe_num, 0) / audits^2)
    / (1 - coalesce(kappa_pe_num, 0) / audits^2)
  END AS cohen_kappa
FROM c ORDER BY vendor, workflow, period_start
"""


def kpis(
    con: duckdb.DuckDBPyConnection, tz: str, as_of: dt.datetime, actioning: Sequence[str]
) -> duckdb.DuckDBPyRelation:
    """The KPI table (a relation: fetch it, or COPY it to a file)."""
    offsets = {ZoneInfo(tz).utcoffset(dt.datetime(as_of.year, m, 1)) for m in (1, 7)}
    if len(offsets) != 1:
        raise SystemExit(f"{tz} has daylight saving time: this query assumes a fixed offset")
    offset_us = int(offsets.pop().total_seconds()) * 1_000_000  # type: ignore[union-attr]
    params = {"offset_us": offset_us, "as_of": as_of, "actioning": list(actioning)}
    return con.sql(SQL, params=params)


def main() -> int:
    args, as_of = arguments(__doc__.splitlines()[0])
    start = time.perf_counter()
    con = duckdb.connect(args.db, read_only=True)
    kpis(con, args.tz, as_of, args.actioning.split(",")).write_parquet(args.out)
    con.close()
    print(f"duckdb_sql: {time.perf_counter() - start:.2f}s in process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
