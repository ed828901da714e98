"""The clean load (`ingest.load._load_direct` with `StageSpec.clean_sql`): a file loads straight
from a scan that builds no reasons and no warnings only when every row is one the staging query
(`StageSpec.sql`) would keep as it is; any other file is staged and reports each rejected row
and warning with its line, as before.

The property test compares the two queries of `build_stage` row by row over files drawn with
every kind of flaw (padded and empty values, unknown labels, unreadable, implausible and
out-of-order times, naive times across a daylight-saving change).
"""

from __future__ import annotations

import datetime as dt
import gzip
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ingest_testkit import KNOWN_LABELS, LABEL_HINT, counts, decision, utc, write_csv

from bpo_kpi.config import Config
from ingest import load
from ingest.mapping import CANONICAL, VendorMapping
from ingest.readers import holds_space, read_raw, with_typed_times
from ingest.validate import COLUMNS, build_stage, input_timezone, timestamp_sources

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
OUT = [c for c, _, _ in COLUMNS["decisions"]] + ["due_at_source"]

# Per column: its usual value first, then flawed or unusual ones.
TEXT = {
    "decision_id": ["d", " d", "d "],
    "vendor": ["acme", " acme", "acme ", "   ", ""],
    "workflow": ["hate_speech", "graphic_violence", "hate_speech "],
    "priority": ["p1", "p0", "p7", "", " p2"],
    "reviewer_id": ["rev-1", "", " rev-2", "rev 3"],
    "decision": ["remove", "approve", "bogus", " limit", ""],
    "policy": ["hs_1", "", "hs 2", "hs_3 "],
    "market": ["en", "", "de "],
}
ENQUEUED = [
    "2026-03-02T08:00:00Z",
    "2026-03-02T08:00:00+02:00",
    "2026-03-02 08:00:00",
    "2026-03-08 02:30:00",  # does not exist in New York
    "2026-11-01 01:30:00",  # twice in New York
    "1999-12-31T23:00:00Z",  # before the plausible range
    "someday",
    "",
]
# Offsets from enqueued_at in seconds (None: empty; a string: that text).
TIMES = {
    "decided_at": [1800, None, -30, -7200, "2099-01-01T00:00:00Z", "noon"],
    "claimed_at": [600, None, -20, -3600, 1830, 9000, "bad"],
    "due_at": [None, 3600, -10, -86400, "3000-01-01T00:00:00Z"],
}


def _time(enqueued: str, offset: int | str | None) -> str:
    """enqueued_at moved by `offset` seconds, in its own spelling; '' or the text as given."""
    if offset is None:
        return ""
    if isinstance(offset, str):
        return offset
    try:
        base = dt.datetime.fromisoformat(enqueued.replace("Z", "+00:00"))
    except ValueError:
        return "2026-03-02T09:00:00Z"
    moved = base + dt.timedelta(seconds=offset)
    return moved.isoformat(sep="T" if "T" in enqueued else " ").replace("+00:00", "Z")


@st.composite
def files(draw: Any) -> list[dict[str, str]]:
    """Rows that are mostly usual: each changes up to two columns from their usual value."""
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        changed = draw(st.sets(st.sampled_from([*TEXT, "enqueued_at", *TIMES]), max_size=2))

        def pick(col: str, values: list, changed: set = changed) -> Any:
            return draw(st.sampled_from(values)) if col in changed else values[0]

        enqueued = pick("enqueued_at", ENQUEUED)
        row = {col: pick(col, values) for col, values in TEXT.items()}
        row["decision_id"] = row["decision_id"].replace("d", f"d{i}")
        row.update({col: _time(enqueued, pick(col, values)) for col, values in TIMES.items()})
        rows.append(decision(row.pop("decision_id"), enqueued_at=enqueued, **row))
    return rows


def _padded(row: dict[str, str]) -> bool:
    return any(v != v.strip(" ") or (v and not v.strip(" ")) for v in row.values())


def _both(path: Path, mapping: VendorMapping) -> tuple[dict, dict]:
    """({item_id: values} of clean_sql, {item_id: values} of the rows the staging query keeps
    with no reason and no warning), read as `ingest.load` reads the file (item_id is unique in
    these files and never trimmed)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    config = Config()
    raw = read_raw(con, path, mapping)
    if mapping.timestamp_format is None and input_timezone(mapping, config) == "UTC":
        raw = with_typed_times(raw, timestamp_sources("decisions", raw, mapping))
    spaceless = raw.fmt == "csv" and not holds_space(path)
    spec = build_stage("decisions", raw, mapping, config, None, now=NOW, spaceless=spaceless)
    cols = ", ".join(OUT)
    staged = con.execute(
        f"SELECT {cols} FROM ({spec.sql}) WHERE _reason IS NULL AND _warn IS NULL", spec.params
    ).fetchall()
    clean = con.execute(f"SELECT {cols} FROM ({spec.clean_sql})", spec.clean_params).fetchall()
    con.close()
    item = OUT.index("item_id")
    kept = {r[item]: r for r in staged}
    taken = {r[item]: r for r in clean}
    assert len(kept) == len(staged) and len(taken) == len(clean)
    return taken, kept


SETTINGS = settings(max_examples=60, deadline=None, database=None)
NEW_YORK = VendorMapping(timezone="America/New_York")


# Rows each flawed in one way only (the random ones seldom are): a padded value, a warning
# on an optional time (unreadable, clamped, ambiguous in New York), rejected ones.
ONE_FLAW = [
    decision("d0"),
    decision("d1", vendor=" acme"),
    decision("d2", claimed_at="bad"),
    decision("d3", claimed_at="2026-03-02T07:59:30Z"),
    decision("d4", enqueued_at="2026-11-01 01:30:00", claimed_at="2026-11-01 01:40:00",
             decided_at="2026-11-01 01:50:00"),
    decision("d5", decision="bogus"),
    decision("d6", due_at="3000-01-01T00:00:00Z"),
    decision("d7", policy="hs 1"),
]  # fmt: skip


@SETTINGS
@given(rows=files(), fmt=st.sampled_from(["csv", "parquet"]), local=st.booleans())
@example(rows=ONE_FLAW, fmt="csv", local=False)
@example(rows=ONE_FLAW, fmt="csv", local=True)
@example(rows=ONE_FLAW, fmt="parquet", local=False)
@example(rows=ONE_FLAW, fmt="parquet", local=True)
def test_clean_rows_are_exactly_the_rows_staging_keeps_unchanged(rows, fmt, local):
    """Every row the clean query takes is one the staging query keeps with no reason and no
    warning, with the same values; and it takes every such row whose values need no trimming
    (the rows a file loads directly)."""
    mapping = NEW_YORK if local else CANONICAL
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "csv":
            path = write_csv(Path(tmp) / "d.csv", rows)
        else:
            path = Path(tmp) / "d.parquet"
            pq.write_table(pa.Table.from_pylist(rows), path)
        taken, kept = _both(path, mapping)
    for item, values in taken.items():
        assert kept.get(item) == values, values
    unpadded = {row["item_id"] for row in rows if not _padded(row)}
    assert set(kept) & unpadded <= set(taken)


def test_a_spaceless_file_with_flaws_is_staged_with_every_line_and_reason(env, monkeypatch):
    """A file without a single space (values taken as read by the clean scan) that has a
    rejected row and a row with a warning: the clean load takes fewer rows than the file
    has, so the file is staged; every reject and warning keeps its line."""
    rows = [
        decision("d1"),
        decision("d2", decision="bogus"),  # line 3: rejected
        decision("d3"),
        decision("d4", claimed_at="2026-03-02T07:59:30Z"),  # line 5: clamped, a warning
        decision("d5", reviewer_id=""),  # line 6: rejected
    ]
    path = write_csv(env.path("flaws.csv"), rows)
    assert b" " not in path.read_bytes() and not holds_space(path)
    tried = []
    direct = load._load_direct

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = direct(*args, **kwargs)
        tried.append(out)
        return out

    monkeypatch.setattr(load, "_load_direct", spy)
    result = env.one("decisions", path)
    assert tried == [None]  # tried first, found not clean
    assert counts(result) == (5, 3, 0, 0, 2)
    rejects = [(line, reason) for line, _, reason in env.rejects(result.run_id)]
    assert rejects == [
        (3, f"decision bogus is not a known label (known: {KNOWN_LABELS}); {LABEL_HINT}"),
        (6, "reviewer_id is empty (required)"),
    ]
    assert env.warnings(result.run_id) == [
        (
            5,
            "claimed_at",
            "2026-03-02T07:59:30Z",
            "claimed_at 2026-03-02T07:59:30Z is before enqueued_at 2026-03-02T08:00:00Z, "
            "within the 60 s clock tolerance: set to enqueued_at",
        )
    ]
    assert env.rows("decisions", "decision_id, claimed_at") == [
        ("d1", utc(2026, 3, 2, 8, 10)),
        ("d3", utc(2026, 3, 2, 8, 10)),
        ("d4", utc(2026, 3, 2, 8, 0)),
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_spaces_inside_values_keep_a_clean_file_on_the_clean_path(env, monkeypatch, fmt):
    """A clean file whose values hold spaces only inside (a file with spaces: each value's
    ends are tested in the scan) loads directly, with its values as they are."""
    rows = [decision("d1", policy="hs 1"), decision("d2", reviewer_id="rev 2")]
    if fmt == "csv":
        path = write_csv(env.path("inner.csv"), rows)
        assert holds_space(path)
    else:
        path = env.path("inner.parquet")
        pq.write_table(pa.Table.from_pylist(rows), path)

    def no_staging(*_args: Any, **_kw: Any) -> None:
        raise AssertionError("a clean file took the staged path")

    monkeypatch.setattr(load, "_load_staged", no_staging)
    result = env.one("decisions", path)
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.rows("decisions", "decision_id, reviewer_id, policy") == [
        ("d1", "rev-1", "hs 1"),
        ("d2", "rev 2", "hs_1"),
    ]


def test_holds_space(tmp_path):
    """A file holds a space when any of its bytes is one; a compressed file's bytes say
    nothing about its text, so it counts as holding one."""
    cases = {
        "empty.csv": b"",
        "none.csv": b"a,b\n1,2\n",
        "end.csv": b"a,b\n1,2 ",
        "start.csv": b" ",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    assert [holds_space(tmp_path / n) for n in cases] == [False, False, True, True]
    packed = tmp_path / "none.csv.gz"
    packed.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert holds_space(packed)
