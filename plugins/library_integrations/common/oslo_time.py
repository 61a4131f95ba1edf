"""The report day: one calendar day in Europe/Oslo as a half-open UTC window.

A report for day ``D`` covers every loan with ``D 00:00 <= loaned_at < D+1 00:00`` in Oslo
local time. Both bounds are converted to UTC with the tz database (``zoneinfo``), so
the window is 23 hours long on the last Sunday of March (clocks go 02:00 -> 03:00) and
25 hours long on the last Sunday of October (03:00 -> 02:00). Midnight itself never falls
in a DST gap or fold in Norway, so each bound is unambiguous.

``oslo_day_window`` is pure: the same day gives the same window, whenever it is called.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def oslo_day_window(report_date: date) -> tuple[datetime, datetime]:
    """``(start_utc, end_utc)`` of the Oslo calendar day ``report_date``; the end is exclusive.

    >>> oslo_day_window(date(2026, 3, 29))  # 23-hour day
    (datetime.datetime(2026, 3, 28, 23, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2026, 3, 29, 22, 0, tzinfo=datetime.timezone.utc))
    """
    if isinstance(report_date, datetime):  # a datetime is a date too; take its calendar day
        report_date = report_date.date()
    start = datetime.combine(report_date, time(0), tzinfo=OSLO)
    end = datetime.combine(report_date + timedelta(days=1), time(0), tzinfo=OSLO)
    return start.astimezone(UTC), end.astimezone(UTC)


def oslo_date(moment: datetime) -> date:
    """The Oslo calendar date of an aware instant (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(OSLO).date()
