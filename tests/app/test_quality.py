"""The Quality & gaps page, headless (AppTest): every number it shows equals the kpi/ library's.

Expected values come from `kpi.gateway.Gateway` + kpi/ functions on the same database. The
drill-down is driven the way a copied link drives it (`drill` query parameters) and the way a
click drives it (a seeded dataframe row selection, which appends a step to the URL); plotly
clicks need a real browser, but the heatmap's figure is checked here for the data a click
returns (each cell's point carries its vendor and workflow).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.common import DEFAULT_WINDOW_DAYS
from app_pages.text import md
from kpi import gaps
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.stats import p_chart
from kpi.targets import format_value
from sample_data import SampleData, generate, load_canonical

PAGE = "app_pages/quality.py"
CELL_KPIS = ("decisions", "audits", "quality_score")
TREND_KPIS = ("audits", "quality_score", "agreement_rate")
QUALITY = ["quality_score", "quality_score_low", "quality_score_high"]


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def gw(sample_db: Path) -> Iterator[Gateway]:
    gateway = Gateway(sample_db)
    yield gateway
    gateway.close()


def default_window(gw: Gateway) -> KpiQuery:
    """The page's default filters: the last DEFAULT_WINDOW_DAYS days of data."""
    summary = database_summary(gw)
    assert summary.first_day and summary.last_day
    start = summary.last_day - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    return KpiQuery(start=max(summary.first_day, start), end=summary.last_day)


def target(gw: Gateway, workflow: str | None, vendor: str | None) -> float:
    return gw.config.targets.resolve(workflow, vendor).quality


def words(quality: float, tgt: float) -> str:
    if pd.isna(quality):
        return "no audits"
    return "✔ meets target" if quality >= tgt else "✘ misses target"


def shown(at: AppTest, key: str) -> pd.DataFrame:
    """The values of the selectable dataframe with this key."""
    frames = [d for d in at.dataframe if d.key == key]
    assert len(frames) == 1, [d.key for d in at.dataframe]
    return frames[0].value.reset_index(drop=True)


def in_section(at: AppTest, section: str) -> pd.DataFrame:
    """The values of the one dataframe in a section (a keyed container) of the page."""
    frames = list(at.container(section).dataframe)
    assert len(frames) == 1
    return frames[0].value.reset_index(drop=True)


def figure(at: AppTest, key: str) -> dict[str, Any]:
    charts = [c for c in at.get("plotly_chart") if getattr(c, "key", None) == key]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)  # type: ignore[no-any-return]


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False
    )


def cell_table(gw: Gateway, base: KpiQuery) -> pd.DataFrame:
    """What the heatmap's table must show: kpi_table by vendor x workflow against targets."""
    want = kpi_table(gw, base.model_copy(update={"by": ("vendor", "workflow"), "kpis": CELL_KPIS}))
    want["target"] = [
        target(gw, w, v) for v, w in zip(want["vendor"], want["workflow"], strict=True)
    ]
    want["vs_target"] = [
        words(q, t) for q, t in zip(want["quality_score"], want["target"], strict=True)
    ]
    return want


def drill(at: AppTest) -> list[str]:
    value = at.query_params.get("drill", [])
    return [value] if isinstance(value, str) else list(value)


def select_row(at: AppTest, key: str, row: int) -> AppTest:
    """Select one row of a selectable dataframe, as a click on it does, and rerun."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def busiest_cell(gw: Gateway, base: KpiQuery) -> tuple[str, str]:
    """The vendor x workflow cell with the most errors in the window (ties: most audits)."""
    cells = cell_table(gw, base)
    cells["errors"] = (cells["audits"] * (1 - cells["quality_score"])).round()
    top = cells.sort_values(["errors", "audits"], ascending=False).iloc[0]
    return str(top["vendor"]), str(top["workflow"])


# --- default and filtered views ----------------------------------------------------------------


def test_default_view_numbers_equal_the_kpi_library(sample_db, run_page, gw):
    at = run_page(PAGE)
    assert not at.exception
    base = default_window(gw)
    totals = kpi_table(gw, base.model_copy(update={"kpis": TREND_KPIS})).iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quality score"] == format_value("quality_score", totals["quality_score"])
    assert metrics["Agreement rate"] == format_value("agreement_rate", totals["agreement_rate"])
    assert metrics["QA audits"] == f"{int(totals['audits']):,}"
    assert f"{base.start:%d %b %Y} – {base.end:%d %b %Y}" in at.caption[0].value

    # Heatmap table = kpi_table by vendor x workflow, with each cell's target and status.
    want = cell_table(gw, base)
    same(shown(at, "quality_cells"), want)
    assert len(want) >= 15 and (want["vs_target"] == "✘ misses target").any()

    # The heatmap: one point per grid cell whose custom data names the cell it sits on, and the
    # cell's text is its quality with a status mark (blank without audits).
    fig = figure(at, "quality_heatmap")
    heat, points = fig["data"]
    assert (heat["type"], points["type"]) == ("heatmap", "scatter")
    assert [list(c) for c in points["customdata"]] == [
        [v, w] for v, w in zip(points["y"], points["x"], strict=True)
    ]
    by_cell = want.set_index(["vendor", "workflow"])
    for i, vendor in enumerate(heat["y"]):
        for j, workflow in enumerate(heat["x"]):
            text = heat["text"][i][j]
            if (vendor, workflow) not in by_cell.index:
                assert text == ""
                continue
            rec = by_cell.loc[(vendor, workflow)]
            mark = "✘" if rec["quality_score"] < rec["target"] else "✔"
            assert text == f"{rec['quality_score']:.1%} {mark}"
    assert len(points["x"]) == len(heat["x"]) * len(heat["y"])

    # Trends and p-chart numbers: kpi_table by day and kpi.stats.p_chart of its error counts.
    trend = kpi_table(gw, base.model_copy(update={"period": "day", "kpis": TREND_KPIS}))
    trend = trend[trend["audits"] > 0].reset_index(drop=True)
    errors = (trend["audits"] * (1 - trend["quality_score"])).round().astype(int)
    pc = p_chart(errors, trend["audits"])
    got = in_section(at, "quality_trends")
    assert pd.to_datetime(got["period_start"]).dt.date.tolist() == trend["period_start"].tolist()
    same(got[["audits", *QUALITY]], trend[["audits", *QUALITY]])
    assert got["agreement_rate"].tolist() == pytest.approx(trend["agreement_rate"].tolist())
    assert got["errors"].tolist() == errors.tolist()
    for col in ("center", "lcl", "ucl"):
        assert got[col].tolist() == pytest.approx(pc[col].tolist())
    assert got["out_of_control"].tolist() == pc["out_of_control"].tolist()

    # Ranked quality gaps for the same filters.
    cols = ["segment", "decisions", "audits", "errors", "error_rate", "error_rate_low",
            "error_rate_high", "target_error_rate", "excess_errors"]  # fmt: skip
    want_gaps = gaps.quality_gaps(gw, base)
    assert len(want_gaps) >= 1
    listed = in_section(at, "quality_gaps")
    # Each gap links to its drill-down: its market / site as filters, its cell as first step.
    for link, rec in zip(listed.pop("open"), want_gaps.to_dict("records"), strict=True):
        params = parse_qs(link.partition("?")[2])
        for dim in ("vendor", "workflow", "market", "site"):
            if isinstance(rec[dim], str):
                assert params[dim] == [rec[dim]]
        if isinstance(rec["vendor"], str) and isinstance(rec["workflow"], str):
            assert params["drill"] == [f"cell:{rec['vendor']}|{rec['workflow']}"]
    same(listed, want_gaps[cols])


def test_filtered_view_reads_the_filters_from_the_url(sample_db, run_page, gw):
    at = run_page(PAGE, {"workflow": "hate_speech", "period": "week"})
    assert not at.exception
    base = default_window(gw).model_copy(update={"where": {"workflow": ("hate_speech",)}})
    cells = shown(at, "quality_cells")
    assert set(cells["workflow"]) == {"hate_speech"}
    same(cells, cell_table(gw, base))
    totals = kpi_table(gw, base.model_copy(update={"kpis": TREND_KPIS})).iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quality score"] == format_value("quality_score", totals["quality_score"])
    assert metrics["QA audits"] == f"{int(totals['audits']):,}"
    assert f"Workflow: {md('hate_speech')}" in at.caption[0].value  # values as text
    # Weekly trend: ISO weeks starting on Monday, same numbers as kpi_table by week.
    trend = kpi_table(gw, base.model_copy(update={"period": "week", "kpis": TREND_KPIS}))
    trend = trend[trend["audits"] > 0].reset_index(drop=True)
    got = in_section(at, "quality_trends")
    weeks = pd.to_datetime(got["period_start"]).dt.date
    assert weeks.tolist() == trend["period_start"].tolist()
    assert all(d.weekday() == 0 for d in weeks)
    same(got[["audits", *QUALITY]], trend[["audits", *QUALITY]])


# --- the injected gap --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gap_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleData, Path]:
    """A larger sample (150k decisions), where the injected under-enforcement gap has enough
    audits to show (the shared 30k sample has a handful of audits in it, none in error)."""
    data = generate(seed=7, decisions=150_000, weeks=6)
    root = tmp_path_factory.mktemp("quality_gap")
    db = root / "gap.duckdb"
    load_canonical(data, root / "data", db)
    return data, db


@pytest.fixture
def gap_db(gap_sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "gap.duckdb"
    shutil.copyfile(gap_sample[1], db)
    monkeypatch.setenv("BPO_KPI_DB", str(db))
    monkeypatch.delenv("BPO_KPI_ROLE", raising=False)
    return db


def test_injected_gap_shows_as_missing_target_and_drills_to_its_error_type(
    gap_sample, gap_db, run_page
):
    data, _ = gap_sample
    gap = next(g for g in data.manifest["gaps"] if g["kind"] == "under_enforcement")
    vendor, workflow, market = (gap["dimensions"][k] for k in ("vendor", "workflow", "market"))
    query = {"market": market, "from": gap["period_start"]}
    at = run_page(PAGE, query)
    assert not at.exception
    gw = Gateway(gap_db)
    try:
        summary = database_summary(gw)
        base = KpiQuery(
            start=dt.date.fromisoformat(gap["period_start"]),
            end=summary.last_day,
            where={"market": (market,)},
        )
        want = cell_table(gw, base)
        cells = shown(at, "quality_cells")
        same(cells, want)
        row = cells[(cells["vendor"] == vendor) & (cells["workflow"] == workflow)].iloc[0]
        assert row["quality_score"] < row["target"]
        assert row["vs_target"] == "✘ misses target"
        heat = figure(at, "quality_heatmap")["data"][0]
        text = heat["text"][heat["y"].index(vendor)][heat["x"].index(workflow)]
        assert text.endswith("✘")
        # The gap list ranks a segment of the injected gap's vendor and workflow.
        listed = in_section(at, "quality_gaps")
        same(
            listed[["segment", "excess_errors"]],
            gaps.quality_gaps(gw, base)[["segment", "excess_errors"]],
        )
        assert any(
            f"vendor={vendor}" in s and f"workflow={workflow}" in s for s in listed["segment"]
        )

        # Drill into the cell (as the link would), then the whole cell's error types.
        at = run_page(PAGE, {**query, "drill": [f"cell:{vendor}|{workflow}"]})
        assert not at.exception
        assert "misses target" in next(
            m.value for m in at.markdown if f"{md(vendor)} × {md(workflow)}" in m.value
        )
        at = run_page(PAGE, {**query, "drill": [f"cell:{vendor}|{workflow}", "policy:(all)"]})
        pareto = gaps.error_types(gw, {"vendor": vendor, "workflow": workflow}, base)
        got = shown(at, "quality_error_types")
        same(got.iloc[1:], pareto)
        assert got["error_type"].iat[1] == gap["kind"] == "under_enforcement"
    finally:
        gw.close()


# --- drill-down seeded through the URL ---------------------------------------------------------


def test_drill_down_levels_from_the_url(sample_db, run_page, gw):
    base = default_window(gw)
    vendor, workflow = busiest_cell(gw, base)
    cell = f"cell:{vendor}|{workflow}"
    segment = {"vendor": vendor, "workflow": workflow}

    # Cell -> policies: the whole cell first, then kpi_table by policy within the cell.
    at = run_page(PAGE, {"drill": [cell]})
    assert not at.exception
    where = {"vendor": (vendor,), "workflow": (workflow,)}
    cell_q = base.model_copy(update={"where": where, "kpis": CELL_KPIS})
    whole = kpi_table(gw, cell_q)
    by_policy = kpi_table(gw, cell_q.model_copy(update={"by": ("policy",)}))
    policies = shown(at, "quality_policies")
    assert policies["policy"].tolist() == [
        "(all)",
        *by_policy["policy"].fillna("(no policy cited)").tolist(),
    ]
    cols = ["decisions", "audits", *QUALITY]
    same(policies[cols], pd.concat([whole, by_policy], ignore_index=True)[cols])
    tgt = target(gw, workflow, vendor)
    assert policies["vs_target"].tolist() == [words(q, tgt) for q in policies["quality_score"]]
    assert "(no policy cited)" in policies["policy"].tolist()
    assert at.button(key="crumb_0").label == f"› Cell: {md(f'{vendor} × {workflow}')}"

    # Policy -> error-type Pareto, for the whole cell and for one cited policy.
    at = run_page(PAGE, {"drill": [cell, "policy:(all)"]})
    pareto = gaps.error_types(gw, segment, base)
    got = shown(at, "quality_error_types")
    assert len(pareto) >= 1
    same(got.iloc[1:], pareto)
    assert got.iloc[0][["error_type", "errors", "critical"]].tolist() == [
        "(all)",
        pareto["errors"].sum(),
        pareto["critical"].sum(),
    ]
    policy = by_policy.dropna(subset=["policy"]).sort_values("audits").iloc[-1]["policy"]
    at = run_page(PAGE, {"drill": [cell, f"policy:{policy}"]})
    assert not at.exception
    pareto_p = gaps.error_types(gw, {**segment, "policy": policy}, base)
    got = shown(at, "quality_error_types")
    assert got["errors"].iat[0] == pareto_p["errors"].sum()
    if len(pareto_p):
        same(got.iloc[1:], pareto_p)

    # Error type -> reviewers, with outlier flags in words.
    at = run_page(PAGE, {"drill": [cell, "policy:(all)", "error_type:(all)"]})
    assert not at.exception
    want = gaps.reviewer_outliers(gw, segment, base)
    got = shown(at, "quality_reviewers")
    cols = ["reviewer_id", "site", "audits", "errors", "error_rate", "peer_error_rate", "q_value"]
    same(got[cols], want[cols])
    flags = np.where(
        want["outlier"], "▲ stands out", np.where(want["sample"] == "ok", "", "too few audits")
    )
    assert got["flag"].tolist() == flags.tolist()
    assert got["errors"].sum() == pareto["errors"].sum()
    error_type = str(pareto["error_type"].iat[0])
    at = run_page(PAGE, {"drill": [cell, "policy:(all)", f"error_type:{error_type}"]})
    want_t = gaps.reviewer_error_type_outliers(gw, segment, error_type, base)
    got = shown(at, "quality_reviewers")
    same(got[cols], want_t[cols])
    assert got["errors"].sum() == pareto["errors"].iat[0]

    # Reviewer -> the audited decisions with auditor comments.
    reviewer = str(want_t["reviewer_id"].iat[0])  # most errors of that type first
    path = [cell, "policy:(all)", f"error_type:{error_type}", f"reviewer:{reviewer}"]
    at = run_page(PAGE, {"drill": path})
    assert not at.exception
    rows = gaps.audited_decisions(gw, segment, base, error_type=error_type, reviewer_id=reviewer)
    assert len(rows) == want_t["errors"].iat[0] >= 1
    got = in_section(at, "quality_drill")
    assert got["audit_id"].tolist() == rows["audit_id"].tolist()
    assert (got["error_type"] == error_type).all()
    assert got["comment"].tolist() == rows["comment"].tolist()
    assert got["comment"].str.len().gt(0).all()
    # Every error type: the reviewer's errors; the toggle (bound to the URL) adds the audits
    # without an error.
    path[2] = "error_type:(all)"
    at = run_page(PAGE, {"drill": path})
    errors = gaps.audited_decisions(gw, segment, base, reviewer_id=reviewer)
    assert in_section(at, "quality_drill")["audit_id"].tolist() == errors["audit_id"].tolist()
    at = run_page(PAGE, {"drill": path, "quality_all_audits": "true"})
    assert at.toggle(key="quality_all_audits").value is True
    everything = gaps.audited_decisions(gw, segment, base, errors_only=False, reviewer_id=reviewer)
    assert len(everything) > len(errors)
    assert in_section(at, "quality_drill")["audit_id"].tolist() == everything["audit_id"].tolist()


def test_selecting_rows_appends_steps_to_the_url(sample_db, run_page, gw):
    base = default_window(gw)
    vendor, workflow = busiest_cell(gw, base)
    at = run_page(PAGE)
    cells = shown(at, "quality_cells")
    row = cells.index[(cells["vendor"] == vendor) & (cells["workflow"] == workflow)][0]
    select_row(at, "quality_cells", int(row))
    assert not at.exception
    assert drill(at) == [f"cell:{vendor}|{workflow}"]
    assert shown(at, "quality_policies")["policy"].iat[0] == "(all)"

    # "(no policy cited)" cannot be isolated: it explains and stays at the cell.
    policies = shown(at, "quality_policies")
    no_policy = policies.index[policies["policy"] == "(no policy cited)"][0]
    select_row(at, "quality_policies", int(no_policy))
    assert drill(at) == [f"cell:{vendor}|{workflow}"]
    assert any("cannot be isolated by policy" in i.value for i in at.info)

    select_row(at, "quality_policies", 0)
    assert drill(at) == [f"cell:{vendor}|{workflow}", "policy:(all)"]
    types = shown(at, "quality_error_types")
    select_row(at, "quality_error_types", 1)
    step = f"error_type:{types['error_type'].iat[1]}"
    assert drill(at) == [f"cell:{vendor}|{workflow}", "policy:(all)", step]
    reviewers = shown(at, "quality_reviewers")
    select_row(at, "quality_reviewers", 0)
    assert drill(at)[-1] == f"reviewer:{reviewers['reviewer_id'].iat[0]}"
    assert not at.exception
    assert "Audited decisions" in at.container("quality_drill").markdown[0].value


def test_breadcrumb_steps_back(sample_db, run_page, gw):
    vendor, workflow = busiest_cell(gw, default_window(gw))
    path = [f"cell:{vendor}|{workflow}", "policy:(all)", "error_type:(all)"]
    at = run_page(PAGE, {"drill": path})
    assert [b.label for b in at.button if b.key.startswith("crumb_")] == [
        "Vendor × workflow",
        f"› Cell: {md(f'{vendor} × {workflow}')}",  # values as text (escaped Markdown)
        f"› Policy: {md('(all)')}",
        f"› Error type: {md('(all)')}",
    ]
    assert at.button(key="crumb_2").disabled  # the level shown
    at.button(key="crumb_0").click().run()
    assert not at.exception
    assert drill(at) == path[:1]
    assert shown(at, "quality_policies")["policy"].iat[0] == "(all)"
    at.button(key="crumb_root").click().run()
    assert drill(at) == []
    assert [d.key for d in at.container("quality_drill").dataframe if d.key] == ["quality_cells"]


# --- odd links and empty segments --------------------------------------------------------------


def test_a_path_it_does_not_understand_is_reported_not_raised(sample_db, run_page):
    at = run_page(PAGE, {"drill": ["policy:HS1_slurs", "cell:no-separator"]})
    assert not at.exception
    # Said without repeating the link's values (they may name what the viewer may not see).
    assert at.warning[0].value == (
        "Part of the drill-down in this link is not available and was left out."
    )
    assert "HS1_slurs" not in at.warning[0].value and drill(at) == []
    assert [d.key for d in at.container("quality_drill").dataframe if d.key] == ["quality_cells"]


def test_a_cell_outside_the_filters_or_without_data_says_so(sample_db, run_page, gw):
    at = run_page(PAGE, {"vendor": "tessera", "drill": ["cell:meridian|spam"]})
    assert not at.exception
    assert "outside the sidebar filters" in at.info[-1].value
    cells = cell_table(gw, default_window(gw))
    present = set(zip(cells["vendor"], cells["workflow"], strict=True))
    vendor, workflow = next(
        (v, w) for v in sorted(cells["vendor"].unique()) for w in sorted(cells["workflow"].unique())
        if (v, w) not in present
    )  # fmt: skip
    at = run_page(PAGE, {"drill": [f"cell:{vendor}|{workflow}"]})
    assert not at.exception
    assert "has no decisions in this view" in at.info[-1].value
    # A reviewer with no errors in the segment: an empty list explained in words.
    base = default_window(gw)
    v, w = busiest_cell(gw, base)
    reviewers = gaps.reviewer_outliers(gw, {"vendor": v, "workflow": w}, base)
    clean = str(reviewers.loc[reviewers["errors"] == 0, "reviewer_id"].iat[0])
    path = [f"cell:{v}|{w}", "policy:(all)", "error_type:(all)", f"reviewer:{clean}"]
    at = run_page(PAGE, {"drill": path})
    assert not at.exception
    assert "No audited decisions match" in at.info[-1].value
