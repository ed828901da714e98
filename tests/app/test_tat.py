"""Turnaround & SLA page: the numbers shown (tiles and the tables under each chart) equal the KPI
library's for the same query, computed here through a Gateway on the same sample database."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bpo_kpi.config import load_config
from kpi import tat
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.targets import format_value, status, target_for

PAGE = "app_pages/tat.py"
HEADLINE = ("decisions", "sla_attainment", "tat_p50", "tat_p90", "backlog", "backlog_over_sla")


@pytest.fixture
def gw(sample_db) -> Iterator[Gateway]:
    with Gateway(sample_db, config=load_config()) as gateway:
        yield gateway


def base_query(at: AppTest, where: dict[str, tuple[str, ...]] | None = None, **kw) -> KpiQuery:
    """The page's query: the sidebar's dates (as rendered) and the given filters."""
    start = at.date_input(key="from").value
    end = at.date_input(key="to").value
    return KpiQuery(start=start, end=end, where=where or {}, **kw)


def shown(at: AppTest, *columns: str) -> pd.DataFrame:
    """The one dataframe on the page that has all these columns."""
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(found) == 1, f"{len(found)} dataframes with columns {columns}"
    return found[0]


TABS = ("TAT distribution", "Quantiles over time", "SLA by vendor × workflow", "Hour × weekday",
        "Backlog ageing")  # fmt: skip


def views(run_page, query: dict[str, object]):
    """`view(tab)`: the page run with that tab selected (only the selected tab is drawn)."""
    runs: dict[str, AppTest] = {}

    def view(tab: str) -> AppTest:
        if tab not in runs:
            at = run_page(PAGE, {**query, "tat_view": tab})
            assert not at.exception, at.exception
            # The other tabs' charts and tables are not drawn.
            assert at.get("plotly_chart") or at.info or at.warning
            runs[tab] = at
        return runs[tab]

    return view


def check_page(view, gw: Gateway, where: dict[str, tuple[str, ...]], heat_kpi: str) -> None:
    at = view(TABS[0])
    assert [t.value for t in at.title] == ["Turnaround & SLA"]
    config = gw.config
    as_of = dt.datetime.now(dt.UTC)
    q = lambda **kw: base_query(at, where, **kw)  # noqa: E731

    # Tiles.
    head = kpi_table(gw, q(kpis=HEADLINE), as_of).iloc[0]
    assert head["decisions"] > 100 and head["backlog"] > 0 and head["backlog_over_sla"] > 0
    tiles = {m.label: m.value for m in at.metric}
    assert tiles == {KPIS[k].label: format_value(k, float(head[k])) for k in HEADLINE}

    # TAT distribution: decisions per bin and vendor.
    hist = tat.tat_histogram(gw, q(by=("vendor",)))
    table = shown(at, "All vendors")
    assert len(at.get("plotly_chart")) == 1
    want = hist.pivot(index="label", columns="vendor", values="decisions")
    want = want.loc[tat.tat_bins()["label"]]
    assert list(table.index) == list(want.index)
    assert sorted(c for c in table.columns if c != "All vendors") == sorted(want.columns)
    for vendor in want.columns:
        assert table[vendor].tolist() == want[vendor].tolist()
    assert table["All vendors"].sum() == head["decisions"]

    # Quantiles per period (and per priority when all priorities are shown).
    period = at.selectbox(key="period").value
    at = view(TABS[1])
    assert not [d for d in at.dataframe if "All vendors" in d.value.columns]
    quant = shown(at, "period_start", "tat_p90")
    all_prios = "priority" not in where
    expected = kpi_table(
        gw,
        q(by=("priority",) if all_prios else (), period=period,
          kpis=("decisions", "tat_p50", "tat_p90", "tat_p95")),
        as_of,
    )  # fmt: skip
    expected = expected[expected["decisions"] > 0]
    if all_prios:
        expected["priority"] = expected["priority"].fillna("(none)")
    else:
        expected.insert(0, "priority", where["priority"][0])
        assert set(quant["priority"]) == set(where["priority"])
    assert len(quant) == len(expected) > 5
    quant = quant.assign(period_start=pd.to_datetime(quant["period_start"]).dt.date)
    merged = quant.merge(expected, on=["priority", "period_start"], suffixes=("", "_want"))
    assert len(merged) == len(expected)
    for col in ("decisions", "tat_p50", "tat_p90", "tat_p95"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_want"], rtol=1e-12)

    # SLA attainment by vendor x workflow, against the target of each pair.
    at = view(TABS[2])
    att = shown(at, "vendor", "workflow", "sla_attainment", "status")
    expected = kpi_table(
        gw, q(by=("vendor", "workflow"), kpis=("decisions", "sla_attainment")), as_of
    )
    expected = expected[expected["decisions"] > 0]
    merged = att.merge(expected, on=["vendor", "workflow"], suffixes=("", "_want"))
    assert len(merged) == len(att) == len(expected)
    assert (merged["decisions"] == merged["decisions_want"]).all()
    for col in ("sla_attainment", "sla_attainment_low", "sla_attainment_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_want"], rtol=1e-12)
    for row in merged.itertuples():
        tgt = target_for(config, "sla_attainment", row.workflow, row.vendor)
        assert row.target == tgt
        word = {"met": "meets", "missed": "misses"}[
            status("sla_attainment", row.sla_attainment, tgt)
        ]
        assert word in row.status

    # Hour x weekday of arrival: the selected KPI and the decisions, every cell.
    at = view(TABS[3])
    week = tat.time_of_week(gw, q(kpis=("decisions", "sla_attainment", "tat_p90")), as_of)
    grids = [d.value for d in at.dataframe if list(d.value.columns[:2]) == ["00", "01"]]
    assert len(grids) == 2
    pd.testing.assert_frame_equal(
        grids[0], tat.time_of_week_grid(week, heat_kpi), check_exact=False, rtol=1e-12,
        check_names=False, check_index_type=False, check_column_type=False,
    )  # fmt: skip
    counts = tat.time_of_week_grid(week, "decisions")
    assert grids[1].to_numpy().tolist() == counts.to_numpy().tolist()
    assert counts.to_numpy().sum() == head["decisions"]

    # Backlog ageing per vendor x workflow; totals are the tiles.
    at = view(TABS[4])
    ageing = tat.backlog_ageing(gw, q(by=("vendor", "workflow")), as_of)
    backlog = shown(at, "vendor", "workflow", "Backlog", "Past SLA")
    expected = ageing.pivot_table(index=["vendor", "workflow"], columns="age", values="backlog")
    expected = expected[[label for label, _ in tat.AGE_BUCKETS]]
    expected = expected[expected.sum(axis=1) > 0]
    got = backlog.set_index(["vendor", "workflow"])
    assert sorted(got.index) == sorted(expected.index)
    for label, _ in tat.AGE_BUCKETS:
        assert (got.loc[expected.index, label] == expected[label]).all()
    assert got["Backlog"].sum() == head["backlog"]
    assert got["Past SLA"].sum() == head["backlog_over_sla"]
    oldest = ageing.groupby(["vendor", "workflow"])["oldest_minutes"].max() / 60
    np.testing.assert_allclose(got["Oldest (h)"], oldest.loc[got.index], rtol=1e-12)


def test_default_view(sample_db, run_page, gw) -> None:
    at = run_page(PAGE)
    assert at.selectbox(key="tat_priority").value == "All priorities"
    # The first tab is drawn by default.
    assert [c.proto.id for c in at.get("plotly_chart")] and shown(at, "All vendors") is not None
    view = views(run_page, {})
    assert view(TABS[3]).radio(key="tat_heat_kpi").value == "sla_attainment"
    check_page(view, gw, {}, "sla_attainment")
    at = view(TABS[1])
    # All priorities: one quantile panel each, every configured SLA listed as a reference.
    quant = shown(at, "period_start", "tat_p90")
    assert set(quant["priority"]) == {"p0", "p1", "p2", "p3"}
    ref = shown(at, "configured SLA (min)")
    sla = load_config().targets.default.sla_minutes
    pairs = set(zip(ref["priority"], ref["configured SLA (min)"], strict=True))
    assert pairs == {(p, float(m)) for p, m in sla.items()}
    captions = " ".join(c.value for c in at.caption)
    assert "Each panel is one priority" in captions


def test_filtered_view(sample_db, run_page, gw) -> None:
    # p2: northwind has items past due at the window's end there (the sample's backlog is
    # only what a queue holds at a day's end; p1's 4-hour SLA rarely leaves any past due).
    view = views(
        run_page, {"vendor": ["northwind"], "tat_priority": "p2", "tat_heat_kpi": "TAT p90"}
    )
    at = view(TABS[0])
    assert at.selectbox(key="tat_priority").value == "p2"
    assert view(TABS[3]).radio(key="tat_heat_kpi").value == "tat_p90"
    where = {"vendor": ("northwind",), "priority": ("p2",)}
    check_page(view, gw, where, "tat_p90")
    assert list(shown(at, "All vendors").columns) == ["northwind", "All vendors"]
    assert set(shown(view(TABS[4]), "vendor", "workflow", "Backlog")["vendor"]) == {"northwind"}
    at = view(TABS[1])
    # The SLA line is the configured p2 SLA of the pairs in view.
    ref = shown(at, "configured SLA (min)")
    p2 = ref[ref["priority"] == "p2"]
    assert set(p2["configured SLA (min)"]) == {load_config().targets.default.sla_minutes["p2"]}
    captions = " ".join(c.value for c in at.caption)
    assert "the configured SLA for p2" in captions
    # The filter changed the numbers: fewer decisions than the unfiltered headline.
    overall = kpi_table(gw, base_query(at, kpis=("decisions",))).iloc[0]["decisions"]
    tiles = {m.label: m.value for m in at.metric}
    shown_decisions = int(tiles["Decisions"].replace(",", ""))
    assert 0 < shown_decisions < overall
    att = shown(view(TABS[2]), "sla_attainment", "status")
    assert not math.isnan(float(att["sla_attainment"].iat[0]))
