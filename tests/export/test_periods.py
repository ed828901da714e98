"""Period shorthands of `bpo-kpi export --period`."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi.periods import parse_period

D = dt.date


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2026-W41", "2026-W41", D(2026, 10, 5), D(2026, 10, 11)),
        ("2026-w1", "2026-W01", D(2025, 12, 29), D(2026, 1, 4)),  # ISO week 1 starts in 2025
        ("2020-W53", "2020-W53", D(2020, 12, 28), D(2021, 1, 3)),
        ("2026-10", "2026-10", D(2026, 10, 1), D(2026, 10, 31)),
        ("2024-02", "2024-02", D(2024, 2, 1), D(2024, 2, 29)),
        ("2026-Q4", "2026-Q4", D(2026, 10, 1), D(2026, 12, 31)),
        ("2026-q1", "2026-Q1", D(2026, 1, 1), D(2026, 3, 31)),
        ("2026", "2026", D(2026, 1, 1), D(2026, 12, 31)),
        ("2026-10-05", "2026-10-05", D(2026, 10, 5), D(2026, 10, 5)),
    ],
)
def test_period_shorthands(text: str, label: str, start: dt.date, end: dt.date) -> None:
    period = parse_period(text)
    assert (period.label, period.start, period.end) == (label, start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-W54", "2026 has no ISO week 54"),
        ("2026-13", "there is no month 13"),
        ("2026-Q5", "is not one we know"),
        ("last week", "is not one we know"),
        ("9999-12", "out of range"),
        ("2026-02-30", "day is out of range"),
        ("=1+1", "is not one we know"),
    ],
)
def test_bad_periods_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(text)


def test_previous_periods() -> None:
    assert parse_period("2026-W01").previous().label == "2025-W52"
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026-Q3").previous().label == "2026-Q2"
    custom = parse_period("2026-10-05").previous()
    assert (custom.start, custom.end) == (D(2026, 10, 4), D(2026, 10, 4))
