"""Settings of the metadata sync, read from the environment (``METADATA_SYNC_*``).

==========================================  ==================================================
``METADATA_SYNC_SCHEDULE``                  cron expression or preset (``@hourly``)
``METADATA_SYNC_START_DATE``                first day the schedule covers (2026-01-01);
                                            there is no catchup: the cursor is the state
``METADATA_SYNC_MAX_CURSOR_AGE_DAYS``       the service's limit on ``next``/``after`` (180):
                                            a stored cursor this old is not used
``METADATA_SYNC_AFTER_DAYS``                without a usable cursor, start ``after`` this many
                                            days back (179: the limit minus a safety day)
``METADATA_SYNC_AFTER``                     or an explicit ``yyyyMMddHHmmss`` (UTC) to start
                                            from instead (a first load agreed with Bokbasen)
``METADATA_SYNC_MAX_PAGES``                 pages per run at most (10000); the next run goes on
``METADATA_SYNC_TASK_RETRIES``              Airflow retries of the sync task (2)
``METADATA_SYNC_RETRY_DELAY_SECONDS``       delay before a retry (300)
==========================================  ==================================================

The connection (``bokbasen_export``) holds what Bokbasen agreed with the library system:
endpoint, client credentials, subscription and page size (see
:mod:`library_integrations.clients.bokbasen.export`). A bad value here is an error naming
the setting, raised when the DAG file is parsed, so it shows as an import error in the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from library_integrations.common.settings import env

PREFIX = "METADATA_SYNC_"
AFTER_FORMAT = "%Y%m%d%H%M%S"


class SettingError(ValueError):
    """A ``METADATA_SYNC_*`` setting has a value that cannot be used (the message names it)."""


@dataclass(frozen=True)
class SyncSettings:
    schedule: str = "@hourly"
    start_date: date = date(2026, 1, 1)
    max_cursor_age: timedelta = timedelta(days=180)
    after_days: float = 179.0
    after: datetime | None = None
    max_pages: int = 10_000
    task_retries: int = 2
    retry_delay: timedelta = timedelta(seconds=300)

    def after_time(self, now: datetime) -> datetime:
        """Where a sync without a usable cursor starts: the explicit ``after``, else ``after_days`` back.

        >>> SyncSettings().after_time(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)).isoformat()
        '2026-05-30T12:00:00+00:00'
        """
        return self.after or now - timedelta(days=self.after_days)


def _number(name: str, default: str, kind=int, minimum: float = 0):
    raw = env(PREFIX + name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise SettingError(f"{PREFIX}{name} must be at least {minimum}, not {value}")
    return value


def load() -> SyncSettings:
    """The settings from the environment, checked (:class:`SettingError` names a bad one).

    >>> load().schedule
    '@hourly'
    """
    max_age = _number("MAX_CURSOR_AGE_DAYS", "180", float, 1)
    after_days = _number("AFTER_DAYS", str(max_age - 1), float, 0)
    if after_days >= max_age:
        raise SettingError(
            f"{PREFIX}AFTER_DAYS ({after_days:g}) must be below {PREFIX}MAX_CURSOR_AGE_DAYS ({max_age:g}): "
            "the service refuses an 'after' older than its limit"
        )
    after = None
    raw_after = env(PREFIX + "AFTER")
    if raw_after:
        try:
            after = datetime.strptime(raw_after, AFTER_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise SettingError(f"{PREFIX}AFTER must be yyyyMMddHHmmss (UTC), not {raw_after!r}") from None
    raw_start = env(PREFIX + "START_DATE", "2026-01-01")
    try:
        start_date = date.fromisoformat(raw_start)
    except ValueError:
        raise SettingError(f"{PREFIX}START_DATE must be YYYY-MM-DD, not {raw_start!r}") from None
    return SyncSettings(
        schedule=env(PREFIX + "SCHEDULE", "@hourly"),
        start_date=start_date,
        max_cursor_age=timedelta(days=max_age),
        after_days=after_days,
        after=after,
        max_pages=_number("MAX_PAGES", "10000", int, 1),
        task_retries=_number("TASK_RETRIES", "2", int, 0),
        retry_delay=timedelta(seconds=_number("RETRY_DELAY_SECONDS", "300", int, 0)),
    )
