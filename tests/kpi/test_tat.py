"""kpi.tat (and kpi_table's time keys) against independent pandas computations on the raw rows.

The oracle here knows nothing of kpi.sql: TAT from pandas timestamps, histogram bins with
`pd.cut`, local weekday / hour with `tz_convert`, quantiles with numpy, the backlog at an instant
from the final canonical rows, due times from the configuration where the queue stamped none.
The reporting time zone of `kpi_data` is New York (daylight saving time starts 2026-03-08, inside
the data); UTC and Asia/Kolkata exercise the fixed-offset path.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from kpi import tat
from kpi.compute import kpi_table
from kpi.gateway import Gateway
from kpi.query import KpiQuery

UTC = dt.UTC


# --- oracle ------------------------------------------------------------------------------------


def effective_due(decisions: pd.DataFrame, config) -> pd.Series:
    """The queue's due time, else enqueued_at + the configured SLA of (workflow, vendor, prio)."""
    due = []
    for row in decisions.itertuples():
        if not pd.isna(row.due_at):
            due.append(row.due_at)
            continue
        sla = config.targets.resolve(row.workflow, row.vendor).sla_minutes
        minutes = sla.get(row.priority) if isinstance(row.priority, str) else None
        due.append(row.enqueued_at + pd.Timedelta(minutes=minutes) if minutes else pd.NaT)
    return pd.to_datetime(pd.Series(due, index=decisions.index, dtype=object), utc=True)


@pytest.fixture(scope="module")
def frame(kpi_data) -> pd.DataFrame:
    d = kpi_data.decisions.copy()
    d["due"] = effective_due(d, kpi_data.config)
    d["tat"] = (d["decided_at"] - d["enqueued_at"]).dt.total_seconds() / 60
    return d


@pytest.fixture(scope="module")
def gw(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config) as gateway:
        yield gateway


def in_window(d: pd.DataFrame, query: KpiQuery, tz: str) -> pd.DataFrame:
    """Decided decisions of the query's window (local day of decided_at) and filters."""
    out = d[d["decided_at"].notna()]
    day = out["decided_at"].dt.tz_convert(tz).dt.date
    keep = pd.Series(True, index=out.index)
    if query.start:
        keep &= day >= query.start
    if query.end:
        keep &= day <= query.end
    out = out[keep]
    for dim, values in query.where.items():
        out = out[out[dim].isin(values)]
    return out


def key_of(row: dict, dims) -> tuple:
    return tuple(None if pd.isna(row[d]) else row[d] for d in dims)


def as_map(frame: pd.DataFrame, keys, value) -> dict:
    """{(key values, NaN as None): value} of a frame (reset a groupby result's index first)."""
    if isinstance(value, str):
        return {key_of(r, keys): r[value] for r in frame.to_dict("records")}
    return {key_of(r, keys): tuple(r[v] for v in value) for r in frame.to_dict("records")}


QUERIES = {
    "overall": KpiQuery(),
    "by_vendor": KpiQuery(by=("vendor",)),
    "filtered_window": KpiQuery(
        by=("workflow",),
        where={"vendor": ("meridian", "pacifica")},
        start=dt.date(2026, 3, 2),
        end=dt.date(2026, 3, 15),
    ),
    "site_with_nulls": KpiQuery(by=("site",), start=dt.date(2026, 3, 9)),
}


# --- TAT histogram -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(QUERIES))
def test_histogram_counts_equal_pandas_bins(name, kpi_data, frame, gw):
    query = QUERIES[name]
    hist = tat.tat_histogram(gw, query)
    d = in_window(frame, query, kpi_data.config.reporting_timezone).copy()
    assert len(d) > 100
    edges = [0.0, *tat.DEFAULT_TAT_EDGES, math.inf]
    d["bin"] = pd.cut(d["tat"], edges, right=False, labels=False).astype(int)
    dims = list(query.by)
    want = d.groupby([*dims, "bin"], dropna=False).size().rename("n").reset_index()
    n_bins = len(tat.DEFAULT_TAT_EDGES) + 1
    n_groups = len(d[dims].drop_duplicates()) if dims else 1
    assert len(hist) == n_groups * n_bins  # every bin of every group, zeros included
    got = as_map(hist[hist["decisions"] > 0], [*dims, "bin"], "decisions")
    assert got == as_map(want, [*dims, "bin"], "n")
    assert hist["decisions"].sum() == len(d)
    assert (hist["decisions"] > 0).sum() >= 8  # the data spreads over many bins


@pytest.mark.parametrize("name", list(QUERIES))
def test_histogram_adds_up_to_kpi_table_decisions(name, kpi_data, gw):
    query = QUERIES[name]
    hist = tat.tat_histogram(gw, query)
    table = kpi_table(gw, query.model_copy(update={"kpis": ("decisions",)}), kpi_data.as_of)
    dims = list(query.by)
    if dims:
        sums = hist.groupby(dims, dropna=False)[["decisions", "share"]].sum().reset_index()
        assert as_map(sums, dims, "decisions") == as_map(table, dims, "decisions")
        assert np.allclose(sums["share"], 1.0)
    else:
        assert hist["decisions"].sum() == table["decisions"].iat[0]
        assert math.isclose(hist["share"].sum(), 1.0)


def test_histogram_bins_and_custom_edges(kpi_data, frame, gw):
    bins = tat.tat_bins()
    assert bins["lower_minutes"].iat[0] == 0 and math.isinf(bins["upper_minutes"].iat[-1])
    inner = bins.iloc[1:-1]
    ratios = inner["upper_minutes"] / inner["lower_minutes"]
    assert np.allclose(ratios, 10**0.25)  # equal widths on a log axis
    assert (bins["lower_minutes"].iloc[1:].to_numpy() == bins["upper_minutes"].iloc[:-1]).all()

    edges = (30, 60, 240, 1440)  # a decision at exactly 60 min belongs to [60, 240)
    hist = tat.tat_histogram(gw, KpiQuery(), edges=edges)
    d = in_window(frame, KpiQuery(), kpi_data.config.reporting_timezone)
    want = [
        (d["tat"] < 30).sum(),
        ((d["tat"] >= 30) & (d["tat"] < 60)).sum(),
        ((d["tat"] >= 60) & (d["tat"] < 240)).sum(),
        ((d["tat"] >= 240) & (d["tat"] < 1440)).sum(),
        (d["tat"] >= 1440).sum(),
    ]
    assert hist["decisions"].tolist() == [int(x) for x in want]
    assert hist["label"].tolist() == ["< 30 min", "30 min – 60 min", "60 min – 4 h", "4 h – 24 h",
                                      "≥ 24 h"]  # fmt: skip
    for bad in [(), (10, 5), (0, 10), (10, math.inf)]:
        with pytest.raises(ValueError):
            tat.tat_histogram(gw, KpiQuery(), edges=bad)


def test_histogram_respects_the_viewers_scope(kpi_data):
    with Gateway(kpi_data.db, config=kpi_data.config, role="meridian_lead") as scoped:
        hist = tat.tat_histogram(scoped, KpiQuery(by=("vendor",)))
        table = kpi_table(scoped, KpiQuery(kpis=("decisions",)), kpi_data.as_of)
    assert set(hist["vendor"]) == {"meridian"}
    assert hist["decisions"].sum() == table["decisions"].iat[0]
    d = kpi_data.decisions
    assert (
        table["decisions"].iat[0] == (d["decided_at"].notna() & (d["vendor"] == "meridian")).sum()
    )


# --- hour x weekday ----------------------------------------------------------------------------


def oracle_time_of_week(d: pd.DataFrame, tz: str, dims=()) -> pd.DataFrame:
    local = d["enqueued_at"].dt.tz_convert(ZoneInfo(tz))
    g = d.assign(weekday=local.dt.day_of_week + 1, hour=local.dt.hour)
    g["known"] = g["due"].notna()
    g["met"] = g["known"] & (g["decided_at"] <= g["due"])
    rows = []
    for key, grp in g.groupby([*dims, "weekday", "hour"], dropna=False):
        rows.append(
            {
                **dict(zip([*dims, "weekday", "hour"], key, strict=True)),
                "decisions": len(grp),
                "sla_attainment": grp["met"].sum() / grp["known"].sum()
                if grp["known"].any()
                else math.nan,
                "tat_p50": float(np.quantile(grp["tat"], 0.5)),
                "tat_p90": float(np.quantile(grp["tat"], 0.9)),
            }
        )
    return pd.DataFrame(rows)


def assert_same_cells(got: pd.DataFrame, want: pd.DataFrame, dims=()) -> None:
    keys = [*dims, "weekday", "hour"]
    nonempty = got[got["decisions"] > 0]
    assert len(nonempty) == len(want)
    merged = want.merge(nonempty, on=keys, suffixes=("_want", ""), validate="one_to_one")
    assert len(merged) == len(want)
    assert (merged["decisions"] == merged["decisions_want"]).all()
    for col in ("sla_attainment", "tat_p50", "tat_p90"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_want"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("tz", ["America/New_York", "UTC", "Asia/Kolkata"])
def test_time_of_week_equals_pandas_groupby_in_reporting_zone(tz, kpi_data, frame):
    config = kpi_data.config.model_copy(update={"reporting_timezone": tz})
    query = KpiQuery(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 21))
    with Gateway(kpi_data.db, config=config) as gateway:
        got = tat.time_of_week(gateway, query, kpi_data.as_of)
    assert len(got) == 7 * 24 and got[["weekday", "hour"]].drop_duplicates().shape[0] == 168
    assert list(got.columns[:2]) == ["weekday", "hour"]
    want = oracle_time_of_week(in_window(frame, query, tz), tz)
    assert len(want) > 150  # nearly every hour of the week has arrivals
    assert_same_cells(got, want)
    empty = got[got["decisions"] == 0]
    assert empty["tat_p50"].isna().all() and empty["sla_attainment"].isna().all()


def test_time_of_week_differs_between_zones(kpi_data, gw):
    """The same instants fall into other local hours: a UTC-vs-local mix-up cannot pass."""
    utc = kpi_data.config.model_copy(update={"reporting_timezone": "UTC"})
    ny = tat.time_of_week(gw, KpiQuery(kpis=("decisions",)), kpi_data.as_of)
    with Gateway(kpi_data.db, config=utc) as gateway:
        in_utc = tat.time_of_week(gateway, KpiQuery(kpis=("decisions",)), kpi_data.as_of)
    assert ny["decisions"].sum() == in_utc["decisions"].sum()
    assert not ny["decisions"].equals(in_utc["decisions"])


def test_time_of_week_by_vendor_filtered(kpi_data, frame, gw):
    query = KpiQuery(by=("vendor",), where={"workflow": ("hate_speech",)})
    got = tat.time_of_week(gw, query, kpi_data.as_of)
    assert len(got) == 3 * 168
    tz = kpi_data.config.reporting_timezone
    assert_same_cells(
        got, oracle_time_of_week(in_window(frame, query, tz), tz, ["vendor"]), ["vendor"]
    )
    grid = tat.time_of_week_grid(got[got["vendor"] == "pacifica"], "decisions")
    assert grid.shape == (7, 24) and list(grid.index) == list(tat.WEEKDAYS)
    cell = got[(got["vendor"] == "pacifica") & (got["weekday"] == 2) & (got["hour"] == 14)]
    assert grid.loc["Tue", "14"] == cell["decisions"].iat[0]


def test_kpi_table_time_keys_for_audit_kpis(kpi_data, frame, gw):
    """Audit KPIs (and Cohen's kappa's own query) are cut by the decision's arrival weekday."""
    query = KpiQuery(kpis=("audits", "agreement_rate", "cohen_kappa"))
    got = kpi_table(gw, query, kpi_data.as_of, time_keys=("weekday",)).set_index("weekday")
    tz = kpi_data.config.reporting_timezone
    decided = in_window(frame, query, tz)
    a = kpi_data.audits.merge(decided[["decision_id", "enqueued_at"]], on="decision_id")
    # scored against the label QA saw (see ingest.load)
    a = a.merge(kpi_data.scored[["decision_id", "decision"]], on="decision_id")
    a["weekday"] = a["enqueued_at"].dt.tz_convert(tz).dt.day_of_week + 1
    assert sorted(got.index) == list(range(1, 8))
    for weekday, grp in a.groupby("weekday"):
        row = got.loc[weekday]
        assert row["audits"] == len(grp)
        assert math.isclose(row["agreement_rate"], (grp["decision"] == grp["qa_decision"]).mean())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = cohen_kappa_score(grp["decision"], grp["qa_decision"])
        assert math.isclose(row["cohen_kappa"], kappa, rel_tol=1e-9)


def test_kpi_table_time_keys_are_checked(kpi_data, gw):
    with pytest.raises(ValueError, match="backlog"):
        kpi_table(gw, KpiQuery(kpis=("decisions", "backlog")), time_keys=("hour",))
    with pytest.raises(ValueError, match="time_keys"):
        kpi_table(gw, KpiQuery(kpis=("decisions",)), time_keys=("minute",))
    with pytest.raises(ValueError, match="time_keys"):
        kpi_table(gw, KpiQuery(kpis=("decisions",)), time_keys=("hour", "hour"))
    # With a period, the time keys come before period_start.
    weekly = kpi_table(
        gw, KpiQuery(period="week", kpis=("decisions",)), kpi_data.as_of, time_keys=("weekday",)
    )
    assert list(weekly.columns) == ["weekday", "period_start", "decisions"]
    overall = kpi_table(gw, KpiQuery(kpis=("decisions",)), kpi_data.as_of)
    assert weekly["decisions"].sum() == overall["decisions"].iat[0]


# --- SLA reference and due-time sources --------------------------------------------------------


def test_sla_reference_and_lines_follow_configuration(kpi_data):
    pairs = [
        ("graphic_violence", "meridian"),
        ("graphic_violence", "pacifica"),
        ("hate_speech", "meridian"),
    ]
    ref = tat.sla_reference(kpi_data.config, pairs, ["p1", "p2", "p9"])
    assert "p9" not in set(ref["priority"])  # no SLA configured for p9
    minutes = {(r.workflow, r.vendor, r.priority): r.sla_minutes for r in ref.itertuples()}
    for (workflow, vendor, priority), value in minutes.items():
        resolved = kpi_data.config.targets.resolve(workflow, vendor).sla_minutes[priority]
        assert value == resolved
    # graphic_violence sets p1 = 120 for all vendors and p2 = 600 for meridian only.
    assert minutes[("graphic_violence", "meridian", "p2")] == 600
    assert (
        minutes[("graphic_violence", "pacifica", "p2")]
        == minutes[("hate_speech", "meridian", "p2")]
    )
    p1 = tat.sla_lines(ref, "p1")
    assert p1.to_dict("records") == [
        {"sla_minutes": 120.0, "pairs": 2, "applies_to": "graphic_violence"},
        {"sla_minutes": minutes[("hate_speech", "meridian", "p1")], "pairs": 1,
         "applies_to": "hate_speech"},
    ]  # fmt: skip
    p2 = tat.sla_lines(ref, "p2")
    assert p2["applies_to"].tolist() == [
        "graphic_violence (meridian)",
        "graphic_violence (pacifica); hate_speech",
    ]
    single = tat.sla_lines(tat.sla_reference(kpi_data.config, pairs[2:], ["p1"]), "p1")
    assert single["applies_to"].tolist() == ["all"]
    assert tat.sla_lines(ref, "p9").empty


def test_due_time_sources(kpi_data, frame, gw):
    query = QUERIES["filtered_window"]
    got = tat.due_time_sources(gw, query)
    d = in_window(frame, query, kpi_data.config.reporting_timezone)
    src = np.where(d["due"].isna(), "none", np.where(d["due_at"].notna(), "queue", "config"))
    want = pd.Series(src).groupby([d["workflow"].to_numpy(), src]).size()
    got_map = {(r["workflow"], r["due_source"]): r["decisions"] for r in got.to_dict("records")}
    assert {k: v for k, v in got_map.items() if v} == {k: int(v) for k, v in want.items()}
    assert {"queue", "config", "none"} <= set(src)
    assert np.allclose(got.groupby("workflow")["share"].sum(), 1.0)
    # Decisions with a due time are exactly the SLA attainment's denominator.
    with_due = got[got["due_source"] != "none"]["decisions"].sum()
    assert with_due == (d["due"].notna()).sum()


# --- backlog ageing ----------------------------------------------------------------------------

BACKLOG_CASES = {
    "now_overall": (KpiQuery(), None),
    "now_vendor_workflow": (KpiQuery(by=("vendor", "workflow")), None),
    # window ending in the past: measured at the end of 16 March (New York)
    "past_window_filtered": (
        KpiQuery(
            by=("vendor",),
            where={"vendor": ("meridian", "pacifica")},
            start=dt.date(2026, 3, 1),
            end=dt.date(2026, 3, 16),
        ),
        None,
    ),
    # as_of inside the window's last day: measured at as_of
    "as_of_before_window_end": (
        KpiQuery(by=("site",), end=dt.date(2026, 3, 20)),
        dt.datetime(2026, 3, 20, 13, 45, tzinfo=UTC),
    ),
}


@pytest.mark.parametrize("case", list(BACKLOG_CASES))
def test_backlog_ageing_matches_pandas_and_reconciles_with_kpi_table(case, kpi_data, frame, gw):
    query, as_of = BACKLOG_CASES[case]
    as_of = as_of or kpi_data.as_of
    got = tat.backlog_ageing(gw, query, as_of)
    tz = kpi_data.config.reporting_timezone
    cut = tat.backlog_instant(query, tz, as_of)
    if query.end:
        end = dt.datetime.combine(query.end + dt.timedelta(days=1), dt.time(), ZoneInfo(tz))
        assert cut == min(end, as_of)
    else:
        assert cut == as_of

    # oracle: pending at the cut, by age bucket (lower bound inclusive), past due at the cut
    d = frame
    for dim, values in query.where.items():
        d = d[d[dim].isin(values)]
    cut_ts = pd.Timestamp(cut)
    pending = d[
        (d["enqueued_at"] < cut_ts) & (d["decided_at"].isna() | (d["decided_at"] >= cut_ts))
    ]
    age = (cut_ts - pending["enqueued_at"]).dt.total_seconds() / 60
    limits = [limit for _, limit in tat.AGE_BUCKETS[:-1]]
    pending = pending.assign(
        bucket=np.searchsorted(limits, age, side="right"),
        late=pending["due"].notna() & (pending["due"] < cut_ts),
        age=age,
    )
    dims = list(query.by)
    want = (
        pending.groupby([*dims, "bucket"], dropna=False)
        .agg(n=("late", "size"), late=("late", "sum"), oldest=("age", "max"))
        .reset_index()
    )
    assert len(want) >= 3
    keys = [*dims, "bucket"]
    got_nonzero = got[got["backlog"] > 0]
    assert as_map(got_nonzero, keys, ["backlog", "backlog_over_sla"]) == as_map(
        want, keys, ["n", "late"]
    )
    oldest = as_map(want, keys, "oldest")
    for key, value in as_map(got_nonzero, keys, "oldest_minutes").items():
        assert math.isclose(value, oldest[key], rel_tol=1e-12)
    assert (got["age"] == [tat.AGE_BUCKETS[b][0] for b in got["bucket"]]).all()

    # reconciliation: the buckets add up to kpi_table's backlog at the same instant
    table = kpi_table(gw, query.model_copy(update={"kpis": ("backlog", "backlog_over_sla")}), as_of)
    if dims:
        cols = ["backlog", "backlog_over_sla"]
        sums = got.groupby(dims, dropna=False)[cols].sum().reset_index()
        assert as_map(sums[sums["backlog"] > 0], dims, cols) == as_map(table, dims, cols)
    else:
        assert len(got) == len(tat.AGE_BUCKETS)  # every bucket, zeros included
        assert got["backlog"].sum() == table["backlog"].iat[0] > 0
        assert got["backlog_over_sla"].sum() == table["backlog_over_sla"].iat[0] > 0


def test_backlog_age_boundaries_are_exact(kpi_data, gw):
    """An item enqueued exactly 1 h (3 d) before the instant is in the 1-4 h (>= 3 d) bucket; a
    second earlier it was in the bucket below."""
    d = kpi_data.decisions
    pending = d[d["decided_at"].isna() & d["decision_id"].str.startswith("d")]
    item = pending.sort_values("enqueued_at").iloc[len(pending) // 2]
    query = KpiQuery(by=("reviewer_id",), where={"vendor": (item["vendor"],)})

    def counts(at: pd.Timestamp) -> np.ndarray:
        got = tat.backlog_ageing(gw, query, at.to_pydatetime())
        return got.loc[got["reviewer_id"] == item["reviewer_id"], "backlog"].to_numpy()

    for limit, bucket in ((60, 1), (4320, 5)):
        at = item["enqueued_at"] + pd.Timedelta(minutes=limit)
        moved = counts(at) - counts(at - pd.Timedelta(seconds=1))
        expected = np.zeros(len(tat.AGE_BUCKETS), dtype=int)
        expected[[bucket - 1, bucket]] = [-1, 1]
        assert moved.tolist() == expected.tolist()


def test_cli_time_keys_print_the_library_table(kpi_data, capsys) -> None:
    """`bpo-kpi kpis --time-keys weekday,hour` reproduces the page's hour x weekday numbers."""
    import json

    from bpo_kpi_cli.main import main
    from kpi.compute import kpi_table
    from kpi.gateway import Gateway
    from kpi.query import KpiQuery

    args = ["kpis", "--db", str(kpi_data.db), "--config", str(kpi_data.config_file),
            "--kpis", "decisions,sla_attainment,tat_p90", "--by", "vendor",
            "--time-keys", "weekday,hour", "--as-of", kpi_data.as_of.isoformat(),
            "--format", "json"]  # fmt: skip
    assert main(args) == 0
    shown = json.loads(capsys.readouterr().out)
    query = KpiQuery(by=("vendor",), kpis=("decisions", "sla_attainment", "tat_p90"))
    with Gateway(kpi_data.db, config=kpi_data.config) as gw:
        expected = kpi_table(gw, query, as_of=kpi_data.as_of, time_keys=("weekday", "hour"))
    assert len(shown) == len(expected) > 24
    for got, (_, want) in zip(shown, expected.iterrows(), strict=True):
        assert (got["vendor"], got["weekday"], got["hour"]) == (
            want["vendor"], want["weekday"], want["hour"],
        )  # fmt: skip
        assert got["decisions"] == want["decisions"]
        assert got["tat_p90"] == pytest.approx(want["tat_p90"], nan_ok=True)
