"""Actions on the dashboard (issue 15), headless (AppTest): recording one through the Quality
page's form stores it (`kpi.actions.load`), the trend charts carry it as a marker, its effect
panel shows `kpi.effect.action_effect`'s numbers, a vendor's role sees only its own actions, and
an action's text is shown as text everywhere."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import actions_ui
from app_pages.text import md, plot_text
from bpo_kpi.config import Config
from kpi import actions, effect
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.targets import format_value

QUALITY = "app_pages/quality.py"
CELL = {"vendor": "northwind", "workflow": "hate_speech"}
HOSTILE = "**x** [l](https://evil.example) <img src=x>"
ROLES_TOML = """
[roles.northwind_liaison]
vendors = ["northwind"]
see_reviewers = false
"""


@pytest.fixture
def gw(sample_db: Path) -> Iterator[Gateway]:
    gateway = Gateway(sample_db)
    yield gateway
    gateway.close()


def last_day(gw: Gateway) -> dt.date:
    day = database_summary(gw).last_day
    assert day is not None
    return day


def add(db: Path, gw: Gateway, **fields: Any) -> actions.Action:
    """An action recorded the way the CLI records one (dated 10 days before the data's end)."""
    fields.setdefault("date", last_day(gw) - dt.timedelta(days=10))
    fields.setdefault("kind", "retraining")
    fields.setdefault("segment", CELL)
    fields.setdefault("note", "Retrained the hate speech team")
    fields.setdefault("owner", "ana")
    return actions.add(db, engine=gw, **fields)


def figure(at: AppTest, key: str) -> dict[str, Any]:
    charts = [c for c in at.get("plotly_chart") if getattr(c, "key", None) == key]
    assert len(charts) == 1, [getattr(c, "key", None) for c in at.get("plotly_chart")]
    spec: dict[str, Any] = json.loads(charts[0].proto.spec)
    return spec


def marker_traces(fig: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in fig["data"] if t.get("legendgroup") == actions_ui.LEGEND_GROUP]


def marked_ids(fig: dict[str, Any]) -> set[int]:
    return {int(i) for t in marker_traces(fig) for i in t.get("customdata", [])}


def submit(at: AppTest, form: str) -> AppTest:
    """Click the submit button of form `form` (a form's key is `<widget key prefix>_form`)."""
    [button] = [b for b in at.button if b.proto.form_id == f"{form}_form"]
    return button.click().run()


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, [m.label for m in at.metric]
    return values[0]


# --- recording ---------------------------------------------------------------------------------


def test_an_action_recorded_on_the_quality_page_is_stored(sample_db, gw, run_page) -> None:
    market = "en_US"
    at = run_page(QUALITY, {"drill": f"cell:{CELL['vendor']}|{CELL['workflow']}",
                            "market": market})  # fmt: skip
    assert not at.exception
    key = "quality_drill_action"
    dims = at.multiselect(key=f"{key}_dims")
    assert dims.value == ["vendor", "workflow", "market"]  # the cell and the one market
    owner = at.text_input(key=f"{key}_owner").value
    assert owner.endswith("(single-user)")  # the viewer, by default
    assert at.date_input(key=f"{key}_date").value <= dt.date.today()
    day = last_day(gw) - dt.timedelta(days=5)
    dims.set_value(["vendor", "workflow"])  # drop the market: the whole cell
    at.selectbox(key=f"{key}_kind").set_value("policy_clarification")
    at.date_input(key=f"{key}_date").set_value(day)
    at.text_area(key=f"{key}_note").set_value("HS3 examples clarified with the vendor")
    at = submit(at, key)
    assert not at.exception
    assert not at.error
    [stored] = actions.load(gw, sample_db)
    assert stored.segment == CELL
    assert stored.kind == "policy_clarification"
    assert stored.date == day
    assert stored.note == "HS3 examples clarified with the vendor"
    assert stored.owner == owner
    assert stored.source == "gap:vendor=northwind|workflow=hate_speech"
    assert any("recorded" in t.value for t in at.toast)
    # the form is fresh again, and the new action is listed and marked
    assert at.text_area(key=f"{key}_note").value in ("", None)
    assert stored.id in marked_ids(figure(at, "quality_trend_chart"))
    assert at.selectbox(key="quality_actions_pick").value == stored.id


def test_a_note_is_required(sample_db, gw, run_page) -> None:
    at = run_page(QUALITY, {"drill": f"cell:{CELL['vendor']}|{CELL['workflow']}"})
    at = submit(at, "quality_drill_action")
    assert any("note" in e.value for e in at.error)
    assert actions.load(gw, sample_db) == []


def test_a_selected_gap_offers_the_form_with_its_segment(sample_db, gw, run_page) -> None:
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"),
                           default_timeout=120)  # fmt: skip
    at.query_params["from"] = str(database_summary(gw).first_day)  # all of it: several gaps
    at.run()
    at.switch_page(QUALITY)
    at.run()
    gaps_shown = at.dataframe(key="quality_gap_table").value
    assert len(gaps_shown) >= 2
    at.session_state["quality_gap_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception
    dims = at.multiselect(key="quality_gap_action_form_dims")
    named = dict(part.split("=", 1) for part in str(gaps_shown["segment"].iat[0]).split(", "))
    segment = {d: named[d] for d in actions.SEGMENT_DIMENSIONS if d in named}
    assert dims.value == list(segment)
    # another gap: the form follows it, all its dimensions picked again
    dims.set_value(list(segment)[:1])
    at.session_state["quality_gap_table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    named = dict(part.split("=", 1) for part in str(gaps_shown["segment"].iat[1]).split(", "))
    assert at.multiselect(key="quality_gap_action_form_dims").value == [
        d for d in actions.SEGMENT_DIMENSIONS if d in named
    ]
    at.session_state["quality_gap_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.text_area(key="quality_gap_action_form_note").set_value("Escalated to the vendor")
    at = submit(at, "quality_gap_action_form")
    assert not at.exception
    [stored] = actions.load(gw, sample_db)
    assert stored.segment == segment
    assert stored.source == "gap:" + "|".join(f"{d}={v}" for d, v in segment.items())


# --- on the charts -----------------------------------------------------------------------------


def test_the_trend_charts_carry_the_actions_of_the_view(sample_db, gw, run_page) -> None:
    mine = add(sample_db, gw, note="Retrained the team on HS2")
    other = add(sample_db, gw, segment={"vendor": "apex_bpo"}, note="Apex staffing")
    early = add(sample_db, gw, date=last_day(gw) - dt.timedelta(days=60), note="Long ago")
    at = run_page(QUALITY)
    assert not at.exception
    for key in ("quality_trend_chart", "quality_p_chart"):
        fig = figure(at, key)
        assert marked_ids(fig) == {mine.id, other.id}  # not the one before the window
        [trace] = marker_traces(fig)
        assert trace["name"] == "Actions" and trace["showlegend"]
        assert trace["x"] == [mine.date.isoformat(), other.date.isoformat()]
        assert any(plot_text("Retrained the team on HS2") in h for h in trace["hovertext"])
        lines = [s for s in fig["layout"]["shapes"] if s.get("line", {}).get("dash") == "dot"]
        assert {s["x0"] for s in lines} == {mine.date.isoformat(), other.date.isoformat()}
    assert early.id not in marked_ids(figure(at, "quality_trend_chart"))
    # filtered to another vendor: only actions that touch it
    at = run_page(QUALITY, {"vendor": "apex_bpo"})
    assert marked_ids(figure(at, "quality_trend_chart")) == {other.id}


def test_closed_actions_are_grey_and_closing_works(sample_db, gw, run_page) -> None:
    action = add(sample_db, gw)
    at = run_page(QUALITY)
    assert at.selectbox(key="quality_actions_pick").value == action.id
    [close] = [b for b in at.button if b.label == "Close action"]
    at = close.click().run()
    assert not at.exception
    [stored] = actions.load(gw, sample_db)
    assert stored.closed_at is not None
    [trace] = marker_traces(figure(at, "quality_trend_chart"))
    assert trace["marker"]["color"] == [actions_ui.CLOSED_COLOUR]
    assert not [b for b in at.button if b.label == "Close action"]


def test_turnaround_quantiles_carry_markers_on_every_panel(sample_db, gw, run_page) -> None:
    action = add(sample_db, gw)
    at = run_page("app_pages/tat.py", {"tat_view": "Quantiles over time"})
    assert not at.exception
    fig = figure(at, "tat_quantile_chart")
    traces = marker_traces(fig)
    panels = {t["xaxis"] for t in fig["data"] if t.get("legendgroup") == "tat_p50"}
    assert len(panels) > 1 and {t["xaxis"] for t in traces} == panels
    assert sum(t["showlegend"] for t in traces) == 1  # one legend entry
    assert all(t["customdata"] == [action.id] for t in traces)


def test_the_overview_names_the_actions_of_each_vendor(sample_db, gw, run_page) -> None:
    add(sample_db, gw, note="Retrained")
    at = run_page()
    assert not at.exception
    lines = [c.value for c in at.caption if "in the window" in c.value]
    # the all-vendors block and northwind's name it; no other vendor's block does
    assert len(lines) == 2
    assert all("Retraining" in line for line in lines)


# --- effect ------------------------------------------------------------------------------------


def expected_metrics(found: effect.Effect, kpi: str) -> dict[str, str]:
    return {
        "Before": format_value(kpi, found.before),
        "After": format_value(kpi, found.after),
        "Change": actions_ui.change_text(kpi, found.difference),
        "Change against peers": actions_ui.change_text(kpi, found.did),
    }


def test_the_effect_panel_shows_the_library_numbers(sample_db, gw, run_page) -> None:
    action = add(sample_db, gw, date=last_day(gw) - dt.timedelta(days=14))
    at = run_page(QUALITY)
    assert not at.exception
    found = effect.action_effect(gw, action, "quality_score", 28)
    for label, value in expected_metrics(found, "quality_score").items():
        assert metric(at, label) == value
    captions = " ".join(c.value for c in at.caption)
    assert actions_ui.interval_text("quality_score", found.difference_low,
                                    found.difference_high) in captions  # fmt: skip
    assert actions_ui.p_text(found.p_value) in captions
    assert actions_ui.interval_text("quality_score", found.did_low, found.did_high) in captions
    # another KPI and window
    at.selectbox(key="quality_actions_effect_kpi").set_value("agreement_rate")
    at.number_input(key="quality_actions_effect_days").set_value(14)
    at.run()
    assert not at.exception
    found = effect.action_effect(gw, action, "agreement_rate", 14)
    for label, value in expected_metrics(found, "agreement_rate").items():
        assert metric(at, label) == value
    assert any(md(found.note) in m.value for m in at.markdown)


# --- scope -------------------------------------------------------------------------------------


@pytest.fixture
def liaison(sample_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    config = tmp_path / "roles.toml"
    config.write_text(ROLES_TOML)
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    monkeypatch.setenv("BPO_KPI_PSEUDONYM_KEY", "a test key of the liaison tests")
    monkeypatch.setenv("BPO_KPI_ROLE", "northwind_liaison")
    return sample_db


def test_a_vendor_role_sees_and_records_only_its_own_actions(liaison, run_page) -> None:
    with Gateway(liaison, config=Config(), role="admin") as admin:
        own = add(liaison, admin, note="Northwind retraining")
        other = add(liaison, admin, segment={"vendor": "apex_bpo"}, note="Apex only")
        broad = add(liaison, admin, segment={"workflow": "hate_speech"}, note="All vendors")
    at = run_page(QUALITY)
    assert not at.exception
    assert marked_ids(figure(at, "quality_trend_chart")) == {own.id}
    assert at.selectbox(key="quality_actions_pick").options == [actions_ui.action_title(own)]
    shown = " ".join(d.value.to_csv() for d in at.dataframe)
    assert "Apex only" not in shown and "All vendors" not in shown
    assert other.id != broad.id
    # its form names its vendor even on a segment without one, and stores it within scope
    at = run_page(QUALITY, {"drill": "cell:northwind|hate_speech"})
    assert at.multiselect(key="quality_drill_action_dims").value == ["vendor", "workflow"]
    at.text_area(key="quality_drill_action_note").set_value("Second retraining")
    at = submit(at, "quality_drill_action")
    assert not at.exception and not at.error
    with Gateway(liaison, config=Config(), role="admin") as admin:
        stored = actions.load(admin, liaison)
    assert [a.segment for a in stored if a.note == "Second retraining"] == [CELL]
    # dropping its vendor from the segment is refused, with the reason, not a traceback
    at.multiselect(key="quality_drill_action_dims").set_value(["workflow"])
    at.text_area(key="quality_drill_action_note").set_value("All of hate speech")
    at = submit(at, "quality_drill_action")
    assert not at.exception
    assert any("outside your scope" in e.value for e in at.error)


# --- hostile text ------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`+).*?\1", re.S)
_ESCAPED = re.compile(r"\\(.)", re.S)
LIVE = ("](", "**x", "<img", "https://evil")


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def markdown_texts(at: AppTest) -> list[str]:
    """Every Markdown body and every element's label and help (Streamlit reads Markdown there;
    selectbox and multiselect options are plain text)."""
    texts = []
    for node in _nodes(at._tree):
        kind = getattr(node, "type", "")
        if kind in ("markdown", "caption", "info", "warning", "error", "success", "toast"):
            texts.append(str(node.value))
        for name in ("label", "help"):
            value = getattr(node.proto, name, None) if hasattr(node, "proto") else None
            if isinstance(value, str) and value:
                texts.append(value)
    return texts


def live(text: str) -> list[str]:
    bare = _ESCAPED.sub("\x00", _CODE_SPAN.sub("", text))
    return [m for m in LIVE if m in bare]


def test_a_hostile_note_is_text_everywhere(sample_db, gw, run_page) -> None:
    action = add(sample_db, gw, note=HOSTILE, owner="<b>boss</b> **o**")
    for page, query in (
        (QUALITY, {}),
        ("app_pages/tat.py", {"tat_view": "Quantiles over time"}),
        ("app_pages/overview.py", {}),
    ):
        at = run_page(page, query)
        assert not at.exception
        texts = markdown_texts(at)
        for text in texts:
            assert not live(text), (live(text), text)
        for chart in at.get("plotly_chart"):
            spec = chart.proto.spec
            assert "<img" not in spec and "<b>boss" not in spec
    at = run_page(QUALITY)
    assert any(md(HOSTILE) in t for t in markdown_texts(at))  # shown, escaped
    spec = json.dumps(figure(at, "quality_trend_chart"), ensure_ascii=False)
    assert plot_text(HOSTILE) in spec  # in the hover label, as entities
    assert action.id in marked_ids(figure(at, "quality_trend_chart"))
