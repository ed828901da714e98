"""The vendor x workflow x week KPI table the way a pandas user writes it: load `decisions` and
`audit_facts` from the database into pandas (timed: a pandas user has to), then group by vendor,
workflow and week. The KPIs of `duckdb_sql.py` (counts, exact TAT and handle-time quantiles, SLA,
QA rates with 95% Wilson intervals, Cohen's kappa, the backlog at each week's end).

    python bench/kpi_scripts/pandas_script.py DB OUT.parquet [--tz UTC] [--as-of ISO]
        [--actioning remove,limit,age_gate]

`bench/kpi_bench.py` runs it as a whole process and checks its numbers against bpo-kpi's.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from contract import RATES, arguments  # the scripts' shared command line and rates

BY = ("vendor", "workflow")


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
    dec: pd.DataFrame, aud: pd.DataFrame, tz: str, actioning: list[str], as_of: dt.datetime
) -> Any:
    """The KPI table computed the way a pandas user would write it."""
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
    cut = pd.Timestamp(as_of)
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
    counts = ["decisions", "sla_known", "sla_met", "audits", "audited_decisions", *flags,
              "backlog", "backlog_over_sla"]  # fmt: skip
    for c in counts:
        table[c] = table[c].fillna(0).astype("int64")
    r = table
    for name, num, den, ci, comp in RATES:
        value = _ratio(r[num], r[den])
        r[name] = 1 - value if comp else value
        if ci:
            succ = r[den] - r[num] if comp else r[num]
            r[f"{name}_low"], r[f"{name}_high"] = _wilson(succ, r[den])
    n = r["audits"].astype(float)
    po = _ratio(r["agreements"], r["audits"])
    with np.errstate(divide="ignore", invalid="ignore"):
        pe = r["kappa_pe_num"].fillna(0) / n**2
        r["cohen_kappa"] = ((po - pe) / (1 - pe)).where((n > 0) & (pe < 1))
    return r


def load(db: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The decisions and audit facts the script needs, as a pandas user loads them."""
    con = duckdb.connect(db, read_only=True)
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
    return dec, aud


def main() -> int:
    args, as_of = arguments(__doc__.splitlines()[0])
    start = time.perf_counter()
    dec, aud = load(args.db)
    loaded = time.perf_counter()
    table = pandas_kpis(dec, aud, args.tz, args.actioning.split(","), as_of)
    table.to_parquet(args.out)
    print(f"pandas: load {loaded - start:.2f}s + compute {time.perf_counter() - loaded:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
