"""Actions in a real browser: an action's marker on the Quality trend chart shows its note as text
when hovered, its effect panel draws, and the "Record an action" form records one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import browser
import pytest

from kpi import actions
from kpi.data_summary import database_summary
from kpi.gateway import Gateway

pytestmark = pytest.mark.browser

NOTE = "Retrained on HS2 <b>bold</b> [l](https://evil.example)"


def test_marker_hover_effect_and_form(server, e2e_db: Path, page, screenshot) -> None:
    with Gateway(e2e_db) as gw:
        last = database_summary(gw).last_day
        assert last is not None
        action = actions.add(
            e2e_db, date=last - dt.timedelta(days=10), kind="retraining",
            segment={"vendor": "northwind", "workflow": "hate_speech"}, note=NOTE, owner="ana",
            engine=gw,
        )  # fmt: skip
    page.goto(f"{server}/quality")
    browser.wait_until_rendered(page)
    assert browser.exceptions(page) == []

    # The trend chart's marker: its hover label holds the note as typed (no bold, no link).
    chart = page.locator(".st-key-quality_trends .js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    marker = chart.locator("g.scatterlayer g.trace").last.locator("path.point")
    assert marker.count() >= 1
    marker.first.hover(force=True)
    label = chart.locator("g.hoverlayer")
    label.get_by_text("Retrained on HS2", exact=False).wait_for(timeout=30_000)
    text = label.text_content() or ""
    assert "<b>bold</b>" in text and "[l](https://evil.example)" in text
    assert chart.locator("g.hoverlayer a").count() == 0
    screenshot(page, "quality_action_marker")

    # The Actions section: the newest action is picked, its effect drawn.
    section = page.locator(".st-key-quality_actions_section")
    section.scroll_into_view_if_needed()
    section.get_by_text("Change against peers").wait_for(timeout=60_000)
    assert section.get_by_text(f"#{action.id} Retraining", exact=False).count() >= 1
    shot = screenshot(page, "quality_actions")
    section.screenshot(path=str(shot.with_name("quality_actions_section.png")))
    assert browser.exceptions(page) == []

    # The form beside a drilled cell records one (dated today by default).
    page.goto(f"{server}/quality?drill=cell:northwind|hate_speech")
    browser.wait_until_rendered(page)
    page.get_by_role("button", name="Record an action").first.click()
    page.get_by_placeholder("What was agreed or done (required)").fill("Browser: GV1 update")
    page.get_by_role("button", name="Record", exact=True).click()
    page.get_by_text("recorded", exact=False).first.wait_for(timeout=60_000)
    browser.wait_until_rendered(page)
    assert browser.exceptions(page) == []
    with Gateway(e2e_db) as gw:
        notes = [a.note for a in actions.load(gw, e2e_db)]
    assert "Browser: GV1 update" in notes
