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
