"""The backlog read as states at period ends (`kpi.sql.backlog`) against the whole-history
definitions: the event sums of `kpi.sql.measures._backlog_sql` (running sums) and a pandas count
of the decisions pending at each period end (`pending_at`), over random ingest sequences.

Each example loads a random set of decisions through the real ingest, then a random sequence of
later files: late decisions (a pending row re-sent decided), corrections (times, due times and
dimensions changed, with a newer updated_at), re-opened or older versions (stale, not applied)
and new rows, and asks for the backlog over random windows, periods, dimensions, filters and
as-of instants (mid-day ones included).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bpo_kpi.config import Config
from bpo_kpi.db import DECISION_COLUMNS, ensure_schema
from ingest import ingest_files
from kpi import compute
from kpi.columns import to_frame
from kpi.gateway import Gateway, QueryLimit
from kpi.query import KpiQuery
from kpi.sql import MAX_STATE_PERIODS, bounds, source_sql

DEC_COLS = [c for c, _, _ in DECISION_COLUMNS]
UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
SPAN_H = 24 * 7 * 10  # ten weeks of arrivals
TIMES = ("enqueued_at", "claimed_at", "decided_at", "due_at", "updated_at")


def _row(i: int, enq_h: float, tat_h: float | None, due_h: float | None, v: int, w: int) -> dict:
    enq = T0 + dt.timedelta(hours=enq_h)
    decided = None if tat_h is None else enq + dt.timedelta(hours=tat_h)
    return {
        "decision_id": f"d{i}",
        "item_id": f"i{i}",
        "vendor": ("north", "south")[v],
        "site": ("a", "b")[(i + v) % 2],
        "workflow": ("spam", "hate")[w],
        "market": "en",
        "priority": None,
        "reviewer_id": f"r{i % 3}",
        "decision": None if decided is None else "remove",
        "policy": None if decided is None else "p1",
        "enqueued_at": enq,
        "claimed_at": None,
        "decided_at": decided,
        # due_at before enqueued_at happens in queue exports: kept, and must count the same way
        "due_at": None if due_h is None else enq + dt.timedelta(hours=due_h),
        "updated_at": None,
    }


# whole hours often: times on period boundaries (local midnights) are where `<` and `>=` differ
hours = st.one_of(
    st.integers(0, SPAN_H).map(float),
    st.floats(0, SPAN_H, allow_nan=False).map(lambda h: round(h, 2)),
)
tats = st.one_of(
    st.none(),
    st.integers(0, 24 * 30).map(float),
    st.floats(0, 6, allow_nan=False),
    st.floats(0, 24 * 40, allow_nan=False),  # decided weeks later
).map(lambda h: None if h is None else round(h, 3))
dues = st.one_of(
    st.none(),
    st.integers(-5, 24 * 10).map(float),
    st.floats(-5, 24 * 10, allow_nan=False).map(lambda h: round(h, 2)),
)
rows = st.tuples(hours, tats, dues, st.integers(0, 1), st.integers(0, 1))
# a later file: (kind of change, which row, new values)
changes = st.tuples(
    st.sampled_from(["decide", "correct", "reopen", "older", "new"]), st.integers(0, 10**6), rows
)


def _write(path: Path, frame: list[dict]) -> Path:
    out = pd.DataFrame(frame, columns=DEC_COLS).astype(object)
    for col in TIMES:
        out[col] = [None if v is None or pd.isna(v) else v.isoformat() for v in out[col]]
    out.to_csv(path, index=False)
    return path


def _load(tmp: Path, first: list[tuple], later: list[list[tuple]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    config = Config()
    current = [_row(i, *r) for i, r in enumerate(first)]
    ingest_files(con, "decisions", [_write(tmp / "v0.csv", current)], config=config)
    for n, batch in enumerate(later, start=1):
        stamp = T0 + dt.timedelta(days=400 + n)  # newer than any earlier version
        out = []
        for kind, pick, new in batch:
            i = pick % len(current)
            row = dict(current[i])
            if kind == "decide" and row["decided_at"] is None:
                tat = new[1] if new[1] is not None else 1.0
                row |= {"decided_at": row["enqueued_at"] + dt.timedelta(hours=tat),
                        "decision": "approve", "updated_at": stamp}  # fmt: skip
            elif kind == "correct":
                fresh = _row(i, *new)
                row |= {k: fresh[k] for k in ("enqueued_at", "decided_at", "due_at", "vendor",
                                              "workflow", "decision", "policy")}  # fmt: skip
                row["updated_at"] = stamp
            elif kind == "reopen":  # an undecided re-send of a decided row: stale
                row |= {"decided_at": None, "decision": None, "policy": None}
            elif kind == "older":  # an older version arriving late: stale
                row |= {"enqueued_at": row["enqueued_at"] - dt.timedelta(hours=3),
                        "updated_at": T0}  # fmt: skip
            elif kind == "new":
                row = _row(len(current), *new)
                current.append(row)
            else:
                continue
            if kind in ("decide", "correct"):
                current[i] = row
            if all(r["decision_id"] != row["decision_id"] for r in out):
                out.append(row)
        if out:
            ingest_files(con, "decisions", [_write(tmp / f"v{n}.csv", out)], config=config)
    return con


def _periods(first: dt.date, last: dt.date, period: str) -> list[tuple[dt.date, dt.date]]:
    """(start, next start) of each local period from the one holding `first` to `last`'s."""
    freq = {"day": "D", "week": "W", "month": "M", "quarter": "Q"}[period]
    p = pd.Period(first, freq)
    out = []
    while p.start_time.date() <= last:
        out.append((p.start_time.date(), (p + 1).start_time.date()))
        p += 1
    return out


def _oracle(stored: pd.DataFrame, query: KpiQuery, as_of: dt.datetime, tz: str) -> pd.DataFrame:
    """Decisions pending at each period end (and past due among them), counted in pandas."""
    zone = ZoneInfo(tz)
    d = stored
    for dim, values in query.where.items():
        d = d[d[dim].isin(values)]

    def midnight(day: dt.date) -> pd.Timestamp:
        return pd.Timestamp(dt.datetime.combine(day, dt.time(), tzinfo=zone)).tz_convert(UTC)

    cut = pd.Timestamp(as_of)
    if query.end is not None:
        cut = min(cut, midnight(query.end + dt.timedelta(days=1)))
    ends: list[tuple[Any, pd.Timestamp]] = [(None, cut)]
    if query.period is not None:
        last = query.end or as_of.astimezone(zone).date()
        early = d[d["enqueued_at"] < cut]["enqueued_at"]
        first = query.start or (early.min().tz_convert(zone).date() if len(early) else last)
        ends = [(s, min(midnight(n), cut)) for s, n in _periods(first, last, query.period)]
    rows = []
    for start, e in ends:
        pending = d[(d["enqueued_at"] < e) & (d["decided_at"].isna() | (d["decided_at"] >= e))]
        past = pending["due_at"].notna() & (pending["due_at"] < e)
        keys = list(query.by)
        counted = pending.assign(past=past.astype(int), one=1)
        grouped = (
            counted.groupby(keys, dropna=False)[["one", "past"]].sum().reset_index()
            if keys
            else pd.DataFrame({"one": [counted["one"].sum()], "past": [counted["past"].sum()]})
        )
        for rec in grouped.to_dict(orient="records"):
            if rec["one"] or rec["past"]:
                counts = {"backlog": int(rec["one"]), "backlog_over_sla": int(rec["past"])}
                rows.append({**{k: rec[k] for k in keys}, "period_start": start, **counts})
    return _norm(pd.DataFrame(rows, columns=[*query.by, "period_start", "backlog",
                                             "backlog_over_sla"]), query)  # fmt: skip


BACKLOG = ["backlog", "backlog_over_sla"]


def _norm(frame: pd.DataFrame, query: KpiQuery) -> pd.DataFrame:
    keys = [*query.by, "period_start"]
    out = frame[[*keys, "backlog", "backlog_over_sla"]].copy()
    out["period_start"] = [None if pd.isna(v) else pd.Timestamp(v).date()
                           for v in out["period_start"]]  # fmt: skip
    out = out.astype({"backlog": "int64", "backlog_over_sla": "int64"})
    out = out[(out["backlog"] != 0) | (out["backlog_over_sla"] != 0)]
    return out.sort_values(keys, na_position="first").reset_index(drop=True).astype(object)


def _events(gw: Gateway, query: KpiQuery, as_of: dt.datetime) -> pd.DataFrame:
    """The whole-history event sums (`kpi.sql.measures`) and their running sums."""
    tz = gw.config.reporting_timezone
    b = bounds(query, tz, as_of)
    sql, params = source_sql("backlog", ["backlog", "backlog_over_sla"], query, gw.scope, tz,
                             [], b)  # fmt: skip
    last = query.end or as_of.astimezone(ZoneInfo(tz)).date()
    return to_frame(compute._running_backlog(gw.columns(sql, params), query, last))


queries = st.fixed_dictionaries(
    {
        "by": st.lists(st.sampled_from(["vendor", "workflow", "site"]), max_size=2, unique=True),
        "period": st.sampled_from([None, "day", "week", "month", "quarter"]),
        "start": st.one_of(st.none(), st.integers(-10, 80)),
        "days": st.integers(0, 120),
        "vendor": st.sampled_from([None, "north"]),
        "as_of_h": st.one_of(
            st.integers(0, 24 * 130).map(float), st.floats(0, 24 * 130, allow_nan=False)
        ),
    }
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.lists(rows, min_size=1, max_size=40),
    later=st.lists(st.lists(changes, max_size=12), max_size=3),
    specs=st.lists(queries, min_size=1, max_size=4),
    tz=st.sampled_from(["UTC", "America/New_York"]),
)
def test_backlog_states_match_the_whole_history(first, later, specs, tz, tmp_path_factory):
    con = _load(tmp_path_factory.mktemp("backlog"), first, later)
    stored = con.execute(
        "SELECT vendor, workflow, site, enqueued_at, decided_at, due_at FROM decisions"
    ).df()
    with Gateway(con=con, config=Config(reporting_timezone=tz)) as gw:
        for spec in specs:
            start = None if spec["start"] is None else T0.date() + dt.timedelta(spec["start"])
            query = KpiQuery(
                by=tuple(spec["by"]),
                period=spec["period"],
                start=start,
                end=None if start is None else start + dt.timedelta(spec["days"]),
                where={"vendor": (spec["vendor"],)} if spec["vendor"] else {},
            )
            as_of = T0 + dt.timedelta(hours=spec["as_of_h"])
            b = bounds(query, tz, as_of)
            got = _norm(to_frame(compute._backlog(gw, BACKLOG, query, b)), query)
            want = _oracle(stored, query, as_of, tz)
            pd.testing.assert_frame_equal(got, want)
            if (stored["due_at"] >= stored["enqueued_at"]).all() or stored["due_at"].isna().all():
                # The event sums count a due_at before enqueued_at as past due before arrival.
                pd.testing.assert_frame_equal(_norm(_events(gw, query, as_of), query), want)
    con.close()


def test_many_periods_take_the_event_sums_and_agree(tmp_path):
    """A year of days (more than `MAX_STATE_PERIODS` ends) is read as event sums: the same
    counts as the pandas definition."""
    first = [(h * 7.3 % SPAN_H, (h % 5) * 30.0 if h % 4 else None, 20.0, h % 2, h % 2)
             for h in range(60)]  # fmt: skip
    con = _load(tmp_path, first, [])
    stored = con.execute(
        "SELECT vendor, workflow, site, enqueued_at, decided_at, due_at FROM decisions"
    ).df()
    query = KpiQuery(
        by=("vendor",), period="day", start=T0.date(), end=T0.date() + dt.timedelta(90)
    )
    assert MAX_STATE_PERIODS < 90
    as_of = T0 + dt.timedelta(days=200)
    with Gateway(con=con, config=Config()) as gw:
        got = to_frame(compute._backlog(gw, BACKLOG, query, bounds(query, "UTC", as_of)))
        want = _oracle(stored, query, as_of, "UTC")
        assert len(want) > 30
        pd.testing.assert_frame_equal(_norm(got, query), want)
    con.close()


def test_times_on_period_ends(tmp_path):
    """Arrivals, decisions and due times exactly at local midnights (New York): an item decided
    at a period's end is still pending at it, one enqueued or due then is not yet in it / past
    due, as `pending_at` and `past_due_at` say."""
    ny = ZoneInfo("America/New_York")
    midnight = dt.datetime(2026, 1, 12, tzinfo=ny).astimezone(UTC)  # Monday: a week's end too
    h = (midnight - T0).total_seconds() / 3600
    first = [
        (h - 30, 30.0, 30.0, 0, 0),  # decided and due at the end of Sunday 11th
        (h - 30, 54.0, 54.0, 0, 0),  # decided and due a day later
        (h, 5.0, 0.0, 1, 0),  # enqueued and due at that midnight
        (h - 24 * 7, None, 24.0 * 7, 1, 1),  # open, due at that midnight
        (h - 50, 24.0 * 9 + 50, 10.0, 0, 1),  # decided a week and a bit later, past due
    ]
    con = _load(tmp_path, first, [])
    stored = con.execute(
        "SELECT vendor, workflow, site, enqueued_at, decided_at, due_at FROM decisions"
    ).df()
    as_of = midnight + dt.timedelta(days=30)
    with Gateway(con=con, config=Config(reporting_timezone="America/New_York")) as gw:
        for query in (
            KpiQuery(
                by=("vendor",), period="day", start=dt.date(2026, 1, 9), end=dt.date(2026, 1, 25)
            ),
            KpiQuery(by=("workflow",), period="week"),
            KpiQuery(period="day", end=dt.date(2026, 1, 11)),
        ):
            b = bounds(query, "America/New_York", as_of)
            got = _norm(to_frame(compute._backlog(gw, BACKLOG, query, b)), query)
            want = _oracle(stored, query, as_of, "America/New_York")
            pd.testing.assert_frame_equal(got, want)
        day = KpiQuery(period="day", start=dt.date(2026, 1, 11), end=dt.date(2026, 1, 11))
        b = bounds(day, "America/New_York", as_of)
        got = to_frame(compute._backlog(gw, ["backlog", "backlog_over_sla"], day, b))
        # Pending at the 11th's end (by hand): both decided at or after it, the open one and
        # the late one; past due only the late one (the others fall due at it, not before).
        assert got[["backlog", "backlog_over_sla"]].values.tolist() == [[4, 1]]
    con.close()


def test_gateway_reads_results_of_short_chunks_to_the_end():
    """A result made of many short chunks (the parts of a UNION ALL, as the backlog's states
    were before they were sorted) is read whole, and the row cap still holds."""
    parts = [f"SELECT {k} AS part, i FROM range(7) t(i)" for k in range(300)]
    sql = "\nUNION ALL\n".join(parts)
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    with Gateway(con=con, config=Config()) as gw:
        frame = gw.frame(sql)
        assert len(frame) == 300 * 7
        assert sorted(zip(frame["part"], frame["i"], strict=True)) == [
            (k, i) for k in range(300) for i in range(7)
        ]
    capped = Config.model_validate({"queries": {"max_rows": 2000}})
    with Gateway(con=con, config=capped) as gw, pytest.raises(QueryLimit):
        gw.frame(sql)
    con.close()
