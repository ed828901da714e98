"""The gateway protects itself: a time limit and a row cap per query, and a cursor per thread,
so a slow query in one browser session does not stall the others."""

from __future__ import annotations

import threading
import time

import pytest

from bpo_kpi.config import Config
from kpi.gateway import Gateway, QueryLimit

# A query that runs for minutes unless stopped (a cross join DuckDB cannot shortcut).
SLOW = "SELECT count(*) FROM range(400000000) a, range(8) b WHERE (a.range + b.range) % 7 = 3"


def _config(**queries: float) -> Config:
    return Config.model_validate({"queries": queries})


def test_a_slow_query_is_stopped_with_a_clear_error(kpi_data):
    with Gateway(kpi_data.db, config=_config(timeout_seconds=0.5)) as gw:
        started = time.monotonic()
        with pytest.raises(QueryLimit, match=r"longer than 0.5 s \(queries.timeout_seconds\)"):
            gw.scalar(SLOW)
        assert time.monotonic() - started < 10
        # The gateway still answers afterwards.
        assert gw.scalar("SELECT count(*) FROM decisions") == len(kpi_data.decisions)


def test_a_huge_result_is_stopped_at_the_row_cap(kpi_data):
    with Gateway(kpi_data.db, config=_config(max_rows=1000)) as gw:
        assert len(gw.frame("SELECT * FROM range(1000)")) == 1000
        with pytest.raises(QueryLimit, match=r"more than 1,000 rows \(queries.max_rows\)"):
            gw.frame("SELECT * FROM range(1001)")
        with pytest.raises(QueryLimit):
            gw.frame("SELECT * FROM range(500000)")  # several chunks: stopped while reading
        assert len(gw.frame("SELECT * FROM decisions LIMIT 10")) == 10


def test_columns_keep_the_limits(kpi_data):
    """`Gateway.columns` (the KPI table's numpy path) under the same cap and time limit; the
    cap is a LIMIT one past it, so a huge result is never read whole."""
    with Gateway(kpi_data.db, config=_config(max_rows=1000, timeout_seconds=0.5)) as gw:
        got = gw.columns("SELECT range AS i FROM range(1000) -- a comment on the last line")
        assert got["i"].tolist() == list(range(1000))
        with pytest.raises(QueryLimit, match=r"more than 1,000 rows \(queries.max_rows\)"):
            gw.columns("SELECT * FROM range(100000000)")
        with pytest.raises(QueryLimit, match=r"longer than 0.5 s"):
            gw.columns(SLOW)
        assert gw.columns("SELECT count(*) AS n FROM decisions")["n"].tolist() == [
            len(kpi_data.decisions)
        ]


def test_a_slow_query_in_one_session_does_not_stall_another(kpi_data):
    """Sessions of a role share one gateway; each thread has its own cursor."""
    with Gateway(kpi_data.db, config=_config(timeout_seconds=5)) as gw:
        errors: list[BaseException] = []

        def slow() -> None:
            try:
                gw.scalar(SLOW)
            except QueryLimit as exc:
                errors.append(exc)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.3)  # the slow query is running
        started = time.monotonic()
        answer = gw.scalar("SELECT count(*) FROM audit_facts")
        waited = time.monotonic() - started
        thread.join()
        assert answer > 0
        assert waited < 3, f"the fast query waited {waited:.1f} s for the slow one"
        assert errors  # and the slow one was stopped at its limit


def test_every_thread_sees_the_same_scope(kpi_data):
    config = kpi_data.config
    role = next(r for r, v in config.roles.items() if v.vendors)
    allowed = set(config.roles[role].vendors) | {"internal"}
    with Gateway(kpi_data.db, config=config, role=role) as gw:
        seen: list[set[str]] = []

        def look() -> None:
            seen.append(set(gw.frame("SELECT DISTINCT vendor FROM decisions")["vendor"]))

        threads = [threading.Thread(target=look) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        look()
    assert len(seen) == 4 and all(s and s <= allowed for s in seen)
    assert len({frozenset(s) for s in seen}) == 1
