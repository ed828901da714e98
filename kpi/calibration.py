"""Calibration review: agreement among raters, accuracy against the golden answer, contested items.

Per session (and per vendor within it): accuracy of non-golden ratings against the golden label,
and Fleiss' kappa, Krippendorff's alpha (nominal) and Gwet's AC1 among the non-golden raters,
each with an item-bootstrap 95% interval. Per item: majority label, its share of the raters,
the golden label and a *contested* flag (majority differs from golden, or majority share below
the configured `contested_agreement`), which is what a policy-clarification list needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kpi.agreement import bootstrap_ci, fleiss_kappa, gwet_ac1, krippendorff_alpha
from kpi.gateway import Gateway
from kpi.sql import Params, used
from kpi.stats import wilson_interval_arrays

STATISTICS = {
    "fleiss_kappa": fleiss_kappa,
    "krippendorff_alpha": krippendorff_alpha,
    "gwet_ac1": gwet_ac1,
}


# Landis & Koch (1977): inclusive upper bound of each band from 0 up, and its reading (below 0
# is "poor", above 0.80 "almost perfect").
LANDIS_KOCH = ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"))


def landis_koch(kappa: float) -> str:
    """Landis & Koch's reading of a kappa-type agreement statistic.

    Bands: < 0 poor, 0-0.20 slight, 0.21-0.40 fair, 0.41-0.60 moderate, 0.61-0.80 substantial,
    0.81-1 almost perfect; each band includes its upper bound (0.20 is slight, 0.2001 fair).
    NaN (undefined agreement) reads "undefined".

    >>> landis_koch(0.45), landis_koch(-0.1), landis_koch(0.2)
    ('moderate', 'poor', 'slight')
    """
    if kappa is None or np.isnan(kappa):
        return "undefined"
    if kappa < 0:
        return "poor"
    for upper, reading in LANDIS_KOCH:
        if kappa <= upper:
            return reading
    return "almost perfect"


def ratings(
    gw: Gateway,
    session_ids: Sequence[str] | None = None,
    workflow: str | None = None,
    vendor: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Calibration ratings (a vendor filter keeps that vendor's raters plus golden answers)."""
    params = Params()
    conds = ["true"]
    if session_ids:
        conds.append(f"session_id IN (SELECT unnest({params.bind(list(session_ids))}))")
    if workflow:
        conds.append(f"workflow = {params.bind(workflow)}")
    if vendor:
        conds.append(f"(vendor = {params.bind(vendor)} OR is_golden)")
    if start:
        conds.append(f"session_date >= {params.bind(start)}")
    if end:
        conds.append(f"session_date <= {params.bind(end)}")
    sql = (
        "SELECT session_id, session_date, workflow, item_id, rater_id, vendor, label, policy, "
        f"coalesce(is_golden, false) AS is_golden FROM calibration_ratings "
        f"WHERE {' AND '.join(conds)} ORDER BY session_date, session_id, item_id, rater_id"
    )
    return gw.frame(sql, used(sql, params.values))


def sessions(gw: Gateway, workflow: str | None = None) -> pd.DataFrame:
    """Sessions with their date, workflow, items and raters, newest first."""
    params = Params()
    where = f"WHERE workflow = {params.bind(workflow)}" if workflow else ""
    sql = (
        "SELECT session_id, session_date, workflow, count(DISTINCT item_id) AS items, "
        "count(DISTINCT rater_id) FILTER (WHERE NOT coalesce(is_golden, false)) AS raters, "
        "list(DISTINCT vendor ORDER BY vendor) AS vendors "
        f"FROM calibration_ratings {where} GROUP BY ALL ORDER BY session_date DESC, session_id"
    )
    return gw.frame(sql, used(sql, params.values))


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"item_id": "item", "rater_id": "rater"})[
        ["item", "rater", "label"]
    ]


def _golden(frame: pd.DataFrame) -> pd.Series:
    gold = frame[frame["is_golden"]]
    return gold.set_index(["session_id", "item_id"])["label"]


def summary(
    frame: pd.DataFrame, by_vendor: bool = True, n_boot: int = 500, seed: int = 0
) -> pd.DataFrame:
    """One row per session (vendor `all`) and, with `by_vendor`, per session and vendor."""
    golden = _golden(frame)
    raters = frame[~frame["is_golden"]]
    rows = []
    for (session, date, workflow), part in raters.groupby(
        ["session_id", "session_date", "workflow"], sort=True
    ):
        groups = [("all", part)]
        if by_vendor:
            groups += list(part.groupby("vendor", sort=True))
        for vendor, g in groups:
            key = pd.MultiIndex.from_arrays([g["session_id"], g["item_id"]])
            gold = golden.reindex(key).to_numpy()
            has_gold = pd.notna(gold)
            correct = int((g["label"].to_numpy()[has_gold] == gold[has_gold]).sum())
            judged = int(has_gold.sum())
            row = {
                "session_id": session,
                "session_date": date,
                "workflow": workflow,
                "vendor": vendor,
                "items": g["item_id"].nunique(),
                "raters": g["rater_id"].nunique(),
                "ratings": len(g),
                "accuracy": correct / judged if judged else np.nan,
            }
            low, high = wilson_interval_arrays(np.array([correct]), np.array([judged]))
            row["accuracy_low"], row["accuracy_high"] = float(low[0]), float(high[0])
            long = _long(g)
            for name, stat in STATISTICS.items():
                row[name] = stat(long)
                lo, hi = bootstrap_ci(long, stat, n_boot=n_boot, seed=seed)
                row[f"{name}_low"], row[f"{name}_high"] = lo, hi
            rows.append(row)
    return pd.DataFrame(rows)


def items(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per session item: majority label and share, golden label, contested flag, every label.

    Ties for the majority are broken by label name so the result is deterministic; a tie
    always has a share at most 0.5.
    """
    golden = _golden(frame)
    golden_policy = frame[frame["is_golden"]].set_index(["session_id", "item_id"])["policy"]
    raters = frame[~frame["is_golden"]]
    rows = []
    for (session, item), g in raters.groupby(["session_id", "item_id"], sort=True):
        counts = g["label"].value_counts()
        top = counts.max()
        majority = sorted(counts[counts == top].index)[0]
        gold = golden.get((session, item))
        share = top / len(g)
        rows.append(
            {
                "session_id": session,
                "item_id": item,
                "workflow": g["workflow"].iat[0],
                "raters": len(g),
                "majority_label": majority,
                "agreement_share": share,
                "golden_label": gold,
                "golden_policy": golden_policy.get((session, item)),
                "majority_matches_golden": (majority == gold) if gold is not None else None,
                "contested": bool((gold is not None and majority != gold) or share < threshold),
                "labels": "; ".join(
                    f"{r}: {lab}" for r, lab in zip(g["rater_id"], g["label"], strict=True)
                ),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values(
        ["contested", "agreement_share", "session_id", "item_id"],
        ascending=[False, True, True, True],
    ).reset_index(drop=True)


def rater_accuracy(frame: pd.DataFrame) -> pd.DataFrame:
    """Per rater: ratings judged against a golden answer, correct ones, accuracy with Wilson."""
    golden = _golden(frame)
    raters = frame[~frame["is_golden"]].copy()
    key = pd.MultiIndex.from_arrays([raters["session_id"], raters["item_id"]])
    raters["golden"] = golden.reindex(key).to_numpy()
    raters = raters[raters["golden"].notna()]
    raters["correct"] = raters["label"] == raters["golden"]
    out = raters.groupby(["vendor", "rater_id"], as_index=False).agg(
        judged=("correct", "size"), correct=("correct", "sum")
    )
    out["accuracy"] = out["correct"] / out["judged"]
    low, high = wilson_interval_arrays(
        out["correct"].to_numpy(float), out["judged"].to_numpy(float)
    )
    out["accuracy_low"], out["accuracy_high"] = low, high
    return out.sort_values(["accuracy", "rater_id"]).reset_index(drop=True)


def confusion(frame: pd.DataFrame) -> pd.DataFrame:
    """Golden label (rows) x rater label (columns): counts of non-golden ratings."""
    golden = _golden(frame)
    raters = frame[~frame["is_golden"]]
    key = pd.MultiIndex.from_arrays([raters["session_id"], raters["item_id"]])
    gold = golden.reindex(key).to_numpy()
    data = pd.DataFrame({"golden": gold, "label": raters["label"].to_numpy()}).dropna()
    return pd.crosstab(data["golden"], data["label"])
