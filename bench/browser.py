"""Drive the dashboard in a real headless Chromium (Playwright): find or install Chromium, start a
Streamlit server on a database, and wait until a page has rendered (script done, charts drawn).

Used by the browser benchmark (bench/dashboard_bench.py) and the end-to-end tests (tests/e2e).
Playwright's own browser download is not assumed to work; Debian's `chromium` package is used
when present (docs/ARCHITECTURE.md §7), installed with apt-get when we are root, and
Playwright's download is the last resort.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ENV = "BPO_KPI_CHROMIUM"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PAGES = {  # url path -> page title (app.py)
    "": "Overview",
    "quality": "Quality & gaps",
    "disputes": "Disputes",
    "tat": "Turnaround & SLA",
    "calibration": "Calibration review",
    "vendors": "Vendor comparison",
    "health": "Data health",
}


def find_chromium(install: bool = True) -> str | None:
    """Path of a Chromium executable; None means "use Playwright's own browser"."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if install and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "install", "-y", "-q", "chromium"],
                    ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "chromium"]):  # fmt: skip
            subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=900)
            found = shutil.which("chromium")
            if found:
                return found
    if install:
        subprocess.run(
            [sys.executable, "-m", "playwright", "install", "chromium"],
            capture_output=True, check=False, timeout=900,
        )  # fmt: skip
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(
    command: list[str],
    url: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 90,
) -> Iterator[str]:
    """Run `command` (a server) until the block ends; yields `url` once its Streamlit health
    check answers. A server that exits or does not answer in `timeout` s raises with its
    output; on leaving, it is terminated (killed after 10 s)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    out.seek(0)
                    raise RuntimeError(f"the server did not start (exit {proc.poll()}):\n"
                                       f"{out.read()}")  # fmt: skip
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def streamlit_server(
    db: Path, env: dict[str, str] | None = None, timeout: float = 90
) -> Iterator[str]:
    """Serve app.py on `db` at a free local port; yields the base URL."""
    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with serving(command, f"http://127.0.0.1:{port}", env={"BPO_KPI_DB": str(db), **(env or {})},
                 cwd=ROOT, timeout=timeout) as url:  # fmt: skip
        yield url


@contextlib.contextmanager
def chromium(executable: str | None = None) -> Iterator[Any]:
    """A headless Chromium browser (Playwright sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Done when the script is not running and every plotly chart has drawn its SVG.
_RENDERED_JS = """
() => {
  const app = document.querySelector('.stApp');
  if (!app) return false;
  const state = app.getAttribute('data-test-script-state');
  if (state !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  for (const c of charts) { if (!c.querySelector('.main-svg')) return false; }
  return document.querySelector('[data-testid="stMain"]') !== null;
}
"""


def wait_until_rendered(page: Any, timeout_s: float = 120, settle_s: float = 0.25) -> float:
    """Seconds until the page is rendered (and stays so for `settle_s`)."""
    started = time.perf_counter()
    deadline = started + timeout_s
    stable_since: float | None = None
    while time.perf_counter() < deadline:
        done = page.evaluate(_RENDERED_JS)
        now = time.perf_counter()
        if done:
            if stable_since is None:
                stable_since = now
            elif now - stable_since >= settle_s:
                return stable_since - started
        else:
            stable_since = None
        page.wait_for_timeout(50)
    raise TimeoutError(f"page did not finish rendering within {timeout_s:.0f} s")


def exceptions(page: Any) -> list[str]:
    """Texts of Streamlit exception boxes shown on the page."""
    return [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')]
