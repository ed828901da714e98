"""Drill-down in a real browser: click a cell of the Quality page's vendor × workflow heatmap,
land on that cell's policies (the URL carries the path), then step back with the breadcrumb."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import browser
import pytest

pytestmark = pytest.mark.browser

CELL_CENTRE_JS = """
([vendor, workflow]) => {
  const gd = document.querySelector('.st-key-quality_drill .js-plotly-plot');
  gd.scrollIntoView({block: 'center'});
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.d2p(workflow), r.top + ya._offset + ya.d2p(vendor)];
}
"""


def _drill(page) -> list[str]:
    href = page.evaluate("location.href")
    return parse_qs(urlparse(href).query).get("drill", [])


def test_click_heatmap_cell_drills_to_policies_and_back(server, page, screenshot) -> None:
    page.goto(f"{server}/quality")
    browser.wait_until_rendered(page)
    assert browser.exceptions(page) == []
    # The cell to click: the first vendor and workflow on the axes.
    vendor, workflow = page.evaluate(
        """() => { const gd = document.querySelector('.st-key-quality_drill .js-plotly-plot');
                   return [gd._fullLayout.yaxis._categories[0],
                           gd._fullLayout.xaxis._categories[0]]; }"""
    )
    x, y = page.evaluate(CELL_CENTRE_JS, [vendor, workflow])
    page.mouse.click(x, y)
    page.wait_for_function("location.search.includes('drill=')", timeout=60_000)
    browser.wait_until_rendered(page)
    assert _drill(page) == [f"cell:{vendor}|{workflow}"]
    assert browser.exceptions(page) == []
    policies = page.locator('[data-testid="stPlotlyChart"]').filter(
        has_text="Quality score by cited policy"
    )
    policies.first.wait_for(timeout=60_000)
    screenshot(page, "quality_drill_cell")

    # The breadcrumb's root steps back to the heatmap and clears the path.
    page.locator(".st-key-crumb_root button").click()
    page.wait_for_function("!location.search.includes('drill=')", timeout=60_000)
    browser.wait_until_rendered(page)
    assert _drill(page) == []
    assert browser.exceptions(page) == []
