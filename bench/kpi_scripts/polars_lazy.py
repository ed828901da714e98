"""The vendor x workflow x week KPI table with polars' lazy API: load `decisions` and
`audit_facts` from the database (DuckDB -> Arrow -> polars, timed: a polars user has to), then
one lazy query plan per part, collected together. The KPIs of `duckdb_sql.py` (counts, exact
TAT and handle-time quantiles, SLA, QA rates with 95% Wilson intervals, Cohen's kappa, the
backlog at each week's end).

    python bench/kpi_scripts/polars_lazy.py DB OUT.parquet [--tz UTC] [--as-of ISO]
        [--actioning remove,limit,age_gate]

Needs polars: `pip install -e '.[bench]'`. `bench/kpi_bench.py` runs it as a whole process and
checks its numbers against bpo-kpi's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
from contract import RATES, arguments  # the scripts' shared command line and rates

BY = ["vendor", "workflow"]
KEYS = [*BY, "period_start"]
Z = 1.959963984540054  # the two-sided 95% normal quantile
DISPUTED = ["pending", "upheld", "overturned"]
RESOLVED = ["upheld", "overturned"]


def week(column: str | pl.Expr, tz: str) -> pl.Expr:
    """Monday (local midnight, naive) of the ISO week holding each instant."""
    col = pl.col(column) if isinstance(column, str) else column
    return col.dt.convert_time_zone(tz).dt.replace_time_zone(None).dt.truncate("1w")


def wilson(x: pl.Expr, n: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    p = x.cast(pl.Float64) / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * (p * (1 - p) / n + Z * Z / (4 * n * n)).sqrt() / (1 + Z * Z / n)
    ok = n > 0
    return pl.when(ok).then(centre - half), pl.when(ok).then(centre + half)


def polars_kpis(
    dec: pl.LazyFrame, aud: pl.LazyFrame, tz: str, actioning: Sequence[str], as_of: dt.datetime
) -> pl.LazyFrame:
    minutes = 60_000_000.0
    # DuckDB hands over its instants as Etc/UTC; compare them with as_of in one zone.
    dec = dec.with_columns(pl.col(pl.Datetime("us", "*")).dt.convert_time_zone("UTC"))
    aud = aud.with_columns(pl.col(pl.Datetime("us", "*")).dt.convert_time_zone("UTC"))
    d = (
        dec.filter(pl.col("decided_at").is_not_null())
        .with_columns(
            period_start=week("decided_at", tz),
            tat=(pl.col("decided_at") - pl.col("enqueued_at")).dt.total_microseconds() / minutes,
            handle=(pl.col("decided_at") - pl.col("claimed_at")).dt.total_microseconds() / minutes,
            sla_known=pl.col("due_at").is_not_null(),
            sla_met=(
                pl.col("due_at").is_not_null() & (pl.col("decided_at") <= pl.col("due_at"))
            ).fill_null(False),
        )
        .group_by(KEYS)
        .agg(
            decisions=pl.len(),
            tat_p50=pl.col("tat").quantile(0.5, "linear"),
            tat_p90=pl.col("tat").quantile(0.9, "linear"),
            tat_p95=pl.col("tat").quantile(0.95, "linear"),
            tat_p99=pl.col("tat").quantile(0.99, "linear"),
            tat_mean=pl.col("tat").mean(),
            handle_minutes_mean=pl.col("handle").mean(),
            handle_minutes_p90=pl.col("handle").quantile(0.9, "linear"),
            sla_known=pl.col("sla_known").sum(),
            sla_met=pl.col("sla_met").sum(),
        )
    )

    a = aud.filter(
        pl.col("decided_at").is_not_null() & ~pl.col("is_orphan").fill_null(False)
    ).with_columns(period_start=week("decided_at", tz), err=pl.col("is_error").fill_null(False))
    err, etype, dispute = pl.col("err"), pl.col("error_type"), pl.col("dispute_status")
    audits = a.group_by(KEYS).agg(
        audits=pl.len(),
        audited_decisions=pl.col("decision_id").n_unique(),
        errors=err.sum(),
        critical_errors=(err & (pl.col("severity") == "critical").fill_null(False)).sum(),
        agreements=(pl.col("decision") == pl.col("qa_decision")).fill_null(False).sum(),
        actioning_audits=pl.col("decision").is_in(list(actioning)).fill_null(False).sum(),
        qa_actioning_audits=pl.col("qa_decision").is_in(list(actioning)).fill_null(False).sum(),
        over_enforcement_errors=(err & (etype == "over_enforcement").fill_null(False)).sum(),
        under_enforcement_errors=(err & (etype == "under_enforcement").fill_null(False)).sum(),
        error_typed=etype.is_not_null().sum(),
        disputed=(etype.is_not_null() & dispute.is_in(DISPUTED).fill_null(False)).sum(),
        dispute_resolved=dispute.is_in(RESOLVED).fill_null(False).sum(),
        overturned=(dispute == "overturned").fill_null(False).sum(),
    )
    # Cohen's kappa: chance agreement from the two label distributions of each group.
    v = (
        a.filter(pl.col("decision").is_not_null())
        .group_by([*KEYS, pl.col("decision").alias("label")])
        .agg(cv=pl.len())
    )
    q = (
        a.filter(pl.col("qa_decision").is_not_null())
        .group_by([*KEYS, pl.col("qa_decision").alias("label")])
        .agg(cq=pl.len())
    )
    pe = (
        v.join(q, on=[*KEYS, "label"])
        .group_by(KEYS)
        .agg(kappa_pe_num=(pl.col("cv") * pl.col("cq")).sum())
    )

    # Backlog at each week's end: running sums of enqueue / decide / due events before as_of.
    cut = pl.lit(as_of).cast(pl.Datetime("us", "UTC"))
    decided, due = pl.col("decided_at"), pl.col("due_at")
    parts = [
        (pl.col("enqueued_at"), 1, 0, None),
        (decided, -1, 0, None),
        (due, 0, 1, None),
        (pl.max_horizontal(due, decided), 0, -1, due.is_not_null() & decided.is_not_null()),
    ]
    events = []
    for at, b, o, keep in parts:
        frame = dec if keep is None else dec.filter(keep)
        events.append(
            frame.select(*BY, t=at, b=pl.lit(b, pl.Int64), o=pl.lit(o, pl.Int64)).filter(
                pl.col("t") < cut
            )
        )
    ev = (
        pl.concat(events)
        .with_columns(period_start=week("t", tz))
        .group_by(KEYS)
        .agg(pl.col("b").sum(), pl.col("o").sum())
    )
    local = as_of.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    last = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time())
    weeks = ev.select(
        period_start=pl.datetime_range(
            pl.col("period_start").min(), pl.lit(last), "1w", time_unit="us"
        )
    )
    backlog = (
        ev.select(BY)
        .unique()
        .join(weeks, how="cross")
        .join(ev, on=KEYS, how="left")
        .sort(KEYS)
        .with_columns(
            backlog=pl.col("b").fill_null(0).cum_sum().over(BY),
            backlog_over_sla=pl.col("o").fill_null(0).cum_sum().over(BY),
        )
        .filter((pl.col("backlog") != 0) | (pl.col("backlog_over_sla") != 0))
        .select(*KEYS, "backlog", "backlog_over_sla")
    )

    table = (
        d.join(audits, on=KEYS, how="full", coalesce=True)
        .join(pe, on=KEYS, how="full", coalesce=True)
        .join(backlog, on=KEYS, how="full", coalesce=True)
    )
    counts = ["decisions", "sla_known", "sla_met", "audits", "audited_decisions", "errors",
              "critical_errors", "agreements", "actioning_audits", "qa_actioning_audits",
              "over_enforcement_errors", "under_enforcement_errors", "error_typed", "disputed",
              "dispute_resolved", "overturned", "backlog", "backlog_over_sla"]  # fmt: skip
    table = table.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts)
    rates = []
    for name, num, den, ci, comp in RATES:
        n = pl.col(den)
        share = pl.when(n > 0).then(pl.col(num).cast(pl.Float64) / n)
        rates.append((1 - share if comp else share).alias(name))
        if ci:
            low, high = wilson(n - pl.col(num) if comp else pl.col(num), n)
            rates += [low.alias(f"{name}_low"), high.alias(f"{name}_high")]
    n = pl.col("audits").cast(pl.Float64)
    pe_share = pl.col("kappa_pe_num").fill_null(0) / (n * n)
    kappa = (pl.col("agreements") / n - pe_share) / (1 - pe_share)
    rates.append(pl.when((n > 0) & (pe_share < 1)).then(kappa).alias("cohen_kappa"))
    return table.with_columns(rates).sort(KEYS)


def main() -> int:
    args, as_of = arguments(__doc__.splitlines()[0])
    start = time.perf_counter()
    con = duckdb.connect(args.db, read_only=True)
    dec = con.sql(
        "SELECT vendor, workflow, enqueued_at, claimed_at, decided_at, due_at FROM decisions"
    ).pl()
    aud = con.sql(
        "SELECT decision_id, vendor, workflow, decided_at, is_orphan, is_error, severity, "
        "decision, qa_decision, error_type, dispute_status FROM audit_facts"
    ).pl()
    con.close()
    loaded = time.perf_counter()
    table = polars_kpis(dec.lazy(), aud.lazy(), args.tz, args.actioning.split(","), as_of)
    table.collect().write_parquet(args.out)
    print(f"polars: load {loaded - start:.2f}s + compute {time.perf_counter() - loaded:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
