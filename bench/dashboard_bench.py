"""Dashboard render times in a real headless Chromium over a large database (default 10M decisions).

For each page: the first load (cold: queries run, results cached); switching to it from the
sidebar afterwards (the app stays loaded, results are cached: what a specialist gets coming
back to a page); a full browser reload of it (the app's JavaScript, plotly included, is parsed
again); and a new filter view (one vendor: its queries run for the first time). The goal
is a render under 2 s after a page's first load. "Rendered" means the Streamlit script finished
and every plotly chart drew its SVG (bench/browser.py).

    python bench/dashboard_bench.py                 # 10M decisions (built once, cached)
    python bench/dashboard_bench.py --rows 1000000

The database is the KPI benchmark's (bench/kpi_bench.py builds and caches it under
bench/out/data/kpi_<rows>/). Results go to bench/out/dashboard_<rows>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import browser  # noqa: E402
from kpi_bench import OUT, SEED, WEEKS, build_db  # noqa: E402

from bpo_kpi.config import Config  # noqa: E402
from bpo_kpi.db import connect  # noqa: E402
from ingest import ingest_files  # noqa: E402
from sample_data.generate import generate, write_canonical  # noqa: E402

GOAL_S = 2.0


def _load(page: Any, url: str) -> float:
    started = time.perf_counter()
    page.goto(url)
    browser.wait_until_rendered(page, timeout_s=600)
    elapsed = time.perf_counter() - started
    errors = browser.exceptions(page)
    if errors:
        raise RuntimeError(f"{url}: the page shows an exception: {errors[0][:500]}")
    return elapsed


def _navigate(page: Any, path: str, title: str) -> float:
    """Switch to a page from the sidebar (the app stays loaded) and time until it is drawn."""
    started = time.perf_counter()
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
    page.locator("h1", has_text=title).first.wait_for(timeout=600_000)
    browser.wait_until_rendered(page, timeout_s=600)
    return time.perf_counter() - started


def run(db: Path, repeat: int, vendor: str, shots: Path | None) -> list[dict[str, Any]]:
    rows = []
    with browser.streamlit_server(db) as url, browser.chromium(browser.find_chromium()) as b:
        context = b.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        _load(page, url)  # opens the replica (first refresh of a new database copies it)
        for path, title in browser.PAGES.items():
            target = f"{url}/{path}"
            first = _load(page, target)
            navigate = []
            for _ in range(repeat):
                other = "health" if path != "health" else "vendors"
                _load(page, f"{url}/{other}")
                navigate.append(_navigate(page, path, title))
            again = [_load(page, target) for _ in range(repeat)]
            filtered = _load(page, f"{target}?vendor={vendor}")
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"{path or 'overview'}.png"), full_page=True)
            rows.append(
                {
                    "page": title,
                    "first_load_s": round(first, 2),
                    "navigate_s": round(statistics.median(navigate), 2),
                    "reload_s": round(statistics.median(again), 2),
                    "new_filter_s": round(filtered, 2),
                }
            )
            print(
                f"{title:<20} first {first:6.2f} s   navigate {rows[-1]['navigate_s']:5.2f} s   "
                f"reload {rows[-1]['reload_s']:5.2f} s   "
                f"vendor={vendor} {filtered:5.2f} s",
                flush=True,
            )
        context.close()
    return rows


def dashboard_db(kpi_db: Path) -> Path:
    """A copy of the KPI benchmark database plus calibration sessions (cached next to it)."""
    db = kpi_db.with_name("dashboard.duckdb")
    marker = kpi_db.with_name("dashboard_ready.json")
    if marker.exists() and db.exists() and marker.stat().st_mtime >= kpi_db.stat().st_mtime:
        return db
    shutil.copyfile(kpi_db, db)
    sessions = generate(seed=SEED, decisions=20_000, weeks=WEEKS)
    files = write_canonical(sessions, db.parent / "calibration", fmt="parquet")
    con = connect(db)
    try:
        ingest_files(con, "calibration", [files["calibration"]], config=Config())
    finally:
        con.close()
    marker.write_text(json.dumps({"calibration_ratings": len(sessions.calibration_ratings)}))
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=OUT / "data")
    parser.add_argument("--repeat", type=int, default=3, help="reloads per page (median kept)")
    parser.add_argument("--vendor", default="northwind", help="vendor for the filtered view")
    parser.add_argument("--screenshots", type=Path, default=None, help="save a PNG per page")
    args = parser.parse_args()
    info = build_db(args.rows, args.work, keep_files=False)
    db = dashboard_db(Path(info["db"]))
    print(f"database: {db} ({args.rows:,} decisions)", flush=True)
    rows = run(db, args.repeat, args.vendor, args.screenshots)
    worst_nav = max(r["navigate_s"] for r in rows)
    worst_reload = max(r["reload_s"] for r in rows)
    worst_filter = max(r["new_filter_s"] for r in rows)
    print(
        f"\nslowest page switch {worst_nav:.2f} s, slowest full reload {worst_reload:.2f} s, "
        f"slowest new filter view {worst_filter:.2f} s; goal < {GOAL_S:.1f} s after a page's "
        f"first load (page switch): {'met' if worst_nav < GOAL_S else 'NOT met'}"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    result = OUT / f"dashboard_{args.rows}.json"
    result.write_text(json.dumps({"rows": args.rows, "pages": rows}, indent=2))
    print(f"results: {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
