"""Every kappa on the dashboard with its interval and n (`κ 0.71 (0.62–0.80, n=340)`), and none
on fewer than `monitor.min_kappa_audits` audits: the Overview tiles, the Quality page's headline
and the vendor comparison say "too few audits" instead, and neither judge nor rank it."""

from __future__ import annotations

import datetime as dt

from kpi.catalog import KPIS
from kpi.compute import kpi_table
from kpi.data_summary import database_summary
from kpi.gateway import Gateway
from kpi.query import KpiQuery
from kpi.targets import format_value, interval_text

LABEL = KPIS["cohen_kappa"].label
WINDOW_DAYS = 28


def window(db) -> KpiQuery:
    with Gateway(db) as gw:
        last = database_summary(gw).last_day
    assert last is not None
    return KpiQuery(start=last - dt.timedelta(days=WINDOW_DAYS - 1), end=last)


def test_quality_headline_shows_kappa_with_interval_and_n(sample_db, run_page):
    at = run_page("app_pages/quality.py")
    assert not at.exception, at.exception
    with Gateway(sample_db) as gw:
        row = kpi_table(gw, window(sample_db).model_copy(update={"kpis": ("cohen_kappa",)}),
                        counts=True).iloc[0]  # fmt: skip
    n = int(row["audits"])
    assert n >= 20
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[LABEL] == format_value("cohen_kappa", row["cohen_kappa"])
    text = interval_text("cohen_kappa", row["cohen_kappa"], row["cohen_kappa_low"],
                         row["cohen_kappa_high"], n, 20)  # fmt: skip
    assert text == (
        f"κ {row['cohen_kappa']:.2f} ({row['cohen_kappa_low']:.2f}–"
        f"{row['cohen_kappa_high']:.2f}, n={n:,})"
    )
    assert any(text in m.value for m in at.markdown)


def test_no_kappa_on_too_few_audits(sample_db, run_page, monkeypatch, tmp_path):
    config = tmp_path / "bpo_kpi.toml"
    config.write_text("[monitor]\nmin_kappa_audits = 1000000\n")
    monkeypatch.setenv("BPO_KPI_CONFIG", str(config))

    at = run_page("app_pages/quality.py")
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}[LABEL] == "too few audits"
    assert any(m.value.startswith("too few audits (n=") for m in at.markdown)

    at = run_page(None)  # Overview
    assert not at.exception, at.exception
    kappa_tiles = [m.value for m in at.metric if m.label.startswith(LABEL)]
    assert kappa_tiles and set(kappa_tiles) == {"too few audits"}
    assert not any(m.value.startswith(":gray[κ ") for m in at.markdown)

    at = run_page("app_pages/vendors.py")
    assert not at.exception, at.exception
    matrix = next(d.value for d in at.dataframe if "Better" in d.value.columns)
    row = matrix[matrix["KPI"] == LABEL].iloc[0]
    cells = [row[c] for c in matrix.columns if c not in ("KPI", "Better")]
    # Neither ranked (no "#") nor judged against the target (no ✔ / ✘).
    assert cells and all(c.startswith("too few audits (n=") and "·" not in c for c in cells)
    details = next(d.value for d in at.dataframe if "Ranked vendors" in d.value.columns)
    mine = details[details["KPI"] == LABEL]
    # Not ranked, not judged; the value says why and on how many audits (n as in the cell).
    assert len(mine) == len(cells) and (mine["Rank"].fillna("") == "").all()
    assert (mine["Status"] == "too few to judge").all()
    for value, n in zip(mine["Value"], mine["n"], strict=True):
        assert value == f"too few audits (n={n})" and int(n.replace(",", "")) > 0
