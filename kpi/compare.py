"""Vendor comparison and the scorecard: every catalog KPI per vendor, with the target that
applies to it, its status and its rank.

One long frame (a row per KPI and vendor) that the dashboard's Vendor comparison page, exports and
`bpo-kpi scorecard` all show, so the page and the command give the same numbers:

- **Value** from `kpi_table(by=("vendor",))` for the query's window and filters (period ignored),
  with its 95% interval (`low` / `high`) and its n (the KPI's denominator count).
- **Target** per vendor from the configuration (`kpi.targets.target_for`), resolved per workflow
  (per-vendor overrides within a workflow honoured). A vendor that works in several workflows is
  held to the volume-weighted combination of its workflows' targets: sum over workflows of
  target x n / sum of n, n being the KPI's own basis there (audits for the quality score and
  kappa, decisions with a due time for SLA attainment, decisions for QA coverage and for KPIs
  without a denominator). With exactly one workflow filtered this is that workflow's target.
- **Status** `met` / `missed` (`kpi.targets.status`, in the KPI's direction), `too few` (the n
  is below `kpi.targets.min_shown`: a kappa on fewer than `monitor.min_kappa_audits` audits is
  neither judged nor ranked), `no target` or `no data`.
- **Rank** among the vendors with a value, 1 = best in the KPI's direction; ties share the best
  rank and the next rank skips (competition ranking: 1, 1, 3). Neutral KPIs (volumes such as
  decisions and audits, the dispute rate) are not ranked. A count that grows with volume
  (a `measure` KPI of unit count that is better lower: the backlog, backlog past SLA, pending
  disputes) is ranked *relative to volume*, per 1,000 decisions (audits, for a count of
  audits) in the window (`relative`), so the busiest vendor does not look worst.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kpi.catalog import KPIS, MEASURES, Direction
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.targets import (
    STATUS_WORDS,
    basis_word,
    format_value,
    interval_text,
    min_shown,
    status,
    target_for,
)

COLUMNS = ["kpi", "label", "unit", "direction", "vendor", "value", "low", "high", "n", "enough",
           "target", "status", "relative", "relative_to", "rank", "ranked"]  # fmt: skip
PER = 1000  # a relative count is per this many decisions (or audits)


def relative_basis(kpi: str) -> str | None:
    """The volume a count KPI is ranked relative to (`decisions` or `audits`), or None: a
    `measure` of unit count that is better lower, relative to its source's volume (the backlog
    to decisions)."""
    k = KPIS[kpi]
    if k.kind != "measure" or k.unit != "count" or k.direction != "lower":
        return None
    assert k.measure is not None
    return "audits" if MEASURES[k.measure].source == "audits" else "decisions"


def weight_basis(kpi: str) -> str:
    """The count that weighs a workflow's target in a vendor's combined target: the KPI's n
    (its denominator), else decisions."""
    return KPIS[kpi].denominator or "decisions"


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
    """The one workflow the query is filtered to, if exactly one."""
    values = query.where.get("workflow", ())
    return values[0] if len(values) == 1 else None


def combined_targets(
    gw: Engine, query: KpiQuery, kpis: list[str], as_of: dt.datetime | None = None
) -> dict[tuple[str, str], float]:
    """{(kpi, vendor): target} for the KPIs with a target: each workflow's target for the
    vendor weighted by the KPI's n in that workflow (`weight_basis`). A vendor with no volume
    in the window is held to the target of its workflows weighted equally (none: the default)."""
    with_target = [k for k in kpis if KPIS[k].target]
    if not with_target:
        return {}
    by = query.model_copy(update={"by": ("vendor", "workflow"), "period": None,
                                  "kpis": tuple(with_target)})  # fmt: skip
    cells = kpi_table(gw, by, as_of=as_of, counts=True)
    out: dict[tuple[str, str], float] = {}
    for kpi in with_target:
        basis = weight_basis(kpi)
        for vendor, group in cells.groupby("vendor", sort=True):
            targets = np.array(
                [target_for(gw.config, kpi, w, str(vendor)) for w in group["workflow"]],
                dtype="float64",
            )
            weights = (
                group[basis].fillna(0).to_numpy(dtype="float64")
                if basis in group
                else np.ones(len(group))
            )
            if weights.sum() <= 0:
                weights = np.ones(len(group))
            out[(kpi, str(vendor))] = float(np.average(targets, weights=weights))
    return out


def vendor_comparison(
    gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """A row per KPI (catalog order, or `query.kpis`) and vendor (name order).

    Columns (`COLUMNS`): kpi, label, unit, direction, vendor, value, low / high (the 95%
    interval of interval KPIs, `KPI.interval_method`, else NaN), n (the KPI's denominator
    count, e.g. the audits behind a kappa; NaN for a measure without one), enough (n reaches
    `kpi.targets.min_shown`), target (the volume-weighted target over the vendor's workflows;
    NaN without one), status (met, missed, too few, no target, no data), relative (a count
    per 1,000 of `relative_to`, what it is ranked on; NaN for other KPIs), relative_to
    (`decisions`, `audits` or None), rank (Int64, <NA> = not ranked) and ranked (how many
    vendors were ranked on that KPI).
    """
    kpis = query.kpi_list()
    volumes = {b for k in kpis if (b := relative_basis(k))}
    extra = tuple(v for v in sorted(volumes) if v not in kpis)
    by_vendor = query.model_copy(
        update={"by": ("vendor",), "period": None, "kpis": (*kpis, *extra)}
    )
    table = kpi_table(gw, by_vendor, as_of=as_of, counts=True)
    if not kpis or table.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    targets = combined_targets(gw, query, kpis, as_of)
    parts = []
    for name in kpis:
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
        vendor_targets = [
            targets.get((name, str(v)), target_for(gw.config, name, None, str(v)))
            if kpi.target
            else None
            for v in part["vendor"]
        ]
        part["target"] = pd.Series(
            [np.nan if t is None else t for t in vendor_targets], index=part.index, dtype="float64"
        )
        part["status"] = [
            "too few" if not enough else status(name, None if np.isnan(v) else float(v), t)
            for v, t, enough in zip(part["value"], vendor_targets, part["enough"], strict=True)
        ]
        basis = relative_basis(name)
        if basis is not None:
            volume = table[basis].astype("float64")
            part["relative"] = (judged * PER / volume).where(volume > 0)
            ranked_on = part["relative"]
        else:
            part["relative"] = np.nan
            ranked_on = judged
        part["relative_to"] = basis
        part["rank"] = rank_values(ranked_on, kpi.direction)
        part["ranked"] = int(part["rank"].notna().sum())
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def target_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per vendor: KPIs with a target, how many met and missed it, and how many had no data
    (or too few to judge).

    A KPI without a value, or on too few, counts under `no_data`, not as missed.
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
                "no_data": int(states.isin(["no data", "too few"]).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["vendor", "with_target", "met", "missed", "no_data"])


def value_text(row: pd.Series | dict) -> str:
    """A comparison row's value for people: with its 95% interval and n where it has them
    (`92.1% (90.3%–93.6%, n=1,204)`, `κ 0.71 (0.62–0.80, n=340)`), "too few audits (n=4)"
    below the minimum n, the formatted value otherwise."""
    kpi, n = row["kpi"], row["n"]
    if n is None or np.isnan(n):
        return format_value(kpi, row["value"])
    if not row["enough"]:
        return f"too few {basis_word(kpi)} (n={int(n):,})"
    return interval_text(kpi, row["value"], row["low"], row["high"], n)


def rank_text(row: pd.Series | dict) -> str:
    """`#2 of 4`, with what a count was ranked on (`#1 of 4 (3.1 per 1,000 decisions)`); empty
    when not ranked."""
    rank = row["rank"]
    if rank is None or pd.isna(rank):
        return ""
    text = f"#{int(rank)} of {int(row['ranked'])}"
    if row["relative_to"]:
        text += f" ({row['relative']:,.1f} per {PER:,} {row['relative_to']})"
    return text


def readable_scorecard(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison as people read it (`bpo-kpi scorecard --format table` and the Vendor
    comparison page's details): KPI, vendor, value (with interval and n), target, status in
    words, rank."""
    rows = comparison.to_dict("records")
    return pd.DataFrame(
        {
            "KPI": comparison["label"].astype(str),
            "Vendor": comparison["vendor"].astype(str),
            "Value": [value_text(r) for r in rows],
            "Target": [
                "" if pd.isna(r["target"]) else format_value(r["kpi"], r["target"]) for r in rows
            ],
            "Status": [SCORECARD_STATUS[r["status"]] for r in rows],
            "Rank": [rank_text(r) for r in rows],
        },
        columns=["KPI", "Vendor", "Value", "Target", "Status", "Rank"],
    )


SCORECARD_STATUS = {**STATUS_WORDS, "too few": "too few to judge", "no target": ""}
