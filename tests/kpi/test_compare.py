"""Vendor comparison (kpi.compare): every KPI per vendor with the right target, status and rank.

Values come from `kpi_table` (checked against its oracle in test_kpis.py); here targets are
resolved by hand from a configuration with workflow and per-vendor overrides, statuses compared
by hand against each KPI's direction, and ranks counted by hand (1 + vendors strictly better).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from bpo_kpi.config import Config, Targets, TargetValues, WorkflowTargets
from kpi.catalog import KPIS
from kpi.compare import rank_values, single_workflow, target_summary, vendor_comparison
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery

START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 22)


def config(base: Config) -> Config:
    """The test data's configuration with quality targets: default 0.95, hate_speech 0.97 with
    meridian at 0.90, and a kappa target of 0.8 for pacifica in hate_speech."""
    return base.model_copy(
        update={
            "targets": Targets(
                default=TargetValues(quality=0.95, kappa=0.7, sla_attainment=0.9,
                                     qa_coverage=0.05),
                workflows={
                    "hate_speech": WorkflowTargets(
                        quality=0.97,
                        vendors={
                            "meridian": TargetValues(quality=0.90),
                            "pacifica": TargetValues(kappa=0.8),
                        },
                    )
                },
            )
        }
    )  # fmt: skip


def hand_target(kpi: str, workflow: str | None, vendor: str) -> float | None:
    key = KPIS[kpi].target
    if key is None:
        return None
    value = {
        "quality": 0.95,
        "kappa": 0.7,
        "sla_attainment": 0.9,
        "qa_coverage": 0.05,
        "critical_error_rate": 0.01,
    }[key]  # the last one not set: its default
    if workflow == "hate_speech":
        value = {"quality": 0.97}.get(key, value)
        if vendor == "meridian" and key == "quality":
            value = 0.90
        if vendor == "pacifica" and key == "kappa":
            value = 0.8
    return value


def hand_rank(values: dict[str, float], vendor: str, direction: str) -> int | None:
    mine = values[vendor]
    if direction == "neutral" or math.isnan(mine):
        return None
    if direction == "higher":
        better = [v for v in values.values() if not math.isnan(v) and v > mine]
    else:
        better = [v for v in values.values() if not math.isnan(v) and v < mine]
    return 1 + len(better)


@pytest.fixture(scope="module")
def gw(kpi_data):
    with Gateway(kpi_data.db, config=config(kpi_data.config)) as gateway:
        yield gateway


@pytest.mark.parametrize("workflow", [None, "hate_speech"])
def test_vendor_comparison_against_hand_targets_and_ranks(kpi_data, gw, workflow):
    where = {"workflow": (workflow,)} if workflow else {}
    query = KpiQuery(start=START, end=END, where=where)
    got = vendor_comparison(gw, query, as_of=kpi_data.as_of)
    table = kpi_table(gw, KpiQuery(by=("vendor",), start=START, end=END, where=where),
                      as_of=kpi_data.as_of, counts=True)  # fmt: skip
    vendors = sorted(table["vendor"])
    assert len(vendors) == 3
    assert got["kpi"].unique().tolist() == list(KPIS)  # catalog order
    assert len(got) == len(KPIS) * len(vendors)
    rows = got.set_index(["kpi", "vendor"])
    statuses = set()
    minimum = gw.config.monitor.min_kappa_audits
    for kpi in KPIS:
        values = {v: float(table.loc[table["vendor"] == v, kpi].iat[0]) for v in vendors}
        direction = KPIS[kpi].direction
        den = KPIS[kpi].denominator
        counts = {v: float(table.loc[table["vendor"] == v, den].iat[0]) if den in table
                  else math.nan for v in vendors}  # fmt: skip
        shown = dict(values)
        if KPIS[kpi].unit == "kappa":  # neither judged nor ranked on too few audits
            values = {v: x if counts[v] >= minimum else math.nan for v, x in values.items()}
        for vendor in vendors:
            row = rows.loc[(kpi, vendor)]
            value = values[vendor]
            assert row["value"] == pytest.approx(shown[vendor], nan_ok=True)
            assert row["n"] == pytest.approx(counts[vendor], nan_ok=True)
            assert row["enough"] == (not math.isnan(value) or math.isnan(shown[vendor])
                                     or KPIS[kpi].unit != "kappa")  # fmt: skip
            assert row["label"] == KPIS[kpi].label and row["direction"] == direction
            if KPIS[kpi].interval:
                low = table.loc[table["vendor"] == vendor, f"{kpi}_low"].iat[0]
                assert row["low"] == pytest.approx(low, nan_ok=True)
            else:
                assert math.isnan(row["low"]) and math.isnan(row["high"])
            target = hand_target(kpi, workflow, vendor)
            if target is None:
                assert math.isnan(row["target"])
            else:
                assert row["target"] == pytest.approx(target)
            if math.isnan(value):
                want = "no data"
            elif target is None or direction == "neutral":
                want = "no target"
            elif direction == "higher":
                want = "met" if value >= target else "missed"
            else:
                want = "met" if value <= target else "missed"
            assert row["status"] == want, (kpi, vendor)
            statuses.add(want)
            rank = hand_rank(values, vendor, direction)
            assert (None if pd.isna(row["rank"]) else int(row["rank"])) == rank, (kpi, vendor)
            ranked = sum(not math.isnan(v) for v in values.values())
            assert row["ranked"] == (0 if direction == "neutral" else ranked)
    assert {"met", "missed", "no target"} <= statuses
    # Targets per vendor within hate_speech; the default ones over several workflows.
    quality_targets = rows.xs("quality_score", level="kpi")["target"].to_dict()
    if workflow:
        assert quality_targets == {"meridian": 0.90, "pacifica": 0.97, "rheinwerk": 0.97}
    else:
        assert set(quality_targets.values()) == {0.95}
    summary = target_summary(got).set_index("vendor")
    for vendor in vendors:
        mine = got[(got["vendor"] == vendor) & got["target"].notna()]
        assert summary.at[vendor, "with_target"] == len(mine) == 5  # 5 KPIs with a target key
        assert summary.at[vendor, "met"] == int((mine["status"] == "met").sum())
        assert summary.at[vendor, "missed"] == int((mine["status"] == "missed").sum())


def test_vendor_filter_and_kpi_subset(kpi_data, gw):
    query = KpiQuery(
        start=START, end=END, where={"vendor": ("pacifica", "rheinwerk")},
        kpis=("quality_score", "tat_p90", "decisions"),
    )  # fmt: skip
    got = vendor_comparison(gw, query, as_of=kpi_data.as_of)
    assert got["kpi"].unique().tolist() == ["quality_score", "tat_p90", "decisions"]
    assert set(got["vendor"]) == {"pacifica", "rheinwerk"}
    assert got.loc[got["kpi"] == "decisions", "rank"].isna().all()  # neutral: never ranked
    assert sorted(got.loc[got["kpi"] == "tat_p90", "rank"].tolist()) == [1, 2]


def test_no_data_gives_an_empty_frame(kpi_data, gw):
    query = KpiQuery(start=dt.date(2020, 1, 1), end=dt.date(2020, 1, 2), kpis=("decisions",))
    got = vendor_comparison(gw, query, as_of=kpi_data.as_of)
    assert got.empty and "rank" in got and "status" in got


def test_rank_values_ties_nan_and_direction():
    values = pd.Series([0.9, 0.95, 0.9, float("nan"), 0.8])
    assert rank_values(values, "higher").tolist() == [2, 1, 2, pd.NA, 4]
    assert rank_values(values, "lower").tolist() == [2, 4, 2, pd.NA, 1]
    assert rank_values(values, "neutral").isna().all()
    assert str(rank_values(values, "higher").dtype) == "Int64"


def test_single_workflow():
    assert single_workflow(KpiQuery(where={"workflow": ("spam",)})) == "spam"
    assert single_workflow(KpiQuery(where={"workflow": ("spam", "hate_speech")})) is None
    assert single_workflow(KpiQuery()) is None
