"""Every dashboard page in a real headless Chromium: it renders, shows no exception, and a
screenshot is saved to tests/e2e/screenshots/."""

from __future__ import annotations

import browser
import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", list(browser.PAGES))
def test_page_renders_without_exception(server, page, screenshot, path: str) -> None:
    page.goto(f"{server}/{path}")
    browser.wait_until_rendered(page)
    assert browser.exceptions(page) == []
    heading = page.locator("h1").first.inner_text()
    assert heading.strip(), "the page shows a title"
    shot = screenshot(page, path or "overview")
    assert shot.stat().st_size > 10_000


def test_bpo_kpi_serve_starts_the_dashboard(e2e_db, chromium) -> None:
    """`bpo-kpi serve` (the command for your own database) serves the app on the given port."""
    import sys

    port = browser._free_port()
    command = [sys.executable, "-m", "bpo_kpi_cli", "serve", "--db", str(e2e_db), "--port",
               str(port)]  # fmt: skip
    with browser.serving(command, f"http://127.0.0.1:{port}", timeout=60) as url:
        page = chromium.new_page()
        page.goto(f"{url}/vendors")
        browser.wait_until_rendered(page)
        assert browser.exceptions(page) == []
        assert page.locator("h1").first.inner_text().strip() == "Vendor comparison"
        page.close()


def test_turnaround_tabs_draw_only_the_chosen_section(server, page, screenshot) -> None:
    """The Turnaround page draws one section at a time; picking a tab draws it and puts it in
    the URL, so a link opens that section."""
    page.goto(f"{server}/tat")
    browser.wait_until_rendered(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    page.get_by_role("tab", name="Backlog ageing").click()
    page.wait_for_function("location.search.includes('tat_view=')", timeout=60_000)
    page.get_by_text("pending decisions (hatched").first.wait_for(timeout=60_000)
    browser.wait_until_rendered(page)
    assert browser.exceptions(page) == []
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    assert "tat_view=Backlog" in page.evaluate("location.href")
    screenshot(page, "tat_backlog_tab")
