"""Calibration review (kpi.calibration) on hand-made ratings with known answers, and on the
seeded sample data's contested HS2_dehumanization items.

Hand-made session S1: 3 items x 4 raters (v1: a, b; v2: c, d) + one golden internal expert.

    item  golden   a       b       c       d        majority (share)   contested
    i1    remove   remove  remove  remove  approve  remove  (0.75)     no
    i2    remove   approve approve approve remove   approve (0.75)     yes: majority != golden
    i3    approve  approve approve limit   limit    approve (0.50 tie) yes: share < 0.6

By hand: accuracy 6/12; Fleiss' kappa 1/11 (P = 4/9, Pe = 7/18); Krippendorff's alpha 1/6
(coincidences: o_ar = 2, o_al = 4/3, n = (6, 2, 4)); Gwet's AC1 1/5 (pa = 4/9, pe = 11/36).
Session S2 (raters a, b): j1 has no golden answer (both remove), j2 golden approve (a approve,
b remove: a tie at 0.5).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from kpi import calibration as cal
from kpi.agreement import bootstrap_ci, fleiss_kappa, gwet_ac1, krippendorff_alpha
from kpi.gateway import Gateway
from sample_data import generate
from sample_data.schema import CALIBRATION_SCHEMA, to_table

CONFIG = Config()
Z95 = 1.959963984540054
S1, S2 = "cal-S1", "cal-S2"
D1, D2 = dt.date(2026, 3, 3), dt.date(2026, 3, 10)
RATERS = {"a": "v1", "b": "v1", "c": "v2", "d": "v2"}
S1_LABELS = {
    "i1": ("remove", ["remove", "remove", "remove", "approve"]),
    "i2": ("remove", ["approve", "approve", "approve", "remove"]),
    "i3": ("approve", ["approve", "approve", "limit", "limit"]),
}
FLEISS, ALPHA, AC1 = 1 / 11, 1 / 6, 1 / 5


def wilson(k: float, n: float) -> tuple[float, float]:
    p = k / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return centre - half, centre + half


def _row(session, day, item, rater, vendor, label, golden, policy=None):
    return {
        "session_id": session,
        "session_date": day,
        "workflow": "hate_speech",
        "item_id": item,
        "rater_id": rater,
        "vendor": vendor,
        "label": label,
        "policy": policy,
        "is_golden": golden,
    }


def hand_ratings() -> pd.DataFrame:
    rows = []
    for item, (golden, labels) in S1_LABELS.items():
        rows.append(_row(S1, D1, item, "expert", "internal", golden, True, "HS2"))
        for (rater, vendor), label in zip(RATERS.items(), labels, strict=True):
            rows.append(_row(S1, D1, item, rater, vendor, label, False))
    rows += [
        _row(S2, D2, "j1", "a", "v1", "remove", False),
        _row(S2, D2, "j1", "b", "v1", "remove", False),
        _row(S2, D2, "j2", "expert", "internal", "approve", True),
        _row(S2, D2, "j2", "a", "v1", "approve", False),
        _row(S2, D2, "j2", "b", "v1", "remove", False),
    ]
    return pd.DataFrame(rows)


def _ingest_calibration(frame: pd.DataFrame, root: Path) -> Path:
    path = root / "calibration_ratings.parquet"
    import pyarrow.parquet as pq

    pq.write_table(to_table(frame, CALIBRATION_SCHEMA), path)
    db = root / "cal.duckdb"
    con = connect(db)
    try:
        ingest_files(con, "calibration", [path], config=CONFIG)
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _ingest_calibration(hand_ratings(), tmp_path_factory.mktemp("cal_hand"))


@pytest.fixture(scope="module")
def hand(hand_db: Path) -> pd.DataFrame:
    """The hand-made ratings as the database gives them back."""
    with Gateway(hand_db, config=CONFIG) as gw:
        return cal.ratings(gw)


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    raters = frame[~frame["is_golden"]]
    return pd.DataFrame(
        {"item": raters["item_id"], "rater": raters["rater_id"], "label": raters["label"]}
    )


# --- hand-made ratings ---------------------------------------------------------------------


def test_ratings_round_trip(hand):
    assert len(hand) == 3 * 5 + 5
    assert hand["is_golden"].sum() == 4
    assert hand["session_id"].tolist() == sorted(hand["session_id"])


def test_agreement_statistics_by_hand():
    s1 = hand_ratings().query("session_id == @S1")
    long = _long(s1)
    assert fleiss_kappa(long) == pytest.approx(FLEISS)
    assert krippendorff_alpha(long) == pytest.approx(ALPHA)
    assert gwet_ac1(long) == pytest.approx(AC1)


def test_summary(hand):
    out = cal.summary(hand[hand["session_id"] == S1], n_boot=200, seed=3)
    assert out["vendor"].tolist() == ["all", "v1", "v2"]
    row = out.set_index("vendor").loc["all"]
    assert (row["items"], row["raters"], row["ratings"]) == (3, 4, 12)
    assert row["accuracy"] == pytest.approx(6 / 12)
    # Clustered by item and rater (tests/kpi/test_calibration_intervals.py), by hand: residuals
    # ±1/2, item sums 1, -1, 0 and rater sums 1/2, 1/2, -1/2, -1/2 give V = 3/2·2/144 (items)
    # + 4/3·1/144 (raters) - 12/11·3/144 (ratings) = 1/48 + 1/108 - 1/44; t on 3 - 1 df.
    half = student_t.ppf(0.975, 2) * math.sqrt(1 / 48 + 1 / 108 - 1 / 44)
    assert (row["accuracy_low"], row["accuracy_high"]) == pytest.approx((0.5 - half, 0.5 + half))
    assert row["accuracy_low"] < wilson(6, 12)[0]  # wider than 12 independent ratings would be
    assert row["fleiss_kappa"] == pytest.approx(FLEISS)
    assert row["krippendorff_alpha"] == pytest.approx(ALPHA)
    assert row["gwet_ac1"] == pytest.approx(AC1)
    long = _long(hand[hand["session_id"] == S1])
    for name, stat in cal.STATISTICS.items():
        assert row[name] == pytest.approx(stat(long))
        lo, hi = bootstrap_ci(long, stat, n_boot=200, seed=3)
        assert (row[f"{name}_low"], row[f"{name}_high"]) == pytest.approx((lo, hi), nan_ok=True)
    v1 = out.set_index("vendor").loc["v1"]
    assert (v1["raters"], v1["ratings"]) == (2, 6)
    assert v1["accuracy"] == pytest.approx(4 / 6)
    assert v1["fleiss_kappa"] == pytest.approx(1.0)  # a and b agree on every item
    v2 = out.set_index("vendor").loc["v2"]
    assert v2["accuracy"] == pytest.approx(2 / 6)
    assert v2["fleiss_kappa"] == pytest.approx(0.0, abs=1e-12)  # P = Pe = 1/3
    # Both sessions, without the per-vendor rows: S2 is judged on j2 only (j1 has no golden).
    both = cal.summary(hand, by_vendor=False, n_boot=50).set_index("session_id")
    assert both["vendor"].tolist() == ["all", "all"]
    assert both.at[S2, "accuracy"] == pytest.approx(1 / 2)
    assert both.at[S2, "items"] == 2


def test_items(hand):
    out = cal.items(hand, threshold=0.6).set_index("item_id")
    assert out.loc["i1", ["majority_label", "golden_label"]].tolist() == ["remove", "remove"]
    assert out.at["i1", "agreement_share"] == pytest.approx(0.75)
    assert not out.at["i1", "contested"] and out.at["i1", "majority_matches_golden"]
    assert out.at["i2", "majority_label"] == "approve" and out.at["i2", "golden_label"] == "remove"
    assert out.at["i2", "agreement_share"] == pytest.approx(0.75)
    assert out.at["i2", "contested"] and not out.at["i2", "majority_matches_golden"]
    # A tie is broken by label name (approve < limit) and has a share of at most 0.5.
    assert out.at["i3", "majority_label"] == "approve"
    assert out.at["i3", "agreement_share"] == pytest.approx(0.5)
    assert out.at["i3", "contested"] and out.at["i3", "majority_matches_golden"]
    assert out.at["i3", "golden_policy"] == "HS2"
    # No golden answer: contested only through the share; no match either way.
    assert pd.isna(out.at["j1", "golden_label"])
    assert pd.isna(out.at["j1", "majority_matches_golden"])
    assert not out.at["j1", "contested"] and out.at["j1", "agreement_share"] == 1.0
    assert out.at["j2", "majority_label"] == "approve" and out.at["j2", "contested"]
    assert out.at["i1", "raters"] == 4 and out.at["j2", "raters"] == 2
    assert out.at["i2", "labels"] == "a: approve; b: approve; c: approve; d: remove"
    # Contested first, least agreement first.
    ordered = cal.items(hand, threshold=0.6)
    assert ordered["item_id"].tolist() == ["i3", "j2", "i2", "i1", "j1"]
    # The threshold is strict: a 0.5 share is not contested at threshold 0.5.
    loose = cal.items(hand, threshold=0.5).set_index("item_id")
    assert not loose.at["i3", "contested"] and not loose.at["j2", "contested"]
    assert loose.at["i2", "contested"]


def test_rater_accuracy(hand):
    out = cal.rater_accuracy(hand).set_index("rater_id")
    # a: i1, i2 x, i3, j2 -> 3/4; b: i1, i2 x, i3, j2 x -> 2/4; c: 1/3; d: 1/3.
    want = {"a": (4, 3), "b": (4, 2), "c": (3, 1), "d": (3, 1)}
    assert {r: (out.at[r, "judged"], out.at[r, "correct"]) for r in out.index} == want
    for r, (n, k) in want.items():
        assert out.at[r, "accuracy"] == pytest.approx(k / n)
        low, high = wilson(k, n)
        assert out.at[r, "accuracy_low"] == pytest.approx(low)
        assert out.at[r, "accuracy_high"] == pytest.approx(high)
        assert out.at[r, "vendor"] == RATERS[r]
    assert "expert" not in out.index
    assert out["accuracy"].is_monotonic_increasing


def test_confusion(hand):
    out = cal.confusion(hand)
    want = pd.DataFrame(
        [[3, 2, 1], [4, 0, 4]],
        index=pd.Index(["approve", "remove"], name="golden"),
        columns=pd.Index(["approve", "limit", "remove"], name="label"),
    )
    assert out.to_dict() == want.to_dict()
    assert int(out.to_numpy().sum()) == 14  # 12 in S1 + 2 on j2 (j1 has no golden answer)


def test_vendor_filter_and_sessions(hand_db):
    with Gateway(hand_db, config=CONFIG) as gw:
        v2 = cal.ratings(gw, vendor="v2")
        assert set(v2.loc[~v2["is_golden"], "rater_id"]) == {"c", "d"}
        assert v2["is_golden"].sum() == 4  # every golden answer stays
        assert set(v2["vendor"]) == {"v2", "internal"}
        assert len(cal.ratings(gw, workflow="hate_speech")) == 20
        nothing = cal.ratings(gw, workflow="spam")
        assert nothing.empty
        assert cal.items(nothing, threshold=0.6).empty
        only_s2 = cal.ratings(gw, session_ids=[S2])
        assert set(only_s2["session_id"]) == {S2}
        assert len(cal.ratings(gw, start=D2)) == 5
        assert len(cal.ratings(gw, end=D1)) == 15
        sessions = cal.sessions(gw)
        assert sessions["session_id"].tolist() == [S2, S1]  # newest first
        assert sessions["raters"].tolist() == [2, 4]  # golden experts not counted
        assert sessions["items"].tolist() == [2, 3]
        summary = cal.summary(v2, n_boot=20)
        assert summary.set_index("vendor").at["v2", "accuracy"] == pytest.approx(2 / 6)


@pytest.mark.parametrize(
    ("kappa", "reading"),
    [
        (-0.5, "poor"),
        (-1e-9, "poor"),
        (0.0, "slight"),
        (0.2, "slight"),
        (0.21, "fair"),
        (0.4, "fair"),
        (0.41, "moderate"),
        (0.6, "moderate"),
        (0.61, "substantial"),
        (0.8, "substantial"),
        (0.81, "almost perfect"),
        (1.0, "almost perfect"),
        (float("nan"), "undefined"),
    ],
)
def test_landis_koch(kappa, reading):
    assert cal.landis_koch(kappa) == reading


# --- sample data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict, Path]:
    """The seed-42 world's calibration sessions (they do not depend on the decision count)."""
    data = generate(seed=42, decisions=2_000)
    root = tmp_path_factory.mktemp("cal_sample")
    contested = next(g for g in data.manifest["gaps"] if g["kind"] == "contested_calibration")
    return data.calibration_ratings, contested, _ingest_calibration(data.calibration_ratings, root)


def pandas_items(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Majority (ties by label name), share, golden label and policy, contested, per item."""
    gold = frame[frame["is_golden"]].set_index(["session_id", "item_id"])[["label", "policy"]]
    raters = frame[~frame["is_golden"]]
    counts = raters.groupby(["session_id", "item_id", "label"]).size().rename("n").reset_index()
    counts = counts.sort_values(["session_id", "item_id", "n", "label"], ascending=[1, 1, 0, 1])
    top = counts.drop_duplicates(["session_id", "item_id"]).set_index(["session_id", "item_id"])
    total = raters.groupby(["session_id", "item_id"]).size()
    out = pd.DataFrame({"majority": top["label"], "share": top["n"] / total})
    out = out.join(gold.rename(columns={"label": "golden", "policy": "golden_policy"}))
    out["contested"] = (out["majority"] != out["golden"]) | (out["share"] < threshold)
    return out


def test_contested_policy_items(sample):
    frame, manifest, db = sample
    workflow, policy = manifest["dimensions"]["workflow"], manifest["dimensions"]["policy"]
    assert (workflow, policy) == ("hate_speech", "HS2_dehumanization")
    threshold = CONFIG.contested_agreement
    want = pandas_items(frame, threshold)
    with Gateway(db, config=CONFIG) as gw:
        got = cal.items(cal.ratings(gw), threshold).set_index(["session_id", "item_id"])
    assert len(got) == len(want) == 1509
    got = got.loc[want.index]
    assert got["majority_label"].tolist() == want["majority"].tolist()
    np.testing.assert_allclose(got["agreement_share"], want["share"])
    assert got["contested"].tolist() == want["contested"].tolist()

    is_policy = (got["workflow"] == workflow) & (got["golden_policy"] == policy)
    assert int(is_policy.sum()) == 39  # seed 42: HS2 items over the 10 weekly sessions
    policy_share = got.loc[is_policy, "contested"].mean()
    other_share = got.loc[~is_policy, "contested"].mean()
    assert policy_share == pytest.approx(want.loc[is_policy.to_numpy(), "contested"].mean())
    assert other_share == pytest.approx(want.loc[~is_policy.to_numpy(), "contested"].mean())
    assert policy_share >= 0.9 and other_share <= 0.01
    assert policy_share > 50 * other_share
    differs = ~got["majority_matches_golden"].astype(bool)
    expected = manifest["expected"]
    assert differs[is_policy].mean() >= expected["majority_differs_from_golden_share_min"]
    assert differs[~is_policy].mean() <= expected["other_items_majority_differs_share_max"]
    # Contested items lead the list.
    ordered = cal.items(frame[frame["workflow"] == workflow], threshold)
    n_contested = int(ordered["contested"].sum())
    assert ordered["contested"].head(n_contested).all()
    assert (ordered.head(n_contested)["golden_policy"] == policy).mean() > 0.8


def test_sample_vendor_filter(sample):
    frame, _, db = sample
    vendor = "meridian"
    with Gateway(db, config=CONFIG) as gw:
        mine = cal.ratings(gw, vendor=vendor)
    raters = mine[~mine["is_golden"]]
    assert set(raters["vendor"]) == {vendor}
    assert len(raters) == int(((frame["vendor"] == vendor) & ~frame["is_golden"]).sum())
    assert int(mine["is_golden"].sum()) == int(frame["is_golden"].sum())
    assert set(mine.loc[mine["is_golden"], "vendor"]) == {"internal"}
    # Summaries of the filtered ratings judge only that vendor's raters.
    latest = mine[mine["session_id"] == raters["session_id"].max()]
    summary = cal.summary(latest, n_boot=20)
    assert set(summary["vendor"]) == {"all", vendor}
    a, v = summary.set_index("vendor").loc[["all", vendor], "accuracy"]
    assert a == pytest.approx(v)
