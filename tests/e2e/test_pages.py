"""Every dashboard page in a real headless Chromium: it renders, shows no exception, and a
screenshot is saved to tests/e2e/screenshots/."""

from __future__ import annotations

import browser
import pytest


@pytest.mark.parametrize("path", list(browser.PAGES))
def test_page_renders_without_exception(server, page, screenshot, path: str) -> None:
    page.goto(f"{server}/{path}")
    browser.wait_until_rendered(page)
    assert browser.exceptions(page) == []
    heading = page.locator("h1").first.inner_text()
    assert heading.strip(), "the page shows a title"
    shot = screenshot(page, path or "overview")
    assert shot.stat().st_size > 10_000
