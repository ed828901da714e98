"""Overview page (daily monitor): the alert list and the vendor tiles show what kpi.monitor and
kpi_table compute for the same day, window and filters."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pandas as pd

from app_pages.text import md
from bpo_kpi.config import Config
from kpi import monitor
from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.targets import format_value, interval_text

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
    # Each alert links to its segment's drill-down with its days (checked here), then the rest.
    links = shown.pop("Open").tolist()
    shown.pop("Status")  # statuses: test_acknowledge_on_the_page
    for link, rec in zip(links, alerts.to_dict("records"), strict=True):
        page, _, query = link.partition("?")
        params = parse_qs(query)
        assert page in ("quality", "tat", "health", "disputes")
        assert (page == "disputes") == (rec["kind"] == "dispute_pending")
        if isinstance(rec["vendor"], str):
            assert params["vendor"] == [rec["vendor"]]
        if isinstance(rec["end"], dt.date):
            assert params["to"] == [rec["end"].isoformat()]
        if rec["kind"] == "quality_gap":
            assert params["drill"] == [f"cell:{rec['vendor']}|{rec['workflow']}"]
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


MIN_KAPPA_AUDITS = Config().monitor.min_kappa_audits  # the sample runs on the defaults


def check_tiles(at, tiles: pd.DataFrame) -> None:
    shown = [(m.label, m.value) for m in at.metric]
    # A tile leads with the day's value when it rests on enough data, else the window's.
    window = next(m.label.split(" (")[1][:-1] for m in at.metric if " (" in m.label) if any(
        not e for e in tiles["enough"]
    ) else None  # fmt: skip
    want = []
    text = "\n".join(m.value for m in at.markdown)
    for rec in tiles.to_dict("records"):
        k = rec["kpi"]
        lead = rec["enough"] or pd.isna(rec["window_value"])
        pre = "" if lead else "window_"
        value, n = rec[f"{pre}value"], int(rec[f"{pre}n"])
        # A kappa: never on fewer than the minimum of audits, else with its interval and n.
        few = KPIS[k].unit == "kappa" and n < MIN_KAPPA_AUDITS
        want.append((KPIS[k].label + ("" if lead else f" ({window})"),
                     "too few audits" if few else
                     format_value(k, None if pd.isna(value) else value)))  # fmt: skip
        if KPIS[k].unit == "kappa":
            low, high = rec[f"{pre}low"], rec[f"{pre}high"]
            shown_text = interval_text(k, value, low, high, n, MIN_KAPPA_AUDITS)
            assert shown_text in text
            assert few or (shown_text.startswith("κ ") and f"n={n:,})" in shown_text)
    assert shown == want
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
    assert "backlog_past_due" in set(alerts["kind"])
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
        header = f"**{md(vendor)}** · {on_day.at[vendor, 'decisions']:,} decisions and "
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
    # Alerts about one workflow name hate_speech; alerts per vendor list only hate_speech.
    others = ("spam", "harassment", "child_safety", "graphic_violence", "violent_extremism")
    for rec in alerts.to_dict("records"):
        assert rec["workflow"] in (None, "hate_speech")
        assert not any(f" {w} " in rec["message"] for w in others), rec["message"]
    check_tiles(at, tiles)


def test_acknowledge_on_the_page(sample_db, run_page):
    """Acknowledging from the Overview records who and why beside the database; the page and
    `bpo-kpi alerts` show it, and the open counts leave it out."""
    from bpo_kpi.state import open_state

    at = run_page(PAGE)
    alerts, *_ = expected(sample_db)
    first = alerts.iloc[0]
    statuses = at.dataframe[0].value["Status"].tolist()
    assert statuses == ["new"] * len(alerts)
    form_select = next(s for s in at.selectbox if s.label == "Alert")
    form_select.set_value(first["key"])
    next(t for t in at.text_input if t.label == "Your name").set_value("Ana")
    next(t for t in at.text_input if t.label == "Why").set_value("vendor confirmed, fix Monday")
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception
    shown = at.dataframe[0].value
    assert shown["Status"].iat[0] == "acknowledged by Ana: vendor confirmed, fix Monday"
    with open_state(sample_db, create=False) as store:
        assert first["key"] in store.statuses([first["key"]])
    summary = next(m.value for m in at.markdown if "acknowledged or snoozed" in m.value)
    assert "(1 acknowledged or snoozed)" in summary
