"""Overview page (daily monitor): the alert list and the vendor tiles show what kpi.monitor and
kpi_table compute for the same day, window and filters."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from kpi import monitor
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.targets import format_value

PAGE = "app_pages/overview.py"
WINDOW_DAYS = 28
SEVERITY = {"critical": "🔴 critical", "warning": "🟠 warning", "info": "🔵 info"}


def expected(db, where=None, day=None):
    """The library's alerts and tiles (in page order) for the dashboard's default window."""
    where = where or {}
    with Gateway(db) as gw:
        summary = database_summary(gw)
        last = summary.last_day
        start = max(summary.first_day, last - dt.timedelta(days=WINDOW_DAYS - 1))
        day = day or last
        base = KpiQuery(start=start, end=day, where=where)
        alerts = monitor.alerts(gw, base, day)
        complete = monitor.audits_complete_through(gw)
        pinned = {d: v[0] for d, v in where.items() if len(v) == 1}
        frames = []
        daily = monitor.daily(gw, base, day)
        if daily["vendor"].nunique() > 1:
            frames.append((monitor.daily(gw, base, day, ()), monitor.window_table(gw, base, ())))
        frames.append((daily, monitor.window_table(gw, base)))
        tiles = pd.concat(
            [
                monitor.tiles(
                    frame, day, gw.config, pinned.get("workflow"), pinned.get("vendor"),
                    window=window, complete_through=complete,
                )
                for frame, window in frames
            ],
            ignore_index=True,
        )  # fmt: skip
        on_day = kpi_table(
            gw,
            KpiQuery(by=("vendor",), start=day, end=day, where=where,
                     kpis=("decisions", "audits", "sla_attainment", "tat_p90")),
        ).set_index("vendor")  # fmt: skip
        sla = kpi_table(
            gw,
            KpiQuery(by=("vendor", "workflow"), start=day, end=day, where=where,
                     kpis=("sla_attainment",)),
        ).set_index(["vendor", "workflow"])  # fmt: skip
    return alerts, tiles, on_day, sla, day


def check_alert_table(at, alerts: pd.DataFrame) -> None:
    shown = at.dataframe[0].value.reset_index(drop=True)
    table = monitor.readable_alerts(alerts)
    table["severity"] = table["severity"].map(SEVERITY)
    table = table.rename(columns=str.capitalize)
    assert list(shown.columns) == list(table.columns)
    assert len(shown) == len(table) > 0
    # Hours since the newest data move with the clock between the page's run and this one.
    stale = (alerts["kind"] == "stale_data").to_numpy()
    steady = ["Severity", "Alert", "Vendor", "Workflow", "When", "Limit"]
    pd.testing.assert_frame_equal(shown[steady], table[steady])
    pd.testing.assert_frame_equal(
        shown.loc[~stale].reset_index(drop=True), table.loc[~stale].reset_index(drop=True)
    )


def check_tiles(at, tiles: pd.DataFrame) -> None:
    shown = [(m.label, m.value) for m in at.metric]
    assert shown == [
        (KPIS[k].label, format_value(k, None if pd.isna(v) else v))
        for k, v in zip(tiles["kpi"], tiles["value"], strict=True)
    ]
    text = "\n".join(m.value for m in at.markdown)
    for rec in tiles.to_dict("records"):
        for name, against in monitor.COMPARISON_TEXT.items():
            change = monitor.change_text(
                rec["kpi"], rec[f"change_{name}"], rec[f"p_{name}"],
                bool(rec[f"significant_{name}"]), against, rec["provisional"],
            )  # fmt: skip
            assert change in text
        basis = monitor.basis_text(rec["kpi"], int(rec["n"]))
        assert basis in text


def test_default_view_shows_the_librarys_alerts_and_tiles(sample_db, run_page):
    at = run_page(PAGE)
    assert not at.exception
    alerts, tiles, on_day, sla, day = expected(sample_db)
    assert [t.value for t in at.title] == ["Overview"]
    assert f"Daily monitor for **{day:%A %d %b %Y}**" in at.caption[0].value

    check_alert_table(at, alerts)
    counts = monitor.alert_counts(alerts)
    summary = next(m.value for m in at.markdown if "critical" in m.value and "**" in m.value)
    assert summary.startswith(f"**{counts['critical']}** 🔴 critical")
    # The sample has injected gaps: the list is not just freshness.
    assert {"sla_breach", "backlog_past_due"} <= set(alerts["kind"])
    for rec in alerts[alerts["kind"] == "sla_breach"].to_dict("records"):
        assert rec["value"] == sla.at[(rec["vendor"], rec["workflow"]), "sla_attainment"]

    check_tiles(at, tiles)
    vendors = sorted(on_day.index)
    assert tiles["vendor"].isna().sum() == len(monitor.TILE_KPIS)  # the "All vendors" row
    assert tiles["vendor"].dropna().unique().tolist() == vendors
    # Tile values are the KPI table's for the day.
    shown = {(m.label, i // len(monitor.TILE_KPIS)): m.value for i, m in enumerate(at.metric)}
    for i, vendor in enumerate(vendors, start=1):
        for kpi in ("sla_attainment", "tat_p90"):
            assert shown[(KPIS[kpi].label, i)] == format_value(kpi, on_day.at[vendor, kpi])
        header = f"**{vendor}** · {on_day.at[vendor, 'decisions']:,} decisions and "
        header += f"{on_day.at[vendor, 'audits']:,} audits on {day:%a %d %b}"
        assert header in [m.value for m in at.markdown]
    # The newest day's audits are still arriving: its quality tiles say so.
    assert tiles.loc[tiles["kpi"] == "quality_score", "provisional"].all()
    assert any("provisional: audits still arriving" in m.value for m in at.markdown)


def test_filtered_view_for_one_vendor_and_an_earlier_day(sample_db, run_page):
    day = dt.date(2026, 11, 15)
    at = run_page(None, {"vendor": ["northwind"], "to": day.isoformat()})
    assert not at.exception
    alerts, tiles, on_day, sla, _ = expected(sample_db, {"vendor": ("northwind",)}, day)
    assert f"Daily monitor for **{day:%A %d %b %Y}**" in at.caption[0].value

    check_alert_table(at, alerts)
    assert set(alerts["vendor"]) == {"northwind"}

    check_tiles(at, tiles)
    assert len(at.metric) == len(monitor.TILE_KPIS)  # one vendor: no "All vendors" row
    assert tiles["vendor"].unique().tolist() == ["northwind"]
    sla_metric = next(m for m in at.metric if m.label == KPIS["sla_attainment"].label)
    assert sla_metric.value == format_value(
        "sla_attainment", on_day.at["northwind", "sla_attainment"]
    )
    # A week before the newest data, audits are complete: nothing is provisional, and changes of
    # shares are tested.
    assert not tiles["provisional"].any()
    assert not any("provisional" in m.value for m in at.markdown)
    by_kpi = tiles.set_index("kpi")
    assert not pd.isna(by_kpi.at["sla_attainment", "p_yesterday"])
    assert not pd.isna(by_kpi.at["qa_coverage", "p_last_week"])


def test_workflow_filter_narrows_alerts(sample_db, run_page):
    at = run_page(PAGE, {"workflow": ["hate_speech"]})
    assert not at.exception
    alerts, tiles, *_ = expected(sample_db, {"workflow": ("hate_speech",)})
    check_alert_table(at, alerts)
    assert set(alerts["workflow"].dropna()) == {"hate_speech"}
    check_tiles(at, tiles)
