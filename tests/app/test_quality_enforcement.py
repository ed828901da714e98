"""Issue 17 items 1-2 on the dashboard: precision and recall of enforcement charted per vendor x
workflow on the Quality page (Wilson error bars, n in the hover), and the critical error rate
tile judged against its per-vendor target on the Overview. Expected values are computed here
with pandas and statsmodels from the database's audit rows, not through kpi/."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from bpo_kpi.config import Config
from kpi.catalog import KPIS
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.targets import format_value

WINDOW_DAYS = 28


def audits(db, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Audits of decisions decided from `start` to `end` (UTC days: the sample's zone)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = con.sql(
            "SELECT vendor, workflow, decision, qa_decision, dispute_status, is_error, severity, "
            "decided_at FROM audit_facts WHERE decided_at IS NOT NULL AND NOT is_orphan"
        ).df()
    finally:
        con.close()
    day = pd.to_datetime(frame["decided_at"], utc=True).dt.date
    return frame[(day >= start) & (day <= end)]


def values(data: Any) -> list[Any]:
    """A plotly array as a list: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(data, dict) and "bdata" in data:
        arr = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        if "shape" in data:
            arr = arr.reshape([int(x) for x in str(data["shape"]).split(",")])
        return [None if isinstance(v, float) and np.isnan(v) else v for v in arr.tolist()]
    return list(data)


def figure(at: Any, key: str) -> dict[str, Any]:
    charts = [c for c in at.get("plotly_chart") if getattr(c, "key", None) == key]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def test_quality_page_charts_precision_and_recall_per_vendor_and_workflow(sample_db, run_page):
    at = run_page("app_pages/quality.py")
    assert not at.exception, at.exception
    with Gateway(sample_db) as gw:
        last = database_summary(gw).last_day
    a = audits(sample_db, last - dt.timedelta(days=WINDOW_DAYS - 1), last)
    act = set(Config().actioning_labels)
    a = a.assign(
        vendor_act=a["decision"].isin(act),
        truth_act=np.where(
            a["dispute_status"] == "overturned", a["decision"].isin(act), a["qa_decision"].isin(act)
        ),  # fmt: skip
    )
    a["both"] = a["vendor_act"] & a["truth_act"]
    cells = a.groupby(["vendor", "workflow"])[["both", "vendor_act", "truth_act"]].sum()
    assert len(cells) >= 10
    fig = figure(at, "quality_enforcement_chart")
    traces = {t["name"]: t for t in fig["data"]}
    assert set(traces) == {KPIS["enforcement_precision"].label, KPIS["enforcement_recall"].label}
    checked = 0
    for kpi, den in (("enforcement_precision", "vendor_act"), ("enforcement_recall", "truth_act")):
        trace = traces[KPIS[kpi].label]
        assert "n=" in trace["hovertemplate"]
        assert len(trace["y"]) == len(cells)
        for i, label in enumerate(trace["y"]):
            vendor, workflow = label.split(" · ")
            tp, n = (
                int(cells.at[(vendor, workflow), "both"]),
                int(cells.at[(vendor, workflow), den]),
            )
            value = values(trace["x"])[i]
            if n == 0:
                assert value is None
                continue
            low, high = proportion_confint(tp, n, alpha=0.05, method="wilson")
            assert value == pytest_approx(tp / n)
            assert values(trace["error_x"]["arrayminus"])[i] == pytest_approx(tp / n - low)
            assert values(trace["error_x"]["array"])[i] == pytest_approx(high - tp / n)
            assert values(trace["customdata"])[i][2:] == [tp, n]  # hover: both action, of n
            checked += 1
    assert checked >= 20
    # precision and recall differ somewhere (they are not the same number twice)
    p, r = traces[KPIS["enforcement_precision"].label], traces[KPIS["enforcement_recall"].label]
    assert values(p["x"]) != values(r["x"])


def pytest_approx(value: float) -> Any:
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-12)


def test_critical_error_tile_is_judged_against_the_vendors_own_target(
    sample_db, run_page, monkeypatch, tmp_path
):
    """meridian in graphic_violence gets its own critical-error target (a per-vendor override
    in the workflow); its tile shows the critical error rate and misses or meets that target
    as the rate computed here says."""
    day = dt.date(2026, 11, 15)
    start = day - dt.timedelta(days=WINDOW_DAYS - 1)
    a = audits(sample_db, start, day)
    a = a[(a["vendor"] == "meridian") & (a["workflow"] == "graphic_violence")]
    critical = a["is_error"].fillna(False).astype(bool) & (a["severity"] == "critical")
    on_day = pd.to_datetime(a["decided_at"], utc=True).dt.date == day
    lead = on_day.sum() >= Config().monitor.min_audits
    rate = critical[on_day].mean() if lead else critical.mean()
    assert critical.sum() > 0
    for target, word in ((float(rate) / 2, "misses"), (min(1.0, float(rate) * 2), "meets")):
        config = tmp_path / f"c{word}.toml"
        config.write_text(
            "[targets.workflows.graphic_violence]\ncritical_error_rate = 0.5\n"
            "[targets.workflows.graphic_violence.vendors.meridian]\n"
            f"critical_error_rate = {target!r}\n"
        )
        monkeypatch.setenv("BPO_KPI_CONFIG", str(config))
        at = run_page(None, {"vendor": ["meridian"], "workflow": ["graphic_violence"],
                             "to": day.isoformat(), "from": start.isoformat()})  # fmt: skip
        assert not at.exception, at.exception
        label = KPIS["critical_error_rate"].label
        [metric] = [m for m in at.metric if m.label.startswith(label)]
        assert metric.value == format_value("critical_error_rate", rate)
        colour, symbol = ("green", "✔") if word == "meets" else ("red", "✘")
        want = f":{colour}[{symbol} {word} target] ({format_value('critical_error_rate', target)})"
        assert any(want in m.value for m in at.markdown), want
