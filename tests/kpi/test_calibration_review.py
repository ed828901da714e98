"""The calibration review of a selection (kpi.calibration.review, session_choices) on hand-made
ratings with answers worked out by hand.

Session S1 (Tue 3 Mar 2026, ISO week 2026-W10), 3 items x 4 raters (v1: a, b; v2: c, d) + golden:

    item  golden   a       b       c       d
    i1    remove   remove  remove  remove  approve
    i2    remove   approve approve approve remove
    i3    approve  approve approve limit   limit

Session S2 (Tue 10 Mar 2026, 2026-W11, graphic_violence), raters a, b (v1): j1 no golden (both
remove), j2 golden approve (a approve, b remove).

By hand: S1 accuracy 6/12, Fleiss' kappa 1/11. S1 + S2 pooled (items i1..i3, j1, j2; 16
ratings): accuracy 7/14; P_i = 1/2, 1/2, 1/3, 1, 0 so P = 7/15; shares approve 7/16, remove
7/16, limit 2/16 so Pe = 51/128; kappa = (7/15 - 51/128) / (77/128) = 131/1155.
v1 pooled: a 3/4, b 2/4 correct -> 5/8; v2 (S1 only): 2/6.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bpo_kpi.config import Config
from bpo_kpi.db import connect
from ingest import ingest_files
from kpi import calibration as cal
from kpi.agreement import bootstrap_ci, fleiss_kappa
from kpi.gateway import Gateway
from sample_data.schema import CALIBRATION_SCHEMA, to_table

CONFIG = Config()
S1, S2 = "cal-S1", "cal-S2"
D1, D2 = dt.date(2026, 3, 3), dt.date(2026, 3, 10)
RATERS = {"a": "v1", "b": "v1", "c": "v2", "d": "v2"}
S1_LABELS = {
    "i1": ("remove", ["remove", "remove", "remove", "approve"]),
    "i2": ("remove", ["approve", "approve", "approve", "remove"]),
    "i3": ("approve", ["approve", "approve", "limit", "limit"]),
}
FLEISS_S1 = 1 / 11
FLEISS_POOLED = 131 / 1155


def _row(session, day, workflow, item, rater, vendor, label, golden):
    return {
        "session_id": session,
        "session_date": day,
        "workflow": workflow,
        "item_id": item,
        "rater_id": rater,
        "vendor": vendor,
        "label": label,
        "policy": None,
        "is_golden": golden,
    }


def hand_ratings() -> pd.DataFrame:
    rows = []
    for item, (golden, labels) in S1_LABELS.items():
        rows.append(_row(S1, D1, "hate_speech", item, "expert", "internal", golden, True))
        for (rater, vendor), label in zip(RATERS.items(), labels, strict=True):
            rows.append(_row(S1, D1, "hate_speech", item, rater, vendor, label, False))
    gv = "graphic_violence"
    rows += [
        _row(S2, D2, gv, "j1", "a", "v1", "remove", False),
        _row(S2, D2, gv, "j1", "b", "v1", "remove", False),
        _row(S2, D2, gv, "j2", "expert", "internal", "approve", True),
        _row(S2, D2, gv, "j2", "a", "v1", "approve", False),
        _row(S2, D2, gv, "j2", "b", "v1", "remove", False),
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cal_review")
    path = root / "calibration_ratings.parquet"
    pq.write_table(to_table(hand_ratings(), CALIBRATION_SCHEMA), path)
    db: Path = root / "cal.duckdb"
    con = connect(db)
    try:
        ingest_files(con, "calibration", [path], config=CONFIG)
    finally:
        con.close()
    with Gateway(db, config=CONFIG) as gateway:
        yield gateway


def test_session_choices(gw):
    every = cal.session_choices(gw)
    assert every["session_id"].tolist() == [S2, S1]  # newest first
    assert every["week"].tolist() == ["2026-W11", "2026-W10"]
    assert every["raters"].tolist() == [2, 4]  # the golden expert is no rater
    assert every["items"].tolist() == [2, 3]
    assert every["rater_vendors"].tolist() == [("v1",), ("v1", "v2")]
    assert every["session_date"].tolist() == [D2, D1]
    assert cal.session_choices(gw, start=D2)["session_id"].tolist() == [S2]
    assert cal.session_choices(gw, end=D1)["session_id"].tolist() == [S1]
    assert cal.session_choices(gw, workflows=("hate_speech",))["session_id"].tolist() == [S1]
    # Only v2's raters count: S2 (rated by v1 only) drops out, S1 has two raters.
    v2 = cal.session_choices(gw, vendors=("v2",))
    assert v2["session_id"].tolist() == [S1]
    assert (v2["raters"].iat[0], v2["rater_vendors"].iat[0]) == (2, ("v2",))
    assert cal.session_choices(gw, workflows=("spam",)).empty


def test_review_of_a_week_pools_its_sessions(gw):
    review = cal.review(gw, [S1, S2], n_boot=50)
    overall = review.overall.set_index("vendor")
    assert overall.index.tolist() == ["all", "v1", "v2"]
    assert set(overall["session_id"]) == {cal.POOLED}
    row = overall.loc["all"]
    assert (row["items"], row["raters"], row["ratings"]) == (5, 4, 16)
    assert row["accuracy"] == pytest.approx(7 / 14)
    assert row["fleiss_kappa"] == pytest.approx(FLEISS_POOLED)
    assert row["fleiss_kappa_reading"] == "slight"
    assert overall.at["v1", "accuracy"] == pytest.approx(5 / 8)
    assert overall.at["v2", "accuracy"] == pytest.approx(2 / 6)
    # The pooled interval is the item bootstrap over all five items (keyed by session).
    raters = hand_ratings().query("not is_golden")
    long = pd.DataFrame(
        {
            "item": raters["session_id"] + "/" + raters["item_id"],
            "rater": raters["rater_id"],
            "label": raters["label"],
        }
    )
    assert fleiss_kappa(long) == pytest.approx(FLEISS_POOLED)
    low, high = bootstrap_ci(long, fleiss_kappa, n_boot=50, seed=0)
    assert (row["fleiss_kappa_low"], row["fleiss_kappa_high"]) == pytest.approx((low, high))
    # Per session (every rater; per vendor only when one session is picked): S1 by hand.
    by_session = review.by_session.set_index(["session_id", "vendor"])
    assert by_session.index.tolist() == [(S1, "all"), (S2, "all")]
    assert by_session.at[(S1, "all"), "accuracy"] == pytest.approx(6 / 12)
    assert by_session.at[(S1, "all"), "fleiss_kappa"] == pytest.approx(FLEISS_S1)
    assert by_session.at[(S1, "all"), "fleiss_kappa_reading"] == "slight"
    assert by_session.at[(S2, "all"), "accuracy"] == pytest.approx(1 / 2)
    # Raters, confusion matrix and contested items cover both sessions.
    judged = review.raters.set_index("rater_id")[["judged", "correct"]]
    assert judged.to_dict("index") == {
        "a": {"judged": 4, "correct": 3},
        "b": {"judged": 4, "correct": 2},
        "c": {"judged": 3, "correct": 1},
        "d": {"judged": 3, "correct": 1},
    }
    assert int(review.confusion.to_numpy().sum()) == 14
    assert review.confusion.loc["remove", "approve"] == 4
    contested = review.items.loc[review.items["contested"], "item_id"].tolist()
    assert contested == ["i3", "j2", "i2"]  # contested first, least agreement first
    assert review.threshold == CONFIG.contested_agreement


def test_review_of_one_vendor_in_one_session(gw):
    review = cal.review(gw, [S1], vendors=("v2",), n_boot=50)
    assert review.overall is review.by_session  # one session: nothing to pool
    assert review.overall["vendor"].tolist() == ["all"]  # a single vendor: no per-vendor rows
    row = review.overall.iloc[0]
    assert (row["raters"], row["ratings"]) == (2, 6)
    assert row["accuracy"] == pytest.approx(2 / 6)
    assert row["fleiss_kappa"] == pytest.approx(0.0, abs=1e-12)  # P = Pe = 1/3
    assert set(review.raters["rater_id"]) == {"c", "d"}
    # The majority is v2's: i2 (c approve, d remove) ties 1:1 -> approve, against golden remove.
    items = review.items.set_index("item_id")
    assert items.at["i2", "majority_label"] == "approve"
    assert items.at["i2", "agreement_share"] == pytest.approx(0.5)
    assert items.at["i2", "labels"] == "c: approve; d: remove"


def test_trend_points_equal_session_rows(gw):
    review = cal.review(gw, [S2], trend_sessions=[S1, S2], n_boot=40, seed=5)
    trend = review.trend.set_index("session_id")
    assert trend.index.tolist() == [S1, S2]  # by date
    assert (trend["vendor"] == "all").all()
    assert trend.at[S1, "fleiss_kappa"] == pytest.approx(FLEISS_S1)
    s1_alone = cal.review(gw, [S1], n_boot=40, seed=5).by_session.set_index("vendor").loc["all"]
    s2_row = review.by_session.set_index("vendor").loc["all"]
    for name in ("accuracy", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        for suffix in ("", "_low", "_high"):
            col = name + suffix
            assert trend.at[S1, col] == pytest.approx(s1_alone[col], nan_ok=True)
            assert trend.at[S2, col] == pytest.approx(s2_row[col], nan_ok=True)
    assert trend.at[S1, "gwet_ac1_reading"] == cal.landis_koch(trend.at[S1, "gwet_ac1"])


def test_empty_selections(gw):
    assert cal.review(gw, []).empty
    nobody = cal.review(gw, [S2], vendors=("v2",))  # v2 rated nothing in S2
    assert nobody.empty and nobody.items.empty and nobody.trend.empty
    assert "fleiss_kappa_reading" in nobody.overall


def test_keep_vendors_keeps_golden_answers():
    frame = hand_ratings()
    kept = cal.keep_vendors(frame, ["v2"])
    assert set(kept["vendor"]) == {"v2", "internal"}
    assert int(kept["is_golden"].sum()) == int(frame["is_golden"].sum())
    assert len(cal.keep_vendors(frame, [])) == len(frame)


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (dt.date(2026, 3, 2), "2026-W10"),  # Monday starts the week
        (dt.date(2026, 3, 8), "2026-W10"),  # Sunday ends it
        (dt.date(2026, 3, 9), "2026-W11"),
        (dt.date(2027, 1, 1), "2026-W53"),  # ISO year differs from the calendar year
    ],
)
def test_iso_week(day, week):
    assert cal.iso_week(day) == week
