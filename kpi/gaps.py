"""Quality gaps: segments whose error rate is above target with confidence, and their drill-downs.

A segment is any combination of dimension values. It is a *gap* when the Wilson 95% lower
bound of its error rate (errors / audits) is above its target error rate (1 - quality target);
gaps are ranked by excess errors = decisions x (error_rate - target_error_rate), i.e. the
errors the segment's volume carries beyond target. A broad segment whose excess is mostly
(>= 80%) carried by one narrower gap is marked `explained_by` that segment, so the list leads
to root causes rather than their parents.

Drill-downs, each for one segment: error types (Pareto), reviewers who stand out from their
peers, and the audited decisions with auditor comments.

The gap table, the error types and the audited decisions are built on numpy columns
(`kpi.columns`; `*_columns`, with a DataFrame version of each for the pages), so `bpo-kpi gaps`
and its decision and error-type drill-downs import no pandas; the reviewer drill-downs test
with SciPy and read a DataFrame.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from kpi import columns as cols
from kpi.catalog import DEFAULT_GAP_DIMENSIONS, GAP_DIMENSIONS
from kpi.columns import Columns
from kpi.compute import kpi_columns
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.sql import drill
from kpi.stats import wilson_interval_arrays

if TYPE_CHECKING:
    import pandas as pd

EXPLAINED_SHARE = 0.8
GAP_KPIS = ("decisions", "audits", "quality_score")
GAP_COLUMNS = ("segment", "dimensions", *GAP_DIMENSIONS, "decisions", "audits", "errors",
               "error_rate", "error_rate_low", "error_rate_high", "target_error_rate",
               "excess_errors", "quality_score", "explained_by")  # fmt: skip


def _target_error_rate(
    gw: Engine, segment: Mapping[str, Any], base: KpiQuery | None = None
) -> float:
    """1 - the quality target of the segment's (workflow, vendor); a workflow or vendor that
    `base` pins to a single value (and so is not part of the segment) counts too."""
    fixed = {d: v[0] for d, v in (base.where if base else {}).items() if len(v) == 1}
    workflow = segment.get("workflow", fixed.get("workflow"))
    vendor = segment.get("vendor", fixed.get("vendor"))
    return 1.0 - gw.config.targets.resolve(workflow, vendor).quality


def segment_label(segment: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items())


def quality_gaps(gw: Engine, base: KpiQuery | None = None, **options: Any) -> pd.DataFrame:
    """`quality_gap_columns` (the same `options`) as a DataFrame."""
    return cols.to_frame(quality_gap_columns(gw, base, **options))


def quality_gap_columns(
    gw: Engine,
    base: KpiQuery | None = None,
    dimensions: Iterable[str] = DEFAULT_GAP_DIMENSIONS,
    max_depth: int = 3,
    min_audits: int = 20,
    include_explained: bool = False,
) -> Columns:
    """Ranked gap segments within `base` (its dates and filters), over dimension combinations
    of up to `max_depth` dimensions. Segments with fewer than `min_audits` audits are skipped.
    Columns `GAP_COLUMNS`; a dimension not in a row's segment is empty.
    """
    base = base or KpiQuery()
    dims = [d for d in dimensions if d not in base.where or len(base.where[d]) > 1]
    rows: list[dict[str, Any]] = []
    for depth in range(1, max_depth + 1):
        for combo in itertools.combinations(dims, depth):
            query = base.model_copy(update={"by": combo, "period": None, "kpis": GAP_KPIS})
            for rec in cols.records(kpi_columns(gw, query, counts=True)):
                segment = {d: rec[d] for d in combo}
                audits, decisions = int(rec["audits"]), int(rec["decisions"])  # type: ignore[call-overload]
                if audits < min_audits or any(v is None for v in segment.values()):
                    continue
                score = _nan(rec["quality_score"])
                error_rate = 1 - score
                target = _target_error_rate(gw, segment, base)
                # The error rate is the quality score's complement (catalog), its Wilson
                # interval the quality score's, mirrored.
                low = 1 - _nan(rec["quality_score_high"])
                if not low > target:
                    continue
                rows.append(
                    {
                        "segment": segment_label(segment),
                        "dimensions": ",".join(combo),
                        **segment,
                        "decisions": decisions,
                        "audits": audits,
                        "errors": rec["errors"],
                        "error_rate": error_rate,
                        "error_rate_low": low,
                        "error_rate_high": 1 - _nan(rec["quality_score_low"]),
                        "target_error_rate": target,
                        "excess_errors": decisions * (error_rate - target),
                        "quality_score": score,
                    }
                )
    for row, explained in zip(rows, _explained_by(rows), strict=True):
        row["explained_by"] = explained
    if not include_explained:
        rows = [r for r in rows if r["explained_by"] is None]
    rows.sort(key=lambda r: (-r["excess_errors"], r["segment"]))
    numbers = {"decisions": "int64", "audits": "int64", "errors": "int64"}
    return {
        name: np.array([r[name] for r in rows], dtype=numbers.get(name, "float64"))
        if name in numbers or name.startswith(("error_rate", "target", "excess", "quality"))
        else cols.object_array([r.get(name) for r in rows])
        for name in GAP_COLUMNS
    }


def _nan(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _explained_by(gaps: list[dict[str, Any]]) -> list[str | None]:
    segments = [
        ({d: r[d] for d in r["dimensions"].split(",")}, r["segment"], r["excess_errors"])
        for r in gaps
    ]
    result: list[str | None] = []
    for seg, _label, excess in segments:
        best: tuple[float, str] | None = None
        for other, other_label, other_excess in segments:
            narrower = len(other) > len(seg) and all(other.get(k) == v for k, v in seg.items())
            explains = narrower and other_excess >= EXPLAINED_SHARE * excess
            if explains and (best is None or other_excess > best[0]):
                best = (other_excess, other_label)
        result.append(best[1] if best else None)
    return result


def _segment_query(base: KpiQuery | None, segment: Mapping[str, Any]) -> KpiQuery:
    base = base or KpiQuery()
    where: dict[str, tuple[str, ...]] = {str(k): v for k, v in base.where.items()}
    for k, v in segment.items():
        where[k] = (str(v),)
    return base.model_copy(update={"where": where})


def _tz(gw: Engine) -> str:
    return gw.config.reporting_timezone


def error_types(
    gw: Engine, segment: Mapping[str, Any], base: KpiQuery | None = None
) -> pd.DataFrame:
    """`error_type_columns` as a DataFrame."""
    return cols.to_frame(error_type_columns(gw, segment, base))


def error_type_columns(
    gw: Engine, segment: Mapping[str, Any], base: KpiQuery | None = None
) -> Columns:
    """Pareto of error types in a segment: count, share and cumulative share, largest first."""
    out = gw.columns(*drill.error_types(_segment_query(base, segment), gw.scope, _tz(gw)))
    errors = out["errors"].astype("float64")
    total = errors.sum()
    out["share"] = errors / total if total else np.full(len(errors), np.nan)
    out["cumulative_share"] = np.cumsum(out["share"])
    return out


def reviewer_outliers(
    gw: Engine,
    segment: Mapping[str, Any],
    base: KpiQuery | None = None,
    min_audits: int = 10,
    fdr: float = 0.05,
) -> pd.DataFrame:
    """Reviewers in a segment with their error rate against their peers'.

    A reviewer *stands out* when an exact one-sided binomial test of their errors against the
    rate of everyone else in the segment is significant after Benjamini-Hochberg correction
    across the segment's reviewers (false discovery rate `fdr`). Reviewers with fewer than
    `min_audits` audits are listed but never flagged: `sample` says "too few audits".
    """
    sql = drill.reviewer_errors(_segment_query(base, segment), gw.scope, _tz(gw))
    return _flag_outliers(gw.frame(*sql), min_audits, fdr)


def reviewer_error_type_outliers(
    gw: Engine,
    segment: Mapping[str, Any],
    error_type: str,
    base: KpiQuery | None = None,
    min_audits: int = 10,
    fdr: float = 0.05,
) -> pd.DataFrame:
    """Reviewers in a segment with their rate of one error type against their peers'.

    The columns of `reviewer_outliers`, with `errors` counting only errors of `error_type`
    (error rate = errors of that type / audits). A reviewer stands out when a one-sided
    Fisher exact test of their errors / non-errors against the rest of the segment's is
    significant after Benjamini-Hochberg correction (false discovery rate `fdr`). One error
    type is often rare, so the peers' rate is often 0 or close to it; Fisher's test carries the
    uncertainty of that rate, where a binomial test against it would call a single error
    significant. Reviewers with fewer than `min_audits` audits are listed but never flagged.
    """
    sql = drill.reviewer_errors(_segment_query(base, segment), gw.scope, _tz(gw), error_type)
    return _flag_outliers(gw.frame(*sql), min_audits, fdr, "fisher")


def pooled_error_rate(reviewers: pd.DataFrame) -> float:
    """The segment's error rate over all its reviewers (a `reviewer_outliers` frame): the
    reference their rates are read against."""
    audits = int(reviewers["audits"].sum())
    return float(reviewers["errors"].sum() / audits) if audits else float("nan")


def _flag_outliers(
    out: pd.DataFrame, min_audits: int, fdr: float, test: str = "binomial"
) -> pd.DataFrame:
    """Add error rates, peer rates, the one-sided test (`binomial` against the peers' rate, or
    `fisher` against the peers' counts) and the outlier flag to per-reviewer `audits` /
    `errors` counts (see `reviewer_outliers`)."""
    # SciPy only here, where a reviewer drill tests: the gap table and the decision drill-down
    # start without it (kpi.stats' docstring on start-up). Benjamini-Hochberg is SciPy's
    # (equal to statsmodels' multipletests "fdr_bh" to 1 ulp): statsmodels.stats takes ~2 s
    # more to import.
    from scipy.stats import binomtest, false_discovery_control, fisher_exact

    if out.empty:
        return out.assign(
            error_rate=[], error_rate_low=[], error_rate_high=[], peer_error_rate=[],
            p_value=[], q_value=[], outlier=[], sample=[],
        )  # fmt: skip
    total_a, total_e = out["audits"].sum(), out["errors"].sum()
    out["error_rate"] = out["errors"] / out["audits"]
    low, high = wilson_interval_arrays(out["errors"].to_numpy(float), out["audits"].to_numpy(float))
    out["error_rate_low"], out["error_rate_high"] = low, high
    peer_a = total_a - out["audits"]
    out["peer_error_rate"] = ((total_e - out["errors"]) / peer_a).where(peer_a > 0)
    enough = (out["audits"] >= min_audits) & out["peer_error_rate"].notna()
    p = np.ones(len(out))
    for i in np.flatnonzero(enough.to_numpy()):
        errors, audits = int(out["errors"].iat[i]), int(out["audits"].iat[i])
        if test == "fisher":
            peer_e, peer_n = int(total_e) - errors, int(peer_a.iat[i])
            table = [[errors, audits - errors], [peer_e, peer_n - peer_e]]
            p[i] = fisher_exact(table, alternative="greater").pvalue
            continue
        peer = float(out["peer_error_rate"].iat[i])
        peer = min(max(peer, 1e-9), 1 - 1e-9)
        p[i] = binomtest(errors, audits, peer, alternative="greater").pvalue
    out["p_value"] = np.where(enough, p, np.nan)
    q = np.full(len(out), np.nan)
    if enough.any():
        q[enough.to_numpy()] = false_discovery_control(p[enough.to_numpy()], method="bh")
    out["q_value"] = q
    out["outlier"] = enough & (out["q_value"] < fdr)
    out["sample"] = np.where(enough, "ok", "too few audits")
    # Ties broken by audits and id: the aggregate's row order varies from run to run.
    order = ["outlier", "errors", "audits", "reviewer_id"]
    return out.sort_values(order, ascending=[False, False, False, True]).reset_index(drop=True)


def audited_decisions(
    gw: Engine,
    segment: Mapping[str, Any],
    base: KpiQuery | None = None,
    errors_only: bool = True,
    error_type: str | None = None,
    reviewer_id: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """The audited decisions of a segment (newest first) with QA's answer and comment; times
    as UTC instants (`audited_decision_columns`: the same as numpy columns)."""
    return gw.frame(*_audited_sql(gw, segment, base, errors_only, error_type, reviewer_id, limit))


def audited_decision_columns(
    gw: Engine, segment: Mapping[str, Any], base: KpiQuery | None = None, **options: Any
) -> Columns:
    """`audited_decisions` (the same `options`) as numpy columns (times: UTC datetime64)."""
    return gw.columns(*_audited_sql(gw, segment, base, **options))


def _audited_sql(
    gw: Engine,
    segment: Mapping[str, Any],
    base: KpiQuery | None,
    errors_only: bool = True,
    error_type: str | None = None,
    reviewer_id: str | None = None,
    limit: int = 500,
) -> tuple[str, dict[str, Any]]:
    seg = dict(segment)
    if reviewer_id is not None:
        seg["reviewer_id"] = reviewer_id
    query = _segment_query(base, seg)
    return drill.audited_decisions(query, gw.scope, _tz(gw), errors_only, error_type, limit)
