"""While the app is open, an ingest commits without waiting for it, and the app's next rerun
shows the new data (it reads the replica the ingest publishes)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from bpo_kpi import replica
from bpo_kpi_cli.main import main
from kpi.data_summary import database_summary
from kpi.gateway import Gateway


def _caption_count(at) -> int:
    caption = next(c.value for c in at.sidebar.caption if "decisions" in c.value)
    return int(caption.rsplit("·", 1)[1].split()[0].replace(",", ""))


def test_new_data_shows_after_the_ingest_commits(sample_db: Path, run_page, tmp_path, capsys):
    at = run_page()
    assert not at.exception
    with Gateway(sample_db) as gw:
        before = database_summary(gw).counts["decisions"]
    assert _caption_count(at) == before

    file = tmp_path / "more.csv"
    with file.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["decision_id", "item_id", "vendor", "workflow", "reviewer_id", "decision",
                    "enqueued_at", "decided_at"])  # fmt: skip
        for i in range(25):
            w.writerow([f"live-{i}", f"live-item-{i}", "northwind", "hate_speech", "r-live",
                        "approve", "2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z"])  # fmt: skip
    started = time.monotonic()
    # The app holds the replica open; the ingest neither waits for it nor fails.
    assert main(["ingest", "decisions", str(file), "--db", str(sample_db), "--quiet"]) == 0
    assert time.monotonic() - started < 30
    capsys.readouterr()
    assert not replica.is_stale(sample_db)

    at.run()
    assert not at.exception
    assert _caption_count(at) == before + 25
