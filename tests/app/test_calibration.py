"""Calibration review page: the numbers it shows equal the calibration statistics of the same
selection, computed here from the raw ratings (pandas + kpi.agreement), for the default view
(latest week of the sidebar window, every vendor) and for views chosen through the URL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kpi.agreement import bootstrap_ci, fleiss_kappa, gwet_ac1, krippendorff_alpha
from kpi.calibration import landis_koch
from kpi.data_summary import database_summary
from kpi.gateway import Gateway

PAGE = "app_pages/calibration.py"
WINDOW_DAYS = 28  # the sidebar's default window


TABS = ("Agreement by vendor", "Rater accuracy", "Confusion matrix", "Contested items",
        "Trend across sessions")  # fmt: skip


class AllTabs:
    """The page run once per tab (only the selected tab is drawn): tables of every tab, the
    rest (pickers, headline) from the first tab's run."""

    def __init__(self, run_page, query: dict | None = None) -> None:
        self.runs = [run_page(PAGE, {**(query or {}), "calibration_view": t}) for t in TABS]
        self.first = self.runs[0]
        for i, run in enumerate(self.runs):
            assert not run.exception, run.exception
            # Each run draws its own tab's tables only (the trend table is the last tab's).
            has_trend = any("session_date" in d.value.columns for d in run.dataframe)
            assert has_trend == (i == len(TABS) - 1)

    @property
    def dataframe(self) -> list:
        return [d for run in self.runs for d in run.dataframe]

    @property
    def markdown(self) -> list:
        return [m for run in self.runs for m in run.markdown]

    @property
    def caption(self) -> list:
        return [c for run in self.runs for c in run.caption]

    def __getattr__(self, name: str):
        return getattr(self.first, name)


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@pytest.fixture
def ratings(sample_db) -> tuple[pd.DataFrame, dt.date, dt.date]:
    """Every rating with its golden label, and the sidebar's default window."""
    with Gateway(sample_db) as gw:
        last = database_summary(gw).last_day
        frame = gw.frame(
            "SELECT session_id, session_date, workflow, item_id, rater_id, vendor, label, "
            "coalesce(is_golden, false) AS is_golden FROM calibration_ratings"
        )
    frame["session_date"] = pd.to_datetime(frame["session_date"]).dt.date
    gold = frame[frame["is_golden"]][["session_id", "item_id", "label"]]
    frame = frame.merge(gold.rename(columns={"label": "golden"}), how="left")
    frame["week"] = [iso_week(d) for d in frame["session_date"]]
    return frame, last - dt.timedelta(days=WINDOW_DAYS - 1), last


def raters_of(frame: pd.DataFrame, vendors=None) -> pd.DataFrame:
    out = frame[~frame["is_golden"]]
    return out[out["vendor"].isin(vendors)] if vendors else out


def long(frame: pd.DataFrame) -> pd.DataFrame:
    """Ratings for kpi.agreement, each item keyed by its session (so a week pools its items)."""
    return pd.DataFrame(
        {
            "item": frame["session_id"] + "/" + frame["item_id"],
            "rater": frame["rater_id"],
            "label": frame["label"],
        }
    )


def stats(frame: pd.DataFrame) -> dict[str, float]:
    judged = frame[frame["golden"].notna()]
    r = long(frame)
    return {
        "items": frame["session_id"].str.cat(frame["item_id"]).nunique(),
        "raters": frame["rater_id"].nunique(),
        "ratings": len(frame),
        "accuracy": float((judged["label"] == judged["golden"]).mean()),
        "fleiss_kappa": fleiss_kappa(r),
        "krippendorff_alpha": krippendorff_alpha(r),
        "gwet_ac1": gwet_ac1(r),
    }


def contested(frame: pd.DataFrame, threshold: float = 0.6) -> tuple[int, int]:
    """(contested items, items): majority differs from golden, or majority share < threshold."""
    n = 0
    groups = frame.groupby(["session_id", "item_id"])
    for _, g in groups:
        counts = g["label"].value_counts()
        share = counts.iloc[0] / len(g)
        golden = g["golden"].iat[0]
        majority = sorted(counts[counts == counts.iloc[0]].index)[0]
        n += bool(share < threshold or (pd.notna(golden) and majority != golden))
    return n, groups.ngroups


def frame_with(at, *columns: str, without: tuple[str, ...] = ()) -> pd.DataFrame:
    """The page's only dataframe with all of `columns` and none of `without`."""
    found = [
        d.value
        for d in at.dataframe
        if set(columns) <= set(d.value.columns) and not set(without) & set(d.value.columns)
    ]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def check_agreement_row(row: pd.Series, want: dict[str, float]) -> None:
    assert (row["items"], row["raters"], row["ratings"]) == (
        want["items"],
        want["raters"],
        want["ratings"],
    )
    for name in ("accuracy", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert row[name] == pytest.approx(want[name]), name
    assert row["fleiss_kappa_reading"] == landis_koch(want["fleiss_kappa"])


def check_raters(at, selection: pd.DataFrame) -> None:
    judged = selection[selection["golden"].notna()]
    want = (
        judged.assign(correct=judged["label"] == judged["golden"])
        .groupby("rater_id")["correct"]
        .agg(["size", "sum"])
    )
    shown = frame_with(at, "rater_id", "judged").set_index("rater_id")
    assert sorted(shown.index) == sorted(want.index)
    assert shown["judged"].to_dict() == want["size"].to_dict()
    assert shown["correct"].to_dict() == want["sum"].astype(int).to_dict()
    np.testing.assert_allclose(shown["accuracy"], (want["sum"] / want["size"]).reindex(shown.index))
    assert shown["accuracy"].is_monotonic_increasing  # weakest raters first


def check_trend(at, frame: pd.DataFrame, sessions: pd.Series, vendors=None) -> None:
    shown = frame_with(at, "session_date", "fleiss_kappa")
    order = (
        frame[frame["session_id"].isin(sessions)][["session_date", "session_id"]]
        .drop_duplicates()
        .sort_values(["session_date", "session_id"])
    )
    assert shown["session_id"].tolist() == order["session_id"].tolist()
    for row in shown.itertuples():
        mine = raters_of(frame[frame["session_id"] == row.session_id], vendors)
        assert row.fleiss_kappa == pytest.approx(fleiss_kappa(long(mine))), row.session_id
        judged = mine[mine["golden"].notna()]
        assert row.accuracy == pytest.approx((judged["label"] == judged["golden"]).mean())


def test_default_view_is_the_latest_week_for_every_vendor(sample_db, ratings, run_page):
    frame, start, end = ratings
    in_window = frame[(frame["session_date"] >= start) & (frame["session_date"] <= end)]
    week = max(in_window["week"])
    selection = raters_of(in_window[in_window["week"] == week])
    want = stats(selection)

    at = AllTabs(run_page)
    assert not at.exception
    assert at.selectbox(key="calibration_week").value == week
    assert at.selectbox(key="calibration_session").value == "All sessions of the week"
    assert at.selectbox(key="calibration_vendor").value == "All vendors"
    assert at.selectbox(key="calibration_vendor").options == [
        "All vendors",
        *sorted(selection["vendor"].unique()),
    ]

    shown = metrics(at)
    assert shown["Accuracy vs golden"] == f"{want['accuracy']:.1%}"
    assert shown["Fleiss' κ"] == f"{want['fleiss_kappa']:.2f}"
    assert shown["Krippendorff's α"] == f"{want['krippendorff_alpha']:.2f}"
    assert shown["Gwet's AC1"] == f"{want['gwet_ac1']:.2f}"
    reading = next(m.value for m in at.markdown if "matched the golden answer" in m.value)
    assert f"**{want['items']} items**" in reading
    assert f"**{landis_koch(want['fleiss_kappa'])}**" in reading
    assert f"{want['accuracy']:.1%}" in reading

    # Pooled over the week: everyone, then each vendor.
    by_vendor = frame_with(at, "vendor", "fleiss_kappa", without=("session_id",))
    assert by_vendor["vendor"].tolist() == ["All vendors", *sorted(selection["vendor"].unique())]
    rows = by_vendor.set_index("vendor")
    check_agreement_row(rows.loc["All vendors"], want)
    low, high = bootstrap_ci(long(selection), fleiss_kappa, n_boot=500, seed=0)
    assert rows.at["All vendors", "fleiss_kappa_low"] == pytest.approx(low)
    assert rows.at["All vendors", "fleiss_kappa_high"] == pytest.approx(high)
    for vendor in sorted(selection["vendor"].unique()):
        check_agreement_row(rows.loc[vendor], stats(raters_of(selection, [vendor])))

    # Per session of the week.
    everyone = frame_with(at, "session_id", "fleiss_kappa", without=("session_date",))
    everyone = everyone.set_index("session_id")
    assert sorted(everyone.index) == sorted(selection["session_id"].unique())
    for session, row in everyone.iterrows():
        check_agreement_row(row, stats(selection[selection["session_id"] == session]))

    check_raters(at, selection)

    confusion = frame_with(at, "approve", "remove")
    judged = selection[selection["golden"].notna()]
    want_confusion = pd.crosstab(judged["golden"], judged["label"])
    assert confusion.index.tolist() == want_confusion.index.tolist()
    assert confusion.columns.tolist() == want_confusion.columns.tolist()
    np.testing.assert_array_equal(confusion.to_numpy(), want_confusion.to_numpy())

    n_contested, n_items = contested(selection)
    assert n_contested > 0
    assert any(f"**{n_contested} of {n_items} items contested**" in m.value for m in at.markdown)
    items = frame_with(at, "item_id", "labels")
    assert len(items) == n_contested and items["contested"].all()
    first = items.iloc[0]
    mine = selection[
        (selection["session_id"] == first["session_id"])
        & (selection["item_id"] == first["item_id"])
    ].sort_values("rater_id")
    assert first["labels"] == "; ".join(
        f"{r}: {lab}" for r, lab in zip(mine["rater_id"], mine["label"], strict=True)
    )

    # The trend covers every session of the week's workflows in the sidebar window.
    check_trend(at, in_window, in_window["session_id"].unique())


def test_one_session_and_vendor_from_the_url(sample_db, ratings, run_page):
    frame, start, end = ratings
    in_window = frame[(frame["session_date"] >= start) & (frame["session_date"] <= end)]
    week = sorted(in_window["week"].unique())[-2]
    session = in_window[(in_window["week"] == week) & (in_window["workflow"] == "hate_speech")][
        "session_id"
    ].iat[0]
    selection = raters_of(frame[frame["session_id"] == session], ["northwind"])
    want = stats(selection)

    at = AllTabs(
        run_page,
        {
            "vendor": ["northwind", "apex_bpo"],
            "calibration_week": week,
            "calibration_session": session,
            "calibration_vendor": "northwind",
        },
    )
    assert not at.exception
    assert at.selectbox(key="calibration_week").value == week
    assert at.selectbox(key="calibration_session").value == session
    # The sidebar's vendor filter limits the picker.
    assert at.selectbox(key="calibration_vendor").options == [
        "All vendors",
        "apex_bpo",
        "northwind",
    ]
    assert at.selectbox(key="calibration_vendor").value == "northwind"

    shown = metrics(at)
    assert shown["Accuracy vs golden"] == f"{want['accuracy']:.1%}"
    assert shown["Fleiss' κ"] == f"{want['fleiss_kappa']:.2f}"
    by_vendor = frame_with(at, "vendor", "fleiss_kappa", without=("session_id",))
    assert by_vendor["vendor"].tolist() == ["northwind"]
    check_agreement_row(by_vendor.iloc[0], want)
    assert not any(
        {"session_id", "fleiss_kappa"} <= set(d.value.columns)
        and "session_date" not in d.value.columns
        for d in at.dataframe
    )  # one session: no per-session table
    check_raters(at, selection)
    n_contested, n_items = contested(selection)
    assert any(f"**{n_contested} of {n_items} items contested**" in m.value for m in at.markdown)
    hate_speech = in_window[in_window["workflow"] == "hate_speech"]["session_id"].unique()
    check_trend(at, in_window, hate_speech, vendors=["northwind"])


def test_sidebar_filters_limit_sessions_and_raters(sample_db, ratings, run_page):
    frame, start, end = ratings
    vendors = ["meridian", "tessera"]
    in_window = frame[
        (frame["session_date"] >= start)
        & (frame["session_date"] <= end)
        & (frame["workflow"] == "spam")
    ]
    week = max(in_window["week"])
    selection = raters_of(in_window[in_window["week"] == week], vendors)
    assert selection["session_id"].nunique() == 1

    at = AllTabs(
        run_page, {"workflow": ["spam"], "vendor": vendors, "calibration_all_items": "true"}
    )
    assert not at.exception
    assert at.selectbox(key="calibration_week").options == sorted(
        in_window["week"].unique(), reverse=True
    )
    by_vendor = frame_with(at, "vendor", "fleiss_kappa", without=("session_id",)).set_index(
        "vendor"
    )
    everyone = "meridian, tessera"
    assert by_vendor.index.tolist() == [everyone, *vendors]
    check_agreement_row(by_vendor.loc[everyone], stats(selection))
    for vendor in vendors:
        check_agreement_row(by_vendor.loc[vendor], stats(raters_of(selection, [vendor])))
    assert set(frame_with(at, "rater_id", "judged")["vendor"]) == set(vendors)
    # Every item is listed when the toggle is on (from the URL).
    assert len(frame_with(at, "item_id", "labels")) == selection["item_id"].nunique()
    check_trend(at, in_window, in_window["session_id"].unique(), vendors=vendors)


# --- the meeting pack tab, actions on the page -------------------------------------------------

MEETING = "Meeting pack"


def meeting_view(frame: pd.DataFrame, start: dt.date, end: dt.date) -> tuple[str, str]:
    """(week, hate_speech session) of the newest week in the sidebar's default window."""
    in_window = frame[(frame["session_date"] >= start) & (frame["session_date"] <= end)]
    week = max(in_window["week"])
    session = in_window[(in_window["week"] == week) & (in_window["workflow"] == "hate_speech")][
        "session_id"
    ].iat[0]
    return week, session


def pack_query(week: str, session: str) -> dict[str, str]:
    return {
        "calibration_view": MEETING,
        "calibration_week": week,
        "calibration_session": session,
        "calibration_vendor": "northwind",
    }


def check_pack_numbers(at, review) -> None:
    """The tab's agreement table and contested items are the review's."""
    head = review.overall[review.overall["vendor"] == "all"].iloc[0]
    shown = frame_with(at, "statistic", "interval").set_index("statistic")
    acc = shown.loc["Accuracy vs golden"]
    assert acc["value"] == f"{head['accuracy']:.1%}"
    assert acc["interval"] == f"{head['accuracy_low']:.1%} – {head['accuracy_high']:.1%}"
    for name, label in (("fleiss_kappa", "Fleiss' κ"), ("krippendorff_alpha", "Krippendorff's α"),
                        ("gwet_ac1", "Gwet's AC1")):  # fmt: skip
        assert shown.at[label, "value"] == f"{head[name]:.2f}"
        assert (
            shown.at[label, "interval"] == f"{head[f'{name}_low']:.2f} – {head[f'{name}_high']:.2f}"
        )
        assert shown.at[label, "reading"] == landis_koch(head[name])
    want = review.items[review.items["contested"]]
    contested = frame_with(at, "item_id", "votes")
    assert contested["item_id"].tolist() == want["item_id"].tolist()
    for votes, labels in zip(contested["votes"], want["labels"], strict=True):
        for pair in labels.split("; "):
            rater, _, label = pair.partition(": ")
            assert rater in votes and label in votes


def test_meeting_pack_tab_shows_the_reviews_numbers(sample_db, ratings, run_page):
    from kpi import actions
    from kpi import calibration as cal

    frame, start, end = ratings
    week, session = meeting_view(frame, start, end)
    earlier = sorted(frame[(frame["workflow"] == "hate_speech") & (frame["week"] < week)]
                     ["session_id"].unique())[-1]  # fmt: skip
    day = frame.loc[frame["session_id"] == session, "session_date"].iat[0]
    hs = {"vendor": "northwind", "workflow": "hate_speech"}
    last = actions.add(sample_db, date=day - dt.timedelta(days=7), kind="policy_clarification",
                       segment=hs, note="Clarified HS2 **examples**", owner="ana",
                       source=f"calibration:{earlier}")  # fmt: skip
    agreed = actions.add(sample_db, date=day, kind="guideline_update", segment=hs,
                         note="Update HS2 examples", source=f"calibration:{session}")  # fmt: skip
    other = actions.add(sample_db, date=day - dt.timedelta(days=2), kind="retraining",
                        segment={"vendor": "meridian"}, note="not northwind's")  # fmt: skip

    at = run_page(PAGE, pack_query(week, session))
    assert not at.exception
    with Gateway(sample_db) as gw:
        review = cal.review(gw, [session], ("northwind",))
    check_pack_numbers(at, review)
    # The headline above the tabs shows the same numbers.
    head = review.overall.iloc[0]
    assert metrics(at)["Fleiss' κ"] == f"{head['fleiss_kappa']:.2f}"
    previous = frame_with(at, "before_after", "effect_note")
    assert previous["id"].tolist() == [last.id]
    assert previous["note"].tolist() == ["Clarified HS2 **examples**"]
    assert frame_with(at, "id", "kind", without=("before_after", "statistic"))["id"].tolist() == [
        agreed.id
    ]
    assert other.id not in set(previous["id"])
    labels = [b.label for b in at.get("download_button")]
    assert "PPTX" in labels and "PDF" in labels
    assert any(t.label == "Notes" for t in at.text_area)
    assert at.text_area(key="meeting_action_note") is not None  # the action form
    assert any(f"bpo-kpi meeting --session {session} --vendor northwind" in c.value
               for c in at.code)  # fmt: skip


def test_meeting_pack_needs_one_vendor(sample_db, ratings, run_page):
    at = run_page(PAGE, {"calibration_view": MEETING})
    assert not at.exception
    assert any("Pick a vendor above" in i.value for i in at.info)
    assert not at.get("download_button") or all(
        b.label in ("CSV", "Excel") for b in at.get("download_button")
    )


def test_a_vendor_roles_meeting_pack_stays_in_scope(sample_db, ratings, run_page, monkeypatch,
                                                    tmp_path):  # fmt: skip
    from bpo_kpi.config import Config
    from kpi import calibration as cal

    config = tmp_path / "roles.toml"
    config.write_text('[roles.northwind_liaison]\nvendors = ["northwind"]\nsee_reviewers = false\n')
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_ROLE", "northwind_liaison")
    frame, start, end = ratings
    week, session = meeting_view(frame, start, end)
    at = run_page(PAGE, pack_query(week, session))
    assert not at.exception
    with Gateway(sample_db, config=Config.model_validate(
            {"roles": {"northwind_liaison": {"vendors": ["northwind"], "see_reviewers": False}}}),
            role="northwind_liaison") as gw:  # fmt: skip
        review = cal.review(gw, [session], ("northwind",))
    check_pack_numbers(at, review)
    shown = " ".join(d.value.to_csv() for d in at.dataframe)
    others = frame[(frame["session_id"] == session) & (frame["vendor"] != "northwind")]
    assert len(others) > 0
    for vendor in set(others["vendor"]):
        assert vendor not in shown
    for rater in set(others["rater_id"]) | set(raters_of(frame, ["northwind"])["rater_id"]):
        assert rater not in shown  # other vendors' raters, and its own by pseudonym only


def test_trend_shows_actions_and_contested_items_offer_the_action_form(sample_db, ratings,
                                                                       run_page):  # fmt: skip
    from kpi import actions

    frame, start, end = ratings
    week, session = meeting_view(frame, start, end)
    day = frame.loc[frame["session_id"] == session, "session_date"].iat[0]
    action = actions.add(sample_db, date=day, kind="policy_clarification",
                         segment={"vendor": "northwind", "workflow": "hate_speech"},
                         note="<b>HS2</b> clarified", source=f"calibration:{session}")  # fmt: skip
    query = {"calibration_week": week, "calibration_session": session,
             "calibration_vendor": "northwind"}  # fmt: skip
    at = run_page(PAGE, {**query, "calibration_view": "Trend across sessions"})
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"name":"Actions"' in spec.replace(" ", "")
    assert "&lt;b&gt;HS2&lt;\\u002fb&gt; clarified" in spec  # the note on hover, as text
    assert any("1 action touching these filters" in c.value for c in at.caption)
    at = run_page(PAGE, {**query, "calibration_view": "Contested items"})
    assert not at.exception
    assert at.text_area(key="calibration_items_action_note") is not None
    assert action.source == f"calibration:{session}"
