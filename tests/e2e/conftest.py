"""A Streamlit server on a small sample database and a headless Chromium driving it.

The browser helpers live in bench/browser.py (shared with the browser benchmark); this folder
puts bench/ on sys.path to import them. Chromium is found, or installed (apt-get as root, else
Playwright's download): the suite needs no manual setup.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sample_data import SampleData, generate, load_canonical

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import browser  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


@pytest.fixture(scope="session")
def e2e_sample() -> SampleData:
    return generate(seed=11, decisions=40_000, weeks=6)


@pytest.fixture(scope="session")
def e2e_db(e2e_sample: SampleData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    db = root / "e2e.duckdb"
    load_canonical(e2e_sample, root / "data", db)
    return db


@pytest.fixture(scope="session")
def server(e2e_db: Path) -> Iterator[str]:
    with browser.streamlit_server(e2e_db) as url:
        yield url


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    with browser.chromium(browser.find_chromium()) as b:
        yield b


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    p = context.new_page()
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def screenshot() -> Any:
    """`screenshot(page, name)`: save a full-page PNG to tests/e2e/screenshots/; returns it."""

    def save(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
