"""The report day window: Oslo calendar days as half-open UTC intervals, DST-correct."""

from datetime import UTC, date, datetime, timedelta

import pytest

from library_integrations.common.oslo_time import OSLO, oslo_date, oslo_day_window


def oslo(*args) -> datetime:
    return datetime(*args, tzinfo=OSLO)


@pytest.mark.parametrize(
    ("day", "hours", "start_utc"),
    [
        (date(2026, 11, 20), 24, datetime(2026, 11, 19, 23, 0, tzinfo=UTC)),  # winter, UTC+1
        (date(2026, 7, 1), 24, datetime(2026, 6, 30, 22, 0, tzinfo=UTC)),  # summer, UTC+2
        (date(2026, 3, 28), 24, datetime(2026, 3, 27, 23, 0, tzinfo=UTC)),  # day before spring switch
        (date(2026, 3, 29), 23, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # 02:00 -> 03:00
        (date(2026, 10, 24), 24, datetime(2026, 10, 23, 22, 0, tzinfo=UTC)),  # day before autumn switch
        (date(2026, 10, 25), 25, datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # 03:00 -> 02:00
    ],
)
def test_window_length_and_start(day, hours, start_utc):
    start, end = oslo_day_window(day)
    assert start == start_utc
    assert end - start == timedelta(hours=hours)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert end == oslo_day_window(day + timedelta(days=1))[0]  # days tile without gaps


@pytest.mark.parametrize("day", [date(2026, 3, 28), date(2026, 10, 24)])
def test_last_millisecond_belongs_to_the_day_and_midnight_to_the_next(day):
    start, end = oslo_day_window(day)
    last = oslo(day.year, day.month, day.day, 23, 59, 59, 999000).astimezone(UTC)
    next_midnight = oslo(day.year, day.month, day.day + 1, 0, 0, 0).astimezone(UTC)
    assert start <= last < end
    assert next_midnight == end  # half-open: excluded from ``day``
    assert oslo_date(last) == day
    assert oslo_date(next_midnight) == day + timedelta(days=1)


def test_datetime_argument_uses_its_calendar_day():
    assert oslo_day_window(datetime(2026, 3, 29, 12, 0)) == oslo_day_window(date(2026, 3, 29))


def test_window_is_pure():
    assert oslo_day_window(date(2026, 10, 25)) == oslo_day_window(date(2026, 10, 25))
