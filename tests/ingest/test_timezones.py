"""Time zones: stored instants are UTC; naive text is local to the configured or mapped zone."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from ingest_testkit import counts, utc, write_csv

from bpo_kpi.config import Config
from bpo_kpi.db import ensure_schema
from ingest import VendorMapping, ingest_files, load_mapping

# enqueued_at text -> stored instant, with input_timezone America/New_York
# (DST starts 2026-03-08 02:00 EST -> 03:00 EDT).
NEW_YORK = [
    ("naive-winter", "2026-03-08 01:30:00", utc(2026, 3, 8, 6, 30)),
    ("naive-summer", "2026-03-08 03:30:00", utc(2026, 3, 8, 7, 30)),
    ("naive-iso-t", "2026-07-01T12:00:00", utc(2026, 7, 1, 16)),
    ("naive-fraction", "2026-07-01T12:00:00.250", utc(2026, 7, 1, 16, 0, 0, 250000)),
    ("naive-minutes", "2026-07-01 12:00", utc(2026, 7, 1, 16)),
    ("date-only", "2026-03-08", utc(2026, 3, 8, 5)),  # midnight local, not "-08" as an offset
    ("z-suffix", "2026-03-08T01:30:00Z", utc(2026, 3, 8, 1, 30)),
    ("offset", "2026-03-08T01:30:00+01:00", utc(2026, 3, 8, 0, 30)),
    ("offset-compact", "2026-03-08T01:30:00+0530", utc(2026, 3, 7, 20)),
    ("offset-hours", "2026-03-08T01:30:00-03", utc(2026, 3, 8, 4, 30)),
    ("offset-fraction", "2026-03-08T01:30:00.5-05:30", utc(2026, 3, 8, 7, 0, 0, 500000)),
    ("utc-name", "2026-03-08T01:30:00 UTC", utc(2026, 3, 8, 1, 30)),
]


def _file(env, values, name="tz.csv"):
    rows = [
        {"decision_id": key, "item_id": "i", "vendor": "acme", "workflow": "hate_speech",
         "reviewer_id": "r", "enqueued_at": text}
        for key, text in values
    ]  # fmt: skip
    return write_csv(env.path(name), rows)


def test_naive_timestamps_use_config_input_timezone(env):
    file = _file(env, [(k, t) for k, t, _ in NEW_YORK])
    result = env.one("decisions", file, config=Config(input_timezone="America/New_York"))
    assert counts(result) == (len(NEW_YORK), len(NEW_YORK), 0, 0, 0)
    assert env.rows("decisions", "decision_id, enqueued_at") == sorted(
        (k, expected) for k, _, expected in NEW_YORK
    )


def test_naive_timestamps_default_to_utc(env):
    file = _file(
        env, [("a", "2026-03-08 01:30:00"), ("b", "2026-03-08"), ("c", "2026-03-08T01:30:00+01:00")]
    )
    env.one("decisions", file)
    assert env.rows("decisions", "decision_id, enqueued_at") == [
        ("a", utc(2026, 3, 8, 1, 30)),
        ("b", utc(2026, 3, 8)),
        ("c", utc(2026, 3, 8, 0, 30)),
    ]


def test_result_does_not_depend_on_the_callers_session_time_zone(tmp_path):
    """A plain duckdb connection in another session time zone gets the same UTC instants."""
    con = duckdb.connect(str(tmp_path / "plain.duckdb"))
    ensure_schema(con)
    con.execute("SET TimeZone = 'Asia/Kolkata'")
    file = tmp_path / "tz.csv"
    file.write_text(
        "decision_id,item_id,vendor,workflow,reviewer_id,enqueued_at\n"
        "a,i,acme,hate_speech,r,2026-03-08 01:30:00\n"
        "b,i,acme,hate_speech,r,2026-03-08T01:30:00Z\n"
    )
    for config in (Config(), Config(input_timezone="Europe/Berlin")):
        con.execute("DELETE FROM decisions")
        ingest_files(con, "decisions", [file], config=config)
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("Asia/Kolkata",)
        got = con.execute(
            "SELECT decision_id, epoch(enqueued_at) FROM decisions ORDER BY 1"
        ).fetchall()
        local = 0 if config.input_timezone == "UTC" else 3600  # Berlin is +01:00 in March
        assert got == [
            ("a", utc(2026, 3, 8, 1, 30).timestamp() - local),
            ("b", utc(2026, 3, 8, 1, 30).timestamp()),
        ]
    con.close()


@pytest.mark.parametrize("source", ["file", "code"])
def test_mapping_timezone_for_naive_iso_text(env, tmp_path, source):
    """A mapping's time zone wins over input_timezone, whether loaded from a file or built."""
    if source == "file":
        (tmp_path / "tokyo.toml").write_text('vendor = "acme"\ntimezone = "Asia/Tokyo"\n')
        m = load_mapping(tmp_path / "tokyo.toml")
    else:
        m = VendorMapping(vendor="acme", timezone="Asia/Tokyo")
    file = _file(env, [("a", "2026-03-08 09:00:00"), ("b", "2026-03-08T09:00:00+01:00"),
                       ("c", "2026-03-08T09:00:00Z")])  # fmt: skip
    env.one("decisions", file, mapping=m, config=Config(input_timezone="America/New_York"))
    assert env.rows("decisions", "decision_id, enqueued_at") == [
        ("a", utc(2026, 3, 8, 0)),
        ("b", utc(2026, 3, 8, 8)),
        ("c", utc(2026, 3, 8, 9)),
    ]


def test_mapping_format_with_offset_and_epoch_milliseconds(env, tmp_path):
    (tmp_path / "z.toml").write_text(
        'vendor = "acme"\ntimezone = "Asia/Tokyo"\ntimestamp_format = "%d/%m/%Y %H:%M %z"\n'
    )
    file = _file(env, [("a", "08/03/2026 09:00 +0100"), ("b", "08/03/2026 09:00")])
    result = env.one("decisions", file, mapping=load_mapping(tmp_path / "z.toml"))
    assert counts(result) == (2, 1, 0, 0, 1)
    assert env.rows("decisions", "decision_id, enqueued_at") == [("a", utc(2026, 3, 8, 8))]
    [(_, _, reason)] = env.rejects(result.run_id)
    assert reason == (
        "enqueued_at 08/03/2026 09:00 is not a timestamp (expected format %d/%m/%Y %H:%M %z)"
    )

    (tmp_path / "ms.toml").write_text('vendor = "acme"\ntimestamp_format = "epoch_ms"\n')
    ms = int(utc(2026, 3, 8, 9).timestamp() * 1000) + 250
    file = _file(env, [("c", str(ms)), ("d", "1e30")], name="ms.csv")
    result = env.one("decisions", file, mapping=load_mapping(tmp_path / "ms.toml"))
    assert counts(result) == (2, 1, 0, 0, 1)
    assert env.row("decisions", "decision_id", "c", "enqueued_at") == (
        utc(2026, 3, 8, 9) + timedelta(milliseconds=250),
    )
    [(_, _, reason)] = env.rejects(result.run_id)
    assert (
        reason == "enqueued_at 1e30 is not a timestamp (expected milliseconds since 1970-01-01 UTC)"
    )


# --- daylight saving: ambiguous and non-existent local times ---------------------------------
# America/New_York 2026: clocks spring forward 2026-03-08 02:00 EST -> 03:00 EDT (02:00-03:00
# never happens) and fall back 2026-11-01 02:00 EDT -> 01:00 EST (01:00-02:00 happens twice).
NY = "America/New_York"
NY_FALL = (
    "in America/New_York (clocks fall back from 02:00 EDT to 01:00 EST on 2026-11-01, so "
    "01:00-02:00 happens twice): read as the second occurrence, EST (UTC-05:00)"
)
NY_SPRING = (
    "does not exist in America/New_York (clocks spring forward from 02:00 EST to 03:00 EDT on "
    "2026-03-08, so 02:00-03:00 never happens)"
)
CHECK_ZONE = (
    "; check the export's time zone (the vendor mapping's timezone, or input_timezone in the "
    "configuration)"
)


def _decisions(env, rows, name="dst.csv"):
    full = [
        {"decision_id": key, "item_id": "i", "vendor": "acme", "workflow": "hate_speech",
         "reviewer_id": "r", "decision": "remove" if decided else "", "enqueued_at": enq,
         "claimed_at": claimed, "decided_at": decided}
        for key, enq, claimed, decided in rows
    ]  # fmt: skip
    return write_csv(env.path(name), full)


def test_ambiguous_local_times_are_kept_with_a_warning_and_non_existent_ones_rejected(env):
    file = _decisions(
        env,
        [
            ("amb", "2026-11-01 01:30:00", "", ""),  # line 2
            ("amb-claim", "2026-11-01 00:50:00", "2026-11-01 01:10:00", "2026-11-01 02:10:00"),
            ("gap", "2026-03-08 02:30:00", "", ""),  # line 4: required time, rejected
            ("gap-claim", "2026-03-08 01:30:00", "2026-03-08 02:15:00", "2026-03-08 03:10:00"),
            ("gap-decided", "2026-03-08 01:30:00", "", "2026-03-08 02:45:00"),  # line 6
            ("offset", "2026-11-01T01:30:00-04:00", "", ""),  # explicit offset: no question
            ("edges", "2026-03-08 01:59:59", "2026-03-08 03:00:00", "2026-11-01 02:00:00"),
            # line 9: decided in the second 01:00-02:00, enqueued in the first: both read as the
            # second, the decision comes before its arrival; the reason says why.
            ("across", "2026-11-01 01:50:00", "", "2026-11-01 01:10:00"),
        ],
    )
    result = env.one("decisions", file, config=Config(input_timezone=NY))
    assert counts(result) == (8, 5, 0, 0, 3)
    assert result.warnings == 3
    assert env.warnings(result.run_id) == [
        (2, "enqueued_at", "2026-11-01 01:30:00",
         f"enqueued_at 2026-11-01 01:30:00 is an ambiguous local time {NY_FALL}"),
        (3, "claimed_at", "2026-11-01 01:10:00",
         f"claimed_at 2026-11-01 01:10:00 is an ambiguous local time {NY_FALL}"),
        (5, "claimed_at", "2026-03-08 02:15:00",
         f"claimed_at 2026-03-08 02:15:00 {NY_SPRING}; emptied"),
    ]  # fmt: skip
    assert [(line, reason) for line, _, reason in env.rejects(result.run_id)] == [
        (4, f"enqueued_at 2026-03-08 02:30:00 {NY_SPRING}{CHECK_ZONE}"),
        (6, f"decided_at 2026-03-08 02:45:00 {NY_SPRING}{CHECK_ZONE}"),
        (
            9,
            "decided_at 2026-11-01 01:10:00 is before enqueued_at 2026-11-01 01:50:00 by more "
            "than the 60 s clock tolerance (ingest.clock_tolerance_seconds); "
            f"decided_at 2026-11-01 01:10:00 is an ambiguous local time {NY_FALL}; "
            f"enqueued_at 2026-11-01 01:50:00 is an ambiguous local time {NY_FALL}",
        ),
    ]
    assert env.rows("decisions", "decision_id, enqueued_at, claimed_at, decided_at") == [
        ("amb", utc(2026, 11, 1, 6, 30), None, None),  # 01:30 EST, the second occurrence
        ("amb-claim", utc(2026, 11, 1, 4, 50), utc(2026, 11, 1, 6, 10), utc(2026, 11, 1, 7, 10)),
        ("edges", utc(2026, 3, 8, 6, 59, 59), utc(2026, 3, 8, 7), utc(2026, 11, 1, 7)),
        ("gap-claim", utc(2026, 3, 8, 6, 30), None, utc(2026, 3, 8, 7, 10)),
        ("offset", utc(2026, 11, 1, 5, 30), None, None),
    ]


def test_vendor_format_and_zone_name_the_cause_with_the_text_as_read(env, tmp_path):
    """A mapping's strptime format in Europe/Berlin; audits: audited_at is required."""
    (tmp_path / "nw.toml").write_text(
        'vendor = "acme"\ntimezone = "Europe/Berlin"\ntimestamp_format = "%d.%m.%Y %H:%M:%S"\n'
    )
    m = load_mapping(tmp_path / "nw.toml")
    rows = [
        {"audit_id": key, "decision_id": "d", "auditor_id": "q", "audited_at": text,
         "qa_decision": "remove"}
        for key, text in (("a-amb", "25.10.2026 02:30:00"), ("a-gap", "29.03.2026 02:30:00"),
                          ("a-ok", "25.10.2026 03:30:00"))
    ]  # fmt: skip
    result = env.one("audits", write_csv(env.path("a.csv"), rows), mapping=m)
    assert counts(result) == (3, 2, 0, 0, 1)
    berlin_fall = (
        "in Europe/Berlin (clocks fall back from 03:00 CEST to 02:00 CET on 2026-10-25, so "
        "02:00-03:00 happens twice): read as the second occurrence, CET (UTC+01:00)"
    )
    assert env.warnings(result.run_id) == [
        (2, "audited_at", "25.10.2026 02:30:00",
         f"audited_at 25.10.2026 02:30:00 is an ambiguous local time {berlin_fall}"),
    ]  # fmt: skip
    [(line, raw, reason)] = env.rejects(result.run_id)
    assert line == 3 and '"a-gap"' in raw
    assert reason == (
        "audited_at 29.03.2026 02:30:00 does not exist in Europe/Berlin (clocks spring forward "
        f"from 02:00 CET to 03:00 CEST on 2026-03-29, so 02:00-03:00 never happens){CHECK_ZONE}"
    )
    assert env.rows("qa_audits", "audit_id, audited_at") == [
        ("a-amb", utc(2026, 10, 25, 1, 30)),
        ("a-ok", utc(2026, 10, 25, 2, 30)),
    ]


def test_typed_naive_timestamps_are_checked_too(env, tmp_path):
    """Parquet timestamps without a zone are naive local times as well."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "decision_id": ["amb", "gap", "ok"],
            "item_id": "i",
            "vendor": "acme",
            "workflow": "hate_speech",
            "reviewer_id": "r",
            "enqueued_at": pd.to_datetime(
                ["2026-11-01 01:30:00", "2026-03-08 02:30:00", "2026-07-01 12:00:00"]
            ),
        }
    )
    path = tmp_path / "naive.parquet"
    frame.to_parquet(path)
    result = env.one("decisions", path, mapping=VendorMapping(vendor="acme", timezone=NY))
    assert counts(result) == (3, 2, 0, 0, 1)
    [(line, column, value, reason)] = env.warnings(result.run_id)
    assert (line, column, value) == (1, "enqueued_at", "2026-11-01 01:30:00")
    assert reason == f"enqueued_at 2026-11-01 01:30:00 is an ambiguous local time {NY_FALL}"
    [(_, _, reason)] = env.rejects(result.run_id)
    assert reason == f"enqueued_at 2026-03-08 02:30:00 {NY_SPRING}{CHECK_ZONE}"


@pytest.mark.parametrize(
    ("zone", "checked"),
    [("UTC", False), ("Asia/Tokyo", False), (NY, True), ("Europe/Berlin", True)],
)
def test_only_zones_with_daylight_saving_pay_for_the_check(env, zone, checked):
    """UTC and zones without DST changes in the plausible range get the plain query."""
    from ingest.readers import read_raw
    from ingest.validate import build_stage

    file = _decisions(env, [("a", "2026-11-01 01:30:00", "", "")])
    mapping = VendorMapping(vendor="acme", timezone=zone)
    raw = read_raw(env.con, file, mapping)
    spec = build_stage("decisions", raw, mapping, Config(), None)
    assert ("get_bit(" in spec.sql) is checked
    assert ("is an ambiguous local time" in spec.sql) is checked


@pytest.mark.parametrize(
    "zone",
    [NY, "Europe/Berlin", "Europe/Dublin", "Australia/Lord_Howe", "America/Santiago",
     "Pacific/Chatham"],
)  # fmt: skip
def test_duckdb_reads_every_ambiguous_time_as_its_second_occurrence(zone):
    """The documented rule is DuckDB's (ICU's) own choice, so the stored value needs no fix:
    checked on every change of 2000-2027, also where the change is not 1 h or is negative."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from ingest.localtime import AMBIGUOUS, NONEXISTENT, dst_windows

    windows = dst_windows(zone, 2000, 2027)
    assert {w.kind for w in windows} == {AMBIGUOUS, NONEXISTENT}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for w in windows:
        for naive in (w.start, w.start + (w.end - w.start) / 2, w.end - timedelta(seconds=1)):
            (got,) = con.execute(
                "SELECT timezone($tz, CAST($t AS TIMESTAMP))", {"tz": zone, "t": naive}
            ).fetchone()  # type: ignore[misc]
            wall = naive.replace(tzinfo=ZoneInfo(zone), fold=1)
            if w.kind == AMBIGUOUS:
                assert got == wall.astimezone(UTC), (zone, naive)
            else:  # zoneinfo agrees the time is not on any clock: it does not round-trip
                assert (
                    wall.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != naive
                ), (zone, naive)
    con.close()
