"""Vendor comparison: every catalog KPI per vendor, with its target, status and rank.

One long frame (a row per KPI and vendor) that the dashboard's Vendor comparison page, exports and
the CLI can all show the same way:

- **Value** from `kpi_table(by=("vendor",))` for the query's window and filters (period ignored).
- **Target** per vendor from the configuration (`kpi.targets.target_for`): the workflow is the
  query's workflow when it filters exactly one, else none (the default targets, with no
  workflow-level or per-vendor override, since those are defined within a workflow).
- **Status** `met` / `missed` / `no target` / `no data` (`kpi.targets.status`).
- **Rank** among the vendors with a value, 1 = best in the KPI's direction (higher or lower is
  better); ties share the best rank and the next rank skips (competition ranking: 1, 1, 3).
  Neutral KPIs (volumes such as decisions and audits, the dispute rate) are not ranked.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kpi.catalog import KPIS, Direction
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.targets import min_shown, status, target_for

COLUMNS = ["kpi", "label", "unit", "direction", "vendor", "value", "low", "high", "n", "enough",
           "target", "status", "rank", "ranked"]  # fmt: skip


def rank_values(values: pd.Series, direction: Direction) -> pd.Series:
    """Competition rank of each value, 1 = best for `direction`; NaN values and neutral KPIs
    get no rank (<NA>).

    >>> rank_values(pd.Series([0.9, 0.95, 0.9, float("nan")]), "higher").tolist()
    [2, 1, 2, <NA>]
    >>> rank_values(pd.Series([30.0, 10.0, 10.0]), "lower").tolist()
    [3, 1, 1]
    """
    if direction == "neutral":
        return pd.Series(pd.NA, index=values.index, dtype="Int64")
    ranks = values.astype("float64").rank(method="min", ascending=direction == "lower")
    return ranks.astype("Int64")


def single_workflow(query: KpiQuery) -> str | None:
    """The one workflow the query is filtered to, if exactly one (it selects the targets)."""
    values = query.where.get("workflow", ())
    return values[0] if len(values) == 1 else None


def vendor_comparison(
    gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """A row per KPI (catalog order, or `query.kpis`) and vendor (name order).

    Columns: kpi, label, unit, direction, vendor, value, low / high (the 95% interval of
    interval KPIs, `KPI.interval_method`, else NaN), n (the KPI's denominator count, e.g. the
    audits behind a kappa; NaN for a measure), enough (n reaches `kpi.targets.min_shown`: a
    kappa on fewer audits is neither judged against its target, status "no data", nor
    ranked), target (NaN without one), status, rank (Int64, <NA> = not ranked) and ranked (how
    many vendors were ranked on that KPI).
    """
    by_vendor = query.model_copy(update={"by": ("vendor",), "period": None})
    table = kpi_table(gw, by_vendor, as_of=as_of, counts=True)
    workflow = single_workflow(query)
    parts = []
    for name in query.kpi_list():
        kpi = KPIS[name]
        part = pd.DataFrame(
            {
                "kpi": name,
                "label": kpi.label,
                "unit": kpi.unit,
                "direction": kpi.direction,
                "vendor": table["vendor"].astype(object),
                "value": table[name].astype("float64"),
            }
        )
        for bound in ("low", "high"):
            column = f"{name}_{bound}"
            part[bound] = table[column].astype("float64") if column in table else np.nan
        den = kpi.denominator
        part["n"] = table[den].astype("float64") if den in table else np.nan
        part["enough"] = ~(part["n"] < min_shown(gw.config, name))
        judged = part["value"].where(part["enough"])
        targets = [target_for(gw.config, name, workflow, v) for v in part["vendor"]]
        part["target"] = pd.Series(
            [np.nan if t is None else t for t in targets], index=part.index, dtype="float64"
        )
        part["status"] = [
            status(name, None if np.isnan(v) else float(v), t)
            for v, t in zip(judged, targets, strict=True)
        ]
        part["rank"] = rank_values(judged, kpi.direction)
        part["ranked"] = int(part["rank"].notna().sum())
        parts.append(part)
    if not parts or table.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def target_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per vendor: KPIs with a target, how many met and missed it, and how many had no data.

    A KPI without a value counts under `no_data`, not as missed.
    """
    with_target = comparison[comparison["target"].notna()]
    rows = []
    for vendor in sorted(comparison["vendor"].unique()):
        states = with_target.loc[with_target["vendor"] == vendor, "status"]
        rows.append(
            {
                "vendor": vendor,
                "with_target": len(states),
                "met": int((states == "met").sum()),
                "missed": int((states == "missed").sum()),
                "no_data": int((states == "no data").sum()),
            }
        )
    return pd.DataFrame(rows, columns=["vendor", "with_target", "met", "missed", "no_data"])
