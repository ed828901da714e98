"""The calibration meeting pack (kpi.meeting) on hand-made ratings: its numbers are the
Calibration review's (kpi.calibration.review called directly), contested items carry every
rater's label, item links keep the template's host and path whatever the id, last meeting's
actions follow the stated rule, and a vendor-scoped role's pack holds its own raters only.

Sessions (hate_speech unless said): S0 (Tue 24 Feb 2026, W09) rated by v1 and v2; S1 (Tue
3 Mar, W10) rated by v1 (three raters) and v2 (two), with an item whose id is hostile; S2 (Thu
5 Mar, W10, graphic_violence) rated by v1; S3 (Thu 5 Mar, W10, spam) rated by v2 only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bpo_kpi.config import Config, Role
from bpo_kpi.db import connect
from ingest import ingest_files
from kpi import actions, meeting
from kpi import calibration as cal
from kpi.gateway import Gateway
from sample_data.schema import CALIBRATION_SCHEMA, to_table

TEMPLATE = "https://review.example.com/items/{item_id}"
CONFIG = Config(
    roles={"admin": Role(), "v1_lead": Role(vendors=["v1"])},
    calibration={"item_url_template": TEMPLATE},
)
HOSTILE = "../../x?y=<z>#w"
S0, S1, S2, S3 = "cal-S0", "cal-S1", "cal-S2", "cal-S3"
D0, D1, D2 = dt.date(2026, 2, 24), dt.date(2026, 3, 3), dt.date(2026, 3, 5)
V1 = ("v1-a", "v1-b", "v1-e")
V2 = ("v2-c", "v2-d")
# item -> (golden label, golden policy, [(label, policy) of v1-a, v1-b, v1-e, v2-c, v2-d])
S1_ITEMS = {
    "i1": ("remove", "hs_1", [("remove", "hs_1"), ("remove", "hs_1"), ("remove", "hs_2"),
                              ("remove", "hs_1"), ("approve", None)]),
    "i2": ("remove", "hs_1", [("approve", None), ("approve", None), ("remove", "hs_1"),
                              ("approve", None), ("remove", "hs_1")]),
    "i3": ("approve", None, [("approve", None), ("limit", "hs_3"), ("age_gate", "hs_1"),
                             ("approve", None), ("approve", None)]),
    HOSTILE: ("remove", "hs_2", [("remove", "hs_2"), ("approve", None), ("approve", None),
                                 ("remove", "hs_2"), ("remove", "hs_2")]),
}  # fmt: skip


def _row(session, day, workflow, item, rater, vendor, label, policy, golden):
    return {
        "session_id": session, "session_date": day, "workflow": workflow, "item_id": item,
        "rater_id": rater, "vendor": vendor, "label": label, "policy": policy,
        "is_golden": golden,
    }  # fmt: skip


def hand_ratings() -> pd.DataFrame:
    rows = []
    for item, (golden, policy, labels) in S1_ITEMS.items():
        rows.append(_row(S1, D1, "hate_speech", item, "expert", "internal", golden, policy, True))
        for rater, (label, pol) in zip((*V1, *V2), labels, strict=True):
            vendor = rater.partition("-")[0]
            rows.append(_row(S1, D1, "hate_speech", item, rater, vendor, label, pol, False))
    for item, golden in (("k1", "remove"), ("k2", "approve")):
        rows.append(_row(S0, D0, "hate_speech", item, "expert", "internal", golden, None, True))
        for rater in ("v1-a", "v1-b", "v2-c"):
            vendor = rater.partition("-")[0]
            rows.append(_row(S0, D0, "hate_speech", item, rater, vendor, "remove", None, False))
    gv = "graphic_violence"
    rows += [
        _row(S2, D2, gv, "j1", "expert", "internal", "approve", None, True),
        _row(S2, D2, gv, "j1", "v1-a", "v1", "approve", None, False),
        _row(S2, D2, gv, "j1", "v1-b", "v1", "remove", "gv_1", False),
        _row(S2, D2, gv, "j2", "v1-a", "v1", "remove", "gv_1", False),
        _row(S2, D2, gv, "j2", "v1-b", "v1", "remove", "gv_1", False),
        _row(S3, D2, "spam", "m1", "expert", "internal", "remove", None, True),
        _row(S3, D2, "spam", "m1", "v2-c", "v2", "remove", None, False),
        _row(S3, D2, "spam", "m1", "v2-d", "v2", "approve", None, False),
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("meeting")
    path = root / "calibration_ratings.parquet"
    pq.write_table(to_table(hand_ratings(), CALIBRATION_SCHEMA), path)
    database = root / "cal.duckdb"
    con = connect(database)
    try:
        ingest_files(con, "calibration", [path], config=CONFIG)
    finally:
        con.close()
    return database


@pytest.fixture(scope="module")
def gw(db: Path):
    with Gateway(db, config=CONFIG) as gateway:
        yield gateway


def no_effect(action):
    raise AssertionError("no effect expected here")


def numbers(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in frame.columns if c not in ("session_date",)]
    return frame[cols].reset_index(drop=True)


# --- numbers --------------------------------------------------------------------------------


def test_one_session_equals_the_calibration_review(gw, db):
    pack = meeting.meeting_pack(gw, db, session=S1, vendor="v1", n_boot=60, effect_of=no_effect)
    review = cal.review(gw, [S1], ("v1",), n_boot=60)
    pd.testing.assert_frame_equal(numbers(pack.review.overall), numbers(review.overall))
    pd.testing.assert_frame_equal(pack.review.items, review.items)
    head = review.overall[review.overall["vendor"] == "all"].iloc[0]
    assert (head["items"], head["raters"], head["ratings"]) == (4, 3, 12)
    assert head["accuracy"] == pytest.approx(6 / 12)  # by hand (S1_ITEMS): 3 + 1 + 1 + 1
    rows = pack.agreement.set_index("statistic")
    assert rows.index.tolist() == ["accuracy", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"]
    for name in rows.index:
        assert rows.at[name, "value"] == pytest.approx(head[name])
        assert rows.at[name, "low"] == pytest.approx(head[f"{name}_low"], nan_ok=True)
        assert rows.at[name, "high"] == pytest.approx(head[f"{name}_high"], nan_ok=True)
    for name in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert rows.at[name, "reading"] == cal.landis_koch(head[name])
    assert f"{head['fleiss_kappa']:.2f}" in pack.sentences[1]
    assert cal.landis_koch(head["fleiss_kappa"]) in pack.sentences[1]
    assert f"{head['accuracy']:.1%}" in pack.sentences[0]
    assert pack.title == f"session {S1}" and pack.week == "2026-W10"
    assert pack.session_ids == (S1,) and pack.workflows == ("hate_speech",)
    assert pack.role == "admin"


def test_a_week_pools_the_vendors_sessions_as_the_review_does(gw, db):
    pack = meeting.meeting_pack(gw, db, week="2026-W10", vendor="v1", n_boot=60,
                                effect_of=no_effect)  # fmt: skip
    assert pack.session_ids == (S1, S2)  # S3 was rated by v2 only
    assert pack.title == "week 2026-W10"
    review = cal.review(gw, [S1, S2], ("v1",), n_boot=60)
    pd.testing.assert_frame_equal(numbers(pack.review.overall), numbers(review.overall))
    pd.testing.assert_frame_equal(numbers(pack.review.by_session), numbers(review.by_session))
    # The page passes the sessions it shows (here S3 too, which v1 did not rate): the same
    # numbers, and the pack lists only the vendor's sessions.
    page = meeting.meeting_content(gw, session=(S1, S2, S3), vendor="v1", n_boot=60)
    assert page.session_ids == (S1, S2)
    paged = cal.review(gw, [S1, S2, S3], ("v1",), n_boot=60)
    for name in ("accuracy", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert page.headline[name] == pytest.approx(paged.overall.iloc[0][name])
        assert page.headline[name] == pytest.approx(pack.headline[name])
    # A review computed by the page is reused as it is, and must be of the same selection.
    reused = meeting.meeting_content(gw, session=(S1, S2, S3), vendor="v1", review=paged)
    assert reused.review is paged
    with pytest.raises(ValueError, match="not of these sessions"):
        meeting.meeting_content(gw, session=(S1, S2), vendor="v1", review=paged)
    only = meeting.meeting_pack(gw, db, week="2026-W10", vendor="v1", workflows=["hate_speech"],
                                n_boot=20, effect_of=no_effect)  # fmt: skip
    assert only.session_ids == (S1,)


# --- contested items --------------------------------------------------------------------------


def test_contested_items_carry_every_raters_label(gw, db):
    pack = meeting.meeting_pack(gw, db, session=S1, vendor="v1", n_boot=20, effect_of=no_effect)
    review = cal.review(gw, [S1], ("v1",), n_boot=20)
    want = review.items[review.items["contested"]]
    assert pack.contested["item_id"].tolist() == want["item_id"].tolist()
    assert set(pack.contested["item_id"]) == {"i2", "i3", HOSTILE}
    assert pack.contested["labels"].tolist() == want["labels"].tolist()
    assert pack.items_total == 4
    for rec in pack.contested.to_dict("records"):
        golden, _, labels = S1_ITEMS[rec["item_id"]]
        mine = dict(zip(V1, labels[: len(V1)], strict=True))
        got = pack.rater_labels[pack.rater_labels["item_id"] == rec["item_id"]]
        assert got["rater_id"].tolist() == list(V1)  # every rater of the vendor, no other
        policies = [None if pd.isna(p) else p for p in got["policy"]]
        assert dict(zip(got["rater_id"], zip(got["label"], policies, strict=True),
                        strict=True)) == mine  # fmt: skip
        for rater, (label, policy) in mine.items():
            assert rater in rec["votes"] and label in rec["votes"]
            assert policy is None or f"{label} · {policy}" in rec["votes"]
            assert f"{rater}: {label}" in rec["labels"]
        assert rec["golden_label"] == golden
    i3 = pack.contested.set_index("item_id").at["i3", "votes"]
    assert i3 == "age_gate · hs_1 (1): v1-e; approve (1): v1-a; limit · hs_3 (1): v1-b"
    # No rationale in the data: said so, and no rationale column pretended.
    assert not pack.has_rationale and "no rationale" in pack.rationale_note
    assert not {"rationale", "comment"} & set(pack.rater_labels.columns)


def test_item_links_keep_the_templates_host_and_path(gw, db):
    pack = meeting.meeting_content(gw, session=S1, vendor="v1", n_boot=20)
    links = pack.contested.set_index("item_id")["item_url"]
    link = links[HOSTILE]
    assert link == "https://review.example.com/items/..%2F..%2Fx%3Fy%3D%3Cz%3E%23w"
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == (
        "https", "review.example.com", "", ""
    )  # fmt: skip
    assert parts.path.startswith("/items/") and parts.path.count("/") == 2
    assert unquote(parts.path.removeprefix("/items/")) == HOSTILE
    assert links["i2"] == "https://review.example.com/items/i2"
    # Ids that are path steps, or that would start a host or user part, stay one segment.
    for hostile in ("..", ".", "@evil.example", "//evil.example/x", "a/../../b", "%2e%2e",
                    "x\ny", "\u00e9/\u2028"):  # fmt: skip
        got = meeting.item_link(TEMPLATE, hostile)
        assert got is not None
        parts = urlsplit(got)
        assert parts.netloc == "review.example.com" and not parts.query and not parts.fragment
        segment = parts.path.removeprefix("/items/")
        assert "/" not in segment and segment not in (".", "..")
    # In a query string too.
    got = meeting.item_link("https://r.example.com/view?id={item_id}&tab=1", "a&tab=2#x")
    assert got == "https://r.example.com/view?id=a%26tab%3D2%23x&tab=1"
    assert meeting.item_link("", "i1") is None and meeting.item_link(TEMPLATE, None) is None


def test_without_a_template_there_are_no_links(db):
    with Gateway(db, config=Config()) as plain:
        pack = meeting.meeting_content(plain, session=S1, vendor="v1", n_boot=20)
    assert pack.item_url_template == ""
    assert pack.contested["item_url"].isna().all()


@pytest.mark.parametrize(
    "template",
    [
        "ftp://review.example.com/{item_id}",
        "https://review.example.com/items/",
        "https://review.example.com/{item_id}/{item_id}",
        "https://{item_id}.example.com/",
        "https://user:{item_id}@review.example.com/",
        "https://review.example.com/{id}/{item_id}",
        "https://review.example.com/ {item_id}",
        "javascript:alert(1)//{item_id}",
        "/items/{item_id}",
    ],
)
def test_bad_item_url_templates_are_refused(template):
    with pytest.raises(ValueError, match="item_url_template"):
        Config(calibration={"item_url_template": template})


def test_item_url_template_changes_no_content_hash():
    linked = Config(calibration={"item_url_template": TEMPLATE})
    assert linked.content_hash() == Config().content_hash()


# --- actions -------------------------------------------------------------------------------


@pytest.fixture
def with_actions(db: Path, tmp_path: Path):
    """A copy of the database with actions recorded in its state file: ids by name."""
    copy = tmp_path / "cal.duckdb"
    copy.write_bytes(db.read_bytes())
    hs = {"vendor": "v1", "workflow": "hate_speech"}
    made = {}

    def add(name, date, segment, source=None):
        made[name] = actions.add(copy, date=date, kind="policy_clarification", segment=segment,
                                 note=f"note {name}", owner="ana", source=source,
                                 config=CONFIG).id  # fmt: skip

    add("from_last_meeting", D0, hs, f"calibration:{S0}")
    add("since_last_meeting", dt.date(2026, 3, 1), {"vendor": "v1"})
    add("other_vendor", dt.date(2026, 3, 1), {"vendor": "v2", "workflow": "hate_speech"})
    add("market_only", dt.date(2026, 3, 1), {"market": "en"})
    add("other_workflow", dt.date(2026, 3, 1), {"vendor": "v1", "workflow": "spam"})
    add("agreed_now", D1, hs, f"calibration:{S1}")
    add("old_closed", dt.date(2026, 2, 10), hs, f"calibration:{S0}")
    actions.close(copy, made["old_closed"])
    add("old_open_earlier_session", dt.date(2026, 2, 10), hs, f"calibration:{S0}")
    add("old_unlinked", dt.date(2026, 2, 1), hs)
    return copy, made


def test_last_meetings_actions_and_this_meetings(gw, with_actions):
    db, made = with_actions
    effects = {}

    def effect_of(action):
        if action.id == made["since_last_meeting"]:
            raise ValueError("no audits in the before window")
        effects[action.id] = SimpleNamespace(
            before=0.9, after=0.95, difference=0.05, difference_low=0.01,
            difference_high=0.09, did=0.03, did_low=-0.01, did_high=0.07, complete=False,
            note="after window not over",
        )  # fmt: skip
        return effects[action.id]

    pack = meeting.meeting_pack(gw, db, week="2026-W10", vendor="v1", n_boot=20,
                                effect_of=effect_of)  # fmt: skip
    assert pack.last_meeting == D0 and pack.since == D0  # S0 is a week before S1
    previous = pack.previous.set_index("id")
    want = {made[n] for n in ("from_last_meeting", "since_last_meeting",
                              "old_open_earlier_session")}  # fmt: skip
    assert set(previous.index) == want
    assert pack.agreed["id"].tolist() == [made["agreed_now"]]
    row = previous.loc[made["from_last_meeting"]]
    assert (row["before"], row["after"], row["difference"], row["did"]) == (0.9, 0.95, 0.05, 0.03)
    assert not row["complete"]
    assert row["segment"] == "vendor=v1, workflow=hate_speech" and row["status"] == "open"
    failed = previous.loc[made["since_last_meeting"]]
    assert pd.isna(failed["before"]) and "no audits in the before window" in failed["effect_note"]
    assert meeting.effect_texts(row.to_dict(), "quality_score") == (
        "90.0% → 95.0%", "+5.0 pp (+1.0 pp to +9.0 pp)", "+3.0 pp (-1.0 pp to +7.0 pp)"
    )  # fmt: skip
    assert {a.id for a in pack.previous_actions} == want
    # Another vendor's pack of the same sessions: only its own (none).
    v2 = meeting.meeting_pack(gw, db, session=S1, vendor="v2", n_boot=20, effect_of=effect_of)
    assert set(v2.previous["id"]) == {made["other_vendor"]}
    assert v2.agreed.empty


def test_effects_default_to_kpi_effect(gw, with_actions, monkeypatch):
    from kpi import effect

    db, made = with_actions
    calls = []

    def fake(engine, action, kpi="quality_score", days=28, as_of=None, actions=None):
        # the other actions come from the pack's state file (not beside the engine's file)
        calls.append((action.id, kpi, days, as_of, tuple(sorted(a.id for a in actions))))
        return None

    monkeypatch.setattr(effect, "action_effect", fake)
    day = dt.date(2026, 3, 20)
    pack = meeting.meeting_pack(gw, db, session=S1, vendor="v1", as_of=day, days=14, n_boot=20)
    assert sorted(c[0] for c in calls) == sorted(pack.previous["id"])
    every = tuple(sorted(a.id for a in actions.load(gw, db)))
    assert {c[1:] for c in calls} == {("quality_score", 14, day, every)}
    # A KPI an effect cannot be measured on is the caller's error, not each action's.
    with pytest.raises(ValueError, match="rate KPI"):
        meeting.meeting_pack(gw, db, session=S1, vendor="v1", kpi="tat_p90", n_boot=10)
    with pytest.raises(ValueError, match="days must be"):
        meeting.meeting_pack(gw, db, session=S1, vendor="v1", days=0, n_boot=10)


# --- scope and errors -----------------------------------------------------------------------


def test_a_vendor_scoped_roles_pack_holds_its_own_raters_only(db, with_actions):
    copy, made = with_actions
    with Gateway(copy, config=CONFIG, role="v1_lead") as scoped:
        pack = meeting.meeting_pack(scoped, copy, week="2026-W10", vendor="v1", n_boot=20,
                                    effect_of=lambda a: None)  # fmt: skip
        assert pack.role == "v1_lead"
        assert set(pack.rater_labels["vendor"]) == {"v1"}
        raters = set(pack.rater_labels["rater_id"])
        assert raters == set(V1)  # the role sees its own people
        text = pack.contested.to_string() + pack.previous.to_string() + pack.agreed.to_string()
        assert "v2" not in text and "internal" not in text and "expert" not in text
        assert set(pack.review.raters["vendor"]) == {"v1"}
        assert made["other_vendor"] not in set(pack.previous["id"])
        with pytest.raises(meeting.MeetingError):
            meeting.meeting_pack(scoped, copy, session=S3, vendor="v2", n_boot=20)
        with pytest.raises(meeting.MeetingError):
            meeting.meeting_pack(scoped, copy, week="2026-W10", vendor="v2", n_boot=20)
    with Gateway(copy, config=CONFIG) as admin:
        full = meeting.meeting_content(admin, week="2026-W10", vendor="v1", n_boot=20)
    assert len(full.contested) == len(pack.contested)
    assert full.headline["fleiss_kappa"] == pytest.approx(pack.headline["fleiss_kappa"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a session"),
        ({"session": S1, "week": "2026-W10"}, "give a session"),
        ({"session": "nope"}, "no calibration session 'nope'"),
        ({"session": S2, "vendor": "v2"}, "did not rate"),
        ({"week": "2026-W20"}, "no calibration session in week 2026-W20"),
        ({"week": "2026-03"}, "not an ISO week"),
        ({"week": "someday"}, "2026-W41"),
    ],
)
def test_what_cannot_be_made_says_why(gw, db, kwargs, message):
    kwargs = {"vendor": "v1", **kwargs}
    with pytest.raises(meeting.MeetingError, match=message):
        meeting.meeting_pack(gw, db, n_boot=10, effect_of=no_effect, **kwargs)
