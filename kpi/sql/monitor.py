"""The monitor's own queries (`kpi.monitor`); its KPIs come from the KPI table."""

from __future__ import annotations

from collections.abc import Mapping

from kpi.catalog import SCOPED_DIMENSIONS
from kpi.query import DimensionName
from kpi.sql.core import Bounds, Params, Statement, in_values, statement


def newest_audit() -> Statement:
    """The newest audited_at the viewer can see."""
    return statement("SELECT max(audited_at) AS newest FROM audit_facts")


def edits_after_audit(window: Bounds, where: Mapping[DimensionName, tuple[str, ...]]) -> Statement:
    """Edits after audit recorded in `window`, per vendor and workflow: edits, decisions,
    audits, label changes and the ingest runs that brought them. `where` filters the
    dimensions the table carries (the scoped ones)."""
    params = Params()
    conds = ["true"]
    if window.start is not None:
        conds.append(f"recorded_at >= {params.bind(window.start)}")
    if window.end is not None:
        conds.append(f"recorded_at < {params.bind(window.end)}")
    for dim, values in where.items():
        if dim in SCOPED_DIMENSIONS:
            conds.append(in_values(dim, values, params))
    sql = (
        "SELECT vendor, workflow, count(*) AS edits, count(DISTINCT decision_id) AS decisions, "
        "sum(audits) AS audits, count(*) FILTER (WHERE old_decision IS DISTINCT FROM "
        "new_decision) AS label_changes, list(DISTINCT run_id ORDER BY run_id) AS runs "
        f"FROM edits_after_audit WHERE {' AND '.join(conds)} GROUP BY ALL"
    )
    return statement(sql, params)
