"""Reporting periods named the way people name them: `2026-W41` (ISO week), `2026-10` (month),
`2026-Q4` (calendar quarter), `2026` (year) or `2026-10-05` (one day); local days of the
reporting time zone, as the KPI tables count them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

PeriodKind = Literal["day", "week", "month", "quarter", "year", "custom"]

_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ReportPeriod:
    """A closed range of local days with the name it was asked by."""

    label: str
    kind: PeriodKind
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> ReportPeriod:
        """The period of the same kind just before (a custom range: as many days before)."""
        if self.kind == "week":
            return week_period(self.start - dt.timedelta(days=7))
        if self.kind == "month":
            return month_period(*_month_before(self.start.year, self.start.month))
        if self.kind == "quarter":
            year, month = self.start.year, self.start.month - 3
            if month < 1:
                year, month = year - 1, month + 12
            return quarter_period(year, (month - 1) // 3 + 1)
        if self.kind == "year":
            return year_period(self.start.year - 1)
        end = self.start - dt.timedelta(days=1)
        start = end - dt.timedelta(days=self.days - 1)
        return custom_period(start, end)


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return first_next - dt.timedelta(days=1)


def week_period(day: dt.date) -> ReportPeriod:
    """The ISO week (Monday to Sunday) holding `day`."""
    year, week, _ = day.isocalendar()
    start = dt.date.fromisocalendar(year, week, 1)
    return ReportPeriod(f"{year}-W{week:02d}", "week", start, start + dt.timedelta(days=6))


def month_period(year: int, month: int) -> ReportPeriod:
    return ReportPeriod(
        f"{year}-{month:02d}", "month", dt.date(year, month, 1), _month_end(year, month)
    )


def quarter_period(year: int, quarter: int) -> ReportPeriod:
    first = 3 * (quarter - 1) + 1
    return ReportPeriod(
        f"{year}-Q{quarter}", "quarter", dt.date(year, first, 1), _month_end(year, first + 2)
    )


def year_period(year: int) -> ReportPeriod:
    return ReportPeriod(f"{year}", "year", dt.date(year, 1, 1), dt.date(year, 12, 31))


def custom_period(start: dt.date, end: dt.date) -> ReportPeriod:
    if start > end:
        raise ValueError(f"the period starts {start} after it ends {end}")
    kind: PeriodKind = "day" if start == end else "custom"
    label = start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"
    return ReportPeriod(label, kind, start, end)


def period_of(kind: str, day: dt.date) -> ReportPeriod:
    """The day, ISO week, month, calendar quarter or year holding local day `day`: the KPI
    table's `period_start` of a `kind` period named the way people name it (`2026-Q4`).

    >>> q4 = period_of("quarter", dt.date(2026, 11, 30))
    >>> q4.label, q4.start, q4.end
    ('2026-Q4', datetime.date(2026, 10, 1), datetime.date(2026, 12, 31))
    """
    if kind == "day":
        return custom_period(day, day)
    if kind == "week":
        return week_period(day)
    if kind == "month":
        return month_period(day.year, day.month)
    if kind == "quarter":
        return quarter_period(day.year, (day.month - 1) // 3 + 1)
    if kind == "year":
        return year_period(day.year)
    raise ValueError(f"unknown period kind {kind!r}: use day, week, month, quarter or year")


def parse_period(text: str) -> ReportPeriod:
    """`2026-W41`, `2026-10`, `2026-Q4`, `2026` or `2026-10-05` as a `ReportPeriod`.

    >>> parse_period("2026-W41").start, parse_period("2026-W41").end
    (datetime.date(2026, 10, 5), datetime.date(2026, 10, 11))
    >>> parse_period("2026-q4").label, parse_period("2024-02").end
    ('2026-Q4', datetime.date(2024, 2, 29))
    """
    value = text.strip()
    usage = "use 2026-W41 (ISO week), 2026-10 (month), 2026-Q4 (quarter), 2026 or 2026-10-05"
    try:
        if m := _WEEK.match(value):
            year, week = int(m[1]), int(m[2])
            try:
                start = dt.date.fromisocalendar(year, week, 1)
            except ValueError:
                raise ValueError(f"{year} has no ISO week {week}") from None
            return week_period(start)
        if m := _QUARTER.match(value):
            return quarter_period(int(m[1]), int(m[2]))
        if m := _MONTH.match(value):
            month = int(m[2])
            if not 1 <= month <= 12:
                raise ValueError(f"there is no month {month}")
            return month_period(int(m[1]), month)
        if m := _YEAR.match(value):
            return year_period(int(m[1]))
        if _DAY.match(value):
            day = dt.date.fromisoformat(value)
            return custom_period(day, day)
    except ValueError as exc:
        raise ValueError(f"period {text!r}: {exc}") from None
    raise ValueError(f"period {text!r} is not one we know: {usage}")
