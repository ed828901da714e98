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
from typing import TYPE_CHECKING, Any

import numpy as np

from kpi import columns as cols
from kpi.catalog import KPIS, MEASURES, Direction
from kpi.columns import Columns
from kpi.compute import kpi_columns
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

if TYPE_CHECKING:
    import pandas as pd

# Built on numpy columns (`kpi.columns`, `*_columns`): `bpo-kpi scorecard` imports no pandas;
# the Vendor comparison page reads the DataFrame versions.
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


def rank_values(values: np.ndarray, direction: Direction) -> np.ndarray:
    """Competition rank of each value, 1 = best for `direction`; NaN values and neutral KPIs
    get no rank (NaN). Ties share the best rank, the next one skips (pandas' `rank(method=
    "min")`).

    >>> rank_values(np.array([0.9, 0.95, 0.9, float("nan")]), "higher").tolist()
    [2.0, 1.0, 2.0, nan]
    >>> rank_values(np.array([30.0, 10.0, 10.0]), "lower").tolist()
    [3.0, 1.0, 1.0]
    """
    values = np.asarray(values, dtype="float64")
    ranks = np.full(len(values), np.nan)
    if direction == "neutral":
        return ranks
    known = values[~np.isnan(values)]
    for i, v in enumerate(values):
        if not np.isnan(v):
            better = known > v if direction == "higher" else known < v
            ranks[i] = 1 + int(better.sum())
    return ranks


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
    cells = kpi_columns(gw, by, as_of=as_of, counts=True)
    vendors = [str(v) for v in cells.get("vendor", [])]
    out: dict[tuple[str, str], float] = {}
    for kpi in with_target:
        basis = weight_basis(kpi)
        for vendor in sorted(set(vendors)):
            rows = [i for i, v in enumerate(vendors) if v == vendor]
            targets = np.array(
                [target_for(gw.config, kpi, cells["workflow"][i], vendor) for i in rows],
                dtype="float64",
            )
            weights = (
                np.nan_to_num(cells[basis][rows].astype("float64"), nan=0.0)
                if basis in cells
                else np.ones(len(rows))
            )
            if weights.sum() <= 0:
                weights = np.ones(len(rows))
            out[(kpi, vendor)] = float(np.average(targets, weights=weights))
    return out


def vendor_comparison(
    gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """`vendor_comparison_columns` as a DataFrame (rank and ranked as pandas' Int64)."""
    import pandas as pd

    table = vendor_comparison_columns(gw, query, as_of)
    frame = cols.to_frame(table)
    if len(frame):
        frame = frame.astype(
            {"rank": "Int64", "ranked": "int64", "enough": "bool", "vendor": object}
        )
        frame["relative_to"] = pd.Series(table["relative_to"], dtype=object)  # None: no basis
    return frame


def vendor_comparison_columns(
    gw: Engine, query: KpiQuery, as_of: dt.datetime | None = None
) -> Columns:
    """A row per KPI (catalog order, or `query.kpis`) and vendor (name order).

    Columns (`COLUMNS`): kpi, label, unit, direction, vendor, value, low / high (the 95%
    interval of interval KPIs, `KPI.interval_method`, else NaN), n (the KPI's denominator
    count, e.g. the audits behind a kappa; NaN for a measure without one), enough (n reaches
    `kpi.targets.min_shown`), target (the volume-weighted target over the vendor's workflows;
    NaN without one), status (met, missed, too few, no target, no data), relative (a count
    per 1,000 of `relative_to`, what it is ranked on; NaN for other KPIs), relative_to
    (`decisions`, `audits` or None), rank (NaN = not ranked) and ranked (how many vendors
    were ranked on that KPI).
    """
    kpis = query.kpi_list()
    volumes = {b for k in kpis if (b := relative_basis(k))}
    extra = tuple(v for v in sorted(volumes) if v not in kpis)
    by_vendor = query.model_copy(
        update={"by": ("vendor",), "period": None, "kpis": (*kpis, *extra)}
    )
    table = kpi_columns(gw, by_vendor, as_of=as_of, counts=True)
    size = cols.length(table)
    if not kpis or size == 0:
        return {c: cols.object_array([]) for c in COLUMNS}
    targets = combined_targets(gw, query, kpis, as_of)
    nothing = np.full(size, np.nan)
    parts: list[Columns] = []
    for name in kpis:
        kpi = KPIS[name]
        vendors = table["vendor"]
        value = table[name].astype("float64")
        den = kpi.denominator
        n = table[den].astype("float64") if den in table else nothing
        enough = ~(n < min_shown(gw.config, name))
        judged = np.where(enough, value, np.nan)
        vendor_targets = [
            targets.get((name, str(v)), target_for(gw.config, name, None, str(v)))
            if kpi.target
            else None
            for v in vendors
        ]
        basis = relative_basis(name)
        if basis is not None:
            volume = table[basis].astype("float64")
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(volume > 0, judged * PER / volume, np.nan)
            ranked_on = relative
        else:
            relative, ranked_on = nothing, judged
        rank = rank_values(ranked_on, kpi.direction)
        parts.append(
            {
                "kpi": cols.object_array([name] * size),
                "label": cols.object_array([kpi.label] * size),
                "unit": cols.object_array([kpi.unit] * size),
                "direction": cols.object_array([kpi.direction] * size),
                "vendor": vendors,
                "value": value,
                **{
                    bound: table[f"{name}_{bound}"].astype("float64")
                    if f"{name}_{bound}" in table
                    else nothing
                    for bound in ("low", "high")
                },
                "n": n,
                "enough": enough,
                "target": np.array(
                    [np.nan if t is None else t for t in vendor_targets], dtype="float64"
                ),
                "status": cols.object_array(
                    [
                        "too few" if not ok else status(name, None if np.isnan(v) else float(v), t)
                        for v, t, ok in zip(value, vendor_targets, enough, strict=True)
                    ]
                ),
                "relative": relative,
                "relative_to": cols.object_array([basis] * size),
                "rank": rank,
                "ranked": np.full(size, int((~np.isnan(rank)).sum()), dtype="int64"),
            }
        )
    return {c: cols.concat(parts)[c] for c in COLUMNS}


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
    import pandas as pd

    return pd.DataFrame(rows, columns=["vendor", "with_target", "met", "missed", "no_data"])


def value_text(row: pd.Series | dict[str, Any]) -> str:
    """A comparison row's value for people: with its 95% interval and n where it has them
    (`92.1% (90.3%–93.6%, n=1,204)`, `κ 0.71 (0.62–0.80, n=340)`), "too few audits (n=4)"
    below the minimum n, the formatted value otherwise."""
    kpi, n = row["kpi"], row["n"]
    if cols.is_empty(n):
        return format_value(kpi, row["value"])
    if not row["enough"]:
        return f"too few {basis_word(kpi)} (n={int(n):,})"
    return interval_text(kpi, row["value"], row["low"], row["high"], n)


def rank_text(row: pd.Series | dict[str, Any]) -> str:
    """`#2 of 4`, with what a count was ranked on (`#1 of 4 (3.1 per 1,000 decisions)`); empty
    when not ranked."""
    rank = row["rank"]
    if cols.is_empty(rank):
        return ""
    text = f"#{int(rank)} of {int(row['ranked'])}"
    if not cols.is_empty(row["relative_to"]):
        text += f" ({row['relative']:,.1f} per {PER:,} {row['relative_to']})"
    return text


def readable_scorecard(comparison: pd.DataFrame) -> pd.DataFrame:
    """`readable_scorecard_columns` of a `vendor_comparison` frame, as a DataFrame (the
    Vendor comparison page's details)."""
    rows = comparison.to_dict("records")
    return cols.to_frame(_readable(rows))


def readable_scorecard_columns(comparison: Columns) -> Columns:
    """The comparison as people read it (`bpo-kpi scorecard --format table`): KPI, vendor,
    value (with interval and n), target, status in words, rank."""
    return _readable([cols.row(comparison, i) for i in range(cols.length(comparison))])


def _readable(rows: list[dict[str, Any]]) -> Columns:
    return {
        "KPI": cols.object_array([str(r["label"]) for r in rows]),
        "Vendor": cols.object_array([str(r["vendor"]) for r in rows]),
        "Value": cols.object_array([value_text(r) for r in rows]),
        "Target": cols.object_array(
            [
                "" if cols.is_empty(r["target"]) else format_value(r["kpi"], r["target"])
                for r in rows
            ]  # fmt: skip
        ),
        "Status": cols.object_array([SCORECARD_STATUS[r["status"]] for r in rows]),
        "Rank": cols.object_array([rank_text(r) for r in rows]),
    }


SCORECARD_STATUS = {**STATUS_WORDS, "too few": "too few to judge", "no target": ""}
