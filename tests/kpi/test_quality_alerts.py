"""Quality alerts: the decision rule against reference implementations, its false-alarm rate and
detection delay measured on simulated audit streams over many seeds, and the demo's injected
gap raised first (and nothing on too few observations) on sample-sized data.

The rule (kpi.monitor.quality_findings / classify_findings): over the last 14 and the last 28
days (each tested at half of `false_alarm_rate`, 1 %), a segment with at least `min_audits`
(30) audits is a finding when a one-sided exact binomial test rejects "error rate <= target
error rate" and at least `min_impact` (5) decisions are wrong beyond target. Stated in the
README: a segment at exactly its target alarms on at most 1 % of days; a segment going from
2.5 % to 3x a 5 % target with 10 audits a day is flagged within 14 days in 95 % of cases
(median about 9 days).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from bpo_kpi.config import Config
from kpi import monitor
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.stats import exact_excess_test
from sample_data import generate, load_canonical

SETTINGS = Config().monitor
WINDOWS = monitor.quality_windows(Config())
ALPHA, MIN_AUDITS = SETTINGS.false_alarm_rate, SETTINGS.min_audits
WINDOW = max(WINDOWS)
TARGET = 0.05


@pytest.mark.parametrize(("errors", "audits", "p0"), [(15, 100, 0.05), (3, 30, 0.05),
                                                      (0, 40, 0.02), (40, 60, 0.5)])  # fmt: skip
def test_exact_test_matches_scipy_and_statsmodels(errors: int, audits: int, p0: float) -> None:
    (p,), (low,) = exact_excess_test([errors], [audits], [p0], 0.01)
    assert p == pytest.approx(binomtest(errors, audits, p0, alternative="greater").pvalue)
    # Clopper-Pearson, one-sided 99 % = the lower end of the two-sided 98 % interval.
    assert low == pytest.approx(proportion_confint(errors, audits, 0.02, method="beta")[0])
    assert (low > p0) == (p < 0.01)


def _stream(seed: int, before: float, after: float, onset: int, days: int, per_day: float):
    rng = np.random.default_rng(seed)
    rates = np.where(np.arange(days) >= onset, after, before)
    audits = rng.poisson(per_day, days)
    return audits, rng.binomial(audits, rates)


def _alarms(audits: np.ndarray, errors: np.ndarray, decisions_per_day: int = 200) -> list[int]:
    """Days (index) on which the rule fires: each window tested at ALPHA / len(WINDOWS)."""
    fired: set[int] = set()
    for days in WINDOWS:
        rows = []
        for day in range(WINDOW - 1, len(audits)):
            a = int(audits[day - days + 1 : day + 1].sum())
            e = int(errors[day - days + 1 : day + 1].sum())
            rows.append((day, a, e))
        frame = pd.DataFrame(rows, columns=["day", "audits", "errors"])
        frame = frame[frame["audits"] >= MIN_AUDITS]
        counts = frame.assign(
            vendor="v", workflow="w", dimension="", value="", target_error_rate=TARGET,
            decisions=decisions_per_day * days,
        )  # fmt: skip
        counts["vendor"] = counts["day"].astype(str)  # one segment per day, tested at once
        found = monitor.classify_findings(counts, ALPHA / len(WINDOWS), SETTINGS.min_impact)
        fired |= {int(v) for v in found["vendor"]}
    return sorted(fired)


def test_false_alarm_rate_at_the_target_over_many_seeds() -> None:
    fired = tested = 0
    for seed in range(300):
        audits, errors = _stream(seed, TARGET, TARGET, 10**9, 75, 10)
        fired += len(_alarms(audits, errors))
        tested += 75 - WINDOW + 1
    rate = fired / tested
    assert rate <= ALPHA  # the exact tests are conservative: measured below 1 %
    assert rate > ALPHA / 10  # and not vacuous


def test_almost_no_alarm_at_the_usual_error_rate() -> None:
    fired = sum(len(_alarms(*_stream(s, 0.025, 0.025, 10**9, 75, 10))) for s in range(100))
    assert fired / (100 * (75 - WINDOW + 1)) < ALPHA / 10  # half the target's rate: rare


def test_an_injected_gap_is_caught_within_the_stated_days() -> None:
    delays = []
    for seed in range(300):
        audits, errors = _stream(seed, 0.025, 3 * TARGET, 30, 100, 10)
        after = [d - 30 for d in _alarms(audits, errors) if d >= 30]
        delays.append(after[0] if after else 999)
    assert np.percentile(delays, 95) <= 14
    assert np.median(delays) <= 10  # measured 9


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quality_alerts")
    db = root / "demo.duckdb"
    load_canonical(generate(seed=42, decisions=200_000, weeks=10), root / "data", db)
    return db


def test_the_demos_injected_gap_is_the_first_alert(demo_db: Path) -> None:
    day = dt.date(2026, 11, 22)
    as_of = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
    with Gateway(demo_db) as gw:
        alerts = monitor.alerts(gw, KpiQuery(start=day - dt.timedelta(days=27), end=day), day,
                                as_of=as_of)  # fmt: skip
        findings = monitor.quality_findings(gw, KpiQuery(), day, as_of)
    first = alerts.iloc[0]
    assert (first["severity"], first["kind"]) == ("critical", "quality_gap")
    # The narrowest segment that explains the queue's excess: the injected one.
    assert first["segment"] == "vendor=meridian, workflow=graphic_violence, market=es_MX"
    assert first["value"] > 3 * first["threshold"]  # about three times the target error rate
    lead = findings.iloc[0]
    assert lead["segment"] == first["segment"] and lead["audits"] == first["n"]
    assert lead["p_value"] == pytest.approx(
        binomtest(int(lead["errors"]), int(lead["audits"]), 0.05, alternative="greater").pvalue
    )
    # Quiet by default: no quality or SLA alert rests on fewer than the minimum observations.
    quality = alerts[alerts["kind"] == "quality_gap"]
    assert (quality["n"] >= SETTINGS.min_audits).all()
    sla = alerts[alerts["kind"] == "sla_breach"]
    assert (sla["n"] >= SETTINGS.min_decisions).all()
    assert alerts["key"].is_unique
    # One alert per vendor for the backlog, not one per workflow.
    backlog = alerts[alerts["kind"] == "backlog_past_due"]
    assert backlog["vendor"].is_unique and backlog["workflow"].isna().all()


def test_the_gap_before_it_started_is_not_alerted(demo_db: Path) -> None:
    """Before the injected gap starts (12 Oct), no quality alert names that segment."""
    with Gateway(demo_db) as gw:
        findings = monitor.quality_findings(gw, KpiQuery(), dt.date(2026, 10, 10))
    assert not findings["segment"].str.contains("market=es_MX").any()
