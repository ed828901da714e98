"""Rendered SQL snapshots: every query text the analyses run, per dialect, kept under
tests/kpi/snapshots/sql/ so that a change to a query shows up in review as a diff of its text.

Each analysis runs against the session's KPI test database through a gateway that records
every query it is asked (`Recorder`); the texts are written once as DuckDB runs them and once
as the Spark engine would (transpiled by `kpi.engines.to_spark_sql`). Bound values are not part
of a text (they are parameters), so a snapshot changes only when a query's shape does; the
scope policy's views are snapshotted for a restricted role with fixed columns. After an
intended change: `python -m pytest tests/kpi/test_sql_snapshots.py --update-sql-snapshots`,
then review and commit the diff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bpo_kpi.config import Config, Role
from kpi import calibration, compare, disputes, effect, gaps, health, monitor, snapshot, tat
from kpi.actions import Action
from kpi.columns import Columns
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.engines import to_spark_sql
from kpi.gateway import Gateway
from kpi.periods import parse_period
from kpi.query import KpiQuery, Scope
from kpi.scope import POLICY, ScopePolicy

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "sql"
AS_OF = dt.datetime(2026, 3, 30, tzinfo=dt.UTC)
WINDOW = KpiQuery(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 29))
SEGMENT = {"vendor": "meridian", "workflow": "graphic_violence"}


class Recorder:
    """An engine that runs queries on a gateway and keeps their texts."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.config, self.scope, self.implausible = gw.config, gw.scope, gw.implausible
        self.texts: list[str] = []

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        self.texts.append(sql)
        return self.gw.frame(sql, params)

    def columns(self, sql: str, params: dict[str, Any] | None = None) -> Columns:
        self.texts.append(sql)
        return self.gw.columns(sql, params)

    def close(self) -> None:
        self.gw.close()


ANALYSES: dict[str, Callable[[Any], Any]] = {
    "kpi_table_vendor_workflow_week": lambda e: kpi_table(
        e, KpiQuery(by=("vendor", "workflow"), period="week"), AS_OF
    ),
    "kpi_table_window_filtered": lambda e: kpi_table(
        e,
        WINDOW.model_copy(update={"by": ("reviewer_id",), "where": {"vendor": ("meridian",)}}),
        AS_OF,
    ),
    "kpi_table_time_keys": lambda e: kpi_table(
        e,
        WINDOW.model_copy(
            update={"kpis": ("decisions", "tat_p90", "quality_score", "cohen_kappa")}
        ),
        AS_OF,
        time_keys=("weekday", "hour"),
    ),  # fmt: skip
    "quality_gaps": lambda e: gaps.quality_gaps(e, WINDOW, min_audits=10),
    "reviewer_outliers": lambda e: gaps.reviewer_outliers(e, SEGMENT, WINDOW),
    "reviewer_error_type_outliers": lambda e: gaps.reviewer_error_type_outliers(
        e, SEGMENT, "over_enforcement", WINDOW
    ),
    "error_types": lambda e: gaps.error_types(e, SEGMENT, WINDOW),
    "audited_decisions": lambda e: gaps.audited_decisions(e, SEGMENT, WINDOW),
    "monitor_daily": lambda e: monitor.daily(e, WINDOW, dt.date(2026, 3, 27)),
    "alerts": lambda e: monitor.alerts(e, WINDOW, dt.date(2026, 3, 27), as_of=AS_OF),
    "tat_histogram": lambda e: tat.tat_histogram(e, WINDOW),
    "tat_time_of_week": lambda e: tat.time_of_week(e, WINDOW, AS_OF),
    "tat_due_time_sources": lambda e: tat.due_time_sources(e, WINDOW),
    "tat_backlog_ageing": lambda e: tat.backlog_ageing(e, WINDOW, AS_OF),
    "calibration_ratings": lambda e: calibration.ratings(e, None, "hate_speech"),
    "calibration_sessions": lambda e: calibration.sessions(e),
    "vendor_comparison": lambda e: compare.vendor_comparison(e, WINDOW, AS_OF),
    "disputes_table": lambda e: disputes.dispute_table(
        e, WINDOW.model_copy(update={"by": ("vendor",)}), AS_OF
    ),
    "disputes_pending": lambda e: disputes.pending_disputes(e, WINDOW, AS_OF),
    "health_ingest_runs": lambda e: health.ingest_runs(e),
    "health_unfinished_runs": lambda e: health.unfinished_runs(e),
    "health_rejected_rows": lambda e: health.rejected_rows(e),
    "health_rejection_reasons": lambda e: health.rejection_reasons(e),
    "health_warnings": lambda e: health.ingest_warnings(e),
    "health_warning_summary": lambda e: health.warning_summary(e),
    "health_edits_after_audit": lambda e: health.edits_after_audit(e),
    "health_vendor_integrity": lambda e: health.vendor_integrity(e),
    "health_orphan_audits": lambda e: health.orphan_audits(e),
    "health_freshness": lambda e: health.freshness(e, AS_OF),
    "health_qa_coverage_adequacy": lambda e: health.qa_coverage_adequacy(e, WINDOW),
    "data_summary": lambda e: database_summary(e, AS_OF),
    "export_snapshot": lambda e: snapshot.build(e, parse_period("2026-W13")),
    "action_effect": lambda e: effect.action_effect(
        e,
        Action(1, dt.date(2026, 3, 16), "retraining", SEGMENT, "n", None, None, AS_OF, None),
        days=14,
        as_of=dt.date(2026, 3, 29),
        actions=[],
    ),
}


def _texts(kpi_data: Any, name: str) -> list[str]:
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        recorder = Recorder(gw)
        ANALYSES[name](recorder)
    return recorder.texts


def _policy_views() -> list[str]:
    """Each table's scoped view for a restricted role that may not see people."""
    config = Config(roles={"admin": Role(), "r": Role(vendors=["v"], markets=["m"],
                                                       see_reviewers=False)})  # fmt: skip
    policy = ScopePolicy(config, Scope.for_role(config, "r"), key="k")
    columns = {
        "decisions": ["decision_id", "vendor", "workflow", "market", "reviewer_id"],
        "audit_facts": ["audit_id", "vendor", "market", "reviewer_id", "comment"],
        "qa_audits": ["audit_id", "comment"],
        "calibration_ratings": ["session_id", "item_id", "vendor", "workflow", "rater_id",
                                "label", "is_golden"],
        "calibration_ratings_history": ["session_id", "item_id", "vendor", "rater_id",
                                        "is_golden"],
        "ingest_runs": ["run_id", "file", "vendor", "mapping", "error"],
        "rejected_rows": ["run_id", "file", "raw", "reason"],
        "ingest_warnings": ["run_id", "file", "value", "reason"],
    }  # fmt: skip
    return [f"-- {t}\n{policy.select(t, columns.get(t, ['run_id', 'vendor']))}" for t in POLICY]


def _render(texts: list[str], dialect: str) -> str:
    parts = []
    for i, text in enumerate(texts, 1):
        head, _, body = text.partition("\n") if text.startswith("-- ") else ("", "", text)
        sql = body if dialect == "duckdb" else to_spark_sql(body)
        parts.append(f"-- query {i}{' ' + head[3:] if head else ''}\n{sql.strip()};\n")
    return "\n".join(parts)


def _check(name: str, texts: list[str], request: pytest.FixtureRequest) -> None:
    assert texts, f"{name} ran no query"
    update = request.config.getoption("--update-sql-snapshots")
    for dialect in ("duckdb", "spark"):
        path = SNAPSHOTS / f"{name}.{dialect}.sql"
        rendered = _render(texts, dialect)
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rendered, encoding="utf-8")
            continue
        assert path.exists(), f"no snapshot {path.name}: run with --update-sql-snapshots"
        assert rendered == path.read_text(encoding="utf-8"), (
            f"{path.name} differs from the query the code renders now: review the change and "
            "rerun with --update-sql-snapshots if it is intended"
        )


@pytest.mark.parametrize("name", list(ANALYSES))
def test_analysis_sql_matches_its_snapshot(kpi_data, name, request):
    _check(name, _texts(kpi_data, name), request)


def test_scope_policy_views_match_their_snapshot(request):
    _check("scope_policy_views", _policy_views(), request)


def test_every_snapshot_belongs_to_a_query():
    known = {f"{n}.{d}.sql" for n in [*ANALYSES, "scope_policy_views"] for d in ("duckdb", "spark")}
    stale = sorted(p.name for p in SNAPSHOTS.glob("*.sql") if p.name not in known)
    assert not stale, f"snapshots of queries that no longer exist: {stale}"
