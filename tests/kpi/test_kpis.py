"""Every KPI of kpi.catalog.KPIS against an independent oracle computed from the raw rows.

The oracle below knows nothing of kpi.compute / kpi.sql: it re-derives error types and
severities from docs/ARCHITECTURE.md §2 and the configuration, computes TAT with pandas,
quantiles with numpy (linear interpolation), Wilson intervals with statsmodels, Cohen's kappa
with scikit-learn and its interval with statsmodels' `cohens_kappa` (Fleiss, Cohen & Everitt's
large-sample standard error, from the group's vendor x QA table), cuts periods in the
reporting time zone with zoneinfo, and counts the backlog at each period end E (= the period's
end, or `as_of` / the query's end for the last period) as
`enqueued_at < E and (decided_at is null or decided_at >= E)`, past SLA when also `due_at < E`.

Interpretations (where the definitions are silent) that the oracle makes explicit:
- QA without a policy does not dispute the vendor's policy (no `wrong_policy` without qa_policy).
- sla_attainment's denominator is the decided decisions that have a due time (queue or config).
- over/under-enforcement rates are shares: their numerator counts only errors inside the
  denominator's population (audits of actioning decisions / audits whose qa_decision is
  actioning), so a QA-given error type on an audit outside it cannot push the rate above 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import shutil
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from bpo_kpi.config import Config, QualityWeights
from kpi import compute
from kpi.catalog import DIMENSIONS, KPIS
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.sql import bounds

UTC = dt.UTC
NY = "America/New_York"
COUNT_KPIS = [k for k, v in KPIS.items() if v.unit == "count"]
SHARE_KPIS = [k for k, v in KPIS.items() if v.unit == "share"]
INTERVAL_KPIS = [k for k, v in KPIS.items() if v.interval]


# --- oracle ------------------------------------------------------------------------------------


def _none(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def oracle_error_type(row: Any, actioning: set[str]) -> str | None:
    """docs/ARCHITECTURE.md §2: QA's error type when given ('none' = no error), else derived
    from labels."""
    explicit = _none(row.error_type)
    if explicit is not None:
        return None if explicit == "none" else explicit
    vendor_a, qa_a = row.decision in actioning, row.qa_decision in actioning
    if vendor_a and not qa_a:
        return "over_enforcement"
    if qa_a and not vendor_a:
        return "under_enforcement"
    if vendor_a and qa_a:
        qa_policy = _none(row.qa_policy)
        if qa_policy is not None and qa_policy != _none(row.policy):
            return "wrong_policy"
        if row.decision != row.qa_decision:
            return "wrong_action"
    return None


def oracle_severity(row: Any, error_type: str | None, config: Config) -> str | None:
    if error_type is None:
        return None
    if _none(row.severity) is not None:
        return row.severity
    policy = _none(row.qa_policy) or _none(row.policy)
    for rule in config.severity_rules:
        if (
            rule.error_type in (None, error_type)
            and rule.workflow in (None, row.workflow)
            and rule.policy in (None, policy)
        ):
            return rule.severity
    return config.default_severity


def prepare(
    decisions: pd.DataFrame,
    audits: pd.DataFrame,
    config: Config,
    scored: pd.DataFrame | None = None,
):
    """Decisions with their effective due time; audits joined to their decisions (no orphans),
    scored against the label and policy in `scored` (default: the decision's own)."""
    dec = decisions.copy()
    due = []
    for row in dec.itertuples():
        if not pd.isna(row.due_at):
            due.append(row.due_at)
            continue
        minutes = None
        if _none(row.priority) is not None:
            minutes = config.targets.resolve(row.workflow, row.vendor).sla_minutes.get(row.priority)
        due.append(row.enqueued_at + pd.Timedelta(minutes=int(minutes)) if minutes else pd.NaT)
    dec["due"] = pd.to_datetime(pd.Series(due, index=dec.index, dtype=object), utc=True)
    act = set(config.actioning_labels)
    aud = audits.merge(dec, on="decision_id", how="inner")  # orphans have no decision
    aud = aud[aud["decided_at"].notna()].copy()  # an audit belongs to its decision's period
    if scored is not None:
        pinned = scored.set_index("decision_id")
        aud["decision"] = aud["decision_id"].map(pinned["decision"])
        aud["policy"] = aud["decision_id"].map(pinned["policy"])
    aud["et"] = [oracle_error_type(r, act) for r in aud.itertuples()]
    aud["sev"] = [
        oracle_severity(r, e, config) for r, e in zip(aud.itertuples(), aud["et"], strict=True)
    ]
    aud["dispute"] = aud["dispute_status"].map(_none).fillna("none")
    aud["is_error"] = aud["et"].notna() & (aud["dispute"] != "overturned")
    return dec, aud


def period_of(day: dt.date, period: str | None) -> dt.date | None:
    if period is None:
        return None
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO week starts on Monday
    if period == "quarter":  # calendar quarters: January, April, July, October
        return day.replace(month=day.month - (day.month - 1) % 3, day=1)
    return day.replace(day=1)


def next_period(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "quarter":
        month = start.month + 3
        return dt.date(start.year + (month > 12), (month - 1) % 12 + 1, 1)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def midnight_utc(day: dt.date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))).tz_convert(UTC)


def local_day(ts: pd.Series, tz: str) -> pd.Series:
    return ts.dt.tz_convert(tz).dt.date


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else math.nan


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


@functools.cache
def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return float(low), float(high)


@functools.cache
def _kappa(pairs: tuple[tuple[str, str], ...]) -> float:
    """Cohen's kappa of (decision, qa_decision) pairs (sorted: the cache key)."""
    if not pairs:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns (and returns nan) when pe == 1
        return float(cohen_kappa_score([p[0] for p in pairs], [p[1] for p in pairs]))


@functools.cache
def _kappa_interval(pairs: tuple[tuple[str, str], ...]) -> tuple[float, float]:
    """statsmodels' 95% interval of Cohen's kappa from the pairs' vendor x QA table, clipped
    to [-1, 1]; NaN where kappa is undefined (no pairs, or a single label on both sides)."""
    labels = sorted({x for p in pairs for x in p})
    if len(labels) < 2:
        return math.nan, math.nan
    table = pd.crosstab(
        pd.Categorical([p[0] for p in pairs], labels),
        pd.Categorical([p[1] for p in pairs], labels),
        dropna=False,
    ).to_numpy()  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a variance a hair below 0 (perfect agreement)
        res = cohens_kappa(table)
    if res.var_kappa < 1e-12:  # a zero variance up to rounding (a kappa of 1, or 0 by one rater
        # using one label): noise of either sign, which kpi.stats takes as 0
        return float(res.kappa), float(res.kappa)
    return max(-1.0, float(res.kappa_low)), min(1.0, float(res.kappa_upp))


def _mean_interval(scores: tuple[float, ...]) -> tuple[float, float, float]:
    """The mean audit score and its 95% interval: statsmodels' Wilson interval at the effective
    number of audits n m(1 - m) / s**2 (s**2: DescrStatsW's sample variance; n itself where
    s = 0, m(1 - m) = 0 or the effect exceeds 1), kpi.stats' documented choice."""
    x = np.asarray(scores, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    n_eff = float(len(x))
    if len(x) > 1:
        var = float(DescrStatsW(x).var * len(x) / (len(x) - 1))
        if var > 1e-12 and 0 < mean < 1:
            n_eff = len(x) / min(1.0, var / (mean * (1 - mean)))
    low, high = proportion_confint(mean * n_eff, n_eff, alpha=0.05, method="wilson")
    return mean, max(0.0, float(low)), min(1.0, float(high))


def oracle_points(weights: QualityWeights) -> dict[str, float]:
    """An audit's score by its error's severity: 1 - the severity's weight; 0 for a critical
    error while critical_fails_audit."""
    return {
        "critical": 0.0 if weights.critical_fails_audit else 1.0 - weights.critical,
        "major": 1.0 - weights.major,
        "minor": 1.0 - weights.minor,
    }


def _key(row: Any, by: Sequence[str]) -> tuple:
    return tuple(_none(getattr(row, d)) for d in by)


def oracle_table(
    prepared: tuple[pd.DataFrame, pd.DataFrame],
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    where: dict[str, Sequence[str]] | None = None,
    tz: str = NY,
    as_of: dt.datetime,
    actioning: Sequence[str],
    weights: QualityWeights | None = None,
) -> dict[tuple, dict[str, float]]:
    """KPI values per group key `(*by values, period start or None)`; `weights`: the
    configuration's quality_weights (default: the defaults)."""
    dec, aud = prepared
    act = set(actioning)
    for dim, values in (where or {}).items():
        dec = dec[dec[dim].isin(values)]
    decided = dec[dec["decided_at"].notna()].copy()
    decided["day"] = local_day(decided["decided_at"], tz)
    if start is not None:
        decided = decided[decided["day"] >= start]
    if end is not None:
        decided = decided[decided["day"] <= end]
    decided["key"] = [_key(r, by) + (period_of(r.day, period),) for r in decided.itertuples()]
    decided["tat"] = (decided["decided_at"] - decided["enqueued_at"]).dt.total_seconds() / 60
    decided["handle"] = (decided["decided_at"] - decided["claimed_at"]).dt.total_seconds() / 60
    decided["sla_known"] = decided["due"].notna()
    decided["sla_met"] = decided["sla_known"] & (decided["decided_at"] <= decided["due"])
    # Audits belong to their decision's group and period; orphans and pending ones drop out.
    a = aud.merge(decided[["decision_id", "key"]], on="decision_id", how="inner")
    a["vendor_act"] = a["decision"].isin(act)
    a["qa_act"] = a["qa_decision"].isin(act)
    a["critical"] = a["is_error"] & (a["sev"] == "critical")
    a["agree"] = a["decision"] == a["qa_decision"]
    a["over"] = a["is_error"] & (a["et"] == "over_enforcement") & a["vendor_act"]
    a["under"] = a["is_error"] & (a["et"] == "under_enforcement") & a["qa_act"]
    a["typed"] = a["et"].notna()
    a["disputed"] = a["typed"] & a["dispute"].isin(["pending", "upheld", "overturned"])
    a["resolved"] = a["dispute"].isin(["upheld", "overturned"])
    a["overturned"] = a["dispute"] == "overturned"
    a["pending"] = a["dispute"] == "pending"
    raised, resolved = (
        pd.to_datetime(a[c], utc=True) for c in ("disputed_at", "dispute_resolved_at")
    )
    took = (resolved - raised).dt.total_seconds() / 60
    a["resolve_minutes"] = took.where(a["resolved"] & (took >= 0))
    a["timed"] = a["resolve_minutes"].notna()
    # weighted_quality_score: each audit scores 1, or its error's severity's points
    points = oracle_points(weights or QualityWeights())
    a["score"] = [points[sev] if err else 1.0 for err, sev in zip(a["is_error"], a["sev"],
                                                                  strict=True)]  # fmt: skip
    # precision / recall of enforcement: the truth is QA's label unless a dispute overturned it
    a["truth_act"] = [v if o else q for v, q, o in zip(a["vendor_act"], a["qa_act"],
                                                       a["overturned"], strict=True)]  # fmt: skip
    a["both_act"] = a["vendor_act"] & a["truth_act"]

    dstats: dict[tuple, dict[str, float]] = {}
    for key, grp in decided.groupby("key", sort=False):
        tat = grp["tat"].to_numpy()
        handle = grp["handle"].dropna().to_numpy()
        p50, p90, p95, p99 = np.quantile(tat, [0.5, 0.9, 0.95, 0.99])
        dstats[key] = {
            "decisions": len(grp),
            "tat_p50": p50,
            "tat_p90": p90,
            "tat_p95": p95,
            "tat_p99": p99,
            "tat_mean": _mean(tat),
            "handle_minutes_mean": _mean(handle),
            "handle_minutes_p90": _quantile(handle, 0.9),
            "sla_known": int(grp["sla_known"].sum()),
            "sla_met": int(grp["sla_met"].sum()),
        }
    flags = [
        "is_error",
        "critical",
        "agree",
        "vendor_act",
        "qa_act",
        "over",
        "under",
        "typed",
        "disputed",
        "resolved",
        "overturned",
        "pending",
        "timed",
        "truth_act",
        "both_act",
    ]
    astats: dict[tuple, dict[str, float]] = {}
    for key, grp in a.groupby("key", sort=False):
        pairs = tuple(sorted(zip(grp["decision"], grp["qa_decision"], strict=True)))
        astats[key] = {f: int(grp[f].sum()) for f in flags} | {
            "audits": len(grp),
            "audited": grp["decision_id"].nunique(),
            "kappa": _kappa(pairs),
            "kappa_ci": _kappa_interval(pairs),
            "resolve_p50": _quantile(grp["resolve_minutes"].dropna().to_numpy(), 0.5),
            "score": _mean_interval(tuple(grp["score"])),
        }

    # Backlog at each period's end (or the cut-off for the last one).
    cut = pd.Timestamp(as_of)
    if end is not None:
        cut = min(cut, midnight_utc(end + dt.timedelta(days=1), tz))
    ends: list[tuple[dt.date | None, pd.Timestamp]] = []
    if period is None:
        ends.append((None, cut))
    elif len(dec):
        last = end or pd.Timestamp(as_of).tz_convert(tz).date()
        p = period_of(start or local_day(dec["enqueued_at"], tz).min(), period)
        while p <= period_of(last, period):
            ends.append((p, min(midnight_utc(next_period(p, period), tz), cut)))
            p = next_period(p, period)
    dec_keys = pd.Series([_key(r, by) for r in dec.itertuples()], index=dec.index, dtype=object)
    backlog: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for p, e in ends:
        open_ = (dec["enqueued_at"] < e) & (dec["decided_at"].isna() | (dec["decided_at"] >= e))
        late = open_ & dec["due"].notna() & (dec["due"] < e)
        for k, n in dec_keys[open_].value_counts().items():
            backlog[(*k, p)][0] = int(n)
        for k, n in dec_keys[late].value_counts().items():
            backlog[(*k, p)][1] = int(n)

    out: dict[tuple, dict[str, float]] = {}
    keys = set(dstats) | set(astats) | {k for k, v in backlog.items() if v[0]}
    nan_d = {"decisions": 0, "sla_known": 0, "sla_met": 0} | {
        name: math.nan
        for name in [
            "tat_p50",
            "tat_p90",
            "tat_p95",
            "tat_p99",
            "tat_mean",
            "handle_minutes_mean",
            "handle_minutes_p90",
        ]
    }
    nan_a = dict.fromkeys([*flags, "audits", "audited"], 0) | {
        "kappa": math.nan,
        "kappa_ci": (math.nan, math.nan),
        "resolve_p50": math.nan,
        "score": (math.nan, math.nan, math.nan),
    }
    for key in keys:
        d = dstats.get(key, nan_d)
        s = astats.get(key, nan_a)
        n_aud, errors = int(s["audits"]), int(s["is_error"])
        v: dict[str, float] = {
            name: d[name]
            for name in [
                "tat_p50",
                "tat_p90",
                "tat_p95",
                "tat_p99",
                "tat_mean",
                "handle_minutes_mean",
                "handle_minutes_p90",
            ]
        }
        v |= {
            "decisions": int(d["decisions"]),
            "sla_attainment": _ratio(d["sla_met"], d["sla_known"]),
            "backlog": backlog[key][0] if key in backlog else 0,
            "backlog_over_sla": backlog[key][1] if key in backlog else 0,
            "audits": n_aud,
            "qa_coverage": _ratio(s["audited"], d["decisions"]),
            "quality_score": 1 - _ratio(errors, n_aud),
            "critical_error_rate": _ratio(s["critical"], n_aud),
            "agreement_rate": _ratio(s["agree"], n_aud),
            "cohen_kappa": s["kappa"],
            "over_enforcement_rate": _ratio(s["over"], s["vendor_act"]),
            "under_enforcement_rate": _ratio(s["under"], s["qa_act"]),
            "dispute_rate": _ratio(s["disputed"], s["typed"]),
            "overturn_rate": _ratio(s["overturned"], s["resolved"]),
            "quality_score_before_disputes": 1 - _ratio(s["typed"], n_aud),
            "disputes_pending": int(s["pending"]),
            "dispute_resolution_p50": s["resolve_p50"],
            "weighted_quality_score": s["score"][0],
            "enforcement_precision": _ratio(s["both_act"], s["vendor_act"]),
            "enforcement_recall": _ratio(s["both_act"], s["truth_act"]),
        }
        intervals = {
            "sla_attainment": (d["sla_met"], d["sla_known"]),
            "quality_score": (n_aud - errors, n_aud),
            "critical_error_rate": (s["critical"], n_aud),
            "agreement_rate": (s["agree"], n_aud),
            "over_enforcement_rate": (s["over"], s["vendor_act"]),
            "under_enforcement_rate": (s["under"], s["qa_act"]),
            "dispute_rate": (s["disputed"], s["typed"]),
            "overturn_rate": (s["overturned"], s["resolved"]),
            "quality_score_before_disputes": (n_aud - s["typed"], n_aud),
            "enforcement_precision": (s["both_act"], s["vendor_act"]),
            "enforcement_recall": (s["both_act"], s["truth_act"]),
        }
        for name, (x, n) in intervals.items():
            v[f"{name}_low"], v[f"{name}_high"] = _wilson(int(x), int(n))
        v["cohen_kappa_low"], v["cohen_kappa_high"] = s["kappa_ci"]
        v["weighted_quality_score_low"], v["weighted_quality_score_high"] = s["score"][1:]
        out[key] = v
    return out


ORACLE_INTERVALS = {
    "cohen_kappa",
    "sla_attainment",
    "quality_score",
    "critical_error_rate",
    "agreement_rate",
    "over_enforcement_rate",
    "under_enforcement_rate",
    "dispute_rate",
    "overturn_rate",
    "quality_score_before_disputes",
    "weighted_quality_score",
    "enforcement_precision",
    "enforcement_recall",
}


# --- comparison --------------------------------------------------------------------------------


def result_map(frame: pd.DataFrame, by: Sequence[str], period: str | None) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for rec in frame.to_dict(orient="records"):
        key = tuple(_none(rec[d]) for d in by) + (rec["period_start"] if period else None,)
        assert key not in out, f"duplicate output row for group {key}"
        out[key] = rec
    return out


def _same(got: Any, want: Any) -> bool:
    got_nan = got is None or (isinstance(got, float) and math.isnan(got))
    want_nan = isinstance(want, float) and math.isnan(want)
    if got_nan or want_nan:
        return got_nan and want_nan
    return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)


def assert_matches_oracle(
    frame: pd.DataFrame, expected: dict[tuple, dict], by: Sequence[str], period: str | None
) -> None:
    assert list(frame.columns[: len(by)]) == list(by)
    for name in COUNT_KPIS:
        assert pd.api.types.is_integer_dtype(frame[name]), f"{name} is {frame[name].dtype}"
    got = result_map(frame, by, period)
    missing = sorted(set(expected) - set(got), key=str)
    extra = sorted(set(got) - set(expected), key=str)
    assert not missing and not extra, (
        f"groups missing from kpi_table: {missing[:10]} ({len(missing)}); "
        f"unexpected groups: {extra[:10]} ({len(extra)})"
    )
    bad = []
    for key in sorted(expected, key=str):
        for col, want in expected[key].items():
            if not _same(got[key][col], want):
                bad.append(f"{key} {col}: kpi_table={got[key][col]!r} oracle={want!r}")
    assert not bad, f"{len(bad)} mismatches, first ones:\n" + "\n".join(bad[:25])


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(kpi_data):
    return prepare(kpi_data.decisions, kpi_data.audits, kpi_data.config, kpi_data.scored)


@pytest.fixture(scope="module")
def gw(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config) as gateway:
        yield gateway


def test_oracle_covers_the_whole_catalog(kpi_data, prepared):
    expected = oracle_table(
        prepared, as_of=kpi_data.as_of, actioning=kpi_data.config.actioning_labels
    )
    (values,) = expected.values()
    names = set(KPIS) | {f"{k}_{s}" for k in INTERVAL_KPIS for s in ("low", "high")}
    assert set(values) == names
    assert set(INTERVAL_KPIS) == ORACLE_INTERVALS


def test_generated_data_exercises_the_edge_cases(kpi_data, prepared):
    dec, aud = prepared
    d = kpi_data.decisions
    assert d["decided_at"].isna().sum() > 100  # pending
    assert d["claimed_at"].isna().sum() > 100
    assert d["due_at"].notna().sum() > 500 and d["due_at"].isna().sum() > 500
    assert (dec["due_at"].isna() & dec["due"].notna()).sum() > 500  # SLA from configuration
    assert (dec["due"].isna()).sum() > 10  # no priority, no queue due time: SLA unknown
    assert d["site"].isna().any() and d["market"].isna().any()
    assert set(aud["et"].dropna()) == {
        "over_enforcement",
        "under_enforcement",
        "wrong_policy",
        "wrong_action",
    }
    assert set(aud["dispute"]) == {"none", "pending", "upheld", "overturned"}
    raised, resolved = (
        pd.to_datetime(aud[c], utc=True) for c in ("disputed_at", "dispute_resolved_at")
    )
    disputed = aud["dispute"] != "none"
    assert (disputed & raised.isna()).sum() > 3  # disputes without a time
    assert (resolved < raised).sum() > 3  # "resolved" before raised: no resolution time
    assert (resolved >= raised).sum() > 30
    assert set(aud["sev"].dropna()) == {"critical", "major", "minor"}
    # Overturned disputes where the truth (the vendor's label) differs from QA's on actioning:
    # precision and recall would differ if QA were the truth.
    act = set(kpi_data.config.actioning_labels)
    overturned = aud[aud["dispute"] == "overturned"]
    assert (overturned["decision"].isin(act) != overturned["qa_decision"].isin(act)).sum() >= 5
    assert kpi_data.audits["error_type"].notna().sum() > 10
    assert (~kpi_data.audits["decision_id"].isin(d["decision_id"])).sum() == 8  # orphans
    assert (aud.groupby("decision_id").size() > 1).any()  # decisions audited twice
    # Local midnights: New York and UTC days differ for these decisions.
    local = d["decided_at"].dt.tz_convert(NY)
    assert ((local.dt.hour == 0) & (local.dt.minute == 0) & (local.dt.second == 0)).sum() >= 10
    assert (local.dt.date != d["decided_at"].dt.date).sum() > 100


# --- the KPI table against the oracle ----------------------------------------------------------

SCENARIOS = {
    "overall": dict(by=()),
    "by_vendor": dict(by=("vendor",)),
    "vendor_workflow_week": dict(by=("vendor", "workflow"), period="week"),
    "reviewer_day": dict(by=("reviewer_id",), period="day"),
    "filtered_site_day": dict(
        by=("site",),
        period="day",
        where={"vendor": ("meridian", "pacifica")},
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 16),
    ),
    "filtered_week_midweek_bounds": dict(
        by=("vendor",),
        period="week",
        where={"workflow": ("hate_speech", "critical_harms")},
        start=dt.date(2026, 3, 4),
        end=dt.date(2026, 3, 18),
    ),
    "market_priority_month": dict(by=("market", "priority"), period="month"),
    "vendor_quarter": dict(by=("vendor",), period="quarter"),
    "overall_day": dict(by=(), period="day"),
    "reviewer": dict(by=("reviewer_id",)),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_kpi_table_matches_oracle(name, kpi_data, prepared, gw):
    spec = SCENARIOS[name]
    query = KpiQuery(**spec)
    frame = kpi_table(gw, query, as_of=kpi_data.as_of)
    expected = oracle_table(
        prepared, **spec, as_of=kpi_data.as_of, actioning=kpi_data.config.actioning_labels
    )
    assert_matches_oracle(frame, expected, spec["by"], spec.get("period"))


@pytest.mark.parametrize(
    "name", [n for n, s in SCENARIOS.items() if s.get("period") not in (None, "quarter")]
)  # the data spans one quarter: quarter slices are tested on `quarter_data`
def test_quantile_sources_in_period_slices_match_oracle(name, kpi_data, prepared, gw, monkeypatch):
    """Sources with exact quantiles are queried in slices of whole periods (bounded memory at
    scale). With slices of a few hundred rows the window is cut into many contiguous slices in
    the reporting zone (New York: daylight saving time) and the table still equals the oracle."""
    monkeypatch.setattr(compute, "QUANTILE_SLICE_ROWS", 300)
    spec = SCENARIOS[name]
    query = KpiQuery(**spec)
    b = bounds(query, kpi_data.config.reporting_timezone, kpi_data.as_of)
    slices = compute._period_slices(gw, "decisions", query, b)
    assert len(slices) >= 2
    assert (slices[0].start, slices[-1].end) == (b.start, b.end)
    for before, after in zip(slices, slices[1:], strict=False):
        assert before.end == after.start
        local = after.start.astimezone(ZoneInfo(kpi_data.config.reporting_timezone))
        assert local.time() == dt.time(0)  # a local period start
        if spec["period"] == "week":
            assert local.weekday() == 0
        if spec["period"] == "month":
            assert local.day == 1
    frame = kpi_table(gw, query, as_of=kpi_data.as_of)
    expected = oracle_table(
        prepared, **spec, as_of=kpi_data.as_of, actioning=kpi_data.config.actioning_labels
    )
    assert_matches_oracle(frame, expected, spec["by"], spec.get("period"))


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_other_reporting_time_zones(tz, kpi_data, prepared):
    """Periods follow the configured zone: the same data cut in UTC / +05:30 days and weeks."""
    config = kpi_data.config.model_copy(update={"reporting_timezone": tz})
    with Gateway(kpi_data.db, config=config) as gateway:
        for period in ("day", "week"):
            frame = kpi_table(gateway, KpiQuery(by=("vendor",), period=period), kpi_data.as_of)
            expected = oracle_table(
                prepared,
                by=("vendor",),
                period=period,
                tz=tz,
                as_of=kpi_data.as_of,
                actioning=config.actioning_labels,
            )
            assert_matches_oracle(frame, expected, ("vendor",), period)


def test_local_midnight_and_week_boundaries(kpi_data, gw):
    """A decision at 00:00 New York time opens the new day; Sunday 23:59:59 closes the week."""
    d = kpi_data.decisions
    frame = kpi_table(gw, KpiQuery(period="day", kpis=("decisions",)), kpi_data.as_of)
    per_day = dict(zip(frame["period_start"], frame["decisions"], strict=True))
    local = d["decided_at"].dt.tz_convert(NY).dt.date
    for day in (dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 8), dt.date(2026, 3, 9)):
        assert per_day[day] == int((local == day).sum())
        assert per_day[day] != int((d["decided_at"].dt.date == day).sum())  # not UTC days
    weeks = kpi_table(gw, KpiQuery(period="week", kpis=("decisions",)), kpi_data.as_of)
    assert {p.weekday() for p in weeks["period_start"]} == {0}
    sunday_late = pd.Timestamp("2026-03-01 23:59:59", tz=NY)
    monday = pd.Timestamp("2026-03-02 00:00:00", tz=NY)
    in_week = lambda s, e: int(  # noqa: E731
        (
            (d["decided_at"] >= pd.Timestamp(s, tz=NY)) & (d["decided_at"] < pd.Timestamp(e, tz=NY))
        ).sum()
    )
    by_week = dict(zip(weeks["period_start"], weeks["decisions"], strict=True))
    assert (d["decided_at"] == sunday_late).any() and (d["decided_at"] == monday).any()
    assert by_week[dt.date(2026, 2, 23)] == in_week("2026-02-23", "2026-03-02")
    assert by_week[dt.date(2026, 3, 2)] == in_week("2026-03-02", "2026-03-09")


# --- calendar quarters across a year end and a daylight saving change -------------------------

QUARTER_ZONES = (NY, "Australia/Sydney")  # DST spring forward in March / fall back in April
QUARTER_AS_OF = dt.datetime(2026, 6, 1, tzinfo=UTC)


def _quarter_edges(tz: str) -> list[dt.datetime]:
    """Instants around the local starts of 2026-Q1 (a year end) and 2026-Q2: New York changes
    clocks inside Q1 (8 Mar), Sydney inside Q2 (5 Apr), so the edges have different offsets."""
    zone = ZoneInfo(tz)
    out = []
    for day in (dt.date(2026, 1, 1), dt.date(2026, 4, 1)):
        start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        out += [start, start - dt.timedelta(seconds=1), start + dt.timedelta(hours=1)]
    return [t.astimezone(UTC) for t in out]


@pytest.fixture(scope="module")
def quarter_data(kpi_data):
    """The test data's decisions spread from November 2025 to May 2026 (each keeps its turnaround,
    claim and due offsets), with decisions just before and at the local starts of 2026-Q1 and
    2026-Q2 in both zones, and fresh audits: (database connection, decisions, audits)."""
    rng = np.random.default_rng(2026)
    d = kpi_data.decisions
    d = d[d["decision_id"].str.startswith("d")].sample(900, random_state=3).reset_index(drop=True)
    span = (pd.Timestamp("2026-05-25", tz=UTC) - pd.Timestamp("2025-11-05", tz=UTC)).total_seconds()
    new_decided = pd.Timestamp("2025-11-05", tz=UTC) + pd.to_timedelta(
        rng.random(len(d)) * span, unit="s"
    )
    edges = [t for tz in QUARTER_ZONES for t in _quarter_edges(tz)]
    new_decided = pd.Series(new_decided.floor("s"), index=d.index)
    new_decided.iloc[: 2 * len(edges)] = [pd.Timestamp(t) for t in edges * 2]
    pending = d["decided_at"].isna()
    anchor = d["decided_at"].fillna(d["enqueued_at"] + pd.Timedelta(hours=2))
    shift = new_decided - anchor
    dec = d.copy()
    for col in ("enqueued_at", "claimed_at", "decided_at", "due_at"):
        dec[col] = d[col] + shift
    dec["decision_id"] = [f"q{i:04d}" for i in range(len(dec))]
    assert pending.sum() > 10  # pending items: a backlog at quarter ends
    assert set(edges) <= set(dec.loc[~pending, "decided_at"])
    labels = ["approve", "remove", "limit", "escalate", "age_gate"]
    rows = []
    for rec in dec[~pending].to_dict("records"):
        if rng.random() < 0.45:
            qa = rec["decision"] if rng.random() < 0.75 else labels[int(rng.integers(5))]
            rows.append(
                {
                    "audit_id": f"qa{len(rows):04d}",
                    "decision_id": rec["decision_id"],
                    "auditor_id": "qa-1",
                    "audited_at": rec["decided_at"] + dt.timedelta(hours=3),
                    "qa_decision": qa,
                    "qa_policy": rec["policy"] if qa == rec["decision"] else None,
                    "error_type": None,
                    "severity": None,
                    "dispute_status": None,
                    "comment": None,
                }
            )
    aud = pd.DataFrame(rows, columns=kpi_data.audits.columns)
    root = Path(tempfile.mkdtemp(prefix="kpi_quarters_"))
    try:
        steps = [
            ("decisions", kpi_data.write_decisions_csv(root / "d.csv", dec), None),
            ("audits", kpi_data.write_audits_parquet(root / "a.parquet", aud), None),
        ]
        con = kpi_data.memory_db(steps)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    yield con, dec, aud
    con.close()


@pytest.mark.parametrize("tz", QUARTER_ZONES)
@pytest.mark.parametrize("slice_rows", [None, 150])
def test_quarters_across_year_end_and_dst_match_oracle(tz, slice_rows, kpi_data, quarter_data,
                                                       monkeypatch):  # fmt: skip
    """`period="quarter"`: calendar quarters of local days in the reporting zone, started at the
    quarter's first local midnight (whatever the UTC offset that day), every KPI equal to the
    pandas oracle, by vendor and overall; also when quantiles are queried in quarter slices."""
    con, dec, aud = quarter_data
    if slice_rows:
        monkeypatch.setattr(compute, "QUANTILE_SLICE_ROWS", slice_rows)
    config = kpi_data.config.model_copy(update={"reporting_timezone": tz})
    prepared_q = prepare(dec, aud, config)
    gateway = Gateway(con=con, config=config)
    for by in ((), ("vendor",)):
        query = KpiQuery(by=by, period="quarter")
        if slice_rows:
            b = bounds(query, tz, QUARTER_AS_OF)
            assert len(compute._period_slices(gateway, "decisions", query, b)) >= 2
        frame = kpi_table(gateway, query, as_of=QUARTER_AS_OF)
        expected = oracle_table(
            prepared_q, by=by, period="quarter", tz=tz, as_of=QUARTER_AS_OF,
            actioning=config.actioning_labels,
        )  # fmt: skip
        assert_matches_oracle(frame, expected, by, "quarter")
    overall = kpi_table(gateway, KpiQuery(period="quarter", kpis=("decisions",)), QUARTER_AS_OF)
    starts = [dt.date(2025, 10, 1), dt.date(2026, 1, 1), dt.date(2026, 4, 1)]
    assert overall["period_start"].tolist() == starts
    decided = dec["decided_at"].dropna()
    local_counts, utc_counts = [], []
    for start, end in zip(starts, [*starts[1:], dt.date(2026, 7, 1)], strict=True):
        lo, hi = (pd.Timestamp(dt.datetime.combine(x, dt.time(), tzinfo=ZoneInfo(tz)))
                  for x in (start, end))  # fmt: skip
        local_counts.append(int(((decided >= lo) & (decided < hi)).sum()))
        in_utc = (decided >= pd.Timestamp(start, tz=UTC)) & (decided < pd.Timestamp(end, tz=UTC))
        utc_counts.append(int(in_utc.sum()))
    assert overall["decisions"].tolist() == local_counts
    assert local_counts != utc_counts  # the edge decisions sit in other UTC quarters


def test_cli_kpis_by_quarter(kpi_data, gw, capsys, monkeypatch):
    """`bpo-kpi kpis --period quarter` prints the KPI table by quarter (period_start: the
    quarter's first local day)."""
    import json

    from bpo_kpi_cli.main import main

    monkeypatch.delenv("BPO_KPI_CONFIG", raising=False)
    args = ["kpis", "--db", str(kpi_data.db), "--config", str(kpi_data.config_file), "--by",
            "vendor", "--period", "quarter", "--as-of", kpi_data.as_of.isoformat(),
            "--kpis", "decisions,quality_score", "--format", "json"]  # fmt: skip
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    query = KpiQuery(by=("vendor",), period="quarter", kpis=("decisions", "quality_score"))
    want = compute.records(kpi_table(gw, query, kpi_data.as_of))
    assert printed == want and {r["period_start"] for r in printed} == {"2026-01-01"}


def test_quarter_names_are_the_exports_names():
    """`kpi.periods.period_of` names the KPI table's quarter as `bpo-kpi export --period` reads
    it, over the same days."""
    from kpi import periods

    names = {dt.date(2025, 12, 31): "2025-Q4", dt.date(2026, 1, 1): "2026-Q1",
             dt.date(2026, 3, 31): "2026-Q1", dt.date(2026, 4, 1): "2026-Q2"}  # fmt: skip
    for day, label in names.items():
        q = periods.period_of("quarter", day)
        assert q.label == label and periods.parse_period(label) == q
        assert q.start == period_of(day, "quarter")


def test_pending_orphans_and_undefined_ratios(kpi_data, prepared, gw):
    frame = kpi_table(gw, KpiQuery(by=("reviewer_id",)), kpi_data.as_of).set_index("reviewer_id")
    idle = frame.loc["meridian-cebu-idle"]  # pending items only
    assert idle["decisions"] == 0 and idle["audits"] == 0
    assert idle["backlog"] == 4 and idle["backlog_over_sla"] == 4
    for name in [*SHARE_KPIS, "cohen_kappa", "tat_p50", "tat_mean", "handle_minutes_mean"]:
        assert math.isnan(idle[name]), f"{name} = {idle[name]!r} for a group without decisions"
    solo = frame.loc["rheinwerk-essen-solo"]  # one label, QA always agrees: pe == 1
    assert solo["audits"] == 6 and solo["agreement_rate"] == 1.0
    assert math.isnan(solo["cohen_kappa"])
    assert math.isnan(solo["over_enforcement_rate"]) and math.isnan(solo["dispute_rate"])
    assert solo["critical_error_rate"] == 0.0  # a zero numerator is 0, not NaN

    total = kpi_table(gw, KpiQuery(), kpi_data.as_of).iloc[0]
    d = kpi_data.decisions
    assert total["decisions"] == d["decided_at"].notna().sum()
    assert total["backlog"] == d["decided_at"].isna().sum()  # as_of is after every decision
    known = kpi_data.audits["decision_id"].isin(d.loc[d["decided_at"].notna(), "decision_id"])
    assert total["audits"] == known.sum() < len(kpi_data.audits)  # orphans, pending excluded


def test_enforcement_rates_are_shares_with_qa_given_error_types(kpi_data, gw):
    """QA may type an error 'over_enforcement' on a non-actioning decision (or 'under_...' where
    its own label is not actioning). The rates must stay shares of their denominators, and the
    KPI table must not fail on such rows."""
    a = kpi_data.scored_audits()
    assert (
        (a["error_type"] == "over_enforcement")
        & ~a["decision"].isin(["remove", "limit", "age_gate"])
    ).any()
    query = KpiQuery(
        by=("reviewer_id",), period="day", kpis=("over_enforcement_rate", "under_enforcement_rate")
    )
    frame = kpi_table(gw, query, as_of=kpi_data.as_of)
    for name in ("over_enforcement_rate", "under_enforcement_rate"):
        assert frame[name].dropna().between(0, 1).all(), frame[frame[name] > 1]


def test_qa_coverage_by_policy_is_a_share(kpi_data, gw):
    """Audits and decisions are both cut by the decision's policy, so coverage is audited
    decisions / decisions of the same group, never above 1."""
    query = KpiQuery(by=("policy",), period="day", kpis=("decisions", "audits", "qa_coverage"))
    frame = kpi_table(gw, query, as_of=kpi_data.as_of)
    over = frame[frame["qa_coverage"] > 1]
    assert over.empty, f"qa_coverage above 1 in {len(over)} groups:\n{over.head()}"


# --- properties --------------------------------------------------------------------------------

queries = st.builds(
    lambda by, period, vendors, days, swap: dict(
        by=tuple(by),
        period=period,
        where={"vendor": tuple(vendors)} if vendors else {},
        start=dt.date(2026, 2, 20) + dt.timedelta(days=min(days)) if days and not swap else None,
        end=dt.date(2026, 2, 20) + dt.timedelta(days=max(days)) if days else None,
    ),
    st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique=True),
    st.sampled_from([None, "day", "week", "month", "quarter"]),
    st.lists(
        st.sampled_from(["meridian", "pacifica", "rheinwerk", "nobody"]), max_size=2, unique=True
    ),
    st.lists(st.integers(0, 34), max_size=2),
    st.booleans(),
)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: keeps a failing run short
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=queries)
def test_shares_are_shares(spec, kpi_data, prepared, gw):
    frame = kpi_table(gw, KpiQuery(**spec), as_of=kpi_data.as_of)
    for name in SHARE_KPIS:
        cols = [name] + ([f"{name}_low", f"{name}_high"] if name in INTERVAL_KPIS else [])
        for col in cols:
            values = frame[col].to_numpy(dtype=float)
            ok = np.isnan(values) | ((values >= 0) & (values <= 1))
            assert ok.all(), f"{col} outside [0, 1]: {frame.loc[~ok, [*spec['by'], col]]}"
        if name in INTERVAL_KPIS:
            v, lo, hi = (frame[c].to_numpy(dtype=float) for c in cols)
            assert (np.isnan(v) == np.isnan(lo)).all() and (np.isnan(v) == np.isnan(hi)).all()
            defined = ~np.isnan(v)
            assert (lo[defined] <= v[defined] + 1e-12).all()
            assert (v[defined] <= hi[defined] + 1e-12).all()
    kappa, low, high = (frame[c].to_numpy(dtype=float) for c in
                        ("cohen_kappa", "cohen_kappa_low", "cohen_kappa_high"))  # fmt: skip
    assert (np.isnan(kappa) | (kappa <= 1 + 1e-12)).all()
    assert (np.isnan(kappa) == np.isnan(low)).all() and (np.isnan(kappa) == np.isnan(high)).all()
    defined = ~np.isnan(kappa)
    assert (low[defined] <= kappa[defined] + 1e-12).all()
    assert (kappa[defined] <= high[defined] + 1e-12).all()
    assert ((low[defined] >= -1) & (high[defined] <= 1)).all()
    for name in COUNT_KPIS:
        assert (frame[name] >= 0).all()
    if "policy" not in spec["by"] and "policy" not in spec["where"]:
        expected = oracle_table(
            prepared, **spec, as_of=kpi_data.as_of, actioning=kpi_data.config.actioning_labels
        )
        assert_matches_oracle(frame, expected, spec["by"], spec["period"])


ORDER_QUERIES = [
    dict(by=("vendor",), period="week"),
    dict(by=("reviewer_id",), period="day", start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 20)),
]


def _subset(kpi_data) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = kpi_data.decisions
    keep = d.index[:300].union(d.index[d["decision_id"].str.match(r"(solo|idle)-")])
    dec = d.loc[keep].reset_index(drop=True)
    a = kpi_data.audits
    aud = a[a["decision_id"].isin(dec["decision_id"]) | a["decision_id"].str.startswith("ghost")]
    return dec, aud.reset_index(drop=True)


def _tables(kpi_data, steps) -> list[pd.DataFrame]:
    con = kpi_data.memory_db(steps)
    try:
        gateway = Gateway(con=con, config=kpi_data.config)
        return [kpi_table(gateway, KpiQuery(**q), kpi_data.as_of) for q in ORDER_QUERIES]
    finally:
        con.close()


@pytest.fixture(scope="module")
def order_baseline(kpi_data):
    """KPI tables of the subset loaded in one go, decisions first; checked against the oracle."""
    dec, aud = _subset(kpi_data)
    root = Path(tempfile.mkdtemp(prefix="kpi_order_"))
    try:
        steps = [
            ("decisions", kpi_data.write_decisions_csv(root / "d.csv", dec), None),
            ("audits", kpi_data.write_audits_parquet(root / "a.parquet", aud), None),
        ]
        tables = _tables(kpi_data, steps)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    prepared_subset = prepare(dec, aud, kpi_data.config)
    for q, frame in zip(ORDER_QUERIES, tables, strict=True):
        expected = oracle_table(
            prepared_subset, **q, as_of=kpi_data.as_of, actioning=kpi_data.config.actioning_labels
        )
        assert_matches_oracle(frame, expected, q["by"], q["period"])
    return dec, aud, tables


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: keeps a failing run short
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_dec=st.integers(1, 3),
    n_aud=st.integers(1, 3),
)
def test_result_does_not_depend_on_ingest_order(seed, n_dec, n_aud, kpi_data, order_baseline):
    """Rows shuffled, split over several files, kinds interleaved (audits may come first)."""
    dec, aud, baseline = order_baseline
    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp(prefix="kpi_order_"))
    try:
        steps = []
        for i, part in enumerate(np.array_split(rng.permutation(len(dec)), n_dec)):
            path = kpi_data.write_decisions_csv(root / f"d{i}.csv", dec.iloc[part])
            steps.append(("decisions", path, None))
        for i, part in enumerate(np.array_split(rng.permutation(len(aud)), n_aud)):
            path = kpi_data.write_audits_parquet(root / f"a{i}.parquet", aud.iloc[part])
            steps.append(("audits", path, None))
        steps = [steps[i] for i in rng.permutation(len(steps))]
        tables = _tables(kpi_data, steps)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for got, want in zip(tables, baseline, strict=True):
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "weights",
    [
        QualityWeights(critical=0.6, major=0.3, minor=0.1, critical_fails_audit=False),
        QualityWeights(critical=0.2, major=0.2, minor=0.0, critical_fails_audit=True),
    ],
)
def test_weighted_quality_score_follows_the_configured_weights(weights, kpi_data, prepared):
    """Other severity weights, with and without the critical auto-fail: the weighted quality
    score and its interval per vendor and week equal the oracle's on the same audits (read at
    query time: no recompute)."""
    config = kpi_data.config.model_copy(update={"quality_weights": weights})
    kpis = ("weighted_quality_score",)
    with Gateway(kpi_data.db, config=config) as gateway:
        frame = kpi_table(gateway, KpiQuery(by=("vendor",), period="week", kpis=kpis),
                          kpi_data.as_of)  # fmt: skip
    expected = oracle_table(prepared, by=("vendor",), period="week", as_of=kpi_data.as_of,
                            actioning=config.actioning_labels, weights=weights)  # fmt: skip
    names = ["weighted_quality_score", "weighted_quality_score_low", "weighted_quality_score_high"]
    only = {k: {n: v[n] for n in names} for k, v in expected.items() if v["audits"]}
    got = result_map(frame, ("vendor",), "week")
    assert set(got) == set(only)
    bad = [(k, n) for k in only for n in names if not _same(got[k][n], only[k][n])]
    assert not bad, bad[:10]
    # the weights matter: these differ from the default-weighted score
    default = oracle_table(prepared, by=("vendor",), period="week", as_of=kpi_data.as_of,
                           actioning=config.actioning_labels)  # fmt: skip
    assert any(
        not _same(default[k]["weighted_quality_score"], only[k]["weighted_quality_score"])
        for k in only
    )


def test_records_are_plain_json_values_column_by_column() -> None:
    """`records` (the CLI's JSON, the snapshot's JSON): ISO dates, times with their time of
    day (a time at midnight without a zone is a day), None for every kind of empty value (NaT
    too, which is a datetime: it used to print as "NaT"), Python ints, floats and bools,
    whatever the column's dtype."""
    frame = pd.DataFrame(
        {
            "n": np.array([3, 4], dtype="int64"),
            "maybe_n": pd.array([1, None], dtype="Int64"),
            "share": [0.25, np.nan],
            "flag": [True, False],
            "day": [dt.date(2026, 1, 5), None],
            "stamp": pd.to_datetime(["2026-01-05 13:00", None]),
            "text": ["x", None],
            "mixed": pd.Series([np.float64("nan"), np.int64(7)], dtype=object),
        }
    )
    got = compute.records(frame)
    assert got == [
        {"n": 3, "maybe_n": 1, "share": 0.25, "flag": True, "day": "2026-01-05",
         "stamp": "2026-01-05T13:00:00", "text": "x", "mixed": None},
        {"n": 4, "maybe_n": None, "share": None, "flag": False, "day": None, "stamp": None,
         "text": None, "mixed": 7},
    ]  # fmt: skip
    kinds = {type(v) for rec in got for v in rec.values()}
    assert kinds <= {int, float, bool, str, type(None)}
    assert json.loads(json.dumps(got)) == got
