"""QA coverage adequacy (kpi.health.qa_coverage_adequacy): decisions and audits per vendor x
workflow counted from the canonical rows, and the required sample size, planning rate and achieved
margin recomputed from their formulas (not through kpi.stats).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from bpo_kpi.config import Targets, TargetValues, WorkflowTargets
from kpi import health
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery

Z95 = 1.959963984540054
START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 22)


def quality_target(workflow: str, vendor: str) -> float:
    if workflow == "hate_speech":
        return 0.90 if vendor == "meridian" else 0.97
    return 0.95


def required(margin: float, p: float, population: int, z: float = Z95) -> int:
    n0 = z * z * p * (1 - p) / (margin * margin)
    n = n0 / (1 + (n0 - 1) / population)
    return max(1, math.ceil(n - 1e-9))


@pytest.fixture(scope="module")
def gw(kpi_data):
    targets = Targets(
        workflows={
            "hate_speech": WorkflowTargets(
                quality=0.97, vendors={"meridian": TargetValues(quality=0.90)}
            )
        }
    )
    cfg = kpi_data.config.model_copy(update={"targets": targets})
    with Gateway(kpi_data.db, config=cfg) as gateway:
        yield gateway


def counts(kpi_data, vendors=None) -> pd.DataFrame:
    """Decided decisions whose local day is in the window, and their audits, per group."""
    tz = kpi_data.config.reporting_timezone
    dec = kpi_data.decisions[kpi_data.decisions["decided_at"].notna()].copy()
    day = pd.to_datetime(dec["decided_at"], utc=True).dt.tz_convert(tz).dt.date
    dec = dec[(day >= START) & (day <= END)]
    if vendors:
        dec = dec[dec["vendor"].isin(vendors)]
    n_dec = dec.groupby(["vendor", "workflow"]).size().rename("decisions")
    aud = kpi_data.audits.merge(dec[["decision_id", "vendor", "workflow"]], on="decision_id")
    n_aud = aud.groupby(["vendor", "workflow"]).size().rename("audits")
    return pd.concat([n_dec, n_aud], axis=1).fillna(0).astype(int)


@pytest.mark.parametrize("margin", [0.05, 0.12])
def test_adequacy_against_formulas(kpi_data, gw, margin):
    query = KpiQuery(start=START, end=END, by=("market",), period="week")  # by/period ignored
    got = health.qa_coverage_adequacy(gw, query, margin=margin)
    want = counts(kpi_data)
    assert list(zip(got["vendor"], got["workflow"], strict=True)) == sorted(want.index)
    quality = kpi_table(
        gw, KpiQuery(by=("vendor", "workflow"), start=START, end=END, kpis=("quality_score",))
    ).set_index(["vendor", "workflow"])["quality_score"]
    states = set()
    for row in got.itertuples():
        key = (row.vendor, row.workflow)
        assert (row.decisions, row.audits) == tuple(want.loc[key])
        assert row.quality_score == pytest.approx(quality[key], nan_ok=True)
        target_error = 1 - quality_target(row.workflow, row.vendor)
        assert row.target_error_rate == pytest.approx(target_error)
        observed = 1 - quality[key]
        p = target_error if np.isnan(observed) else max(target_error, observed)
        p = min(0.5, max(0.01, p))
        assert row.planning_error_rate == pytest.approx(p)
        need = required(margin, p, row.decisions)
        assert row.required == need
        assert row.shortfall == max(0, need - row.audits)
        assert row.adequate == (row.audits >= need)
        assert row.status == ("adequate" if row.audits >= need else "too few audits")
        states.add(row.status)
        n, big_n = min(row.audits, row.decisions), row.decisions
        achieved = Z95 * math.sqrt(p * (1 - p) / n * (big_n - n) / (big_n - 1)) if n else math.nan
        assert row.achieved_margin == pytest.approx(achieved, nan_ok=True)
        # The achieved margin is within the asked one exactly when the audits suffice.
        if row.audits:
            assert (row.achieved_margin <= margin + 1e-12) == row.adequate
    if margin == 0.05:
        assert states == {"too few audits"}
    else:
        assert "adequate" in states


def test_adequacy_follows_filters(kpi_data, gw):
    query = KpiQuery(start=START, end=END, where={"vendor": ("meridian",)})
    got = health.qa_coverage_adequacy(gw, query, margin=0.1)
    assert set(got["vendor"]) == {"meridian"}
    assert got["decisions"].sum() == counts(kpi_data, ["meridian"])["decisions"].sum()
    hs = got.set_index("workflow").loc["hate_speech"]
    assert hs["target_error_rate"] == pytest.approx(0.10)  # meridian's own override
    empty = health.qa_coverage_adequacy(
        gw, KpiQuery(start=dt.date(2020, 1, 1), end=dt.date(2020, 1, 2))
    )
    assert empty.empty and "required" in empty


def test_adequacy_rejects_a_margin_outside_0_1(gw):
    with pytest.raises(ValueError, match="margin"):
        health.qa_coverage_adequacy(gw, KpiQuery(), margin=0)


@pytest.mark.parametrize(
    ("target", "observed", "want"),
    [(0.05, 0.02, 0.05), (0.05, 0.12, 0.12), (0.0, 0.0, 0.01), (0.05, 0.8, 0.5),
     (0.05, float("nan"), 0.05), (0.03, None, 0.03)],
)  # fmt: skip
def test_planning_error_rate(target, observed, want):
    assert health.planning_error_rate(target, observed) == pytest.approx(want)


def test_achieved_margin_inverts_the_sample_size():
    # 385 audits of an unbounded population give ±5 points at p = 0.5 (audit_sample_size(0.05)).
    assert health.achieved_margin(385, 10**9, 0.5) == pytest.approx(0.05, abs=2e-4)
    assert health.achieved_margin(385, 10**9, 0.5) <= 0.05
    assert health.achieved_margin(278, 1000, 0.5) <= 0.05 < health.achieved_margin(277, 1000, 0.5)
    assert health.achieved_margin(1000, 1000, 0.5) == 0.0  # everything audited
    assert math.isnan(health.achieved_margin(0, 1000, 0.5))
