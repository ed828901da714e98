"""Vendor comparison page: every catalog KPI per vendor, as kpi_table computes it for the same
window and filters, with targets resolved for the filtered workflow, statuses and ranks worked out
here from the values."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from app_pages.text import md
from bpo_kpi.config import Config
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.targets import format_value, interval_text

PAGE = "app_pages/vendors.py"
WINDOW_DAYS = 28
TARGETS_TOML = """
[targets.workflows.hate_speech]
quality = 0.99
[targets.workflows.hate_speech.vendors.northwind]
quality = 0.90
"""


def expected(db, where=None) -> pd.DataFrame:
    with Gateway(db) as gw:
        last = database_summary(gw).last_day
        start = last - dt.timedelta(days=WINDOW_DAYS - 1)
        return kpi_table(gw, KpiQuery(by=("vendor",), start=start, end=last, where=where or {}))


def rank(values: dict[str, float], vendor: str, direction: str) -> int | None:
    mine = values[vendor]
    if direction == "neutral" or math.isnan(mine):
        return None
    better = [
        v
        for v in values.values()
        if not math.isnan(v) and (v > mine if direction == "higher" else v < mine)
    ]
    return 1 + len(better)


def status(kpi: str, value: float, target: float | None) -> str:
    if math.isnan(value):
        return "no data"
    if target is None:
        return "no target"
    if KPIS[kpi].direction == "lower":  # the critical error rate
        return "met" if value <= target else "missed"
    return "met" if value >= target else "missed"


def cell(kpi: str, value: float, r: int | None, target: float | None) -> str:
    text = format_value(kpi, None if math.isnan(value) else value)
    if r is not None:
        text += f" · #{r}"
    s = status(kpi, value, target)
    if s == "met":
        text += f" · ✔ meets {format_value(kpi, target)}"
    elif s == "missed":
        text += f" · ✘ misses {format_value(kpi, target)}"
    return text


MIN_KAPPA_AUDITS = Config().monitor.min_kappa_audits

DEFAULT_TARGETS = {"quality_score": 0.95, "cohen_kappa": 0.70, "sla_attainment": 0.95,
                   "qa_coverage": 0.05, "critical_error_rate": 0.01}  # fmt: skip


def check_page(at, table: pd.DataFrame, targets: dict[str, dict[str, float]]) -> None:
    """Matrix, details and target tiles against `table` and per-vendor `targets`."""
    vendors = sorted(table["vendor"])
    matrix = next(d.value for d in at.dataframe if "Better" in d.value.columns)
    assert matrix.columns.tolist() == ["KPI", "Better", *vendors]
    assert matrix["KPI"].tolist() == [k.label for k in KPIS.values()]
    details = next(d.value for d in at.dataframe if "Ranked vendors" in d.value.columns)
    details = details.set_index(["KPI", "Vendor"])
    met = dict.fromkeys(vendors, 0)
    for i, (name, kpi) in enumerate(KPIS.items()):
        values = {v: float(table.loc[table["vendor"] == v, name].iat[0]) for v in vendors}
        shown = dict(values)
        if kpi.unit == "kappa":  # neither judged nor ranked on fewer than the minimum audits
            audits = {v: int(table.loc[table["vendor"] == v, "audits"].iat[0]) for v in vendors}
            values = {v: x if audits[v] >= MIN_KAPPA_AUDITS else math.nan
                      for v, x in values.items()}  # fmt: skip
        for vendor in vendors:
            target = targets[vendor].get(name)
            r = rank(values, vendor, kpi.direction)
            text = format_value(name, shown[vendor])
            if kpi.unit == "kappa":  # with its interval and n, or "too few audits"
                mine = table[table["vendor"] == vendor].iloc[0]
                low, high = mine[f"{name}_low"], mine[f"{name}_high"]
                text = interval_text(name, shown[vendor], low, high, audits[vendor],
                                     MIN_KAPPA_AUDITS)  # fmt: skip
                assert text.startswith("κ ") or text.startswith("too few audits")
            want = cell(name, values[vendor], r, target).replace(
                format_value(name, values[vendor]), text, 1
            )
            assert matrix.at[i, vendor] == want, (name, vendor)
            row = details.loc[(kpi.label, vendor)]
            assert row["Value"] == text
            assert row["Target"] == ("" if target is None else format_value(name, target))
            assert (None if pd.isna(row["Rank"]) else int(row["Rank"])) == r
            s = status(name, values[vendor], target)
            assert row["Status"].endswith({"met": "meets target", "missed": "misses target"}
                                          .get(s, s))  # fmt: skip
            met[vendor] += s == "met"
    tiles = {m.label: m.value for m in at.metric}
    assert tiles == {f"{md(v)}: targets met": f"{met[v]} of {len(targets[v])}" for v in vendors}


def test_default_view_compares_every_vendor(sample_db, run_page):
    table = expected(sample_db)
    at = run_page(PAGE)
    assert not at.exception
    assert len(table) == 4
    targets = {v: DEFAULT_TARGETS for v in table["vendor"]}
    check_page(at, table, targets)
    assert at.selectbox(key="vendors_chart").value == "quality_score"
    assert any("targets: default" in c.value for c in at.caption)
    # The best vendor is #1: the highest quality score, the lowest TAT p90.
    details = next(d.value for d in at.dataframe if "Ranked vendors" in d.value.columns)
    for kpi in ("quality_score", "tat_p90"):
        best = table.sort_values(kpi, ascending=KPIS[kpi].direction == "lower")["vendor"].iat[0]
        mine = details[details["KPI"] == KPIS[kpi].label].set_index("Vendor")
        assert mine.at[best, "Rank"] == 1
        assert (mine["Ranked vendors"] == 4).all()


def test_one_workflow_uses_its_targets(sample_db, run_page, monkeypatch, tmp_path):
    config = tmp_path / "bpo_kpi.toml"
    config.write_text(TARGETS_TOML)
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
    where = {"vendor": ("northwind", "apex_bpo"), "workflow": ("hate_speech",)}
    table = expected(sample_db, where)
    assert sorted(table["vendor"]) == ["apex_bpo", "northwind"]

    at = run_page(
        PAGE,
        {"vendor": list(where["vendor"]), "workflow": ["hate_speech"],
         "vendors_chart": "SLA attainment"},
    )  # fmt: skip
    assert not at.exception
    targets = {
        "apex_bpo": {**DEFAULT_TARGETS, "quality_score": 0.99},
        "northwind": {**DEFAULT_TARGETS, "quality_score": 0.90},
    }
    check_page(at, table, targets)
    assert at.selectbox(key="vendors_chart").value == "sla_attainment"
    assert any(f"workflow **{md('hate_speech')}**" in c.value for c in at.caption)
    # Several workflows: back to the default targets.
    at = run_page(PAGE, {"vendor": ["northwind"], "workflow": ["hate_speech", "spam"]})
    table = expected(sample_db, {"vendor": ("northwind",), "workflow": ("hate_speech", "spam")})
    check_page(at, table, {"northwind": DEFAULT_TARGETS})
