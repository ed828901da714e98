"""Quality gaps: segments whose error rate is above target with confidence, and their drill-downs.

A segment is any combination of dimension values. It is a *gap* when the Wilson 95% lower
bound of its error rate (errors / audits) is above its target error rate (1 - quality target);
gaps are ranked by excess errors = decisions x (error_rate - target_error_rate), i.e. the
errors the segment's volume carries beyond target. A broad segment whose excess is mostly
(>= 80%) carried by one narrower gap is marked `explained_by` that segment, so the list leads
to root causes rather than their parents.

Drill-downs, each for one segment: error types (Pareto), reviewers who stand out from their
peers, and the audited decisions with auditor comments.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kpi.catalog import DEFAULT_GAP_DIMENSIONS, GAP_DIMENSIONS
from kpi.compute import kpi_table
from kpi.engines import Engine
from kpi.query import KpiQuery
from kpi.sql import drill
from kpi.stats import wilson_interval_arrays

EXPLAINED_SHARE = 0.8
GAP_KPIS = ("decisions", "audits", "quality_score")


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


def quality_gaps(
    gw: Engine,
    base: KpiQuery | None = None,
    dimensions: Iterable[str] = DEFAULT_GAP_DIMENSIONS,
    max_depth: int = 3,
    min_audits: int = 20,
    include_explained: bool = False,
) -> pd.DataFrame:
    """Ranked gap segments within `base` (its dates and filters), over dimension combinations
    of up to `max_depth` dimensions. Segments with fewer than `min_audits` audits are skipped.
    """
    base = base or KpiQuery()
    dims = [d for d in dimensions if d not in base.where or len(base.where[d]) > 1]
    rows = []
    for depth in range(1, max_depth + 1):
        for combo in itertools.combinations(dims, depth):
            query = base.model_copy(update={"by": combo, "period": None, "kpis": GAP_KPIS})
            table = kpi_table(gw, query, counts=True)
            table = table[(table["audits"] >= min_audits) & table[list(combo)].notna().all(axis=1)]
            for rec in table.to_dict(orient="records"):
                segment = {d: rec[d] for d in combo}
                rows.append(
                    {
                        "segment": segment_label(segment),
                        "dimensions": ",".join(combo),
                        **segment,
                        "decisions": int(rec["decisions"]),
                        "audits": int(rec["audits"]),
                        "errors": int(rec["errors"]),
                        # The error rate is the quality score's complement (catalog), its
                        # Wilson interval the quality score's, mirrored.
                        "error_rate": 1 - rec["quality_score"],
                        "error_rate_low": 1 - rec["quality_score_high"],
                        "error_rate_high": 1 - rec["quality_score_low"],
                        "quality_score": rec["quality_score"],
                        "target_error_rate": _target_error_rate(gw, segment, base),
                    }
                )
    columns = ["segment", "dimensions", *GAP_DIMENSIONS, "decisions", "audits", "errors",
               "error_rate", "error_rate_low", "error_rate_high", "target_error_rate",
               "excess_errors", "quality_score", "explained_by"]  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows)
    for d in GAP_DIMENSIONS:
        if d not in out:
            out[d] = None
    out["excess_errors"] = out["decisions"] * (out["error_rate"] - out["target_error_rate"])
    out = out[out["error_rate_low"] > out["target_error_rate"]].copy()
    out["explained_by"] = _explained_by(out)
    if not include_explained:
        out = out[out["explained_by"].isna()]
    out = out.sort_values(["excess_errors", "segment"], ascending=[False, True])
    return out[columns].reset_index(drop=True)


def _explained_by(gaps: pd.DataFrame) -> list[str | None]:
    segments = [
        ({d: r[d] for d in r["dimensions"].split(",")}, r["segment"], r["excess_errors"])
        for r in gaps.to_dict(orient="records")
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
    """Pareto of error types in a segment: count, share and cumulative share, largest first."""
    out = gw.frame(*drill.error_types(_segment_query(base, segment), gw.scope, _tz(gw)))
    total = out["errors"].sum()
    out["share"] = out["errors"] / total if total else np.nan
    out["cumulative_share"] = out["share"].cumsum()
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
    """The audited decisions of a segment (newest first) with QA's answer and comment."""
    seg = dict(segment)
    if reviewer_id is not None:
        seg["reviewer_id"] = reviewer_id
    query = _segment_query(base, seg)
    sql = drill.audited_decisions(query, gw.scope, _tz(gw), errors_only, error_type, limit)
    return gw.frame(*sql)
