"""User state that must outlive the data: who acknowledged or snoozed which alert and why, and
which alerts were already sent to which notification target.

**Where and why.** A SQLite file beside the database, `<db>.state.sqlite` (e.g.
`bpo_kpi.duckdb.state.sqlite`), created on first write. Not a DuckDB table, because:

- it must be writable while an ingest holds the database: DuckDB allows one writing process,
  and an ingest can hold it for minutes, while acknowledging an alert or recording a sent
  notification cannot wait for it (readers during an ingest read a replica, which is
  read-only and replaced after each commit);
- it is not derived from the vendor files, so nothing may rebuild it: re-ingests, configuration
  changes, `bpo-kpi upgrade` and replica swaps leave it alone;
- it is small and written by several short-lived processes (the CLI from cron, the dashboard):
  SQLite in WAL mode with a busy timeout, each write one `BEGIN IMMEDIATE` transaction.

It is never inside the repository (`*.state.sqlite*` is ignored) and holds no secrets: a
notification target is recorded as a salted, slow hash of its URL (`target_id`), never the
URL, whose user, password or token would otherwise sit in clear in the file.

**What an alert's status is.** `acknowledged` (by whom, why, when) until cleared; `snoozed`
until an instant, after which the alert is new again; absent = new. Alerts are named by their
stable key (`kpi.monitor`: kind, segment and, for day-bound kinds, the day). Every change is
also appended to a log (`alert_events`), so a cleared acknowledgement stays on record.

**Access log** (`access_log`): who signed in to the dashboard with which role, who was denied
(signed in, no role), which page and filters each viewer looked at (once per change of page
or filters, not per rerun), and what they exported or downloaded. Kept here because the
dashboard must write it while an ingest holds the database; read by admins on Data health.

**Actions** (`actions`, with every change in `action_events`): what was done about a segment's
quality (a policy clarification, a retraining...) and when it took effect, so its effect can
be measured (`kpi.actions`, `kpi.effect`). User state too: recorded from the dashboard or the
CLI while an ingest may hold the database, and never rebuilt by one. This module checks the
record's shape (kind, texts, a segment of non-empty dimension = value pairs); `kpi.actions`
checks what needs the catalog and the configuration (dimension names, the date's plausible
range, the viewer's scope) and is the way callers use them. Text is stored as given (stripped)
and never interpreted.

Sent marks are per (alert key, target). `mark_sent` records the monitored day; `was_sent` with
a `day` treats a mark whose last day is more than one day before it as a finished episode (the
alert went away, or nobody looked, and is back): callers use that for alerts whose key has no
day, so a feed that goes stale again next month is sent again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

STATE_SUFFIX = ".state.sqlite"
SCHEMA_VERSION = 3  # 2: access_log; 3: actions, action_events
BUSY_TIMEOUT_SECONDS = 10.0  # another process's write lasts milliseconds
MAX_KEY_CHARS = 1000
MAX_BY_CHARS = 100
MAX_REASON_CHARS = 1000
MAX_SNOOZE = dt.timedelta(days=90)  # longer than a quarter: acknowledge it instead
TARGET_HASH_ITERATIONS = 200_000  # PBKDF2-SHA256: ~0.1 s per URL, per run

State = Literal["acknowledged", "snoozed"]
AccessEvent = Literal["sign_in", "denied", "view", "export", "sign_out"]
ACCESS_EVENTS = ("sign_in", "denied", "view", "export", "sign_out")
MAX_DETAIL_CHARS = 2000
ACTION_KINDS = (
    "policy_clarification",
    "retraining",
    "guideline_update",
    "staffing",
    "routing",
    "other",
)
MAX_NOTE_CHARS = 2000
MAX_OWNER_CHARS = 100
MAX_SOURCE_CHARS = 1000
MAX_SEGMENT_VALUE_CHARS = 200
MAX_SEGMENT_DIMENSIONS = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_state (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('acknowledged', 'snoozed')),
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    until TEXT,
    CHECK ((state = 'snoozed') = (until IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('acknowledge', 'snooze', 'clear')),
    by TEXT,
    reason TEXT,
    until TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sent (
    key TEXT NOT NULL,
    target TEXT NOT NULL,
    first_sent TEXT NOT NULL,
    last_day TEXT,
    PRIMARY KEY (key, target)
);
CREATE TABLE IF NOT EXISTS access_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    role TEXT,
    event TEXT NOT NULL CHECK (event IN ('sign_in', 'denied', 'view', 'export', 'sign_out')),
    page TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS access_log_at ON access_log (at);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    date TEXT NOT NULL,
    kind TEXT NOT NULL,
    segment TEXT NOT NULL,
    note TEXT NOT NULL,
    owner TEXT,
    source TEXT,
    created_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by TEXT
);
CREATE TABLE IF NOT EXISTS action_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id INTEGER NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('add', 'close')),
    by TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS action_events_action ON action_events (action_id);
"""


class StateError(ValueError):
    """An acknowledgement, snooze or sent mark that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class AlertStatus:
    """An alert's recorded status: acknowledged, or snoozed until `until` (UTC)."""

    key: str
    state: State
    by: str
    reason: str
    at: dt.datetime
    until: dt.datetime | None = None


@dataclass(frozen=True)
class Action:
    """An action recorded against a segment (see the module docstring; `kpi.actions`)."""

    id: int
    date: dt.date  # when it took effect (local day, reporting time zone)
    kind: str
    segment: dict[str, str]  # dimension -> value
    note: str
    owner: str | None
    source: str | None  # "calibration:<session_id>", "gap:<dim>=<v>|<dim>=<v>" or None
    created_at: dt.datetime
    closed_at: dt.datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def state_path(db: str | os.PathLike[str]) -> Path:
    """The state file of database `db`: `<db>.state.sqlite` beside it."""
    db = Path(db)
    return db.with_name(db.name + STATE_SUFFIX)


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise StateError(f"{name} must be a date and time, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(f"{name} must carry a time zone ({value.isoformat()} has none)")
    return value.astimezone(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _from_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def _text(name: str, value: object, limit: int, multiline: bool = False) -> str:
    """`value` stripped, checked: a non-empty string within `limit` characters, without control
    characters (a reason may have line breaks and tabs)."""
    if not isinstance(value, str):
        raise StateError(f"{name} must be text")
    text = value.strip()
    if not text:
        raise StateError(f"{name} must not be empty")
    if len(text) > limit:
        raise StateError(f"{name} is {len(text):,} characters long; at most {limit:,}")
    allowed = "\n\t" if multiline else ""
    bad = [c for c in text if unicodedata.category(c) == "Cc" and c not in allowed]
    if bad:
        raise StateError(f"{name} contains a control character ({bad[0]!r})")
    return text


def check_action(
    date: object,
    kind: object,
    segment: object,
    note: object,
    owner: object = None,
    source: object = None,
) -> tuple[dt.date, str, dict[str, str], str, str | None, str | None]:
    """An action's fields checked for shape and normalised (texts stripped, empty owner and
    source as None); StateError says what is wrong. Dimension names and the date's range are
    `kpi.actions`'s to check."""
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise StateError(f"an action's date must be a date, not {type(date).__name__}")
    if kind not in ACTION_KINDS:
        raise StateError(f"unknown action kind {kind!r}; use one of {', '.join(ACTION_KINDS)}")
    if not isinstance(segment, Mapping) or not segment:
        raise StateError("an action needs a segment: at least one dimension = value")
    if len(segment) > MAX_SEGMENT_DIMENSIONS:
        raise StateError(f"a segment names at most {MAX_SEGMENT_DIMENSIONS} dimensions")
    checked: dict[str, str] = {}
    for dim, value in segment.items():
        name = _text("a segment's dimension", dim, 50)
        if name in checked:
            raise StateError(f"the segment names {name} twice")
        checked[name] = _text(f"the segment's {name}", value, MAX_SEGMENT_VALUE_CHARS)
    text = _text("note", note, MAX_NOTE_CHARS, multiline=True)
    who = None if _blank(owner) else _text("owner", owner, MAX_OWNER_CHARS)
    link = None if _blank(source) else _text("source", source, MAX_SOURCE_CHARS)
    return date, str(kind), checked, text, who, link


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_key(key: object) -> str:
    """An alert key as given, checked: non-empty text within `MAX_KEY_CHARS`, no control
    characters (leading and trailing blanks are dropped)."""
    return _text("alert key", key, MAX_KEY_CHARS)


def check_status(
    by: str, reason: str, until: dt.datetime | None = None, now: dt.datetime | None = None
) -> tuple[str, str, dt.datetime | None]:
    """An acknowledgement's (or, with `until`, a snooze's) who, why and until, checked and
    normalised (stripped; `until` in UTC, after `now` and at most `MAX_SNOOZE` later);
    StateError says what is wrong. The store checks this itself; callers may check first."""
    who = "by (who snoozes)" if until is not None else "by (who acknowledges)"
    by = _text(who, by, MAX_BY_CHARS)
    reason = _text("reason", reason, MAX_REASON_CHARS, multiline=True)
    if until is None:
        return by, reason, None
    at = StateStore._now(now)
    until = _utc(until, "until").replace(microsecond=0)
    if until <= at:
        raise StateError(
            f"snooze until {until:%Y-%m-%d %H:%M} UTC is not in the future "
            f"(now is {at:%Y-%m-%d %H:%M} UTC)"
        )
    if until - at > MAX_SNOOZE:
        raise StateError(
            f"snooze until {until:%Y-%m-%d} is more than {MAX_SNOOZE.days} days away; "
            "acknowledge the alert instead"
        )
    return by, reason, until


class StateStore:
    """The state file of one database (see the module docstring); a context manager.

    `StateStore(db)` opens `state_path(db)`, creating it (and its tables) when missing;
    `open_state(db, create=False)` returns None instead of creating it. Every method that takes
    `now` uses it as the current instant (default: the clock), so callers and tests can state
    the instant an alert list is judged at.
    """

    def __init__(self, db: str | os.PathLike[str], *, path: Path | None = None) -> None:
        self.path = path or state_path(db)
        try:
            self._con = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the alert state file {self.path}: {exc}") from exc
        try:
            self._con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            self._con.execute("PRAGMA journal_mode = WAL")
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path} was written by a newer bpo-kpi (state schema {version}); "
                    "upgrade bpo-kpi"
                )
            if version < SCHEMA_VERSION:
                with self._write() as con:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            con.execute(statement)
                    con.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('target_salt', ?)",
                        (secrets.token_hex(16),),
                    )
                    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self._con.close()
            raise StateError(f"{self.path} is not a usable alert state file: {exc}") from exc
        except BaseException:
            self._con.close()
            raise

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock up front (waits up to the busy
        timeout for another process's)."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # "database is locked" past the busy timeout
            raise StateError(
                f"{self.path}: another process kept it locked for over "
                f"{BUSY_TIMEOUT_SECONDS:.0f} s ({exc})"
            ) from exc
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    @staticmethod
    def _now(now: dt.datetime | None) -> dt.datetime:
        at = dt.datetime.now(dt.UTC) if now is None else _utc(now, "now")
        return at.replace(microsecond=0)

    # --- acknowledge, snooze, clear ---------------------------------------------------------

    def acknowledge(
        self, key: str, by: str, reason: str, now: dt.datetime | None = None
    ) -> AlertStatus:
        """Record that `by` acknowledged alert `key` because `reason` (replacing a snooze or an
        earlier acknowledgement). It stays acknowledged until `clear`."""
        key = check_key(key)
        by, reason, _ = check_status(by, reason)
        status = AlertStatus(key, "acknowledged", by, reason, self._now(now))
        self._set(status, "acknowledge")
        return status

    def snooze(
        self,
        key: str,
        until: dt.datetime,
        by: str,
        reason: str,
        now: dt.datetime | None = None,
    ) -> AlertStatus:
        """Record that `by` snoozed alert `key` until `until` (time-zone aware, after `now` and
        at most `MAX_SNOOZE` later) because `reason`; from `until` on it is new again."""
        key = check_key(key)
        if until is None:
            raise StateError("a snooze needs an instant until which it holds")
        by, reason, end = check_status(by, reason, until, now)
        status = AlertStatus(key, "snoozed", by, reason, self._now(now), end)
        self._set(status, "snooze")
        return status

    def _set(self, status: AlertStatus, action: str) -> None:
        until = _iso(status.until) if status.until else None
        with self._write() as con:
            con.execute(
                "INSERT OR REPLACE INTO alert_state VALUES (?, ?, ?, ?, ?, ?)",
                (status.key, status.state, status.by, status.reason, _iso(status.at), until),
            )
            con.execute(
                "INSERT INTO alert_events (key, action, by, reason, until, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (status.key, action, status.by, status.reason, until, _iso(status.at)),
            )

    def clear(
        self,
        key: str,
        by: str | None = None,
        reason: str | None = None,
        now: dt.datetime | None = None,
    ) -> AlertStatus | None:
        """Remove alert `key`'s acknowledgement or snooze (it is new again); returns what was
        removed, None if it had none. `by` and `reason`, if given, go to the log."""
        key = check_key(key)
        by = None if by is None else _text("by", by, MAX_BY_CHARS)
        reason = None if reason is None else _text("reason", reason, MAX_REASON_CHARS, True)
        at = self._now(now)
        with self._write() as con:
            row = con.execute("SELECT * FROM alert_state WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            con.execute("DELETE FROM alert_state WHERE key = ?", (key,))
            con.execute(
                "INSERT INTO alert_events (key, action, by, reason, until, at) "
                "VALUES (?, 'clear', ?, ?, NULL, ?)",
                (key, by, reason, _iso(at)),
            )
        return _status(row)

    def statuses(
        self, keys: Iterable[str], now: dt.datetime | None = None
    ) -> dict[str, AlertStatus]:
        """key -> status of those `keys` acknowledged, or snoozed past `now`; a key missing from
        the result is new (never acknowledged or snoozed, cleared, or its snooze is over)."""
        at = self._now(now)
        wanted = list(dict.fromkeys(str(k) for k in keys))
        out: dict[str, AlertStatus] = {}
        for i in range(0, len(wanted), 500):  # well under SQLite's bound-parameter limit
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._con.execute(
                f"SELECT * FROM alert_state WHERE key IN ({marks})", chunk
            ).fetchall()
            for row in rows:
                status = _status(row)
                if status.until is None or status.until > at:
                    out[status.key] = status
        return out

    def history(self, key: str) -> list[tuple[str, str | None, str | None, str]]:
        """Alert `key`'s log, oldest first: (action, by, reason, at ISO UTC)."""
        rows = self._con.execute(
            "SELECT action, by, reason, at FROM alert_events WHERE key = ? ORDER BY id",
            (check_key(key),),
        ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # --- actions ----------------------------------------------------------------------------

    def add_action(
        self,
        *,
        date: dt.date,
        kind: str,
        segment: Mapping[str, str],
        note: str,
        owner: str | None = None,
        source: str | None = None,
        by: str | None = None,
        now: dt.datetime | None = None,
    ) -> Action:
        """Record an action (checked by `check_action`); returns it with its new id."""
        return self.add_actions(
            [dict(date=date, kind=kind, segment=segment, note=note, owner=owner, source=source)],
            by=by,
            now=now,
        )[0]

    def add_actions(
        self,
        rows: Iterable[Mapping[str, object]],
        by: str | None = None,
        now: dt.datetime | None = None,
    ) -> list[Action]:
        """Record several actions in one transaction: all of them, or (on any error) none.
        Each row has the keys of `add_action` (date, kind, segment, note, owner, source)."""
        who = None if by is None else _text("by", by, MAX_BY_CHARS)
        at = self._now(now)
        checked = [
            check_action(
                r.get("date"),
                r.get("kind"),
                r.get("segment"),
                r.get("note"),
                r.get("owner"),
                r.get("source"),
            )
            for r in rows
        ]
        out: list[Action] = []
        with self._write() as con:
            for date, kind, segment, note, owner, source in checked:
                cur = con.execute(
                    "INSERT INTO actions (date, kind, segment, note, owner, source, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (date.isoformat(), kind, json.dumps(segment), note, owner, source, _iso(at)),
                )
                action_id = int(cur.lastrowid or 0)
                con.execute(
                    "INSERT INTO action_events (action_id, event, by, at) VALUES (?, 'add', ?, ?)",
                    (action_id, who, _iso(at)),
                )
                out.append(Action(action_id, date, kind, segment, note, owner, source, at, None))
        return out

    def close_action(
        self, action_id: int, by: str | None = None, now: dt.datetime | None = None
    ) -> Action:
        """Mark action `action_id` closed (done with: its effect is still measured); StateError
        when there is no such action or it is closed already."""
        who = None if by is None else _text("by", by, MAX_BY_CHARS)
        at = self._now(now)
        with self._write() as con:
            row = con.execute(
                f"SELECT {_ACTION_FIELDS} FROM actions WHERE id = ?", (int(action_id),)
            ).fetchone()
            if row is None:
                raise StateError(f"there is no action {action_id}")
            if row[8] is not None:
                raise StateError(f"action {action_id} was closed already, on {row[8][:10]}")
            con.execute(
                "UPDATE actions SET closed_at = ?, closed_by = ? WHERE id = ?",
                (_iso(at), who, int(action_id)),
            )
            con.execute(
                "INSERT INTO action_events (action_id, event, by, at) VALUES (?, 'close', ?, ?)",
                (int(action_id), who, _iso(at)),
            )
        return _action((*row[:8], _iso(at)))

    def actions(self, include_closed: bool = True) -> list[Action]:
        """Every recorded action (open ones only unless `include_closed`), by date, then id."""
        where = "" if include_closed else " WHERE closed_at IS NULL"
        rows = self._con.execute(
            f"SELECT {_ACTION_FIELDS} FROM actions{where} ORDER BY date, id"
        ).fetchall()
        return [_action(r) for r in rows]

    def action(self, action_id: int) -> Action | None:
        """Action `action_id`, None when there is none."""
        row = self._con.execute(
            f"SELECT {_ACTION_FIELDS} FROM actions WHERE id = ?", (int(action_id),)
        ).fetchone()
        return None if row is None else _action(row)

    def action_history(self, action_id: int) -> list[tuple[str, str | None, str]]:
        """Action `action_id`'s log, oldest first: (event, by, at ISO UTC)."""
        rows = self._con.execute(
            "SELECT event, by, at FROM action_events WHERE action_id = ? ORDER BY id",
            (int(action_id),),
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    # --- sent marks -------------------------------------------------------------------------

    def target_id(self, url: str) -> str:
        """A notification target's id: its scheme and a salted PBKDF2 hash of the whole URL
        (salt per state file), so the file never holds a URL's password or token, and a copy
        of it does not let anyone test guessed URLs quickly."""
        if not isinstance(url, str) or not url.strip():
            raise StateError("a notification target URL must not be empty")
        url = url.strip()
        scheme = urlsplit(url).scheme.lower() or "url"
        salt = self._con.execute("SELECT value FROM meta WHERE name = 'target_salt'").fetchone()
        digest = hashlib.pbkdf2_hmac(
            "sha256", url.encode(), bytes.fromhex(salt[0]), TARGET_HASH_ITERATIONS
        )
        return f"{scheme[:20]}:{digest.hex()[:32]}"

    def mark_sent(
        self,
        keys: str | Iterable[str],
        target_id: str,
        day: dt.date | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Record that alert `keys` (one or several) were sent to `target_id` (`target_id()`)
        for monitored `day`. Marking a key again keeps its first sending time and moves its
        last day forward (the alert is still there: the same episode)."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        checked = [check_key(k) for k in keys]
        target = _text("target id", target_id, 100)
        at = _iso(self._now(now))
        last = day.isoformat() if day is not None else None
        with self._write() as con:
            con.executemany(
                """
                INSERT INTO sent (key, target, first_sent, last_day) VALUES (?, ?, ?, ?)
                ON CONFLICT (key, target) DO UPDATE SET last_day = CASE
                    WHEN excluded.last_day IS NULL THEN sent.last_day
                    WHEN sent.last_day IS NULL OR excluded.last_day > sent.last_day
                        THEN excluded.last_day
                    ELSE sent.last_day END
                """,
                [(k, target, at, last) for k in checked],
            )

    def was_sent(self, key: str, target_id: str, day: dt.date | None = None) -> bool:
        """Whether alert `key` was sent to `target_id`. With `day`: only if its last marked day
        is at most one day before `day` (else the earlier episode is over: send it again)."""
        row = self._con.execute(
            "SELECT last_day FROM sent WHERE key = ? AND target = ?", (key, target_id)
        ).fetchone()
        if row is None:
            return False
        if day is None or row[0] is None:
            return True
        return dt.date.fromisoformat(row[0]) >= day - dt.timedelta(days=1)

    # --- access log ---------------------------------------------------------------------------

    def log_access(
        self,
        who: str,
        role: str | None,
        event: AccessEvent,
        page: str | None = None,
        detail: str | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Append one access event (texts are cut to their limits, control characters
        replaced: the log must never refuse an event over what a URL carried)."""
        if event not in ACCESS_EVENTS:
            raise StateError(f"unknown access event {event!r}")
        with self._write() as con:
            con.execute(
                "INSERT INTO access_log (at, who, role, event, page, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_iso(self._now(now)), _clean(who, MAX_BY_CHARS) or "(unknown)",
                 _clean(role, MAX_BY_CHARS), event, _clean(page, MAX_BY_CHARS),
                 _clean(detail, MAX_DETAIL_CHARS)),
            )  # fmt: skip

    def access_log(
        self, limit: int = 1000, since: dt.datetime | None = None
    ) -> list[tuple[dt.datetime, str, str | None, str, str | None, str | None]]:
        """The newest `limit` access events (since `since`), newest first: (at, who, role,
        event, page, detail)."""
        since_text = _iso(_utc(since, "since")) if since is not None else ""
        rows = self._con.execute(
            "SELECT at, who, role, event, page, detail FROM access_log WHERE at >= ? "
            "ORDER BY id DESC LIMIT ?",
            (since_text, int(limit)),
        ).fetchall()
        return [(_from_iso(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def _clean(value: str | None, limit: int) -> str | None:
    """Text for the access log: control characters as U+FFFD, at most `limit` characters."""
    if value is None:
        return None
    text = "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ACTION_FIELDS = "id, date, kind, segment, note, owner, source, created_at, closed_at"


def _action(row: tuple[object, ...]) -> Action:
    id_, date, kind, segment, note, owner, source, created, closed = row
    return Action(
        id=int(str(id_)),
        date=dt.date.fromisoformat(str(date)),
        kind=str(kind),
        segment={str(k): str(v) for k, v in json.loads(str(segment)).items()},
        note=str(note),
        owner=None if owner is None else str(owner),
        source=None if source is None else str(source),
        created_at=_from_iso(str(created)),
        closed_at=None if closed is None else _from_iso(str(closed)),
    )


def _status(row: tuple[str, str, str, str, str, str | None]) -> AlertStatus:
    key, state, by, reason, at, until = row
    return AlertStatus(
        key=key,
        state="acknowledged" if state == "acknowledged" else "snoozed",
        by=by,
        reason=reason,
        at=_from_iso(at),
        until=_from_iso(until) if until else None,
    )


def open_state(db: str | os.PathLike[str], create: bool = True) -> StateStore | None:
    """The state store of database `db`; None when it has none and `create` is false (reading
    statuses never creates the file)."""
    if not create and not state_path(db).exists():
        return None
    return StateStore(db)
