"""Calibration review: agreement among raters, accuracy against the golden answer, contested items.

Per session (and per vendor within it): accuracy of non-golden ratings against the golden label
with a 95% interval clustered two-way by item and rater (`accuracy`), and Fleiss' kappa,
Krippendorff's alpha (nominal) and Gwet's AC1 among the non-golden raters, each with an
item-bootstrap 95% interval. Per rater: accuracy with a Wilson interval (`rater_accuracy`). Per
item: majority label, its share of the raters, the golden label and a *contested* flag
(majority differs from golden, or majority share below the configured `contested_agreement`),
which is what a policy-clarification list needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi.agreement import estimate_with_ci, fleiss_kappa, gwet_ac1, krippendorff_alpha
from kpi.engines import Engine
from kpi.sql import calibration as sql
from kpi.stats import clustered_share_interval, wilson_interval_arrays

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
    gw: Engine,
    session_ids: Sequence[str] | None = None,
    workflow: str | None = None,
    vendor: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Calibration ratings (a vendor filter keeps that vendor's raters plus golden answers)."""
    return gw.frame(*sql.ratings(session_ids, workflow, vendor, start, end))


def sessions(gw: Engine, workflow: str | None = None) -> pd.DataFrame:
    """Sessions with their date, workflow, items and raters, newest first."""
    return gw.frame(*sql.sessions(workflow))


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"item_id": "item", "rater_id": "rater"})[
        ["item", "rater", "label"]
    ]


def _golden(frame: pd.DataFrame) -> pd.Series:
    gold = frame[frame["is_golden"]]
    return gold.set_index(["session_id", "item_id"])["label"]


def _judged(frame: pd.DataFrame) -> pd.DataFrame:
    """Non-golden ratings of items with a golden answer, with `golden` and `correct` columns."""
    golden = _golden(frame)
    raters = frame[~frame["is_golden"]]
    key = pd.MultiIndex.from_arrays([raters["session_id"], raters["item_id"]])
    out = raters.assign(golden=golden.reindex(key).to_numpy())
    out = out[out["golden"].notna()]
    return out.assign(correct=(out["label"] == out["golden"]).to_numpy(bool))


def _item_codes(ratings: pd.DataFrame) -> np.ndarray:
    """One code per (session, item) of the ratings: items are clusters within their session."""
    session, _ = pd.factorize(ratings["session_id"])
    item, items = pd.factorize(ratings["item_id"])
    return session * max(len(items), 1) + item


def accuracy(frame: pd.DataFrame, confidence: float = 0.95) -> dict[str, float]:
    """Accuracy of the non-golden ratings against the golden answer, with its interval.

    `accuracy` = correct / judged, where judged are the ratings of items that have a golden
    answer. The interval (`accuracy_low`, `accuracy_high`) is clustered two-way, by item
    (session, item) and by rater: a session's ratings are a few dozen raters' labels on the
    same few dozen items, so an easy item or a strong rater moves many of them together and
    they are not independent. It is the cluster-robust variance of the mean of the 0/1
    `correct` indicator (Cameron, Gelbach & Miller 2011, via statsmodels), a Student interval
    on min(items, raters) - 1 degrees of freedom, never narrower than the Wilson interval of the
    same counts (`kpi.stats.clustered_share_interval`). It estimates the accuracy of raters like
    these on items like these: with few raters (a vendor with 3 to 6) it is wide, as it should
    be. A single rater's accuracy is `rater_accuracy`'s (items only). No judged rating: NaN.
    """
    judged = _judged(frame)
    n, correct = len(judged), int(judged["correct"].sum())
    low, high = clustered_share_interval(
        judged["correct"].to_numpy(float),
        [_item_codes(judged), judged["rater_id"].to_numpy()],
        confidence,
    )
    return {
        "judged": n,
        "correct": correct,
        "accuracy": correct / n if n else np.nan,
        "accuracy_low": low,
        "accuracy_high": high,
    }


def summary(
    frame: pd.DataFrame, by_vendor: bool = True, n_boot: int = 500, seed: int = 0
) -> pd.DataFrame:
    """One row per session (vendor `all`) and, with `by_vendor`, per session and vendor.

    Accuracy against the golden answer with its interval clustered by item and rater
    (`accuracy`); each agreement statistic with its item-bootstrap interval (`estimate_with_ci`:
    items resampled, raters as they are).
    """
    golden = frame[frame["is_golden"]]
    raters = frame[~frame["is_golden"]]
    rows = []
    for (session, date, workflow), part in raters.groupby(
        ["session_id", "session_date", "workflow"], sort=True
    ):
        groups = [("all", part)]
        if by_vendor:
            groups += list(part.groupby("vendor", sort=True))
        for vendor, g in groups:
            judged = accuracy(pd.concat([golden[golden["session_id"] == session], g]))
            row = {
                "session_id": session,
                "session_date": date,
                "workflow": workflow,
                "vendor": vendor,
                "items": g["item_id"].nunique(),
                "raters": g["rater_id"].nunique(),
                "ratings": len(g),
                "accuracy": judged["accuracy"],
                "accuracy_low": judged["accuracy_low"],
                "accuracy_high": judged["accuracy_high"],
            }
            long = _long(g)
            for name, stat in STATISTICS.items():
                value, lo, hi = estimate_with_ci(long, stat, n_boot=n_boot, seed=seed)
                row[name], row[f"{name}_low"], row[f"{name}_high"] = value, lo, hi
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


def rater_accuracy(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per rater: ratings judged against a golden answer, correct ones, accuracy with Wilson.

    The Wilson interval is the right one here although items differ in difficulty: a rater
    rates each session item once (the ratings' key is session, item, rater), so the rater's
    judged ratings are one per item, on items drawn independently, and are independent
    Bernoulli trials with the rater's accuracy over such items -- clustering by item is the
    identity, and an item bootstrap would only resample them one by one (with a worse interval
    near 100%). Should a rater have several ratings of one item (not possible after ingest), that
    rater's interval is clustered by item (`kpi.stats.clustered_share_interval`). The interval
    is about this rater; the accuracy of raters in general (a vendor, everyone) is `accuracy`'s.
    """
    raters = _judged(frame)
    out = raters.groupby(["vendor", "rater_id"], as_index=False).agg(
        judged=("correct", "size"), correct=("correct", "sum")
    )
    out["accuracy"] = out["correct"] / out["judged"]
    low, high = wilson_interval_arrays(
        out["correct"].to_numpy(float), out["judged"].to_numpy(float), confidence
    )
    repeated = raters.duplicated(["vendor", "rater_id", "session_id", "item_id"])
    for vendor, rater in (
        raters.loc[repeated, ["vendor", "rater_id"]].drop_duplicates().itertuples(index=False)
    ):
        mine = raters[(raters["vendor"] == vendor) & (raters["rater_id"] == rater)]
        at = np.flatnonzero((out["vendor"] == vendor) & (out["rater_id"] == rater))[0]
        low[at], high[at] = clustered_share_interval(
            mine["correct"].to_numpy(float),
            [_item_codes(mine)],
            confidence,
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


# --- the calibration review: one selection of sessions, as the dashboard shows it -------------

REVIEW_N_BOOT = 500
POOLED = "selection"  # session_id of the statistics pooled over a selection of several sessions


def iso_week(day: dt.date) -> str:
    """ISO week of a day, e.g. ``2026-W47`` (weeks start on Monday).

    >>> iso_week(dt.date(2026, 11, 19)), iso_week(dt.date(2027, 1, 1))
    ('2026-W47', '2026-W53')
    """
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def session_choices(
    gw: Engine,
    start: dt.date | None = None,
    end: dt.date | None = None,
    workflows: Sequence[str] = (),
    vendors: Sequence[str] = (),
) -> pd.DataFrame:
    """Sessions a review can pick from, newest first.

    One row per session held between `start` and `end` (session_date, inclusive) in one of
    `workflows`: its date, ISO `week`, workflow, items, non-golden `raters` and the vendors
    those raters belong to (`rater_vendors`, a sorted tuple). With `vendors`, only those
    vendors' raters count and a session none of them rated is left out. Empty `workflows` /
    `vendors` mean no restriction.
    """
    out = gw.frame(*sql.session_choices(start, end, workflows, vendors))
    out["session_date"] = pd.to_datetime(out["session_date"]).dt.date
    out.insert(2, "week", [iso_week(d) for d in out["session_date"]])
    out["raters"] = out["raters"].astype("int64")
    out["rater_vendors"] = [tuple(v) if v is not None else () for v in out["rater_vendors"]]
    return out


@dataclass(frozen=True)
class Review:
    """What a calibration review shows for one selection of sessions and vendors.

    - `overall`: the statistics of `summary` pooled over the selection (one session: that
      session's rows), a row `all` for every selected rater and, when raters of more than one
      vendor took part, a row per vendor. Pooling keys each item by its session, so a week's
      kappa is the agreement over all of that week's items.
    - `by_session`: `summary` per session (per vendor too when only one session is selected).
    - `raters`, `confusion`, `items`: `rater_accuracy`, `confusion` and `items` of the
      selection (contested items first).
    - `trend`: the `all` rows of `summary` for every trend session (selection included).

    Summaries carry a Landis-Koch reading (`<statistic>_reading`) for each agreement statistic.
    """

    sessions: tuple[str, ...]
    vendors: tuple[str, ...]
    threshold: float
    overall: pd.DataFrame
    by_session: pd.DataFrame
    raters: pd.DataFrame
    confusion: pd.DataFrame
    items: pd.DataFrame
    trend: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.by_session.empty


def keep_vendors(frame: pd.DataFrame, vendors: Sequence[str]) -> pd.DataFrame:
    """Ratings of `vendors`' raters plus every golden answer (all raters when empty)."""
    if not vendors:
        return frame
    return frame[frame["is_golden"] | frame["vendor"].isin(list(vendors))].reset_index(drop=True)


def _with_readings(summary_frame: pd.DataFrame) -> pd.DataFrame:
    out = summary_frame.copy()
    for name in STATISTICS:
        if name in out:
            out[f"{name}_reading"] = [landis_koch(float(v)) for v in out[name]]
        else:
            out[f"{name}_reading"] = pd.Series(dtype=object)
    return out


def _pooled(frame: pd.DataFrame) -> pd.DataFrame:
    """The selection's ratings as one session: items keyed by their session."""
    workflows = ", ".join(sorted(frame["workflow"].unique()))
    return frame.assign(
        item_id=frame["session_id"].astype(str) + "/" + frame["item_id"].astype(str),
        session_id=POOLED,
        session_date=frame["session_date"].min(),
        workflow=workflows,
    )


def review(
    gw: Engine,
    sessions: Sequence[str],
    vendors: Sequence[str] = (),
    trend_sessions: Sequence[str] = (),
    n_boot: int = REVIEW_N_BOOT,
    seed: int = 0,
) -> Review:
    """The calibration review of `sessions` for the raters of `vendors` (empty: every vendor).

    Golden answers always stay (they are the reference). Agreement statistics carry item-
    bootstrap 95% intervals of `n_boot` replicates; each session's interval depends only on
    that session (and `seed`), so a session's trend point equals its row in `by_session`.
    Contested items use the configured `contested_agreement` threshold.
    """
    sessions = tuple(dict.fromkeys(sessions))
    vendors = tuple(vendors)
    threshold = gw.config.contested_agreement
    frame = keep_vendors(ratings(gw, session_ids=sessions), vendors) if sessions else None
    if frame is None or not (~frame["is_golden"]).any():
        nothing = _with_readings(pd.DataFrame())
        return Review(
            sessions=sessions,
            vendors=vendors,
            threshold=threshold,
            overall=nothing,
            by_session=nothing,
            raters=pd.DataFrame(),
            confusion=pd.DataFrame(),
            items=pd.DataFrame(),
            trend=nothing,
        )
    raters = frame[~frame["is_golden"]]
    by_vendor = raters["vendor"].nunique() > 1
    if frame["session_id"].nunique() > 1:
        # Per-vendor rows for the pooled selection only: per session and vendor would multiply
        # the bootstrap work (pick one session to see its vendors).
        overall = _with_readings(
            summary(_pooled(frame), by_vendor=by_vendor, n_boot=n_boot, seed=seed)
        )
        by_session = _with_readings(summary(frame, by_vendor=False, n_boot=n_boot, seed=seed))
    else:
        by_session = _with_readings(summary(frame, by_vendor=by_vendor, n_boot=n_boot, seed=seed))
        overall = by_session
    others = [s for s in dict.fromkeys(trend_sessions) if s not in set(sessions)]
    trend = by_session[by_session["vendor"] == "all"]
    if others:
        extra = keep_vendors(ratings(gw, session_ids=others), vendors)
        if (~extra["is_golden"]).any():
            more = _with_readings(summary(extra, by_vendor=False, n_boot=n_boot, seed=seed))
            trend = pd.concat([trend, more], ignore_index=True)
    trend = trend.sort_values(["session_date", "session_id"]).reset_index(drop=True)
    return Review(
        sessions=sessions,
        vendors=vendors,
        threshold=threshold,
        overall=overall,
        by_session=by_session,
        raters=rater_accuracy(frame),
        confusion=confusion(frame),
        items=items(frame, threshold),
        trend=trend,
    )
