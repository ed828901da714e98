"""Naive local times around daylight-saving changes: which wall-clock times a zone repeats
(the clocks fall back) or skips (they spring forward).

A naive timestamp in a vendor file is read in the mapping's time zone (or the configuration's
`input_timezone`). Around a DST change two kinds of wall-clock time cannot be read plainly:

- **ambiguous**: the hour the clocks fall back over happens twice (America/New_York,
  2026-11-01 01:30 is 05:30 UTC and 06:30 UTC). The rule here is DuckDB's (ICU's, PostgreSQL's):
  the **second** occurrence, in standard time after the change (01:30 EST = 06:30 UTC). The row
  is kept, with a warning that names the time, the zone and the rule.
- **non-existent**: the hour the clocks spring forward over (2026-03-08 02:30 in New York) is
  never shown on a clock there. A required time rejects the row; an optional one is emptied
  with a warning.

`dst_windows` lists those wall-clock intervals of a zone for a span of years, computed once per
zone with zoneinfo; the validation query (ingest/validate.py) compares each naive value with
them only on the days they fall on, so a zone without DST (UTC, Asia/Tokyo) costs nothing and a
zone with DST one date lookup per value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

AMBIGUOUS = 1
NONEXISTENT = 2
_STEP = dt.timedelta(hours=12)  # no zone changes its offset twice within 12 hours


@dataclass(frozen=True)
class Window:
    """Wall-clock times [start, end) of one DST change that are ambiguous or non-existent."""

    start: dt.datetime  # naive local, inclusive
    end: dt.datetime  # naive local, exclusive
    kind: int  # AMBIGUOUS or NONEXISTENT
    cause: str  # "clocks fall back from 02:00 EDT to 01:00 EST on 2026-11-01, so ..."
    rule: str  # how a value is read ("" for non-existent times)

    def days(self) -> list[dt.date]:
        """The local dates the window touches."""
        first, last = self.start.date(), (self.end - dt.timedelta(microseconds=1)).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _offset(zone: ZoneInfo, instant: dt.datetime) -> dt.timedelta:
    return instant.astimezone(zone).utcoffset() or dt.timedelta(0)


def _transition(zone: ZoneInfo, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
    """The first instant in (lo, hi] with hi's offset (the offset changes once in between)."""
    target = _offset(zone, hi)
    while hi - lo > dt.timedelta(seconds=1):
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if _offset(zone, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi


def _hhmm(t: dt.datetime) -> str:
    return f"{t:%H:%M}" if t.second == 0 else f"{t:%H:%M:%S}"


def _utc_offset(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


@lru_cache(maxsize=32)
def dst_windows(tz: str, first_year: int, last_year: int) -> tuple[Window, ...]:
    """The ambiguous and non-existent wall-clock intervals of `tz` in years first..last."""
    if tz == "UTC":
        return ()
    zone = ZoneInfo(tz)
    t = dt.datetime(first_year, 1, 1, tzinfo=dt.UTC) - _STEP
    end = dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC) + _STEP
    before = _offset(zone, t)
    out: list[Window] = []
    while t < end:
        nxt = t + _STEP
        after = _offset(zone, nxt)
        if after != before:
            at = _transition(zone, t, nxt)
            old_wall = (at + before).replace(tzinfo=None)  # the change's instant, old offset
            new_wall = (at + after).replace(tzinfo=None)
            old_name = (at - dt.timedelta(seconds=1)).astimezone(zone).tzname() or ""
            new_name = at.astimezone(zone).tzname() or ""
            day = f"{old_wall:%Y-%m-%d}"
            if after < before:
                lo, hi = new_wall, old_wall
                out.append(
                    Window(
                        lo, hi, AMBIGUOUS,
                        f"clocks fall back from {_hhmm(old_wall)} {old_name} to "
                        f"{_hhmm(new_wall)} {new_name} on {day}, so {_hhmm(lo)}-{_hhmm(hi)} "
                        "happens twice",
                        f"read as the second occurrence, {new_name} ({_utc_offset(after)})",
                    )
                )  # fmt: skip
            else:
                lo, hi = old_wall, new_wall
                out.append(
                    Window(
                        lo, hi, NONEXISTENT,
                        f"clocks spring forward from {_hhmm(old_wall)} {old_name} to "
                        f"{_hhmm(new_wall)} {new_name} on {day}, so {_hhmm(lo)}-{_hhmm(hi)} "
                        "never happens",
                        "",
                    )
                )  # fmt: skip
            before = after
        t = nxt
    return tuple(out)


def day_bitmap(windows: tuple[Window, ...]) -> tuple[dt.date, str]:
    """(day 0, bits): bit i of the '0'/'1' string is 1 when day 0 + i days holds a window; the
    first and last bits are 0, so an index clamped into range answers 0 for any day outside.
    One bit lookup per value is what the validation query pays (a list of dates became a join
    that made DuckDB recompute every time conversion once per use)."""
    days = sorted({d for w in windows for d in w.days()})
    first = days[0] - dt.timedelta(days=1)
    bits = ["0"] * ((days[-1] - first).days + 2)
    for d in days:
        bits[(d - first).days] = "1"
    return first, "".join(bits)
