"""Actions: what was done about a segment's quality, and when it took effect.

An action (a policy clarification, a retraining, a routing change...) is recorded against a
*segment*, one value of one or more dimensions (`{"vendor": "meridian", "workflow":
"graphic_violence"}`), on the local day it took effect. `kpi.effect` measures whether the
segment's KPI moved after it, against peer segments that had no action; trend charts show the
actions that touch their filters (`touching`).

**Store.** Actions are user state: the SQLite state file beside the database
(`bpo_kpi.state`), writable while an ingest holds the DuckDB file and never rebuilt by a
re-ingest. That module checks an action's shape; this one adds what needs the catalog and the
configuration (dimension names, the date's plausible range) and the viewer's scope.

**Scope.** Every read goes through `load(engine, ...)`, which keeps what the engine's role may
see: an action is visible iff, for every dimension the role restricts (vendor, workflow,
market), its segment names that dimension with an allowed value (an action on "all of
workflow X" is not a vendor's: it may describe other vendors). A role that may not see
reviewers sees no action whose segment names a reviewer: the note of such an action is free
text about a person (as QA comments, which that role does not see either). `add(...,
engine=...)` refuses a segment the engine's role could not see.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bpo_kpi.config import Config, load_config
from bpo_kpi.state import (
    ACTION_KINDS,
    MAX_NOTE_CHARS,
    MAX_OWNER_CHARS,
    Action,
    StateError,
    check_action,
    open_state,
)
from kpi.catalog import DIMENSIONS
from kpi.query import Scope

__all__ = [
    "ACTION_KINDS",
    "MAX_NOTE_CHARS",
    "MAX_OWNER_CHARS",
    "SEGMENT_DIMENSIONS",
    "Action",
    "ActionError",
    "add",
    "add_many",
    "check",
    "close",
    "get",
    "load",
    "parse_segment",
    "segment_text",
    "touching",
    "visible",
]

# The dimensions an action may name (every dimension of the catalog but priority, which is a
# queue's attribute rather than something anyone acts on), in catalog order.
SEGMENT_DIMENSIONS = ("vendor", "site", "workflow", "market", "policy", "reviewer_id")
REVIEWER = "reviewer_id"
SOURCE_PREFIXES = ("calibration:", "gap:")
assert set(SEGMENT_DIMENSIONS) <= set(DIMENSIONS)

Db = str | os.PathLike[str]


class ActionError(StateError):
    """An action that cannot be recorded or read as asked; the message says why and what to do."""


def parse_segment(text: str) -> dict[str, str]:
    """A segment written `DIM=VALUE[,DIM=VALUE...]` (e.g. `vendor=meridian,workflow=hate_speech`)
    as a dict in `SEGMENT_DIMENSIONS` order; ActionError names what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ActionError("the segment is empty: use DIM=VALUE[,DIM=VALUE...]")
    out: dict[str, str] = {}
    for part in text.split(","):
        dim, sep, value = part.partition("=")
        dim, value = dim.strip(), value.strip()
        if not sep or not dim or not value:
            raise ActionError(
                f"segment part {part.strip()!r}: use DIM=VALUE (e.g. vendor=meridian), "
                "several separated by commas"
            )
        if dim in out:
            raise ActionError(f"the segment names {dim} twice")
        out[dim] = value
    return check_segment(out)


def check_segment(segment: Mapping[str, str]) -> dict[str, str]:
    """`segment` checked (known dimensions, non-empty text values) and in catalog order."""
    if not isinstance(segment, Mapping) or not segment:
        raise ActionError("an action needs a segment: at least one DIM=VALUE")
    unknown = [d for d in segment if d not in SEGMENT_DIMENSIONS]
    if unknown:
        raise ActionError(
            f"unknown segment dimension {unknown[0]!r}; use {', '.join(SEGMENT_DIMENSIONS)}"
        )
    try:
        _, _, checked, _, _, _ = check_action(
            dt.date(2000, 1, 1), ACTION_KINDS[0], segment, "-", None, None
        )
    except StateError as exc:
        raise ActionError(str(exc)) from exc
    return {d: checked[d] for d in SEGMENT_DIMENSIONS if d in checked}


def segment_text(segment: Mapping[str, str]) -> str:
    """A segment written as `parse_segment` reads it."""
    return ",".join(f"{d}={v}" for d, v in segment.items())


def _today(config: Config) -> dt.date:
    return dt.datetime.now(ZoneInfo(config.reporting_timezone)).date()


def check_date(date: object, config: Config) -> dt.date:
    """An action's date checked against the plausible range: from the configuration's
    `ingest.earliest_timestamp` to `ingest.max_future_days` after today (reporting time zone)."""
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise ActionError(f"date {date!r} is not a date: use YYYY-MM-DD") from None
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise ActionError(f"an action's date must be a date, not {type(date).__name__}")
    earliest = config.ingest.earliest_timestamp
    latest = _today(config) + dt.timedelta(days=int(config.ingest.max_future_days))
    if not earliest <= date <= latest:
        raise ActionError(
            f"date {date.isoformat()} is outside the plausible range {earliest.isoformat()} .. "
            f"{latest.isoformat()} (ingest.earliest_timestamp .. today + "
            "ingest.max_future_days): check the year"
        )
    return date


def check_source(source: str | None) -> str | None:
    """A link to where the action came from: `calibration:<session_id>` or
    `gap:<dim>=<value>|<dim>=<value>` (dimensions of the catalog), or None."""
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    if not isinstance(source, str):
        raise ActionError("source must be text")
    text = source.strip()
    if text.startswith("calibration:") and text.removeprefix("calibration:").strip():
        return text
    if text.startswith("gap:"):
        parts = text.removeprefix("gap:").split("|")
        ok = all(
            p.partition("=")[1]
            and p.partition("=")[0].strip() in DIMENSIONS
            and p.partition("=")[2]
            for p in parts
        )
        if ok:
            return text
    raise ActionError(
        f"source {text[:80]!r}: use calibration:<session_id> or gap:<dim>=<value>|<dim>=<value>"
    )


def scope_of(engine: Any) -> Scope:
    """The viewer's scope: `engine` itself when it is a `Scope`, else the engine's (`Gateway`
    and `SparkEngine` both carry `scope`). The actions commands pass a `Scope` made from the
    role, so they never open the DuckDB file."""
    return engine if isinstance(engine, Scope) else engine.scope


def visible(action_segment: Mapping[str, str], engine: Any) -> bool:
    """Whether a segment is within the role scope of `engine` (an engine or a `Scope`; see the
    module docstring)."""
    scope = scope_of(engine)
    for dim, allowed in scope.restrictions().items():
        if action_segment.get(dim) not in allowed:
            return False
    return not (REVIEWER in action_segment and not scope.see_reviewers)


def check(
    *,
    date: object,
    kind: object,
    segment: Mapping[str, str] | str,
    note: object,
    owner: object = None,
    source: object = None,
    config: Config | None = None,
    engine: Any = None,
) -> dict[str, Any]:
    """One action's fields checked as `add` checks them, normalised (a dict of add's keyword
    arguments); ActionError says what is wrong."""
    if config is None:
        config = engine.config if engine is not None and hasattr(engine, "config") else None
    config = config or load_config()
    if kind not in ACTION_KINDS:
        raise ActionError(f"unknown action kind {kind!r}; use one of {', '.join(ACTION_KINDS)}")
    seg = parse_segment(segment) if isinstance(segment, str) else check_segment(segment)
    day = check_date(date, config)
    link = check_source(source if source is None or isinstance(source, str) else str(source))
    try:
        day, kind_, seg, text, who, link = check_action(day, kind, seg, note, owner, link)
    except StateError as exc:
        raise ActionError(str(exc)) from exc
    if engine is not None and not visible(seg, engine):
        scope = scope_of(engine)
        if REVIEWER in seg and not scope.see_reviewers:
            why = f"role {scope.role!r} may not see reviewers"
        else:
            limits = "; ".join(f"{d} {', '.join(v)}" for d, v in scope.restrictions().items())
            why = f"role {scope.role!r} sees only {limits}: name one of them in the segment"
        raise ActionError(f"segment {segment_text(seg)} is outside your scope ({why})")
    return dict(date=day, kind=kind_, segment=seg, note=text, owner=who, source=link)


def add(
    db: Db,
    *,
    date: dt.date | str,
    kind: str,
    segment: Mapping[str, str] | str,
    note: str,
    owner: str | None = None,
    source: str | None = None,
    engine: Any = None,
    config: Config | None = None,
    by: str | None = None,
) -> Action:
    """Record one action in `db`'s state file (validated; with `engine`, an engine or a
    `Scope`, the segment must be within its role's scope). `config` (default: the engine's,
    else the loaded one) gives the plausible date range."""
    fields = check(
        date=date,
        kind=kind,
        segment=segment,
        note=note,
        owner=owner,
        source=source,
        config=config,
        engine=engine,
    )
    return add_many(db, [fields], by=by)[0]


def add_many(db: Db, rows: Sequence[Mapping[str, Any]], by: str | None = None) -> list[Action]:
    """Record already `check`ed actions in one transaction: all or none."""
    store = open_state(db)
    assert store is not None
    with store:
        return store.add_actions(rows, by=by)


def close(db: Db, action_id: int, by: str | None = None, engine: Any = None) -> Action:
    """Close action `action_id` (with `engine`: only one its role can see)."""
    if engine is not None:
        get(engine, db, action_id)
    store = open_state(db, create=False)
    if store is None:
        raise ActionError(f"there is no action {action_id}: no action was recorded yet")
    with store:
        return store.close_action(action_id, by=by)


def load(engine: Any, db: Db, include_closed: bool = True) -> list[Action]:
    """The actions `engine`'s role may see (an engine or a `Scope`; see the module docstring),
    by date then id; [] when the database has no state file yet (reading never creates it)."""
    store = open_state(db, create=False)
    if store is None:
        return []
    with store:
        found = store.actions(include_closed=include_closed)
    return [a for a in found if visible(a.segment, engine)]


def get(engine: Any, db: Db, action_id: int) -> Action:
    """Action `action_id` if `engine`'s role may see it; ActionError otherwise (the same
    message whether it does not exist or is out of scope)."""
    for action in load(engine, db):
        if action.id == action_id:
            return action
    raise ActionError(f"there is no action {action_id} (see `bpo-kpi actions list`)")


def touching(actions: Sequence[Action], where: Mapping[str, Sequence[str]]) -> list[Action]:
    """The actions whose segment is compatible with a view's filters: every dimension the
    action names is either unfiltered in `where` or its value is among the filtered values
    (for trend-chart markers)."""
    out = []
    for action in actions:
        if all(not where.get(d) or v in where[d] for d, v in action.segment.items()):
            out.append(action)
    return out


# --- CSV import ------------------------------------------------------------------------------

CSV_COLUMNS = ("date", "kind", "segment", "note", "owner", "source")
CSV_REQUIRED = ("date", "kind", "segment", "note")
MAX_IMPORT_ROWS = 10_000
MAX_IMPORT_BYTES = 50 * 1024 * 1024
_CSV_HINT = "fix it and import the file again (nothing was stored)"


def read_csv(
    path: str | os.PathLike[str], *, engine: Any = None, config: Config | None = None
) -> list[dict[str, Any]]:
    """The actions of a CSV file (header `date,kind,segment,note[,owner][,source]`, any order,
    UTF-8 with or without a byte-order mark), each row checked as `add` checks it (with
    `engine`, an engine or a `Scope`, within its scope). ActionError names the file, the line
    and the column of the first problem and what to do; no row is returned then. Text is kept
    as text: a note starting with `=` stays that text."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
    except OSError as exc:
        raise ActionError(f"{name}: cannot read it ({exc.strerror or exc})") from exc
    if size > MAX_IMPORT_BYTES:
        raise ActionError(
            f"{name} is {size / 1024 / 1024:,.0f} MB; an import takes at most "
            f"{MAX_IMPORT_BYTES // 1024 // 1024} MB and {MAX_IMPORT_ROWS:,} rows: split it"
        )
    rows: list[dict[str, Any]] = []
    line = 1
    try:
        with open(name, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise ActionError(
                    f"{name} is empty: the first line must name the columns "
                    f"{','.join(CSV_COLUMNS)} (owner and source may be left out)"
                )
            columns = [h.strip().lower() for h in header]
            unknown = [h for h in columns if h not in CSV_COLUMNS]
            if unknown:
                raise ActionError(
                    f"{name} line 1: unknown column {unknown[0]!r}; the columns are "
                    f"{', '.join(CSV_COLUMNS)}"
                )
            twice = [h for h in columns if columns.count(h) > 1]
            if twice:
                raise ActionError(f"{name} line 1: column {twice[0]!r} appears twice")
            missing = [c for c in CSV_REQUIRED if c not in columns]
            if missing:
                raise ActionError(
                    f"{name} line 1: no column {missing[0]!r}; the columns are "
                    f"{', '.join(CSV_COLUMNS)} (owner and source may be left out)"
                )
            line = reader.line_num + 1
            for record in reader:
                start, line = line, reader.line_num + 1
                if not any(cell.strip() for cell in record):
                    continue  # a blank line
                if len(record) != len(columns):
                    raise ActionError(
                        f"{name} line {start}: {len(record)} fields where the header has "
                        f"{len(columns)} (a note with a comma or line break must be in double "
                        f"quotes); {_CSV_HINT}"
                    )
                if len(rows) == MAX_IMPORT_ROWS:
                    raise ActionError(
                        f"{name} has more than {MAX_IMPORT_ROWS:,} actions; split it into "
                        "smaller files (nothing was stored)"
                    )
                rows.append(_csv_row(name, start, dict(zip(columns, record, strict=True)),
                                     engine, config))  # fmt: skip
    except UnicodeDecodeError as exc:
        raise ActionError(
            f"{name} near line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
            "save it as UTF-8 (Excel: CSV UTF-8) and import it again"
        ) from None
    except csv.Error as exc:
        raise ActionError(f"{name} line {line}: not readable as CSV ({exc}); {_CSV_HINT}") from None
    if not rows:
        raise ActionError(f"{name} has a header but no action")
    return rows


def _csv_row(
    name: str, line: int, row: dict[str, str], engine: Any, config: Config | None
) -> dict[str, Any]:
    """One CSV row checked field by field, so an error names its column."""
    if config is None:
        config = engine.config if engine is not None and hasattr(engine, "config") else None
    config = config or load_config()
    steps: list[tuple[str, Any]] = [
        ("date", lambda: check_date(row["date"], config)),
        ("kind", lambda: _kind(row["kind"].strip())),
        ("segment", lambda: parse_segment(row["segment"])),
        ("source", lambda: check_source(row.get("source"))),
    ]
    fields: dict[str, Any] = {}
    for column, step in steps:
        try:
            fields[column] = step()
        except StateError as exc:
            raise ActionError(f"{name} line {line}, column {column}: {exc}; {_CSV_HINT}") from None
    owner = row.get("owner", "")
    try:
        day, kind, seg, text, who, link = check_action(
            fields["date"], fields["kind"], fields["segment"], row["note"], owner or None,
            fields["source"],
        )  # fmt: skip
    except StateError as exc:
        column = "owner" if str(exc).startswith("owner") else "note"
        raise ActionError(f"{name} line {line}, column {column}: {exc}; {_CSV_HINT}") from None
    if engine is not None and not visible(seg, engine):
        raise ActionError(
            f"{name} line {line}, column segment: {segment_text(seg)} is outside role "
            f"{scope_of(engine).role!r}'s scope; {_CSV_HINT}"
        )
    return dict(date=day, kind=kind, segment=seg, note=text, owner=who, source=link)


def _kind(kind: str) -> str:
    if kind not in ACTION_KINDS:
        raise ActionError(f"unknown action kind {kind!r}; use one of {', '.join(ACTION_KINDS)}")
    return kind


def import_csv(
    db: Db,
    path: str | os.PathLike[str],
    *,
    engine: Any = None,
    config: Config | None = None,
    by: str | None = None,
) -> list[Action]:
    """Record every action of a CSV file (`read_csv`) in one transaction: all or none."""
    return add_many(db, read_csv(path, engine=engine, config=config), by=by)
